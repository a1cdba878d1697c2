/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/check.h"
#include "tools/initramfs.h"
#include "tools/views.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <getopt.h>
#include <libkmod.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/options.h"
#include "basic/process.h"
#include "engine/bitlocker.h"
#include "engine/cmdline.h"
#include "engine/disk.h"
#include "engine/fsck.h"
#include "engine/helpers.h"
#include "engine/hoststate.h"
#include "engine/layer.h"
#include "engine/loopdev.h"
#include "engine/modules.h"
#include "engine/mounts.h"
#include "engine/plan.h"
#include "engine/switchroot.h"
#include "engine/verdict.h"
#include "tools/cli.h"

/* More fragments than this in one image: worth a warning. */
#define FRAGMENTS_WARN 1000

/* ---- shared helpers ------------------------------------------------------------------- */

int check_fiemap_fragments(int fd, uint64_t *ret)
{
	enum { BATCH = 256 };
	size_t len = sizeof(struct fiemap) + BATCH * sizeof(struct fiemap_extent);
	_cleanup_free_ struct fiemap *fm = xcalloc(1, len);
	uint64_t start = 0, fragments = 0, next_logical = 0, next_physical = 0;
	bool first = true;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	for (;;) {
		memset(fm, 0, len);
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_flags = first ? FIEMAP_FLAG_SYNC : 0;
		fm->fm_extent_count = BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL ||
			    errno == ENOSYS)
				return -EOPNOTSUPP;
			return -errno;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		bool last = false;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *e = &fm->fm_extents[i];
			if (first || e->fe_logical != next_logical ||
			    e->fe_physical != next_physical)
				fragments++;
			first = false;
			next_logical = e->fe_logical + e->fe_length;
			next_physical = e->fe_physical + e->fe_length;
			if (e->fe_flags & FIEMAP_EXTENT_LAST)
				last = true;
		}
		if (last || next_logical <= start)
			break;
		start = next_logical;
	}
	/* A file with data but no extents: the file system answered without knowing (FUSE). */
	if (fragments == 0 && st.st_blocks > 0)
		return -EOPNOTSUPP;
	*ret = fragments;
	return 0;
}

char *check_format_size(uint64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (bytes < 1024)
		return xasprintf("%llu bytes", (unsigned long long)bytes);
	double v = (double)bytes;
	unsigned u = 0;
	v /= 1024;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (v == (double)(uint64_t)v)
		return xasprintf("%llu %s", (unsigned long long)v, units[u]);
	return xasprintf("%.1f %s", v, units[u]);
}

/* ---- fstab ---------------------------------------------------------------------------- */

static void strip_slashes(char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

static bool tag_eq(const char *value, const char *want, bool fold)
{
	if (!want || !*want)
		return false;
	size_t n = strlen(value);
	/* libmount accepts UUID="..." */
	_cleanup_free_ char *v = n >= 2 && value[0] == '"' && value[n - 1] == '"'
	                             ? xstrndup(value + 1, n - 2)
	                             : xstrdup(value);
	return fold ? strcaseeq(v, want) : streq(v, want);
}

static bool names_host(const char *spec, const struct check_host_names *h)
{
	if (h->spec && streq(spec, h->spec))
		return true;
	if (h->devnode && streq(spec, h->devnode))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(devspec_tags); i++) {
		const struct devspec_tag *t = &devspec_tags[i];
		const char *want = t->kind == DEVSPEC_UUID       ? h->uuid
		                   : t->kind == DEVSPEC_LABEL    ? h->label
		                   : t->kind == DEVSPEC_PARTUUID ? h->partuuid
		                                                 : h->partlabel;
		const char *v = startswith(spec, t->tag);
		if (!v)
			v = startswith(spec, t->link_dir);
		/* UUIDs are hex: blkid and fstab may differ in case. Labels are exact. */
		if (v && tag_eq(v, want, t->fold_case))
			return true;
	}
	return false;
}

static bool has_option(const char *opts, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = opts; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

/* The next line of an fstab text that is not blank or a comment: its number, its text
 * (allocated) and its first four fields, unescaped (allocated, NULL when missing). False
 * at the end. */
static bool fstab_next(const char **cursor, unsigned *lineno, char **ret_text, char *field[4])
{
	while (*cursor && **cursor) {
		const char *line = *cursor, *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		*cursor = nl ? nl + 1 : NULL;
		(*lineno)++;
		_cleanup_free_ char *text = xstrndup(line, len);
		strip_trailing(text);
		char *p = text + strspn(text, " \t");
		if (!*p || *p == '#')
			continue;
		char *q = p;
		for (unsigned f = 0; f < 4; f++) {
			field[f] = NULL;
			if (!*q)
				continue;
			size_t flen = strcspn(q, " \t");
			/* fstab escapes blanks and backslashes in octal: "\040" is a space. */
			field[f] = octal_unescape(q, flen);
			q += flen;
			q += strspn(q, " \t");
		}
		*ret_text = xstrdup(p);
		return true;
	}
	return false;
}

static void fields_free(char *field[4])
{
	for (unsigned f = 0; f < 4; f++)
		free(field[f]), field[f] = NULL;
}

unsigned check_fstab_host_lines(const char *fstab, const struct check_host_names *host,
                                const char *hostdir, struct strv *ret_auto, struct strv *ret_noauto)
{
	unsigned found = 0, lineno = 0;
	_cleanup_free_ char *want_dir = xstrdup(hostdir ? hostdir : PLAN_DEFAULT_HOSTDIR);
	strip_slashes(want_dir);
	char *field[4], *text;
	for (const char *cursor = fstab; fstab_next(&cursor, &lineno, &text, field);) {
		bool match = false;
		if (field[1]) {
			strip_slashes(field[1]);
			match = streq(field[1], want_dir);
		}
		if (!match && field[0])
			match = names_host(field[0], host);
		bool noauto = field[3] && has_option(field[3], "noauto");
		fields_free(field);
		if (match) {
			found++;
			strv_push(noauto ? ret_noauto : ret_auto,
			          xasprintf("line %u: %s", lineno, text));
		}
		free(text);
	}
	return found;
}

int check_fstab_root(const char *fstab, unsigned *ret_line)
{
	unsigned lineno = 0;
	int found = 0;
	char *field[4], *text;
	for (const char *cursor = fstab; fstab_next(&cursor, &lineno, &text, field);) {
		if (field[1]) {
			strip_slashes(field[1]);
			/* The last line for / is the one that counts, as with mount -a. */
			if (streq(field[1], "/")) {
				found = field[3] && has_option(field[3], "ro") ? -1 : 1;
				*ret_line = lineno;
			}
		}
		fields_free(field);
		free(text);
	}
	return found;
}

/* ---- the doctor ------------------------------------------------------------------------ */

enum level { LEVEL_OK, LEVEL_WARN, LEVEL_PROBLEM };

struct doctor {
	const struct plan *plan;
	unsigned count[3];
	char *spec;
	struct device_info dev;
	const char *host_type; /* what the host is mounted as: rootfstype= or blkid's type */
	struct modules *mods;
	struct kmod_ctx *kmod;
	struct views vs; /* what we look into: mounts of ours, read-only, or the system's */
	int host_view;   /* index in views, -1 when the host could not be looked into */
	bool host_unsafe;
	bool image_kernel;      /* the entry loads the kernel from inside the image */
	const char *boot_image; /* BOOT_IMAGE= of the line checked, or NULL */
};

static void finding(struct doctor *d, enum level l, const char *what, const char *value,
                    const char *detail, const char *fix_fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void finding(struct doctor *d, enum level l, const char *what, const char *value,
                    const char *detail, const char *fix_fmt, ...)
{
	static const char *const words[] = {"ok", "warning", "problem"};
	d->count[l]++;
	char fix[600] = "";
	if (fix_fmt) {
		va_list ap;
		va_start(ap, fix_fmt);
		vsnprintf(fix, sizeof(fix), fix_fmt, ap);
		va_end(ap);
	}
	printf("%s: %s", words[l], what);
	if (value)
		printf(": %s", value);
	if (detail)
		printf(": %s", detail);
	if (*fix)
		printf(" — %s", fix);
	putchar('\n');
	fflush(stdout);
}

/* ---- drivers --------------------------------------------------------------------------- */

/* Whether this kernel's modules directory has name (a module or an alias such as fs-X). */
static bool kmod_has(struct doctor *d, const char *name)
{
	if (!d->kmod)
		return false;
	struct kmod_list *list = NULL;
	if (kmod_module_new_from_lookup(d->kmod, name, &list) < 0 || !list)
		return false;
	kmod_module_unref_list(list);
	return true;
}

/* NULL when the kernel cannot have it; otherwise how it has it. */
static const char *kernel_has_fs(struct doctor *d, const char *fstype)
{
	if (modules_fs_registered(fstype))
		return "in the running kernel";
	_cleanup_free_ char *alias = xasprintf("fs-%s", fstype);
	if (kmod_has(d, alias) || kmod_has(d, fstype))
		return "a module of this kernel";
	return NULL;
}

static bool fuse_available(struct doctor *d)
{
	return modules_fs_registered("fuse") || modules_fs_registered("fuseblk") ||
	       kmod_has(d, "fuse");
}

/* rootfstype= names a FUSE program: is it there, and can the kernel run it? */
static void check_fuse_asked(struct doctor *d, const char *prog)
{
	_cleanup_free_ char *path = find_program(prog, PROGRAM_SEARCH_STANDARD);
	if (!path)
		finding(d, LEVEL_PROBLEM, "host driver", prog, "rootfstype= asks for it",
		        "it is not installed: install it, or drop rootfstype=");
	else if (!fuse_available(d))
		finding(d, LEVEL_PROBLEM, "host driver", prog, "the kernel has no fuse",
		        "use a kernel with FUSE (module fuse)");
	else
		finding(d, LEVEL_OK, "host driver", prog, "FUSE, as rootfstype= asks", NULL);
}

/* A host type with a FUSE stand-in (helpers.c): the kernel's driver, else FUSE. */
static void check_fuse_host(struct doctor *d, const char *type, const struct fs_helper *h)
{
	const struct plan *p = d->plan;
	const char *kernel = h->kernel ? h->kernel : h->type;
	const char *how = kernel_has_fs(d, kernel);
	if (how) {
		_cleanup_free_ char *detail = xasprintf("the kernel's %s (%s)", kernel, how);
		finding(d, LEVEL_OK, "host driver", type, detail, NULL);
		return;
	}
	if (p->rootfstype && !streq(p->rootfstype, type)) {
		finding(d, LEVEL_PROBLEM, "host driver", p->rootfstype,
		        "rootfstype= asks for a kernel driver this kernel does not have",
		        "drop rootfstype= (FUSE is then used) or use a kernel with %s", kernel);
		return;
	}
	for (size_t j = 0; j < ARRAY_SIZE(h->fuse) && h->fuse[j]; j++) {
		_cleanup_free_ char *path = find_program(h->fuse[j], PROGRAM_SEARCH_STANDARD);
		if (!path)
			continue;
		if (!fuse_available(d)) {
			finding(d, LEVEL_PROBLEM, "host driver", type,
			        "the kernel has neither its driver nor fuse",
			        "use a kernel with %s or fuse", kernel);
			return;
		}
		_cleanup_free_ char *detail =
		    xasprintf("%s (FUSE); the kernel has no %s", h->fuse[j], kernel);
		finding(d, LEVEL_OK, "host driver", type, detail, NULL);
		return;
	}
	_cleanup_free_ char *detail =
	    xasprintf("neither the kernel's %s nor %s is available", kernel, h->fuse[0]);
	finding(d, LEVEL_PROBLEM, "host driver", type, detail,
	        "install %s (apt-get install %s), then rebuild the initramfs", h->fuse[0],
	        h->fuse_package);
}

static void check_host_driver(struct doctor *d)
{
	const struct plan *p = d->plan;
	const char *type = d->host_type;
	const char *prog = p->rootfstype ? startswith(p->rootfstype, "fuse.") : NULL;
	if (!prog && fs_helper_for_fuse_program(p->rootfstype))
		prog = p->rootfstype;
	if (prog) {
		check_fuse_asked(d, prog);
		return;
	}
	const struct fs_helper *h = fs_helper_for(type);
	if (h && h->fuse[0]) {
		check_fuse_host(d, type, h);
		return;
	}
	const char *kernel = p->rootfstype ? p->rootfstype : type;
	const char *how = kernel_has_fs(d, kernel);
	if (how) {
		_cleanup_free_ char *detail = xasprintf("the kernel's %s (%s)", kernel, how);
		finding(d, LEVEL_OK, "host driver", kernel, detail, NULL);
	} else {
		finding(d, LEVEL_PROBLEM, "host driver", kernel, "the kernel has no driver for it",
		        "use a kernel with the %s module", kernel);
	}
}

static void check_kernel_fs(struct doctor *d, const char *what, const char *fstype)
{
	const char *how = kernel_has_fs(d, fstype);
	if (how) {
		_cleanup_free_ char *detail = xasprintf("%s (%s)", what, how);
		finding(d, LEVEL_OK, "driver", fstype, detail, NULL);
	} else {
		_cleanup_free_ char *detail =
		    xasprintf("%s: the kernel has no driver for it", what);
		finding(d, LEVEL_PROBLEM, "driver", fstype, detail,
		        "use a kernel with the %s module, or another file system in the image",
		        fstype);
	}
}

static void check_loop_driver(struct doctor *d)
{
	if (access("/dev/loop-control", F_OK) == 0 || access("/sys/module/loop", F_OK) == 0)
		finding(d, LEVEL_OK, "driver", "loop", "loop devices (in the running kernel)",
		        NULL);
	else if (kmod_has(d, "loop"))
		finding(d, LEVEL_OK, "driver", "loop", "loop devices (a module of this kernel)",
		        NULL);
	else
		finding(d, LEVEL_PROBLEM, "driver", "loop", "the kernel has no loop devices",
		        "use a kernel with loop support (module loop)");
}

/* ---- the host -------------------------------------------------------------------------- */

static void report_host_state(struct doctor *d, const struct hoststate_result *hs)
{
	if (hs->state == HOSTSTATE_CLEAN)
		return;
	d->host_unsafe = true;
	if (d->plan->hibernated_ro)
		finding(d, LEVEL_WARN, "host not safe to write", d->spec, hs->why,
		        "loopboot.hibernated=ro boots it as a read-only volatile session; to keep "
		        "changes: %s",
		        hs->todo);
	else
		finding(d, LEVEL_PROBLEM, "host not safe to write", d->spec, hs->why, "%s",
		        hs->todo);
}

/* Finds the host's files: an existing mount of the whole volume, or a read-only mount of
 * our own. Returns the view index, or -errno after a finding. */
static int open_host(struct doctor *d)
{
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	int fd = mount_open_device(d->dev.devnode, &m);
	if (fd >= 0) {
		int i = views_add(&d->vs, fd, m.target);
		_cleanup_free_ char *detail =
		    xasprintf("mounted at %s (%s): looked at there", m.target, m.fstype);
		finding(d, LEVEL_OK, "host files", d->spec, detail, NULL);
		return i;
	}

	int r = views_enter(&d->vs);
	if (r < 0) {
		finding(d, LEVEL_WARN, "looking inside the host", d->spec, strerror(-r),
		        "run loopboot check as root");
		return r;
	}
	_cleanup_free_ char *dir = views_scratch_dir(&d->vs);
	if (!dir)
		return -errno;
	_cleanup_free_ char *opts = options_join(
	    d->plan->rootflags,
	    options_no_replay(d->plan->rootfstype ? d->plan->rootfstype : d->host_type));
	struct layer_host fm = {0};
	/* host_mount() prints its own loopboot: line when it fails. */
	r = host_mount(d->mods, d->dev.devnode, d->dev.type, d->plan->rootfstype, opts, true, dir,
	               &fm);
	if (r < 0) {
		rmdir(dir);
		finding(d, LEVEL_PROBLEM, "mounting the host read-only", d->spec, strerror(-r),
		        "see the message above: the boot would fail the same way");
		return r;
	}
	d->vs.host_daemon = fm.daemon_pid;
	_cleanup_free_ char *detail =
	    xasprintf("mounted read-only with %s for this check", fm.driver);
	layer_host_done(&fm);
	r = views_detach(&d->vs, dir);
	if (r < 0) {
		finding(d, LEVEL_WARN, "looking inside the host", d->spec, strerror(-r),
		        "report this as a bug");
		return r;
	}
	finding(d, LEVEL_OK, "host files", d->spec, detail, NULL);
	return r;
}

/* ---- images ---------------------------------------------------------------------------- */

struct ext_state {
	bool valid, errors, needs_recovery;
};

static bool read_ext_state(int fd, struct ext_state *ret)
{
	unsigned char sb[1024];
	if (pread(fd, sb, sizeof(sb), 1024) != (ssize_t)sizeof(sb))
		return false;
	if ((sb[0x38] | sb[0x39] << 8) != 0xef53)
		return false;
	unsigned state = sb[0x3a] | sb[0x3b] << 8;
	uint32_t incompat = (uint32_t)sb[0x60] | (uint32_t)sb[0x61] << 8 |
	                    (uint32_t)sb[0x62] << 16 | (uint32_t)sb[0x63] << 24;
	*ret = (struct ext_state){
	    .valid = state & 1, .errors = state & 2, .needs_recovery = incompat & 0x4};
	return true;
}

/* Runs the checker read-only (-n), its messages thrown away: the finding says it. */
static void run_checker(const char *prog, const char *devnode, struct process_result *ret)
{
	bool e2 = strstr(prog, "e2fsck") != NULL;
	char *argv[] = {(char *)prog, "-n", e2 ? "-f" : (char *)devnode,
	                e2 ? (char *)devnode : NULL, NULL};
	static const struct process_options quiet = {
	    .stdio = {STDIO_NULL, STDIO_NULL, STDIO_NULL},
	};
	(void)process_run(NULL, argv, &quiet, ret);
}

static const char *type_word(const char *t)
{
	return t ? t : "?";
}

/* The file system's own state: superblock flags for ext*, then the checker when installed. */
static void check_fs_state(struct doctor *d, int fd, const char *devnode, const char *path,
                           const char *type, bool written)
{
	const struct plan *p = d->plan;
	struct ext_state es;
	bool is_ext = startswith(type, "ext") && read_ext_state(fd, &es);
	/* Errors matter most when the image is written: the engine checks it then (fsck.repair=)
	 * and refuses what it may not repair. */
	enum level err_level =
	    written && p->fsck_repair == PLAN_FSCK_REPAIR_NO ? LEVEL_PROBLEM : LEVEL_WARN;
	const char *err_fix =
	    written && p->fsck_repair != PLAN_FSCK_REPAIR_NO
	        ? "the boot repairs what fsck can repair safely (fsck.repair=); to be sure, run "
	          "e2fsck -f on the image file first (fsck.fat/fsck.exfat for those)"
	        : "repair it: run e2fsck -f (fsck.fat/fsck.exfat for those) on the image file "
	          "while it is not in use";
	if (is_ext && es.errors) {
		finding(d, err_level, "file system errors in", path,
		        "the ext superblock records errors", "%s", err_fix);
		return;
	}
	_cleanup_free_ char *prog = fsck_find(type);
	if (prog) {
		struct process_result res;
		run_checker(prog, devnode, &res);
		int rc = res.end == PROCESS_EXITED ? res.status : -1;
		const char *name = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
		if (rc == 0) {
			_cleanup_free_ char *detail =
			    xasprintf("%s, clean (%s %s, read-only)", type, name,
			              strstr(name, "e2fsck") ? "-fn" : "-n");
			finding(d, LEVEL_OK, "file system", path, detail, NULL);
		} else if (rc > 0 && (rc & 4)) {
			_cleanup_free_ char *detail =
			    xasprintf("%s -n found errors in the %s file system", name, type);
			finding(d, err_level, "file system errors in", path, detail, "%s", err_fix);
		} else if (rc > 0 && (rc & 3) && !(rc & 8)) {
			_cleanup_free_ char *detail = xasprintf(
			    "%s -n reports it needs attention (exit status %d)", name, rc);
			finding(d, LEVEL_WARN, "file system", path, detail,
			        "run %s on the image file while it is not in use", name);
		} else {
			_cleanup_free_ char *how = process_result_message(&res);
			_cleanup_free_ char *detail =
			    xasprintf("%s could not check it (%s)", name, how);
			finding(d, LEVEL_WARN, "file system", path, detail,
			        "check the image file with %s by hand", name);
		}
		return;
	}
	if (is_ext) {
		_cleanup_free_ char *detail =
		    xasprintf("%s, %s (superblock; e2fsck is not installed)", type,
		              es.valid ? "clean" : "not unmounted cleanly: it is checked at boot");
		finding(d, LEVEL_OK, "file system", path, detail, NULL);
		return;
	}
	_cleanup_free_ char *detail =
	    xasprintf("%s (no checker installed: its state not read)", type);
	finding(d, LEVEL_OK, "file system", path, detail, NULL);
}

/* A verdict against the image, as a problem: the same rules and words as the boot's. */
static void verdict_finding(struct doctor *d, const struct verdict *v, const struct image_facts *f)
{
	if (v->code == VERDICT_TYPE_MISMATCH) {
		/* check's own wording, which its tests pin (docs/design.md) */
		_cleanup_free_ char *detail =
		    xasprintf("it holds %s, the command line says %s", f->type, f->wanted);
		finding(d, LEVEL_PROBLEM, "image type", v->value, detail,
		        "fix loopfstype= (or the FSTYPE of loopboot.mount=), or drop it");
		return;
	}
	finding(d, LEVEL_PROBLEM, v->what, v->value, v->reason, "%s", v->todo);
}

/* What check says of the file beyond the verdict: its size, holes, fragments. */
static void file_findings(struct doctor *d, int fd, const struct image_facts *f, const char *path,
                          const char *where)
{
	_cleanup_free_ char *sz = check_format_size(f->size);
	_cleanup_free_ char *detail = xasprintf("%s on %s", sz, where);
	finding(d, LEVEL_OK, "image", path, detail, NULL);
	if (f->allocated < f->size) {
		_cleanup_free_ char *a = check_format_size(f->allocated);
		_cleanup_free_ char *sparse =
		    xasprintf("it is sparse: only %s of it is allocated", a);
		finding(d, LEVEL_WARN, "image", path, sparse,
		        "writes inside it fail when the host fills up; make a full copy (loopboot "
		        "create a new image and copy the files over, or cp --sparse=never)");
	}
	uint64_t frags;
	int r = check_fiemap_fragments(fd, &frags);
	if (r == 0 && frags > FRAGMENTS_WARN) {
		_cleanup_free_ char *many = xasprintf("%llu extents: the file is badly fragmented",
		                                      (unsigned long long)frags);
		finding(d, LEVEL_WARN, "fragmentation", path, many,
		        "copy it to a new image made with loopboot create (after defragmenting the "
		        "host, e.g. defrag in Windows)");
	} else if (r == 0) {
		_cleanup_free_ char *n =
		    xasprintf("%llu extent%s", (unsigned long long)frags, frags == 1 ? "" : "s");
		finding(d, LEVEL_OK, "fragmentation", path, n, NULL);
	} else {
		finding(d, LEVEL_OK, "fragmentation", path,
		        "not reported by the host file system (no FIEMAP)", NULL);
	}
}

/* "GPT", "MBR": a partition table as people know it. */
static const char *table_word(const char *table)
{
	return streq_ptr(table, "gpt") ? "GPT" : streq_ptr(table, "dos") ? "MBR" : table;
}

/* A disk image's partitions, one line each under the finding that names the disk. */
static void list_parts(const struct disk *disk)
{
	views_list_parts(stdout, "    ", disk);
}

/* What a disk image (a VM's disk) is, its partitions, and the one chosen and why; or the
 * refusal in the boot's words (the verdict disk_resolve() filled). */
static void disk_findings(struct doctor *d, const char *path, bool holds_root, int r,
                          const struct disk_slice *s, const struct verdict *v)
{
	const struct disk *disk = &s->disk;
	if (r < 0 && v->code != VERDICT_PARTITION) {
		finding(d, LEVEL_PROBLEM, v->what, v->value, v->reason, "%s", strempty(v->todo));
		return;
	}
	_cleanup_free_ char *what = NULL;
	if (disk->table)
		what = xasprintf("%s, %s partition table, %zu partition%s",
		                 disk_format_name(disk->h.format), table_word(disk->table),
		                 disk->n_parts, disk->n_parts == 1 ? "" : "s");
	else
		what = xasprintf("%s holding one file system (no partition table)",
		                 disk_format_name(disk->h.format));
	finding(d, LEVEL_OK, "disk image", path, what, NULL);
	if (r < 0) {
		finding(d, LEVEL_PROBLEM, v->what, v->value, v->reason, "%s", strempty(v->todo));
		list_parts(disk);
		return;
	}
	list_parts(disk);
	if (!s->has_part)
		return;
	_cleanup_free_ char *which = xasprintf("%u of %s", disk->parts[s->index].number, path);
	finding(d, LEVEL_OK, holds_root ? "root partition" : "partition", which, s->why, NULL);
}

/*
 * Opens one image file in the view dirv and judges it as the boot would (verdict.c),
 * with check's own findings about the file on the way. A disk image (disk_resolve(), its
 * partition chosen by sel) is judged in its partition, *slice saying which. Returns 0 with
 * *ret_fd and *ret_type, or -errno after the problem was reported.
 */
static int image_judged(struct doctor *d, int dirv, const char *path, const char *where,
                        const char *wanted, const struct partsel *sel, bool holds_root, int *ret_fd,
                        char **ret_type, struct disk_slice *slice)
{
	int dirfd = views_fd(&d->vs, dirv);
	_cleanup_close_ int fd = open_in_root(dirfd, path, O_RDONLY | O_NONBLOCK);
	*slice = (struct disk_slice){0};
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		struct verdict dv;
		int r = disk_resolve(dirfd, path, &fd, false, sel, slice, &dv);
		if (r != 0)
			disk_findings(d, path, holds_root, r, slice, &dv);
		verdict_done(&dv);
		if (r < 0)
			return r;
	}
	bool disk = slice->disk.h.format != DISK_NONE;
	_cleanup_free_ char *name = disk ? disk_slice_describe(slice, path) : NULL;
	struct image_facts f = {.path = path, .where = where, .wanted = wanted};
	_cleanup_free_ char *type = NULL;
	image_facts_read(fd, &f, &type);
	/* The file's own facts: a VMDK's are its extent's, which holds the data. */
	if (!f.open_errno && S_ISREG(f.mode))
		file_findings(d, fd, &f, slice->data_path ? slice->data_path : path, where);
	if (disk) {
		free(type);
		disk_slice_facts(fd, slice, &f, &type);
		f.path = name;
	}
	struct verdict v;
	int r = image_verdict(&f, &v);
	if (r < 0) {
		verdict_finding(d, &v, &f);
		verdict_done(&v);
		return r;
	}
	*ret_fd = fd;
	fd = -1;
	*ret_type = type;
	type = NULL;
	return 0;
}

/* An image in use already (the running system's root): looked at where it is mounted.
 * Returns 1 with *ret_view, 0 when it is not in use, or -errno. */
static int image_in_use(struct doctor *d, int fd, uint64_t offset, const char *path, int *ret_view)
{
	_cleanup_free_ char *busy = views_loop_of(fd, offset);
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	if (!busy || mount_find_device(NULL, busy, &m) <= 0)
		return 0;
	_cleanup_free_ char *detail =
	    xasprintf("in use: %s, mounted at %s; not checked while mounted", busy, m.target);
	finding(d, LEVEL_OK, "file system", path, detail, NULL);
	int vfd = open(m.target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	*ret_view = vfd >= 0 ? views_add(&d->vs, vfd, m.target) : -errno;
	return *ret_view < 0 ? *ret_view : 1;
}

/* A read-only mount of the image's loop device, kept as a view. Returns it or -errno. */
static int image_view(struct doctor *d, const struct loopdev *loop, const char *path,
                      const char *type)
{
	int r = views_enter(&d->vs);
	_cleanup_free_ char *dir = r < 0 ? NULL : views_scratch_dir(&d->vs);
	if (dir)
		r = mount_fs(loop->devnode, dir, type, true, options_no_replay(type));
	else if (r >= 0)
		r = -errno;
	if (r < 0) {
		if (dir)
			rmdir(dir);
		_cleanup_free_ char *detail =
		    xasprintf("a read-only %s mount failed: %s", type, strerror(-r));
		finding(d, LEVEL_PROBLEM, "mounting the image", path, detail,
		        "the file system may be damaged: check it with fsck");
		return r;
	}
	return views_detach(&d->vs, dir);
}

/*
 * Looks at one image path, layer by layer: the file, its type and state, fragmentation,
 * the driver. Layers that lead further (and the last one when keep_last) are mounted
 * read-only; returns the view index of the last layer (-1 when not mounted) or -errno.
 */
static int check_image(struct doctor *d, const struct imagepath *ip, const char *fstype,
                       bool written, bool keep_last)
{
	int dirv = d->host_view;
	_cleanup_free_ char *where = xasprintf("the host %s", d->spec);
	/* The selector names the partition of the path's first disk image (as the boot). */
	static const struct partsel automatic = {.kind = PARTSEL_AUTO};
	const struct partsel *sel = &ip->sel;
	for (unsigned i = 0; i < ip->n; i++) {
		bool last = i + 1 == ip->n;
		const char *path = ip->part[i];
		_cleanup_close_ int fd = -1;
		_cleanup_free_ char *type = NULL;
		_cleanup_(disk_slice_done) struct disk_slice slice = {0};
		int r = image_judged(d, dirv, path, where, last ? fstype : NULL, sel,
		                     last && keep_last && ip == &d->plan->loop, &fd, &type, &slice);
		if (r < 0)
			return r;
		bool disk = slice.disk.h.format != DISK_NONE;
		if (disk)
			sel = &automatic;
		const char *mount_type = last && fstype ? fstype : type;
		_cleanup_free_ char *what = xasprintf("for %s", path);
		check_kernel_fs(d, what, mount_type);

		int view = -1;
		r = image_in_use(d, fd, disk ? slice.offset : 0, path, &view);
		if (r == 0) {
			struct loopdev loop;
			/* A disk image: a loop device over its partition's bytes, as the boot's. */
			const char *backing = slice.data_path ? slice.data_path : path;
			r = disk ? loopdev_attach_range(fd, backing, true, slice.offset, slice.size,
			                                &loop)
			         : loopdev_attach(fd, backing, true, &loop);
			if (r < 0) {
				finding(d, LEVEL_PROBLEM, "attaching a read-only loop device to",
				        path, strerror(-r),
				        "the kernel needs loop support (module loop)");
				return r;
			}
			/* The superblock is read through the device: the partition's start. */
			check_fs_state(d, disk ? loop.fd : fd, loop.devnode, path, mount_type,
			               last ? written : !d->host_unsafe);
			if (last && !keep_last) {
				loopdev_release(&loop);
				return -1;
			}
			r = view = image_view(d, &loop, path, mount_type);
			/* the mount holds the device now; autoclear frees it */
			loopdev_release(&loop);
		}
		if (r < 0)
			return r;
		dirv = view;
		free(where);
		where = xasprintf("the image %s", path);
	}
	if (ip->sel.kind != PARTSEL_AUTO && sel != &automatic) {
		struct verdict v;
		_cleanup_free_ char *value = NULL;
		int r = disk_selector_unused(ip, ip == &d->plan->loop, &v, &value);
		finding(d, LEVEL_PROBLEM, v.what, v.value, v.reason, "%s", v.todo);
		verdict_done(&v);
		return r;
	}
	return dirv;
}

/* ---- inside the root image --------------------------------------------------------------- */

static bool dir_in(int rootfd, const char *path)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_PATH | O_DIRECTORY);
	return fd >= 0;
}

/* Read-only roots: without rw the engine mounts the image read-only; only a line for / in
 * the image's fstab makes it read-write later. */
static void check_root_mode(struct doctor *d, const char *fstab)
{
	if (!d->plan->read_only || d->plan->overlay != PLAN_OVERLAY_NONE)
		return;
	unsigned line = 0;
	int r = fstab ? check_fstab_root(fstab, &line) : 0;
	if (r > 0) {
		_cleanup_free_ char *detail = xasprintf(
		    "mounted read-only, then read-write by the image's /etc/fstab (line %u)", line);
		finding(d, LEVEL_OK, "root mode", "ro", detail, NULL);
		return;
	}
	finding(d, LEVEL_WARN, "root mode", "no rw",
	        r < 0 ? "the image's /etc/fstab keeps / read-only (ro): the system stays so"
	              : "the image's /etc/fstab has no line for /: the system stays read-only",
	        "add rw to the entry, or a line for / (without ro) to the image's /etc/fstab");
}

/* The entry loads the image's kernel: its initramfs must carry loopboot's hook. */
static void check_own_initramfs(struct doctor *d, int rootfd)
{
	if (!d->image_kernel)
		return;
	const char *k = d->boot_image;
	if (k && k[0] == '(') /* GRUB's device, "(loop0)/boot/vmlinuz" */
		k = strchr(k, ')') ? strchr(k, ')') + 1 : k;
	_cleanup_free_ char *want = k ? views_initrd_for(k) : NULL;
	const char *candidates[] = {want, "/boot/initrd.img", "/initrd.img"};
	const char *path = NULL;
	_cleanup_close_ int fd = -1;
	for (size_t i = 0; i < ARRAY_SIZE(candidates) && fd < 0; i++)
		if (candidates[i] && (i == 0 || !want)) {
			path = candidates[i];
			fd = open_in_root(rootfd, path, O_RDONLY | O_CLOEXEC);
		}
	if (fd < 0) {
		finding(d, LEVEL_PROBLEM, "the image's initramfs", path ? path : "/initrd.img",
		        "not found, and the entry loads the image's kernel",
		        "install initramfs-tools and loopboot in the image (update-initramfs -u), "
		        "or boot with loopboot iso's own initramfs");
		return;
	}
	const struct initramfs_hook *hook = NULL;
	const char *program = NULL;
	int r = initramfs_find_hook(fd, &hook, &program);
	if (r > 0) {
		_cleanup_free_ char *detail =
		    xasprintf("has loopboot's hook (%s: %s)", hook->framework, hook->marker);
		finding(d, LEVEL_OK, "the image's initramfs", path, detail, NULL);
	} else if (r == 0) {
		finding(d, LEVEL_WARN, "the image's initramfs", path,
		        "lacks loopboot's hook, and the entry loads the image's kernel: it cannot "
		        "mount the image",
		        "install loopboot in the image and rebuild it (update-initramfs -u, or "
		        "dracut --force), or boot with loopboot iso's own initramfs");
	} else {
		finding(d, LEVEL_WARN, "the image's initramfs", path,
		        r == -ENOENT ? "compressed with a program not installed here"
		                     : strerror(-r),
		        r == -ENOENT ? "install %s to check it" : "check it with lsinitramfs",
		        r == -ENOENT ? program : "");
	}
}

static void check_root_contents(struct doctor *d, int rootv)
{
	const struct plan *p = d->plan;
	int rootfd = views_fd(&d->vs, rootv);
	_cleanup_free_ char *init = NULL;
	if (switchroot_find_init(views_path(&d->vs, rootv), p->init, &init) == 0)
		finding(d, LEVEL_OK, "init", init, "found in the root image", NULL);
	else if (dir_in(rootfd, "/upper") && dir_in(rootfd, "/work")) {
		/* A layer made by create --overlay given as the root: what it is, not the
		 * host directory, mount points and fstab it does not have. */
		_cleanup_free_ char *loop = imagepath_to_string(&p->loop);
		finding(d, LEVEL_PROBLEM, "root image", loop,
		        "an overlay layer (upper/ and work/, as loopboot create --overlay makes "
		        "it), not a root file system",
		        "give it as loopboot.overlay=%s beside the loop= of a read-only root image",
		        loop);
		return;
	} else
		finding(d, LEVEL_PROBLEM, "init program", p->init ? p->init : "/sbin/init",
		        "not found or not executable in the root image",
		        p->init ? "fix init= or install it in the image"
		                : "install an init system in the image, or set init=");

	/* An overlay root is writable, whatever ro says: missing directories are made. */
	bool rw = !p->read_only || p->overlay != PLAN_OVERLAY_NONE;
	if (dir_in(rootfd, p->hostdir))
		finding(d, LEVEL_OK, "host directory", p->hostdir, "present in the root image",
		        NULL);
	else if (rw)
		finding(d, LEVEL_OK, "host directory", p->hostdir,
		        "missing in the root image: created at boot (rw)", NULL);
	else
		finding(d, LEVEL_WARN, "host directory", p->hostdir,
		        "missing in the read-only root image: the host stays at /run/loopboot/host",
		        "create %s in the image", p->hostdir);

	for (unsigned i = 0; i < p->n_mounts; i++) {
		const char *t = p->mounts[i].target;
		bool nested = false;
		for (unsigned j = 0; j < i; j++) {
			const char *rest = path_startswith(t, p->mounts[j].target);
			if (rest && *rest)
				nested = true;
		}
		if (nested || dir_in(rootfd, t))
			finding(d, LEVEL_OK, "mount point", t,
			        nested ? "inside another extra image" : "present in the root image",
			        NULL);
		else if (rw)
			finding(d, LEVEL_OK, "mount point", t,
			        "missing in the root image: created at boot (rw)", NULL);
		else
			finding(d, LEVEL_PROBLEM, "mount point", t,
			        "the directory is missing in the read-only root image",
			        "create it in the image, or boot with rw");
	}

	_cleanup_close_ int ffd = open_in_root(rootfd, "/etc/fstab", O_RDONLY);
	_cleanup_free_ char *fstab = NULL;
	if (ffd >= 0) {
		_cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", ffd);
		(void)read_file(path, &fstab, NULL);
	}
	check_root_mode(d, fstab);
	check_own_initramfs(d, rootfd);
	if (!fstab) {
		finding(d, LEVEL_OK, "fstab", "/etc/fstab", "none in the root image", NULL);
		return;
	}
	struct check_host_names names = {
	    .devnode = d->dev.devnode,
	    .uuid = d->dev.uuid,
	    .label = d->dev.label,
	    .partuuid = d->dev.partuuid,
	    .partlabel = d->dev.partlabel,
	    .spec = d->spec,
	};
	struct strv bad = {0}, noauto = {0};
	check_fstab_host_lines(fstab, &names, p->hostdir, &bad, &noauto);
	for (size_t i = 0; i < bad.n; i++)
		finding(d, LEVEL_PROBLEM, "the image's /etc/fstab mounts the host", bad.v[i], NULL,
		        "loopboot mounts the host at %s already, and a second mount of the same "
		        "volume can corrupt it: remove the line",
		        p->hostdir);
	for (size_t i = 0; i < noauto.n; i++)
		finding(d, LEVEL_WARN, "the image's /etc/fstab names the host", noauto.v[i], NULL,
		        "it is noauto, but mounting it by hand while loopboot has it at %s can "
		        "corrupt it: remove the line",
		        p->hostdir);
	if (!bad.n && !noauto.n)
		finding(d, LEVEL_OK, "fstab", "/etc/fstab", "does not mount the host again", NULL);
	strv_free(&bad);
	strv_free(&noauto);
}

/* loopboot.overlay=: the kernel's overlayfs, and a layer file on the host with its upper/
 * and work/. A partition is only named: it may be on another disk. */
static void check_overlay(struct doctor *d)
{
	const struct plan *p = d->plan;
	check_kernel_fs(d, "for the overlay root", "overlay");
	if (p->overlay == PLAN_OVERLAY_TMPFS) {
		finding(d, LEVEL_OK, "overlay", "tmpfs",
		        "the root image read-only under a layer in RAM (lost at shutdown)", NULL);
		return;
	}
	if (p->overlay == PLAN_OVERLAY_DEVICE) {
		_cleanup_free_ char *dev = devspec_to_string(&p->overlay_dev);
		finding(d, LEVEL_OK, "overlay", dev,
		        "a layer on a partition: looked for at boot, not checked here", NULL);
		return;
	}
	struct imagepath ip = {.n = 1, .part = {p->overlay_path}};
	int v = check_image(d, &ip, NULL, !d->host_unsafe && !p->overlay_readonly, true);
	if (v < 0)
		return;
	int fd = views_fd(&d->vs, v);
	if (dir_in(fd, "/upper") && dir_in(fd, "/work"))
		finding(d, LEVEL_OK, "overlay layer", p->overlay_path, "holds upper/ and work/",
		        NULL);
	else if (dir_in(fd, "/upper") || !p->overlay_readonly)
		finding(d, LEVEL_WARN, "overlay layer", p->overlay_path,
		        "upper/ or work/ is missing: the boot makes it",
		        "make layers with loopboot create FILE --size SIZE --overlay");
	else
		finding(d, LEVEL_PROBLEM, "overlay layer", p->overlay_path,
		        "it has no upper/ directory, and loopboot.overlay.readonly keeps it so",
		        "make it with loopboot create FILE --size SIZE --overlay, or boot without "
		        "loopboot.overlay.readonly once");
}

/* ---- the whole entry ------------------------------------------------------------------- */

/*
 * A BitLocker host: refused without loopboot.bitlocker=, as the boot refuses it. With it,
 * what the boot needs (libcryptsetup); and when the volume is opened on this machine
 * (cryptsetup open --type bitlk), the checks go on through that mapping. Returns whether
 * they go on.
 */
static bool check_bitlocker(struct doctor *d)
{
	const struct plan *p = d->plan;
	if (!bitlocker_is_type(d->dev.type))
		return true;
	if (p->bitlocker == PLAN_BITLOCKER_NONE) {
		finding(d, LEVEL_PROBLEM, "host", d->spec, BITLOCKER_REASON, "%s", BITLOCKER_TODO);
		return false;
	}
	void *lib = dlopen(BITLOCKER_LIBRARY, RTLD_LAZY | RTLD_LOCAL);
	if (lib) {
		dlclose(lib);
		finding(d, LEVEL_OK, "BitLocker", d->spec,
		        p->bitlocker == PLAN_BITLOCKER_ASK
		            ? "opened at boot with the recovery password asked on the console "
		              "(libcryptsetup is installed here)"
		            : "opened at boot with the key file of loopboot.bitlocker= "
		              "(libcryptsetup is installed here)",
		        NULL);
	} else {
		finding(d, LEVEL_PROBLEM, "BitLocker", d->spec,
		        BITLOCKER_LIBRARY
		        " is not installed, and the boot opens the volume with it",
		        "%s", BITLOCKER_NO_LIBRARY_TODO);
	}
	_cleanup_free_ char *mapping = device_bitlocker_mapping_on(d->dev.devnode);
	struct device_info inner = {0};
	if (!mapping || device_read(mapping, &inner) < 0 || !inner.type) {
		device_info_free(&inner);
		finding(d, LEVEL_WARN, "looking inside the host", d->spec,
		        "a BitLocker volume not opened on this machine: the images are not checked",
		        "open it read-only to check them too: cryptsetup open --readonly --type "
		        "bitlk %s loopboot-check (then cryptsetup close loopboot-check)",
		        d->dev.devnode);
		return false;
	}
	_cleanup_free_ char *detail = xasprintf(
	    "opened on this machine as %s, %s inside: looking through it", mapping, inner.type);
	finding(d, LEVEL_OK, "BitLocker", d->spec, detail, NULL);
	device_info_free(&d->dev);
	d->dev = inner;
	return true;
}

static void doctor_run(struct doctor *d)
{
	const struct plan *p = d->plan;
	for (size_t i = 0; i < p->warnings.n; i++)
		finding(d, LEVEL_WARN, "kernel parameter", NULL, p->warnings.v[i], NULL);

	int r = device_find(&p->root, &d->dev);
	if (r <= 0) {
		finding(d, LEVEL_PROBLEM, "host device not found", d->spec,
		        r < 0 ? strerror(-r) : "no block device matches it",
		        "check root= against the list below (blkid shows the same values)");
		device_list_all();
		return;
	}
	{
		_cleanup_free_ char *detail =
		    xasprintf("%s, %s%s%s", d->dev.devnode, type_word(d->dev.type),
		              d->dev.label ? ", label " : "", strempty(d->dev.label));
		finding(d, LEVEL_OK, "host", d->spec, detail, NULL);
	}
	if (!check_bitlocker(d))
		return;
	d->host_type = d->dev.type;
	if (!d->host_type && !p->rootfstype) {
		finding(d, LEVEL_PROBLEM, "host", d->spec, "no file system found on it",
		        "check root= names the partition that holds the image, or set rootfstype=");
		return;
	}
	if (!d->host_type)
		d->host_type = p->rootfstype;
	check_host_driver(d);
	if (!p->has_loop) {
		finding(d, LEVEL_WARN, "loop=", "(none)",
		        "no loop= on the command line: root= itself is mounted as the root",
		        "add loop=/path/to/root.img to boot an image on this host");
		return;
	}
	check_loop_driver(d);

	/* Mounted read-write here (the running loopboot system's /host): the dirty flags on
	 * the device are the mounted driver's own (ntfs3, vfat and exfat set them while
	 * mounted), not a sign of Windows or a crash. */
	struct hoststate_result hs;
	_cleanup_(mount_entry_free) struct mount_entry hm = {0};
	const char *rw_at = NULL;
	if (mount_find_device(NULL, d->dev.devnode, &hm) > 0 && !hm.read_only)
		rw_at = hm.target;
	r = rw_at ? 0 : hoststate_check_device(d->dev.devnode, d->dev.type, &hs);
	if (r < 0)
		finding(d, LEVEL_WARN, "reading the host's state", d->dev.devnode, strerror(-r),
		        "run loopboot check as root");
	else if (!rw_at)
		report_host_state(d, &hs);

	d->host_view = open_host(d);
	if (d->host_view < 0) {
		d->host_view = -1;
		return;
	}
	if (!d->host_unsafe && d->dev.type &&
	    (streq(d->dev.type, "ntfs") || streq(d->dev.type, "ntfs3")) &&
	    hoststate_check_hiberfile(views_path(&d->vs, d->host_view), &hs) == 0)
		report_host_state(d, &hs);
	if (!d->host_unsafe && rw_at) {
		_cleanup_free_ char *detail = xasprintf(
		    "not hibernated; mounted read-write at %s, so its dirty flags are not read",
		    rw_at);
		finding(d, LEVEL_OK, "host state", d->spec, detail, NULL);
	} else if (!d->host_unsafe) {
		finding(d, LEVEL_OK, "host state", d->spec,
		        "safe to write (not hibernated, no dirty flag)", NULL);
	} else if (p->hibernated_ro)
		check_kernel_fs(d, "for the volatile session", "overlay");

	bool root_written = !p->read_only && !(d->host_unsafe && p->hibernated_ro) &&
	                    p->overlay == PLAN_OVERLAY_NONE;
	int rootv = check_image(d, &p->loop, p->loopfstype, root_written, true);
	if (rootv >= 0)
		check_root_contents(d, rootv);
	if (p->overlay != PLAN_OVERLAY_NONE)
		check_overlay(d);
	for (unsigned i = 0; i < p->n_mounts; i++)
		(void)check_image(d, &p->mounts[i].image, p->mounts[i].fstype, !d->host_unsafe,
		                  false);
}

static const char usage[] =
    "Usage: loopboot check [--cmdline STRING] [--kernel-from image]\n"
    "Checks, without writing anything, whether a boot entry (default: /proc/cmdline) "
    "would boot\non this machine: the host, its state, the images, drivers, init and "
    "the image's /etc/fstab.\nEach finding is one line; exit status 0 when the entry "
    "would boot, 1 when not.\n"
    "--kernel-from image: the entry loads the kernel and initramfs from inside the image\n"
    "  (loopboot grub, iso --kernel-from image): its initramfs must have loopboot's hook.\n"
    "  Known without it when BOOT_IMAGE= names GRUB's loop device, as those entries do.\n";

/* BOOT_IMAGE= of a command line (GRUB adds it: the kernel's path as the entry gave it). */
static char *boot_image_of(const char *line)
{
	struct cmdline c;
	if (cmdline_tokenize(line, &c) < 0)
		return NULL;
	char *v = NULL;
	for (size_t i = 0; i < c.n_params; i++)
		if (streq(c.params[i].key, "BOOT_IMAGE") && c.params[i].value) {
			free(v);
			v = xstrdup(c.params[i].value);
		}
	cmdline_free(&c);
	return v;
}

int check_main(int argc, char **argv)
{
	const char *cmdline = NULL, *kernel_from = NULL;
	int r = OPTS_PARSE(argc, argv, 0, usage, OPT_STRING("cmdline", 'c', &cmdline),
	                   OPT_STRING("kernel-from", 'k', &kernel_from));
	if (r >= 0)
		return r;
	if (cli_refuse_words(argc, argv) < 0)
		return 2;
	if (kernel_from && !streq(kernel_from, "image")) {
		fprintf(
		    stderr,
		    "loopboot: check: --kernel-from %s: unknown — use image (or leave it out)\n",
		    kernel_from);
		return 2;
	}
	_cleanup_free_ char *line = NULL; /* the command line checked: cmdline or /proc's */
	struct plan plan;
	r = cli_load_plan("check", cmdline, &plan, &line);
	if (r)
		return r;
	_cleanup_free_ char *boot_image = boot_image_of(line);
	if (geteuid() != 0) {
		log_fail(EPERM, "check", "not root",
		         "it reads block devices and mounts read-only in a private namespace",
		         "run it as root (it writes nothing)");
		plan_free(&plan);
		return 1;
	}
	struct doctor d = {.plan = &plan, .host_view = -1, .boot_image = boot_image};
	d.image_kernel = kernel_from || (boot_image && startswith(boot_image, "(loop"));
	d.spec = devspec_to_string(&plan.root);
	d.mods = modules_new();
	d.kmod = kmod_new(NULL, NULL);
	if (d.kmod && kmod_load_resources(d.kmod) < 0) {
		kmod_unref(d.kmod);
		d.kmod = NULL;
	}
	printf("checking: %s\n", line);
	fflush(stdout);
	doctor_run(&d);
	views_release(&d.vs);

	unsigned ok = d.count[LEVEL_OK], warn = d.count[LEVEL_WARN], bad = d.count[LEVEL_PROBLEM];
	printf("summary: %u ok, %u warning%s, %u problem%s — %s\n", ok, warn, warn == 1 ? "" : "s",
	       bad, bad == 1 ? "" : "s",
	       bad    ? "this entry would not boot: fix the problems above"
	       : warn ? "this entry would boot; see the warnings"
	              : "this entry would boot");
	device_info_free(&d.dev);
	modules_free(d.mods);
	if (d.kmod)
		kmod_unref(d.kmod);
	free(d.spec);
	plan_free(&plan);
	return bad ? 1 : 0;
}
