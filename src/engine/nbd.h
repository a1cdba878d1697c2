/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Network block devices: nbd-client (Debian's nbd-client package) connects a free
 * /dev/nbdN to an export. As /init it stays as its daemon (ioctl mode): a root storage
 * daemon (argv[0] '@', -systemd-mark) that survives switch_root and systemd's final kill,
 * reconnecting when the server restarts (-persist). Under a systemd initrd (not pid 1,
 * /run/systemd/system present) systemd stops every process at its switch to the root,
 * which would interrupt that daemon's NBD_DO_IT: there the kernel keeps the connection
 * (netlink mode), nbd-client exits once connected and pid is 0.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "engine/modules.h"

struct nbd_connection {
	char *device; /* /dev/nbd0 */
	pid_t pid;    /* nbd-client's daemon; 0 in netlink mode */
};

/* Connects a free NBD device to server:port's export (NULL: the default export),
 * read-only, waiting up to timeout_s for the server. 0 with *ret filled, or -errno after
 * one loopboot: line. */
int nbd_connect(struct modules *mods, const char *server, unsigned long port, const char *export,
                unsigned timeout_s, struct nbd_connection *ret);
void nbd_connection_done(struct nbd_connection *c);

/* Disconnects device (NBD_DISCONNECT, as nbd-client -d does) and waits for its daemon.
 * Gone already counts as done. 0 or -errno (warned). */
int nbd_disconnect(const char *device, pid_t daemon_pid);
