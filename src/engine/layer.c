/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/layer.h"

#include <errno.h>
#include <sys/mount.h>

#include "basic/log.h"
#include "basic/util.h"
#include "engine/dmlinear.h"
#include "engine/loopdev.h"
#include "engine/mounts.h"
#include "engine/nbd.h"
#include "engine/net.h"

/* How long a host's FUSE daemon gets to write back and exit after its unmount. */
#define HOST_DAEMON_TIMEOUT_MS 30000

struct layer *stack_push(struct stack *s, enum layer_kind kind)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	struct layer *l = &s->v[s->n++];
	*l = (struct layer){.kind = kind};
	return l;
}

void stack_truncate(struct stack *s, size_t n)
{
	while (s->n > n)
		layer_done(&s->v[--s->n]);
}

void stack_free(struct stack *s)
{
	stack_truncate(s, 0);
	free(s->v);
	*s = (struct stack){0};
}

static void free_string(char **s, void *userdata)
{
	(void)userdata;
	free(*s);
	*s = NULL;
}

static void copy_string(char **s, void *userdata)
{
	(void)userdata;
	if (*s)
		*s = xstrdup(*s);
}

void layer_done(struct layer *l)
{
	layer_walk_strings(l, false, free_string, NULL);
	*l = (struct layer){0};
}

void layer_host_done(struct layer_host *h)
{
	struct layer l = {.kind = LAYER_HOST, .host = *h};
	layer_done(&l);
	*h = (struct layer_host){0};
}

void layer_copy(struct layer *dst, const struct layer *src)
{
	*dst = *src; /* the scalars, and pointers to the source's strings, copied now */
	layer_walk_strings(dst, false, copy_string, NULL);
}

const char *layer_kind_name(enum layer_kind k)
{
	static const char *const names[_LAYER_KIND_MAX] = {
	    [LAYER_HOST] = "host",   [LAYER_LOOP] = "loop",   [LAYER_DM] = "dm",
	    [LAYER_MOUNT] = "mount", [LAYER_CRYPT] = "crypt", [LAYER_NET] = "net",
	    [LAYER_NBD] = "nbd",
	};
	return (unsigned)k < _LAYER_KIND_MAX ? names[k] : NULL;
}

const char *mount_role_name(enum mount_role r)
{
	static const char *const names[_MOUNT_ROLE_MAX] = {
	    [MOUNT_ROLE_ROOT] = "root",
	    [MOUNT_ROLE_MOUNT] = "mount",
	    [MOUNT_ROLE_LAYER] = "layer",
	};
	return (unsigned)r < _MOUNT_ROLE_MAX ? names[r] : NULL;
}

struct path_walk {
	void (*fn)(char **path, void *userdata);
	void *userdata;
};

static void path_if_set(char **path, void *userdata)
{
	const struct path_walk *w = userdata;
	if (*path)
		w->fn(path, w->userdata);
}

void layer_for_each_path(struct layer *l, void (*fn)(char **path, void *userdata), void *userdata)
{
	struct path_walk w = {fn, userdata};
	layer_walk_strings(l, true, path_if_set, &w);
}

const char *layer_mount_point(const struct layer *l)
{
	if (l->kind == LAYER_HOST)
		return l->host.target;
	if (l->kind == LAYER_MOUNT)
		return l->mount.target;
	return NULL;
}

/* ---- undo, one function per kind ------------------------------------------------------ */

/* umount2 that gives a file system a moment when it is busy only because a loop device
 * above it is still being released. */
static int umount_retry(const char *path)
{
	for (int i = 0;; i++) {
		if (umount2(path, 0) == 0)
			return 0;
		if (errno != EBUSY || i == 50)
			return -errno;
		sleep_ms(20);
	}
}

/* A mount that stays busy (a process still holds it) is remounted read-only, so that its
 * file system is clean on disk, and detached: it goes when its last user does. */
static int undo_mount(const char *path)
{
	int r = umount_retry(path);
	if (r == 0 || r == -EINVAL || r == -ENOENT)
		return 0;
	if (r != -EBUSY) {
		log_warn("unmounting %s: %s", path, strerror(-r));
		return r;
	}
	log_warn("%s is busy (%s): remounting it read-only and detaching it", path, strerror(-r));
	sync();
	(void)mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY, NULL);
	if (umount2(path, MNT_DETACH) < 0)
		log_warn("detaching %s: %m", path);
	return r;
}

static int undo_loop(const struct layer_loop *l)
{
	int r = l->device ? loopdev_detach(l->device) : 0;
	if (r == -ENXIO || r == -ENOENT)
		return 0;
	if (r < 0)
		log_warn("detaching %s: %s", l->device, strerror(-r));
	return r;
}

static int undo_dm_name(const char *name)
{
	int r = name ? dmlinear_remove(name) : 0;
	if (r == -ENXIO)
		return 0;
	if (r < 0)
		log_warn("removing the device-mapper device %s: %s", name, strerror(-r));
	return r;
}

static int undo_host(const struct layer_host *h, const char *where)
{
	int r = 0;
	if (where) {
		struct layer_host at = *h;
		at.target = (char *)where;
		sync();
		r = host_umount(&at, HOST_DAEMON_TIMEOUT_MS);
		if (r < 0)
			log_warn("unmounting the host at %s: %s", where, strerror(-r));
	}
	/* The host's own mapping (linear mode) goes only once nothing is mounted on it. */
	if (r == 0 && h->dm)
		r = undo_dm_name(h->dm);
	return r;
}

static int undo_nbd(const struct layer_nbd *n)
{
	int r = nbd_disconnect(n->device, n->daemon_pid);
	if (r >= 0)
		log_debug("NBD device %s (%s:%lu%s%s) disconnected", strempty(n->device),
		          strempty(n->server), n->port, n->export ? "/" : "", strempty(n->export));
	return r;
}

static int undo_net(const struct layer_net *n)
{
	/* What a framework configured stays: its own shutdown takes it down. */
	if (n->external)
		return 0;
	int r = net_down(n->interface);
	if (r >= 0)
		log_debug("network interface %s (%s) taken down", strempty(n->interface),
		          strempty(n->address));
	return r;
}

int layer_undo(const struct layer *l, const char *where)
{
	if (!where)
		where = layer_mount_point(l);
	switch (l->kind) {
	case LAYER_HOST:
		return undo_host(&l->host, where);
	case LAYER_LOOP:
		return undo_loop(&l->loop);
	case LAYER_DM:
		return undo_dm_name(l->dm.name);
	case LAYER_MOUNT:
		return where ? undo_mount(where) : 0;
	case LAYER_CRYPT:
		/* Deactivation only: the kernel drops the key; the volume is not touched. */
		return undo_dm_name(l->crypt.name);
	case LAYER_NBD:
		return undo_nbd(&l->nbd);
	case LAYER_NET:
		return undo_net(&l->net);
	case _LAYER_KIND_MAX:
		break;
	}
	return -EINVAL;
}

int stack_unwind(struct stack *s, size_t keep)
{
	int first = 0;
	while (s->n > keep) {
		int r = layer_undo(&s->v[s->n - 1], NULL);
		if (r < 0 && first == 0)
			first = r;
		stack_truncate(s, s->n - 1);
	}
	return first;
}
