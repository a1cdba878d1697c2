/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot install`: names, the mirrors taken from apt's sources, the fstab line. */
#include "basic/strbuf.h"
#include "basic/util.h"
#include "test-main.h"
#include "tools/install.h"

TEST(hostnames)
{
	static const char *const good[] = {"loopboot",         "a",    "lab-pc-07",
	                                   "host.example.org", "0day", "x1.y2"};
	static const char *const bad[] = {"",     "-lead",   "trail-", "Upper",  "under_score",
	                                  "a..b", "dot.",    ".dot",   "sp ace", "ümlaut",
	                                  "a/b",  "x;rm -rf"};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		CHECK(install_valid_hostname(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(!install_valid_hostname(bad[i]));
	char label[65];
	memset(label, 'a', 64);
	label[64] = '\0';
	CHECK(!install_valid_hostname(label)); /* a label of 64 */
	label[63] = '\0';
	CHECK(install_valid_hostname(label));
}

TEST(user_names)
{
	static const char *const good[] = {"alice", "_svc", "bob-2", "a_b", "x"};
	static const char *const bad[] = {"",    "Alice", "2bob", "-x",       "a b",
	                                  "a:b", "a'b",   "a$b",  "a/../../b"};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		CHECK(install_valid_user(good[i]));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(!install_valid_user(bad[i]));
	CHECK(install_valid_user("abcdefghijklmnopqrstuvwxyz012345"));   /* 32 */
	CHECK(!install_valid_user("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
}

/* The mirrors read from sources for suite, each followed by '|'. */
static char *mirrors(const char *sources, bool deb822, const char *suite)
{
	struct strv v = {0};
	install_mirrors_from_sources(sources, deb822, suite, &v);
	struct strbuf b = {0};
	for (size_t i = 0; i < v.n; i++)
		strbuf_printf(&b, "%s|", v.v[i]);
	strv_free(&v);
	return strbuf_steal(&b);
}

TEST(mirrors_from_a_sources_list)
{
	static const char list[] =
	    "# the main archive\n"
	    "deb http://deb.debian.org/debian bookworm main contrib\n"
	    "deb-src http://deb.debian.org/debian bookworm main\n"
	    "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian "
	    "bookworm-updates main\n"
	    "deb [trusted=yes] http://security.debian.org/debian-security bookworm-security main\n"
	    "deb http://deb.debian.org/debian trixie main\n"
	    "deb http://deb.debian.org/debian bookworm-foo main\n"
	    "deb http://deb.debian.org/debian bookworm main contrib\n" /* again: once */
	    "deb http://deb.debian.org/debian\n";
	_cleanup_free_ char *s = mirrors(list, false, "bookworm");
	CHECK_STREQ(s, "deb http://deb.debian.org/debian bookworm main contrib|"
	               "deb http://mirror.example/debian bookworm-updates main|"
	               "deb http://security.debian.org/debian-security bookworm-security main|");
}

TEST(mirrors_from_deb822)
{
	static const char sources[] =
	    "Types: deb deb-src\n"
	    "URIs: http://deb.debian.org/debian\n"
	    "Suites: bookworm bookworm-updates\n"
	    "Components: main non-free-firmware\n"
	    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	    "\n"
	    "Types: deb-src\n"
	    "URIs: http://src.example/debian\n"
	    "Suites: bookworm\n"
	    "\n"
	    "Types: deb\n"
	    "# http://snapshot.debian.org/archive/debian-security/20250520T000000Z\n"
	    "URIs: http://security.debian.org/debian-security\n"
	    "Suites: bookworm-security\n"; /* no Components, no blank line at the end */
	_cleanup_free_ char *s = mirrors(sources, true, "bookworm");
	CHECK_STREQ(s, "deb http://deb.debian.org/debian bookworm main non-free-firmware|"
	               "deb http://deb.debian.org/debian bookworm-updates main non-free-firmware|"
	               "deb http://security.debian.org/debian-security bookworm-security main|");
	_cleanup_free_ char *none = mirrors(sources, true, "trixie");
	CHECK_STREQ(none, "");
}

TEST(fstab_lines)
{
	_cleanup_free_ char *ext4 = install_fstab_line("0b9d-1", "ext4");
	_cleanup_free_ char *xfs = install_fstab_line("0b9d-2", "xfs");
	CHECK_STREQ(ext4, "UUID=0b9d-1 / ext4 errors=remount-ro 0 1\n");
	CHECK_STREQ(xfs, "UUID=0b9d-2 / xfs defaults 0 0\n");
}
