/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's decisions, as pure functions of what it knows: whether the host and the
 * root are written, whether the boot is refused or becomes a volatile session, and for
 * each layer of an image path whether it is opened and attached for writing, mapped with
 * device-mapper or looped, mounted read-only, and checked before. boot.c asks; the unit
 * tests hold the whole table (tests/unit/test-decide.c).
 */
#pragma once

#include <stdbool.h>

struct host_facts {
	bool type_ro;       /* a read-only file system type (iso9660, squashfs, ...) */
	bool device_ro;     /* the block device is read-only (BLKROGET) */
	bool options_ro;    /* rootflags= says ro */
	bool unsafe;        /* hibernated, unclean journal, dirty (hoststate) */
	bool hibernated_ro; /* loopboot.hibernated=ro */
	bool plan_ro;       /* ro on the command line (the kernel's default) */
	bool linear;        /* loopboot.mode=linear asked for */
	bool overlay;       /* loopboot.overlay=: the root is a writable layer over the image */
};

struct host_choice {
	bool refuse;        /* unsafe, and no read-only session asked for */
	bool host_ro;       /* the host is never written */
	bool root_ro;       /* the root image is mounted read-only */
	bool volatile_root; /* read-only root under a memory overlay */
	bool linear;        /* linear mode still wanted (a volatile session uses loops) */
	bool warn_ro_host;  /* rw was asked on a host that cannot be written: say so */
};

struct host_choice decide_host(const struct host_facts *f);

struct layer_facts {
	bool probe;     /* the dry run: nothing may write */
	bool host_ro;   /* host_choice.host_ro */
	bool linear;    /* linear mode in force */
	bool on_host;   /* the file is on the host (the first part of an image path) */
	bool last;      /* the innermost file system, mounted at the target */
	bool read_only; /* the target is to be read-only (ro for the root) */
	bool base;      /* the read-only base of an overlay: no part of it is ever written */
	bool in_ram;    /* the file is a copy in RAM (loopboot.toram), not on the host */
};

struct layer_choice {
	bool map;       /* device-mapper linear instead of a loop device */
	bool open_rw;   /* open the image file for writing */
	bool device_ro; /* the loop device or mapping is read-only */
	bool mount_ro;  /* mount it read-only */
	bool no_replay; /* mount without replaying a journal (the dry run) */
	bool check;     /* run its checker first: it will be written */
	bool check_ro;  /* the checker may only look (-n): the dry run */
};

struct layer_choice decide_layer(const struct layer_facts *f);

/* The writable layer of an overlay root (loopboot.overlay=, or a volatile session). */
struct overlay_facts {
	int kind;      /* enum plan_overlay; PLAN_OVERLAY_NONE: a volatile session */
	bool host_ro;  /* host_choice.host_ro: a layer file on the host cannot be written */
	bool readonly; /* loopboot.overlay.readonly */
	bool reset;    /* loopboot.overlay.reset */
};

struct overlay_choice {
	bool layer_ro;     /* a persistent layer is mounted read-only */
	bool tmpfs_top;    /* the writable layer is a tmpfs (above a read-only layer, if any) */
	bool reset;        /* empty the persistent layer before mounting the overlay */
	bool warn_host_ro; /* a layer file asked to be written on a host that cannot be */
};

struct overlay_choice decide_overlay(const struct overlay_facts *f);

/* loopboot.toram: whether a file of size bytes fits into RAM with available bytes
 * (MemAvailable), keeping TORAM_RESERVE for the system that runs from it. */
#define TORAM_RESERVE (64ULL << 20)
bool decide_toram_fits(unsigned long long size, unsigned long long available);
