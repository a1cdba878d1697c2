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
#include "engine/times.h"

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

/* /dev, /proc, /sys and /run go along into the new root. */
static void move_api_mounts(const char *newroot)
{
	static const char *const api_mounts[] = {"/dev", "/proc", "/sys", "/run"};
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
}

int switchroot(const char *newroot, const char *init, char **argv)
{
	struct stat rootst, newst;
	if (stat("/", &rootst) < 0)
		return log_fail(errno, "switching root: reading", "/", NULL,
		                "report this as a bug");
	if (stat(newroot, &newst) < 0)
		return log_fail(errno, "switching root: reading", newroot, NULL,
		                "report this as a bug");
	if (rootst.st_dev == newst.st_dev)
		return log_fail(EINVAL, "switching root", newroot, "nothing is mounted there",
		                "report this as a bug");
	/* The old root stays reachable through this descriptor once the new one is "/":
	 * its files are deleted from there, after the switch, as util-linux and systemd do,
	 * so that a failure on the way leaves the initramfs whole. */
	_cleanup_close_ int oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oldroot < 0)
		return log_fail(errno, "switching root: opening", "/", NULL,
		                "report this as a bug");

	move_api_mounts(newroot);
	if (chdir(newroot) < 0)
		return log_fail(errno, "switching root: entering", newroot, NULL,
		                "report this as a bug");
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return log_fail(errno, "switching root: moving the new root over /", newroot, NULL,
		                "the initramfs must be a ramfs or tmpfs (the kernel's rootfs)");
	if (chroot(".") < 0 || chdir("/") < 0)
		return log_fail(errno, "switching root: entering the new root", newroot, NULL,
		                "report this as a bug");

	/* Only ever empty an initramfs: deleting a real root's files would be a disaster. */
	struct statfs sfs;
	if (fstatfs(oldroot, &sfs) == 0 && ((unsigned long)sfs.f_type == RAMFS_MAGIC ||
	                                    (unsigned long)sfs.f_type == TMPFS_MAGIC)) {
		remove_tree(oldroot, rootst.st_dev);
		oldroot = -1; /* remove_tree closed it */
	} else {
		log_warn("the old root is not an initramfs: its files are left alone");
	}

	log_open_console(); /* stdio still is the initramfs's console node */
	times_finish(&times_boot);
	execv(init, argv);
	return log_fail(errno, "starting init", init, NULL, "check the image's init program");
}
