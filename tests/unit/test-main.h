/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Include in exactly one file of a unit-test program: runs every TEST() as TAP. */
#pragma once
#include "test.h"

int test_failed_checks;
struct test_case test_cases[512];
int test_count;

int main(void)
{
	int failed = 0;
	printf("1..%d\n", test_count);
	for (int i = 0; i < test_count; i++) {
		int before = test_failed_checks;
		test_cases[i].fn();
		bool ok = test_failed_checks == before;
		printf("%s %d - %s\n", ok ? "ok" : "not ok", i + 1, test_cases[i].name);
		failed += !ok;
	}
	fflush(stdout);
	return failed ? 1 : 0;
}
