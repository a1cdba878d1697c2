/* SPDX-License-Identifier: GPL-2.0-or-later */
/* src/basic: path prefixes, octal escapes, the clock. */
#include "basic/util.h"
#include "test-main.h"

TEST(path_startswith)
{
	static const struct {
		const char *path, *prefix, *rest; /* rest NULL: not a prefix */
	} cases[] = {
	    {"/usr/lib", "/usr", "lib"},
	    {"/usr", "/usr", ""},
	    {"/usr/", "/usr", ""},
	    {"/usr", "/usr/", ""},
	    {"/usr//lib/x", "/usr/", "lib/x"},
	    {"//usr///lib", "/usr//lib", ""},
	    {"/usrx", "/usr", NULL},
	    {"/usr", "/usrx", NULL},
	    {"/us", "/usr", NULL},
	    {"/usr", "/usr/lib", NULL},
	    {"/", "/", ""},
	    {"/a/b", "/", "a/b"},
	    {"/", "/a", NULL},
	    {"usr/lib", "usr", "lib"},
	    {"/usr/lib", "usr", NULL},
	    {"usr/lib", "/usr", NULL},
	    {"a", "", "a"},
	    {"/host/images/root.img", "/host", "images/root.img"},
	    {"/run/loopboot/host", "/run/loopboot", "host"},
	    {"/run/loopboot-x", "/run/loopboot", NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *rest = path_startswith(cases[i].path, cases[i].prefix);
		if (!cases[i].rest) {
			if (rest)
				printf("# case %zu: %s, %s: \"%s\", expected NULL\n", i,
				       cases[i].path, cases[i].prefix, rest);
			CHECK(rest == NULL);
		} else {
			CHECK_STREQ(rest, cases[i].rest);
		}
	}
}

TEST(octal_unescape)
{
	static const struct {
		const char *in;
		size_t n; /* 0: all of in */
		const char *out;
	} cases[] = {
	    {"plain", 0, "plain"},
	    {"", 0, ""},
	    {"a\\040b", 0, "a b"},
	    {"\\040lead", 0, " lead"},
	    {"trail\\040", 0, "trail "},
	    {"tab\\011nl\\012", 0, "tab\tnl\n"},
	    {"back\\134slash", 0, "back\\slash"},
	    {"\\101\\102\\103", 0, "ABC"},
	    {"\\377", 0, "\377"},
	    {"\\400", 0, "\\400"}, /* more than a byte: not an escape */
	    {"\\08", 0, "\\08"},
	    {"\\04", 0, "\\04"},
	    {"\\", 0, "\\"},
	    {"\\\\040", 0, "\\ "},
	    {"a\\040b c", 6, "a b"}, /* one field of a line */
	    {"a\\040b", 4, "a\\04"}, /* an escape cut by n stays */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].in);
		_cleanup_free_ char *out = octal_unescape(cases[i].in, n);
		CHECK_STREQ(out, cases[i].out);
	}
}

TEST(clock)
{
	/* 1005: the whole seconds and the rest go to different fields of the timespec. */
	static const long waits[] = {0, 1, 20, 1005};
	for (size_t i = 0; i < ARRAY_SIZE(waits); i++) {
		long long before = now_ms();
		sleep_ms(waits[i]);
		long long elapsed = now_ms() - before;
		CHECK(before > 0);
		CHECK(elapsed >= waits[i]);
		CHECK(elapsed < waits[i] + 1000);
	}
}
