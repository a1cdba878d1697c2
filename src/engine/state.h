/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state record: the stack the boot built (engine/layer.h), in the order it built it,
 * in /run/loopboot/state. /run survives switch_root, so `loopboot status` and the shutdown
 * side read exactly what was made instead of guessing from mount tables. This file is the
 * only code that turns records into text and back.
 *
 * Format, version 1: a line "version 1", then one record per line,
 * "KIND key=value key=value ...", values escaped like /proc/self/mountinfo (\040 space,
 * \011 tab, \012 newline, \134 backslash). Lines starting with '#' are comments. A file
 * without a version line is version 1 (the format before the line was added). A record of
 * another version, of a kind or with a key this loopboot does not know, or without a field
 * its kind needs, is refused as a whole: never half-read.
 */
#pragma once

#include <stdio.h>

#include "engine/layer.h"

#define STATE_DIR     "/run/loopboot"
#define STATE_FILE    STATE_DIR "/state"
#define STATE_VERSION 1

/* The text of a stack. Allocated. */
char *state_format(const struct stack *s);

/*
 * Parses a state text. Returns 0 with *ret filled, or -EBADMSG (a malformed or unknown
 * record) or -EPROTONOSUPPORT (another version) with *ret empty and *ret_error set to one
 * line saying what and where (allocated).
 */
int state_parse(const char *text, struct stack *ret, char **ret_error);

/* Writes the record atomically. 0 or -errno. */
int state_save(const struct stack *s, const char *path);
/* Reads and parses path; as state_parse, plus -errno of reading (-ENOENT: no record).
 * *ret_error is set for parse errors only (NULL otherwise). */
int state_load(const char *path, struct stack *ret, char **ret_error);

/* `loopboot status --json`: an array of objects, one per record, typed values. */
void state_print_json(const struct stack *s, FILE *f);

/*
 * `loopboot status --get KIND.KEY`: the value of that field in every record of KIND that
 * has it, one per line (so shell code never parses the file). Returns 0, or -EINVAL when
 * no kind has that key (nothing printed).
 */
int state_print_field(const struct stack *s, const char *field, FILE *f);
/* The fields --get takes, "host.spec host.source ...", for help texts. Allocated. */
char *state_field_names(void);
