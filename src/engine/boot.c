/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's passes: wait for the host, judge it, the read-only dry run, then the real
 * stack, the state record. The layers themselves are made in host.c (the host), image.c
 * (loop devices and mounts of image paths, the volatile overlay) and linear.c (device-
 * mapper mappings); their undo is layer.c's.
 */
#include "engine/boot.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "engine/bitlocker.h"
#include "engine/dmlinear.h"
#include "engine/engine.h"
#include "engine/hoststate.h"
#include "engine/modules.h"
#include "engine/mounts.h"
#include "engine/switchroot.h"
#include "engine/uevent.h"

/* ---- API file systems ---------------------------------------------------------------- */

int boot_mount_api_filesystems(void)
{
	static const struct {
		const char *dir, *type, *source, *options;
		unsigned long flags;
	} api[] = {
	    {"/proc", "proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
	    {"/sys", "sysfs", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
	    {"/dev", "devtmpfs", "devtmpfs", "mode=0755", MS_NOSUID},
	    {"/run", "tmpfs", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV},
	};
	for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
		if (is_mount_point(api[i].dir))
			continue;
		if (mkdir(api[i].dir, 0755) < 0 && errno != EEXIST)
			return log_fail(errno, "creating", api[i].dir, NULL,
			                "the initramfs must be writable");
		if (mount(api[i].source, api[i].dir, api[i].type, api[i].flags, api[i].options) < 0)
			return log_fail(errno, "mounting", api[i].dir, NULL,
			                "the kernel needs %s support", api[i].type);
	}
	return 0;
}

/* ---- one pass ------------------------------------------------------------------------ */

static int ensure_dir(const char *path, bool may_create, const char *what, const char *hint)
{
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		return log_fail(ENOTDIR, what, path, "it is not a directory", "%s", hint);
	}
	if (!may_create)
		return log_fail(ENOENT, what, path, "the directory is missing in the image", "%s",
		                hint);
	int r = mkdir_p(path, 0755);
	if (r < 0)
		return log_fail(r, "creating", path, NULL, "%s", hint);
	return 0;
}

/* The mount point of extra image i in the root being built. */
static int extra_mount_point(struct engine *e, const char *root, unsigned i, char **ret)
{
	const struct plan_mount *m = &e->plan->mounts[i];
	_cleanup_free_ char *target = path_join(root, m->target);
	struct stat st;
	if (e->probe && !e->hc.root_ro && stat(target, &st) < 0) {
		/* The real pass will create the mount point in the writable root; the dry run
		 * still checks the image, on a scratch directory. */
		free(target);
		target = xasprintf(PROBE_DIR "/mount%u", i);
		int r = mkdir_p(target, 0700);
		if (r < 0)
			return log_fail(r, "creating", target, NULL, "/run must be writable");
	} else {
		int r = ensure_dir(target, !e->probe && !e->hc.root_ro, "mount point",
		                   "create it in the image, or boot with rw");
		if (r < 0)
			return r;
	}
	*ret = target;
	target = NULL;
	return 0;
}

/* One pass: the root image, the extra images, and the checks on the result. */
static int build_stack(struct engine *e, struct boot_result *ret)
{
	const struct plan *p = e->plan;
	_cleanup_free_ char *root = xstrdup(e->probe ? PROBE_DIR "/root" : e->opts->root_mnt);
	int r;
	strv_free(&e->parts); /* each pass attaches its partitions anew */
	if (e->probe) {
		r = mkdir_p(root, 0700);
		if (r < 0)
			return log_fail(r, "creating", root, NULL, "/run must be writable");
	}
	if (overlay_wanted(e))
		r = overlay_build_root(e, root);
	else
		r = image_build_root(e, false, root, MOUNT_ROLE_ROOT);
	if (r < 0)
		return r;

	for (unsigned i = 0; i < p->n_mounts; i++) {
		_cleanup_free_ char *target = NULL;
		r = extra_mount_point(e, root, i, &target);
		if (r >= 0)
			r = image_build(e, &p->mounts[i].image, p->mounts[i].fstype,
			                p->mounts[i].options, false, target, MOUNT_ROLE_MOUNT);
		if (r < 0)
			return r;
	}

	if (e->opts->find_init) {
		r = switchroot_find_init(root, p->init, ret ? &ret->init : NULL);
		if (r < 0)
			return log_fail(r, "init program", p->init ? p->init : "/sbin/init",
			                "not found or not executable in the image",
			                p->init
			                    ? "fix init= or install it in the image"
			                    : "install an init system in the image, or set init=");
		if (e->probe && ret) {
			free(ret->init);
			ret->init = NULL;
		}
	}
	return 0;
}

/* ---- the state record ----------------------------------------------------------------- */

/* Paths as seen from the new root: the host moved after the images were attached. */
static void to_final_path(char **path, void *userdata)
{
	struct engine *e = userdata;
	_cleanup_free_ char *moved = NULL;
	const char *rest = path_startswith(*path, HOST_STAGING);
	if (rest)
		moved = *rest ? path_join(engine_host(e)->target, rest)
		              : xstrdup(engine_host(e)->target);
	char *fin = engine_final_path(e, moved ? moved : *path);
	free(*path);
	*path = fin;
}

static int write_state(struct engine *e)
{
	struct stack s = {.v = xcalloc(e->stack.n, sizeof(struct layer)), .n = e->stack.n};
	for (size_t i = 0; i < e->stack.n; i++) {
		layer_copy(&s.v[i], &e->stack.v[i]);
		layer_for_each_path(&s.v[i], to_final_path, e);
	}
	if (s.n > e->base && s.v[e->base].kind == LAYER_HOST) {
		struct layer_host *h = &s.v[e->base].host;
		h->mode = e->linear ? PLAN_MODE_LINEAR : PLAN_MODE_LOOP;
		h->linear_refused = e->linear_refused ? xstrdup(e->linear_refused) : NULL;
	}
	int r = mkdir_p(STATE_DIR, 0755);
	if (r >= 0)
		r = state_save(&s, STATE_FILE);
	stack_free(&s);
	if (r < 0)
		return log_fail(r, "writing the state record", STATE_FILE, NULL,
		                "/run must be writable; shutdown would not know what to unmount");
	return 0;
}

/* ---- the engine ------------------------------------------------------------------------ */

static int boot_plain_root(struct engine *e, struct boot_result *ret)
{
	/* Without loop= root= is the root itself: the engine is then a plain initramfs. */
	const struct plan *p = e->plan;
	struct layer_host h = {0};
	int r = host_mount(e->mods, e->hostdev.devnode, e->hostdev.type, p->rootfstype,
	                   p->rootflags, p->read_only, e->opts->root_mnt, &h);
	if (r < 0)
		return r;
	struct stack s = {0};
	for (size_t i = 0; i < e->base; i++) /* the opened BitLocker volume */
		layer_copy(stack_push(&s, e->stack.v[i].kind), &e->stack.v[i]);
	struct layer *l = stack_push(&s, LAYER_MOUNT);
	l->mount = (struct layer_mount){.role = MOUNT_ROLE_ROOT,
	                                .source = xstrdup(h.source),
	                                .target = xstrdup("/"),
	                                .type = xstrdup(h.driver),
	                                .read_only = p->read_only};
	layer_host_done(&h);
	r = mkdir_p(STATE_DIR, 0755);
	if (r >= 0)
		r = state_save(&s, STATE_FILE);
	stack_free(&s);
	if (r < 0)
		return log_fail(r, "writing", STATE_FILE, NULL, "/run must be writable");
	if (e->opts->find_init && ret) {
		r = switchroot_find_init(e->opts->root_mnt, p->init, &ret->init);
		if (r < 0) {
			log_fail(r, "init program", p->init ? p->init : "/sbin/init",
			         "not found or not executable", "set init=");
			umount2(e->opts->root_mnt, 0);
		}
	}
	return r;
}

/*
 * Is the host safe to write, and what follows for the host and the root? Reads the
 * device's own flags before any mount, mounts the host read-only for the dry run (unless
 * that is already a refusal), and looks for Windows' hibernation file on NTFS.
 */
static int judge_host(struct engine *e)
{
	const struct plan *p = e->plan;
	struct host_facts f = {.hibernated_ro = p->hibernated_ro,
	                       .plan_ro = p->read_only,
	                       .linear = e->linear,
	                       .overlay = p->overlay != PLAN_OVERLAY_NONE};
	host_read_only_facts(e, &f);
	e->hc = decide_host(&f);
	if (e->hc.warn_ro_host && p->overlay == PLAN_OVERLAY_NONE)
		log_warn("the host %s (%s) is read-only: the root image is mounted read-only",
		         e->host_spec, strempty(e->hostdev.type));

	/* A host on the network is a server's, shared and never written: no flags to read. */
	struct hoststate_result hs = {.state = HOSTSTATE_CLEAN};
	int r = 0, step = step_begin("host state");
	if (p->net.kind == PLAN_NET_NONE)
		r = hoststate_check_device(e->hostdev.devnode, e->hostdev.type, &hs);
	step_end(step);
	if (r < 0)
		log_debug("reading the state of %s: %s", e->hostdev.devnode, strerror(-r));
	if (hs.state == HOSTSTATE_CLEAN || p->hibernated_ro) {
		/* The dry run: nothing in it can write to the host. */
		step = step_begin("host mount");
		r = nethost_premounted(e) ? 0 : host_mount_as(e, true);
		step_end(step);
		if (r < 0)
			return r;
		if (hs.state == HOSTSTATE_CLEAN && e->hostdev.type &&
		    (streq(e->hostdev.type, "ntfs") || streq(e->hostdev.type, "ntfs3")))
			(void)hoststate_check_hiberfile(HOST_STAGING, &hs);
	}
	f.unsafe = hs.state != HOSTSTATE_CLEAN;
	e->hc = decide_host(&f);
	if (e->hc.refuse)
		return log_fail(EROFS, "host not safe to write", e->host_spec, hs.why, "%s",
		                hs.todo);
	if (e->hc.volatile_root) {
		log_warn("%s: %s", e->host_spec, hs.why);
		log_info("VOLATILE SESSION (loopboot.hibernated=ro): the host is mounted "
		         "read-only and the root image read-only under a memory overlay; changes "
		         "are lost at shutdown");
	}
	if (e->linear && !e->hc.linear)
		linear_refuse(e, e->host_spec, "a volatile session uses loop devices");
	if (e->linear && p->toram)
		linear_refuse(e, e->host_spec, "loopboot.toram copies the image into RAM");
	return 0;
}

/* The dry run: the whole stack on the read-only host, then taken down again. */
static int dry_run(struct engine *e, struct boot_result *ret)
{
	e->probe = true;
	int step = step_begin("images");
	int r = build_stack(e, ret);
	(void)stack_unwind(&e->stack, e->base + 1); /* everything above the host */
	step_end(step);
	e->seq = 0;
	e->cows = 0;
	e->probe = false;
	if (r < 0)
		return r;
	log_debug("dry run passed: every file, type, mount point and the init are in place");
	return 0;
}

/* The real stack, on a host made writable (or mapped). */
static int real_pass(struct engine *e, struct boot_result *ret)
{
	int step = step_begin("udev settle"), r;
	host_udev_settle();
	step_end(step);

	if (e->linear) {
		/* The host stays read-only: the images are written through their mappings. */
		step = step_begin("linear map");
		r = linear_host(e);
		step_end(step);
		if (r < 0)
			return r;
	}
	/* With toram and nothing else on the host, nothing is ever written to it. */
	bool release = e->plan->toram && !toram_host_needed(e->plan);
	if (!e->linear && !e->hc.host_ro && !release) {
		step = step_begin("host remount");
		r = host_make_writable(e);
		step_end(step);
		if (r < 0)
			return r;
	}
	step = step_begin("images");
	r = build_stack(e, ret);
	if (r < 0 && e->linear_retry) {
		(void)stack_unwind(&e->stack, e->base + 1);
		e->seq = 0;
		e->cows = 0;
		r = linear_abandon(e);
		if (r >= 0)
			r = build_stack(e, ret);
	}
	step_end(step);
	if (r >= 0 && release)
		r = toram_release_host(e);
	if (r >= 0 && !e->host_released)
		r = host_move_into_root(e);
	if (r >= 0 && !e->host_released && engine_host(e)->fuse)
		host_write_systemd_dropin(e);
	if (r >= 0 && e->plan->net.kind != PLAN_NET_NONE)
		nethost_identity(e, e->opts->root_mnt);
	if (r >= 0)
		r = write_state(e);
	return r;
}

static int boot_images(struct engine *e, struct boot_result *ret)
{
	modules_load(e->mods, "loop");
	e->linear = e->plan->mode == PLAN_MODE_LINEAR;
	if (e->linear)
		linear_check_kernel(e);
	int step = step_begin("dry run");
	int r = judge_host(e);
	if (r >= 0)
		r = dry_run(e, ret);
	step_end(step);
	if (r >= 0) {
		step = step_begin("real pass");
		r = real_pass(e, ret);
		step_end(step);
	}
	if (r < 0) {
		(void)stack_unwind(&e->stack, 0);
		if (ret) {
			free(ret->init);
			ret->init = NULL;
		}
		return r;
	}
	_cleanup_free_ char *image = e->plan->has_loop ? imagepath_to_string(&e->plan->loop)
	                                               : xstrdup("(the export itself)");
	const char *how = e->plan->overlay != PLAN_OVERLAY_NONE ? " (read-only, under an overlay)"
	                  : e->hc.root_ro                       ? " (read-only)"
	                                                        : "";
	if (e->host_released)
		log_info("root %s%s mounted from a copy in RAM of %s on %s", image, how, image,
		         e->host_spec);
	else
		log_info("root %s%s mounted from %s (%s via %s)", image, how, e->host_spec,
		         strempty(engine_host(e)->type), engine_host(e)->driver);
	return 0;
}

int boot_run(const struct plan *plan, const struct boot_options *opts, struct boot_result *ret)
{
	/* Opened first: no device the kernel adds from here on goes unseen. */
	struct engine e = {.plan = plan, .opts = opts, .uevent_fd = uevent_open()};
	if (ret)
		*ret = (struct boot_result){0};
	e.host_spec = plan->net.kind != PLAN_NET_NONE ? plan_net_to_string(&plan->net)
	                                              : devspec_to_string(&plan->root);
	e.mods = modules_new();
	if (plan->has_loop)
		modules_preload(e.mods, "loop");

	int step = plan->net.kind != PLAN_NET_NONE ? step_begin("network host") : -1;
	int r = plan->net.kind != PLAN_NET_NONE ? nethost_wait(&e) : host_wait(&e);
	step_end(step);
	if (r >= 0 && bitlocker_is_type(e.hostdev.type)) {
		step = step_begin("bitlocker");
		if (plan->bitlocker == PLAN_BITLOCKER_NONE)
			r = log_fail(EMEDIUMTYPE, "host", e.host_spec, BITLOCKER_REASON, "%s",
			             BITLOCKER_TODO);
		else
			r = bitlocker_unlock(&e);
		step_end(step);
	}
	if (r >= 0)
		r = plan->has_loop || plan->net.kind != PLAN_NET_NONE ? boot_images(&e, ret)
		                                                      : boot_plain_root(&e, ret);
	if (r < 0)
		(void)stack_unwind(&e.stack, 0); /* an opened BitLocker volume is closed again */

	free(e.linear_refused);
	strv_free(&e.fsck_clean);
	strv_free(&e.parts);
	stack_free(&e.stack);
	device_info_free(&e.hostdev);
	modules_free(e.mods);
	if (e.uevent_fd > 0)
		close(e.uevent_fd);
	free(e.host_spec);
	return r;
}

void boot_result_free(struct boot_result *r)
{
	free(r->init);
	r->init = NULL;
}
