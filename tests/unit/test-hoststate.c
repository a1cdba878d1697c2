/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host state and image size checks on hand-made on-disk structures. */
#include <fcntl.h>
#include <stdint.h>

#include "basic/util.h"
#include "engine/hoststate.h"
#include "test-main.h"

static int temp_file(const void *data, size_t len, off_t at, off_t size)
{
	char path[] = "/tmp/lb-hoststate-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, size) < 0 || pwrite(fd, data, len, at) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

/* hoststate_check_device() on the file behind fd, as the device it takes a path of. */
static int check_fd(int fd, const char *fstype, struct hoststate_result *r)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return hoststate_check_device(path, fstype, r);
}

TEST(hiberfil_signatures)
{
	CHECK(hoststate_hiberfil_signature((const unsigned char *)"hibr....", 8));
	CHECK(hoststate_hiberfil_signature((const unsigned char *)"HIBR", 4));
	CHECK(!hoststate_hiberfil_signature((const unsigned char *)"wake", 4));
	CHECK(!hoststate_hiberfil_signature((const unsigned char *)"\0\0\0\0", 4));
	CHECK(!hoststate_hiberfil_signature((const unsigned char *)"hib", 3));
}

TEST(ext4_size_from_superblock)
{
	unsigned char sb[1024] = {0};
	sb[0x38] = 0x53, sb[0x39] = 0xef; /* magic */
	sb[0x04] = 0x00, sb[0x05] = 0x20; /* 8192 blocks */
	sb[0x18] = 2;                     /* 4096-byte blocks */
	int fd = temp_file(sb, sizeof(sb), 1024, 4096);
	CHECK(fd >= 0);
	uint64_t size = 0;
	CHECK(image_fs_size(fd, "ext4", &size) == 0);
	CHECK(size == 8192ULL * 4096);
	CHECK(image_fs_size(fd, "vfat", &size) == -EOPNOTSUPP);
	sb[0x18] = 40; /* absurd block size */
	CHECK(pwrite(fd, sb, sizeof(sb), 1024) == (ssize_t)sizeof(sb));
	CHECK(image_fs_size(fd, "ext4", &size) == -EBADMSG);
	close(fd);
}

TEST(short_file_is_an_error_not_a_crash)
{
	int fd = temp_file("x", 1, 0, 100);
	CHECK(fd >= 0);
	uint64_t size;
	CHECK(image_fs_size(fd, "ext4", &size) < 0);
	CHECK(image_fs_size(fd, "xfs", &size) < 0);
	close(fd);
}

TEST(exfat_dirty_flag)
{
	unsigned char bs[512] = {0};
	memcpy(bs + 3, "EXFAT   ", 8);
	int fd = temp_file(bs, sizeof(bs), 0, 65536);
	CHECK(fd >= 0);
	struct hoststate_result r;
	CHECK(check_fd(fd, "exfat", &r) == 0);
	CHECK(r.state == HOSTSTATE_CLEAN);
	bs[106] = 0x02;
	CHECK(pwrite(fd, bs, sizeof(bs), 0) == (ssize_t)sizeof(bs));
	CHECK(check_fd(fd, "exfat", &r) == 0);
	CHECK(r.state == HOSTSTATE_DIRTY && r.why && r.todo);
	CHECK(check_fd(fd, "btrfs", &r) == 0);
	CHECK(r.state == HOSTSTATE_CLEAN);
	close(fd);
}

TEST(garbage_ntfs_is_not_a_crash)
{
	unsigned char bs[512];
	memset(bs, 0xa5, sizeof(bs));
	memcpy(bs + 3, "NTFS    ", 8);
	int fd = temp_file(bs, sizeof(bs), 0, 1 << 20);
	CHECK(fd >= 0);
	struct hoststate_result r;
	CHECK(check_fd(fd, "ntfs", &r) == 0);
	CHECK(r.state == HOSTSTATE_CLEAN);
	close(fd);
}
