/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "initrd/cpio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"

void cpio_init(struct cpio *c, int fd, uint32_t mtime)
{
	c->fd = fd;
	c->mtime = mtime;
	c->next_ino = 1;
	c->written = 0;
	c->buf_len = 0;
}

static int flush_buf(struct cpio *c)
{
	size_t off = 0;
	while (off < c->buf_len) {
		ssize_t n = write(c->fd, c->buf + off, c->buf_len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	c->buf_len = 0;
	return 0;
}

static int put(struct cpio *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		if (c->buf_len == sizeof(c->buf)) {
			int r = flush_buf(c);
			if (r < 0)
				return r;
		}
		size_t n = sizeof(c->buf) - c->buf_len;
		if (n > len)
			n = len;
		memcpy(c->buf + c->buf_len, p, n);
		c->buf_len += n;
		c->written += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* newc aligns both the header+name and the data to 4 bytes. */
static int pad4(struct cpio *c)
{
	static const char zeros[4];
	size_t n = (4 - (c->written & 3)) & 3;
	return put(c, zeros, n);
}

/* n bytes, then the zeros that align what follows to 4 bytes. */
static int put_padded(struct cpio *c, const void *p, size_t n)
{
	int r = put(c, p, n);
	return r < 0 ? r : pad4(c);
}

bool cpio_path_valid(const char *path)
{
	if (!path || !*path || path[0] == '/')
		return false;
	for (const char *s = path;;) {
		const char *e = strchrnul(s, '/');
		size_t n = (size_t)(e - s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!*e)
			return true;
		s = e + 1;
	}
}

static int put_header(struct cpio *c, const char *name, mode_t mode, uint32_t nlink, uint64_t size,
                      unsigned rmajor, unsigned rminor)
{
	if (size > CPIO_MAX_FILE_SIZE)
		return -EFBIG;
	size_t namesize = strlen(name) + 1;
	char hdr[111];
	/* ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
	 * rdevminor, namesize, check */
	int n =
	    snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
	             c->next_ino++, (unsigned)mode, 0u, 0u, nlink, c->mtime, (unsigned)size, 0u, 0u,
	             rmajor, rminor, (unsigned)namesize, 0u);
	if (n != 110)
		return -EINVAL;
	int r = put(c, hdr, 110);
	if (r < 0)
		return r;
	return put_padded(c, name, namesize);
}

int cpio_add_dir(struct cpio *c, const char *path, mode_t perm)
{
	if (!cpio_path_valid(path))
		return -EINVAL;
	return put_header(c, path, S_IFDIR | (perm & 07777), 2, 0, 0, 0);
}

int cpio_add_data(struct cpio *c, const char *path, mode_t perm, const void *data, size_t len)
{
	if (!cpio_path_valid(path))
		return -EINVAL;
	int r = put_header(c, path, S_IFREG | (perm & 07777), 1, len, 0, 0);
	if (r < 0)
		return r;
	return put_padded(c, data, len);
}

int cpio_add_fd(struct cpio *c, const char *path, mode_t perm, int fd, uint64_t size)
{
	if (!cpio_path_valid(path))
		return -EINVAL;
	int r = put_header(c, path, S_IFREG | (perm & 07777), 1, size, 0, 0);
	if (r < 0)
		return r;
	unsigned char chunk[65536];
	while (size > 0) {
		size_t n = size < sizeof(chunk) ? (size_t)size : sizeof(chunk);
		/* The header already promised size bytes: a shorter file would shift every
		 * following entry, so this archive cannot be finished (-EIO). */
		r = read_exactly(fd, chunk, n, -1);
		if (r < 0)
			return r;
		r = put(c, chunk, n);
		if (r < 0)
			return r;
		size -= n;
	}
	return pad4(c);
}

int cpio_add_symlink(struct cpio *c, const char *path, const char *target)
{
	if (!cpio_path_valid(path) || !target || !*target)
		return -EINVAL;
	size_t len = strlen(target);
	/* The target is the entry's data, without a NUL. */
	int r = put_header(c, path, S_IFLNK | 0777, 1, len, 0, 0);
	if (r < 0)
		return r;
	return put_padded(c, target, len);
}

int cpio_add_device(struct cpio *c, const char *path, mode_t type, mode_t perm, unsigned major,
                    unsigned minor)
{
	if (!cpio_path_valid(path) || (type != S_IFCHR && type != S_IFBLK))
		return -EINVAL;
	return put_header(c, path, type | (perm & 07777), 1, 0, major, minor);
}

int cpio_finish(struct cpio *c)
{
	/* The trailer is an ordinary header named TRAILER!!!; GNU cpio writes inode 0 and
	 * nlink 1 for it, and so do we so that listings look familiar. */
	c->next_ino = 0;
	int r = put_header(c, "TRAILER!!!", 0, 1, 0, 0, 0);
	if (r < 0)
		return r;
	return flush_buf(c);
}

/* ---- reading ----------------------------------------------------------------------------- */

#define NEWC_HEADER 110

static bool hex_field(const unsigned char *p, uint32_t *ret)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		unsigned c = p[i];
		unsigned d = c >= '0' && c <= '9'   ? c - '0'
		             : c >= 'a' && c <= 'f' ? c - 'a' + 10
		             : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                                    : 16;
		if (d == 16)
			return false;
		v = v << 4 | d;
	}
	*ret = v;
	return true;
}

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

int cpio_read_names(const void *buf, size_t len, int (*fn)(const char *name, void *userdata),
                    void *userdata, size_t *ret_end)
{
	const unsigned char *b = buf;
	size_t off = 0;
	for (;;) {
		/* The kernel skips zero bytes (in steps of 4) between archives. */
		while (off + 4 <= len && !memcmp(b + off, "\0\0\0\0", 4))
			off += 4;
		if (off + 6 > len || (memcmp(b + off, "070701", 6) && memcmp(b + off, "070702", 6)))
			break;
		if (len - off < NEWC_HEADER)
			return -EBADMSG;
		uint32_t namesize, filesize;
		/* c_filesize at 54, c_namesize at 94 */
		if (!hex_field(b + off + 54, &filesize) || !hex_field(b + off + 94, &namesize) ||
		    namesize == 0)
			return -EBADMSG;
		size_t name_at = off + NEWC_HEADER;
		if (namesize > len - name_at || b[name_at + namesize - 1] != '\0')
			return -EBADMSG;
		const char *name = (const char *)b + name_at;
		size_t data_at = align4(name_at + namesize);
		if (data_at > len || filesize > len - data_at)
			return -EBADMSG;
		if (strcmp(name, "TRAILER!!!")) {
			int r = fn(name, userdata);
			if (r)
				return r;
		}
		off = align4(data_at + filesize);
		if (off > len)
			off = len;
	}
	if (ret_end)
		*ret_end = off < len ? off : len;
	return 0;
}
