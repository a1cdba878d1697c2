/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel's uevent messages as the engine reads them from NETLINK_KOBJECT_UEVENT. */
#include <errno.h>
#include <string.h>

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

	/* A block device: no MODALIAS. */
	static const char blk[] = "add@/devices/virtual/block/loop0\0ACTION=add\0"
	                          "DEVPATH=/devices/virtual/block/loop0\0SUBSYSTEM=block\0";
	CHECK(uevent_parse(blk, sizeof(blk), &ev) == 0);
	CHECK(ev.modalias == NULL);
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
