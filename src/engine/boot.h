/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine: turns a plan into mounts. The same entry point serves /init (PID 1), the
 * `loopboot boot --root-mnt DIR` form that initramfs frameworks call, and the tests.
 *
 * It builds the stack twice. First a dry run with everything read-only (the host, every
 * loop device, every mount, journals not replayed) that checks every file, type, mount
 * point and the init; then, only if that passed, the real stack. So a mistake on the
 * command line is found before anything could write to the host.
 */
#pragma once

#include <stdbool.h>

#include "engine/plan.h"

struct boot_options {
	const char *root_mnt; /* where the new root is mounted; must exist */
	bool find_init;       /* check that the root has an init program (PID 1 mode) */
};

struct boot_result {
	char *init; /* with find_init: the init program's path inside the new root */
};

/*
 * Returns 0 with the root mounted at root_mnt, extra images below it, the host at
 * <root_mnt><hostdir> and the state record written; or a negative errno after printing the
 * one-line failure and unmounting everything it mounted.
 */
int boot_run(const struct plan *plan, const struct boot_options *opts, struct boot_result *ret);
void boot_result_free(struct boot_result *r);

/* Mounts /proc, /sys, /dev (devtmpfs) and /run (tmpfs) where they are missing. */
int boot_mount_api_filesystems(void);
