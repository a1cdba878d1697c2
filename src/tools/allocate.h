/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Room for an image on its host, fully allocated: fallocate where the host can preallocate,
 * else zeros written with a progress bar (FUSE hosts, FAT), so that no block of an image is
 * a hole that fails to be written later, when the host is full. create makes new images
 * with it, resize grows them.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct mount_entry;

#define ALLOCATE_FAT_MAX_FILE 0xffffffffULL /* FAT files end below 4 GiB */

/* Set by SIGINT, SIGTERM or SIGHUP while they are caught: allocation stops at the next
 * chunk with -EINTR. */
extern volatile sig_atomic_t allocate_interrupted;

struct allocate_signals {
	struct sigaction old[3];
};
void allocate_catch_signals(struct allocate_signals *s);
void allocate_restore_signals(const struct allocate_signals *s);

/*
 * Allocates [offset, offset + len) of the open file: fallocate, or zeros written where the
 * host cannot preallocate (cmd names the progress lines), then fsync. *ret_how gets how
 * ("preallocated with fallocate", "written with zeros ..."). Returns 0 or -errno, nothing
 * printed (-EINTR: interrupted).
 */
int allocate_range(int fd, uint64_t offset, uint64_t len, const char *cmd, const char **ret_how);

/* Whether the mount is FAT (the kernel's or fusefat), whose files hold 4 GiB - 1 byte. */
bool allocate_host_is_fat(const struct mount_entry *m);

/*
 * Whether the host directory dir (open as dirfd) can take a file of file_size bytes that
 * needs need more bytes allocated: FAT's file size limit and the free space the host
 * reports. size_word is how the command's size is given ("--size", "SIZE"), for the
 * advice. Returns 0, or -errno after one loopboot: line naming cmd.
 */
int allocate_check_room(const char *cmd, const char *path, int dirfd, const char *dir,
                        uint64_t file_size, uint64_t need, const char *size_word);
