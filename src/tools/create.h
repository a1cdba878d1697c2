/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL]`: a new image
 * file, fully allocated (never sparse: a sparse image on NTFS or FAT fails in the middle of
 * a write when the host fills up, and fragments), with a file system in it.
 */
#pragma once

#include <stdint.h>

int create_main(int argc, char **argv);

/*
 * Parses a size: digits with an optional K, M, G or T suffix (powers of 1024; "KiB",
 * "MB" and lower case are accepted too). Returns 0, or -EINVAL/-ERANGE with *ret_why set
 * to a static text. Does not check the 4096-byte multiple (create_main does, to name the
 * nearest good size).
 */
int create_parse_size(const char *s, uint64_t *ret, const char **ret_why);
