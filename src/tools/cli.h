/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the user-facing commands share. */
#pragma once

#include "engine/plan.h"

/*
 * The plan for a command that takes --cmdline STRING (cmdline, may be NULL) or else reads
 * /proc/cmdline. On failure prints one loopboot: line naming cmd and returns 1 (cannot
 * read /proc/cmdline) or 2 (not a valid entry); returns 0 with *ret set and, when
 * ret_line is given, the command line used (allocated).
 */
int cli_load_plan(const char *cmd, const char *cmdline, struct plan *ret, char **ret_line);
