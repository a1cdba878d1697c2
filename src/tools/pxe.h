/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot pxe DIR`: a netboot tree for a loopboot entry, DIR being the TFTP server's root:
 * vmlinuz, initrd.img, GRUB's network boot images made with grub-mknetdir
 * (grub/i386-pc/core.0 for BIOS PXE, grub/x86_64-efi/core.efi for UEFI), grub/grub.cfg
 * with the entry, and boot.ipxe, an iPXE script that boots the same without GRUB.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

int pxe_main(int argc, char **argv);

/*
 * The iPXE script: "#!ipxe", then "kernel KERNEL initrd=INITRD ARGS", "initrd INITRD" and
 * "boot". iPXE splits a line at blanks and has no quoting, and joins a command's words with
 * one space: a word with single spaces is written as the kernel reads it ("w o r d" in
 * double quotes) and arrives whole. Returns 0 with *ret allocated, or -EINVAL with *ret_bad
 * set to a word iPXE cannot carry (a double quote, a blank other than single spaces, "${",
 * a piece that starts with '#' or is "||", "&&" or ";").
 */
int pxe_ipxe_script(const char *kernel, const char *initrd, char *const *args, size_t n_args,
                    char **ret, const char **ret_bad);

/*
 * The fleet options: one entry that boots every client from one image on a network
 * server. At most one of nbd, nfs, nfs4, http is set (the option's value as given).
 */
struct pxe_fleet {
	const char *nbd;        /* --nbd SERVER[:PORT][/EXPORT] */
	const char *nfs, *nfs4; /* --nfs, --nfs4 SERVER:/PATH[:OPTIONS] */
	const char *http;       /* --http http(s)://SERVER[:PORT]/PATH */
	const char *image;      /* --image /PATH: loop= on the NBD or NFS export; NULL: none */
	const char *overlay;    /* --overlay SPEC; NULL: tmpfs for NBD and NFS, none for HTTP */
	const char *ip;         /* --ip SPEC; NULL: dhcp */
	const char *sha256;     /* --sha256 HEX, or the digest of sha256_of */
	const char *sha256_of;  /* --sha256-of FILE (for messages); NULL: sha256 was typed */
};

/* Is any fleet option given? */
bool pxe_fleet_given(const struct pxe_fleet *f);

/*
 * The entry's kernel command line for the fleet: root=nbd:SERVER:PORT[/EXPORT],
 * root=nfs:SERVER:/PATH or root=nfs4:... (then loop=IMAGE when given, and
 * loopboot.overlay=SPEC, tmpfs by default), or loop=URL (with loopboot.sha256=HEX, and rw
 * unless an overlay is given or cmdline says ro or rw); then ip=SPEC (dhcp by default),
 * then cmdline (--cmdline's words, may be NULL) as it is. cmdline may hold ip=,
 * loopboot.overlay= and loopboot.sha256= instead of the options, never root= or loop=.
 * Returns 0 with *ret allocated, or -EINVAL with *ret_why allocated, a whole
 * "loopboot: pxe: ..." line.
 */
int pxe_fleet_cmdline(const struct pxe_fleet *f, const char *cmdline, char **ret, char **ret_why);

/* --nbd's SERVER[:PORT][/EXPORT]: 0 with *ret_server, *ret_port (10809 when absent) and
 * *ret_export (NULL when absent) allocated, or -EINVAL. */
int pxe_nbd_split(const char *v, char **ret_server, unsigned *ret_port, char **ret_export);
