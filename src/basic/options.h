/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A command's options: one table per command, parsed with getopt_long, and every message
 * one line of ours ("loopboot: CMD: OPTION: why — see loopboot CMD --help"), never
 * getopt's own.
 */
#pragma once

#include <stddef.h>
#include <unistd.h> /* optind, where opts_parse() leaves it */

enum opt_kind {
	OPT_KIND_STRING, /* --name VALUE: *(const char **)to = VALUE; the last one given counts */
	OPT_KIND_LIST,   /* --name VALUE, as often as wanted: a copy onto *(struct strv *)to */
	OPT_KIND_FLAG,   /* --name: *(bool *)to = true; --name=VALUE is refused */
	OPT_KIND_CALL,   /* --name VALUE: call(VALUE, to), 0 or an exit status after its line */
};

struct opt {
	const char *name; /* the long name, without "--" */
	char letter;      /* the short one (-x), or 0 */
	enum opt_kind kind;
	void *to;
	int (*call)(const char *value, void *to); /* OPT_KIND_CALL only */
};

/* The table's rows: OPT_STRING("root-mnt", 'r', &root_mnt), OPT_FLAG("force", 0, &force). */
#define OPT_STRING(n, l, t)                                                                        \
	{                                                                                          \
		.name = (n), .letter = (l), .kind = OPT_KIND_STRING, .to = (t)                     \
	}
#define OPT_LIST(n, l, t)                                                                          \
	{                                                                                          \
		.name = (n), .letter = (l), .kind = OPT_KIND_LIST, .to = (t)                       \
	}
#define OPT_FLAG(n, l, t)                                                                          \
	{                                                                                          \
		.name = (n), .letter = (l), .kind = OPT_KIND_FLAG, .to = (t)                       \
	}
#define OPT_CALL(n, l, t, f)                                                                       \
	{                                                                                          \
		.name = (n), .letter = (l), .kind = OPT_KIND_CALL, .to = (t), .call = (f)          \
	}

/* Options end at the first word that is not one (getopt's "+"): for a command whose
 * arguments are not its own (a program to run) or that takes none. */
#define OPTS_WORD_ENDS 1u

/*
 * Parses argv (argv[0] is the command's name, as messages say it) with opts[0..n) and
 * --help/-h, which prints usage to stdout. Returns -1 to go on, optind at the first word
 * that is not an option; else the exit status: 0 after --help, 2 after one loopboot:
 * line (an unknown option, a missing value, a value given to a flag, or a call's own).
 */
int opts_parse(int argc, char **argv, const struct opt *opts, size_t n, unsigned flags,
               const char *usage);

/* One line for a usage error of the command cmd, "loopboot: CMD: WHAT — see loopboot CMD
 * --help", with WHAT formatted as printf does. Returns 2, the exit status. */
int opts_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* opts_parse() with the table written in place: OPTS_PARSE(argc, argv, flags, usage,
 * OPT_STRING("name", 'n', &value), ...). */
#define OPTS_PARSE(argc, argv, flags, usage, ...)                                                  \
	opts_parse((argc), (argv), (const struct opt[]){__VA_ARGS__},                              \
	           sizeof((const struct opt[]){__VA_ARGS__}) / sizeof(struct opt), (flags),        \
	           (usage))
