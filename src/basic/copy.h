/* SPDX-License-Identifier: GPL-2.0-or-later */
/* File-tree chores of the staging directory. */
#pragma once

#include <sys/types.h>

/* Copies the regular file src to dst (creating dst's parent directories), mode mode.
 * Returns 0 or -errno (-ENOENT when src is missing). */
int copy_file(const char *src, const char *dst, mode_t mode);

/* Removes path and everything below it, without following symlinks. Returns 0 or the
 * first -errno met (it goes on removing what it can). */
int rm_rf(const char *path);
