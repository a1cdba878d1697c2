/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/pxe.h"

#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "basic/copy.h"
#include "basic/log.h"
#include "basic/options.h"
#include "basic/process.h"
#include "basic/strbuf.h"
#include "basic/util.h"
#include "engine/cmdline.h"
#include "tools/media.h"
#include "tools/secureboot.h"

#define SUBDIR "grub" /* GRUB's files in DIR: grub-mknetdir --subdir */

/* ---- the pure part ---------------------------------------------------------------------- */

static bool ipxe_piece_ok(const char *piece, size_t n)
{
	if (n == 0)
		return true;
	if (piece[0] == '#')
		return false; /* a comment to the end of the line */
	return !((n == 2 && (!strncmp(piece, "||", 2) || !strncmp(piece, "&&", 2))) ||
	         (n == 1 && piece[0] == ';'));
}

static bool ipxe_word_ok(const char *w)
{
	if (!*w || strchr(w, '"') || strstr(w, "${") || strstr(w, "  "))
		return false;
	for (const char *p = w; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return false;
	/* The pieces iPXE will see between spaces (the first one after the opening quote). */
	const char *start = w;
	for (const char *p = w;; p++) {
		if (*p == ' ' || !*p) {
			if (!ipxe_piece_ok(start, (size_t)(p - start)))
				return false;
			if (!*p)
				break;
			start = p + 1;
		}
	}
	return true;
}

int pxe_ipxe_script(const char *kernel, const char *initrd, char *const *args, size_t n_args,
                    char **ret, const char **ret_bad)
{
	*ret = NULL;
	*ret_bad = NULL;
	for (size_t i = 0; i < n_args; i++) {
		if (!ipxe_word_ok(args[i])) {
			*ret_bad = args[i];
			return -EINVAL;
		}
	}
	struct strbuf b = {0};
	/* initrd= lets the kernel's EFI stub find the initramfs when iPXE runs under UEFI. */
	strbuf_printf(&b, "#!ipxe\n# Written by loopboot pxe.\nkernel %s initrd=%s", kernel,
	              initrd);
	for (size_t i = 0; i < n_args; i++)
		strbuf_printf(&b, strchr(args[i], ' ') ? " \"%s\"" : " %s", args[i]);
	strbuf_printf(&b, "\ninitrd %s\nboot\n", initrd);
	*ret = strbuf_steal(&b);
	return 0;
}

/* ---- the fleet's command line (pure) ---------------------------------------------------- */

bool pxe_fleet_given(const struct pxe_fleet *f)
{
	return f->nbd || f->nfs || f->nfs4 || f->http || f->image || f->overlay || f->ip ||
	       f->sha256 || f->sha256_of;
}

static char *why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *why(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	char *line = xasprintf("loopboot: pxe: %s", s);
	free(s);
	return line;
}

/* A value the kernel's command line carries as one word without quoting. */
static bool plain_value(const char *v)
{
	if (!*v)
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == 0x7f)
			return false;
	return true;
}

/* A host name, an IPv4 address or a bracketed IPv6 one, at s; its length, 0 when none. */
static size_t server_len(const char *s)
{
	if (*s == '[') {
		size_t n = 1;
		while (isxdigit((unsigned char)s[n]) || s[n] == ':' || s[n] == '.')
			n++;
		return s[n] == ']' && n > 2 ? n + 1 : 0;
	}
	size_t n = 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '.' || s[n] == '-' || s[n] == '_')
		n++;
	return n;
}

/* ":PORT" at s (or nothing): 0 with *ret_port (def when absent) and *ret_n, -EINVAL. */
static int port_parse(const char *s, unsigned def, unsigned *ret_port, size_t *ret_n)
{
	*ret_port = def;
	*ret_n = 0;
	if (*s != ':')
		return 0;
	size_t n = 1;
	unsigned long port = 0;
	while (isdigit((unsigned char)s[n]) && port <= 65535)
		port = port * 10 + (unsigned)(s[n++] - '0');
	if (n == 1 || port == 0 || port > 65535)
		return -EINVAL;
	*ret_port = (unsigned)port;
	*ret_n = n;
	return 0;
}

int pxe_nbd_split(const char *v, char **ret_server, unsigned *ret_port, char **ret_export)
{
	*ret_server = *ret_export = NULL;
	size_t n = server_len(v), pn;
	if (n == 0 || port_parse(v + n, 10809, ret_port, &pn) < 0)
		return -EINVAL;
	const char *rest = v + n + pn;
	if (*rest && (*rest != '/' || !rest[1] || !plain_value(rest + 1) || strchr(rest, ':')))
		return -EINVAL;
	*ret_server = xstrndup(v, n);
	*ret_export = *rest ? xstrdup(rest + 1) : NULL;
	return 0;
}

/* SERVER:/PATH[:OPTIONS]: 0, or -EINVAL. */
static int nfs_check(const char *v)
{
	size_t n = server_len(v);
	if (n == 0 || v[n] != ':' || v[n + 1] != '/' || !plain_value(v))
		return -EINVAL;
	return 0;
}

/* http(s)://SERVER[:PORT]/PATH, PATH naming a file: 0, or -EINVAL. */
static int url_check(const char *v)
{
	const char *s = startswith(v, "http://");
	if (!s)
		s = startswith(v, "https://");
	if (!s || !plain_value(v))
		return -EINVAL;
	size_t n = server_len(s), pn;
	unsigned port;
	if (n == 0 || port_parse(s + n, 80, &port, &pn) < 0)
		return -EINVAL;
	const char *path = s + n + pn;
	if (*path != '/' || path[strlen(path) - 1] == '/')
		return -EINVAL;
	return 0;
}

/* Does the name of a command-line parameter equal name ('-' and '_' alike)? */
static bool key_is(const char *key, const char *name)
{
	for (; *key && *name; key++, name++) {
		char a = *key == '_' ? '-' : *key, b = *name == '_' ? '-' : *name;
		if (a != b)
			return false;
	}
	return !*key && !*name;
}

static const struct cmdline_param *find_param(const struct cmdline *c, const char *name)
{
	const struct cmdline_param *found = NULL;
	for (size_t i = 0; i < c->n_params; i++)
		if (key_is(c->params[i].key, name))
			found = &c->params[i]; /* the last one wins, as in the engine */
	return found;
}

static void put_word(struct strbuf *b, const char *key, const char *value)
{
	_cleanup_free_ char *w = cmdline_word(key, value);
	strbuf_printf(b, "%s%s", b->len ? " " : "", w);
}

/* A parameter the options write and --cmdline may hold instead: 1 when --cmdline has it
 * (and the option is not given), 0 when not, -EINVAL with *ret_why when both name it. */
static int from_cmdline(const struct cmdline *c, const char *name, const char *option,
                        const char *value, char **ret_why)
{
	const struct cmdline_param *p = find_param(c, name);
	if (!p)
		return 0;
	if (value) {
		*ret_why = why("%s %s: --cmdline has %s=%s too — give it once", option, value, name,
		               p->value ? p->value : "");
		return -EINVAL;
	}
	return 1;
}

/* The option that gives the image's SHA-256, and its value (NULL when none). */
static const char *sha_option(const struct pxe_fleet *f)
{
	return f->sha256_of ? "--sha256-of" : "--sha256";
}

static const char *sha_value(const struct pxe_fleet *f)
{
	return f->sha256_of ? f->sha256_of : f->sha256;
}

/* The one network source among --nbd, --nfs, --nfs4 and --http: 0 with *ret_option and
 * *ret_value, or -EINVAL with *ret_why when there are two or none. */
static int fleet_source(const struct pxe_fleet *f, const char **ret_option, const char **ret_value,
                        char **ret_why)
{
	const struct {
		const char *option, *value;
	} sources[] = {
	    {"--nbd", f->nbd}, {"--nfs", f->nfs}, {"--nfs4", f->nfs4}, {"--http", f->http}};
	const char *source = NULL, *value = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
		if (!sources[i].value)
			continue;
		if (source) {
			*ret_why =
			    why("%s %s: %s %s is given too: two network sources — give one of "
			        "--nbd, --nfs, --nfs4 and --http",
			        sources[i].option, sources[i].value, source, value);
			return -EINVAL;
		}
		source = sources[i].option;
		value = sources[i].value;
	}
	if (!source) {
		const char *opt = f->image     ? "--image"
		                  : f->overlay ? "--overlay"
		                  : f->ip      ? "--ip"
		                               : sha_option(f);
		const char *val = f->image     ? f->image
		                  : f->overlay ? f->overlay
		                  : f->ip      ? f->ip
		                               : sha_value(f);
		*ret_why = why("%s %s: no network source — add --nbd SERVER[:PORT]/EXPORT, --nfs "
		               "SERVER:/PATH, --nfs4 SERVER:/PATH or --http URL",
		               opt, val ? val : "");
		return -EINVAL;
	}
	*ret_option = source;
	*ret_value = value;
	return 0;
}

/* The options besides the source: those that do not go with it, a --sha256 that is not one,
 * and values the kernel's command line cannot carry. 0, or -EINVAL with *ret_why. */
static int fleet_options_check(const struct pxe_fleet *f, char **ret_why)
{
	bool http = f->http != NULL;
	const char *sha_opt = sha_option(f), *sha_val = sha_value(f);
	if (http && f->image) {
		*ret_why = why("--image %s: the image of --http is the URL itself — leave --image "
		               "out (an image inside it: --http http://SERVER/disk.img//root.img)",
		               f->image);
		return -EINVAL;
	}
	if (!http && sha_val) {
		*ret_why =
		    why("%s %s: only an image fetched over HTTP is checked — leave it out, or "
		        "serve the image with --http URL",
		        sha_opt, sha_val);
		return -EINVAL;
	}
	if (f->sha256 &&
	    (strlen(f->sha256) != 64 || strspn(f->sha256, "0123456789abcdefABCDEF") != 64)) {
		*ret_why = why("--sha256 %s: not a SHA-256 (64 hexadecimal digits) — give what "
		               "sha256sum prints for the image, or --sha256-of FILE",
		               f->sha256);
		return -EINVAL;
	}

	const struct {
		const char *option, *value;
		bool blanks; /* quoted by the kernel's rules when it has blanks */
	} words[] = {
	    {"--image", f->image, true}, {"--overlay", f->overlay, true}, {"--ip", f->ip, false}};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		const char *v = words[i].value;
		if (!v || (*v && !strchr(v, '"') &&
		           (words[i].blanks ? !strpbrk(v, "\t\n\r") : plain_value(v))))
			continue;
		*ret_why = why("%s %s: %s — write it without them", words[i].option, v,
		               words[i].blanks ? "empty, or with a double quote or a line break, "
		                                 "which the kernel's command line cannot carry"
		                               : "empty, or with a blank or a double quote, which "
		                                 "ip= cannot hold");
		return -EINVAL;
	}
	return 0;
}

/* root= of an NBD or NFS source into b; for --http, its URL checked (loop= comes later).
 * 0, or -EINVAL with *ret_why. */
static int put_root(struct strbuf *b, const struct pxe_fleet *f, const char *source,
                    const char *value, char **ret_why)
{
	if (f->nbd) {
		_cleanup_free_ char *server = NULL, *export = NULL;
		unsigned port;
		if (pxe_nbd_split(f->nbd, &server, &port, &export) < 0) {
			*ret_why = why("--nbd %s: not SERVER[:PORT][/EXPORT] — e.g. --nbd "
			               "10.0.0.1:10809/root (the export's name as nbd-server's "
			               "config has it, without blanks or ':')",
			               f->nbd);
			return -EINVAL;
		}
		_cleanup_free_ char *root = xasprintf("nbd:%s:%u%s%s", server, port,
		                                      export ? "/" : "", export ? export : "");
		put_word(b, "root", root);
	} else if (f->nfs || f->nfs4) {
		if (nfs_check(value) < 0) {
			*ret_why =
			    why("%s %s: not SERVER:/PATH[:OPTIONS] — e.g. %s 10.0.0.1:/srv/fleet "
			        "(the exported directory, without blanks)",
			        source, value, source);
			return -EINVAL;
		}
		_cleanup_free_ char *root = xasprintf("%s:%s", f->nfs ? "nfs" : "nfs4", value);
		put_word(b, "root", root);
	} else if (url_check(f->http) < 0) {
		*ret_why = why("--http %s: not an http:// or https:// URL naming a file — e.g. "
		               "--http http://10.0.0.1/fleet/root.img",
		               f->http);
		return -EINVAL;
	}
	return 0;
}

/* What --cmdline already holds of the words the fleet writes. */
struct cmdline_has {
	bool overlay; /* loopboot.overlay= */
	bool ip;      /* ip= */
	bool ro_rw;   /* ro or rw */
};

/* --cmdline's words against the options: root= and loop= refused, loopboot.overlay=,
 * loopboot.sha256= and ip= refused when the option is given too. 0 with *ret, or -EINVAL
 * with *ret_why. */
static int cmdline_scan(const struct pxe_fleet *f, const char *cmdline, const char *source,
                        struct cmdline_has *ret, char **ret_why)
{
	struct cmdline c = {0};
	if (cmdline_tokenize(cmdline ? cmdline : "", &c) < 0)
		abort();
	int r = 0;
	static const char *const own[] = {"root", "loop"};
	for (size_t i = 0; i < ARRAY_SIZE(own) && r == 0; i++) {
		const struct cmdline_param *p = find_param(&c, own[i]);
		if (p) {
			*ret_why = why("--cmdline: %s=%s: %s writes root= and loop= itself — leave "
			               "them out of --cmdline",
			               own[i], p->value ? p->value : "", source);
			r = -EINVAL;
		}
	}
	int has_overlay = 0, has_ip = 0;
	if (r == 0)
		r = has_overlay =
		    from_cmdline(&c, "loopboot.overlay", "--overlay", f->overlay, ret_why);
	if (r >= 0)
		r = from_cmdline(&c, "loopboot.sha256", sha_option(f), sha_value(f), ret_why);
	if (r >= 0)
		r = has_ip = from_cmdline(&c, "ip", "--ip", f->ip, ret_why);
	*ret = (struct cmdline_has){
	    .overlay = has_overlay > 0,
	    .ip = has_ip > 0,
	    .ro_rw = find_param(&c, "ro") || find_param(&c, "rw"),
	};
	cmdline_free(&c);
	return r < 0 ? r : 0;
}

/* The words after root=: loop=, loopboot.sha256=, the overlay, ip=, then --cmdline's. */
static void put_rest(struct strbuf *b, const struct pxe_fleet *f, const struct cmdline_has *has,
                     const char *cmdline)
{
	if (f->http) {
		put_word(b, "loop", f->http);
		if (f->sha256) {
			_cleanup_free_ char *lower = xstrdup(f->sha256);
			for (char *p = lower; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			put_word(b, "loopboot.sha256", lower);
		}
		if (f->overlay)
			put_word(b, "loopboot.overlay", f->overlay);
		else if (!has->overlay && !has->ro_rw)
			strbuf_append(b, " rw"); /* the copy in RAM is the client's own */
	} else {
		if (f->image)
			put_word(b, "loop", f->image);
		if (!has->overlay)
			put_word(b, "loopboot.overlay", f->overlay ? f->overlay : "tmpfs");
	}
	if (!has->ip)
		put_word(b, "ip", f->ip ? f->ip : "dhcp");
	if (cmdline && cmdline[strspn(cmdline, " \t\n")])
		strbuf_printf(b, " %s", cmdline + strspn(cmdline, " \t\n"));
}

int pxe_fleet_cmdline(const struct pxe_fleet *f, const char *cmdline, char **ret, char **ret_why)
{
	*ret = *ret_why = NULL;
	const char *source = NULL, *value = NULL;
	int r = fleet_source(f, &source, &value, ret_why);
	if (r < 0)
		return r;
	r = fleet_options_check(f, ret_why);
	if (r < 0)
		return r;
	_cleanup_strbuf_ struct strbuf b = {0};
	r = put_root(&b, f, source, value, ret_why);
	if (r < 0)
		return r;
	struct cmdline_has has;
	r = cmdline_scan(f, cmdline, source, &has, ret_why);
	if (r < 0)
		return r;
	put_rest(&b, f, &has, cmdline);
	*ret = strbuf_steal(&b);
	return 0;
}

/* ---- loopboot pxe ----------------------------------------------------------------------- */

static const char usage[] =
    "Usage: loopboot pxe DIR [--kernel FILE] [--initrd FILE] [--cmdline STRING]\n"
    "                  [--title TITLE] [--timeout SECONDS] [--modules-dir DIR]\n"
    "                  [--secure-boot auto|on|off]\n"
    "                  [--nbd SERVER[:PORT]/EXPORT | --nfs SERVER:/PATH |\n"
    "                   --nfs4 SERVER:/PATH | --http URL [--sha256 HEX|--sha256-of FILE]]\n"
    "                  [--image /PATH] [--overlay SPEC] [--ip SPEC]\n"
    "Fills DIR, the root of a TFTP server, with a netboot tree for the entry: vmlinuz,\n"
    "initrd.img, GRUB's network boot images (grub/i386-pc/core.0 for BIOS,\n"
    "grub/x86_64-efi/core.efi for UEFI), grub/grub.cfg and boot.ipxe (iPXE); with\n"
    "Secure Boot (the default when shim-signed and grub-efi-amd64-signed are installed)\n"
    "also bootnetx64.efi (shim), grubx64.efi (Debian's signed netboot GRUB), mmx64.efi.\n"
    "The options are those of loopboot iso. A fleet, every client booting one image from\n"
    "a network server, each with its own writable layer:\n"
    "  --nbd SERVER[:PORT]/EXPORT  the image is an NBD export (port 10809 by default)\n"
    "  --nfs SERVER:/PATH          an NFSv3 export (--nfs4: NFSv4)\n"
    "  --http URL                  an image file downloaded into each client's RAM,\n"
    "                              checked with --sha256 HEX or --sha256-of LOCAL-COPY\n"
    "  --image /PATH               the root image as a file on the NBD or NFS export\n"
    "                              (without it the export is the root file system)\n"
    "  --overlay SPEC              the client's writable layer (default tmpfs; LABEL=...\n"
    "                              for a partition of its own disk)\n"
    "  --ip SPEC                   the kernel's ip= (default dhcp)\n"
    "--cmdline then adds words (console=, quiet) and must not hold root= or loop=.\n";

/* Copies src into the work directory and returns the copy's path, or NULL after a message. */
static char *stage_copy(const char *src, const char *work, const char *name)
{
	char *dst = path_join(work, name);
	int r = copy_file(src, dst, 0644);
	if (r < 0) {
		log_fail(r, "pxe: copying", src, NULL, "check the space in %s", work);
		free(dst);
		return NULL;
	}
	return dst;
}

static int stage_text(const char *work, const char *name, const char *text, char **ret)
{
	*ret = path_join(work, name);
	int r = write_file_atomic(*ret, text, strlen(text), 0644);
	if (r < 0)
		return log_fail(r, "pxe: writing", *ret, NULL, "check the space in %s", work);
	return 0;
}

static int pxe_build(const struct media_options *o, const struct media *m, const char *dir,
                     const char *work, const char *ipxe_text)
{
	/* Everything is made in the work directory first, then renamed into place: a tree
	 * that a TFTP server serves meanwhile has the old files or the new ones. */
	_cleanup_free_ char *kernel = NULL, *initrd = NULL, *cfg = NULL, *ipxe = NULL;
	_cleanup_free_ char *cfg_text = media_grub_cfg_for(o, m, "/vmlinuz", "/initrd.img");
	int r = stage_text(work, "grub.cfg", cfg_text, &cfg);
	if (r >= 0)
		r = stage_text(work, "boot.ipxe", ipxe_text, &ipxe);
	if (r < 0)
		return -1;

	kernel = stage_copy(m->kernel, work, "vmlinuz");
	if (!kernel)
		return -1;
	if (m->initrd) {
		initrd = stage_copy(m->initrd, work, "initrd.img");
		if (!initrd)
			return -1;
	} else {
		initrd = path_join(work, "initrd.img");
		if (media_build_initrd(o, m, initrd) < 0)
			return -1;
	}

	_cleanup_free_ char *netdir = xasprintf("--net-directory=%s", dir);
	char *argv[] = {"grub-mknetdir", netdir, "--subdir=" SUBDIR, NULL};
	if (media_run(o, "making GRUB's netboot images", argv, work) < 0)
		return -1;
	static const char *const cores[] = {SUBDIR "/i386-pc/core.0",
	                                    SUBDIR "/x86_64-efi/core.efi"};
	for (size_t i = 0; i < ARRAY_SIZE(cores); i++) {
		_cleanup_free_ char *core = path_join(dir, cores[i]);
		if (access(core, R_OK) < 0) {
			log_fail(errno, "pxe: grub-mknetdir did not write", core, NULL,
			         "run grub-mknetdir --net-directory=%s --subdir=" SUBDIR
			         " by hand to see why",
			         dir);
			return -1;
		}
	}

	/* The signed chain: shim as the boot file, GRUB beside it, where shim looks. */
	size_t n_chain = 0;
	const struct sb_file *chain = m->secure_boot ? sb_chain(SB_MEDIUM_NET, &n_chain) : NULL;
	for (size_t i = 0; i < n_chain; i++) {
		_cleanup_free_ char *staged = stage_copy(chain[i].source, work, chain[i].dest);
		_cleanup_free_ char *to = path_join(dir, chain[i].dest);
		if (!staged)
			return -1;
		if (rename(staged, to) < 0) {
			log_fail(errno, "pxe: moving into place", to, NULL,
			         "check that %s is writable", dir);
			return -1;
		}
	}

	const struct {
		const char *from, *to;
	} moves[] = {
	    {kernel, "vmlinuz"},
	    {initrd, "initrd.img"},
	    {cfg, SUBDIR "/grub.cfg"},
	    {ipxe, "boot.ipxe"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(moves); i++) {
		_cleanup_free_ char *to = path_join(dir, moves[i].to);
		if (chmod(moves[i].from, 0644) < 0 || rename(moves[i].from, to) < 0) {
			log_fail(errno, "pxe: moving into place", to, NULL,
			         "check that %s is writable", dir);
			return -1;
		}
	}

	_cleanup_free_ char *abs = realpath(dir, NULL);
	printf("loopboot: wrote the netboot tree %s: vmlinuz (%s), initrd.img, " SUBDIR
	       "/grub.cfg, boot.ipxe%s\n",
	       dir, m->kernel_version ? m->kernel_version : m->kernel_name,
	       m->secure_boot ? ", bootnetx64.efi (shim), grubx64.efi (signed GRUB), mmx64.efi"
	                      : "");
	const char *uefi = m->secure_boot ? "bootnetx64.efi" : SUBDIR "/x86_64-efi/core.efi";
	printf("  serve it as the TFTP server's root; the boot file to give in DHCP (next-server: "
	       "the TFTP server):\n"
	       "    BIOS PXE   " SUBDIR "/i386-pc/core.0\n"
	       "    UEFI PXE   %s%s\n"
	       "    iPXE       boot.ipxe\n"
	       "  with dnsmasq: enable-tftp\n"
	       "                tftp-root=%s\n"
	       "                dhcp-match=set:efi64,option:client-arch,7\n"
	       "                dhcp-boot=tag:!efi64," SUBDIR "/i386-pc/core.0\n"
	       "                dhcp-boot=tag:efi64,%s\n",
	       uefi, m->secure_boot ? " (Secure Boot: shim, then grubx64.efi beside it)" : "",
	       abs ? abs : dir, uefi);
	return fflush(stdout) == 0 ? 0 : -1;
}

/* The SHA-256 of a local copy of the image, as sha256sum prints it. 0, or -1 after a
 * message. */
static int sha256_of(const char *file, char **ret)
{
	*ret = NULL;
	int r = stat_regular(file);
	if (r < 0)
		return log_fail(r, "pxe: --sha256-of", file,
		                r == -EINVAL ? "not a regular file" : NULL,
		                "give a local copy of the image the web server serves");
	_cleanup_free_ char *prog = find_program("sha256sum", PROGRAM_SEARCH_PATH);
	if (!prog)
		return log_fail(ENOENT, "pxe: --sha256-of", "sha256sum", "not installed",
		                "apt-get install coreutils, or give the digest with --sha256 HEX");
	printf("loopboot: pxe: computing the SHA-256 of %s\n", file);
	fflush(stdout);
	char *argv[] = {"sha256sum", "--", (char *)file, NULL};
	_cleanup_free_ char *out = NULL;
	struct process_result res;
	r = process_run_capture(prog, argv, NULL, &out, &res);
	if (r < 0 || !out || strspn(out, "0123456789abcdef") != 64) {
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(r < 0 ? -r : EPROTO, "pxe: --sha256-of", file,
		                r < 0 ? how : "sha256sum printed no digest",
		                "check that the file is readable, or give --sha256 HEX");
	}
	*ret = xstrndup(out, 64);
	return 0;
}

/* What the storage server must do for the fleet, a few lines on stdout. */
static void print_server(const struct pxe_fleet *f, const char *line, bool initrd_given)
{
	printf("  every client boots: %s\n", line);
	if (f->nbd) {
		_cleanup_free_ char *server = NULL, *export = NULL;
		unsigned port = 0;
		if (pxe_nbd_split(f->nbd, &server, &port, &export) < 0)
			return;
		printf("  the storage server %s: nbd-server on port %u, the export %s read-only, "
		       "e.g. /etc/nbd-server/config:\n"
		       "                [%s]\n"
		       "                exportname = /srv/fleet/%s\n"
		       "                readonly = true\n",
		       server, port, export ? export : "(its default)", export ? export : "generic",
		       f->image ? "host.img" : "root.img");
		if (f->image)
			printf("                (a file system holding %s)\n", f->image);
	} else if (f->nfs || f->nfs4) {
		const char *v = f->nfs ? f->nfs : f->nfs4;
		const char *path = strstr(v, ":/") + 1; /* checked: SERVER:/PATH[:OPTIONS] */
		size_t n = strcspn(path, ":");
		printf(
		    "  the storage server %.*s: NFS%s exports %.*s read-only, e.g. /etc/exports:\n"
		    "                %.*s  *(ro,no_subtree_check,no_root_squash)\n",
		    (int)(path - 1 - v), v, f->nfs ? "v3 (nolock)" : "v4", (int)n, path, (int)n,
		    path);
		if (f->image)
			printf("                (holding %s)\n", f->image);
	} else if (f->http) {
		printf("  the web server serves %s; every client downloads it whole into its "
		       "RAM%s\n",
		       f->http, f->sha256 ? " and checks its SHA-256" : "");
	}
	printf("  the clients: %s; %s\n",
	       f->ip ? "ip= as given"
	             : "an address and a host name from DHCP (dnsmasq: dhcp-host=MAC,NAME)",
	       initrd_given ? "the --initrd given must be made with loopboot initrd --network"
	                    : "initrd.img was built with loopboot initrd --network");
}

/* DIR, the one argument left after the options: 0 with *ret, or 2 after a message. */
static int dir_arg(int argc, char **argv, const char **ret)
{
	if (optind >= argc) {
		fputs("loopboot: pxe: DIR is missing — name the TFTP server's root directory to "
		      "fill\n",
		      stderr);
		return 2;
	}
	if (optind + 1 < argc) {
		fprintf(stderr,
		        "loopboot: pxe: unexpected argument: %s — give one directory; pass the "
		        "command line quoted with --cmdline\n",
		        argv[optind + 1]);
		return 2;
	}
	const char *dir = argv[optind];
	struct stat st;
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		log_fail(ENOTDIR, "pxe", dir, NULL,
		         "give a directory (it is created when missing)");
		return 2;
	}
	*ret = dir;
	return 0;
}

/* A fleet: the entry composed from the options (the words of --cmdline added) becomes
 * o->cmdline, *ret_line; --sha256-of's digest is *ret_digest, the title when none is given
 * *ret_title. 0, or the exit status after a message. */
static int fleet_entry(struct pxe_fleet *fleet, struct media_options *o, char **ret_line,
                       char **ret_digest, char **ret_title)
{
	_cleanup_free_ char *why = NULL;
	if (fleet->sha256 && fleet->sha256_of) {
		fprintf(stderr, "loopboot: pxe: --sha256-of %s: --sha256 is given too — give one\n",
		        fleet->sha256_of);
		return 2;
	}
	/* The composition's refusals first: a wrong line costs no hashing. */
	struct pxe_fleet check = *fleet;
	if (check.sha256_of)
		check.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
	if (pxe_fleet_cmdline(&check, o->cmdline, ret_line, &why) < 0) {
		fprintf(stderr, "%s\n", why);
		return 2;
	}
	free(*ret_line);
	*ret_line = NULL;
	if (fleet->sha256_of) {
		if (sha256_of(fleet->sha256_of, ret_digest) < 0)
			return 1;
		fleet->sha256 = *ret_digest;
	}
	if (pxe_fleet_cmdline(fleet, o->cmdline, ret_line, &why) < 0) {
		fprintf(stderr, "%s\n", why);
		return 2;
	}
	o->cmdline = *ret_line;
	o->network = true;
	if (!o->title) {
		/* "Linux from /root.img on nbd:10.0.0.1:10809/fleet (loopboot fleet)" */
		const char *first = strchr(*ret_line, '=') + 1;
		size_t n = strcspn(first, " ");
		*ret_title = xasprintf("Linux from %s%s%.*s (loopboot fleet)",
		                       fleet->image ? fleet->image : "", fleet->image ? " on " : "",
		                       (int)n, first);
		o->title = *ret_title;
	}
	return 0;
}

/* The iPXE script for the entry, before anything is written: it must carry the entry
 * unchanged. 0 with *ret, or -1 after a message. */
static int ipxe_text_for(const struct media *m, char **ret)
{
	const char *bad = NULL;
	if (pxe_ipxe_script("vmlinuz", "initrd.img", m->words.v, m->words.n, ret, &bad) < 0) {
		log_fail(EINVAL, "pxe: the kernel command line has a word iPXE cannot pass", bad,
		         "iPXE splits its lines at blanks and has no quoting",
		         "leave out double quotes, \"${\", repeated blanks and pieces beginning "
		         "with #");
		return -1;
	}
	return 0;
}

/* The tree built in a work directory in dir, which goes after, then the fleet's notes for
 * the storage server (fleet NULL: none). 0, or -1 after a message. */
static int pxe_fill(const struct media_options *o, const struct media *m, const char *dir,
                    const char *ipxe_text, const struct pxe_fleet *fleet, const char *fleet_line)
{
	_cleanup_free_ char *work = path_join(dir, ".loopboot-pxe.XXXXXX");
	if (!mkdtemp(work)) {
		log_fail(errno, "pxe: creating a directory in", dir, NULL,
		         "check that it is writable and has room");
		return -1;
	}
	int r = pxe_build(o, m, dir, work, ipxe_text);
	if (r >= 0 && fleet) {
		print_server(fleet, fleet_line, m->initrd != NULL);
		r = fflush(stdout) == 0 ? 0 : -1;
	}
	(void)rm_rf(work);
	return r;
}

int pxe_main(int argc, char **argv)
{
	struct media_options o;
	/* Options may follow DIR. */
	struct pxe_fleet fleet = {0};
	const struct opt fleet_options[] = {
	    OPT_STRING("nbd", 0, &fleet.nbd),       OPT_STRING("nfs", 0, &fleet.nfs),
	    OPT_STRING("nfs4", 0, &fleet.nfs4),     OPT_STRING("http", 0, &fleet.http),
	    OPT_STRING("sha256", 0, &fleet.sha256), OPT_STRING("sha256-of", 0, &fleet.sha256_of),
	    OPT_STRING("image", 0, &fleet.image),   OPT_STRING("overlay", 0, &fleet.overlay),
	    OPT_STRING("ip", 0, &fleet.ip),
	};
	int r = media_parse_args_with("pxe", false, usage, argc, argv, fleet_options,
	                              ARRAY_SIZE(fleet_options), &o);
	if (r >= 0)
		return r;
	const char *dir = NULL;
	r = dir_arg(argc, argv, &dir);
	if (r)
		return r;

	_cleanup_free_ char *fleet_line = NULL, *digest = NULL, *title = NULL;
	bool is_fleet = pxe_fleet_given(&fleet);
	if (is_fleet) {
		r = fleet_entry(&fleet, &o, &fleet_line, &digest, &title);
		if (r)
			return r;
	}

	static const char *const progs[] = {"grub-mknetdir", NULL};
	struct media m;
	r = media_prepare(&o, progs, &m);
	if (r)
		return r;
	_cleanup_free_ char *ipxe_text = NULL;
	r = ipxe_text_for(&m, &ipxe_text);
	if (r >= 0) {
		r = mkdir_p(dir, 0755);
		if (r < 0)
			log_fail(r, "pxe: creating", dir, NULL,
			         "check the path and the permissions");
	}
	if (r < 0) {
		media_free(&m);
		return 1;
	}
	media_signals_catch();
	/* As iso: a write to a reader that went away fails, and the work directory goes. */
	signal(SIGPIPE, SIG_IGN);
	r = pxe_fill(&o, &m, dir, ipxe_text, is_fleet ? &fleet : NULL, fleet_line);
	media_free(&m);
	media_signals_done();
	return r < 0 ? 1 : 0;
}
