/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/allocate.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/util.h"
#include "tools/check.h"

#define ZERO_CHUNK      (8u << 20) /* bytes per write when the host cannot preallocate */
#define PROGRESS_TTY_MS 100
#define PROGRESS_LOG_MS 5000

volatile sig_atomic_t allocate_interrupted;

static const int caught[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig)
{
	allocate_interrupted = sig;
}

void allocate_catch_signals(struct allocate_signals *s)
{
	struct sigaction sa = {.sa_handler = on_signal};
	allocate_interrupted = 0;
	for (size_t i = 0; i < ARRAY_SIZE(caught); i++)
		sigaction(caught[i], &sa, &s->old[i]);
}

void allocate_restore_signals(const struct allocate_signals *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(caught); i++)
		sigaction(caught[i], &s->old[i], NULL);
}

struct progress {
	const char *cmd;
	bool tty;
	uint64_t total;
	long long start, last;
};

static void progress_show(struct progress *p, uint64_t done, bool final)
{
	long long now = now_ms();
	if (!final && now - p->last < (p->tty ? PROGRESS_TTY_MS : PROGRESS_LOG_MS))
		return;
	p->last = now;
	unsigned pct = p->total ? (unsigned)(done * 100 / p->total) : 100;
	_cleanup_free_ char *d = check_format_size(done), *t = check_format_size(p->total);
	double secs = (double)(now - p->start) / 1000.0;
	_cleanup_free_ char *rate = check_format_size(secs > 0.1 ? (uint64_t)(done / secs) : 0);
	if (p->tty) {
		char bar[31];
		unsigned fill = pct * 30 / 100;
		for (unsigned i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r  writing zeros [%s] %3u%%  %s of %s  %s/s\033[K%s", bar, pct, d,
		        t, rate, final ? "\n" : "");
		fflush(stderr);
	} else {
		log_info("%s: %u%% written (%s of %s, %s/s)", p->cmd, pct, d, t, rate);
	}
}

/* The host cannot preallocate (FUSE, FAT): every block is written, so none is a hole. */
static int write_zeros(int fd, uint64_t offset, uint64_t len, const char *cmd)
{
	_cleanup_free_ char *buf = xcalloc(1, ZERO_CHUNK);
	struct progress p = {.cmd = cmd, .tty = isatty(STDERR_FILENO), .total = len};
	p.start = p.last = now_ms();
	if (!p.tty) {
		_cleanup_free_ char *s = check_format_size(len);
		log_info("%s: the host cannot preallocate: writing %s of zeros", cmd, s);
	}
	uint64_t done = 0;
	int r = 0;
	while (done < len && r == 0) {
		if (allocate_interrupted) {
			r = -EINTR;
			break;
		}
		size_t n = len - done < ZERO_CHUNK ? (size_t)(len - done) : ZERO_CHUNK;
		ssize_t w = pwrite(fd, buf, n, (off_t)(offset + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -ENOSPC;
			break;
		}
		done += (uint64_t)w;
		progress_show(&p, done, false);
	}
	if (r == 0)
		progress_show(&p, done, true);
	else if (p.tty)
		fputc('\n', stderr);
	return r;
}

int allocate_range(int fd, uint64_t offset, uint64_t len, const char *cmd, const char **ret_how)
{
	*ret_how = "preallocated with fallocate";
	int r = fallocate(fd, 0, (off_t)offset, (off_t)len);
	if (r < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
		*ret_how = "written with zeros (the host cannot preallocate)";
		r = write_zeros(fd, offset, len, cmd);
	} else if (r < 0) {
		r = -errno;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	return r;
}

bool allocate_host_is_fat(const struct mount_entry *m)
{
	return m && m->fstype &&
	       (streq(m->fstype, "vfat") || streq(m->fstype, "msdos") ||
	        streq(m->fstype, "fuse.fusefat") || streq(m->fstype, "fusefat"));
}

int allocate_check_room(const char *cmd, const char *path, int dirfd, const char *dir,
                        uint64_t file_size, uint64_t need, const char *size_word)
{
	_cleanup_(mount_entry_free) struct mount_entry host = {0};
	_cleanup_free_ char *realdir = realpath(dir, NULL);
	if (realdir)
		(void)mount_find_path(NULL, realdir, &host);
	_cleanup_free_ char *what = xasprintf("%s: too large for a FAT host", cmd);
	if (file_size > ALLOCATE_FAT_MAX_FILE && allocate_host_is_fat(&host)) {
		_cleanup_free_ char *s = check_format_size(file_size);
		return log_fail(
		    EFBIG, what, path, "FAT files hold at most 4 GiB - 1 byte",
		    "choose %s 4194300K or less, or put the image on an NTFS, exFAT or ext4 "
		    "host (asked: %s)",
		    streq(size_word, "--size") ? "--size" : "a SIZE of", s);
	}
	struct statvfs sv;
	if (fstatvfs(dirfd, &sv) < 0) {
		_cleanup_free_ char *w = xasprintf("%s: reading the free space of", cmd);
		return log_fail(errno, w, dir, NULL, "check the host file system");
	}
	if (sv.f_blocks == 0) {
		/* fusefat reports nothing: writing will tell. */
		log_warn("%s: %s (%s) does not report its free space: not checked", cmd, dir,
		         host.fstype ? host.fstype : "?");
	} else if ((uint64_t)sv.f_bavail * sv.f_frsize < need) {
		_cleanup_free_ char *have = check_format_size((uint64_t)sv.f_bavail * sv.f_frsize);
		_cleanup_free_ char *want = check_format_size(need);
		_cleanup_free_ char *reason =
		    xasprintf("the host has %s free, the image needs %s%s", have, want,
		              need < file_size ? " more" : "");
		_cleanup_free_ char *w = xasprintf("%s: not enough room", cmd);
		return log_fail(ENOSPC, w, dir, reason,
		                "free space on the host or choose a smaller %s", size_word);
	}
	return 0;
}
