/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <libmount.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/process.h"
#include "basic/util.h"
#include "engine/helpers.h"
#include "engine/layer.h"
#include "engine/modules.h"

int mount_fs(const char *source, const char *target, const char *fstype, bool read_only,
             const char *options)
{
	unsigned long flags = 0;
	_cleanup_free_ char *fs_opts = NULL;
	if (options && *options) {
		if (mnt_optstr_get_flags(options, &flags, mnt_get_builtin_optmap(MNT_LINUX_MAP)) <
		        0 ||
		    mnt_split_optstr(options, NULL, NULL, &fs_opts, 0, 0) < 0)
			return -EINVAL;
	}
	if (read_only)
		flags |= MS_RDONLY;
	if (mount(source, target, fstype, flags, fs_opts) < 0)
		return -errno;
	log_debug("mounted %s on %s (%s%s%s%s)", source, target, fstype, read_only ? ", ro" : "",
	          options ? ", " : "", options ? options : "");
	return 0;
}

char *options_join(const char *a, const char *b)
{
	if (!a || !*a)
		return b && *b ? xstrdup(b) : NULL;
	if (!b || !*b)
		return xstrdup(a);
	return xasprintf("%s,%s", a, b);
}

const char *options_no_replay(const char *fstype)
{
	if (streq(fstype, "ext3") || streq(fstype, "ext4"))
		return "noload";
	if (streq(fstype, "xfs"))
		return "norecovery";
	if (streq(fstype, "btrfs"))
		return "rescue=nologreplay";
	return NULL;
}

/*
 * The daemon forked away from the process we started; find it by its command line, which
 * we chose and which names our mount point.
 */
static pid_t find_daemon(char *const argv[])
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	pid_t found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		_cleanup_free_ char *path = xasprintf("/proc/%ld/cmdline", pid);
		_cleanup_free_ char *cmd = NULL;
		size_t len;
		if (read_file(path, &cmd, &len) < 0)
			continue;
		size_t off = 0, i = 0;
		for (; argv[i] && off < len; i++) {
			if (!streq(cmd + off, argv[i]))
				break;
			off += strlen(cmd + off) + 1;
		}
		if (!argv[i] && off == len)
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

/*
 * Starts the FUSE driver, which mounts and then forks its daemon away. Returns 0 with
 * *ret_pid the daemon's; or -errno, with *ret_why (allocated) saying what went wrong.
 */
static int fuse_mount(const char *program, const char *rw_option, const char *devnode,
                      const char *target, bool read_only, const char *options, pid_t *ret_pid,
                      char **ret_why)
{
	*ret_why = NULL;
	_cleanup_free_ char *path = find_program(program, PROGRAM_SEARCH_PATH);
	if (!path)
		return -ENOENT;
	/* "@" first in its command line: systemd's final kill spares it (the root is on it). */
	_cleanup_free_ char *argv0 = xasprintf("@%s", program);
	_cleanup_free_ char *opts = options_join(read_only ? "ro" : rw_option, options);
	char *argv[] = {argv0, "-o", opts, (char *)devnode, (char *)target, NULL};
	/* The daemon outlives us: give it no terminal. fusefat reports its geometry on
	 * stderr; the others only errors. */
	struct process_options daemon = {
	    .stdio = {STDIO_NULL, STDIO_NULL},
	    .new_session = true,
	};
	if (streq(program, "fusefat"))
		daemon.stdio[STDERR_FILENO].kind = PROCESS_STDIO_NULL;
	struct process_result res;
	int r = process_run(path, argv, &daemon, &res);
	if (r < 0) {
		/* -EIO: the driver ran and failed (its message is above); else it never ran. */
		_cleanup_free_ char *how = process_result_message(&res);
		if (res.end == PROCESS_EXITED)
			*ret_why = xasprintf("the driver refused the volume (%s)", how);
		else if (res.end == PROCESS_KILLED)
			*ret_why = xasprintf("the driver was %s", how);
		else
			*ret_why = xasprintf("%s %s", path, how);
		return res.end == PROCESS_EXITED || res.end == PROCESS_KILLED ? -EIO : r;
	}
	/* The parent exits once the mount is in place; check rather than trust. */
	if (!is_mount_point(target)) {
		*ret_why = xasprintf("%s exited, but %s is not mounted", program, target);
		return -EIO;
	}
	*ret_pid = find_daemon(argv);
	log_debug("%s serves %s on %s (pid %d)", program, devnode, target, (int)*ret_pid);
	return 0;
}

static void host_set(struct layer_host *h, const char *source, const char *type, const char *driver,
                     const char *target, const char *options, bool read_only, pid_t pid)
{
	free(h->source);
	free(h->type);
	free(h->driver);
	free(h->target);
	free(h->options);
	h->source = xstrdup(source);
	h->type = xstrdup(type);
	h->driver = xstrdup(driver);
	h->target = xstrdup(target);
	h->options = options ? xstrdup(options) : NULL;
	h->read_only = read_only;
	h->fuse = false;
	h->daemon_pid = pid;
}

int host_mount(struct modules *m, const char *devnode, const char *probed_type,
               const char *fstype_wanted, const char *options, bool read_only, const char *target,
               struct layer_host *ret)
{
	const char *want = fstype_wanted ? fstype_wanted : probed_type;
	if (!want)
		return log_fail(EMEDIUMTYPE, "host device", devnode, "no file system found on it",
		                "check root= names the partition that holds the image, or set "
		                "rootfstype=");
	const char *fuse_prog = NULL, *kernel = NULL;
	const char *p = startswith(want, "fuse.");
	if (p)
		fuse_prog = p;
	else if (fs_helper_for_fuse_program(want))
		fuse_prog = want;
	else
		kernel = fs_kernel_driver(want);
	/* rootfstype= naming a driver (ntfs3, ext4) means that driver; naming a type that
	 * also has a FUSE driver (ntfs, vfat, exfat) lets the FUSE driver step in. */
	const struct fs_helper *wanted = fs_helper_for_type(want);
	bool strict = fstype_wanted && kernel && !(wanted && wanted->fuse[0]);

	if (kernel && modules_have_fs(m, kernel)) {
		int r = mount_fs(devnode, target, kernel, read_only, options);
		if (r < 0)
			return log_fail(r, "mounting the host", devnode, NULL,
			                "check rootfstype=%s and rootflags=%s, or the file system "
			                "(fsck from another system)",
			                kernel, options ? options : "");
		host_set(ret, devnode, probed_type ? probed_type : kernel, kernel, target, options,
		         read_only, 0);
		return 0;
	}
	if (strict)
		return log_fail(ENODEV, "host file system type", kernel,
		                "the kernel has no driver for it",
		                "rebuild the initramfs with the module, or drop rootfstype=");

	/* No kernel driver: fall back to a FUSE driver for this type. */
	const char *type = probed_type ? probed_type : want;
	const struct fs_helper *h =
	    fuse_prog ? fs_helper_for_fuse_program(fuse_prog) : fs_helper_for_type(type);
	for (size_t i = 0; h && i < ARRAY_SIZE(h->fuse) && h->fuse[i]; i++) {
		const char *prog = h->fuse[i];
		if (fuse_prog && !streq(prog, fuse_prog))
			continue;
		_cleanup_free_ char *path = find_program(prog, PROGRAM_SEARCH_PATH);
		if (!path)
			continue;
		if (!modules_have_fs(m, "fuse") && !modules_have_fs(m, "fuseblk"))
			return log_fail(ENODEV, "FUSE", prog, "the kernel has no fuse driver",
			                "rebuild the initramfs with the fuse module");
		pid_t pid = 0;
		_cleanup_free_ char *why = NULL;
		int r = fuse_mount(prog, h->fuse_rw ? h->fuse_rw : "rw", devnode, target, read_only,
		                   options, &pid, &why);
		if (r < 0 && r != -EIO)
			return log_fail(
			    r, "mounting the host with FUSE", devnode, why,
			    "the initramfs is incomplete: rebuild it (loopboot initrd)");
		if (r < 0)
			return log_fail(r, "mounting the host with FUSE", devnode, why,
			                "see %s's message above; check the volume from another "
			                "system (e.g. chkdsk for NTFS)",
			                prog);
		host_set(ret, devnode, type, prog, target, options, read_only, pid);
		ret->fuse = true;
		return 0;
	}
	if (fuse_prog)
		return log_fail(ENOENT, "FUSE driver", fuse_prog, "not found in the initramfs",
		                "rebuild it with loopboot initrd --add-binary /path/to/%s",
		                fuse_prog);
	return log_fail(ENODEV, "host file system type", type,
	                "the kernel has no driver for it and no FUSE driver is in the initramfs",
	                "rebuild the initramfs on a system with the driver (for NTFS: install "
	                "ntfs-3g)");
}

int host_umount(const struct layer_host *f, int timeout_ms)
{
	/* Busy for a moment is normal: a loop device above it finishes releasing its file
	 * after the detach, and udev workers probing a new loop device hold it open. */
	for (int waited = 0;; waited += 20) {
		if (umount2(f->target, 0) == 0)
			break;
		int r = -errno;
		if (r == -EINVAL || r == -ENOENT)
			break;
		if (r != -EBUSY || waited >= 5000)
			return r;
		sleep_ms(20);
	}
	if (!f->fuse || f->daemon_pid <= 0)
		return 0;
	/* The daemon flushes and exits after the unmount; the host isn't safe until it has. */
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (kill(f->daemon_pid, 0) < 0 && errno == ESRCH)
			return 0;
		(void)waitpid(f->daemon_pid, NULL, WNOHANG);
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}
