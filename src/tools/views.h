/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Looking inside a host and its images without changing them, for the user commands
 * (check, iso, grub): read-only mounts (journals not replayed, loop devices read-only) in
 * a private mount namespace, each kept only through a descriptor: detached at once, so
 * that nothing of ours stays mounted should we die, and released when the descriptor is
 * closed. A view's path (/proc/PID/fd/N, or the system's own mount point) works for this
 * process and the programs it starts.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "engine/device.h"
#include "engine/disk.h"
#include "engine/plan.h"

struct modules;

struct view {
	int fd;
	char *path;
};

struct views {
	bool in_ns;
	char *scratch; /* where our mounts are made before they are detached */
	unsigned seq;
	struct view *v;
	size_t n;
	pid_t host_daemon; /* the FUSE daemon of our own host mount, waited for at release */
};

/* Enters a private mount namespace (once) with a scratch directory. 0 or -errno. */
int views_enter(struct views *vs);
/* Adds a view of the directory open as fd (taken over); path NULL: /proc/PID/fd/N. */
int views_add(struct views *vs, int fd, const char *path);
/* Mounts source (type, options) read-only in the scratch directory and keeps it as a
 * view. Returns the view's index, or -errno (nothing printed). */
int views_mount(struct views *vs, const char *source, const char *type, const char *options);
/* The mount at dir, made by the caller in views_scratch_dir(), kept as a view. */
int views_detach(struct views *vs, const char *dir);
char *views_scratch_dir(struct views *vs);

static inline const char *views_path(const struct views *vs, int i)
{
	return vs->v[i].path;
}
static inline int views_fd(const struct views *vs, int i)
{
	return vs->v[i].fd;
}

/* Closes every view (their mounts go), waits for our FUSE daemon, removes the scratch. */
void views_release(struct views *vs);

/*
 * The root of the image an entry boots (plan: root=, loop=), looked into read-only: the
 * host where it is mounted already, else mounted here; each nested image where it is in
 * use (the running system's root), else on a read-only loop device. An image that is a
 * disk image (a VM's disk: disk_resolve()) is looked into in its partition, the one
 * loopboot.part= names for the first disk of the path (the boot's choice), on a loop device
 * over that partition's bytes. Returns the view's index, or -errno after one loopboot:
 * line naming cmd (for a disk without the partition: its listing below it).
 */
int views_open_entry(struct views *vs, struct modules *m, const struct plan *p, const char *cmd);
/* The same, with the index of the host's view in ret_views[0] and of image i's root in
 * ret_views[i + 1] (p->loop.n + 1 of them), and, when ret_slices is not NULL, what image i
 * is as a disk image in ret_slices[i] (p->loop.n of them; disk.h.format DISK_NONE for a
 * file system image; each to be freed with disk_slice_done(), also after a failure). */
int views_open_layers(struct views *vs, struct modules *m, const struct plan *p, const char *cmd,
                      int *ret_views, struct disk_slice *ret_slices);

/* The loop device attached to the open file at offset (a partition of a disk image in use:
 * the running system's root), "/dev/loop0", or NULL. */
char *views_loop_of(int fd, uint64_t offset);

/* Prints a disk image's partitions, one line each (disk_part_line()), every line starting
 * with indent. */
void views_list_parts(FILE *f, const char *indent, const struct disk *d);
/* A disk image disk_resolve() refused, in the engine's words (its verdict v) on one
 * "loopboot: CMD: ..." line, with the partitions below it when the choice was the problem
 * ("loopboot:   N  TYPE ...", as the boot lists them). Returns -v->err. */
int views_disk_failed(const struct verdict *v, const struct disk_slice *s, const char *cmd);

/*
 * The kernel of the image whose root directory is open as rootfd, as a path there: /vmlinuz
 * (the link Debian keeps to the current kernel), else /boot/vmlinuz (Ubuntu's), else the
 * newest /boot/vmlinuz-VERSION. NULL when the image has none. With ret_initrd, also the
 * initramfs that goes with it (views_initrd_for), NULL when the image does not have it.
 */
char *views_image_kernel(int rootfd, char **ret_initrd);
/* The initramfs beside a kernel: /vmlinuz -> /initrd.img, /boot/vmlinuz-6.1.0-18-amd64 ->
 * /boot/initrd.img-6.1.0-18-amd64; NULL when the file's name does not start with vmlinuz. */
char *views_initrd_for(const char *kernel);
