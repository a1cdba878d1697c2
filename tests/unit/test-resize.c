/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot resize`: the new size from SIZE, +SIZE, -SIZE; resize2fs -P's minimum. */
#include <errno.h>
#include <stdint.h>

#include "basic/util.h"
#include "test-main.h"
#include "tools/resize.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

TEST(targets)
{
	static const struct {
		const char *spec;
		uint64_t current;
		int r;
		uint64_t size;
	} cases[] = {
	    {"8G", 4 * GiB, 0, 8 * GiB},
	    {"+4G", 4 * GiB, 0, 8 * GiB},
	    {"-1G", 4 * GiB, 0, 3 * GiB},
	    {"-512M", 4 * GiB, 0, 4 * GiB - 512 * MiB},
	    {"2G", 4 * GiB, 0, 2 * GiB}, /* a shrink, given as the new size */
	    {"4G", 4 * GiB, 0, 4 * GiB},
	    {"-4G", 4 * GiB, -EINVAL, 0}, /* nothing left */
	    {"-5G", 4 * GiB, -EINVAL, 0},
	    {"+0", 4 * GiB, -EINVAL, 0},   /* create_parse_size refuses 0 */
	    {"1000", 4 * GiB, -EINVAL, 0}, /* not a multiple of 4096 */
	    {"+4K", 4 * GiB + 512, -EINVAL, 0},
	    {"+1X", 4 * GiB, -EINVAL, 0},
	    {"", 4 * GiB, -EINVAL, 0},
	    {"+", 4 * GiB, -EINVAL, 0},
	    {"+8388607T", 2 * 1024 * GiB, -ERANGE, 0}, /* past off_t */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t got = 0;
		const char *why = NULL;
		int r = resize_target(cases[i].spec, cases[i].current, &got, &why);
		if (r != cases[i].r || (r == 0 && got != cases[i].size))
			printf("# [%s] from %llu: %d %llu (%s)\n", cases[i].spec,
			       (unsigned long long)cases[i].current, r, (unsigned long long)got,
			       strempty(why));
		CHECK(r == cases[i].r);
		if (r == 0)
			CHECK(got == cases[i].size);
		else
			CHECK(why && *why);
	}
}

TEST(minimum)
{
	uint64_t b = 0;
	CHECK(resize_parse_minimum("Estimated minimum size of the filesystem: 12408\n", &b) == 0);
	CHECK(b == 12408);
	CHECK(resize_parse_minimum(
	          "resize2fs 1.47.0\nEstimated minimum size of the filesystem: 7\n", &b) == 0);
	CHECK(b == 7);
	CHECK(resize_parse_minimum("", &b) == -EBADMSG);
	CHECK(resize_parse_minimum("Estimated minimum size of the filesystem: \n", &b) == -EBADMSG);
	CHECK(resize_parse_minimum("Estimated minimum size of the filesystem: 12x\n", &b) ==
	      -EBADMSG);
}
