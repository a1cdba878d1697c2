/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot resize FILE SIZE|+SIZE|-SIZE`: grows or shrinks an image and its file system
 * offline. ext2/3/4 grow and shrink (e2fsck, resize2fs); xfs and btrfs grow only, mounted
 * in a private mount namespace (xfs_growfs, btrfs filesystem resize). New space is fully
 * allocated, as `create` allocates. An image in use (attached to a loop device, mounted,
 * the running root) is refused, and so is a shrink below the file system's minimum.
 */
#pragma once

#include <stdint.h>

int resize_main(int argc, char **argv);

/*
 * The new size of an image of current bytes for the argument spec: "SIZE" (as create's
 * --size), "+SIZE" or "-SIZE". Returns 0, or -EINVAL/-ERANGE with *ret_why a static text:
 * a size that is not a multiple of 4096 bytes, or that would be 0 or less.
 */
int resize_target(const char *spec, uint64_t current, uint64_t *ret, const char **ret_why);

/* The block count in resize2fs -P's output ("Estimated minimum size of the filesystem:
 * N"): 0 or -EBADMSG. */
int resize_parse_minimum(const char *output, uint64_t *ret_blocks);
