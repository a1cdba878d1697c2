/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Device-mapper linear devices through the kernel's ioctls (linux/dm-ioctl.h), without
 * libdevmapper or dmsetup: DM_DEV_CREATE, DM_TABLE_LOAD with one "linear" target per
 * extent, DM_DEV_SUSPEND to resume (activate), DM_DEV_REMOVE. The device node is the one
 * devtmpfs makes, /dev/dm-N.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/extents.h"

/* The names loopboot gives its devices. */
#define DM_NAME_HOST "loopboot-host"
#define DM_NAME_ROOT "loopboot-root"
#define DM_NAME_COW  "loopboot-cow"

/* Whether the kernel has device-mapper: opens /dev/mapper/control. 0 or -errno. */
int dmlinear_available(void);

/*
 * Creates the device name mapping the extents of map onto the block device major:minor
 * (extent i: sectors logical/512 .. of the new device are sectors physical/512 .. of the
 * underlying one), activates it and waits for its node. *ret_devnode: "/dev/dm-N"
 * (allocated). Returns 0, or -errno (-EEXIST: a device of that name exists) with nothing
 * left behind.
 */
int dmlinear_create(const char *name, unsigned major, unsigned minor, const struct extent_map *map,
                    bool read_only, char **ret_devnode);

/*
 * A block-level copy-on-write: the device name reads as origin, and every write goes to
 * the exception store on cow (a device-mapper "snapshot", not persistent: the store is
 * thrown away with it), so that origin is never written. sectors: origin's size. Needs
 * the dm_snapshot module. Returns 0 with *ret_devnode, or -errno with nothing left.
 */
int dmsnap_create(const char *name, dev_t origin, dev_t cow, uint64_t sectors, char **ret_devnode);

/* Removes the device; retries while it is busy for a moment. -ENXIO when there is none. */
int dmlinear_remove(const char *name);

/*
 * Compares what the mapped device holds with what the file holds (through its file
 * system): the first 4 KiB of every extent (at most 4096 of them, spread over the file)
 * and the file's last 4 KiB. file_base: where the mapped bytes start in the file (a
 * partition of a disk image; the map's logical offsets are from there). Returns 0 when they agree,
 * -EIO on a difference, or -errno.
 */
int dmlinear_verify(int file_fd, uint64_t file_base, const char *devnode,
                    const struct extent_map *map);

/*
 * The dm name for an image: DM_NAME_ROOT for the root, "loopboot-" + the mount target with
 * '/' as '-' and '-' as "--" for a further image ("/srv/data" -> "loopboot-srv-data",
 * "/a-b" -> "loopboot-a--b"). Allocated.
 */
char *dmlinear_name_for(const char *role, const char *target);
