/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop=http(s)://: curl (the program) downloads into a hidden name beside the target, in
 * the background, while we print a progress line every few seconds from the file's size
 * and the Content-Length of the last response (curl writes every response's headers to
 * our memfd as they come, so redirects need no second request). curl's exit status,
 * its own message and the HTTP status become one loopboot: line. The digest is the
 * kernel's (AF_ALG), fed with splice() so that the file's pages go in without a copy.
 */
#include "engine/fetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_alg.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/process.h"
#include "basic/util.h"

#define KIB         1024.0
#define MIB         (1024.0 * 1024.0)
#define GIB         (1024.0 * 1024.0 * 1024.0)
#define PROGRESS_MS 3000 /* one progress line at most this often */
#define POLL_MS     500  /* without a pidfd: how often we look whether curl has ended */
#define STALL_S     "30" /* curl gives up (status 28) after this long without a byte */
#define RETRIES     5    /* curl's tries after the first, 1 s apart (refused, timed out, 5xx) */
#define CA_BUNDLE   "/etc/ssl/certs/ca-certificates.crt"

/* ---- SHA-256 through AF_ALG ------------------------------------------------------------ */

void sha256_hex(const uint8_t digest[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[64] = '\0';
}

/* Writes all n bytes to the hash socket, more to come. */
static int alg_send(int op, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(op, buf, n, MSG_MORE);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The rest of fd through read() and send(): for what splice() cannot read from. */
static int alg_feed_copy(int op, int fd)
{
	enum { CHUNK = 1 << 20 };
	_cleanup_free_ char *buf = xmalloc(CHUNK);
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		int r = alg_send(op, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

/* Moves n bytes from the pipe into the hash socket, more to come. */
static int alg_drain_pipe(int op, int pipe_out, size_t n)
{
	while (n > 0) {
		ssize_t m = splice(pipe_out, NULL, op, NULL, n, SPLICE_F_MORE | SPLICE_F_MOVE);
		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0)
			return m < 0 ? -errno : -EIO;
		n -= (size_t)m;
	}
	return 0;
}

/*
 * The rest of fd through a pipe: file → pipe → socket, each splice() with SPLICE_F_MORE
 * so that the kernel keeps one hash open across all of them (sendfile() would end it at
 * the end of every call). 1 when fd cannot be spliced from and nothing was read.
 */
static int alg_feed_splice(int op, int fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int pin = p[0], pout = p[1];
	(void)fcntl(pout, F_SETPIPE_SZ, 1 << 20); /* fewer calls; the default works too */
	bool any = false;
	for (;;) {
		ssize_t n = splice(fd, NULL, pout, NULL, 1 << 20, SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && !any && (errno == EINVAL || errno == ENOSYS))
			return 1;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		any = true;
		int r = alg_drain_pipe(op, pin, (size_t)n);
		if (r < 0)
			return r;
	}
}

int sha256_fd(int fd, uint8_t ret[32])
{
	_cleanup_close_ int tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (tfm < 0)
		return errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT ? -EAFNOSUPPORT : -errno;
	struct sockaddr_alg sa = {.salg_family = AF_ALG};
	memcpy(sa.salg_type, "hash", sizeof("hash"));
	memcpy(sa.salg_name, "sha256", sizeof("sha256"));
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno; /* ENOENT: no sha256 in this kernel */
	_cleanup_close_ int op = accept4(tfm, NULL, NULL, SOCK_CLOEXEC);
	if (op < 0)
		return -errno;
	int r = alg_feed_splice(op, fd);
	if (r == 1)
		r = alg_feed_copy(op, fd);
	if (r < 0)
		return r;
	/* Nothing more: the hash is final (also for an empty file, hashed from scratch). */
	while (send(op, NULL, 0, 0) < 0)
		if (errno != EINTR)
			return -errno;
	ssize_t n;
	do
		n = read(op, ret, 32);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 32 ? 0 : -EIO;
}

/* ---- words ------------------------------------------------------------------------------ */

char *fetch_size_text(unsigned long long bytes)
{
	double b = (double)bytes;
	if (bytes < 1024)
		return xasprintf("%llu bytes", bytes);
	if (b < MIB)
		return xasprintf("%.1f KiB", b / KIB);
	if (b < 10 * MIB)
		return xasprintf("%.1f MiB", b / MIB);
	if (b < 10 * GIB)
		return xasprintf("%.0f MiB", b / MIB);
	return xasprintf("%.1f GiB", b / GIB);
}

static char *rate_text(double bytes_per_s)
{
	if (bytes_per_s < MIB)
		return xasprintf("%.1f KiB/s", bytes_per_s / KIB);
	return xasprintf("%.1f MiB/s", bytes_per_s / MIB);
}

char *fetch_progress_text(unsigned long long done, long long total, double bytes_per_s)
{
	_cleanup_free_ char *d = fetch_size_text(done);
	_cleanup_free_ char *rate = rate_text(bytes_per_s);
	if (total < 0 || done > (unsigned long long)total)
		return xasprintf("%s so far, %s", d, rate);
	_cleanup_free_ char *t = fetch_size_text((unsigned long long)total);
	unsigned pct = total ? (unsigned)(done * 100 / (unsigned long long)total) : 100;
	return xasprintf("%s of %s (%u%%), %s", d, t, pct, rate);
}

char *fetch_url_display(const char *url)
{
	/* scheme://user:password@host/...: the password stays off the console. */
	const char *start = strstr(url, "://");
	if (!start)
		return xstrdup(url);
	start += 3;
	size_t auth_len = strcspn(start, "/?#");
	const char *at = memchr(start, '@', auth_len);
	if (!at)
		return xstrdup(url);
	/* The last '@' of the authority ends the user information. */
	for (const char *p = at; p < start + auth_len; p++)
		if (*p == '@')
			at = p;
	const char *colon = memchr(start, ':', (size_t)(at - start));
	if (!colon)
		return xstrdup(url);
	return xasprintf("%.*s:***%s", (int)(colon - url), url, at);
}

/* Whether line (up to its end) starts with name, case-insensitively; the value after it. */
static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(line, name, n) != 0)
		return NULL;
	line += n;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* "HTTP/1.1 404 Not Found" (len bytes): the status, and the reason text when asked. */
static int status_line(const char *line, size_t len, char **ret_reason)
{
	const char *sp = memchr(line, ' ', len);
	if (!sp)
		return 0;
	char *e;
	long code = strtol(sp + 1, &e, 10);
	if (code <= 0 || code >= 1000 || e == sp + 1 || e > line + len)
		return 0;
	while (e < line + len && *e == ' ')
		e++;
	if (ret_reason && e < line + len)
		*ret_reason = xstrndup(e, (size_t)(line + len - e));
	return (int)code;
}

void fetch_headers_parse(const char *headers, int *ret_status, char **ret_reason,
                         long long *ret_length)
{
	*ret_status = 0;
	*ret_length = -1;
	char *reason = NULL;
	for (const char *line = headers; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
			len--;
		const char *v;
		if (strncmp(line, "HTTP/", 5) == 0) {
			/* A new response (after a redirect, a 100 Continue): its own fields. */
			free(reason);
			reason = NULL;
			*ret_length = -1;
			*ret_status = status_line(line, len, ret_reason ? &reason : NULL);
		} else if ((v = header_value(line, "content-length:")) && v < line + len) {
			char *e;
			long long n = strtoll(v, &e, 10);
			*ret_length = e > v && n >= 0 ? n : -1;
		}
		line = end ? end + 1 : NULL;
	}
	if (ret_reason)
		*ret_reason = reason;
	else
		free(reason);
}

const char *fetch_http_reason(int status)
{
	static const struct {
		int code;
		const char *text;
	} reasons[] = {
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {406, "Not Acceptable"},
	    {407, "Proxy Authentication Required"},
	    {408, "Request Timeout"},
	    {410, "Gone"},
	    {416, "Range Not Satisfiable"},
	    {429, "Too Many Requests"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].code == status)
			return reasons[i].text;
	return NULL;
}

/* curl's own words: the text of its last "curl: (N) ..." line. Allocated, or NULL. */
static char *curl_message(const char *err)
{
	const char *last = NULL;
	for (const char *p = err; p && (p = strstr(p, "curl: (")); p++)
		last = p;
	if (!last)
		return NULL;
	const char *t = strchr(last, ')');
	if (!t)
		return NULL;
	t++;
	while (*t == ' ')
		t++;
	char *m = xstrndup(t, strcspn(t, "\r\n"));
	strip_trailing(m);
	if (!*m) {
		free(m);
		return NULL;
	}
	return m;
}

/* curl's exit statuses with one meaning each (curl(1), EXIT CODES), and what to do. */
static const struct curl_exit {
	int statuses[10]; /* curl's exit statuses, a 0 ends the list */
	int err;          /* the errno returned, positive */
	const char *what; /* the reason, curl's own words appended */
	const char *todo;
	const char *todo_https; /* for an https:// URL, when it differs from todo */
	bool curl_silent;       /* curl said nothing of use: the reason is what alone */
} curl_exits[] = {
    {.statuses = {6},
     .err = EHOSTUNREACH,
     .what = "the server's name could not be resolved",
     .todo = "check the name in loop=, or the DNS servers (from DHCP, or ip=...:DNS0); or "
             "write the server's address instead of its name"},
    {.statuses = {7},
     .err = ECONNREFUSED,
     .what = "could not connect to the server",
     .todo = "check that the server is running and listens on the port in loop=, and that "
             "it is reachable from this network (the ip= settings, routes, firewall)"},
    {.statuses = {28},
     .err = ETIMEDOUT,
     .what = "the server did not answer in time",
     .todo = "check that the server is reachable from this network (the ip= settings, the "
             "gateway, a firewall) and that it is not overloaded"},
    {.statuses = {23},
     .err = ENOSPC,
     .what = "the image could not be written to RAM",
     .todo = "give the machine more memory than the image's size"},
    {.statuses = {18, 52, 55, 56, 92},
     .err = EIO,
     .what = "the transfer broke off",
     .todo = "check the server and the network between it and this machine, then boot again"},
    {.statuses = {35, 51, 53, 54, 58, 59, 60, 83, 90, 91},
     .err = EPROTO,
     .what = "the TLS connection failed",
     .todo = "give the server a certificate from a CA in " CA_BUNDLE
             " (the initramfs carries the building system's), and check this machine's "
             "clock (a certificate not yet valid); or use http:// with loopboot.sha256="},
    {.statuses = {77},
     .err = ENOENT,
     .what = "the CA certificates could not be read",
     .todo = "rebuild the initramfs on a system with the ca-certificates package "
             "installed (" CA_BUNDLE ")"},
    {.statuses = {1},
     .err = EPROTONOSUPPORT,
     .what = "this curl cannot fetch such a URL",
     .todo = "write loop=http://SERVER[:PORT]/PATH",
     .todo_https = "rebuild the initramfs with a curl that has TLS (Debian's curl)"},
    {.statuses = {3},
     .err = EINVAL,
     .what = "curl cannot read the URL",
     .todo = "fix the URL in loop=: http://SERVER[:PORT]/PATH"},
    {.statuses = {47},
     .err = ELOOP,
     .what = "too many redirects",
     .todo = "fix the server's redirects, or write the final URL in loop="},
    /* the dynamic loader's: a library is missing */
    {.statuses = {127},
     .err = ENOEXEC,
     .what = "curl would not start (a library it needs is missing?)",
     .todo = "rebuild the initramfs with loopboot initrd --add-binary /usr/bin/curl",
     .curl_silent = true},
};

static const struct curl_exit *curl_exit_find(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(curl_exits); i++)
		for (size_t j = 0;
		     j < ARRAY_SIZE(curl_exits[i].statuses) && curl_exits[i].statuses[j] != 0; j++)
			if (curl_exits[i].statuses[j] == status)
				return &curl_exits[i];
	return NULL;
}

/* curl's status 22 (--fail): the HTTP status from the headers, or from curl's words msg. */
static int http_failure(const char *headers, const char *msg, const char *said, char **ret_reason,
                        const char **ret_todo)
{
	int code;
	long long len;
	_cleanup_free_ char *server_text = NULL;
	fetch_headers_parse(strempty(headers), &code, &server_text, &len);
	if (code == 0 && msg) {
		const char *n = strstr(msg, "error: ");
		code = n ? atoi(n + 7) : 0;
	}
	const char *text = fetch_http_reason(code);
	text = text ? text : server_text;
	if (code > 0)
		*ret_reason = text ? xasprintf("the server answered %d %s", code, text)
		                   : xasprintf("the server answered %d", code);
	else
		*ret_reason = xasprintf("the server answered with an HTTP error%s", said);
	if (code == 404 || code == 410) {
		*ret_todo = "check the path in loop= against the files the server offers (names "
		            "are case-sensitive)";
		return -ENOENT;
	}
	if (code == 401 || code == 403 || code == 407) {
		*ret_todo = "let the server give out the file: its permissions, or its access "
		            "rules for this machine's address";
		return -EACCES;
	}
	if (code >= 500) {
		*ret_todo = "the server failed: look at its log, then boot again";
		return -EREMOTEIO;
	}
	*ret_todo = "check the URL in loop= and the server's configuration";
	return -EPROTO;
}

int fetch_curl_failure(int status, const char *err, const char *headers, bool https,
                       char **ret_reason, char **ret_todo)
{
	_cleanup_free_ char *msg = curl_message(err);
	/* curl says why at every try (--silent --show-error): the count is how often it tried. */
	unsigned tries = 0;
	for (const char *p = err; p && (p = strstr(p, "curl: (")); p++)
		tries++;
	_cleanup_free_ char *said = !msg        ? xstrdup("")
	                            : tries > 1 ? xasprintf(" (%u tries; curl: %s)", tries, msg)
	                                        : xasprintf(" (curl: %s)", msg);
	const char *todo = NULL;
	int r;
	const struct curl_exit *e = curl_exit_find(status);
	if (status == 22) {
		r = http_failure(headers, msg, said, ret_reason, &todo);
	} else if (e) {
		r = -e->err;
		*ret_reason = e->curl_silent ? xstrdup(e->what) : xasprintf("%s%s", e->what, said);
		todo = https && e->todo_https ? e->todo_https : e->todo;
	} else {
		r = -EIO;
		*ret_reason = msg ? xasprintf("curl exited with status %d: %s", status, msg)
		                  : xasprintf("curl exited with status %d", status);
		todo = "check the URL in loop= and the server";
	}
	*ret_todo = xstrdup(todo);
	return r;
}

/* ---- the download ----------------------------------------------------------------------- */

/* What a memfd holds, NUL terminated (allocated). */
static char *memfd_text(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return xstrdup("");
	size_t n = (size_t)st.st_size;
	char *s = xmalloc(n + 1);
	size_t got = 0;
	if (read_up_to(fd, s, n, 0, &got) < 0)
		got = 0;
	s[got] = '\0';
	return s;
}

static unsigned long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (unsigned long long)st.st_size : 0;
}

static long long content_length(int headers_fd)
{
	_cleanup_free_ char *h = memfd_text(headers_fd);
	int status;
	long long len;
	fetch_headers_parse(h, &status, NULL, &len);
	return status >= 200 && status < 300 ? len : -1;
}

/* The temporary name: ".NAME.part" beside path. */
static char *partial_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xasprintf(".%s.part", path);
	return xasprintf("%.*s/.%s.part", (int)(slash - path), path, slash + 1);
}

static bool hex64(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == 64;
}

/* Waits until pid has ended or ms have passed, without reaping it: 1 when it has ended. */
static int wait_ended(pid_t pid, int pidfd, int ms)
{
	siginfo_t si = {0};
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == EINTR ? 0 : 1; /* process_wait() says what went wrong */
	if (si.si_pid == pid)
		return 1;
	if (pidfd >= 0) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		(void)poll(&p, 1, ms); /* readable when it has ended */
	} else {
		sleep_ms(ms);
	}
	return 0;
}

/* Waits for curl, a progress line every PROGRESS_MS, then reaps it. */
static int wait_with_progress(pid_t pid, const char *shown, const char *tmp, int headers_fd,
                              struct process_result *res)
{
#ifdef SYS_pidfd_open
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* -1: sleep instead */
#else
	int pidfd = -1;
#endif
	long long start = now_ms(), last = start;
	unsigned long long last_done = 0;
	while (!wait_ended(pid, pidfd, POLL_MS)) {
		long long t = now_ms();
		if (t - last < PROGRESS_MS)
			continue;
		unsigned long long done = file_size(tmp);
		double rate = (double)(done - (done >= last_done ? last_done : done)) * 1000.0 /
		              (double)(t - last);
		_cleanup_free_ char *line = NULL;
		struct stat st;
		if (done == 0 && fstat(headers_fd, &st) == 0 && st.st_size == 0)
			line =
			    xasprintf("no answer from the server yet (%lld s)", (t - start) / 1000);
		else
			line = fetch_progress_text(done, content_length(headers_fd), rate);
		log_info("fetching %s: %s", shown, line);
		last = t;
		last_done = done;
	}
	return process_wait(pid, 0, res);
}

static int check_digest(const char *shown, const char *tmp, const char *want)
{
	_cleanup_close_ int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_fail(errno, "checking", tmp, NULL, "report this as a bug");
	long long start = now_ms();
	uint8_t digest[32];
	int r = sha256_fd(fd, digest);
	if (r == -EAFNOSUPPORT || r == -ENOENT)
		return log_fail(EAFNOSUPPORT, "checking", shown,
		                "the kernel cannot compute SHA-256 for programs (AF_ALG)",
		                "rebuild the initramfs with the algif_hash and sha256 modules, or "
		                "boot without loopboot.sha256=");
	if (r < 0)
		return log_fail(r, "checking", shown, NULL,
		                "boot again; if it stays, boot without loopboot.sha256=");
	char got[65];
	sha256_hex(digest, got);
	if (!strcaseeq(got, want)) {
		_cleanup_free_ char *why =
		    xasprintf("sha256 is %s: not the loopboot.sha256=%s given", got, want);
		return log_fail(EBADMSG, "checking", shown, why,
		                "the image on the server differs from the one the checksum was "
		                "made for: recompute it with sha256sum or fix the server's file");
	}
	log_info("checked %s: its sha256 is the one given (%.1f s)", shown,
	         (double)(now_ms() - start) / 1000);
	return 0;
}

/* Runs curl; 0 when the whole body is in tmp. */
static int run_curl(const char *curl, const char *url, const char *shown, const char *tmp,
                    unsigned timeout_s)
{
	bool https = startswith(url, "https://") != NULL;
	_cleanup_free_ char *connect_timeout = xasprintf("%u", timeout_s);
	_cleanup_free_ char *retries = xasprintf("%d", RETRIES);
	struct args a = {0};
	args_add(&a, curl, "--disable", /* no ~/.curlrc: must come first */
	         "--fail", "--location", "--proto-redir", "=http,https",
	         "--globoff", /* [ ] { } in a path are characters, not patterns */
	         "--silent", "--show-error", "--dump-header",
	         "-", /* every response's headers on stdout: Content-Length, the status */
	         "--output", tmp, "--retry", retries, "--retry-connrefused", "--retry-delay", "1",
	         "--speed-limit", "1", "--speed-time", STALL_S, NULL);
	if (timeout_s)
		args_add(&a, "--connect-timeout", connect_timeout, NULL);
	if (https && access(CA_BUNDLE, R_OK) == 0)
		args_add(&a, "--cacert", CA_BUNDLE, NULL);
	args_add(&a, "--url", url, NULL);

	_cleanup_close_ int headers_fd = memfd_create("loopboot-fetch-headers", MFD_CLOEXEC);
	_cleanup_close_ int err_fd = memfd_create("loopboot-fetch-errors", MFD_CLOEXEC);
	if (headers_fd < 0 || err_fd < 0)
		return log_fail(errno, "fetching", shown, "memfd_create failed",
		                "report this as a bug");
	struct process_options o = {
	    .stdio = {STDIO_NULL, STDIO_FD(headers_fd), STDIO_FD(err_fd)},
	};
	log_debug("fetching %s into %s with %s", shown, tmp, curl);
	struct process_result res;
	pid_t pid;
	int r = process_spawn(curl, a.v, &o, &pid, &res);
	if (r >= 0)
		r = wait_with_progress(pid, shown, tmp, headers_fd, &res);
	if (r == 0)
		return 0;
	if (res.end != PROCESS_EXITED) {
		_cleanup_free_ char *how = process_result_message(&res);
		_cleanup_free_ char *why = xasprintf("curl %s", how);
		return log_fail(r, "fetching", shown, why,
		                res.end == PROCESS_NOT_STARTED
		                    ? "rebuild the initramfs with loopboot initrd --add-binary "
		                      "/usr/bin/curl"
		                    : "boot again");
	}
	_cleanup_free_ char *err = memfd_text(err_fd);
	_cleanup_free_ char *headers = memfd_text(headers_fd);
	_cleanup_free_ char *reason = NULL, *todo = NULL;
	r = fetch_curl_failure(res.status, err, headers, https, &reason, &todo);
	return log_fail(r, "fetching", shown, reason, "%s", todo);
}

int fetch_url(const char *url, const char *path, const char *sha256, unsigned timeout_s)
{
	_cleanup_free_ char *shown = fetch_url_display(url);
	if (sha256 && !hex64(sha256))
		return log_fail(EINVAL, "loopboot.sha256=", sha256, "not 64 hexadecimal digits",
		                "write the digest as sha256sum prints it");
	_cleanup_free_ char *curl = find_program("curl", PROGRAM_SEARCH_PATH);
	if (!curl)
		return log_fail(ENOENT, "fetching", shown, "curl is not in the initramfs",
		                "install curl, then rebuild the initramfs (loopboot initrd "
		                "--add-binary /usr/bin/curl)");

	_cleanup_free_ char *tmp = partial_name(path);
	(void)unlink(tmp); /* a previous attempt's */
	log_info("fetching %s", shown);
	long long start = now_ms();
	int r = run_curl(curl, url, shown, tmp, timeout_s);
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	/* An empty body leaves no file behind with some versions of curl. */
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = log_fail(errno, "fetching", shown, NULL, "give the machine more memory");
		(void)unlink(tmp);
		return r;
	}
	unsigned long long size = file_size(tmp);
	double secs = (double)(now_ms() - start) / 1000;
	_cleanup_free_ char *size_text = fetch_size_text(size);
	_cleanup_free_ char *rate = rate_text(secs > 0 ? (double)size / secs : 0);
	log_info("fetched %s: %s in %.1f s (%s)", shown, size_text, secs, rate);

	if (sha256) {
		r = check_digest(shown, tmp, sha256);
		if (r < 0) {
			(void)unlink(tmp);
			return r;
		}
	}
	if (rename(tmp, path) < 0) {
		r = log_fail(errno, "fetching", path, "could not rename the download",
		             "report this as a bug");
		(void)unlink(tmp);
		return r;
	}
	return 0;
}
