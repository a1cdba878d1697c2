/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host layer: finding its device, mounting it for the dry run and for real, moving it
 * into the new root. */
#include <fcntl.h>
#include <libmount.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/process.h"
#include "engine/engine.h"
#include "engine/modules.h"
#include "engine/mounts.h"
#include "engine/uevent.h"

int host_wait(struct engine *e)
{
	const struct plan *p = e->plan;
	long long deadline = now_ms() + (long long)p->timeout * 1000;
	bool announced = false;

	int step = step_begin("coldplug");
	modules_coldplug(e->mods);
	e->walk_ms = now_ms();
	step_end(step);
	step = step_begin("waiting for the host");
	struct device_cache seen = {0};
	int r;
	while ((r = device_find_cached(&p->root, &seen, &e->hostdev)) == 0) {
		if (now_ms() >= deadline) {
			log_fail(ENODEV, "host device not found", e->host_spec,
			         "no block device matches it",
			         "check root= against the list below (blkid shows the same values "
			         "on a running system)");
			device_list_all();
			r = -ENODEV;
			break;
		}
		if (!announced && now_ms() + (long long)p->timeout * 1000 - deadline > 1000) {
			log_info("waiting up to %u s for the host device %s", p->timeout,
			         e->host_spec);
			announced = true;
		}
		/* Drivers loaded by the last pass can reveal new devices: USB disks behind a
		 * host controller, partitions behind a disk. */
		engine_wait_step(e);
	}
	device_cache_free(&seen);
	step_end(step);
	if (r < 0)
		return r;
	modules_preload_fs(e->mods, e->hostdev.type); /* while its state is read */
	log_debug("host device %s is %s (TYPE=%s UUID=%s LABEL=%s PARTUUID=%s)", e->host_spec,
	          e->hostdev.devnode, strempty(e->hostdev.type), strempty(e->hostdev.uuid),
	          strempty(e->hostdev.label), strempty(e->hostdev.partuuid));
	return 0;
}

struct wait_step {
	struct modules *mods;
	bool block; /* a block device came, changed or went */
};

static void on_event(const struct uevent *ev, void *userdata)
{
	struct wait_step *w = userdata;
	if (ev->modalias && streq(ev->action, "add"))
		modules_load_device(w->mods, ev->modalias);
	if (ev->subsystem && streq(ev->subsystem, "block"))
		w->block = true;
}

void engine_wait_step(struct engine *e)
{
	/* A driver probing sends hundreds of events (PCI, SCSI hosts, ports): the caller's
	 * look at every block device waits for one about a block device, or for the step's
	 * 100 ms to end (a device that sends none is found then, as by polling). */
	struct wait_step w = {.mods = e->mods};
	long long until = now_ms() + 100;
	int r = -EBADF;
	while (e->uevent_fd > 0 && !w.block && now_ms() < until)
		if ((r = uevent_wait(e->uevent_fd, (int)(until - now_ms()), on_event, &w)) <= 0)
			break;
	if (r < 0 && r != -ENOBUFS)
		sleep_ms(100); /* no events to wait for: poll, as without a socket */
	if (r < 0 || now_ms() - e->walk_ms >= 1000) {
		modules_coldplug(e->mods);
		e->walk_ms = now_ms();
	}
}

int engine_wait_device(struct engine *e, const struct devspec *spec, struct device_info *ret)
{
	long long deadline = now_ms() + (long long)e->plan->timeout * 1000;
	int r;
	struct device_cache seen = {0};
	while ((r = device_find_cached(spec, &seen, ret)) == 0 && now_ms() < deadline)
		engine_wait_step(e);
	device_cache_free(&seen);
	return r;
}

static bool type_is_read_only(const char *type)
{
	static const char *const ro_types[] = {"iso9660", "squashfs", "erofs", "cramfs"};
	for (size_t i = 0; type && i < ARRAY_SIZE(ro_types); i++)
		if (streq(type, ro_types[i]))
			return true;
	return false;
}

static bool device_is_read_only(const char *devnode)
{
	_cleanup_close_ int fd = open(devnode, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int ro = 0;
	return fd >= 0 && ioctl(fd, BLKROGET, &ro) == 0 && ro;
}

static bool options_say_ro(const char *options)
{
	unsigned long flags = 0;
	return options &&
	       mnt_optstr_get_flags(options, &flags, mnt_get_builtin_optmap(MNT_LINUX_MAP)) == 0 &&
	       (flags & MS_RDONLY);
}

void host_read_only_facts(const struct engine *e, struct host_facts *f)
{
	f->type_ro = type_is_read_only(e->hostdev.type);
	/* A host on the network is shared by every client: never written. */
	enum plan_net_kind net = e->plan->net.kind;
	f->device_ro = (net != PLAN_NET_NONE && net != PLAN_NET_HTTP) ||
	               (e->hostdev.devnode && device_is_read_only(e->hostdev.devnode));
	f->options_ro = options_say_ro(e->plan->rootflags);
}

/* Mounts the host at HOST_STAGING from device (the host's own, or its mapping) and
 * records it as the bottom of the stack. */
int host_mount_from(struct engine *e, const char *device, bool read_only, bool no_replay)
{
	const struct plan *p = e->plan;
	int r = mkdir_p(HOST_STAGING, 0700);
	if (r < 0)
		return log_fail(r, "creating", HOST_STAGING, NULL, "/run must be writable");
	if (e->hostdev.type)
		modules_have_fs(e->mods, e->hostdev.type); /* loads fs-TYPE when it is a module */
	/* Read-only is not enough: ext4, xfs and btrfs replay their journal on a read-only
	 * mount, which writes. The dry run must not. */
	const char *type = p->rootfstype ? p->rootfstype : e->hostdev.type;
	_cleanup_free_ char *opts =
	    options_join(p->rootflags, no_replay && type ? options_no_replay(type) : NULL);
	struct layer *l = stack_push(&e->stack, LAYER_HOST);
	l->host.spec = xstrdup(e->host_spec);
	r = host_mount(e->mods, device, e->hostdev.type, p->rootfstype, opts, read_only,
	               HOST_STAGING, &l->host);
	if (r < 0)
		stack_truncate(&e->stack, e->stack.n - 1);
	return r;
}

int host_mount_as(struct engine *e, bool read_only)
{
	return host_mount_from(e, e->hostdev.devnode, read_only, read_only);
}

/* Unmounts the host (nothing else may be on the stack) to mount it again another way.
 * On failure the record stays, for the failed boot's unwinding. */
int host_unmount(struct engine *e, const char *what)
{
	int r = host_umount(engine_host(e), 10000);
	if (r < 0)
		return log_fail(r, what, e->host_spec, NULL, "report this as a bug");
	stack_truncate(&e->stack, e->base);
	return 0;
}

/*
 * Under udev (a framework's initramfs: dracut's systemd initrd, initramfs-tools), lets it
 * finish with the dry run's loop devices before the real pass attaches its own. They are
 * detached by now, and the real pass gets the same numbers back. systemd stops every
 * mount whose backing device it sees stopped (StopPropagatedFrom=): on a loaded machine
 * it unmounted the new root under the boot (the dracut VM test, FAT host), most likely
 * on reading "loop0 detached" after the real /sysroot on the new loop0 had appeared. The
 * standalone initramfs runs no udev: nothing to wait for.
 */
void host_udev_settle(void)
{
	if (access("/run/udev/control", F_OK) < 0)
		return;
	_cleanup_free_ char *udevadm = find_program("udevadm", PROGRAM_SEARCH_PATH);
	if (!udevadm)
		return;
	char *argv[] = {udevadm, "settle", "--timeout=10", NULL};
	/* Our own bound too: a udevadm stuck on its control socket must not hang the boot. */
	const struct process_options bounded = {.timeout_ms = 15000};
	struct process_result res;
	if (process_run(NULL, argv, &bounded, &res) < 0) {
		_cleanup_free_ char *how = process_result_message(&res);
		log_debug("udevadm settle: %s (going on)", how);
	}
}

/* From the read-only dry run to a writable host, without writing before it is decided. */
int host_make_writable(struct engine *e)
{
	struct layer_host *h = engine_host(e);
	if (h->fuse || (h->driver && options_no_replay(h->driver))) {
		/* FUSE drivers can't switch a mount to read-write, and a journal that was not
		 * replayed (noload) can't be remounted writable: start a new mount. */
		int r = host_unmount(e, "unmounting the host after the check");
		return r < 0 ? r : host_mount_as(e, false);
	}
	unsigned long flags = MS_REMOUNT;
	_cleanup_free_ char *data = NULL;
	if (e->plan->rootflags) {
		unsigned long f = 0;
		mnt_optstr_get_flags(e->plan->rootflags, &f, mnt_get_builtin_optmap(MNT_LINUX_MAP));
		flags |= f & ~(unsigned long)MS_RDONLY;
		mnt_split_optstr(e->plan->rootflags, NULL, NULL, &data, 0, 0);
	}
	if (mount(h->source, h->target, h->driver, flags, data) < 0)
		return log_fail(errno, "making the host writable", e->host_spec, NULL,
		                "check the file system from another system, or boot with ro and "
		                "a read-only host");
	h->read_only = false;
	return 0;
}

int host_move_into_root(struct engine *e)
{
	const struct plan *p = e->plan;
	struct layer_host *h = engine_host(e);
	_cleanup_free_ char *target = path_join(e->opts->root_mnt, p->hostdir);
	struct stat st;
	if (stat(target, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (e->hc.root_ro || mkdir_p(target, 0755) < 0) {
			log_warn(
			    "the image has no %s directory%s: the host stays at %s — create %s "
			    "in the image",
			    p->hostdir, e->hc.root_ro ? " and is mounted read-only" : "",
			    HOST_STAGING, p->hostdir);
			return 0;
		}
	}
	int r = mount(h->target, target, NULL, MS_MOVE, NULL);
	if (r < 0 && errno == EINVAL) {
		/* MS_MOVE refuses a mount whose parent mount is shared, as every mount is under
		 * systemd (a dracut initrd): make that parent (the mount holding /run/loopboot)
		 * private, and try again. */
		_cleanup_free_ char *dir = xstrdup(h->target);
		bool done = false;
		for (char *slash; !done && (slash = strrchr(dir, '/')) && slash != dir;) {
			*slash = '\0';
			done = mount(NULL, dir, NULL, MS_PRIVATE, NULL) == 0;
		}
		if (!done)
			(void)mount(NULL, "/", NULL, MS_PRIVATE, NULL);
		r = mount(h->target, target, NULL, MS_MOVE, NULL);
	}
	if (r < 0)
		return log_fail(errno, "moving the host into the new root", target, NULL,
		                "the mount points must not be shared (mount --make-private)");
	free(h->target);
	h->target = xstrdup(target);
	return 0;
}

/*
 * systemd-shutdown unmounts what is left with umount2(MNT_FORCE). On FUSE that aborts the
 * connection even when the unmount then fails with EBUSY (fuse_umount_begin), and every
 * later read or write of the root image fails with EIO. A drop-in for the host's mount
 * unit in /run/systemd/system has systemd detach the host lazily at umount.target
 * instead: systemd-shutdown then never sees it, the loop devices keep it alive, and it
 * goes when the shutdown program has detached them (the daemon then flushes and exits).
 */
static void systemd_escape_path(FILE *f, const char *path)
{
	while (*path == '/')
		path++;
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0) {
		fputc('-', f);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c == '/') {
			while (i + 1 < n && path[i + 1] == '/')
				i++;
			fputc('-', f);
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == ':' || c == '_' || (c == '.' && i > 0))
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

void host_write_systemd_dropin(struct engine *e)
{
	_cleanup_free_ char *path = engine_final_path(e, engine_host(e)->target);
	char *unit = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&unit, &len);
	if (!f)
		return;
	systemd_escape_path(f, path);
	fclose(f);
	_cleanup_free_ char *u = unit;
	_cleanup_free_ char *dir = xasprintf("/run/systemd/system/%s.mount.d", u);
	_cleanup_free_ char *file = xasprintf("%s/50-loopboot-host.conf", dir);
	static const char conf[] =
	    "# Written by loopboot: unmount the FUSE host lazily, never with MNT_FORCE.\n"
	    "[Mount]\nLazyUnmount=yes\n";
	if (mkdir_p(dir, 0755) < 0 || write_file_atomic(file, conf, strlen(conf), 0644) < 0)
		log_warn("writing %s: %m — systemd will abort the host's FUSE connection at "
		         "shutdown",
		         file);
	else
		log_debug("wrote %s", file);
}
