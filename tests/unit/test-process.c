/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The process runner and the program lookup (src/basic/process.c), with real programs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "basic/process.h"
#include "basic/util.h"
#include "test-main.h"

#define SH "/bin/sh"

static long long elapsed_ms(const struct timespec *from)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - from->tv_sec) * 1000 +
	       (now.tv_nsec - from->tv_nsec) / 1000000;
}

/* An unlinked temporary file: the child writes to it, we read it back from the start.
 * Our descriptors are close-on-exec, as loopboot's are: a child holds only what it is given. */
static int temp_fd(void)
{
	char name[] = "/tmp/test-process.XXXXXX";
	int fd = mkostemp(name, O_CLOEXEC);
	if (fd >= 0)
		unlink(name);
	return fd;
}

static char *contents(int fd)
{
	static char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int run_sh(const char *script, const struct process_options *o, struct process_result *res)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	return process_run(SH, argv, o, res);
}

static void check_message(const struct process_result *res, const char *want)
{
	char *msg = process_result_message(res);
	CHECK_STREQ(msg, want);
	free(msg);
}

TEST(exit_zero)
{
	struct process_result res;
	CHECK(run_sh("exit 0", NULL, &res) == 0);
	CHECK(res.end == PROCESS_EXITED && res.status == 0);
	check_message(&res, "exited with status 0");
	CHECK(process_running() == 0);
}

TEST(exit_status)
{
	struct process_result res;
	CHECK(run_sh("exit 4", NULL, &res) == -EPROTO);
	CHECK(res.end == PROCESS_EXITED && res.status == 4);
	check_message(&res, "exited with status 4");
	/* The status a missing library gives: only the program's own, never exec's. */
	CHECK(run_sh("exit 127", NULL, &res) == -EPROTO);
	CHECK(res.end == PROCESS_EXITED && res.status == 127);
}

TEST(killed_by_signal)
{
	struct process_result res;
	CHECK(run_sh("kill -9 $$", NULL, &res) == -ECANCELED);
	CHECK(res.end == PROCESS_KILLED && res.status == SIGKILL);
	check_message(&res, "killed by signal 9 (Killed)");
}

/* run_sh() with a timeout (0: none); returns the milliseconds it took. */
static long long run_sh_timed(const char *script, unsigned timeout_ms, struct process_result *res,
                              int *ret)
{
	const struct process_options o = {.timeout_ms = timeout_ms};
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	*ret = run_sh(script, &o, res);
	return elapsed_ms(&start);
}

/* script, bounded by timeout_ms, times out and ends by sig after [min_ms, max_ms). */
static void check_times_out(const char *script, unsigned timeout_ms, int sig, long long min_ms,
                            long long max_ms, struct process_result *res)
{
	int r;
	long long took = run_sh_timed(script, timeout_ms, res, &r);
	CHECK(r == -ETIMEDOUT);
	CHECK(took >= min_ms && took < max_ms);
	CHECK(res->end == PROCESS_TIMED_OUT && res->status == sig);
	CHECK(process_running() == 0);
}

TEST(timeout)
{
	struct process_result res;
	check_times_out("exec sleep 10", 200, SIGTERM, 200, 2000, &res);
	check_message(&res, "timed out after 200 ms");

	/* Done in time: the timeout does not show. */
	int r;
	run_sh_timed("exit 3", 5000, &res, &r);
	CHECK(r == -EPROTO);
	CHECK(res.end == PROCESS_EXITED && res.status == 3);
}

TEST(timeout_sigkill_after_grace)
{
	/* SIGTERM ignored (an ignored signal stays ignored across exec): SIGKILL ends it. */
	struct process_result res;
	check_times_out("trap '' TERM; exec sleep 30", 100, SIGKILL, 1000, 10000, &res);
}

TEST(result_messages)
{
	struct process_result r = {.end = PROCESS_TIMED_OUT, .timeout_ms = 10000};
	check_message(&r, "timed out after 10 s");
	r = (struct process_result){.end = PROCESS_KILLED, .status = SIGTERM};
	check_message(&r, "killed by signal 15 (Terminated)");
	r = (struct process_result){.end = PROCESS_NOT_STARTED, .status = ENOMEM, .step = "fork"};
	check_message(&r, "could not be started: fork: Cannot allocate memory");
	r = (struct process_result){.end = PROCESS_LOST, .status = ECHILD};
	check_message(&r, "could not be waited for: No child processes");
}

TEST(stdout_to_fd)
{
	int fd = temp_fd();
	CHECK(fd >= 0);
	struct process_options o = {
	    .stdio = {{.kind = PROCESS_STDIO_INHERIT}, STDIO_FD(fd), STDIO_NULL},
	};
	struct process_result res;
	CHECK(run_sh("echo hello; echo to-stderr >&2", &o, &res) == 0);
	CHECK_STREQ(contents(fd), "hello\n");
	/* Both streams to it (a log). */
	o.stdio[STDERR_FILENO] = (struct process_stdio){.kind = PROCESS_STDIO_FD, .fd = fd};
	CHECK(run_sh("echo out; echo err >&2", &o, &res) == 0);
	CHECK_STREQ(contents(fd), "hello\nout\nerr\n");
	close(fd);
}

TEST(stdio_swapped)
{
	/* Its stdout to our stderr and its stderr to our stdout: neither overwrites the
	 * other before it is used. Ours are two files meanwhile. */
	int a = temp_fd(), b = temp_fd();
	CHECK(a >= 0 && b >= 0);
	fflush(stdout);
	int saved_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	int saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	dup2(a, STDOUT_FILENO);
	dup2(b, STDERR_FILENO);
	/* Given in place, a close-on-exec descriptor still reaches the program. */
	fcntl(STDOUT_FILENO, F_SETFD, FD_CLOEXEC);
	struct process_options o = {
	    .stdio = {{.kind = PROCESS_STDIO_INHERIT},
	              STDIO_FD(STDERR_FILENO),
	              STDIO_FD(STDOUT_FILENO)},
	};
	struct process_result res;
	int r = run_sh("echo out; echo err >&2", &o, &res);
	/* And a descriptor that is already in place. */
	struct process_options same = {.stdio[STDOUT_FILENO] = STDIO_FD(STDOUT_FILENO)};
	int r2 = run_sh("echo same", &same, &res);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	CHECK(r == 0 && r2 == 0);
	CHECK_STREQ(contents(a), "err\nsame\n");
	CHECK_STREQ(contents(b), "out\n");
	close(a);
	close(b);
}

TEST(stdin_from_dev_null)
{
	/* Our stdin a pipe meanwhile, so that inheriting it would show. */
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	int saved_in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	dup2(p[0], STDIN_FILENO);
	int fd = temp_fd();
	/* cat reads to the end of /dev/null; the bound makes an inherited pipe a failure. */
	struct process_options o = {
	    .stdio = {STDIO_NULL, STDIO_FD(fd)},
	    .timeout_ms = 5000,
	};
	struct process_result res;
	int r = run_sh("readlink /proc/self/fd/0; cat", &o, &res);
	o.stdio[STDIN_FILENO].kind = PROCESS_STDIO_INHERIT;
	int fd2 = temp_fd();
	o.stdio[STDOUT_FILENO].fd = fd2;
	close(p[1]); /* cat reads to the end */
	int r2 = run_sh("readlink /proc/self/fd/0", &o, &res);
	dup2(saved_in, STDIN_FILENO);
	close(saved_in);
	close(p[0]);
	CHECK(r == 0 && r2 == 0);
	CHECK_STREQ(contents(fd), "/dev/null\n");
	CHECK(strncmp(contents(fd2), "pipe:", 5) == 0);
	close(fd);
	close(fd2);
}

TEST(stdio_path_opened_in_child)
{
	int fd = temp_fd();
	struct process_options o = {
	    .stdio = {STDIO_PATH("/dev/zero"), STDIO_FD(fd)},
	};
	struct process_result res;
	CHECK(run_sh("head -c 3 | od -An -tx1", &o, &res) == 0);
	CHECK_STREQ(contents(fd), " 00 00 00\n");
	close(fd);

	o.stdio[STDIN_FILENO].path = "/nonexistent/tty";
	CHECK(run_sh("exit 0", &o, &res) == -ENOENT);
	CHECK(res.end == PROCESS_NOT_STARTED);
	check_message(&res, "could not be started: /nonexistent/tty: No such file or directory");
}

TEST(argv0_differs_from_path)
{
	_cleanup_free_ char *sleep = find_program("sleep", PROGRAM_SEARCH_STANDARD);
	CHECK(sleep != NULL);
	if (!sleep)
		return;
	char *argv[] = {"@sleeper", "30", NULL};
	pid_t pid = 0;
	struct process_result res;
	CHECK(process_spawn(sleep, argv, NULL, &pid, &res) == 0);
	CHECK(process_running() == pid);
	_cleanup_free_ char *path = xasprintf("/proc/%d/cmdline", (int)pid);
	_cleanup_free_ char *cmdline = NULL;
	size_t len = 0;
	CHECK(read_file(path, &cmdline, &len) == 0);
	CHECK(len == sizeof("@sleeper\0"
	                    "30"));
	CHECK(cmdline && memcmp(cmdline,
	                        "@sleeper\0"
	                        "30",
	                        len) == 0);
	kill(pid, SIGTERM);
	CHECK(process_wait(pid, 0, &res) == -ECANCELED);
	CHECK(res.end == PROCESS_KILLED && res.status == SIGTERM);
	CHECK(process_running() == 0);
}

TEST(exec_failures)
{
	char *argv[] = {"missing", NULL};
	struct process_result res;
	CHECK(process_run("/nonexistent/program", argv, NULL, &res) == -ENOENT);
	CHECK(res.end == PROCESS_NOT_STARTED && res.status == ENOENT);
	CHECK_STREQ(res.step, "exec");
	check_message(&res, "could not be executed: No such file or directory");
	CHECK(process_running() == 0);

	/* A file without execute permission: EACCES, not an exit status. */
	char name[] = "/tmp/test-process-noexec.XXXXXX";
	int fd = mkostemp(name, O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write(fd, "#!/bin/sh\nexit 0\n", 17) == 17);
	close(fd);
	chmod(name, 0644);
	int r = process_run(name, argv, NULL, &res);
	/* root may execute it only with an execute bit somewhere: there is none. */
	CHECK(r == -EACCES);
	check_message(&res, "could not be executed: Permission denied");
	unlink(name);
}

TEST(new_session)
{
	_cleanup_free_ char *sleep = find_program("sleep", PROGRAM_SEARCH_STANDARD);
	CHECK(sleep != NULL);
	if (!sleep)
		return;
	char *argv[] = {sleep, "30", NULL};
	struct process_options o = {.new_session = true};
	pid_t pid = 0;
	CHECK(process_spawn(NULL, argv, &o, &pid, NULL) == 0);
	CHECK(getsid(pid) == pid);
	CHECK(getsid(pid) != getsid(0));
	kill(pid, SIGKILL);
	CHECK(process_wait(pid, 0, NULL) == -ECANCELED);

	o.new_session = false;
	CHECK(process_spawn(NULL, argv, &o, &pid, NULL) == 0);
	CHECK(getsid(pid) == getsid(0));
	kill(pid, SIGKILL);
	CHECK(process_wait(pid, 0, NULL) == -ECANCELED);
}

TEST(signals_reset_in_child)
{
	/* SIGPIPE ignored here (as iso, pxe and initrd do) is at its default there. */
	signal(SIGPIPE, SIG_IGN);
	struct process_result res;
	int r = run_sh("kill -PIPE $$; exit 0", NULL, &res);
	signal(SIGPIPE, SIG_DFL);
	CHECK(r == -ECANCELED);
	CHECK(res.end == PROCESS_KILLED && res.status == SIGPIPE);
}

static void forward_to_child(int sig)
{
	(void)sig;
	pid_t child = process_running();
	if (child > 0)
		kill(child, SIGTERM);
}

TEST(signal_handler_reaches_running_child)
{
	/* A timer's signal arrives while we wait (EINTR): the handler ends the child. */
	struct sigaction sa = {.sa_handler = forward_to_child}, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	struct itimerval t = {.it_value = {.tv_usec = 100000}};
	setitimer(ITIMER_REAL, &t, NULL);
	struct process_result res;
	int r;
	long long took = run_sh_timed("exec sleep 30", 0, &res, &r);
	sigaction(SIGALRM, &old, NULL);
	CHECK(r == -ECANCELED);
	CHECK(res.end == PROCESS_KILLED && res.status == SIGTERM);
	CHECK(took < 10000);
	CHECK(process_running() == 0);
}

TEST(spawn_and_wait_through_a_pipe)
{
	/* As the compressor: we write its stdin while it runs. */
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	int out = temp_fd();
	struct process_options o = {.stdio = {STDIO_FD(p[0]), STDIO_FD(out)}};
	_cleanup_free_ char *cat = find_program("cat", PROGRAM_SEARCH_STANDARD);
	char *argv[] = {cat, NULL};
	pid_t pid = 0;
	struct process_result res;
	CHECK(process_spawn(NULL, argv, &o, &pid, &res) == 0);
	close(p[0]);
	CHECK(write(p[1], "archive bytes", 13) == 13);
	close(p[1]); /* close-on-exec: the child has no copy, so it sees the end */
	CHECK(process_wait(pid, 5000, &res) == 0);
	CHECK_STREQ(contents(out), "archive bytes");
	close(out);
}

/* A directory of our own with programs in it, for $PATH. */
static char *make_bin_dir(void)
{
	char *dir = xstrdup("/tmp/test-process-bin.XXXXXX");
	if (!mkdtemp(dir))
		return dir;
	static const struct {
		const char *name;
		mode_t mode;
	} files[] = {{"lbtest-prog", 0755}, {"lbtest-noexec", 0644}, {"sh", 0755}};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = path_join(dir, files[i].name);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, files[i].mode);
		if (fd >= 0)
			close(fd);
		chmod(p, files[i].mode);
	}
	_cleanup_free_ char *sub = path_join(dir, "lbtest-dir");
	mkdir(sub, 0755);
	return dir;
}

static bool in_standard_dir(const char *path)
{
	static const char *const dirs[] = {"/usr/sbin/", "/sbin/",           "/usr/bin/",
	                                   "/bin/",      "/usr/local/sbin/", "/usr/local/bin/"};
	for (size_t i = 0; path && i < ARRAY_SIZE(dirs); i++)
		if (startswith(path, dirs[i]) && !strchr(path + strlen(dirs[i]), '/'))
			return true;
	return false;
}

TEST(find_program_path_then_standard)
{
	_cleanup_free_ char *dir = make_bin_dir();
	const char *old = getenv("PATH");
	_cleanup_free_ char *saved = old ? xstrdup(old) : NULL;
	/* A relative entry would depend on the current directory: never taken. */
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	setenv("PATH", ".", 1);
	CHECK(chdir(dir) == 0);
	CHECK(find_program("lbtest-prog", PROGRAM_SEARCH_PATH) == NULL);
	CHECK(cwd && chdir(cwd) == 0);

	_cleanup_free_ char *path = xasprintf("relative/bin:%s:/usr/bin", dir);
	setenv("PATH", path, 1);

	_cleanup_free_ char *want = path_join(dir, "lbtest-prog");
	_cleanup_free_ char *found = find_program("lbtest-prog", PROGRAM_SEARCH_PATH);
	CHECK_STREQ(found, want);
	/* $PATH first: our sh before the system's. */
	_cleanup_free_ char *want_sh = path_join(dir, "sh");
	_cleanup_free_ char *sh = find_program("sh", PROGRAM_SEARCH_PATH);
	CHECK_STREQ(sh, want_sh);
	/* Not executable, a directory, a path, nothing: not programs. */
	CHECK(find_program("lbtest-noexec", PROGRAM_SEARCH_PATH) == NULL);
	CHECK(find_program("lbtest-dir", PROGRAM_SEARCH_PATH) == NULL);
	CHECK(find_program("bin/sh", PROGRAM_SEARCH_PATH) == NULL);
	CHECK(find_program("", PROGRAM_SEARCH_PATH) == NULL);
	/* The standard directories only: $PATH does not count. */
	CHECK(find_program("lbtest-prog", PROGRAM_SEARCH_STANDARD) == NULL);
	_cleanup_free_ char *std_sh = find_program("sh", PROGRAM_SEARCH_STANDARD);
	CHECK(in_standard_dir(std_sh));

	/* Without $PATH (the initramfs): the standard directories. */
	unsetenv("PATH");
	CHECK(find_program("lbtest-prog", PROGRAM_SEARCH_PATH) == NULL);
	_cleanup_free_ char *nopath_sh = find_program("sh", PROGRAM_SEARCH_PATH);
	CHECK(in_standard_dir(nopath_sh));

	if (saved)
		setenv("PATH", saved, 1);
	const char *names[] = {"lbtest-prog", "lbtest-noexec", "sh"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = path_join(dir, names[i]);
		unlink(p);
	}
	_cleanup_free_ char *sub = path_join(dir, "lbtest-dir");
	rmdir(sub);
	rmdir(dir);
}
