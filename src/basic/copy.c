/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "basic/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"

int copy_file(const char *src, const char *dst, mode_t mode)
{
	struct stat st;
	_cleanup_close_ int in = open_regular(src, &st);
	if (in < 0)
		return in;

	_cleanup_free_ char *copy = xstrdup(dst);
	int r = mkdir_p(dirname(copy), 0755);
	if (r < 0)
		return r;
	_cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		return -errno;

	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			off += w;
		}
	}
	if (close(out) < 0) {
		out = -1;
		return -errno;
	}
	out = -1;
	return 0;
}

static int rm_first_error;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	int r = flag == FTW_DP ? rmdir(path) : unlink(path);
	if (r < 0 && errno != ENOENT && rm_first_error == 0)
		rm_first_error = -errno;
	return 0;
}

int rm_rf(const char *path)
{
	rm_first_error = 0;
	/* FTW_DEPTH: contents before their directory; FTW_PHYS: never follow a symlink out of
	 * the tree being removed. */
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return rm_first_error;
}
