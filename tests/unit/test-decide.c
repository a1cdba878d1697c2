/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's decisions: the whole table of what is written, mapped, checked. */
#include "basic/util.h"
#include "engine/decide.h"
#include "test-main.h"

TEST(host_table)
{
	/* T: type_ro, D: device_ro, O: options_ro, U: unsafe, H: hibernated=ro, R: ro on
	 * the command line, L: linear asked. Choice: X refused, H host read-only, O root
	 * read-only, V volatile session, L linear, W warn that the host is read-only. */
	static const struct {
		const char *facts;
		const char *choice;
	} cases[] = {
	    {"", ""},        /* rw on a writable, clean host */
	    {"R", "O"},      /* ro: the root read-only, the host writable */
	    {"L", "L"},      /* linear stays */
	    {"T", "HOW"},    /* iso9660 host: both read-only, and say so */
	    {"TR", "HO"},    /* ... but no warning when ro was asked anyway */
	    {"D", "HOW"},    /* a read-only device */
	    {"O", "HOW"},    /* rootflags=ro */
	    {"U", "X"},      /* hibernated Windows: refused */
	    {"UL", "X"},     /* ... also in linear mode */
	    {"UH", "HOV"},   /* hibernated=ro: a volatile session */
	    {"UHL", "HOV"},  /* ... on loop devices */
	    {"UHR", "HOV"},  /* ... whatever ro says */
	    {"H", ""},       /* hibernated=ro on a clean host changes nothing */
	    {"TUH", "HOVW"}, /* read-only and unsafe: volatile, the warning stays */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *f = cases[i].facts, *c = cases[i].choice;
		struct host_facts hf = {.type_ro = strchr(f, 'T'),
		                        .device_ro = strchr(f, 'D'),
		                        .options_ro = strchr(f, 'O'),
		                        .unsafe = strchr(f, 'U'),
		                        .hibernated_ro = strchr(f, 'H'),
		                        .plan_ro = strchr(f, 'R'),
		                        .linear = strchr(f, 'L')};
		struct host_choice hc = decide_host(&hf);
		bool want_refuse = strchr(c, 'X');
		bool ok = hc.refuse == want_refuse;
		if (!want_refuse)
			ok = ok && hc.host_ro == (strchr(c, 'H') != NULL) &&
			     hc.root_ro == (strchr(c, 'O') != NULL) &&
			     hc.volatile_root == (strchr(c, 'V') != NULL) &&
			     hc.linear == (strchr(c, 'L') != NULL) &&
			     hc.warn_ro_host == (strchr(c, 'W') != NULL);
		if (!ok)
			printf("# host case %zu (%s): refuse=%d host_ro=%d root_ro=%d volatile=%d "
			       "linear=%d warn=%d, expected %s\n",
			       i, f, hc.refuse, hc.host_ro, hc.root_ro, hc.volatile_root, hc.linear,
			       hc.warn_ro_host, c);
		CHECK(ok);
	}
}

TEST(layer_table)
{
	/* Facts: P dry run, H host read-only, L linear, F the file is on the host, E the last
	 * (innermost) file system, R the target read-only. Choice: M map, W open for writing,
	 * D device read-only, O mount read-only, N no journal replay, C check, K the check
	 * only looks. */
	static const struct {
		const char *facts, *choice;
	} cases[] = {
	    /* A plain rw root on a writable host: the real pass writes, checks. */
	    {"FE", "W  C"},
	    {"PFE", "DONCK"},
	    /* ro root: nothing of the last layer is written or checked, the device is. */
	    {"FER", "W O"},
	    {"PFER", "DON"},
	    /* A nested image: the outer one is written (its file changes), checked. */
	    {"F", "W  C"},
	    {"E", "W  C"},
	    {"PF", "DONCK"},
	    /* Read-only host: nothing written, nothing checked. */
	    {"HFE", "DO"},
	    {"PHFE", "DON"},
	    {"HE", "DO"},
	    /* Linear: only the file on the host is mapped; it is opened read-only in the
	     * real pass (written through the mapping), read-only in the dry run too. */
	    {"LFE", "M  C"},
	    {"PLFE", "MDONCK"},
	    {"LE", "W  C"},
	    {"LFER", "M O"},
	    {"HLFE", "MDO"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *f = cases[i].facts, *c = cases[i].choice;
		struct layer_facts lf = {.probe = strchr(f, 'P'),
		                         .host_ro = strchr(f, 'H'),
		                         .linear = strchr(f, 'L'),
		                         .on_host = strchr(f, 'F'),
		                         .last = strchr(f, 'E'),
		                         .read_only = strchr(f, 'R')};
		struct layer_choice lc = decide_layer(&lf);
		bool ok =
		    lc.map == (strchr(c, 'M') != NULL) && lc.open_rw == (strchr(c, 'W') != NULL) &&
		    lc.device_ro == (strchr(c, 'D') != NULL) &&
		    lc.mount_ro == (strchr(c, 'O') != NULL) &&
		    lc.no_replay == (strchr(c, 'N') != NULL) &&
		    lc.check == (strchr(c, 'C') != NULL) && lc.check_ro == (strchr(c, 'K') != NULL);
		if (!ok)
			printf("# layer case %zu (%s): map=%d open_rw=%d device_ro=%d mount_ro=%d "
			       "no_replay=%d check=%d check_ro=%d, expected \"%s\"\n",
			       i, f, lc.map, lc.open_rw, lc.device_ro, lc.mount_ro, lc.no_replay,
			       lc.check, lc.check_ro, c);
		CHECK(ok);
	}
}

/* Whatever the facts: the dry run never writes, a read-only host is never written, and a
 * file system that will be written is checked first. */
TEST(layer_invariants)
{
	for (unsigned bits = 0; bits < 64; bits++) {
		struct layer_facts lf = {.probe = bits & 1,
		                         .host_ro = bits & 2,
		                         .linear = bits & 4,
		                         .on_host = bits & 8,
		                         .last = bits & 16,
		                         .read_only = bits & 32};
		struct layer_choice lc = decide_layer(&lf);
		if (lf.probe)
			CHECK(!lc.open_rw && lc.device_ro && lc.mount_ro && lc.no_replay &&
			      (!lc.check || lc.check_ro));
		if (lf.host_ro)
			CHECK(!lc.open_rw && lc.device_ro && lc.mount_ro && !lc.check);
		if (!lc.mount_ro && !lc.device_ro)
			CHECK(lc.check);
		if (lc.map)
			CHECK(!lc.open_rw);
	}
}
