/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot initrd`: a standalone initramfs whose /init is this very binary. Everything
 * is collected into a fileset first (host files are only named), the modules are staged
 * in a private directory where depmod indexes exactly that set, and the archive is then
 * written in one sorted pass, through the compressor, to a temporary file next to the
 * output that is renamed over it only when everything succeeded.
 */
#include "initrd/initrd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "basic/copy.h"
#include "basic/elf.h"
#include "basic/log.h"
#include "basic/options.h"
#include "basic/process.h"
#include "basic/util.h"
#include "engine/bitlocker.h"
#include "engine/helpers.h"
#include "engine/net.h"
#include "engine/state.h"
#include "initrd/cpio.h"
#include "initrd/fileset.h"
#include "initrd/hostonly.h"
#include "initrd/modset.h"

#define SELF             "/proc/self/exe"
#define MAX_SCRIPT_DEPTH 4 /* #! interpreters of #! interpreters */

/* The default set: what a generic machine needs to reach an image on its disk. */
static const char *const default_storage[] = {
    "virtio_blk", "virtio_scsi", "virtio_pci", "ahci",        "ata_piix", "libata",
    "nvme",       "sd_mod",      "sr_mod",     "usb_storage", "uas",      "xhci_pci",
    "xhci_hcd",   "ehci_pci",    "ehci_hcd",   "ohci_pci",    "ohci_hcd", "uhci_hcd",
    "mmc_block",  "sdhci",       "sdhci_pci",  "sdhci_acpi",
};
/*
 * --network: what a network host needs (root=nbd:, root=nfs:, loop=http://): the protocol
 * modules, af_packet for ipconfig's raw sockets, the kernel's SHA-256 for
 * loopboot.sha256=, and the Ethernet drivers of virtual machines and of common hardware.
 * Not the whole drivers/net/ethernet tree: 112 modules, 34 MiB in Debian 12's kernel.
 */
static const char *const network_modules[] = {
    "af_packet",
    "nbd",
    "nfs",
    "nfsv3",
    "nfsv4",
    "algif_hash",
    "sha256_generic",
    "sha256_ssse3",
    /* virtual machines */
    "virtio_net",
    "e1000",
    "vmxnet3",
    "hv_netvsc",
    "xen_netfront",
    "8139cp",
    "8139too",
    "pcnet32",
    /* common hardware */
    "e1000e",
    "igb",
    "igc",
    "ixgbe",
    "r8169",
    "tg3",
    "bnx2",
    /* USB adapters */
    "r8152",
    "cdc_ether",
    "ax88179_178a",
    "asix",
};
#define NETWORK_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* A keyboard for loopboot.shell on a USB-only machine: with a shell in the archive (the
 * engine's list, src/engine/init.c), never without one. */
static const char *const shell_keyboard[] = {"usbhid", "hid_generic"};
static const char *const shell_paths[] = {"usr/bin/sh", "usr/bin/busybox"};
/*
 * The bundled libkmod (subprojects/kmod.wrap) is built to dlopen() a decompressor only for
 * a module compressed in a format the kernel cannot take as it is (kmod passes the others
 * to finit_module() compressed). These go in when modules of that format do; a libkmod
 * linked with them names them in DT_NEEDED, and they are in anyway.
 */
static const struct {
	const char *suffix;
	const char *soname; /* as libkmod dlopen()s it */
} module_decompressors[] = {
    {".ko.zst", "libzstd.so.1"},
    {".ko.xz", "liblzma.so.5"},
    {".ko.gz", "libz.so.1"},
};
/* The modules for images and file systems, the FUSE drivers and the checkers come from the
 * engine's table (engine/helpers.c). The default set has a FUSE driver only where the
 * kernel lacks its file system, and those marked to go in always (ntfs-3g: Debian 12's
 * kernel has no ntfs3, and `rootfstype=ntfs-3g` asks for it even where the kernel has
 * one). The engine's programs (FUSE drivers, checkers) are taken from the standard
 * directories only (PROGRAM_SEARCH_STANDARD): the archive keeps the host's paths, and the
 * engine, in an initramfs without $PATH, looks there. */

enum compress { COMPRESS_ZSTD, COMPRESS_GZIP, COMPRESS_XZ, COMPRESS_NONE };
static const char *const compress_names[] = {"zstd", "gzip", "xz", "none"};

struct options {
	const char *output;
	const char *version;
	const char *modules_dir;
	struct strv add_modules;
	struct strv add_binaries;
	int compress; /* -1: default */
	bool host_only;
	bool bitlocker; /* --bitlocker: libcryptsetup and dm-crypt for BitLocker hosts */
	bool network;   /* --network: ipconfig, nbd-client, curl, NIC and NFS/NBD modules */
	bool no_strip;
	bool verbose;
};

struct builder {
	const struct options *o;
	char *version;
	char *modules_dir;
	struct fileset set;
	struct modset mods;
	bool mods_open;
	struct strv libs;     /* host paths of libraries and interpreters, as found */
	struct strv binaries; /* host paths of the programs, "/proc/self/exe" for /init */
	char *stage;
	uint32_t mtime;
	uint64_t uncompressed;
	bool bitlocker; /* --bitlocker, or --host-only found a BitLocker host */
};

/* The temporary output, for the signal handler: a ^C must not leave it behind. */
static char tmp_output[PATH_MAX];

static void on_signal(int sig)
{
	if (tmp_output[0])
		unlink(tmp_output);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const char usage[] =
    "Usage: loopboot initrd -o FILE [OPTIONS]\n"
    "\n"
    "Builds a standalone initramfs whose /init is loopboot, with the kernel modules\n"
    "for common disks and file systems, ntfs-3g, and the other FUSE drivers where\n"
    "the kernel lacks the file system.\n"
    "\n"
    "  -o, --output FILE          where to write it (replaced atomically)\n"
    "      --kernel-version VER   the kernel (default: the running one, uname -r)\n"
    "      --modules-dir DIR      the directory holding modules.dep (default:\n"
    "                             /lib/modules/VER; VER defaults to its name)\n"
    "      --add-module NAME      also this module or alias, with its dependencies\n"
    "      --add-binary PATH      also this program, with its libraries\n"
    "      --compress METHOD      zstd, gzip, xz or none (default: zstd if installed,\n"
    "                             else gzip)\n"
    "      --host-only            only what this machine needs to boot as it did\n"
    "                             (with --bitlocker's files when its host is\n"
    "                             BitLocker)\n"
    "      --bitlocker            also what opens BitLocker hosts: libcryptsetup\n"
    "                             (loaded by loopboot when one is met) and the\n"
    "                             dm-crypt and AES modules\n"
    "      --network              also what boots from the network (root=nbd:,\n"
    "                             root=nfs:, loop=http://): ipconfig, nbd-client,\n"
    "                             curl and the CA bundle, the NBD and NFS modules\n"
    "                             and common Ethernet drivers\n"
    "      --no-strip             keep debugging information in programs (default:\n"
    "                             strip --strip-debug, when installed)\n"
    "  -v, --verbose              list every entry and why it is in\n"
    "\n"
    "$SOURCE_DATE_EPOCH sets the time stamp of every entry (default 0).\n";

/* ---- options ----------------------------------------------------------------------- */

/* --compress METHOD: its index in compress_names. */
static int take_compress(const char *value, void *to)
{
	for (size_t i = 0; i < ARRAY_SIZE(compress_names); i++)
		if (streq(value, compress_names[i])) {
			*(int *)to = (int)i;
			return 0;
		}
	return opts_usage_error(
	    "initrd", "unknown --compress method: %s (use zstd, gzip, xz or none)", value);
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
	*o = (struct options){.compress = -1};
	/* Options end at the first word: there is none to take. */
	int r = OPTS_PARSE(
	    argc, argv, OPTS_WORD_ENDS, usage, OPT_STRING("output", 'o', &o->output),
	    OPT_STRING("kernel-version", 0, &o->version),
	    OPT_STRING("modules-dir", 0, &o->modules_dir),
	    OPT_LIST("add-module", 0, &o->add_modules), OPT_LIST("add-binary", 0, &o->add_binaries),
	    OPT_CALL("compress", 0, &o->compress, take_compress),
	    OPT_FLAG("host-only", 0, &o->host_only), OPT_FLAG("bitlocker", 0, &o->bitlocker),
	    OPT_FLAG("network", 0, &o->network), OPT_FLAG("no-strip", 0, &o->no_strip),
	    OPT_FLAG("verbose", 'v', &o->verbose));
	if (r >= 0)
		return r;
	if (optind < argc)
		return opts_usage_error("initrd", "unexpected argument: %s", argv[optind]);
	if (!o->output || !*o->output)
		return opts_usage_error("initrd", "%s",
		                        "-o FILE is missing: name the initramfs to write");
	if (o->version && (!*o->version || strchr(o->version, '/') || streq(o->version, ".") ||
	                   streq(o->version, "..")))
		return opts_usage_error("initrd", "invalid --kernel-version: %s", o->version);
	return -1;
}

static void options_done(struct options *o)
{
	strv_free(&o->add_modules);
	strv_free(&o->add_binaries);
}

/* ---- helpers ----------------------------------------------------------------------- */

static void verbose(const struct builder *b, const char *kind, const char *what, const char *reason)
{
	if (b->o->verbose)
		printf("  %-8s %s%s%s\n", kind, what, reason ? "  — " : "", reason ? reason : "");
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int parse_epoch(uint32_t *ret)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	*ret = 0;
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || s[0] == '-' || v > UINT32_MAX)
		return log_fail(EINVAL, "SOURCE_DATE_EPOCH", s, "not a number of seconds",
		                "set it to a Unix time before 2106, or unset it");
	*ret = (uint32_t)v;
	return 0;
}

/* ---- kernel and modules ------------------------------------------------------------ */

static int open_modules(struct builder *b)
{
	const struct options *o = b->o;
	if (o->modules_dir) {
		_cleanup_free_ char *dir = xstrdup(o->modules_dir);
		size_t len = strlen(dir);
		while (len > 1 && dir[len - 1] == '/')
			dir[--len] = '\0';
		b->modules_dir = xstrdup(dir);
		if (o->version) {
			b->version = xstrdup(o->version);
		} else {
			const char *slash = strrchr(dir, '/');
			const char *base = slash ? slash + 1 : dir;
			if (!*base || streq(base, ".") || streq(base, ".."))
				return log_fail(EINVAL, "--modules-dir", o->modules_dir,
				                "its name is not a kernel version",
				                "give --kernel-version too");
			b->version = xstrdup(base);
		}
	} else {
		if (o->version) {
			b->version = xstrdup(o->version);
		} else {
			struct utsname u;
			if (uname(&u) < 0)
				return log_fail(errno, "uname", "", NULL, "give --kernel-version");
			b->version = xstrdup(u.release);
		}
		b->modules_dir = xasprintf("/lib/modules/%s", b->version);
		_cleanup_free_ char *usr = xasprintf("/usr/lib/modules/%s", b->version);
		if (!is_dir(b->modules_dir) && is_dir(usr)) {
			free(b->modules_dir);
			b->modules_dir = xstrdup(usr);
		}
	}

	if (!is_dir(b->modules_dir) && o->modules_dir)
		return log_fail(errno == ENOTDIR ? ENOTDIR : ENOENT, "modules directory",
		                b->modules_dir, NULL,
		                "give the directory that holds modules.dep (ROOT/lib/modules/VER "
		                "of an unpacked kernel)");
	if (!is_dir(b->modules_dir))
		return log_fail(errno == ENOTDIR ? ENOTDIR : ENOENT, "modules directory",
		                b->modules_dir, NULL,
		                "install linux-image-%s, or name the directory that holds "
		                "modules.dep with --modules-dir",
		                b->version);
	int r = modset_init(&b->mods, b->modules_dir);
	b->mods_open = true;
	if (r == -ENOENT)
		return log_fail(r, "modules directory", b->modules_dir, "no modules.dep in it",
		                "run depmod %s (or depmod -b ROOT %s for an unpacked kernel), or "
		                "install linux-image-%s",
		                b->version, b->version, b->version);
	if (r == -ENODATA)
		return log_fail(r, "modules directory", b->modules_dir,
		                "modules.dep.bin is missing (depmod was not run there)",
		                "run depmod %s (or depmod -b ROOT %s for an unpacked kernel)",
		                b->version, b->version);
	if (r < 0)
		return log_fail(r, "reading the modules directory", b->modules_dir, NULL,
		                "check the files there, or run depmod %s", b->version);
	return 0;
}

static int add_default_list(struct builder *b, const char *const *names, size_t n,
                            const char *reason)
{
	for (size_t i = 0; i < n; i++) {
		int r = modset_add(&b->mods, names[i], reason, NULL);
		if (r < 0)
			return log_fail(r, "looking up the module", names[i], NULL,
			                "check %s (run depmod)", b->modules_dir);
		/* Not in this kernel at all (no ntfs3 before 5.15): fine for the defaults. */
	}
	return 0;
}

static int add_host_only_modules(struct builder *b)
{
	struct hostonly h;
	int r = hostonly_detect(&h, STATE_FILE, "/proc/self/mountinfo", "/sys", "");
	if (r < 0)
		return log_fail(r, "--host-only", "/proc/self/mountinfo", NULL,
		                "mount /proc, or build without --host-only");
	if (b->o->verbose)
		printf("host-only: from %s\n", h.source);
	if (h.bitlocker) {
		b->bitlocker = true;
		verbose(b, "host-only", "BitLocker", "the host is a BitLocker volume");
	}
	for (size_t i = 0; i < h.modules.n; i++) {
		const char *key = h.modules.v[i];
		unsigned matched = 0;
		r = modset_add(&b->mods, key, h.reasons.v[i], &matched);
		const char *plain = startswith(key, "fs-");
		if (r >= 0 && matched == 0 && plain)
			r = modset_add(&b->mods, plain, h.reasons.v[i], &matched);
		if (r < 0) {
			hostonly_done(&h);
			return log_fail(r, "looking up the module", key, NULL, "check %s",
			                b->modules_dir);
		}
		if (matched == 0)
			verbose(b, "skipped", key,
			        "not in this kernel (built in there, or absent)");
	}
	for (size_t i = 0; i < h.programs.n; i++) {
		_cleanup_free_ char *path = find_program(h.programs.v[i], PROGRAM_SEARCH_STANDARD);
		if (!path) {
			r = log_fail(ENOENT, "FUSE driver", h.programs.v[i],
			             "this machine uses it but it is not installed",
			             "install it (for ntfs-3g: apt-get install ntfs-3g)");
			hostonly_done(&h);
			return r;
		}
		strv_push(&b->binaries, xstrdup(path));
	}
	hostonly_done(&h);
	return 0;
}

static int collect_modules(struct builder *b)
{
	int r;
	if (b->o->host_only) {
		r = add_host_only_modules(b);
	} else {
		r = add_default_list(b, default_storage, ARRAY_SIZE(default_storage),
		                     "default set (storage)");
		struct strv fs = {0};
		helpers_modules(&fs);
		for (size_t i = 0; r >= 0 && helper_stack_modules[i].name; i++)
			r = add_default_list(b, &helper_stack_modules[i].name, 1,
			                     "default set (images)");
		if (r >= 0)
			r = add_default_list(b, (const char *const *)fs.v, fs.n,
			                     "default set (file systems)");
		strv_free(&fs);
	}
	if (r < 0)
		return r;
	if (b->o->bitlocker) {
		b->bitlocker = true;
		for (size_t i = 0; r >= 0 && bitlocker_modules[i]; i++)
			r = add_default_list(b, &bitlocker_modules[i], 1, "--bitlocker");
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < b->o->add_modules.n; i++) {
		const char *name = b->o->add_modules.v[i];
		unsigned matched = 0;
		r = modset_add(&b->mods, name, "--add-module", &matched);
		if (r < 0)
			return log_fail(r, "looking up the module", name, NULL, "check %s",
			                b->modules_dir);
		if (matched == 0)
			return log_fail(
			    ENOENT, "--add-module", name,
			    "no module or alias of that name in this kernel",
			    "check the name with modinfo -b ROOT -k %s NAME, or look in %s",
			    b->version, b->modules_dir);
	}
	return 0;
}

/* Adds every file below dir (the staged modules directory) at prefix/relative path. */
static int add_tree(struct builder *b, const char *dir, const char *prefix)
{
	_cleanup_(closedirp) DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *src = path_join(dir, de->d_name);
		_cleanup_free_ char *dst = path_join(prefix, de->d_name);
		struct stat st;
		if (lstat(src, &st) < 0)
			return -errno;
		int r;
		if (S_ISDIR(st.st_mode))
			r = add_tree(b, src, dst);
		else if (S_ISREG(st.st_mode))
			r = fileset_add_file(&b->set, dst, src, 0644);
		else
			r = 0; /* depmod writes regular files only */
		if (r < 0)
			return r;
	}
	return errno ? -errno : 0;
}

static int stage_modules(struct builder *b)
{
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_free_ char *tmpl =
	    path_join(tmpdir && *tmpdir ? tmpdir : "/tmp", "loopboot-initrd.XXXXXX");
	if (!mkdtemp(tmpl))
		return log_fail(errno, "creating a staging directory", tmpl, NULL,
		                "set TMPDIR to a writable directory");
	b->stage = xstrdup(tmpl);
	const char *what = NULL;
	int r = modset_stage(&b->mods, b->stage, b->version, &what);
	if (r == -ENOENT && what && streq(what, "run depmod"))
		return log_fail(r, "depmod", "not found", NULL,
		                "install kmod (it provides depmod)");
	if (r == -EPROTO || r == -ECANCELED)
		return log_fail(r, what ? what : "staging the modules", b->stage,
		                "it failed (see its message above)", "check the modules in %s",
		                b->modules_dir);
	if (r < 0)
		return log_fail(r, what ? what : "staging the modules", b->stage, NULL,
		                "check the space in TMPDIR and the files in %s", b->modules_dir);
	_cleanup_free_ char *src = xasprintf("%s/lib/modules/%s", b->stage, b->version);
	_cleanup_free_ char *dst = xasprintf("lib/modules/%s", b->version);
	r = add_tree(b, src, dst);
	if (r < 0)
		return log_fail(r, "adding the staged modules", src, NULL,
		                "check the space in TMPDIR");
	if (b->mods.implied.n) {
		_cleanup_free_ char *conf = path_join(b->stage, MODSET_CONF);
		r = fileset_add_file(&b->set, MODSET_CONF, conf, 0644);
		if (r < 0)
			return log_fail(r, "adding", MODSET_CONF, NULL, "this is a bug");
		for (size_t i = 0; i < b->mods.implied.n; i++)
			verbose(b, "config", MODSET_CONF, b->mods.implied.v[i]);
	}
	for (size_t i = 0; i < b->mods.n; i++)
		verbose(b, "module", b->mods.v[i].name, b->mods.v[i].reason);
	for (size_t i = 0; i < b->mods.builtin.n; i++)
		verbose(b, "builtin", b->mods.builtin.v[i], "built into the kernel: no file");
	return 0;
}

/* ---- programs and libraries -------------------------------------------------------- */

static int add_host_file(struct builder *b, const char *path, const char *kind, const char *reason)
{
	int r = fileset_add_host_path(&b->set, "/", path, NULL);
	if (r < 0)
		return log_fail(r, kind, path, NULL,
		                "check the file (a program must be a regular file or a symlink "
		                "to one)");
	verbose(b, kind, path, reason);
	return 0;
}

/* The interpreter of a "#!" script, or NULL. */
static char *script_interpreter(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char line[PATH_MAX + 3];
	if (!fgets(line, sizeof(line), f) || !startswith(line, "#!"))
		return NULL;
	char *s = line + 2;
	s += strspn(s, " \t");
	size_t n = strcspn(s, " \t\n");
	return n ? xstrndup(s, n) : NULL;
}

/* The loader's default directories for program's kind: libraries outside them (found
 * through ld.so.conf) need a link into /usr/lib, since the archive has no ld.so.cache. */
static void link_outside_libs(struct builder *b, size_t from, const struct elf_info *prog)
{
	struct strv builtin = {0};
	elf_default_search_dirs(prog, NULL, &builtin);
	for (size_t i = from; i < b->libs.n; i++) {
		const char *lib = b->libs.v[i];
		if (streq_ptr(lib, prog->interp))
			continue;
		_cleanup_free_ char *dir = xstrdup(lib);
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			continue;
		*slash = '\0';
		if (strv_contains(&builtin, dir))
			continue;
		_cleanup_free_ char *link = xasprintf("usr/lib/%s", slash + 1);
		if (!fileset_find(&b->set, link))
			(void)fileset_add_symlink(&b->set, link, lib);
	}
	strv_free(&builtin);
}

static int add_program(struct builder *b, const char *path, const char *reason, unsigned depth)
{
	const char *shown = streq(path, SELF) ? "loopboot (/proc/self/exe)" : path;
	if (!streq(path, SELF)) {
		int r = add_host_file(b, path, "binary", reason);
		if (r < 0)
			return r;
	}
	struct elf_info prog = {0};
	int r = elf_read(path, &prog);
	if (r == -ENOEXEC) {
		_cleanup_free_ char *interp = script_interpreter(path);
		if (!interp || interp[0] != '/')
			return log_fail(ENOEXEC, "program", shown,
			                "neither an ELF program nor a #! script with an absolute "
			                "interpreter",
			                "give the path of a program");
		if (depth >= MAX_SCRIPT_DEPTH)
			return log_fail(ELOOP, "script interpreter", interp, NULL,
			                "interpreters nest too deep");
		_cleanup_free_ char *why = xasprintf("interpreter of %s", shown);
		if (strv_contains(&b->binaries, interp))
			return 0;
		strv_push(&b->binaries, xstrdup(interp));
		return add_program(b, interp, why, depth + 1);
	}
	if (r < 0)
		return log_fail(r, "reading the program", shown,
		                r == -EBADMSG ? "a damaged ELF file" : NULL,
		                "give the path of an intact program");

	struct strv dirs = {0};
	elf_default_search_dirs(&prog, "/etc/ld.so.conf", &dirs);
	size_t before = b->libs.n;
	_cleanup_free_ char *missing = NULL, *needed_by = NULL;
	r = elf_collect_deps(path, &dirs, &b->libs, NULL, &missing, &needed_by);
	strv_free(&dirs);
	if (r == -ENOENT && missing) {
		_cleanup_free_ char *why = xasprintf("needed by %s, not found", needed_by);
		elf_info_done(&prog);
		return log_fail(r, "library", missing, why,
		                "install the package that has it, or add its directory to "
		                "/etc/ld.so.conf");
	}
	if (r < 0) {
		elf_info_done(&prog);
		return log_fail(r, "reading the libraries of", needed_by ? needed_by : shown, NULL,
		                "check the file");
	}
	_cleanup_free_ char *why = xasprintf("for %s", shown);
	for (size_t i = before; i < b->libs.n; i++) {
		r = add_host_file(b, b->libs.v[i], "library", why);
		if (r < 0) {
			elf_info_done(&prog);
			return r;
		}
	}
	link_outside_libs(b, before, &prog);
	elf_info_done(&prog);
	return 0;
}

static int collect_programs(struct builder *b)
{
	/* loopboot itself, as /init, with the libraries it runs with. */
	int r = fileset_add_file(&b->set, "init", SELF, 0755);
	if (r < 0)
		return log_fail(r, "adding", "/init", NULL, "this is a bug");
	verbose(b, "binary", "/init", "loopboot itself");
	r = add_program(b, SELF, "loopboot itself", 0);
	if (r < 0)
		return r;

	/* FUSE drivers: by default each installed one whose file system the kernel lacks
	 * (and ntfs-3g), with --host-only those in use (already in b->binaries). */
	struct strv wanted = {0};
	size_t n_helpers;
	const struct fs_helper *fh = fs_helpers(&n_helpers);
	for (size_t i = 0; !b->o->host_only && i < n_helpers; i++) {
		if (!fh[i].fuse[0])
			continue;
		const char *fs = fh[i].fuse_always ? NULL : fh[i].module;
		if (fs && (modset_find(&b->mods, fs) || strv_contains(&b->mods.builtin, fs))) {
			verbose(b, "skipped", fh[i].fuse[0],
			        "the kernel has its file system (add it with --add-binary)");
			continue;
		}
		char *p = find_program(fh[i].fuse[0], PROGRAM_SEARCH_STANDARD);
		if (p)
			strv_push(&wanted, p);
	}
	for (size_t i = 0; i < b->binaries.n; i++)
		if (!strv_contains(&wanted, b->binaries.v[i]))
			strv_push(&wanted, xstrdup(b->binaries.v[i]));
	strv_free(&b->binaries);
	for (size_t i = 0; i < wanted.n && r >= 0; i++) {
		strv_push(&b->binaries, xstrdup(wanted.v[i]));
		r = add_program(b, wanted.v[i], "FUSE driver", 0);
	}
	strv_free(&wanted);
	if (r < 0)
		return r;
	for (size_t i = 0; !b->o->host_only && i < n_helpers && r >= 0; i++) {
		_cleanup_free_ char *p =
		    fh[i].fsck ? find_program(fh[i].fsck, PROGRAM_SEARCH_STANDARD) : NULL;
		if (p && !strv_contains(&b->binaries, p)) {
			strv_push(&b->binaries, xstrdup(p));
			r = add_program(b, p, "file system checker", 0);
		}
	}
	if (r < 0)
		return r;

	for (size_t i = 0; i < b->o->add_binaries.n; i++) {
		const char *arg = b->o->add_binaries.v[i];
		_cleanup_free_ char *path = NULL;
		if (!strchr(arg, '/')) {
			path = find_program(arg, PROGRAM_SEARCH_PATH);
			if (!path)
				return log_fail(ENOENT, "--add-binary", arg, "not found in $PATH",
				                "give the full path of the program");
		} else if (arg[0] != '/') {
			_cleanup_free_ char *cwd = getcwd(NULL, 0);
			if (!cwd)
				return log_fail(errno, "--add-binary", arg, NULL,
				                "give an absolute path");
			path = path_join(cwd, arg);
		} else {
			path = xstrdup(arg);
		}
		r = stat_regular(path);
		if (r < 0)
			return log_fail(r, "--add-binary", path,
			                r == -EINVAL ? "not a regular file" : NULL,
			                r == -EINVAL ? "give the path of a program"
			                             : "give the path of an installed program");
		if (strv_contains(&b->binaries, path))
			continue;
		strv_push(&b->binaries, xstrdup(path));
		r = add_program(b, path, "--add-binary", 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The keyboard modules when a shell went in (--add-binary /bin/busybox, say). */
static int add_shell_keyboard(struct builder *b)
{
	bool shell = false;
	for (size_t i = 0; i < ARRAY_SIZE(shell_paths); i++)
		shell = shell || fileset_find(&b->set, shell_paths[i]);
	if (!shell)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(shell_keyboard); i++) {
		int r = modset_add(&b->mods, shell_keyboard[i], "a keyboard for the shell", NULL);
		if (r < 0)
			return log_fail(r, "looking up the module", shell_keyboard[i], NULL,
			                "check %s", b->modules_dir);
	}
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && streq(s + n - m, suffix);
}

/* Where the dynamic loader would find soname for us: the libraries loopboot dlopen()s.
 * *ret: the path, NULL when it is not installed. Returns 0 or -errno (said). */
static int find_dlopen_library(const char *soname, char **ret)
{
	struct elf_info self = {0};
	int r = elf_read(SELF, &self);
	if (r < 0)
		return log_fail(r, "reading", "/proc/self/exe", NULL, "this is a bug");
	struct strv dirs = {0};
	elf_default_search_dirs(&self, "/etc/ld.so.conf", &dirs);
	*ret = elf_find_library(soname, &self, &dirs);
	strv_free(&dirs);
	elf_info_done(&self);
	return 0;
}

/* A library no ELF needs (loopboot dlopen()s it), with its own dependencies. */
static int add_dlopen_library(struct builder *b, const char *lib, const char *why)
{
	if (strv_contains(&b->libs, lib))
		return 0;
	strv_push(&b->libs, xstrdup(lib));
	return add_program(b, lib, why, 0);
}

/* The decompressors libkmod dlopen()s, for the module formats in the set. */
static int add_module_decompressors(struct builder *b)
{
	int r = 0;
	for (size_t k = 0; k < ARRAY_SIZE(module_decompressors) && r >= 0; k++) {
		const char *suffix = module_decompressors[k].suffix;
		const char *soname = module_decompressors[k].soname;
		bool used = false;
		for (size_t i = 0; i < b->mods.n && !used; i++)
			used = has_suffix(b->mods.v[i].path, suffix);
		if (!used)
			continue;
		_cleanup_free_ char *lib = NULL;
		r = find_dlopen_library(soname, &lib);
		if (r < 0)
			break;
		if (!lib) {
			fprintf(
			    stderr,
			    "loopboot: warning: %s: not found, for the %s modules — unless the "
			    "kernel decompresses them itself (CONFIG_MODULE_DECOMPRESS), install "
			    "the library\n",
			    soname, suffix);
			continue;
		}
		_cleanup_free_ char *why = xasprintf("decompressor for the %s modules", suffix);
		r = add_dlopen_library(b, lib, why);
	}
	return r;
}

/* BitLocker hosts: libcryptsetup, which loopboot dlopen()s when it meets one, with the
 * libraries it needs (--bitlocker, or --host-only on a BitLocker host). */
static int add_bitlocker_library(struct builder *b)
{
	if (!b->bitlocker)
		return 0;
	_cleanup_free_ char *lib = NULL;
	int r = find_dlopen_library(BITLOCKER_LIBRARY, &lib);
	if (r < 0)
		return r;
	if (!lib)
		return log_fail(ENOENT, "--bitlocker", BITLOCKER_LIBRARY, "not installed",
		                "install it (Debian: apt-get install libcryptsetup12)");
	return add_dlopen_library(b, lib, "BitLocker hosts (loopboot loads it with dlopen)");
}

/* --network: the programs the engine runs for a network host, the CA bundle curl is given
 * (--cacert) for https, and the modules. ipconfig and nbd-client are required; without
 * curl only loop=http:// cannot work, which a warning says. */
static int add_network(struct builder *b)
{
	if (!b->o->network)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(network_modules); i++) {
		int r = add_default_list(b, &network_modules[i], 1, "--network");
		if (r < 0)
			return r;
	}

	static const struct {
		const char *name, *package, *needed_for;
		bool required;
	} programs[] = {
	    {"ipconfig", "klibc-utils", "the network configuration (ip=)", true},
	    {"nbd-client", "nbd-client", "root=nbd:", true},
	    {"curl", "curl", "loop=http:// and https://", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(programs); i++) {
		_cleanup_free_ char *path =
		    streq(programs[i].name, "ipconfig")
		        ? net_find_ipconfig()
		        : find_program(programs[i].name, PROGRAM_SEARCH_STANDARD);
		if (!path && programs[i].required) {
			_cleanup_free_ char *why =
			    xasprintf("not installed (needed for %s)", programs[i].needed_for);
			return log_fail(ENOENT, "--network", programs[i].name, why,
			                "install it (Debian: apt-get install %s), or build without "
			                "--network",
			                programs[i].package);
		}
		if (!path) {
			fprintf(
			    stderr,
			    "loopboot: warning: --network: %s is not installed: %s will not work "
			    "from this initramfs — install it (Debian: apt-get install %s) and "
			    "build again\n",
			    programs[i].name, programs[i].needed_for, programs[i].package);
			continue;
		}
		if (strv_contains(&b->binaries, path))
			continue;
		strv_push(&b->binaries, xstrdup(path));
		_cleanup_free_ char *why = xasprintf("--network: %s", programs[i].needed_for);
		int r = add_program(b, path, why, 0);
		if (r < 0)
			return r;
		if (streq(programs[i].name, "curl")) {
			if (stat_regular(NETWORK_CA_BUNDLE) < 0) {
				fprintf(
				    stderr,
				    "loopboot: warning: --network: %s: not there: loop=https:// "
				    "will not work from this initramfs — install ca-certificates "
				    "and build again\n",
				    NETWORK_CA_BUNDLE);
				continue;
			}
			r = fileset_add_file(&b->set, NETWORK_CA_BUNDLE, NETWORK_CA_BUNDLE, 0644);
			if (r < 0)
				return log_fail(r, "adding", NETWORK_CA_BUNDLE, NULL,
				                "check the file");
			verbose(b, "file", NETWORK_CA_BUNDLE, "--network: CA bundle for https");
		}
	}
	return 0;
}

/* ---- stripping --------------------------------------------------------------------- */

/*
 * Programs and libraries that carry debugging information (a loopboot built by Meson's
 * default debugoptimized type: 1.3 MiB, 0.36 MiB without) go in without it, as dracut does
 * them: `strip --strip-debug` writes a copy into the staging directory, which the archive
 * then takes. Symbols stay, so backtraces keep their names. Modules and their indexes are
 * never touched: a module's signature covers its bytes. Without strip (binutils), the
 * files go in as they are.
 */
static int strip_programs(struct builder *b)
{
	if (b->o->no_strip)
		return 0;
	_cleanup_free_ char *strip = NULL;
	_cleanup_free_ char *self = xasprintf("/proc/%d/exe", (int)getpid());
	for (size_t i = 0; i < b->set.n; i++) {
		struct fileset_entry *e = &b->set.v[i];
		if (e->type != FILESET_FILE || !e->source ||
		    (b->stage && startswith(e->source, b->stage)))
			continue;
		/* strip runs as another process: its /proc/self would be strip. */
		const char *src = streq(e->source, SELF) ? self : e->source;
		struct elf_info info;
		if (elf_read(src, &info) < 0)
			continue; /* not ELF (a script): nothing to strip */
		bool debug = info.debug_sections;
		elf_info_done(&info);
		if (!debug)
			continue;
		if (!strip) {
			strip = find_program("strip", PROGRAM_SEARCH_PATH);
			if (!strip) {
				verbose(b, "note", e->path,
				        "has debugging information; strip (binutils) is not "
				        "installed, so it goes in as it is");
				return 0;
			}
		}
		_cleanup_free_ char *dst = xasprintf("%s/stripped/%s", b->stage, e->path);
		_cleanup_free_ char *dir = xstrdup(dst);
		*strrchr(dir, '/') = '\0';
		int r = mkdir_p(dir, 0700);
		if (r < 0)
			return log_fail(r, "creating", dir, NULL, "check $TMPDIR");
		char *argv[] = {strip, "--strip-debug", "-o", dst, (char *)src, NULL};
		struct process_result res;
		r = process_run(NULL, argv, NULL, &res);
		if (r < 0) {
			_cleanup_free_ char *how = process_result_message(&res);
			return log_fail(r, "stripping the debugging information of", src,
			                r == -EPROTO ? "strip failed (see its message above)" : how,
			                "use --no-strip to take the file as it is");
		}
		free(e->source);
		e->source = xstrdup(dst);
		verbose(b, "stripped", e->path, "debugging information removed");
	}
	return 0;
}

/* ---- the skeleton ------------------------------------------------------------------ */

static int add_skeleton(struct builder *b)
{
	/* Merged /usr, as Debian 12: everything else lands below usr/ through these. */
	static const struct {
		const char *path, *target;
	} links[] = {
	    {"bin", "usr/bin"},
	    {"sbin", "usr/sbin"},
	    {"lib", "usr/lib"},
	    {"lib64", "usr/lib64"},
	    /* The kernel runs /sbin/modprobe for request_module(); main.c answers as
	     * modprobe when called by that name. */
	    {"usr/sbin/modprobe", "/init"},
	    /* For libmount and the FUSE drivers, which look at the mount table. */
	    {"etc/mtab", "/proc/self/mounts"},
	};
	static const struct {
		const char *path;
		mode_t mode;
	} dirs[] = {
	    {"dev", 0755},      {"proc", 0755},    {"sys", 0755},       {"run", 0755},
	    {"root", 0755},     {"tmp", 01777},    {"etc", 0755},       {"usr/bin", 0755},
	    {"usr/sbin", 0755}, {"usr/lib", 0755}, {"usr/lib64", 0755},
	};
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && r >= 0; i++)
		r = fileset_add_dir(&b->set, dirs[i].path, dirs[i].mode);
	for (size_t i = 0; i < ARRAY_SIZE(links) && r >= 0; i++)
		r = fileset_add_symlink(&b->set, links[i].path, links[i].target);
	if (r >= 0)
		r = fileset_add_device(&b->set, "dev/console", S_IFCHR, 0600, 5, 1);
	if (r >= 0)
		r = fileset_add_device(&b->set, "dev/null", S_IFCHR, 0666, 1, 3);
	if (r < 0)
		return log_fail(r, "building the skeleton", "/", NULL, "this is a bug");
	return 0;
}

/* ---- writing ----------------------------------------------------------------------- */

/*
 * Each method's program, with fixed arguments, so the same input gives the same bytes:
 * gzip without name and time (-n); zstd and xz single-threaded. The kernel's xz decoder
 * wants CRC32 (or no) checks, and allocates the whole dictionary: 8 MiB instead of -9's
 * 64 MiB.
 */
static const struct {
	const char *program;
	const char *args[5]; /* ended by NULL */
} compressors[] = {
    [COMPRESS_ZSTD] = {"zstd", {"-q", "-19", "-T1", "-c"}},
    [COMPRESS_GZIP] = {"gzip", {"-n", "-9", "-c"}},
    [COMPRESS_XZ] = {"xz", {"--check=crc32", "--lzma2=preset=9,dict=8MiB", "-T1", "-c"}},
};

static char *compressor_path(int method)
{
	if (method < 0 || (size_t)method >= ARRAY_SIZE(compressors))
		return NULL;
	return find_program(compressors[method].program, PROGRAM_SEARCH_PATH);
}

static void compressor_argv(int method, char *path, char *argv[8])
{
	int n = 0;
	argv[n++] = path;
	for (size_t i = 0; compressors[method].args[i]; i++)
		argv[n++] = (char *)compressors[method].args[i];
	argv[n] = NULL;
}

static int write_cpio(struct builder *b, int fd)
{
	struct cpio *c = xmalloc(sizeof(*c));
	cpio_init(c, fd, b->mtime);
	const char *failed = NULL;
	int r = fileset_write(&b->set, c, &failed);
	b->uncompressed = c->written;
	free(c);
	if (r < 0) {
		const struct fileset_entry *e = failed ? fileset_find(&b->set, failed) : NULL;
		const char *src = e && e->source ? e->source : failed;
		if (r == -EPIPE)
			return -EPIPE; /* the compressor died: its status says more */
		return log_fail(r, "writing the archive entry", src ? src : "(trailer)", NULL,
		                "check the file and the space on the output's file system");
	}
	return 0;
}

static int write_archive(struct builder *b, int method, const char *compressor, int out_fd)
{
	if (method == COMPRESS_NONE)
		return write_cpio(b, out_fd);

	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return log_fail(errno, "creating a pipe", compressor, NULL, "check the limits");
	char *argv[8];
	compressor_argv(method, (char *)compressor, argv);
	const struct process_options through = {
	    .stdio = {STDIO_FD(pipefd[0]), STDIO_FD(out_fd)},
	};
	struct process_result res;
	pid_t pid;
	int r = process_spawn(NULL, argv, &through, &pid, &res);
	close(pipefd[0]);
	if (r < 0) {
		close(pipefd[1]);
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(r, "starting the compressor", compressor, how,
		                "install it, or use --compress none");
	}
	int wr = write_cpio(b, pipefd[1]);
	close(pipefd[1]);
	r = process_wait(pid, 0, &res);
	if (wr < 0 && wr != -EPIPE)
		return wr;
	if (r < 0) {
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(r, "compressing with", compressor, how,
		                res.end == PROCESS_LOST ? "try again"
		                : res.end == PROCESS_EXITED
		                    ? "see its message above; check the space on the output's file "
		                      "system"
		                    : "see its message above");
	}
	if (wr < 0)
		return log_fail(wr, "compressing with", compressor, NULL, "see its message above");
	return 0;
}

static char *human_size(uint64_t bytes)
{
	if (bytes >= 1024 * 1024)
		return xasprintf("%.1f MiB", (double)bytes / (1024.0 * 1024.0));
	if (bytes >= 1024)
		return xasprintf("%.1f KiB", (double)bytes / 1024.0);
	return xasprintf("%" PRIu64 " bytes", bytes);
}

static int write_output(struct builder *b, int method, const char *compressor)
{
	const char *output = b->o->output;
	_cleanup_free_ char *copy = xstrdup(output);
	char *slash = strrchr(copy, '/');
	const char *dir = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
	const char *base = strrchr(output, '/') ? strrchr(output, '/') + 1 : output;
	if (!*base)
		return log_fail(EISDIR, "output", output, "names a directory",
		                "give a file name, e.g. -o /boot/initrd.img-%s-loopboot",
		                b->version);
	if (is_dir(output))
		return log_fail(EISDIR, "output", output, NULL,
		                "give a file name, e.g. %s/initrd.img-%s-loopboot", output,
		                b->version);
	if (!is_dir(dir))
		return log_fail(ENOENT, "output directory", dir, NULL, "create it first");

	_cleanup_free_ char *tmpl = xasprintf("%s/.%s.XXXXXX", dir, base);
	if (strlen(tmpl) >= sizeof(tmp_output))
		return log_fail(ENAMETOOLONG, "output", output, NULL, "use a shorter path");
	_cleanup_close_ int fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return log_fail(errno, "creating a file in", dir, NULL,
		                "check that it is writable and not full");
	snprintf(tmp_output, sizeof(tmp_output), "%s", tmpl);

	int r = 0;
	if (fchmod(fd, 0644) < 0)
		r = log_fail(errno, "setting the mode of", tmpl, NULL, "check the file system");
	if (r >= 0)
		r = write_archive(b, method, compressor, fd);
	if (r >= 0 && fsync(fd) < 0)
		r = log_fail(errno, "writing", tmpl, NULL, "check the space and the device");
	if (r >= 0) {
		int fd2 = fd;
		fd = -1;
		if (close(fd2) < 0)
			r = log_fail(errno, "writing", tmpl, NULL,
			             "check the space and the device");
	}
	if (r >= 0 && rename(tmpl, output) < 0)
		r = log_fail(errno, "renaming the new initramfs to", output, NULL,
		             "check that the directory is writable");
	if (r < 0)
		unlink(tmpl);
	tmp_output[0] = '\0';
	return r;
}

/* ---- main -------------------------------------------------------------------------- */

static void builder_done(struct builder *b)
{
	if (b->stage) {
		(void)rm_rf(b->stage);
		free(b->stage);
	}
	if (b->mods_open)
		modset_done(&b->mods);
	fileset_free(&b->set);
	strv_free(&b->libs);
	strv_free(&b->binaries);
	free(b->version);
	free(b->modules_dir);
}

static int build(struct builder *b)
{
	const struct options *o = b->o;
	int r = parse_epoch(&b->mtime);
	if (r < 0)
		return r;

	int method = o->compress;
	_cleanup_free_ char *compressor = NULL;
	if (method < 0) {
		compressor = compressor_path(COMPRESS_ZSTD);
		method = COMPRESS_ZSTD;
		if (!compressor) {
			compressor = compressor_path(COMPRESS_GZIP);
			method = COMPRESS_GZIP;
		}
		if (!compressor)
			return log_fail(ENOENT, "compressor", "zstd or gzip",
			                "neither is installed",
			                "install zstd, or use --compress none");
	} else if (method != COMPRESS_NONE) {
		compressor = compressor_path(method);
		if (!compressor)
			return log_fail(ENOENT, "compressor", compress_names[method],
			                "not installed",
			                "install it, or choose another --compress");
	}

	/* What goes in, in the order each step needs the ones before it. */
	static int (*const steps[])(struct builder * b) = {
	    open_modules,       add_skeleton,   collect_modules,          collect_programs,
	    add_shell_keyboard, add_network,    add_module_decompressors, add_bitlocker_library,
	    stage_modules,      strip_programs,
	};
	for (size_t i = 0; i < ARRAY_SIZE(steps) && r >= 0; i++)
		r = steps[i](b);
	if (r < 0)
		return r;

	if (o->verbose)
		for (size_t i = 0; i < b->set.n; i++)
			if (b->set.v[i].type == FILESET_SYMLINK)
				verbose(b, "symlink", b->set.v[i].path, b->set.v[i].target);

	r = write_output(b, method, compressor);
	if (r < 0)
		return r;

	struct stat st;
	_cleanup_free_ char *size =
	    human_size(stat(o->output, &st) == 0 ? (uint64_t)st.st_size : 0);
	if (o->verbose) {
		_cleanup_free_ char *raw = human_size(b->uncompressed);
		printf("%zu entries, %s uncompressed\n", b->set.n, raw);
	}
	size_t n_bin = b->binaries.n + 1; /* + /init */
	printf("loopboot: wrote %s: %s (%s), %zu module%s, %zu binar%s, %zu librar%s\n", o->output,
	       size, compress_names[method], b->mods.n, b->mods.n == 1 ? "" : "s", n_bin,
	       n_bin == 1 ? "y" : "ies", b->libs.n, b->libs.n == 1 ? "y" : "ies");
	fflush(stdout);
	return 0;
}

int initrd_main(int argc, char **argv)
{
	struct options o;
	int r = parse_args(argc, argv, &o);
	if (r >= 0) {
		options_done(&o);
		return r;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A compressor that dies shows as EPIPE and its exit status, not as our death. */
	signal(SIGPIPE, SIG_IGN);

	struct builder b = {.o = &o};
	r = build(&b);
	builder_done(&b);
	options_done(&o);
	return r < 0 ? 1 : 0;
}
