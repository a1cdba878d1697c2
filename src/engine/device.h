/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Block devices: finding the host by name or tag with libblkid, probing file system types. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "engine/plan.h"

struct device_info {
	char *devnode; /* /dev/vda1 */
	char *type, *uuid, *label, *partuuid, *partlabel;
};
void device_info_free(struct device_info *d);

/* Reads the tags of one device (d is filled, to be freed, either way). Returns 0, or
 * -errno when the device cannot be opened; prints nothing. */
int device_read(const char *devnode, struct device_info *d);

/*
 * Looks once through every block device for the one the spec names. Returns 1 and fills
 * *ret when found, 0 when not (yet) there, negative errno on a hard error (e.g. a path that
 * exists but is not a block device). More than one match for a tag is reported as a
 * warning and the first in device order wins, as udev's by-uuid links would.
 */
int device_find(const struct devspec *spec, struct device_info *ret);

/*
 * The devices one wait has read and that did not match, so that each is probed once: a
 * full libblkid probe costs tens of milliseconds under emulation, and a disk's tags do not
 * change while the engine waits for its partitions. Kept by node, number and size, for
 * the length of one wait only.
 */
struct device_seen {
	struct device_info info;
	dev_t rdev;
	unsigned long long size;
};
struct device_cache {
	struct device_seen *v;
	size_t n;
};
void device_cache_free(struct device_cache *c);
/* device_find() through a cache (NULL: none). */
int device_find_cached(const struct devspec *spec, struct device_cache *c, struct device_info *ret);

/* Prints every block device the engine can see, with TYPE, UUID, LABEL and PARTUUID. */
void device_list_all(void);

/*
 * Probes the file system on an open file or block device with libblkid (superblocks only).
 * Returns 1 with *ret_type set, 0 when no file system signature was found, or -errno.
 * An ambiguous probe (two signatures) is an error: mounting it could destroy data.
 */
int device_probe_fd(int fd, char **ret_type);
/* The same for the bytes offset .. offset+size of fd (size 0: to the end). */
int device_probe_range(int fd, uint64_t offset, uint64_t size, char **ret_type);

/*
 * BitLocker volumes opened with libcryptsetup (dm uuid "CRYPT-BITLK-..."), from sysfs:
 * the volume under such a mapping (/dev/sda3), or the mapping opened on a volume
 * (/dev/dm-0). Allocated; NULL when there is none.
 */
char *device_bitlocker_volume_of(const char *mapping);
char *device_bitlocker_mapping_on(const char *volume);
/* The first BitLocker volume on this machine that is not opened (blkid's TYPE=BitLocker,
 * no mapping on it), /dev/NAME allocated, or NULL: what a missing host directory may be. */
char *device_bitlocker_closed(void);
