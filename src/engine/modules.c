/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/modules.h"

#include <ftw.h>
#include <libkmod.h>
#include <sys/utsname.h>

#include "basic/log.h"
#include "basic/util.h"
#include "engine/helpers.h"

struct modules {
	struct kmod_ctx *ctx;
	struct strv seen; /* modaliases handled by an earlier coldplug */
};

struct modules *modules_new(void)
{
	struct utsname u;
	if (uname(&u) < 0)
		return NULL;
	_cleanup_free_ char *dir = xasprintf("/lib/modules/%s/modules.dep", u.release);
	if (access(dir, F_OK) < 0) {
		log_debug("no modules for kernel %s (%s missing): using built-in drivers only",
		          u.release, dir);
		return NULL;
	}
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);
	if (!ctx)
		return NULL;
	/* The index files make lookups fast; without them libkmod falls back to text files. */
	kmod_load_resources(ctx);
	struct modules *m = xcalloc(1, sizeof(*m));
	m->ctx = ctx;
	return m;
}

void modules_free(struct modules *m)
{
	if (!m)
		return;
	kmod_unref(m->ctx);
	strv_free(&m->seen);
	free(m);
}

int modules_load(struct modules *m, const char *name)
{
	if (!m)
		return -ENOENT;
	struct kmod_list *list = NULL, *it;
	int r = kmod_module_new_from_lookup(m->ctx, name, &list);
	if (r < 0)
		return r;
	if (!list)
		return -ENOENT;
	int result = 0;
	kmod_list_foreach(it, list)
	{
		struct kmod_module *mod = kmod_module_get_module(it);
		r = kmod_module_probe_insert_module(
		    mod, KMOD_PROBE_APPLY_BLACKLIST | KMOD_PROBE_FAIL_ON_LOADED, NULL, NULL, NULL,
		    NULL);
		if (r < 0 && r != -EEXIST) {
			log_debug("loading module %s for %s failed: %s", kmod_module_get_name(mod),
			          name, strerror(-r));
			result = r;
		} else if (r == 0) {
			log_debug("loaded module %s (for %s)", kmod_module_get_name(mod), name);
		}
		kmod_module_unref(mod);
	}
	kmod_module_unref_list(list);
	return result;
}

/* nftw has no user pointer: the walk is single-threaded, so a file-scope one is enough. */
static struct modules *walk_modules;
static int walk_new;

static int coldplug_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type != FTW_F || !streq(path + ftw->base, "modalias"))
		return FTW_CONTINUE;
	char *alias = NULL;
	if (read_file(path, &alias, NULL) < 0)
		return FTW_CONTINUE;
	strip_trailing(alias);
	if (!*alias || strv_contains(&walk_modules->seen, alias)) {
		free(alias);
		return FTW_CONTINUE;
	}
	strv_push(&walk_modules->seen, alias);
	walk_new++;
	modules_load(walk_modules, alias);
	return FTW_CONTINUE;
}

int modules_coldplug(struct modules *m)
{
	if (!m)
		return 0;
	walk_modules = m;
	walk_new = 0;
	nftw("/sys/devices", coldplug_visit, 32, FTW_PHYS | FTW_ACTIONRETVAL);
	walk_modules = NULL;
	return walk_new;
}

bool modules_fs_registered(const char *fstype)
{
	_cleanup_free_ char *fs = NULL;
	if (read_file("/proc/filesystems", &fs, NULL) < 0)
		return false;
	for (char *line = strtok(fs, "\n"); line; line = strtok(NULL, "\n")) {
		char *name = strrchr(line, '\t');
		name = name ? name + 1 : line;
		if (streq(name, fstype))
			return true;
	}
	return false;
}

/* Code pages a file system asks the kernel for at mount time (codepage=, iocharset=). The
 * kernel would request them through modprobe too; loading them first does not depend on
 * the initramfs having a usermode helper. Missing ones are fine: they may be built in. */
static void load_companions(struct modules *m, const char *fstype)
{
	const struct fs_helper *h = fs_helper_for(fstype);
	for (size_t i = 0; h && h->nls && h->nls[i]; i++)
		(void)modules_load(m, h->nls[i]);
}

bool modules_have_fs(struct modules *m, const char *fstype)
{
	if (!m)
		return modules_fs_registered(fstype);
	load_companions(m, fstype);
	if (modules_fs_registered(fstype))
		return true;
	/* Module aliases "fs-TYPE" are how the kernel itself asks for a file system. */
	_cleanup_free_ char *alias = xasprintf("fs-%s", fstype);
	if (modules_load(m, alias) < 0)
		modules_load(m, fstype);
	return modules_fs_registered(fstype);
}
