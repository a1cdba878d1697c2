/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What goes into RAM: loopboot.toram's copy of the root image (so that the host can go
 * away), and the copy-on-write store under a read-only base whose journal needs
 * replaying (so that the kernel can replay it without writing the host).
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "engine/dmlinear.h"
#include "engine/engine.h"
#include "engine/loopdev.h"
#include "engine/modules.h"
#include "engine/mounts.h"

#define MIB (1ULL << 20)

unsigned long long mem_available(void)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_file("/proc/meminfo", &data, &len) < 0)
		return 0;
	const char *line = strstr(data, "MemAvailable:");
	unsigned long long kib = 0;
	if (line && sscanf(line, "MemAvailable: %llu kB", &kib) != 1)
		kib = 0;
	return kib * 1024;
}

static int open_in_dir(const char *dir, const char *path, int flags)
{
	_cleanup_close_ int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	return open_in_root(rootfd, path, flags);
}

int engine_mount_tmpfs(struct engine *e, const char *dir, const char *options, const char *todo)
{
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		return log_fail(r, "creating", dir, NULL, "/run must be writable");
	r = mount_fs("tmpfs", dir, "tmpfs", false, options);
	if (r < 0)
		return log_fail(r, "mounting a tmpfs at", dir, NULL, "%s",
		                todo ? todo : "check the kernel's tmpfs");
	struct layer *l = stack_push(&e->stack, LAYER_MOUNT);
	l->mount = (struct layer_mount){.role = MOUNT_ROLE_LAYER,
	                                .source = xstrdup("tmpfs"),
	                                .target = xstrdup(dir),
	                                .type = xstrdup("tmpfs"),
	                                .options = xstrdup(options)};
	return 0;
}

int toram_check(struct engine *e, const char *dir, const char *path)
{
	(void)e;
	_cleanup_close_ int fd = open_in_dir(dir, path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return log_fail(fd < 0 ? -fd : errno, "opening the root image for loopboot.toram",
		                path, NULL, "report this as a bug: the dry run had it open");
	unsigned long long avail = mem_available();
	if (decide_toram_fits((unsigned long long)st.st_size, avail))
		return 0;
	_cleanup_free_ char *why = xasprintf(
	    "%llu MiB do not fit into the %llu MiB of memory available (MemAvailable), keeping "
	    "%llu MiB for the system",
	    ((unsigned long long)st.st_size + MIB - 1) / MIB, avail / MIB, TORAM_RESERVE / MIB);
	return log_fail(ENOMEM, "copying the root image into RAM (loopboot.toram)", path, why,
	                "give the machine at least %llu MiB more memory, or boot without "
	                "loopboot.toram",
	                ((unsigned long long)st.st_size + TORAM_RESERVE - avail + MIB - 1) / MIB);
}

/* Copies in to out (size bytes), with a line on the console at every tenth. */
static int copy_progress(int in, int out, unsigned long long size, const char *what)
{
	enum { CHUNK = 4 << 20 };
	char *buf = xmalloc(CHUNK);
	unsigned long long done = 0;
	unsigned shown = 0;
	long long start = now_ms();
	int r = 0;
	log_info("copying %s to RAM: %llu MiB", what, (size + MIB - 1) / MIB);
	while (done < size) {
		ssize_t n = read(in, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO; /* shorter than it was a moment ago */
			break;
		}
		r = write_exactly(out, buf, (size_t)n);
		if (r < 0)
			break;
		done += (unsigned long long)n;
		unsigned tenth = (unsigned)(done * 10 / size);
		if (tenth > shown && done < size) {
			shown = tenth;
			log_info("copying %s to RAM: %u%% (%llu of %llu MiB)", what, tenth * 10,
			         done / MIB, (size + MIB - 1) / MIB);
		}
	}
	free(buf);
	if (r == 0)
		log_info("copied %s to RAM in %.1f s", what, (double)(now_ms() - start) / 1000);
	return r;
}

int toram_copy(struct engine *e, const char *where, char **ret_path)
{
	const struct imagepath *ip = &e->plan->loop;
	const char *file = ip->part[ip->n - 1];
	/* No size limit of its own: toram_check() judged the copy against MemAvailable. */
	int r = engine_mount_tmpfs(e, TORAM_DIR, "mode=0700,size=100%", NULL);
	if (r < 0)
		return r;
	size_t mark = e->stack.n;

	/* What holds the file (an ISO, an outer image), read-only, just for the copy. */
	_cleanup_free_ char *dir = xstrdup(engine_host(e)->target);
	if (ip->n > 1) {
		static const char outer_mnt[] = LAYER_DIR "/toram-source";
		r = mkdir_p(outer_mnt, 0700);
		if (r < 0)
			return log_fail(r, "creating", outer_mnt, NULL, "/run must be writable");
		struct imagepath outer = *ip;
		outer.n = ip->n - 1;
		struct image_spec spec = {NULL, NULL, outer_mnt, MOUNT_ROLE_LAYER};
		struct layer_facts lf = {
		    .host_ro = e->hc.host_ro, .on_host = true, .read_only = true, .base = true};
		r = image_build_parts(e, dir, where, &outer, &lf, &spec, NULL);
		if (r < 0)
			return r;
		free(dir);
		dir = xstrdup(outer_mnt);
	}

	const char *slash = strrchr(file, '/');
	_cleanup_free_ char *name = xasprintf("/%s", slash ? slash + 1 : file);
	_cleanup_free_ char *copy = path_join(TORAM_DIR, name);
	_cleanup_close_ int in = open_in_dir(dir, file, O_RDONLY);
	_cleanup_close_ int out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0)
		return log_fail(in < 0 ? -in : errno, "opening the root image for loopboot.toram",
		                file, NULL, "report this as a bug: the dry run had it open");
	if (out < 0)
		return log_fail(errno, "creating", copy, NULL, "check the kernel's tmpfs");
	int step = step_begin("copy to RAM");
	r = copy_progress(in, out, (unsigned long long)st.st_size, file);
	step_end(step);
	if (r < 0)
		return log_fail(r, "copying the root image to RAM (loopboot.toram)", file, NULL,
		                r == -ENOSPC ? "give the machine more memory, or boot without "
		                               "loopboot.toram"
		                             : "check the host's disk (a read error), or boot "
		                               "without loopboot.toram");
	/* The outer layers are not needed any more. */
	r = stack_unwind(&e->stack, mark);
	if (r < 0)
		return log_fail(r, "unmounting what held the root image", dir, NULL,
		                "report this as a bug");
	*ret_path = name;
	name = NULL;
	return 0;
}

bool toram_host_needed(const struct plan *p)
{
	return p->overlay == PLAN_OVERLAY_FILE || p->n_mounts > 0;
}

int toram_release_host(struct engine *e)
{
	/* The host and what it stands on (an opened BitLocker volume), top first. */
	for (size_t i = e->base + 1; i-- > 0;) {
		int r = layer_undo(&e->stack.v[i], NULL);
		if (r < 0)
			return log_fail(r, "unmounting the host after loopboot.toram", e->host_spec,
			                NULL,
			                "boot without loopboot.toram, or report this as a bug");
	}
	size_t n = e->base + 1;
	for (size_t i = 0; i < n; i++)
		layer_done(&e->stack.v[i]);
	memmove(e->stack.v, e->stack.v + n, (e->stack.n - n) * sizeof(*e->stack.v));
	e->stack.n -= n;
	e->base = 0;
	e->host_released = true;
	log_info("the root image is in RAM: the host %s is unmounted and may be removed",
	         e->host_spec);
	return 0;
}

int image_cow(struct engine *e, const char *origin, const char *what, char **ret_devnode)
{
	static const char todo[] =
	    "the initramfs needs the dm_mod and dm_snapshot modules (loopboot initrd adds "
	    "them); or boot once with a writable host, so that the journal is replayed";
	(void)modules_load(e->mods, "dm_mod");
	(void)modules_load(e->mods, "dm_snapshot");
	int r = dmlinear_available();
	if (r < 0)
		return log_fail(r, "replaying the journal of the read-only image", what,
		                "the kernel has no device-mapper", "%s", todo);

	_cleanup_close_ int ofd = open(origin, O_RDONLY | O_CLOEXEC);
	uint64_t size = 0;
	struct stat ost;
	if (ofd < 0 || ioctl(ofd, BLKGETSIZE64, &size) < 0 || fstat(ofd, &ost) < 0)
		return log_fail(errno, "reading the size of", origin, NULL, "report this as a bug");

	/* One tmpfs for every store, made with the first (the base, a read-only layer). */
	unsigned n = e->cows++;
	if (n == 0) {
		r = engine_mount_tmpfs(e, COW_DIR, "mode=0700,size=100%", NULL);
		if (r < 0)
			return r;
	}

	/* Sparse: only the chunks written take memory. */
	_cleanup_free_ char *file = xasprintf("/store%u", n);
	_cleanup_free_ char *store = path_join(COW_DIR, file);
	_cleanup_free_ char *name = n ? xasprintf("%s-%u", DM_NAME_COW, n) : xstrdup(DM_NAME_COW);
	_cleanup_close_ int fd = open(store, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return log_fail(errno, "creating", store, NULL, "check the kernel's tmpfs");
	struct loopdev cow;
	r = loopdev_attach(fd, store, false, &cow);
	if (r < 0)
		return log_fail(r, "attaching a loop device to", store, NULL,
		                "the kernel needs loop support (module loop)");
	struct layer *l = stack_push(&e->stack, LAYER_LOOP);
	l->loop = (struct layer_loop){
	    .device = xstrdup(cow.devnode), .file = xstrdup(file), .parent = xstrdup(COW_DIR)};
	struct stat cst;
	if (stat(cow.devnode, &cst) < 0) {
		r = -errno;
		loopdev_release(&cow);
		return log_fail(r, "opening", l->loop.device, NULL, "report this as a bug");
	}
	char *node = NULL;
	r = dmsnap_create(name, ost.st_rdev, cst.st_rdev, size / 512, &node);
	loopdev_release(&cow); /* the snapshot holds it now */
	if (r < 0)
		return log_fail(r, "creating the copy-on-write device over", origin, NULL, "%s",
		                todo);
	l = stack_push(&e->stack, LAYER_DM);
	l->dm = (struct layer_dm){.device = xstrdup(node),
	                          .name = xstrdup(name),
	                          .file = xstrdup(what),
	                          .on = xstrdup(origin),
	                          .target = xstrdup("snapshot")};
	log_info("%s needs its journal replayed: replaying it into RAM (a device-mapper snapshot "
	         "of %s); nothing reaches the host",
	         what, origin);
	*ret_devnode = node;
	return 0;
}
