/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot create`: sizes as people write them. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>

#include "test-main.h"
#include "basic/util.h"
#include "engine/cmdline.h"
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
	char *w = cmdline_word("loopboot.overlay", "/linux/overlay.img");
	CHECK(strcmp(w, "loopboot.overlay=/linux/overlay.img") == 0);
	free(w);
	/* The kernel's quoting: the whole word, as loop= is quoted. */
	w = cmdline_word("loopboot.overlay", "/My Linux/overlay.img");
	CHECK(strcmp(w, "\"loopboot.overlay=/My Linux/overlay.img\"") == 0);
	free(w);
	w = cmdline_word("loop", "/a\tb.img");
	CHECK(strcmp(w, "\"loop=/a\tb.img\"") == 0);
	free(w);
}

/* ---- --disk: the layout and sfdisk's script ---------------------------------------------- */

#define MIB (1ULL << 20)

TEST(disk_layout_small_and_large)
{
	struct create_disk_layout l;
	const char *why = NULL;
	CHECK(create_disk_layout(128 * MIB, &l, &why) == 0);
	CHECK(l.esp_start == MIB && l.esp_size == 32 * MIB); /* under 1 GiB: 32 MiB */
	CHECK(l.root_start == 33 * MIB);
	CHECK(l.root_size == 94 * MIB); /* up to the last whole MiB before the backup GPT */
	CHECK(create_disk_layout(8ULL << 30, &l, &why) == 0);
	CHECK(l.esp_size == 64 * MIB && l.root_start == 65 * MIB);
	CHECK(l.root_start + l.root_size == (8ULL << 30) - MIB);
	/* Not a multiple of 1 MiB: the root still ends on a MiB, 1 MiB or more before the end. */
	CHECK(create_disk_layout(100 * MIB + 4096, &l, &why) == 0);
	CHECK((l.root_start + l.root_size) % MIB == 0);
	CHECK(100 * MIB + 4096 - (l.root_start + l.root_size) >= MIB);
}

TEST(disk_layout_too_small)
{
	struct create_disk_layout l = {0};
	const char *why = NULL;
	CHECK(create_disk_layout(CREATE_DISK_MIN, &l, &why) == 0);
	CHECK(l.root_size == 16 * MIB);
	CHECK(create_disk_layout(CREATE_DISK_MIN - 4096, &l, &why) == -EINVAL);
	CHECK(why && strstr(why, "at least 50 MiB") && strstr(why, "--size 64M"));
}

TEST(disk_script)
{
	struct create_disk_layout l;
	const char *why;
	CHECK(create_disk_layout(128 * MIB, &l, &why) == 0);
	char *s = create_disk_script(&l);
	CHECK_STREQ(s,
	            "label: gpt\n"
	            "start=2048, size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp\n"
	            "start=67584, size=192512, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, "
	            "name=root\n");
	free(s);
}

TEST(disk_args)
{
	struct create_request req;
	CHECK(parse(&req, "d.img", "--size", "64M", "--disk", NULL) == 0);
	CHECK(req.disk && !req.overlay && streq(req.fs->name, "ext4"));
	CHECK(parse(&req, "d.img", "--disk", "--size", "1G", "--fs", "xfs", "-L", "r", NULL) == 0);
	CHECK(req.disk && streq(req.fs->name, "xfs") && streq(req.label, "r"));
	/* a disk and an overlay layer at once; a disk below the least; a value given */
	CHECK(parse(&req, "d.img", "--size", "64M", "--disk", "--overlay", NULL) == 2);
	CHECK(parse(&req, "d.img", "--size", "40M", "--disk", NULL) == 2);
	CHECK(parse(&req, "d.img", "--size", "40M", NULL) == 0); /* an image may be small */
	CHECK(parse(&req, "d.img", "--size", "64M", "--disk=yes", NULL) == 2);
}

TEST(esp_grub_cfg)
{
	char *cfg = create_esp_grub_cfg("0a1b2c3d-0000-4000-8000-000000000001",
	                                "11111111-2222-4333-8444-555555555555");
	CHECK(strstr(cfg, "\nsearch --no-floppy --fs-uuid --set=root "
	                  "0a1b2c3d-0000-4000-8000-000000000001\n"));
	CHECK(strstr(cfg,
	             "\tlinux /vmlinuz root=PARTUUID=11111111-2222-4333-8444-555555555555 rw\n"));
	CHECK(strstr(cfg, "\tinitrd /initrd.img\n"));
	CHECK(strstr(cfg, "menuentry '") && strstr(cfg, "\n}\n"));
	free(cfg);
}
