/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop=http://: the kernel's SHA-256 (AF_ALG) on known digests, the words of the progress
 * and failure lines, and fetch_url() with curl against a small HTTP server of our own on
 * 127.0.0.1 (a file, a redirect, a slow file, 404, a port nobody listens on, checksums).
 * What this machine cannot run (no AF_ALG hash in the kernel, no curl, no loopback) is a
 * TAP "# SKIP" line, never a silent pass.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/process.h"
#include "basic/util.h"
#include "engine/fetch.h"
#include "test-main.h"

#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* The 1 MiB pattern below, whole and from offset 1000 (python3's hashlib, sha256sum). */
#define SHA_MIB      "4c84d9ac7c3bbdf8ff64f96e81ea93b4f7a535120a48b8eb2026edea04e221c6"
#define SHA_MIB_1000 "91051f104e1c65d9c978bc824d067f22f8866f0281c56c8df325720c9ea67e09"
#define MIB_BYTES    (1u << 20)

static unsigned char *pattern(void)
{
	unsigned char *p = xmalloc(MIB_BYTES);
	for (unsigned i = 0; i < MIB_BYTES; i++)
		p[i] = (unsigned char)((i * 131 + 7) >> 3);
	return p;
}

/* A memfd holding n bytes of data, at offset 0. */
static int memfd_with(const void *data, size_t n)
{
	int fd = memfd_create("test-fetch", MFD_CLOEXEC);
	if (fd < 0 || write_exactly(fd, data, n) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	return fd;
}

/* A regular file in dir holding n bytes (splice() from a page cache file is the path a
 * download in a tmpfs takes). */
static int file_with(const char *dir, const void *data, size_t n)
{
	char *path = path_join(dir, "data");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0 || write_exactly(fd, data, n) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	return fd;
}

static bool have_af_alg(void)
{
	int fd = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Whether fd's digest (from its current offset) is want. */
static bool digest_is(int fd, const char *want)
{
	uint8_t d[32];
	char hex[65];
	int r = sha256_fd(fd, d);
	if (r < 0) {
		printf("# sha256_fd: %s\n", strerror(-r));
		return false;
	}
	sha256_hex(d, hex);
	if (strcmp(hex, want) != 0) {
		printf("# sha256_fd gave %s, expected %s\n", hex, want);
		return false;
	}
	return true;
}

static void test_vectors(const void *row)
{
	(void)row;
	char dir[] = "/tmp/test-fetch.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	_cleanup_free_ unsigned char *p = pattern();
	int fd;

	CHECK((fd = memfd_with("", 0)) >= 0 && digest_is(fd, SHA_EMPTY));
	close(fd);
	CHECK((fd = memfd_with("abc", 3)) >= 0 && digest_is(fd, SHA_ABC));
	close(fd);
	CHECK((fd = memfd_with(p, MIB_BYTES)) >= 0 && digest_is(fd, SHA_MIB));
	close(fd);
	/* From the current offset to the end. */
	CHECK((fd = memfd_with(p, MIB_BYTES)) >= 0 && lseek(fd, 1000, SEEK_SET) == 1000 &&
	      digest_is(fd, SHA_MIB_1000));
	close(fd);
	CHECK((fd = file_with(dir, p, MIB_BYTES)) >= 0 && digest_is(fd, SHA_MIB));
	close(fd);
	CHECK((fd = file_with(dir, "", 0)) >= 0 && digest_is(fd, SHA_EMPTY));
	close(fd);
	/* A pipe: what splice() moves in pieces as the writer gives them. */
	int pp[2];
	CHECK(pipe2(pp, O_CLOEXEC) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pp[0]);
		for (unsigned off = 0; off < MIB_BYTES; off += 65536)
			if (write_exactly(pp[1], p + off, 65536) < 0)
				_exit(1);
		_exit(0);
	}
	close(pp[1]);
	CHECK(digest_is(pp[0], SHA_MIB));
	close(pp[0]);
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(status == 0);

	char *data = path_join(dir, "data");
	unlink(data);
	free(data);
	rmdir(dir);
}

static void test_no_af_alg(const void *row)
{
	(void)row;
	uint8_t d[32];
	int fd = memfd_with("abc", 3);
	CHECK(fd >= 0);
	CHECK(sha256_fd(fd, d) == -EAFNOSUPPORT);
	close(fd);
}

TEST(sha256_hex)
{
	uint8_t d[32];
	char hex[65];
	for (unsigned i = 0; i < 32; i++)
		d[i] = (uint8_t)(i * 8 + 1);
	sha256_hex(d, hex);
	CHECK_STREQ(hex, "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
	memset(d, 0xff, sizeof(d));
	sha256_hex(d, hex);
	CHECK(strlen(hex) == 64 && strspn(hex, "f") == 64);
}

TEST(size_and_progress_words)
{
	static const struct {
		unsigned long long bytes;
		const char *want;
	} sizes[] = {
	    {0, "0 bytes"},
	    {812, "812 bytes"},
	    {1536, "1.5 KiB"},
	    {3670016, "3.5 MiB"},
	    {100663296, "96 MiB"},
	    {536870912, "512 MiB"},
	    {13207024435ULL, "12.3 GiB"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *s = fetch_size_text(sizes[i].bytes);
		CHECK_STREQ(s, sizes[i].want);
		free(s);
	}
	char *s = fetch_progress_text(100663296, 536870912, 12.3 * 1048576);
	CHECK_STREQ(s, "96 MiB of 512 MiB (18%), 12.3 MiB/s");
	free(s);
	s = fetch_progress_text(100663296, -1, 512 * 1024);
	CHECK_STREQ(s, "96 MiB so far, 512.0 KiB/s");
	free(s);
	/* More than the length said (a wrong header): no percentage above 100. */
	s = fetch_progress_text(2048, 1024, 0);
	CHECK_STREQ(s, "2.0 KiB so far, 0.0 KiB/s");
	free(s);
	s = fetch_progress_text(0, 0, 0);
	CHECK_STREQ(s, "0 bytes of 0 bytes (100%), 0.0 KiB/s");
	free(s);
}

static char *display(const char *url)
{
	return fetch_url_display(url);
}

TEST(url_display)
{
	static const struct str_case cases[] = {
	    {"http://10.0.2.2:8080/root.img", "http://10.0.2.2:8080/root.img"},
	    {"https://user:secret@srv/img", "https://user:***@srv/img"},
	    {"https://user@srv/img", "https://user@srv/img"},
	    {"http://srv/a@b/root.img", "http://srv/a@b/root.img"},
	    {"http://u:p@ss@srv/x?y=a@b", "http://u:***@srv/x?y=a@b"},
	    {"not a url", "not a url"},
	};
	CHECK_STR_FN(display, cases);
}

TEST(headers)
{
	int status;
	long long len;
	char *reason;
	const char chain[] = "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 17\r\n\r\n"
	                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
	                     "content-length: 536870912\r\n\r\n";
	fetch_headers_parse(chain, &status, &reason, &len);
	CHECK(status == 200);
	CHECK_STREQ(reason, "OK");
	CHECK(len == 536870912);
	free(reason);
	/* A redirect to a chunked answer: the 302's length is not the file's. */
	const char chunked[] = "HTTP/1.1 301 Moved\r\nContent-Length: 99\r\n\r\n"
	                       "HTTP/2 200\r\ntransfer-encoding: chunked\r\n\r\n";
	fetch_headers_parse(chunked, &status, &reason, &len);
	CHECK(status == 200 && len == -1 && reason == NULL);
	const char python404[] = "HTTP/1.0 404 File not found\r\nServer: SimpleHTTP/0.6\r\n"
	                         "Content-Length: 335\r\n\r\n";
	fetch_headers_parse(python404, &status, &reason, &len);
	CHECK(status == 404 && len == 335);
	CHECK_STREQ(reason, "File not found");
	free(reason);
	fetch_headers_parse("", &status, NULL, &len);
	CHECK(status == 0 && len == -1);
	fetch_headers_parse("HTTP/1.1 garbage\r\nContent-Length: x\r\n", &status, NULL, &len);
	CHECK(status == 0 && len == -1);
	CHECK_STREQ(fetch_http_reason(404), "Not Found");
	CHECK(fetch_http_reason(299) == NULL);
}

struct failure_case {
	const char *name;
	int status;
	const char *err, *headers;
	int want_r;
	const char *reason_has, *todo_has;
};

static const struct failure_case failures[] = {
    {"curl 22: 404 with the standard words, not the server's", 22,
     "curl: (22) The requested URL returned error: 404\n",
     "HTTP/1.0 404 File not found\r\nContent-Length: 335\r\n\r\n", -ENOENT,
     "the server answered 404 Not Found", "check the path in loop="},
    {"curl 22: the status from curl's words when no headers came", 22,
     "curl: (22) The requested URL returned error: 403\n", "", -EACCES,
     "the server answered 403 Forbidden", "permissions"},
    {"curl 22: an unusual status keeps the server's words", 22,
     "curl: (22) The requested URL returned error: 418\n", "HTTP/1.1 418 I'm a teapot\r\n\r\n",
     -EPROTO, "the server answered 418 I'm a teapot", "check the URL in loop="},
    {"curl 22: 503 after a redirect", 22, "curl: (22) The requested URL returned error: 503\n",
     "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\nHTTP/1.1 503 Service Unavailable\r\n\r\n",
     -EREMOTEIO, "503 Service Unavailable", "look at its log"},
    {"curl 7: no connection, curl's last try's words", 7,
     "curl: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: first\n"
     "curl: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server\n",
     "", -ECONNREFUSED,
     "could not connect to the server (2 tries; curl: Failed to connect to 127.0.0.1 port 1 "
     "after 0 ms: "
     "Couldn't connect to server)",
     "ip= settings"},
    {"curl 6: the name", 6, "curl: (6) Could not resolve host: srv\n", "", -EHOSTUNREACH,
     "could not be resolved (curl: Could not resolve host: srv)", "DNS"},
    {"curl 28: timed out", 28, "curl: (28) Connection timed out after 5001 milliseconds\n", "",
     -ETIMEDOUT, "did not answer in time (curl: Connection timed out after 5001 milliseconds)",
     "reachable from this network"},
    {"curl 23: RAM full", 23, "curl: (23) Failure writing output to destination\n", "", -ENOSPC,
     "could not be written to RAM", "more memory"},
    {"curl 60: the certificate", 60, "curl: (60) SSL certificate problem: unable to get\n", "",
     -EPROTO, "TLS", "clock"},
    {"curl 18: broke off", 18, "curl: (18) transfer closed with 5 bytes remaining\n", "", -EIO,
     "the transfer broke off", "boot again"},
    {"127: curl would not start", 127, "curl: error while loading shared libraries\n", "", -ENOEXEC,
     "would not start", "--add-binary /usr/bin/curl"},
    {"an unknown status, without words", 99, "", "", -EIO, "curl exited with status 99",
     "check the URL"},
};

static void check_failure(const void *row)
{
	const struct failure_case *c = row;
	char *reason = NULL, *todo = NULL;
	int r = fetch_curl_failure(c->status, c->err, c->headers, false, &reason, &todo);
	CHECK(r == c->want_r);
	CHECK(contains(reason, c->reason_has));
	CHECK(contains(todo, c->todo_has));
	CHECK(reason && !strchr(reason, '\n') && todo && !strchr(todo, '\n'));
	free(reason);
	free(todo);
}
TEST_TABLE(check_failure, failures)

/* ---- fetch_url() against a server of our own -------------------------------------------- */

static unsigned char *body; /* what /root.img and /slow.img serve: the 1 MiB pattern */
static const size_t slow_len = 96 * 1024;

/* Reads a request's head; the path into path (up to n bytes). */
static bool read_request(int c, char *path, size_t n)
{
	char req[4096];
	size_t got = 0;
	while (got < sizeof(req) - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
		ssize_t k = read(c, req + got, sizeof(req) - 1 - got);
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	req[got] = '\0';
	return n >= 4096 && sscanf(req, "GET %4095s", path) == 1;
}

static void serve_one(int c)
{
	char path[4096];
	if (!read_request(c, path, sizeof(path)))
		return;
	char head[256];
	if (streq(path, "/root.img")) {
		int h =
		    snprintf(head, sizeof(head),
		             "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nConnection: close\r\n\r\n",
		             MIB_BYTES);
		if (write_exactly(c, head, (size_t)h) == 0)
			(void)write_exactly(c, body, MIB_BYTES);
	} else if (streq(path, "/moved")) {
		static const char r[] = "HTTP/1.1 302 Found\r\nLocation: /root.img\r\n"
		                        "Content-Length: 0\r\nConnection: close\r\n\r\n";
		(void)write_exactly(c, r, sizeof(r) - 1);
	} else if (streq(path, "/slow.img")) {
		/* 96 KiB over about 4 s: a progress line or more. */
		int h =
		    snprintf(head, sizeof(head),
		             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		             slow_len);
		if (write_exactly(c, head, (size_t)h) < 0)
			return;
		for (size_t off = 0; off < slow_len; off += 8192) {
			if (write_exactly(c, body + off, 8192) < 0)
				return;
			sleep_ms(350);
		}
	} else {
		static const char r[] = "HTTP/1.1 404 File not found\r\nContent-Length: 9\r\n"
		                        "Connection: close\r\n\r\nnot here\n";
		(void)write_exactly(c, r, sizeof(r) - 1);
	}
}

static pid_t server_pid;
static unsigned server_port;

/* The server in a child: one connection after the other until it is killed. */
static bool server_start(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) < 0) {
		printf("# no listening socket on 127.0.0.1: %s\n", strerror(errno));
		if (s >= 0)
			close(s);
		return false;
	}
	server_port = ntohs(a.sin_port);
	server_pid = fork();
	if (server_pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN);
		for (;;) {
			int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			serve_one(c);
			close(c);
		}
	}
	close(s);
	return server_pid > 0;
}

/* A port on 127.0.0.1 that nobody listens on (bound a moment ago, then let go). */
static unsigned closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	unsigned port = 0;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

/* fetch_url() with its console lines (stderr) caught into *ret_out. */
static int fetch_caught(const char *url, const char *path, const char *sha, char **ret_out)
{
	struct test_stderr c = test_stderr_catch();
	int r = fetch_url(url, path, sha, 2);
	*ret_out = test_stderr_caught(c);
	return r;
}

static char tmpdir[] = "/tmp/test-fetch-dl.XXXXXX";

/* Nothing but name (NULL: nothing at all) in tmpdir: no partial file left behind. */
static bool dir_holds_only(const char *name)
{
	DIR *d = opendir(tmpdir);
	if (!d)
		return false;
	bool ok = true;
	struct dirent *de;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq_ptr(de->d_name, name)) {
			printf("# unexpected file %s in %s\n", de->d_name, tmpdir);
			ok = false;
		}
	closedir(d);
	return ok;
}

static bool file_is_body(const char *path, size_t n)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	return read_file(path, &data, &len) == 0 && len == n && memcmp(data, body, n) == 0;
}

static char *url_for(const char *p)
{
	return xasprintf("http://127.0.0.1:%u%s", server_port, p);
}

/*
 * Fetches the server's path into tmpdir/name (with the digest sha, or none): that succeeds
 * with n bytes of the body in the file and nothing else in tmpdir; the file is removed
 * again. Returns what the fetch said on the console (a string to free).
 */
static char *fetch_whole(const char *path, const char *name, const char *sha, size_t n)
{
	_cleanup_free_ char *img = path_join(tmpdir, name);
	_cleanup_free_ char *url = url_for(path);
	char *out = NULL;
	CHECK(fetch_caught(url, img, sha, &out) == 0);
	CHECK(file_is_body(img, n));
	CHECK(dir_holds_only(name));
	unlink(img);
	return out;
}

static void test_download(const void *row)
{
	(void)row;
	_cleanup_free_ char *out = fetch_whole("/root.img", "root.img", NULL, MIB_BYTES);
	CHECK(contains(out, "loopboot: fetching http://127.0.0.1:"));
	CHECK(contains(out, "/root.img: 1.0 MiB in "));
	/* Through a redirect. */
	free(fetch_whole("/moved", "root.img", NULL, MIB_BYTES));
}

static void test_progress(const void *row)
{
	(void)row;
	_cleanup_free_ char *out = fetch_whole("/slow.img", "slow.img", NULL, slow_len);
	/* At least one line during the transfer, with the length from the header. */
	_cleanup_free_ char *url = url_for("/slow.img");
	_cleanup_free_ char *line = xasprintf("loopboot: fetching %s: ", url);
	CHECK(contains(out, line));
	CHECK(contains(out, " of 96.0 KiB ("));
	CHECK(contains(out, "KiB/s\n"));
}

/*
 * Fetching url (with the digest sha, or none) into tmpdir fails with want_r, says the line
 * made of want_fmt and the URL (a "%s" for it, or none), and leaves no file behind.
 */
static void check_fetch_fails(const char *url, const char *sha, int want_r, const char *want_fmt)
{
	_cleanup_free_ char *img = path_join(tmpdir, "root.img");
	_cleanup_free_ char *out = NULL;
	CHECK(fetch_caught(url, img, sha, &out) == want_r);
	_cleanup_free_ char *line = xasprintf(want_fmt, url);
	CHECK(contains(out, line));
	CHECK(dir_holds_only(NULL));
}

static void test_not_found(const void *row)
{
	(void)row;
	_cleanup_free_ char *url = url_for("/nope.img");
	check_fetch_fails(url, NULL, -ENOENT,
	                  "loopboot: fetching: %s: the server answered 404 Not Found — check the "
	                  "path in loop=");
}

static void test_refused(const void *row)
{
	(void)row;
	_cleanup_free_ char *url = xasprintf("http://127.0.0.1:%u/root.img", closed_port());
	check_fetch_fails(
	    url, NULL, -ECONNREFUSED,
	    "loopboot: fetching: %s: could not connect to the server (6 tries; curl: ");
}

static void test_checksums(const void *row)
{
	(void)row;
	_cleanup_free_ char *out = fetch_whole("/root.img", "root.img", SHA_MIB, MIB_BYTES);
	CHECK(contains(out, "its sha256 is the one given"));
	/* Upper case digits are the same digest. */
	char upper[65];
	for (int i = 0; i < 65; i++)
		upper[i] = (char)toupper((unsigned char)SHA_MIB[i]);
	free(fetch_whole("/root.img", "root.img", upper, MIB_BYTES));
	_cleanup_free_ char *url = url_for("/root.img");
	check_fetch_fails(url, SHA_ABC, -EBADMSG,
	                  "loopboot: checking: %s: sha256 is " SHA_MIB
	                  ": not the loopboot.sha256=" SHA_ABC
	                  " given — the image on the server differs from the one the checksum was "
	                  "made for: recompute it with sha256sum or fix the server's file");
}

static void test_checksum_no_af_alg(const void *row)
{
	(void)row;
	_cleanup_free_ char *url = url_for("/root.img");
	check_fetch_fails(url, SHA_MIB, -EAFNOSUPPORT, "algif_hash");
}

static void test_bad_digest(const void *row)
{
	(void)row;
	/* Refused before anything is fetched: no server needed. */
	check_fetch_fails("http://127.0.0.1:1/root.img", "abc", -EINVAL,
	                  "loopboot: loopboot.sha256=: abc: not 64 hexadecimal digits");
}

static void test_skipped(const void *row)
{
	(void)row;
}

__attribute__((destructor)) static void server_stop(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	rmdir(tmpdir);
	free(body);
}

/* The tests that depend on what this machine has, registered with a SKIP when it lacks it. */
__attribute__((constructor)) static void register_machine_tests(void)
{
	bool alg = have_af_alg();
	static const char no_alg[] = " # SKIP the kernel has no AF_ALG hash sockets "
	                             "(CONFIG_CRYPTO_USER_API_HASH, module algif_hash)";
	static char vectors_name[256], sums_name[256];
	snprintf(vectors_name, sizeof(vectors_name), "sha256_fd: known digests%s",
	         alg ? "" : no_alg);
	test_register(vectors_name, alg ? test_vectors : test_skipped, NULL);
	if (!alg)
		test_register("sha256_fd: -EAFNOSUPPORT without AF_ALG", test_no_af_alg, NULL);

	test_register("fetch_url: a malformed digest is refused before fetching", test_bad_digest,
	              NULL);

	/* The env of this test must not send 127.0.0.1 to a proxy. */
	static const char *const proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
	                                      "ALL_PROXY", "all_proxy"};
	for (size_t i = 0; i < ARRAY_SIZE(proxies); i++)
		unsetenv(proxies[i]);
	_cleanup_free_ char *curl = find_program("curl", PROGRAM_SEARCH_PATH);
	const char *skip = !curl ? " # SKIP no curl on this machine" : NULL;
	body = pattern();
	if (!skip && !mkdtemp(tmpdir))
		skip = " # SKIP no temporary directory";
	if (!skip && !server_start())
		skip = " # SKIP no listening socket on 127.0.0.1";
	static const struct {
		const char *name;
		void (*fn)(const void *);
	} net[] = {
	    {"fetch_url: a file, and a redirect to it", test_download},
	    {"fetch_url: progress lines of a slow transfer", test_progress},
	    {"fetch_url: 404 names the URL and the status", test_not_found},
	    {"fetch_url: a port nobody listens on", test_refused},
	};
	static char names[ARRAY_SIZE(net) + 1][256];
	for (size_t i = 0; i < ARRAY_SIZE(net); i++) {
		snprintf(names[i], sizeof(names[i]), "%s%s", net[i].name, strempty(skip));
		test_register(names[i], skip ? test_skipped : net[i].fn, NULL);
	}
	snprintf(sums_name, sizeof(sums_name), "fetch_url: sha256 right, upper case, wrong%s",
	         skip  ? skip
	         : alg ? ""
	               : no_alg);
	if (!skip && !alg)
		test_register("fetch_url: sha256 without AF_ALG says what is missing",
		              test_checksum_no_af_alg, NULL);
	test_register(sums_name, skip || !alg ? test_skipped : test_checksums, NULL);
}
