/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The network parameters of the plan: ip=, root=nbd:/nfs:/nfs4:, loop=http(s)://. */
#include "engine/plan.h"
#include "test-main.h"

static struct plan parse_ok(const char *cmdline)
{
	struct plan p;
	char *error = NULL;
	int r = plan_parse(cmdline, &p, &error);
	if (r < 0)
		fprintf(stderr, "# %s: %s\n", cmdline, error);
	CHECK(r == 0);
	free(error);
	return p;
}

TEST(nbd_file_on_export)
{
	struct plan p = parse_ok("root=nbd:10.0.2.100:10809/fleet loop=/images/root.img");
	CHECK(p.net.kind == PLAN_NET_NBD);
	CHECK_STREQ(p.net.server, "10.0.2.100");
	CHECK(p.net.port == 10809);
	CHECK_STREQ(p.net.export, "fleet");
	CHECK(p.has_loop && streq(p.loop.part[0], "/images/root.img"));
	/* Shared by every client: a tmpfs layer of its own unless one is asked for. */
	CHECK(p.overlay == PLAN_OVERLAY_TMPFS && p.overlay_auto);
	CHECK(p.ip.method == PLAN_IP_DEFAULT);
	_cleanup_free_ char *s = plan_net_to_string(&p.net);
	CHECK_STREQ(s, "nbd:10.0.2.100:10809/fleet");
	plan_free(&p);
}

TEST(nbd_export_is_root)
{
	struct plan p = parse_ok("root=nbd:srv::ext4:noatime ip=dhcp");
	CHECK(p.net.kind == PLAN_NET_NBD && p.net.port == PLAN_NBD_DEFAULT_PORT);
	CHECK(!p.net.export);
	CHECK(!p.has_loop);
	CHECK_STREQ(p.rootfstype, "ext4");
	CHECK_STREQ(p.rootflags, "noatime");
	CHECK(p.ip.method == PLAN_IP_DHCP);
	plan_free(&p);
	p = parse_ok("root=nbd:[fd00::1]:10810/x loopboot.overlay=LABEL=scratch:/lb");
	CHECK_STREQ(p.net.server, "fd00::1");
	CHECK(p.net.port == 10810);
	CHECK(p.overlay == PLAN_OVERLAY_DEVICE && !p.overlay_auto);
	_cleanup_free_ char *s = plan_net_to_string(&p.net);
	CHECK_STREQ(s, "nbd:[fd00::1]:10810/x");
	plan_free(&p);
}

TEST(nfs)
{
	struct plan p = parse_ok("root=nfs:server.lab:/srv/fleet:port=2049,proto=tcp loop=/r.img");
	CHECK(p.net.kind == PLAN_NET_NFS);
	CHECK_STREQ(p.net.server, "server.lab");
	CHECK_STREQ(p.net.export, "/srv/fleet");
	CHECK_STREQ(p.net.options, "port=2049,proto=tcp");
	CHECK(!p.rootflags); /* NFS options stay the export's */
	plan_free(&p);
	p = parse_ok("root=nfs4:10.0.0.1:/ rw");
	CHECK(p.net.kind == PLAN_NET_NFS4 && streq(p.net.export, "/") && !p.net.options);
	plan_free(&p);
}

TEST(http)
{
	struct plan p = parse_ok("loop=https://cdn.example/img/root.img?v=3 "
	                         "loopboot.sha256=ABCDEF0123456789abcdef0123456789ABCDEF0123456789"
	                         "abcdef0123456789 rw");
	CHECK(p.net.kind == PLAN_NET_HTTP && p.net.https && p.net.port == 443);
	CHECK_STREQ(p.net.file, "root.img");
	CHECK_STREQ(p.net.url, "https://cdn.example/img/root.img?v=3");
	CHECK_STREQ(p.net.sha256,
	            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	CHECK(p.has_loop && p.loop.n == 1 && streq(p.loop.part[0], "/root.img"));
	CHECK(p.overlay == PLAN_OVERLAY_NONE && !p.read_only);
	plan_free(&p);
	p = parse_ok("loop=http://10.0.2.100:8080/disk.img//boot/root.img");
	CHECK(p.net.port == 8080 && streq(p.net.url, "http://10.0.2.100:8080/disk.img"));
	CHECK(p.loop.n == 2 && streq(p.loop.part[0], "/disk.img") &&
	      streq(p.loop.part[1], "/boot/root.img"));
	plan_free(&p);
}

TEST(ip_forms)
{
	struct plan p = parse_ok("root=nbd:s ip=10.0.0.5::10.0.0.1:255.255.255.0:pc7:eth1:off:"
	                         "10.0.0.53");
	CHECK(p.ip.method == PLAN_IP_STATIC);
	CHECK_STREQ(p.ip.client, "10.0.0.5");
	CHECK_STREQ(p.ip.gateway, "10.0.0.1");
	CHECK_STREQ(p.ip.netmask, "255.255.255.0");
	CHECK_STREQ(p.ip.hostname, "pc7");
	CHECK_STREQ(p.ip.device, "eth1");
	CHECK_STREQ(p.ip.dns0, "10.0.0.53");
	CHECK(!p.ip.dns1);
	plan_free(&p);
	p = parse_ok("root=nbd:s ip=::::pc8:52-54-00-AB-cd-01:dhcp");
	CHECK(p.ip.method == PLAN_IP_DHCP);
	CHECK_STREQ(p.ip.device, "52:54:00:ab:cd:01");
	CHECK_STREQ(p.ip.hostname, "pc8");
	plan_free(&p);
	p = parse_ok("root=nbd:s ip=ens3:dhcp");
	CHECK(p.ip.method == PLAN_IP_DHCP && streq(p.ip.device, "ens3"));
	plan_free(&p);
	p = parse_ok("root=nbd:s ip=none");
	CHECK(p.ip.method == PLAN_IP_OFF);
	plan_free(&p);
	/* The interface the PXE firmware booted from, when ip= names none. */
	p = parse_ok("root=nbd:s BOOTIF=01-52-54-00-12-34-56");
	CHECK_STREQ(p.ip.device, "52:54:00:12:34:56");
	plan_free(&p);
	p = parse_ok("root=nbd:s ip=dhcp BOOTIF=junk");
	CHECK(!p.ip.device);
	plan_free(&p);
}

static const struct refusal {
	const char *name;
	const char *cmdline;
	const char *says;
} network_refusals[] = {
    {"nbd_port", "root=nbd:s:99999/x", "1 to 65535"},
    {"nbd_no_server", "root=nbd::10809", "names no server"},
    {"nfs_no_path", "root=nfs:server", "nfs:SERVER:/PATH"},
    {"nfs_relative", "root=nfs:server:srv", "nfs:SERVER:/PATH"},
    {"url_no_file", "loop=http://server", "names no file"},
    {"url_dir", "loop=http://server/images/", "ends in '/'"},
    {"url_space", "loop=http://s/a\\ b.img", "space"},
    {"http_and_root", "root=/dev/vda loop=http://s/r.img", "remove root="},
    {"http_and_nbd", "root=nbd:s loop=http://s/r.img", "keep one"},
    {"sha_not_http",
     "root=/dev/vda loop=/r.img loopboot.sha256=" /* 64 zeros */
     "0000000000000000000000000000000000000000000000000000000000000000",
     "loop=http"},
    {"sha_short", "loop=http://s/r.img loopboot.sha256=abc", "64 hex digits"},
    /* A refusal after loopboot.sha256= and BOOTIF= frees them (ASan's leak check). */
    {"sha_then_bad_ip",
     "loop=http://s/r.img BOOTIF=01-52-54-00-12-34-56 loopboot.sha256=" /* 64 zeros */
     "0000000000000000000000000000000000000000000000000000000000000000 ip=maybe",
     "not one of"},
    {"toram_nbd", "root=nbd:s loop=/r.img loopboot.toram", "http(s)://"},
    {"ip_bad_addr", "root=nbd:s ip=10.0.0.300::::::off", "not an IPv4"},
    {"ip_static_no_client", "root=nbd:s ip=::10.0.0.1:255.0.0.0:::off", "CLIENT address"},
    {"ip_v6", "root=nbd:s ip=dhcp6", "IPv4 only"},
    {"ip_word", "root=nbd:s ip=maybe", "not one of"},
    {"ip_autoconf", "root=nbd:s ip=10.0.0.5::::::auto6", "IPv6"},
    {"ip_hostname", "root=nbd:s ip=::::bad_name::dhcp", "not a host name"},
    {"ip_device", "root=nbd:s ip=:::::a-very-long-interface-name:dhcp", "interface name"},
};

static void check_network_refusal(const void *row)
{
	const struct refusal *c = row;
	struct plan p;
	char *error = NULL;
	CHECK(plan_parse(c->cmdline, &p, &error) == -EINVAL);
	CHECK(error && startswith(error, "loopboot: bad kernel parameter: "));
	CHECK(error && strstr(error, c->says));
	if (!error || !strstr(error, c->says))
		fprintf(stderr, "# %s: %s\n", c->cmdline, error ? error : "(accepted)");
	free(error);
}
TEST_TABLE(check_network_refusal, network_refusals);

TEST(linear_ignored)
{
	struct plan p = parse_ok("root=nfs:s:/e loop=/r.img loopboot.mode=linear");
	CHECK(p.mode == PLAN_MODE_LOOP);
	CHECK(p.warnings.n == 1 && strstr(p.warnings.v[0], "on the network"));
	plan_free(&p);
}

TEST(sha256_valid)
{
	CHECK(
	    plan_sha256_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	CHECK(
	    !plan_sha256_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
	CHECK(
	    !plan_sha256_valid("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	CHECK(!plan_sha256_valid(NULL));
}
