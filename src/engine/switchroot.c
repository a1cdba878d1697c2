/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/switchroot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "basic/log.h"
#include "basic/util.h"

static bool is_executable_in(int rootfd, const char *path)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_PATH);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	return S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

int switchroot_find_init(const char *newroot, const char *wanted, char **ret)
{
	static const char *const candidates[] = {"/sbin/init", "/etc/init", "/bin/init", "/bin/sh"};
	_cleanup_close_ int rootfd = open(newroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	if (wanted) {
		if (!is_executable_in(rootfd, wanted))
			return -ENOENT;
		*ret = xstrdup(wanted);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		if (is_executable_in(rootfd, candidates[i])) {
			*ret = xstrdup(candidates[i]);
			return 0;
		}
	}
	return -ENOENT;
}

/* Deletes the initramfs's contents without crossing into other file systems. */
static void remove_tree(int dfd, dev_t rootdev)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_dev != rootdev)
			continue; /* a mount point: the new root, or something still mounted */
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub >= 0)
				remove_tree(sub, rootdev);
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
}

int switchroot(const char *newroot, const char *init, char **argv)
{
	static const char *const api_mounts[] = {"/dev", "/proc", "/sys", "/run"};
	struct stat rootst, newst;
	struct statfs sfs;

	if (stat("/", &rootst) < 0 || stat(newroot, &newst) < 0)
		return -errno;
	if (rootst.st_dev == newst.st_dev)
		return -EINVAL; /* newroot is not mounted */
	/* Only ever empty an initramfs: deleting a real root's files would be a disaster. */
	if (statfs("/", &sfs) < 0)
		return -errno;
	bool initramfs =
	    (unsigned long)sfs.f_type == RAMFS_MAGIC || (unsigned long)sfs.f_type == TMPFS_MAGIC;

	for (size_t i = 0; i < ARRAY_SIZE(api_mounts); i++) {
		_cleanup_free_ char *target = path_join(newroot, api_mounts[i]);
		struct stat st;
		if (stat(target, &st) < 0 || !S_ISDIR(st.st_mode)) {
			/* The image lacks the directory: don't keep the old mount busy. */
			umount2(api_mounts[i], MNT_DETACH);
			continue;
		}
		if (mount(api_mounts[i], target, NULL, MS_MOVE, NULL) < 0) {
			log_warn("moving %s into the new root failed: %m; unmounting it",
			         api_mounts[i]);
			umount2(api_mounts[i], MNT_DETACH);
		}
	}

	if (chdir(newroot) < 0)
		return -errno;
	if (initramfs) {
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			remove_tree(fd, rootst.st_dev);
	}
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return -errno;
	if (chroot(".") < 0 || chdir("/") < 0)
		return -errno;

	/* stdio still points at the initramfs's console node: reopen the real one. */
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	execv(init, argv);
	return -errno;
}
