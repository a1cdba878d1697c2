/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Is the host safe to write? A Windows volume that is hibernated (or left by Fast Startup,
 * which is hibernation of the kernel session) still has its metadata in Windows' memory
 * image: Windows resumes from it, and a volume changed meanwhile is corrupted by the two
 * views. Drivers disagree on what to do (ntfs-3g silently falls back to read-only, ntfs3
 * mounts), so loopboot looks itself, before any mount that could write.
 *
 * What is read, all read-only:
 *  - NTFS: the volume's dirty flag ($Volume's VOLUME_INFORMATION) and whether $LogFile
 *    still holds unapplied transactions (restart area not marked clean while a client
 *    has it open), from the raw device; hiberfil.sys's signature ("hibr"/"HIBR", also
 *    "wake"-less Fast Startup images) through the read-only dry-run mount.
 *  - FAT12/16/32: the dirty bit Linux's vfat keeps in the boot sector (BS_Reserved1, bit 0:
 *    0x25 in the FAT12/16 layout, 0x41 in FAT32's; set while mounted read-write), and on
 *    FAT16/32 the "clean shutdown" and "disk error" bits of the second FAT entry (Windows'
 *    flags, as Microsoft's FAT specification defines them).
 *  - exFAT: VolumeDirty in the boot sector's VolumeFlags.
 *  - ext2/3/4: s_state without EXT2_VALID_FS, or errors recorded (EXT2_ERROR_FS).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum hoststate {
	HOSTSTATE_CLEAN,
	HOSTSTATE_HIBERNATED,  /* Windows hibernation or Fast Startup */
	HOSTSTATE_LOG_UNCLEAN, /* NTFS journal holds metadata not yet written back */
	HOSTSTATE_DIRTY,       /* marked dirty / not unmounted cleanly / errors recorded */
};

struct hoststate_result {
	enum hoststate state;
	const char *why;  /* static text for the message, NULL when clean */
	const char *todo; /* static text: what the user does about it */
};

/* Reads the device's own flags (no mount). Unknown types are clean. Returns 0 or -errno;
 * a structure that does not parse is reported as clean (blkid already said what it is,
 * and the driver will judge it). */
int hoststate_check_device(const char *devnode, const char *fstype, struct hoststate_result *ret);

/* Looks for a hibernation image in hiberfil.sys at the root of a (read-only) mount. */
int hoststate_check_hiberfile(const char *mountpoint, struct hoststate_result *ret);

/* The size an image's file system claims (ext2/3/4, xfs, btrfs), to tell a truncated copy
 * from a damaged one. Returns 0, -EOPNOTSUPP for other types, -EBADMSG or -errno. */
int image_fs_size(int fd, const char *fstype, uint64_t *ret);
/* The same, and its block size (ret_block may be NULL). */
int image_fs_geometry(int fd, const char *fstype, uint64_t *ret_size, uint32_t *ret_block);
/* The same for a file system that starts at byte at of fd (a partition of a disk image). */
int image_fs_geometry_at(int fd, uint64_t at, const char *fstype, uint64_t *ret_size,
                         uint32_t *ret_block);

/* Pure parts, for the unit tests: parse a buffer. */
bool hoststate_hiberfil_signature(const unsigned char *buf, unsigned len);
