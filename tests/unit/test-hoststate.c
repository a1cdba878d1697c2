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

/* ---- FAT: the boot sector's dirty bit and FAT[1]'s flags ------------------------------- */

enum fat_kind { FAT12, FAT16, FAT32 };

struct fat_case {
	const char *name;
	enum fat_kind kind;
	unsigned at;         /* byte of the boot sector to OR with set (0: none) */
	unsigned char set;   /* bits set there */
	uint32_t fat1;       /* FAT[1] (0: mkfs.fat's, all flags clean) */
	enum hoststate want; /* the state */
	const char *why;     /* a part of the reason, NULL when clean */
	const char *todo;    /* a part of the advice, NULL when clean */
};

static const struct fat_case fat_cases[] = {
    {"fat16 clean", FAT16, 0, 0, 0, HOSTSTATE_CLEAN, NULL, NULL},
    {"fat16 boot sector dirty (0x25)", FAT16, 0x25, 0x01, 0, HOSTSTATE_DIRTY, "boot sector",
     "fsck.fat -a DEVICE"},
    {"fat16 boot sector: bit 1 only is not dirty", FAT16, 0x25, 0x02, 0, HOSTSTATE_CLEAN, NULL,
     NULL},
    {"fat16 bit 0 at FAT32's 0x41 is not dirty", FAT16, 0x41, 0x01, 0, HOSTSTATE_CLEAN, NULL, NULL},
    {"fat16 FAT[1] not clean", FAT16, 0, 0, 0x7fff, HOSTSTATE_DIRTY, "not unmounted cleanly",
     "fsck.fat -a DEVICE"},
    {"fat16 FAT[1] disk error", FAT16, 0, 0, 0xbfff, HOSTSTATE_DIRTY, "disk I/O errors",
     "chkdsk /f"},
    {"fat16 both dirty", FAT16, 0x25, 0x01, 0x7fff, HOSTSTATE_DIRTY, "boot sector",
     "fsck.fat -a DEVICE"},
    {"fat32 clean", FAT32, 0, 0, 0, HOSTSTATE_CLEAN, NULL, NULL},
    {"fat32 boot sector dirty (0x41)", FAT32, 0x41, 0x01, 0, HOSTSTATE_DIRTY, "boot sector",
     "fsck.fat -a DEVICE"},
    {"fat32 bit 0 at FAT16's 0x25 is not dirty", FAT32, 0x25, 0x01, 0, HOSTSTATE_CLEAN, NULL, NULL},
    {"fat32 FAT[1] not clean", FAT32, 0, 0, 0x07ffffff, HOSTSTATE_DIRTY, "not unmounted cleanly",
     "fsck.fat -a DEVICE"},
    {"fat32 FAT[1] disk error", FAT32, 0, 0, 0x0bffffff, HOSTSTATE_DIRTY, "disk I/O errors",
     "chkdsk /f"},
    {"fat12 clean", FAT12, 0, 0, 0, HOSTSTATE_CLEAN, NULL, NULL},
    {"fat12 boot sector dirty (0x25)", FAT12, 0x25, 0x01, 0, HOSTSTATE_DIRTY, "boot sector",
     "fsck.fat -a DEVICE"},
};

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v), put16(p + 2, (uint16_t)(v >> 16));
}

/* A boot sector as mkfs.fat lays it out (geometry only), and the first FAT's start. */
static void check_fat_case(const void *row)
{
	const struct fat_case *c = row;
	/* sectors per cluster, reserved, root entries, sectors per FAT, clusters */
	static const struct {
		unsigned spc, reserved, root, fat, clusters;
	} geo[] = {
	    [FAT12] = {1, 1, 224, 6, 2000},
	    [FAT16] = {4, 4, 512, 79, 20000},
	    [FAT32] = {1, 32, 0, 547, 70000},
	};
	unsigned spc = geo[c->kind].spc, reserved = geo[c->kind].reserved;
	unsigned root = geo[c->kind].root, fat = geo[c->kind].fat;
	uint32_t total = reserved + 2 * fat + root * 32 / 512 + geo[c->kind].clusters * spc;
	unsigned char head[32 * 512 + 512] = {0};
	unsigned char *bs = head;
	bs[0] = 0xeb, bs[1] = 0x3c, bs[2] = 0x90;
	memcpy(bs + 3, "mkfs.fat", 8);
	put16(bs + 0x0b, 512);
	bs[0x0d] = (unsigned char)spc;
	put16(bs + 0x0e, (uint16_t)reserved);
	bs[0x10] = 2;
	put16(bs + 0x11, (uint16_t)root);
	bs[0x15] = 0xf8;
	if (c->kind == FAT32) {
		put32(bs + 0x20, total);
		put32(bs + 0x24, fat);
		bs[0x42] = 0x29;
	} else {
		if (total < 65536)
			put16(bs + 0x13, (uint16_t)total);
		else
			put32(bs + 0x20, total);
		put16(bs + 0x16, (uint16_t)fat);
		bs[0x26] = 0x29;
	}
	bs[510] = 0x55, bs[511] = 0xaa;
	if (c->at)
		bs[c->at] |= c->set;
	unsigned char *f = head + reserved * 512;
	switch (c->kind) {
	case FAT12:
		f[0] = 0xf8, f[1] = 0xff, f[2] = 0xff;
		break;
	case FAT16:
		put16(f, 0xfff8), put16(f + 2, c->fat1 ? (uint16_t)c->fat1 : 0xffff);
		break;
	case FAT32:
		put32(f, 0x0ffffff8), put32(f + 4, c->fat1 ? c->fat1 : 0x0fffffff);
		break;
	}
	int fd = temp_file(head, sizeof(head), 0, (off_t)total * 512);
	CHECK(fd >= 0);
	struct hoststate_result r;
	CHECK(check_fd(fd, "vfat", &r) == 0);
	CHECK(r.state == c->want);
	if (c->want == HOSTSTATE_CLEAN) {
		CHECK(!r.why && !r.todo);
	} else {
		CHECK(r.why && strstr(r.why, c->why));
		CHECK(r.todo && strstr(r.todo, c->todo));
		CHECK(r.todo && strstr(r.todo, "loopboot.hibernated=ro"));
	}
	/* msdos is the same on-disk format. */
	enum hoststate first = r.state;
	CHECK(check_fd(fd, "msdos", &r) == 0);
	CHECK(r.state == first);
	close(fd);
}
TEST_TABLE(check_fat_case, fat_cases);
