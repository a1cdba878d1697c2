/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/stick.h"

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/util.h"
#include "engine/cmdline.h"
#include "engine/device.h"
#include "engine/plan.h"

#define CHUNK (4u << 20)
#define MIB   (1024.0 * 1024.0)

/* ---- the decision ----------------------------------------------------------------------- */

static int refuse(struct stick_refusal *ret, int err, const char *why, char *todo, bool forceable)
{
	*ret = (struct stick_refusal){.err = err, .why = why, .todo = todo, .forceable = forceable};
	return -1;
}

int stick_verdict(const struct stick_facts *f, bool force, struct stick_refusal *ret)
{
	*ret = (struct stick_refusal){0};
	if (!f->block)
		return refuse(ret, ENOTBLK, "not a block device",
		              xstrdup("give the stick's device (lsblk lists them), or a file name"),
		              false);
	if (f->partition)
		return refuse(
		    ret, EINVAL, "a partition: the media are a whole disk image",
		    xasprintf("give the whole device, %s", f->disk ? f->disk : "/dev/sdX"), false);
	if (f->holds_host)
		return refuse(
		    ret, EBUSY,
		    "it holds the host the entry boots from: the image would be overwritten",
		    xasprintf("write the media to another stick (the host is %s)", f->host), false);
	if (f->mounted)
		return refuse(
		    ret, EBUSY, "mounted",
		    xasprintf("save what you need from it, then umount %s (%s is mounted there)",
		              f->mounted, f->mounted_dev),
		    false);
	if (f->swap)
		return refuse(ret, EBUSY, "in use as swap", xasprintf("swapoff %s first", f->swap),
		              false);
	if (f->holder)
		return refuse(
		    ret, EBUSY, "in use by another block device",
		    xasprintf("take down %s first (lsblk %s shows it)", f->holder, f->device),
		    false);
	if (f->size < f->image_size)
		return refuse(ret, ENOSPC, "too small for the media",
		              xasprintf("use a stick of at least %.0f MiB (this one has %.0f MiB)",
		                        (double)f->image_size / MIB, (double)f->size / MIB),
		              false);
	if (!f->removable && !force)
		return refuse(
		    ret, EPERM,
		    "not a removable device (nor attached through USB or a card reader)",
		    xasprintf(
		        "check with lsblk -o NAME,RM,TRAN,SIZE,MODEL that %s is the stick; if "
		        "it is, add --force",
		        f->device),
		    true);
	return 0;
}

/* ---- the facts -------------------------------------------------------------------------- */

void stick_facts_free(struct stick_facts *f)
{
	/* Const for the pure code that reads them; allocated here. */
	free_all((void *)f->disk, (void *)f->bus, (void *)f->mounted, (void *)f->mounted_dev,
	         (void *)f->holder, (void *)f->swap, (void *)f->host);
	*f = (struct stick_facts){0};
}

struct blockdev {
	dev_t devno;
	char *node; /* /dev/NAME */
};

struct disk {
	struct blockdev *v; /* the disk first, then its partitions */
	size_t n;
	char *sys; /* its sysfs directory */
};

static void disk_free(struct disk *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].node);
	free(d->v);
	free(d->sys);
}

static int read_devno(const char *sysdir, dev_t *ret)
{
	_cleanup_free_ char *path = path_join(sysdir, "dev"), *text = NULL;
	unsigned maj, min;
	if (read_file(path, &text, NULL) < 0 || sscanf(text, "%u:%u", &maj, &min) != 2)
		return -ENOENT;
	*ret = makedev(maj, min);
	return 0;
}

static void disk_add(struct disk *d, const char *sysdir)
{
	dev_t devno;
	if (read_devno(sysdir, &devno) < 0)
		return;
	_cleanup_free_ char *copy = xstrdup(sysdir);
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = (struct blockdev){devno, xasprintf("/dev/%s", basename(copy))};
}

/* The disk (sysdir) and its partitions: subdirectories with a "partition" file. */
static void disk_read(const char *sysdir, struct disk *d)
{
	d->sys = xstrdup(sysdir);
	disk_add(d, sysdir);
	_cleanup_(closedirp) DIR *dir = opendir(sysdir);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = path_join(sysdir, de->d_name);
		_cleanup_free_ char *part = path_join(sub, "partition");
		if (access(part, F_OK) == 0)
			disk_add(d, sub);
	}
}

static const struct blockdev *disk_has(const struct disk *d, dev_t devno)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].devno == devno)
			return &d->v[i];
	return NULL;
}

static const struct blockdev *disk_has_path(const struct disk *d, const char *path)
{
	struct stat st;
	if (!path || stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
		return NULL;
	return disk_has(d, st.st_rdev);
}

/* A mount of the disk or a partition: kernel mounts by device number, FUSE ones (fuseblk,
 * whose device number is anonymous) by their source. */
static void find_mount(const struct disk *d, struct stick_facts *f)
{
	_cleanup_(fclosep) FILE *mi = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (mi && getline(&line, &cap, mi) > 0) {
		unsigned maj, min;
		char target[4096];
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, target) != 3)
			continue;
		const char *sep = strstr(line, " - ");
		char source[4096] = "";
		if (sep)
			(void)sscanf(sep + 3, "%*s %4095s", source);
		const struct blockdev *b = disk_has(d, makedev(maj, min));
		if (!b && startswith(source, "/dev/"))
			b = disk_has_path(d, source);
		if (b) {
			f->mounted = octal_unescape(target, strlen(target));
			f->mounted_dev = xstrdup(b->node);
			return;
		}
	}
}

static void find_swap(const struct disk *d, struct stick_facts *f)
{
	_cleanup_(fclosep) FILE *sw = fopen("/proc/swaps", "re");
	char name[4096];
	while (sw && fscanf(sw, "%4095s%*[^\n]", name) == 1) {
		_cleanup_free_ char *path = octal_unescape(name, strlen(name));
		if (disk_has_path(d, path)) {
			f->swap = xstrdup(path);
			return;
		}
	}
}

/* A device built on the disk or a partition: an entry in its sysfs holders/. */
static void find_holder(const struct disk *d, struct stick_facts *f)
{
	for (size_t i = 0; i < d->n && !f->holder; i++) {
		_cleanup_free_ char *copy = xstrdup(d->v[i].node);
		_cleanup_free_ char *dir = i == 0
		                               ? path_join(d->sys, "holders")
		                               : xasprintf("%s/%s/holders", d->sys, basename(copy));
		_cleanup_(closedirp) DIR *h = opendir(dir);
		struct dirent *de;
		while (h && (de = readdir(h)))
			if (de->d_name[0] != '.') {
				f->holder = xasprintf("/dev/%s", de->d_name);
				break;
			}
	}
}

int stick_facts_read(const char *device, const char *host, uint64_t image_size,
                     struct stick_facts *ret)
{
	*ret = (struct stick_facts){.device = device, .image_size = image_size};
	struct stat st;
	if (stat(device, &st) < 0)
		return log_fail(errno, "iso: output", device, NULL,
		                "give the stick's device (lsblk lists them)");
	if (!S_ISBLK(st.st_mode))
		return 0;
	ret->block = true;
	_cleanup_free_ char *link =
	    xasprintf("/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	_cleanup_free_ char *sys = realpath(link, NULL);
	if (!sys)
		return log_fail(errno, "iso: output", device, "not in /sys/dev/block",
		                "mount sysfs on /sys");
	_cleanup_free_ char *part = path_join(sys, "partition");
	if (access(part, F_OK) == 0) {
		ret->partition = true;
		_cleanup_free_ char *copy = xstrdup(sys);
		_cleanup_free_ char *disksys = xstrdup(dirname(copy));
		_cleanup_free_ char *copy2 = xstrdup(disksys);
		ret->disk = xasprintf("/dev/%s", basename(copy2));
		return 0;
	}
	_cleanup_free_ char *rm = path_join(sys, "removable"), *rmtext = NULL;
	ret->removable = read_file(rm, &rmtext, NULL) == 0 && rmtext[0] == '1';
	if (strstr(sys, "/usb"))
		ret->bus = xstrdup("usb");
	else if (strstr(sys, "/mmc"))
		ret->bus = xstrdup("mmc");
	if (ret->bus)
		ret->removable = true;

	struct disk d = {0};
	disk_read(sys, &d);
	find_mount(&d, ret);
	find_swap(&d, ret);
	find_holder(&d, ret);
	const struct blockdev *h = disk_has_path(&d, host);
	if (h) {
		ret->holds_host = true;
		ret->host = xstrdup(h->node);
	}
	disk_free(&d);

	_cleanup_close_ int fd = open(device, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	uint64_t size = 0;
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0) {
		int err = errno;
		stick_facts_free(ret);
		return log_fail(err, "iso: reading the size of", device, NULL,
		                "check that the stick is plugged in");
	}
	ret->size = size;
	return 0;
}

/* The entry's host device on this machine, or NULL (not here, or no entry). */
static char *entry_host(const char *cmdline)
{
	_cleanup_free_ char *line = NULL, *error = NULL;
	if (!cmdline && cmdline_read(NULL, &line) < 0)
		return NULL;
	struct plan p;
	if (plan_parse(cmdline ? cmdline : line, &p, &error) < 0)
		return NULL; /* media_prepare() has said what is wrong with it */
	struct device_info dev = {0};
	char *node = NULL;
	if (device_find(&p.root, &dev) > 0 && dev.devnode)
		node = xstrdup(dev.devnode);
	device_info_free(&dev);
	plan_free(&p);
	return node;
}

int stick_check(const char *device, const char *cmdline, uint64_t image_size, bool force)
{
	_cleanup_free_ char *host = entry_host(cmdline);
	struct stick_facts f;
	if (stick_facts_read(device, host, image_size, &f) < 0)
		return -1;
	struct stick_refusal r;
	int ret = 0;
	if (stick_verdict(&f, force, &r) < 0) {
		log_fail(r.err, "iso: output", device, r.why, "%s", r.todo);
		free(r.todo);
		ret = -1;
	}
	stick_facts_free(&f);
	return ret;
}

/* ---- the copy --------------------------------------------------------------------------- */

static void progress(const char *cmd, const char *device, uint64_t done, uint64_t total)
{
	unsigned pct = total ? (unsigned)(done * 100 / total) : 100;
	fprintf(stderr, "\rloopboot: %s: writing %s: %3u%% (%.0f of %.0f MiB)", cmd, device, pct,
	        (double)done / MIB, (double)total / MIB);
}

/* Reads the device back (its cache dropped first) and compares it with the image. */
static int verify(int dev, int img, uint64_t total, char *a, char *b)
{
	if (ioctl(dev, BLKFLSBUF, 0) < 0)
		return -errno;
	for (uint64_t off = 0; off < total; off += CHUNK) {
		size_t n = total - off < CHUNK ? (size_t)(total - off) : CHUNK;
		int r = compare_exactly(img, dev, a, b, n, (int64_t)off);
		if (r != 0)
			return r < 0 ? r : -EILSEQ;
	}
	return 0;
}

int stick_write(const char *cmd, const char *image, const char *device)
{
	struct stat st;
	_cleanup_close_ int img = open_regular(image, &st);
	if (img < 0)
		return log_fail(img, "iso: reading the media", image, NULL,
		                "run the command again");
	/* O_EXCL: the kernel refuses a device that is mounted or held by another, should one
	 * have appeared since the checks. */
	_cleanup_close_ int dev = open(device, O_RDWR | O_EXCL | O_CLOEXEC);
	if (dev < 0)
		return log_fail(errno, "iso: opening the stick", device,
		                errno == EBUSY ? "in use (mounted, or held by another device)"
		                               : NULL,
		                "unmount it and close what uses it, then run the command again");
	const uint64_t total = (uint64_t)st.st_size;
	bool tty = isatty(STDERR_FILENO);
	_cleanup_free_ char *a = xmalloc(CHUNK), *b = xmalloc(CHUNK);
	int r = 0;
	for (uint64_t off = 0; off < total && r == 0; off += CHUNK) {
		size_t n = total - off < CHUNK ? (size_t)(total - off) : CHUNK;
		r = read_exactly(img, a, n, (int64_t)off);
		if (r == 0)
			r = write_exactly(dev, a, n);
		if (tty)
			progress(cmd, device, off + n, total);
	}
	if (r == 0 && fsync(dev) < 0)
		r = -errno;
	if (tty)
		fputc('\n', stderr);
	if (r < 0)
		return log_fail(r, "iso: writing the stick", device, NULL,
		                "the stick does not boot as it is now: check it (dmesg), then run "
		                "the command again or use another stick");
	r = verify(dev, img, total, a, b);
	if (r < 0)
		return log_fail(r, "iso: reading the stick back", device,
		                r == -EILSEQ ? "it does not hold what was written" : NULL,
		                "the stick may be failing: try another one");
	/* The new partition table, for this system's view of the stick; a device that
	 * cannot be partitioned (a loop device without partscan) says EINVAL: harmless. */
	(void)ioctl(dev, BLKRRPART, 0);
	printf("loopboot: %s: wrote %.1f MiB to %s, synced and read back: it can be unplugged\n",
	       cmd, (double)total / MIB, device);
	return fflush(stdout) == 0 ? 0 : -1;
}
