/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ipconfig's /run/net-DEVICE.conf, as klibc-utils 2.0 writes it, and resolv.conf. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/util.h"
#include "engine/net.h"
#include "test-main.h"

/* A DHCP lease (busybox udhcpd on a veth pair, ipconfig -c dhcp -d veth0). */
static const char dhcp_conf[] = "DEVICE='veth0'\n"
                                "PROTO='dhcp'\n"
                                "IPV4ADDR='192.0.2.108'\n"
                                "IPV4BROADCAST='192.0.2.255'\n"
                                "IPV4NETMASK='255.255.255.0'\n"
                                "IPV4GATEWAY='192.0.2.1'\n"
                                "IPV4DNS0='192.0.2.53'\n"
                                "IPV4DNS1='192.0.2.54'\n"
                                "HOSTNAME='client1'\n"
                                "DNSDOMAIN='example.test'\n"
                                "NISDOMAIN=''\n"
                                "ROOTSERVER='192.0.2.1'\n"
                                "ROOTPATH=''\n"
                                "filename=''\n"
                                "UPTIME='38415'\n"
                                "DHCPLEASETIME='864000'\n"
                                "DOMAINSEARCH=''\n";

/* ip=192.0.2.8:::::veth0:off: nothing but the address (the netmask guessed). */
static const char static_conf[] = "DEVICE='veth0'\n"
                                  "PROTO='none'\n"
                                  "IPV4ADDR='192.0.2.8'\n"
                                  "IPV4BROADCAST='192.0.2.255'\n"
                                  "IPV4NETMASK='255.255.255.0'\n"
                                  "IPV4GATEWAY='0.0.0.0'\n"
                                  "IPV4DNS0='0.0.0.0'\n"
                                  "IPV4DNS1='0.0.0.0'\n"
                                  "HOSTNAME=''\n"
                                  "DNSDOMAIN=''\n"
                                  "NISDOMAIN=''\n"
                                  "ROOTSERVER='0.0.0.0'\n"
                                  "ROOTPATH=''\n"
                                  "filename=''\n"
                                  "UPTIME='38415'\n"
                                  "DHCPLEASETIME='0'\n"
                                  "DOMAINSEARCH=''\n";

/* The fields of struct net_config, in the order a netconf_case expects them. */
#define FIELD(f)                                                                                   \
	{                                                                                          \
		.name = #f, .at = offsetof(struct net_config, f)                                   \
	}
static const struct {
	const char *name;
	size_t at;
} fields[] = {FIELD(interface), FIELD(mac),    FIELD(address),  FIELD(netmask),
              FIELD(gateway),   FIELD(method), FIELD(hostname), FIELD(domain),
              FIELD(dns0),      FIELD(dns1),   FIELD(server)};

/* A configuration file and every field net_config_parse() must make of it, in the order of
 * fields[] (NULL: none). */
struct netconf_case {
	const char *name, *text;
	const char *want[ARRAY_SIZE(fields)];
};

static const struct netconf_case netconf_cases[] = {
    /* interface, mac, address, netmask, gateway, method, hostname, domain, dns0, dns1,
     * server */
    {"netconf_dhcp",
     dhcp_conf,
     {"veth0", NULL, "192.0.2.108", "255.255.255.0", "192.0.2.1", "dhcp", "client1", "example.test",
      "192.0.2.53", "192.0.2.54", "192.0.2.1"}},
    /* 0.0.0.0 is none: no gateway, DNS server or server. */
    {"netconf_static_zero_is_none",
     static_conf,
     {"veth0", NULL, "192.0.2.8", "255.255.255.0", NULL, "static", NULL, NULL, NULL, NULL, NULL}},
    /* ip=192.0.2.7:192.0.2.9:192.0.2.1:255.255.255.0:static1:veth0:off:192.0.2.53 */
    {"netconf_static_full",
     "DEVICE='eth0'\nPROTO='none'\nIPV4ADDR='192.0.2.7'\n"
     "IPV4NETMASK='255.255.255.0'\nIPV4GATEWAY='192.0.2.1'\n"
     "IPV4DNS0='192.0.2.53'\nIPV4DNS1='0.0.0.0'\nHOSTNAME='static1'\n"
     "ROOTSERVER='192.0.2.9'\n",
     {"eth0", NULL, "192.0.2.7", "255.255.255.0", "192.0.2.1", "static", "static1", NULL,
      "192.0.2.53", NULL, "192.0.2.9"}},
    /* ipconfig closes, escapes and reopens around ' and !; a DHCPSERVER= wins over
     * ROOTSERVER=; unknown keys and comments are skipped; no PROTO= is static. */
    {"netconf_quoting",
     "# a comment\nDEVICE='enp0s3'\nIPV4ADDR='10.0.2.15'\n"
     "HOSTNAME='it'\\''s'\\!''\nDNSDOMAIN=lab.test\nFOO='bar'\n"
     "ROOTSERVER='10.0.2.4'\nDHCPSERVER='10.0.2.2'\n"
     "IPV4ROUTE0SUBNET='0.0.0.0/0'\n",
     {"enp0s3", NULL, "10.0.2.15", NULL, NULL, "static", "it's!", "lab.test", NULL, NULL,
      "10.0.2.2"}},
};

static void check_netconf(const void *row)
{
	const struct netconf_case *w = row;
	struct net_config c = {0};
	CHECK(net_config_parse(w->text, &c) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *got = *(char *const *)((const char *)&c + fields[i].at);
		if (!streq_ptr(got, w->want[i])) {
			printf("# %s: .%s == \"%s\", expected \"%s\"\n", w->name, fields[i].name,
			       got ? got : "(null)", w->want[i] ? w->want[i] : "(null)");
			test_failed_checks++;
		}
	}
	net_config_free(&c);
}
TEST_TABLE(check_netconf, netconf_cases);

TEST(netconf_incomplete)
{
	struct net_config c = {0};
	CHECK(net_config_parse("IPV4ADDR='10.0.2.15'\n", &c) == -EINVAL);
	CHECK(c.interface == NULL && c.address == NULL);
	CHECK(net_config_parse("DEVICE='eth0'\nIPV4ADDR='0.0.0.0'\n", &c) == -EINVAL);
	CHECK(net_config_parse("DEVICE=''\nIPV4ADDR='10.0.2.15'\n", &c) == -EINVAL);
	CHECK(net_config_parse("DEVICE='eth0'\nIPV4ADDR='not an address'\n", &c) == -EINVAL);
	CHECK(net_config_parse("", &c) == -EINVAL);
}

TEST(netconf_resolv)
{
	char dir[] = "/tmp/test-netconf.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	_cleanup_free_ char *path = path_join(dir, "resolv.conf");
	struct net_config c;
	CHECK(net_config_parse(dhcp_conf, &c) == 0);
	CHECK(net_write_resolv(&c, path) == 0);
	_cleanup_free_ char *text = NULL;
	CHECK(read_file(path, &text, NULL) == 0);
	CHECK_STREQ(text, "# written by loopboot from the configuration of veth0\n"
	                  "nameserver 192.0.2.53\n"
	                  "nameserver 192.0.2.54\n"
	                  "search example.test\n");
	net_config_free(&c);

	/* One server, no domain; the file is replaced. */
	CHECK(net_config_parse("DEVICE='eth1'\nIPV4ADDR='10.0.2.15'\nIPV4DNS0='10.0.2.3'\n", &c) ==
	      0);
	CHECK(net_write_resolv(&c, path) == 0);
	free(text);
	text = NULL;
	CHECK(read_file(path, &text, NULL) == 0);
	CHECK_STREQ(text, "# written by loopboot from the configuration of eth1\n"
	                  "nameserver 10.0.2.3\n");
	net_config_free(&c);

	/* A directory that is not there: -errno. */
	_cleanup_free_ char *missing = path_join(dir, "no/resolv.conf");
	struct net_config d = {.interface = (char *)"eth0", .dns0 = (char *)"10.0.2.3"};
	CHECK(net_write_resolv(&d, missing) < 0);
	unlink(path);
	rmdir(dir);
}

TEST(netconf_down_missing_interface)
{
	/* An interface that is not there counts as done (no root needed). */
	CHECK(net_down("lb-no-such0") == 0);
	CHECK(net_down(NULL) == 0);
}
