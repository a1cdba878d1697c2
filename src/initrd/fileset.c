/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "initrd/fileset.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"

#define MAX_SYMLINKS 40 /* what the kernel allows in one path walk (MAXSYMLINKS) */

/*
 * Lexical normalisation for archive paths: no leading '/', single separators, no "." and
 * ".." resolved against what precedes it. Returns NULL for ".." above the root. The empty
 * string is the root itself.
 */
static char *normalize(const char *path)
{
	char *out = xmalloc(strlen(path) + 1);
	size_t len = 0;
	size_t n;
	for (const char *rest = path, *s; (s = path_next(&rest, &n));) {
		if (n == 1 && s[0] == '.') {
			/* nothing */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (len == 0) {
				free(out);
				return NULL;
			}
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the separator */
		} else {
			if (len > 0)
				out[len++] = '/';
			memcpy(out + len, s, n);
			len += n;
		}
	}
	out[len] = '\0';
	return out;
}

static size_t lower_bound(const struct fileset *s, const char *path, bool *found)
{
	size_t lo = 0, hi = s->n;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].path, path);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct fileset_entry *find_norm(const struct fileset *s, const char *path)
{
	bool found;
	size_t i = lower_bound(s, path, &found);
	return found ? &s->v[i] : NULL;
}

const struct fileset_entry *fileset_find(const struct fileset *s, const char *path)
{
	_cleanup_free_ char *norm = normalize(path);
	if (!norm || !*norm)
		return NULL;
	return find_norm(s, norm);
}

static bool entry_same(const struct fileset_entry *a, const struct fileset_entry *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case FILESET_DIR:
		return true; /* the first one's mode stays */
	case FILESET_FILE:
		return a->mode == b->mode && streq(a->source, b->source);
	case FILESET_SYMLINK:
		return streq(a->target, b->target);
	case FILESET_DEVICE:
		return a->mode == b->mode && a->major == b->major && a->minor == b->minor;
	}
	return false;
}

/* Inserts e at its (already resolved) path; takes ownership of e's strings on success. */
static int insert_at(struct fileset *s, struct fileset_entry *e)
{
	bool found;
	size_t i = lower_bound(s, e->path, &found);
	if (found)
		return entry_same(&s->v[i], e) ? 1 : -EEXIST;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = *e;
	s->n++;
	return 0;
}

/*
 * Resolves the parent part of a normalised path through the symlinks already in the set,
 * so that an entry lands where the kernel's unpacker, following the same symlinks, would
 * put it. The last component is not followed: it is the one being created.
 */
static int resolve_parent(const struct fileset *s, const char *path, char **ret)
{
	_cleanup_free_ char *done = xstrdup("");
	_cleanup_free_ char *rest = xstrdup(path);
	unsigned links = 0;

	for (;;) {
		char *slash = strchr(rest, '/');
		if (!slash)
			break; /* only the last component is left */
		*slash = '\0';
		const char *comp = rest, *after = slash + 1;
		_cleanup_free_ char *cand = *done ? xasprintf("%s/%s", done, comp) : xstrdup(comp);
		const struct fileset_entry *e = find_norm(s, cand);
		if (e && e->type == FILESET_SYMLINK) {
			if (++links > MAX_SYMLINKS)
				return -ELOOP;
			_cleanup_free_ char *joined =
			    e->target[0] == '/' ? xasprintf("%s/%s", e->target, after)
			                        : xasprintf("%s/%s/%s", done, e->target, after);
			char *norm = normalize(joined);
			if (!norm || !*norm) {
				free(norm);
				return -EINVAL;
			}
			free(rest);
			rest = norm;
			free(done);
			done = xstrdup("");
			continue;
		}
		if (e && e->type != FILESET_DIR)
			return -ENOTDIR;
		free(done);
		done = cand;
		cand = NULL;
		char *next = xstrdup(after);
		free(rest);
		rest = next;
	}
	*ret = *done ? xasprintf("%s/%s", done, rest) : xstrdup(rest);
	return 0;
}

/*
 * Inserts a copy of *tmpl at path (resolved, parents created). When the set keeps it, the
 * set owns tmpl's strings and they are cleared in *tmpl; otherwise the caller still owns
 * them.
 */
static int add_entry(struct fileset *s, const char *path, struct fileset_entry *tmpl)
{
	_cleanup_free_ char *norm = normalize(path);
	if (!norm)
		return -EINVAL;
	if (!*norm) /* the root exists already */
		return tmpl->type == FILESET_DIR ? 0 : -EINVAL;

	_cleanup_free_ char *resolved = NULL;
	int r = resolve_parent(s, norm, &resolved);
	if (r < 0)
		return r;

	/* Parents first: after resolve_parent() none of them is a symlink. */
	for (char *p = strchr(resolved, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		const struct fileset_entry *e = find_norm(s, resolved);
		if (!e) {
			struct fileset_entry d = {
			    .path = xstrdup(resolved), .type = FILESET_DIR, .mode = 0755};
			insert_at(s, &d);
		} else if (e->type != FILESET_DIR) {
			*p = '/';
			return -ENOTDIR;
		}
		*p = '/';
	}

	struct fileset_entry e = *tmpl;
	e.path = resolved;
	r = insert_at(s, &e);
	if (r < 0)
		return r;
	if (r > 0) /* the same entry was there already */
		return 0;
	resolved = NULL;
	tmpl->source = tmpl->target = NULL;
	return 0;
}

int fileset_add_dir(struct fileset *s, const char *path, mode_t perm)
{
	struct fileset_entry e = {.type = FILESET_DIR, .mode = perm & 07777};
	return add_entry(s, path, &e);
}

int fileset_add_file(struct fileset *s, const char *path, const char *source, mode_t perm)
{
	struct fileset_entry e = {
	    .type = FILESET_FILE, .mode = perm & 07777, .source = xstrdup(source)};
	int r = add_entry(s, path, &e);
	free(e.source);
	return r;
}

int fileset_add_symlink(struct fileset *s, const char *path, const char *target)
{
	if (!target || !*target)
		return -EINVAL;
	struct fileset_entry e = {.type = FILESET_SYMLINK, .mode = 0777, .target = xstrdup(target)};
	int r = add_entry(s, path, &e);
	free(e.target);
	return r;
}

int fileset_add_device(struct fileset *s, const char *path, mode_t type, mode_t perm,
                       unsigned major, unsigned minor)
{
	if (type != S_IFCHR && type != S_IFBLK)
		return -EINVAL;
	struct fileset_entry e = {
	    .type = FILESET_DEVICE, .mode = type | (perm & 07777), .major = major, .minor = minor};
	return add_entry(s, path, &e);
}

/* Splits the first component off *rest (which it advances); NULL when none is left. */
static char *next_component(const char **rest)
{
	const char *s = *rest;
	while (*s == '/')
		s++;
	if (!*s) {
		*rest = s;
		return NULL;
	}
	const char *e = strchrnul(s, '/');
	*rest = e;
	return xstrndup(s, (size_t)(e - s));
}

static bool has_component(const char *p)
{
	while (*p == '/')
		p++;
	return *p != '\0';
}

int fileset_add_host_path(struct fileset *s, const char *root, const char *host_path,
                          char **ret_resolved)
{
	/* done: the symlink-free part walked so far; rest: what is left to walk. ".." is
	 * applied to done lexically, which is right because done has no symlinks in it. */
	_cleanup_free_ char *done = xstrdup("");
	_cleanup_free_ char *rest = xstrdup(host_path);
	unsigned links = 0;
	const char *p = rest;

	for (;;) {
		_cleanup_free_ char *comp = next_component(&p);
		if (!comp)
			break;
		if (streq(comp, "."))
			continue;
		if (streq(comp, "..")) {
			char *slash = strrchr(done, '/');
			if (slash)
				*slash = '\0';
			else
				done[0] = '\0';
			continue;
		}
		_cleanup_free_ char *cand = *done ? xasprintf("%s/%s", done, comp) : xstrdup(comp);
		_cleanup_free_ char *full = path_join(root, cand);
		struct stat st;
		if (lstat(full, &st) < 0)
			return -errno;

		bool last = !has_component(p);
		if (S_ISLNK(st.st_mode)) {
			if (++links > MAX_SYMLINKS)
				return -ELOOP;
			char target[PATH_MAX];
			ssize_t n = readlink(full, target, sizeof(target) - 1);
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EINVAL;
			target[n] = '\0';
			int r = fileset_add_symlink(s, cand, target);
			if (r < 0)
				return r;
			char *next = target[0] == '/' ? xasprintf("%s%s", target, p)
			                              : xasprintf("/%s/%s%s", done, target, p);
			/* next is a whole path from the root again. */
			done[0] = '\0';
			free(rest);
			rest = next;
			p = rest;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			/* A host that is not merged-/usr has a real /lib where the archive has
			 * the symlink lib -> usr/lib: keep the symlink, and what goes below the
			 * directory lands below its target. */
			const struct fileset_entry *have = fileset_find(s, cand);
			int r = have && have->type == FILESET_SYMLINK
			            ? 0
			            : fileset_add_dir(s, cand, 0755);
			if (r < 0)
				return r;
			free(done);
			done = cand;
			cand = NULL;
			continue;
		}
		if (!last)
			return -ENOTDIR;
		if (!S_ISREG(st.st_mode))
			return -EOPNOTSUPP;
		int r = fileset_add_file(s, cand, full, (st.st_mode & 0111) ? 0755 : 0644);
		if (r < 0)
			return r;
		free(done);
		done = cand;
		cand = NULL;
	}
	if (ret_resolved)
		*ret_resolved = xasprintf("/%s", done);
	return 0;
}

int fileset_write(const struct fileset *s, struct cpio *c, const char **ret_failed_path)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct fileset_entry *e = &s->v[i];
		int r = 0;
		switch (e->type) {
		case FILESET_DIR:
			r = cpio_add_dir(c, e->path, e->mode);
			break;
		case FILESET_FILE: {
			_cleanup_close_ int fd = open(e->source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
			struct stat st;
			if (fd < 0)
				r = -errno;
			else if (fstat(fd, &st) < 0)
				r = -errno;
			else if (!S_ISREG(st.st_mode))
				r = -EINVAL;
			else
				r = cpio_add_fd(c, e->path, e->mode, fd, (uint64_t)st.st_size);
			break;
		}
		case FILESET_SYMLINK:
			r = cpio_add_symlink(c, e->path, e->target);
			break;
		case FILESET_DEVICE:
			r = cpio_add_device(c, e->path, e->mode & S_IFMT, e->mode & 07777, e->major,
			                    e->minor);
			break;
		}
		if (r < 0) {
			if (ret_failed_path)
				*ret_failed_path = e->path;
			return r;
		}
	}
	return cpio_finish(c);
}

void fileset_free(struct fileset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free_all(s->v[i].path, s->v[i].source, s->v[i].target);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
