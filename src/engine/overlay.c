/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The root as an overlay: the root image (loop=) mounted read-only as the lower layer, a
 * writable layer on top. The writable layer is a tmpfs (loopboot.overlay=tmpfs, and the
 * volatile session of loopboot.hibernated=ro), or persistent: an image file on the host
 * or a file system on a partition, holding upper/ and work/ (dracut's layout). A
 * persistent layer that must not be written (loopboot.overlay.readonly, or a host that
 * cannot be written) becomes a second lower layer under a tmpfs.
 */
#include <sys/stat.h>

#include "basic/copy.h"
#include "basic/log.h"
#include "engine/engine.h"
#include "engine/fsck.h"
#include "engine/helpers.h"
#include "engine/modules.h"
#include "engine/mounts.h"

bool overlay_wanted(const struct engine *e)
{
	return e->plan->overlay != PLAN_OVERLAY_NONE || e->hc.volatile_root;
}

static char *layer_text(const struct plan *p)
{
	switch (p->overlay) {
	case PLAN_OVERLAY_TMPFS:
		return xasprintf("tmpfs%s%s", p->overlay_size ? " size=" : "",
		                 strempty(p->overlay_size));
	case PLAN_OVERLAY_FILE:
		return xstrdup(p->overlay_path);
	case PLAN_OVERLAY_DEVICE: {
		_cleanup_free_ char *dev = devspec_to_string(&p->overlay_dev);
		return xasprintf("%s:%s", dev, p->overlay_path);
	}
	case PLAN_OVERLAY_NONE:
		break;
	}
	return xstrdup("tmpfs (volatile session)");
}

/* The partition of loopboot.overlay=DEVSPEC[:/DIR], checked and mounted at mnt. */
static int mount_layer_device(struct engine *e, bool read_only, const char *mnt)
{
	const struct plan *p = e->plan;
	_cleanup_free_ char *spec = devspec_to_string(&p->overlay_dev);
	struct device_info dev = {0};
	int r = engine_wait_device(e, &p->overlay_dev, &dev);
	if (r <= 0) {
		device_info_free(&dev);
		return r < 0 ? r
		             : log_fail(ENODEV, "the overlay's device", spec,
		                        "no block device matches it",
		                        "check loopboot.overlay= against blkid's list, or plug in "
		                        "the disk that holds it");
	}
	const struct fs_helper *h = fs_helper_for_type(dev.type);
	if (!dev.type || (h && (h->fuse[0] || streq(dev.type, "msdos"))) ||
	    streq(dev.type, "ntfs")) {
		r = log_fail(EMEDIUMTYPE, "the overlay's device", spec,
		             dev.type ? "its file system cannot hold an overlay's upper layer"
		                      : "it holds no file system",
		             "format it with mkfs.ext4, or keep the layer in a file made by "
		             "loopboot create FILE --size SIZE --overlay");
		device_info_free(&dev);
		return r;
	}
	if (!modules_have_fs(e->mods, dev.type)) {
		r = log_fail(ENODEV, "the overlay's file system type", dev.type,
		             "the kernel has no driver for it",
		             "rebuild the initramfs with the %s module", dev.type);
		device_info_free(&dev);
		return r;
	}
	r = mkdir_p(mnt, 0700);
	if (r >= 0 && !read_only)
		r = fsck_run(p, dev.devnode, dev.type, spec, false);
	else if (r >= 0 && e->probe)
		r = fsck_run(p, dev.devnode, dev.type, spec, true);
	if (r >= 0) {
		/* Read-only, a partition is not written either: its journal is not replayed. */
		r = mount_fs(dev.devnode, mnt, dev.type, read_only,
		             read_only ? options_no_replay(dev.type) : NULL);
		if (r < 0)
			log_fail(r, "mounting the overlay's device", spec, NULL,
			         "check its %s file system with fsck from another system",
			         dev.type);
	}
	if (r >= 0) {
		struct layer *l = stack_push(&e->stack, LAYER_MOUNT);
		l->mount = (struct layer_mount){.role = MOUNT_ROLE_LAYER,
		                                .source = xstrdup(dev.devnode),
		                                .target = xstrdup(mnt),
		                                .type = xstrdup(dev.type),
		                                .read_only = read_only};
	}
	device_info_free(&dev);
	return r < 0 ? r : 0;
}

/* The persistent layer, mounted at mnt; *ret_dir: where its upper/ and work/ are. */
static int mount_persistent(struct engine *e, bool read_only, const char *mnt, char **ret_dir)
{
	const struct plan *p = e->plan;
	int r = mkdir_p(mnt, 0700);
	if (r < 0)
		return log_fail(r, "creating", mnt, NULL, "/run must be writable");
	if (p->overlay == PLAN_OVERLAY_FILE) {
		struct imagepath ip = {.n = 1, .part = {p->overlay_path}};
		r = image_build_layer(e, &ip, read_only, mnt);
		*ret_dir = xstrdup(mnt);
	} else {
		r = mount_layer_device(e, read_only, mnt);
		*ret_dir = path_join(mnt, p->overlay_path);
	}
	return r;
}

/* upper/ and work/ in dir: made when writable and missing, emptied on reset. */
static int prepare_layer(struct engine *e, const char *dir, const struct overlay_choice *c)
{
	_cleanup_free_ char *spec = layer_text(e->plan);
	static const char *const names[] = {"upper", "work"};
	if (!c->layer_ro && !e->probe) {
		int r = mkdir_p(dir, 0755); /* a partition's DIR */
		if (r < 0)
			return log_fail(r, "creating", dir, NULL,
			                "the overlay layer's file system must be writable");
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *path = path_join(dir, names[i]);
		struct stat st;
		bool have = stat(path, &st) == 0;
		if (have && !S_ISDIR(st.st_mode))
			return log_fail(
			    ENOTDIR, "the overlay layer", spec,
			    "its upper or work is not a directory",
			    "make the layer again with loopboot create FILE --size SIZE "
			    "--overlay");
		if (c->layer_ro) {
			if (!have && i == 0)
				return log_fail(
				    ENOENT, "the overlay layer", spec, "it has no upper/ directory",
				    "make it with loopboot create FILE --size SIZE "
				    "--overlay, or boot without loopboot.overlay.readonly "
				    "once");
			continue;
		}
		if (have && c->reset && !e->probe) {
			int r = rm_rf(path);
			if (r < 0)
				return log_fail(
				    r, "emptying the overlay layer (loopboot.overlay.reset)", path,
				    NULL, "check the layer's file system with fsck");
			have = false;
		}
		if (!have && !e->probe && mkdir(path, 0755) < 0)
			return log_fail(errno, "creating", path, NULL,
			                "the overlay layer's file system must be writable");
	}
	if (c->reset && !e->probe)
		log_info("the overlay layer %s is emptied (loopboot.overlay.reset)", spec);
	return 0;
}

int overlay_build_root(struct engine *e, const char *root)
{
	const struct plan *p = e->plan;
	struct overlay_facts f = {.kind = (int)p->overlay,
	                          .host_ro = e->hc.host_ro,
	                          .readonly = p->overlay_readonly,
	                          .reset = p->overlay_reset};
	/* The real pass's choice: the dry run judges the layer by it, and only looks. */
	struct overlay_choice c = decide_overlay(&f);
	bool persistent = p->overlay == PLAN_OVERLAY_FILE || p->overlay == PLAN_OVERLAY_DEVICE;
	_cleanup_free_ char *spec = layer_text(p);

	/* The dry run: the image read-only at the root (for the init), the layer looked at. */
	if (e->probe) {
		int r = image_build_root(e, true, root, MOUNT_ROLE_ROOT);
		_cleanup_free_ char *dir = NULL;
		if (r >= 0 && persistent)
			r = mount_persistent(e, true, PROBE_DIR "/overlay", &dir);
		/* Checks what the real pass needs; makes nothing (e->probe). */
		if (r >= 0 && persistent)
			r = prepare_layer(e, dir, &c);
		return r;
	}

	if (!modules_have_fs(e->mods, "overlay"))
		return log_fail(ENODEV, "the overlay root", spec,
		                "the kernel has no overlay file system",
		                "rebuild the initramfs with the overlay module");
	int r = mkdir_p(BASE_MNT, 0700);
	if (r < 0)
		return log_fail(r, "creating", BASE_MNT, NULL, "/run must be writable");
	r = image_build_root(e, true, BASE_MNT, MOUNT_ROLE_LAYER);
	if (r < 0)
		return r;

	_cleanup_free_ char *lower = xstrdup(BASE_MNT), *upper = NULL, *work = NULL;
	if (persistent) {
		if (c.warn_host_ro)
			log_warn("the host %s cannot be written: the overlay layer %s is mounted "
			         "read-only, with changes in RAM",
			         e->host_spec, spec);
		_cleanup_free_ char *dir = NULL;
		r = mount_persistent(e, c.layer_ro, LAYER_MNT, &dir);
		if (r >= 0)
			r = prepare_layer(e, dir, &c);
		if (r < 0)
			return r;
		if (c.layer_ro) {
			free(lower);
			lower = xasprintf("%s/upper:%s", dir, BASE_MNT);
		} else {
			upper = path_join(dir, "upper");
			work = path_join(dir, "work");
		}
	}
	if (c.tmpfs_top) {
		_cleanup_free_ char *opts = xasprintf(
		    "mode=0755%s%s", p->overlay_size ? ",size=" : "", strempty(p->overlay_size));
		r = engine_mount_tmpfs(
		    e, OVERLAY_DIR, opts,
		    p->overlay_size ? "check the size in loopboot.overlay=tmpfs:SIZE" : NULL);
		if (r < 0)
			return r;
		upper = xstrdup(OVERLAY_DIR "/upper");
		work = xstrdup(OVERLAY_DIR "/work");
		if (mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0)
			return log_fail(errno, "creating", upper, NULL, "check the kernel's tmpfs");
	}

	_cleanup_free_ char *opts =
	    xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	r = mount_fs("overlay", root, "overlay", false, opts);
	if (r < 0)
		return log_fail(r, "mounting the overlay root", opts, NULL,
		                persistent ? "the layer must be on ext4, xfs or btrfs (made by "
		                             "loopboot create --overlay); see dmesg"
		                           : "the kernel's overlay file system must be available");
	struct layer *l = stack_push(&e->stack, LAYER_MOUNT);
	_cleanup_free_ char *what =
	    c.layer_ro && persistent ? xasprintf("%s read-only, tmpfs on top", spec) : NULL;
	l->mount = (struct layer_mount){.role = MOUNT_ROLE_ROOT,
	                                .source = xstrdup("overlay"),
	                                .target = xstrdup(root),
	                                .type = xstrdup("overlay"),
	                                .options = xstrdup(opts),
	                                .overlay = what ? what : xstrdup(spec)};
	what = NULL;
	return 0;
}
