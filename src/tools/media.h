/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What boot media for a loopboot entry share: `loopboot iso` (src/tools/iso.c, a hybrid
 * ISO that boots under BIOS and UEFI) and `loopboot pxe` (src/tools/pxe.c, a netboot
 * tree). Both carry a kernel, an initramfs with loopboot as /init, and a GRUB entry with
 * the entry's kernel command line; GRUB's own tools (grub-mkrescue, grub-mknetdir) make
 * the boot images.
 *
 * The pure parts (the kernel's version from its header, grub.cfg, graft-point escaping)
 * are separate from the parts that read files and run programs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "basic/util.h"
#include "tools/views.h"

/* ---- pure ------------------------------------------------------------------------------ */

/*
 * The kernel release ("6.1.0-18-amd64") from the first bytes of an x86 bzImage (the boot
 * protocol's setup header: "HdrS", kernel_version). Returns 0 with *ret allocated,
 * -ENOEXEC when the bytes are not such a kernel, -EINVAL when it has no version string.
 */
int media_kernel_version(const unsigned char *head, size_t n, char **ret);

struct media_entry {
	const char *title;
	const char *kernel, *initrd; /* as GRUB opens them: "/boot/vmlinuz" */
	char *const *args;           /* the kernel's words, unquoted, as the kernel sees them */
	size_t n_args;
	unsigned timeout; /* seconds the menu waits */
};

/*
 * A whole grub.cfg with one menuentry: the console also on the first serial port when
 * there is one, the menu's timeout, then "linux KERNEL ARGS" and "initrd INITRD", every
 * word quoted for GRUB (grub_quote).
 */
char *media_grub_cfg(const struct media_entry *e);

/* A path for xorriso's -graft-points: '\' and '=' escaped with '\'. */
char *media_graft_escape(const char *path);

/* ---- the commands' options ------------------------------------------------------------ */

struct media_options {
	const char *cmd;    /* "iso" or "pxe", for messages */
	const char *output; /* -o FILE, for a command that takes it */
	const char *kernel, *initrd, *cmdline, *title, *modules_dir;
	const char *kernel_from; /* "media" (default): on the medium; "image": GRUB loads the
	                          * image's own at boot */
	unsigned timeout;
	int secure_boot;     /* enum sb_mode (tools/secureboot.h): --secure-boot auto|on|off */
	bool output_allowed; /* the command takes -o (iso) */
	bool force;          /* iso -o DEVICE: write a device that is not removable */
	bool network;        /* the entry's host is on the network (pxe's fleet options) */
};

/*
 * Parses the options of the media command cmd into *ret: --kernel, --initrd, --cmdline,
 * --title, --timeout, --modules-dir, --kernel-from, --secure-boot, --help (which prints usage to
 * stdout), and -o/--output FILE when with_output. A command with -o (iso) takes no argument, so
 * options end at the first one; without it (pxe DIR) options may also follow the argument. Returns
 * -1 to go on, with optind at the first argument, or the exit status: 0 after --help, 2 after a
 * message.
 */
int media_parse_args(const char *cmd, bool with_output, const char *usage, int argc, char **argv,
                     struct media_options *ret);

/* media_parse_args() that also takes a command's own options, extra[0..n_extra) (pxe's
 * fleet options). */
struct opt;
int media_parse_args_with(const char *cmd, bool with_output, const char *usage, int argc,
                          char **argv, const struct opt *extra, size_t n_extra,
                          struct media_options *ret);

/* ---- what goes on the medium ---------------------------------------------------------- */

struct media {
	char *kernel;         /* the kernel file, symlinks resolved */
	char *kernel_name;    /* for messages: the path, or "/boot/vmlinuz-... in the image" */
	char *kernel_version; /* from its header; NULL when it has none */
	char *initrd;         /* the given initramfs (resolved), or NULL: build one */
	char *modules_dir;    /* where to build it from: --modules-dir, or the kernel's own */
	char *title;
	struct strv words;  /* the kernel's words */
	char *grub_entry;   /* --kernel-from image: the menuentry that loads them at boot */
	struct views views; /* the entry's image, looked into read-only */
	bool secure_boot;   /* the signed chain (tools/secureboot.h) instead of GRUB's own */
	bool network;       /* a network host (root=nbd:, nfs:, nfs4:, loop=http://, ip=, or
	                     * o->network): the initramfs is built with --network */
};

/*
 * Resolves what goes on the medium: the kernel (--kernel, else the image's own, from
 * inside the image the entry names: its /vmlinuz, else its newest /boot/vmlinuz-VERSION,
 * with the modules beside it there), its version, the initramfs, the entry's words
 * (default /proc/cmdline without BOOT_IMAGE= and initrd=) and title; with --kernel-from
 * image, the GRUB entry that loads the image's /vmlinuz and /initrd.img at boot instead. Checks
 * that the programs and GRUB's modules for both platforms are installed (progs: NULL-terminated
 * program names), and decides on the signed chain for UEFI (--secure-boot, sb_resolve). Returns 0,
 * 1 (failure, after a message) or 2 (bad input, after a message).
 */
int media_prepare(const struct media_options *o, const char *const *progs, struct media *m);
void media_free(struct media *m);

/* grub.cfg (media_grub_cfg) for m, its kernel and initramfs at these paths on the medium. */
char *media_grub_cfg_for(const struct media_options *o, const struct media *m, const char *kernel,
                         const char *initrd);

/*
 * Builds the initramfs for m->kernel's version into the file out by running this binary
 * as `loopboot initrd` (saying so on stdout first), with --network for a network host
 * (m->network). Returns 0 or -1 after a message.
 */
int media_build_initrd(const struct media_options *o, const struct media *m, const char *out);

/*
 * Runs argv (argv[0] a program name, looked up in $PATH and the usual directories) with
 * stdout and stderr going to the log work/ARGV0.log; what (e.g. "making the image") names
 * the step in messages. A SIGINT/SIGTERM/SIGHUP that arrives meanwhile is passed on to
 * it. Returns 0, or -1 after a message naming the program and the last lines of the log.
 */
int media_run(const struct media_options *o, const char *what, char *const argv[],
              const char *work);

/* Signals: SIGINT, SIGTERM and SIGHUP are noted (and passed to the running child); after
 * the caller's cleanup, media_signals_done() re-raises the one that came. */
void media_signals_catch(void);
bool media_interrupted(void);
void media_signals_done(void);
