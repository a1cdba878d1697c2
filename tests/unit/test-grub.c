/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot grub`: the menuentry text, made from plain data (no device is looked at). */
#include "test-main.h"
#include "tools/grub.h"

/* Lines in order: each needle must come after the previous one. */
static bool in_order(const char *hay, const char *const *needles)
{
	const char *at = hay;
	for (size_t i = 0; needles[i]; i++) {
		const char *f = at ? strstr(at, needles[i]) : NULL;
		if (!f) {
			printf("# [%s] missing or out of order\n", needles[i]);
			return false;
		}
		at = f + strlen(needles[i]);
	}
	return true;
}

static char *entry_for(const char *cmdline, struct grub_entry *e, struct strv *words)
{
	CHECK(grub_kernel_words(cmdline, words) == 0);
	e->args = words->v;
	e->n_args = words->n;
	return grub_format_entry(e);
}

TEST(quote)
{
	static const struct str_case words[] = {
	    {"root=UUID=0A1B2C3D4E5F6789", "root=UUID=0A1B2C3D4E5F6789"},
	    {"(loop0)/boot/vmlinuz", "(loop0)/boot/vmlinuz"},
	    {"loop=/My Linux/root.img", "'loop=/My Linux/root.img'"},
	    {"it's", "'it'\\''s'"},
	    {"a;b", "'a;b'"},
	    {"$root", "'$root'"},
	    {"", "''"},
	    {"Linux {x}", "'Linux {x}'"},
	};
	CHECK_STR_FN(grub_quote, words);
}

TEST(modules)
{
	CHECK_STREQ(grub_module_for("ext4"), "ext2");
	CHECK_STREQ(grub_module_for("ntfs"), "ntfs");
	CHECK_STREQ(grub_module_for("vfat"), "fat");
	CHECK_STREQ(grub_module_for("exfat"), "exfat");
	CHECK_STREQ(grub_module_for("btrfs"), "btrfs");
	CHECK_STREQ(grub_module_for("squashfs"), "squash4");
	CHECK(grub_module_for("nonsense") == NULL);
	CHECK(grub_module_for(NULL) == NULL);
}

TEST(kernel_words_order_and_dropped)
{
	struct strv w = {0};
	CHECK(grub_kernel_words("BOOT_IMAGE=/vmlinuz-6.1 quiet loop=/linux/root.img "
	                        "root=UUID=ABCD initrd=\\loopboot.img rw -- single",
	                        &w) == 0);
	CHECK_STRV(w.v, w.n, "root=UUID=ABCD", "loop=/linux/root.img", "quiet", "rw", "--",
	           "single");
	strv_free(&w);
}

TEST(kernel_words_quoted_value)
{
	/* The kernel's quoting is undone; GRUB's is added by the formatter. */
	struct strv w = {0};
	CHECK(grub_kernel_words("root=LABEL=STICK \"loop=/My Linux/root.img\" "
	                        "loopboot.mount=\"/home:/My Linux/home.img\"",
	                        &w) == 0);
	CHECK_STRV(w.v, w.n, NULL, "loop=/My Linux/root.img",
	           "loopboot.mount=/home:/My Linux/home.img");
	strv_free(&w);
}

/*
 * A menuentry made from an entry and a command line, and what its text must hold: lines in
 * order, lines anywhere, text that must be absent, text that must be there exactly once.
 */
struct entry_case {
	const char *name;
	struct grub_entry entry;
	const char *cmdline;
	const char *const *in_order, *const *present, *const *absent;
	const char *once;
};

#define STRINGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static bool lacks(const char *hay, const char *needle)
{
	if (hay && !strstr(hay, needle))
		return true;
	printf("# expected no [%s] in the entry\n", needle);
	return false;
}

static bool once(const char *hay, const char *needle)
{
	const char *first = hay ? strstr(hay, needle) : NULL;
	if (first && !strstr(first + 1, needle))
		return true;
	printf("# expected [%s] exactly once in the entry\n", needle);
	return false;
}

static void check_entry(const struct entry_case *c)
{
	struct grub_entry e = c->entry;
	struct strv w = {0};
	char *s = entry_for(c->cmdline, &e, &w);
	if (c->in_order)
		CHECK(in_order(s, c->in_order));
	for (const char *const *p = c->present; p && *p; p++)
		CHECK(contains(s, *p));
	for (const char *const *p = c->absent; p && *p; p++)
		CHECK(lacks(s, *p));
	if (c->once)
		CHECK(once(s, c->once));
	free(s);
	strv_free(&w);
}

static const struct entry_case entry_cases[] = {
    {
        .name = "ntfs_host_kernel_from_image",
        .entry = {.title = "Debian (loopboot)",
                  .search = GRUB_SEARCH_FS_UUID,
                  .search_value = "0123456789ABCDEF",
                  .host_fstype = "ntfs",
                  .n_layers = 1,
                  .layers = {{"/linux/root.img", "ext4"}},
                  .kernel = "/boot/vmlinuz",
                  .initrd = "/boot/initrd.img"},
        .cmdline = "BOOT_IMAGE=/x root=UUID=0123456789ABCDEF loop=/linux/root.img rw",
        .in_order =
            STRINGS("menuentry 'Debian (loopboot)' --class gnu-linux --class os {\n",
                    "\tinsmod part_gpt\n", "\tinsmod part_msdos\n", "\tinsmod ntfs\n",
                    "\tsearch --no-floppy --fs-uuid --set=root 0123456789ABCDEF\n",
                    "\tinsmod loopback\n", "\tinsmod ext2\n", "\tloopback loop0 /linux/root.img\n",
                    "\tlinux (loop0)/boot/vmlinuz root=UUID=0123456789ABCDEF "
                    "loop=/linux/root.img rw\n",
                    "\tinitrd (loop0)/boot/initrd.img\n", "}\n"),
        .absent = STRINGS("BOOT_IMAGE", "insmod fat"),
    },
    {
        .name = "nested_images_chain_loop_devices",
        .entry = {.title = "Nested",
                  .search = GRUB_SEARCH_FS_UUID,
                  .search_value = "6a0c4b3e-1111-2222-3333-444455556666",
                  .host_fstype = "ext4",
                  .n_layers = 2,
                  .layers = {{"/vm/outer.img", "btrfs"}, {"/images/root.img", "ext4"}},
                  .kernel = "/boot/vmlinuz",
                  .initrd = "/boot/initrd.img"},
        .cmdline = "root=PARTUUID=6a0c4b3e-01 loop=/vm/outer.img//images/root.img",
        .in_order = STRINGS(
            "\tinsmod ext2\n",
            "\tsearch --no-floppy --fs-uuid --set=root 6a0c4b3e-1111-2222-3333-444455556666\n",
            "\tinsmod loopback\n", "\tinsmod btrfs\n", "\tloopback loop0 /vm/outer.img\n",
            "\tloopback loop1 (loop0)/images/root.img\n",
            "\tlinux (loop1)/boot/vmlinuz root=PARTUUID=6a0c4b3e-01 "
            "loop=/vm/outer.img//images/root.img\n",
            "\tinitrd (loop1)/boot/initrd.img\n"),
        /* ext2 is loaded once, for the host and the inner image. */
        .once = "insmod ext2",
    },
    {
        .name = "spaces_label_and_quotes",
        .entry = {.title = "Linux on Bob's stick",
                  .search = GRUB_SEARCH_LABEL,
                  .search_value = "MY STICK",
                  .host_fstype = "vfat",
                  .n_layers = 2,
                  .layers = {{"/My Linux/outer.img", NULL}, {"/inner dir/root.img", NULL}},
                  .kernel = "/boot/vmlinuz",
                  .initrd = "/boot/initrd.img"},
        .cmdline = "root=\"LABEL=MY STICK\" \"loop=/My Linux/outer.img//inner dir/root.img\" "
                   "rw \"loopboot.mount=/home:/My Linux/home.img\"",
        .present = STRINGS("menuentry 'Linux on Bob'\\''s stick' --class", "\tinsmod fat\n",
                           "\tsearch --no-floppy --label --set=root 'MY STICK'\n",
                           "\tloopback loop0 '/My Linux/outer.img'\n",
                           "\tloopback loop1 '(loop0)/inner dir/root.img'\n",
                           "\tlinux (loop1)/boot/vmlinuz 'root=LABEL=MY STICK' "
                           "'loop=/My Linux/outer.img//inner dir/root.img' rw "
                           "'loopboot.mount=/home:/My Linux/home.img'\n",
                           /* Unknown image types: GRUB's ext2 module is assumed. */
                           "\tinsmod ext2\n"),
    },
    {
        .name = "kernel_from_host",
        .entry = {.title = "From the host",
                  .search = GRUB_SEARCH_FS_UUID,
                  .search_value = "ABCD-1234",
                  .host_fstype = "exfat",
                  .kernel_from_host = true,
                  .n_layers = 1,
                  .layers = {{"/linux/root.img", "ext4"}},
                  .kernel = "/linux/vmlinuz",
                  .initrd = "/linux/initrd.img"},
        .cmdline = "root=UUID=ABCD-1234 loop=/linux/root.img",
        .present = STRINGS("\tinsmod exfat\n",
                           "\tlinux /linux/vmlinuz root=UUID=ABCD-1234 loop=/linux/root.img\n",
                           "\tinitrd /linux/initrd.img\n"),
        .absent = STRINGS("loopback"),
    },
    {
        .name = "unknown_host_type_loads_usual_modules",
        .entry = {.title = "x",
                  .search = GRUB_SEARCH_FS_UUID,
                  .search_value = "0123456789ABCDEF",
                  .n_layers = 1,
                  .layers = {{"/r.img", NULL}},
                  .kernel = "/boot/vmlinuz",
                  .initrd = NULL},
        .cmdline = "root=UUID=0123456789ABCDEF loop=/r.img",
        .in_order =
            STRINGS("insmod ntfs\n", "insmod fat\n", "insmod exfat\n", "insmod ext2\n", "search "),
        .absent = STRINGS("initrd "),
    },
};
TEST_TABLE(check_entry, entry_cases);
