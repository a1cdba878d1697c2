/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/shutdown.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/elf.h"
#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/util.h"
#include "engine/boot.h"
#include "engine/mounts.h"
#include "engine/state.h"
#include "engine/teardown.h"

/* ---- at boot: a shutdown root in /run/initramfs ------------------------------------- */

static int copy_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (streq(path, "/"))
		return FTW_CONTINUE;
	/* Kernel modules are the bulk of the initramfs and shutdown needs none. */
	if (streq(path, "/lib/modules") || streq(path, "/usr/lib/modules"))
		return FTW_SKIP_SUBTREE;
	_cleanup_free_ char *dst = xasprintf(SHUTDOWN_ROOT "%s", path);
	int r = 0;
	if (flag == FTW_D) {
		if (mkdir(dst, st->st_mode & 07777) < 0 && errno != EEXIST)
			r = -errno;
	} else if (flag == FTW_SL) {
		char target[4096];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			r = -errno;
		else {
			target[n] = '\0';
			if (symlink(target, dst) < 0 && errno != EEXIST)
				r = -errno;
		}
	} else if (flag == FTW_F && S_ISREG(st->st_mode)) {
		_cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
		_cleanup_close_ int out =
		    open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st->st_mode & 07777);
		if (in < 0 || out < 0)
			r = -errno;
		else {
			off_t left = st->st_size;
			while (left > 0) {
				ssize_t n = sendfile(out, in, NULL, (size_t)left);
				if (n <= 0) {
					r = n < 0 ? -errno : -EIO;
					break;
				}
				left -= n;
			}
		}
	} else if (flag == FTW_F && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))) {
		if (mknod(dst, st->st_mode, st->st_rdev) < 0 && errno != EEXIST)
			r = -errno;
	}
	if (r < 0) {
		log_warn("preparing the shutdown root: copying %s: %s", path, strerror(-r));
		return FTW_STOP;
	}
	return FTW_CONTINUE;
}

/*
 * SHUTDOWN_EXEC: for inits without systemd's /run/initramfs support, their last step
 * execs it as PID 1. It runs in the booted root, which may lack our libraries (a busybox
 * root has no glibc): so it starts /init with the initramfs's own dynamic loader and
 * library directories, and loopboot then pivots into /run/initramfs.
 */
static int write_exec_script(const char *self)
{
	struct elf_info e = {0};
	int r = elf_read(self, &e);
	if (r < 0)
		return log_fail(r, "reading", self, NULL,
		                "the shutdown helper needs loopboot's ELF file");
	struct strv dirs = {0};
	elf_default_search_dirs(&e, NULL, &dirs);
	_cleanup_free_ char *path = xstrdup("");
	/* Resolved now, in the initramfs: the script runs in the booted root, where the
	 * initramfs's absolute symlinks (/lib64/ld-linux-x86-64.so.2 ->
	 * /lib/x86_64-linux-gnu/...) would point into that root, which may have no glibc. */
	for (size_t i = 0; i < dirs.n; i++) {
		_cleanup_free_ char *real = realpath(dirs.v[i], NULL);
		if (!real)
			continue;
		char *p = xasprintf("%s%s" SHUTDOWN_ROOT "%s", path, *path ? ":" : "", real);
		free(path);
		path = p;
	}
	strv_free(&dirs);
	_cleanup_free_ char *interp = e.interp ? realpath(e.interp, NULL) : NULL;
	if (e.interp && !interp)
		log_warn("the dynamic loader %s is missing: %s will not run", e.interp,
		         SHUTDOWN_EXEC);
	_cleanup_free_ char *loader =
	    interp ? xasprintf("'" SHUTDOWN_ROOT "%s' --library-path '%s' --argv0 loopboot ",
	                       interp, path)
	           : xstrdup("");
	elf_info_done(&e);
	_cleanup_free_ char *script =
	    xasprintf("#!/bin/sh\n"
	              "# Written by loopboot at boot. An init system without systemd ends with\n"
	              "#   exec " SHUTDOWN_EXEC " poweroff|reboot|halt|kexec\n"
	              "# as PID 1: loopboot then takes the root image and the host down cleanly.\n"
	              "exec %s'" SHUTDOWN_ROOT "%s' shutdown \"$@\"\n",
	              loader, self);
	r = write_file_atomic(SHUTDOWN_EXEC, script, strlen(script), 0755);
	if (r < 0)
		return log_fail(r, "writing", SHUTDOWN_EXEC, NULL, "/run must be writable");
	return 0;
}

int shutdown_prepare(void)
{
	/* Where loopboot is in this initramfs: /init in our own, /usr/sbin/loopboot (say)
	 * in a framework's. */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || self[0] != '/')
		return log_fail(n < 0 ? errno : EINVAL, "finding loopboot's own file",
		                "/proc/self/exe", NULL, "mount /proc");
	self[n] = '\0';
	if (access(SHUTDOWN_ROOT "/shutdown", F_OK) == 0) {
		log_debug("%s/shutdown exists: leaving the shutdown root to its owner",
		          SHUTDOWN_ROOT);
		return 0;
	}
	int r = mkdir_p(SHUTDOWN_ROOT, 0755);
	if (r < 0)
		return log_fail(r, "preparing the shutdown root", SHUTDOWN_ROOT, NULL,
		                "/run must be writable");
	/* FTW_MOUNT: stay in the initramfs, not in /proc, /sys, /dev, /run or the new root. */
	if (nftw("/", copy_entry, 32, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL) != 0)
		return log_fail(EIO, "preparing the shutdown root", SHUTDOWN_ROOT, NULL,
		                "is /run full? shutdown will not unmount the host cleanly");
	static const char *const dirs[] = {"dev", "proc", "sys", "run", "oldroot", "tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *d = xasprintf(SHUTDOWN_ROOT "/%s", dirs[i]);
		(void)mkdir(d, 0755);
	}
	/* systemd-shutdown runs /run/initramfs/shutdown: that is us. */
	if (symlink(self + 1, SHUTDOWN_ROOT "/shutdown") < 0 && errno != EEXIST)
		return log_fail(errno, "preparing the shutdown root", SHUTDOWN_ROOT "/shutdown",
		                NULL, "/run must be writable");
	r = write_exec_script(self);
	if (r < 0)
		return r;
	log_debug("shutdown root prepared in %s", SHUTDOWN_ROOT);
	return 0;
}

/* ---- at shutdown ---------------------------------------------------------------------- */

/* A process to spare: a kernel thread (empty command line), a root storage daemon whose
 * argv[0] starts with '@' (systemd's convention, which our FUSE hosts follow), or us. */
static bool spared(pid_t pid)
{
	if (pid == getpid() || pid == 1)
		return true;
	_cleanup_free_ char *p = xasprintf("/proc/%d/cmdline", (int)pid);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true; /* gone */
	char c;
	ssize_t n = read(fd, &c, 1);
	return n <= 0 || c == '@';
}

/* Sends sig to every process not spared; returns how many got it. Reaps our children. */
static unsigned signal_all(int sig)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || spared((pid_t)pid))
			continue;
		if (kill((pid_t)pid, sig) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void kill_all(void)
{
	static const int sigs[] = {SIGTERM, SIGKILL};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		if (signal_all(sigs[i]) == 0)
			return;
		if (sigs[i] == SIGTERM)
			signal_all(SIGCONT);
		long long deadline = now_ms() + 5000;
		while (now_ms() < deadline) {
			usleep(50 * 1000);
			if (signal_all(0) == 0)
				return;
		}
	}
}

static int verb_to_cmd(const char *verb)
{
	if (streq(verb, "poweroff"))
		return RB_POWER_OFF;
	if (streq(verb, "reboot"))
		return RB_AUTOBOOT;
	if (streq(verb, "halt"))
		return RB_HALT_SYSTEM;
	if (streq(verb, "kexec"))
		return RB_KEXEC;
	return 0;
}

static _Noreturn void finish(const char *verb)
{
	sync();
	int cmd = verb_to_cmd(verb);
	log_info("shutdown: %s", verb);
	if (cmd == RB_KEXEC) {
		reboot(RB_KEXEC); /* returns when no kernel is loaded */
		log_warn("no kexec kernel loaded: rebooting");
		cmd = RB_AUTOBOOT;
	}
	reboot(cmd);
	log_fail(errno, "shutdown", verb, NULL, "the kernel refused; power the machine off");
	for (;;)
		pause();
}

/* In the shutdown root, with the old root at /oldroot. */
static _Noreturn void take_down(const char *verb)
{
	struct stack s;
	_cleanup_free_ char *error = NULL;
	int r = state_load(STATE_FILE, &s, &error);
	if (r == -ENOENT) {
		log_warn("no state record %s: nothing of loopboot's to take down", STATE_FILE);
		finish(verb);
	}
	if (r < 0) {
		log_fail(r, "reading the state record", STATE_FILE, error,
		         "nothing was taken down: the host may be left unclean; check it at the "
		         "next boot");
		finish(verb);
	}
	const char *host = "";
	for (size_t i = 0; i < s.n; i++)
		if (s.v[i].kind == LAYER_HOST)
			host = strempty(s.v[i].host.source);
	r = teardown_stack(&s, SHUTDOWN_OLDROOT);
	if (r < 0)
		log_fail(r, "taking the stack down before", verb, NULL,
		         "see the warnings above; the images are read-only but the host %s may "
		         "need checking",
		         host);
	else
		log_info("images unmounted, loop devices detached, host %s unmounted", host);
	stack_free(&s);
	finish(verb);
}

/* PID 1 of the running system, at the end of an init without a shutdown root of its own. */
static _Noreturn void pivot_and_exec(const char *verb)
{
	log_info("shutdown: stopping the remaining processes");
	kill_all();
	sync();
	if (access(SHUTDOWN_ROOT "/shutdown", X_OK) < 0) {
		log_fail(errno, "shutdown root", SHUTDOWN_ROOT "/shutdown", NULL,
		         "boot with loopboot's initramfs; remounting / read-only instead");
		(void)mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
		finish(verb);
	}
	/* As systemd-shutdown does: the old root stays at /oldroot for /shutdown to take
	 * down; /dev, /proc, /sys and /run come along as bind mounts. */
	(void)mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount(SHUTDOWN_ROOT, SHUTDOWN_ROOT, NULL, MS_BIND, NULL) < 0)
		goto fail;
	static const char *const api[] = {"/dev", "/proc", "/sys", "/run"};
	for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
		_cleanup_free_ char *d = xasprintf(SHUTDOWN_ROOT "%s", api[i]);
		(void)mkdir(d, 0755);
		if (mount(api[i], d, NULL, MS_BIND, NULL) < 0)
			log_warn("binding %s into the shutdown root: %m", api[i]);
	}
	(void)mkdir(SHUTDOWN_ROOT SHUTDOWN_OLDROOT, 0700);
	if (chdir(SHUTDOWN_ROOT) < 0 || syscall(SYS_pivot_root, ".", &SHUTDOWN_OLDROOT[1]) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		goto fail;
	char *argv[] = {(char *)"/shutdown", (char *)verb, NULL};
	execv("/shutdown", argv);
fail:
	log_fail(errno, "entering the shutdown root", SHUTDOWN_ROOT, NULL,
	         "remounting / read-only instead; the host may need checking");
	(void)mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
	finish(verb);
}

int shutdown_main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;
	if (!verb || !verb_to_cmd(verb)) {
		fprintf(stderr,
		        "loopboot: shutdown: %s: not a shutdown verb — use poweroff, reboot, "
		        "halt or kexec\n",
		        verb ? verb : "(none)");
		return 2;
	}
	if (getpid() != 1) {
		fprintf(stderr,
		        "loopboot: shutdown: runs as PID 1 only, this is PID %d — make it the init "
		        "system's last step: exec loopboot shutdown %s (see loopboot(8))\n",
		        (int)getpid(), verb);
		return 2;
	}
	log_open_console();
	(void)boot_mount_api_filesystems();
	log_open_console();
	if (is_mount_point(SHUTDOWN_OLDROOT))
		take_down(verb);
	pivot_and_exec(verb);
}
