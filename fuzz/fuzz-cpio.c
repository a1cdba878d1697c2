/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loopboot check reads the initramfs of an image it did not make: the newc reader must
 * take any bytes without crashing or reading out of bounds, give names that are NUL
 * terminated within the buffer, and an end offset within it.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "initrd/cpio.h"

struct seen {
	const uint8_t *buf;
	size_t len;
	unsigned n;
};

static int on_name(const char *name, void *userdata)
{
	struct seen *s = userdata;
	const uint8_t *p = (const uint8_t *)name;
	assert(p >= s->buf && p < s->buf + s->len);
	assert(memchr(p, '\0', (size_t)(s->buf + s->len - p)));
	return ++s->n == 100000 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = {data, size, 0};
	size_t end = (size_t)-1;
	int r = cpio_read_names(data, size, on_name, &s, &end);
	assert(r == 0 || r == 1 || r == -EBADMSG);
	if (r == 0)
		assert(end <= size);
	return 0;
}
