/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Image layers: an image path opened part by part inside the file system below it,
 * judged, attached (a loop device, or a linear mapping), checked and mounted; the root
 * image, also as an overlay's base and from a copy in RAM (ram.c). */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "engine/disk.h"
#include "engine/engine.h"
#include "engine/fsck.h"
#include "engine/hoststate.h"
#include "engine/loopdev.h"
#include "engine/modules.h"
#include "engine/mounts.h"
#include "engine/verdict.h"

/* The final path of something mounted now at path, as seen from the new root. */
char *engine_final_path(const struct engine *e, const char *path)
{
	const char *rest =
	    streq(e->opts->root_mnt, "/") ? NULL : path_startswith(path, e->opts->root_mnt);
	if (rest)
		return xasprintf("/%s", rest);
	return xstrdup(path);
}

/* Which file system a path is in, the same in the dry run and the real pass. */
static const char *dir_key(struct engine *e, const char *dir)
{
	if (streq(dir, engine_host(e)->target))
		return "host";
	const char *slash = strrchr(dir, '/');
	return slash ? slash + 1 : dir;
}

/* For "file not found": show what the nearest existing directory holds. */
static void list_nearest_dir(int rootfd, const char *path, const char *where)
{
	_cleanup_free_ char *dir = xstrdup(path);
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (!slash)
			return;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		int fd = open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY);
		if (fd >= 0) {
			DIR *d = fdopendir(fd);
			if (!d) {
				close(fd);
				return;
			}
			char line[900] = "";
			size_t len = 0;
			unsigned count = 0;
			struct dirent *de;
			while ((de = readdir(d))) {
				if (de->d_name[0] == '.' &&
				    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
					continue;
				count++;
				if (len < sizeof(line) - 80)
					len +=
					    (size_t)snprintf(line + len, sizeof(line) - len, "%s%s",
					                     len ? ", " : "", de->d_name);
			}
			closedir(d);
			if (len >= sizeof(line) - 80)
				snprintf(line + len, sizeof(line) - len, ", …");
			log_info("%s on %s holds %u entr%s%s%s", dir, where, count,
			         count == 1 ? "y" : "ies", count ? ": " : "", line);
			return;
		}
		if (streq(dir, "/"))
			return;
	}
}

/* What an image path's part is attached from: the open file, what it holds, and, for a disk
 * image, the partition's bytes in it. */
struct image_src {
	int fd;
	char *type;
	struct disk_slice slice;
	bool disk; /* slice is set: a disk image's partition (or its whole data) */
};

static void image_src_done(struct image_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->type);
	disk_slice_done(&s->slice);
	*s = (struct image_src){.fd = -1};
}

/* The partitions of a disk image, after a refusal that names none or several. */
static void list_partitions(const struct disk *d)
{
	if (!d->table) {
		log_info("it holds no partition table");
		return;
	}
	log_info("the %s partition table of this %s holds %zu partition%s:", d->table,
	         disk_format_name(d->h.format), d->n_parts, d->n_parts == 1 ? "" : "s");
	for (size_t i = 0; i < d->n_parts; i++) {
		_cleanup_free_ char *line = disk_part_line(&d->parts[i], d->table);
		log_info("  %s", line);
	}
}

/*
 * Opens one image file inside the file system mounted at dir and judges it (verdict.c):
 * returns 0 with *ret (the descriptor, what it holds; for a disk image the partition sel
 * names, or the one found without sel, and its bytes), or -errno after the one-line
 * failure. wanted: the type asked for, or NULL.
 */
static int image_open(const char *dir, const char *path, const char *where, bool writable,
                      const char *wanted, const struct partsel *sel, struct image_src *ret)
{
	*ret = (struct image_src){.fd = -1};
	_cleanup_close_ int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return log_fail(errno, "opening", dir, NULL, "report this as a bug");
	struct image_facts f = {
	    .path = path, .where = where, .for_writing = writable, .wanted = wanted};
	int fd = open_in_root(rootfd, path, writable ? O_RDWR : O_RDONLY);
	_cleanup_free_ char *type = NULL;
	image_facts_read(fd, &f, &type);
	struct verdict v;
	_cleanup_free_ char *described = NULL;
	if (fd >= 0 && S_ISREG(f.mode) && f.probe == 0) {
		/* No file system at its start: a disk image? */
		int r = disk_resolve(rootfd, path, &fd, writable, sel, &ret->slice, &v);
		if (r < 0) {
			log_fail(v.err, v.what, v.value, v.reason, "%s", v.todo);
			if (v.code == VERDICT_PARTITION)
				list_partitions(&ret->slice.disk);
			verdict_done(&v);
			close(fd);
			image_src_done(ret);
			return r;
		}
		if (r > 0) {
			ret->disk = true;
			described = disk_slice_describe(&ret->slice, path);
			f.path = described;
			free(type);
			disk_slice_facts(fd, &ret->slice, &f, &type);
			log_debug("%s: %s (%s)", path, described, strempty(ret->slice.why));
		}
	}
	int r = image_verdict(&f, &v);
	if (r < 0) {
		log_fail(v.err, v.what, v.value, v.reason, "%s", v.todo);
		if (v.code == VERDICT_NOT_FOUND)
			list_nearest_dir(rootfd, path, where);
		verdict_done(&v);
		if (fd >= 0)
			close(fd);
		image_src_done(ret);
		return r;
	}
	ret->fd = fd;
	ret->type = type;
	type = NULL;
	return 0;
}

/* One partition of a disk image is attached once: two devices on the same bytes would be
 * two file systems writing the same blocks. */
static int image_claim_partition(struct engine *e, const struct image_src *src, const char *path)
{
	struct stat st;
	if (fstat(src->fd, &st) < 0)
		return log_fail(errno, "reading", path, NULL, "check the host file system");
	_cleanup_free_ char *key =
	    xasprintf("%llu:%llu:%llu", (unsigned long long)st.st_dev,
	              (unsigned long long)st.st_ino, (unsigned long long)src->slice.offset);
	if (strv_contains(&e->parts, key)) {
		_cleanup_free_ char *what = disk_slice_describe(&src->slice, path);
		return log_fail(
		    EBUSY, "disk image", what, "it is already attached for another mount",
		    "name another partition (loopboot.part=, part= in loopboot.mount=)");
	}
	strv_push(&e->parts, xstrdup(key));
	return 0;
}

/* A loop device on the image (for a disk image, on its partition's bytes), recorded; or
 * with linear mode the file's extents mapped. */
static int image_attach(struct engine *e, const struct image_src *src, const char *path,
                        const char *dir, const struct layer_choice *c, enum mount_role role,
                        const char *target, struct loopdev *ret)
{
	*ret = (struct loopdev){.fd = -1};
	/* What the bytes are in: a VMDK's extent beside its descriptor. */
	const char *file = src->disk && src->slice.data_path ? src->slice.data_path : path;
	uint64_t offset = src->disk ? src->slice.offset : 0, size = src->disk ? src->slice.size : 0;
	if (src->disk) {
		int r = image_claim_partition(e, src, path);
		if (r < 0)
			return r;
	}
	if (c->map) {
		int r = linear_map(e, src->fd, file, dir, role, target, c->device_ro, offset, size,
		                   &ret->devnode);
		if (r < 0 || ret->devnode)
			return r;
	}
	int r = loopdev_attach_range(src->fd, file, c->device_ro, offset, size, ret);
	if (r < 0)
		return log_fail(r, "attaching a loop device to", file, NULL,
		                "the kernel needs loop support (module loop)");
	struct layer *l = stack_push(&e->stack, LAYER_LOOP);
	l->loop = (struct layer_loop){.device = xstrdup(ret->devnode),
	                              .file = xstrdup(file),
	                              .parent = xstrdup(dir),
	                              .read_only = c->device_ro,
	                              .direct_io = ret->direct_io,
	                              .offset = offset,
	                              .sizelimit = size};
	return 0;
}

/* The checker, where the image will be written: the dry run only looks, and the real
 * pass skips what the dry run found clean. */
static int image_check(struct engine *e, const struct layer_choice *c, const char *devnode,
                       const char *type, const char *dir, const char *path,
                       const struct image_src *src)
{
	if (!c->check)
		return 0;
	/* A partition of a disk image by its place in the file: each is checked on its own. */
	_cleanup_free_ char *key = src->disk ? xasprintf("%s:%s@%llu", dir_key(e, dir), path,
	                                                 (unsigned long long)src->slice.offset)
	                                     : xasprintf("%s:%s", dir_key(e, dir), path);
	if (c->check_ro) {
		int r = fsck_run(e->plan, devnode, type, path, true);
		if (r == 0)
			strv_push(&e->fsck_clean, xstrdup(key));
		return r;
	}
	return strv_contains(&e->fsck_clean, key) ? 0
	                                          : fsck_run(e->plan, devnode, type, path, false);
}

/* Where a part of an image path is mounted: the target for the last, a numbered layer
 * directory under /run for the others. */
static char *image_mount_point(struct engine *e, bool last, const char *target)
{
	if (last)
		return xstrdup(target);
	char *mnt = xasprintf("%s/%u", e->probe ? PROBE_DIR "/layers" : LAYER_DIR, ++e->seq);
	int r = mkdir_p(mnt, 0700);
	if (r < 0) {
		log_fail(r, "creating", mnt, NULL, "/run must be writable");
		free(mnt);
		return NULL;
	}
	return mnt;
}

/* One part of an image path: the file path in the file system at dir. Mounts it at
 * *ret_mnt (allocated). */
static int image_layer(struct engine *e, const char *dir, const char *where, const char *path,
                       const struct layer_facts *lf, const struct partsel *sel, const char *fstype,
                       const char *options, const char *target, enum mount_role role,
                       bool *ret_was_disk, char **ret_mnt)
{
	struct layer_choice c = decide_layer(lf);
	struct image_src src;
	int r = image_open(dir, path, where, c.open_rw, lf->last ? fstype : NULL, sel, &src);
	if (r < 0)
		return r;
	*ret_was_disk = src.disk;
	const char *mount_type = lf->last && fstype ? fstype : src.type;
	/* The driver loads while the checker reads the image. */
	modules_preload_fs(e->mods, mount_type);

	struct loopdev dev;
	r = image_attach(e, &src, path, dir, &c, role, target, &dev);
	if (r < 0) {
		image_src_done(&src);
		return r;
	}
	_cleanup_free_ char *mnt = image_mount_point(e, lf->last, target);
	r = mnt ? image_check(e, &c, dev.devnode, mount_type, dir, path, &src) : -ENOMEM;
	if (r >= 0 && !modules_have_fs(e->mods, mount_type))
		r = log_fail(ENODEV, "image file system type", mount_type,
		             "the kernel has no driver for it",
		             "rebuild the initramfs with the %s module", mount_type);
	_cleanup_free_ char *opts = options_join(
	    lf->last ? options : NULL, c.no_replay ? options_no_replay(mount_type) : NULL);
	const char *source = dev.devnode;
	_cleanup_free_ char *cow = NULL;
	bool said = false;
	if (r >= 0) {
		r = mount_fs(dev.devnode, mnt, mount_type, c.mount_ro, opts);
		if (r == -EROFS && lf->base && c.device_ro && !e->probe && lf->last) {
			/* Its journal needs replaying and the device is read-only: replay it into
			 * a copy-on-write in RAM. */
			r = image_cow(e, dev.devnode, path, &cow);
			said = r < 0;
			if (r >= 0) {
				source = cow;
				r = mount_fs(cow, mnt, mount_type, true, opts);
			}
		}
		if (r < 0 && !said)
			log_fail(
			    r, "mounting the image", path, NULL,
			    "the %s file system may be damaged (check it with fsck from another "
			    "system) or the options \"%s\" are wrong",
			    mount_type, strempty(opts));
	}
	if (r >= 0) {
		struct layer *l = stack_push(&e->stack, LAYER_MOUNT);
		l->mount = (struct layer_mount){.role = lf->last ? role : MOUNT_ROLE_LAYER,
		                                .source = xstrdup(source),
		                                .target = xstrdup(mnt),
		                                .type = xstrdup(mount_type),
		                                .image = xstrdup(path),
		                                .read_only = c.mount_ro,
		                                .options = opts ? xstrdup(opts) : NULL};
		if (src.disk) {
			l->mount.disk = xstrdup(disk_format_key(src.slice.disk.h.format));
			if (src.slice.has_part)
				l->mount.partition = src.slice.disk.parts[src.slice.index].number;
		}
		*ret_mnt = mnt;
		mnt = NULL;
	}
	loopdev_release(&dev); /* the mount holds the device now */
	image_src_done(&src);
	return r;
}

/*
 * The parts of ip, the first in the file system mounted at dir (where: for messages),
 * each inside the one before. ret_parent (may be NULL): where the last part's file is.
 */
int image_build_parts(struct engine *e, const char *dir, const char *where,
                      const struct imagepath *ip, const struct layer_facts *facts,
                      const struct image_spec *spec, char **ret_parent)
{
	_cleanup_free_ char *d = xstrdup(dir), *w = xstrdup(where);
	/* The partition selector is for the first disk image in the path. */
	const struct partsel automatic = {.kind = PARTSEL_AUTO};
	const struct partsel *sel = &ip->sel;
	for (unsigned i = 0; i < ip->n; i++) {
		struct layer_facts lf = *facts;
		lf.on_host = lf.on_host && i == 0;
		lf.last = i + 1 == ip->n;
		lf.in_ram = lf.in_ram && i == 0;
		if (lf.last && ret_parent)
			*ret_parent = xstrdup(d);
		char *mnt = NULL;
		bool was_disk = false;
		int r = image_layer(e, d, w, ip->part[i], &lf, sel, spec->fstype, spec->options,
		                    spec->target, spec->role, &was_disk, &mnt);
		if (r < 0)
			return r;
		if (was_disk)
			sel = &automatic;
		free(w);
		w = xasprintf("the image %s", ip->part[i]);
		free(d);
		d = mnt;
	}
	e->sel_used = sel == &automatic;
	if (e->probe && ip->sel.kind != PARTSEL_AUTO && !e->sel_used) {
		struct verdict v;
		_cleanup_free_ char *value = NULL;
		int r = disk_selector_unused(ip, ip == &e->plan->loop, &v, &value);
		log_fail(v.err, v.what, v.value, v.reason, "%s", v.todo);
		verdict_done(&v);
		return r;
	}
	return 0;
}

static struct layer_facts image_facts(const struct engine *e, bool read_only, bool base)
{
	return (struct layer_facts){.probe = e->probe,
	                            .host_ro = e->hc.host_ro,
	                            .linear = e->linear,
	                            .on_host = true,
	                            .read_only = read_only || base,
	                            .base = base};
}

int image_build(struct engine *e, const struct imagepath *ip, const char *fstype,
                const char *options, bool read_only, const char *target, enum mount_role role)
{
	_cleanup_free_ char *where = xasprintf("the host %s", e->host_spec);
	struct image_spec spec = {fstype, options, target, role};
	struct layer_facts lf = image_facts(e, read_only, false);
	return image_build_parts(e, engine_host(e)->target, where, ip, &lf, &spec, NULL);
}

int image_build_layer(struct engine *e, const struct imagepath *ip, bool read_only,
                      const char *target)
{
	_cleanup_free_ char *where = xasprintf("the host %s", e->host_spec);
	struct image_spec spec = {NULL, NULL, target, MOUNT_ROLE_LAYER};
	/* Read-only, it is never written, like a base: no journal replayed into the file. */
	struct layer_facts lf = image_facts(e, read_only, read_only);
	return image_build_parts(e, engine_host(e)->target, where, ip, &lf, &spec, NULL);
}

int image_build_root(struct engine *e, bool base, const char *target, enum mount_role role)
{
	const struct plan *p = e->plan;
	_cleanup_free_ char *where = xasprintf("the host %s", e->host_spec);
	struct image_spec spec = {p->loopfstype, p->loopflags, target, role};
	struct layer_facts lf = image_facts(e, e->hc.root_ro, base);
	if (!p->has_loop)
		return nethost_bind_root(e, target, role);
	if (!p->toram)
		return image_build_parts(e, engine_host(e)->target, where, &p->loop, &lf, &spec,
		                         NULL);
	if (e->probe) {
		/* The dry run builds it where it is, and judges whether it fits into RAM. */
		_cleanup_free_ char *parent = NULL;
		int r = image_build_parts(e, engine_host(e)->target, where, &p->loop, &lf, &spec,
		                          &parent);
		return r < 0 ? r : toram_check(e, parent, p->loop.part[p->loop.n - 1]);
	}
	/* The file the root file system is in goes into RAM; what it is inside of (the host,
	 * an ISO) only serves the copy. */
	_cleanup_free_ char *copy = NULL;
	e->sel_used = false;
	int r = toram_copy(e, where, &copy);
	if (r < 0)
		return r;
	if (!base && !e->hc.root_ro)
		log_warn(
		    "the root runs from a copy in RAM (loopboot.toram): changes to it are lost "
		    "at shutdown");
	lf.on_host = false;
	lf.in_ram = true;
	/* The partition selector, unless what held the copy was the disk image it names. */
	struct imagepath inner = {.n = 1, .part = {copy}};
	if (!e->sel_used)
		inner.sel = p->loop.sel;
	r = image_build_parts(e, TORAM_DIR, "RAM", &inner, &lf, &spec, NULL);
	return r;
}
