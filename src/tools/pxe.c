/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/pxe.h"

#include <signal.h>
#include <sys/stat.h>

#include "basic/copy.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/util.h"
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

/* ---- loopboot pxe ----------------------------------------------------------------------- */

static const char usage[] =
    "Usage: loopboot pxe DIR [--kernel FILE] [--initrd FILE] [--cmdline STRING]\n"
    "                  [--title TITLE] [--timeout SECONDS] [--modules-dir DIR]\n"
    "                  [--secure-boot auto|on|off]\n"
    "Fills DIR, the root of a TFTP server, with a netboot tree for the entry: vmlinuz,\n"
    "initrd.img, GRUB's network boot images (grub/i386-pc/core.0 for BIOS,\n"
    "grub/x86_64-efi/core.efi for UEFI), grub/grub.cfg and boot.ipxe (iPXE); with\n"
    "Secure Boot (the default when shim-signed and grub-efi-amd64-signed are installed)\n"
    "also bootnetx64.efi (shim), grubx64.efi (Debian's signed netboot GRUB), mmx64.efi.\n"
    "The options are those of loopboot iso.\n";

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

int pxe_main(int argc, char **argv)
{
	struct media_options o;
	/* Options may follow DIR. */
	int r = media_parse_args("pxe", false, usage, argc, argv, &o);
	if (r >= 0)
		return r;
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

	static const char *const progs[] = {"grub-mknetdir", NULL};
	struct media m;
	r = media_prepare(&o, progs, &m);
	if (r)
		return r;
	/* Before anything is written: the iPXE script must carry the entry unchanged. */
	_cleanup_free_ char *ipxe_text = NULL;
	const char *bad = NULL;
	if (pxe_ipxe_script("vmlinuz", "initrd.img", m.words.v, m.words.n, &ipxe_text, &bad) < 0) {
		log_fail(EINVAL, "pxe: the kernel command line has a word iPXE cannot pass", bad,
		         "iPXE splits its lines at blanks and has no quoting",
		         "leave out double quotes, \"${\", repeated blanks and pieces beginning "
		         "with #");
		media_free(&m);
		return 1;
	}
	r = mkdir_p(dir, 0755);
	if (r < 0) {
		log_fail(r, "pxe: creating", dir, NULL, "check the path and the permissions");
		media_free(&m);
		return 1;
	}
	media_signals_catch();
	/* As iso: a write to a reader that went away fails, and the work directory goes. */
	signal(SIGPIPE, SIG_IGN);
	_cleanup_free_ char *work = path_join(dir, ".loopboot-pxe.XXXXXX");
	if (!mkdtemp(work)) {
		log_fail(errno, "pxe: creating a directory in", dir, NULL,
		         "check that it is writable and has room");
		r = -1;
	} else {
		r = pxe_build(&o, &m, dir, work, ipxe_text);
		(void)rm_rf(work);
	}
	media_free(&m);
	media_signals_done();
	return r < 0 ? 1 : 0;
}
