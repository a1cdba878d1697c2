/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "basic/util.h"
#include "engine/cmdline.h"

/* The kernel's isspace() for the characters that matter on a command line. Bytes >= 0x80
 * are never separators here, so that UTF-8 paths survive intact. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void push_param(struct cmdline *c, size_t *cap, char *key, char *value)
{
	if (c->n_params == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		c->params = xrealloc(c->params, *cap * sizeof(*c->params));
	}
	c->params[c->n_params++] = (struct cmdline_param){.key = key, .value = value};
}

/*
 * One word, as next_arg() in the kernel's lib/cmdline.c splits it: a leading quote starts
 * a quoted word; inside the word every '"' toggles quoting; the first '=' (not at position
 * 0) separates the value. A value that starts with '"' loses it and the word's final '"';
 * a word that started with '"' loses its final '"'. Returns the position after the word.
 */
static const char *next_word(const char *s, char **ret_key, char **ret_value)
{
	bool in_quote = false, quoted = false;
	if (*s == '"') {
		s++;
		in_quote = quoted = true;
	}
	size_t i, equals = 0;
	for (i = 0; s[i]; i++) {
		if (is_space(s[i]) && !in_quote)
			break;
		if (equals == 0 && s[i] == '=')
			equals = i;
		if (s[i] == '"')
			in_quote = !in_quote;
	}
	size_t len = i;
	char *word = xstrndup(s, len);
	char *value = NULL;
	if (equals) {
		word[equals] = '\0';
		value = word + equals + 1;
		if (*value == '"') {
			value++;
			if (len > 0 && word[len - 1] == '"')
				word[len - 1] = '\0';
		}
	}
	if (quoted && len > 0 && word[len - 1] == '"')
		word[len - 1] = '\0';
	*ret_key = word;
	*ret_value = value ? xstrdup(value) : NULL; /* the key ends at the '=' */
	return s + len;
}

int cmdline_tokenize(const char *s, struct cmdline *ret)
{
	struct cmdline c = {0};
	size_t cap = 0;
	struct strv init = {0};
	bool after_dashes = false;

	while (*s) {
		while (is_space(*s))
			s++;
		if (!*s)
			break;
		char *key, *value;
		s = next_word(s, &key, &value);
		if (after_dashes) {
			/* init's arguments: the kernel hands them over as whole words. */
			if (value) {
				char *w = xasprintf("%s=%s", key, value);
				free(key);
				free(value);
				key = w;
			}
			strv_push(&init, key);
			continue;
		}
		if (!value && streq(key, "--")) {
			free(key);
			after_dashes = true;
			continue;
		}
		push_param(&c, &cap, key, value);
	}
	if (!init.v)
		init.v = xcalloc(1, sizeof(char *));
	c.init_args = init.v;
	c.n_init_args = init.n;
	*ret = c;
	return 0;
}

void cmdline_free(struct cmdline *c)
{
	for (size_t i = 0; i < c->n_params; i++) {
		free(c->params[i].key);
		free(c->params[i].value);
	}
	free(c->params);
	for (size_t i = 0; i < c->n_init_args; i++)
		free(c->init_args[i]);
	free(c->init_args);
	*c = (struct cmdline){0};
}

int cmdline_read(const char *path, char **ret)
{
	char *s;
	int r = read_file(path ? path : "/proc/cmdline", &s, NULL);
	if (r < 0)
		return r;
	strip_trailing(s);
	*ret = s;
	return 0;
}

char *cmdline_word(const char *key, const char *value)
{
	bool blank = strpbrk(value, " \t") != NULL;
	return xasprintf("%s%s=%s%s", blank ? "\"" : "", key, value, blank ? "\"" : "");
}
