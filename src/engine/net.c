/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network under a network host. klibc's ipconfig does the protocol work (DHCP, BOOTP,
 * the static ip= forms) exactly as initramfs-tools uses it; this file finds the interface,
 * brings its link up and waits for a carrier first (ipconfig gives up on a link that has
 * none yet when it starts), runs ipconfig with what ip= says, and reads back the file it
 * writes, /run/net-DEVICE.conf. An interface that is configured already is taken as it
 * is. Taking it down again is the kernel's interfaces only: SIOCSIFFLAGS and rtnetlink.
 */
#include "engine/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>

#include "basic/log.h"
#include "basic/process.h"
#include "basic/strbuf.h"
#include "basic/util.h"

#define SYS_CLASS_NET "/sys/class/net"
#define NET_RUN_DIR   "/run"
#define RESOLV_CONF   "/etc/resolv.conf"
#define POLL_MS       250
#define MIN_LEASE_S   2 /* ipconfig gets at least this long, whatever the wait took */

/* ---- the file ipconfig writes -------------------------------------------------------- */

/*
 * One value as a POSIX shell reads it: ipconfig writes 'text' and closes, escapes and
 * reopens around ' and ! ('\''). Stops at unquoted white space. *p moves past it.
 */
static char *shell_value(const char **p)
{
	struct strbuf b = {0};
	strbuf_append(&b, "");
	const char *s = *p;
	while (*s && *s != '\n' && *s != ' ' && *s != '\t') {
		if (*s == '\'') {
			const char *end = strchr(s + 1, '\'');
			if (!end)
				end = s + strlen(s);
			strbuf_put(&b, s + 1, (size_t)(end - s - 1));
			s = *end ? end + 1 : end;
		} else if (*s == '"') {
			s++;
			while (*s && *s != '"') {
				if (*s == '\\' && s[1])
					s++;
				strbuf_putc(&b, *s);
				s++;
			}
			if (*s)
				s++;
		} else if (*s == '\\' && s[1] && s[1] != '\n') {
			strbuf_putc(&b, s[1]);
			s += 2;
		} else {
			strbuf_putc(&b, *s);
			s++;
		}
	}
	*p = s;
	return strbuf_steal(&b);
}

/* An address field: NULL for "", "0.0.0.0" (ipconfig's "none") and anything else that is
 * not an IPv4 address. */
static char *address_or_null(char *v)
{
	struct in_addr a;
	if (!v || !*v || inet_pton(AF_INET, v, &a) != 1 || a.s_addr == 0) {
		free(v);
		return NULL;
	}
	return v;
}

static char *text_or_null(char *v)
{
	if (v && !*v) {
		free(v);
		return NULL;
	}
	return v;
}

static void set_field(char **field, char *value)
{
	free(*field);
	*field = value;
}

static char *method_of_proto(const char *proto)
{
	if (!proto || streq(proto, "none") || !*proto)
		return xstrdup("static");
	return xstrdup(proto); /* dhcp, bootp, rarp */
}

/* What ipconfig's file says, before it becomes a net_config. */
struct netconf_file {
	struct net_config c;
	char *proto, *dhcpserver, *rootserver;
};

/* The keys loopboot keeps, each into its field (address: an IPv4 address, where 0.0.0.0
 * means none); the others (IPV4BROADCAST, ROOTPATH, UPTIME, ...) are skipped. */
static const struct {
	const char *key;
	size_t offset;
	bool address;
} netconf_keys[] = {
#define F(field) offsetof(struct netconf_file, field)
    {"DEVICE", F(c.interface), false},   {"IPV4ADDR", F(c.address), true},
    {"IPV4NETMASK", F(c.netmask), true}, {"IPV4GATEWAY", F(c.gateway), true},
    {"IPV4DNS0", F(c.dns0), true},       {"IPV4DNS1", F(c.dns1), true},
    {"HOSTNAME", F(c.hostname), false},  {"DNSDOMAIN", F(c.domain), false},
    {"PROTO", F(proto), false},          {"DHCPSERVER", F(dhcpserver), true},
    {"ROOTSERVER", F(rootserver), true},
#undef F
};

static void netconf_set(struct netconf_file *f, const char *key, char *v)
{
	for (size_t i = 0; i < ARRAY_SIZE(netconf_keys); i++)
		if (streq(key, netconf_keys[i].key)) {
			char **field = (char **)((char *)f + netconf_keys[i].offset);
			set_field(field,
			          netconf_keys[i].address ? address_or_null(v) : text_or_null(v));
			return;
		}
	free(v);
}

int net_config_parse(const char *text, struct net_config *ret)
{
	struct netconf_file f = {0};
	for (const char *s = text; s && *s;) {
		s += strspn(s, " \t\n");
		if (*s == '#') {
			s += strcspn(s, "\n");
			continue;
		}
		const char *rest = startswith(s, "export ");
		if (rest)
			s = rest + strspn(rest, " \t");
		size_t n = strcspn(s, "=\n \t");
		if (s[n] != '=') {
			s += strcspn(s, "\n");
			continue;
		}
		_cleanup_free_ char *key = xstrndup(s, n);
		s += n + 1;
		char *v = shell_value(&s);
		s += strcspn(s, "\n");
		netconf_set(&f, key, v);
	}
	struct net_config c = f.c;
	_cleanup_free_ char *proto = f.proto, *dhcpserver = f.dhcpserver,
	                    *rootserver = f.rootserver;
	if (!c.interface || !c.address) {
		net_config_free(&c);
		return -EINVAL;
	}
	/* A second route (IPV4ROUTE0GATEWAY, classless routes) leaves no IPV4GATEWAY: the
	 * interface still works on its own subnet. */
	c.method = method_of_proto(proto);
	if (dhcpserver) {
		c.server = dhcpserver;
		dhcpserver = NULL;
	} else if (rootserver) {
		c.server = rootserver;
		rootserver = NULL;
	}
	*ret = c;
	return 0;
}

void net_config_free(struct net_config *c)
{
	free_all(c->interface, c->mac, c->address, c->netmask, c->gateway, c->method, c->hostname,
	         c->domain, c->dns0, c->dns1, c->server);
	*c = (struct net_config){0};
}

int net_write_resolv(const struct net_config *c, const char *path)
{
	struct strbuf b = {0};
	strbuf_printf(&b, "# written by loopboot from the configuration of %s\n",
	              c->interface ? c->interface : "the network");
	if (c->dns0)
		strbuf_printf(&b, "nameserver %s\n", c->dns0);
	if (c->dns1 && !streq_ptr(c->dns1, c->dns0))
		strbuf_printf(&b, "nameserver %s\n", c->dns1);
	if (c->domain)
		strbuf_printf(&b, "search %s\n", c->domain);
	_cleanup_free_ char *text = strbuf_steal(&b);
	return write_file_atomic(path, text, strlen(text), 0644);
}

char *net_find_ipconfig(void)
{
	if (access(NET_IPCONFIG_KLIBC, X_OK) == 0)
		return xstrdup(NET_IPCONFIG_KLIBC);
	return find_program("ipconfig", PROGRAM_SEARCH_STANDARD);
}

/* ---- interfaces ---------------------------------------------------------------------- */

static char *sysfs_attr(const char *iface, const char *attr)
{
	_cleanup_free_ char *path = xasprintf(SYS_CLASS_NET "/%s/%s", iface, attr);
	char *text = NULL;
	if (read_file(path, &text, NULL) < 0)
		return NULL;
	strip_trailing(text);
	return text;
}

static unsigned long sysfs_flags(const char *iface)
{
	_cleanup_free_ char *text = sysfs_attr(iface, "flags");
	return text ? strtoul(text, NULL, 0) : 0;
}

static bool has_carrier(const char *iface)
{
	_cleanup_free_ char *text = sysfs_attr(iface, "carrier"); /* EINVAL while down */
	return text && streq(text, "1");
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The interfaces ipconfig would try (not loopback; broadcast or point-to-point), sorted. */
static void list_interfaces(struct strv *ret)
{
	_cleanup_(closedirp) DIR *d = opendir(SYS_CLASS_NET);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		unsigned long flags = sysfs_flags(de->d_name);
		if (flags & IFF_LOOPBACK || !(flags & (IFF_BROADCAST | IFF_POINTOPOINT)))
			continue;
		strv_push(ret, xstrdup(de->d_name));
	}
	if (ret->n > 1)
		qsort(ret->v, ret->n, sizeof(char *), compare_names);
}

/* "aa:bb:cc:dd:ee:ff" (or with '-'): the MAC in lower case with ':', else NULL. */
static char *normalize_mac(const char *s)
{
	if (strlen(s) != 17)
		return NULL;
	char out[18];
	for (size_t i = 0; i < 17; i++) {
		char ch = s[i];
		if (i % 3 == 2) {
			if (ch != ':' && ch != '-')
				return NULL;
			out[i] = ':';
		} else {
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			      (ch >= 'A' && ch <= 'F')))
				return NULL;
			out[i] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
		}
	}
	out[17] = '\0';
	return xstrdup(out);
}

/* The interface that device (a name or a MAC) names now, or NULL. */
static char *resolve_device(const char *device, const struct strv *ifaces)
{
	_cleanup_free_ char *mac = normalize_mac(device);
	for (size_t i = 0; i < ifaces->n; i++) {
		if (!mac && streq(ifaces->v[i], device))
			return xstrdup(device);
		if (mac) {
			_cleanup_free_ char *addr = sysfs_attr(ifaces->v[i], "address");
			if (addr && strcaseeq(addr, mac))
				return xstrdup(ifaces->v[i]);
		}
	}
	if (!mac) {
		/* Not in the list (no broadcast flag, say) but there: ipconfig may still do. */
		_cleanup_free_ char *path = path_join(SYS_CLASS_NET, device);
		if (access(path, F_OK) == 0)
			return xstrdup(device);
	}
	return NULL;
}

static int set_link_flags(const char *iface, bool up)
{
	if (strlen(iface) >= IFNAMSIZ)
		return -EINVAL;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ifreq ifr = {0};
	memcpy(ifr.ifr_name, iface, strlen(iface) + 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	bool is_up = ifr.ifr_flags & IFF_UP;
	if (is_up == up)
		return 0;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

/* The IPv4 address and netmask of an interface that is up, by name (NULL: the first one
 * that is not loopback). 1 with the strings set, 0 when there is none. */
static int find_configured(const char *want, char **ret_iface, char **ret_addr, char **ret_mask)
{
	struct ifaddrs *list = NULL;
	if (getifaddrs(&list) < 0)
		return -errno;
	int found = 0;
	for (struct ifaddrs *i = list; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    i->ifa_flags & IFF_LOOPBACK || !(i->ifa_flags & IFF_UP))
			continue;
		if (want && !streq(i->ifa_name, want))
			continue;
		char a[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN] = "";
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof(a));
		if (i->ifa_netmask)
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, m,
			          sizeof(m));
		*ret_iface = xstrdup(i->ifa_name);
		*ret_addr = xstrdup(a);
		*ret_mask = *m ? xstrdup(m) : NULL;
		found = 1;
	}
	freeifaddrs(list);
	return found;
}

/* The default route's gateway through iface, from the kernel's /proc/net/route. */
static char *default_gateway(const char *iface)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	if (!f)
		return NULL;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char name[IFNAMSIZ + 1];
		unsigned long dest, gw, flags;
		if (sscanf(line, "%16s %lx %lx %lx", name, &dest, &gw, &flags) != 4)
			continue;
		if (!streq(name, iface) || dest != 0 || gw == 0)
			continue;
		/* The kernel prints the address's bytes as one number: in network order again
		 * when read back into s_addr. */
		struct in_addr a = {.s_addr = (uint32_t)gw};
		char text[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, text, sizeof(text));
		return xstrdup(text);
	}
	return NULL;
}

static unsigned prefix_length(const char *netmask)
{
	struct in_addr a;
	if (!netmask || inet_pton(AF_INET, netmask, &a) != 1)
		return 0;
	return (unsigned)__builtin_popcount(a.s_addr);
}

static void fill_missing(char **field, char **from)
{
	if (!*field && *from) {
		*field = *from;
		*from = NULL;
	}
}

/* The kernel's host name when something set it: a framework's DHCP client (dracut's
 * dhclient-script writes DHCP's name there), not the kernel's "(none)" nor systemd's
 * fallback "localhost". */
static char *kernel_hostname(void)
{
	struct utsname u;
	if (uname(&u) < 0 || !*u.nodename || streq(u.nodename, "(none)") ||
	    streq(u.nodename, "localhost") || streq(u.nodename, "localhost.localdomain"))
		return NULL;
	return xstrdup(u.nodename);
}

/* An interface found configured: what the kernel says, with ipconfig's file when a
 * framework ran it (initramfs-tools' configure_networking does); without one, the host
 * name the framework gave the kernel. */
static void fill_external(struct net_config *c, char *iface, char *addr, char *mask)
{
	*c = (struct net_config){.interface = iface, .address = addr, .netmask = mask};
	c->method = xstrdup("external");
	c->gateway = default_gateway(iface);
	c->mac = sysfs_attr(iface, "address");
	_cleanup_free_ char *path = xasprintf(NET_RUN_DIR "/net-%s.conf", iface);
	_cleanup_free_ char *text = NULL;
	struct net_config f;
	if (read_file(path, &text, NULL) >= 0 && net_config_parse(text, &f) >= 0) {
		fill_missing(&c->gateway, &f.gateway);
		fill_missing(&c->hostname, &f.hostname);
		fill_missing(&c->domain, &f.domain);
		fill_missing(&c->dns0, &f.dns0);
		fill_missing(&c->dns1, &f.dns1);
		fill_missing(&c->server, &f.server);
		net_config_free(&f);
	}
	if (!c->hostname)
		c->hostname = kernel_hostname();
}

static void log_up(const struct net_config *c)
{
	struct strbuf b = {0};
	strbuf_printf(&b, "network: %s %s", c->interface, c->address);
	unsigned prefix = prefix_length(c->netmask);
	if (prefix)
		strbuf_printf(&b, "/%u", prefix);
	if (streq(c->method, "external"))
		strbuf_append(&b, ", configured before loopboot");
	else if (streq(c->method, "static"))
		strbuf_append(&b, " static");
	else
		strbuf_printf(&b, " via %s", c->method);
	const char *sep = " (";
	if (c->gateway) {
		strbuf_printf(&b, "%sgateway %s", sep, c->gateway);
		sep = ", ";
	}
	if (c->hostname) {
		strbuf_printf(&b, "%shostname %s", sep, c->hostname);
		sep = ", ";
	}
	if (!streq(sep, " ("))
		strbuf_append(&b, ")");
	_cleanup_free_ char *line = strbuf_steal(&b);
	log_info("%s", line);
}

static char *join_words(const struct strv *v, const char *sep)
{
	struct strbuf b = {0};
	strbuf_append(&b, "");
	for (size_t i = 0; i < v->n; i++)
		strbuf_printf(&b, "%s%s", i ? sep : "", v->v[i]);
	return strbuf_steal(&b);
}

/* ---- bringing it up ------------------------------------------------------------------ */

static const char *const proto_words[] = {"dhcp", "bootp", "rarp", "both", "on", "any"};

/* What ipconfig is told to do: argv after "-t SECS". dev: the interface, NULL for all. */
static void ipconfig_request(const struct plan_ip *ip, const char *dev, struct strv *args)
{
	if (ip->method == PLAN_IP_STATIC) {
		/* Rebuilt from the fields: a MAC as DEVICE becomes the interface's name. */
		struct strbuf b = {0};
		strbuf_printf(&b, "ip=%s:%s:%s:%s:%s:%s:off", strempty(ip->client),
		              strempty(ip->server), strempty(ip->gateway), strempty(ip->netmask),
		              strempty(ip->hostname), strempty(dev));
		if (ip->dns0 || ip->dns1)
			strbuf_printf(&b, ":%s", strempty(ip->dns0));
		if (ip->dns1)
			strbuf_printf(&b, ":%s", ip->dns1);
		strv_push(args, xstrdup("-d"));
		strv_push(args, strbuf_steal(&b));
		return;
	}
	/* The protocol: ip= itself (ip=bootp), or its AUTOCONF field (ip=:::::eth0:bootp). */
	const char *word = ip->raw;
	for (unsigned colons = 0; word && colons < 6; colons++) {
		word = strchr(word, ':');
		word = word ? word + 1 : NULL;
	}
	if (ip->raw && !strchr(ip->raw, ':'))
		word = ip->raw;
	_cleanup_free_ char *field = word ? xstrndup(word, strcspn(word, ":")) : NULL;
	const char *proto = "dhcp";
	for (size_t i = 0; field && i < ARRAY_SIZE(proto_words); i++)
		if (streq(field, proto_words[i]))
			proto = proto_words[i];
	if (ip->hostname) {
		/* The host name goes into the request (ip=::::NAME:DEV:dhcp). */
		strv_push(args, xstrdup("-d"));
		strv_push(args, xasprintf("ip=::::%s:%s:%s", ip->hostname, strempty(dev), proto));
		return;
	}
	strv_push(args, xstrdup("-c"));
	strv_push(args, xstrdup(proto));
	strv_push(args, xstrdup("-d"));
	strv_push(args, xstrdup(dev ? dev : "all"));
}

/* The file ipconfig wrote: dev's, or for "all" the first interface's that it wrote now. */
static int read_result(const char *dev, const struct strv *ifaces, time_t since,
                       struct net_config *ret)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < (dev ? 1 : ifaces->n); i++) {
			const char *name = dev ? dev : ifaces->v[i];
			_cleanup_free_ char *path = xasprintf(NET_RUN_DIR "/net-%s.conf", name);
			struct stat st;
			if (stat(path, &st) < 0 || (pass == 0 && st.st_mtime + 1 < since))
				continue;
			_cleanup_free_ char *text = NULL;
			if (read_file(path, &text, NULL) < 0 || net_config_parse(text, ret) < 0)
				continue;
			return 0;
		}
	return -ENOENT;
}

static void print_program_lines(const char *prog, const char *out)
{
	_cleanup_free_ char *copy = xstrdup(strempty(out));
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "  %s: %s\n", prog, l);
	fflush(stderr);
}

static int run_ipconfig(const struct plan_ip *ip, const char *dev, const struct strv *ifaces,
                        long long deadline, unsigned timeout_s, struct net_config *ret)
{
	_cleanup_free_ char *ipconfig = net_find_ipconfig();
	if (!ipconfig)
		return log_fail(
		    ENOENT, "network", "ipconfig",
		    "not found at " NET_IPCONFIG_KLIBC " nor in the standard directories",
		    "rebuild the initramfs with loopboot initrd --network (install "
		    "klibc-utils first), or configure the network before loopboot runs");
	long long left_ms = deadline - now_ms();
	unsigned secs = left_ms > 0 ? (unsigned)((left_ms + 999) / 1000) : 0;
	if (secs < MIN_LEASE_S)
		secs = MIN_LEASE_S;
	struct strv args = {0};
	strv_push(&args, xstrdup(ipconfig));
	strv_push(&args, xstrdup("-t"));
	strv_push(&args, xasprintf("%u", secs));
	ipconfig_request(ip, dev, &args);
	strv_push(&args, NULL);
	args.n--;
	if (log_debug_enabled()) {
		_cleanup_free_ char *shown = join_words(&args, " ");
		log_debug("network: running %s", shown);
	}

	time_t since = time(NULL);
	const struct process_options o = {
	    .stdio = {STDIO_NULL},
	    .timeout_ms = (secs + 10) * 1000,
	};
	_cleanup_free_ char *out = NULL;
	struct process_result res;
	int r = process_run_capture(ipconfig, args.v, &o, &out, &res);
	strv_free(&args);
	if (log_debug_enabled())
		print_program_lines("ipconfig", out);

	_cleanup_free_ char *all = join_words(ifaces, ", ");
	_cleanup_free_ char *every = xasprintf("every interface (%s)", all);
	const char *which = dev ? dev : every;
	if (r < 0) {
		if (!log_debug_enabled())
			print_program_lines("ipconfig", out);
		if (ip->method == PLAN_IP_STATIC) {
			_cleanup_free_ char *how = process_result_message(&res);
			return log_fail(
			    r, "network: ipconfig", strempty(ip->raw), how,
			    "check ip= (CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:off,"
			    " see its message above)");
		}
		if (res.end == PROCESS_NOT_STARTED) {
			_cleanup_free_ char *how = process_result_message(&res);
			return log_fail(r, "network: ipconfig", ipconfig, how,
			                "rebuild the initramfs with loopboot initrd --network");
		}
		_cleanup_free_ char *why = xasprintf("no DHCP lease in %u s", timeout_s);
		return log_fail(
		    ETIMEDOUT, "network", which, why,
		    "check the DHCP server (is it up, does it answer on this network?), "
		    "or give a static ip=CLIENT::GATEWAY:NETMASK::%s:off",
		    dev         ? dev
		    : ifaces->n ? ifaces->v[0]
		                : "DEVICE");
	}
	r = read_result(dev, ifaces, since, ret);
	if (r < 0) {
		print_program_lines("ipconfig", out);
		return log_fail(r, "network", which,
		                "ipconfig succeeded but wrote no " NET_RUN_DIR "/net-DEVICE.conf",
		                "check that " NET_RUN_DIR " is writable, or give ip= with the "
		                "interface");
	}
	if (!ret->hostname && ip->hostname)
		ret->hostname = xstrdup(ip->hostname);
	free(ret->mac);
	ret->mac = sysfs_attr(ret->interface, "address");
	return 0;
}

int net_up(const struct plan_ip *ip, struct modules *mods, unsigned timeout_s,
           struct net_config *ret)
{
	*ret = (struct net_config){0};
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	(void)modules_coldplug(mods);
	(void)modules_load(mods, "af_packet"); /* ipconfig's packet sockets; often built in */

	/* Configured already (a framework's initramfs, or an earlier step)? */
	struct strv ifaces = {0};
	list_interfaces(&ifaces);
	const char *device = ip->device && *ip->device ? ip->device : NULL;
	_cleanup_free_ char *dev = device ? resolve_device(device, &ifaces) : NULL;
	char *c_iface = NULL, *c_addr = NULL, *c_mask = NULL;
	int found = 0;
	if (dev)
		found = find_configured(dev, &c_iface, &c_addr, &c_mask);
	if (found <= 0 && !(ip->method == PLAN_IP_STATIC && device))
		found = find_configured(NULL, &c_iface, &c_addr, &c_mask);
	if (found > 0) {
		strv_free(&ifaces);
		fill_external(ret, c_iface, c_addr, c_mask);
		/* The framework's DNS, when it left no resolv.conf (initramfs-tools' ipconfig
		 * writes none); an existing one, or a link, is the system's and stays. */
		struct stat st;
		if ((ret->dns0 || ret->dns1) && lstat(RESOLV_CONF, &st) < 0 && errno == ENOENT)
			(void)net_write_resolv(ret, RESOLV_CONF);
		log_up(ret);
		return 0;
	}
	if (ip->method == PLAN_IP_OFF) {
		strv_free(&ifaces);
		_cleanup_free_ char *word = xasprintf("ip=%s", strempty(ip->raw));
		return log_fail(ENETDOWN, "network", word,
		                "ip= says not to configure it, and no interface is up with an "
		                "IPv4 address",
		                "remove ip= (DHCP is the default), or give ip=dhcp or a static "
		                "ip=CLIENT::GATEWAY:NETMASK::DEVICE:off");
	}

	/* Wait for the interface (or any) to appear: the driver loads, a USB NIC settles. */
	while (device ? !dev : ifaces.n == 0) {
		if (now_ms() >= deadline) {
			_cleanup_free_ char *names = join_words(&ifaces, ", ");
			_cleanup_free_ char *why =
			    device ? xasprintf("no such interface after %u s (there %s: %s)",
			                       timeout_s, ifaces.n == 1 ? "is" : "are",
			                       ifaces.n ? names : "none but lo")
			           : xasprintf("none appeared in %u s (only lo)", timeout_s);
			strv_free(&ifaces);
			return log_fail(ENODEV, "network", device ? device : "no interface", why,
			                "rebuild the initramfs with loopboot initrd --network (it "
			                "adds the network drivers), or check the cable/VM NIC%s",
			                device ? ", or name an interface that is there in ip="
			                       : "");
		}
		sleep_ms(POLL_MS);
		(void)modules_coldplug(mods);
		strv_free(&ifaces);
		list_interfaces(&ifaces);
		if (device)
			dev = resolve_device(device, &ifaces);
	}

	/* The link up and a carrier, before ipconfig: it does not wait for one. */
	int r = 0;
	for (size_t i = 0; i < ifaces.n; i++) {
		if (dev && !streq(ifaces.v[i], dev))
			continue;
		int q = set_link_flags(ifaces.v[i], true);
		if (q < 0 && dev)
			r = q;
		else if (q < 0)
			log_debug("network: %s: cannot set it up: %s", ifaces.v[i], strerror(-q));
	}
	if (r < 0) {
		strv_free(&ifaces);
		return log_fail(r, "network: setting the link up", dev, NULL,
		                "check the interface (ip link show %s)", dev);
	}
	_cleanup_free_ char *linked = NULL;
	for (;;) {
		for (size_t i = 0; i < ifaces.n && !linked; i++)
			if ((!dev || streq(ifaces.v[i], dev)) && has_carrier(ifaces.v[i]))
				linked = xstrdup(ifaces.v[i]);
		if (linked || now_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
	if (!linked) {
		_cleanup_free_ char *names = join_words(&ifaces, ", ");
		_cleanup_free_ char *why = xasprintf("no link (no carrier) after %u s", timeout_s);
		strv_free(&ifaces);
		return log_fail(ENOLINK, "network", dev ? dev : names, why,
		                "check the cable/VM NIC and the switch port%s",
		                dev ? "" : ", or name the interface that has one in ip=");
	}
	/* Static without a device: the first interface with a link, as the kernel picks one;
	 * ipconfig would put the address on every interface. */
	const char *target = dev ? dev : ip->method == PLAN_IP_STATIC ? linked : NULL;
	r = run_ipconfig(ip, target, &ifaces, deadline, timeout_s, ret);
	strv_free(&ifaces);
	if (r < 0)
		return r;

	if (ret->dns0 || ret->dns1) {
		int q = net_write_resolv(ret, RESOLV_CONF);
		if (q < 0)
			log_warn("network: writing %s: %s — names will not resolve; use addresses "
			         "in root= and loop=",
			         RESOLV_CONF, strerror(-q));
	}
	log_up(ret);
	return 0;
}

/* ---- taking it down ------------------------------------------------------------------ */

struct nl_request {
	struct nlmsghdr h;
	struct ifaddrmsg a;
	char attrs[64];
};

static void nl_put_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Reads the answers to seq until NLMSG_DONE (dump) or the ACK: 0 or the kernel's -errno.
 * on_addr (optional) sees every RTM_NEWADDR. */
static int nl_receive(int fd, uint32_t seq, void (*on_addr)(struct nlmsghdr *, void *), void *data)
{
	char buf[16384];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		size_t len = (size_t)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				return e->error; /* 0: the ACK */
			}
			if (h->nlmsg_type == RTM_NEWADDR && on_addr)
				on_addr(h, data);
		}
	}
}

struct addr_list {
	int ifindex;
	struct nl_request v[16];
	size_t n;
};

/* Keeps the IPv4 addresses of the interface, as the delete requests that remove them. */
static void keep_addr(struct nlmsghdr *h, void *data)
{
	struct addr_list *l = data;
	const struct ifaddrmsg *a = NLMSG_DATA(h);
	if (a->ifa_family != AF_INET || (int)a->ifa_index != l->ifindex || l->n == 16)
		return;
	struct nl_request *q = &l->v[l->n];
	*q = (struct nl_request){
	    .h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
	          .nlmsg_type = RTM_DELADDR,
	          .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK},
	    .a = *a,
	};
	bool any = false;
	int alen = (int)IFA_PAYLOAD(h);
	for (struct rtattr *rta = IFA_RTA(a); RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen))
		if ((rta->rta_type == IFA_LOCAL || rta->rta_type == IFA_ADDRESS) &&
		    RTA_PAYLOAD(rta) == 4) {
			nl_put_attr(&q->h, rta->rta_type, RTA_DATA(rta), 4);
			any = true;
		}
	if (any)
		l->n++;
}

static int flush_ipv4(int ifindex)
{
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	uint32_t seq = (uint32_t)time(NULL);
	struct nl_request dump = {
	    .h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
	          .nlmsg_type = RTM_GETADDR,
	          .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
	          .nlmsg_seq = seq},
	    .a = {.ifa_family = AF_INET},
	};
	if (send(fd, &dump, dump.h.nlmsg_len, 0) < 0)
		return -errno;
	struct addr_list *l = xcalloc(1, sizeof(*l));
	l->ifindex = ifindex;
	int r = nl_receive(fd, seq, keep_addr, l);
	for (size_t i = 0; r >= 0 && i < l->n; i++) {
		l->v[i].h.nlmsg_seq = ++seq;
		if (send(fd, &l->v[i], l->v[i].h.nlmsg_len, 0) < 0) {
			r = -errno;
			break;
		}
		r = nl_receive(fd, seq, NULL, NULL);
		if (r == -EADDRNOTAVAIL)
			r = 0; /* gone with an earlier one (a secondary of a primary) */
	}
	free(l);
	return r;
}

int net_down(const char *interface)
{
	if (!interface || !*interface)
		return 0;
	unsigned idx = if_nametoindex(interface);
	if (idx == 0)
		return 0; /* gone already: done */
	int r = flush_ipv4((int)idx);
	if (r == -ENODEV)
		return 0;
	if (r < 0) {
		log_warn("network: %s: removing its addresses: %s — it stays configured until "
		         "power-off",
		         interface, strerror(-r));
		return r;
	}
	r = set_link_flags(interface, false);
	if (r == -ENODEV)
		return 0;
	if (r < 0) {
		log_warn("network: %s: setting the link down: %s — it stays up until power-off",
		         interface, strerror(-r));
		return r;
	}
	log_debug("network: %s down, its addresses removed", interface);
	return 0;
}
