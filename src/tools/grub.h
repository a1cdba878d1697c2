/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot grub`: a GRUB menuentry for a loopboot boot entry. GRUB finds the host by its
 * file system UUID (or label), opens the image with its loopback command (nested images
 * chained: loop1 inside loop0) and by default loads the kernel and initramfs from inside
 * the image, so that a kernel upgraded in the image is the one that boots. A disk image (a
 * VM's disk) is opened whole and read in its partition, (loop0,gpt2)/vmlinuz; a VDI, whose
 * disk does not start at the file's byte 0, is refused with the kernel from inside it.
 *
 * The text is made by a pure formatter (grub_format_entry) from plain data; grub_main()
 * fills the data from the command line, libblkid and, when the host is mounted, the
 * images themselves.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "basic/util.h"
#include "engine/plan.h"

int grub_main(int argc, char **argv);

struct grub_options {
	const char *cmdline;         /* the entry's command line */
	const char *title;           /* NULL: "Linux from IMAGE (loopboot)" */
	const char *kernel, *initrd; /* NULL: the defaults of from_host */
	bool from_host;              /* the kernel beside the image, not inside it */
};

/*
 * The menuentry for plan p (parsed from o->cmdline), as `loopboot grub` prints it: the host
 * found by its UUID or label, the image opened with loopback. Returns 0 with *ret_text
 * (allocated), or the exit status (after a message).
 */
int grub_make_entry(const struct plan *p, const struct grub_options *o, char **ret_text);

enum grub_search { GRUB_SEARCH_FS_UUID, GRUB_SEARCH_LABEL };

struct grub_layer {
	const char *path;   /* inside the previous layer (the host for the first) */
	const char *fstype; /* blkid's name; NULL when not known (GRUB's ext2 is assumed) */
	/* A disk image (a VM's disk): the file GRUB's loopback opens when it is not path (a
	 * VMDK's -flat extent, in the same layer), NULL for path itself; and the partition
	 * that holds the next layer or the kernel as GRUB names it ("gpt2", "msdos1"), NULL
	 * for the whole file. */
	const char *file;
	const char *partition;
};

struct grub_entry {
	const char *title;
	enum grub_search search;
	const char *search_value; /* the host's file system UUID, or its label */
	const char *host_fstype;  /* NULL: not known, modules for the usual hosts are loaded */
	bool kernel_from_host;    /* false: from inside the (innermost) image */
	unsigned n_layers;
	struct grub_layer layers[PLAN_MAX_LAYERS];
	const char *kernel, *initrd; /* paths in the innermost image, or on the host */
	char *const *args;           /* the kernel's words, unquoted, as the kernel sees them */
	size_t n_args;
};

/* The menuentry, ending in "}\n". */
char *grub_format_entry(const struct grub_entry *e);

/*
 * The name of GRUB's loopback device for layer (0: the image on the host) of the entry:
 * "loopboot-" and 8 hex digits of a hash of the host (how it is searched, the value) and
 * the image paths up to that layer. The same image always has the same name, different
 * images (or layers) have different ones, so that the entries of one menu do not share a
 * device. The partition of a disk image counts for the layers inside it: the same path in
 * two partitions of one disk is two images. check recognises the image's kernel by
 * BOOT_IMAGE=(loop...: the prefix keeps it.
 */
#define GRUB_LOOP_PREFIX "loopboot-"
char *grub_loop_name(const struct grub_entry *e, unsigned layer);

/* GRUB's name of partition number of a table as libblkid names it ("gpt" -> "gpt2", "dos"
 * -> "msdos2"); NULL for another table. Allocated. */
char *grub_partition_name(const char *table, unsigned number);

/* grub_main's exit status when the image has no kernel or initramfs to boot: a warning said
 * so and no entry is printed (42_loopboot goes on with the next line). */
#define GRUB_EXIT_NO_KERNEL 3

/* One word for GRUB's shell-like parser: as is when it is plain, else in single quotes. */
char *grub_quote(const char *word);

/* GRUB's module for a file system type as blkid names it ("ext4" -> "ext2"); NULL: none. */
const char *grub_module_for(const char *fstype);

/*
 * The kernel's words of a command line for the linux command: root= and loop= first, then
 * the others in order; BOOT_IMAGE= and initrd= (added by the boot loader) are dropped.
 * Returns 0 or -ENOMEM.
 */
int grub_kernel_words(const char *cmdline, struct strv *ret);
