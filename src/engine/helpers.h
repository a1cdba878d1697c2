/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one table of what the engine needs for each file system type a host or an image
 * may have: the kernel module and driver, the FUSE programs that stand in where the kernel
 * lacks the driver, the checker run before a read-write mount, and the code pages its
 * mounts use. The engine (mounts.c, fsck.c), `loopboot check`, `loopboot initrd` (the
 * default set and --host-only) and the initramfs frameworks' hooks (through
 * `loopboot helpers`) all read it here.
 */
#pragma once

#include <stdbool.h>

#include "basic/util.h"

struct fs_helper {
	const char *type;   /* blkid's name */
	const char *module; /* the kernel module that has it; NULL: none of its own */
	bool required; /* a kernel for loopboot has it (vfat, ext4): a build without it fails */
	const char *kernel;  /* the kernel's driver name for mount(2); NULL: type */
	const char *fuse[2]; /* FUSE programs, in order of preference */
	const char *fuse_rw; /* the option that makes the FUSE program write; NULL: "rw" */
	bool fuse_always;    /* the default initramfs has the FUSE program whatever the kernel */
	const char *fuse_package; /* Debian's, for messages */
	const char *fsck;         /* the checker run before a read-write mount; NULL: none */
	const char *const *nls;   /* code page modules its mounts use; NULL-terminated or NULL */
};

/* The row for a type as blkid names it; NULL when unknown. */
const struct fs_helper *fs_helper_for_type(const char *type);
/* The row for a type or a kernel driver's name ("ntfs3": the ntfs row); NULL: unknown. */
const struct fs_helper *fs_helper_for(const char *name);
/* Every row, for lists; n rows. */
const struct fs_helper *fs_helpers(size_t *n);

/* The kernel's driver name for a type ("ntfs" -> "ntfs3": only ntfs3 writes). */
const char *fs_kernel_driver(const char *type);
/* Whether name is one of the FUSE programs; the row it serves, or NULL. */
const struct fs_helper *fs_helper_for_fuse_program(const char *name);

/* The modules every boot from an image may use: loop, device-mapper, overlay, FUSE. */
struct stack_module {
	const char *name;
	bool required;
};
extern const struct stack_module helper_stack_modules[];

/*
 * The lists the initramfs builders take, without repeats, in table order: every program
 * (FUSE programs first, then checkers) and every module (the stack's, then each type's
 * with its code pages).
 */
void helpers_programs(struct strv *ret);
void helpers_modules(struct strv *ret);
/* Only those a kernel for loopboot has: loop, overlay, fuse, vfat, ext4. */
void helpers_required_modules(struct strv *ret);
/* The stack's modules and those of the given types (blkid's types, kernel drivers, FUSE
 * programs: what the state record names). */
void helpers_modules_for(char *const *types, size_t n, struct strv *ret);

/* `loopboot helpers programs|modules [--required|TYPE...]`: the lists, one a line, for
 * the frameworks' hooks. */
int helpers_main(int argc, char **argv);
