/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot create`: sizes as people write them. */
#include <errno.h>
#include <stdarg.h>
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

/* create's arguments as a user types them: argv[0] is the verb, as run_verb passes it. */
static int parse(struct create_request *req, const char *a0, ...)
{
	char *argv[16] = {"create", (char *)a0};
	int argc = a0 ? 2 : 1;
	va_list ap;
	va_start(ap, a0);
	for (const char *a; a0 && (a = va_arg(ap, const char *)) && argc < 15;)
		argv[argc++] = (char *)a;
	va_end(ap);
	return create_parse_args(argc, argv, req);
}

TEST(overlay_option)
{
	struct create_request req;
	CHECK(parse(&req, "/mnt/win/linux/root.img", "--size", "64M", NULL) == 0);
	CHECK(!req.overlay);
	CHECK(parse(&req, "/mnt/win/linux/overlay.img", "--size", "64M", "--overlay", NULL) == 0);
	CHECK(req.overlay);
	CHECK(strcmp(req.path, "/mnt/win/linux/overlay.img") == 0);
	CHECK(req.size == 64ULL << 20);
	CHECK(strcmp(req.fs->name, "ext4") == 0); /* the default, as for an image */
	CHECK(!req.label);
	/* Before FILE, and with the other options: xfs and btrfs take upper/ too. */
	CHECK(parse(&req, "--overlay", "--fs", "xfs", "-L", "layer", "ov.img", "--size=512M",
	            NULL) == 0);
	CHECK(req.overlay && strcmp(req.fs->name, "xfs") == 0);
	CHECK(req.label && strcmp(req.label, "layer") == 0);
	CHECK(parse(&req, "ov.img", "--overlay", "--size", "256M", "--fs=btrfs", NULL) == 0);
	CHECK(req.overlay && strcmp(req.fs->name, "btrfs") == 0);
	/* Twice is once. */
	CHECK(parse(&req, "ov.img", "--overlay", "--overlay", "--size", "8M", NULL) == 0);
	CHECK(req.overlay);
}

TEST(overlay_option_refusals)
{
	struct create_request req;
	/* Each one a usage error (exit status 2), before anything is looked at on disk. */
	CHECK(parse(&req, "ov.img", "--size", "64M", "--overlay=yes", NULL) == 2);
	CHECK(parse(&req, "ov.img", "--size", "64M", "--overlay", "--fs", "vfat", NULL) == 2);
	CHECK(parse(&req, "ov.img", "--overlay", NULL) == 2);        /* no --size */
	CHECK(parse(&req, "--overlay", "--size", "64M", NULL) == 2); /* no FILE */
	CHECK(parse(&req, "a.img", "b.img", "--overlay", "--size", "64M", NULL) == 2);
	CHECK(parse(&req, "ov.img", "--size", "5000", "--overlay", NULL) == 2); /* not 4 KiB */
	CHECK(parse(&req, "ov.img", "--size", "64M", "--overlay", "--label", "", NULL) == 2);
	CHECK(parse(&req, "ov.img", "--size", "64M", "--overlays", NULL) == 2);
	CHECK(parse(&req, "ov.img", "--overlay", "--size", NULL) == 2); /* --size without value */
}

TEST(cmdline_words)
{
	char *w = create_cmdline_word("loopboot.overlay", "/linux/overlay.img");
	CHECK(strcmp(w, "loopboot.overlay=/linux/overlay.img") == 0);
	free(w);
	/* The kernel's quoting: the whole word, as loop= is quoted. */
	w = create_cmdline_word("loopboot.overlay", "/My Linux/overlay.img");
	CHECK(strcmp(w, "\"loopboot.overlay=/My Linux/overlay.img\"") == 0);
	free(w);
	w = create_cmdline_word("loop", "/a\tb.img");
	CHECK(strcmp(w, "\"loop=/a\tb.img\"") == 0);
	free(w);
}
