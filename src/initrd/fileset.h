/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The initramfs as a set of entries keyed by archive path, kept sorted so that writing it
 * out is deterministic and every directory comes before what it holds. Entries are
 * described, not read: a file names the host file whose bytes go in, which is opened only
 * when the archive is written.
 *
 * Adding an entry creates its missing parent directories, and follows the symlinks that
 * are already in the set: with "lib" -> "usr/lib" present, "lib/modules/x" lands at
 * "usr/lib/modules/x", as the kernel's unpacker would also place it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "initrd/cpio.h"

enum fileset_type {
	FILESET_DIR,
	FILESET_FILE,
	FILESET_SYMLINK,
	FILESET_DEVICE,
};

struct fileset_entry {
	char *path; /* archive path: relative, normalised */
	enum fileset_type type;
	mode_t mode;           /* permission bits; for a device also S_IFCHR/S_IFBLK */
	char *source;          /* FILE: host path of the content */
	char *target;          /* SYMLINK: the link text, as on the host */
	unsigned major, minor; /* DEVICE */
};

struct fileset {
	struct fileset_entry *v; /* sorted by strcmp(path) */
	size_t n, cap;
};

/*
 * All adders accept paths with or without a leading '/'. Adding the same entry twice is
 * fine; adding a different one at an existing path gives -EEXIST, a path below a file or
 * device -ENOTDIR, a path that is not normalisable (".." above the root) -EINVAL.
 */
int fileset_add_dir(struct fileset *s, const char *path, mode_t perm);
int fileset_add_file(struct fileset *s, const char *path, const char *source, mode_t perm);
int fileset_add_symlink(struct fileset *s, const char *path, const char *target);
int fileset_add_device(struct fileset *s, const char *path, mode_t type, mode_t perm,
                       unsigned major, unsigned minor);

/*
 * Adds host_path (absolute) as it is on the host below root ("/" normally; a directory for
 * tests): every symlink met on the way, in a directory or at the end, goes in as a symlink
 * and is followed, so that both the link and what it points to are in the archive and the
 * path resolves there as it does on the host. Regular files keep their execute bit
 * (mode 0755 or 0644); directories are 0755. *ret_resolved (optional) gets the final
 * symlink-free absolute path. Returns 0 or -errno (-ELOOP after 40 links, -ENOTDIR, or
 * lstat/readlink's error; -EOPNOTSUPP for sockets, fifos and devices).
 */
int fileset_add_host_path(struct fileset *s, const char *root, const char *host_path,
                          char **ret_resolved);

/* The entry at path (with or without leading '/', not following symlinks), or NULL. */
const struct fileset_entry *fileset_find(const struct fileset *s, const char *path);

/* Writes every entry, in order, then the trailer. Returns 0 or -errno; *ret_failed_path
 * (optional) names the entry that failed. */
int fileset_write(const struct fileset *s, struct cpio *c, const char **ret_failed_path);

void fileset_free(struct fileset *s);
