/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How long each step of the boot took (loopboot.times, loopboot.debug): a line per step
 * on the console as it ends, with its start on the kernel's clock, and one summary line
 * before init starts. A step begun while another is open is a part of it; a step's time
 * adds up over repeats (fsck of two images). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define TIMES_MAX 32

struct times_step {
	const char *name;   /* static */
	int parent;         /* index, or -1 */
	long long first_us; /* the first start, on CLOCK_BOOTTIME */
	long long total_us;
	unsigned count;
};

struct times {
	bool print;        /* a line per step as it ends */
	long long init_us; /* when /init started: the kernel's own time */
	struct times_step v[TIMES_MAX];
	size_t n;
	int open[TIMES_MAX];          /* the steps begun and not ended, innermost last */
	long long open_us[TIMES_MAX]; /* when each of them began */
	size_t n_open;
};

/* The engine's record: one per process. */
extern struct times times_boot;

long long times_now_us(void);
void times_start(struct times *t, bool print);
/* Returns a token for times_end, or -1 when the table is full (then times_end ignores it). */
int times_begin(struct times *t, const char *name);
void times_end(struct times *t, int token);
/* "kernel 3.170 s before /init; loopboot 0.412 s (0.13 of the kernel's): coldplug 0.100,
 * dry run 0.200 (host mount 0.100, fsck 0.050 (2 times)), …", the phase ending at now_us. */
char *times_summary(const struct times *t, long long now_us);

/* The engine's record, for the steps in boot, init and switchroot. */
static inline int step_begin(const char *name)
{
	return times_begin(&times_boot, name);
}
static inline void step_end(int token)
{
	times_end(&times_boot, token);
}

/* Ends every open step and, when printing, logs the summary ("times: kernel …"). */
void times_finish(struct times *t);
