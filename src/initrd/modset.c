/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "initrd/modset.h"

#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/copy.h"
#include "basic/log.h"
#include "basic/process.h"
#include "basic/strbuf.h"

static void kmod_log_quiet(void *data, int priority, const char *file, int line, const char *fn,
                           const char *format, va_list args)
{
	(void)data, (void)priority, (void)file, (void)line, (void)fn, (void)format, (void)args;
}

int modset_init(struct modset *s, const char *modules_dir)
{
	*s = (struct modset){0};
	s->dir = xstrdup(modules_dir);
	size_t len = strlen(s->dir);
	while (len > 1 && s->dir[len - 1] == '/')
		s->dir[--len] = '\0';

	_cleanup_free_ char *dep = path_join(s->dir, "modules.dep");
	if (access(dep, F_OK) < 0)
		return -errno;
	/* libkmod looks modules up only through the binary indexes; without them every
	 * lookup would quietly find nothing. */
	_cleanup_free_ char *dep_bin = path_join(s->dir, "modules.dep.bin");
	if (access(dep_bin, F_OK) < 0)
		return errno == ENOENT ? -ENODATA : -errno;

	s->ctx = kmod_new(s->dir, NULL);
	if (!s->ctx)
		return -ENOMEM;
	/* libkmod logs through syslog-like priorities to stderr; we report failures ourselves. */
	kmod_set_log_fn(s->ctx, kmod_log_quiet, NULL);
	int r = kmod_load_resources(s->ctx);
	if (r < 0)
		return r;
	return 0;
}

void modset_done(struct modset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free_all(s->v[i].name, s->v[i].path, s->v[i].reason);
	free(s->v);
	strv_free(&s->builtin);
	strv_free(&s->visited);
	strv_free(&s->implied);
	if (s->ctx)
		kmod_unref(s->ctx);
	free(s->dir);
	*s = (struct modset){0};
}

const struct modset_entry *modset_find(const struct modset *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static void kmod_module_unref_listp(struct kmod_list **l)
{
	if (*l)
		kmod_module_unref_list(*l);
}
#define _cleanup_kmod_list_ _cleanup_(kmod_module_unref_listp)

static int add_module(struct modset *s, struct kmod_module *mod, const char *reason);

static int add_list(struct modset *s, struct kmod_list *list, const char *reason)
{
	struct kmod_list *it;
	kmod_list_foreach(it, list)
	{
		struct kmod_module *m = kmod_module_get_module(it);
		int r = add_module(s, m, reason);
		kmod_module_unref(m);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The "softdep=pre: a b post: c" strings of the module's own .modinfo. depmod normally
 * copies them into modules.softdep, which libkmod reads as configuration; reading them
 * here too covers a modules directory whose depmod predates that, and costs nothing when
 * both agree.
 */
static int add_modinfo_softdeps(struct modset *s, struct kmod_module *mod, const char *reason)
{
	struct kmod_list *info = NULL, *it;
	if (kmod_module_get_info(mod, &info) < 0)
		return 0; /* unreadable .modinfo: modules.softdep still applied */
	int r = 0;
	kmod_list_foreach(it, info)
	{
		if (!streq(kmod_module_info_get_key(it), "softdep"))
			continue;
		_cleanup_free_ char *value = xstrdup(kmod_module_info_get_value(it));
		for (char *save = NULL, *tok = strtok_r(value, " \t", &save); tok && r >= 0;
		     tok = strtok_r(NULL, " \t", &save)) {
			if (streq(tok, "pre:") || streq(tok, "post:"))
				continue;
			_cleanup_kmod_list_ struct kmod_list *l = NULL;
			if (kmod_module_new_from_lookup(s->ctx, tok, &l) < 0)
				continue; /* a soft dependency is allowed to be missing */
			r = add_list(s, l, reason);
		}
	}
	kmod_module_info_free_list(info);
	return r;
}

/*
 * Crypto drivers a module asks the crypto API for by name in its init without declaring
 * them: crc64_rocksoft (t10-pi's, so nvme's and sd_mod's on Linux 5.19 to 6.13) names only
 * its library, crc64, as a soft dependency. Then the kernel runs /sbin/modprobe for
 * "crypto-crc64-rocksoft" while the module loads (0.35 s of an NVMe drive's load under
 * QEMU), or falls back to slower code when the initramfs lacks the driver. The driver
 * goes in, and a soft dependency in the initramfs's modprobe.d has libkmod load it first,
 * as the real system's modprobe would load it when asked. Kernels from 6.11 can declare
 * such needs themselves (weak dependencies).
 */
static const struct {
	const char *module, *alias;
} init_requests[] = {
    {"crc64_rocksoft", "crypto-crc64-rocksoft"},
};

static int add_init_requests(struct modset *s, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(init_requests); i++) {
		if (!streq(init_requests[i].module, name))
			continue;
		_cleanup_kmod_list_ struct kmod_list *l = NULL;
		if (kmod_module_new_from_lookup(s->ctx, init_requests[i].alias, &l) < 0 || !l)
			continue; /* not in this kernel: the fallback stays */
		_cleanup_free_ char *reason =
		    xasprintf("%s, which %s asks for when it loads", init_requests[i].alias, name);
		int r = add_list(s, l, reason);
		if (r < 0)
			return r;
		struct kmod_list *it;
		kmod_list_foreach(it, l)
		{
			struct kmod_module *m = kmod_module_get_module(it);
			if (kmod_module_get_path(m))
				strv_push(&s->implied, xasprintf("softdep %s pre: %s", name,
				                                 kmod_module_get_name(m)));
			kmod_module_unref(m);
		}
	}
	return 0;
}

static int add_module(struct modset *s, struct kmod_module *mod, const char *reason)
{
	const char *name = kmod_module_get_name(mod);
	if (strv_contains(&s->visited, name))
		return 0;
	strv_push(&s->visited, xstrdup(name));

	const char *path = kmod_module_get_path(mod);
	if (!path) {
		/* No file: built in (modules.builtin), or known only from an alias or install
		 * command of the configuration. Either way nothing to copy. */
		strv_push(&s->builtin, xstrdup(name));
		return 0;
	}

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = (struct modset_entry){
	    .name = xstrdup(name), .path = xstrdup(path), .reason = xstrdup(reason)};

	_cleanup_free_ char *dep_reason = xasprintf("dependency of %s", name);
	_cleanup_free_ char *soft_reason = xasprintf("soft dependency of %s", name);

	/* modules.dep already lists the whole closure, but recursing lets each dependency
	 * bring its own soft dependencies (jbd2 wants crc32c as ext4 does). */
	_cleanup_kmod_list_ struct kmod_list *deps = kmod_module_get_dependencies(mod);
	int r = add_list(s, deps, dep_reason);
	if (r < 0)
		return r;

	_cleanup_kmod_list_ struct kmod_list *pre = NULL;
	_cleanup_kmod_list_ struct kmod_list *post = NULL;
	r = kmod_module_get_softdeps(mod, &pre, &post);
	if (r < 0)
		return r;
	r = add_list(s, pre, soft_reason);
	if (r < 0)
		return r;
	r = add_list(s, post, soft_reason);
	if (r < 0)
		return r;
	r = add_init_requests(s, name);
	if (r < 0)
		return r;
	return add_modinfo_softdeps(s, mod, soft_reason);
}

int modset_add(struct modset *s, const char *name, const char *reason, unsigned *ret_matched)
{
	_cleanup_kmod_list_ struct kmod_list *list = NULL;
	int r = kmod_module_new_from_lookup(s->ctx, name, &list);
	if (r < 0)
		return r;
	unsigned matched = 0;
	struct kmod_list *it;
	kmod_list_foreach(it, list) matched++;
	if (ret_matched)
		*ret_matched = matched;
	return add_list(s, list, reason);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The module's path relative to the modules directory, where depmod will look for it. */
static char *relative_path(const struct modset *s, const struct modset_entry *e)
{
	const char *rel = path_startswith(e->path, s->dir);
	if (rel && *rel)
		return xstrdup(rel);
	/* modules.dep may name a file outside the directory (an absolute path written by a
	 * tool that installs out-of-tree modules): keep it under extra/, which depmod
	 * searches like any other subdirectory. */
	_cleanup_free_ char *copy = xstrdup(e->path);
	return xasprintf("extra/%s", basename(copy));
}

/*
 * modules.order lists the modules in the kernel's link order, which depmod uses to pick
 * between two modules for one alias; keep the lines of the staged modules, in that order.
 * Modules that are not in it (out of tree) go last, by name, as depmod would place them.
 */
static int write_order(const struct modset *s, const char *moddir)
{
	_cleanup_free_ char *src = path_join(s->dir, "modules.order");
	_cleanup_free_ char *dst = path_join(moddir, "modules.order");
	_cleanup_free_ char *data = NULL;
	int r = read_file(src, &data, NULL);
	if (r < 0 && r != -ENOENT)
		return r;

	struct strv rel = {0}, done = {0};
	for (size_t i = 0; i < s->n; i++)
		strv_push(&rel, relative_path(s, &s->v[i]));
	for (char *save = NULL, *line = data ? strtok_r(data, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		if (strv_contains(&rel, line) && !strv_contains(&done, line))
			strv_push(&done, xstrdup(line));
	if (rel.n > 0)
		qsort(rel.v, rel.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < rel.n; i++)
		if (!strv_contains(&done, rel.v[i]))
			strv_push(&done, xstrdup(rel.v[i]));

	_cleanup_strbuf_ struct strbuf out = {0};
	for (size_t i = 0; i < done.n; i++)
		strbuf_printf(&out, "%s\n", done.v[i]);
	r = write_file_atomic(dst, strempty(out.s), out.len, 0644);
	strv_free(&rel);
	strv_free(&done);
	return r;
}

static int run_depmod(const char *stage, const char *version)
{
	_cleanup_free_ char *depmod = find_program("depmod", PROGRAM_SEARCH_PATH);
	if (!depmod)
		return -ENOENT;
	char *argv[] = {depmod, "-b", (char *)stage, (char *)version, NULL};
	return process_run(NULL, argv, NULL, NULL);
}

static int write_conf(const struct modset *s, const char *stage, const char **what)
{
	_cleanup_free_ char *path = path_join(stage, MODSET_CONF);
	_cleanup_free_ char *dir = xstrdup(path);
	int r = mkdir_p(dirname(dir), 0755);
	if (r < 0) {
		*what = "create the staging directory";
		return r;
	}
	struct strbuf b = {0};
	strbuf_append(
	    &b, "# Written by loopboot initrd: crypto drivers these modules ask for when they\n"
	        "# load, loaded before them (the kernel runs no modprobe for them then).\n");
	for (size_t i = 0; i < s->implied.n; i++)
		strbuf_printf(&b, "%s\n", s->implied.v[i]);
	r = write_file_atomic(path, b.s, b.len, 0644);
	strbuf_free(&b);
	if (r < 0)
		*what = "write " MODSET_CONF;
	return r;
}

int modset_stage(const struct modset *s, const char *stage, const char *version,
                 const char **ret_what)
{
	const char *what_dummy;
	const char **what = ret_what ? ret_what : &what_dummy;
	_cleanup_free_ char *moddir = xasprintf("%s/lib/modules/%s", stage, version);
	int r = mkdir_p(moddir, 0755);
	if (r < 0) {
		*what = "create the staging directory";
		return r;
	}
	/* Newer kmod may be built to look in /usr/lib/modules below -b: have both names. */
	_cleanup_free_ char *usrlib = path_join(stage, "usr/lib");
	_cleanup_free_ char *usrmods = path_join(stage, "usr/lib/modules");
	if (mkdir_p(usrlib, 0755) < 0 || symlink("../../lib/modules", usrmods) < 0) {
		*what = "create the staging directory";
		return -errno;
	}

	for (size_t i = 0; i < s->n; i++) {
		_cleanup_free_ char *rel = relative_path(s, &s->v[i]);
		_cleanup_free_ char *dst = path_join(moddir, rel);
		r = copy_file(s->v[i].path, dst, 0644);
		if (r < 0) {
			*what = "copy a module";
			return r;
		}
	}

	static const char *const seeds[] = {"modules.builtin", "modules.builtin.modinfo"};
	for (size_t i = 0; i < ARRAY_SIZE(seeds); i++) {
		_cleanup_free_ char *src = path_join(s->dir, seeds[i]);
		_cleanup_free_ char *dst = path_join(moddir, seeds[i]);
		r = copy_file(src, dst, 0644);
		if (r == -ENOENT)
			continue; /* old kernels have no modules.builtin.modinfo */
		if (r < 0) {
			*what = "copy the module indexes";
			return r;
		}
	}

	r = write_order(s, moddir);
	if (r < 0) {
		*what = "write modules.order";
		return r;
	}

	r = run_depmod(stage, version);
	if (r < 0) {
		*what = "run depmod";
		return r;
	}
	_cleanup_free_ char *dep = path_join(moddir, "modules.dep.bin");
	if (access(dep, F_OK) < 0) {
		*what = "find modules.dep.bin written by depmod";
		return -errno;
	}
	return s->implied.n ? write_conf(s, stage, what) : 0;
}
