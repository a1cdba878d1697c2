/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot create`: sizes as people write them. */
#include <errno.h>
#include <stdint.h>

#include "test-main.h"
#include "tools/create.h"

static uint64_t size_ok(const char *s)
{
	uint64_t v = 0;
	const char *why = NULL;
	int r = create_parse_size(s, &v, &why);
	if (r < 0)
		printf("# [%s]: %s\n", s, why);
	CHECK(r == 0);
	return v;
}

static void size_bad(const char *s, int err)
{
	uint64_t v = 12345;
	const char *why = NULL;
	CHECK(create_parse_size(s, &v, &why) == err);
	CHECK(why && *why);
	CHECK(v == 12345);
}

TEST(suffixes_are_powers_of_1024)
{
	CHECK(size_ok("4096") == 4096);
	CHECK(size_ok("4K") == 4096);
	CHECK(size_ok("512M") == 512ULL << 20);
	CHECK(size_ok("8G") == 8ULL << 30);
	CHECK(size_ok("2T") == 2ULL << 40);
	CHECK(size_ok("8g") == 8ULL << 30);
	CHECK(size_ok("8GiB") == 8ULL << 30);
	CHECK(size_ok("8GB") == 8ULL << 30);
	CHECK(size_ok("1048576k") == 1ULL << 30);
}

TEST(bad_sizes)
{
	size_bad("", -EINVAL);
	size_bad("G", -EINVAL);
	size_bad("-1G", -EINVAL);
	size_bad("1.5G", -EINVAL);
	size_bad("8X", -EINVAL);
	size_bad("8GiBs", -EINVAL);
	size_bad("0", -EINVAL);
	size_bad("0G", -EINVAL);
	size_bad("99999999999999999999", -ERANGE);
	size_bad("16777216T", -ERANGE); /* 2^64 */
	size_bad("8388608T", -ERANGE);  /* 2^63: beyond off_t */
	size_bad(" 8G", -EINVAL);
}
