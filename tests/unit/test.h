/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal TAP producer for the C unit tests. Each TEST() is one counted test; CHECK()
 * failures are reported with file, line and the expression, and the test goes on so that
 * one run shows every broken expectation. tests/run counts the "ok"/"not ok" lines.
 */
#pragma once

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

extern int test_failed_checks;
extern struct test_case test_cases[];
extern int test_count;

#define TEST(tname)                                                                                \
	static void test_##tname(void);                                                            \
	__attribute__((constructor)) static void register_##tname(void)                            \
	{                                                                                          \
		test_cases[test_count].name = #tname;                                              \
		test_cases[test_count++].fn = test_##tname;                                        \
	}                                                                                          \
	static void test_##tname(void)

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

/* Defined once per test program by including test-main.h in exactly one file. */
