/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/boot.h"

#include <dirent.h>
#include <fcntl.h>
#include <libmount.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/log.h"
#include "basic/process.h"
#include "engine/device.h"
#include "engine/dmlinear.h"
#include "engine/extents.h"
#include "engine/fsck.h"
#include "engine/hoststate.h"
#include "engine/loopdev.h"
#include "engine/modules.h"
#include "engine/mounts.h"
#include "engine/state.h"
#include "engine/switchroot.h"

#define HOST_STAGING STATE_DIR "/host"
#define PROBE_DIR    STATE_DIR "/probe"
#define LAYER_DIR    STATE_DIR "/layers"

struct engine {
	const struct plan *plan;
	const struct boot_options *opts;
	struct modules *mods;
	struct device_info hostdev;
	struct fsmount host;
	char *host_spec;        /* root= as written, for messages */
	bool host_ro;           /* the host cannot be written: medium, file system or rootflags */
	bool root_ro;           /* the root image is mounted read-only */
	bool probe;             /* the dry run: everything read-only, under PROBE_DIR */
	bool volatile_root;     /* unsafe host: root image read-only under a tmpfs overlay */
	struct strv fsck_clean; /* images the dry run found clean: "layer:path" */
	struct state stack;     /* what the current pass built, in order: the undo log */
	unsigned seq;           /* numbers intermediate layer mount points */
	bool linear;            /* loopboot.mode=linear in force (not refused so far) */
	bool linear_retry;      /* linear refused during the real pass: build it with loops */
	char *linear_refused;   /* why loopboot.mode=linear fell back to loop devices */
	char *host_dm;          /* linear: the dm name of the host's own mapping */
};

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *yesno(bool b)
{
	return b ? "1" : "0";
}

/* ---- API file systems ---------------------------------------------------------------- */

int boot_mount_api_filesystems(void)
{
	static const struct {
		const char *dir, *type, *source, *options;
		unsigned long flags;
	} api[] = {
	    {"/proc", "proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
	    {"/sys", "sysfs", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
	    {"/dev", "devtmpfs", "devtmpfs", "mode=0755", MS_NOSUID},
	    {"/run", "tmpfs", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV},
	};
	for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
		if (is_mount_point(api[i].dir))
			continue;
		if (mkdir(api[i].dir, 0755) < 0 && errno != EEXIST)
			return log_fail(errno, "creating", api[i].dir, NULL,
			                "the initramfs must be writable");
		if (mount(api[i].source, api[i].dir, api[i].type, api[i].flags, api[i].options) < 0)
			return log_fail(errno, "mounting", api[i].dir, NULL,
			                "the kernel needs %s support", api[i].type);
	}
	return 0;
}

/* ---- finding and mounting the host ---------------------------------------------------- */

static int wait_for_host(struct engine *e)
{
	const struct plan *p = e->plan;
	long long deadline = now_ms() + (long long)p->timeout * 1000;
	bool announced = false;

	modules_coldplug(e->mods);
	for (;;) {
		int r = device_find(&p->root, &e->hostdev);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		if (now_ms() >= deadline) {
			log_fail(ENODEV, "host device not found", e->host_spec,
			         "no block device matches it",
			         "check root= against the list below (blkid shows the same values "
			         "on a running system)");
			device_list_all();
			return -ENODEV;
		}
		if (!announced && now_ms() + (long long)p->timeout * 1000 - deadline > 1000) {
			log_info("waiting up to %u s for the host device %s", p->timeout,
			         e->host_spec);
			announced = true;
		}
		/* Drivers loaded by the last pass can reveal new devices: USB disks behind a
		 * host controller, partitions behind a disk. */
		modules_coldplug(e->mods);
		sleep_ms(100);
	}
	log_debug("host device %s is %s (TYPE=%s UUID=%s LABEL=%s PARTUUID=%s)", e->host_spec,
	          e->hostdev.devnode, strempty(e->hostdev.type), strempty(e->hostdev.uuid),
	          strempty(e->hostdev.label), strempty(e->hostdev.partuuid));
	return 0;
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

static int host_mount_as(struct engine *e, bool read_only)
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
	    options_join(p->rootflags, read_only && type ? options_no_replay(type) : NULL);
	return host_mount(e->mods, e->hostdev.devnode, e->hostdev.type, p->rootfstype, opts,
	                  read_only, HOST_STAGING, &e->host);
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
static void udev_settle(void)
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
static int host_make_writable(struct engine *e)
{
	if (e->host.fuse || (e->host.driver && options_no_replay(e->host.driver))) {
		/* FUSE drivers can't switch a mount to read-write, and a journal that was not
		 * replayed (noload) can't be remounted writable: start a new mount. */
		int r = host_umount(&e->host, 10000);
		fsmount_free(&e->host);
		if (r < 0)
			return log_fail(r, "unmounting the host after the check", e->host_spec,
			                NULL, "report this as a bug");
		return host_mount_as(e, false);
	}
	unsigned long flags = MS_REMOUNT;
	_cleanup_free_ char *data = NULL;
	if (e->plan->rootflags) {
		unsigned long f = 0;
		mnt_optstr_get_flags(e->plan->rootflags, &f, mnt_get_builtin_optmap(MNT_LINUX_MAP));
		flags |= f & ~(unsigned long)MS_RDONLY;
		mnt_split_optstr(e->plan->rootflags, NULL, NULL, &data, 0, 0);
	}
	if (mount(e->host.source, e->host.target, e->host.driver, flags, data) < 0)
		return log_fail(errno, "making the host writable", e->host_spec, NULL,
		                "check the file system from another system, or boot with ro and "
		                "a read-only host");
	e->host.read_only = false;
	return 0;
}

/* ---- images --------------------------------------------------------------------------- */

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

/* Opens one image file inside the file system mounted at dir. */
static int image_open(struct engine *e, const char *dir, const char *path, const char *where,
                      bool writable, int *ret_fd)
{
	_cleanup_close_ int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return log_fail(errno, "opening", dir, NULL, "report this as a bug");
	int fd = open_in_root(rootfd, path, writable ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		int r = errno;
		if (r == ENOENT || r == ENOTDIR) {
			_cleanup_free_ char *reason = xasprintf("no such file on %s", where);
			log_fail(ENOENT, "image file not found", path, reason,
			         "check loop= or loopboot.mount= (paths are case-sensitive on "
			         "Linux file systems)");
			list_nearest_dir(rootfd, path, where);
			return -ENOENT;
		}
		if (r == EISDIR)
			return log_fail(r, "image file", path, "it is a directory, not a file",
			                "name the image file itself");
		if (r == EROFS || r == EACCES || r == EPERM)
			return log_fail(r, "opening the image for writing", path, NULL,
			                "boot with ro, or make the file writable (%s)", where);
		return log_fail(r, "opening the image", path, NULL,
		                "check the host file system (%s)", where);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = errno;
		close(fd);
		return log_fail(r, "image file", path, NULL, "check the host file system");
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return log_fail(EISDIR, "image file", path, "it is a directory, not a file",
		                "name the image file itself");
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return log_fail(EINVAL, "image file", path, "not a regular file",
		                "name an image file");
	}
	(void)e;
	*ret_fd = fd;
	return 0;
}

static bool type_matches(const char *wanted, const char *found)
{
	if (streq(wanted, found))
		return true;
	/* The ext4 driver mounts ext2 and ext3 too. */
	return streq(wanted, "ext4") && (streq(found, "ext2") || streq(found, "ext3"));
}

/* The final path of something mounted now at path, as seen from the new root. */
static char *final_path(const struct engine *e, const char *path)
{
	const char *rest = startswith(path, e->opts->root_mnt);
	if (rest && (*rest == '/' || *rest == '\0') && !streq(e->opts->root_mnt, "/"))
		return xstrdup(*rest ? rest : "/");
	return xstrdup(path);
}

/* Which file system a path is in, the same in the dry run and the real pass. */
static const char *dir_key(const struct engine *e, const char *dir)
{
	if (streq(dir, e->host.target))
		return "host";
	const char *slash = strrchr(dir, '/');
	return slash ? slash + 1 : dir;
}

/* ---- loopboot.mode=linear --------------------------------------------------------------- */

static int blockdev_info(const char *devnode, dev_t *ret_rdev, uint64_t *ret_size)
{
	_cleanup_close_ int fd = open(devnode, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	if (ioctl(fd, BLKGETSIZE64, ret_size) < 0)
		return -errno;
	*ret_rdev = st.st_rdev;
	return 0;
}

/* Linear mode gives way to loop devices, with one warning line that says why. */
static void linear_refuse(struct engine *e, const char *what, const char *why)
{
	if (!e->linear)
		return;
	e->linear = false;
	free(e->linear_refused);
	e->linear_refused = xasprintf("%s: %s", what, why);
	log_warn("loopboot.mode=linear refused: %s: %s — booting with a loop device instead", what,
	         why);
}

/* Whether the kernel can map at all; refuses linear mode up front when it cannot. */
static void linear_check_kernel(struct engine *e)
{
	(void)modules_load(e->mods, "dm_mod");
	int r = dmlinear_available();
	if (r < 0) {
		_cleanup_free_ char *why = xasprintf("the kernel has no device-mapper (%s): the "
		                                     "initramfs needs the dm_mod module",
		                                     strerror(-r));
		linear_refuse(e, "device-mapper", why);
	}
}

/* The extents of the image file open as fd, on the host device. */
static int linear_extents(struct engine *e, int fd, const char *path, dev_t *ret_rdev,
                          struct extent_map *ret, const char **ret_why)
{
	uint64_t dev_size;
	*ret = (struct extent_map){0};
	int r = blockdev_info(e->hostdev.devnode, ret_rdev, &dev_size);
	if (r < 0) {
		*ret_why = "the host is not a block device";
		return r;
	}
	*ret_why = extent_host_type_refusal(e->hostdev.type);
	if (*ret_why)
		return -EINVAL;
	if (e->host.fuse) {
		if (!streq(e->hostdev.type, "ntfs")) {
			*ret_why = "the host is served by a FUSE driver, which reports no extents";
			return -EOPNOTSUPP;
		}
		/* ntfs-3g reports the MFT record number as the inode number. */
		struct stat st;
		uint64_t ino = fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
		return extents_from_ntfs(e->hostdev.devnode, path, ino, dev_size, ret, ret_why);
	}
	r = extents_from_fiemap(fd, dev_size, ret, ret_why);
	if (r == -EOPNOTSUPP && (streq(e->hostdev.type, "vfat") || streq(e->hostdev.type, "msdos")))
		r = extents_from_fat(fd, e->hostdev.devnode, dev_size, ret, ret_why);
	return r;
}

/*
 * An image file on the host, mapped with device-mapper instead of a loop device. In the
 * dry run only the extents are read and judged (a refusal switches the whole boot to loop
 * devices); in the real pass the mapping is made, checked against the file and recorded,
 * and *ret gets its node. A refusal in the real pass sets linear_retry and fails: the
 * caller builds the stack again with loop devices.
 */
static int linear_map(struct engine *e, int fd, const char *path, const char *dir, const char *role,
                      const char *target, bool read_only, struct loopdev *ret)
{
	struct extent_map m;
	const char *why = NULL;
	dev_t rdev = 0;
	int r = linear_extents(e, fd, path, &rdev, &m, &why);
	if (r < 0) {
		_cleanup_free_ char *what = xasprintf("the image %s", path);
		linear_refuse(e, what, why ? why : strerror(-r));
		if (e->probe)
			return 0;
		e->linear_retry = true;
		return -EAGAIN;
	}
	if (e->probe) {
		log_debug("%s: %zu extent%s on %s, can be mapped", path, m.n, m.n == 1 ? "" : "s",
		          e->hostdev.devnode);
		extent_map_free(&m);
		return 0;
	}
	_cleanup_free_ char *fin = final_path(e, target);
	_cleanup_free_ char *name = dmlinear_name_for(role, fin);
	char *node = NULL;
	r = dmlinear_create(name, major(rdev), minor(rdev), &m, read_only, &node);
	if (r == 0) {
		r = dmlinear_verify(fd, node, &m);
		if (r < 0) {
			(void)dmlinear_remove(name);
			free(node);
			node = NULL;
		}
	}
	if (r < 0) {
		_cleanup_free_ char *what = xasprintf("the image %s", path);
		_cleanup_free_ char *msg =
		    r == -EIO
		        ? xstrdup("the mapped device does not read back what the file holds")
		        : xasprintf("creating the device-mapper device %s: %s", name, strerror(-r));
		extent_map_free(&m);
		linear_refuse(e, what, msg);
		e->linear_retry = true;
		return -EAGAIN;
	}
	struct state_record *rec = state_add(&e->stack, "dm");
	_cleanup_free_ char *count = xasprintf("%zu", m.n);
	state_set(rec, "device", node);
	state_set(rec, "name", name);
	state_set(rec, "extents", count);
	state_set(rec, "file", path);
	state_set(rec, "parent", dir);
	state_set(rec, "on", e->hostdev.devnode);
	state_set(rec, "ro", yesno(read_only));
	log_info("%s: mapped linearly on %s as %s (%s, %zu extent%s)", path, e->hostdev.devnode,
	         node, name, m.n, m.n == 1 ? "" : "s");
	extent_map_free(&m);
	*ret = (struct loopdev){.devnode = node, .fd = -1, .read_only = read_only};
	return 0;
}

/*
 * The real pass in linear mode: the host leaves its device to device-mapper. A mounted
 * file system holds its device exclusively and device-mapper claims the devices under its
 * tables, so the host is mounted from a mapping of its own (the whole device, one extent),
 * read-only; the images' mappings share the device with it. The mapping is then made
 * read-only too, so that nobody remounts the host writable behind the images' backs.
 */
static int linear_host(struct engine *e)
{
	const struct plan *p = e->plan;
	dev_t rdev;
	uint64_t size;
	int r = blockdev_info(e->hostdev.devnode, &rdev, &size);
	if (r < 0) {
		linear_refuse(e, e->host_spec, "the host is not a block device");
		return 0;
	}
	r = host_umount(&e->host, 10000);
	fsmount_free(&e->host);
	if (r < 0)
		return log_fail(r, "unmounting the host after the check", e->host_spec, NULL,
		                "report this as a bug");
	struct extent_map m = {.size = size};
	(void)extent_map_add(&m, 0, 0, size);
	char *node = NULL;
	r = dmlinear_create(DM_NAME_HOST, major(rdev), minor(rdev), &m, e->host_ro, &node);
	extent_map_free(&m);
	if (r < 0) {
		_cleanup_free_ char *why = xasprintf("creating the device-mapper device %s: %s",
		                                     DM_NAME_HOST, strerror(-r));
		linear_refuse(e, e->host_spec, why);
		return host_mount_as(e, true); /* as the dry run left it */
	}
	e->host_dm = xstrdup(DM_NAME_HOST);
	const char *type = p->rootfstype ? p->rootfstype : e->hostdev.type;
	_cleanup_free_ char *opts =
	    options_join(p->rootflags, e->host_ro && type ? options_no_replay(type) : NULL);
	r = host_mount(e->mods, node, e->hostdev.type, p->rootfstype, opts, true, HOST_STAGING,
	               &e->host);
	if (r >= 0) {
		_cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC);
		int one = 1;
		if (fd < 0 || ioctl(fd, BLKROSET, &one) < 0)
			log_warn("making %s read-only: %m — do not remount the host writable",
			         node);
	}
	free(node);
	return r;
}

/* Linear mode refused during the real pass: the host as the loop path wants it. */
static int linear_abandon(struct engine *e)
{
	e->linear_retry = false;
	int r = host_umount(&e->host, 10000);
	fsmount_free(&e->host);
	if (r < 0)
		return log_fail(r, "unmounting the host", e->host_spec, NULL,
		                "report this as a bug");
	if (e->host_dm) {
		(void)dmlinear_remove(e->host_dm);
		free(e->host_dm);
		e->host_dm = NULL;
	}
	return host_mount_as(e, e->host_ro);
}

/*
 * Builds one image path: for each part, open the file inside the previous file system,
 * probe its type, attach a loop device, mount it (the last part at target, the others at
 * numbered layer directories).
 */
static int build_image(struct engine *e, const struct imagepath *ip, const char *fstype,
                       const char *options, bool read_only, const char *target, const char *role)
{
	_cleanup_free_ char *dir = xstrdup(e->host.target);
	_cleanup_free_ char *where = xasprintf("the host %s", e->host_spec);

	for (unsigned i = 0; i < ip->n; i++) {
		bool last = i + 1 == ip->n;
		const char *path = ip->part[i];
		bool loop_ro = e->probe || e->host_ro;
		/* Mapped linearly, the file is only read through the (read-only) host. */
		bool map = i == 0 && e->linear;
		_cleanup_close_ int fd = -1;
		int r = image_open(e, dir, path, where, !loop_ro && !(map && !e->probe), &fd);
		if (r < 0)
			return r;

		_cleanup_free_ char *type = NULL;
		r = device_probe_fd(fd, &type);
		if (r == -EUCLEAN)
			return log_fail(r, "image", path,
			                "it carries signatures of two file systems",
			                "wipe the stale one (wipefs) or set loopfstype=");
		if (r == -EMEDIUMTYPE)
			return log_fail(r, "image", path, "it is not a file system",
			                "point at a file system image (it holds %s)", type);
		if (r < 0)
			return log_fail(r, "reading the image", path, NULL,
			                "check the host file system");
		if (r == 0)
			return log_fail(EMEDIUMTYPE, "image", path, "no file system found in it",
			                "check the path, or make a file system in the image (e.g. "
			                "mkfs.ext4)");
		if (last && fstype && !type_matches(fstype, type))
			return log_fail(EMEDIUMTYPE, "image", path,
			                "its file system does not match",
			                "it holds %s; fix loopfstype=%s or drop it", type, fstype);
		uint64_t fs_size;
		struct stat st;
		if (image_fs_size(fd, type, &fs_size) == 0 && fstat(fd, &st) == 0 &&
		    (uint64_t)st.st_size < fs_size)
			return log_fail(
			    EFBIG, "image", path, "it is truncated",
			    "the file holds %llu bytes, its %s file system %llu: copy the "
			    "image again (was the copy interrupted, or is the host FAT32 "
			    "with its 4 GiB file limit?)",
			    (unsigned long long)st.st_size, type, (unsigned long long)fs_size);
		const char *mount_type = last && fstype ? fstype : type;
		if (!modules_have_fs(e->mods, mount_type))
			return log_fail(ENODEV, "image file system type", mount_type,
			                "the kernel has no driver for it",
			                "rebuild the initramfs with the %s module", mount_type);

		struct loopdev loop = {.fd = -1};
		struct state_record *rec;
		if (map) {
			r = linear_map(e, fd, path, dir, role, target, loop_ro, &loop);
			if (r < 0)
				return r;
		}
		if (!loop.devnode) {
			r = loopdev_attach(fd, path, loop_ro, &loop);
			if (r < 0)
				return log_fail(r, "attaching a loop device to", path, NULL,
				                "the kernel needs loop support (module loop)");
			rec = state_add(&e->stack, "loop");
			state_set(rec, "device", loop.devnode);
			state_set(rec, "file", path);
			state_set(rec, "parent", dir);
			state_set(rec, "ro", yesno(loop_ro));
			state_set(rec, "dio", yesno(loop.direct_io));
		}

		_cleanup_free_ char *mnt = NULL;
		if (last) {
			mnt = xstrdup(target);
		} else {
			mnt = xasprintf("%s/%u", e->probe ? PROBE_DIR "/layers" : LAYER_DIR,
			                ++e->seq);
			r = mkdir_p(mnt, 0700);
			if (r < 0) {
				loopdev_release(&loop);
				return log_fail(r, "creating", mnt, NULL, "/run must be writable");
			}
		}
		bool mount_ro = e->probe || e->host_ro || (last && read_only);
		bool will_write = !e->host_ro && !(last && read_only);
		if (will_write) {
			/* As a distribution checks its root partition before mounting it; the dry
			 * run only looks, and the real pass skips what it found clean. */
			_cleanup_free_ char *key = xasprintf("%s:%s", dir_key(e, dir), path);
			if (e->probe) {
				r = fsck_run(e->plan, loop.devnode, mount_type, path, true);
				if (r == 0)
					strv_push(&e->fsck_clean, xstrdup(key));
			} else {
				r = strv_contains(&e->fsck_clean, key)
				        ? 0
				        : fsck_run(e->plan, loop.devnode, mount_type, path, false);
			}
			if (r < 0) {
				loopdev_release(&loop);
				return r;
			}
		}
		_cleanup_free_ char *opts = options_join(
		    last ? options : NULL, e->probe ? options_no_replay(mount_type) : NULL);
		r = mount_fs(loop.devnode, mnt, mount_type, mount_ro, opts);
		if (r < 0) {
			loopdev_release(&loop);
			return log_fail(r, "mounting the image", path, NULL,
			                "the %s file system may be damaged (check it with fsck "
			                "from another system) or the options \"%s\" are wrong",
			                mount_type, strempty(opts));
		}
		rec = state_add(&e->stack, "mount");
		state_set(rec, "role", last ? role : "layer");
		state_set(rec, "source", loop.devnode);
		state_set(rec, "target", mnt);
		state_set(rec, "type", mount_type);
		state_set(rec, "image", path);
		state_set(rec, "ro", yesno(mount_ro));
		if (opts)
			state_set(rec, "options", opts);
		loopdev_release(&loop); /* the mount holds the device now */

		free(where);
		where = xasprintf("the image %s", path);
		free(dir);
		dir = xstrdup(mnt);
	}
	return 0;
}

/* Undoes what the current pass built, newest first. */
static void undo_stack(struct engine *e)
{
	for (size_t i = e->stack.n; i-- > 0;) {
		const struct state_record *r = &e->stack.v[i];
		if (streq(r->kind, "mount")) {
			const char *t = state_get(r, "target");
			if (umount2(t, 0) < 0 && errno != EINVAL && umount2(t, MNT_DETACH) < 0)
				log_warn("unmounting %s: %m", t);
		} else if (streq(r->kind, "loop")) {
			(void)loopdev_detach(state_get(r, "device"));
		} else if (streq(r->kind, "dm")) {
			(void)dmlinear_remove(state_get(r, "name"));
		}
	}
	state_free(&e->stack);
	e->seq = 0;
}

static int ensure_dir(const char *path, bool may_create, const char *what, const char *hint)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		return log_fail(ENOTDIR, what, path, "it is not a directory", "%s", hint);
	}
	if (!may_create)
		return log_fail(ENOENT, what, path, "the directory is missing in the image", "%s",
		                hint);
	int r = mkdir_p(path, 0755);
	if (r < 0)
		return log_fail(r, "creating", path, NULL, "%s", hint);
	return 0;
}

/*
 * loopboot.hibernated=ro on an unsafe host: the image read-only, with a tmpfs overlay on
 * top so that the system can run; every change is lost at shutdown.
 */
static int build_volatile_root(struct engine *e, const char *root)
{
	const struct plan *p = e->plan;
	static const char lower[] = LAYER_DIR "/volatile-lower", tmp[] = STATE_DIR "/volatile";
	int r = mkdir_p(lower, 0700);
	if (r >= 0)
		r = mkdir_p(tmp, 0700);
	if (r < 0)
		return log_fail(r, "creating", lower, NULL, "/run must be writable");
	r = build_image(e, &p->loop, p->loopfstype, p->loopflags, true, lower, "layer");
	if (r < 0)
		return r;
	if (!modules_have_fs(e->mods, "overlay"))
		return log_fail(ENODEV, "volatile session", "overlay",
		                "the kernel has no overlay file system",
		                "rebuild the initramfs with the overlay module");
	r = mount_fs("tmpfs", tmp, "tmpfs", false, "mode=0755");
	if (r < 0)
		return log_fail(r, "mounting a tmpfs at", tmp, NULL, "check the kernel's tmpfs");
	struct state_record *rec = state_add(&e->stack, "mount");
	state_set(rec, "role", "layer");
	state_set(rec, "source", "tmpfs");
	state_set(rec, "target", tmp);
	state_set(rec, "type", "tmpfs");
	_cleanup_free_ char *upper = xasprintf("%s/upper", tmp), *work = xasprintf("%s/work", tmp);
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0)
		return log_fail(errno, "creating", upper, NULL, "check the kernel's tmpfs");
	_cleanup_free_ char *opts =
	    xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	r = mount_fs("overlay", root, "overlay", false, opts);
	if (r < 0)
		return log_fail(r, "mounting the overlay at", root, NULL,
		                "the kernel's overlay file system must be available");
	rec = state_add(&e->stack, "mount");
	state_set(rec, "role", "root");
	state_set(rec, "source", "overlay");
	state_set(rec, "target", root);
	state_set(rec, "type", "overlay");
	state_set(rec, "options", "volatile");
	return 0;
}

/* One pass: the root image, the extra images, and the checks on the result. */
static int build_stack(struct engine *e, struct boot_result *ret)
{
	const struct plan *p = e->plan;
	_cleanup_free_ char *root = xstrdup(e->probe ? PROBE_DIR "/root" : e->opts->root_mnt);
	int r;
	if (e->probe) {
		r = mkdir_p(root, 0700);
		if (r < 0)
			return log_fail(r, "creating", root, NULL, "/run must be writable");
	}
	if (e->volatile_root && !e->probe)
		r = build_volatile_root(e, root);
	else
		r = build_image(e, &p->loop, p->loopfstype, p->loopflags, e->root_ro, root, "root");
	if (r < 0)
		return r;

	for (unsigned i = 0; i < p->n_mounts; i++) {
		const struct plan_mount *m = &p->mounts[i];
		_cleanup_free_ char *target = path_join(root, m->target);
		const char *hint = "create it in the image, or boot with rw";
		struct stat st;
		if (e->probe && !e->root_ro && stat(target, &st) < 0) {
			/* The real pass will create the mount point in the writable root; the
			 * dry run still checks the image, on a scratch directory. */
			free(target);
			target = xasprintf(PROBE_DIR "/mount%u", i);
			r = mkdir_p(target, 0700);
			if (r < 0)
				return log_fail(r, "creating", target, NULL,
				                "/run must be writable");
		} else {
			r = ensure_dir(target, !e->probe && !e->root_ro, "mount point", hint);
			if (r < 0)
				return r;
		}
		r = build_image(e, &m->image, m->fstype, m->options, false, target, "mount");
		if (r < 0)
			return r;
	}

	if (e->opts->find_init) {
		r = switchroot_find_init(root, p->init, ret ? &ret->init : NULL);
		if (r < 0)
			return log_fail(r, "init program", p->init ? p->init : "/sbin/init",
			                "not found or not executable in the image",
			                p->init
			                    ? "fix init= or install it in the image"
			                    : "install an init system in the image, or set init=");
		if (e->probe && ret) {
			free(ret->init);
			ret->init = NULL;
		}
	}
	return 0;
}

/* ---- the state record ----------------------------------------------------------------- */

static int write_state(struct engine *e)
{
	struct state s = {0};
	struct state_record *h = state_add(&s, "host");
	state_set(h, "spec", e->host_spec);
	state_set(h, "source", e->host.source);
	state_set(h, "type", e->host.type);
	state_set(h, "driver", e->host.driver);
	_cleanup_free_ char *host_final = final_path(e, e->host.target);
	state_set(h, "target", host_final);
	state_set(h, "options", e->host.options);
	state_set(h, "ro", yesno(e->host.read_only));
	state_set(h, "fuse", yesno(e->host.fuse));
	state_set(h, "mode", e->linear ? "linear" : "loop");
	if (e->linear_refused)
		state_set(h, "linear_refused", e->linear_refused);
	if (e->host_dm) {
		state_set(h, "dm", e->host_dm);
		state_set(h, "device", e->hostdev.devnode);
	}
	if (e->host.daemon_pid > 0) {
		_cleanup_free_ char *pid = xasprintf("%d", (int)e->host.daemon_pid);
		state_set(h, "pid", pid);
	}
	for (size_t i = 0; i < e->stack.n; i++) {
		const struct state_record *src = &e->stack.v[i];
		struct state_record *dst = state_add(&s, src->kind);
		for (size_t k = 0; k < src->keys.n; k++) {
			const char *key = src->keys.v[k];
			if (streq(key, "target") || streq(key, "parent")) {
				const char *v = src->values.v[k];
				/* The host moved after the images were attached. */
				_cleanup_free_ char *moved = NULL;
				const char *rest = startswith(v, HOST_STAGING);
				if (rest && (*rest == '/' || !*rest))
					v = moved = xasprintf("%s%s", e->host.target, rest);
				_cleanup_free_ char *fin = final_path(e, v);
				state_set(dst, key, fin);
			} else {
				state_set(dst, key, src->values.v[k]);
			}
		}
	}
	int r = mkdir_p(STATE_DIR, 0755);
	if (r >= 0)
		r = state_save(&s, STATE_FILE);
	state_free(&s);
	if (r < 0)
		return log_fail(r, "writing the state record", STATE_FILE, NULL,
		                "/run must be writable; shutdown would not know what to unmount");
	return 0;
}

/* ---- the engine ------------------------------------------------------------------------ */

static int move_host(struct engine *e)
{
	const struct plan *p = e->plan;
	_cleanup_free_ char *target = path_join(e->opts->root_mnt, p->hostdir);
	struct stat st;
	if (stat(target, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (e->root_ro || mkdir_p(target, 0755) < 0) {
			log_warn(
			    "the image has no %s directory%s: the host stays at %s — create %s "
			    "in the image",
			    p->hostdir, e->root_ro ? " and is mounted read-only" : "", HOST_STAGING,
			    p->hostdir);
			return 0;
		}
	}
	int r = mount(e->host.target, target, NULL, MS_MOVE, NULL);
	if (r < 0 && errno == EINVAL) {
		/* MS_MOVE refuses a mount whose parent mount is shared, as every mount is under
		 * systemd (a dracut initrd): make that parent (the mount holding /run/loopboot)
		 * private, and try again. */
		_cleanup_free_ char *dir = xstrdup(e->host.target);
		bool done = false;
		for (char *slash; !done && (slash = strrchr(dir, '/')) && slash != dir;) {
			*slash = '\0';
			done = mount(NULL, dir, NULL, MS_PRIVATE, NULL) == 0;
		}
		if (!done)
			(void)mount(NULL, "/", NULL, MS_PRIVATE, NULL);
		r = mount(e->host.target, target, NULL, MS_MOVE, NULL);
	}
	if (r < 0)
		return log_fail(errno, "moving the host into the new root", target, NULL,
		                "the mount points must not be shared (mount --make-private)");
	free(e->host.target);
	e->host.target = xstrdup(target);
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

static void write_systemd_host_dropin(const struct engine *e)
{
	const char *root = e->opts->root_mnt;
	const char *in_root = startswith(e->host.target, root);
	const char *path = in_root && (*in_root == '/' || !*in_root) ? in_root : e->host.target;
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

static int boot_plain_root(struct engine *e)
{
	/* Without loop= root= is the root itself: the engine is then a plain initramfs. */
	const struct plan *p = e->plan;
	int r = host_mount(e->mods, e->hostdev.devnode, e->hostdev.type, p->rootfstype,
	                   p->rootflags, p->read_only, e->opts->root_mnt, &e->host);
	if (r < 0)
		return r;
	struct state s = {0};
	struct state_record *rec = state_add(&s, "mount");
	state_set(rec, "role", "root");
	state_set(rec, "source", e->host.source);
	state_set(rec, "target", "/");
	state_set(rec, "type", e->host.driver);
	state_set(rec, "ro", yesno(p->read_only));
	r = mkdir_p(STATE_DIR, 0755);
	if (r >= 0)
		r = state_save(&s, STATE_FILE);
	state_free(&s);
	return r < 0 ? log_fail(r, "writing", STATE_FILE, NULL, "/run must be writable") : 0;
}

int boot_run(const struct plan *plan, const struct boot_options *opts, struct boot_result *ret)
{
	struct engine e = {.plan = plan, .opts = opts};
	int r;
	if (ret)
		*ret = (struct boot_result){0};
	e.host_spec = devspec_to_string(&plan->root);
	e.mods = modules_new();

	r = wait_for_host(&e);
	if (r < 0)
		goto out;

	if (!plan->has_loop) {
		r = boot_plain_root(&e);
		if (r >= 0 && opts->find_init && ret) {
			r = switchroot_find_init(opts->root_mnt, plan->init, &ret->init);
			if (r < 0) {
				log_fail(r, "init program", plan->init ? plan->init : "/sbin/init",
				         "not found or not executable", "set init=");
				umount2(opts->root_mnt, 0);
			}
		}
		goto out;
	}

	modules_load(e.mods, "loop");
	e.linear = plan->mode == PLAN_MODE_LINEAR;
	if (e.linear)
		linear_check_kernel(&e);
	e.host_ro = type_is_read_only(e.hostdev.type) || device_is_read_only(e.hostdev.devnode) ||
	            options_say_ro(plan->rootflags);
	e.root_ro = plan->read_only || e.host_ro;
	if (e.host_ro && !plan->read_only)
		log_warn("the host %s (%s) is read-only: the root image is mounted read-only",
		         e.host_spec, strempty(e.hostdev.type));

	/* Is the host safe to write? Read its own flags before any mount. */
	struct hoststate_result hs;
	r = hoststate_check_device(e.hostdev.devnode, e.hostdev.type, &hs);
	if (r < 0)
		log_debug("reading the state of %s: %s", e.hostdev.devnode, strerror(-r));
	if (hs.state == HOSTSTATE_CLEAN || plan->hibernated_ro) {
		/* The dry run: nothing in it can write to the host. */
		r = host_mount_as(&e, true);
		if (r < 0)
			goto out;
		if (hs.state == HOSTSTATE_CLEAN && e.hostdev.type &&
		    (streq(e.hostdev.type, "ntfs") || streq(e.hostdev.type, "ntfs3")))
			(void)hoststate_check_hiberfile(HOST_STAGING, &hs);
	}
	if (hs.state != HOSTSTATE_CLEAN) {
		if (!plan->hibernated_ro) {
			r = log_fail(EROFS, "host not safe to write", e.host_spec, hs.why, "%s",
			             hs.todo);
			goto fail_host;
		}
		e.host_ro = e.root_ro = e.volatile_root = true;
		log_warn("%s: %s", e.host_spec, hs.why);
		log_info("VOLATILE SESSION (loopboot.hibernated=ro): the host is mounted "
		         "read-only and the root image read-only under a memory overlay; changes "
		         "are lost at shutdown");
		linear_refuse(&e, e.host_spec, "a volatile session uses loop devices");
	}
	e.probe = true;
	r = build_stack(&e, ret);
	undo_stack(&e);
	e.probe = false;
	if (r < 0)
		goto fail_host;
	log_debug("dry run passed: every file, type, mount point and the init are in place");
	udev_settle();

	if (e.linear) {
		/* The host stays read-only: the images are written through their mappings. */
		r = linear_host(&e);
		if (r < 0)
			goto fail_host;
	}
	if (!e.linear && !e.host_ro) {
		r = host_make_writable(&e);
		if (r < 0)
			goto fail_host;
	}
	r = build_stack(&e, ret);
	if (r < 0 && e.linear_retry) {
		undo_stack(&e);
		r = linear_abandon(&e);
		if (r >= 0)
			r = build_stack(&e, ret);
	}
	if (r < 0)
		goto fail_stack;
	r = move_host(&e);
	if (r < 0)
		goto fail_stack;
	if (e.host.fuse)
		write_systemd_host_dropin(&e);
	r = write_state(&e);
	if (r < 0)
		goto fail_stack;
	{
		_cleanup_free_ char *image = imagepath_to_string(&plan->loop);
		log_info("root %s%s mounted from %s (%s via %s)", image,
		         e.root_ro ? " (read-only)" : "", e.host_spec, strempty(e.host.type),
		         e.host.driver);
	}
	goto out;

fail_stack:
	undo_stack(&e);
fail_host:
	if (e.host.target) {
		int u = host_umount(&e.host, 10000);
		if (u < 0)
			log_warn("unmounting the host %s: %s", e.host_spec, strerror(-u));
	}
	if (e.host_dm)
		(void)dmlinear_remove(e.host_dm);
	if (ret) {
		free(ret->init);
		ret->init = NULL;
	}
out:
	free(e.linear_refused);
	free(e.host_dm);
	strv_free(&e.fsck_clean);
	state_free(&e.stack);
	fsmount_free(&e.host);
	device_info_free(&e.hostdev);
	modules_free(e.mods);
	free(e.host_spec);
	return r;
}

void boot_result_free(struct boot_result *r)
{
	free(r->init);
	r->init = NULL;
}

/* ---- taking a recorded stack down -------------------------------------------------------- */

/* umount2 that gives a file system a moment when it is busy only because a loop device
 * above it is still being released. */
static int umount_retry(const char *path)
{
	for (int i = 0;; i++) {
		if (umount2(path, 0) == 0)
			return 0;
		if (errno != EBUSY || i == 50)
			return -errno;
		usleep(20 * 1000);
	}
}

/*
 * Where a recorded path is now. Paths are recorded as seen from the new root; prefix is
 * where that root is mounted now ("" after switch_root, "/oldroot" in the shutdown
 * initramfs, DIR for `boot --root-mnt DIR`). Our own directories under /run/loopboot are
 * inside the root after switch_root but stay in the caller's /run without it.
 */
static char *teardown_path(const char *prefix, const char *path)
{
	char *p = *prefix && streq(path, "/") ? xstrdup(prefix) : xasprintf("%s%s", prefix, path);
	const char *rest = startswith(path, STATE_DIR);
	if (rest && (*rest == '/' || !*rest) && !is_mount_point(p) && is_mount_point(path)) {
		free(p);
		p = xstrdup(path);
	}
	return p;
}

/*
 * The host is mounted inside the root (/host) and nested images' layers under /run, yet
 * the root's image lives on them: those mounts must leave the root's tree before the root
 * can be unmounted. Moves the mount at path to a parking place outside the root; returns
 * where it is now (allocated), or NULL when it could not be moved (the caller carries on
 * with the old path: unmounting it may then fail, and says so).
 */
static char *park_mount(const char *path, size_t n)
{
	_cleanup_free_ char *parking = xasprintf(STATE_DIR "/parked/%zu", n);
	if (mkdir_p(parking, 0700) < 0)
		return NULL;
	/* MS_MOVE refuses a mount whose parent mount is shared. */
	_cleanup_free_ char *parent = xstrdup(path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	(void)mount(NULL, parent, NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount(path, parking, NULL, MS_MOVE, NULL) < 0) {
		log_debug("moving %s out of the root's tree to %s: %m", path, parking);
		return NULL;
	}
	log_debug("moved %s to %s", path, parking);
	char *r = parking;
	parking = NULL;
	return r;
}

/*
 * Unmounts root and everything below it, deepest first. What cannot be unmounted (a
 * process still holds it) is remounted read-only, so that its file system is clean on
 * disk, and detached. Returns 0 when root itself went, or its error.
 */
static size_t path_depth(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

static bool is_api_path(const char *p)
{
	static const char *const api[] = {"/dev", "/proc", "/sys", "/run"};
	for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
		const char *rest = startswith(p, api[i]);
		if (rest && (*rest == '\0' || *rest == '/'))
			return true;
	}
	return false;
}

static int unmount_tree(const char *root)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return log_fail(EIO, "reading", "/proc/self/mountinfo", NULL, "mount /proc");
	struct strv targets = {0};
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_BACKWARD);
	struct libmnt_fs *fs;
	size_t len = strlen(root);
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);
		if (t && strncmp(t, root, len) == 0 && (t[len] == '\0' || t[len] == '/') &&
		    !strv_contains(&targets, t))
			strv_push(&targets, xstrdup(t));
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);

	/* Deeper paths before their parents, backwards in mount order within a depth: mount
	 * order alone is not enough, as /dev, /proc, /sys and /run were mounted in the
	 * initramfs before the root image and moved into it. */
	for (size_t i = 1; i < targets.n; i++) {
		char *x = targets.v[i];
		size_t j = i;
		while (j > 0 && path_depth(targets.v[j - 1]) < path_depth(x)) {
			targets.v[j] = targets.v[j - 1];
			j--;
		}
		targets.v[j] = x;
	}
	int result = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < targets.n; i++) {
			const char *t = targets.v[i];
			if (!is_mount_point(t) && !streq(t, root))
				continue;
			/* API file systems hold no data, and a root storage daemon keeps /dev
			 * busy (ntfs-3g has /dev/fuse and the host's device open): detach them. */
			if (is_api_path(t + len)) {
				if (umount2(t, 0) < 0 && errno == EBUSY &&
				    umount2(t, MNT_DETACH) == 0)
					log_debug("%s is busy: detached it", t);
				continue;
			}
			int r = umount_retry(t);
			if (r == 0 || r == -EINVAL || r == -ENOENT)
				continue;
			if (pass == 0)
				continue; /* a child of it may be in the way; try again */
			log_warn("%s is busy (%s): remounting it read-only and detaching it", t,
			         strerror(-r));
			sync();
			(void)mount(NULL, t, NULL, MS_REMOUNT | MS_RDONLY, NULL);
			if (umount2(t, MNT_DETACH) < 0)
				r = -errno;
			if (streq(t, root))
				result = r;
		}
	strv_free(&targets);
	return result;
}

int boot_teardown(const struct state *s, const char *prefix)
{
	int first = 0;
	if (streq(prefix, "/"))
		prefix = "";
	char **where = xcalloc(s->n + 1, sizeof(char *));

	/* 1. The host and the layers of nested images leave the root's tree. */
	for (size_t i = 0; i < s->n; i++) {
		const struct state_record *rec = &s->v[i];
		const char *target = state_get(rec, "target");
		bool below =
		    streq(rec->kind, "host") ||
		    (streq(rec->kind, "mount") && streq_ptr(state_get(rec, "role"), "layer"));
		if (!below || !target)
			continue;
		where[i] = teardown_path(prefix, target);
		if (is_mount_point(where[i])) {
			char *parked = park_mount(where[i], i);
			if (parked) {
				free(where[i]);
				where[i] = parked;
			}
		}
	}

	/* 2. The root with the extra images and whatever else is still mounted inside it. */
	if (*prefix) {
		int r = unmount_tree(prefix);
		if (r < 0)
			first = r;
	} else {
		/* The running system's own root: only our extra images can go. */
		for (size_t i = s->n; i-- > 0;) {
			const struct state_record *rec = &s->v[i];
			const char *target = state_get(rec, "target");
			if (streq(rec->kind, "mount") && target && !where[i] &&
			    !streq(target, "/")) {
				int r = umount_retry(target);
				if (r < 0 && r != -EINVAL && r != -ENOENT && !first)
					first = r;
			}
		}
	}

	/* 3. Below the root, in reverse: loop devices, layers, the host. */
	for (size_t i = s->n; i-- > 0;) {
		const struct state_record *rec = &s->v[i];
		if (streq(rec->kind, "loop")) {
			const char *dev = state_get(rec, "device");
			int r = dev ? loopdev_detach(dev) : 0;
			if (r < 0 && r != -ENXIO && r != -ENOENT) {
				log_warn("detaching %s: %s", dev, strerror(-r));
				if (!first)
					first = r;
			}
		} else if (streq(rec->kind, "dm")) {
			const char *name = state_get(rec, "name");
			int r = name ? dmlinear_remove(name) : 0;
			if (r < 0 && r != -ENXIO) {
				log_warn("removing the device-mapper device %s: %s", name,
				         strerror(-r));
				if (!first)
					first = r;
			}
		} else if (streq(rec->kind, "mount") && where[i]) {
			int r = umount_retry(where[i]);
			if (r < 0 && r != -EINVAL && r != -ENOENT) {
				log_warn("unmounting %s: %s", where[i], strerror(-r));
				if (!first)
					first = r;
			}
		} else if (streq(rec->kind, "host") && where[i]) {
			struct fsmount f = {.target = where[i],
			                    .fuse = streq_ptr(state_get(rec, "fuse"), "1")};
			const char *pid = state_get(rec, "pid");
			f.daemon_pid = pid ? (pid_t)atoi(pid) : 0;
			sync();
			int r = host_umount(&f, 30000);
			if (r < 0) {
				log_warn("unmounting the host at %s: %s", where[i], strerror(-r));
				if (!first)
					first = r;
			}
			const char *dm = state_get(rec, "dm");
			r = r == 0 && dm ? dmlinear_remove(dm) : 0;
			if (r < 0 && r != -ENXIO) {
				log_warn("removing the device-mapper device %s: %s", dm,
				         strerror(-r));
				if (!first)
					first = r;
			}
		}
	}
	for (size_t i = 0; i < s->n; i++)
		free(where[i]);
	free(where);
	return first;
}
