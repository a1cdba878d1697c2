/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel modules that go into the initramfs: names or aliases looked up with libkmod
 * in a modules directory (the one holding modules.dep), closed over their dependencies and
 * soft dependencies, then staged into a private tree where depmod builds indexes that
 * describe exactly that set.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "basic/util.h"

struct kmod_ctx;

struct modset_entry {
	char *name;   /* "ext4", "crc32c_intel" */
	char *path;   /* the file, as libkmod found it */
	char *reason; /* why it is in: "default set", "dependency of ext4", ... */
};

struct modset {
	struct kmod_ctx *ctx;
	char *dir; /* the modules directory, without trailing '/' */
	struct modset_entry *v;
	size_t n, cap;
	struct strv builtin; /* asked-for modules that are built into the kernel */
	struct strv visited; /* names already closed over (with a file or built in) */
	struct strv implied; /* "softdep MODULE pre: DRIVER" lines, for MODSET_CONF */
};

/*
 * Opens modules_dir with libkmod, using the host's modprobe configuration like modprobe
 * -d does. Returns 0, -ENOENT when the directory or its modules.dep is missing, -ENODATA
 * when modules.dep.bin is missing (depmod was not run there), or another -errno.
 */
int modset_init(struct modset *s, const char *modules_dir);
void modset_done(struct modset *s);

/*
 * Adds every module that name (a module name, alias, or modalias) resolves to, with its
 * dependencies and pre/post soft dependencies, recursively. Built-in modules are noted and
 * need no file. *ret_matched (optional) is the number of modules the lookup found, built
 * in or not. Returns 0 (also when nothing matched: the caller decides whether that is an
 * error), or -errno from libkmod.
 */
int modset_add(struct modset *s, const char *name, const char *reason, unsigned *ret_matched);

const struct modset_entry *modset_find(const struct modset *s, const char *name);

/*
 * Copies the modules into stage/lib/modules/version/ at their paths relative to the
 * modules directory (compressed ones stay compressed), with modules.builtin,
 * modules.builtin.modinfo and modules.order so that depmod and libkmod know what is built
 * in, then runs `depmod -b stage version`; and writes stage/MODSET_CONF with the soft
 * dependencies the set implies (s->implied), when it has any. Returns 0 or -errno; on
 * failure *ret_what (optional, static string) names the step.
 */
#define MODSET_CONF "etc/modprobe.d/loopboot-initrd.conf"
int modset_stage(const struct modset *s, const char *stage, const char *version,
                 const char **ret_what);
