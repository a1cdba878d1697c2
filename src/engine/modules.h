/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel modules through libkmod: dependencies, softdeps (ext4 wants crc32c) and aliases
 * are the library's business, never parsed here. A kernel without a modules directory
 * (everything built in) is normal: every call then quietly does nothing.
 */
#pragma once

#include <stdbool.h>

struct modules;

/* Returns NULL when this kernel has no modules directory; the other calls accept NULL. */
struct modules *modules_new(void);
/* Waits for the loads still running in the background, then frees. */
void modules_free(struct modules *m);

/* Loads a module by name or alias with its dependencies and softdeps. 0, or -errno.
 * Waits for a load of the same name that modules_preload() queued. */
int modules_load(struct modules *m, const char *name_or_alias);
/* Starts loading a module the engine will need soon, in the background (a worker thread):
 * a file system's while its image is checked. */
void modules_preload(struct modules *m, const char *name_or_alias);

/* Loads the driver of a device by its modalias, unless an earlier call did: 1 when it was
 * new, else 0. The driver binds its devices in the background (async_probe), except the
 * drivers that name disks (modalias_names_disks()), which bind in bus order. */
int modules_load_device(struct modules *m, const char *modalias);

/*
 * Coldplug: loads the driver for every device modalias under /sys/devices not seen by an
 * earlier call, so devices that appear later (a USB disk behind a newly loaded host
 * controller) are handled by calling it again. Returns the number of new aliases.
 */
int modules_coldplug(struct modules *m);

/* Whether the running kernel has fstype now (/proc/filesystems). */
bool modules_fs_registered(const char *fstype);
/* Starts loading what modules_have_fs() will load for fstype, in the background. */
void modules_preload_fs(struct modules *m, const char *fstype);
/* Makes the kernel able to mount fstype: already registered, or loaded now. */
bool modules_have_fs(struct modules *m, const char *fstype);
