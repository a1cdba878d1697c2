/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Boot media written straight to a stick: `loopboot iso -o /dev/sdX`. Before a byte is
 * written, the device is refused when it is a partition, when it or one of its partitions
 * is mounted, used by another block device (device-mapper, RAID, a loop device) or as
 * swap, when it holds the host that the entry boots from (the image would be overwritten),
 * when the media do not fit, and, unless forced, when it is not removable. Then the image
 * is copied with a progress bar, synced, its cache dropped and read back for comparison.
 *
 * The decision is a pure function of the facts (stick_verdict); stick_facts_read()
 * gathers them from sysfs, /proc/self/mountinfo and /proc/swaps.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct stick_facts {
	const char *device;  /* as given: /dev/sdb */
	bool block;          /* a block device at all */
	bool partition;      /* /dev/sdb1 rather than the whole disk */
	const char *disk;    /* for a partition: its disk (/dev/sdb), for the advice */
	bool removable;      /* sysfs "removable", or attached through USB or an SD/MMC reader */
	const char *bus;     /* "usb", "mmc", or NULL: for the messages */
	const char *mounted; /* a mount point of it or of one of its partitions, or NULL */
	const char *mounted_dev; /* the device that is mounted there */
	const char *holder;      /* a device-mapper/RAID/loop device built on it, or NULL */
	const char *swap;        /* its swap partition, or NULL */
	bool holds_host;         /* the entry's root= is it or one of its partitions */
	const char *host;        /* that device, for the message */
	uint64_t size;           /* bytes */
	uint64_t image_size;     /* the media's bytes */
};

struct stick_refusal {
	int err;         /* errno for the message */
	const char *why; /* the reason */
	char *todo;      /* what to do (allocated) */
	bool forceable;  /* --force overrides it */
};

/*
 * Whether the media may be written to the device: 0, or -1 with *ret filled (ret->todo to
 * be freed). force overrides only the removable check: nothing overrides the others.
 */
int stick_verdict(const struct stick_facts *f, bool force, struct stick_refusal *ret);

/* The facts about device, as this machine has them (strings owned by the struct, freed by
 * stick_facts_free). host: the entry's host device node, or NULL when it is not here.
 * Returns 0, or -errno (after a message) when device cannot be looked at. */
int stick_facts_read(const char *device, const char *host, uint64_t image_size,
                     struct stick_facts *ret);
void stick_facts_free(struct stick_facts *f);

/*
 * The checks, for the entry's command line (NULL: /proc/cmdline; its root= names the host,
 * looked up here): stick_facts_read() and stick_verdict(), the refusal printed as one line.
 * image_size 0: not built yet (the size is checked the second time). Returns 0 or -1.
 */
int stick_check(const char *device, const char *cmdline, uint64_t image_size, bool force);

/*
 * Copies the file image onto device (checked with stick_verdict first), with a progress
 * bar on stderr when it is a terminal; then fsync, drops the device's cache, reads it back
 * and compares, and asks the kernel to read the new partition table. Returns 0, or -1
 * after a message.
 */
int stick_write(const char *cmd, const char *image, const char *device);
