/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where an image file's bytes are on the host block device, for loopboot.mode=linear.
 *
 * An extent map lists (logical offset in the file, physical offset on the host device,
 * length), in bytes, sorted by logical offset, with neighbours that continue each other on
 * the disk merged. It comes from FIEMAP (a kernel driver: ext4, xfs, vfat, ntfs3, ...) or
 * from NTFS's own data runs read with libntfs-3g straight from the device (an NTFS host
 * served by ntfs-3g, which has no FIEMAP). A map is only usable when it says, for every
 * byte of the file, exactly where that byte is and that the byte on the disk is the byte
 * the file holds: any doubt (a hole, compression, encryption, data kept in the metadata,
 * preallocated space that reads as zeros, blocks shared with another file, an offset not
 * on a 512-byte sector) is a refusal with the reason, and the engine then uses a loop
 * device as usual.
 *
 * The building and checking of maps and the device-mapper table text are pure and unit
 * tested; extents_from_fiemap() and extents_from_ntfs() read a real file.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXTENT_SECTOR 512ULL
/* More pieces than this is a file to defragment, not to map: a loop device is used. */
#define EXTENTS_MAX 65536

struct extent {
	uint64_t logical;  /* byte offset in the file */
	uint64_t physical; /* byte offset on the host block device */
	uint64_t length;   /* bytes */
};

struct extent_map {
	struct extent *v;
	size_t n, cap;
	uint64_t size; /* the file's size in bytes */
};

void extent_map_free(struct extent_map *m);

/*
 * Appends an extent, merging it into the last one when it continues it both in the file
 * and on the disk. Extents must come in increasing logical order without overlap: returns
 * -EINVAL (and adds nothing) otherwise. A zero length is ignored.
 */
int extent_map_add(struct extent_map *m, uint64_t logical, uint64_t physical, uint64_t length);

/*
 * The part of a finished map that covers the file's bytes offset .. offset+length (a
 * partition of a disk image), with logical offsets from offset: what a mapping of just that
 * partition needs. Both must be multiples of 512 inside the file. Returns 0, or -EINVAL.
 */
int extent_map_slice(const struct extent_map *m, uint64_t offset, uint64_t length,
                     struct extent_map *ret);

/*
 * Checks that the map can become a linear table for a file of m->size bytes on a device of
 * dev_size bytes (0: unknown, not checked), and trims the last extent to the file's size
 * (file systems allocate whole blocks). Returns 0, or -EINVAL with *ret_why naming the
 * first reason (a static string): an empty file, a size or offset that is not a multiple
 * of 512, a hole (sparse file), extents past the device's end, too many extents.
 */
int extent_map_finish(struct extent_map *m, uint64_t dev_size, const char **ret_why);

/*
 * The FIEMAP extent flags that forbid mapping an extent, as a reason (static string), or
 * NULL when the extent can be mapped. FIEMAP_EXTENT_LAST and FIEMAP_EXTENT_MERGED are fine.
 */
const char *extent_fiemap_flags_refusal(uint32_t flags);

/*
 * The device-mapper table as dmsetup would print it: one line per extent,
 * "START LENGTH linear MAJ:MIN OFFSET" in 512-byte sectors. Allocated.
 */
char *extent_map_table_text(const struct extent_map *m, unsigned major, unsigned minor);

/* Whether a host file system type's FIEMAP offsets are offsets on its block device. */
const char *extent_host_type_refusal(const char *type);

/*
 * Reads the extents of the open file fd with FS_IOC_FIEMAP (FIEMAP_FLAG_SYNC) and finishes
 * the map (see extent_map_finish) for a host device of dev_size bytes. Returns 0, or a
 * negative errno with *ret_why set (static string): -EOPNOTSUPP when the file system has no
 * FIEMAP, -EINVAL for a refusal.
 */
int extents_from_fiemap(int fd, uint64_t dev_size, struct extent_map *ret, const char **ret_why);

/*
 * FAT (vfat, msdos), whose kernel driver has no FIEMAP: the cluster size from the boot
 * sector on devnode, then FIBMAP for the first block of every cluster (a cluster is
 * contiguous on the disk). Same results as extents_from_fiemap().
 */
int extents_from_fat(int fd, const char *devnode, uint64_t dev_size, struct extent_map *ret,
                     const char **ret_why);

/* The cluster size a FAT12/16/32 boot sector gives, in bytes; 0 when it is not one. */
unsigned extent_fat_cluster_bytes(const unsigned char boot[512]);

/*
 * NTFS without a kernel driver: opens the volume on devnode read-only with libntfs-3g, finds
 * the file by its path (and, when expect_ino is not 0, checks that it is that MFT record, as
 * ntfs-3g reports it in st_ino) and turns the unnamed $DATA attribute's runlist into a map.
 * Refuses resident, compressed, encrypted and sparse data, and a file whose initialized
 * size is below its size (the rest reads as zeros through NTFS). Returns 0, -EINVAL with
 * *ret_why for a refusal, -ENOTSUP when loopboot was built without libntfs-3g, or another
 * negative errno (*ret_why set too).
 */
int extents_from_ntfs(const char *devnode, const char *path, uint64_t expect_ino, uint64_t dev_size,
                      struct extent_map *ret, const char **ret_why);

/* Whether this loopboot can read NTFS data runs (built with libntfs-3g). */
bool extents_have_ntfs(void);
