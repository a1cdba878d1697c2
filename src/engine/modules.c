/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/modules.h"

#include <dirent.h>
#include <pthread.h>
#include <libkmod.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/util.h"
#include "engine/helpers.h"
#include "engine/times.h"
#include "engine/uevent.h"

/* Loads that run while the engine goes on: devices' drivers, file systems it will need. */
struct job {
	char *name;
	const char *options;
	enum disk_lane lane; /* a disk-naming driver: loaded after the earlier ones of its lane */
	bool disks;          /* it makes block devices appear (modalias_reveals_disks()) */
	bool urgent;         /* the engine waits for it: loaded at the engine's own priority */
	pid_t tid;           /* the worker thread loading it, 0 before one took it */
	bool done;
	int result;
};

/*
 * A module's init runs in the thread that loads it, at that thread's priority. On one CPU
 * (QEMU, a small machine) the loads nobody waits for (loop, network cards, input devices)
 * would take CPU from the disk drivers and from the engine probing the disk that just
 * appeared (and a disk driver holds the disk while it reads its partition table): they run
 * niced, until the engine waits for one. The drivers that make disks appear, and the USB
 * and SD controllers in front of them, run at the engine's priority: the host is behind
 * one of them.
 */
#define NICE_BACKGROUND 10

static int job_nice(const struct job *j)
{
	return j->urgent || j->disks ? 0 : NICE_BACKGROUND;
}

static void set_nice(pid_t tid, int nice)
{
	(void)setpriority(PRIO_PROCESS, (id_t)tid, nice); /* best effort: a priority only */
}

#define WORKERS 4

struct modules {
	struct kmod_ctx *ctx; /* the calling thread's; each worker has its own */
	struct strv seen;     /* modaliases handled by an earlier coldplug */
	struct strv drivers;  /* modules queued for devices, each once */
	int async_saved;      /* the kernel's default async_probe before ours: 0, 1; -1 untouched */
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a job was queued, a job is done, or stop */
	struct job *jobs;
	size_t n_jobs, next; /* next: the first job no worker took yet */
	pthread_t workers[WORKERS];
	unsigned n_workers, idle, max_workers;
	bool stop;
};

#define ASYNC_DEFAULT "/sys/module/module/parameters/async_probe"

/* Device drivers probe in the background while the engine works (Linux 5.19+: the
 * default of every module's async_probe). Without it, a module's load waits for all
 * asynchronous work in the kernel: virtio_pci's dependencies wait for ahci's SATA port
 * resets. Each load also asks for async_probe itself, which older kernels honour for the
 * module named (not its dependencies). */
static void async_default(struct modules *m, bool on)
{
	if (on && m->async_saved < 0) {
		_cleanup_free_ char *v = NULL;
		if (read_file(ASYNC_DEFAULT, &v, NULL) < 0)
			return;
		if (write_string_file(ASYNC_DEFAULT, "Y\n") == 0)
			m->async_saved = v[0] == 'Y' || v[0] == '1';
	} else if (!on && m->async_saved >= 0) {
		if (!m->async_saved)
			(void)write_string_file(ASYNC_DEFAULT, "N\n");
		m->async_saved = -1;
	}
}

static struct kmod_ctx *ctx_new(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);
	/* The index files make lookups fast; without them libkmod falls back to text files. */
	if (ctx)
		kmod_load_resources(ctx);
	return ctx;
}

struct modules *modules_new(void)
{
	struct utsname u;
	if (uname(&u) < 0)
		return NULL;
	_cleanup_free_ char *dir = xasprintf("/lib/modules/%s/modules.dep", u.release);
	if (access(dir, F_OK) < 0) {
		log_debug("no modules for kernel %s (%s missing): using built-in drivers only",
		          u.release, dir);
		return NULL;
	}
	struct kmod_ctx *ctx = ctx_new();
	if (!ctx)
		return NULL;
	struct modules *m = xcalloc(1, sizeof(*m));
	m->ctx = ctx;
	m->async_saved = -1;
	/* Several loaders even on one CPU (udev starts 8 + 8 per CPU): a storage driver's load
	 * sleeps until the kernel's asynchronous work is done (ahci resetting SATA ports)
	 * while the others go on. */
	m->max_workers = WORKERS;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->changed, NULL);
	return m;
}

static int load(struct kmod_ctx *ctx, const char *name, const char *options)
{
	struct kmod_list *list = NULL, *it;
	int r = kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0)
		return r;
	if (!list)
		return -ENOENT;
	int result = 0;
	kmod_list_foreach(it, list)
	{
		struct kmod_module *mod = kmod_module_get_module(it);
		long long start = times_now_us();
		r = kmod_module_probe_insert_module(
		    mod, KMOD_PROBE_APPLY_BLACKLIST | KMOD_PROBE_FAIL_ON_LOADED, options, NULL,
		    NULL, NULL);
		if (r < 0 && r != -EEXIST) {
			log_debug("loading module %s for %s failed: %s", kmod_module_get_name(mod),
			          name, strerror(-r));
			result = r;
		} else if (r == 0) {
			log_debug("loaded module %s (for %s%s%s) in %lld ms",
			          kmod_module_get_name(mod), name, options ? ", " : "",
			          options ? options : "", (times_now_us() - start) / 1000);
		}
		kmod_module_unref(mod);
	}
	kmod_module_unref_list(list);
	return result;
}

/* Whether job i may start: no earlier job of its lane is still loading. The earlier ones
 * were all taken by workers already (jobs are taken in order), so waiting cannot stall. */
static bool lane_clear(const struct modules *m, size_t i)
{
	for (size_t j = 0; m->jobs[i].lane != DISK_LANE_NONE && j < i; j++)
		if (m->jobs[j].lane == m->jobs[i].lane && !m->jobs[j].done)
			return false;
	return true;
}

/*
 * The options a disk-naming driver loads with. Binding in bus order (async_probe=0) makes
 * the kernel wait, before the load returns, for all the asynchronous work there is: AHCI
 * resetting empty SATA ports (half a second under QEMU) held up the virtio disk's driver
 * loading after it, and the engine, which lets no load run past switch_root, waited for
 * the ports at its end when they were not done. Bus order only matters between two disks
 * of a lane (the lanes load side by side anyway): a lane with one device (a virtio disk,
 * one AHCI controller, whose ports keep their order themselves, one NVMe drive) binds it
 * in the background, and whoever needs its disks waits for them as for any device. The
 * devices are counted when the load starts, so that one added since coldplug counts.
 */
static const char *lane_options(enum disk_lane lane, const char *options)
{
	if (options && streq(options, "async_probe"))
		return options;
	return disk_lane_devices("/sys", lane) <= 1 ? "async_probe" : options;
}

/* A worker: takes the queued jobs in order, each with its own libkmod context (a context
 * is not to be shared between threads); the kernel serialises loads of one module. */
static void *worker(void *userdata)
{
	struct modules *m = userdata;
	struct kmod_ctx *ctx = ctx_new();
	pthread_mutex_lock(&m->lock);
	for (;;) {
		if (m->next < m->n_jobs) {
			size_t i = m->next++;
			char *name = m->jobs[i].name;
			const char *options = m->jobs[i].options;
			/* Two disk-naming drivers of one lane loading side by side name disks
			 * in either order even when each binds in bus order: virtio_blk
			 * registered while virtio_pci still adds devices probes the later
			 * device first. One after the other, in the order queued, as one
			 * modprobe after the other would; the other lanes and drivers go on. */
			while (!lane_clear(m, i))
				pthread_cond_wait(&m->changed, &m->lock);
			m->jobs[i].tid = gettid();
			set_nice(m->jobs[i].tid, job_nice(&m->jobs[i]));
			enum disk_lane lane = m->jobs[i].lane;
			pthread_mutex_unlock(&m->lock);
			if (lane != DISK_LANE_NONE)
				options = lane_options(lane, options);
			int r = ctx ? load(ctx, name, options) : -ENOMEM;
			pthread_mutex_lock(&m->lock);
			m->jobs[i].done = true;
			m->jobs[i].result = r;
			pthread_cond_broadcast(&m->changed);
		} else if (m->stop) {
			break;
		} else {
			m->idle++;
			pthread_cond_wait(&m->changed, &m->lock);
			m->idle--;
		}
	}
	pthread_mutex_unlock(&m->lock);
	kmod_unref(ctx);
	return NULL;
}

/* Queues a load; done at once in this thread when no worker can be started. */
static void load_async(struct modules *m, const char *name, const char *options,
                       enum disk_lane lane, bool disks)
{
	pthread_mutex_lock(&m->lock);
	if (m->n_jobs % 16 == 0)
		m->jobs = xrealloc(m->jobs, (m->n_jobs + 16) * sizeof(*m->jobs));
	m->jobs[m->n_jobs++] =
	    (struct job){.name = xstrdup(name), .options = options, .lane = lane, .disks = disks};
	if (m->idle == 0 && m->n_workers < m->max_workers &&
	    pthread_create(&m->workers[m->n_workers], NULL, worker, m) == 0)
		m->n_workers++;
	bool none = m->n_workers == 0;
	pthread_cond_broadcast(&m->changed);
	pthread_mutex_unlock(&m->lock);
	if (none) {
		m->next = m->n_jobs;
		int r = load(m->ctx, name,
		             lane != DISK_LANE_NONE ? lane_options(lane, options) : options);
		m->jobs[m->n_jobs - 1].done = true;
		m->jobs[m->n_jobs - 1].result = r;
	}
}

void modules_free(struct modules *m)
{
	if (!m)
		return;
	/* Loads still running finish first: a driver half loaded at switch_root would be
	 * killed with this process. */
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->changed);
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < m->n_workers; i++)
		pthread_join(m->workers[i], NULL);
	async_default(m, false); /* the real system's udev loads with the kernel's default */
	for (size_t i = 0; i < m->n_jobs; i++)
		free(m->jobs[i].name);
	free(m->jobs);
	pthread_cond_destroy(&m->changed);
	pthread_mutex_destroy(&m->lock);
	kmod_unref(m->ctx);
	strv_free(&m->seen);
	strv_free(&m->drivers);
	free(m);
}

int modules_load(struct modules *m, const char *name)
{
	if (!m)
		return -ENOENT;
	/* Queued before (modules_preload): its result, once a worker has it. */
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_jobs; i++) {
		if (!streq(m->jobs[i].name, name))
			continue;
		/* Its worker (or the one that takes it) runs at our priority now, and so do
		 * the loads before it in its lane, which it waits for. */
		for (size_t j = 0; j <= i; j++) {
			struct job *w = &m->jobs[j];
			if (w->done || w->urgent ||
			    (j < i && (w->lane == DISK_LANE_NONE || w->lane != m->jobs[i].lane)))
				continue;
			w->urgent = true;
			if (w->tid > 0)
				set_nice(w->tid, 0);
		}
		while (!m->jobs[i].done)
			pthread_cond_wait(&m->changed, &m->lock);
		int r = m->jobs[i].result;
		pthread_mutex_unlock(&m->lock);
		return r;
	}
	pthread_mutex_unlock(&m->lock);
	return load(m->ctx, name, NULL);
}

void modules_preload(struct modules *m, const char *name)
{
	if (m)
		load_async(m, name, NULL, DISK_LANE_NONE, false);
}

/* Queues the modules a device's modalias resolves to, each module once: two devices of one
 * driver (virtio_pci for a disk and for a network card) must not race to load it with
 * different options. */
static void queue_driver(struct modules *m, const char *modalias)
{
	/* Background binding (async_probe) lets one slow controller (ahci resetting empty SATA
	 * ports: half a second under QEMU) not hold up the others. Not for the drivers that
	 * name disks: bound in the background, two virtio disks become vda and vdb in either
	 * order, and root=/dev/vda or an fstab's /dev/sdb1 finds the wrong disk. They bind as
	 * the kernel's own default says, in bus order unless module.async_probe=1 was given:
	 * "async_probe=0" where that default exists (Linux 6.0+, which reads the value), no
	 * option before (where the name alone means asynchronous); the lanes with one device
	 * bind in the background after all (lane_options(), when the load starts). Whoever
	 * needs a device waits for it anyway. */
	const char *options = "async_probe";
	enum disk_lane lane = modalias_disk_lane(modalias);
	if (lane != DISK_LANE_NONE)
		options = m->async_saved == 0   ? "async_probe=0"
		          : m->async_saved == 1 ? options
		                                : NULL;
	struct kmod_list *list = NULL, *it;
	if (kmod_module_new_from_lookup(m->ctx, modalias, &list) < 0)
		return;
	kmod_list_foreach(it, list)
	{
		struct kmod_module *mod = kmod_module_get_module(it);
		const char *name = kmod_module_get_name(mod);
		if (!strv_contains(&m->drivers, name)) {
			strv_push(&m->drivers, xstrdup(name));
			load_async(m, name, options, lane, modalias_reveals_disks(modalias));
		}
		kmod_module_unref(mod);
	}
	kmod_module_unref_list(list);
}

int modules_load_device(struct modules *m, const char *modalias)
{
	if (!m || !*modalias || strv_contains(&m->seen, modalias))
		return 0;
	strv_push(&m->seen, xstrdup(modalias));
	queue_driver(m, modalias);
	return 1;
}

struct walk {
	struct modules *m;
	struct strv *found;
};

static void found_device(const char *bus, const char *modalias, void *userdata)
{
	(void)bus;
	struct walk *w = userdata;
	if (!strv_contains(&w->m->seen, modalias) && !strv_contains(w->found, modalias))
		strv_push(w->found, xstrdup(modalias));
}

/* The devices on each bus (/sys/bus/BUS/devices/DEV/modalias): every device a driver can
 * bind to is on a bus, and the walk reads a few hundred files where one through
 * /sys/devices reads every attribute of every device. The disk-naming drivers are queued
 * first, so that a driver shared with other devices (virtio_pci) loads with their
 * options. */
static int walk_buses(struct modules *m)
{
	_cleanup_(strv_free) struct strv found = {0};
	int r = sysfs_modaliases("/sys", NULL, found_device, &(struct walk){m, &found});
	if (r < 0)
		return r;
	int n = 0;
	for (int disks = 1; disks >= 0; disks--)
		for (size_t i = 0; i < found.n; i++)
			if (modalias_names_disks(found.v[i]) == disks)
				n += modules_load_device(m, found.v[i]);
	return n;
}

int modules_coldplug(struct modules *m)
{
	if (!m)
		return 0;
	async_default(m, true);
	long long start = times_now_us();
	int n = walk_buses(m);
	log_debug("coldplug: %d new device aliases in %lld ms", n, (times_now_us() - start) / 1000);
	return n < 0 ? 0 : n;
}

bool modules_fs_registered(const char *fstype)
{
	_cleanup_free_ char *fs = NULL;
	if (read_file("/proc/filesystems", &fs, NULL) < 0)
		return false;
	for (char *line = strtok(fs, "\n"); line; line = strtok(NULL, "\n")) {
		char *name = strrchr(line, '\t');
		name = name ? name + 1 : line;
		if (streq(name, fstype))
			return true;
	}
	return false;
}

/* Code pages a file system asks the kernel for at mount time (codepage=, iocharset=). The
 * kernel would request them through modprobe too; loading them first does not depend on
 * the initramfs having a usermode helper. Missing ones are fine: they may be built in. */
static void load_companions(struct modules *m, const char *fstype, bool wait)
{
	const struct fs_helper *h = fs_helper_for(fstype);
	for (size_t i = 0; h && h->nls && h->nls[i]; i++)
		if (wait)
			(void)modules_load(m, h->nls[i]);
		else
			modules_preload(m, h->nls[i]);
}

void modules_preload_fs(struct modules *m, const char *fstype)
{
	if (!m || !fstype || modules_fs_registered(fstype))
		return;
	load_companions(m, fstype, false);
	_cleanup_free_ char *alias = xasprintf("fs-%s", fstype);
	modules_preload(m, alias);
}

bool modules_have_fs(struct modules *m, const char *fstype)
{
	if (!m)
		return modules_fs_registered(fstype);
	load_companions(m, fstype, true);
	if (modules_fs_registered(fstype))
		return true;
	/* Module aliases "fs-TYPE" are how the kernel itself asks for a file system. */
	_cleanup_free_ char *alias = xasprintf("fs-%s", fstype);
	if (modules_load(m, alias) < 0)
		modules_load(m, fstype);
	return modules_fs_registered(fstype);
}
