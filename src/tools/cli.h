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

/*
 * For a command that takes its entry with --cmdline: a word left after the options (argv
 * from optind) is most likely a command line that was not quoted. Returns 0 when there is
 * none; else prints one loopboot: line naming the command (argv[0]) and the word, and
 * returns -EINVAL.
 */
int cli_refuse_words(int argc, char **argv);

/*
 * The arguments of a command that takes only --cmdline STRING (and --help): *ret_cmdline
 * gets STRING, or stays NULL. Returns as opts_parse(): -1 to go on, else the exit status
 * (0 after --help, 2 after a loopboot: line).
 */
int cli_parse_cmdline_only(int argc, char **argv, const char *usage, const char **ret_cmdline);
