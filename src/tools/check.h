/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot check`: the doctor. Reads, never writes: finds the host of a boot entry, reads
 * its state, looks at every image (type, state, fragmentation), the drivers an initramfs
 * would need, and the root image's init and /etc/fstab. A disk image (a VM's disk) is
 * listed partition by partition, with the one the boot would take and why, and that
 * partition is checked as an image is. Where a file system has to be mounted to look
 * inside, it is mounted read-only (read-only loop devices, journals not replayed) in a
 * private mount namespace that vanishes with the process.
 *
 * Also the helpers `loopboot create` and `loopboot grub` share with it: FIEMAP fragment
 * counts, the loop device of a file, sizes for people.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/util.h"
#include "engine/device.h"

int check_main(int argc, char **argv);

/* ---- shared helpers ------------------------------------------------------------------- */

/*
 * Counts the fragments of an open file with FIEMAP: runs of extents that are contiguous
 * on the disk count once. Returns 0, or -EOPNOTSUPP when the file system does not report
 * extents (FUSE: ntfs-3g, fusefat).
 */
int check_fiemap_fragments(int fd, uint64_t *ret);

/* "8 GiB", "1.5 GiB", "300 MiB", "4096 bytes" */
char *check_format_size(uint64_t bytes);

/* ---- pure parts, for the unit tests --------------------------------------------------- */

/* What names the host in an fstab line. */
struct check_host_names {
	const char *devnode; /* /dev/sda3 */
	const char *uuid, *label, *partuuid, *partlabel;
	const char *spec; /* root= as written: "UUID=0123..." */
};

/*
 * Scans an fstab text for lines that would mount the host a second time: a source naming
 * it (UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/disk/by-*, the device node, root= as
 * written) or a mount point equal to hostdir. Appends "line N: <the line>" for each to
 * ret_auto, or to ret_noauto for lines with the noauto option (they are not mounted at
 * boot). Returns how many lines it found in all.
 */
/*
 * Whether an fstab text makes the root read-write after a read-only start (systemd's
 * remount-fs, Debian's checkroot): 1 when it has a line for / without the ro option, -1
 * when its line for / has ro, 0 when it has none. *ret_line gets the line's number.
 */
int check_fstab_root(const char *fstab, unsigned *ret_line);

unsigned check_fstab_host_lines(const char *fstab, const struct check_host_names *host,
                                const char *hostdir, struct strv *ret_auto,
                                struct strv *ret_noauto);
