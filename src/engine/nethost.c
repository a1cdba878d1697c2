/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A host on the network, in place of host_wait(): the interface (ip=), then an NBD device
 * that the host is mounted from as from a disk; or the host mounted now, read-only: an
 * NFS export, or a tmpfs holding the image fetched over HTTP(S). Each piece is a record
 * below the host (e->base), so that teardown takes the network down last.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "engine/engine.h"
#include "engine/fetch.h"
#include "engine/mounts.h"
#include "engine/nbd.h"
#include "engine/net.h"

static char *dup_opt(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int nethost_network(struct engine *e)
{
	const struct plan *p = e->plan;
	if (p->ip.method == PLAN_IP_OFF) {
		log_debug("ip=%s: the network is not configured by loopboot", p->ip.raw);
		return 0;
	}
	struct net_config c = {0};
	int r = net_up(&p->ip, e->mods, p->timeout, &c);
	if (r < 0)
		return r;
	struct layer *l = stack_push(&e->stack, LAYER_NET);
	bool external = c.method && streq(c.method, "external");
	/* ip= names the machine when DHCP does not. */
	const char *hostname = c.hostname ? c.hostname : p->ip.hostname;
	l->net = (struct layer_net){.interface = dup_opt(c.interface),
	                            .mac = dup_opt(c.mac),
	                            .address = dup_opt(c.address),
	                            .netmask = dup_opt(c.netmask),
	                            .gateway = dup_opt(c.gateway),
	                            .method = dup_opt(c.method),
	                            .hostname = dup_opt(hostname),
	                            .server = dup_opt(c.server),
	                            .external = external};
	net_config_free(&c);
	e->base++;
	return 0;
}

/* The server's IPv4 or IPv6 address as text (the kernel's NFS client wants addr=). */
static int resolve(const char *server, char **ret)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int r = getaddrinfo(server, NULL, &hints, &ai);
	if (r != 0)
		return log_fail(EHOSTUNREACH, "resolving the server", server, gai_strerror(r),
		                "write its address instead of its name, or give DNS servers in "
		                "ip= (DNS0, DNS1) or by DHCP");
	char buf[INET6_ADDRSTRLEN];
	const void *a = ai->ai_family == AF_INET6
	                    ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
	                    : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	const char *s = inet_ntop(ai->ai_family, a, buf, sizeof(buf));
	freeaddrinfo(ai);
	if (!s)
		return log_fail(errno, "resolving the server", server, NULL, "give its address");
	*ret = xstrdup(s);
	return 0;
}

static struct layer_host *push_host(struct engine *e, const char *source, const char *type,
                                    const char *options)
{
	struct layer *l = stack_push(&e->stack, LAYER_HOST);
	l->host = (struct layer_host){.spec = xstrdup(e->host_spec),
	                              .source = xstrdup(source),
	                              .type = xstrdup(type),
	                              .driver = xstrdup(type),
	                              .target = xstrdup(HOST_STAGING),
	                              .options = dup_opt(options),
	                              .read_only = true};
	return &l->host;
}

/* root=nfs:, root=nfs4:: the export, read-only, mounted by the kernel's client. */
static int nethost_nfs(struct engine *e)
{
	const struct plan_net *n = &e->plan->net;
	bool v4 = n->kind == PLAN_NET_NFS4;
	_cleanup_free_ char *addr = NULL;
	int r = resolve(n->server, &addr);
	if (r < 0)
		return r;
	/* NFSv3 without a lock daemon in the initramfs: nolock (the image is read-only and
	 * opened by this client alone), as initramfs-tools' nfsmount does. */
	bool has_vers =
	    n->options && (strstr(n->options, "vers=") || strstr(n->options, "nfsvers="));
	/* vers=4: the kernel takes the highest minor version the server offers. NFSv4.0 calls
	 * back to the client's address; 4.1 and later use the connection. */
	const char *client = NULL;
	for (size_t i = 0; i < e->base; i++)
		if (e->stack.v[i].kind == LAYER_NET)
			client = e->stack.v[i].net.address;
	bool callback = v4 && client && !(n->options && strstr(n->options, "clientaddr="));
	_cleanup_free_ char *opts =
	    xasprintf("%s%saddr=%s%s%s%s%s", has_vers ? "" : (v4 ? "vers=4," : "vers=3,"),
	              v4 ? "" : "nolock,", addr, callback ? ",clientaddr=" : "",
	              callback ? client : "", n->options ? "," : "", strempty(n->options));
	_cleanup_free_ char *source = xasprintf("%s%s%s:%s", strchr(addr, ':') ? "[" : "", addr,
	                                        strchr(addr, ':') ? "]" : "", n->export);
	const char *type = v4 ? "nfs4" : "nfs";
	/* The kernel asks modprobe for the version's module, and the initramfs has none. */
	bool v4_opts =
	    n->options && (strstr(n->options, "vers=4") || strstr(n->options, "nfsvers=4"));
	(void)modules_load(e->mods, v4 || v4_opts ? "nfsv4" : "nfsv3");
	if (!modules_have_fs(e->mods, type) && !modules_have_fs(e->mods, "nfs"))
		return log_fail(ENODEV, "mounting the NFS export", e->host_spec,
		                "the kernel has no NFS client",
		                "rebuild the initramfs with loopboot initrd --network");
	r = mkdir_p(HOST_STAGING, 0700);
	if (r < 0)
		return log_fail(r, "creating", HOST_STAGING, NULL, "/run must be writable");
	long long deadline = now_ms() + (long long)e->plan->timeout * 1000;
	bool announced = false;
	while ((r = mount(source, HOST_STAGING, type, MS_RDONLY | MS_NODEV | MS_NOSUID, opts)) <
	       0) {
		r = -errno;
		/* A server that is not up yet refuses or times out; anything else is final. */
		bool retry = r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH ||
		             r == -ENETUNREACH || r == -EIO;
		if (!retry || now_ms() >= deadline)
			return log_fail(
			    r, "mounting the NFS export", source, opts,
			    r == -EACCES || r == -EPERM
			        ? "the server does not export it to this client: check "
			          "its exports (or ganesha's EXPORT block)"
			    : r == -ENOENT
			        ? "check the exported path"
			        : "check that the NFS server runs and the network (ip=); "
			          "loopboot.timeout= waits longer");
		if (!announced) {
			log_info("waiting up to %u s for the NFS server %s: %s", e->plan->timeout,
			         n->server, strerror(-r));
			announced = true;
		}
		sleep_ms(1000);
	}
	push_host(e, source, type, opts);
	log_info("NFS export %s mounted read-only (%s)", source, opts);
	return 0;
}

/* loop=http(s)://: a tmpfs host with the fetched image in it, read-only for the dry run. */
static int nethost_http(struct engine *e)
{
	const struct plan_net *n = &e->plan->net;
	int r = mkdir_p(HOST_STAGING, 0700);
	if (r < 0)
		return log_fail(r, "creating", HOST_STAGING, NULL, "/run must be writable");
	/* Room for the image, and TORAM_RESERVE left for the system that runs from it: a
	 * download too big fails (no space) instead of ending in the OOM killer. */
	unsigned long long avail = mem_available();
	_cleanup_free_ char *opts = avail > TORAM_RESERVE
	                                ? xasprintf("mode=0755,size=%llu", avail - TORAM_RESERVE)
	                                : xstrdup("mode=0755,size=50%");
	r = mount_fs("tmpfs", HOST_STAGING, "tmpfs", false, opts);
	if (r < 0)
		return log_fail(r, "mounting a tmpfs at", HOST_STAGING, NULL,
		                "check the kernel's tmpfs");
	struct layer_host *h = push_host(e, "tmpfs", "tmpfs", opts);
	h->read_only = false;
	if (n->sha256)
		(void)modules_load(e->mods, "algif_hash");
	_cleanup_free_ char *path = path_join(HOST_STAGING, n->file);
	r = fetch_url(n->url, path, n->sha256, e->plan->timeout);
	if (r < 0)
		return r;
	if (mount(NULL, HOST_STAGING, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return log_fail(errno, "remounting the image's tmpfs read-only", HOST_STAGING, NULL,
		                "check the kernel's tmpfs");
	engine_host(e)->read_only = true;
	return 0;
}

/* Whether the first 4 KiB of device read, past the page cache. */
static bool device_readable(const char *device)
{
	_cleanup_close_ int fd = open(device, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *buf = NULL;
	if (fd < 0 || posix_memalign(&buf, 4096, 4096) != 0)
		return fd >= 0;
	bool ok = pread(fd, buf, 4096, 0) == 4096;
	free(buf);
	return ok;
}

/*
 * The export, read: its type, and a trial mount (read-only, no journal replay) that rides
 * out a server that went away right after the connection: nbd-client (-persist)
 * reconnects, and I/O errors until then are waited out within loopboot.timeout=.
 */
static int nethost_nbd_settle(struct engine *e, const char *device)
{
	long long deadline = now_ms() + (long long)e->plan->timeout * 1000;
	bool announced = false;
	int r;
	for (;;) {
		device_info_free(&e->hostdev);
		r = device_read(device, &e->hostdev);
		if (r >= 0 && e->hostdev.type) {
			const char *type =
			    e->plan->rootfstype ? e->plan->rootfstype : e->hostdev.type;
			(void)modules_have_fs(e->mods, type);
			r = mkdir_p(PROBE_DIR "/nbd", 0700);
			if (r >= 0)
				r = mount_fs(device, PROBE_DIR "/nbd", type, true,
				             options_no_replay(type));
			if (r >= 0) {
				(void)umount2(PROBE_DIR "/nbd", 0);
				(void)rmdir(PROBE_DIR "/nbd");
			}
		}
		/* blkid finds no type when it cannot read: tell that from an empty export. */
		if (r >= 0 && !e->hostdev.type && !device_readable(device))
			r = -EIO;
		/* Anything but an I/O error is for the host's own mount to say, once. */
		if (r != -EIO && r != -ENXIO)
			return 0;
		if (now_ms() >= deadline)
			return log_fail(EIO, "reading the NBD export", e->host_spec,
			                "the server stopped answering and nbd-client did not "
			                "reconnect in time",
			                "check that nbd-server runs there; loopboot.timeout= waits "
			                "longer");
		if (!announced) {
			log_info("the NBD server %s stopped answering: waiting up to %u s for "
			         "nbd-client to reconnect",
			         e->host_spec, e->plan->timeout);
			announced = true;
		}
		sleep_ms(500);
	}
}

int nethost_wait(struct engine *e)
{
	const struct plan *p = e->plan;
	const struct plan_net *n = &p->net;
	/* The network drivers, and whatever else is there. */
	modules_coldplug(e->mods);
	int r = nethost_network(e);
	if (r < 0)
		return r;
	switch (n->kind) {
	case PLAN_NET_NBD: {
		struct nbd_connection c;
		r = nbd_connect(e->mods, n->server, n->port, n->export, p->timeout, &c);
		if (r < 0)
			return r;
		struct layer *l = stack_push(&e->stack, LAYER_NBD);
		l->nbd = (struct layer_nbd){.device = xstrdup(c.device),
		                            .server = xstrdup(n->server),
		                            .port = n->port,
		                            .export = dup_opt(n->export),
		                            .daemon_pid = c.pid,
		                            .read_only = true};
		e->base++;
		nbd_connection_done(&c);
		return nethost_nbd_settle(e, l->nbd.device);
	}
	case PLAN_NET_NFS:
	case PLAN_NET_NFS4:
		return nethost_nfs(e);
	case PLAN_NET_HTTP:
		return nethost_http(e);
	case PLAN_NET_NONE:
		break;
	}
	return -EINVAL;
}

bool nethost_premounted(const struct engine *e)
{
	const enum plan_net_kind k = e->plan->net.kind;
	return k == PLAN_NET_NFS || k == PLAN_NET_NFS4 || k == PLAN_NET_HTTP;
}

/* No loop=: the network host's own file system is the root (the overlay's base). */
int nethost_bind_root(struct engine *e, const char *target, enum mount_role role)
{
	const char *host = engine_host(e)->target;
	int r = mkdir_p(target, 0755);
	if (r >= 0 && mount(host, target, NULL, MS_BIND, NULL) < 0)
		r = -errno;
	if (r >= 0 && mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		r = -errno;
		(void)umount2(target, 0);
	}
	if (r < 0)
		return log_fail(r, "binding the host's file system as the root", target, NULL,
		                "report this as a bug");
	struct layer *l = stack_push(&e->stack, LAYER_MOUNT);
	l->mount = (struct layer_mount){.role = role,
	                                .source = xstrdup(e->host_spec),
	                                .target = xstrdup(target),
	                                .type = xstrdup("bind"),
	                                .read_only = true};
	return 0;
}

/* The writable layer of the overlay root, when there is one: its upperdir=. */
static char *root_upperdir(const struct engine *e)
{
	for (size_t i = e->stack.n; i-- > 0;) {
		const struct layer *l = &e->stack.v[i];
		if (l->kind != LAYER_MOUNT || l->mount.role != MOUNT_ROLE_ROOT || !l->mount.options)
			continue;
		const char *u = strstr(l->mount.options, "upperdir=");
		if (!u)
			return NULL;
		u += strlen("upperdir=");
		return xstrndup(u, strcspn(u, ","));
	}
	return NULL;
}

static int write_in_root(const char *root, const char *path, const char *text)
{
	_cleanup_free_ char *p = path_join(root, path);
	struct stat st;
	/* A symbolic link (machine-id -> /run/machine-id) is the image's own arrangement. */
	if (lstat(p, &st) == 0 && !S_ISREG(st.st_mode))
		return -EEXIST;
	return write_file_atomic(p, text, strlen(text), 0444);
}

void nethost_identity(struct engine *e, const char *root)
{
	const char *hostname = e->plan->ip.hostname;
	for (size_t i = 0; i < e->base; i++)
		if (e->stack.v[i].kind == LAYER_NET && e->stack.v[i].net.hostname)
			hostname = e->stack.v[i].net.hostname;
	if (e->hc.root_ro) {
		log_debug("the root is read-only: the machine keeps the image's identity");
		return;
	}
	if (hostname) {
		_cleanup_free_ char *text = xasprintf("%s\n", hostname);
		if (sethostname(hostname, strlen(hostname)) < 0)
			log_warn("setting the hostname %s: %m", hostname);
		int r = write_in_root(root, "/etc/hostname", text);
		if (r < 0 && r != -EEXIST)
			log_warn("writing /etc/hostname (%s) in the new root: %s", hostname,
			         strerror(-r));
	}
	/* The image's machine-id is every client's: give this one its own, unless its own
	 * writable layer (a persistent overlay) holds one from an earlier boot. */
	_cleanup_free_ char *id_path = path_join(root, "/etc/machine-id");
	if (access(id_path, F_OK) < 0)
		return; /* a system without one (busybox): nothing to collide */
	_cleanup_free_ char *upper = root_upperdir(e);
	_cleanup_free_ char *own = upper ? path_join(upper, "/etc/machine-id") : NULL;
	if (own && access(own, F_OK) == 0) {
		log_debug("machine-id: the overlay layer's own is kept");
		return;
	}
	uint8_t id[16];
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		log_warn("no random bytes for a machine-id: systemd will make one");
		(void)write_in_root(root, "/etc/machine-id", "");
		return;
	}
	/* As systemd's: 128 bits, version 4 and the variant set, 32 lower-case hex digits. */
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	char text[34];
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(text + 2 * i, 3, "%02x", id[i]);
	text[32] = '\n';
	text[33] = '\0';
	int r = write_in_root(root, "/etc/machine-id", text);
	if (r < 0 && r != -EEXIST)
		log_warn("writing a fresh /etc/machine-id in the new root: %s", strerror(-r));
	else if (r >= 0)
		log_info("machine identity: hostname %s, a fresh machine-id",
		         hostname ? hostname : "(the image's)");
}
