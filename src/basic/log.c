/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "basic/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/util.h"

static bool debug_on;
static unsigned fail_count;

void log_set_debug(bool on)
{
	debug_on = on;
}

void log_open_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

bool log_debug_enabled(void)
{
	return debug_on;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	/* One fprintf per line so that lines from a FUSE daemon do not interleave mid-line. */
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "loopboot: %s%s\n", prefix, buf);
	fflush(stderr);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (!debug_on)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

int log_fail(int err, const char *what, const char *value, const char *reason, const char *todo_fmt,
             ...)
{
	err = abs(err);
	if (err == 0)
		err = EINVAL;
	char todo[512];
	va_list ap;
	va_start(ap, todo_fmt);
	vsnprintf(todo, sizeof(todo), todo_fmt, ap);
	va_end(ap);
	fprintf(stderr, "loopboot: %s: %s: %s — %s\n", what, value ? value : "(none)",
	        reason ? reason : strerror(err), todo);
	fflush(stderr);
	fail_count++;
	return -err;
}

void log_file_tail(const char *prog, int fd, unsigned lines)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	char *text = NULL;
	if (read_file(path, &text, NULL) < 0)
		return;
	strip_trailing(text);
	char *start = text + strlen(text);
	for (unsigned n = 0; start > text && n < lines;)
		if (*--start == '\n')
			n++;
	if (*start == '\n')
		start++;
	for (char *save = NULL, *l = strtok_r(start, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "  %s: %s\n", prog, l);
	free(text);
}

unsigned log_fail_count(void)
{
	return fail_count;
}
