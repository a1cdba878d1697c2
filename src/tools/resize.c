/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/resize.h"

#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/process.h"
#include "basic/util.h"
#include "engine/device.h"
#include "engine/hoststate.h"
#include "engine/loopdev.h"
#include "engine/mounts.h"
#include "tools/allocate.h"
#include "tools/check.h"
#include "tools/create.h"

#define ALIGN 4096ULL

static const char usage[] =
    "Usage: loopboot resize FILE SIZE|+SIZE|-SIZE\n"
    "Grows or shrinks an image and its file system offline. SIZE is the new size; +SIZE\n"
    "and -SIZE change it by that much (K, M, G, T: powers of 1024; a multiple of 4096\n"
    "bytes). New space is fully allocated, never sparse. ext4 grows and shrinks\n"
    "(resize2fs); xfs and btrfs only grow. The image must not be in use: not attached to a\n"
    "loop device, not mounted, not the running root.\n";

int resize_target(const char *spec, uint64_t current, uint64_t *ret, const char **ret_why)
{
	int sign = spec[0] == '+' ? 1 : spec[0] == '-' ? -1 : 0;
	uint64_t n;
	int r = create_parse_size(sign ? spec + 1 : spec, &n, ret_why);
	if (r < 0)
		return r;
	if (sign > 0) {
		if (n > (uint64_t)INT64_MAX - current) {
			*ret_why = "the size is too large";
			return -ERANGE;
		}
		n = current + n;
	} else if (sign < 0) {
		if (n >= current) {
			*ret_why = "that is the whole image or more: nothing would be left";
			return -EINVAL;
		}
		n = current - n;
	}
	if (n % ALIGN) {
		*ret_why = "the new size is not a multiple of 4096 bytes";
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

int resize_parse_minimum(const char *output, uint64_t *ret_blocks)
{
	static const char key[] = "Estimated minimum size of the filesystem:";
	const char *p = strstr(output, key);
	if (!p)
		return -EBADMSG;
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || errno || (*end && *end != '\n'))
		return -EBADMSG;
	*ret_blocks = v;
	return 0;
}

/* ---- the effects ----------------------------------------------------------------------- */

struct resize {
	const char *path;
	int fd;
	char *type;
	uint64_t old_size, new_size;
	uint64_t fs_size;
	uint32_t block;
	char *dir;
	int dirfd;
	bool ext; /* ext2/3/4: resize2fs, offline */
	bool usage_error;
	dev_t dev; /* the file's, to know it again when it is opened anew */
	ino_t ino;
};

static void resize_done(struct resize *z)
{
	if (z->fd >= 0)
		close(z->fd);
	if (z->dirfd >= 0)
		close(z->dirfd);
	free(z->type);
	free(z->dir);
}

/* A program of the field, or one loopboot: line naming its package. */
static char *need_program(const char *name, const char *package)
{
	char *p = find_program(name, PROGRAM_SEARCH_PATH);
	if (!p)
		log_fail(ENOENT, "resize", name, "not installed",
		         "install it (Debian: apt-get install %s)", package);
	return p;
}

/* In use: attached to a loop device, through which it is mounted or the running root. */
static int refuse_in_use(const struct resize *z)
{
	_cleanup_free_ char *loop = loopdev_of_file(z->fd);
	if (!loop)
		return 0;
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	if (mount_find_device(NULL, loop, &m) > 0) {
		if (streq(m.target, "/")) {
			_cleanup_free_ char *why =
			    xasprintf("it is the running system's root (through %s)", loop);
			return log_fail(
			    EBUSY, "resize", z->path, why,
			    "resize it from another system: a live stick, the host's own "
			    "system, or a second loopboot image");
		}
		return log_fail(EBUSY, "resize", z->path, NULL,
		                "it is mounted at %s (through %s): unmount it first (umount %s)",
		                m.target, loop, m.target);
	}
	return log_fail(EBUSY, "resize", z->path, NULL,
	                "it is attached to %s: detach it first (losetup -d %s)", loop, loop);
}

/*
 * fusefat (0.1a) writes what extends a large file over the file's first clusters: a grown
 * image would lose its superblock. Shrinking (truncating) is safe.
 */
static int refuse_fusefat(const struct resize *z)
{
	_cleanup_free_ char *real = realpath(z->dir, NULL);
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	if (!real || mount_find_path(NULL, real, &m) <= 0 || !m.fstype ||
	    !(streq(m.fstype, "fuse.fusefat") || streq(m.fstype, "fusefat")))
		return 0;
	return log_fail(EOPNOTSUPP, "resize", z->path,
	                "its host is mounted with fusefat, which damages a file it extends",
	                "mount the FAT host with the kernel's vfat instead (modprobe vfat; mount "
	                "-t vfat DEVICE %s), then resize again",
	                m.target);
}

/* The file, what it holds, and whether that can be resized as asked: nothing written. */
static int examine(struct resize *z, const char *spec)
{
	struct stat st;
	z->fd = open(z->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (z->fd < 0)
		return log_fail(errno, "resize: opening", z->path, NULL,
		                errno == ENOENT ? "check the path (the host must be mounted)"
		                                : "run as root, and check the host is writable");
	if (fstat(z->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return log_fail(EINVAL, "resize", z->path, "not a regular file",
		                "give an image file made by loopboot create or install");
	z->old_size = (uint64_t)st.st_size;
	z->dev = st.st_dev;
	z->ino = st.st_ino;
	int r = refuse_in_use(z);
	if (r < 0)
		return r;
	const char *why;
	if (resize_target(spec, z->old_size, &z->new_size, &why) < 0) {
		z->usage_error = true;
		_cleanup_free_ char *now = check_format_size(z->old_size);
		fprintf(
		    stderr,
		    "loopboot: resize: %s: %s — give SIZE, +SIZE or -SIZE in multiples of 4 KiB, "
		    "e.g. +4G (the image is %s)\n",
		    spec, why, now);
		return -EINVAL;
	}
	r = device_probe_fd(z->fd, &z->type);
	if (r <= 0)
		return log_fail(r == -EMEDIUMTYPE ? EMEDIUMTYPE : ENOMEDIUM, "resize", z->path,
		                r == -EMEDIUMTYPE ? "it holds no file system but something else"
		                                  : "no single file system found in it",
		                "resize takes an image with one file system (ext4, xfs, btrfs); "
		                "see loopboot check %s",
		                z->path);
	z->ext = streq(z->type, "ext2") || streq(z->type, "ext3") || streq(z->type, "ext4");
	if (!z->ext && !streq(z->type, "xfs") && !streq(z->type, "btrfs"))
		return log_fail(EOPNOTSUPP, "resize", z->path, NULL,
		                "it holds %s: resize handles ext4, xfs and btrfs images", z->type);
	if (image_fs_geometry(z->fd, z->type, &z->fs_size, &z->block) < 0)
		return log_fail(EBADMSG, "resize: reading the superblock of", z->path, NULL,
		                "check it with loopboot check %s", z->path);
	if (z->fs_size > z->old_size) {
		_cleanup_free_ char *fs = check_format_size(z->fs_size);
		_cleanup_free_ char *file = check_format_size(z->old_size);
		return log_fail(
		    EUCLEAN, "resize", z->path, NULL,
		    "its %s file system claims %s but the file has %s: a truncated copy; "
		    "copy it again",
		    z->type, fs, file);
	}
	/* The kernel resizes btrfs only to 256 MiB or more (btrfs_ioctl_resize). */
	if (streq(z->type, "btrfs") && z->new_size > z->old_size && z->new_size < (256ULL << 20))
		return log_fail(EINVAL, "resize", z->path, "btrfs resizes only to 256 MiB or more",
		                "give a size of 256M or more");
	if (z->new_size < z->old_size && !z->ext) {
		_cleanup_free_ char *why = xasprintf("%s file systems only grow", z->type);
		return log_fail(EOPNOTSUPP, "resize", z->path, why,
		                "give a size of %lluK or more, or copy the files into a new, "
		                "smaller image",
		                (unsigned long long)(z->old_size >> 10));
	}
	if (z->new_size > z->old_size) {
		_cleanup_free_ char *pathcopy = xstrdup(z->path);
		z->dir = xstrdup(dirname(pathcopy));
		z->dirfd = open(z->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (z->dirfd < 0)
			return log_fail(errno, "resize: the directory", z->dir, NULL,
			                "check the host is mounted");
		r = refuse_fusefat(z);
		if (r < 0)
			return r;
		r = allocate_check_room("resize", z->path, z->dirfd, z->dir, z->new_size,
		                        z->new_size - z->old_size, "SIZE");
		if (r < 0)
			return r;
	}
	return 0;
}

/* Runs a resizing program, its messages on our stderr. */
static int run(char **argv, const char *what, const char *todo)
{
	static const struct process_options to_stderr = {
	    .stdio = {STDIO_NULL, STDIO_FD(STDERR_FILENO)},
	};
	struct process_result res;
	int r = process_run(NULL, argv, &to_stderr, &res);
	if (r < 0) {
		_cleanup_free_ char *how = process_result_message(&res);
		log_fail(r, what, argv[0], how, "see its message above; %s", todo);
	}
	return r;
}

/* The smallest size resize2fs can shrink the file system to (read-only: resize2fs -P). */
static int ext_minimum(const struct resize *z, const char *resize2fs, uint64_t *ret)
{
	static const struct process_options quiet = {
	    .stdio = {STDIO_NULL, STDIO_NULL, STDIO_NULL},
	};
	char *argv[] = {(char *)resize2fs, "-P", (char *)z->path, NULL};
	_cleanup_free_ char *out = NULL;
	struct process_result res;
	uint64_t blocks;
	if (process_run_capture(NULL, argv, &quiet, &out, &res) < 0 ||
	    resize_parse_minimum(out, &blocks) < 0) {
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(EPROTO, "resize: resize2fs -P", z->path, how,
		                "check the file system with e2fsck -f %s", z->path);
	}
	*ret = blocks * z->block;
	return 0;
}

/*
 * ext2/3/4, before anything is written: a read-only check (a damaged file system is not
 * touched) and, for a shrink, the minimum. Then e2fsck -p, on a file system now known to be
 * clean, records the check that resize2fs asks for.
 */
static int ext_prepare(struct resize *z, const char *e2fsck, const char *resize2fs)
{
	struct process_result res;
	static const struct process_options quiet = {
	    .stdio = {STDIO_NULL, STDIO_NULL, STDIO_NULL},
	};
	char *check_ro[] = {(char *)e2fsck, "-f", "-n", (char *)z->path, NULL};
	if (process_run(NULL, check_ro, &quiet, &res) < 0) {
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(EUCLEAN, "resize: e2fsck -fn", z->path, how,
		                "its file system is not clean: mend it first (e2fsck -f %s), then "
		                "resize again",
		                z->path);
	}
	uint64_t min = 0;
	if (z->new_size < z->old_size) {
		int r = ext_minimum(z, resize2fs, &min);
		if (r < 0)
			return r;
		if (z->new_size < min) {
			uint64_t mib = (min + (1ULL << 20) - 1) >> 20;
			_cleanup_free_ char *m = check_format_size(min);
			_cleanup_free_ char *why =
			    xasprintf("its file system needs at least %s (resize2fs -P)", m);
			return log_fail(
			    ENOSPC, "resize", z->path, why,
			    "give a size of %lluM or more, or free space inside the image first",
			    (unsigned long long)mib);
		}
	}
	/* Its summary line is not worth showing; 1 is "corrected" (the free counts). */
	char *check[] = {(char *)e2fsck, "-f", "-p", (char *)z->path, NULL};
	static const struct process_options errors_only = {
	    .stdio = {STDIO_NULL, STDIO_NULL, STDIO_FD(STDERR_FILENO)},
	};
	if (process_run(NULL, check, &errors_only, &res) < 0 &&
	    !(res.end == PROCESS_EXITED && res.status == 1)) {
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(EUCLEAN, "resize: e2fsck -fp", z->path, how,
		                "mend it with e2fsck -f %s, then resize again", z->path);
	}
	return 0;
}

static int ext_resize(struct resize *z, const char *resize2fs)
{
	_cleanup_free_ char *kib = xasprintf("%lluK", (unsigned long long)(z->new_size >> 10));
	char *argv[] = {(char *)resize2fs, "-p", (char *)z->path, kib, NULL};
	return run(argv, "resize: resizing the file system with",
	           z->new_size > z->old_size
	               ? "the image keeps its old size"
	               : "check it with e2fsck -f before using it; the file keeps its size");
}

/* xfs and btrfs grow while mounted: in our own mount namespace, on a loop device. */
static int grow_mounted(struct resize *z, const char *prog)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return log_fail(errno, "resize: a private mount namespace", "unshare", NULL,
		                "run loopboot resize as root");
	struct loopdev loop;
	int r = loopdev_attach(z->fd, z->path, false, &loop);
	if (r < 0)
		return log_fail(r, "resize: attaching a loop device to", z->path, NULL,
		                "the kernel needs loop support (modprobe loop)");
	char dir[] = "/tmp/loopboot-resize.XXXXXX";
	if (!mkdtemp(dir)) {
		r = log_fail(errno, "resize: a mount point in", "/tmp", NULL,
		             "check /tmp is writable");
		loopdev_release(&loop);
		return r;
	}
	r = mount_fs(loop.devnode, dir, z->type, false, NULL);
	loopdev_release(&loop); /* the mount holds it now */
	if (r < 0) {
		log_fail(r, "resize: mounting", z->path, NULL,
		         "the kernel needs %s support (modprobe %s); the image is unchanged",
		         z->type, z->type);
		rmdir(dir);
		return r;
	}
	char *xfs[] = {(char *)prog, "-d", dir, NULL};
	char *btrfs[] = {(char *)prog, "filesystem", "resize", "max", dir, NULL};
	r = run(streq(z->type, "xfs") ? xfs : btrfs, "resize: growing the file system with",
	        "the image keeps its old size");
	if (umount2(dir, 0) < 0 && r == 0)
		r = log_fail(errno, "resize: unmounting", dir, NULL,
		             "something still uses it; it goes when this process ends");
	rmdir(dir);
	return r;
}

/*
 * Sets the file's size through a descriptor opened now, the only one: fusefat refuses
 * ftruncate while another descriptor of the file is open (EPERM). The same file is checked
 * for.
 */
static int set_size(struct resize *z, uint64_t size)
{
	close(z->fd);
	z->fd = open(z->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (z->fd < 0 || fstat(z->fd, &st) < 0)
		return -errno;
	if (st.st_dev != z->dev || st.st_ino != z->ino)
		return -ESTALE;
	/* fusefat may say EPERM when it has truncated all the same: the size tells. */
	if (ftruncate(z->fd, (off_t)size) < 0 &&
	    !(errno == EPERM && fstat(z->fd, &st) == 0 && (uint64_t)st.st_size == size))
		return -errno;
	return fsync(z->fd) < 0 ? -errno : 0;
}

/* Grows the file first, then its file system; undoes the file's growth when the file
 * system did not move into it. */
static int grow(struct resize *z, const char *prog)
{
	uint64_t delta = z->new_size - z->old_size;
	struct allocate_signals sigs;
	allocate_catch_signals(&sigs);
	const char *how = "no new space (the file system grows into the file)";
	int r = delta ? allocate_range(z->fd, z->old_size, delta, "resize", &how) : 0;
	allocate_restore_signals(&sigs);
	if (r < 0) {
		if (ftruncate(z->fd, (off_t)z->old_size) < 0)
			log_warn("resize: putting %s back to %llu bytes: %m", z->path,
			         (unsigned long long)z->old_size);
		if (r == -EINTR)
			return log_fail(EINTR, "resize", z->path, "interrupted",
			                "the image is as it was");
		return log_fail(r, "resize: allocating", z->path, NULL,
		                r == -ENOSPC
		                    ? "free space on the host or choose a smaller SIZE; "
		                      "the image is as it was"
		                    : "check the host file system; the image is as it was");
	}
	_cleanup_free_ char *d = check_format_size(delta);
	printf("resize: %s: %s added, %s\n", z->path, d, how);
	fflush(stdout);
	r = z->ext ? ext_resize(z, prog) : grow_mounted(z, prog);
	if (r < 0) {
		uint64_t fs;
		if (image_fs_size(z->fd, z->type, &fs) == 0 && fs <= z->old_size &&
		    set_size(z, z->old_size) == 0)
			log_info(
			    "resize: %s is back to its old size; its file system did not change",
			    z->path);
	}
	return r;
}

static int shrink(struct resize *z, const char *resize2fs)
{
	int r = ext_resize(z, resize2fs);
	if (r < 0)
		return r;
	uint64_t fs;
	if (image_fs_size(z->fd, z->type, &fs) < 0 || fs > z->new_size)
		return log_fail(EPROTO, "resize", z->path,
		                "its file system did not shrink as resize2fs said",
		                "check it with e2fsck -f %s; the file keeps its size", z->path);
	r = set_size(z, z->new_size);
	if (r < 0)
		return log_fail(r, "resize: truncating", z->path, NULL,
		                "the file system is smaller already: run loopboot resize %s %lluK "
		                "again",
		                z->path, (unsigned long long)(z->new_size >> 10));
	return 0;
}

static int report(struct resize *z)
{
	uint64_t fs = 0;
	struct stat st;
	if (fsync(z->fd) < 0 || fstat(z->fd, &st) < 0 || image_fs_size(z->fd, z->type, &fs) < 0)
		return log_fail(errno ? errno : EIO, "resize: reading back", z->path, NULL,
		                "check it with loopboot check");
	_cleanup_free_ char *from = check_format_size(z->old_size);
	_cleanup_free_ char *to = check_format_size((uint64_t)st.st_size);
	_cleanup_free_ char *fss = check_format_size(fs);
	printf("%s: %s → %s, its %s file system %s\n", z->path, from, to, z->type, fss);
	if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size)
		log_warn("resize: %s is sparse on this host (%llu of %llu bytes allocated)",
		         z->path, (unsigned long long)st.st_blocks * 512,
		         (unsigned long long)st.st_size);
	return fflush(stdout) == 0 ? 0 : -EIO;
}

static int resize_run(struct resize *z, const char *spec)
{
	int r = examine(z, spec);
	if (r < 0)
		return r;
	if (z->new_size == z->old_size && z->fs_size + z->block > z->old_size) {
		_cleanup_free_ char *s = check_format_size(z->old_size);
		printf("%s: already %s, nothing to do\n", z->path, s);
		return 0;
	}
	const char *name = z->ext ? "resize2fs" : streq(z->type, "xfs") ? "xfs_growfs" : "btrfs";
	const char *package = z->ext                  ? "e2fsprogs"
	                      : streq(z->type, "xfs") ? "xfsprogs"
	                                              : "btrfs-progs";
	_cleanup_free_ char *prog = need_program(name, package);
	_cleanup_free_ char *e2fsck = z->ext ? need_program("e2fsck", "e2fsprogs") : NULL;
	if (!prog || (z->ext && !e2fsck))
		return -ENOENT;
	if (z->ext && (r = ext_prepare(z, e2fsck, prog)) < 0)
		return r;
	/* Everything was refused that could be: now the image changes. */
	r = z->new_size >= z->old_size ? grow(z, prog) : shrink(z, prog);
	return r < 0 ? r : report(z);
}

int resize_main(int argc, char **argv)
{
	const char *words[2];
	size_t n = 0;
	bool options_end = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!options_end && (streq(a, "--help") || streq(a, "-h"))) {
			fputs(usage, stdout);
			return 0;
		}
		if (!options_end && streq(a, "--")) {
			options_end = true;
			continue;
		}
		/* "-4G" is a size, not an option. */
		if (!options_end && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
			fprintf(
			    stderr,
			    "loopboot: resize: %s: unknown option — see loopboot resize --help\n",
			    a);
			return 2;
		}
		if (n == 2) {
			fprintf(
			    stderr,
			    "loopboot: resize: %s: one word too many — give FILE and SIZE, e.g. "
			    "loopboot resize /mnt/win/linux/root.img +4G\n",
			    a);
			return 2;
		}
		words[n++] = a;
	}
	if (n < 2) {
		fprintf(stderr,
		        "loopboot: resize: %s — give FILE and SIZE, e.g. loopboot resize "
		        "/mnt/win/linux/root.img +4G\n",
		        n == 0 ? "the image FILE is missing" : "the SIZE is missing");
		return 2;
	}
	struct resize z = {.path = words[0], .fd = -1, .dirfd = -1};
	int r = resize_run(&z, words[1]);
	bool usage_error = z.usage_error;
	resize_done(&z);
	return usage_error ? 2 : r < 0 ? 1 : 0;
}
