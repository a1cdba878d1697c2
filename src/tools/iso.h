/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot iso -o FILE`: a hybrid ISO image that boots a loopboot entry under BIOS and
 * UEFI, from optical media or written to a USB stick. It carries the kernel, an initramfs
 * with loopboot as /init and a GRUB entry with the entry's kernel command line, made into
 * an image by grub-mkrescue. What it shares with `loopboot pxe` is in src/tools/media.h.
 */
#pragma once

int iso_main(int argc, char **argv);
