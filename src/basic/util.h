/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by every part of loopboot: cleanup attributes, strings, files. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define _cleanup_(f)  __attribute__((cleanup(f)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
#define _cleanup_free_ _cleanup_(freep)

/* free() of each pointer given, in order (NULL ones too): a struct's free function lists
 * its owned strings once, free_all(c->a, c->b, c->c). */
void free_many(void *const *p, size_t n);
#define free_all(...)                                                                              \
	free_many((void *const[]){__VA_ARGS__}, ARRAY_SIZE(((void *const[]){__VA_ARGS__})))
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}
static inline const char *strempty(const char *s)
{
	return s ? s : "";
}
static inline const char *startswith(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Allocation failure in an initramfs is not recoverable: say so once and stop. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Join two path parts with exactly one '/' between them. */
char *path_join(const char *a, const char *b);
/*
 * Whether path is prefix or below it, compared by whole components ("/usr" is not a prefix
 * of "/usrx"; repeated slashes count as one; both absolute or both relative). Returns the
 * rest of path without its leading slashes ("" when both name the same directory), or NULL.
 */
const char *path_startswith(const char *path, const char *prefix);
/*
 * The next component of the path at *p: skips separators, returns where the component
 * starts with its length in *ret_len and moves *p past it; NULL at the end.
 */
const char *path_next(const char **p, size_t *ret_len);
/*
 * Undoes the octal escapes of fstab and mountinfo ("\040" is a space) in the first n bytes
 * of s; a backslash that does not start three octal digits stays as it is. Allocated.
 */
char *octal_unescape(const char *s, size_t n);
/* mkdir -p; returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* Opens a regular file read-only: the descriptor (with *ret_st), -EINVAL when it is not a
 * regular file, or -errno. */
int open_regular(const char *path, struct stat *ret_st);
/* Whether path (through symbolic links) is a regular file: 0, -EINVAL when it is something
 * else, or -errno from stat(). */
int stat_regular(const char *path);
/* Reads a whole (small) file into a NUL-terminated string; returns 0 or -errno. */
int read_file(const char *path, char **ret, size_t *ret_len);
/* Reads exactly n bytes at off (pread), or from the current position when off is -1
 * (read), retrying EINTR: 0, -EIO when the file ends first, or -errno. */
int read_exactly(int fd, void *buf, size_t n, int64_t off);
/* The same, but the file may end first: *ret_n says how many bytes came. 0 or -errno. */
int read_up_to(int fd, void *buf, size_t n, int64_t off, size_t *ret_n);
/* Writes all n bytes at the current position, retrying EINTR and short writes: 0, -EIO
 * when the file takes nothing more, or -errno. */
int write_exactly(int fd, const void *buf, size_t n);
/* Reads n bytes at off from a and from b (into buf_a and buf_b, n bytes each): 0 when
 * they are the same, 1 when not, or -errno (-EIO: one ends first). */
int compare_exactly(int a, int b, void *buf_a, void *buf_b, size_t n, int64_t off);
/* Writes a string to a file, replacing it atomically (tmp + rename); returns 0 or -errno. */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode);
/* Writes a string into an existing file (a /sys or /proc setting): 0 or -errno. */
int write_string_file(const char *path, const char *s);
/* Strips trailing whitespace in place. */
char *strip_trailing(char *s);
/* Case-insensitive comparison for UUIDs and serials. */
bool strcaseeq(const char *a, const char *b);

/* Sleeps ms milliseconds (signals may end it early). */
void sleep_ms(long ms);
/* Milliseconds on the monotonic clock: for deadlines and rates, not for dates. */
long long now_ms(void);

/* openat2() with RESOLVE_IN_ROOT: path resolves inside rootfd, symlinks included (an
 * absolute target means rootfd), never above it. Plain openat() before Linux 5.6. */
int open_in_root(int rootfd, const char *path, int flags);
/* word as a POSIX shell (and GRUB's script) reads it back: as it is when it is made of
 * letters, digits and the characters of plain only, else in single quotes (a single quote
 * itself closed, escaped and reopened). Allocated. */
char *quote_word(const char *word, const char *plain);
/* quote_word() for the shell: what a user can paste after a prompt. */
char *shell_quote(const char *word);

/* A growable array of strings, NULL-terminated. */
struct strv {
	char **v;
	size_t n, cap;
};
void strv_push(struct strv *s, char *owned);
void strv_free(struct strv *s);
bool strv_contains(const struct strv *s, const char *x);
