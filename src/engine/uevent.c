/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/uevent.h"

#include <dirent.h>
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/util.h"

int uevent_open(void)
{
	int fd =
	    socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	/* A burst of drivers probing at once sends hundreds of events: room for them. */
	int size = 1024 * 1024;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1 /* the kernel's */};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int uevent_parse(const char *buf, size_t len, struct uevent *ret)
{
	*ret = (struct uevent){0};
	const char *at = len ? memchr(buf, '@', strnlen(buf, len)) : NULL;
	if (!at || at == buf || buf[len - 1] != '\0')
		return -EINVAL;
	for (const char *p = buf, *end = buf + len; p < end; p += strlen(p) + 1) {
		if (p == buf)
			continue; /* the header, "ACTION@DEVPATH" */
		const char *v;
		if ((v = startswith(p, "ACTION=")))
			ret->action = v;
		else if ((v = startswith(p, "DEVPATH=")))
			ret->devpath = v;
		else if ((v = startswith(p, "SUBSYSTEM=")))
			ret->subsystem = v;
		else if ((v = startswith(p, "MODALIAS=")))
			ret->modalias = v;
	}
	return ret->action && ret->devpath ? 0 : -EINVAL;
}

int uevent_wait(int fd, int timeout_ms, void (*fn)(const struct uevent *ev, void *userdata),
                void *userdata)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return 0;
	int n = 0;
	for (;;) {
		char buf[8192];
		ssize_t len = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return n;
			if (errno == EINTR)
				continue;
			return -errno; /* ENOBUFS: events were lost */
		}
		buf[len] = '\0';
		struct uevent ev;
		if (uevent_parse(buf, (size_t)len + 1, &ev) < 0)
			continue;
		n++;
		if (fn)
			fn(&ev, userdata);
	}
}

enum disk_lane modalias_disk_lane(const char *modalias)
{
	/* pci:vVVVVVVVVdDDDDDDDDsvSSSSSSSSsdSSSSSSSSbcCCscSSiII: the field names are lower case,
	 * the hexadecimal digits upper case, so "bc01" can only be the base class and
	 * "bc01sc08" non-volatile memory (NVMe). Vendor 1AF4 is virtio's. */
	if (startswith(modalias, "pci:"))
		return !strstr(modalias, "bc01")                ? DISK_LANE_NONE
		       : strstr(modalias, "bc01sc08")           ? DISK_LANE_NVME
		       : startswith(modalias, "pci:v00001AF4d") ? DISK_LANE_VIRTIO
		                                                : DISK_LANE_PCI;
	/* virtio:dDDDDDDDDvVVVVVVVV: device 2 is a block device, 8 a SCSI host. */
	if (startswith(modalias, "virtio:d00000002v") || startswith(modalias, "virtio:d00000008v"))
		return DISK_LANE_VIRTIO;
	return streq(modalias, "xen:vbd") ? DISK_LANE_XEN : DISK_LANE_NONE;
}

bool modalias_names_disks(const char *modalias)
{
	return modalias_disk_lane(modalias) != DISK_LANE_NONE;
}

static int bus_modaliases(const char *sysfs, const char *bus,
                          void (*fn)(const char *bus, const char *modalias, void *userdata),
                          void *userdata)
{
	_cleanup_free_ char *dir = xasprintf("%s/bus/%s/devices", sysfs, bus);
	_cleanup_(closedirp) DIR *devs = opendir(dir);
	struct dirent *d;
	int n = 0;
	while (devs && (d = readdir(devs))) {
		if (d->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s/modalias", dir, d->d_name);
		_cleanup_free_ char *alias = NULL;
		if (read_file(path, &alias, NULL) < 0 || !*strip_trailing(alias))
			continue;
		fn(bus, alias, userdata);
		n++;
	}
	return n;
}

int sysfs_modaliases(const char *sysfs, const char *bus,
                     void (*fn)(const char *bus, const char *modalias, void *userdata),
                     void *userdata)
{
	if (bus)
		return bus_modaliases(sysfs, bus, fn, userdata);
	_cleanup_free_ char *dir = xasprintf("%s/bus", sysfs);
	_cleanup_(closedirp) DIR *buses = opendir(dir);
	if (!buses)
		return -errno;
	struct dirent *b;
	int n = 0;
	while ((b = readdir(buses)))
		if (b->d_name[0] != '.')
			n += bus_modaliases(sysfs, b->d_name, fn, userdata);
	return n;
}

struct lane_count {
	enum disk_lane lane;
	unsigned n;
};

static void count_lane(const char *bus, const char *modalias, void *userdata)
{
	(void)bus;
	struct lane_count *c = userdata;
	if (modalias_disk_lane(modalias) == c->lane)
		c->n++;
}

unsigned disk_lane_devices(const char *sysfs, enum disk_lane lane)
{
	static const char *const buses[] = {"pci", "virtio", "xen"};
	unsigned most = 0;
	for (size_t b = 0; b < ARRAY_SIZE(buses); b++) {
		struct lane_count c = {.lane = lane};
		(void)sysfs_modaliases(sysfs, buses[b], count_lane, &c);
		if (c.n > most)
			most = c.n;
	}
	return most;
}

bool modalias_reveals_disks(const char *modalias)
{
	/* scsi:t-0xTT, the SCSI device type: disk (00), CD/DVD (05), optical (07), RBC (0e). */
	static const char *const scsi[] = {"scsi:t-0x00", "scsi:t-0x05", "scsi:t-0x07",
	                                   "scsi:t-0x0e"};
	if (modalias_names_disks(modalias) || streq(modalias, "mmc:block"))
		return true;
	/* The controllers in front of those: USB (PCI class 0C03) and SD hosts (0805). */
	if (startswith(modalias, "pci:"))
		return strstr(modalias, "bc0Csc03") || strstr(modalias, "bc08sc05");
	for (size_t i = 0; i < ARRAY_SIZE(scsi); i++)
		if (streq(modalias, scsi[i]))
			return true;
	/* usb:v…p…d…dc…dsc…dp…icCCiscSSipPPinNN: the field names are lower case, the digits
	 * upper case, so "ic08" is the interface class, 08 mass storage. */
	return startswith(modalias, "usb:") && strstr(modalias, "ic08");
}
