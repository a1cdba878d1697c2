/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A writer for the cpio "newc" format, the only one the kernel unpacks into the initramfs
 * (init/initramfs.c). It writes exactly what it is given, in the order given: the caller
 * sorts, so that the same inputs always give the same bytes. Every entry gets uid/gid 0,
 * the mtime set once for the archive, the next inode number and nlink 1 (2 for
 * directories): the kernel treats a non-directory with nlink >= 2 as a possible hard
 * link and would look its inode number up, which we never want.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CPIO_MAX_FILE_SIZE 0xffffffffULL /* the size field has 8 hex digits */

struct cpio {
	int fd;         /* where the archive goes; not owned */
	uint32_t mtime; /* for every entry */
	uint32_t next_ino;
	uint64_t written; /* bytes of archive so far (the uncompressed size) */
	size_t buf_len;
	unsigned char buf[65536];
};

void cpio_init(struct cpio *c, int fd, uint32_t mtime);

/*
 * Paths are archive paths: relative ("usr/bin/x"), no "." or ".." components, no empty
 * components; the kernel and cpio -i create them under the new root. All functions return
 * 0 or a negative errno: -EINVAL for a bad path, -EFBIG for a file over 4 GiB, or the
 * error of write()/read().
 */
int cpio_add_dir(struct cpio *c, const char *path, mode_t perm);
int cpio_add_data(struct cpio *c, const char *path, mode_t perm, const void *data, size_t len);
/* Copies exactly size bytes from fd (a file that shrank meanwhile gives -EIO). */
int cpio_add_fd(struct cpio *c, const char *path, mode_t perm, int fd, uint64_t size);
int cpio_add_symlink(struct cpio *c, const char *path, const char *target);
/* type is S_IFCHR or S_IFBLK. */
int cpio_add_device(struct cpio *c, const char *path, mode_t type, mode_t perm, unsigned major,
                    unsigned minor);
/* Writes the TRAILER!!! entry and flushes. */
int cpio_finish(struct cpio *c);

/* True for a path cpio_add_*() accepts. */
bool cpio_path_valid(const char *path);

/* ---- reading ----------------------------------------------------------------------------- */

/*
 * Reads the names of the newc archives at the start of buf, as the kernel unpacks them: one
 * archive after another, each ending with TRAILER!!!, with zero bytes between them. Calls
 * fn for every entry but the trailers (a nonzero return stops the reading and is returned).
 * Stops at the first data that is neither an archive nor padding (a compressed archive
 * follows there: *ret_end gets its offset, len when none). Returns 0, fn's value, or
 * -EBADMSG for a header that is cut short or malformed.
 */
int cpio_read_names(const void *buf, size_t len, int (*fn)(const char *name, void *userdata),
                    void *userdata, size_t *ret_end);
