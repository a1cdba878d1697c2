/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/status.h"

#include "basic/log.h"
#include "basic/util.h"
#include "engine/state.h"

static void print_record(const struct state_record *r)
{
	const char *kind = r->kind;
	if (streq(kind, "host")) {
		printf("host:   %s = %s (%s via %s%s) at %s%s\n", strempty(state_get(r, "spec")),
		       strempty(state_get(r, "source")), strempty(state_get(r, "type")),
		       strempty(state_get(r, "driver")),
		       streq_ptr(state_get(r, "fuse"), "1") ? ", FUSE" : "",
		       strempty(state_get(r, "target")),
		       streq_ptr(state_get(r, "ro"), "1") ? ", read-only" : "");
		if (state_get(r, "pid"))
			printf("        daemon pid %s\n", state_get(r, "pid"));
		if (state_get(r, "dm"))
			printf("        mounted from %s, a read-only mapping of %s\n",
			       strempty(state_get(r, "source")), strempty(state_get(r, "device")));
	} else if (streq(kind, "loop")) {
		printf("loop:   %s ← %s (in %s%s%s)\n", strempty(state_get(r, "device")),
		       strempty(state_get(r, "file")), strempty(state_get(r, "parent")),
		       streq_ptr(state_get(r, "dio"), "1") ? ", direct I/O" : "",
		       streq_ptr(state_get(r, "ro"), "1") ? ", read-only" : "");
	} else if (streq(kind, "dm")) {
		const char *n = state_get(r, "extents");
		printf("dm:     %s (%s) ← %s (in %s): %s extent%s on %s, linear%s\n",
		       strempty(state_get(r, "device")), strempty(state_get(r, "name")),
		       strempty(state_get(r, "file")), strempty(state_get(r, "parent")),
		       n ? n : "?", streq_ptr(n, "1") ? "" : "s", strempty(state_get(r, "on")),
		       streq_ptr(state_get(r, "ro"), "1") ? ", read-only" : "");
	} else if (streq(kind, "mount")) {
		printf("mount:  %s on %s (%s, %s%s%s) [%s]\n", strempty(state_get(r, "source")),
		       strempty(state_get(r, "target")), strempty(state_get(r, "type")),
		       streq_ptr(state_get(r, "ro"), "1") ? "ro" : "rw",
		       state_get(r, "options") ? "," : "", strempty(state_get(r, "options")),
		       strempty(state_get(r, "role")));
	} else {
		printf("%s\n", kind);
	}
}

int status_main(int argc, char **argv)
{
	bool json = argc > 1 && streq(argv[1], "--json");
	if (argc > 1 && !json) {
		fprintf(stderr, "Usage: loopboot status [--json]\n");
		return 2;
	}
	struct state s;
	int r = state_load(STATE_FILE, &s);
	if (r == -ENOENT) {
		fprintf(stderr,
		        "loopboot: no state record: %s: this system was not booted by "
		        "loopboot — nothing to show\n",
		        STATE_FILE);
		return 1;
	}
	if (r < 0) {
		log_fail(r, "reading the state record", STATE_FILE, NULL, "check /run");
		return 1;
	}
	if (json) {
		state_print_json(&s, stdout);
	} else {
		/* loopboot.mode: what the images are on, and how many pieces were mapped. */
		const char *mode = NULL, *refused = NULL;
		unsigned long extents = 0, mapped = 0;
		for (size_t i = 0; i < s.n; i++) {
			if (streq(s.v[i].kind, "host")) {
				mode = state_get(&s.v[i], "mode");
				refused = state_get(&s.v[i], "linear_refused");
			} else if (streq(s.v[i].kind, "dm")) {
				const char *n = state_get(&s.v[i], "extents");
				extents += n ? strtoul(n, NULL, 10) : 0;
				mapped++;
			}
		}
		if (mode && streq(mode, "linear"))
			printf("mode:   linear: %lu image%s mapped, %lu extent%s\n", mapped,
			       mapped == 1 ? "" : "s", extents, extents == 1 ? "" : "s");
		else if (mode)
			printf("mode:   %s%s%s%s\n", mode, refused ? " (linear refused: " : "",
			       strempty(refused), refused ? ")" : "");
		for (size_t i = 0; i < s.n; i++)
			print_record(&s.v[i]);
	}
	state_free(&s);
	return 0;
}
