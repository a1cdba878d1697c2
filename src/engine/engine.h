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
#include "engine/times.h"

#define HOST_STAGING STATE_DIR "/host"
#define PROBE_DIR    STATE_DIR "/probe"
#define LAYER_DIR    STATE_DIR "/layers"
#define TORAM_DIR    STATE_DIR "/toram"   /* loopboot.toram's tmpfs */
#define COW_DIR      STATE_DIR "/cow"     /* the copy-on-write store of a read-only base */
#define OVERLAY_DIR  STATE_DIR "/overlay" /* an overlay's tmpfs: upper/, work/ */
#define BASE_MNT     LAYER_DIR "/base"    /* an overlay's base: the root image */
#define LAYER_MNT    LAYER_DIR "/overlay" /* an overlay's persistent layer */

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
	bool host_released;     /* loopboot.toram: the host was unmounted, nothing needs it */
	unsigned cows;          /* copy-on-write stores made (image_cow), for their names */
	struct strv parts;      /* partitions of disk images in use: "DEV:INO:OFFSET" */
	bool sel_used;          /* the last image_build_parts() chose a partition with its sel */
	int uevent_fd;          /* the kernel's device events (uevent_open), or -errno */
	long long walk_ms;      /* when modules_coldplug() last walked /sys */
};

/* What an image path is mounted as: the type and options asked for its innermost file
 * system, where, and as what. */
struct image_spec {
	const char *fstype, *options, *target;
	enum mount_role role;
};

/* The host's record; only while it is mounted (the stack holds more than e->base). */
static inline struct layer_host *engine_host(struct engine *e)
{
	return &e->stack.v[e->base].host;
}

/* host.c */
int host_wait(struct engine *e);
/* Between two looks for a device: up to 100 ms for the kernel to add one, loading the
 * drivers of what it adds; /sys is walked again every second (and without events). */
void engine_wait_step(struct engine *e);
/* Waits up to loopboot.timeout= for the device spec names (coldplugging drivers); as
 * device_find(): 1 with *ret filled, 0 when it never came, -errno. Says nothing. */
int engine_wait_device(struct engine *e, const struct devspec *spec, struct device_info *ret);
void host_read_only_facts(const struct engine *e, struct host_facts *f);
int host_mount_as(struct engine *e, bool read_only);
int host_mount_from(struct engine *e, const char *device, bool read_only, bool no_replay);
int host_unmount(struct engine *e, const char *what);
int host_make_writable(struct engine *e);
int host_move_into_root(struct engine *e);
void host_write_systemd_dropin(struct engine *e);
void host_udev_settle(void);

/* nethost.c: a host on the network (root=nbd:, root=nfs:, loop=http://), in place of
 * host_wait(): the network and an NBD device as records below the host (e->base); an NFS
 * or HTTP host is mounted (read-only) right away. 0 or -errno, said. */
int nethost_wait(struct engine *e);
/* The host is mounted by nethost_wait() already (NFS, HTTP): no dry-run mount of it. */
bool nethost_premounted(const struct engine *e);
/* No loop=: the host's own file system at target, read-only, as the root (or base). */
int nethost_bind_root(struct engine *e, const char *target, enum mount_role role);
/* The machine's own identity in the new root: the hostname DHCP or ip= gave (into
 * /etc/hostname), and a fresh /etc/machine-id where it is the shared image's. */
void nethost_identity(struct engine *e, const char *root);

/* bitlocker-open.c: opens the BitLocker volume e->hostdev (loopboot.bitlocker=), pushes
 * its LAYER_CRYPT record, and makes e->hostdev the file system inside. 0 or -errno, said. */
int bitlocker_unlock(struct engine *e);

/* image.c */
int image_build(struct engine *e, const struct imagepath *ip, const char *fstype,
                const char *options, bool read_only, const char *target, enum mount_role role);
int image_build_parts(struct engine *e, const char *dir, const char *where,
                      const struct imagepath *ip, const struct layer_facts *facts,
                      const struct image_spec *spec, char **ret_parent);
/* An overlay's persistent layer file at target; read_only: never written (a journal that
 * needs replay goes to RAM, as for a base). */
int image_build_layer(struct engine *e, const struct imagepath *ip, bool read_only,
                      const char *target);
/* The root image (loop=) at target; base: as an overlay's read-only base. With
 * loopboot.toram the real pass mounts a copy in RAM. */
int image_build_root(struct engine *e, bool base, const char *target, enum mount_role role);
char *engine_final_path(const struct engine *e, const char *path);

/* ram.c: loopboot.toram, and the copy-on-write in RAM under a read-only base */
/* MemAvailable from /proc/meminfo, in bytes; 0 when unknown. */
unsigned long long mem_available(void);
/* A tmpfs at dir (made), recorded; todo: the advice when the mount fails (NULL: default). */
int engine_mount_tmpfs(struct engine *e, const char *dir, const char *options, const char *todo);
int toram_check(struct engine *e, const char *dir, const char *path);
int toram_copy(struct engine *e, const char *where, char **ret_path);
bool toram_host_needed(const struct plan *p);
int toram_release_host(struct engine *e);
int image_cow(struct engine *e, const char *origin, const char *what, char **ret_devnode);

/* overlay.c: the root as an overlay over the read-only root image (loopboot.overlay=, or
 * the volatile session of loopboot.hibernated=ro) */
bool overlay_wanted(const struct engine *e);
int overlay_build_root(struct engine *e, const char *root);

/* linear.c */
void linear_refuse(struct engine *e, const char *what, const char *why);
void linear_check_kernel(struct engine *e);
/* offset, size: a partition of a disk image, the bytes of the file to map (size 0: all). */
int linear_map(struct engine *e, int fd, const char *path, const char *dir, enum mount_role role,
               const char *target, bool read_only, uint64_t offset, uint64_t size,
               char **ret_devnode);
int linear_host(struct engine *e);
int linear_abandon(struct engine *e);
