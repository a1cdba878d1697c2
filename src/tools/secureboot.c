/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/secureboot.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/process.h"
#include "basic/strbuf.h"

/* ---- the pure part ---------------------------------------------------------------------- */

int sb_mode_parse(const char *s, enum sb_mode *ret)
{
	static const char *const names[] = {[SB_AUTO] = "auto", [SB_ON] = "on", [SB_OFF] = "off"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (s && streq(s, names[i])) {
			*ret = (enum sb_mode)i;
			return 0;
		}
	return -EINVAL;
}

const struct sb_file *sb_chain(enum sb_medium medium, size_t *ret_n)
{
	static const struct sb_file cd[] = {
	    {SB_SHIM, "EFI/BOOT/BOOTX64.EFI", "shim-signed"},
	    {SB_GRUB_CD, "EFI/BOOT/grubx64.efi", "grub-efi-amd64-signed"},
	    {SB_MOKMGR, "EFI/BOOT/mmx64.efi", "shim-helpers-amd64-signed"},
	};
	static const struct sb_file net[] = {
	    {SB_SHIM, "bootnetx64.efi", "shim-signed"},
	    {SB_GRUB_NET, "grubx64.efi", "grub-efi-amd64-signed"},
	    {SB_MOKMGR, "mmx64.efi", "shim-helpers-amd64-signed"},
	};
	*ret_n = medium == SB_MEDIUM_CD ? ARRAY_SIZE(cd) : ARRAY_SIZE(net);
	return medium == SB_MEDIUM_CD ? cd : net;
}

enum sb_choice sb_decide(enum sb_mode mode, bool chain_installed)
{
	switch (mode) {
	case SB_OFF:
		return SB_UNSIGNED;
	case SB_ON:
		return chain_installed ? SB_USE_CHAIN : SB_REFUSE;
	case SB_AUTO:
	default:
		return chain_installed ? SB_USE_CHAIN : SB_UNSIGNED;
	}
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint64_t le64(const unsigned char *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

int sb_pe_section(const unsigned char *buf, size_t n, const char *name, const unsigned char **ret,
                  size_t *ret_len)
{
	*ret = NULL;
	*ret_len = 0;
	if (n < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
		return -ENOEXEC;
	size_t pe = le32(buf + 0x3c);
	if (pe > n || n - pe < 24 || memcmp(buf + pe, "PE\0\0", 4) != 0)
		return -ENOEXEC;
	size_t nsect = le16(buf + pe + 6), optsize = le16(buf + pe + 20);
	size_t table = pe + 24 + optsize;
	if (table > n || (n - table) / 40 < nsect)
		return -ENOEXEC;
	/* Names longer than 8 bytes are "/OFFSET" into the COFF string table, which follows
	 * the symbol table (18-byte entries). */
	size_t symtab = le32(buf + pe + 12), nsyms = le32(buf + pe + 16);
	size_t strtab = symtab && nsyms <= (SIZE_MAX - symtab) / 18 ? symtab + nsyms * 18 : 0;
	size_t namelen = strlen(name);
	for (size_t i = 0; i < nsect; i++) {
		const unsigned char *s = buf + table + i * 40;
		if (s[0] == '/' && strtab) {
			char digits[8] = {0};
			memcpy(digits, s + 1, 7);
			char *end;
			unsigned long at = strtoul(digits, &end, 10);
			if (end == digits || at > n || strtab > n - at)
				continue;
			const char *sname = (const char *)buf + strtab + at;
			size_t max = n - strtab - at;
			if (strnlen(sname, max) != namelen || memcmp(sname, name, namelen) != 0)
				continue;
		} else if (namelen > 8 || memcmp(s, name, namelen) != 0 ||
		           (namelen < 8 && s[namelen] != '\0'))
			continue;
		size_t vsize = le32(s + 8), rawsize = le32(s + 16), raw = le32(s + 20);
		/* The file holds SizeOfRawData bytes; VirtualSize is what is used of them. */
		size_t size = vsize && vsize < rawsize ? vsize : rawsize;
		if (raw > n || n - raw < size)
			return -EBADMSG;
		*ret = buf + raw;
		*ret_len = size;
		return 0;
	}
	return -ENOENT;
}

int sb_vendor_cert(const unsigned char *buf, size_t n, const unsigned char **ret, size_t *ret_len)
{
	const unsigned char *s;
	size_t len;
	*ret = NULL;
	*ret_len = 0;
	int r = sb_pe_section(buf, n, ".vendor_cert", &s, &len);
	if (r < 0)
		return r;
	if (len < 16)
		return -EBADMSG;
	size_t size = le32(s), off = le32(s + 8);
	if (size == 0)
		return -ENOENT;
	if (off > len || len - off < size)
		return -EBADMSG;
	/* A DER certificate is a SEQUENCE (0x30) with a long-form length. */
	if (size < 4 || s[off] != 0x30)
		return -EBADMSG;
	*ret = s + off;
	*ret_len = size;
	return 0;
}

char *sb_pem(const unsigned char *der, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct strbuf b = {0};
	strbuf_append(&b, "-----BEGIN CERTIFICATE-----\n");
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)der[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)der[i + 1] << 8;
		if (i + 2 < n)
			v |= der[i + 2];
		char q[5] = {b64[v >> 18 & 63], b64[v >> 12 & 63],
		             i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '=',
		             '\0'};
		strbuf_append(&b, q);
		col += 4;
		if (col == 64) {
			strbuf_append(&b, "\n");
			col = 0;
		}
	}
	if (col)
		strbuf_append(&b, "\n");
	strbuf_append(&b, "-----END CERTIFICATE-----\n");
	return strbuf_steal(&b);
}

/* The name in an ELF64 object's .modname section, or NULL. */
static char *elf_modname(const unsigned char *e, size_t n)
{
	if (n < 64 || memcmp(e, "\177ELF", 4) != 0 || e[4] != 2 /* 64-bit */ || e[5] != 1)
		return NULL;
	uint64_t shoff = le64(e + 0x28);
	size_t shentsize = le16(e + 0x3a), shnum = le16(e + 0x3c), shstrndx = le16(e + 0x3e);
	if (shentsize < 64 || shoff > n || shstrndx >= shnum || (n - shoff) / shentsize < shnum)
		return NULL;
	const unsigned char *strsh = e + shoff + shstrndx * shentsize;
	uint64_t stroff = le64(strsh + 0x18), strsize = le64(strsh + 0x20);
	if (stroff > n || n - stroff < strsize)
		return NULL;
	for (size_t i = 0; i < shnum; i++) {
		const unsigned char *sh = e + shoff + i * shentsize;
		size_t nameoff = le32(sh);
		if (nameoff >= strsize)
			continue;
		const char *sname = (const char *)e + stroff + nameoff;
		if (strnlen(sname, strsize - nameoff) == strsize - nameoff ||
		    !streq(sname, ".modname"))
			continue;
		uint64_t off = le64(sh + 0x18), size = le64(sh + 0x20);
		if (off > n || n - off < size || size == 0)
			return NULL;
		return xstrndup((const char *)e + off, strnlen((const char *)e + off, size));
	}
	return NULL;
}

#define MODULE_INFO_MAGIC 0x676d696d /* "mimg" */
#define MODULE_ELF        0

int sb_grub_modules(const unsigned char *buf, size_t n, struct strv *ret)
{
	const unsigned char *s;
	size_t len;
	int r = sb_pe_section(buf, n, "mods", &s, &len);
	if (r < 0)
		return r;
	/* struct grub_module_info64: magic, padding, offset, size (of the whole list). */
	if (len < 24 || le32(s) != MODULE_INFO_MAGIC)
		return -EBADMSG;
	uint64_t off = le64(s + 8), size = le64(s + 16);
	if (size > len || off > size)
		return -EBADMSG;
	while (off < size) {
		if (size - off < 8)
			return -EBADMSG;
		uint32_t type = le32(s + off), msize = le32(s + off + 4);
		if (msize < 8 || msize > size - off)
			return -EBADMSG;
		if (type == MODULE_ELF) {
			char *name = elf_modname(s + off + 8, msize - 8);
			if (name && *name)
				strv_push(ret, name);
			else
				free(name);
		}
		off += msize;
	}
	return 0;
}

char *sb_cfg_missing_module(const char *cfg, const struct strv *builtin)
{
	for (const char *line = cfg; line && *line;) {
		const char *end = strchrnul(line, '\n');
		const char *p = line;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) > 7 && !strncmp(p, "insmod", 6) &&
		    (p[6] == ' ' || p[6] == '\t')) {
			p += 7;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			const char *q = p;
			while (q < end && *q != ' ' && *q != '\t' && *q != ';')
				q++;
			char *mod = xstrndup(p, (size_t)(q - p));
			if (*mod && !strv_contains(builtin, mod))
				return mod;
			free(mod);
		}
		line = *end ? end + 1 : end;
	}
	return NULL;
}

char *sb_esp_grub_cfg(const char *marker)
{
	return xasprintf("# Written by loopboot: Debian's signed GRUB (grubx64.efi beside shim) "
	                 "reads this from its\n"
	                 "# prefix, /boot/grub of the EFI system partition it started from. The "
	                 "entry is on the\n"
	                 "# medium's ISO 9660 file system, found by the file %s.\n"
	                 "search --no-floppy --file --set=root %s\n"
	                 "set prefix=($root)/boot/grub\n"
	                 "source $prefix/grub.cfg\n",
	                 marker, marker);
}

/* ---- effects ---------------------------------------------------------------------------- */

#define SB_VERIFY_TIMEOUT_MS 60000

static bool chain_installed(enum sb_medium medium, struct strbuf *missing)
{
	size_t n;
	const struct sb_file *f = sb_chain(medium, &n);
	bool all = true;
	for (size_t i = 0; i < n; i++)
		if (access(f[i].source, R_OK) < 0) {
			strbuf_printf(missing, "%s%s (%s)", all ? "" : ", ", f[i].source,
			              f[i].package);
			all = false;
		}
	return all;
}

/* The last non-empty line of a (small) file, or NULL. */
static char *last_line(const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (read_file(path, &text, &len) < 0)
		return NULL;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (!len)
		return NULL;
	char *nl = strrchr(text, '\n');
	return xstrdup(nl ? nl + 1 : text);
}

/*
 * sbverify the kernel against shim's vendor certificate: 1 verified, 0 not (*why set),
 * -1 the check itself failed (after a message).
 */
static int verify_kernel(const struct sb_request *q, char **why)
{
	_cleanup_free_ char *what = xasprintf("%s: --secure-boot: checking the kernel", q->cmd);
	_cleanup_free_ char *sbverify = find_program(SB_SBVERIFY, PROGRAM_SEARCH_PATH);
	if (!sbverify) {
		log_fail(ENOENT, what, SB_SBVERIFY,
		         "not installed: it checks the kernel's signature",
		         "apt-get install " SB_SBSIGNPKG);
		return -1;
	}
	_cleanup_free_ char *shim = NULL;
	size_t n;
	int r = read_file(SB_SHIM, &shim, &n);
	if (r < 0) {
		log_fail(r, what, SB_SHIM, NULL, "apt-get install --reinstall shim-signed");
		return -1;
	}
	const unsigned char *der;
	size_t der_len;
	r = sb_vendor_cert((const unsigned char *)shim, n, &der, &der_len);
	if (r < 0) {
		log_fail(r, what, SB_SHIM, "no vendor certificate in its .vendor_cert section",
		         "apt-get install --reinstall shim-signed");
		return -1;
	}
	_cleanup_free_ char *pem = sb_pem(der, der_len);
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_free_ char *certpath =
	    xasprintf("%s/loopboot-shim-vendor.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	_cleanup_free_ char *logpath =
	    xasprintf("%s/loopboot-sbverify.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	_cleanup_close_ int cfd = mkstemp(certpath);
	_cleanup_close_ int lfd = cfd >= 0 ? mkstemp(logpath) : -1;
	if (cfd < 0 || lfd < 0) {
		log_fail(errno, what, cfd < 0 ? certpath : logpath, NULL,
		         "check that the directory exists and is writable, or set TMPDIR");
		if (cfd >= 0)
			unlink(certpath);
		return -1;
	}
	r = write_file_atomic(certpath, pem, strlen(pem), 0600);
	int ret = -1;
	if (r < 0) {
		log_fail(r, what, certpath, NULL,
		         "check the space in its directory, or set TMPDIR");
	} else {
		char *argv[] = {sbverify, "--cert", certpath, (char *)q->kernel, NULL};
		const struct process_options opts = {
		    .stdio = {STDIO_NULL, STDIO_FD(lfd), STDIO_FD(lfd)},
		    .timeout_ms = SB_VERIFY_TIMEOUT_MS,
		};
		struct process_result res;
		if (process_run(NULL, argv, &opts, &res) == 0) {
			ret = 1;
		} else if (res.end == PROCESS_EXITED) {
			_cleanup_free_ char *line = last_line(logpath);
			*why = xasprintf("sbverify: %s", line ? line : "verification failed");
			ret = 0;
		} else {
			_cleanup_free_ char *how = process_result_message(&res);
			log_fail(res.status ? res.status : EPROTO, what, sbverify, how,
			         "run sbverify --list %s to see the kernel's signatures",
			         q->kernel);
		}
	}
	unlink(certpath);
	unlink(logpath);
	return ret;
}

/* The modules grub.cfg loads that the signed GRUB does not have: NULL when none. */
static int cfg_module_missing(const struct sb_request *q, const char *grub, char **ret)
{
	*ret = NULL;
	_cleanup_free_ char *bin = NULL;
	size_t n;
	int r = read_file(grub, &bin, &n);
	struct strv mods = {0};
	if (r >= 0)
		r = sb_grub_modules((const unsigned char *)bin, n, &mods);
	if (r < 0) {
		_cleanup_free_ char *what = xasprintf("%s: --secure-boot: reading", q->cmd);
		log_fail(r, what, grub, "not a signed GRUB image with its module list",
		         "apt-get install --reinstall grub-efi-amd64-signed");
		strv_free(&mods);
		return -1;
	}
	*ret = sb_cfg_missing_module(q->cfg, &mods);
	strv_free(&mods);
	return 0;
}

int sb_resolve(const struct sb_request *q)
{
	const char *grub = q->medium == SB_MEDIUM_CD ? SB_GRUB_CD : SB_GRUB_NET;
	_cleanup_strbuf_ struct strbuf missing = {0};
	bool installed = q->mode != SB_OFF && chain_installed(q->medium, &missing);
	switch (sb_decide(q->mode, installed)) {
	case SB_REFUSE: {
		_cleanup_free_ char *what =
		    xasprintf("%s: --secure-boot on: not installed", q->cmd);
		log_fail(
		    ENOENT, what, missing.s,
		    "the signed boot chain (shim, Debian's signed GRUB) comes from these packages",
		    "apt-get install " SB_PACKAGES ", or use --secure-boot off for media that "
		    "boot only with Secure Boot disabled");
		return -1;
	}
	case SB_UNSIGNED:
		if (q->mode == SB_OFF)
			printf("loopboot: %s: Secure Boot: off: GRUB's unsigned EFI loader, which "
			       "firmware with Secure Boot on refuses\n",
			       q->cmd);
		else
			printf("loopboot: %s: Secure Boot: %s not installed: GRUB's unsigned EFI "
			       "loader, which boots only with Secure Boot off (apt-get "
			       "install " SB_PACKAGES " for media that boot with it on)\n",
			       q->cmd, missing.s);
		return 0;
	case SB_USE_CHAIN:
		break;
	}

	_cleanup_free_ char *module = NULL;
	if (cfg_module_missing(q, grub, &module) < 0)
		return -1;
	if (module) {
		if (q->mode == SB_ON) {
			_cleanup_free_ char *what =
			    xasprintf("%s: --secure-boot on: GRUB module", q->cmd);
			log_fail(
			    ENOPKG, what, module,
			    "grub.cfg needs it, and Debian's signed GRUB neither has it built in "
			    "nor loads modules under Secure Boot",
			    "%s",
			    q->kernel_at_boot
			        ? "put the kernel on the medium (leave out --kernel-from "
			          "image), or use --secure-boot off"
			        : "use --secure-boot off");
			return -1;
		}
		printf(
		    "loopboot: %s: Secure Boot: GRUB's unsigned EFI loader, which boots only with "
		    "Secure Boot off: grub.cfg needs the module %s, which Debian's signed GRUB "
		    "does not have%s\n",
		    q->cmd, module,
		    q->kernel_at_boot ? " (leave out --kernel-from image for signed media)" : "");
		return 0;
	}

	_cleanup_free_ char *why = NULL;
	int v = 1;
	if (q->kernel) {
		/* auto without sbverify: the chain, unchecked (said below). */
		_cleanup_free_ char *sbv = find_program(SB_SBVERIFY, PROGRAM_SEARCH_PATH);
		v = q->mode == SB_ON || sbv ? verify_kernel(q, &why) : 2;
		if (v < 0)
			return -1;
		if (v == 0 && q->mode == SB_ON) {
			_cleanup_free_ char *what =
			    xasprintf("%s: --secure-boot on: kernel", q->cmd);
			log_fail(
			    EKEYREJECTED, what, q->kernel_name,
			    "not signed by Debian's CA, the certificate built into shim (from "
			    "its .vendor_cert): the chain would refuse it",
			    "use Debian's signed kernel (apt-get install linux-image-amd64), or "
			    "sign yours, enrol the key with mokutil --import and use --secure-boot "
			    "auto, or use --secure-boot off");
			return -1;
		}
	}
	const char *kernel_note =
	    !q->kernel ? ""
	    : v == 1   ? ", the kernel signed by Debian's CA (sbverify)"
	    : v == 2   ? ", the kernel's signature not checked (apt-get install " SB_SBSIGNPKG ")"
	               : "";
	printf("loopboot: %s: Secure Boot: the signed chain: shim (shim-signed) then Debian's "
	       "signed GRUB (grub-efi-amd64-signed)%s%s\n",
	       q->cmd, kernel_note,
	       q->kernel_at_boot ? "; GRUB has shim check the image's kernel at each boot" : "");
	if (v == 0)
		log_warn("%s: Secure Boot: the kernel %s is not signed by Debian's CA (%s): with "
		         "Secure Boot on it boots only once its key is enrolled (mokutil --import)",
		         q->cmd, q->kernel_name, why);
	return 1;
}
