/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/state.h"

#include <errno.h>

struct state_record *state_add(struct state *s, const char *kind)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	struct state_record *r = &s->v[s->n++];
	*r = (struct state_record){.kind = xstrdup(kind)};
	return r;
}

static void record_free(struct state_record *r)
{
	free(r->kind);
	strv_free(&r->keys);
	strv_free(&r->values);
}

void state_set(struct state_record *r, const char *key, const char *value)
{
	for (size_t i = 0; i < r->keys.n; i++) {
		if (!streq(r->keys.v[i], key))
			continue;
		free(r->values.v[i]);
		if (value) {
			r->values.v[i] = xstrdup(value);
			return;
		}
		/* Remove by moving the last pair into this slot. */
		free(r->keys.v[i]);
		r->keys.n--;
		r->values.n--;
		r->keys.v[i] = r->keys.v[r->keys.n];
		r->values.v[i] = r->values.v[r->values.n];
		r->keys.v[r->keys.n] = r->values.v[r->values.n] = NULL;
		return;
	}
	if (value) {
		strv_push(&r->keys, xstrdup(key));
		strv_push(&r->values, xstrdup(value));
	}
}

const char *state_get(const struct state_record *r, const char *key)
{
	for (size_t i = 0; i < r->keys.n; i++)
		if (streq(r->keys.v[i], key))
			return r->values.v[i];
	return NULL;
}

void state_remove_last(struct state *s)
{
	if (s->n > 0)
		record_free(&s->v[--s->n]);
}

void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++)
		record_free(&s->v[i]);
	free(s->v);
	*s = (struct state){0};
}

static void put_escaped(FILE *f, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\' || *p < 0x20)
			fprintf(f, "\\%03o", *p);
		else
			fputc(*p, f);
	}
}

int state_save(const struct state *s, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fputs("# loopboot state 1: what the boot built, in order; read by loopboot status and "
	      "shutdown\n",
	      f);
	for (size_t i = 0; i < s->n; i++) {
		const struct state_record *r = &s->v[i];
		fputs(r->kind, f);
		for (size_t k = 0; k < r->keys.n; k++) {
			fprintf(f, " %s=", r->keys.v[k]);
			put_escaped(f, r->values.v[k]);
		}
		fputc('\n', f);
	}
	fclose(f);
	int r = write_file_atomic(path, buf, len, 0644);
	free(buf);
	return r;
}

static char *unescape(const char *v, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\\' && i + 3 < n && v[i + 1] >= '0' && v[i + 1] <= '3' &&
		    v[i + 2] >= '0' && v[i + 2] <= '7' && v[i + 3] >= '0' && v[i + 3] <= '7') {
			*o++ =
			    (char)((v[i + 1] - '0') * 64 + (v[i + 2] - '0') * 8 + (v[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = v[i];
		}
	}
	*o = '\0';
	return out;
}

int state_load(const char *path, struct state *ret)
{
	_cleanup_free_ char *data = NULL;
	int r = read_file(path, &data, NULL);
	if (r < 0)
		return r;
	*ret = (struct state){0};
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		size_t klen = strcspn(line, " ");
		_cleanup_free_ char *kind = xstrndup(line, klen);
		struct state_record *rec = state_add(ret, kind);
		char *p = line + klen;
		while (*p == ' ')
			p++;
		while (*p) {
			size_t flen = strcspn(p, " ");
			char *eq = memchr(p, '=', flen);
			if (eq) {
				_cleanup_free_ char *key = xstrndup(p, (size_t)(eq - p));
				_cleanup_free_ char *val =
				    unescape(eq + 1, flen - (size_t)(eq - p) - 1);
				state_set(rec, key, val);
			}
			p += flen;
			while (*p == ' ')
				p++;
		}
	}
	return 0;
}

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

void state_print_json(const struct state *s, FILE *f)
{
	fputs("[", f);
	for (size_t i = 0; i < s->n; i++) {
		const struct state_record *r = &s->v[i];
		fputs(i ? ",\n {" : "\n {", f);
		fputs("\"kind\": ", f);
		put_json_string(f, r->kind);
		for (size_t k = 0; k < r->keys.n; k++) {
			fputs(", ", f);
			put_json_string(f, r->keys.v[k]);
			fputs(": ", f);
			put_json_string(f, r->values.v[k]);
		}
		fputs("}", f);
	}
	fputs("\n]\n", f);
}
