/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --host-only: what this machine needs to boot again the way it booted now. Only facts are
 * read here (the state record, mountinfo, sysfs); turning them into modules and files is
 * the builder's job.
 */
#pragma once

#include "basic/util.h"

struct hostonly {
	/* Lookup keys for libkmod (module names, "fs-TYPE" aliases, device modaliases) and,
	 * in parallel, why each is wanted ("file system of the host (ntfs3)"). */
	struct strv modules;
	struct strv reasons;
	/* FUSE driver programs the boot used or will need ("ntfs-3g"), by name. */
	struct strv programs;
	/* The host is a BitLocker volume (a crypt record, or the root's device is on a
	 * BitLocker mapping): libcryptsetup and dm-crypt's modules go in too. */
	bool bitlocker;
	/* Where the facts came from: "the state record /run/loopboot/state" or "the mounts
	 * (no state record)". Static string. */
	const char *source;
};

/*
 * Fills h from state_file (the engine's record) when it exists, else from mountinfo's
 * root mount. sysfs is "/sys" (a fake tree for tests); dev_root prefixes device nodes
 * named in the state record ("" normally). Always adds "loop". Returns 0, or -errno when
 * neither source can be read.
 */
int hostonly_detect(struct hostonly *h, const char *state_file, const char *mountinfo,
                    const char *sysfs, const char *dev_root);

/*
 * Adds the drivers of block device maj:min: for it and every parent device in sysfs, the
 * module of its bound driver (or the driver's name) and its modalias; for a device-mapper
 * or md device also its slaves, for a loop device also "loop". *ret_backing_file
 * (optional) gets a loop device's backing file, or NULL.
 */
void hostonly_add_block_device(struct hostonly *h, const char *sysfs, unsigned maj, unsigned min,
                               const char *what, char **ret_backing_file);

/* Adds the module(s) for file system type fstype ("vfat" also brings its code pages). */
void hostonly_add_fstype(struct hostonly *h, const char *fstype, const char *what);

void hostonly_done(struct hostonly *h);
