/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stack of layers, as data. Booting builds, bottom up, a host file system, loop or
 * device-mapper devices on files in it, file systems mounted from those, and so on to the
 * new root; shutdown takes it down top first. Each thing the engine makes is one layer
 * record, appended to a stack in the order it was made. The records are what the state
 * file under /run/loopboot holds (engine/state.c turns them into text and back), what
 * `loopboot status` prints, and what the undo functions take apart.
 *
 * Adding a layer kind: an enum value and a struct here, its fields in state.c's table
 * (which also frees and copies them), its undo in layer.c, its line in tools/status.c,
 * and the setup step that pushes the record right after making the thing
 * (docs/design.md, "Adding a layer kind").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/plan.h"

enum layer_kind {
	LAYER_HOST,  /* the host file system, mounted from its block device */
	LAYER_LOOP,  /* a loop device on an image file */
	LAYER_DM,    /* a device-mapper linear mapping of an image file's extents */
	LAYER_MOUNT, /* a file system mounted from one of the above (or an overlay) */
	LAYER_CRYPT, /* a dm-crypt mapping of an encrypted host volume (BitLocker), below it */
	LAYER_NET,   /* a network interface configured for a network host, at the bottom */
	LAYER_NBD,   /* a network block device (nbd-client) the host is on */
	_LAYER_KIND_MAX,
};

/* The host: kernel driver or FUSE daemon. Also what mounts.c's host_mount() fills. */
struct layer_host {
	char *spec;    /* root= as written: "UUID=0123..." */
	char *source;  /* what it is mounted from: /dev/vda1, or /dev/dm-0 in linear mode */
	char *type;    /* what blkid says: ntfs, vfat, ext4 */
	char *driver;  /* what mounted it: ntfs3, vfat, ntfs-3g (a FUSE program) */
	char *target;  /* where it is mounted */
	char *options; /* the option string given, NULL: none */
	bool read_only;
	bool fuse;
	pid_t daemon_pid;     /* the FUSE daemon; 0 when unknown or not FUSE */
	enum plan_mode mode;  /* how the images on it are attached (loopboot.mode=) */
	char *linear_refused; /* why loopboot.mode=linear gave way to loop devices; NULL */
	char *dm;             /* linear mode: the name of the host's own mapping; NULL */
	char *device;         /* linear mode: the host's block device under that mapping */
};

struct layer_loop {
	char *device; /* /dev/loop0 */
	char *file;   /* the image's path inside parent */
	char *parent; /* where the file system holding it is mounted */
	bool read_only;
	bool direct_io;
	uint64_t offset;    /* a partition of a disk image: where it starts in file; 0 */
	uint64_t sizelimit; /* and its length; 0: to the end of the file */
};

struct layer_dm {
	char *device; /* /dev/dm-1 */
	char *name;   /* loopboot-root */
	char *file;   /* the image's path inside parent */
	char *parent; /* where the host is mounted */
	char *on;     /* the block device the extents are on */
	unsigned long extents;
	char *target; /* the device-mapper target: NULL for linear, "snapshot" (a copy-on-write
	               * in RAM over the read-only device on) */
	bool read_only;
	uint64_t offset; /* a partition of a disk image: the mapped bytes of file; 0 */
	uint64_t size;   /* from offset; 0: the whole file */
};

/* An encrypted volume opened (activated only: its metadata is never written) so that the
 * host file system can be mounted from the mapping. Undone by removing the mapping. */
struct layer_crypt {
	char *device; /* /dev/dm-0 */
	char *name;   /* loopboot-bitlocker */
	char *volume; /* the encrypted block device: /dev/sda3 */
	char *type;   /* libcryptsetup's type: BITLK */
	char *key;    /* where the key came from: "console", "UUID=...:/path" */
	bool read_only;
};

/* An interface brought up for a network host (ip=). Undone last: link down, addresses
 * flushed; one that was up before loopboot (external) is left as it is. */
struct layer_net {
	char *interface; /* eth0 */
	char *mac;       /* its hardware address */
	char *address;   /* 10.0.2.15 */
	char *netmask;
	char *gateway;
	char *method;   /* dhcp, static, external */
	char *hostname; /* what DHCP or ip= named the machine; NULL */
	char *server;   /* the DHCP server; NULL */
	bool external;  /* configured before loopboot (a framework's initramfs): left up */
};

/* A network block device: nbd-client connected it to an export; undone by disconnecting
 * it (the daemon then exits). */
struct layer_nbd {
	char *device; /* /dev/nbd0 */
	char *server;
	unsigned long port;
	char *export;     /* the export's name; NULL: the server's default */
	pid_t daemon_pid; /* nbd-client, which stays to reconnect (-persist) */
	bool read_only;
};

enum mount_role {
	MOUNT_ROLE_ROOT,  /* the new root */
	MOUNT_ROLE_MOUNT, /* an extra image (loopboot.mount=) */
	MOUNT_ROLE_LAYER, /* a file system between the host and an image (nesting, overlays) */
	_MOUNT_ROLE_MAX,
};

struct layer_mount {
	enum mount_role role;
	char *source;  /* /dev/loop0, tmpfs, overlay */
	char *target;  /* where it is mounted */
	char *type;    /* ext4, tmpfs, overlay */
	char *image;   /* the image file it comes from, NULL when none */
	char *options; /* NULL: none */
	char *overlay; /* an overlay root: its writable layer ("tmpfs", "/linux/overlay.img",
	                * "LABEL=x:/dir", with " read-only, tmpfs on top"); NULL otherwise */
	bool read_only;
	char *disk;         /* from a disk image: its format ("raw", "vhd-fixed"); NULL */
	uint64_t partition; /* its partition's number; 0: none (a file system image) */
};

struct layer {
	enum layer_kind kind;
	union {
		struct layer_host host;
		struct layer_loop loop;
		struct layer_dm dm;
		struct layer_mount mount;
		struct layer_crypt crypt;
		struct layer_net net;
		struct layer_nbd nbd;
	};
};

/* Layers in the order they were made: index 0 is the bottom. */
struct stack {
	struct layer *v;
	size_t n;
};

/* Appends a zeroed record of kind; the pointer is valid until the next push. */
struct layer *stack_push(struct stack *s, enum layer_kind kind);
/* Frees records from the top until n are left. */
void stack_truncate(struct stack *s, size_t n);
void stack_free(struct stack *s);

void layer_done(struct layer *l);
/* A deep copy of src into *dst. */
void layer_copy(struct layer *dst, const struct layer *src);
void layer_host_done(struct layer_host *h);

/* "host", "loop", "dm", "mount", "crypt", "net", "nbd"; NULL for a value out of range. */
const char *layer_kind_name(enum layer_kind k);
const char *mount_role_name(enum mount_role r);

/* Calls fn for every field of l that is a path in the file system tree (where something
 * is mounted, where a file's file system is mounted), so callers can move them. */
void layer_for_each_path(struct layer *l, void (*fn)(char **path, void *userdata), void *userdata);
/* Calls fn for every string field of l (with paths_only, the paths), set or not. The
 * fields are listed once, in state.c's table: memory and text follow it alike. */
void layer_walk_strings(struct layer *l, bool paths_only, void (*fn)(char **s, void *userdata),
                        void *userdata);

/* The path to undo a mount-like record at (host or mount), or NULL for the others. */
const char *layer_mount_point(const struct layer *l);

/*
 * Undoes one layer, the same way for the engine's unwinding of a failed boot, `loopboot
 * teardown` and the shutdown program: unmounts a mount or the host (at where, or its own
 * target when where is NULL; a busy one is remounted read-only and detached, and that is
 * an error), detaches a loop device, removes a device-mapper device; a host's FUSE daemon
 * is waited for and its own mapping removed. What is gone already counts as undone.
 * Returns 0 or the -errno of what failed, after a warning line that names it.
 */
int layer_undo(const struct layer *l, const char *where);

/* Undoes the records above the first keep ones, top first, and drops them. Returns 0 or
 * the first error (it goes on). */
int stack_unwind(struct stack *s, size_t keep);
