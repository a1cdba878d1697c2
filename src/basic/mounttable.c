/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "basic/mounttable.h"

#include <fcntl.h>
#include <libmount.h>
#include <sys/stat.h>

#include "basic/util.h"

#define MOUNTINFO_SELF "/proc/self/mountinfo"

void mount_entry_free(struct mount_entry *m)
{
	free_all(m->target, m->source, m->fstype, m->root);
	*m = (struct mount_entry){0};
}

static void unref_tablep(struct libmnt_table **tb)
{
	mnt_unref_table(*tb);
}

static void free_iterp(struct libmnt_iter **it)
{
	mnt_free_iter(*it);
}

/* Reads the table, and makes an iterator over it in direction (MNT_ITER_*). */
static int table_open(const char *mountinfo, int direction, struct libmnt_table **ret_table,
                      struct libmnt_iter **ret_iter)
{
	_cleanup_(unref_tablep) struct libmnt_table *tb = mnt_new_table();
	if (!tb)
		return -ENOMEM;
	int r = mnt_table_parse_file(tb, mountinfo ? mountinfo : MOUNTINFO_SELF);
	if (r < 0)
		return r;
	struct libmnt_iter *it = mnt_new_iter(direction);
	if (!it)
		return -ENOMEM;
	*ret_table = tb;
	*ret_iter = it;
	tb = NULL;
	return 0;
}

static void entry_set(struct mount_entry *m, struct libmnt_fs *fs)
{
	const char *source = mnt_fs_get_source(fs), *root = mnt_fs_get_root(fs);
	*m = (struct mount_entry){
	    .target = xstrdup(strempty(mnt_fs_get_target(fs))),
	    .source = source ? xstrdup(source) : NULL,
	    .fstype = xstrdup(strempty(mnt_fs_get_fstype(fs))),
	    .root = xstrdup(root ? root : "/"),
	    .devno = mnt_fs_get_devno(fs),
	    /* 0: found, 1: not there, <0: no options at all */
	    .read_only = mnt_optstr_get_option(mnt_fs_get_vfs_options(fs), "ro", NULL, NULL) == 0,
	};
}

int mount_find_path(const char *mountinfo, const char *path, struct mount_entry *ret)
{
	_cleanup_(unref_tablep) struct libmnt_table *tb = NULL;
	_cleanup_(free_iterp) struct libmnt_iter *it = NULL;
	int r = table_open(mountinfo, MNT_ITER_FORWARD, &tb, &it);
	if (r < 0)
		return r;
	/* By the strings, not mnt_table_find_mountpoint(): that one wants path to exist, and
	 * a loop device's backing file named in sysfs may be gone, or in a test, made up. */
	struct libmnt_fs *fs, *best = NULL;
	size_t best_len = 0;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *target = mnt_fs_get_target(fs);
		if (!target || !path_startswith(path, target))
			continue;
		/* The targets above path are prefixes of each other: the longest is the deepest.
		 * Equal ones are stacked: the later mount hides the earlier. */
		size_t len = strlen(target);
		if (best && len < best_len)
			continue;
		best = fs;
		best_len = len;
	}
	if (!best)
		return 0;
	entry_set(ret, best);
	return 1;
}

int mount_find_root(const char *mountinfo, struct mount_entry *ret)
{
	return mount_find_path(mountinfo, "/", ret);
}

int mount_find_device(const char *mountinfo, const char *devnode, struct mount_entry *ret)
{
	struct stat st;
	if (stat(devnode, &st) < 0)
		return -errno;
	_cleanup_free_ char *real = realpath(devnode, NULL);
	_cleanup_(unref_tablep) struct libmnt_table *tb = NULL;
	_cleanup_(free_iterp) struct libmnt_iter *it = NULL;
	int r = table_open(mountinfo, MNT_ITER_BACKWARD, &tb, &it);
	if (r < 0)
		return r;
	struct libmnt_fs *fs;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *root = mnt_fs_get_root(fs), *source = mnt_fs_get_source(fs);
		if (root && !streq(root, "/"))
			continue; /* a bind mount of a directory in it */
		bool match = S_ISBLK(st.st_mode) && mnt_fs_get_devno(fs) == st.st_rdev;
		if (!match && real && source && source[0] == '/') {
			/* FUSE mounts carry an anonymous device number: compare the source. */
			_cleanup_free_ char *s = realpath(source, NULL);
			match = s && streq(s, real);
		}
		if (match) {
			entry_set(ret, fs);
			return 1;
		}
	}
	return 0;
}

int mount_open_device(const char *devnode, struct mount_entry *ret_entry)
{
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	int r = mount_find_device(NULL, devnode, &m);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	int fd = open(m.target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ret_entry) {
		*ret_entry = m;
		m = (struct mount_entry){0};
	}
	return fd;
}

bool is_mount_point(const char *path)
{
	/* Comparing st_dev with the parent's misses a bind mount of a directory of the same
	 * file system: systemd-shutdown binds /run into /run/initramfs/run, both on /run's
	 * tmpfs. The kernel knows (5.8 and later). */
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif
	struct statx sx;
	if (statx(AT_FDCWD, path, 0, 0, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	struct stat a, b;
	_cleanup_free_ char *parent = path_join(path, "..");
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

static size_t path_depth(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

int mount_targets_below(const char *root, struct strv *ret)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return -EIO;
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_BACKWARD);
	struct libmnt_fs *fs;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);
		if (t && path_startswith(t, root) && !strv_contains(ret, t))
			strv_push(ret, xstrdup(t));
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);

	/* Deeper paths before their parents, backwards in mount order within a depth: mount
	 * order alone is not enough, as /dev, /proc, /sys and /run were mounted in the
	 * initramfs before the root image and moved into it. */
	for (size_t i = 1; i < ret->n; i++) {
		char *x = ret->v[i];
		size_t j = i;
		while (j > 0 && path_depth(ret->v[j - 1]) < path_depth(x)) {
			ret->v[j] = ret->v[j - 1];
			j--;
		}
		ret->v[j] = x;
	}
	return 0;
}
