/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/state.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>

#include "basic/strbuf.h"
#include "basic/util.h"

/* ---- the fields of each kind, as libmount annotates its struct with mountinfo's columns */

enum field_type {
	FIELD_STRING, /* char *, NULL: not written */
	FIELD_BOOL,   /* bool, "0" or "1" */
	FIELD_PID,    /* pid_t, not written when 0 */
	FIELD_COUNT,  /* unsigned long */
	FIELD_U64,    /* uint64_t, not written when 0 */
	FIELD_ROLE,   /* enum mount_role, by name */
	FIELD_MODE,   /* enum plan_mode, by name */
};

struct field {
	const char *key;
	enum field_type type;
	size_t offset; /* in struct layer */
	unsigned flags;
};
#define REQUIRED 1u /* a record without it cannot be undone */
#define PATH     2u /* a place in the file system tree, as seen from the new root */

#define AT(member) offsetof(struct layer, member)

/* In the order they are written: tests and people read the file. */
/* clang-format off */
static const struct field host_fields[] = {
    {"spec", FIELD_STRING, AT(host.spec), 0},
    {"source", FIELD_STRING, AT(host.source), 0},
    {"type", FIELD_STRING, AT(host.type), 0},
    {"driver", FIELD_STRING, AT(host.driver), 0},
    {"target", FIELD_STRING, AT(host.target), REQUIRED | PATH},
    {"options", FIELD_STRING, AT(host.options), 0},
    {"ro", FIELD_BOOL, AT(host.read_only), 0},
    {"fuse", FIELD_BOOL, AT(host.fuse), 0},
    {"mode", FIELD_MODE, AT(host.mode), 0},
    {"linear_refused", FIELD_STRING, AT(host.linear_refused), 0},
    {"dm", FIELD_STRING, AT(host.dm), 0},
    {"device", FIELD_STRING, AT(host.device), 0},
    {"pid", FIELD_PID, AT(host.daemon_pid), 0},
};
static const struct field loop_fields[] = {
    {"device", FIELD_STRING, AT(loop.device), REQUIRED},
    {"file", FIELD_STRING, AT(loop.file), 0},
    {"parent", FIELD_STRING, AT(loop.parent), PATH},
    {"ro", FIELD_BOOL, AT(loop.read_only), 0},
    {"dio", FIELD_BOOL, AT(loop.direct_io), 0},
    {"offset", FIELD_U64, AT(loop.offset), 0},
    {"sizelimit", FIELD_U64, AT(loop.sizelimit), 0},
};
static const struct field dm_fields[] = {
    {"device", FIELD_STRING, AT(dm.device), 0},
    {"name", FIELD_STRING, AT(dm.name), REQUIRED},
    {"extents", FIELD_COUNT, AT(dm.extents), 0},
    {"file", FIELD_STRING, AT(dm.file), 0},
    {"parent", FIELD_STRING, AT(dm.parent), PATH},
    {"on", FIELD_STRING, AT(dm.on), 0},
    {"target", FIELD_STRING, AT(dm.target), 0},
    {"ro", FIELD_BOOL, AT(dm.read_only), 0},
    {"offset", FIELD_U64, AT(dm.offset), 0},
    {"size", FIELD_U64, AT(dm.size), 0},
};
static const struct field mount_fields[] = {
    {"role", FIELD_ROLE, AT(mount.role), REQUIRED},
    {"source", FIELD_STRING, AT(mount.source), 0},
    {"target", FIELD_STRING, AT(mount.target), REQUIRED | PATH},
    {"type", FIELD_STRING, AT(mount.type), 0},
    {"image", FIELD_STRING, AT(mount.image), 0},
    {"ro", FIELD_BOOL, AT(mount.read_only), 0},
    {"options", FIELD_STRING, AT(mount.options), 0},
    {"overlay", FIELD_STRING, AT(mount.overlay), 0},
    {"disk", FIELD_STRING, AT(mount.disk), 0},
    {"partition", FIELD_U64, AT(mount.partition), 0},
};
static const struct field crypt_fields[] = {
    {"device", FIELD_STRING, AT(crypt.device), 0},
    {"name", FIELD_STRING, AT(crypt.name), REQUIRED},
    {"volume", FIELD_STRING, AT(crypt.volume), 0},
    {"type", FIELD_STRING, AT(crypt.type), 0},
    {"key", FIELD_STRING, AT(crypt.key), 0},
    {"ro", FIELD_BOOL, AT(crypt.read_only), 0},
};
static const struct field net_fields[] = {
    {"interface", FIELD_STRING, AT(net.interface), REQUIRED},
    {"mac", FIELD_STRING, AT(net.mac), 0},
    {"address", FIELD_STRING, AT(net.address), 0},
    {"netmask", FIELD_STRING, AT(net.netmask), 0},
    {"gateway", FIELD_STRING, AT(net.gateway), 0},
    {"method", FIELD_STRING, AT(net.method), 0},
    {"hostname", FIELD_STRING, AT(net.hostname), 0},
    {"server", FIELD_STRING, AT(net.server), 0},
    {"external", FIELD_BOOL, AT(net.external), 0},
};
static const struct field nbd_fields[] = {
    {"device", FIELD_STRING, AT(nbd.device), REQUIRED},
    {"server", FIELD_STRING, AT(nbd.server), 0},
    {"port", FIELD_COUNT, AT(nbd.port), 0},
    {"export", FIELD_STRING, AT(nbd.export), 0},
    {"ro", FIELD_BOOL, AT(nbd.read_only), 0},
    {"pid", FIELD_PID, AT(nbd.daemon_pid), 0},
};
/* clang-format on */

static const struct {
	const struct field *fields;
	size_t n;
} kinds[_LAYER_KIND_MAX] = {
    [LAYER_HOST] = {host_fields, ARRAY_SIZE(host_fields)},
    [LAYER_LOOP] = {loop_fields, ARRAY_SIZE(loop_fields)},
    [LAYER_DM] = {dm_fields, ARRAY_SIZE(dm_fields)},
    [LAYER_MOUNT] = {mount_fields, ARRAY_SIZE(mount_fields)},
    [LAYER_CRYPT] = {crypt_fields, ARRAY_SIZE(crypt_fields)},
    [LAYER_NET] = {net_fields, ARRAY_SIZE(net_fields)},
    [LAYER_NBD] = {nbd_fields, ARRAY_SIZE(nbd_fields)},
};

static const char *const mode_names[] = {[PLAN_MODE_LOOP] = "loop", [PLAN_MODE_LINEAR] = "linear"};

#define FIELD_PTR(l, f, type) ((type *)((char *)(l) + (f)->offset))

void layer_walk_strings(struct layer *l, bool paths_only, void (*fn)(char **s, void *userdata),
                        void *userdata)
{
	if ((unsigned)l->kind >= _LAYER_KIND_MAX)
		return;
	for (size_t i = 0; i < kinds[l->kind].n; i++) {
		const struct field *f = &kinds[l->kind].fields[i];
		if (f->type == FIELD_STRING && ((f->flags & PATH) || !paths_only))
			fn(FIELD_PTR(l, f, char *), userdata);
	}
}

static const struct field *field_find(enum layer_kind k, const char *key)
{
	for (size_t i = 0; i < kinds[k].n; i++)
		if (streq(kinds[k].fields[i].key, key))
			return &kinds[k].fields[i];
	return NULL;
}

static int kind_find(const char *name, enum layer_kind *ret)
{
	for (int k = 0; k < _LAYER_KIND_MAX; k++)
		if (streq(layer_kind_name((enum layer_kind)k), name)) {
			*ret = (enum layer_kind)k;
			return 0;
		}
	return -ENOENT;
}

/* The field's value as text (allocated), or NULL when it is not set (not written). */
static char *field_value(const struct layer *l, const struct field *f)
{
	switch (f->type) {
	case FIELD_STRING: {
		const char *s = *FIELD_PTR(l, f, char *const);
		return s ? xstrdup(s) : NULL;
	}
	case FIELD_BOOL:
		return xstrdup(*FIELD_PTR(l, f, const bool) ? "1" : "0");
	case FIELD_PID: {
		pid_t pid = *FIELD_PTR(l, f, const pid_t);
		return pid > 0 ? xasprintf("%d", (int)pid) : NULL;
	}
	case FIELD_COUNT:
		return xasprintf("%lu", *FIELD_PTR(l, f, const unsigned long));
	case FIELD_U64: {
		uint64_t v = *FIELD_PTR(l, f, const uint64_t);
		return v ? xasprintf("%" PRIu64, v) : NULL;
	}
	case FIELD_ROLE:
		return xstrdup(mount_role_name(*FIELD_PTR(l, f, const enum mount_role)));
	case FIELD_MODE: {
		enum plan_mode m = *FIELD_PTR(l, f, const enum plan_mode);
		return xstrdup((unsigned)m < ARRAY_SIZE(mode_names) ? mode_names[m] : "loop");
	}
	}
	return NULL;
}

static int parse_number(const char *v, unsigned long max, unsigned long *ret)
{
	if (!*v || *v < '0' || *v > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

/* Sets the field from its text. -EINVAL when the text is not a value of its type. */
static int field_set(struct layer *l, const struct field *f, const char *v)
{
	unsigned long n;
	switch (f->type) {
	case FIELD_STRING: {
		char **p = FIELD_PTR(l, f, char *);
		free(*p);
		*p = xstrdup(v);
		return 0;
	}
	case FIELD_BOOL:
		if (!streq(v, "0") && !streq(v, "1"))
			return -EINVAL;
		*FIELD_PTR(l, f, bool) = streq(v, "1");
		return 0;
	case FIELD_PID:
		if (parse_number(v, INT_MAX, &n) < 0 || n == 0)
			return -EINVAL;
		*FIELD_PTR(l, f, pid_t) = (pid_t)n;
		return 0;
	case FIELD_COUNT:
		if (parse_number(v, ULONG_MAX, &n) < 0)
			return -EINVAL;
		*FIELD_PTR(l, f, unsigned long) = n;
		return 0;
	case FIELD_U64: {
		if (!*v || *v < '0' || *v > '9')
			return -EINVAL;
		char *end;
		errno = 0;
		unsigned long long u = strtoull(v, &end, 10);
		if (errno || *end || u == 0)
			return -EINVAL;
		*FIELD_PTR(l, f, uint64_t) = (uint64_t)u;
		return 0;
	}
	case FIELD_ROLE:
		for (int r = 0; r < _MOUNT_ROLE_MAX; r++)
			if (streq(v, mount_role_name((enum mount_role)r))) {
				*FIELD_PTR(l, f, enum mount_role) = (enum mount_role)r;
				return 0;
			}
		return -EINVAL;
	case FIELD_MODE:
		for (size_t m = 0; m < ARRAY_SIZE(mode_names); m++)
			if (streq(v, mode_names[m])) {
				*FIELD_PTR(l, f, enum plan_mode) = (enum plan_mode)m;
				return 0;
			}
		return -EINVAL;
	}
	return -EINVAL;
}

/* ---- text ---------------------------------------------------------------------------- */

static void put_escaped(struct strbuf *b, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\' || *p < 0x20)
			strbuf_printf(b, "\\%03o", *p);
		else
			strbuf_putc(b, (char)*p);
	}
}

char *state_format(const struct stack *s)
{
	struct strbuf b = {0};
	strbuf_printf(&b,
	              "# loopboot state: what the boot built, in order; read by loopboot "
	              "status and shutdown\nversion %d\n",
	              STATE_VERSION);
	for (size_t i = 0; i < s->n; i++) {
		const struct layer *l = &s->v[i];
		strbuf_printf(&b, "%s", layer_kind_name(l->kind));
		for (size_t k = 0; k < kinds[l->kind].n; k++) {
			const struct field *f = &kinds[l->kind].fields[k];
			_cleanup_free_ char *v = field_value(l, f);
			if (!v)
				continue;
			strbuf_printf(&b, " %s=", f->key);
			put_escaped(&b, v);
		}
		strbuf_putc(&b, '\n');
	}
	return strbuf_steal(&b);
}

int state_save(const struct stack *s, const char *path)
{
	_cleanup_free_ char *text = state_format(s);
	return write_file_atomic(path, text, strlen(text), 0644);
}

/* One "KIND key=value ..." line into a new record of s. */
static int parse_record(char *line, unsigned lineno, struct stack *s, char **ret_error)
{
	size_t klen = strcspn(line, " ");
	_cleanup_free_ char *kind_name = xstrndup(line, klen);
	enum layer_kind kind;
	if (kind_find(kind_name, &kind) < 0) {
		*ret_error = xasprintf("line %u: unknown kind of record \"%s\"", lineno, kind_name);
		return -EBADMSG;
	}
	struct layer *l = stack_push(s, kind);
	bool seen[16] = {false};
	_Static_assert(ARRAY_SIZE(host_fields) <= ARRAY_SIZE(seen), "seen[] too small");
	for (char *p = line + klen; *p;) {
		p += strspn(p, " ");
		if (!*p)
			break;
		size_t flen = strcspn(p, " ");
		char *eq = memchr(p, '=', flen);
		_cleanup_free_ char *key = xstrndup(p, eq ? (size_t)(eq - p) : flen);
		const struct field *f = eq ? field_find(kind, key) : NULL;
		if (!f) {
			*ret_error = xasprintf("line %u: %s: %s \"%s\"", lineno, kind_name,
			                       eq ? "unknown key" : "not key=value", key);
			return -EBADMSG;
		}
		size_t idx = (size_t)(f - kinds[kind].fields);
		_cleanup_free_ char *value = octal_unescape(eq + 1, flen - (size_t)(eq - p) - 1);
		if (seen[idx] || field_set(l, f, value) < 0) {
			/* The field as written: its escapes keep the message on one line. */
			*ret_error =
			    xasprintf("line %u: %s: %s %.*s", lineno, kind_name,
			              seen[idx] ? "repeated key" : "bad value", (int)flen, p);
			return -EBADMSG;
		}
		seen[idx] = true;
		p += flen;
	}
	for (size_t k = 0; k < kinds[kind].n; k++)
		if ((kinds[kind].fields[k].flags & REQUIRED) && !seen[k]) {
			*ret_error = xasprintf("line %u: %s: %s= is missing", lineno, kind_name,
			                       kinds[kind].fields[k].key);
			return -EBADMSG;
		}
	return 0;
}

static int parse_version(const char *line, unsigned lineno, char **ret_error)
{
	const char *v = startswith(line, "version ");
	unsigned long n;
	if (!v || parse_number(v, UINT_MAX, &n) < 0) {
		*ret_error = xasprintf("line %u: not a version line: %s", lineno, line);
		return -EBADMSG;
	}
	if (n != STATE_VERSION) {
		*ret_error = xasprintf("version %lu of the record: this loopboot reads version %d "
		                       "(another loopboot wrote it)",
		                       n, STATE_VERSION);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

int state_parse(const char *text, struct stack *ret, char **ret_error)
{
	_cleanup_free_ char *data = xstrdup(text);
	*ret = (struct stack){0};
	*ret_error = NULL;
	unsigned lineno = 0;
	bool first = true;
	int r = 0;
	for (char *line = data, *next; line && r >= 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (startswith(line, "version") && (line[7] == ' ' || !line[7]))
			r = first ? parse_version(line, lineno, ret_error) : -EBADMSG;
		else
			r = parse_record(line, lineno, ret, ret_error);
		if (r == -EBADMSG && !*ret_error)
			*ret_error = xasprintf("line %u: the version line must come first", lineno);
		first = false;
	}
	if (r < 0)
		stack_free(ret);
	return r < 0 ? r : 0;
}

int state_load(const char *path, struct stack *ret, char **ret_error)
{
	*ret = (struct stack){0};
	*ret_error = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_file(path, &data, &len);
	if (r < 0)
		return r;
	if (strlen(data) != len) {
		*ret_error = xstrdup("it holds a NUL byte");
		return -EBADMSG;
	}
	return state_parse(data, ret, ret_error);
}

/* ---- for other programs --------------------------------------------------------------- */

static void put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void state_print_json(const struct stack *s, FILE *f)
{
	fputs("[", f);
	for (size_t i = 0; i < s->n; i++) {
		const struct layer *l = &s->v[i];
		fputs(i ? ",\n {\"kind\": " : "\n {\"kind\": ", f);
		put_json_string(f, layer_kind_name(l->kind));
		for (size_t k = 0; k < kinds[l->kind].n; k++) {
			const struct field *fd = &kinds[l->kind].fields[k];
			_cleanup_free_ char *v = field_value(l, fd);
			if (!v)
				continue;
			fprintf(f, ", \"%s\": ", fd->key);
			if (fd->type == FIELD_BOOL)
				fputs(streq(v, "1") ? "true" : "false", f);
			else if (fd->type == FIELD_PID || fd->type == FIELD_COUNT ||
			         fd->type == FIELD_U64)
				fputs(v, f);
			else
				put_json_string(f, v);
		}
		fputs("}", f);
	}
	fputs("\n]\n", f);
}

int state_print_field(const struct stack *s, const char *field, FILE *f)
{
	const char *dot = strchr(field, '.');
	_cleanup_free_ char *kind_name = dot ? xstrndup(field, (size_t)(dot - field)) : NULL;
	enum layer_kind kind;
	const struct field *fd = NULL;
	if (kind_name && kind_find(kind_name, &kind) == 0)
		fd = field_find(kind, dot + 1);
	if (!fd)
		return -EINVAL;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].kind != kind)
			continue;
		_cleanup_free_ char *v = field_value(&s->v[i], fd);
		if (!v)
			continue;
		/* One value a line, whatever it holds. */
		for (const char *p = v; *p; p++)
			if (*p == '\n' || *p == '\\')
				fprintf(f, "\\%03o", (unsigned char)*p);
			else
				fputc(*p, f);
		fputc('\n', f);
	}
	return 0;
}

char *state_field_names(void)
{
	struct strbuf b = {0};
	for (int k = 0; k < _LAYER_KIND_MAX; k++)
		for (size_t i = 0; i < kinds[k].n; i++)
			strbuf_printf(&b, "%s%s.%s", b.len ? " " : "",
			              layer_kind_name((enum layer_kind)k), kinds[k].fields[i].key);
	return strbuf_steal(&b);
}
