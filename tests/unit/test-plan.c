/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command line -> plan: every accepted form, and a clear one-line error for each bad one. */
#include "engine/plan.h"
#include "test-main.h"

static struct plan parse_ok(const char *s)
{
	struct plan p;
	char *err = NULL;
	int r = plan_parse(s, &p, &err);
	if (r < 0)
		printf("# unexpected error for [%s]: %s\n", s, err);
	CHECK(r == 0);
	CHECK(err == NULL);
	free(err);
	return p;
}

/* Expects a failure whose message starts "loopboot: " and contains needle. */
static void parse_bad(const char *s, const char *needle)
{
	struct plan p;
	char *err = NULL;
	int r = plan_parse(s, &p, &err);
	CHECK(r == -EINVAL);
	CHECK(err && strncmp(err, "loopboot: ", 10) == 0);
	CHECK(err && !strchr(err, '\n'));
	if (!err || !strstr(err, needle)) {
		printf("# [%s] gave [%s], expected it to mention [%s]\n", s, err ? err : "(null)",
		       needle);
		test_failed_checks++;
	}
	free(err);
	if (r == 0)
		plan_free(&p);
}

TEST(recipe_line)
{
	struct plan p = parse_ok("root=UUID=0A1B2C3D4E5F6789 loop=/linux/root.img rw quiet");
	CHECK(p.root.kind == DEVSPEC_UUID);
	CHECK_STREQ(p.root.value, "0A1B2C3D4E5F6789");
	CHECK(p.has_loop);
	CHECK(p.loop.n == 1);
	CHECK_STREQ(p.loop.part[0], "/linux/root.img");
	CHECK(!p.read_only);
	CHECK_STREQ(p.hostdir, "/host");
	CHECK(p.timeout == 30);
	CHECK(!p.debug && !p.shell);
	CHECK(p.rootfstype == NULL && p.loopfstype == NULL && p.init == NULL);
	CHECK(p.warnings.n == 0);
	plan_free(&p);
}

TEST(defaults_read_only)
{
	struct plan p = parse_ok("root=/dev/sda2 loop=/a.img");
	CHECK(p.read_only);
	CHECK(p.root.kind == DEVSPEC_PATH);
	CHECK_STREQ(p.root.value, "/dev/sda2");
	plan_free(&p);
	p = parse_ok("root=/dev/sda2 loop=/a.img rw ro");
	CHECK(p.read_only);
	plan_free(&p);
}

TEST(device_forms)
{
	struct plan p = parse_ok("root=LABEL=My\\x20Stick loop=/a.img");
	CHECK(p.root.kind == DEVSPEC_LABEL);
	plan_free(&p);
	p = parse_ok("\"root=LABEL=MY STICK\" loop=/a.img");
	CHECK(p.root.kind == DEVSPEC_LABEL);
	CHECK_STREQ(p.root.value, "MY STICK");
	plan_free(&p);
	p = parse_ok("root=PARTUUID=1c2b3a4d-01 loop=/a.img");
	CHECK(p.root.kind == DEVSPEC_PARTUUID);
	plan_free(&p);
	p = parse_ok("root=PARTLABEL=linux loop=/a.img");
	CHECK(p.root.kind == DEVSPEC_PARTLABEL);
	char *s = devspec_to_string(&p.root);
	CHECK_STREQ(s, "PARTLABEL=linux");
	free(s);
	plan_free(&p);
	p = parse_ok("root=/dev/disk/by-uuid/abcd loop=/a.img");
	CHECK(p.root.kind == DEVSPEC_PATH);
	plan_free(&p);
}

/* Command lines that must be refused, and what each message must mention. */
struct refusals {
	const char *name;
	struct {
		const char *line, *needle;
	} cases[16];
};

static void check_refusals(const struct refusals *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(r->cases) && r->cases[i].line; i++)
		parse_bad(r->cases[i].line, r->cases[i].needle);
}

/* A name of 300 characters: longer than a path component may be. */
#define X10  "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X300 X100 X100 X100

static const struct refusals refusals[] = {
    {"bad_devices",
     {
         {"loop=/a.img", "root="},
         {"root= loop=/a.img", "root="},
         {"root=UUID= loop=/a.img", "UUID"},
         {"root=sda1 loop=/a.img", "/dev/NAME"},
         {"root=801 loop=/a.img", "/dev/NAME"},
         {"root=PARTUUID=abcd/PARTNROFF=1 loop=/a.img", "PARTNROFF"},
         {"root=/dev/ loop=/a.img", "'/'"},
     }},
    {"bad_loop_paths",
     {
         {"root=/dev/vda loop=", "empty"},
         {"root=/dev/vda loop", "empty"},
         {"root=/dev/vda loop=linux/root.img", "absolute"},
         {"root=/dev/vda loop=/linux/../root.img", "\"..\""},
         {"root=/dev/vda loop=/linux/", "ends in '/'"},
         {"root=/dev/vda loop=/", "root directory"},
         {"root=/dev/vda loop=/./.", "root directory"},
         {"root=/dev/vda loop=/" X300, "255"},
     }},
    {"bad_mounts",
     {
         {"root=/dev/vda loopboot.mount=/home:/h.img", "needs loop="},
         {"root=/dev/vda loop=/r.img loopboot.mount=/home", "':'"},
         {"root=/dev/vda loop=/r.img loopboot.mount=", "nothing to mount"},
         {"root=/dev/vda loop=/r.img loopboot.mount=home:/h.img", "absolute"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/:/h.img", "root itself"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/home:h.img", "absolute"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/home:", "empty"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/home:/a.img "
          "loopboot.mount=/home/:/b.img",
          "already the target"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/home:/a.img "
          "loopboot.mount=/home:/b.img",
          "already the target"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/home:/r.img", "already the root"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/a:/x.img loopboot.mount=/b:/x.img",
          "already mounted at /a"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/host/x:/x.img", "inside"},
         {"root=/dev/vda loop=/r.img loopboot.hostdir=/mnt/host loopboot.mount=/mnt:/x.img",
          "hide"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/x:/x.img:ext4;rm", "type name"},
     }},
    {"bad_overlays",
     {
         {"root=/dev/vda loop=/r.img loopboot.overlay", "no layer named"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=", "no layer named"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=tmpfs:", "tmpfs:512M"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=tmpfs:1T", "tmpfs:512M"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=tmpfs:-5M", "tmpfs:512M"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=/", "root directory"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=/a/../b.img", "\"..\""},
         {"root=/dev/vda loop=/r.img loopboot.overlay=/r.img", "its own file"},
         {"root=/dev/vda loop=/r.img loopboot.mount=/home:/h.img loopboot.overlay=/h.img",
          "already mounted at /home"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=persist", "neither tmpfs"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=LABEL=x:/a/../b", "\"..\""},
         {"root=/dev/vda loopboot.overlay=tmpfs", "needs loop="},
         {"root=/dev/vda loopboot.toram", "needs loop="},
         {"root=/dev/vda loop=/r.img loopboot.toram=maybe", "yes/no"},
         {"root=/dev/vda loop=/r.img loopboot.overlay=/o.img loopboot.overlay.reset "
          "loopboot.overlay.readonly",
          "keep one"},
     }},
};
TEST_TABLE(check_refusals, refusals);

TEST(nested)
{
	struct plan p = parse_ok("root=/dev/vda loop=/vm/outer.img//images/root.img");
	CHECK(p.loop.n == 2);
	CHECK_STREQ(p.loop.part[0], "/vm/outer.img");
	CHECK_STREQ(p.loop.part[1], "/images/root.img");
	char *s = imagepath_to_string(&p.loop);
	CHECK_STREQ(s, "/vm/outer.img//images/root.img");
	free(s);
	plan_free(&p);
	p = parse_ok("root=/dev/vda loop=/a.img///b.img//./c/./d.img");
	CHECK(p.loop.n == 3);
	CHECK_STREQ(p.loop.part[1], "/b.img");
	CHECK_STREQ(p.loop.part[2], "/c/d.img");
	plan_free(&p);
	parse_bad("root=/dev/vda loop=/a//b//c//d//e//f//g//h//i", "nested more than 8");
	parse_bad("root=/dev/vda loop=/a.img//", "ends in \"//\"");
}

TEST(spaces_in_path)
{
	struct plan p = parse_ok("root=LABEL=STICK \"loop=/My Linux/root.img\" rw");
	CHECK_STREQ(p.loop.part[0], "/My Linux/root.img");
	plan_free(&p);
}

TEST(fs_options)
{
	struct plan p = parse_ok("root=/dev/vda rootfstype=ntfs3 rootflags=uid=0,umask=022 "
	                         "loop=/r.img loopfstype=ext4 loopflags=noatime,commit=30 "
	                         "init=/lib/systemd/systemd");
	CHECK_STREQ(p.rootfstype, "ntfs3");
	CHECK_STREQ(p.rootflags, "uid=0,umask=022");
	CHECK_STREQ(p.loopfstype, "ext4");
	CHECK_STREQ(p.loopflags, "noatime,commit=30");
	CHECK_STREQ(p.init, "/lib/systemd/systemd");
	plan_free(&p);
	parse_bad("root=/dev/vda loop=/r.img init=sbin/init", "absolute");
	parse_bad("root=/dev/vda loop=/r.img init=", "init=");
}

TEST(last_wins)
{
	struct plan p = parse_ok("root=/dev/a loop=/1.img root=/dev/b loop=/2.img "
	                         "loopboot.timeout=5 loopboot.timeout=7");
	CHECK_STREQ(p.root.value, "/dev/b");
	CHECK_STREQ(p.loop.part[0], "/2.img");
	CHECK(p.timeout == 7);
	plan_free(&p);
}

TEST(extra_mounts)
{
	struct plan p = parse_ok("root=/dev/vda loop=/r.img loopboot.mount=/usr/local:/l.img "
	                         "loopboot.mount=/home:/linux/home.img:ext4:noatime,nodev "
	                         "loopboot.mount=/usr:/u.img//inner.img::ro");
	CHECK(p.n_mounts == 3);
	CHECK_STREQ(p.mounts[0].target, "/home");
	CHECK_STREQ(p.mounts[0].image.part[0], "/linux/home.img");
	CHECK_STREQ(p.mounts[0].fstype, "ext4");
	CHECK_STREQ(p.mounts[0].options, "noatime,nodev");
	CHECK_STREQ(p.mounts[1].target, "/usr");
	CHECK(p.mounts[1].image.n == 2);
	CHECK(p.mounts[1].fstype == NULL);
	CHECK_STREQ(p.mounts[1].options, "ro");
	CHECK_STREQ(p.mounts[2].target, "/usr/local"); /* after its parent */
	CHECK(p.mounts[2].fstype == NULL && p.mounts[2].options == NULL);
	plan_free(&p);
}

TEST(hostdir)
{
	struct plan p = parse_ok("root=/dev/vda loop=/r.img loopboot.hostdir=/mnt//windows/");
	CHECK_STREQ(p.hostdir, "/mnt/windows");
	plan_free(&p);
	parse_bad("root=/dev/vda loop=/r.img loopboot.hostdir=/", "replace the root");
	parse_bad("root=/dev/vda loop=/r.img loopboot.hostdir=host", "absolute");
	parse_bad("root=/dev/vda loop=/r.img loopboot.hostdir", "no directory");
}

TEST(flags_and_timeout)
{
	struct plan p = parse_ok("root=/dev/vda loop=/r.img loopboot.debug loopboot.shell=yes "
	                         "loopboot.timeout=0");
	CHECK(p.debug && p.shell);
	CHECK(p.timeout == 0);
	plan_free(&p);
	p = parse_ok("root=/dev/vda loop=/r.img loopboot.debug=off loopboot.shell=1 "
	             "loopboot.timeout=3600");
	CHECK(!p.debug && p.shell);
	CHECK(p.timeout == 3600);
	plan_free(&p);
	parse_bad("root=/dev/vda loop=/r.img loopboot.timeout=3601", "hour");
	parse_bad("root=/dev/vda loop=/r.img loopboot.timeout=-1", "number");
	parse_bad("root=/dev/vda loop=/r.img loopboot.timeout=99999999999999999999", "hour");
	parse_bad("root=/dev/vda loop=/r.img loopboot.timeout", "seconds");
	parse_bad("root=/dev/vda loop=/r.img loopboot.debug=maybe", "yes/no");
}

TEST(unknown_options_warn)
{
	struct plan p = parse_ok("root=/dev/vda loop=/r.img loopboot.frobnicate=1 quiet splash");
	CHECK(p.warnings.n == 1);
	CHECK(strstr(p.warnings.v[0], "loopboot.frobnicate") != NULL);
	plan_free(&p);
}

TEST(plain_root)
{
	struct plan p = parse_ok("root=UUID=abcd rw loopfstype=ext4");
	CHECK(!p.has_loop);
	CHECK(!p.read_only);
	CHECK(p.warnings.n == 1);
	plan_free(&p);
	parse_bad("quiet", "root=");
	parse_bad("", "root=");
}

TEST(print)
{
	struct plan p = parse_ok("root=UUID=abcd \"loop=/My Linux/r.img//in.img\" rw "
	                         "loopboot.mount=/home:/h.img loopboot.x");
	CHECK_PRINTED(&p, "host:     UUID=abcd\n", "/My Linux/r.img (on the host)",
	              "inside: /in.img", "read-write", "mount:    /home",
	              "warning:  unknown kernel parameter loopboot.x");
	plan_free(&p);
}

TEST(mode_linear)
{
	struct plan p = parse_ok("root=/dev/sda1 loop=/a.img");
	CHECK(p.mode == PLAN_MODE_LOOP);
	plan_free(&p);
	p = parse_ok("root=/dev/sda1 loop=/a.img loopboot.mode=linear");
	CHECK(p.mode == PLAN_MODE_LINEAR);
	CHECK(p.warnings.n == 0);
	CHECK_PRINTED(&p, "device: linear");
	plan_free(&p);
	/* the last one wins */
	p = parse_ok("root=/dev/sda1 loop=/a.img loopboot.mode=linear loopboot.mode=loop");
	CHECK(p.mode == PLAN_MODE_LOOP);
	plan_free(&p);
	parse_bad("root=/dev/sda1 loop=/a.img loopboot.mode=dm", "loopboot.mode=linear");
	parse_bad("root=/dev/sda1 loop=/a.img loopboot.mode", "loopboot.mode=loop");
}

TEST(overlay)
{
	struct plan p = parse_ok("root=/dev/sda1 loop=/live.sqfs");
	CHECK(p.overlay == PLAN_OVERLAY_NONE && !p.toram);
	plan_free(&p);
	p = parse_ok("root=/dev/sda1 loop=/live.sqfs loopboot.overlay=tmpfs");
	CHECK(p.overlay == PLAN_OVERLAY_TMPFS && !p.overlay_size && !p.overlay_path);
	plan_free(&p);
	p = parse_ok("root=/dev/sda1 loop=/live.sqfs loopboot.overlay=tmpfs:25%");
	CHECK(p.overlay == PLAN_OVERLAY_TMPFS && streq(p.overlay_size, "25%"));
	CHECK_PRINTED(&p, "layer:  tmpfs (size 25%", "read-only (under the overlay)");
	plan_free(&p);
	p = parse_ok("root=/dev/sda1 loop=/r.img loopboot.overlay=/linux//ov.img "
	             "loopboot.overlay.reset loopboot.toram");
	CHECK(p.overlay == PLAN_OVERLAY_FILE && streq(p.overlay_path, "/linux/ov.img"));
	CHECK(p.overlay_reset && !p.overlay_readonly && p.toram);
	CHECK_PRINTED(&p, "layer:  /linux/ov.img (on the host",
	              "toram:  copied into RAM before it is mounted\n");
	plan_free(&p);
	p = parse_ok("root=/dev/sda1 loop=/r.img loopboot.overlay=LABEL=persist:/live/rw "
	             "loopboot.overlay.readonly");
	CHECK(p.overlay == PLAN_OVERLAY_DEVICE && p.overlay_dev.kind == DEVSPEC_LABEL);
	CHECK(streq(p.overlay_dev.value, "persist") && streq(p.overlay_path, "/live/rw"));
	CHECK(p.overlay_readonly);
	plan_free(&p);
	p = parse_ok("root=/dev/sda1 loop=/r.img loopboot.overlay=UUID=0123-ABCD");
	CHECK(p.overlay == PLAN_OVERLAY_DEVICE && streq(p.overlay_path, "/"));
	plan_free(&p);
	/* The last one wins, and what it replaces is freed (ASan). */
	p = parse_ok("root=/dev/sda1 loop=/r.img loopboot.overlay=/a.img loopboot.overlay=tmpfs");
	CHECK(p.overlay == PLAN_OVERLAY_TMPFS && !p.overlay_path);
	plan_free(&p);
	/* reset and readonly mean nothing for a tmpfs: a warning. */
	p = parse_ok("root=/dev/sda1 loop=/r.img loopboot.overlay=tmpfs loopboot.overlay.reset");
	CHECK(p.warnings.n == 1 && !p.overlay_reset);
	plan_free(&p);
}

TEST(failure_policy)
{
	unsigned t;
	bool sh;
	plan_failure_policy("root=/dev/vda loop=rel loopboot.timeout=3 loopboot.shell", &t, &sh);
	CHECK(t == 3 && sh);
	plan_failure_policy("loop= loopboot.timeout=abc loopboot.shell=maybe", &t, &sh);
	CHECK(t == PLAN_DEFAULT_TIMEOUT && !sh);
	plan_failure_policy(NULL, &t, &sh);
	CHECK(t == PLAN_DEFAULT_TIMEOUT && !sh);
}

/* A disk image's partition: loopboot.part= for loop=, part= in a loopboot.mount= entry. */
TEST(partitions)
{
	struct plan p =
	    parse_ok("loopboot.part=PARTLABEL=root root=LABEL=W loop=/vm/disk.vhd "
	             "loopboot.mount=/home:/vm/disk.vhd::part=3 "
	             "loopboot.mount=/srv:/vm/disk.vhd:ext4:noatime,part=UUID=ab-cd,nodev");
	CHECK(p.loop.sel.kind == PARTSEL_PARTLABEL);
	CHECK_STREQ(p.loop.sel.value, "root");
	CHECK(p.n_mounts == 2);
	CHECK(p.mounts[0].image.sel.kind == PARTSEL_NUMBER && p.mounts[0].image.sel.number == 3);
	CHECK(!p.mounts[0].options); /* part= was loopboot's only option */
	CHECK(p.mounts[1].image.sel.kind == PARTSEL_UUID);
	CHECK_STREQ(p.mounts[1].image.sel.value, "ab-cd");
	CHECK_STREQ(p.mounts[1].options, "noatime,nodev");
	CHECK_PRINTED(&p, "  part:   PARTLABEL=root (of a disk image in the path)\n",
	              "  part:   3 (of a disk image in the path)\n");
	plan_free(&p);
	/* Partitions of one disk are different images; the same partition twice is not. */
	parse_bad(
	    "root=LABEL=W loop=/vm/d.img loopboot.part=2 loopboot.mount=/home:/vm/d.img::part=2",
	    "already the root image");
	parse_bad("root=LABEL=W loop=/vm/d.img loopboot.part=x", "is not a partition");
	parse_bad("root=LABEL=W loop=/vm/d.img loopboot.mount=/home:/vm/d.img::part=3,part=4",
	          "part= is given twice");
	parse_bad("root=LABEL=W loop=/vm/d.img loopboot.mount=/home:/vm/d.img::part=",
	          "no partition named");
	parse_bad("root=/dev/sda2 loopboot.part=2", "needs loop=");
}
