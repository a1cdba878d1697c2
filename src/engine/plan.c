/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>

#include "engine/cmdline.h"
#include "engine/plan.h"

#define MAX_PATH_LEN 4095
#define MAX_NAME_LEN 255

/* A parse error: one complete line. */
static int fail(char **ret_error, const char *key, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char **ret_error, const char *key, const char *value, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg) {
		fputs("loopboot: out of memory\n", stderr);
		abort();
	}
	if (value)
		*ret_error =
		    xasprintf("loopboot: bad kernel parameter: %s=%s: %s", key, value, msg);
	else
		*ret_error = xasprintf("loopboot: bad kernel parameter: %s: %s", key, msg);
	return -EINVAL;
}

/* Parameter names: the kernel treats '-' and '_' alike (parameq()); so do we. */
static bool key_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

/*
 * Normalises one absolute path: collapses repeated '/', drops "." components. Returns the
 * new string, or NULL with *ret_why set for "..", a name over 255 bytes or a path over
 * 4095, and for a trailing '/' or the root itself unless is_dir.
 */
static char *normalize_path(const char *s, bool is_dir, const char **ret_why)
{
	size_t len = strlen(s);
	if (len == 0) {
		*ret_why = "the path is empty";
		return NULL;
	}
	if (s[0] != '/') {
		*ret_why = "the path must be absolute (start with '/')";
		return NULL;
	}
	if (len > MAX_PATH_LEN) {
		*ret_why = "the path is longer than 4095 bytes";
		return NULL;
	}
	if (!is_dir && len > 1 && s[len - 1] == '/') {
		*ret_why = "the path ends in '/': name a file, without the trailing '/'";
		return NULL;
	}
	char *out = xmalloc(len + 2);
	size_t o = 0;
	size_t n;
	for (const char *rest = s, *p; (p = path_next(&rest, &n));) {
		if (n == 1 && p[0] == '.')
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			*ret_why = "the path must not contain \"..\"";
			return NULL;
		}
		if (n > MAX_NAME_LEN) {
			free(out);
			*ret_why = "a path component is longer than 255 bytes";
			return NULL;
		}
		out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
	}
	if (o == 0) {
		if (!is_dir) {
			free(out);
			*ret_why = "the path names the root directory, not a file";
			return NULL;
		}
		out[o++] = '/';
	}
	out[o] = '\0';
	return out;
}

static void imagepath_free(struct imagepath *ip)
{
	for (unsigned i = 0; i < ip->n; i++)
		free(ip->part[i]);
	free(ip->sel.value);
	*ip = (struct imagepath){0};
}

static const struct {
	enum partsel_kind kind;
	const char *tag;
} partsel_tags[] = {
    {PARTSEL_PARTUUID, "PARTUUID="},
    {PARTSEL_PARTLABEL, "PARTLABEL="},
    {PARTSEL_UUID, "UUID="},
    {PARTSEL_LABEL, "LABEL="},
};

int partsel_parse(const char *value, struct partsel *ret, char **ret_why)
{
	*ret = (struct partsel){.kind = PARTSEL_AUTO};
	if (!value || !*value) {
		*ret_why = xstrdup("no partition named — write a number (2), PARTUUID=, "
		                   "PARTLABEL=, UUID= or LABEL=");
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(partsel_tags); i++) {
		size_t n = strlen(partsel_tags[i].tag);
		if (strncasecmp(value, partsel_tags[i].tag, n) != 0)
			continue;
		if (!value[n]) {
			*ret_why = xasprintf("the %.*s value is empty — copy it from the list that "
			                     "loopboot check prints",
			                     (int)(n - 1), partsel_tags[i].tag);
			return -EINVAL;
		}
		*ret = (struct partsel){.kind = partsel_tags[i].kind, .value = xstrdup(value + n)};
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long v = strtoul(value, &end, 10);
	if (!isdigit((unsigned char)value[0]) || *end || errno || v == 0 || v > 256) {
		*ret_why = xasprintf("%s is not a partition — write its number (1 to 256, as "
		                     "sfdisk -l lists it), PARTUUID=, PARTLABEL=, UUID= or LABEL=",
		                     value);
		return -EINVAL;
	}
	*ret = (struct partsel){.kind = PARTSEL_NUMBER, .number = (unsigned)v};
	return 0;
}

char *partsel_to_string(const struct partsel *s)
{
	if (s->kind == PARTSEL_NUMBER)
		return xasprintf("%u", s->number);
	for (size_t i = 0; i < ARRAY_SIZE(partsel_tags); i++)
		if (partsel_tags[i].kind == s->kind)
			return xasprintf("%s%s", partsel_tags[i].tag, s->value);
	return NULL;
}

bool partsel_eq(const struct partsel *a, const struct partsel *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == PARTSEL_NUMBER)
		return a->number == b->number;
	return a->kind == PARTSEL_AUTO || strcaseeq(a->value, b->value);
}

/* "/a.img//b/c.img": parts separated by "//"; every part after the first is relative to
 * the file system of the one before it, and gets its leading '/' back. On failure *ret_why
 * says what is wrong (allocated). */
static int imagepath_split(const char *value, struct imagepath *ret, char **ret_why)
{
	struct imagepath ip = {0};
	const char *why = NULL;
	if (!value || !*value) {
		*ret_why = xstrdup("the image path is empty — name the image file inside the "
		                   "host file system, e.g. /linux/root.img");
		return -EINVAL;
	}
	if (value[0] != '/') {
		*ret_why = xasprintf("the image path must be absolute inside the host file "
		                     "system — write /%s",
		                     value);
		return -EINVAL;
	}
	const char *p = value;
	for (;;) {
		const char *sep = strstr(p, "//");
		_cleanup_free_ char *raw = sep ? xstrndup(p, (size_t)(sep - p)) : xstrdup(p);
		if (ip.n == PLAN_MAX_LAYERS) {
			imagepath_free(&ip);
			*ret_why = xasprintf("images are nested more than %d deep — flatten the "
			                     "layout",
			                     PLAN_MAX_LAYERS);
			return -EINVAL;
		}
		if (!*raw) {
			why = "an empty path before \"//\" (\"//\" separates nested images: "
			      "/outer.img//inner.img)";
			break;
		}
		/* the first part has its own '/'; later ones had theirs in the "//" */
		_cleanup_free_ char *abs = raw[0] == '/' ? xstrdup(raw) : xasprintf("/%s", raw);
		char *part = normalize_path(abs, false, &why);
		if (!part)
			break;
		ip.part[ip.n++] = part;
		if (!sep)
			break;
		p = sep + 2;
		while (*p == '/') /* "///" is "//" then "/" */
			p++;
		if (!*p) {
			why = "the path ends in \"//\" — name the file inside the image after it";
			break;
		}
	}
	if (why) {
		imagepath_free(&ip);
		*ret_why = xstrdup(why);
		return -EINVAL;
	}
	*ret = ip;
	return 0;
}

static int imagepath_parse(const char *key, const char *value, struct imagepath *ret,
                           char **ret_error)
{
	_cleanup_free_ char *why = NULL;
	if (imagepath_split(value, ret, &why) < 0)
		return fail(ret_error, key, value, "%s", why);
	return 0;
}

static bool imagepath_eq(const struct imagepath *a, const struct imagepath *b)
{
	if (a->n != b->n || !partsel_eq(&a->sel, &b->sel))
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (!streq(a->part[i], b->part[i]))
			return false;
	return true;
}

const struct devspec_tag devspec_tags[4] = {
    {DEVSPEC_UUID, "UUID=", "/dev/disk/by-uuid/", true},
    {DEVSPEC_LABEL, "LABEL=", "/dev/disk/by-label/", false},
    {DEVSPEC_PARTUUID, "PARTUUID=", "/dev/disk/by-partuuid/", true},
    {DEVSPEC_PARTLABEL, "PARTLABEL=", "/dev/disk/by-partlabel/", false},
};

static int devspec_parse(const char *key, const char *value, struct devspec *ret, char **ret_error)
{
	const struct devspec_tag *tags = devspec_tags;
	if (!value || !*value)
		return fail(ret_error, key, value,
		            "no device named — write root=UUID=..., root=LABEL=..., "
		            "root=PARTUUID=... or root=/dev/NAME (blkid lists them)");
	for (size_t i = 0; i < ARRAY_SIZE(devspec_tags); i++) {
		size_t n = strlen(tags[i].tag);
		if (strncasecmp(value, tags[i].tag, n) != 0)
			continue;
		const char *v = value + n;
		if (!*v)
			return fail(ret_error, key, value,
			            "the %.*s value is empty — copy it from blkid", (int)(n - 1),
			            tags[i].tag);
		if (tags[i].kind == DEVSPEC_PARTUUID && strchr(v, '/'))
			return fail(ret_error, key, value,
			            "PARTUUID=.../PARTNROFF= is not supported — name the partition "
			            "itself with its own PARTUUID=");
		*ret = (struct devspec){.kind = tags[i].kind, .value = xstrdup(v)};
		return 0;
	}
	if (value[0] != '/')
		return fail(
		    ret_error, key, value,
		    "not a device — write /dev/NAME, UUID=, LABEL=, PARTUUID= or PARTLABEL= "
		    "(blkid lists them)");
	const char *why;
	char *path = normalize_path(value, false, &why);
	if (!path)
		return fail(ret_error, key, value, "%s", why);
	*ret = (struct devspec){.kind = DEVSPEC_PATH, .value = path};
	return 0;
}

static int parse_bool(const char *key, const char *value, bool *ret, char **ret_error)
{
	if (!value || streq(value, "1") || strcaseeq(value, "yes") || strcaseeq(value, "true") ||
	    strcaseeq(value, "on")) {
		*ret = true;
		return 0;
	}
	if (streq(value, "0") || strcaseeq(value, "no") || strcaseeq(value, "false") ||
	    strcaseeq(value, "off")) {
		*ret = false;
		return 0;
	}
	return fail(ret_error, key, value, "not a yes/no value — write %s alone, or %s=0", key,
	            key);
}

static int parse_timeout(const char *key, const char *value, unsigned *ret, char **ret_error)
{
	if (!value || !*value)
		return fail(ret_error, key, value, "no number of seconds — write %s=30", key);
	unsigned long v = 0;
	for (const char *p = value; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return fail(ret_error, key, value,
			            "not a number of seconds — write %s=30 (0 to 3600)", key);
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 3600)
			return fail(ret_error, key, value,
			            "more than an hour — write a number of seconds from 0 to 3600");
	}
	*ret = (unsigned)v;
	return 0;
}

/* Takes a "part=..." option out of a comma-separated option string (in place): it names the
 * partition of a disk image and is loopboot's, not the file system's. */
static int options_take_part(char *options, struct partsel *ret, char **ret_why)
{
	char *out = options;
	bool seen = false;
	for (char *opt = options, *next; opt; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (!startswith(opt, "part=")) {
			if (*opt) {
				if (out != options)
					*out++ = ',';
				size_t n = strlen(opt);
				memmove(out, opt, n);
				out += n;
			}
			continue;
		}
		if (seen) {
			*ret_why = xstrdup("part= is given twice — name one partition");
			return -EINVAL;
		}
		seen = true;
		_cleanup_free_ char *why = NULL;
		if (partsel_parse(opt + 5, ret, &why) < 0) {
			*ret_why = xasprintf("part=%s: %s", opt + 5, why);
			return -EINVAL;
		}
	}
	*out = '\0';
	return 0;
}

/* loopboot.mount=TARGET:PATH[:FSTYPE[:OPTIONS]] */
static int mount_parse(const char *key, const char *value, struct plan_mount *ret, char **ret_error)
{
	const char *usage = "write TARGET:PATH[:FSTYPE[:OPTIONS]], e.g. "
	                    "loopboot.mount=/home:/linux/home.img";
	if (!value || !*value)
		return fail(ret_error, key, value, "nothing to mount — %s", usage);
	const char *c1 = strchr(value, ':');
	if (!c1)
		return fail(ret_error, key, value, "no ':' between target and image — %s", usage);
	_cleanup_free_ char *target_raw = xstrndup(value, (size_t)(c1 - value));
	const char *rest = c1 + 1;
	const char *c2 = strchr(rest, ':');
	_cleanup_free_ char *path_raw = c2 ? xstrndup(rest, (size_t)(c2 - rest)) : xstrdup(rest);
	_cleanup_free_ char *fstype = NULL, *options = NULL;
	if (c2) {
		const char *c3 = strchr(c2 + 1, ':');
		fstype = c3 ? xstrndup(c2 + 1, (size_t)(c3 - c2 - 1)) : xstrdup(c2 + 1);
		if (c3 && c3[1])
			options = xstrdup(c3 + 1);
	}
	if (fstype && !*fstype) {
		free(fstype);
		fstype = NULL;
	}
	const char *why;
	if (!*target_raw)
		return fail(ret_error, key, value, "the target is empty — %s", usage);
	_cleanup_free_ char *target = normalize_path(target_raw, true, &why);
	if (!target)
		return fail(ret_error, key, value, "target %s: %s — %s", target_raw, why, usage);
	if (streq(target, "/"))
		return fail(ret_error, key, value,
		            "the target is the root itself — the root image is loop=; "
		            "loopboot.mount= is for further images such as /home");
	struct plan_mount m = {.target = target};
	target = NULL;
	_cleanup_free_ char *err = NULL;
	if (imagepath_split(path_raw, &m.image, &err) < 0) {
		free(m.target);
		return fail(ret_error, key, value, "image %s: %s", path_raw, err);
	}
	if (fstype)
		for (const char *p = fstype; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') {
				free(m.target);
				imagepath_free(&m.image);
				return fail(ret_error, key, value,
				            "file system type %s is not a type name — e.g. ext4",
				            fstype);
			}
	if (options) {
		int r = options_take_part(options, &m.image.sel, &err);
		if (r < 0) {
			free(m.target);
			imagepath_free(&m.image);
			return fail(ret_error, key, value, "%s", err);
		}
		if (!*options) {
			free(options);
			options = NULL;
		}
	}
	m.fstype = fstype;
	m.options = options;
	fstype = options = NULL;
	*ret = m;
	return 0;
}

static void mount_free(struct plan_mount *m)
{
	free(m->target);
	imagepath_free(&m->image);
	free(m->fstype);
	free(m->options);
	*m = (struct plan_mount){0};
}

static void set_str(char **slot, const char *value)
{
	free(*slot);
	*slot = value && *value ? xstrdup(value) : NULL;
}

static int cmp_mount(const void *a, const void *b)
{
	/* strcmp order puts "/usr" before "/usr/local": parents come first */
	return strcmp(((const struct plan_mount *)a)->target,
	              ((const struct plan_mount *)b)->target);
}

static bool path_below(const char *path, const char *dir)
{
	return path_startswith(path, dir) != NULL;
}

void plan_free(struct plan *p)
{
	free_all(p->root.value, p->rootfstype, p->rootflags, p->loopfstype, p->loopflags, p->init,
	         p->hostdir, p->bitlocker_dev.value, p->bitlocker_path, p->overlay_size,
	         p->overlay_path, p->overlay_dev.value);
	imagepath_free(&p->loop);
	for (unsigned i = 0; i < p->n_mounts; i++)
		mount_free(&p->mounts[i]);
	plan_ip_free(&p->ip);
	plan_net_free(&p->net);
	strv_free(&p->warnings);
	*p = (struct plan){0};
}

/* ---- one function a parameter: k is the name as written, v its value (NULL: none) ---- */

struct plan_parser {
	struct plan *p;
	bool have_root;
	struct partsel part; /* loopboot.part=, moved into p->loop.sel at the end */
	bool net_root;       /* root= names a network host (nbd:, nfs:, nfs4:) */
	bool net_url;        /* loop= is a URL */
	char *sha256;        /* loopboot.sha256=, moved into p->net at the end */
	char *bootif;        /* BOOTIF=: the MAC the PXE firmware booted from */
};

/* root= and loop= can each name the network host (r, n and why from their parser): a
 * later one of the same key replaces it, the other key naming one too is refused with
 * conflict. 1 when n is now the plan's network host, 0 when v names none (the caller
 * parses it as a local one), or the refusal. */
static int take_net(struct plan_parser *pp, const char *k, const char *v, int r, struct plan_net *n,
                    const char *why, bool *mine, bool other, const char *conflict, char **ret_error)
{
	if (r < 0)
		return fail(ret_error, k, v, "%s", why);
	if (*mine)
		plan_net_free(&pp->p->net);
	*mine = r > 0;
	if (r == 0)
		return 0;
	if (other) {
		plan_net_free(n);
		return fail(ret_error, k, v, "%s", conflict);
	}
	pp->p->net = *n;
	return 1;
}

static int set_root(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	free(pp->p->root.value);
	pp->p->root.value = NULL;
	pp->have_root = true;
	_cleanup_free_ char *why = NULL;
	struct plan_net n = {0};
	int r = plan_net_parse_root(v, &n, &why);
	r = take_net(pp, k, v, r, &n, why, &pp->net_root, pp->net_url,
	             "loop= already names an image on an HTTP server — keep one of the two",
	             ret_error);
	if (r != 0)
		return r < 0 ? r : 0;
	return devspec_parse(k, v, &pp->p->root, ret_error);
}

static int set_loop(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	imagepath_free(&pp->p->loop);
	pp->p->has_loop = true;
	_cleanup_free_ char *why = NULL, *inner = NULL;
	struct plan_net n = {0};
	int r = v ? plan_net_parse_url(v, &n, &inner, &why) : 0;
	r = take_net(pp, k, v, r, &n, why, &pp->net_url, pp->net_root,
	             "root= already names a network host — loop=http:// brings its own (the "
	             "image in RAM): keep one of the two",
	             ret_error);
	if (r < 0)
		return r;
	if (r == 0)
		return imagepath_parse(k, v, &pp->p->loop, ret_error);
	/* The image is the downloaded file at the top of the RAM host. */
	_cleanup_free_ char *local =
	    xasprintf("/%s%s%s", pp->p->net.file, inner ? "/" : "", strempty(inner));
	return imagepath_parse(k, local, &pp->p->loop, ret_error);
}

static int set_ip(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	_cleanup_free_ char *why = NULL;
	if (plan_ip_parse(v, &pp->p->ip, &why) < 0)
		return fail(ret_error, k, v, "%s", why);
	return 0;
}

static int set_sha256(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	if (!plan_sha256_valid(v))
		return fail(ret_error, k, v,
		            "is not a SHA-256 digest (64 hex digits) — write the first word "
		            "sha256sum prints for the image");
	free(pp->sha256);
	pp->sha256 = xstrdup(v);
	for (char *c = pp->sha256; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

static int set_bootif(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	/* pxelinux's and iPXE's BOOTIF=01-aa-bb-cc-dd-ee-ff (01: Ethernet). */
	(void)k, (void)ret_error;
	const char *mac = v && strlen(v) == 20 && startswith(v, "01-") ? v + 3 : NULL;
	free(pp->bootif);
	pp->bootif = mac ? xstrdup(mac) : NULL;
	return 0;
}

#define STRING_PARAM(name, field)                                                                  \
	static int set_##name(struct plan_parser *pp, const char *k, const char *v,                \
	                      char **ret_error)                                                    \
	{                                                                                          \
		(void)k, (void)ret_error;                                                          \
		set_str(&pp->p->field, v);                                                         \
		return 0;                                                                          \
	}
STRING_PARAM(rootfstype, rootfstype)
STRING_PARAM(rootflags, rootflags)
STRING_PARAM(loopfstype, loopfstype)
STRING_PARAM(loopflags, loopflags)

static int set_ro(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	(void)v, (void)ret_error;
	pp->p->read_only = streq(k, "ro");
	return 0;
}

/* A path parameter, normalised; the message names an example and what "no value" lacks. */
static int set_path(char **slot, const char *k, const char *v, bool is_dir, const char *example,
                    const char *none, char **ret_error)
{
	const char *why;
	char *path = v ? normalize_path(v, is_dir, &why) : NULL;
	if (!path)
		return fail(ret_error, k, v, "%s — write %s", v ? why : none, example);
	free(*slot);
	*slot = path;
	return 0;
}

static int set_init(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	return set_path(&pp->p->init, k, v, false, "init=/sbin/init", "no program named",
	                ret_error);
}

static int add_mount(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	struct plan *p = pp->p;
	if (p->n_mounts == PLAN_MAX_MOUNTS)
		return fail(ret_error, k, v,
		            "more than %d loopboot.mount= entries — mount the rest from the "
		            "image's /etc/fstab",
		            PLAN_MAX_MOUNTS);
	struct plan_mount m;
	int r = mount_parse(k, v, &m, ret_error);
	if (r < 0)
		return r;
	for (unsigned j = 0; j < p->n_mounts; j++)
		if (streq(p->mounts[j].target, m.target)) {
			_cleanup_free_ char *t = xstrdup(m.target);
			mount_free(&m);
			return fail(ret_error, k, v,
			            "%s is already the target of another loopboot.mount= — keep "
			            "one of them",
			            t);
		}
	p->mounts[p->n_mounts++] = m;
	return 0;
}

static int set_hostdir(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	int r = set_path(&pp->p->hostdir, k, v, true, "loopboot.hostdir=/host",
	                 "no directory named", ret_error);
	if (r == 0 && streq(pp->p->hostdir, "/"))
		return fail(ret_error, k, v,
		            "the host cannot replace the root — write loopboot.hostdir=/host");
	return r;
}

static int set_timeout(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	return parse_timeout(k, v, &pp->p->timeout, ret_error);
}

static int set_debug(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	return parse_bool(k, v, &pp->p->debug, ret_error);
}

static int set_times(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	return parse_bool(k, v, &pp->p->times, ret_error);
}

static int set_shell(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	return parse_bool(k, v, &pp->p->shell, ret_error);
}

/* A value out of a list of names; -1 when v is none of them. */
static int choice(const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		if (streq(v, names[i]))
			return (int)i;
	return -1;
}

/* systemd's fsck.mode= and fsck.repair=: an unknown value is a warning there too, naming
 * the values ("use auto, force or skip"). Returns the value's index, or -1. */
static int choice_or_warn(struct plan *p, const char *k, const char *v, const char *const *names,
                          size_t n)
{
	int i = choice(v, names, n);
	if (i < 0)
		strv_push(&p->warnings, xasprintf("%s=%s ignored — use %s, %s or %s", k,
		                                  strempty(v), names[0], names[1], names[2]));
	return i;
}

static int set_fsck(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	static const char *const modes[] = {
	    [PLAN_FSCK_AUTO] = "auto", [PLAN_FSCK_FORCE] = "force", [PLAN_FSCK_SKIP] = "skip"};
	static const char *const repairs[] = {[PLAN_FSCK_REPAIR_PREEN] = "preen",
	                                      [PLAN_FSCK_REPAIR_YES] = "yes",
	                                      [PLAN_FSCK_REPAIR_NO] = "no"};
	(void)ret_error;
	bool mode = streq(k, "fsck.mode");
	int i = choice_or_warn(pp->p, k, v, mode ? modes : repairs, 3);
	if (i >= 0 && mode)
		pp->p->fsck_mode = (enum plan_fsck_mode)i;
	else if (i >= 0)
		pp->p->fsck_repair = (enum plan_fsck_repair)i;
	return 0;
}

static int set_hibernated(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	static const char *const names[] = {"refuse", "ro"};
	int i = choice(v, names, ARRAY_SIZE(names));
	if (i < 0)
		return fail(ret_error, k, v,
		            "write loopboot.hibernated=ro for a read-only session on a hibernated "
		            "or dirty host (the default refuses to boot)");
	pp->p->hibernated_ro = i == 1;
	return 0;
}

static int set_mode(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	static const char *const names[] = {
	    [PLAN_MODE_LOOP] = "loop", [PLAN_MODE_LINEAR] = "linear"};
	int i = choice(v, names, ARRAY_SIZE(names));
	if (i < 0)
		return fail(ret_error, k, v,
		            "write loopboot.mode=linear to map the image's extents on the disk "
		            "with device-mapper, or loopboot.mode=loop (the default)");
	pp->p->mode = (enum plan_mode)i;
	return 0;
}

/*
 * DEVSPEC[:/PATH], as loopboot.bitlocker= and loopboot.overlay= take it: the device part
 * (UUID=, LABEL=, PARTUUID=, PARTLABEL= or /dev/NAME) ends at the first ':' followed by
 * '/': a path never starts otherwise, and tags with ':' elsewhere (LABEL=a:b) still work.
 * *ret_dev: the device part as written (allocated, for messages); *ret_path: where the
 * path starts ('/'), NULL when there is none. -EINVAL when the device part is no device.
 */
static int devspec_with_path(const char *k, const char *v, struct devspec *ret, char **ret_dev,
                             const char **ret_path)
{
	const char *sep = strstr(v, ":/");
	*ret_dev = sep ? xstrndup(v, (size_t)(sep - v)) : xstrdup(v);
	*ret_path = sep ? sep + 1 : NULL;
	_cleanup_free_ char *err = NULL;
	*ret = (struct devspec){0};
	return devspec_parse(k, *ret_dev, ret, &err);
}

/* The key's place replaces an earlier loopboot.bitlocker='s (owning spec and path). */
static void bitlocker_take(struct plan *p, enum plan_bitlocker how, struct devspec spec, char *path)
{
	free(p->bitlocker_dev.value);
	free(p->bitlocker_path);
	p->bitlocker_dev = spec;
	p->bitlocker_path = path;
	p->bitlocker = how;
}

/* loopboot.bitlocker=ask, or loopboot.bitlocker=DEVSPEC:/PATH (the key file's absolute
 * path on that device's file system). */
static int set_bitlocker(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	static const char todo[] =
	    "write loopboot.bitlocker=ask (the recovery password on the console) or "
	    "loopboot.bitlocker=UUID=<device>:/path/to/file (a file holding it, on another "
	    "device)";
	struct plan *p = pp->p;
	if (v && streq(v, "ask")) {
		bitlocker_take(p, PLAN_BITLOCKER_ASK, (struct devspec){0}, NULL);
		return 0;
	}
	if (!v || !strstr(v, ":/"))
		return fail(ret_error, k, v, "neither ask nor DEVICE:/PATH — %s", todo);
	_cleanup_free_ char *dev = NULL;
	struct devspec spec;
	const char *rest;
	if (devspec_with_path(k, v, &spec, &dev, &rest) < 0)
		return fail(ret_error, k, v, "the device part %s is not a device — %s", dev, todo);
	const char *why;
	char *path = normalize_path(rest, false, &why);
	if (!path || streq(path, "/")) {
		free(spec.value);
		free(path);
		return fail(ret_error, k, v, "the key file's path %s: %s — %s", rest,
		            path ? "names no file" : why, todo);
	}
	bitlocker_take(p, PLAN_BITLOCKER_FILE, spec, path);
	return 0;
}

/* tmpfs's size=: a number with k, m, g or %, as tmpfs(5) takes it. */
static bool is_tmpfs_size(const char *v)
{
	size_t n = strspn(v, "0123456789");
	if (n == 0 || n > 12)
		return false;
	return v[n] == '\0' || (strchr("kKmMgG%", v[n]) && v[n + 1] == '\0');
}

/*
 * loopboot.overlay=tmpfs[:SIZE], loopboot.overlay=/PATH (a layer image on the host), or
 * loopboot.overlay=DEVSPEC[:/DIR] (a partition; the device part ends at ":/" as for
 * loopboot.bitlocker=).
 */
static int set_overlay(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	static const char todo[] =
	    "write loopboot.overlay=tmpfs (in RAM), loopboot.overlay=/path/overlay.img (a file "
	    "made by loopboot create --overlay on the host) or loopboot.overlay=LABEL=name[:/dir] "
	    "(a partition)";
	struct plan *p = pp->p;
	if (!v || !*v)
		return fail(ret_error, k, v, "no layer named — %s", todo);
	enum plan_overlay kind;
	_cleanup_free_ char *size = NULL, *path = NULL;
	struct devspec dev = {0};
	const char *why = NULL;
	if (streq(v, "tmpfs") || startswith(v, "tmpfs:")) {
		kind = PLAN_OVERLAY_TMPFS;
		if (v[5] == ':') {
			if (!is_tmpfs_size(v + 6))
				return fail(
				    ret_error, k, v,
				    "the size %s is not a number with k, m, g or %% — write "
				    "loopboot.overlay=tmpfs:512M or loopboot.overlay=tmpfs:25%%",
				    v + 6);
			size = xstrdup(v + 6);
		}
	} else if (v[0] == '/') {
		kind = PLAN_OVERLAY_FILE;
		path = normalize_path(v, false, &why);
		if (!path || streq(path, "/"))
			return fail(ret_error, k, v, "%s — %s", path ? "names no file" : why, todo);
	} else {
		kind = PLAN_OVERLAY_DEVICE;
		_cleanup_free_ char *d = NULL;
		const char *rest;
		if (devspec_with_path(k, v, &dev, &d, &rest) < 0)
			return fail(ret_error, k, v,
			            "%s is neither tmpfs, a path nor a device — %s", d, todo);
		path = normalize_path(rest ? rest : "/", true, &why);
		if (!path) {
			free(dev.value);
			return fail(ret_error, k, v, "the directory %s: %s — %s", rest, why, todo);
		}
	}
	free(p->overlay_size);
	free(p->overlay_path);
	free(p->overlay_dev.value);
	p->overlay = kind;
	p->overlay_size = size;
	p->overlay_path = path;
	p->overlay_dev = dev;
	size = path = NULL;
	return 0;
}

static int set_overlay_reset(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	return parse_bool(k, v, &pp->p->overlay_reset, ret_error);
}

static int set_overlay_readonly(struct plan_parser *pp, const char *k, const char *v,
                                char **ret_error)
{
	return parse_bool(k, v, &pp->p->overlay_readonly, ret_error);
}

static int set_toram(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	return parse_bool(k, v, &pp->p->toram, ret_error);
}

static int set_part(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	_cleanup_free_ char *why = NULL;
	struct partsel sel;
	if (partsel_parse(v, &sel, &why) < 0)
		return fail(ret_error, k, v, "%s", why);
	free(pp->part.value);
	pp->part = sel;
	return 0;
}

/* The parameters loopboot reads. Names are compared as the kernel's parameq() does for
 * loopboot.* ('-' and '_' alike); the kernel's own ones exactly. */
static const struct {
	const char *name;
	bool flag; /* only without a value ("ro", not "ro=1") */
	int (*set)(struct plan_parser *pp, const char *k, const char *v, char **ret_error);
} params[] = {
    {"root", false, set_root},
    {"rootfstype", false, set_rootfstype},
    {"rootflags", false, set_rootflags},
    {"loop", false, set_loop},
    {"loopfstype", false, set_loopfstype},
    {"loopflags", false, set_loopflags},
    {"ro", true, set_ro},
    {"rw", true, set_ro},
    {"init", false, set_init},
    {"fsck.mode", false, set_fsck},
    {"fsck.repair", false, set_fsck},
    {"loopboot.mount", false, add_mount},
    {"loopboot.hostdir", false, set_hostdir},
    {"loopboot.timeout", false, set_timeout},
    {"loopboot.debug", false, set_debug},
    {"loopboot.times", false, set_times},
    {"loopboot.shell", false, set_shell},
    {"loopboot.hibernated", false, set_hibernated},
    {"loopboot.mode", false, set_mode},
    {"loopboot.bitlocker", false, set_bitlocker},
    {"loopboot.overlay", false, set_overlay},
    {"loopboot.overlay.reset", false, set_overlay_reset},
    {"loopboot.overlay.readonly", false, set_overlay_readonly},
    {"loopboot.toram", false, set_toram},
    {"loopboot.part", false, set_part},
    {"ip", false, set_ip},
    {"BOOTIF", false, set_bootif},
    {"loopboot.sha256", false, set_sha256},
};

static int parse_param(struct plan_parser *pp, const char *k, const char *v, char **ret_error)
{
	for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
		bool ours = startswith(params[i].name, "loopboot.");
		if (!(ours ? key_eq(k, params[i].name) : streq(k, params[i].name)))
			continue;
		if (params[i].flag && v)
			return 0; /* "ro=..." is not ro */
		return params[i].set(pp, k, v, ret_error);
	}
	if (startswith(k, "loopboot.") || startswith(k, "loopboot_"))
		strv_push(&pp->p->warnings,
		          xasprintf("unknown kernel parameter %s ignored — see loopboot-cmdline(7) "
		                    "for the loopboot.* options",
		                    k));
	return 0;
}

/* What no single parameter can judge: the parameters together. */
static int check_mounts(struct plan *p, char **ret_error)
{
	for (unsigned i = 0; i < p->n_mounts; i++) {
		struct plan_mount *m = &p->mounts[i];
		if (path_below(m->target, p->hostdir))
			return fail(ret_error, "loopboot.mount", m->target,
			            "inside loopboot.hostdir=%s, where the host file system is — "
			            "choose a target outside it",
			            p->hostdir);
		if (path_below(p->hostdir, m->target))
			return fail(
			    ret_error, "loopboot.mount", m->target,
			    "would hide the host file system at %s — move loopboot.hostdir= "
			    "elsewhere",
			    p->hostdir);
		if (imagepath_eq(&m->image, &p->loop)) {
			_cleanup_free_ char *s = imagepath_to_string(&m->image);
			return fail(ret_error, "loopboot.mount", m->target,
			            "%s is already the root image (loop=) — one image cannot be "
			            "mounted twice",
			            s);
		}
		for (unsigned j = 0; j < i; j++)
			if (imagepath_eq(&m->image, &p->mounts[j].image)) {
				_cleanup_free_ char *s = imagepath_to_string(&m->image);
				return fail(ret_error, "loopboot.mount", m->target,
				            "%s is already mounted at %s — one image cannot be "
				            "mounted twice",
				            s, p->mounts[j].target);
			}
	}
	qsort(p->mounts, p->n_mounts, sizeof(p->mounts[0]), cmp_mount);
	return 0;
}

static int check_overlay(struct plan *p, char **ret_error)
{
	bool persistent = p->overlay == PLAN_OVERLAY_FILE || p->overlay == PLAN_OVERLAY_DEVICE;
	if (!persistent && (p->overlay_reset || p->overlay_readonly)) {
		strv_push(&p->warnings,
		          xasprintf("%s ignored — it applies to a persistent layer "
		                    "(loopboot.overlay=/path or loopboot.overlay=LABEL=...)",
		                    p->overlay_reset ? "loopboot.overlay.reset"
		                                     : "loopboot.overlay.readonly"));
		p->overlay_reset = p->overlay_readonly = false;
	}
	if (p->overlay_reset && p->overlay_readonly)
		return fail(ret_error, "loopboot.overlay.reset", NULL,
		            "cannot empty a layer that loopboot.overlay.readonly keeps read-only — "
		            "keep one of the two");
	if (p->overlay != PLAN_OVERLAY_FILE)
		return 0;
	if (p->has_loop && streq(p->overlay_path, p->loop.part[0]))
		return fail(ret_error, "loopboot.overlay", p->overlay_path,
		            "is the root image itself (loop=) — give the layer its own file, made "
		            "with loopboot create FILE --size SIZE --overlay");
	for (unsigned i = 0; i < p->n_mounts; i++)
		if (p->mounts[i].image.n == 1 && streq(p->mounts[i].image.part[0], p->overlay_path))
			return fail(
			    ret_error, "loopboot.overlay", p->overlay_path,
			    "is already mounted at %s (loopboot.mount=) — one image cannot be "
			    "mounted twice",
			    p->mounts[i].target);
	return 0;
}

/* A network host: what it implies, and what cannot go with it. */
static int check_network(struct plan *p, const struct plan_parser *pp, char **ret_error)
{
	struct plan_net *n = &p->net;
	if (pp->sha256 && n->kind != PLAN_NET_HTTP)
		return fail(ret_error, "loopboot.sha256", pp->sha256,
		            "applies to an image downloaded with loop=http(s):// — remove it, or "
		            "give loop= as a URL");
	if (n->kind == PLAN_NET_NONE)
		return 0;
	_cleanup_free_ char *where = plan_net_to_string(n);
	if (n->kind == PLAN_NET_HTTP) {
		if (pp->have_root)
			return fail(
			    ret_error, "root", NULL,
			    "not used with loop=%s: the image is downloaded into RAM, which "
			    "is its host — remove root=",
			    where);
		if (p->toram) {
			strv_push(&p->warnings,
			          xstrdup("loopboot.toram is what loop=http(s):// does anyway: the "
			                  "image is in RAM"));
			p->toram = false;
		}
	} else {
		if (p->toram)
			return fail(
			    ret_error, "loopboot.toram", NULL,
			    "copies an image from a local host; on %s the image stays on the "
			    "server — give loop= as an http(s):// URL to boot a copy in RAM",
			    where);
		/* The image is shared by every client: each gets its own layer on top. */
		if (p->overlay == PLAN_OVERLAY_NONE) {
			p->overlay = PLAN_OVERLAY_TMPFS;
			p->overlay_auto = true;
		}
		if (n->fstype && !p->rootfstype)
			p->rootfstype = xstrdup(n->fstype);
		if (n->options && !p->rootflags && n->kind == PLAN_NET_NBD)
			p->rootflags = xstrdup(n->options);
	}
	if (p->mode == PLAN_MODE_LINEAR) {
		strv_push(&p->warnings,
		          xasprintf("loopboot.mode=linear ignored: the host %s is on the network; "
		                    "the image is attached with a loop device",
		                    where));
		p->mode = PLAN_MODE_LOOP;
	}
	return 0;
}

static int parse_params_with(struct plan_parser *pp, const struct cmdline *c, char **ret_error)
{
	struct plan *p = pp->p;
	for (size_t i = 0; i < c->n_params; i++) {
		int r = parse_param(pp, c->params[i].key, c->params[i].value, ret_error);
		if (r < 0)
			return r;
	}
	if (pp->part.kind != PARTSEL_AUTO && !p->has_loop)
		return fail(ret_error, "loopboot.part", NULL,
		            "needs loop= naming a disk image — without loop= name the partition "
		            "itself with root=PARTUUID=...");
	p->loop.sel = pp->part;
	pp->part = (struct partsel){0};
	int r = check_network(p, pp, ret_error);
	if (r < 0)
		return r;
	if (pp->sha256) {
		free(p->net.sha256);
		p->net.sha256 = pp->sha256;
		pp->sha256 = NULL;
	}
	if (pp->bootif && !p->ip.device && p->net.kind != PLAN_NET_NONE) {
		_cleanup_free_ char *why = NULL;
		char *dev = NULL;
		/* Only a well-formed MAC: a malformed BOOTIF= is the firmware's, not ours. */
		if (plan_ip_device_parse(pp->bootif, &dev, &why) >= 0 && strchr(dev, ':'))
			p->ip.device = dev;
		else
			free(dev);
	}
	if (!pp->have_root && p->net.kind != PLAN_NET_HTTP)
		return fail(ret_error, "root", NULL,
		            p->has_loop ? "missing: with loop=, root= names the host device that "
		                          "holds the image — add root=UUID=... (blkid lists them)"
		                        : "missing — add root=UUID=... or root=/dev/NAME");
	if (!p->has_loop && p->net.kind == PLAN_NET_NONE) {
		if (p->n_mounts > 0)
			return fail(
			    ret_error, "loopboot.mount", p->mounts[0].target,
			    "needs loop= — extra images live on the host named by root= with "
			    "loop=; without loop= mount them from /etc/fstab");
		if (p->overlay != PLAN_OVERLAY_NONE || p->toram)
			return fail(ret_error,
			            p->overlay != PLAN_OVERLAY_NONE ? "loopboot.overlay"
			                                            : "loopboot.toram",
			            NULL,
			            "needs loop= — an overlay and toram are for a root image in a "
			            "file: add loop=/path/root.img");
		if (p->loopfstype || p->loopflags)
			strv_push(&p->warnings,
			          xstrdup("loopfstype=/loopflags= without loop= ignored"));
		return 0;
	}
	if (!p->hostdir)
		p->hostdir = xstrdup(PLAN_DEFAULT_HOSTDIR);
	r = check_overlay(p, ret_error);
	return r < 0 ? r : check_mounts(p, ret_error);
}

static int parse_params(const struct cmdline *c, struct plan *p, char **ret_error)
{
	struct plan_parser pp = {.p = p};
	int r = parse_params_with(&pp, c, ret_error);
	/* What the plan did not take, on success or failure. */
	free(pp.part.value);
	free(pp.sha256);
	free(pp.bootif);
	return r;
}

int plan_parse(const char *cmdline, struct plan *ret, char **ret_error)
{
	struct cmdline c;
	*ret_error = NULL;
	int r = cmdline_tokenize(cmdline ? cmdline : "", &c);
	if (r < 0) {
		*ret_error =
		    xasprintf("loopboot: splitting the kernel command line: %s", strerror(-r));
		return r;
	}
	struct plan p = {.read_only = true, .timeout = PLAN_DEFAULT_TIMEOUT};
	r = parse_params(&c, &p, ret_error);
	cmdline_free(&c);
	if (r < 0) {
		plan_free(&p);
		*ret = p;
		return r;
	}
	if (!p.hostdir)
		p.hostdir = xstrdup(PLAN_DEFAULT_HOSTDIR);
	*ret = p;
	return 0;
}

void plan_failure_policy(const char *cmdline, unsigned *ret_timeout, bool *ret_shell)
{
	*ret_timeout = PLAN_DEFAULT_TIMEOUT;
	*ret_shell = false;
	struct cmdline c;
	if (cmdline_tokenize(cmdline ? cmdline : "", &c) < 0)
		return;
	for (size_t i = 0; i < c.n_params; i++) {
		const char *k = c.params[i].key, *v = c.params[i].value;
		_cleanup_free_ char *err = NULL;
		unsigned t;
		bool b;
		if (key_eq(k, "loopboot.timeout") && parse_timeout(k, v, &t, &err) == 0)
			*ret_timeout = t;
		else if (key_eq(k, "loopboot.shell") && parse_bool(k, v, &b, &err) == 0)
			*ret_shell = b;
	}
	cmdline_free(&c);
}

char *devspec_to_string(const struct devspec *d)
{
	const char *tag = "";
	for (size_t i = 0; i < ARRAY_SIZE(devspec_tags); i++)
		if (devspec_tags[i].kind == d->kind)
			tag = devspec_tags[i].tag;
	return xasprintf("%s%s", tag, strempty(d->value));
}

char *imagepath_to_string(const struct imagepath *ip)
{
	size_t len = 1;
	for (unsigned i = 0; i < ip->n; i++)
		len += strlen(ip->part[i]) + 1;
	char *s = xmalloc(len);
	s[0] = '\0';
	for (unsigned i = 0; i < ip->n; i++) {
		if (i > 0)
			strcat(s, "/"); /* "/" + "/inner" gives the "//" separator */
		strcat(s, ip->part[i]);
	}
	return s;
}

static const char *or_detect(const char *s)
{
	return s ? s : "detect";
}

static void plan_print_network(const struct plan *p, FILE *f)
{
	static const char *const kinds[] = {
	    [PLAN_NET_NBD] = "NBD export (nbd-client; read-only, shared)",
	    [PLAN_NET_NFS] = "NFS export (the kernel's NFS client; read-only, shared)",
	    [PLAN_NET_NFS4] = "NFSv4 export (the kernel's NFS client; read-only, shared)",
	    [PLAN_NET_HTTP] = "an image downloaded into RAM (curl)",
	};
	const struct plan_ip *ip = &p->ip;
	static const char *const methods[] = {
	    [PLAN_IP_DEFAULT] = "dhcp (ip= not given)",
	    [PLAN_IP_OFF] = "not configured (ip=off: up already, or not needed)",
	    [PLAN_IP_DHCP] = "dhcp",
	    [PLAN_IP_STATIC] = "static",
	};
	fprintf(f, "network:  %s\n", methods[ip->method]);
	fprintf(f, "  device: %s\n", ip->device ? ip->device : "every interface");
	if (ip->method == PLAN_IP_STATIC)
		fprintf(f, "  address: %s netmask %s gateway %s\n", ip->client,
		        ip->netmask ? ip->netmask : "(by class)",
		        ip->gateway ? ip->gateway : "none");
	if (ip->hostname)
		fprintf(f, "  hostname: %s\n", ip->hostname);
	if (ip->dns0)
		fprintf(f, "  dns:    %s%s%s\n", ip->dns0, ip->dns1 ? " " : "", strempty(ip->dns1));
	fprintf(f, "  source: %s\n", kinds[p->net.kind]);
	if (p->net.kind == PLAN_NET_HTTP)
		fprintf(f, "  sha256: %s\n", p->net.sha256 ? p->net.sha256 : "not checked");
	else if (p->net.options)
		fprintf(f, "  options: %s\n", p->net.options);
}

void plan_print(const struct plan *p, FILE *f)
{
	_cleanup_free_ char *root = p->net.kind != PLAN_NET_NONE ? plan_net_to_string(&p->net)
	                                                         : devspec_to_string(&p->root);
	if (p->net.kind != PLAN_NET_NONE)
		plan_print_network(p, f);
	if (!p->has_loop && p->net.kind == PLAN_NET_NONE) {
		fprintf(f, "root:     %s (no loop=: a plain root device)\n", root);
		fprintf(f, "  type:   %s\n", or_detect(p->rootfstype));
		fprintf(f, "  flags:  %s\n", p->rootflags ? p->rootflags : "-");
		fprintf(f, "  mode:   %s\n", p->read_only ? "read-only" : "read-write");
	} else {
		fprintf(f, "host:     %s\n", root);
		fprintf(f, "  type:   %s\n", or_detect(p->rootfstype));
		fprintf(f, "  flags:  %s\n", p->rootflags ? p->rootflags : "-");
		fprintf(f, "  at:     %s (inside the new root)\n", p->hostdir);
		fprintf(f, "image:    /\n");
		if (!p->has_loop)
			fprintf(f, "  file:   none: the export's file system is the root\n");
		for (unsigned i = 0; i < p->loop.n; i++)
			fprintf(f, "  %s %s%s\n", i == 0 ? "file:  " : "inside:", p->loop.part[i],
			        i == 0 ? " (on the host)" : "");
		if (p->loop.sel.kind != PARTSEL_AUTO) {
			_cleanup_free_ char *part = partsel_to_string(&p->loop.sel);
			fprintf(f, "  part:   %s (of a disk image in the path)\n", part);
		}
		fprintf(f, "  type:   %s\n", or_detect(p->loopfstype));
		fprintf(f, "  flags:  %s\n", p->loopflags ? p->loopflags : "-");
		fprintf(f, "  mode:   %s\n",
		        p->overlay != PLAN_OVERLAY_NONE ? "read-only (under the overlay)"
		        : p->read_only                  ? "read-only (ro)"
		                                        : "read-write (rw)");
		fprintf(f, "  device: %s\n",
		        p->mode == PLAN_MODE_LINEAR
		            ? "linear (device-mapper over the file's extents; the host read-only)"
		            : "loop");
		if (p->toram)
			fprintf(f, "  toram:  copied into RAM before it is mounted%s\n",
			        p->overlay == PLAN_OVERLAY_FILE || p->n_mounts
			            ? ""
			            : "; the host is unmounted afterwards");
		if (p->overlay != PLAN_OVERLAY_NONE) {
			_cleanup_free_ char *dev = p->overlay == PLAN_OVERLAY_DEVICE
			                               ? devspec_to_string(&p->overlay_dev)
			                               : NULL;
			fprintf(f, "overlay:  the root image read-only, a writable layer on top\n");
			if (p->overlay == PLAN_OVERLAY_TMPFS)
				fprintf(f, "  layer:  tmpfs (size %s; lost at shutdown)\n",
				        p->overlay_size ? p->overlay_size : "half of RAM");
			else if (p->overlay == PLAN_OVERLAY_FILE)
				fprintf(f, "  layer:  %s (on the host: upper/, work/)\n",
				        p->overlay_path);
			else
				fprintf(f, "  layer:  %s on %s (upper/, work/)\n", p->overlay_path,
				        dev);
			if (p->overlay_reset)
				fprintf(f, "  reset:  emptied before it is mounted\n");
			if (p->overlay_readonly)
				fprintf(f, "  readonly: the layer read-only, tmpfs on top\n");
		}
		for (unsigned i = 0; i < p->n_mounts; i++) {
			const struct plan_mount *m = &p->mounts[i];
			_cleanup_free_ char *img = imagepath_to_string(&m->image);
			fprintf(f, "mount:    %s\n", m->target);
			fprintf(f, "  file:   %s (on the host)\n", img);
			if (m->image.sel.kind != PARTSEL_AUTO) {
				_cleanup_free_ char *part = partsel_to_string(&m->image.sel);
				fprintf(f, "  part:   %s (of a disk image in the path)\n", part);
			}
			fprintf(f, "  type:   %s\n", or_detect(m->fstype));
			fprintf(f, "  flags:  %s\n", m->options ? m->options : "-");
		}
	}
	fprintf(f, "init:     %s\n",
	        p->init ? p->init : "/sbin/init, /etc/init, /bin/init, /bin/sh");
	fprintf(f, "timeout:  %u s\n", p->timeout);
	fprintf(f, "debug:    %s\n", p->debug ? "yes" : "no");
	if (p->times && !p->debug)
		fprintf(f, "times:    yes\n");
	fprintf(f, "shell:    %s\n", p->shell ? "yes, on failure" : "no");
	static const char *const modes[] = {"auto", "force", "skip"}, *const repairs[] = {
	                                                                  "preen", "yes", "no"};
	fprintf(f, "fsck:     mode=%s repair=%s\n", modes[p->fsck_mode], repairs[p->fsck_repair]);
	fprintf(f, "unsafe host: %s\n",
	        p->hibernated_ro ? "read-only session (loopboot.hibernated=ro)" : "refuse");
	if (p->bitlocker == PLAN_BITLOCKER_NONE) {
		fprintf(f, "bitlocker: refuse (no loopboot.bitlocker=)\n");
	} else if (p->bitlocker == PLAN_BITLOCKER_ASK) {
		fprintf(f, "bitlocker: a BitLocker host is opened (dm-crypt, libcryptsetup) with "
		           "the recovery password asked on the console; the host file system is "
		           "mounted from that mapping\n");
	} else {
		_cleanup_free_ char *dev = devspec_to_string(&p->bitlocker_dev);
		fprintf(f,
		        "bitlocker: a BitLocker host is opened (dm-crypt, libcryptsetup) with "
		        "the recovery password in %s on %s (mounted read-only); the host file "
		        "system is mounted from that mapping\n",
		        p->bitlocker_path, dev);
	}
	for (size_t i = 0; i < p->warnings.n; i++)
		fprintf(f, "warning:  %s\n", p->warnings.v[i]);
}
