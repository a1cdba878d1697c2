/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot grub`: the menuentry text, made from plain data (no device is looked at). */
#include <ctype.h>

#include "test-main.h"
#include "tools/grub.h"
#include "basic/strbuf.h"
#include "tools/views.h"

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
 * What the entry leaves out is the usual: the host found by the file system UUID
 * 0123456789ABCDEF, as many layers as it names, the kernel /boot/vmlinuz with
 * /boot/initrd.img.
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

/* The needles (NULL-terminated in out) with @0 and @1 replaced by the entry's loopback names
 * (grub_loop_name). */
static void expand(const struct grub_entry *e, const char *const *needles, struct strv *out)
{
	for (const char *const *p = needles; p && *p; p++) {
		struct strbuf b = {0};
		for (const char *c = *p; *c; c++) {
			if (c[0] == '@' && (c[1] == '0' || c[1] == '1')) {
				char *name = grub_loop_name(e, (unsigned)(c[1] - '0'));
				strbuf_append(&b, name);
				free(name);
				c++;
			} else {
				strbuf_printf(&b, "%c", *c);
			}
		}
		strv_push(out, strbuf_steal(&b)); /* strv keeps a NULL after the last */
	}
}

static void check_entry(const struct entry_case *c)
{
	struct grub_entry e = c->entry;
	if (!e.search_value)
		e.search_value = "0123456789ABCDEF"; /* e.search is GRUB_SEARCH_FS_UUID */
	if (!e.n_layers)
		while (e.n_layers < PLAN_MAX_LAYERS && e.layers[e.n_layers].path)
			e.n_layers++;
	if (!e.kernel) {
		e.kernel = "/boot/vmlinuz";
		e.initrd = "/boot/initrd.img";
	}
	struct strv w = {0}, order = {0}, present = {0};
	char *s = entry_for(c->cmdline, &e, &w);
	expand(&e, c->in_order, &order);
	expand(&e, c->present, &present);
	if (c->in_order)
		CHECK(in_order(s, (const char *const *)order.v));
	for (size_t i = 0; i < present.n; i++)
		CHECK(contains(s, present.v[i]));
	for (const char *const *p = c->absent; p && *p; p++)
		CHECK(lacks(s, *p));
	if (c->once)
		CHECK(once(s, c->once));
	free(s);
	strv_free(&w);
	strv_free(&order);
	strv_free(&present);
}

static const struct entry_case entry_cases[] = {
    {
        .name = "ntfs_host_kernel_from_image",
        .entry = {.title = "Debian (loopboot)",
                  .host_fstype = "ntfs",
                  .layers = {{"/linux/root.img", "ext4", NULL, NULL}}},
        .cmdline = "BOOT_IMAGE=/x root=UUID=0123456789ABCDEF loop=/linux/root.img rw",
        .in_order = STRINGS("menuentry 'Debian (loopboot)' --class gnu-linux --class os {\n",
                            "\tinsmod part_gpt\n", "\tinsmod part_msdos\n", "\tinsmod ntfs\n",
                            "\tsearch --no-floppy --fs-uuid --set=root 0123456789ABCDEF\n",
                            "\tinsmod loopback\n", "\tinsmod ext2\n",
                            "\tif [ -e (@0)/ ]; then loopback -d @0; fi\n",
                            "\tloopback @0 /linux/root.img\n",
                            "\tlinux (@0)/boot/vmlinuz root=UUID=0123456789ABCDEF "
                            "loop=/linux/root.img rw\n",
                            "\tinitrd (@0)/boot/initrd.img\n", "}\n"),
        .absent = STRINGS("BOOT_IMAGE", "insmod fat", "loop0"),
    },
    {
        .name = "nested_images_chain_loop_devices",
        .entry = {.title = "Nested",
                  .search = GRUB_SEARCH_FS_UUID,
                  .search_value = "6a0c4b3e-1111-2222-3333-444455556666",
                  .host_fstype = "ext4",
                  .layers = {{"/vm/outer.img", "btrfs", NULL, NULL},
                             {"/images/root.img", "ext4", NULL, NULL}}},
        .cmdline = "root=PARTUUID=6a0c4b3e-01 loop=/vm/outer.img//images/root.img",
        .in_order = STRINGS(
            "\tinsmod ext2\n",
            "\tsearch --no-floppy --fs-uuid --set=root 6a0c4b3e-1111-2222-3333-444455556666\n",
            "\tinsmod loopback\n", "\tinsmod btrfs\n",
            /* The inner device goes first: it reads through the outer one. */
            "\tif [ -e (@1)/ ]; then loopback -d @1; fi\n",
            "\tif [ -e (@0)/ ]; then loopback -d @0; fi\n", "\tloopback @0 /vm/outer.img\n",
            "\tloopback @1 (@0)/images/root.img\n",
            "\tlinux (@1)/boot/vmlinuz root=PARTUUID=6a0c4b3e-01 "
            "loop=/vm/outer.img//images/root.img\n",
            "\tinitrd (@1)/boot/initrd.img\n"),
        /* ext2 is loaded once, for the host and the inner image. */
        .once = "insmod ext2",
    },
    {
        .name = "spaces_label_and_quotes",
        .entry = {.title = "Linux on Bob's stick",
                  .search = GRUB_SEARCH_LABEL,
                  .search_value = "MY STICK",
                  .host_fstype = "vfat",
                  .layers = {{"/My Linux/outer.img", NULL, NULL, NULL},
                             {"/inner dir/root.img", NULL, NULL, NULL}}},
        .cmdline = "root=\"LABEL=MY STICK\" \"loop=/My Linux/outer.img//inner dir/root.img\" "
                   "rw \"loopboot.mount=/home:/My Linux/home.img\"",
        .present = STRINGS("menuentry 'Linux on Bob'\\''s stick' --class", "\tinsmod fat\n",
                           "\tsearch --no-floppy --label --set=root 'MY STICK'\n",
                           "\tloopback @0 '/My Linux/outer.img'\n",
                           "\tloopback @1 '(@0)/inner dir/root.img'\n",
                           "\tlinux (@1)/boot/vmlinuz 'root=LABEL=MY STICK' "
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
                  .layers = {{"/linux/root.img", "ext4", NULL, NULL}},
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
                  .layers = {{"/r.img", NULL, NULL, NULL}},
                  .kernel = "/boot/vmlinuz",
                  .initrd = NULL},
        .cmdline = "root=UUID=0123456789ABCDEF loop=/r.img",
        .in_order =
            STRINGS("insmod ntfs\n", "insmod fat\n", "insmod exfat\n", "insmod ext2\n", "search "),
        .absent = STRINGS("initrd "),
    },
    {
        .name = "disk_image_kernel_in_gpt_partition",
        .entry = {.title = "VM disk",
                  .host_fstype = "ntfs",
                  .layers = {{.path = "/vm/disk.img", .fstype = "ext4", .partition = "gpt2"}},
                  .kernel = "/vmlinuz",
                  .initrd = "/initrd.img"},
        .cmdline = "root=UUID=0123456789ABCDEF loop=/vm/disk.img rw",
        .in_order =
            STRINGS("\tinsmod part_gpt\n", "\tinsmod loopback\n", "\tinsmod ext2\n",
                    "\tif [ -e (@0)/ ]; then loopback -d @0; fi\n", "\tloopback @0 /vm/disk.img\n",
                    "\tlinux (@0,gpt2)/vmlinuz root=UUID=0123456789ABCDEF "
                    "loop=/vm/disk.img rw\n",
                    "\tinitrd (@0,gpt2)/initrd.img\n", "}\n"),
        .absent = STRINGS("gpt2)/vm/", ",msdos"),
    },
    {
        .name = "flat_vmdk_opens_its_extent",
        .entry = {.title = "VMware disk",
                  .host_fstype = "ntfs",
                  .layers = {{.path = "/vm/disk.vmdk",
                              .fstype = "ext4",
                              .file = "/vm/disk-flat.vmdk",
                              .partition = "gpt2"}},
                  .kernel = "/vmlinuz",
                  .initrd = "/initrd.img"},
        .cmdline = "root=UUID=0123456789ABCDEF loop=/vm/disk.vmdk rw",
        .present = STRINGS("\tloopback @0 /vm/disk-flat.vmdk\n", "\tlinux (@0,gpt2)/vmlinuz ",
                           " loop=/vm/disk.vmdk rw\n"),
        .absent = STRINGS("loopback @0 /vm/disk.vmdk"),
    },
    {
        .name = "nested_image_in_msdos_partition",
        .entry = {.title = "Nested in a partition",
                  .host_fstype = "ext4",
                  .layers = {{.path = "/vm/disk.img", .fstype = "btrfs", .partition = "msdos1"},
                             {.path = "/images/root.img", .fstype = "ext4"}}},
        .cmdline = "root=UUID=0123456789ABCDEF loop=/vm/disk.img//images/root.img",
        .in_order = STRINGS("\tinsmod btrfs\n", "\tloopback @0 /vm/disk.img\n",
                            "\tloopback @1 (@0,msdos1)/images/root.img\n",
                            "\tlinux (@1)/boot/vmlinuz ", "\tinitrd (@1)/boot/initrd.img\n"),
    },
};
TEST_TABLE(check_entry, entry_cases);

/* ---- the loopback devices' names ------------------------------------------------------ */

static struct grub_entry image_entry(enum grub_search how, const char *host, const char *path)
{
	return (struct grub_entry){.title = "t",
	                           .search = how,
	                           .search_value = host,
	                           .host_fstype = "ntfs",
	                           .n_layers = 1,
	                           .layers = {{path, "ext4", NULL, NULL}},
	                           .kernel = "/vmlinuz",
	                           .initrd = "/initrd.img"};
}

static bool is_loop_name(const char *name)
{
	const char *hex = startswith(name, GRUB_LOOP_PREFIX);
	if (!hex || strlen(hex) != 8)
		return false;
	for (const char *c = hex; *c; c++)
		if (!isxdigit((unsigned char)*c))
			return false;
	return true;
}

TEST(loop_names_stable_and_distinct)
{
	struct grub_entry a = image_entry(GRUB_SEARCH_FS_UUID, "0123456789ABCDEF", "/linux/a.img");
	struct grub_entry a2 = a;
	a2.title = "another title, the same image";
	struct grub_entry b = image_entry(GRUB_SEARCH_FS_UUID, "0123456789ABCDEF", "/linux/b.img");
	struct grub_entry other_host =
	    image_entry(GRUB_SEARCH_FS_UUID, "FEDCBA9876543210", "/linux/a.img");
	struct grub_entry by_label =
	    image_entry(GRUB_SEARCH_LABEL, "0123456789ABCDEF", "/linux/a.img");
	char *na = grub_loop_name(&a, 0), *na2 = grub_loop_name(&a2, 0),
	     *nb = grub_loop_name(&b, 0), *nh = grub_loop_name(&other_host, 0),
	     *nl = grub_loop_name(&by_label, 0);
	printf("# %s %s %s %s\n", na, nb, nh, nl);
	CHECK(is_loop_name(na));
	CHECK(is_loop_name(nb));
	CHECK_STREQ(na, na2); /* stable: the same image, the same name */
	CHECK(!streq(na, nb));
	CHECK(!streq(na, nh));
	CHECK(!streq(na, nl));
	CHECK(!streq(na, "loop0"));
	/* check recognises the image's kernel by BOOT_IMAGE=(loop...). */
	CHECK(startswith(na, "loop") != NULL);
	free(na), free(na2), free(nb), free(nh), free(nl);
}

TEST(loop_names_nested_layers_distinct)
{
	struct grub_entry e = image_entry(GRUB_SEARCH_FS_UUID, "0123456789ABCDEF", "/vm/outer.img");
	e.n_layers = 3;
	e.layers[1] = (struct grub_layer){.path = "/images/root.img", .fstype = "ext4"};
	e.layers[2] = (struct grub_layer){.path = "/images/root.img", .fstype = "ext4"};
	struct grub_entry outer =
	    image_entry(GRUB_SEARCH_FS_UUID, "0123456789ABCDEF", "/vm/outer.img");
	char *n0 = grub_loop_name(&e, 0), *n1 = grub_loop_name(&e, 1), *n2 = grub_loop_name(&e, 2),
	     *o0 = grub_loop_name(&outer, 0);
	CHECK(!streq(n0, n1));
	CHECK(!streq(n1, n2)); /* the same path one level deeper */
	CHECK(!streq(n0, n2));
	CHECK_STREQ(n0, o0); /* the outer image alone has the outer layer's name */
	free(n0), free(n1), free(n2), free(o0);
}

TEST(partition_names)
{
	char *g = grub_partition_name("gpt", 2), *m = grub_partition_name("dos", 5);
	CHECK_STREQ(g, "gpt2");
	CHECK_STREQ(m, "msdos5"); /* MBR logical partitions: GRUB numbers them as Linux does */
	CHECK(grub_partition_name("atari", 1) == NULL);
	CHECK(grub_partition_name(NULL, 1) == NULL);
	free(g), free(m);
}

TEST(loop_names_partitions_count_for_the_layers_inside)
{
	struct grub_entry plain =
	    image_entry(GRUB_SEARCH_FS_UUID, "0123456789ABCDEF", "/vm/disk.img");
	struct grub_entry p2 = plain, p3 = plain;
	p2.n_layers = p3.n_layers = 2;
	p2.layers[0].partition = "gpt2";
	p3.layers[0].partition = "gpt3";
	p2.layers[1] = p3.layers[1] = (struct grub_layer){.path = "/root.img", .fstype = "ext4"};
	char *n0 = grub_loop_name(&plain, 0), *a0 = grub_loop_name(&p2, 0),
	     *a1 = grub_loop_name(&p2, 1), *b1 = grub_loop_name(&p3, 1);
	CHECK_STREQ(n0, a0);   /* the disk itself: the name it had without a partition */
	CHECK(!streq(a1, b1)); /* the same path in two partitions: two images */
	CHECK(!streq(a0, a1));
	free(n0), free(a0), free(a1), free(b1);
}

/* The device name a line "\tloopback NAME FILE\n" of the entry opens, first such line. */
static char *opened_device(const char *text)
{
	const char *l = strstr(text, "\tloopback ");
	if (!l)
		return NULL;
	l += strlen("\tloopback ");
	return strndup(l, strcspn(l, " "));
}

TEST(two_entries_each_their_own_device)
{
	struct grub_entry a = image_entry(GRUB_SEARCH_FS_UUID, "0123456789ABCDEF", "/linux/a.img");
	struct grub_entry b = image_entry(GRUB_SEARCH_FS_UUID, "0123456789ABCDEF", "/linux/b.img");
	b.kernel = "/boot/vmlinuz-6.1.0-18-amd64";
	b.initrd = "/boot/initrd.img-6.1.0-18-amd64";
	char *ta = grub_format_entry(&a), *tb = grub_format_entry(&b);
	char *da = opened_device(ta), *db = opened_device(tb);
	CHECK(da && db && !streq(da, db));
	/* Each removes its own stale device, opens its image, loads its kernel from it. */
	char *want_a = xasprintf("\tif [ -e (%s)/ ]; then loopback -d %s; fi\n"
	                         "\tloopback %s /linux/a.img\n\tlinux (%s)/vmlinuz\n"
	                         "\tinitrd (%s)/initrd.img\n}\n",
	                         da, da, da, da, da);
	char *want_b = xasprintf("\tif [ -e (%s)/ ]; then loopback -d %s; fi\n"
	                         "\tloopback %s /linux/b.img\n"
	                         "\tlinux (%s)/boot/vmlinuz-6.1.0-18-amd64\n"
	                         "\tinitrd (%s)/boot/initrd.img-6.1.0-18-amd64\n}\n",
	                         db, db, db, db, db);
	CHECK(contains(ta, want_a));
	CHECK(contains(tb, want_b));
	CHECK(lacks(ta, db));
	CHECK(lacks(tb, da));
	/* The same entry formatted again: the same text (update-grub twice, the same menu). */
	char *ta2 = grub_format_entry(&a);
	CHECK_STREQ(ta, ta2);
	free(ta), free(tb), free(ta2), free(da), free(db), free(want_a), free(want_b);
}

TEST(initrd_beside_kernel)
{
	static const struct str_case cases[] = {
	    {"/vmlinuz", "/initrd.img"},
	    {"/boot/vmlinuz", "/boot/initrd.img"},
	    {"/boot/vmlinuz-6.1.0-18-amd64", "/boot/initrd.img-6.1.0-18-amd64"},
	    {"/vmlinuz.old", "/initrd.img.old"},
	};
	CHECK_STR_FN(views_initrd_for, cases);
	CHECK(views_initrd_for("/boot/bzImage") == NULL);
	CHECK(views_initrd_for("/boot/vmlinuz-dir/kernel") == NULL);
}
