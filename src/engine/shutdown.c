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
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/elf.h"
#include "basic/copy.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/mounttable.h"
#include "basic/util.h"
#include "engine/boot.h"
#include "engine/mounts.h"
#include "engine/state.h"
#include "engine/teardown.h"

/* ---- at boot: a shutdown root in /run/initramfs ------------------------------------- */

/*
 * What the shutdown root holds: loopboot, its dynamic loader and its libraries, each a
 * regular file at the path the loader was found at, and nothing else. At shutdown loopboot
 * is all that runs there (as PID 1); the host's FUSE daemon is already running. Copying the
 * whole initramfs instead filled a small /run in a framework's initramfs (busybox's
 * hundreds of hard links became as many copies).
 */
struct closure {
	char *self;        /* loopboot's own file: /init, /usr/sbin/loopboot */
	char *interp;      /* the dynamic loader, NULL for a static binary */
	struct strv files; /* libraries, as found */
	struct strv dirs;  /* the directories they were found in, for --library-path */
};

static void closure_done(struct closure *c)
{
	free(c->self);
	free(c->interp);
	strv_free(&c->files);
	strv_free(&c->dirs);
}

static int closure_read(struct closure *c)
{
	*c = (struct closure){0};
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || self[0] != '/')
		return log_fail(n < 0 ? errno : EINVAL, "finding loopboot's own file",
		                "/proc/self/exe", NULL, "mount /proc");
	self[n] = '\0';
	c->self = xstrdup(self);
	struct elf_info e = {0};
	int r = elf_read(self, &e);
	if (r < 0)
		return log_fail(r, "reading", self, NULL,
		                "the shutdown root needs loopboot's ELF file");
	c->interp = e.interp ? xstrdup(e.interp) : NULL;
	struct strv search = {0};
	elf_default_search_dirs(&e, "/etc/ld.so.conf", &search);
	elf_info_done(&e);
	_cleanup_free_ char *missing = NULL, *needed_by = NULL;
	r = elf_collect_deps(self, &search, &c->files, NULL, &missing, &needed_by);
	strv_free(&search);
	if (r < 0)
		return log_fail(r, "finding loopboot's libraries", missing ? missing : self,
		                needed_by ? "not found" : NULL,
		                "the initramfs is incomplete: rebuild it");
	for (size_t i = 0; i < c->files.n; i++) {
		if (streq_ptr(c->files.v[i], c->interp))
			continue;
		_cleanup_free_ char *dir = xstrdup(c->files.v[i]);
		*strrchr(dir, '/') = '\0';
		if (!strv_contains(&c->dirs, dir))
			strv_push(&c->dirs, xstrdup(dir));
	}
	return 0;
}

/* A file of the closure at the same path under root: its contents, its mode. */
static int copy_into(const char *root, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	_cleanup_free_ char *dst = path_join(root, path);
	return copy_file(path, dst, st.st_mode & 07777);
}

/*
 * SHUTDOWN_EXEC: for inits without systemd's /run/initramfs support, their last step
 * execs it as PID 1. It runs in the booted root, which may lack our libraries (a busybox
 * root has no glibc): so it starts loopboot with the shutdown root's own dynamic loader
 * and libraries, and loopboot then pivots into the shutdown root.
 */
static int write_exec_script(const char *root, const struct closure *c)
{
	struct strbuf dirs = {0};
	for (size_t i = 0; i < c->dirs.n; i++)
		strbuf_printf(&dirs, "%s%s%s", i ? ":" : "", root, c->dirs.v[i]);
	_cleanup_free_ char *path = strbuf_steal(&dirs);
	_cleanup_free_ char *loader =
	    c->interp
	        ? xasprintf("'%s%s' --library-path '%s' --argv0 loopboot ", root, c->interp, path)
	        : xstrdup("");
	_cleanup_free_ char *script_path = path_join(root, "loopboot-shutdown");
	_cleanup_free_ char *script =
	    xasprintf("#!/bin/sh\n"
	              "# Written by loopboot at boot. An init system without systemd ends with\n"
	              "#   exec %s poweroff|reboot|halt|kexec\n"
	              "# as PID 1: loopboot then takes the root image and the host down cleanly.\n"
	              "exec %s'%s%s' shutdown \"$@\"\n",
	              script_path, loader, root, c->self);
	int r = write_file_atomic(script_path, script, strlen(script), 0755);
	if (r < 0)
		return log_fail(r, "writing", script_path, NULL, "/run must be writable");
	return 0;
}

/* What initramfs-tools keeps in /run/initramfs (fsck.log, initramfs.debug), into a new
 * tmpfs: the files of the top level, which is all it writes there. */
static int keep_entries(const char *from, const char *to)
{
	_cleanup_(closedirp) DIR *d = opendir(from);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG)
			continue;
		_cleanup_free_ char *src = path_join(from, de->d_name);
		_cleanup_free_ char *dst = path_join(to, de->d_name);
		int r = copy_file(src, dst, 0644);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * systemd-shutdown executes root/shutdown: on a /run mounted noexec (initramfs-tools does)
 * it cannot ("Permission denied"). Then the shutdown root gets a small tmpfs of its own,
 * which allows it, holding what was there. Returns 1 when it mounted one, 0, or -errno.
 */
static int exec_capable(const char *root)
{
	struct statvfs sv;
	if (statvfs(root, &sv) < 0)
		return -errno;
	if (!(sv.f_flag & ST_NOEXEC))
		return 0;
	_cleanup_free_ char *tmp = xasprintf("%s.loopboot-new", root);
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	int r = mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m") < 0
	            ? -errno
	            : keep_entries(root, tmp);
	if (r >= 0 && mount(tmp, root, NULL, MS_MOVE, NULL) < 0)
		r = -errno;
	if (r < 0)
		(void)umount2(tmp, MNT_DETACH);
	rmdir(tmp);
	return r < 0 ? r : 1;
}

static int fill_root(const char *root, const struct closure *c)
{
	int r = copy_into(root, c->self);
	if (r >= 0 && c->interp)
		r = copy_into(root, c->interp);
	for (size_t i = 0; r >= 0 && i < c->files.n; i++)
		if (!streq_ptr(c->files.v[i], c->interp))
			r = copy_into(root, c->files.v[i]);
	if (r < 0)
		return log_fail(r, "preparing the shutdown root: copying loopboot", root, NULL,
		                "is /run full? shutdown will not unmount the host cleanly");
	static const char *const dirs[] = {"dev", "proc", "sys", "run", "oldroot", "tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *d = path_join(root, dirs[i]);
		(void)mkdir(d, 0755);
	}
	/* systemd-shutdown runs root/shutdown: that is us. Relative, so that it resolves in
	 * the shutdown root both before and after the pivot into it. */
	_cleanup_free_ char *link = path_join(root, "shutdown");
	if (symlink(c->self + 1, link) < 0 && errno != EEXIST)
		return log_fail(errno, "preparing the shutdown root", link, NULL,
		                "/run must be writable");
	return write_exec_script(root, c);
}

/* The names at the top of dir, to tell later what was added. */
static void top_names(const char *dir, struct strv *ret)
{
	_cleanup_(closedirp) DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(ret, xstrdup(de->d_name));
}

/* A failed attempt leaves nothing of its own in /run, which is small. */
static void remove_added(const char *dir, const struct strv *before)
{
	struct strv now = {0};
	top_names(dir, &now);
	for (size_t i = 0; i < now.n; i++)
		if (!strv_contains(before, now.v[i])) {
			_cleanup_free_ char *p = path_join(dir, now.v[i]);
			(void)rm_rf(p);
		}
	strv_free(&now);
}

int shutdown_prepare(const char *root)
{
	_cleanup_free_ char *link = path_join(root, "shutdown");
	struct stat st;
	if (lstat(link, &st) == 0) {
		log_debug("%s exists: leaving the shutdown root to its owner", link);
		return 0;
	}
	int r = mkdir_p(root, 0755);
	if (r < 0)
		return log_fail(r, "preparing the shutdown root", root, NULL,
		                "/run must be writable");
	struct closure c;
	r = closure_read(&c);
	if (r < 0) {
		closure_done(&c);
		return r;
	}
	int own = exec_capable(root);
	if (own < 0)
		log_warn("%s does not allow executing programs and no tmpfs could be mounted "
		         "there (%s): systemd-shutdown will not run loopboot",
		         root, strerror(-own));
	struct strv before = {0};
	top_names(root, &before);
	r = fill_root(root, &c);
	closure_done(&c);
	if (r < 0 && own > 0)
		(void)umount2(root, MNT_DETACH); /* what was there is underneath, as it was */
	else if (r < 0)
		remove_added(root, &before);
	strv_free(&before);
	if (r >= 0)
		log_debug("shutdown root prepared in %s%s", root,
		          own > 0 ? " (a tmpfs of its own: /run is noexec)" : "");
	return r;
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

bool shutdown_kexec_restricted(const char *lockdown, const unsigned char *secureboot, size_t n)
{
	if (lockdown) {
		const char *open = strchr(lockdown, '[');
		if (open && strncmp(open, "[none]", 6) != 0)
			return true;
	}
	return secureboot && n >= 5 && secureboot[4] == 1;
}

#define LOCKDOWN_FILE  "/sys/kernel/security/lockdown"
#define SECUREBOOT_VAR "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0b8cb2f7"
#define KEXEC_LOADED   "/sys/kernel/kexec_loaded"

static bool kexec_restricted(void)
{
	_cleanup_free_ char *lockdown = NULL, *var = NULL;
	size_t n = 0, m = 0;
	if (read_file(LOCKDOWN_FILE, &lockdown, &n) < 0)
		lockdown = NULL;
	if (read_file(SECUREBOOT_VAR, &var, &m) < 0) {
		var = NULL;
		m = 0;
	}
	return shutdown_kexec_restricted(lockdown, (const unsigned char *)var, m);
}

static bool kexec_loaded(void)
{
	_cleanup_free_ char *text = NULL;
	size_t n;
	/* Without the file (no sysfs in the shutdown root), reboot(RB_KEXEC) tells. */
	return read_file(KEXEC_LOADED, &text, &n) < 0 || text[0] == '1';
}

static _Noreturn void finish(const char *verb)
{
	sync();
	int cmd = verb_to_cmd(verb);
	log_info("shutdown: %s", verb);
	if (cmd == RB_KEXEC) {
		if (!kexec_loaded() && kexec_restricted()) {
			log_warn(
			    "shutdown: kexec: Secure Boot/lockdown is on and no kernel is loaded: "
			    "only a signed kernel loaded with kexec -s can be kexec'ed: rebooting");
		} else {
			reboot(RB_KEXEC); /* returns when no kernel is loaded */
			log_warn("no kexec kernel loaded: rebooting");
		}
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
	/* The network (an NBD device, the interface) is at the bottom: it goes last, once
	 * the host on it is unmounted. */
	size_t net = 0;
	while (net < s.n && (s.v[net].kind == LAYER_NET || s.v[net].kind == LAYER_NBD))
		net++;
	const struct stack above = {.v = s.v + net, .n = s.n - net};
	r = teardown_stack(&above, SHUTDOWN_OLDROOT);
	if (r < 0)
		log_fail(r, "taking the stack down before", verb, NULL,
		         "see the warnings above; the images are read-only but the host %s may "
		         "need checking",
		         host);
	else
		log_info("images unmounted, loop devices detached, host %s unmounted", host);
	for (size_t i = net; i-- > 0;) {
		const struct layer *l = &s.v[i];
		if (layer_undo(l, NULL) < 0)
			continue; /* warned */
		if (l->kind == LAYER_NBD)
			log_info("NBD device %s disconnected from %s:%lu", strempty(l->nbd.device),
			         strempty(l->nbd.server), l->nbd.port);
		else if (!l->net.external)
			log_info("network interface %s taken down", strempty(l->net.interface));
	}
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
