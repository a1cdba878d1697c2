/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/copy.h"
#include "basic/util.h"
#include "initrd/hostonly.h"
#include "test-main.h"

static void put_file(const char *root, const char *rel, const char *content)
{
	_cleanup_free_ char *p = path_join(root, rel);
	_cleanup_free_ char *parent = xstrdup(p);
	*strrchr(parent, '/') = '\0';
	CHECK(mkdir_p(parent, 0755) == 0);
	CHECK(write_file_atomic(p, content, strlen(content), 0644) == 0);
}

static void put_link(const char *root, const char *rel, const char *target)
{
	_cleanup_free_ char *p = path_join(root, rel);
	_cleanup_free_ char *parent = xstrdup(p);
	*strrchr(parent, '/') = '\0';
	CHECK(mkdir_p(parent, 0755) == 0);
	CHECK(symlink(target, p) == 0);
}

#define SATA "devices/pci0000:00/0000:00:1f.2"
#define DISK SATA "/ata1/host0/target0:0:0/0:0:0:0"

/*
 * A fake /sys: a SATA disk (ahci, bound, with a module link) holding sda1, whose SCSI disk
 * is bound to "sd" (module sd_mod); a loop device with a backing file; dm-0 on sda1.
 */
static char *make_sysfs(void)
{
	char tmpl[] = "/tmp/test-hostonly.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	char *root = xstrdup(tmpl);
	_cleanup_free_ char *sys = path_join(root, "sys");
	put_file(sys, DISK "/block/sda/sda1/partition", "1\n");
	put_file(sys, DISK "/block/sda/sda1/dev", "8:1\n");
	put_file(sys, DISK "/modalias", "scsi:t-0x00\n");
	put_link(sys, DISK "/driver", "../../../../../../../bus/scsi/drivers/sd");
	put_link(sys, "bus/scsi/drivers/sd/module", "../../../../module/sd_mod");
	put_file(sys, SATA "/modalias", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01\n");
	put_link(sys, SATA "/driver", "../../../bus/pci/drivers/ahci");
	put_link(sys, "bus/pci/drivers/ahci/module", "../../../../module/ahci");
	put_link(sys, "dev/block/8:1", "../../" DISK "/block/sda/sda1");

	put_file(sys, "devices/virtual/block/loop0/loop/backing_file", "/host/images/root.img\n");
	put_link(sys, "dev/block/7:0", "../../devices/virtual/block/loop0");

	put_link(sys, "devices/virtual/block/dm-0/slaves/sda1",
	         "../../../../../" DISK "/block/sda/sda1");
	put_link(sys, "dev/block/254:0", "../../devices/virtual/block/dm-0");
	return root;
}

TEST(block_device_drivers)
{
	_cleanup_free_ char *root = make_sysfs();
	_cleanup_free_ char *sys = path_join(root, "sys");
	struct hostonly h = {0};
	char *backing = (char *)"unset";
	hostonly_add_block_device(&h, sys, 8, 1, "the host", &backing);
	CHECK(backing == NULL);
	CHECK(strv_contains(&h.modules, "sd_mod"));
	CHECK(strv_contains(&h.modules, "ahci"));
	CHECK(strv_contains(&h.modules, "scsi:t-0x00"));
	CHECK(strv_contains(&h.modules, "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"));
	CHECK(!strv_contains(&h.modules, "loop"));
	CHECK(h.modules.n == h.reasons.n);
	CHECK(h.reasons.n > 0 && strstr(h.reasons.v[0], "the host") != NULL);
	hostonly_done(&h);

	/* A loop device: "loop", and its backing file for the caller to follow. */
	hostonly_add_block_device(&h, sys, 7, 0, "the root", &backing);
	CHECK_STREQ(backing, "/host/images/root.img");
	CHECK(strv_contains(&h.modules, "loop"));
	free(backing);
	hostonly_done(&h);

	/* Device mapper: dm_mod and what is below it. */
	hostonly_add_block_device(&h, sys, 254, 0, "the root", NULL);
	CHECK(strv_contains(&h.modules, "dm_mod"));
	CHECK(strv_contains(&h.modules, "ahci"));
	CHECK(strv_contains(&h.modules, "sd_mod"));
	hostonly_done(&h);

	/* Not in sysfs at all: nothing, no crash. */
	hostonly_add_block_device(&h, sys, 99, 99, "x", NULL);
	CHECK(h.modules.n == 0);
	hostonly_done(&h);
	CHECK(rm_rf(root) == 0);
}

TEST(fstypes)
{
	struct hostonly h = {0};
	hostonly_add_fstype(&h, "ext4", "root");
	hostonly_add_fstype(&h, "vfat", "host");
	hostonly_add_fstype(&h, "fuseblk", "host");
	hostonly_add_fstype(&h, "ext4", "again");
	CHECK(strv_contains(&h.modules, "fs-ext4"));
	CHECK(strv_contains(&h.modules, "fs-vfat"));
	CHECK(strv_contains(&h.modules, "nls_cp437"));
	CHECK(strv_contains(&h.modules, "nls_utf8"));
	CHECK(strv_contains(&h.modules, "fuse"));
	CHECK(!strv_contains(&h.modules, "fs-fuseblk"));
	size_t n = 0;
	for (size_t i = 0; i < h.modules.n; i++)
		n += streq(h.modules.v[i], "fs-ext4");
	CHECK(n == 1);
	hostonly_done(&h);
}

TEST(from_state_record)
{
	_cleanup_free_ char *root = make_sysfs();
	_cleanup_free_ char *sys = path_join(root, "sys");
	put_file(root, "state",
	         "host spec=UUID=1234 source=/dev/sda1 type=ntfs driver=ntfs-3g target=/host "
	         "ro=0 fuse=1 pid=123\n"
	         "loop device=/dev/loop0 file=/run/loopboot/host/root.img parent=/host ro=0 dio=1\n"
	         "mount role=root source=/dev/loop0 target=/ type=ext4 image=/root.img ro=0\n"
	         "mount role=mount source=/dev/loop1 target=/home type=btrfs image=/home.img "
	         "ro=0\n");
	_cleanup_free_ char *state = path_join(root, "state");
	struct hostonly h;
	/* dev_root points where no device nodes are: the block device part is skipped. */
	CHECK(hostonly_detect(&h, state, "/nonexistent", sys, root) == 0);
	CHECK(strv_contains(&h.modules, "loop"));
	CHECK(strv_contains(&h.modules, "fuse"));
	CHECK(strv_contains(&h.modules, "fs-ext4"));
	CHECK(strv_contains(&h.modules, "fs-btrfs"));
	CHECK(!strv_contains(&h.modules, "fs-ntfs"));
	CHECK(h.programs.n == 1 && streq(h.programs.v[0], "ntfs-3g"));
	CHECK(h.source && strstr(h.source, "state"));
	hostonly_done(&h);

	/* A host through the kernel's ntfs3: the module, no FUSE. */
	put_file(root, "state2",
	         "host source=/dev/sda1 type=ntfs driver=ntfs3 target=/host fuse=0\n");
	_cleanup_free_ char *state2 = path_join(root, "state2");
	CHECK(hostonly_detect(&h, state2, "/nonexistent", sys, root) == 0);
	CHECK(strv_contains(&h.modules, "fs-ntfs3"));
	CHECK(!strv_contains(&h.modules, "fuse"));
	CHECK(h.programs.n == 0);
	CHECK(!h.bitlocker);
	hostonly_done(&h);

	/* A BitLocker host: the crypt record below the host brings dm-crypt, dm-zero, the
	 * ciphers and the flag for libcryptsetup. */
	put_file(root, "state3",
	         "version 1\n"
	         "crypt device=/dev/dm-0 name=loopboot-bitlocker volume=/dev/sda3 type=BITLK "
	         "key=console ro=0\n"
	         "host source=/dev/dm-0 type=ntfs driver=ntfs-3g target=/host fuse=1\n");
	_cleanup_free_ char *state3 = path_join(root, "state3");
	CHECK(hostonly_detect(&h, state3, "/nonexistent", sys, root) == 0);
	CHECK(h.bitlocker);
	CHECK(strv_contains(&h.modules, "dm_crypt"));
	CHECK(strv_contains(&h.modules, "dm_zero"));
	CHECK(strv_contains(&h.modules, "crypto-xts"));
	CHECK(h.programs.n == 1 && streq(h.programs.v[0], "ntfs-3g"));
	hostonly_done(&h);
	CHECK(rm_rf(root) == 0);
}

TEST(from_mountinfo)
{
	_cleanup_free_ char *root = make_sysfs();
	_cleanup_free_ char *sys = path_join(root, "sys");
	_cleanup_free_ char *state = path_join(root, "no-state");
	/* The root on loop0 (7:0), whose file is on the SATA partition (8:1), NTFS via
	 * ntfs-3g (fuseblk); a mount point with an escaped space. */
	put_file(root, "mountinfo",
	         "20 1 0:5 / /proc rw - proc proc rw\n"
	         "25 1 7:0 / / rw,relatime - ext4 /dev/nonexistent-loop0 rw\n"
	         "30 25 8:1 / /host rw - fuseblk /dev/nonexistent-sda1 rw,user_id=0\n"
	         "31 25 0:40 / /with\\040space rw - tmpfs tmpfs rw\n");
	_cleanup_free_ char *mi = path_join(root, "mountinfo");
	struct hostonly h;
	CHECK(hostonly_detect(&h, state, mi, sys, "") == 0);
	CHECK(h.source && strstr(h.source, "mount"));
	CHECK(strv_contains(&h.modules, "fs-ext4"));
	CHECK(strv_contains(&h.modules, "loop"));
	/* the host of the loop file: /host/images/root.img is below /host */
	CHECK(strv_contains(&h.modules, "fuse"));
	CHECK(strv_contains(&h.modules, "ahci"));
	CHECK(strv_contains(&h.modules, "sd_mod"));
	hostonly_done(&h);

	CHECK(hostonly_detect(&h, state, "/nonexistent/mountinfo", sys, "") == -ENOENT);
	hostonly_done(&h);
	CHECK(rm_rf(root) == 0);
}
