/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mounting: option strings through libmount, kernel drivers, and FUSE drivers for hosts. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct modules;
struct layer_host;

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

/*
 * Mounts a host block device. fstype_wanted is rootfstype= (NULL: use probed_type).
 * The kernel's driver is used when the kernel has one (loading it if needed); otherwise the
 * FUSE driver for the type (ntfs-3g for NTFS, exfat-fuse, fusefat), started as a root
 * storage daemon: argv[0] begins with '@' so that systemd's final kill spares it.
 * Fills source, type, driver, target, options, read_only, fuse and daemon_pid of *ret
 * (the other fields are the caller's). Returns 0, or a negative errno after printing the
 * one-line failure.
 */
int host_mount(struct modules *m, const char *devnode, const char *probed_type,
               const char *fstype_wanted, const char *options, bool read_only, const char *target,
               struct layer_host *ret);

/* Unmounts a host; for FUSE waits (up to timeout_ms) for the daemon to exit. 0 or -errno. */
int host_umount(const struct layer_host *h, int timeout_ms);
