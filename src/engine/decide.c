/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/decide.h"

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
	return c;
}

struct layer_choice decide_layer(const struct layer_facts *f)
{
	struct layer_choice c = {0};
	/* Only the file on the host is mapped: its extents are on the host's device. */
	c.map = f->linear && f->on_host;
	c.device_ro = f->probe || f->host_ro;
	/* A mapped file is only read through the (read-only) host; the mapping is written. */
	c.open_rw = !c.device_ro && !(c.map && !f->probe);
	c.mount_ro = f->probe || f->host_ro || (f->last && f->read_only);
	c.no_replay = f->probe;
	/* As a distribution checks its root partition before mounting it: what will be
	 * written. The dry run only looks, so that a refusal leaves the host untouched. */
	c.check = !f->host_ro && !(f->last && f->read_only);
	c.check_ro = c.check && f->probe;
	return c;
}
