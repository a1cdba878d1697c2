/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Boot media for a loopboot entry: `loopboot iso` (a hybrid ISO that boots under BIOS and
 * UEFI, from optical media or written to a USB stick) and `loopboot pxe` (a netboot tree,
 * src/pxe.c). Both carry a kernel, an initramfs with loopboot as /init, and a GRUB entry
 * with the entry's kernel command line; GRUB's own tools (grub-mkrescue, grub-mknetdir)
 * make the boot images.
 *
 * The pure parts (the kernel's version from its header, grub.cfg, graft-point escaping)
 * are separate from the parts that read files and run programs; the shared parts are here
 * for pxe.c, under the media_ prefix.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "basic/util.h"

int iso_main(int argc, char **argv);

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

/* ---- shared by iso and pxe ----------------------------------------------------------- */

struct media_options {
	const char *cmd; /* "iso" or "pxe", for messages */
	const char *kernel, *initrd, *cmdline, *title, *modules_dir;
	unsigned timeout;
};

struct media {
	char *kernel;         /* the kernel file, symlinks resolved */
	char *kernel_version; /* from its header; NULL when it has none */
	char *initrd;         /* the given initramfs (resolved), or NULL: build one */
	char *title;
	struct strv words; /* the kernel's words */
};

/*
 * Parses the options media commands share into o. Returns -1 when the option was not one
 * of them (the caller handles it), 0 when it was, 2 on a usage error (after a message).
 * Long options: --kernel, --initrd, --cmdline, --title, --timeout, --modules-dir, with
 * these values in the commands' option tables.
 */
int media_option(int c, const char *arg, struct media_options *o);
#define MEDIA_OPT_KERNEL      0x200
#define MEDIA_OPT_INITRD      0x201
#define MEDIA_OPT_CMDLINE     0x202
#define MEDIA_OPT_TITLE       0x203
#define MEDIA_OPT_TIMEOUT     0x204
#define MEDIA_OPT_MODULES_DIR 0x205

/*
 * Resolves what goes on the medium: the kernel (default /boot/vmlinuz-$(uname -r), else
 * /vmlinuz, /boot/vmlinuz), its version, the initramfs, the entry's words (default
 * /proc/cmdline without BOOT_IMAGE= and initrd=) and title. Checks that the programs and
 * GRUB's modules for both platforms are installed (progs: NULL-terminated program names).
 * Returns 0, 1 (failure, after a message) or 2 (bad input, after a message).
 */
int media_prepare(const struct media_options *o, const char *const *progs, struct media *m);
void media_free(struct media *m);

/*
 * Builds the initramfs for m->kernel's version with loopboot's own builder (in a child
 * process) into the file out. Returns 0 or -1 after a message.
 */
int media_build_initrd(const struct media_options *o, const struct media *m, const char *out);

/*
 * Runs argv (argv[0] a program name, looked up like initrd_find_program) with stdout and
 * stderr going to log_fd. A SIGINT/SIGTERM/SIGHUP that arrives meanwhile is passed on to
 * it. Returns 0, or -1 after a message naming the program and the last lines of the log.
 */
int media_run(const char *cmd, char *const argv[], int log_fd);

/* Signals: SIGINT, SIGTERM and SIGHUP are noted (and passed to the running child); after
 * the caller's cleanup, media_signals_done() re-raises the one that came. */
void media_signals_catch(void);
bool media_interrupted(void);
void media_signals_done(void);
