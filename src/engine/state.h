/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state record: what the boot built, in the order it built it, under /run/loopboot/.
 * /run survives switch_root, so `loopboot status` and the shutdown side read exactly what
 * was made instead of guessing from mount tables.
 *
 * Format: one record per line, "KIND key=value key=value ...", values escaped like
 * /proc/self/mountinfo (\040 space, \011 tab, \012 newline, \134 backslash). Lines
 * starting with '#' are comments.
 */
#pragma once

#include <stdio.h>

#include "basic/util.h"

#define STATE_DIR  "/run/loopboot"
#define STATE_FILE STATE_DIR "/state"

struct state_record {
	char *kind;       /* "host", "loop", "mount" */
	struct strv keys; /* parallel to values */
	struct strv values;
};

struct state {
	struct state_record *v;
	size_t n;
};

struct state_record *state_add(struct state *s, const char *kind);
/* Sets (or replaces) a key; value NULL removes it. */
void state_set(struct state_record *r, const char *key, const char *value);
const char *state_get(const struct state_record *r, const char *key);
void state_remove_last(struct state *s);
void state_free(struct state *s);

int state_save(const struct state *s, const char *path);
int state_load(const char *path, struct state *ret);
void state_print_json(const struct state *s, FILE *f);
