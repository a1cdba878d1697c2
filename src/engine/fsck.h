/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checking an image before it is mounted read-write, as distributions check a root
 * partition: e2fsck, fsck.fat or fsck.exfat when the initramfs has them, honouring
 * systemd's fsck.mode= and fsck.repair= kernel parameters.
 */
#pragma once

#include "engine/plan.h"

/* Finds the checker for a file system type; NULL when none is installed. */
char *fsck_find(const char *fstype);

/*
 * Checks devnode (type fstype, the image's path for messages). Returns 0 when the file
 * system is clean or was repaired, -EUCLEAN (after printing the loopboot: line) when
 * errors remain, or another -errno when the checker could not run. Does nothing with
 * fsck.mode=skip or when no checker is installed.
 *
 * dry_run (the engine's read-only pass) only looks (-n): it returns 1 when there are
 * errors that fsck.repair= allows to repair in the real pass, and fails at once when
 * it does not, so that such a refusal leaves the host untouched.
 */
#include <stdbool.h>
int fsck_run(const struct plan *p, const char *devnode, const char *fstype, const char *what,
             bool dry_run);
