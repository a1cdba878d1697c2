/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "basic/options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "basic/util.h"

enum { OPT_VAL = 0x100 }; /* getopt's val for opts[i] is OPT_VAL + i */

static const struct opt *opt_find(const struct opt *opts, size_t n, int c)
{
	if (c >= OPT_VAL && (size_t)(c - OPT_VAL) < n)
		return &opts[c - OPT_VAL];
	for (size_t i = 0; c > 0 && c < OPT_VAL && i < n; i++)
		if (opts[i].letter == c)
			return &opts[i];
	return NULL;
}

static int opt_take(const struct opt *o, const char *value)
{
	switch (o->kind) {
	case OPT_KIND_STRING:
		*(const char **)o->to = value;
		return 0;
	case OPT_KIND_LIST:
		strv_push(o->to, xstrdup(value));
		return 0;
	case OPT_KIND_FLAG:
		*(bool *)o->to = true;
		return 0;
	case OPT_KIND_CALL:
		return o->call(value, o->to);
	}
	return 2;
}

/* getopt's complaint about the option at argv[optind - 1], in our words. */
static int opt_refuse(int c, char **argv, const struct opt *opts, size_t n)
{
	const char *word = argv[optind - 1];
	char letter[3] = {'-', (char)optopt, '\0'};
	/* A short option inside a cluster (-xv): the word may be another one; name it. */
	if (optopt > 0 && optopt < OPT_VAL && !startswith(word, "--"))
		word = letter;
	const char *why = "unknown option";
	if (c == ':')
		why = "the option needs a value";
	else if (optopt && (optopt == 'h' || opt_find(opts, n, optopt)))
		why = "the option takes no value";
	return opts_usage_error(argv[0], "%s: %s", word, why);
}

int opts_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loopboot: %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " — see loopboot %s --help\n", cmd);
	va_end(ap);
	return 2;
}

int opts_parse(int argc, char **argv, const struct opt *opts, size_t n, unsigned flags,
               const char *usage)
{
	_cleanup_free_ struct option *longopts = xcalloc(n + 2, sizeof(*longopts));
	_cleanup_free_ char *shortopts = xcalloc(2 * n + 4, 1);
	size_t len = 0;
	if (flags & OPTS_WORD_ENDS)
		shortopts[len++] = '+';
	shortopts[len++] = ':'; /* a missing value comes back as ':' */
	for (size_t i = 0; i < n; i++) {
		int has_arg = opts[i].kind == OPT_KIND_FLAG ? no_argument : required_argument;
		longopts[i] = (struct option){opts[i].name, has_arg, NULL, OPT_VAL + (int)i};
		if (opts[i].letter) {
			shortopts[len++] = opts[i].letter;
			if (has_arg == required_argument)
				shortopts[len++] = ':';
		}
	}
	longopts[n] = (struct option){"help", no_argument, NULL, 'h'};
	shortopts[len] = 'h';
	optind = 0; /* glibc: start afresh, whatever was parsed before */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		const struct opt *o = c == '?' || c == ':' ? NULL : opt_find(opts, n, c);
		if (!o)
			return opt_refuse(c, argv, opts, n);
		int r = opt_take(o, optarg);
		if (r)
			return r;
	}
	return -1;
}
