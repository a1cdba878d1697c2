/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Looking into an initramfs image as the kernel unpacks it: uncompressed newc archives
 * (the early microcode one of initramfs-tools and dracut), then the main archive,
 * compressed (gzip, zstd, xz, lzma, bzip2, lz4, lzop: decompressed by the programs of
 * those names) or not.
 */
#pragma once

#include <stddef.h>

/* Which framework's loopboot hook an initramfs holds. */
struct initramfs_hook {
	const char *framework; /* "initramfs-tools", "dracut", "mkinitcpio" */
	const char *marker;    /* the archive path that tells */
};

/*
 * Reads the open initramfs fd. Returns 1 with *ret (static) when it holds loopboot's hook
 * (the framework's file) and the loopboot binary (usr/sbin, usr/bin, sbin or bin),
 * 0 when it does not, -EBADMSG when it is no initramfs, -ENOENT when the program for its
 * compression is missing (*ret_program: its name, static), or -errno.
 */
int initramfs_find_hook(int fd, const struct initramfs_hook **ret, const char **ret_program);

/* The decompressor for data starting with these bytes ("zstd", "gzip", ...), or NULL. */
const char *initramfs_compression(const unsigned char *p, size_t len);
