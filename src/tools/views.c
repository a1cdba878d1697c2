/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/views.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/util.h"
#include "engine/layer.h"
#include "engine/loopdev.h"
#include "engine/mounts.h"

int views_enter(struct views *vs)
{
	if (vs->in_ns)
		return 0;
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	vs->in_ns = true;
	const char *bases[] = {"/run", "/tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(bases) && !vs->scratch; i++) {
		_cleanup_free_ char *t = xasprintf("%s/loopboot-view.XXXXXX", bases[i]);
		if (mkdtemp(t)) {
			vs->scratch = t;
			t = NULL;
		}
	}
	return vs->scratch ? 0 : -errno;
}

char *views_scratch_dir(struct views *vs)
{
	char *p = xasprintf("%s/%u", vs->scratch, ++vs->seq);
	if (mkdir(p, 0700) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

int views_add(struct views *vs, int fd, const char *path)
{
	vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	vs->v[vs->n] = (struct view){.fd = fd,
	                             .path = path ? xstrdup(path)
	                                          : xasprintf("/proc/%d/fd/%d", (int)getpid(), fd)};
	return (int)vs->n++;
}

int views_detach(struct views *vs, const char *dir)
{
	/* Inherited by the programs we start, so that the /proc/PID/fd path works there. */
	int fd = open(dir, O_PATH | O_DIRECTORY);
	int r = fd < 0 ? -errno : 0;
	if (umount2(dir, MNT_DETACH) < 0 && r == 0)
		r = -errno;
	rmdir(dir);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return views_add(vs, fd, NULL);
}

int views_mount(struct views *vs, const char *source, const char *type, const char *options)
{
	int r = views_enter(vs);
	_cleanup_free_ char *dir = r < 0 ? NULL : views_scratch_dir(vs);
	if (!dir)
		return r < 0 ? r : -errno;
	r = mount_fs(source, dir, type, true, options);
	if (r < 0) {
		rmdir(dir);
		return r;
	}
	return views_detach(vs, dir);
}

void views_release(struct views *vs)
{
	for (size_t i = vs->n; i-- > 0;) {
		close(vs->v[i].fd);
		free(vs->v[i].path);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = 0;
	/* The FUSE daemon flushes nothing (read-only) and exits once its mount is gone. */
	for (int waited = 0; vs->host_daemon > 0 && waited < 10000; waited += 20) {
		if (kill(vs->host_daemon, 0) < 0 && errno == ESRCH)
			break;
		(void)waitpid(vs->host_daemon, NULL, WNOHANG);
		sleep_ms(20);
	}
	if (vs->scratch) {
		rmdir(vs->scratch);
		free(vs->scratch);
		vs->scratch = NULL;
	}
}

/* The host of an entry: where the system has it mounted, else a read-only mount of ours. */
static int open_host(struct views *vs, struct modules *m, const struct plan *p,
                     const struct device_info *dev, const char *cmd)
{
	_cleanup_(mount_entry_free) struct mount_entry me = {0};
	int fd = mount_open_device(dev->devnode, &me);
	if (fd >= 0)
		return views_add(vs, fd, me.target);
	int r = views_enter(vs);
	_cleanup_free_ char *dir = r < 0 ? NULL : views_scratch_dir(vs);
	if (!dir)
		return log_fail(r < 0 ? r : errno, cmd, "a private mount namespace", NULL,
		                "run it as root");
	const char *type = p->rootfstype ? p->rootfstype : dev->type;
	_cleanup_free_ char *opts =
	    options_join(p->rootflags, type ? options_no_replay(type) : NULL);
	struct layer_host h = {0};
	r = host_mount(m, dev->devnode, dev->type, p->rootfstype, opts, true, dir, &h);
	vs->host_daemon = h.daemon_pid;
	layer_host_done(&h);
	if (r < 0) {
		rmdir(dir);
		return r; /* host_mount() said why */
	}
	return views_detach(vs, dir);
}

char *views_loop_of(int fd, uint64_t offset)
{
	/* At 0 any loop device of the file: an image attached whole (also with an offset of
	 * its own, as losetup -o makes one). */
	return offset ? loopdev_of_file_at(fd, offset) : loopdev_of_file(fd);
}

void views_list_parts(FILE *f, const char *indent, const struct disk *d)
{
	for (size_t i = 0; i < d->n_parts; i++) {
		_cleanup_free_ char *line = disk_part_line(&d->parts[i], d->table);
		fprintf(f, "%s%s\n", indent, line);
	}
	fflush(f);
}

int views_disk_failed(const struct verdict *v, const struct disk_slice *s, const char *cmd)
{
	_cleanup_free_ char *what = xasprintf("%s: %s", cmd, v->what);
	int r = log_fail(v->err, what, v->value, v->reason, "%s", strempty(v->todo));
	/* As the boot lists them: "loopboot:   2  Linux root (x86-64)  ...". */
	for (size_t i = 0; v->code == VERDICT_PARTITION && i < s->disk.n_parts; i++) {
		_cleanup_free_ char *line = disk_part_line(&s->disk.parts[i], s->disk.table);
		log_info("  %s", line);
	}
	return r;
}

/* One image file in view dirv: where it is in use already, else mounted read-only. A disk
 * image: its partition chosen by sel, what it is in *slice. */
static int open_image(struct views *vs, int dirv, const char *path, const char *where,
                      const char *fstype, const struct partsel *sel, struct disk_slice *slice,
                      const char *cmd)
{
	int rootfd = views_fd(vs, dirv);
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return log_fail(errno, cmd, path, errno == ENOENT ? "no such image file" : NULL,
		                "check loop= (on %s)", where);
	struct verdict v;
	int r = disk_resolve(rootfd, path, &fd, false, sel, slice, &v);
	if (r < 0) {
		r = views_disk_failed(&v, slice, cmd);
		verdict_done(&v);
		return r;
	}
	verdict_done(&v);
	bool disk = r > 0;
	uint64_t offset = disk ? slice->offset : 0, size = disk ? slice->size : 0;
	_cleanup_free_ char *name = disk ? disk_slice_describe(slice, path) : xstrdup(path);
	_cleanup_free_ char *busy = views_loop_of(fd, offset);
	_cleanup_(mount_entry_free) struct mount_entry me = {0};
	int mfd = busy ? mount_open_device(busy, &me) : -ENOENT;
	if (mfd >= 0)
		return views_add(vs, mfd, me.target);
	_cleanup_free_ char *type = NULL;
	r = device_probe_range(fd, offset, size, &type);
	if (r <= 0)
		return log_fail(r < 0 ? r : EMEDIUMTYPE, cmd, name,
		                r < 0 ? NULL : "no file system found in it",
		                "check loop= with loopboot check");
	const char *mount_type = fstype ? fstype : type;
	struct loopdev loop;
	/* The backing file's name as the boot records it: the image's path (the extent's for
	 * a VMDK). */
	const char *backing = disk && slice->data_path ? slice->data_path : path;
	r = disk ? loopdev_attach_range(fd, backing, true, offset, size, &loop)
	         : loopdev_attach(fd, backing, true, &loop);
	if (r < 0)
		return log_fail(r, cmd, name, "attaching a read-only loop device failed",
		                "the kernel needs loop support (modprobe loop)");
	r = views_mount(vs, loop.devnode, mount_type, options_no_replay(mount_type));
	loopdev_release(&loop); /* the mount holds the device now; autoclear frees it */
	if (r < 0)
		return log_fail(r, cmd, name, "a read-only mount failed",
		                "check it with loopboot check");
	return r;
}

int views_open_layers(struct views *vs, struct modules *m, const struct plan *p, const char *cmd,
                      int *ret_views, struct disk_slice *ret_slices)
{
	_cleanup_free_ char *spec = devspec_to_string(&p->root);
	struct device_info dev = {0};
	int r = device_find(&p->root, &dev);
	if (r == 0)
		r = log_fail(ENODEV, cmd, spec, "no block device here matches the host",
		             "attach the host, or check root= (blkid lists the devices)");
	int v = r < 0 ? r : open_host(vs, m, p, &dev, cmd);
	device_info_free(&dev);
	if (ret_views)
		ret_views[0] = v;
	if (ret_slices)
		for (unsigned i = 0; i < p->loop.n; i++)
			ret_slices[i] = (struct disk_slice){0};
	/* loopboot.part= names the partition of the first disk image of the path; one further
	 * in has its partition chosen without it, as the boot does. */
	static const struct partsel automatic = {.kind = PARTSEL_AUTO};
	const struct partsel *sel = &p->loop.sel;
	_cleanup_free_ char *where = xasprintf("the host %s", spec);
	for (unsigned i = 0; v >= 0 && i < p->loop.n; i++) {
		bool last = i + 1 == p->loop.n;
		struct disk_slice own = {0}, *slice = ret_slices ? &ret_slices[i] : &own;
		v = open_image(vs, v, p->loop.part[i], where, last ? p->loopfstype : NULL, sel,
		               slice, cmd);
		if (slice->disk.h.format != DISK_NONE)
			sel = &automatic;
		disk_slice_done(&own);
		if (ret_views)
			ret_views[i + 1] = v;
		free(where);
		where = xasprintf("the image %s", p->loop.part[i]);
	}
	return v;
}

int views_open_entry(struct views *vs, struct modules *m, const struct plan *p, const char *cmd)
{
	return views_open_layers(vs, m, p, cmd, NULL, NULL);
}

/* ---- the kernel inside an image ---------------------------------------------------------- */

char *views_initrd_for(const char *kernel)
{
	const char *base = strrchr(kernel, '/');
	base = base ? base + 1 : kernel;
	const char *rest = startswith(base, "vmlinuz");
	if (!rest)
		return NULL;
	return xasprintf("%.*sinitrd.img%s", (int)(base - kernel), kernel, rest);
}

/* A regular file at path in the image (links followed inside it). */
static bool is_file_in(int rootfd, const char *path)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_PATH);
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* The newest /boot/vmlinuz-VERSION (strverscmp: 6.1.0-18 is newer than 6.1.0-9). */
static char *newest_boot_kernel(int rootfd)
{
	_cleanup_close_ int boot = open_in_root(rootfd, "/boot", O_RDONLY | O_DIRECTORY);
	_cleanup_(closedirp) DIR *d = boot >= 0 ? fdopendir(boot) : NULL;
	if (d)
		boot = -1; /* the DIR has it */
	char *best = NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *v = startswith(de->d_name, "vmlinuz-");
		if (!v || !*v || (best && strverscmp(de->d_name, best + strlen("/boot/")) <= 0))
			continue;
		_cleanup_free_ char *path = xasprintf("/boot/%s", de->d_name);
		if (!is_file_in(rootfd, path))
			continue;
		free(best);
		best = path;
		path = NULL;
	}
	return best;
}

char *views_image_kernel(int rootfd, char **ret_initrd)
{
	static const char *const links[] = {"/vmlinuz", "/boot/vmlinuz"};
	char *kernel = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(links) && !kernel; i++)
		if (is_file_in(rootfd, links[i]))
			kernel = xstrdup(links[i]);
	if (!kernel)
		kernel = newest_boot_kernel(rootfd);
	if (ret_initrd) {
		*ret_initrd = kernel ? views_initrd_for(kernel) : NULL;
		if (*ret_initrd && !is_file_in(rootfd, *ret_initrd)) {
			free(*ret_initrd);
			*ret_initrd = NULL;
		}
	}
	return kernel;
}
