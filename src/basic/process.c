/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "basic/process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/strbuf.h"
#include "basic/util.h"

#define KILL_GRACE_MS 2000 /* after SIGTERM, before SIGKILL */
#define POLL_STEP_MS  10   /* waiting with a deadline where there is no pidfd */

/* ---- finding programs ------------------------------------------------------------------ */

static const char *const standard_dirs[] = {
    "/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin",
};

static char *executable_in(const char *dir, const char *name)
{
	char *path = path_join(dir, name);
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
		return path;
	free(path);
	return NULL;
}

char *find_program(const char *name, enum program_search where)
{
	if (!*name || strchr(name, '/'))
		return NULL;
	const char *env = where == PROGRAM_SEARCH_PATH ? getenv("PATH") : NULL;
	if (env) {
		_cleanup_free_ char *dirs = xstrdup(env);
		for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir;
		     dir = strtok_r(NULL, ":", &save)) {
			if (dir[0] != '/')
				continue; /* a relative entry would depend on the current directory
				           */
			char *path = executable_in(dir, name);
			if (path)
				return path;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(standard_dirs); i++) {
		char *path = executable_in(standard_dirs[i], name);
		if (path)
			return path;
	}
	return NULL;
}

/* ---- time, locally (the helpers of other parts are not for basic/) --------------------- */

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- the child ------------------------------------------------------------------------- */

/* What the child writes to the parent when it cannot become the program. */
struct child_failure {
	int step; /* 0..2: opening that stream; or one of the below */
	int error;
};
enum {
	STEP_STREAMS = 3, /* dup2()/fcntl() */
	STEP_SETSID,
	STEP_EXEC,
};

static volatile sig_atomic_t running_pid;

pid_t process_running(void)
{
	return (pid_t)running_pid;
}

static _Noreturn void child_fail(int report_fd, int step)
{
	struct child_failure f = {.step = step, .error = errno};
	/* A parent that cannot hear it sees status 127. */
	ssize_t n = write(report_fd, &f, sizeof(f));
	(void)n;
	_exit(127);
}

/* A descriptor at 3 or above (close-on-exec), so that placing 0, 1, 2 overwrites nothing
 * still needed; the original is closed when it was ours. */
static int above_stdio(int fd, bool ours)
{
	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (ours)
		close(fd);
	return moved;
}

/* Only async-signal-safe calls from here on: the child of a fork. */
static _Noreturn void child_exec(const char *path, char *const argv[],
                                 const struct process_options *o, int report_fd)
{
	/* The program starts with every signal at its default and none blocked: a SIGPIPE we
	 * ignore must not be ignored there, and the parent blocked all of them for the fork. */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* First the session: a terminal opened after it becomes the controlling one. */
	if (o->new_session && setsid() < 0)
		child_fail(report_fd, STEP_SETSID);

	int src[3];
	for (int i = 0; i < 3; i++) {
		const struct process_stdio *s = &o->stdio[i];
		switch (s->kind) {
		case PROCESS_STDIO_INHERIT:
			src[i] = i;
			continue;
		case PROCESS_STDIO_NULL:
		case PROCESS_STDIO_PATH: {
			const char *p = s->kind == PROCESS_STDIO_NULL ? "/dev/null" : s->path;
			src[i] = above_stdio(open(p, O_RDWR | O_CLOEXEC), true);
			if (src[i] < 0)
				child_fail(report_fd, i);
			continue;
		}
		case PROCESS_STDIO_FD:
			src[i] = s->fd == i ? i : above_stdio(s->fd, false);
			if (src[i] < 0)
				child_fail(report_fd, STEP_STREAMS);
			continue;
		}
	}
	for (int i = 0; i < 3; i++) {
		if (o->stdio[i].kind == PROCESS_STDIO_INHERIT)
			continue;
		/* dup2() onto itself would keep a close-on-exec flag. */
		int r = src[i] == i ? fcntl(i, F_SETFD, 0) : dup2(src[i], i);
		if (r < 0)
			child_fail(report_fd, STEP_STREAMS);
	}
	execv(path, argv);
	child_fail(report_fd, STEP_EXEC);
}

/* ---- the parent ------------------------------------------------------------------------ */

static int not_started(struct process_result *ret, const char *step, int error)
{
	*ret = (struct process_result){.end = PROCESS_NOT_STARTED, .status = error, .step = step};
	return -error;
}

static const char *step_name(const struct process_options *o, int step)
{
	switch (step) {
	case STEP_STREAMS:
		return "its standard streams";
	case STEP_SETSID:
		return "setsid";
	case STEP_EXEC:
		return "exec";
	}
	if (step >= 0 && step < 3)
		return o->stdio[step].kind == PROCESS_STDIO_PATH ? o->stdio[step].path
		                                                 : "/dev/null";
	return "?";
}

int process_spawn(const char *path, char *const argv[], const struct process_options *o,
                  pid_t *ret_pid, struct process_result *ret)
{
	static const struct process_options inherit_all = {0};
	struct process_result unused;
	o = o ? o : &inherit_all;
	path = path ? path : argv[0];
	ret = ret ? ret : &unused;
	*ret = (struct process_result){.end = PROCESS_NOT_STARTED};

	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0)
		return not_started(ret, "pipe", errno);
	/* What we printed comes before what it prints. */
	fflush(stdout);
	fflush(stderr);
	/* No handler of ours may run in the child before it has reset them all, and a
	 * handler in the parent sees the child as process_running() from the start. */
	sigset_t all, saved;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &saved);
	pid_t pid = fork();
	if (pid == 0) {
		close(report[0]);
		child_exec(path, argv, o, report[1]);
	}
	int fork_error = errno;
	if (pid > 0)
		running_pid = pid;
	sigprocmask(SIG_SETMASK, &saved, NULL);
	close(report[1]);
	if (pid < 0) {
		close(report[0]);
		return not_started(ret, "fork", fork_error);
	}

	/* The pipe closes at the exec; before that the child may report why it failed. */
	struct child_failure f;
	ssize_t n;
	do
		n = read(report[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(f)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (running_pid == pid)
			running_pid = 0;
		return not_started(ret, step_name(o, f.step), f.error);
	}
	*ret_pid = pid;
	return 0;
}

/*
 * Waits, without reaping (the pid stays ours, for a signal handler's kill()), until pid
 * has ended or until deadline (monotonic ms; < 0: none). Returns 1 when it ended, 0 at the
 * deadline, or -errno.
 */
static int wait_for_end(pid_t pid, int pidfd, long long deadline)
{
	for (;;) {
		siginfo_t si = {0};
		int flags = WEXITED | WNOWAIT | (deadline >= 0 ? WNOHANG : 0);
		if (waitid(P_PID, (id_t)pid, &si, flags) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (si.si_pid == pid)
			return 1;
		long long left = deadline - monotonic_ms();
		if (left <= 0)
			return 0;
		if (pidfd >= 0) {
			/* Readable once it has ended; EINTR and the deadline: around again. */
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			(void)poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		} else {
			pause_ms(left < POLL_STEP_MS ? left : POLL_STEP_MS);
		}
	}
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0); /* -1 before Linux 5.3: we poll then */
#else
	(void)pid;
	return -1;
#endif
}

/* Waits for the end, with SIGTERM at the timeout and SIGKILL after the grace. */
static int wait_or_end_it(pid_t pid, unsigned timeout_ms, bool *ret_timed_out)
{
	*ret_timed_out = false;
	if (timeout_ms == 0)
		return wait_for_end(pid, -1, -1);
	_cleanup_close_ int pidfd = open_pidfd(pid);
	int r = wait_for_end(pid, pidfd, monotonic_ms() + timeout_ms);
	if (r != 0)
		return r;
	*ret_timed_out = true;
	(void)kill(pid, SIGTERM);
	r = wait_for_end(pid, pidfd, monotonic_ms() + KILL_GRACE_MS);
	if (r != 0)
		return r;
	(void)kill(pid, SIGKILL);
	return wait_for_end(pid, pidfd, -1);
}

int process_wait(pid_t pid, unsigned timeout_ms, struct process_result *ret)
{
	struct process_result unused;
	ret = ret ? ret : &unused;
	*ret = (struct process_result){.timeout_ms = timeout_ms};
	bool timed_out;
	int r = wait_or_end_it(pid, timeout_ms, &timed_out);
	if (running_pid == pid)
		running_pid = 0; /* from here on the pid may name another process */
	siginfo_t si = {0};
	while (r >= 0 && waitid(P_PID, (id_t)pid, &si, WEXITED) < 0)
		if (errno != EINTR)
			r = -errno;
	if (r < 0) {
		ret->end = PROCESS_LOST;
		ret->status = -r;
		return r;
	}
	ret->status = si.si_status;
	ret->end = si.si_code == CLD_EXITED ? PROCESS_EXITED : PROCESS_KILLED;
	if (timed_out) {
		ret->end = PROCESS_TIMED_OUT;
		return -ETIMEDOUT;
	}
	if (ret->end == PROCESS_KILLED)
		return -ECANCELED;
	return ret->status == 0 ? 0 : -EPROTO;
}

int process_run(const char *path, char *const argv[], const struct process_options *o,
                struct process_result *ret)
{
	pid_t pid;
	int r = process_spawn(path, argv, o, &pid, ret);
	if (r < 0)
		return r;
	return process_wait(pid, o ? o->timeout_ms : 0, ret);
}

int process_run_capture(const char *path, char *const argv[], const struct process_options *o,
                        char **ret_out, struct process_result *ret)
{
	*ret_out = NULL;
	int fd = memfd_create("loopboot-capture", MFD_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		if (ret)
			*ret = (struct process_result){
			    .end = PROCESS_NOT_STARTED, .status = -r, .step = "memfd_create"};
		return r;
	}
	struct process_options po = o ? *o : (struct process_options){0};
	po.stdio[1] = (struct process_stdio)STDIO_FD(fd);
	int r = process_run(path, argv, &po, ret);
	struct strbuf b = {0};
	char buf[4096];
	ssize_t n;
	off_t off = 0;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		strbuf_put(&b, buf, (size_t)n);
		off += n;
	}
	close(fd);
	*ret_out = strbuf_steal(&b);
	return r;
}

char *process_result_message(const struct process_result *r)
{
	switch (r->end) {
	case PROCESS_EXITED:
		return xasprintf("exited with status %d", r->status);
	case PROCESS_KILLED:
		return xasprintf("killed by signal %d (%s)", r->status, strsignal(r->status));
	case PROCESS_TIMED_OUT:
		if (r->timeout_ms % 1000 == 0)
			return xasprintf("timed out after %u s", r->timeout_ms / 1000);
		return xasprintf("timed out after %u ms", r->timeout_ms);
	case PROCESS_NOT_STARTED:
		if (streq_ptr(r->step, "exec"))
			return xasprintf("could not be executed: %s", strerror(r->status));
		return xasprintf("could not be started: %s: %s", strempty(r->step),
		                 strerror(r->status));
	case PROCESS_LOST:
		return xasprintf("could not be waited for: %s", strerror(r->status));
	}
	return xstrdup("ended in an unknown way");
}

void args_add(struct args *a, ...)
{
	va_list ap;
	va_start(ap, a);
	for (const char *w; (w = va_arg(ap, const char *));) {
		if (a->n >= ARGS_MAX) {
			fprintf(stderr,
			        "loopboot: a program's arguments: more than %d — this is a bug\n",
			        ARGS_MAX);
			abort();
		}
		a->v[a->n++] = (char *)w;
	}
	a->v[a->n] = NULL;
	va_end(ap);
}
