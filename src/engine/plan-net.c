/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network parameters of the plan, pure: ip= in the kernel's forms
 * (Documentation/admin-guide/nfs/nfsroot.rst, which klibc's ipconfig and dracut read too),
 * root=nbd:, root=nfs:, root=nfs4: in dracut's spellings, and loop=http(s)://.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>

#include "engine/plan.h"

static int why(char **ret_why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why(char **ret_why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0) {
		fputs("loopboot: out of memory\n", stderr);
		abort();
	}
	va_end(ap);
	*ret_why = s;
	return -EINVAL;
}

static char *dup_or_null(const char *s, size_t n)
{
	return n ? xstrndup(s, n) : NULL;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;
	return s && inet_pton(AF_INET, s, &a) == 1;
}

/* A host name as DNS and sethostname() take it: letters, digits, '-', '.', 1-63 bytes. */
static bool hostname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[0] == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
	return true;
}

/* "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff": the lower-case colon form, or NULL. */
static char *mac_normalize(const char *s)
{
	if (strlen(s) != 17)
		return NULL;
	char sep = s[2];
	if (sep != ':' && sep != '-')
		return NULL;
	char *out = xstrdup(s);
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != sep) {
				free(out);
				return NULL;
			}
			out[i] = ':';
		} else if (!isxdigit((unsigned char)s[i])) {
			free(out);
			return NULL;
		} else
			out[i] = (char)tolower((unsigned char)s[i]);
	}
	return out;
}

/* An interface name as the kernel takes it (dev_valid_name), or a MAC. */
int plan_ip_device_parse(const char *s, char **ret, char **ret_why)
{
	char *mac = mac_normalize(s);
	if (mac) {
		*ret = mac;
		return 0;
	}
	if (strlen(s) >= 16 || streq(s, ".") || streq(s, "..") || strchr(s, '/') ||
	    strpbrk(s, " \t:"))
		return why(ret_why,
		           "DEVICE %s is neither an interface name (at most 15 bytes) nor a MAC "
		           "(aa-bb-cc-dd-ee-ff) — write e.g. eth0, or leave it empty for every "
		           "interface",
		           s);
	*ret = xstrdup(s);
	return 0;
}

static bool method_is_dhcp(const char *m)
{
	static const char *const names[] = {"dhcp", "on", "any", "bootp", "both", "rarp"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (streq(m, names[i]))
			return true;
	return false;
}

static bool method_is_off(const char *m)
{
	return streq(m, "off") || streq(m, "none");
}

void plan_ip_free(struct plan_ip *ip)
{
	free_all(ip->raw, ip->client, ip->server, ip->gateway, ip->netmask, ip->hostname,
	         ip->device, ip->dns0, ip->dns1);
	*ip = (struct plan_ip){0};
}

/* The fields of the colon form: CLIENT:SERVER:GW:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1
 * (a tenth, NTP0, is accepted and not used). */
static int ip_parse_fields(const char *value, struct plan_ip *ip, char **ret_why)
{
	char *f[10] = {0};
	unsigned n = 0;
	int r = 0;
	for (const char *p = value;; n++) {
		const char *c = strchr(p, ':');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (n >= ARRAY_SIZE(f)) {
			r = why(ret_why, "more than 10 fields — the form is "
			                 "CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF"
			                 "[:DNS0[:DNS1]]");
			goto out;
		}
		f[n] = xstrndup(p, len);
		if (!c) {
			n++;
			break;
		}
		p = c + 1;
	}
	/* dracut's ip=DEVICE:METHOD. */
	if (n == 2 && !is_ipv4(f[0]) && *f[0] && (method_is_dhcp(f[1]) || method_is_off(f[1]))) {
		if (method_is_off(f[1]))
			ip->method = PLAN_IP_OFF;
		else {
			ip->method = PLAN_IP_DHCP;
			r = plan_ip_device_parse(f[0], &ip->device, ret_why);
		}
		goto out;
	}
	static const char *const names[] = {"CLIENT", "SERVER", "GATEWAY", "NETMASK", NULL,
	                                    NULL,     NULL,     "DNS0",    "DNS1",    "NTP0"};
	for (unsigned i = 0; i < n; i++)
		if (names[i] && *f[i] && !is_ipv4(f[i])) {
			r = why(ret_why,
			        "%s %s is not an IPv4 address — write four numbers from 0 to 255 "
			        "(a.b.c.d)",
			        names[i], f[i]);
			goto out;
		}
	const char *autoconf = n > 6 ? f[6] : "";
	if (*autoconf && !method_is_dhcp(autoconf) && !method_is_off(autoconf)) {
		r = why(ret_why,
		        "AUTOCONF %s is not one of off, none, dhcp, on, any, bootp, both%s — write "
		        "off for a static configuration or dhcp",
		        autoconf,
		        startswith(autoconf, "dhcp6") || streq(autoconf, "auto6")
		            ? " (IPv6 autoconfiguration is not supported: use dhcp)"
		            : "");
		goto out;
	}
	if (n > 4 && *f[4] && !hostname_ok(f[4])) {
		r = why(ret_why,
		        "HOSTNAME %s is not a host name — write at most 63 letters, digits, '-' "
		        "and '.'",
		        f[4]);
		goto out;
	}
	if (n > 5 && *f[5]) {
		r = plan_ip_device_parse(f[5], &ip->device, ret_why);
		if (r < 0)
			goto out;
	}
	bool have_client = *f[0];
	if (method_is_dhcp(autoconf) || (!*autoconf && !have_client))
		ip->method = PLAN_IP_DHCP;
	else if (!have_client) {
		r = why(ret_why,
		        "AUTOCONF %s (a static configuration) needs the CLIENT address — "
		        "write ip=CLIENT::GATEWAY:NETMASK::DEVICE:off, or ip=dhcp",
		        autoconf);
		goto out;
	} else
		ip->method = PLAN_IP_STATIC;
	char **slots[] = {&ip->client, &ip->server, &ip->gateway, &ip->netmask, &ip->hostname,
	                  NULL,        NULL,        &ip->dns0,    &ip->dns1};
	for (unsigned i = 0; i < n && i < ARRAY_SIZE(slots); i++)
		if (slots[i] && *f[i] && !(ip->method == PLAN_IP_DHCP && i < 4 && i != 1))
			*slots[i] = xstrdup(f[i]);
out:
	for (unsigned i = 0; i < ARRAY_SIZE(f); i++)
		free(f[i]);
	return r;
}

int plan_ip_parse(const char *value, struct plan_ip *ret, char **ret_why)
{
	plan_ip_free(ret);
	*ret_why = NULL;
	if (!value || !*value)
		return why(ret_why, "needs a value — write ip=dhcp, ip=off or "
		                    "ip=CLIENT::GATEWAY:NETMASK:HOSTNAME:DEVICE:off");
	struct plan_ip ip = {.raw = xstrdup(value)};
	int r = 0;
	if (method_is_off(value))
		ip.method = PLAN_IP_OFF;
	else if (method_is_dhcp(value))
		ip.method = PLAN_IP_DHCP;
	else if (startswith(value, "dhcp6") || streq(value, "auto6") || streq(value, "ibft"))
		r = why(ret_why,
		        "%s is not supported by loopboot's network client (IPv4 only) — "
		        "use ip=dhcp or a static IPv4 configuration",
		        value);
	else if (!strchr(value, ':'))
		r = why(ret_why, "is not one of off, none, dhcp, on, any, bootp, both — write "
		                 "ip=dhcp, ip=off, or the form "
		                 "CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF");
	else
		r = ip_parse_fields(value, &ip, ret_why);
	if (r < 0) {
		plan_ip_free(&ip);
		return r;
	}
	*ret = ip;
	return 0;
}

/* ---- the network host ------------------------------------------------------------------ */

void plan_net_free(struct plan_net *n)
{
	free_all(n->server, n->export, n->fstype, n->options, n->url, n->file, n->sha256);
	*n = (struct plan_net){0};
}

/* SERVER at *p: "[v6]" or up to the next ':' (or end/'/' when stop_at_slash). */
static int server_parse(const char **p, bool stop_at_slash, char **ret, char **ret_why)
{
	const char *s = *p;
	size_t n;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return why(ret_why, "an IPv6 address opened with '[' is not closed with "
			                    "']' — write [ADDRESS]");
		*ret = dup_or_null(s + 1, (size_t)(e - s - 1));
		*p = e + 1;
	} else {
		n = strcspn(s, stop_at_slash ? ":/?#" : ":");
		*ret = dup_or_null(s, n);
		*p = s + n;
	}
	if (!*ret)
		return why(ret_why, "names no server — write the server's address or name");
	for (const char *c = *ret; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr(".-_:", *c))
			return why(ret_why,
			           "the server %s is not a host name or address — write its name, "
			           "its IPv4 address, or its IPv6 address in []",
			           *ret);
	return 0;
}

static int port_parse(const char *s, size_t n, unsigned *ret, char **ret_why)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return why(ret_why,
		           "the port %.*s is not a number from 1 to 65535 — write the port the "
		           "server listens on",
		           (int)n, s);
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return why(ret_why,
			           "the port %.*s is not a number from 1 to 65535 — write the port "
			           "the server listens on",
			           (int)n, s);
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return why(ret_why,
		           "the port %.*s is not a number from 1 to 65535 — write the port the "
		           "server listens on",
		           (int)n, s);
	*ret = v;
	return 0;
}

static int options_check(const char *s, char **ret_why)
{
	if (s && strpbrk(s, " \t\"'"))
		return why(ret_why,
		           "the options %s contain a space or quote — write them comma-separated, "
		           "without blanks",
		           s);
	return 0;
}

/* nbd:SERVER:PORT[/EXPORT][:FSTYPE[:OPTIONS]]; PORT may be empty (10809). */
static int nbd_parse(const char *s, struct plan_net *n, char **ret_why)
{
	int r = server_parse(&s, false, &n->server, ret_why);
	if (r < 0)
		return r;
	n->port = PLAN_NBD_DEFAULT_PORT;
	if (*s == '\0')
		return 0;
	s++; /* ':' */
	size_t len = strcspn(s, "/:");
	if (len > 0) {
		r = port_parse(s, len, &n->port, ret_why);
		if (r < 0)
			return r;
	}
	s += len;
	if (*s == '/') {
		s++;
		len = strcspn(s, ":");
		n->export = dup_or_null(s, len);
		s += len;
	}
	if (*s == ':') {
		s++;
		len = strcspn(s, ":");
		n->fstype = dup_or_null(s, len);
		s += len;
		if (*s == ':')
			n->options = *++s ? xstrdup(s) : NULL;
	}
	if (n->export && strpbrk(n->export, " \t"))
		return why(ret_why,
		           "the export name %s contains a space — name the export without blanks "
		           "in nbd-server's configuration",
		           n->export);
	return options_check(n->options, ret_why);
}

/* nfs:SERVER:/PATH[:OPTIONS] */
static int nfs_parse(const char *s, struct plan_net *n, char **ret_why)
{
	int r = server_parse(&s, false, &n->server, ret_why);
	if (r < 0)
		return r;
	if (*s != ':' || s[1] != '/')
		return why(ret_why, "needs the exported directory after the server — write "
		                    "nfs:SERVER:/PATH[:OPTIONS]");
	s++;
	size_t len = strcspn(s, ":");
	n->export = xstrndup(s, len);
	s += len;
	if (*s == ':' && s[1])
		n->options = xstrdup(s + 1);
	return options_check(n->options, ret_why);
}

int plan_net_parse_root(const char *value, struct plan_net *ret, char **ret_why)
{
	static const struct {
		const char *prefix;
		enum plan_net_kind kind;
	} kinds[] = {{"nbd:", PLAN_NET_NBD}, {"nfs:", PLAN_NET_NFS}, {"nfs4:", PLAN_NET_NFS4}};
	*ret_why = NULL;
	for (size_t i = 0; value && i < ARRAY_SIZE(kinds); i++) {
		const char *rest = startswith(value, kinds[i].prefix);
		if (!rest)
			continue;
		struct plan_net n = {.kind = kinds[i].kind};
		int r = n.kind == PLAN_NET_NBD ? nbd_parse(rest, &n, ret_why)
		                               : nfs_parse(rest, &n, ret_why);
		if (r < 0) {
			plan_net_free(&n);
			return r;
		}
		plan_net_free(ret);
		*ret = n;
		return 1;
	}
	return 0;
}

int plan_net_parse_url(const char *value, struct plan_net *ret, char **ret_inner, char **ret_why)
{
	*ret_why = NULL;
	*ret_inner = NULL;
	bool https = false;
	const char *s = startswith(value, "http://");
	if (!s && (s = startswith(value, "https://")))
		https = true;
	if (!s)
		return 0;
	struct plan_net n = {.kind = PLAN_NET_HTTP, .https = https, .port = https ? 443 : 80};
	int r = server_parse(&s, true, &n.server, ret_why);
	if (r >= 0 && *s == ':') {
		size_t len = strcspn(++s, "/?#");
		r = port_parse(s, len, &n.port, ret_why);
		s += len;
	}
	if (r >= 0 && *s != '/')
		r = why(ret_why, "names no file on the server — write %s://SERVER[:PORT]/PATH",
		        https ? "https" : "http");
	const char *path = s, *inner = r >= 0 ? strstr(path, "//") : NULL;
	size_t len = inner ? (size_t)(inner - path) : strlen(path);
	if (r >= 0 && strpbrk(value, " \t\"'\\"))
		r = why(ret_why, "the URL contains a space, quote or backslash — write it "
		                 "%%-encoded");
	if (r >= 0) {
		/* The local name: the last component, without a query. */
		const char *end = path + len, *q = memchr(path, '?', len);
		if (q)
			end = q;
		const char *slash = end;
		while (slash > path && slash[-1] != '/')
			slash--;
		if (slash == end)
			r = why(ret_why, "the URL ends in '/' — name the image file itself");
		else if ((size_t)(end - slash) > 255 || memchr(slash, '#', (size_t)(end - slash)))
			r = why(ret_why, "the URL's file name is not usable as a file name — name "
			                 "the image file itself");
		else
			n.file = xstrndup(slash, (size_t)(end - slash));
		if (r >= 0 && (streq(n.file, ".") || streq(n.file, "..")))
			r = why(ret_why,
			        "the URL's file name %s is not a file — name the image file itself",
			        n.file);
	}
	if (r < 0) {
		plan_net_free(&n);
		return r;
	}
	n.url = xstrndup(value, (size_t)(path - value) + len);
	if (inner)
		*ret_inner = xstrdup(inner + 1);
	plan_net_free(ret);
	*ret = n;
	return 1;
}

char *plan_net_to_string(const struct plan_net *n)
{
	bool v6 = n->server && strchr(n->server, ':');
	const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
	switch (n->kind) {
	case PLAN_NET_NBD:
		return xasprintf("nbd:%s%s%s:%u%s%s", lb, n->server, rb, n->port,
		                 n->export ? "/" : "", strempty(n->export));
	case PLAN_NET_NFS:
	case PLAN_NET_NFS4:
		return xasprintf("%s:%s%s%s:%s", n->kind == PLAN_NET_NFS ? "nfs" : "nfs4", lb,
		                 n->server, rb, n->export);
	case PLAN_NET_HTTP:
		return xstrdup(n->url);
	case PLAN_NET_NONE:
		break;
	}
	return xstrdup("");
}

bool plan_sha256_valid(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}
