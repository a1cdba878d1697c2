/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loop devices: LOOP_CONFIGURE in one ioctl, LOOP_SET_FD + LOOP_SET_STATUS64 before 5.8. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct loopdev {
	char *devnode;  /* /dev/loop3 */
	int fd;         /* open until the device is mounted: autoclear needs one holder */
	bool direct_io; /* what the kernel accepted, not what was asked */
	bool read_only;
};

/*
 * Attaches the open backing file to a free loop device with autoclear, and direct I/O when
 * the backing file system supports it. backing_name is recorded as the device's file name.
 * Returns 0, or -errno.
 */
int loopdev_attach(int backing_fd, const char *backing_name, bool read_only, struct loopdev *ret);
/* The same for the bytes offset .. offset+sizelimit of the file (a partition of a disk
 * image; sizelimit 0: to the end), with no partition scan. */
int loopdev_attach_range(int backing_fd, const char *backing_name, bool read_only, uint64_t offset,
                         uint64_t sizelimit, struct loopdev *ret);

/* Closes our descriptor: once nothing else holds the device, autoclear detaches it. */
void loopdev_release(struct loopdev *l);

/* Detaches explicitly (LOOP_CLR_FD); -ENXIO when it was no longer attached. */
int loopdev_detach(const char *devnode);

/* The loop device already attached to this open file ("/dev/loop0"), or NULL: how the
 * running system's own root image is recognised. */
char *loopdev_of_file(int fd);
/* The same for the loop device over the bytes from offset of the file (a partition of a
 * running system's disk image). */
char *loopdev_of_file_at(int fd, uint64_t offset);
