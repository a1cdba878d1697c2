/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Console messages. Every failure is one line:
 *   loopboot: <what failed>: <value>: <reason> — <what to do>
 * so that a person looking at a stuck boot screen knows what to change.
 */
#pragma once

#include <stdbool.h>

void log_set_debug(bool on);
/* Points stdin, stdout and stderr at /dev/console (PID 1: the initramfs's node may be
 * gone, or none was there); nothing changes when it cannot be opened. */
void log_open_console(void);
bool log_debug_enabled(void);

/* "loopboot: ..." on stderr (the console when running as /init). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "loopboot: warning: ..." */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "loopboot: debug: ..." only with loopboot.debug. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints the one-line failure message and returns -abs(err) (or -EINVAL when err is 0),
 * so callers can write `return log_fail(r, ...)`. reason NULL means strerror(err).
 */
int log_fail(int err, const char *what, const char *value, const char *reason, const char *todo_fmt,
             ...) __attribute__((format(printf, 5, 6)));

/* The last lines of a program's log (the open file fd) on stderr, each as "  PROG: line":
 * where the program says what went wrong. */
void log_file_tail(const char *prog, int fd, unsigned lines);

/* Number of failures printed so far (the engine uses it to avoid a second generic line). */
unsigned log_fail_count(void);
