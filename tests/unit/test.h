/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal TAP producer for the C unit tests. Each TEST() is one counted test, and so is
 * each row of a table given to TEST_TABLE(); CHECK() failures are reported with file, line
 * and the expression, and the test goes on so that one run shows every broken
 * expectation. tests/run and `meson test` count the "ok"/"not ok" lines.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/plan.h"

struct test_case {
	const char *name;
	void (*fn)(const void *row);
	const void *row; /* the table row of a TEST_TABLE() test, NULL for a TEST() */
};

/* Defined once per test program by including test-main.h in exactly one file. */
extern int test_failed_checks;
void test_register(const char *name, void (*fn)(const void *row), const void *row);

#define TEST(tname)                                                                                \
	static void test_##tname(void);                                                            \
	static void test_run_##tname(const void *row)                                              \
	{                                                                                          \
		(void)row;                                                                         \
		test_##tname();                                                                    \
	}                                                                                          \
	__attribute__((constructor)) static void test_register_##tname(void)                       \
	{                                                                                          \
		test_register(#tname, test_run_##tname, NULL);                                     \
	}                                                                                          \
	static void test_##tname(void)

/*
 * One test for each row of the array table, named by the row's .name and run as fn(&row):
 * table-driven tests keep one TAP line, and one name, for each case.
 */
#define TEST_TABLE(fn, table)                                                                      \
	static void test_table_run_##fn(const void *row)                                           \
	{                                                                                          \
		fn(row);                                                                           \
	}                                                                                          \
	__attribute__((constructor)) static void test_table_register_##fn(void)                    \
	{                                                                                          \
		for (size_t _i = 0; _i < sizeof(table) / sizeof((table)[0]); _i++)                 \
			test_register((table)[_i].name, test_table_run_##fn, &(table)[_i]);        \
	}

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			printf("# %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);          \
			test_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			printf("# %s:%d: CHECK_STREQ failed: %s == \"%s\", expected \"%s\"\n",     \
			       __FILE__, __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");    \
			test_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

static inline void test_check_strv(const char *file, int line, const char *what, char *const *v,
                                   size_t n, const char *const *want, size_t n_want)
{
	if (n != n_want) {
		printf("# %s:%d: CHECK_STRV failed: %s has %zu strings, expected %zu\n", file, line,
		       what, n, n_want);
		test_failed_checks++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (want[i] && (!v[i] || strcmp(v[i], want[i]) != 0)) {
			printf("# %s:%d: CHECK_STRV failed: %s[%zu] == \"%s\", expected \"%s\"\n",
			       file, line, what, i, v[i] ? v[i] : "(null)", want[i]);
			test_failed_checks++;
		}
	}
}

/*
 * The n strings at v are exactly as many as the expected ones after n, and equal to them in
 * order; a NULL expectation is not compared (any string there will do).
 */
#define CHECK_STRV(v, n, ...)                                                                      \
	test_check_strv(__FILE__, __LINE__, #v, (v), (n), (const char *const[]){__VA_ARGS__},      \
	                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static inline void test_check_pred(const char *file, int line, const char *name,
                                   bool (*fn)(const char *), bool want, const char *const *in,
                                   size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fn(in[i]) != want) {
			printf("# %s:%d: %s(\"%s\") is %s, expected %s\n", file, line, name,
			       in[i] ? in[i] : "(null)", want ? "false" : "true",
			       want ? "true" : "false");
			test_failed_checks++;
		}
}

/* The predicate fn is true for each of the strings after it. */
#define CHECK_EACH(fn, ...)                                                                        \
	test_check_pred(__FILE__, __LINE__, #fn, (fn), true, (const char *const[]){__VA_ARGS__},   \
	                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* The predicate fn is false for each of the strings after it. */
#define CHECK_NONE(fn, ...)                                                                        \
	test_check_pred(__FILE__, __LINE__, #fn, (fn), false, (const char *const[]){__VA_ARGS__},  \
	                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* An input and the string a function must make of it. */
struct str_case {
	const char *in, *want;
};

static inline void test_check_str_fn(const char *file, int line, const char *name,
                                     char *(*fn)(const char *), const struct str_case *cases,
                                     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *got = fn(cases[i].in);
		if (!got || strcmp(got, cases[i].want) != 0) {
			printf("# %s:%d: CHECK_STR_FN failed: %s(\"%s\") == \"%s\", expected "
			       "\"%s\"\n",
			       file, line, name, cases[i].in, got ? got : "(null)", cases[i].want);
			test_failed_checks++;
		}
		free(got);
	}
}

/* fn (which returns a string to free) turns each case's input into its expected string. */
#define CHECK_STR_FN(fn, cases)                                                                    \
	test_check_str_fn(__FILE__, __LINE__, #fn, (fn), (cases),                                  \
	                  sizeof(cases) / sizeof((cases)[0]))

/* Whether needle is in hay; when it is not, says so and shows hay line by line. */
static inline bool contains(const char *hay, const char *needle)
{
	if (hay && strstr(hay, needle))
		return true;
	printf("# expected to find [%s] in:\n", needle);
	for (const char *p = hay ? hay : "(null)"; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		printf("#   %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
	return false;
}

static inline void test_check_printed(const char *file, int line, const struct plan *p,
                                      const char *const *has, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	plan_print(p, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!contains(buf, has[i])) {
			printf("# %s:%d: CHECK_PRINTED failed: plan_print() lacks it\n", file,
			       line);
			test_failed_checks++;
		}
	free(buf);
}

/* What plan_print() writes about the plan at p has each of the strings after p in it. */
#define CHECK_PRINTED(p, ...)                                                                      \
	test_check_printed(__FILE__, __LINE__, (p), (const char *const[]){__VA_ARGS__},            \
	                   sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/*
 * What the code under test writes to stderr: test_stderr_catch() before it, then
 * test_stderr_caught() gives the text (allocated; each line also shown as a TAP comment).
 */
struct test_stderr {
	int saved, fd;
};

static inline struct test_stderr test_stderr_catch(void)
{
	struct test_stderr c = {dup(STDERR_FILENO), memfd_create("test-stderr", MFD_CLOEXEC)};
	fflush(stderr);
	dup2(c.fd, STDERR_FILENO);
	return c;
}

static inline char *test_stderr_caught(struct test_stderr c)
{
	fflush(stderr);
	dup2(c.saved, STDERR_FILENO);
	close(c.saved);
	off_t n = lseek(c.fd, 0, SEEK_END);
	char *text = calloc(1, n > 0 ? (size_t)n + 1 : 1);
	if (text && n > 0 && pread(c.fd, text, (size_t)n, 0) != n)
		text[0] = '\0';
	close(c.fd);
	for (const char *l = text; l && *l;) {
		size_t len = strcspn(l, "\n");
		printf("#   %.*s\n", (int)len, l);
		l += len + (l[len] == '\n');
	}
	return text;
}
