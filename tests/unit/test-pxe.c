/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot pxe`'s fleet options: the kernel command line they compose, and their refusals. */
#include <errno.h>

#include "basic/util.h"
#include "test-main.h"
#include "tools/pxe.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

struct fleet_case {
	const char *name;
	struct pxe_fleet f;
	const char *cmdline; /* --cmdline, NULL: none */
	const char *want;    /* the line; NULL: refused */
	const char *why;     /* refused: a piece of the message */
};

static const struct fleet_case fleet_cases[] = {
    /* NBD */
    {"nbd: the export is the root, port and overlay and ip by default",
     {.nbd = "10.0.0.1/root"},
     NULL,
     "root=nbd:10.0.0.1:10809/root loopboot.overlay=tmpfs ip=dhcp",
     NULL},
    {"nbd: a port, a file on the export, --cmdline's words after",
     {.nbd = "srv.lab:10900/fleet", .image = "/images/root.img"},
     "console=ttyS0 quiet",
     "root=nbd:srv.lab:10900/fleet loop=/images/root.img loopboot.overlay=tmpfs ip=dhcp "
     "console=ttyS0 quiet",
     NULL},
    {"nbd: the server's default export",
     {.nbd = "10.0.0.1"},
     NULL,
     "root=nbd:10.0.0.1:10809 loopboot.overlay=tmpfs ip=dhcp",
     NULL},
    {"nbd: an IPv6 server in brackets",
     {.nbd = "[fd00::1]:10809/root"},
     NULL,
     "root=nbd:[fd00::1]:10809/root loopboot.overlay=tmpfs ip=dhcp",
     NULL},
    {"nbd: the overlay on the client's disk, a static address",
     {.nbd = "10.0.0.1/root",
      .overlay = "LABEL=scratch:/rw",
      .ip = "10.0.0.50:10.0.0.1:10.0.0.1:255.255.255.0:lab07:eth0:off"},
     NULL,
     "root=nbd:10.0.0.1:10809/root loopboot.overlay=LABEL=scratch:/rw "
     "ip=10.0.0.50:10.0.0.1:10.0.0.1:255.255.255.0:lab07:eth0:off",
     NULL},
    {"nbd: an image path with a blank is quoted as the kernel reads it",
     {.nbd = "10.0.0.1/root", .image = "/My Images/root.img"},
     NULL,
     "root=nbd:10.0.0.1:10809/root \"loop=/My Images/root.img\" loopboot.overlay=tmpfs "
     "ip=dhcp",
     NULL},
    {"nbd: --cmdline's ip= and overlay stand for the defaults",
     {.nbd = "10.0.0.1/root"},
     "ip=off loopboot.overlay=tmpfs:512M -- single",
     "root=nbd:10.0.0.1:10809/root ip=off loopboot.overlay=tmpfs:512M -- single",
     NULL},
    {"nbd: no server", {.nbd = ":10809/root"}, NULL, NULL, "--nbd :10809/root: not SERVER"},
    {"nbd: a port out of range", {.nbd = "srv:65536/root"}, NULL, NULL, "not SERVER[:PORT]"},
    {"nbd: an export with ':'", {.nbd = "srv/a:b"}, NULL, NULL, "not SERVER[:PORT]"},
    {"nbd: an empty export", {.nbd = "srv/"}, NULL, NULL, "not SERVER[:PORT]"},
    /* NFS */
    {"nfs: a file on the export",
     {.nfs = "10.0.0.1:/srv/fleet", .image = "/root.img"},
     NULL,
     "root=nfs:10.0.0.1:/srv/fleet loop=/root.img loopboot.overlay=tmpfs ip=dhcp",
     NULL},
    {"nfs4: the export is the root, with mount options",
     {.nfs4 = "srv:/fleet:vers=4.2"},
     NULL,
     "root=nfs4:srv:/fleet:vers=4.2 loopboot.overlay=tmpfs ip=dhcp",
     NULL},
    {"nfs: a relative path", {.nfs = "srv:fleet"}, NULL, NULL, "not SERVER:/PATH"},
    {"nfs: a blank in the path", {.nfs = "srv:/a b"}, NULL, NULL, "not SERVER:/PATH"},
    /* HTTP */
    {"http: into RAM, writable there, checked",
     {.http = "http://10.0.0.1:8080/fleet/root.img", .sha256 = SHA},
     NULL,
     "loop=http://10.0.0.1:8080/fleet/root.img loopboot.sha256=" SHA " rw ip=dhcp",
     NULL},
    {"http: upper-case digits are written as the engine compares them",
     {.http = "https://srv/r.img",
      .sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"},
     NULL,
     "loop=https://srv/r.img loopboot.sha256=" SHA " rw ip=dhcp",
     NULL},
    {"http: a squashfs with an overlay: no rw",
     {.http = "http://srv/live.iso//live/filesystem.squashfs", .overlay = "tmpfs"},
     NULL,
     "loop=http://srv/live.iso//live/filesystem.squashfs loopboot.overlay=tmpfs ip=dhcp",
     NULL},
    {"http: --cmdline's ro stays",
     {.http = "http://srv/r.img"},
     "ro",
     "loop=http://srv/r.img ip=dhcp ro",
     NULL},
    {"http: a URL naming no file", {.http = "http://srv/"}, NULL, NULL, "not an http://"},
    {"http: not http", {.http = "ftp://srv/r.img"}, NULL, NULL, "not an http://"},
    {"http: --image",
     {.http = "http://srv/r.img", .image = "/x.img"},
     NULL,
     NULL,
     "--image /x.img: the image of --http is the URL itself"},
    {"http: a bad digest",
     {.http = "http://srv/r.img", .sha256 = "abc"},
     NULL,
     NULL,
     "--sha256 abc: not a SHA-256"},
    /* Contradictions */
    {"two sources",
     {.nbd = "a/root", .nfs = "b:/x"},
     NULL,
     NULL,
     "--nfs b:/x: --nbd a/root is given too: two network sources"},
    {"http and nfs4",
     {.nfs4 = "b:/x", .http = "http://a/r.img"},
     NULL,
     NULL,
     "two network sources"},
    {"--image without a source",
     {.image = "/root.img"},
     NULL,
     NULL,
     "--image /root.img: no network source"},
    {"--ip without a source", {.ip = "dhcp"}, NULL, NULL, "--ip dhcp: no network source"},
    {"--sha256 with NBD",
     {.nbd = "a/root", .sha256 = SHA},
     NULL,
     NULL,
     "only an image fetched over HTTP is checked"},
    {"--sha256-of with NFS",
     {.nfs = "a:/x", .sha256 = SHA, .sha256_of = "/srv/r.img"},
     NULL,
     NULL,
     "--sha256-of /srv/r.img: only an image fetched over HTTP"},
    {"--cmdline with root=",
     {.nbd = "a/root"},
     "root=UUID=0A1B quiet",
     NULL,
     "--cmdline: root=UUID=0A1B: --nbd writes root= and loop= itself"},
    {"--cmdline with loop=",
     {.http = "http://a/r.img"},
     "loop=/x.img",
     NULL,
     "--cmdline: loop=/x.img: --http writes root= and loop="},
    {"--ip and --cmdline's ip=",
     {.nbd = "a/root", .ip = "dhcp"},
     "ip=off",
     NULL,
     "--ip dhcp: --cmdline has ip=off too"},
    {"--cmdline's root= in the kernel's other spelling",
     {.nbd = "a/root"},
     "\"root=/dev/x\"",
     NULL,
     "--cmdline: root=/dev/x"},
    {"--overlay and --cmdline's",
     {.nfs = "a:/x", .overlay = "tmpfs"},
     "loopboot.overlay=tmpfs:1G",
     NULL,
     "--overlay tmpfs: --cmdline has loopboot.overlay=tmpfs:1G too"},
    {"--sha256 and --cmdline's",
     {.http = "http://a/r.img", .sha256 = SHA},
     "loopboot.sha256=" SHA,
     NULL,
     "--cmdline has loopboot.sha256="},
    {"an ip= with a blank",
     {.nbd = "a/root", .ip = "dhcp x"},
     NULL,
     NULL,
     "--ip dhcp x: empty, or with a blank"},
    {"an image with a double quote",
     {.nbd = "a/root", .image = "/a\"b"},
     NULL,
     NULL,
     "--image /a\"b: empty, or with a double quote"},
    {"an empty overlay", {.nbd = "a/root", .overlay = ""}, NULL, NULL, "--overlay : empty"},
};

static void check_fleet(const void *row)
{
	const struct fleet_case *c = row;
	char *line = (char *)"untouched", *why = (char *)"untouched";
	int r = pxe_fleet_cmdline(&c->f, c->cmdline, &line, &why);
	if (c->want) {
		CHECK(r == 0);
		CHECK(why == NULL);
		CHECK_STREQ(line, c->want);
	} else {
		CHECK(r == -EINVAL);
		CHECK(line == NULL);
		CHECK(why && startswith(why, "loopboot: pxe: "));
		CHECK(why && contains(why, c->why));
		CHECK(why && contains(why, " — "));
		if (why && !contains(why, c->why))
			printf("# got: %s\n", why);
	}
	if (r == 0)
		free(line);
	else
		free(why);
}
TEST_TABLE(check_fleet, fleet_cases);

TEST(fleet_given)
{
	CHECK(!pxe_fleet_given(&(struct pxe_fleet){0}));
	CHECK(pxe_fleet_given(&(struct pxe_fleet){.ip = "dhcp"}));
	CHECK(pxe_fleet_given(&(struct pxe_fleet){.sha256_of = "/x"}));
}

TEST(nbd_split)
{
	char *server, *export;
	unsigned port;
	CHECK(pxe_nbd_split("srv:10900/a/b", &server, &port, &export) == 0);
	CHECK_STREQ(server, "srv");
	CHECK(port == 10900);
	CHECK_STREQ(export, "a/b");
	free(server);
	free(export);
	CHECK(pxe_nbd_split("10.0.0.1", &server, &port, &export) == 0);
	CHECK(port == 10809 && export == NULL);
	free(server);
	CHECK(pxe_nbd_split("srv:", &server, &port, &export) == -EINVAL);
	CHECK(server == NULL && export == NULL);
	CHECK(pxe_nbd_split("srv:0/x", &server, &port, &export) == -EINVAL);
}
