/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/teardown.h"

#include <errno.h>
#include <libmount.h>
#include <sys/mount.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/util.h"
#include "engine/mounts.h"
#include "engine/state.h"

/*
 * Where a recorded path is now. Paths are recorded as seen from the new root; prefix is
 * where that root is mounted now. Our own directories under /run/loopboot are inside the
 * root after switch_root but stay in the caller's /run without it.
 */
static char *teardown_path(const char *prefix, const char *path)
{
	char *p = *prefix && streq(path, "/") ? xstrdup(prefix) : xasprintf("%s%s", prefix, path);
	if (path_startswith(path, STATE_DIR) && !is_mount_point(p) && is_mount_point(path)) {
		free(p);
		p = xstrdup(path);
	}
	return p;
}

/*
 * The host is mounted inside the root (/host) and nested images' layers under /run, yet
 * the root's image lives on them: those mounts must leave the root's tree before the root
 * can be unmounted. Moves the mount at path to a parking place outside the root; returns
 * where it is now (allocated), or NULL when it could not be moved (the caller carries on
 * with the old path: unmounting it may then fail, and says so).
 */
static char *park_mount(const char *path, size_t n)
{
	_cleanup_free_ char *parking = xasprintf(STATE_DIR "/parked/%zu", n);
	if (mkdir_p(parking, 0700) < 0)
		return NULL;
	/* MS_MOVE refuses a mount whose parent mount is shared. */
	_cleanup_free_ char *parent = xstrdup(path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	(void)mount(NULL, parent, NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount(path, parking, NULL, MS_MOVE, NULL) < 0) {
		log_debug("moving %s out of the root's tree to %s: %m", path, parking);
		return NULL;
	}
	log_debug("moved %s to %s", path, parking);
	char *r = parking;
	parking = NULL;
	return r;
}

static bool is_api_path(const char *p)
{
	static const char *const api[] = {"/dev", "/proc", "/sys", "/run"};
	for (size_t i = 0; i < ARRAY_SIZE(api); i++)
		if (path_startswith(p, api[i]))
			return true;
	return false;
}

/*
 * Unmounts root and everything below it, deepest first. What cannot be unmounted (a
 * process still holds it) is remounted read-only, so that its file system is clean on
 * disk, and detached. Returns 0 when root itself went, or its error.
 */
static int unmount_tree(const char *root)
{
	struct strv targets = {0};
	int r = mount_targets_below(root, &targets);
	if (r < 0)
		return log_fail(-r, "reading", "/proc/self/mountinfo", NULL, "mount /proc");
	const struct layer tree = {.kind = LAYER_MOUNT};
	int result = 0;
	size_t len = strlen(root);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < targets.n; i++) {
			const char *t = targets.v[i];
			if (!is_mount_point(t) && !streq(t, root))
				continue;
			/* API file systems hold no data, and a root storage daemon keeps /dev
			 * busy (ntfs-3g has /dev/fuse and the host's device open): detach them. */
			if (is_api_path(t + len)) {
				if (umount2(t, 0) < 0 && errno == EBUSY &&
				    umount2(t, MNT_DETACH) == 0)
					log_debug("%s is busy: detached it", t);
				continue;
			}
			/* The first pass only tries: a child of it may be in the way. */
			if (pass == 0) {
				(void)umount2(t, 0);
				continue;
			}
			r = layer_undo(&tree, t);
			if (r < 0 && streq(t, root))
				result = r;
		}
	strv_free(&targets);
	return result;
}

static bool is_below_root(const struct layer *l)
{
	return l->kind == LAYER_HOST ||
	       (l->kind == LAYER_MOUNT && l->mount.role == MOUNT_ROLE_LAYER);
}

int teardown_stack(const struct stack *s, const char *prefix)
{
	int first = 0;
	if (streq(prefix, "/"))
		prefix = "";
	char **where = xcalloc(s->n + 1, sizeof(char *));

	/* 1. The host and the layers of nested images leave the root's tree. */
	for (size_t i = 0; i < s->n; i++) {
		const char *target = layer_mount_point(&s->v[i]);
		if (!is_below_root(&s->v[i]) || !target)
			continue;
		where[i] = teardown_path(prefix, target);
		if (is_mount_point(where[i])) {
			char *parked = park_mount(where[i], i);
			if (parked) {
				free(where[i]);
				where[i] = parked;
			}
		}
	}

	/* 2. The root with the extra images and whatever else is still mounted inside it;
	 * the running system's own root cannot go: only our extra images. */
	if (*prefix)
		first = unmount_tree(prefix);
	for (size_t i = s->n; !*prefix && i-- > 0;) {
		const struct layer *l = &s->v[i];
		if (l->kind == LAYER_MOUNT && !where[i] && !streq(l->mount.target, "/")) {
			int r = layer_undo(l, NULL);
			if (r < 0 && !first)
				first = r;
		}
	}

	/* 3. Below the root, in reverse: loop and device-mapper devices, layers, the host. */
	for (size_t i = s->n; i-- > 0;) {
		const struct layer *l = &s->v[i];
		if (layer_mount_point(l) && !where[i])
			continue; /* in the root's tree: gone with it */
		int r = layer_undo(l, where[i]);
		if (r < 0 && !first)
			first = r;
	}
	for (size_t i = 0; i < s->n; i++)
		free(where[i]);
	free(where);
	return first;
}
