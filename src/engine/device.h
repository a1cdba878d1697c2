/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Block devices: finding the host by name or tag with libblkid, probing file system types. */
#pragma once

#include <stdbool.h>

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

/* Prints every block device the engine can see, with TYPE, UUID, LABEL and PARTUUID. */
void device_list_all(void);

/*
 * Probes the file system on an open file or block device with libblkid (superblocks only).
 * Returns 1 with *ret_type set, 0 when no file system signature was found, or -errno.
 * An ambiguous probe (two signatures) is an error: mounting it could destroy data.
 */
int device_probe_fd(int fd, char **ret_type);
