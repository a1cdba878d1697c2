/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/hoststate.h"

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <strings.h>

#include "basic/util.h"

/* Windows' unwritten changes are its own: only Windows applies them. ntfsfix, with or without
 * -d, empties $LogFile when libntfs-3g refuses the volume (an unclean journal, hibernation),
 * and so throws them away; on a hibernated volume it then fails, leaving it marked dirty. */
static const char WINDOWS_TODO[] =
    "start Windows and shut it down fully (shutdown /s /t 0, or turn Fast Startup off), or "
    "boot with loopboot.hibernated=ro for a read-only session; do not run ntfsfix on it (it "
    "empties the journal: what Windows has not written back is lost)";

/* Plain ntfsfix sets the dirty flag (to have Windows check the volume): only chkdsk and
 * ntfsfix -d clear it. */
static const char NTFS_DIRTY_TODO[] =
    "let Windows check the drive (chkdsk /f X: in an administrator's prompt), then boot "
    "again; without Windows, ntfsfix -d DEVICE (ntfs-3g) from Linux clears the flag but "
    "repairs nothing: only when Windows cannot be booted; or boot with loopboot.hibernated=ro "
    "for a read-only session";

/* fsck.fat -a clears both the FAT[1] clean bit and the boot sector's dirty bit. */
static const char FAT_TODO[] =
    "run fsck.fat -a DEVICE (dosfstools; DEVICE: the partition or disk holding it) from "
    "another Linux system, or let Windows check the drive (chkdsk /f X:), then boot again; "
    "or boot with loopboot.hibernated=ro for a read-only session";

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}
static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	return read_exactly(fd, buf, len, (int64_t)off);
}

static void set(struct hoststate_result *r, enum hoststate s, const char *why, const char *todo)
{
	r->state = s;
	r->why = why;
	r->todo = todo;
}

/* ---- NTFS ------------------------------------------------------------------------------ */

struct ntfs_geometry {
	uint32_t cluster_size;
	uint32_t record_size;
	uint64_t mft_offset;
};

static bool ntfs_geometry(const unsigned char *bs, struct ntfs_geometry *g)
{
	if (memcmp(bs + 3, "NTFS    ", 8) != 0)
		return false;
	uint32_t sector = le16(bs + 0x0b);
	uint8_t spc = bs[0x0d];
	if (sector < 256 || sector > 4096 || (sector & (sector - 1)))
		return false;
	/* Values above 0x80 are a negative power of two (large clusters). */
	uint64_t cluster = spc <= 0x80 ? (uint64_t)sector * spc : 1ULL << (256 - spc);
	if (cluster == 0 || cluster > (2u << 20))
		return false;
	int8_t cpr = (int8_t)bs[0x40];
	uint64_t record = cpr > 0 ? cluster * (uint64_t)cpr : 1ULL << -cpr;
	if (cpr == 0 || -cpr > 16 || record < 256 || record > 65536)
		return false;
	uint64_t lcn = le64(bs + 0x30);
	if (lcn > UINT64_MAX / cluster)
		return false;
	g->cluster_size = (uint32_t)cluster;
	g->record_size = (uint32_t)record;
	g->mft_offset = lcn * cluster;
	return true;
}

/* Applies the update sequence ("fixups") of a multi-sector record in place. */
static bool ntfs_fixup(unsigned char *rec, uint32_t size)
{
	uint16_t ofs = le16(rec + 4), count = le16(rec + 6);
	if (count == 0 || (uint32_t)(count - 1) * 512 > size || ofs + 2u * count > size)
		return false;
	const unsigned char *usa = rec + ofs;
	for (uint16_t i = 1; i < count; i++) {
		unsigned char *end = rec + (uint32_t)i * 512 - 2;
		if (memcmp(end, usa, 2) != 0)
			return false; /* torn write */
		memcpy(end, usa + 2 * i, 2);
	}
	return true;
}

/* Finds attribute type in an MFT record; returns its offset or 0. */
static uint32_t ntfs_find_attr(const unsigned char *rec, uint32_t size, uint32_t type)
{
	uint32_t off = le16(rec + 0x14);
	while (off + 16 <= size) {
		uint32_t t = le32(rec + off), len = le32(rec + off + 4);
		if (t == 0xffffffff || len < 16 || off + len > size)
			return 0;
		if (t == type)
			return off;
		off += len;
	}
	return 0;
}

/* MFT record n (fixed up) into buf, and the offset of its attribute type, which must be
 * resident (its value in the record) or not, as asked. */
static int ntfs_record_attr(int fd, const struct ntfs_geometry *g, unsigned n, uint32_t type,
                            bool resident, unsigned char *buf, uint32_t *ret_at)
{
	int r = read_at(fd, buf, g->record_size, g->mft_offset + (uint64_t)n * g->record_size);
	if (r < 0)
		return r;
	if (memcmp(buf, "FILE", 4) != 0 || !ntfs_fixup(buf, g->record_size))
		return -EBADMSG;
	uint32_t a = ntfs_find_attr(buf, g->record_size, type);
	if (!a || buf[a + 8] != (resident ? 0 : 1))
		return -EBADMSG;
	*ret_at = a;
	return 0;
}

/* $Volume (record 3): VOLUME_INFORMATION (0x70) flags, bit 0 = dirty. */
static int ntfs_volume_dirty(int fd, const struct ntfs_geometry *g, bool *dirty)
{
	_cleanup_free_ unsigned char *rec = xmalloc(g->record_size);
	uint32_t a;
	int r = ntfs_record_attr(fd, g, 3, 0x70, true, rec, &a);
	if (r < 0)
		return r;
	uint32_t vlen = le32(rec + a + 0x10);
	uint16_t voff = le16(rec + a + 0x14);
	if (vlen < 12 || a + voff + 12u > g->record_size)
		return -EBADMSG;
	*dirty = le16(rec + a + voff + 10) & 0x0001;
	return 0;
}

/* $LogFile (record 2): the restart area at the start of its data says whether the log
 * still has to be replayed. Unclean: a client has the log open and the area is not marked
 * RESTART_VOLUME_IS_CLEAN (Windows' own criterion, as ntfs-3g reads it too). */
static int ntfs_log_unclean(int fd, const struct ntfs_geometry *g, bool *unclean)
{
	_cleanup_free_ unsigned char *rec = xmalloc(g->record_size);
	uint32_t a; /* $LogFile's data is always non-resident */
	int r = ntfs_record_attr(fd, g, 2, 0x80, false, rec, &a);
	if (r < 0)
		return r;
	uint16_t mp = le16(rec + a + 0x20);
	uint32_t alen = le32(rec + a + 4);
	if (mp >= alen)
		return -EBADMSG;
	/* The first run of the mapping pairs gives the first cluster. */
	const unsigned char *run = rec + a + mp;
	unsigned lbytes = run[0] & 0x0f, obytes = run[0] >> 4;
	if (!lbytes || !obytes || obytes > 8 || mp + 1u + lbytes + obytes > alen)
		return -EBADMSG;
	int64_t lcn = 0;
	for (unsigned i = 0; i < obytes; i++)
		lcn |= (int64_t)run[1 + lbytes + i] << (8 * i);
	if (run[lbytes + obytes] & 0x80) /* sign-extend */
		for (unsigned i = obytes; i < 8; i++)
			lcn |= (int64_t)0xff << (8 * i);
	if (lcn <= 0)
		return -EBADMSG;

	unsigned char page[4096];
	r = read_at(fd, page, sizeof(page), (uint64_t)lcn * g->cluster_size);
	if (r < 0)
		return r;
	bool all_ff = true;
	for (size_t i = 0; i < 512 && all_ff; i++)
		all_ff = page[i] == 0xff;
	if (all_ff) { /* emptied by chkdsk or ntfsfix: nothing to replay */
		*unclean = false;
		return 0;
	}
	if (memcmp(page, "RSTR", 4) != 0 && memcmp(page, "CHKD", 4) != 0)
		return -EBADMSG;
	uint16_t ra = le16(page + 0x18);
	if (ra < 0x1e || ra + 16u > sizeof(page))
		return -EBADMSG;
	uint16_t in_use = le16(page + ra + 12), flags = le16(page + ra + 14);
	*unclean = in_use != 0xffff && !(flags & 0x0002);
	return 0;
}

static int check_ntfs(int fd, const unsigned char *bs, struct hoststate_result *ret)
{
	struct ntfs_geometry g;
	if (!ntfs_geometry(bs, &g))
		return 0;
	bool flag = false;
	if (ntfs_log_unclean(fd, &g, &flag) == 0 && flag) {
		set(ret, HOSTSTATE_LOG_UNCLEAN,
		    "the NTFS journal ($LogFile) holds changes Windows has not written back "
		    "(Windows hibernated, Fast Startup, or a crash)",
		    WINDOWS_TODO);
		return 0;
	}
	if (ntfs_volume_dirty(fd, &g, &flag) == 0 && flag)
		set(ret, HOSTSTATE_DIRTY, "the NTFS volume is marked dirty (not unmounted cleanly)",
		    NTFS_DIRTY_TODO);
	return 0;
}

/* ---- FAT and exFAT ------------------------------------------------------------------- */

/* Linux's vfat keeps a "dirty" bit in the boot sector: bit 0 of BS_Reserved1 (DOS's
 * "current head"), at 0x25 in the FAT12/16 layout and 0x41 in FAT32's (BPB_FATSz16 = 0, as
 * Linux and fsck.fat tell them apart). It is set by a read-write mount and cleared by a
 * clean unmount or read-only remount, unless it was already set at mount time. */
static bool fat_boot_dirty(const unsigned char *bs)
{
	return bs[le16(bs + 0x16) ? 0x25 : 0x41] & 0x01;
}

static int check_fat(int fd, const unsigned char *bs, struct hoststate_result *ret)
{
	uint16_t sector = le16(bs + 0x0b), reserved = le16(bs + 0x0e);
	uint16_t root_entries = le16(bs + 0x11);
	uint32_t fat_size = le16(bs + 0x16) ? le16(bs + 0x16) : le32(bs + 0x24);
	uint32_t total = le16(bs + 0x13) ? le16(bs + 0x13) : le32(bs + 0x20);
	uint8_t spc = bs[0x0d], nfats = bs[0x10];
	if (sector < 512 || sector > 4096 || (sector & (sector - 1)) || !spc || !nfats || !reserved)
		return 0;
	uint32_t root_sectors = ((uint32_t)root_entries * 32 + sector - 1) / sector;
	uint64_t data = (uint64_t)total - reserved - (uint64_t)nfats * fat_size - root_sectors;
	if ((uint64_t)total < reserved + (uint64_t)nfats * fat_size + root_sectors)
		return 0;
	if (fat_boot_dirty(bs)) {
		set(ret, HOSTSTATE_DIRTY,
		    "the FAT volume was not unmounted cleanly (its boot sector is marked dirty)",
		    FAT_TODO);
		return 0;
	}
	uint64_t clusters = data / spc;
	if (clusters < 4085)
		return 0; /* FAT12 has no FAT[1] flags */
	unsigned char fat[8];
	int r = read_at(fd, fat, sizeof(fat), (uint64_t)reserved * sector);
	if (r < 0)
		return r;
	/* FAT[1]: ClnShutBitMask (1 = clean) and HrdErrBitMask (1 = no disk error). */
	bool fat16 = clusters < 65525;
	bool unclean = fat16 ? !(le16(fat + 2) & 0x8000) : !(le32(fat + 4) & 0x08000000);
	bool hard_error = fat16 ? !(le16(fat + 2) & 0x4000) : !(le32(fat + 4) & 0x04000000);
	if (unclean)
		set(ret, HOSTSTATE_DIRTY, "the FAT volume was not unmounted cleanly", FAT_TODO);
	else if (hard_error) /* the driver's, on a disk error; fsck.fat never clears it */
		set(ret, HOSTSTATE_DIRTY, "the FAT volume has recorded disk I/O errors (FAT[1])",
		    "let Windows check the drive (chkdsk /f X:), then boot again (fsck.fat does "
		    "not clear this flag); or boot with loopboot.hibernated=ro for a read-only "
		    "session");
	return 0;
}

static int check_exfat(int fd, const unsigned char *bs, struct hoststate_result *ret)
{
	(void)fd;
	if (memcmp(bs + 3, "EXFAT   ", 8) != 0)
		return 0;
	if (le16(bs + 106) & 0x0002)
		set(ret, HOSTSTATE_DIRTY, "the exFAT volume was not unmounted cleanly",
		    "check it with fsck.exfat -p (or chkdsk /f on Windows), then boot again");
	return 0;
}

/* ---- ext2/3/4 ------------------------------------------------------------------------- */

static int check_ext(int fd, const unsigned char *head, struct hoststate_result *ret)
{
	(void)fd;
	const unsigned char *sb = head + 1024; /* the superblock */
	if (le16(sb + 0x38) != 0xef53)
		return 0;
	uint16_t state = le16(sb + 0x3a);
	if (state & 0x0002)
		set(ret, HOSTSTATE_DIRTY, "the ext file system has recorded errors",
		    "check it with e2fsck -p, then boot again");
	/* A journal that needs replaying (needs_recovery) is normal after a crash: the kernel
	 * replays it when mounting read-write. */
	return 0;
}

int hoststate_check_device(const char *devnode, const char *fstype, struct hoststate_result *ret)
{
	*ret = (struct hoststate_result){HOSTSTATE_CLEAN, NULL, NULL};
	if (!fstype)
		return 0;
	int (*check)(int, const unsigned char *, struct hoststate_result *) = NULL;
	if (streq(fstype, "ntfs") || streq(fstype, "ntfs3"))
		check = check_ntfs;
	else if (streq(fstype, "vfat") || streq(fstype, "msdos"))
		check = check_fat;
	else if (streq(fstype, "exfat"))
		check = check_exfat;
	else if (streq(fstype, "ext2") || streq(fstype, "ext3") || streq(fstype, "ext4"))
		check = check_ext;
	if (!check)
		return 0;
	_cleanup_close_ int fd = open(devnode, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The boot sector, and ext's superblock at 1024. */
	unsigned char head[2048];
	int r = read_at(fd, head, sizeof(head), 0);
	return r < 0 ? r : check(fd, head, ret);
}

bool hoststate_hiberfil_signature(const unsigned char *buf, unsigned len)
{
	return len >= 4 && strncasecmp((const char *)buf, "hibr", 4) == 0;
}

int hoststate_check_hiberfile(const char *mountpoint, struct hoststate_result *ret)
{
	*ret = (struct hoststate_result){HOSTSTATE_CLEAN, NULL, NULL};
	_cleanup_close_ int dfd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d)
		return -errno;
	dfd = -1;
	int fd = -1;
	struct dirent *de;
	/* Windows names are case-insensitive; Linux drivers may show either case. */
	while ((de = readdir(d)))
		if (strcasecmp(de->d_name, "hiberfil.sys") == 0) {
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			break;
		}
	closedir(d);
	if (fd < 0)
		return 0;
	unsigned char buf[4];
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == 4 && hoststate_hiberfil_signature(buf, 4))
		set(ret, HOSTSTATE_HIBERNATED,
		    "Windows is hibernated on it (hiberfil.sys holds a hibernation image; Fast "
		    "Startup leaves the same)",
		    WINDOWS_TODO);
	return 0;
}

int image_fs_geometry_at(int fd, uint64_t at, const char *fstype, uint64_t *ret_size,
                         uint32_t *ret_block)
{
	unsigned char sb[1024];
	uint64_t size;
	uint32_t block;
	if (streq(fstype, "ext2") || streq(fstype, "ext3") || streq(fstype, "ext4")) {
		int r = read_at(fd, sb, sizeof(sb), at + 1024);
		if (r < 0)
			return r;
		if (le16(sb + 0x38) != 0xef53)
			return -EBADMSG;
		uint32_t log = le32(sb + 0x18);
		if (log > 6)
			return -EBADMSG;
		uint64_t blocks = le32(sb + 0x04);
		if ((le32(sb + 0x60) & 0x80) && le16(sb + 0xfe) >= 64) /* INCOMPAT_64BIT */
			blocks |= (uint64_t)le32(sb + 0x150) << 32;
		block = 1024u << log;
		size = blocks * block;
	} else if (streq(fstype, "xfs")) {
		int r = read_at(fd, sb, 16, at);
		if (r < 0)
			return r;
		if (memcmp(sb, "XFSB", 4) != 0)
			return -EBADMSG;
		block = be32toh(*(const uint32_t *)(const void *)(sb + 4));
		uint64_t blocks = be64toh(*(const uint64_t *)(const void *)(sb + 8));
		if (block < 512 || block > 65536 || blocks > UINT64_MAX / block)
			return -EBADMSG;
		size = blocks * block;
	} else if (streq(fstype, "btrfs")) {
		/* The primary superblock at 64 KiB: magic, total_bytes, sectorsize. */
		int r = read_at(fd, sb, 0x94, at + 0x10000);
		if (r < 0)
			return r;
		if (memcmp(sb + 0x40, "_BHRfS_M", 8) != 0)
			return -EBADMSG;
		size = le64(sb + 0x70);
		block = le32(sb + 0x90);
		if (block < 512 || block > 65536)
			return -EBADMSG;
	} else {
		return -EOPNOTSUPP;
	}
	*ret_size = size;
	if (ret_block)
		*ret_block = block;
	return 0;
}

int image_fs_geometry(int fd, const char *fstype, uint64_t *ret_size, uint32_t *ret_block)
{
	return image_fs_geometry_at(fd, 0, fstype, ret_size, ret_block);
}

int image_fs_size(int fd, const char *fstype, uint64_t *ret)
{
	return image_fs_geometry_at(fd, 0, fstype, ret, NULL);
}
