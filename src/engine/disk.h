/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disk images: a file that holds a whole disk (a partition table and partitions), as a
 * virtual machine uses it, recognised by its content, never by its name.
 *
 * - raw: the disk's bytes from offset 0;
 * - fixed VHD: the same bytes, then a 512-byte footer ("conectix", disk type 2);
 * - fixed VDI: VirtualBox's header, the disk's bytes at the header's data offset (its
 *   block map must list every block in order);
 * - VMDK monolithicFlat: a text descriptor naming one FLAT extent, a file beside it that
 *   holds the bytes (from the extent's offset).
 * Dynamic and differencing VHD, VHDX, dynamic VDI, qcow2 and sparse VMDK are recognised and
 * refused with the qemu-img command that converts them.
 *
 * Parsing the containers, choosing the partition and the words of the listing are pure and
 * unit-tested; disk_resolve() reads a real file (libblkid for the partition table and the
 * file systems inside).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/plan.h"
#include "engine/verdict.h"

enum disk_format {
	DISK_NONE,      /* not a disk image container (a file system image, or unknown) */
	DISK_RAW,       /* a partition table at offset 0 */
	DISK_VHD_FIXED, /* data at 0, footer in the last 512 bytes */
	DISK_VDI_FIXED, /* data at the header's offset */
	DISK_VMDK_FLAT, /* a descriptor; the data in the extent file */
	/* recognised, refused */
	DISK_VHD_DYNAMIC,
	DISK_VHD_DIFFERENCING,
	DISK_VHDX,
	DISK_VDI_DYNAMIC,
	DISK_QCOW2,
	DISK_VMDK_SPARSE, /* a sparse extent ("KDMV"), or a descriptor of a sparse or split disk */
	_DISK_FORMAT_MAX,
};

/* "raw disk image", "fixed VHD", "dynamic VDI", ...: for messages. */
const char *disk_format_name(enum disk_format f);
/* "raw", "vhd-fixed", "vdi-fixed", "vmdk-flat", ...: for the state record and JSON. */
const char *disk_format_key(enum disk_format f);
/* The name for a key ("vhd-fixed" -> "fixed VHD"); the key itself when unknown. */
const char *disk_format_name_of_key(const char *key);
/* Whether loopboot maps the format (raw, fixed VHD, fixed VDI, flat VMDK). */
bool disk_format_mappable(enum disk_format f);

/* Bytes disk_header_parse() wants from the start of the file (a VMDK descriptor is text). */
#define DISK_HEAD_BYTES 65536

struct disk_header {
	enum disk_format format;
	uint64_t data_offset; /* where the disk's byte 0 is in the data file */
	uint64_t data_size;   /* the disk's size in bytes */
	char *extent;         /* VMDK: the extent file as the descriptor names it; else NULL */
	/* VDI: where its block map is and how many blocks (disk_vdi_map_check) */
	uint64_t vdi_map_offset;
	uint32_t vdi_blocks, vdi_block_size;
	char *why; /* a mappable-looking container that is still refused: why; else NULL */
};
void disk_header_done(struct disk_header *h);

/*
 * Pure: what the container is, from head (the first n bytes of the file, n = min(size,
 * DISK_HEAD_BYTES)) and tail (its last 512 bytes, or NULL when the file is shorter).
 * A file that is none of the containers is DISK_RAW when it is at least 1 KiB (whether a
 * partition table is there is libblkid's to say), DISK_NONE otherwise. Returns 0, or
 * -EINVAL with ret->why for a container that is damaged (a fixed VHD's size beyond the
 * file, a VDI whose data offset is past its end).
 */
int disk_header_parse(const unsigned char *head, size_t n, const unsigned char *tail,
                      uint64_t file_size, struct disk_header *ret);

/* Pure: whether a fixed VDI's block map (blocks little-endian 32-bit entries) lists block i
 * at i for every i, so that the data is one run. */
bool disk_vdi_map_in_order(const unsigned char *map, uint32_t blocks);

/* A partition of a disk image. */
struct disk_part {
	unsigned number;             /* as the table numbers it: 1, 2, ... (MBR logical: 5, ...) */
	uint64_t start, size;        /* bytes, on the disk */
	char *type;                  /* GPT: the type GUID in lower case; MBR: "0x83" */
	char *partuuid;              /* GPT: the partition's GUID; MBR: "1234abcd-02" */
	char *partlabel;             /* GPT: its name; NULL when none */
	unsigned long long flags;    /* GPT attribute bits (63: no-auto), MBR: 0x80 bootable */
	char *fstype, *uuid, *label; /* its file system, as libblkid finds it; NULL: none */
};

struct disk {
	struct disk_header h;
	char *table; /* "gpt", "dos"; NULL: no partition table (the data is one file system) */
	struct disk_part *parts;
	size_t n_parts;
};
void disk_done(struct disk *d);

/* The GPT root type of this machine's architecture (x86-64: 4f68bce3-...-fbcaf984b709). */
extern const char *const disk_root_type;
/* A name for a partition type: "EFI system", "Linux root (x86-64)", "Linux filesystem",
 * "Microsoft basic data", "0x83 Linux"...; the type itself when unknown. */
const char *disk_part_type_name(const char *table, const char *type);
/* Whether a file system type is a Linux one (a root can be on it): ext2/3/4, xfs, btrfs,
 * f2fs, squashfs, erofs, ... */
bool disk_fs_is_linux(const char *fstype);

/*
 * Pure: which partition is meant. sel names one (loopboot.part=, part=); without one
 * (PARTSEL_AUTO): the single GPT partition typed as this architecture's root (without
 * the no-auto bit 63), else the single partition holding a Linux file system.
 * Returns 0 with *ret_index and *ret_why (allocated: "loopboot.part=2", "its GPT type is
 * Linux root (x86-64)", "the only partition with a Linux file system"); or -ENOENT (none
 * matches) / -ENOTUNIQ (more than one) with *ret_why the reason (allocated). A disk
 * without a partition table: -ENOENT unless the selector is AUTO (then index 0 of no
 * partition: the caller takes the whole data; see disk_resolve()).
 */
int disk_choose(const struct disk *d, const struct partsel *sel, size_t *ret_index, char **ret_why);

/* One line of the listing: "2  Linux root (x86-64)  3.0 GiB  ext4  UUID=…  LABEL=…  PARTLABEL=…".
 * Allocated. */
char *disk_part_line(const struct disk_part *p, const char *table);

/* The conversion advice for a refused format, for the image at path (as on the command
 * line): "convert it: qemu-img convert -O raw /host/vm/a.qcow2 /host/vm/a.img (with the host
 * mounted at /host), then loop=/vm/a.img; or ...". Allocated. */
char *disk_convert_advice(enum disk_format f, const char *path);

/* What disk_resolve() found: the bytes to attach, in the data file. */
struct disk_slice {
	struct disk disk;
	bool has_part;   /* a partition was chosen (else: the whole data, a bare file system) */
	size_t index;    /* into disk.parts */
	char *why;       /* why that partition (allocated), NULL without one */
	uint64_t offset; /* bytes in the data file where the partition starts */
	uint64_t size;   /* its length in bytes */
	char *data_path; /* VMDK: the extent's path inside rootfd (normalised, absolute); NULL:
	                  * the image file itself */
};
void disk_slice_done(struct disk_slice *s);

/*
 * What the image file open as *fd (at path inside the directory rootfd; opened read-write
 * when writable) holds, when it is not a file system (libblkid finds none at its start: a
 * file system image, an ISO, anything the probe cannot judge is 0 here, for the verdict
 * to judge): reads the container (VDI: its block
 * map too; VMDK: opens the extent beside path, inside rootfd, and *fd becomes that file's
 * descriptor, the old one closed), then the partition table with libblkid and each
 * partition's file system, and chooses the partition by sel.
 * Returns 0 when the file is no disk image (nothing changed, ret zeroed), 1 with ret filled,
 * or -errno with *v filled: a refused format (VERDICT_DISK_FORMAT), a missing extent
 * (VERDICT_NOT_FOUND), no or more than one partition (VERDICT_PARTITION: ret->disk keeps
 * the table so that the caller can list it). Prints nothing.
 */
int disk_resolve(int rootfd, const char *path, int *fd, bool writable, const struct partsel *sel,
                 struct disk_slice *ret, struct verdict *v);

/*
 * Reads the facts of the slice (its size, the bytes of it allocated in the file, the file
 * system libblkid finds at its offset, the size that file system claims) into f, as
 * image_facts_read() does for a whole file.
 */
void disk_slice_facts(int fd, const struct disk_slice *s, struct image_facts *f, char **ret_type);

/* Pure: the refusal of a selector given for a path in which no file is a disk image
 * (for_root: loopboot.part=, else part= of a loopboot.mount= entry). *ret_value gets the
 * selector's text, which v->value points to. Returns -EINVAL. */
int disk_selector_unused(const struct imagepath *ip, bool for_root, struct verdict *v,
                         char **ret_value);

/* "partition 2 of the fixed VHD /vm/disk.vhd": for messages. Allocated. */
char *disk_slice_describe(const struct disk_slice *s, const char *path);
