/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The verdict on an image file: can it be attached and mounted as asked? One pure
 * function judges what was found (the open, the file's size and mode, the signatures
 * libblkid saw, the type asked for, the size its file system claims), so that the boot
 * engine's one-line failure and `loopboot check`'s finding follow the same rules in the
 * same words.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct image_facts {
	const char *path; /* the image's path, as on the command line */
	const char
	    *where;       /* what holds it, for messages: "the host UUID=...", "the image /a.img" */
	int open_errno;   /* 0: opened; else the errno of opening it */
	bool for_writing; /* it was opened (or tried) for writing */
	mode_t mode;      /* its st_mode once opened */
	uint64_t size;    /* its size in bytes */
	uint64_t allocated; /* bytes allocated to it on the host (less than size: sparse) */
	int probe; /* device_probe_fd(): 1, 0 (nothing), -EUCLEAN (two), -EMEDIUMTYPE, -errno */
	const char *type;   /* what the probe found (for -EMEDIUMTYPE: what the file holds) */
	const char *wanted; /* the type the command line asks for (loopfstype=, FSTYPE), or NULL */
	bool fs_size_known;
	uint64_t fs_size; /* the size its file system claims */
};

enum verdict_code {
	VERDICT_OK,
	VERDICT_NOT_FOUND,
	VERDICT_DIRECTORY,
	VERDICT_NOT_REGULAR,
	VERDICT_READ_ONLY, /* cannot be opened for writing */
	VERDICT_OPEN_FAILED,
	VERDICT_TWO_SIGNATURES,
	VERDICT_NOT_A_FILE_SYSTEM, /* it holds something else: a partition table, swap */
	VERDICT_NO_FILE_SYSTEM,
	VERDICT_PROBE_FAILED,
	VERDICT_TYPE_MISMATCH,
	VERDICT_TRUNCATED,
	VERDICT_DISK_FORMAT, /* a disk image container loopboot does not map (qcow2, dynamic VHD) */
	VERDICT_PARTITION,   /* a disk image without the partition asked for, or with several */
};

struct verdict {
	enum verdict_code code;
	int err;          /* a positive errno; 0 with VERDICT_OK */
	const char *what; /* "image file not found", "image" */
	const char *value;
	char *reason; /* allocated */
	char *todo;   /* allocated */
};

/*
 * Reads the facts an image file gives (its mode and sizes, the signatures libblkid finds,
 * the size its file system claims) into f, whose path, where, for_writing and wanted are
 * the caller's. fd < 0 means the open failed with errno. *ret_type gets what the file
 * holds (allocated, NULL when nothing was found). Not pure: the one place that looks.
 */
void image_facts_read(int fd, struct image_facts *f, char **ret_type);

/* Returns 0 (VERDICT_OK, nothing allocated) or -err with *ret filled. */
int image_verdict(const struct image_facts *f, struct verdict *ret);
void verdict_done(struct verdict *v);

/* Whether a file system of type found satisfies a request for type wanted (ext4 mounts
 * ext2 and ext3 too). */
bool verdict_type_matches(const char *wanted, const char *found);
