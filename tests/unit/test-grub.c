/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot grub`: the menuentry text, made from plain data (no device is looked at). */
#include "test-main.h"
#include "tools/grub.h"

static bool contains(const char *hay, const char *needle)
{
	if (hay && strstr(hay, needle))
		return true;
	printf("# expected to find [%s] in:\n", needle);
	for (const char *p = hay ? hay : "(null)"; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		printf("#   %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
	return false;
}

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
	char *q;
	CHECK_STREQ(q = grub_quote("root=UUID=0A1B2C3D4E5F6789"), "root=UUID=0A1B2C3D4E5F6789");
	free(q);
	CHECK_STREQ(q = grub_quote("(loop0)/boot/vmlinuz"), "(loop0)/boot/vmlinuz");
	free(q);
	CHECK_STREQ(q = grub_quote("loop=/My Linux/root.img"), "'loop=/My Linux/root.img'");
	free(q);
	CHECK_STREQ(q = grub_quote("it's"), "'it'\\''s'");
	free(q);
	CHECK_STREQ(q = grub_quote("a;b"), "'a;b'");
	free(q);
	CHECK_STREQ(q = grub_quote("$root"), "'$root'");
	free(q);
	CHECK_STREQ(q = grub_quote(""), "''");
	free(q);
	CHECK_STREQ(q = grub_quote("Linux {x}"), "'Linux {x}'");
	free(q);
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
	CHECK(w.n == 6);
	if (w.n == 6) {
		CHECK_STREQ(w.v[0], "root=UUID=ABCD");
		CHECK_STREQ(w.v[1], "loop=/linux/root.img");
		CHECK_STREQ(w.v[2], "quiet");
		CHECK_STREQ(w.v[3], "rw");
		CHECK_STREQ(w.v[4], "--");
		CHECK_STREQ(w.v[5], "single");
	}
	strv_free(&w);
}

TEST(kernel_words_quoted_value)
{
	/* The kernel's quoting is undone; GRUB's is added by the formatter. */
	struct strv w = {0};
	CHECK(grub_kernel_words("root=LABEL=STICK \"loop=/My Linux/root.img\" "
	                        "loopboot.mount=\"/home:/My Linux/home.img\"",
	                        &w) == 0);
	CHECK(w.n == 3);
	if (w.n == 3) {
		CHECK_STREQ(w.v[1], "loop=/My Linux/root.img");
		CHECK_STREQ(w.v[2], "loopboot.mount=/home:/My Linux/home.img");
	}
	strv_free(&w);
}

TEST(ntfs_host_kernel_from_image)
{
	struct grub_entry e = {
	    .title = "Debian (loopboot)",
	    .search = GRUB_SEARCH_FS_UUID,
	    .search_value = "0123456789ABCDEF",
	    .host_fstype = "ntfs",
	    .n_layers = 1,
	    .layers = {{"/linux/root.img", "ext4"}},
	    .kernel = "/boot/vmlinuz",
	    .initrd = "/boot/initrd.img",
	};
	struct strv w = {0};
	char *s =
	    entry_for("BOOT_IMAGE=/x root=UUID=0123456789ABCDEF loop=/linux/root.img rw", &e, &w);
	static const char *const order[] = {
	    "menuentry 'Debian (loopboot)' --class gnu-linux --class os {\n",
	    "\tinsmod part_gpt\n",
	    "\tinsmod part_msdos\n",
	    "\tinsmod ntfs\n",
	    "\tsearch --no-floppy --fs-uuid --set=root 0123456789ABCDEF\n",
	    "\tinsmod loopback\n",
	    "\tinsmod ext2\n",
	    "\tloopback loop0 /linux/root.img\n",
	    "\tlinux (loop0)/boot/vmlinuz root=UUID=0123456789ABCDEF loop=/linux/root.img rw\n",
	    "\tinitrd (loop0)/boot/initrd.img\n",
	    "}\n",
	    NULL,
	};
	CHECK(in_order(s, order));
	CHECK(!strstr(s, "BOOT_IMAGE"));
	CHECK(!strstr(s, "insmod fat"));
	free(s);
	strv_free(&w);
}

TEST(nested_images_chain_loop_devices)
{
	struct grub_entry e = {
	    .title = "Nested",
	    .search = GRUB_SEARCH_FS_UUID,
	    .search_value = "6a0c4b3e-1111-2222-3333-444455556666",
	    .host_fstype = "ext4",
	    .n_layers = 2,
	    .layers = {{"/vm/outer.img", "btrfs"}, {"/images/root.img", "ext4"}},
	    .kernel = "/boot/vmlinuz",
	    .initrd = "/boot/initrd.img",
	};
	struct strv w = {0};
	char *s =
	    entry_for("root=PARTUUID=6a0c4b3e-01 loop=/vm/outer.img//images/root.img", &e, &w);
	static const char *const order[] = {
	    "\tinsmod ext2\n",
	    "\tsearch --no-floppy --fs-uuid --set=root 6a0c4b3e-1111-2222-3333-444455556666\n",
	    "\tinsmod loopback\n",
	    "\tinsmod btrfs\n",
	    "\tloopback loop0 /vm/outer.img\n",
	    "\tloopback loop1 (loop0)/images/root.img\n",
	    "\tlinux (loop1)/boot/vmlinuz root=PARTUUID=6a0c4b3e-01 "
	    "loop=/vm/outer.img//images/root.img\n",
	    "\tinitrd (loop1)/boot/initrd.img\n",
	    NULL,
	};
	CHECK(in_order(s, order));
	/* ext2 is loaded once, for the host and the inner image. */
	const char *first = strstr(s, "insmod ext2");
	CHECK(first && !strstr(first + 1, "insmod ext2"));
	free(s);
	strv_free(&w);
}

TEST(spaces_label_and_quotes)
{
	struct grub_entry e = {
	    .title = "Linux on Bob's stick",
	    .search = GRUB_SEARCH_LABEL,
	    .search_value = "MY STICK",
	    .host_fstype = "vfat",
	    .n_layers = 2,
	    .layers = {{"/My Linux/outer.img", NULL}, {"/inner dir/root.img", NULL}},
	    .kernel = "/boot/vmlinuz",
	    .initrd = "/boot/initrd.img",
	};
	struct strv w = {0};
	char *s =
	    entry_for("root=\"LABEL=MY STICK\" \"loop=/My Linux/outer.img//inner dir/root.img\" "
	              "rw \"loopboot.mount=/home:/My Linux/home.img\"",
	              &e, &w);
	CHECK(contains(s, "menuentry 'Linux on Bob'\\''s stick' --class"));
	CHECK(contains(s, "\tinsmod fat\n"));
	CHECK(contains(s, "\tsearch --no-floppy --label --set=root 'MY STICK'\n"));
	CHECK(contains(s, "\tloopback loop0 '/My Linux/outer.img'\n"));
	CHECK(contains(s, "\tloopback loop1 '(loop0)/inner dir/root.img'\n"));
	CHECK(contains(s, "\tlinux (loop1)/boot/vmlinuz 'root=LABEL=MY STICK' "
	                  "'loop=/My Linux/outer.img//inner dir/root.img' rw "
	                  "'loopboot.mount=/home:/My Linux/home.img'\n"));
	/* Unknown image types: GRUB's ext2 module is assumed. */
	CHECK(contains(s, "\tinsmod ext2\n"));
	free(s);
	strv_free(&w);
}

TEST(kernel_from_host)
{
	struct grub_entry e = {
	    .title = "From the host",
	    .search = GRUB_SEARCH_FS_UUID,
	    .search_value = "ABCD-1234",
	    .host_fstype = "exfat",
	    .kernel_from_host = true,
	    .n_layers = 1,
	    .layers = {{"/linux/root.img", "ext4"}},
	    .kernel = "/linux/vmlinuz",
	    .initrd = "/linux/initrd.img",
	};
	struct strv w = {0};
	char *s = entry_for("root=UUID=ABCD-1234 loop=/linux/root.img", &e, &w);
	CHECK(contains(s, "\tinsmod exfat\n"));
	CHECK(contains(s, "\tlinux /linux/vmlinuz root=UUID=ABCD-1234 loop=/linux/root.img\n"));
	CHECK(contains(s, "\tinitrd /linux/initrd.img\n"));
	CHECK(!strstr(s, "loopback"));
	free(s);
	strv_free(&w);
}

TEST(unknown_host_type_loads_usual_modules)
{
	struct grub_entry e = {
	    .title = "x",
	    .search = GRUB_SEARCH_FS_UUID,
	    .search_value = "0123456789ABCDEF",
	    .n_layers = 1,
	    .layers = {{"/r.img", NULL}},
	    .kernel = "/boot/vmlinuz",
	    .initrd = NULL,
	};
	struct strv w = {0};
	char *s = entry_for("root=UUID=0123456789ABCDEF loop=/r.img", &e, &w);
	static const char *const order[] = {"insmod ntfs\n", "insmod fat\n", "insmod exfat\n",
	                                    "insmod ext2\n", "search ",      NULL};
	CHECK(in_order(s, order));
	CHECK(!strstr(s, "initrd "));
	free(s);
	strv_free(&w);
}
