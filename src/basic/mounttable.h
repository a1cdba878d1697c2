/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mount table, read with libmount: the mount that holds a path, the mount of a whole
 * device, the root mount; and whether a path is a mount point. Each lookup reads the table
 * afresh, as it is at that moment: /proc/self/mountinfo, or a file in its format (the unit
 * tests' fake ones) where a function takes mountinfo (NULL: /proc/self/mountinfo).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* One line of mountinfo, copied out of libmount's table (the escapes undone). */
struct mount_entry {
	char *target; /* where it is mounted */
	char *source; /* /dev/sda1, a file for ntfs-3g on a file, "fusefat"; NULL when none */
	char *fstype; /* ext4, fuseblk, fuse.fusefat */
	char *root;   /* the directory of the file system that is mounted there ("/": all) */
	dev_t devno;  /* the st_dev of its files: a FUSE mount's is anonymous (major 0) */
	bool read_only;
};
void mount_entry_free(struct mount_entry *m);

/*
 * The mount that holds path (absolute, without symlinks; it need not exist): the deepest
 * mount point at or above it, the last one listed when several are stacked there. Returns
 * 1 with *ret filled, 0 when no mount holds it, or -errno when the table cannot be read.
 */
int mount_find_path(const char *mountinfo, const char *path, struct mount_entry *ret);

/* The mount at "/" (what the running system booted from): as mount_find_path(). */
int mount_find_root(const char *mountinfo, struct mount_entry *ret);

/*
 * A mount of the whole file system on devnode (one whose root is "/"), the last one listed:
 * kernel mounts are matched by device number, FUSE mounts (fuseblk: their device number is
 * anonymous) by their source. Returns 1 with *ret filled, 0 when it is not mounted, -errno.
 */
int mount_find_device(const char *mountinfo, const char *devnode, struct mount_entry *ret);

/*
 * An O_PATH descriptor of the directory where devnode's whole file system is mounted on this
 * system (see mount_find_device()); *ret_entry (optional) gets that mount. Returns the
 * descriptor, or -errno: -ENOENT when it is not mounted.
 */
int mount_open_device(const char *devnode, struct mount_entry *ret_entry);

struct strv;
/*
 * Every mount point at or below root (absolute), deepest first and, within one depth,
 * backwards in mount order: the order to unmount them in. Appends to ret; 0 or -EIO when
 * the table cannot be read.
 */
int mount_targets_below(const char *root, struct strv *ret);

/* Whether path is a mount point (bind mounts of a directory of the same file system too). */
bool is_mount_point(const char *path);
