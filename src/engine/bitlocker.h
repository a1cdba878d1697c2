/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BitLocker hosts. A Windows system partition encrypted with BitLocker (libblkid:
 * TYPE=BitLocker) is opened with libcryptsetup's BITLK support, loaded with dlopen only
 * when such a host is met, so that the binary (also the initramfs's /init) starts without
 * it. Activation only: nothing is ever written to the volume's metadata. The mapping is a
 * LAYER_CRYPT record below the host, and the host file system (NTFS) is mounted from it.
 */
#pragma once

#include <stdbool.h>

#include "engine/plan.h"

#define BITLOCKER_TYPE    "BitLocker" /* libblkid's TYPE */
#define BITLOCKER_DM_NAME "loopboot-bitlocker"
#define BITLOCKER_LIBRARY "libcryptsetup.so.12"
/* What to write when a BitLocker host comes without loopboot.bitlocker= (boot and check
 * say it in the same words). */
#define BITLOCKER_REASON                                                                           \
	"a BitLocker volume: Windows encrypted it, and its file system cannot be read "            \
	"without the recovery password"
#define BITLOCKER_TODO                                                                             \
	"add loopboot.bitlocker=ask to the kernel command line (the 48-digit recovery "            \
	"password is asked on the console; Windows shows it: manage-bde -protectors -get "         \
	"C:), or loopboot.bitlocker=UUID=<device>:/path/to/file for a file holding it on "         \
	"another device"
#define BITLOCKER_NO_LIBRARY_TODO                                                                  \
	"install libcryptsetup12 (Debian: apt-get install libcryptsetup12) and build the "         \
	"initramfs with it: loopboot initrd --bitlocker, or update-initramfs -u with "             \
	"loopboot's hook"

/* The kernel modules (names and libkmod aliases) a BitLocker host needs: dm-crypt, dm-zero
 * (libcryptsetup maps the metadata areas as zeros) and the
 * ciphers BitLocker volumes use (AES-XTS since Windows 10, AES-CBC before), NULL-ended.
 * The engine loads them, `loopboot initrd --bitlocker` and `loopboot helpers modules
 * bitlocker` list them. */
extern const char *const bitlocker_modules[];

bool bitlocker_is_type(const char *blkid_type);

/*
 * A recovery password as people type it (48 digits, in 8 blocks of 6, with '-', spaces or
 * nothing between them) into the form libcryptsetup takes: the blocks joined by '-'.
 * Every block is a multiple of 11 below 720896 (BitLocker's check): a typo is found
 * before the volume is asked. Returns 0 with *ret (allocated), or -EINVAL with *ret_why
 * (static text, may contain %u: block number via *ret_block, 1-based; 0 for none).
 */
int bitlocker_recovery_password(const char *in, char **ret, const char **ret_why,
                                unsigned *ret_block);

/* What a key file holds, for libcryptsetup: a recovery password normalised, or the bytes
 * as they are (a startup key, .BEK) after trailing blanks of a text file. Allocated. */
char *bitlocker_key_from_file(const char *data, size_t len, size_t *ret_len);
