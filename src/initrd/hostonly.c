/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "initrd/hostonly.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "engine/bitlocker.h"
#include "engine/device.h"
#include "engine/helpers.h"
#include "engine/state.h"

#define MAX_DEPTH 8 /* stacked devices (dm on md on ...), loop files on loop files */

static void want(struct hostonly *h, const char *key, const char *reason)
{
	if (!key || !*key || strv_contains(&h->modules, key))
		return;
	strv_push(&h->modules, xstrdup(key));
	strv_push(&h->reasons, xstrdup(reason));
}

static void want_program(struct hostonly *h, const char *name)
{
	if (name && *name && !strv_contains(&h->programs, name))
		strv_push(&h->programs, xstrdup(name));
}

static bool is_fuse_type(const char *type)
{
	return streq(type, "fuse") || streq(type, "fuseblk") || startswith(type, "fuse.");
}

void hostonly_add_fstype(struct hostonly *h, const char *fstype, const char *what)
{
	if (!fstype || !*fstype)
		return;
	_cleanup_free_ char *reason = xasprintf("%s (%s)", what, fstype);
	if (is_fuse_type(fstype)) {
		want(h, "fuse", reason);
		return;
	}
	/* The kernel asks for "fs-TYPE" when mounting, and every file system module carries
	 * that alias (ext4 also for ext2 and ext3); the builder falls back to the plain name. */
	_cleanup_free_ char *alias = xasprintf("fs-%s", fstype);
	want(h, alias, reason);
	/* The code pages its mounts use (vfat: the kernel's default cp437 and utf8, or
	 * iso8859-1 and ascii in other builds). */
	const struct fs_helper *fh = fs_helper_for(fstype);
	for (size_t i = 0; fh && fh->nls && fh->nls[i]; i++)
		want(h, fh->nls[i], reason);
}

static char *read_attr(const char *dir, const char *name)
{
	_cleanup_free_ char *p = path_join(dir, name);
	char *s = NULL;
	if (read_file(p, &s, NULL) < 0)
		return NULL;
	strip_trailing(s);
	if (!*s) {
		free(s);
		return NULL;
	}
	return s;
}

/* The last component of the symlink dir/name's target, or NULL. */
static char *link_name(const char *dir, const char *name)
{
	_cleanup_free_ char *p = path_join(dir, name);
	char buf[PATH_MAX];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	const char *slash = strrchr(buf, '/');
	return xstrdup(slash ? slash + 1 : buf);
}

/* Whether path is inside dir, not dir itself. */
static bool below(const char *path, const char *dir)
{
	const char *rest = path_startswith(path, dir);
	return rest && *rest;
}

static void add_device_tree(struct hostonly *h, const char *sysfs, unsigned maj, unsigned min,
                            const char *what, char **ret_backing_file, unsigned depth)
{
	_cleanup_free_ char *link = xasprintf("%s/dev/block/%u:%u", sysfs, maj, min);
	_cleanup_free_ char *devices = path_join(sysfs, "devices");
	char real[PATH_MAX], top[PATH_MAX];
	if (!realpath(link, real) || !realpath(devices, top))
		return; /* no sysfs entry (a device of a container): nothing to learn */
	_cleanup_free_ char *name = xstrdup(strrchr(real, '/') + 1);
	_cleanup_free_ char *reason = xasprintf("driver of %s (%s)", what, name);

	_cleanup_free_ char *backing = read_attr(real, "loop/backing_file");
	if (backing || maj == 7)
		want(h, "loop", reason);
	if (startswith(name, "dm-"))
		want(h, "dm_mod", reason);
	if (startswith(name, "md"))
		want(h, "md_mod", reason);

	/* The devices below a stacked one (dm, md, bcache) are in slaves/. */
	_cleanup_free_ char *slaves = path_join(real, "slaves");
	DIR *d = depth < MAX_DEPTH ? opendir(slaves) : NULL;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			_cleanup_free_ char *sdir = path_join(slaves, de->d_name);
			_cleanup_free_ char *dev = read_attr(sdir, "dev");
			unsigned smaj, smin;
			if (dev && sscanf(dev, "%u:%u", &smaj, &smin) == 2)
				add_device_tree(h, sysfs, smaj, smin, what, NULL, depth + 1);
		}
		closedir(d);
	}

	/* The device and every parent up to the bus: the partition's disk, the SCSI disk
	 * (sd_mod), the host adapter (ahci), the USB interface (uas), the controller
	 * (xhci_pci)... each by the module of the driver bound to it and by its modalias,
	 * which also finds the module of a driver that is built into the running kernel. */
	for (char *p = real; below(p, top);) {
		_cleanup_free_ char *drv = path_join(p, "driver");
		_cleanup_free_ char *mod = link_name(drv, "module");
		if (!mod)
			mod = link_name(p, "driver");
		want(h, mod, reason);
		_cleanup_free_ char *alias = read_attr(p, "modalias");
		want(h, alias, reason);
		char *slash = strrchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
	}

	if (ret_backing_file)
		*ret_backing_file = backing ? xstrdup(backing) : NULL;
}

void hostonly_add_block_device(struct hostonly *h, const char *sysfs, unsigned maj, unsigned min,
                               const char *what, char **ret_backing_file)
{
	if (ret_backing_file)
		*ret_backing_file = NULL;
	add_device_tree(h, sysfs, maj, min, what, ret_backing_file, 0);
}

/* The FUSE program the engine uses for a (probed) file system type. */
static const char *fuse_program_for(const char *type)
{
	const struct fs_helper *fh = fs_helper_for(type);
	return fh ? fh->fuse[0] : NULL;
}

/* The block device behind a mount source: the node's rdev, else the mount's st_dev. */
static bool mount_device(const char *devnode, unsigned fallback_maj, unsigned fallback_min,
                         unsigned *ret_maj, unsigned *ret_min)
{
	struct stat st;
	if (devnode && devnode[0] == '/' && stat(devnode, &st) == 0 && S_ISBLK(st.st_mode)) {
		*ret_maj = major(st.st_rdev);
		*ret_min = minor(st.st_rdev);
		return true;
	}
	if (fallback_maj == 0)
		return false; /* tmpfs, overlay, btrfs subvolume ids: no block device */
	*ret_maj = fallback_maj;
	*ret_min = fallback_min;
	return true;
}

static void add_mount(struct hostonly *h, const char *mountinfo, const char *sysfs,
                      const struct mount_entry *m, const char *what, unsigned depth)
{
	if (is_fuse_type(m->fstype)) {
		hostonly_add_fstype(h, m->fstype, what);
		const char *sub = startswith(m->fstype, "fuse.");
		if (sub) {
			want_program(h, sub);
		} else {
			/* fuseblk hides which driver serves it: the volume's type tells. */
			_cleanup_close_ int fd =
			    m->source ? open(m->source, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
			_cleanup_free_ char *type = NULL;
			if (fd >= 0 && device_probe_fd(fd, &type) > 0)
				want_program(h, fuse_program_for(type));
		}
	} else {
		hostonly_add_fstype(h, m->fstype, what);
	}

	unsigned maj, min;
	if (!mount_device(m->source, major(m->devno), minor(m->devno), &maj, &min))
		return;
	_cleanup_free_ char *dev_what = xasprintf("the device of %s", what);
	_cleanup_free_ char *backing = NULL;
	hostonly_add_block_device(h, sysfs, maj, min, dev_what, &backing);
	if (!backing || depth >= MAX_DEPTH)
		return;
	/* A root on a loop device: its file lives on another file system, which the boot
	 * has to mount first (this is the machine loopboot booted, seen from outside). */
	_cleanup_(mount_entry_free) struct mount_entry host = {0};
	char real[PATH_MAX];
	if (mount_find_path(mountinfo, realpath(backing, real) ? real : backing, &host) <= 0)
		return;
	_cleanup_free_ char *host_what = xasprintf("host of %s", backing);
	add_mount(h, mountinfo, sysfs, &host, host_what, depth + 1);
}

static void add_state_device(struct hostonly *h, const char *sysfs, const char *dev_root,
                             const char *devnode, const char *what)
{
	if (!devnode || devnode[0] != '/')
		return;
	_cleanup_free_ char *path = xasprintf("%s%s", dev_root, devnode);
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
		return;
	if (major(st.st_rdev) == 7)
		return; /* a loop device of the stack: "loop" is in already */
	hostonly_add_block_device(h, sysfs, major(st.st_rdev), minor(st.st_rdev), what, NULL);
}

static void add_from_state(struct hostonly *h, const struct stack *s, const char *sysfs,
                           const char *dev_root)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct layer *l = &s->v[i];
		if (l->kind == LAYER_HOST) {
			const char *driver = l->host.driver;
			if (l->host.fuse) {
				_cleanup_free_ char *reason =
				    xasprintf("FUSE driver of the host (%s)", strempty(driver));
				want(h, "fuse", reason);
				want_program(h, driver);
			} else {
				hostonly_add_fstype(h, driver ? driver : l->host.type,
				                    "file system of the host");
			}
			add_state_device(h, sysfs, dev_root, l->host.source, "the host");
		} else if (l->kind == LAYER_CRYPT) {
			h->bitlocker = true;
			for (size_t k = 0; bitlocker_modules[k]; k++)
				want(h, bitlocker_modules[k], "the host is a BitLocker volume");
			add_state_device(h, sysfs, dev_root, l->crypt.volume,
			                 "the BitLocker volume of the host");
		} else if (l->kind == LAYER_MOUNT) {
			_cleanup_free_ char *what = xasprintf("file system of the %s image",
			                                      mount_role_name(l->mount.role));
			hostonly_add_fstype(h, l->mount.type, what);
			add_state_device(h, sysfs, dev_root, l->mount.source, what);
		}
	}
}

int hostonly_detect(struct hostonly *h, const char *state_file, const char *mountinfo,
                    const char *sysfs, const char *dev_root)
{
	*h = (struct hostonly){0};
	/* Every loopboot boot attaches the image to a loop device. */
	want(h, "loop", "loopboot attaches the image to a loop device");

	struct stack s;
	_cleanup_free_ char *error = NULL;
	int r = state_load(state_file, &s, &error);
	if (r >= 0) {
		h->source = "the state record";
		add_from_state(h, &s, sysfs, dev_root);
		stack_free(&s);
		return 0;
	}
	if (error) /* refused whole, never half-read: the mounts say what they can */
		log_warn("--host-only: the state record %s: %s — reading the mounts instead",
		         state_file, error);
	else if (r != -ENOENT)
		return r;

	h->source = "the root mount (no state record)";
	_cleanup_(mount_entry_free) struct mount_entry root = {0};
	r = mount_find_root(mountinfo, &root);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	add_mount(h, mountinfo, sysfs, &root, "the root file system", 0);
	return 0;
}

void hostonly_done(struct hostonly *h)
{
	strv_free(&h->modules);
	strv_free(&h->reasons);
	strv_free(&h->programs);
	*h = (struct hostonly){0};
}
