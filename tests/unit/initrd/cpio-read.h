/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A strict reader of cpio "newc" archives for the tests: it checks every field it can
 * (magic, hex digits, 4-byte alignment of names and data, the trailer at the end), so a
 * writer bug shows as a failed parse rather than as an odd listing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cpio_ent {
	char name[256];
	uint32_t ino, mode, uid, gid, nlink, mtime, size, rmajor, rminor;
	const unsigned char *data;
};

static inline bool cpio_hex8(const unsigned char *p, uint32_t *ret)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false; /* the kernel accepts lower case too; we write upper */
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return true;
}

/*
 * Parses every entry of buf[0..len) into ents (at most max). Returns the number of entries
 * before the trailer, or -1 when the archive is malformed or has no trailer at its end.
 */
static inline int cpio_parse(const unsigned char *buf, size_t len, struct cpio_ent *ents, int max)
{
	size_t off = 0;
	int n = 0;
	for (;;) {
		if (off % 4 || len - off < 110 || memcmp(buf + off, "070701", 6) != 0)
			return -1;
		uint32_t f[13];
		for (int i = 0; i < 13; i++)
			if (!cpio_hex8(buf + off + 6 + 8 * i, &f[i]))
				return -1;
		uint32_t namesize = f[11];
		if (namesize == 0 || namesize > 256 || len - off - 110 < namesize)
			return -1;
		const char *name = (const char *)buf + off + 110;
		if (name[namesize - 1] != '\0' || strlen(name) != namesize - 1)
			return -1;
		size_t data = (off + 110 + namesize + 3) & ~(size_t)3;
		if (data > len || len - data < f[6])
			return -1;
		for (size_t i = off + 110 + namesize; i < data; i++)
			if (buf[i] != 0)
				return -1;
		if (strcmp(name, "TRAILER!!!") == 0) {
			size_t end = data + f[6];
			return end == len && end % 4 == 0 ? n : -1;
		}
		if (n == max)
			return -1;
		struct cpio_ent *e = &ents[n++];
		memcpy(e->name, name, namesize);
		e->ino = f[0];
		e->mode = f[1];
		e->uid = f[2];
		e->gid = f[3];
		e->nlink = f[4];
		e->mtime = f[5];
		e->size = f[6];
		e->rmajor = f[9];
		e->rminor = f[10];
		e->data = buf + data;
		off = (data + f[6] + 3) & ~(size_t)3;
		/* every padding byte must be zero */
		for (size_t i = data + f[6]; i < off && i < len; i++)
			if (buf[i] != 0)
				return -1;
	}
}
