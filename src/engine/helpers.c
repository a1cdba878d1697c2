/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/helpers.h"

#include "engine/bitlocker.h"

#include <stdio.h>

/* The code pages FAT mounts with by default (Debian's kernel: cp437 and utf8; other
 * builds iso8859-1 or ascii); the others need UTF-8 for file names. */
static const char *const nls_fat[] = {"nls_cp437", "nls_utf8", "nls_iso8859_1", "nls_ascii", NULL};
static const char *const nls_utf8[] = {"nls_utf8", NULL};

static const struct fs_helper table[] = {
    /* NTFS: only ntfs3 writes (the old ntfs driver cannot). ntfs-3g always goes into the
     * initramfs: Debian 12's kernel has no ntfs3, and rootfstype=ntfs-3g asks for it. */
    {"ntfs", "ntfs3", false, "ntfs3", {"ntfs-3g"}, NULL, true, "ntfs-3g", NULL, nls_utf8},
    /* fusefat writes only when asked with "rw+". */
    {"vfat", "vfat", true, NULL, {"fusefat"}, "rw+", false, "fusefat", "fsck.fat", nls_fat},
    /* The kernel's name for FAT without long names: no FUSE stand-in (rootfstype=msdos
     * means that driver). */
    {"msdos", NULL, false, NULL, {NULL}, NULL, false, NULL, "fsck.fat", nls_fat},
    {"exfat",
     "exfat",
     false,
     NULL,
     {"mount.exfat-fuse", "exfat-fuse"},
     NULL,
     false,
     "exfat-fuse",
     "fsck.exfat",
     nls_utf8},
    {"ext4", "ext4", true, NULL, {NULL}, NULL, false, NULL, "e2fsck", NULL},
    {"ext3", NULL, false, NULL, {NULL}, NULL, false, NULL, "e2fsck", NULL},
    {"ext2", NULL, false, NULL, {NULL}, NULL, false, NULL, "e2fsck", NULL},
    {"btrfs", "btrfs", false, NULL, {NULL}, NULL, false, NULL, NULL, NULL},
    {"xfs", "xfs", false, NULL, {NULL}, NULL, false, NULL, NULL, NULL},
    {"f2fs", "f2fs", false, NULL, {NULL}, NULL, false, NULL, NULL, NULL},
    {"squashfs", "squashfs", false, NULL, {NULL}, NULL, false, NULL, NULL, NULL},
    {"erofs", "erofs", false, NULL, {NULL}, NULL, false, NULL, NULL, NULL},
    {"iso9660", "isofs", false, NULL, {NULL}, NULL, false, NULL, NULL, nls_utf8},
    {"udf", "udf", false, NULL, {NULL}, NULL, false, NULL, NULL, nls_utf8},
};

const struct stack_module helper_stack_modules[] = {{"loop", true},         {"dm_mod", false},
                                                    {"dm_snapshot", false}, {"overlay", true},
                                                    {"fuse", true},         {NULL, false}};

const struct fs_helper *fs_helpers(size_t *n)
{
	*n = ARRAY_SIZE(table);
	return table;
}

const struct fs_helper *fs_helper_for_type(const char *type)
{
	for (size_t i = 0; type && i < ARRAY_SIZE(table); i++)
		if (streq(table[i].type, type))
			return &table[i];
	return NULL;
}

const struct fs_helper *fs_helper_for(const char *name)
{
	const struct fs_helper *h = fs_helper_for_type(name);
	for (size_t i = 0; !h && name && i < ARRAY_SIZE(table); i++)
		if (table[i].kernel && streq(table[i].kernel, name))
			h = &table[i];
	return h;
}

const char *fs_kernel_driver(const char *type)
{
	const struct fs_helper *h = fs_helper_for(type);
	return h && h->kernel ? h->kernel : type;
}

const struct fs_helper *fs_helper_for_fuse_program(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(table); i++)
		for (size_t j = 0; j < ARRAY_SIZE(table[i].fuse); j++)
			if (table[i].fuse[j] && streq(table[i].fuse[j], name))
				return &table[i];
	return NULL;
}

static void add_once(struct strv *v, const char *s)
{
	if (s && !strv_contains(v, s))
		strv_push(v, xstrdup(s));
}

void helpers_programs(struct strv *ret)
{
	/* The preferred FUSE program of each type: the others are fallbacks of older
	 * packages (exfat-fuse's own name), found when present. */
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		add_once(ret, table[i].fuse[0]);
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		add_once(ret, table[i].fsck);
}

static void add_type_modules(struct strv *ret, const struct fs_helper *h)
{
	add_once(ret, h->module);
	for (size_t j = 0; h->nls && h->nls[j]; j++)
		add_once(ret, h->nls[j]);
}

void helpers_modules(struct strv *ret)
{
	for (size_t i = 0; helper_stack_modules[i].name; i++)
		add_once(ret, helper_stack_modules[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		add_type_modules(ret, &table[i]);
}

void helpers_required_modules(struct strv *ret)
{
	for (size_t i = 0; helper_stack_modules[i].name; i++)
		if (helper_stack_modules[i].required)
			add_once(ret, helper_stack_modules[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (table[i].required)
			add_once(ret, table[i].module);
}

void helpers_modules_for(char *const *types, size_t n, struct strv *ret)
{
	for (size_t i = 0; helper_stack_modules[i].name; i++)
		add_once(ret, helper_stack_modules[i].name);
	for (size_t i = 0; i < n; i++) {
		const struct fs_helper *h = fs_helper_for(types[i]);
		if (bitlocker_is_type(types[i]) || streq(types[i], "BITLK")) {
			/* blkid's type, or the crypt record's (status --get crypt.type) */
			for (size_t k = 0; bitlocker_modules[k]; k++)
				add_once(ret, bitlocker_modules[k]);
		} else if (h)
			add_type_modules(ret, h);
		else if (!fs_helper_for_fuse_program(types[i])) /* FUSE: "fuse" is in */
			add_once(ret,
			         types[i]); /* a module of the same name, if the kernel has one */
	}
}

int helpers_main(int argc, char **argv)
{
	bool programs = argc == 2 && streq(argv[1], "programs");
	if (argc == 2 && streq(argv[1], "libraries")) {
		/* What the engine dlopen()s: libcryptsetup, for BitLocker hosts. */
		puts(BITLOCKER_LIBRARY);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	bool modules = argc >= 2 && streq(argv[1], "modules");
	if (argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
		puts("Usage: loopboot helpers programs|libraries|modules [--required|TYPE...]\n"
		     "Lists, one a line, the programs (FUSE drivers, checkers) or the kernel "
		     "modules an initramfs needs for the engine to boot an image on any host it "
		     "knows; with TYPEs (file system types or drivers, as loopboot status --get "
		     "prints them), the modules for those only; with --required, only those a "
		     "kernel for loopboot has (the others are optional); without either, "
		     "BitLocker's too (dm-crypt, AES). libraries: what the engine loads with "
		     "dlopen when it needs it (libcryptsetup.so.12, for BitLocker hosts), by "
		     "soname. The initramfs frameworks' hooks read these lists.");
		return 0;
	}
	if (!programs && !modules) {
		fprintf(stderr,
		        "loopboot: helpers: %s — use loopboot helpers programs, or "
		        "loopboot helpers modules\n",
		        argc < 2 ? "what to list is missing" : "unknown list");
		return 2;
	}
	struct strv v = {0};
	if (programs)
		helpers_programs(&v);
	else if (argc == 3 && streq(argv[2], "--required"))
		helpers_required_modules(&v);
	else if (argc > 2)
		helpers_modules_for(argv + 2, (size_t)argc - 2, &v);
	else {
		helpers_modules(&v);
		/* The frameworks' initramfs gets BitLocker's modules too: small, and
		 * `loopboot initrd` adds them only with --bitlocker. */
		for (size_t k = 0; bitlocker_modules[k]; k++)
			add_once(&v, bitlocker_modules[k]);
	}
	for (size_t i = 0; i < v.n; i++)
		puts(v.v[i]);
	strv_free(&v);
	return fflush(stdout) == 0 ? 0 : 1;
}
