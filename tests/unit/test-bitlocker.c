/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BitLocker hosts, the pure parts: loopboot.bitlocker= in the plan and its print, the
 * recovery password as typed, what a key file holds, and the refusal's words. */
#include "engine/bitlocker.h"
#include "engine/plan.h"
#include "test-main.h"

/* A valid recovery password: every block a multiple of 11 below 720896. */
#define PW "111111-222222-333333-444444-555555-666666-700007-000011"

TEST(param_ask)
{
	struct plan p;
	char *err = NULL;
	CHECK(plan_parse("root=PARTUUID=6a0c4b3e-03 loop=/linux/root.img loopboot.bitlocker=ask",
	                 &p, &err) == 0);
	CHECK(!err);
	CHECK(p.bitlocker == PLAN_BITLOCKER_ASK);
	CHECK(p.bitlocker_path == NULL);
	CHECK_PRINTED(&p, "bitlocker: a BitLocker host is opened (dm-crypt, libcryptsetup) with "
	                  "the recovery password asked on the console");
	plan_free(&p);
}

TEST(param_key_file)
{
	static const struct {
		const char *value;
		enum devspec_kind kind;
		const char *dev, *path;
	} ok[] = {
	    {"UUID=1234-ABCD:/bitlocker/pc.txt", DEVSPEC_UUID, "1234-ABCD", "/bitlocker/pc.txt"},
	    {"LABEL=KEYS:/keys//pc.txt", DEVSPEC_LABEL, "KEYS", "/keys/pc.txt"},
	    {"LABEL=a:b:/k", DEVSPEC_LABEL, "a:b", "/k"},
	    {"PARTLABEL=keys:/k.bek", DEVSPEC_PARTLABEL, "keys", "/k.bek"},
	    {"/dev/sdb1:/k", DEVSPEC_PATH, "/dev/sdb1", "/k"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		_cleanup_free_ char *line =
		    xasprintf("root=/dev/sda3 loop=/r.img loopboot.bitlocker=%s", ok[i].value);
		struct plan p;
		char *err = NULL;
		CHECK(plan_parse(line, &p, &err) == 0);
		if (err)
			printf("# %s: %s\n", ok[i].value, err);
		free(err);
		CHECK(p.bitlocker == PLAN_BITLOCKER_FILE);
		CHECK(p.bitlocker_dev.kind == ok[i].kind);
		CHECK_STREQ(p.bitlocker_dev.value, ok[i].dev);
		CHECK_STREQ(p.bitlocker_path, ok[i].path);
		_cleanup_free_ char *dev = devspec_to_string(&p.bitlocker_dev);
		_cleanup_free_ char *want = xasprintf("recovery password in %s on %s (mounted "
		                                      "read-only)",
		                                      ok[i].path, dev);
		CHECK_PRINTED(&p, want);
		plan_free(&p);
	}
	/* The last one wins, as for every parameter but loopboot.mount=. */
	struct plan p;
	char *err = NULL;
	CHECK(plan_parse("root=/dev/sda3 loop=/r.img loopboot.bitlocker=LABEL=K:/k "
	                 "loopboot.bitlocker=ask",
	                 &p, &err) == 0);
	CHECK(p.bitlocker == PLAN_BITLOCKER_ASK && !p.bitlocker_path && !p.bitlocker_dev.value);
	plan_free(&p);
	free(err);
}

TEST(param_bad)
{
	static const char *const bad[] = {
	    "loopboot.bitlocker",           "loopboot.bitlocker=",
	    "loopboot.bitlocker=yes",       "loopboot.bitlocker=UUID=1234",
	    "loopboot.bitlocker=UUID=:/k",  "loopboot.bitlocker=sdb1:/k",
	    "loopboot.bitlocker=LABEL=K:/", "loopboot.bitlocker=LABEL=K:/a/../../k",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *line = xasprintf("root=/dev/sda3 loop=/r.img %s", bad[i]);
		struct plan p;
		char *err = NULL;
		CHECK(plan_parse(line, &p, &err) == -EINVAL);
		CHECK(err && startswith(err, "loopboot: ") && !strchr(err, '\n'));
		CHECK(err && strstr(err, "loopboot.bitlocker=ask"));
		if (err && !strstr(err, "loopboot.bitlocker"))
			printf("# %s: %s\n", bad[i], err);
		free(err);
	}
}

TEST(no_param_refuses)
{
	struct plan p;
	char *err = NULL;
	CHECK(plan_parse("root=/dev/sda3 loop=/r.img", &p, &err) == 0);
	CHECK(p.bitlocker == PLAN_BITLOCKER_NONE);
	CHECK_PRINTED(&p, "bitlocker: refuse (no loopboot.bitlocker=)\n");
	plan_free(&p);
	/* The refusal's words name both spellings and where the password is found. */
	CHECK(strstr(BITLOCKER_TODO, "loopboot.bitlocker=ask"));
	CHECK(strstr(BITLOCKER_TODO, "loopboot.bitlocker=UUID=<device>:/path/to/file"));
	CHECK(strstr(BITLOCKER_TODO, "manage-bde -protectors -get"));
	CHECK(bitlocker_is_type("BitLocker"));
	CHECK(!bitlocker_is_type("ntfs") && !bitlocker_is_type(NULL));
}

TEST(recovery_password)
{
	static const char *const same[] = {
	    PW,
	    "111111222222333333444444555555666666700007000011",
	    " 111111 222222 333333 444444 555555 666666 700007 000011\n",
	    "111111-222222-333333-444444\n555555-666666-700007-000011",
	};
	for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
		char *out;
		const char *why = NULL;
		unsigned block = 9;
		CHECK(bitlocker_recovery_password(same[i], &out, &why, &block) == 0);
		CHECK_STREQ(out, PW);
		CHECK(block == 0);
		free(out);
	}
	static const struct {
		const char *in;
		unsigned block;
		const char *why;
	} bad[] = {
	    {"111111-222222-333333-444444-555555-666666-700007-000012", 8, "multiple of 11"},
	    {"111112-222222-333333-444444-555555-666666-700007-000011", 1, "a typo"},
	    /* 720896 = 11 * 65536: the first multiple of 11 too large */
	    {"111111-222222-333333-720896-555555-666666-700007-000011", 4, "below 720896"},
	    {"111111-222222-333333-444444-555555-666666-700007", 0, "48 digits"},
	    {PW "-000000", 0, "more than 48"},
	    {"1111a1-222222-333333-444444-555555-666666-700007-000011", 0, "only digits"},
	    {"", 0, "48 digits"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *out = (char *)"x";
		const char *why = NULL;
		unsigned block = 99;
		CHECK(bitlocker_recovery_password(bad[i].in, &out, &why, &block) == -EINVAL);
		CHECK(out == NULL);
		CHECK(block == bad[i].block);
		CHECK(why && strstr(why, bad[i].why));
	}
}

TEST(key_file)
{
	size_t len;
	char *k = bitlocker_key_from_file(PW "\r\n", strlen(PW) + 2, &len);
	CHECK_STREQ(k, PW);
	CHECK(len == strlen(PW));
	free(k);
	k = bitlocker_key_from_file("1111 2222\n", 10, &len);
	CHECK(len == 9 && memcmp(k, "1111 2222", 9) == 0);
	free(k);
	/* A startup key (.BEK) is binary: handed over as it is, NULs and all. */
	static const char bek[] = {'\x2c', '\0', '\0', '\0', '\x01', '\0', '\n'};
	k = bitlocker_key_from_file(bek, sizeof(bek), &len);
	CHECK(len == sizeof(bek) && memcmp(k, bek, sizeof(bek)) == 0);
	free(k);
}
