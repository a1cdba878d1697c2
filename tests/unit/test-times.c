/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The step times of loopboot.times: nesting, repeats, early returns, the summary line. */
#include <stdlib.h>
#include <string.h>

#include "basic/util.h"
#include "engine/times.h"
#include "test-main.h"

TEST(times_nesting_and_repeats)
{
	struct times t;
	times_start(&t, false);
	int dry = times_begin(&t, "dry run");
	int fsck = times_begin(&t, "fsck");
	times_end(&t, fsck);
	fsck = times_begin(&t, "fsck");
	times_end(&t, fsck);
	times_end(&t, dry);
	int real = times_begin(&t, "real pass");
	fsck = times_begin(&t, "fsck");
	times_end(&t, fsck);
	times_end(&t, real);

	CHECK(t.n == 4);
	CHECK(t.n_open == 0);
	CHECK_STREQ(t.v[0].name, "dry run");
	CHECK(t.v[0].parent == -1);
	CHECK_STREQ(t.v[1].name, "fsck");
	CHECK(t.v[1].parent == 0);
	CHECK(t.v[1].count == 2);  /* the same step under the same parent adds up */
	CHECK(t.v[3].parent == 2); /* under another parent it is a step of its own */
	CHECK(t.v[3].count == 1);
	CHECK(t.v[0].total_us >= t.v[1].total_us);
}

TEST(times_early_return)
{
	/* An inner step left open by an early return ends with the outer one. */
	struct times t;
	times_start(&t, false);
	int outer = times_begin(&t, "waiting for the host");
	(void)times_begin(&t, "coldplug");
	times_end(&t, outer);
	CHECK(t.n_open == 0);
	CHECK(t.v[0].count == 1 && t.v[1].count == 1);
	/* Ending what is not open changes nothing; so does the token of a full table. */
	times_end(&t, outer);
	times_end(&t, -1);
	CHECK(t.v[0].count == 1);

	for (int i = 0; i < TIMES_MAX + 4; i++)
		(void)times_begin(&t, i % 2 ? "a" : "b");
	CHECK(t.n <= TIMES_MAX && t.n_open <= TIMES_MAX);
	times_finish(&t);
	CHECK(t.n_open == 0);
}

TEST(times_summary_line)
{
	struct times t = {.init_us = 3170000};
	t.v[0] =
	    (struct times_step){.name = "coldplug", .parent = -1, .total_us = 120500, .count = 1};
	t.v[1] =
	    (struct times_step){.name = "dry run", .parent = -1, .total_us = 400000, .count = 1};
	t.v[2] =
	    (struct times_step){.name = "host mount", .parent = 1, .total_us = 200000, .count = 1};
	t.v[3] = (struct times_step){.name = "fsck", .parent = 1, .total_us = 50000, .count = 2};
	t.v[4] = (struct times_step){.name = "unused", .parent = -1, .count = 0};
	t.v[5] =
	    (struct times_step){.name = "switch_root", .parent = -1, .total_us = 9000, .count = 1};
	t.n = 6;
	_cleanup_free_ char *s = times_summary(&t, 3170000 + 634000);
	CHECK_STREQ(s, "kernel 3.170 s before /init; loopboot 0.634 s (0.20 of the kernel's): "
	               "coldplug 0.120, dry run 0.400 (host mount 0.200, fsck 0.050 (2 times)), "
	               "switch_root 0.009");

	struct times none = {0};
	free(s);
	s = times_summary(&none, 1000);
	CHECK_STREQ(s, "kernel 0.000 s before /init; loopboot 0.001 s");
}
