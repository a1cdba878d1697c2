/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel's device events (NETLINK_KOBJECT_UEVENT), so that waiting for a device wakes
 * when the kernel adds one instead of polling, and a new device's driver is loaded from
 * its MODALIAS= at once instead of by walking /sys again.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A socket receiving the kernel's events; -errno (the caller then polls). */
int uevent_open(void);

/* One event as the kernel sends it: "ACTION@DEVPATH\0KEY=VALUE\0...". Pointers into buf. */
struct uevent {
	const char *action, *devpath, *subsystem, *modalias;
};
/* 0, or -EINVAL for what is not a kernel event (udev's "libudev" messages, garbage). */
int uevent_parse(const char *buf, size_t len, struct uevent *ret);

/* Waits up to timeout_ms for events on fd, then reads every event queued; calls fn with
 * each one. Returns the number of events read, 0 when none came, -ENOBUFS when the kernel
 * dropped some (the caller walks /sys), or -errno. */
int uevent_wait(int fd, int timeout_ms, void (*fn)(const struct uevent *ev, void *userdata),
                void *userdata);

/*
 * Whether a device's driver gives disk names in the order it binds its devices, and which
 * drivers' loads must follow each other for that order to hold (a lane): a PCI
 * mass-storage controller (class 01: AHCI, SCSI HBAs; NVMe, subclass 08, apart), a
 * virtio block or SCSI device and virtio's PCI transport under it (virtio-blk-pci,
 * virtio-scsi-pci), a Xen virtual disk. The kernel binds those one after the other in bus
 * order unless told otherwise, which is what makes /dev/vda the first virtio disk and sda
 * the first controller's first disk; virtio_blk loaded while virtio_pci still adds devices
 * takes them in either order, so the two are one lane, while AHCI resetting its ports
 * holds up no virtio disk. A lane is a family of names: NVMe controllers number their
 * disks nvme0n1, nvme1n1 among themselves and never take an sdX name, so NVMe is a lane
 * of its own beside AHCI's and the HBAs' sdX.
 */
enum disk_lane {
	DISK_LANE_NONE, /* names no disk: binds in the background */
	DISK_LANE_PCI,
	DISK_LANE_NVME,
	DISK_LANE_VIRTIO,
	DISK_LANE_XEN,
};
enum disk_lane modalias_disk_lane(const char *modalias);
bool modalias_names_disks(const char *modalias); /* its lane is not DISK_LANE_NONE */
/* Calls fn with each device's modalias under SYSFS/bus/BUS/devices (every bus when BUS is
 * NULL), the trailing newline taken off; devices without one are left out. Returns the
 * number of calls, or -errno when SYSFS/bus cannot be read (a bus that is not there has
 * no devices). */
int sysfs_modaliases(const char *sysfs, const char *bus,
                     void (*fn)(const char *bus, const char *modalias, void *userdata),
                     void *userdata);
/* The devices of lane under SYSFS/bus/{pci,virtio,xen}/devices now: the most on one of
 * those buses, so that virtio's storage PCI functions and the virtio disks they become
 * count once. 0 when none can be read. */
unsigned disk_lane_devices(const char *sysfs, enum disk_lane lane);

/* Whether a device's driver makes block devices appear, or the controllers they are
 * behind: the disk-naming ones, SCSI disks and CD/DVD drives (sd, sr: behind AHCI,
 * virtio-scsi, USB), USB host controllers and mass storage (usb-storage, uas), SD hosts
 * and cards. The host may be behind any of them: they load at the engine's priority. */
bool modalias_reveals_disks(const char *modalias);
