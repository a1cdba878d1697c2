/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot iso -o /dev/sdX`: which devices the media may be written to. */
#include <errno.h>
#include <stdint.h>

#include "basic/util.h"
#include "test-main.h"
#include "tools/stick.h"

#define MiB (1ULL << 20)

/* A USB stick of 8 GiB, nothing mounted: the media (60 MiB) may go on it. */
static struct stick_facts usb_stick(void)
{
	return (struct stick_facts){.device = "/dev/sdb",
	                            .block = true,
	                            .removable = true,
	                            .bus = "usb",
	                            .size = 8192 * MiB,
	                            .image_size = 60 * MiB};
}

struct row {
	const char *name;
	void (*change)(struct stick_facts *f);
	bool force;
	int err;        /* 0: written */
	bool forceable; /* --force would override the refusal */
	const char *todo_has;
};

static void none(struct stick_facts *f)
{
	(void)f;
}
static void file(struct stick_facts *f)
{
	f->block = false;
}
static void part(struct stick_facts *f)
{
	f->partition = true;
	f->disk = "/dev/sdb";
}
static void mounted(struct stick_facts *f)
{
	f->mounted = "/media/ada/STICK";
	f->mounted_dev = "/dev/sdb1";
}
static void host(struct stick_facts *f)
{
	f->holds_host = true;
	f->host = "/dev/sdb1";
	mounted(f); /* the host is often mounted too: the host is the reason given */
}
static void swap(struct stick_facts *f)
{
	f->swap = "/dev/sdb2";
}
static void held(struct stick_facts *f)
{
	f->holder = "/dev/dm-0";
}
static void small(struct stick_facts *f)
{
	f->size = 32 * MiB;
}
static void internal(struct stick_facts *f)
{
	f->removable = false;
	f->bus = NULL;
}
static void internal_host(struct stick_facts *f)
{
	internal(f);
	f->holds_host = true;
	f->host = "/dev/sdb3";
}
static void internal_mounted(struct stick_facts *f)
{
	internal(f);
	mounted(f);
}

static const struct row rows[] = {
    {"a USB stick is written", none, false, 0, false, NULL},
    {"a file is not a stick", file, false, ENOTBLK, false, "lsblk"},
    {"a partition: the whole disk is named", part, false, EINVAL, false, "/dev/sdb"},
    {"a mounted stick is refused", mounted, false, EBUSY, false, "umount /media/ada/STICK"},
    {"--force does not write a mounted stick", mounted, true, EBUSY, false, "umount"},
    {"the stick holding the host is refused", host, false, EBUSY, false, "/dev/sdb1"},
    {"--force does not overwrite the host", host, true, EBUSY, false, "another stick"},
    {"swap on it is refused", swap, false, EBUSY, false, "swapoff /dev/sdb2"},
    {"a device built on it is refused", held, false, EBUSY, false, "/dev/dm-0"},
    {"a stick too small is refused", small, true, ENOSPC, false, "60 MiB"},
    {"an internal disk is refused", internal, false, EPERM, true, "--force"},
    {"an internal disk is written with --force", internal, true, 0, false, NULL},
    {"--force never writes over the host on an internal disk", internal_host, true, EBUSY, false,
     "/dev/sdb3"},
    {"--force never writes an internal disk that is mounted", internal_mounted, true, EBUSY, false,
     "umount"},
};

static void verdict(const void *p)
{
	const struct row *row = p;
	struct stick_facts f = usb_stick();
	row->change(&f);
	struct stick_refusal r;
	int ret = stick_verdict(&f, row->force, &r);
	CHECK(ret == (row->err ? -1 : 0));
	CHECK(r.err == row->err);
	CHECK(r.forceable == row->forceable);
	CHECK(!row->err || (r.why && *r.why));
	CHECK(!row->todo_has || (r.todo && strstr(r.todo, row->todo_has)));
	if (row->todo_has && r.todo && !strstr(r.todo, row->todo_has))
		printf("# todo: %s\n", r.todo);
	free(r.todo);
}
TEST_TABLE(verdict, rows)
