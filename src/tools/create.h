/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL] [--overlay|--disk]`: a
 * new image file, fully allocated (never sparse: a sparse image on NTFS or FAT fails in the
 * middle of a write when the host fills up, and fragments), with a file system in it; with
 * --overlay, a persistent overlay layer: upper/ and work/ (root's, 0755) at its root, the
 * layout dracut uses, for loopboot.overlay=PATH; with --disk, a GPT disk image as a virtual
 * machine uses it: an EFI system partition (GRUB for UEFI in it when this machine has
 * grub-mkimage and mtools) and the root partition, typed x86-64 root, with the file system.
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
	bool disk;         /* a GPT disk image (a VM's disk): an EFI system partition, then the root
	                    * partition (typed x86-64 root) with the file system fs */
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

/* ---- --disk: a GPT disk image ------------------------------------------------------- */

#define CREATE_ESP_TYPE "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

/* Where the partitions of a disk image of size bytes go (bytes, 1 MiB aligned): the EFI
 * system partition from 1 MiB (64 MiB, 32 MiB on a disk under 1 GiB), the root after it
 * up to the last whole MiB before the backup GPT. */
struct create_disk_layout {
	uint64_t esp_start, esp_size;
	uint64_t root_start, root_size;
};
/* The smallest disk: 1 MiB, a 32 MiB ESP, a 16 MiB root, 1 MiB. */
#define CREATE_DISK_MIN (50ULL << 20)
/* 0, or -EINVAL with *ret_why (static) when size is below CREATE_DISK_MIN. */
int create_disk_layout(uint64_t size, struct create_disk_layout *ret, const char **ret_why);
/* The grub.cfg that --disk puts beside GRUB for UEFI in the EFI system partition: it finds
 * the root partition's file system by its UUID and boots its /vmlinuz and /initrd.img with
 * root=PARTUUID= (the disk as a virtual machine's own). Allocated. */
char *create_esp_grub_cfg(const char *fs_uuid, const char *partuuid);
/* sfdisk's script for the layout (label gpt, sectors of 512 bytes, the partitions' types and
 * names "esp" and "root"). Allocated. */
char *create_disk_script(const struct create_disk_layout *l);

/*
 * Parses a size: digits with an optional K, M, G or T suffix (powers of 1024; "KiB",
 * "MB" and lower case are accepted too). Returns 0, or -EINVAL/-ERANGE with *ret_why set
 * to a static text. Does not check the 4096-byte multiple (create_main does, to name the
 * nearest good size).
 */
int create_parse_size(const char *s, uint64_t *ret, const char **ret_why);
