/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state record is what the shutdown side reads to take the host down cleanly; it
 * lives in /run, where anything running as root can write. The parser must take any bytes
 * without crashing, leaking or reading out of bounds, and either refuse the whole text
 * with one message or give records that survive a round trip unchanged.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	struct stack st;
	char *error = NULL;
	int r = state_parse(s, &st, &error);
	if (r < 0) {
		assert(r == -EBADMSG || r == -EPROTONOSUPPORT);
		assert(error && *error && !strchr(error, '\n')); /* one line */
		assert(st.n == 0 && !st.v);
		free(error);
	} else {
		assert(!error);
		for (size_t i = 0; i < st.n; i++) {
			assert(st.v[i].kind < _LAYER_KIND_MAX);
			/* Undone at a place, or by its device's name (crypt: the mapping's). */
			assert(layer_mount_point(&st.v[i]) || st.v[i].kind == LAYER_LOOP ||
			       st.v[i].kind == LAYER_DM ||
			       (st.v[i].kind == LAYER_CRYPT && st.v[i].crypt.name) ||
			       (st.v[i].kind == LAYER_NET && st.v[i].net.interface) ||
			       (st.v[i].kind == LAYER_NBD && st.v[i].nbd.device));
		}
		/* What was read is written back as text that reads as the same records. */
		char *text = state_format(&st);
		struct stack again;
		char *error2 = NULL;
		assert(state_parse(text, &again, &error2) == 0);
		assert(again.n == st.n);
		char *text2 = state_format(&again);
		assert(strcmp(text, text2) == 0);
		free(text);
		free(text2);
		stack_free(&again);
		stack_free(&st);
	}
	free(s);
	return 0;
}
