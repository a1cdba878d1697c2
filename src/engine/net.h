/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network under a network host (root=nbd:, root=nfs:, loop=http://): brought up with
 * ip= by klibc's ipconfig (the client initramfs-tools uses: it reads the kernel's own ip=
 * forms and writes /run/net-DEVICE.conf), or found already up (a framework's initramfs
 * configured it), and taken down last at shutdown.
 */
#pragma once

#include <stdbool.h>

#include "engine/modules.h"
#include "engine/plan.h"

/* What an interface was given: ipconfig's /run/net-DEVICE.conf, or read from the kernel. */
struct net_config {
	char *interface; /* eth0, ens3 */
	char *mac;       /* aa:bb:cc:dd:ee:ff; NULL when unknown */
	char *address;   /* 10.0.2.15 */
	char *netmask;   /* 255.255.255.0; NULL when unknown */
	char *gateway;   /* NULL: none */
	char *method;    /* "dhcp", "static", or "external" (configured before loopboot); also
	                  * "bootp" or "rarp" when ip= asked for those */
	char *hostname;  /* from DHCP or ip=; NULL: none given */
	char *domain;    /* DNS domain; NULL */
	char *dns0, *dns1;
	char *server; /* the DHCP server (or ip='s server field); NULL */
};

/* klibc's ipconfig as klibc-utils installs it (also its path in `loopboot initrd
 * --network`'s archive); otherwise ipconfig in the standard directories. */
#define NET_IPCONFIG_KLIBC "/usr/lib/klibc/bin/ipconfig"
/* Where ipconfig is: NET_IPCONFIG_KLIBC, else find_program(PROGRAM_SEARCH_STANDARD); NULL
 * when neither. Allocated. */
char *net_find_ipconfig(void);

/* Parses the text of an ipconfig /run/net-DEVICE.conf (DEVICE=, IPV4ADDR=, IPV4NETMASK=,
 * IPV4GATEWAY=, IPV4DNS0=, IPV4DNS1=, HOSTNAME=, DNSDOMAIN=, PROTO=, DHCPSERVER=, with
 * single-quoted values). Pure. 0, or -EINVAL when it names no DEVICE and address. */
int net_config_parse(const char *text, struct net_config *ret);
void net_config_free(struct net_config *c);

/*
 * Brings the network up as ip= says (PLAN_IP_DEFAULT: DHCP on every interface), loading
 * the network drivers first (coldplug), waiting up to timeout_s seconds for a link and a
 * lease. An interface that is up with an IPv4 address already (and ip= not static for
 * another one) is used as it is: *ret->method is then "external" and it is never taken
 * down by loopboot. Writes /etc/resolv.conf of the initramfs when DNS servers are known and
 * ipconfig configured the interface; for "external" only when there is no /etc/resolv.conf
 * at all (an existing one, or a link, is the system's or the framework's).
 * 0 with *ret filled, or -errno after one loopboot: line saying what to do.
 */
int net_up(const struct plan_ip *ip, struct modules *mods, unsigned timeout_s,
           struct net_config *ret);

/* Takes interface down again (link down, addresses flushed): the undo of net_up. Gone
 * already counts as done. 0 or -errno (warned). */
int net_down(const char *interface);

/* Writes resolv.conf text for c (nameserver lines, search DOMAIN) to path. 0 or -errno. */
int net_write_resolv(const struct net_config *c, const char *path);
