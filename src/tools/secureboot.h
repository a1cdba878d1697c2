/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Secure Boot for boot media (`loopboot iso`, `loopboot pxe`): the signed chain from
 * Debian's packages. Firmware with Secure Boot on starts shim (shim-signed, signed by
 * Microsoft's UEFI CA) as the removable-media loader; shim starts GRUB
 * (grub-efi-amd64-signed, signed by Debian) from beside itself, and GRUB's linux command
 * asks shim to verify the kernel (Debian's kernels are signed by Debian's CA, the
 * certificate built into shim). The initramfs is not verified by anyone.
 *
 * The chain on a medium:
 *   ISO, in its EFI system partition (El Torito EFI image and hybrid GPT partition):
 *     EFI/BOOT/BOOTX64.EFI   shimx64.efi.signed
 *     EFI/BOOT/grubx64.efi   gcdx64.efi.signed (GRUB for CDs: prefix /boot/grub)
 *     EFI/BOOT/mmx64.efi     mmx64.efi.signed (MokManager, for MOK enrolment)
 *     boot/grub/grub.cfg     finds the ISO 9660 file system by a marker, sources its
 *                            /boot/grub/grub.cfg
 *   PXE, in the TFTP root: bootnetx64.efi (shim), grubx64.efi (grubnetx64.efi.signed,
 *   prefix /grub: it reads grub/grub.cfg), mmx64.efi.
 *
 * A signed GRUB loads no module: grub.cfg may only use what is built into it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "basic/util.h"

#define SB_SHIM      "/usr/lib/shim/shimx64.efi.signed"
#define SB_MOKMGR    "/usr/lib/shim/mmx64.efi.signed"
#define SB_GRUB_DIR  "/usr/lib/grub/x86_64-efi-signed"
#define SB_GRUB_CD   SB_GRUB_DIR "/gcdx64.efi.signed"
#define SB_GRUB_NET  SB_GRUB_DIR "/grubnetx64.efi.signed"
#define SB_PACKAGES  "shim-signed grub-efi-amd64-signed"
#define SB_SBVERIFY  "sbverify"
#define SB_SBSIGNPKG "sbsigntool"

/* ---- pure ------------------------------------------------------------------------------ */

enum sb_mode { SB_AUTO, SB_ON, SB_OFF };
/* "auto", "on", "off" -> *ret: 0, or -EINVAL. */
int sb_mode_parse(const char *s, enum sb_mode *ret);

enum sb_medium { SB_MEDIUM_CD, SB_MEDIUM_NET };

struct sb_file {
	const char *source;  /* the package's file */
	const char *dest;    /* where it goes: in the ESP (CD), in the TFTP root (net) */
	const char *package; /* the Debian package that has it */
};

/* The files of the chain for a medium (a static table); *ret_n of them. */
const struct sb_file *sb_chain(enum sb_medium medium, size_t *ret_n);

enum sb_choice {
	SB_USE_CHAIN, /* the signed chain */
	SB_UNSIGNED,  /* grub-mkrescue's / grub-mknetdir's own unsigned loader */
	SB_REFUSE,    /* on, and the chain is not installed */
};
/* What a mode gives when the chain's files are installed (chain_installed) or not. */
enum sb_choice sb_decide(enum sb_mode mode, bool chain_installed);

/*
 * The contents of the PE section named name (a long name through the COFF string table) of a
 * PE/COFF image held in buf: 0 with *ret and *ret_len pointing into buf, -ENOEXEC when buf is not a
 * PE image, -ENOENT when it has no such section, -EBADMSG when the section lies outside buf.
 */
int sb_pe_section(const unsigned char *buf, size_t n, const char *name, const unsigned char **ret,
                  size_t *ret_len);

/*
 * The certificate shim trusts besides the firmware's db (Debian's CA for Debian's shim):
 * shim's .vendor_cert section is a table (authorized size, deauthorized size, authorized
 * offset, deauthorized offset: little-endian 32-bit, offsets from the section's start)
 * followed by the DER certificate. Returns 0 with *ret and *ret_len pointing into buf, or the
 * errors of sb_pe_section; -EBADMSG when the table is inconsistent or the certificate is
 * not a DER SEQUENCE, -ENOENT when shim has no vendor certificate (size 0).
 */
int sb_vendor_cert(const unsigned char *buf, size_t n, const unsigned char **ret, size_t *ret_len);

/* A DER certificate as PEM ("-----BEGIN CERTIFICATE-----", base64 in 64-column lines). */
char *sb_pem(const unsigned char *der, size_t n);

/*
 * The names of the GRUB modules built into a signed GRUB image held in buf: its "mods"
 * section's module list ("mimg": ELF objects, each naming itself in .modname). 0 with
 * *ret filled, -ENOEXEC / -ENOENT / -EBADMSG as sb_pe_section, or when the list is not one.
 */
int sb_grub_modules(const unsigned char *buf, size_t n, struct strv *ret);

/*
 * The first module grub.cfg text cfg loads with insmod that is not in builtin (NULL when
 * there is none): a signed GRUB cannot load it. Allocated.
 */
char *sb_cfg_missing_module(const char *cfg, const struct strv *builtin);

/* The ESP's grub.cfg for the ISO: finds the ISO 9660 file system by marker (a path such
 * as "/.disk/loopboot-0123abcd"), and sources its /boot/grub/grub.cfg. */
char *sb_esp_grub_cfg(const char *marker);

/* ---- effects --------------------------------------------------------------------------- */

struct sb_request {
	const char *cmd; /* "iso" or "pxe", for messages */
	enum sb_mode mode;
	enum sb_medium medium;
	const char *kernel, *kernel_name; /* the kernel to check (NULL: none) */
	bool kernel_at_boot;              /* --kernel-from image: GRUB loads the image's at boot */
	const char *cfg;                  /* the grub.cfg the signed GRUB is to run */
};

/*
 * Decides whether the medium gets the signed chain, saying so in one line on stdout:
 * with it, the signed GRUB must have every module cfg loads and the kernel must pass
 * sbverify against shim's vendor certificate (on: else refused; auto: else the unsigned
 * loader, or a warning for the kernel). Returns 1 (the chain), 0 (the unsigned loader) or
 * -1 after one loopboot: line (refused).
 */
int sb_resolve(const struct sb_request *q);
