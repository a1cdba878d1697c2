/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/nbd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/process.h"
#include "basic/util.h"

#define NBD_MAX_DEVICES    16    /* the nbd module's default nbds_max */
#define NBD_DAEMON_EXIT_MS 10000 /* how long nbd-client gets to exit after a disconnect */

/* The pid of the task serving /sys/block/NAME (the daemon in NBD_DO_IT), or 0. */
static pid_t nbd_served_by(const char *name)
{
	_cleanup_free_ char *path = xasprintf("/sys/block/%s/pid", name), *text = NULL;
	if (read_file(path, &text, NULL) < 0)
		return 0;
	long v = strtol(text, NULL, 10);
	return v > 0 ? (pid_t)v : 0;
}

static unsigned long long nbd_size(const char *name)
{
	_cleanup_free_ char *path = xasprintf("/sys/block/%s/size", name), *text = NULL;
	if (read_file(path, &text, NULL) < 0)
		return 0;
	return strtoull(text, NULL, 10);
}

/* The first NBD device with nothing connected, or NULL. */
static char *nbd_free_device(void)
{
	for (unsigned i = 0; i < NBD_MAX_DEVICES; i++) {
		_cleanup_free_ char *name = xasprintf("nbd%u", i);
		_cleanup_free_ char *sys = xasprintf("/sys/block/%s", name);
		if (access(sys, F_OK) < 0)
			break;
		if (nbd_served_by(name) == 0 && nbd_size(name) == 0)
			return xasprintf("/dev/%s", name);
	}
	return NULL;
}

void nbd_connection_done(struct nbd_connection *c)
{
	free(c->device);
	*c = (struct nbd_connection){0};
}

/* One attempt: nbd-client negotiates, hands the socket to the kernel and (ioctl
 * interface) forks its daemon; the first process exits 0 once the device is connected. */
static int nbd_client_run(const char *prog, const char *server, unsigned long port,
                          const char *export, const char *device, bool netlink, char **ret_said)
{
	_cleanup_free_ char *port_s = xasprintf("%lu", port);
	/* -systemd-mark makes the daemon's argv[0] start with '@'; -persist reconnects when
	 * the server goes away; -nonetlink: the ioctl interface, which -persist needs;
	 * -readonly: the export is shared by every client. (nbd-client 3.24 knows -m only in
	 * its long form.) With netlink, nbd-client configures the device and exits: no
	 * daemon, no reconnection. */
	struct args a = {0};
	args_add(&a, "nbd-client", server, port_s, device, "-readonly", NULL);
	if (!netlink)
		args_add(&a, "-persist", "-systemd-mark", "-nonetlink", NULL);
	if (export)
		args_add(&a, "-name", export, NULL);
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	/* Its messages (stdout and stderr) into the pipe: the one line we print names them. */
	const struct process_options o = {
	    .stdio = {STDIO_NULL, STDIO_FD(pipefd[1]), STDIO_FD(pipefd[1])},
	    .timeout_ms = 30000,
	};
	pid_t pid;
	struct process_result res;
	int r = process_spawn(prog, a.v, &o, &pid, &res);
	close(pipefd[1]);
	char buf[512];
	size_t len = 0;
	if (r >= 0) {
		/* The daemon keeps the write end open: read only what the first process says
		 * until it exits, without blocking on the daemon. */
		(void)fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		r = process_wait(pid, o.timeout_ms, &res);
		ssize_t k;
		while (len < sizeof(buf) - 1 &&
		       (k = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)k;
	}
	close(pipefd[0]);
	buf[len] = '\0';
	char *last = NULL;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (*strip_trailing(line) && !streq(line, "Exiting."))
			last = line; /* its reason, not its "Exiting." */
	if (r < 0) {
		_cleanup_free_ char *how = process_result_message(&res);
		*ret_said = last ? xasprintf("%s (%s)", last, how) : xstrdup(how);
	}
	return r;
}

int nbd_connect(struct modules *mods, const char *server, unsigned long port, const char *export,
                unsigned timeout_s, struct nbd_connection *ret)
{
	*ret = (struct nbd_connection){0};
	_cleanup_free_ char *where =
	    xasprintf("%s:%lu%s%s", server, port, export ? "/" : "", strempty(export));
	int r = modules_load(mods, "nbd");
	if (r < 0 && r != -ENOENT)
		log_debug("loading nbd: %s", strerror(-r));
	_cleanup_free_ char *prog = find_program("nbd-client", PROGRAM_SEARCH_STANDARD);
	if (!prog)
		return log_fail(ENOENT, "connecting the NBD export", where, "nbd-client is missing",
		                "install nbd-client and rebuild the initramfs with loopboot initrd "
		                "--network");
	/* A systemd initrd (dracut's) switches to the root itself, and systemd then sends
	 * every process but PID 1 SIGSTOP and SIGCONT around its kill loop, '@' daemons too.
	 * With the ioctl interface any signal ends the kernel's NBD_DO_IT wait and it shuts
	 * the socket down: the root gets I/O errors. There the kernel keeps the connection
	 * itself (netlink); elsewhere (our own PID 1, initramfs-tools) the daemon reconnects. */
	bool netlink = getpid() != 1 && access("/run/systemd/system", F_OK) == 0;
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	bool announced = false;
	_cleanup_free_ char *said = NULL;
	for (;;) {
		_cleanup_free_ char *device = NULL;
		for (int i = 0; i < 50 && !(device = nbd_free_device()); i++)
			sleep_ms(100); /* the module's devices appear under /sys */
		if (!device)
			return log_fail(
			    ENODEV, "connecting the NBD export", where,
			    "no free NBD device (/dev/nbd0...)",
			    "the kernel needs the nbd module: rebuild the initramfs with "
			    "loopboot initrd --network");
		free(said);
		said = NULL;
		r = nbd_client_run(prog, server, port, export, device, netlink, &said);
		if (r >= 0) {
			const char *name = device + strlen("/dev/");
			for (int i = 0; i < 100 && nbd_size(name) == 0; i++)
				sleep_ms(50);
			/* With netlink, the pid the kernel shows is nbd-client's, which has exited.
			 */
			ret->pid = netlink ? 0 : nbd_served_by(name);
			ret->device = device;
			device = NULL;
			if (netlink)
				log_info(
				    "NBD export %s connected as %s (netlink: the kernel holds the "
				    "connection, read-only)",
				    where, ret->device);
			else
				log_info(
				    "NBD export %s connected as %s (nbd-client pid %d, read-only)",
				    where, ret->device, (int)ret->pid);
			return 0;
		}
		if (now_ms() >= deadline)
			break;
		if (!announced) {
			log_info("waiting up to %u s for the NBD server %s: %s", timeout_s, where,
			         said);
			announced = true;
		}
		sleep_ms(1000);
	}
	return log_fail(ECONNREFUSED, "connecting the NBD export", where, said,
	                "check that nbd-server runs there and exports that name, and the "
	                "network (ip=); loopboot.timeout= waits longer");
}

int nbd_disconnect(const char *device, pid_t daemon_pid)
{
	if (!device)
		return 0;
	_cleanup_close_ int fd = open(device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENXIO)
			return 0;
		log_warn("disconnecting %s: %m", device);
		return -errno;
	}
	/* As nbd-client -d: the kernel tells the server, and NBD_DO_IT returns in the daemon,
	 * which then exits (a disconnect asked for is not a reason to reconnect). */
	if (ioctl(fd, NBD_DISCONNECT) < 0 && errno != EINVAL)
		log_debug("NBD_DISCONNECT on %s: %m", device);
	(void)ioctl(fd, NBD_CLEAR_SOCK);
	if (daemon_pid <= 0)
		return 0;
	long long deadline = now_ms() + NBD_DAEMON_EXIT_MS;
	while (kill(daemon_pid, 0) == 0 || errno != ESRCH) {
		/* A child of ours (PID 1 spawned it) needs reaping to go. */
		(void)waitpid(daemon_pid, NULL, WNOHANG);
		if (now_ms() >= deadline) {
			log_warn("nbd-client (pid %d) for %s did not exit after the disconnect",
			         (int)daemon_pid, device);
			return -ETIMEDOUT;
		}
		sleep_ms(20);
	}
	return 0;
}
