/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/decide.h"

#include "engine/plan.h"

struct host_choice decide_host(const struct host_facts *f)
{
	struct host_choice c = {0};
	c.host_ro = f->type_ro || f->device_ro || f->options_ro;
	c.warn_ro_host = c.host_ro && !f->plan_ro;
	c.linear = f->linear;
	if (f->unsafe) {
		if (!f->hibernated_ro) {
			c.refuse = true;
			return c;
		}
		/* loopboot.hibernated=ro: nothing reaches the host; the root runs on a
		 * memory overlay, on loop devices. */
		c.host_ro = c.volatile_root = true;
		c.linear = false;
	}
	c.root_ro = f->plan_ro || c.host_ro;
	/* An overlay is the writable layer: the image under it is read-only either way. */
	if (f->overlay && !c.volatile_root)
		c.root_ro = false;
	return c;
}

struct layer_choice decide_layer(const struct layer_facts *f)
{
	struct layer_choice c = {0};
	/* Only the file on the host is mapped: its extents are on the host's device. */
	c.map = f->linear && f->on_host;
	/* A copy in RAM is written freely (a journal replays into RAM); the host is not. */
	bool host_ro = f->host_ro && !f->in_ram;
	c.device_ro = f->probe || host_ro || (f->base && !f->in_ram);
	/* A mapped file is only read through the (read-only) host; the mapping is written. */
	c.open_rw = !c.device_ro && !(c.map && !f->probe);
	c.mount_ro = f->probe || host_ro || f->base || (f->last && f->read_only);
	c.no_replay = f->probe;
	/* As a distribution checks its root partition before mounting it: what will be
	 * written. The dry run only looks, so that a refusal leaves the host untouched. */
	c.check = !host_ro && !f->base && !(f->last && f->read_only);
	c.check_ro = c.check && f->probe;
	return c;
}

struct overlay_choice decide_overlay(const struct overlay_facts *f)
{
	struct overlay_choice c = {0};
	bool on_host = f->kind == PLAN_OVERLAY_FILE;
	bool persistent = on_host || f->kind == PLAN_OVERLAY_DEVICE;
	if (!persistent) {
		c.tmpfs_top = true; /* tmpfs, and a volatile session */
		return c;
	}
	c.layer_ro = f->readonly || (on_host && f->host_ro);
	/* A layer that cannot be written still shows what it holds, under a tmpfs. */
	c.tmpfs_top = c.layer_ro;
	c.reset = f->reset && !c.layer_ro;
	c.warn_host_ro = on_host && f->host_ro && !f->readonly;
	return c;
}

bool decide_toram_fits(unsigned long long size, unsigned long long available)
{
	return available >= TORAM_RESERVE && size <= available - TORAM_RESERVE;
}
