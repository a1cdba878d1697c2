/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plan: what the kernel command line asks for, as data. Pure: parsing touches no
 * file, device or mount, so `loopboot plan` can print it, the tests can check it and the
 * fuzzer can throw anything at it. The engine (boot.c) turns a plan into mounts.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "basic/util.h"

#define PLAN_MAX_LAYERS      8  /* depth of nested images in one path */
#define PLAN_MAX_MOUNTS      16 /* loopboot.mount= entries */
#define PLAN_DEFAULT_TIMEOUT 30
#define PLAN_DEFAULT_HOSTDIR "/host"

enum devspec_kind {
	DEVSPEC_PATH, /* /dev/sda1, /dev/disk/by-id/... */
	DEVSPEC_UUID,
	DEVSPEC_LABEL,
	DEVSPEC_PARTUUID,
	DEVSPEC_PARTLABEL,
};

/* How root= names a device by a tag: the tag as written, udev's directory of links for it,
 * and whether values compare regardless of case (UUIDs and serials are hex, and blkid
 * prints NTFS/FAT ones in upper case). One table for the parser, the device search and
 * `loopboot check`'s fstab reading. */
struct devspec_tag {
	enum devspec_kind kind;
	const char *tag;      /* "UUID=" */
	const char *link_dir; /* "/dev/disk/by-uuid/" */
	bool fold_case;
};
extern const struct devspec_tag devspec_tags[4];

struct devspec {
	enum devspec_kind kind;
	char *value; /* the path or the tag's value */
};

/* Which partition of a disk image is meant (loopboot.part=, a loopboot.mount= part= key). */
enum partsel_kind {
	PARTSEL_AUTO,      /* not given: the GPT root type, else the one Linux file system */
	PARTSEL_NUMBER,    /* N: as the partition table numbers it */
	PARTSEL_PARTUUID,  /* PARTUUID=: the partition's GUID (GPT) or id-NN (MBR) */
	PARTSEL_PARTLABEL, /* PARTLABEL=: its GPT name */
	PARTSEL_UUID,      /* UUID=: the file system inside it */
	PARTSEL_LABEL,     /* LABEL=: the file system inside it */
};

struct partsel {
	enum partsel_kind kind;
	unsigned number; /* NUMBER */
	char *value;     /* the tags' value */
};

/* "2", "PARTUUID=...": as written; NULL for AUTO. Allocated. */
char *partsel_to_string(const struct partsel *s);
/* Parses "N", "PARTUUID=...", "PARTLABEL=...", "UUID=...", "LABEL=...". 0, or -EINVAL with
 * *ret_why (allocated). */
int partsel_parse(const char *value, struct partsel *ret, char **ret_why);
bool partsel_eq(const struct partsel *a, const struct partsel *b);

/*
 * A path to an image: part[0] is a file on the host file system, part[i] a file inside the
 * file system of the image part[i-1] ("//" separates them on the command line). Every
 * part is absolute and normalised: one leading '/', no empty, "." or ".." components, no
 * trailing '/'.
 */
struct imagepath {
	unsigned n;
	char *part[PLAN_MAX_LAYERS];
	/* The partition, for the first part of the path that is a disk image (a VM's disk):
	 * loopboot.part= for loop=, part= in a loopboot.mount= entry's OPTIONS. */
	struct partsel sel;
};

struct plan_mount {
	char *target; /* absolute, normalised, inside the new root; never "/" */
	struct imagepath image;
	char *fstype;  /* NULL: detect */
	char *options; /* NULL: defaults */
};

enum plan_fsck_mode { PLAN_FSCK_AUTO, PLAN_FSCK_FORCE, PLAN_FSCK_SKIP };
/* loopboot.mode=: how host images become block devices. */
enum plan_mode {
	PLAN_MODE_LOOP,   /* a loop device on the file (through the host's driver) */
	PLAN_MODE_LINEAR, /* a device-mapper linear table over the file's extents on the disk */
};
enum plan_fsck_repair { PLAN_FSCK_REPAIR_PREEN, PLAN_FSCK_REPAIR_YES, PLAN_FSCK_REPAIR_NO };

/* loopboot.bitlocker=: how a BitLocker host gets its recovery password. */
enum plan_bitlocker {
	PLAN_BITLOCKER_NONE, /* not given: a BitLocker host is refused with what to write */
	PLAN_BITLOCKER_ASK,  /* loopboot.bitlocker=ask: prompt on the console */
	PLAN_BITLOCKER_FILE, /* loopboot.bitlocker=DEVSPEC:/PATH: a file on another device */
};

/* loopboot.overlay=: the writable layer over a read-only root image. */
enum plan_overlay {
	PLAN_OVERLAY_NONE,   /* not given: the root image itself is the root */
	PLAN_OVERLAY_TMPFS,  /* tmpfs[:SIZE]: in RAM, gone at shutdown */
	PLAN_OVERLAY_FILE,   /* /PATH: an image file on the host holding upper/ and work/ */
	PLAN_OVERLAY_DEVICE, /* UUID=...[:DIR]: a file system on a partition, DIR/upper... */
};

/* ip=: how the network comes up for a network host (the kernel's nfsroot.rst forms, as
 * klibc's ipconfig and dracut read them). */
enum plan_ip_method {
	PLAN_IP_DEFAULT, /* not given: DHCP on every interface when the host is on the network */
	PLAN_IP_OFF,     /* off, none: not configured (already up, or not needed) */
	PLAN_IP_DHCP,    /* dhcp, on, any, bootp, both: DHCP */
	PLAN_IP_STATIC,  /* CLIENT:SERVER:GW:NETMASK:HOSTNAME:DEVICE:AUTOCONF[:DNS0[:DNS1]] */
};

struct plan_ip {
	enum plan_ip_method method;
	char *raw;      /* ip= as written (NULL: not given), what ipconfig is given */
	char *client;   /* STATIC: the address; NULL otherwise */
	char *server;   /* STATIC: the boot server (unused by loopboot); NULL */
	char *gateway;  /* STATIC; NULL: none */
	char *netmask;  /* STATIC; NULL: from the address class, as the kernel does */
	char *hostname; /* STATIC or DHCP (ip=::::NAME:DEV:dhcp); NULL: DHCP's, else none */
	char *device;   /* an interface name or MAC (aa:bb:..); NULL: every interface */
	char *dns0, *dns1;
};

/* Where a network host is (root=nbd:, root=nfs:, root=nfs4:, loop=http://). */
enum plan_net_kind {
	PLAN_NET_NONE,
	PLAN_NET_NBD,  /* root=nbd:SERVER:PORT[/EXPORT][:FSTYPE[:OPTIONS]] */
	PLAN_NET_NFS,  /* root=nfs:SERVER:/PATH[:OPTIONS] (NFSv3 unless vers= says) */
	PLAN_NET_NFS4, /* root=nfs4:SERVER:/PATH[:OPTIONS] */
	PLAN_NET_HTTP, /* loop=http(s)://SERVER[:PORT]/PATH: the image fetched into RAM */
};

#define PLAN_NBD_DEFAULT_PORT 10809

struct plan_net {
	enum plan_net_kind kind;
	char *server;  /* host name or address, without [] */
	unsigned port; /* NBD: given or 10809; NFS: 0 (the server's); HTTP: given or 80/443 */
	char *export;  /* NBD: the export name, NULL: the server's default; NFS: the path */
	char *fstype;  /* NBD: the export's file system type, NULL: detect */
	char *options; /* NBD: mount options of the export; NFS: mount options; NULL: none */
	char *url;     /* HTTP: as written */
	char *file;    /* HTTP: the local name in RAM (the URL's last path component) */
	bool https;
	char *sha256; /* loopboot.sha256=: 64 lower-case hex digits; NULL: not checked */
};

struct plan {
	/* root=: with loop= the HOST device, without it the root device itself. */
	struct devspec root;
	char *rootfstype; /* NULL: detect */
	char *rootflags;  /* NULL: none */

	bool has_loop;
	struct imagepath loop; /* loop= */
	char *loopfstype;      /* NULL: detect */
	char *loopflags;       /* NULL: none */

	bool
	    read_only; /* ro / rw for the root (the image with loop=); the kernel's default is ro */
	char *init;    /* init=, NULL: search the usual places */

	struct plan_mount mounts[PLAN_MAX_MOUNTS]; /* sorted so that parents come first */
	unsigned n_mounts;

	char *hostdir;      /* loopboot.hostdir=, default /host */
	unsigned timeout;   /* loopboot.timeout=, seconds to wait for the host device */
	bool debug;         /* loopboot.debug */
	bool times;         /* loopboot.times: each step's duration (also with loopboot.debug) */
	bool shell;         /* loopboot.shell */
	bool hibernated_ro; /* loopboot.hibernated=ro: an unsafe host gives a read-only session */
	enum plan_fsck_mode fsck_mode;     /* systemd's fsck.mode= */
	enum plan_fsck_repair fsck_repair; /* systemd's fsck.repair= */
	enum plan_mode mode;               /* loopboot.mode=, default loop */
	enum plan_bitlocker bitlocker;     /* loopboot.bitlocker= */
	struct devspec bitlocker_dev;      /* FILE: the device holding the key file */
	char *bitlocker_path;              /* FILE: the key file's path on it, normalised */

	enum plan_overlay overlay;  /* loopboot.overlay= */
	char *overlay_size;         /* TMPFS: tmpfs's size= ("512M", "25%"); NULL: its default */
	char *overlay_path;         /* FILE: the layer's image on the host; DEVICE: the dir */
	struct devspec overlay_dev; /* DEVICE: the partition */
	bool overlay_reset;         /* loopboot.overlay.reset: empty the layer first */
	bool overlay_readonly; /* loopboot.overlay.readonly: the layer read-only, tmpfs on top */
	bool toram;            /* loopboot.toram: the root image copied into RAM first */

	struct plan_ip ip;   /* ip= */
	struct plan_net net; /* a network host: root=nbd:/nfs:/nfs4:, loop=http:// */
	bool overlay_auto;   /* the overlay is tmpfs because the host is shared (NBD, NFS) */

	struct strv
	    warnings; /* complete warning lines (without the "loopboot: warning: " prefix) */
};

/*
 * Builds the plan from a command line. Returns 0, or -EINVAL with *ret_error set to one
 * complete message line (starting "loopboot: ") that names the bad parameter and says what
 * to write instead. On failure *ret is left freed.
 */
int plan_parse(const char *cmdline, struct plan *ret, char **ret_error);
void plan_free(struct plan *p);

/*
 * For the failure path when plan_parse() refused the line: the loopboot.timeout= and
 * loopboot.shell the user wrote, where they are well-formed themselves (defaults
 * otherwise), so that a mistake elsewhere still gets the wait and the shell asked for.
 */
void plan_failure_policy(const char *cmdline, unsigned *ret_timeout, bool *ret_shell);

/* Human-readable summary, as printed by `loopboot plan`. */
void plan_print(const struct plan *p, FILE *f);

/* "UUID=...", "/dev/sda1": the devspec as it would be written on the command line. */
char *devspec_to_string(const struct devspec *d);
/* "/vm/outer.img//images/root.img" */
char *imagepath_to_string(const struct imagepath *ip);

/* plan-net.c: the network parameters, pure. */
/* ip=VALUE into *ret (freed first). 0, or -EINVAL with *ret_why (allocated). */
int plan_ip_parse(const char *value, struct plan_ip *ret, char **ret_why);
void plan_ip_free(struct plan_ip *ip);
/* An interface name, or a MAC (aa:bb:.. or aa-bb-..) into its lower-case colon form. */
int plan_ip_device_parse(const char *s, char **ret, char **ret_why);
/* root=VALUE when it names a network host (nbd:, nfs:, nfs4:): 1 with *ret filled, 0 when
 * it is not one, -EINVAL with *ret_why. */
int plan_net_parse_root(const char *value, struct plan_net *ret, char **ret_why);
/* loop=VALUE when it is an http:// or https:// URL: 1 with *ret filled (and *ret_inner the
 * rest of the path after "//" inside the image, NULL when none), 0, or -EINVAL. */
int plan_net_parse_url(const char *value, struct plan_net *ret, char **ret_inner, char **ret_why);
void plan_net_free(struct plan_net *n);
/* "nbd:10.0.2.2:10809/root", "nfs:srv:/export", the URL: as it would be written. */
char *plan_net_to_string(const struct plan_net *n);
/* Is s 64 hex digits? */
bool plan_sha256_valid(const char *s);
