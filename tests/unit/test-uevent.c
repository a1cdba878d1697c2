/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel's uevent messages as the engine reads them from NETLINK_KOBJECT_UEVENT. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include "basic/util.h"
#include "engine/uevent.h"
#include "test-main.h"

TEST(uevent_parse_kernel_event)
{
	static const char msg[] = "add@/devices/pci0000:00/0000:00:02.0/virtio0\0"
	                          "ACTION=add\0"
	                          "DEVPATH=/devices/pci0000:00/0000:00:02.0/virtio0\0"
	                          "SUBSYSTEM=virtio\0"
	                          "MODALIAS=virtio:d00000002v00001AF4\0"
	                          "SEQNUM=1234\0";
	struct uevent ev;
	CHECK(uevent_parse(msg, sizeof(msg), &ev) == 0);
	CHECK_STREQ(ev.action, "add");
	CHECK_STREQ(ev.devpath, "/devices/pci0000:00/0000:00:02.0/virtio0");
	CHECK_STREQ(ev.modalias, "virtio:d00000002v00001AF4");
	CHECK_STREQ(ev.subsystem, "virtio");

	/* A block device: no MODALIAS. */
	static const char blk[] = "add@/devices/virtual/block/loop0\0ACTION=add\0"
	                          "DEVPATH=/devices/virtual/block/loop0\0SUBSYSTEM=block\0";
	CHECK(uevent_parse(blk, sizeof(blk), &ev) == 0);
	CHECK(ev.modalias == NULL);
	CHECK_STREQ(ev.subsystem, "block");
}

TEST(uevent_parse_refuses)
{
	struct uevent ev;
	/* udev's own messages start with "libudev", not ACTION@DEVPATH. */
	static const char udev[] = "libudev\0\xfe\xed\xca\xfe";
	CHECK(uevent_parse(udev, sizeof(udev), &ev) == -EINVAL);
	/* A header without the ACTION= and DEVPATH= keys. */
	static const char bare[] = "add@/devices/x\0SEQNUM=1\0";
	CHECK(uevent_parse(bare, sizeof(bare), &ev) == -EINVAL);
	/* Not NUL-terminated, empty, or starting with '@'. */
	static const char open_end[] = {'a', 'd', 'd', '@', '/', 'x'};
	CHECK(uevent_parse(open_end, sizeof(open_end), &ev) == -EINVAL);
	CHECK(uevent_parse("", 0, &ev) == -EINVAL);
	static const char at[] = "@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0";
	CHECK(uevent_parse(at, sizeof(at), &ev) == -EINVAL);
}

TEST(modalias_names_disks)
{
	/* QEMU's virtio-blk-pci (class 0x0100), modern virtio-blk (1042), AHCI (0x0106),
	 * NVMe (0x0108): storage controllers; the virtio devices block (2) and SCSI (8); Xen's
	 * block devices. */
	CHECK_EACH(modalias_names_disks, "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
	           "pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00",
	           "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01",
	           "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02",
	           "virtio:d00000002v00001AF4", "virtio:d00000008v00001AF4", "xen:vbd");
	/* virtio-net-pci (0x0200), a VGA card, a USB host controller (0x0c03); IDs with the
	 * digits B and C (upper case) and 01 after them are not a class. The virtio network
	 * (1) and balloon (5) devices, Xen's network; USB storage and SCSI disks, which bind
	 * in the background in the kernel itself. */
	CHECK_NONE(modalias_names_disks, "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
	           "pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00",
	           "pci:v00008086d00002934sv00001AF4sd00001100bc0Csc03i00",
	           "pci:v0000BC01d0000BC01sv0000BC01sd0000BC01bc02sc00i00",
	           "virtio:d00000001v00001AF4", "virtio:d00000005v00001AF4",
	           "virtio:d00000020v00001AF4", "xen:vif",
	           "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00", "scsi:t-0x00", "");
}

TEST(modalias_disk_lane)
{
	/* virtio's PCI transport for a disk and the virtio disks: one lane; AHCI another, so
	 * that a slow AHCI holds up no virtio disk; NVMe (nvmeXnY, never sdX) and Xen each
	 * their own. */
	CHECK(modalias_disk_lane("pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00") ==
	      DISK_LANE_VIRTIO);
	CHECK(modalias_disk_lane("pci:v00001AF4d00001048sv00001AF4sd00001100bc01sc00i00") ==
	      DISK_LANE_VIRTIO);
	CHECK(modalias_disk_lane("virtio:d00000002v00001AF4") == DISK_LANE_VIRTIO);
	CHECK(modalias_disk_lane("virtio:d00000008v00001AF4") == DISK_LANE_VIRTIO);
	CHECK(modalias_disk_lane("pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01") ==
	      DISK_LANE_PCI);
	CHECK(modalias_disk_lane("pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02") ==
	      DISK_LANE_NVME);
	/* A SAS HBA (subclass 07) and a RAID controller (04) name sdX as AHCI does. */
	CHECK(modalias_disk_lane("pci:v00001000d00000097sv00001000sd00003090bc01sc07i00") ==
	      DISK_LANE_PCI);
	CHECK(modalias_disk_lane("pci:v00001000d0000005Dsv00001000sd00009361bc01sc04i00") ==
	      DISK_LANE_PCI);
	CHECK(modalias_disk_lane("xen:vbd") == DISK_LANE_XEN);
	/* virtio's network card is no disk, whatever its vendor. */
	CHECK(modalias_disk_lane("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00") ==
	      DISK_LANE_NONE);
}

TEST(modalias_reveals_disks)
{
	/* Beside the disk-naming drivers: SCSI disks and CD drives (sd, sr), USB mass storage
	 * (a SanDisk stick's interface, class 08), SD cards, and the USB and SD host
	 * controllers they are behind. */
	CHECK_EACH(modalias_reveals_disks, "virtio:d00000002v00001AF4",
	           "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", "scsi:t-0x00",
	           "scsi:t-0x05", "scsi:t-0x0e",
	           "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00", "mmc:block",
	           "pci:v00008086d00002934sv00001AF4sd00001100bc0Csc03i00",
	           "pci:v00001B36d00000007sv00001AF4sd00001100bc08sc05i01");
	/* A USB keyboard (class 03), a SCSI enclosure (0d), a network card, a VGA card:
	 * they make no disk appear. */
	CHECK_NONE(modalias_reveals_disks, "usb:v046DpC31Cd6400dc00dsc00dp00ic03isc01ip01in00",
	           "scsi:t-0x0d", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
	           "pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00", "");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* A device directory under SYS/bus/BUS/devices with its modalias (none when NULL). */
static void sys_device(const char *sys, const char *bus, const char *name, const char *alias)
{
	_cleanup_free_ char *dir = xasprintf("%s/bus/%s/devices/%s", sys, bus, name);
	CHECK(mkdir_p(dir, 0755) == 0);
	if (alias) {
		_cleanup_free_ char *f = xasprintf("%s/modalias", dir);
		_cleanup_free_ char *line = xasprintf("%s\n", alias); /* as sysfs has it */
		CHECK(write_file_atomic(f, line, strlen(line), 0444) == 0);
	}
}

#define VIRTIO_BLK_PCI "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"
#define VIRTIO_NET_PCI "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"
#define AHCI_PCI       "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"
#define NVME_PCI       "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02"

TEST(disk_lane_devices)
{
	char sys[] = "/tmp/test-uevent.XXXXXX";
	CHECK(mkdtemp(sys) != NULL);
	/* No buses at all (no sysfs): nothing to count. */
	CHECK(disk_lane_devices(sys, DISK_LANE_VIRTIO) == 0);

	/* QEMU's q35 with one virtio disk and a virtio network card: the disk's PCI function
	 * and the virtio disk it becomes are one device; AHCI is the PCI lane's only one. */
	sys_device(sys, "pci", "0000:00:01.0", VIRTIO_BLK_PCI);
	sys_device(sys, "pci", "0000:00:02.0", VIRTIO_NET_PCI);
	sys_device(sys, "pci", "0000:00:1f.2", AHCI_PCI);
	sys_device(sys, "pci", "0000:00:00.0", NULL); /* no modalias: not counted */
	CHECK(disk_lane_devices(sys, DISK_LANE_VIRTIO) == 1);
	sys_device(sys, "virtio", "virtio0", "virtio:d00000002v00001AF4");
	sys_device(sys, "virtio", "virtio1", "virtio:d00000001v00001AF4");
	CHECK(disk_lane_devices(sys, DISK_LANE_VIRTIO) == 1);
	CHECK(disk_lane_devices(sys, DISK_LANE_PCI) == 1);
	CHECK(disk_lane_devices(sys, DISK_LANE_XEN) == 0);

	/* A second virtio disk: its PCI function counts before virtio_pci has made it a
	 * virtio device, so virtio_pci binds the two in bus order. An NVMe drive beside AHCI
	 * is alone in its lane, and AHCI in its own; a second NVMe drive makes two. */
	sys_device(sys, "pci", "0000:00:03.0", VIRTIO_BLK_PCI);
	CHECK(disk_lane_devices(sys, DISK_LANE_VIRTIO) == 2);
	sys_device(sys, "virtio", "virtio2", "virtio:d00000002v00001AF4");
	CHECK(disk_lane_devices(sys, DISK_LANE_VIRTIO) == 2);
	sys_device(sys, "pci", "0000:00:04.0", NVME_PCI);
	CHECK(disk_lane_devices(sys, DISK_LANE_PCI) == 1);
	CHECK(disk_lane_devices(sys, DISK_LANE_NVME) == 1);
	sys_device(sys, "pci", "0000:00:05.0", NVME_PCI);
	CHECK(disk_lane_devices(sys, DISK_LANE_NVME) == 2);
	CHECK(disk_lane_devices(sys, DISK_LANE_PCI) == 1);

	/* Xen's virtual disks, on their own bus. */
	sys_device(sys, "xen", "vbd-51712", "xen:vbd");
	CHECK(disk_lane_devices(sys, DISK_LANE_XEN) == 1);

	CHECK(nftw(sys, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

struct seen {
	char got[8][80];
	int n;
};

static void remember(const char *bus, const char *modalias, void *userdata)
{
	struct seen *s = userdata;
	if (s->n < 8)
		snprintf(s->got[s->n++], sizeof(s->got[0]), "%s %s", bus, modalias);
}

static bool seen_has(const struct seen *s, const char *what)
{
	for (int i = 0; i < s->n; i++)
		if (streq(s->got[i], what))
			return true;
	return false;
}

TEST(sysfs_modaliases)
{
	char sys[] = "/tmp/test-uevent.XXXXXX";
	CHECK(mkdtemp(sys) != NULL);
	struct seen s = {0};
	/* No sysfs: an error for the walk of every bus, nothing for one bus. */
	CHECK(sysfs_modaliases(sys, NULL, remember, &s) == -ENOENT);
	CHECK(sysfs_modaliases(sys, "pci", remember, &s) == 0 && s.n == 0);

	/* Each device with a modalias, once, without its newline; none for a device without
	 * one or with an empty one (a PCI bridge's port). */
	sys_device(sys, "pci", "0000:00:01.0", VIRTIO_BLK_PCI);
	sys_device(sys, "pci", "0000:00:00.0", NULL);
	sys_device(sys, "pci", "0000:00:1c.0", "");
	sys_device(sys, "virtio", "virtio0", "virtio:d00000002v00001AF4");
	sys_device(sys, "xen", "vbd-51712", "xen:vbd");
	CHECK(sysfs_modaliases(sys, NULL, remember, &s) == 3 && s.n == 3);
	CHECK(seen_has(&s, "pci " VIRTIO_BLK_PCI));
	CHECK(seen_has(&s, "virtio virtio:d00000002v00001AF4"));
	CHECK(seen_has(&s, "xen xen:vbd"));
	s = (struct seen){0};
	CHECK(sysfs_modaliases(sys, "virtio", remember, &s) == 1 && s.n == 1);
	CHECK(seen_has(&s, "virtio virtio:d00000002v00001AF4"));

	CHECK(nftw(sys, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}
