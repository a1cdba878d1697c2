/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL] [--overlay]`: a
 * new image file, fully allocated (never sparse: a sparse image on NTFS or FAT fails in the
 * middle of a write when the host fills up, and fragments), with a file system in it; with
 * --overlay, a persistent overlay layer: upper/ and work/ (root's, 0755) at its root, the
 * layout dracut uses, for loopboot.overlay=PATH.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

int create_main(int argc, char **argv);

/* A file system an image can be made with. */
struct create_fs {
	const char *name; /* ext4, xfs, btrfs */
	const char *mkfs;
	unsigned max_label;
	const char *package; /* Debian's, for the message when mkfs is missing */
};
const struct create_fs *create_fs_find(const char *name);

/* What is to be made; `loopboot install` makes its image with the same rules. */
struct create_request {
	const char *path;
	uint64_t size;
	const struct create_fs *fs;
	const char *label; /* NULL: none */
	bool overlay;      /* an overlay layer: empty upper/ and work/ at the root */
};

/*
 * create's arguments (argv[0] is "create"): FILE and the options, into *req (its strings
 * point into argv). Returns 0 to go on, 1 after --help (printed), 2 after a loopboot: line
 * or the usage on stderr (a usage error).
 */
int create_parse_args(int argc, char **argv, struct create_request *req);

/*
 * Fills size and fs of req from --size and --fs (label must be set already, to be judged
 * against the type). Returns 0, or -EINVAL after one loopboot: line naming cmd: the caller
 * exits 2.
 */
int create_request_parse(const char *cmd, const char *size_arg, const char *fs_arg,
                         struct create_request *req);

/* Everything that would refuse the image (an existing file, no room, FAT's 4 GiB, no
 * mkfs), without writing: 0 or -errno after the message. */
int create_refusals(const struct create_request *req);

/* Makes the image as `loopboot create` does: refusals first, then a fully allocated file
 * and its file system, the summary line on stdout; nothing is left behind on failure.
 * 0 or -errno after the message. */
int create_image(const struct create_request *req);

/* "root=UUID=... loop=/path rw" for an image on a block device's file system; NULL when
 * the file is not on one. Allocated. */
char *create_boot_entry(const char *path);

/* One word of a kernel command line, "KEY=VALUE", quoted as a whole ("\"KEY=VALUE\"") when
 * the value has a blank, as the kernel reads it. Allocated. */
char *create_cmdline_word(const char *key, const char *value);

/*
 * Parses a size: digits with an optional K, M, G or T suffix (powers of 1024; "KiB",
 * "MB" and lower case are accepted too). Returns 0, or -EINVAL/-ERANGE with *ret_why set
 * to a static text. Does not check the 4096-byte multiple (create_main does, to name the
 * nearest good size).
 */
int create_parse_size(const char *s, uint64_t *ret, const char **ret_why);
