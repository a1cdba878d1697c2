/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Finds the init program inside newroot: init= when given, else the usual places. The
 * path is resolved inside newroot (an absolute symlink /sbin/init -> /lib/systemd/systemd
 * means the image's file). Returns 0 with *ret set to the path as seen from newroot.
 */
int switchroot_find_init(const char *newroot, const char *wanted, char **ret);

/*
 * Hands the machine over, as the kernel's initramfs documentation asks: moves /dev, /proc,
 * /sys and /run into newroot, moves newroot over /, chroots into it, deletes the
 * initramfs's files (they would pin memory forever) and executes init with argv. Returns
 * only on failure, with -errno after a one-line message naming the step that failed;
 * before the move over / nothing irreversible has happened.
 */
int switchroot(const char *newroot, const char *init, char **argv);
