/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ipconfig's /run/net-DEVICE.conf, as klibc-utils 2.0 writes it, and resolv.conf. */
#include <errno.h>
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

TEST(netconf_dhcp)
{
	struct net_config c;
	CHECK(net_config_parse(dhcp_conf, &c) == 0);
	CHECK_STREQ(c.interface, "veth0");
	CHECK_STREQ(c.address, "192.0.2.108");
	CHECK_STREQ(c.netmask, "255.255.255.0");
	CHECK_STREQ(c.gateway, "192.0.2.1");
	CHECK_STREQ(c.method, "dhcp");
	CHECK_STREQ(c.hostname, "client1");
	CHECK_STREQ(c.domain, "example.test");
	CHECK_STREQ(c.dns0, "192.0.2.53");
	CHECK_STREQ(c.dns1, "192.0.2.54");
	CHECK_STREQ(c.server, "192.0.2.1");
	CHECK(c.mac == NULL);
	net_config_free(&c);
}

TEST(netconf_static_zero_is_none)
{
	struct net_config c;
	CHECK(net_config_parse(static_conf, &c) == 0);
	CHECK_STREQ(c.interface, "veth0");
	CHECK_STREQ(c.address, "192.0.2.8");
	CHECK_STREQ(c.method, "static");
	CHECK(c.gateway == NULL);
	CHECK(c.dns0 == NULL && c.dns1 == NULL);
	CHECK(c.hostname == NULL && c.domain == NULL && c.server == NULL);
	net_config_free(&c);
}

TEST(netconf_static_full)
{
	/* ip=192.0.2.7:192.0.2.9:192.0.2.1:255.255.255.0:static1:veth0:off:192.0.2.53 */
	const char *text = "DEVICE='eth0'\nPROTO='none'\nIPV4ADDR='192.0.2.7'\n"
	                   "IPV4NETMASK='255.255.255.0'\nIPV4GATEWAY='192.0.2.1'\n"
	                   "IPV4DNS0='192.0.2.53'\nIPV4DNS1='0.0.0.0'\nHOSTNAME='static1'\n"
	                   "ROOTSERVER='192.0.2.9'\n";
	struct net_config c;
	CHECK(net_config_parse(text, &c) == 0);
	CHECK_STREQ(c.interface, "eth0");
	CHECK_STREQ(c.gateway, "192.0.2.1");
	CHECK_STREQ(c.hostname, "static1");
	CHECK_STREQ(c.dns0, "192.0.2.53");
	CHECK(c.dns1 == NULL);
	CHECK_STREQ(c.server, "192.0.2.9");
	net_config_free(&c);
}

TEST(netconf_quoting)
{
	/* ipconfig closes, escapes and reopens around ' and !; a DHCPSERVER= wins over
	 * ROOTSERVER=; unknown keys and comments are skipped. */
	const char *text = "# a comment\nDEVICE='enp0s3'\nIPV4ADDR='10.0.2.15'\n"
	                   "HOSTNAME='it'\\''s'\\!''\nDNSDOMAIN=lab.test\nFOO='bar'\n"
	                   "ROOTSERVER='10.0.2.4'\nDHCPSERVER='10.0.2.2'\n"
	                   "IPV4ROUTE0SUBNET='0.0.0.0/0'\n";
	struct net_config c;
	CHECK(net_config_parse(text, &c) == 0);
	CHECK_STREQ(c.interface, "enp0s3");
	CHECK_STREQ(c.hostname, "it's!");
	CHECK_STREQ(c.domain, "lab.test");
	CHECK_STREQ(c.server, "10.0.2.2");
	CHECK(c.gateway == NULL);
	CHECK(c.netmask == NULL);
	CHECK_STREQ(c.method, "static"); /* no PROTO= */
	net_config_free(&c);
}

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
