/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/loopdev.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/util.h"

#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE 0x4C0A
struct loop_config {
	__u32 fd;
	__u32 block_size;
	struct loop_info64 info;
	__u64 __reserved[8];
};
#endif

/* devtmpfs creates the node asynchronously after LOOP_CTL_GET_FREE adds a device. */
static int open_loop_node(const char *devnode, bool read_only)
{
	for (int i = 0; i < 100; i++) {
		int fd = open(devnode, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		sleep_ms(10);
	}
	return -1;
}

/* Pre-5.8 kernels: three steps, with a window in which another process may grab the device. */
static int configure_legacy(int loop_fd, int backing_fd, const struct loop_info64 *info)
{
	if (ioctl(loop_fd, LOOP_SET_FD, backing_fd) < 0)
		return -errno;
	struct loop_info64 i = *info;
	i.lo_flags &= ~(__u32)(LO_FLAGS_DIRECT_IO | LO_FLAGS_READ_ONLY);
	if (ioctl(loop_fd, LOOP_SET_STATUS64, &i) < 0) {
		int r = -errno;
		ioctl(loop_fd, LOOP_CLR_FD, 0);
		return r;
	}
	if (info->lo_flags & LO_FLAGS_DIRECT_IO)
		(void)ioctl(loop_fd, LOOP_SET_DIRECT_IO, 1UL); /* best effort */
	return 0;
}

static int configure(int loop_fd, int backing_fd, struct loop_info64 *info)
{
	struct loop_config config = {.fd = (__u32)backing_fd, .info = *info};
	if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0)
		return 0;
	int r = -errno;
	if (r == -EINVAL && (info->lo_flags & LO_FLAGS_DIRECT_IO)) {
		/* Some kernels refuse the whole call when the backing file can't do direct I/O. */
		info->lo_flags &= ~(__u32)LO_FLAGS_DIRECT_IO;
		config.info = *info;
		if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0)
			return 0;
		r = -errno;
	}
	if (r == -ENOTTY || r == -EINVAL)
		return configure_legacy(loop_fd, backing_fd, info);
	return r;
}

int loopdev_attach(int backing_fd, const char *backing_name, bool read_only, struct loopdev *ret)
{
	return loopdev_attach_range(backing_fd, backing_name, read_only, 0, 0, ret);
}

int loopdev_attach_range(int backing_fd, const char *backing_name, bool read_only, uint64_t offset,
                         uint64_t sizelimit, struct loopdev *ret)
{
	*ret = (struct loopdev){.fd = -1};
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;

	struct loop_info64 info = {
	    .lo_offset = offset,
	    .lo_sizelimit = sizelimit,
	    .lo_flags =
	        LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO | (read_only ? LO_FLAGS_READ_ONLY : 0),
	};
	if (backing_name)
		snprintf((char *)info.lo_file_name, sizeof(info.lo_file_name), "%s", backing_name);

	/* Another process can take the free device between GET_FREE and CONFIGURE: retry. */
	for (int attempt = 0; attempt < 64; attempt++) {
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			return -errno;
		_cleanup_free_ char *devnode = xasprintf("/dev/loop%d", nr);
		int fd = open_loop_node(devnode, read_only);
		if (fd < 0)
			return -errno;
		struct loop_info64 want = info;
		int r = configure(fd, backing_fd, &want);
		if (r == -EBUSY) {
			close(fd);
			continue;
		}
		if (r < 0) {
			close(fd);
			return r;
		}
		struct loop_info64 got;
		bool dio = false;
		if (ioctl(fd, LOOP_GET_STATUS64, &got) == 0) {
			dio = got.lo_flags & LO_FLAGS_DIRECT_IO;
			if (got.lo_offset != offset || got.lo_sizelimit != sizelimit) {
				/* A device over the wrong bytes must not be used at all. */
				(void)ioctl(fd, LOOP_CLR_FD, 0);
				close(fd);
				return -EIO;
			}
		}
		*ret = (struct loopdev){.devnode = xstrdup(devnode),
		                        .fd = fd,
		                        .direct_io = dio,
		                        .read_only = read_only};
		log_debug("attached %s to %s (direct I/O %s%s)", backing_name ? backing_name : "?",
		          devnode, dio ? "on" : "off", read_only ? ", read-only" : "");
		return 0;
	}
	return -EBUSY;
}

void loopdev_release(struct loopdev *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->devnode);
	l->devnode = NULL;
}

/* True while the loop device still holds a backing file. */
static bool loopdev_bound(const char *devnode)
{
	const char *name = strrchr(devnode, '/');
	_cleanup_free_ char *p =
	    xasprintf("/sys/block/%s/loop/backing_file", name ? name + 1 : devnode);
	return access(p, F_OK) == 0;
}

int loopdev_detach(const char *devnode)
{
	int r = 0;
	{
		_cleanup_close_ int fd = open(devnode, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		/* ENXIO: not bound (any more): autoclear got there first. */
		if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
			r = -errno;
	}
	/* Releasing the file finishes after our close; whoever unmounts the file system
	 * that holds it next must not find it busy. */
	for (int i = 0; i < 100 && loopdev_bound(devnode); i++)
		sleep_ms(20);
	if (r == 0 && loopdev_bound(devnode))
		r = -EBUSY;
	return r;
}

char *loopdev_of_file(int fd)
{
	return loopdev_of_file_at(fd, UINT64_MAX);
}

char *loopdev_of_file_at(int fd, uint64_t offset)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	DIR *dir = opendir("/sys/block");
	if (!dir)
		return NULL;
	char *found = NULL;
	struct dirent *de;
	while (!found && (de = readdir(dir))) {
		if (!startswith(de->d_name, "loop"))
			continue;
		_cleanup_free_ char *sys = xasprintf("/sys/block/%s/loop", de->d_name);
		if (access(sys, F_OK) < 0)
			continue;
		_cleanup_free_ char *node = xasprintf("/dev/%s", de->d_name);
		_cleanup_close_ int lfd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		struct loop_info64 info;
		if (lfd < 0 || ioctl(lfd, LOOP_GET_STATUS64, &info) < 0)
			continue;
		if (info.lo_device == (__u64)st.st_dev && info.lo_inode == (__u64)st.st_ino &&
		    (offset == UINT64_MAX || info.lo_offset == offset))
			found = xstrdup(node);
	}
	closedir(dir);
	return found;
}
