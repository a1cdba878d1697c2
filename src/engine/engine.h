/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the engine: what boot.c, host.c, image.c and linear.c share while one boot
 * builds its stack. Nothing outside those files includes this.
 *
 * The stack under construction is e->stack: [0] is the host once it is mounted, then
 * every loop device, mapping and mount in the order they were made. Each setup step
 * pushes its record right after making the thing, so that unwinding a failed pass is
 * stack_unwind() and the state record is the stack itself.
 */
#pragma once

#include <stdbool.h>

#include "basic/util.h"
#include "engine/boot.h"
#include "engine/decide.h"
#include "engine/device.h"
#include "engine/layer.h"
#include "engine/plan.h"
#include "engine/state.h"

#define HOST_STAGING STATE_DIR "/host"
#define PROBE_DIR    STATE_DIR "/probe"
#define LAYER_DIR    STATE_DIR "/layers"

struct engine {
	const struct plan *plan;
	const struct boot_options *opts;
	struct modules *mods;
	struct device_info hostdev;
	char *host_spec;        /* root= as written, for messages */
	struct host_choice hc;  /* host_ro, root_ro, volatile_root (decide_host) */
	bool probe;             /* the dry run: everything read-only, under PROBE_DIR */
	struct strv fsck_clean; /* images the dry run found clean: "layer:path" */
	struct stack stack;     /* what is built now, bottom first: the undo log */
	size_t base;            /* records below the host (an opened BitLocker volume): 0 or 1 */
	unsigned seq;           /* numbers intermediate layer mount points */
	bool linear;            /* loopboot.mode=linear in force (not refused so far) */
	bool linear_retry;      /* linear refused during the real pass: build it with loops */
	char *linear_refused;   /* why loopboot.mode=linear fell back to loop devices */
};

/* The host's record; only while it is mounted (the stack holds more than e->base). */
static inline struct layer_host *engine_host(struct engine *e)
{
	return &e->stack.v[e->base].host;
}

/* host.c */
int host_wait(struct engine *e);
void host_read_only_facts(const struct engine *e, struct host_facts *f);
int host_mount_as(struct engine *e, bool read_only);
int host_mount_from(struct engine *e, const char *device, bool read_only, bool no_replay);
int host_unmount(struct engine *e, const char *what);
int host_make_writable(struct engine *e);
int host_move_into_root(struct engine *e);
void host_write_systemd_dropin(struct engine *e);
void host_udev_settle(void);

/* bitlocker-open.c: opens the BitLocker volume e->hostdev (loopboot.bitlocker=), pushes
 * its LAYER_CRYPT record, and makes e->hostdev the file system inside. 0 or -errno, said. */
int bitlocker_unlock(struct engine *e);

/* image.c */
int image_build(struct engine *e, const struct imagepath *ip, const char *fstype,
                const char *options, bool read_only, const char *target, enum mount_role role);
int image_build_volatile_root(struct engine *e, const char *root);
char *engine_final_path(const struct engine *e, const char *path);

/* linear.c */
void linear_refuse(struct engine *e, const char *what, const char *why);
void linear_check_kernel(struct engine *e);
int linear_map(struct engine *e, int fd, const char *path, const char *dir, enum mount_role role,
               const char *target, bool read_only, char **ret_devnode);
int linear_host(struct engine *e);
int linear_abandon(struct engine *e);
