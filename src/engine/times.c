/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/times.h"

#include <time.h>

#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/util.h"

struct times times_boot;

long long times_now_us(void)
{
	/* The kernel's own clock since it started: printk's timestamps and systemd's
	 * "Startup finished in … (kernel)" count from the same point. */
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void times_start(struct times *t, bool print)
{
	*t = (struct times){.print = print, .init_us = times_now_us()};
}

static int find_step(const struct times *t, const char *name, int parent)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].parent == parent && streq(t->v[i].name, name))
			return (int)i;
	return -1;
}

int times_begin(struct times *t, const char *name)
{
	if (t->n_open >= TIMES_MAX)
		return -1;
	int parent = t->n_open ? t->open[t->n_open - 1] : -1;
	int i = find_step(t, name, parent);
	long long now = times_now_us();
	if (i < 0) {
		if (t->n >= TIMES_MAX)
			return -1;
		i = (int)t->n++;
		t->v[i] = (struct times_step){.name = name, .parent = parent, .first_us = now};
	}
	t->open[t->n_open] = i;
	t->open_us[t->n_open] = now;
	t->n_open++;
	return i;
}

static void print_seconds(struct strbuf *b, long long us)
{
	strbuf_printf(b, "%lld.%03lld", us / 1000000, us / 1000 % 1000);
}

static void end_innermost(struct times *t)
{
	int token = t->open[--t->n_open];
	long long start = t->open_us[t->n_open], took = times_now_us() - start;
	struct times_step *s = &t->v[token];
	s->total_us += took;
	s->count++;
	if (!t->print)
		return;
	_cleanup_strbuf_ struct strbuf b = {0};
	if (s->parent >= 0)
		strbuf_printf(&b, "%s: ", t->v[s->parent].name);
	strbuf_printf(&b, "%s took ", s->name);
	print_seconds(&b, took);
	strbuf_append(&b, " s (from ");
	print_seconds(&b, start);
	strbuf_append(&b, " s)");
	log_info("time: %s", b.s);
}

void times_end(struct times *t, int token)
{
	/* Steps inside it that an early return left open end with it. */
	size_t depth = t->n_open;
	while (depth > 0 && t->open[depth - 1] != token)
		depth--;
	if (token < 0 || depth == 0)
		return; /* a full table, or not open */
	while (t->n_open >= depth)
		end_innermost(t);
}

/* The steps under parent, in the order they first began: "a 0.100, b 0.020 (c 0.010)". */
static void append_steps(struct strbuf *b, const struct times *t, int parent)
{
	bool first = true;
	for (size_t i = 0; i < t->n; i++) {
		const struct times_step *s = &t->v[i];
		if (s->parent != parent || !s->count)
			continue;
		strbuf_printf(b, "%s%s ", first ? "" : ", ", s->name);
		print_seconds(b, s->total_us);
		if (s->count > 1)
			strbuf_printf(b, " (%u times)", s->count);
		size_t mark = b->len;
		strbuf_append(b, " (");
		size_t inner = b->len;
		append_steps(b, t, (int)i);
		if (b->len == inner) {
			b->len = mark; /* no parts */
			b->s[mark] = '\0';
		} else {
			strbuf_append(b, ")");
		}
		first = false;
	}
}

char *times_summary(const struct times *t, long long now_us)
{
	long long phase = now_us - t->init_us;
	_cleanup_strbuf_ struct strbuf b = {0};
	strbuf_append(&b, "kernel ");
	print_seconds(&b, t->init_us);
	strbuf_append(&b, " s before /init; loopboot ");
	print_seconds(&b, phase);
	strbuf_append(&b, " s");
	if (t->init_us > 0)
		strbuf_printf(&b, " (%.2f of the kernel's)", (double)phase / (double)t->init_us);
	size_t mark = b.len;
	strbuf_append(&b, ": ");
	size_t steps = b.len;
	append_steps(&b, t, -1);
	if (b.len == steps) {
		b.len = mark;
		b.s[mark] = '\0';
	}
	return strbuf_steal(&b);
}

void times_finish(struct times *t)
{
	while (t->n_open)
		end_innermost(t);
	if (!t->print)
		return;
	_cleanup_free_ char *s = times_summary(t, times_now_us());
	log_info("times: %s", s);
}
