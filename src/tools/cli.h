/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the user-facing commands share. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "engine/plan.h"

/*
 * The plan for a command that takes --cmdline STRING (cmdline, may be NULL) or else reads
 * /proc/cmdline. On failure prints one loopboot: line naming cmd and returns 1 (cannot
 * read /proc/cmdline) or 2 (not a valid entry); returns 0 with *ret set and, when
 * ret_line is given, the command line used (allocated).
 */
int cli_load_plan(const char *cmd, const char *cmdline, struct plan *ret, char **ret_line);

/* An option that takes a value: --NAME VALUE, --NAME=VALUE or -L VALUE. */
struct cli_option {
	const char *name;
	char letter;
	const char **value; /* where the value goes; given twice, the last one counts */
};

/*
 * Parses a command's options (argv[0] is its name) with getopt_long: those of options[]
 * and --help (-h), which prints the usage text to stdout. Returns 1 to go on, optind at the first
 * word that is not an option; 0 after --help; -EINVAL for an option the command does not take or
 * one without its value (getopt has said which).
 */
int cli_parse_options(int argc, char **argv, const struct cli_option *options, size_t n_options,
                      const char *usage);

/*
 * For a command that takes its entry with --cmdline: a word left after the options (argv
 * from optind) is most likely a command line that was not quoted. Returns 0 when there is
 * none; else prints one loopboot: line naming the command (argv[0]) and the word, and
 * returns -EINVAL.
 */
int cli_refuse_words(int argc, char **argv);

/*
 * The arguments of a command that takes only --cmdline STRING (and --help): *ret_cmdline
 * gets STRING, or stays NULL. Returns as cli_parse_options(): 1 to go on, 0 after --help,
 * -EINVAL when the arguments are not that (getopt or a loopboot: line has said why).
 */
int cli_parse_cmdline_only(int argc, char **argv, const char *usage, const char **ret_cmdline);
