/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/extents.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "basic/util.h"

#ifdef HAVE_LIBNTFS3G
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/volume.h>
#endif

/* Flags that FIEMAP may report on top of the ones in older headers. */
#ifndef FIEMAP_EXTENT_SHARED
#define FIEMAP_EXTENT_SHARED 0x00002000
#endif

void extent_map_free(struct extent_map *m)
{
	free(m->v);
	*m = (struct extent_map){0};
}

int extent_map_add(struct extent_map *m, uint64_t logical, uint64_t physical, uint64_t length)
{
	if (length == 0)
		return 0;
	if (logical + length < logical || physical + length < physical)
		return -EINVAL; /* wraps */
	if (m->n > 0) {
		struct extent *last = &m->v[m->n - 1];
		uint64_t end = last->logical + last->length;
		if (logical < end)
			return -EINVAL; /* out of order or overlapping */
		if (logical == end && physical == last->physical + last->length) {
			last->length += length;
			return 0;
		}
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n++] = (struct extent){.logical = logical, .physical = physical, .length = length};
	return 0;
}

int extent_map_slice(const struct extent_map *m, uint64_t offset, uint64_t length,
                     struct extent_map *ret)
{
	*ret = (struct extent_map){.size = length};
	if (length == 0 || offset % EXTENT_SECTOR || length % EXTENT_SECTOR || offset > m->size ||
	    length > m->size - offset)
		return -EINVAL;
	uint64_t end = offset + length;
	for (size_t i = 0; i < m->n; i++) {
		const struct extent *x = &m->v[i];
		uint64_t a = x->logical > offset ? x->logical : offset;
		uint64_t b = x->logical + x->length < end ? x->logical + x->length : end;
		if (a >= b)
			continue;
		int r = extent_map_add(ret, a - offset, x->physical + (a - x->logical), b - a);
		if (r < 0) {
			extent_map_free(ret);
			return r;
		}
	}
	/* Every byte of the range must be in the map (the whole map had no holes). */
	uint64_t covered = 0;
	for (size_t i = 0; i < ret->n; i++)
		covered += ret->v[i].length;
	if (covered != length) {
		extent_map_free(ret);
		*ret = (struct extent_map){0};
		return -EINVAL;
	}
	return 0;
}

int extent_map_finish(struct extent_map *m, uint64_t dev_size, const char **ret_why)
{
	*ret_why = NULL;
	if (m->size == 0) {
		*ret_why = "the file is empty";
		return -EINVAL;
	}
	if (m->size % EXTENT_SECTOR) {
		*ret_why = "its size is not a multiple of 512 bytes";
		return -EINVAL;
	}
	/* Trim to the file's size: the last block is allocated whole. */
	size_t keep = 0;
	uint64_t covered = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct extent *e = &m->v[i];
		if (e->logical >= m->size)
			break;
		if (e->logical != covered) {
			*ret_why = "it is sparse (it has holes)";
			return -EINVAL;
		}
		if (e->logical + e->length > m->size)
			e->length = m->size - e->logical;
		covered = e->logical + e->length;
		keep = i + 1;
	}
	m->n = keep;
	if (covered < m->size) {
		*ret_why = "it is sparse (its end is not allocated)";
		return -EINVAL;
	}
	if (m->n > EXTENTS_MAX) {
		*ret_why = "it is fragmented into more than 65536 pieces (defragment it)";
		return -EINVAL;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct extent *e = &m->v[i];
		/* The size is sector-aligned, so only the last extent's end may need
		 * checking; but a block of another size could split anywhere. */
		if (e->physical % EXTENT_SECTOR || e->logical % EXTENT_SECTOR ||
		    e->length % EXTENT_SECTOR) {
			*ret_why = "its data is not aligned to 512-byte sectors on the disk";
			return -EINVAL;
		}
		if (dev_size && (e->physical > dev_size || e->length > dev_size - e->physical)) {
			*ret_why = "its extents reach past the end of the host device";
			return -EINVAL;
		}
	}
	return 0;
}

const char *extent_fiemap_flags_refusal(uint32_t flags)
{
	/* The most telling reason first. */
	if (flags & FIEMAP_EXTENT_DATA_ENCRYPTED)
		return "it is encrypted";
	if (flags & FIEMAP_EXTENT_ENCODED)
		return "it is compressed (encoded)";
	if (flags & (FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL))
		return "its data is resident (kept inline with the metadata)";
	if (flags & FIEMAP_EXTENT_UNWRITTEN)
		return "it has preallocated extents never written (they read as zeros through "
		       "the file system, as garbage from the disk): rewrite it once, e.g. dd "
		       "if=IMG of=IMG bs=1M conv=notrunc";
	if (flags & FIEMAP_EXTENT_SHARED)
		return "it shares blocks with another file (reflink or snapshot)";
	if (flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC))
		return "the file system does not say where its data is";
	if (flags & FIEMAP_EXTENT_NOT_ALIGNED)
		return "its data is not aligned to 512-byte sectors on the disk";
	return NULL;
}

char *extent_map_table_text(const struct extent_map *m, unsigned major, unsigned minor)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		fputs("loopboot: out of memory\n", stderr);
		abort();
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct extent *e = &m->v[i];
		fprintf(f, "%llu %llu linear %u:%u %llu\n",
		        (unsigned long long)(e->logical / EXTENT_SECTOR),
		        (unsigned long long)(e->length / EXTENT_SECTOR), major, minor,
		        (unsigned long long)(e->physical / EXTENT_SECTOR));
	}
	fclose(f);
	return buf;
}

const char *extent_host_type_refusal(const char *type)
{
	static const char *const ok[] = {"ext2",  "ext3", "ext4",  "xfs",  "vfat", "msdos",
	                                 "exfat", "ntfs", "ntfs3", "f2fs", "jfs"};
	if (!type)
		return "the host's file system type is unknown";
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (streq(type, ok[i]))
			return NULL;
	if (streq(type, "btrfs"))
		return "btrfs reports extents in its own address space, not on the device, and "
		       "checksums its data";
	return "this host file system type is not known to keep a file's data where FIEMAP "
	       "says";
}

/* ---- FIEMAP ---------------------------------------------------------------------------- */

int extents_from_fiemap(int fd, uint64_t dev_size, struct extent_map *ret, const char **ret_why)
{
	enum { BATCH = 256 };
	*ret = (struct extent_map){0};
	*ret_why = NULL;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*ret_why = "cannot stat the file";
		return -errno;
	}
	struct extent_map m = {.size = (uint64_t)st.st_size};
	size_t len = sizeof(struct fiemap) + BATCH * sizeof(struct fiemap_extent);
	struct fiemap *fm = xcalloc(1, len);
	uint64_t start = 0;
	bool first = true, done = false;
	int r = 0;
	while (!done && start < m.size) {
		memset(fm, 0, len);
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		/* Flush delayed allocation once, so that every extent has its place. */
		fm->fm_flags = first ? FIEMAP_FLAG_SYNC : 0;
		fm->fm_extent_count = BATCH;
		first = false;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			r = -errno;
			*ret_why = r == -EOPNOTSUPP || r == -ENOTTY
			               ? "the host file system does not report extents (no FIEMAP)"
			               : "FIEMAP failed";
			if (r == -ENOTTY)
				r = -EOPNOTSUPP;
			goto out;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *e = &fm->fm_extents[i];
			if (e->fe_logical >= m.size) {
				done = true;
				break;
			}
			const char *why = extent_fiemap_flags_refusal(e->fe_flags);
			if (why) {
				*ret_why = why;
				r = -EINVAL;
				goto out;
			}
			if (extent_map_add(&m, e->fe_logical, e->fe_physical, e->fe_length) < 0) {
				*ret_why = "the file system reported overlapping extents";
				r = -EINVAL;
				goto out;
			}
			start = e->fe_logical + e->fe_length;
			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				done = true;
		}
		if (m.n > EXTENTS_MAX)
			break; /* finish() says so */
	}
	r = extent_map_finish(&m, dev_size, ret_why);
out:
	free(fm);
	if (r < 0)
		extent_map_free(&m);
	else
		*ret = m;
	return r;
}

/* ---- FAT: FIBMAP per cluster ------------------------------------------------------------- */

unsigned extent_fat_cluster_bytes(const unsigned char boot[512])
{
	unsigned bps = boot[11] | (unsigned)boot[12] << 8, spc = boot[13];
	/* The boot sector signature, and the values the FAT specification allows. */
	if (boot[510] != 0x55 || boot[511] != 0xaa)
		return 0;
	if (bps != 512 && bps != 1024 && bps != 2048 && bps != 4096)
		return 0;
	if (spc == 0 || (spc & (spc - 1)) != 0)
		return 0;
	return bps * spc;
}

int extents_from_fat(int fd, const char *devnode, uint64_t dev_size, struct extent_map *ret,
                     const char **ret_why)
{
	*ret = (struct extent_map){0};
	*ret_why = NULL;
	unsigned char boot[512];
	int r;
	{
		_cleanup_close_ int dev = open(devnode, O_RDONLY | O_CLOEXEC);
		if (dev < 0 || pread(dev, boot, sizeof(boot), 0) != (ssize_t)sizeof(boot)) {
			*ret_why = "cannot read the FAT boot sector";
			return dev < 0 ? -errno : -EIO;
		}
	}
	unsigned cluster = extent_fat_cluster_bytes(boot);
	int bsz = 0;
	struct stat st;
	if (cluster == 0) {
		*ret_why = "the host's boot sector is not a FAT boot sector";
		return -EINVAL;
	}
	if (ioctl(fd, FIGETBSZ, &bsz) < 0 || bsz <= 0 || fstat(fd, &st) < 0) {
		*ret_why = "the host file system does not report its block size (FIGETBSZ)";
		return -EOPNOTSUPP;
	}
	if (dev_size / (uint64_t)bsz > INT32_MAX) {
		*ret_why = "the host is too large for FIBMAP's 32-bit block numbers";
		return -EINVAL;
	}
	uint64_t step = cluster % (unsigned)bsz == 0 ? cluster / (unsigned)bsz : 1;
	struct extent_map m = {.size = (uint64_t)st.st_size};
	uint64_t blocks = (m.size + (uint64_t)bsz - 1) / (uint64_t)bsz;
	for (uint64_t b = 0; b < blocks; b += step) {
		int blk = (int)b;
		if (b > INT32_MAX || ioctl(fd, FIBMAP, &blk) < 0) {
			r = b > INT32_MAX ? -EFBIG : -errno;
			*ret_why = r == -EPERM ? "FIBMAP needs CAP_SYS_RAWIO" : "FIBMAP failed";
			extent_map_free(&m);
			return r == -ENOTTY || r == -EINVAL ? -EOPNOTSUPP : r;
		}
		if (blk <= 0) {
			*ret_why = "the file system does not say where part of its data is";
			extent_map_free(&m);
			return -EINVAL;
		}
		uint64_t n = step;
		if (b + n > blocks)
			n = blocks - b;
		if (extent_map_add(&m, b * (uint64_t)bsz, (uint64_t)blk * (uint64_t)bsz,
		                   n * (uint64_t)bsz) < 0) {
			*ret_why = "the file system reported overlapping blocks";
			extent_map_free(&m);
			return -EINVAL;
		}
	}
	r = extent_map_finish(&m, dev_size, ret_why);
	if (r < 0)
		extent_map_free(&m);
	else
		*ret = m;
	return r;
}

/* ---- NTFS data runs ---------------------------------------------------------------------- */

#ifdef HAVE_LIBNTFS3G
bool extents_have_ntfs(void)
{
	return true;
}

int extents_from_ntfs(const char *devnode, const char *path, uint64_t expect_ino, uint64_t dev_size,
                      struct extent_map *ret, const char **ret_why)
{
	*ret = (struct extent_map){0};
	*ret_why = NULL;
	/* The library reports on stderr otherwise; our callers say what failed. */
	ntfs_log_set_handler(ntfs_log_handler_null);
	ntfs_volume *vol = ntfs_mount(devnode, NTFS_MNT_RDONLY);
	if (!vol) {
		*ret_why = "libntfs-3g could not open the NTFS volume read-only";
		return errno ? -errno : -EIO;
	}
	int r = 0;
	ntfs_attr *na = NULL;
	struct extent_map m = {0};
	ntfs_inode *ni = ntfs_pathname_to_inode(vol, NULL, path);
	if (!ni) {
		r = errno ? -errno : -ENOENT;
		*ret_why = "libntfs-3g does not find the file by its path (is a symbolic link or "
		           "junction on the way?)";
		goto out;
	}
	if (expect_ino && ni->mft_no != expect_ino) {
		r = -EINVAL;
		*ret_why = "the path leads libntfs-3g to another file than ntfs-3g (a symbolic "
		           "link or junction on the way?)";
		goto out;
	}
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na) {
		r = errno ? -errno : -EIO;
		*ret_why = "libntfs-3g cannot open the file's data";
		goto out;
	}
	r = -EINVAL;
	if (!NAttrNonResident(na)) {
		*ret_why = "its data is resident (kept inside its MFT record)";
		goto out;
	}
	if (na->data_flags & ATTR_IS_ENCRYPTED) {
		*ret_why = "it is encrypted (EFS)";
		goto out;
	}
	if (na->data_flags & ATTR_COMPRESSION_MASK) {
		*ret_why = "it is compressed (NTFS compression)";
		goto out;
	}
	if (na->initialized_size < na->data_size) {
		*ret_why = "its end was never written (NTFS initialized size below its size: that "
		           "part reads as zeros through NTFS, as garbage from the disk)";
		goto out;
	}
	if (ntfs_attr_map_whole_runlist(na) < 0) {
		r = errno ? -errno : -EIO;
		*ret_why = "libntfs-3g cannot read the file's data runs";
		goto out;
	}
	m.size = (uint64_t)na->data_size;
	uint64_t cs = vol->cluster_size;
	for (const runlist_element *rl = na->rl; rl && rl->length; rl++) {
		uint64_t logical = (uint64_t)rl->vcn * cs;
		if (logical >= m.size)
			break;
		if (rl->lcn == LCN_HOLE) {
			*ret_why = "it is sparse (it has holes)";
			goto out;
		}
		if (rl->lcn < 0) {
			*ret_why = "libntfs-3g does not say where part of its data is";
			goto out;
		}
		if (extent_map_add(&m, logical, (uint64_t)rl->lcn * cs, (uint64_t)rl->length * cs) <
		    0) {
			*ret_why = "its data runs overlap";
			goto out;
		}
	}
	r = extent_map_finish(&m, dev_size, ret_why);
out:
	if (na)
		ntfs_attr_close(na);
	if (ni)
		ntfs_inode_close(ni);
	ntfs_umount(vol, FALSE);
	if (r < 0)
		extent_map_free(&m);
	else
		*ret = m;
	return r;
}
#else
bool extents_have_ntfs(void)
{
	return false;
}

int extents_from_ntfs(const char *devnode, const char *path, uint64_t expect_ino, uint64_t dev_size,
                      struct extent_map *ret, const char **ret_why)
{
	(void)devnode;
	(void)path;
	(void)expect_ino;
	(void)dev_size;
	*ret = (struct extent_map){0};
	*ret_why = "this loopboot was built without libntfs-3g, which reads NTFS data runs";
	return -ENOTSUP;
}
#endif
