/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Include in exactly one file of a unit-test program: runs every TEST() as TAP. */
#pragma once
#include "test.h"

int test_failed_checks;
static struct test_case test_cases[512];
static int test_count;

void test_register(const char *name, void (*fn)(const void *row), const void *row)
{
	if (test_count == (int)(sizeof(test_cases) / sizeof(test_cases[0]))) {
		/* A plan that does not match the tests run: tests/run counts it as a failure. */
		printf("Bail out! more than %d tests in one program\n", test_count);
		exit(1);
	}
	test_cases[test_count++] = (struct test_case){name, fn, row};
}

int main(void)
{
	int failed = 0;
	printf("1..%d\n", test_count);
	for (int i = 0; i < test_count; i++) {
		int before = test_failed_checks;
		test_cases[i].fn(test_cases[i].row);
		bool ok = test_failed_checks == before;
		printf("%s %d - %s\n", ok ? "ok" : "not ok", i + 1, test_cases[i].name);
		failed += !ok;
	}
	fflush(stdout);
	return failed ? 1 : 0;
}
