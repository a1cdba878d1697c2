/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel command line is input loopboot does not control: a boot entry typed by hand,
 * a bootloader menu edited at the keyboard. The tokenizer and the plan builder must accept
 * any bytes without crashing, leaking or reading out of bounds, and must either build a
 * plan that satisfies its invariants or fail with exactly one "loopboot: " line.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cmdline.h"
#include "engine/plan.h"

static void check_path(const char *p)
{
	assert(p && p[0] == '/');
	assert(!strstr(p, "//"));
	assert(!strstr(p, "/../") && !strstr(p, "/./"));
	size_t n = strlen(p);
	assert(!(n >= 3 && strcmp(p + n - 3, "/..") == 0));
	assert(!(n >= 2 && strcmp(p + n - 2, "/.") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0'; /* /proc/cmdline has no NUL inside: the string ends at the first one */

	struct cmdline c;
	if (cmdline_tokenize(s, &c) == 0) {
		for (size_t i = 0; i < c.n_params; i++)
			assert(c.params[i].key);
		assert(c.init_args && !c.init_args[c.n_init_args]);
		cmdline_free(&c);
	}

	struct plan p;
	char *err = NULL;
	int r = plan_parse(s, &p, &err);
	if (r < 0) {
		assert(err && strncmp(err, "loopboot: ", 10) == 0);
		free(err);
	} else {
		assert(!err);
		assert(p.hostdir && p.hostdir[0] == '/');
		assert(p.timeout <= 3600);
		if (p.has_loop) {
			assert(p.loop.n >= 1 && p.loop.n <= PLAN_MAX_LAYERS);
			for (unsigned i = 0; i < p.loop.n; i++)
				check_path(p.loop.part[i]);
		}
		assert(p.n_mounts <= PLAN_MAX_MOUNTS);
		for (unsigned i = 0; i < p.n_mounts; i++) {
			check_path(p.mounts[i].target);
			assert(strcmp(p.mounts[i].target, "/") != 0);
			if (i > 0)
				assert(strcmp(p.mounts[i - 1].target, p.mounts[i].target) < 0);
		}
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (f) {
			plan_print(&p, f);
			fclose(f);
			free(buf);
		}
		char *d = devspec_to_string(&p.root);
		free(d);
		if (p.has_loop) {
			char *ip = imagepath_to_string(&p.loop);
			/* The printed form parses back to the same parts. */
			char *line = NULL;
			if (asprintf(&line, "root=/dev/x \"loop=%s\"", ip) >= 0 &&
			    !strchr(ip, '"')) {
				struct plan q;
				char *e2 = NULL;
				if (plan_parse(line, &q, &e2) == 0) {
					assert(q.loop.n == p.loop.n);
					for (unsigned i = 0; i < q.loop.n; i++)
						assert(strcmp(q.loop.part[i], p.loop.part[i]) == 0);
					plan_free(&q);
				}
				free(e2);
			}
			free(line);
			free(ip);
		}
		plan_free(&p);
	}
	free(s);
	return 0;
}
