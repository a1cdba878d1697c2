/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot pxe DIR`: a netboot tree for a loopboot entry, DIR being the TFTP server's root:
 * vmlinuz, initrd.img, GRUB's network boot images made with grub-mknetdir
 * (grub/i386-pc/core.0 for BIOS PXE, grub/x86_64-efi/core.efi for UEFI), grub/grub.cfg
 * with the entry, and boot.ipxe, an iPXE script that boots the same without GRUB.
 */
#pragma once

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
