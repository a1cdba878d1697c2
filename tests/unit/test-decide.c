/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's decisions: the whole table of what is written, mapped, checked. */
#include <stddef.h>

#include "basic/util.h"
#include "engine/decide.h"
#include "engine/plan.h"
#include "test-main.h"

/* A row of a decision table: the facts and the choice, as letters. */
struct row {
	const char *facts, *choice;
};

/* What a letter stands for: a bool in the facts or in the choice. */
struct letter {
	char letter;
	size_t offset;
};

#define OFF(type, member) offsetof(struct type, member)

static bool *flag(void *base, const struct letter *l)
{
	return (bool *)((char *)base + l->offset);
}

/* Checks each row: the facts its letters name go in, the letters of what was chosen come
 * out (blanks in the table are for reading), and a refusal (X) decides nothing else. */
static void check_table(const char *what, const struct row *rows, size_t n, void *facts,
                        size_t facts_size, const struct letter *in, size_t n_in,
                        void (*decide)(const void *facts, void *choice), void *choice,
                        const struct letter *out, size_t n_out)
{
	for (size_t i = 0; i < n; i++) {
		memset(facts, 0, facts_size);
		for (size_t j = 0; j < n_in; j++)
			*flag(facts, &in[j]) = strchr(rows[i].facts, in[j].letter) != NULL;
		decide(facts, choice);
		char got[16] = "";
		size_t len = 0;
		bool refused = n_out && out[0].letter == 'X' && *flag(choice, &out[0]);
		for (size_t j = 0; j < n_out; j++)
			if (*flag(choice, &out[j]) && (!refused || j == 0))
				got[len++] = out[j].letter;
		bool ok = true;
		for (const char *p = got; *p; p++)
			ok = ok && strchr(rows[i].choice, *p);
		for (const char *p = rows[i].choice; *p; p++)
			ok = ok && (*p == ' ' || strchr(got, *p));
		if (!ok)
			printf("# %s case %zu (%s): chose \"%s\", expected \"%s\"\n", what, i,
			       rows[i].facts, got, rows[i].choice);
		CHECK(ok);
	}
}

static void run_host(const void *facts, void *choice)
{
	*(struct host_choice *)choice = decide_host(facts);
}

static void run_layer(const void *facts, void *choice)
{
	*(struct layer_choice *)choice = decide_layer(facts);
}

TEST(host_table)
{
	/* T: type_ro, D: device_ro, O: options_ro, U: unsafe, H: hibernated=ro, R: ro on
	 * the command line, L: linear asked. Choice: X refused, H host read-only, O root
	 * read-only, V volatile session, L linear, W warn that the host is read-only. */
	static const struct letter in[] = {
	    {'T', OFF(host_facts, type_ro)},       {'D', OFF(host_facts, device_ro)},
	    {'O', OFF(host_facts, options_ro)},    {'U', OFF(host_facts, unsafe)},
	    {'H', OFF(host_facts, hibernated_ro)}, {'R', OFF(host_facts, plan_ro)},
	    {'L', OFF(host_facts, linear)},
	};
	static const struct letter out[] = {
	    {'X', OFF(host_choice, refuse)},  {'H', OFF(host_choice, host_ro)},
	    {'O', OFF(host_choice, root_ro)}, {'V', OFF(host_choice, volatile_root)},
	    {'L', OFF(host_choice, linear)},  {'W', OFF(host_choice, warn_ro_host)},
	};
	static const struct row rows[] = {
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
	struct host_facts f;
	struct host_choice c;
	check_table("host", rows, ARRAY_SIZE(rows), &f, sizeof(f), in, ARRAY_SIZE(in), run_host, &c,
	            out, ARRAY_SIZE(out));
}

TEST(layer_table)
{
	/* Facts: P dry run, H host read-only, L linear, F the file is on the host, E the last
	 * (innermost) file system, R the target read-only. Choice: M map, W open for writing,
	 * D device read-only, O mount read-only, N no journal replay, C check, K the check
	 * only looks. */
	static const struct letter in[] = {
	    {'P', OFF(layer_facts, probe)},  {'H', OFF(layer_facts, host_ro)},
	    {'L', OFF(layer_facts, linear)}, {'F', OFF(layer_facts, on_host)},
	    {'E', OFF(layer_facts, last)},   {'R', OFF(layer_facts, read_only)},
	    {'B', OFF(layer_facts, base)},   {'A', OFF(layer_facts, in_ram)},
	};
	static const struct letter out[] = {
	    {'M', OFF(layer_choice, map)},       {'W', OFF(layer_choice, open_rw)},
	    {'D', OFF(layer_choice, device_ro)}, {'O', OFF(layer_choice, mount_ro)},
	    {'N', OFF(layer_choice, no_replay)}, {'C', OFF(layer_choice, check)},
	    {'K', OFF(layer_choice, check_ro)},
	};
	static const struct row rows[] = {
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
	    /* An overlay's base (B): never written, never checked, whatever else is asked;
	     * mapped in linear mode (read-only). */
	    {"BFE", "DO"},
	    {"BF", "DO"},
	    {"PBFE", "DON"},
	    {"BLFE", "MDO"},
	    /* A copy in RAM (A, not on the host): its device may be written (a journal
	     * replays into RAM), it is mounted read-only, checked never. */
	    {"ABE", "W O"},
	    {"AHBE", "W O"},
	    {"AER", "W O"},
	    {"PABE", "DON"},
	};
	struct layer_facts f;
	struct layer_choice c;
	check_table("layer", rows, ARRAY_SIZE(rows), &f, sizeof(f), in, ARRAY_SIZE(in), run_layer,
	            &c, out, ARRAY_SIZE(out));
}

static void run_overlay(const void *facts, void *choice)
{
	*(struct overlay_choice *)choice = decide_overlay(facts);
}

static void run_overlay_file(const void *facts, void *choice)
{
	struct overlay_facts f = *(const struct overlay_facts *)facts;
	f.kind = PLAN_OVERLAY_FILE;
	*(struct overlay_choice *)choice = decide_overlay(&f);
}

static void run_overlay_device(const void *facts, void *choice)
{
	struct overlay_facts f = *(const struct overlay_facts *)facts;
	f.kind = PLAN_OVERLAY_DEVICE;
	*(struct overlay_choice *)choice = decide_overlay(&f);
}

TEST(overlay_table)
{
	static const struct letter in[] = {
	    {'H', OFF(overlay_facts, host_ro)},
	    {'O', OFF(overlay_facts, readonly)},
	    {'Z', OFF(overlay_facts, reset)},
	};
	static const struct letter out[] = {
	    {'R', OFF(overlay_choice, layer_ro)},
	    {'T', OFF(overlay_choice, tmpfs_top)},
	    {'E', OFF(overlay_choice, reset)},
	    {'W', OFF(overlay_choice, warn_host_ro)},
	};
	/* tmpfs, and the volatile session (kind 0): a tmpfs, nothing else. */
	static const struct row tmpfs[] = {{"", "T"}, {"H", "T"}, {"HOZ", "T"}};
	/* A file on the host. */
	static const struct row file[] = {
	    {"", ""},      /* written */
	    {"Z", "E"},    /* emptied first */
	    {"O", "RT"},   /* read-only, tmpfs on top */
	    {"H", "RTW"},  /* the host cannot be written (volatile session): the same, said */
	    {"HZ", "RTW"}, /* ... and never emptied */
	    {"HO", "RT"},  /* asked read-only anyway: nothing to say */
	};
	/* A partition: the host's state does not matter. */
	static const struct row device[] = {{"", ""}, {"H", ""}, {"HZ", "E"}, {"O", "RT"}};
	struct overlay_facts f;
	struct overlay_choice c;
	check_table("overlay tmpfs", tmpfs, ARRAY_SIZE(tmpfs), &f, sizeof(f), in, ARRAY_SIZE(in),
	            run_overlay, &c, out, ARRAY_SIZE(out));
	check_table("overlay file", file, ARRAY_SIZE(file), &f, sizeof(f), in, ARRAY_SIZE(in),
	            run_overlay_file, &c, out, ARRAY_SIZE(out));
	check_table("overlay device", device, ARRAY_SIZE(device), &f, sizeof(f), in, ARRAY_SIZE(in),
	            run_overlay_device, &c, out, ARRAY_SIZE(out));
}

TEST(toram_fits)
{
	const unsigned long long mib = 1ULL << 20;
	CHECK(decide_toram_fits(100 * mib, 200 * mib));
	CHECK(decide_toram_fits(136 * mib, 200 * mib)); /* exactly the reserve left */
	CHECK(!decide_toram_fits(137 * mib, 200 * mib));
	CHECK(!decide_toram_fits(1, 0)); /* MemAvailable unknown: never */
	CHECK(!decide_toram_fits(0, 10 * mib));
	CHECK(!decide_toram_fits(~0ULL, ~0ULL));
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
		lf.base = true;
		lc = decide_layer(&lf);
		CHECK(!lc.open_rw && lc.device_ro && lc.mount_ro && !lc.check);
	}
}
