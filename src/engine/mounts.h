/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mounting: option strings through libmount, kernel drivers, and FUSE drivers for hosts. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct modules;

/*
 * mount(2) with a user's option string ("noatime,errors=remount-ro"): libmount splits it
 * into MS_* flags and file system data. read_only adds MS_RDONLY. Returns 0 or -errno.
 */
int mount_fs(const char *source, const char *target, const char *fstype, bool read_only,
             const char *options);

/* Joins two option strings with a comma; either may be NULL. */
char *options_join(const char *a, const char *b);

/* Options that let a file system be mounted read-only without replaying its journal. */
const char *options_no_replay(const char *fstype);

/* A mounted file system that may be served by a FUSE daemon. */
struct fsmount {
	char *source;  /* /dev/vda1 */
	char *type;    /* what blkid says: ntfs, vfat, ext4 */
	char *driver;  /* what mounted it: ntfs3, vfat, ntfs-3g (a FUSE program) */
	char *target;  /* where it is mounted now */
	char *options; /* the option string given */
	bool read_only;
	bool fuse;
	pid_t daemon_pid; /* FUSE daemon, 0 when unknown or not FUSE */
};
void fsmount_free(struct fsmount *f);

/*
 * Mounts a host block device. fstype_wanted is rootfstype= (NULL: use probed_type).
 * The kernel's driver is used when the kernel has one (loading it if needed); otherwise the
 * FUSE driver for the type (ntfs-3g for NTFS, exfat-fuse, fusefat), started as a root
 * storage daemon: argv[0] begins with '@' so that systemd's final kill spares it.
 * Returns 0, or a negative errno after printing the one-line failure.
 */
int host_mount(struct modules *m, const char *devnode, const char *probed_type,
               const char *fstype_wanted, const char *options, bool read_only, const char *target,
               struct fsmount *ret);

/* Unmounts a host; for FUSE waits (up to timeout_ms) for the daemon to exit. 0 or -errno. */
int host_umount(struct fsmount *f, int timeout_ms);
