/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running other programs: the one place loopboot starts a process. The child gets its
 * standard streams as asked, optionally a new session, every signal at its default and
 * none blocked; a failure to start it (exec, opening a stream) comes back to the parent as
 * the child's errno rather than as an exit status 127. How it ended (exit status, signal,
 * timeout) is put into words once, by process_result_message(), for the caller's one
 * loopboot: line.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* ---- finding programs ------------------------------------------------------------------ */

enum program_search {
	/* $PATH's absolute entries (when PATH is set), then the standard directories. */
	PROGRAM_SEARCH_PATH,
	/* The standard directories only: where the engine finds programs in an initramfs,
	 * which has no $PATH. `loopboot initrd` takes the engine's programs from there, so
	 * that they land in the archive where the engine looks. */
	PROGRAM_SEARCH_STANDARD,
};

/*
 * The absolute path of the first regular, executable file called name, or NULL. The
 * standard directories are /usr/sbin, /sbin, /usr/bin, /bin, /usr/local/sbin and
 * /usr/local/bin: sbin first, since a user's $PATH may lack it.
 */
char *find_program(const char *name, enum program_search where);

/* ---- running them ---------------------------------------------------------------------- */

enum process_stdio_kind {
	PROCESS_STDIO_INHERIT = 0, /* ours */
	PROCESS_STDIO_NULL,        /* /dev/null */
	PROCESS_STDIO_FD,          /* .fd (it may be one of 0, 1, 2: "stdout to our stderr") */
	PROCESS_STDIO_PATH,        /* .path, opened read-write by the child after setsid(), so
	                            * that a terminal becomes its controlling terminal */
};

struct process_stdio {
	enum process_stdio_kind kind;
	int fd;
	const char *path;
};

/* Initializers for one entry of the map. */
#define STDIO_NULL                                                                                 \
	{                                                                                          \
		.kind = PROCESS_STDIO_NULL                                                         \
	}
#define STDIO_FD(f)                                                                                \
	{                                                                                          \
		.kind = PROCESS_STDIO_FD, .fd = (f)                                                \
	}
#define STDIO_PATH(p)                                                                              \
	{                                                                                          \
		.kind = PROCESS_STDIO_PATH, .fd = -1, .path = (p)                                  \
	}

struct process_options {
	struct process_stdio stdio[3]; /* for descriptors 0, 1 and 2 */
	bool new_session;              /* setsid() */
	unsigned timeout_ms;           /* process_run() only; 0: none */
};

enum process_end {
	PROCESS_EXITED,      /* status: its exit status */
	PROCESS_KILLED,      /* status: the signal that ended it */
	PROCESS_TIMED_OUT,   /* we ended it after timeout_ms (SIGTERM, then SIGKILL) */
	PROCESS_NOT_STARTED, /* status: the errno; step: what failed */
	PROCESS_LOST,        /* status: the errno of waiting for it */
};

struct process_result {
	enum process_end end;
	int status;
	unsigned timeout_ms;
	const char *step; /* PROCESS_NOT_STARTED: "fork", "exec", "setsid" or a stream's path */
};

/* An argument vector built a few words at a time, for the functions below (.v). The
 * words are borrowed, not copied: they must outlive the run. */
#define ARGS_MAX 47
struct args {
	char *v[ARGS_MAX + 1]; /* NULL after the last word */
	size_t n;
};

/* Appends the words before the NULL that ends them. More than ARGS_MAX in all is a bug:
 * the program stops (as on allocation failure). */
void args_add(struct args *a, ...) __attribute__((sentinel));

/*
 * Starts the program path (NULL: argv[0]) with argv, which is what the program sees: its
 * argv[0] may differ from path (the FUSE daemons run as "@ntfs-3g", which systemd's final
 * kill spares). o NULL: everything inherited. Returns 0 with *ret_pid set; or -errno with
 * ret (optional) saying what failed, after which there is no child. Until process_wait()
 * reaps it, the child is process_running()'s.
 */
int process_spawn(const char *path, char *const argv[], const struct process_options *o,
                  pid_t *ret_pid, struct process_result *ret);

/*
 * Waits for the child (retrying on EINTR), ending it when it is still running after
 * timeout_ms (0: waits for ever): SIGTERM, then SIGKILL after a short grace. Fills *ret
 * (optional) and returns 0 when it exited with status 0, -EPROTO when with another,
 * -ECANCELED when a signal ended it, -ETIMEDOUT when it timed out, or waitid's -errno.
 */
int process_wait(pid_t pid, unsigned timeout_ms, struct process_result *ret);

/* process_spawn() and process_wait(pid, o->timeout_ms): the returns of both. */
int process_run(const char *path, char *const argv[], const struct process_options *o,
                struct process_result *ret);

/* process_run() with the program's standard output read into *ret_out (allocated, NUL
 * terminated, also after a failure: what it said); o's stdout entry is replaced. */
int process_run_capture(const char *path, char *const argv[], const struct process_options *o,
                        char **ret_out, struct process_result *ret);

/*
 * How it ended, for a loopboot: line: "exited with status 4", "killed by signal 9
 * (Killed)", "timed out after 10 s", "could not be executed: No such file or directory".
 * Allocated.
 */
char *process_result_message(const struct process_result *r);

/*
 * The child started and not yet reaped (the latest, when there are several), or 0. Safe
 * in a signal handler, which may pass a signal on to it: until it is reaped the pid cannot
 * name another process.
 */
pid_t process_running(void);
