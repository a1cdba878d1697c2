/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/install.h"
#include "tools/initramfs.h"

#include "engine/plan.h"

#include <ctype.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>

#include "basic/copy.h"
#include "basic/log.h"
#include "basic/options.h"
#include "basic/mounttable.h"
#include "basic/process.h"
#include "basic/strbuf.h"
#include "engine/device.h"
#include "engine/helpers.h"
#include "engine/loopdev.h"
#include "engine/mounts.h"
#include "tools/create.h"

#define DEFAULT_SUITE    "bookworm"
#define DEFAULT_MIRROR   "http://deb.debian.org/debian"
#define DEFAULT_HOSTNAME "loopboot"
#define LOG_TAIL_LINES   15
#define FILE_MIRROR_HOOK "/usr/share/mmdebstrap/hooks/file-mirror-automount"

/* ---- the pure parts ---------------------------------------------------------------------- */

bool install_valid_hostname(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 253)
		return false;
	for (const char *label = name; *label;) {
		size_t len = strcspn(label, ".");
		if (len == 0 || len > 63 || label[0] == '-' || label[len - 1] == '-')
			return false;
		for (size_t i = 0; i < len; i++)
			if (!islower((unsigned char)label[i]) &&
			    !isdigit((unsigned char)label[i]) && label[i] != '-')
				return false;
		label += len;
		if (*label == '.' && !*++label)
			return false; /* a trailing dot */
	}
	return true;
}

bool install_valid_user(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 32 || !(islower((unsigned char)name[0]) || name[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

/* Whether s is suite or one of its siblings (bookworm-updates, bookworm-security). */
static bool suite_family(const char *s, const char *suite)
{
	const char *rest = startswith(s, suite);
	return rest && (!*rest || streq(rest, "-updates") || streq(rest, "-security") ||
	                streq(rest, "-backports"));
}

static void add_mirror(struct strv *ret, const char *uri, const char *suite, const char *comps)
{
	char *line = xasprintf("deb %s %s %s", uri, suite, *comps ? comps : "main");
	if (strv_contains(ret, line))
		free(line);
	else
		strv_push(ret, line);
}

/* Whether word is one of the blank-separated words of s. */
static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = s; (p = strstr(p, word)); p += n)
		if ((p == s || isspace((unsigned char)p[-1])) &&
		    (!p[n] || isspace((unsigned char)p[n])))
			return true;
	return false;
}

/* One stanza of a deb822 .sources file: its Types, URIs, Suites and Components. */
static void mirrors_from_stanza(char *const *fields, const char *suite, struct strv *ret)
{
	const char *types = fields[0], *uris = fields[1], *suites = fields[2], *comps = fields[3];
	if (!types || !uris || !suites || !has_word(types, "deb"))
		return;
	_cleanup_free_ char *s = xstrdup(suites), *c = xstrdup(comps ? comps : "main");
	for (char *save = NULL, *w = strtok_r(s, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (!suite_family(w, suite))
			continue;
		_cleanup_free_ char *u = xstrdup(uris);
		for (char *save2 = NULL, *uri = strtok_r(u, " \t", &save2); uri;
		     uri = strtok_r(NULL, " \t", &save2))
			add_mirror(ret, uri, w, c);
	}
}

static void mirrors_from_deb822(const char *text, const char *suite, struct strv *ret)
{
	static const char *const keys[] = {"Types:", "URIs:", "Suites:", "Components:"};
	char *fields[4] = {NULL};
	_cleanup_free_ char *copy = xstrdup(text);
	for (char *line = copy, *next;; line = next) {
		next = line ? strchr(line, '\n') : NULL;
		if (next)
			*next++ = '\0';
		bool end = !line || !*strip_trailing(line);
		if (end) { /* a blank line ends a stanza */
			mirrors_from_stanza(fields, suite, ret);
			for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
				free(fields[i]), fields[i] = NULL;
			if (!line || !next)
				break;
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			const char *v = startswith(line, keys[i]);
			if (v) {
				free(fields[i]);
				fields[i] = xstrdup(v + strspn(v, " \t"));
			}
		}
	}
}

static void mirrors_from_list(const char *text, const char *suite, struct strv *ret)
{
	_cleanup_free_ char *copy = xstrdup(text);
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *w[16];
		size_t n = 0;
		for (char *s2 = NULL, *t = strtok_r(line, " \t", &s2); t && n < ARRAY_SIZE(w);
		     t = strtok_r(NULL, " \t", &s2))
			w[n++] = t;
		if (n < 3 || !streq(w[0], "deb"))
			continue;
		size_t i = 1;
		if (w[1][0] == '[') /* options: [arch=amd64 signed-by=...] */
			while (i < n && !strchr(w[i], ']'))
				i++;
		if (w[1][0] == '[')
			i++;
		if (i + 1 >= n || !suite_family(w[i + 1], suite))
			continue;
		struct strbuf comps = {0};
		for (size_t j = i + 2; j < n; j++)
			strbuf_printf(&comps, "%s%s", j > i + 2 ? " " : "", w[j]);
		_cleanup_free_ char *c = strbuf_steal(&comps);
		add_mirror(ret, w[i], w[i + 1], c);
	}
}

void install_mirrors_from_sources(const char *text, bool deb822, const char *suite,
                                  struct strv *ret)
{
	if (deb822)
		mirrors_from_deb822(text, suite, ret);
	else
		mirrors_from_list(text, suite, ret);
}

char *install_fstab_line(const char *uuid, const char *fstype)
{
	/* As the Debian installer writes them: ext4 remounts read-only on errors and is
	 * checked first; xfs and btrfs have no boot-time check. */
	if (streq(fstype, "ext4"))
		return xasprintf("UUID=%s / ext4 errors=remount-ro 0 1\n", uuid);
	return xasprintf("UUID=%s / %s defaults 0 0\n", uuid, fstype);
}

/* ---- what is asked --------------------------------------------------------------------- */

struct install_options {
	struct create_request img;
	const char *suite, *mirror, *variant, *packages, *hostname;
	const char *root_password_file, *user, *user_password_file;
	const char *deb, *cache;
	bool keep_on_failure;
};

static const char usage[] =
    "Usage: loopboot install FILE --size SIZE [OPTIONS]\n"
    "Makes FILE as loopboot create does and installs Debian into it with mmdebstrap: the\n"
    "kernel, systemd, initramfs-tools, loopboot (its hook in the image's own initramfs)\n"
    "and the host's FUSE driver where the kernel lacks it. Prints the command line that\n"
    "boots it.\n"
    "  --size SIZE                 the image's size (K, M, G, T)\n"
    "  --fs ext4|xfs|btrfs         its file system (default ext4)\n"
    "  --suite SUITE               default: the running Debian's, else bookworm\n"
    "  --mirror URL                default: the running system's apt sources\n"
    "  --variant minbase|important|standard   mmdebstrap's (default important)\n"
    "  --packages P,...            more packages\n"
    "  --hostname NAME             default loopboot\n"
    "  --root-password-file F      root's password, the first line of F\n"
    "  --user NAME --user-password-file F   a user (in group sudo when sudo is there)\n"
    "  --deb FILE                  the loopboot package to install (default: the one make\n"
    "                              deb built beside this program, or apt's cache)\n"
    "  --cache DIR                 keep downloaded packages in DIR and use them again\n"
    "  --keep-on-failure           keep an unfinished image (as FILE.unfinished)\n"
    "Without a password option it asks for root's on the terminal.\n";

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct install_options *o)
{
	const char *size = NULL, *fs = "ext4";
	*o = (struct install_options){.variant = "important", .hostname = DEFAULT_HOSTNAME};
	int r = OPTS_PARSE(
	    argc, argv, 0, usage, OPT_STRING("size", 0, &size), OPT_STRING("fs", 0, &fs),
	    OPT_STRING("label", 'L', &o->img.label),
	    OPT_FLAG("keep-on-failure", 0, &o->keep_on_failure), OPT_STRING("suite", 0, &o->suite),
	    OPT_STRING("mirror", 0, &o->mirror), OPT_STRING("variant", 0, &o->variant),
	    OPT_STRING("packages", 0, &o->packages), OPT_STRING("hostname", 0, &o->hostname),
	    OPT_STRING("root-password-file", 0, &o->root_password_file),
	    OPT_STRING("user", 0, &o->user),
	    OPT_STRING("user-password-file", 0, &o->user_password_file),
	    OPT_STRING("deb", 0, &o->deb), OPT_STRING("cache", 0, &o->cache));
	if (r >= 0)
		return r;
	if (optind + 1 != argc)
		return opts_usage_error("install", "%s",
		                        optind >= argc ? "the image FILE is missing"
		                                       : "give one FILE, then the options");
	o->img.path = argv[optind];
	if (create_request_parse("install", size, fs, &o->img) < 0)
		return 2;
	return -1;
}

static int check_options(const struct install_options *o)
{
	static const char *const variants[] = {"minbase", "important", "standard"};
	bool variant = false;
	for (size_t i = 0; i < ARRAY_SIZE(variants); i++)
		variant = variant || streq(o->variant, variants[i]);
	if (!variant)
		return opts_usage_error(
		    "install", "--variant %s: use minbase, important or standard", o->variant);
	if (!install_valid_hostname(o->hostname))
		return opts_usage_error("install",
		                        "--hostname %s: a host name is letters a-z, digits and '-' "
		                        "(dots between labels)",
		                        o->hostname);
	if (o->user && !install_valid_user(o->user))
		return opts_usage_error("install",
		                        "--user %s: a user name is a-z, digits, '_' and '-', "
		                        "starting with a letter",
		                        o->user);
	if (!!o->user != !!o->user_password_file)
		return opts_usage_error("install", "%s",
		                        o->user ? "--user needs --user-password-file"
		                                : "--user-password-file needs --user");
	if (o->packages && strpbrk(o->packages, " \t\n'\"\\$`;|&<>"))
		return opts_usage_error(
		    "install", "--packages %s: package names separated by commas", o->packages);
	if (o->mirror && strpbrk(o->mirror, " \t\n'\"\\"))
		return opts_usage_error("install", "--mirror %s: one URL", o->mirror);
	if (o->suite && (!*o->suite || strpbrk(o->suite, " \t\n/'\"\\")))
		return opts_usage_error("install", "--suite %s: a suite name, e.g. bookworm",
		                        o->suite);
	return -1;
}

/* ---- what goes in ------------------------------------------------------------------------ */

struct install {
	struct install_options o;
	char *suite;
	struct strv mirrors;
	char *deb;        /* the loopboot package, absolute */
	const char *fuse; /* the host's FUSE driver package, or NULL */
	bool bitlocker;   /* the host is inside a BitLocker volume: libcryptsetup12 goes in */
	char *root_password, *user_password;
	char *work; /* private: the customize script, passwords, the mount point */
	char *log;  /* mmdebstrap's log, beside the image */
	char *uuid; /* the image's file system */
	struct loopdev loop;
	bool created, mounted;
};

/* The first line of a file, as a password. */
static int read_password_file(const char *path, char **ret)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, &text, NULL);
	if (r < 0)
		return log_fail(r, "install: reading the password file", path, NULL,
		                "give a readable file whose first line is the password");
	text[strcspn(text, "\r\n")] = '\0';
	if (!*text)
		return log_fail(EINVAL, "install: password file", path, "its first line is empty",
		                "write the password on the first line");
	*ret = xstrdup(text);
	return 0;
}

/* A password typed twice on the terminal, without echo. -ENOTTY: there is no terminal. */
static int ask_password(const char *who, char **ret)
{
	_cleanup_fclose_ FILE *tty = fopen("/dev/tty", "r+e");
	if (!tty)
		return -ENOTTY;
	struct termios old, quiet;
	if (tcgetattr(fileno(tty), &old) < 0)
		return -ENOTTY;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	for (int attempt = 0; attempt < 3; attempt++) {
		char a[256] = "", b[256] = "";
		fprintf(tty, "Password for %s in the new system: ", who);
		fflush(tty);
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
		bool ok = fgets(a, sizeof(a), tty) != NULL;
		fprintf(tty, "\nAgain: ");
		fflush(tty);
		ok = ok && fgets(b, sizeof(b), tty) != NULL;
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputc('\n', tty);
		a[strcspn(a, "\r\n")] = b[strcspn(b, "\r\n")] = '\0';
		if (ok && *a && streq(a, b)) {
			*ret = xstrdup(a);
			return 0;
		}
		fprintf(tty, "%s\n", ok && *a ? "They differ: once more." : "Empty: once more.");
	}
	return -EINVAL;
}

static int get_passwords(struct install *in)
{
	const struct install_options *o = &in->o;
	int r = 0;
	if (o->root_password_file)
		r = read_password_file(o->root_password_file, &in->root_password);
	if (r >= 0 && o->user_password_file)
		r = read_password_file(o->user_password_file, &in->user_password);
	if (r < 0)
		return 1;
	if (o->root_password_file || o->user_password_file)
		return 0;
	r = ask_password("root", &in->root_password);
	if (r == -ENOTTY) {
		fputs("loopboot: install: no password for the new system — give "
		      "--root-password-file FILE, or --user NAME --user-password-file FILE, or "
		      "run it on a terminal to type one\n",
		      stderr);
		return 2;
	}
	if (r < 0) {
		fputs("loopboot: install: no password was typed twice alike — run it again, or "
		      "give --root-password-file FILE\n",
		      stderr);
		return 2;
	}
	return 0;
}

/* The loopboot package: --deb, the one `make deb` built beside this program, or apt's. */
static char *find_own_deb(const char *given)
{
	if (given)
		return realpath(given, NULL);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	const char *dir = dirname(exe);
	_cleanup_free_ char *beside = xasprintf("%s/deb/loopboot_%s_*.deb", dir, LOOPBOOT_VERSION);
	const char *const patterns[] = {beside, "/var/cache/apt/archives/loopboot_" LOOPBOOT_VERSION
	                                        "_*.deb"};
	for (size_t i = 0; i < ARRAY_SIZE(patterns); i++) {
		glob_t g;
		if (glob(patterns[i], 0, NULL, &g) == 0 && g.gl_pathc > 0) {
			char *found = xstrdup(g.gl_pathv[g.gl_pathc - 1]);
			globfree(&g);
			return found;
		}
		globfree(&g);
	}
	return NULL;
}

/* The running system's Debian suite (VERSION_CODENAME), or NULL. */
static char *running_suite(void)
{
	_cleanup_free_ char *text = NULL;
	if (read_file("/etc/os-release", &text, NULL) < 0 || !strstr(text, "\nID=debian"))
		return NULL;
	const char *v = strstr(text, "\nVERSION_CODENAME=");
	if (!v)
		return NULL;
	v += strlen("\nVERSION_CODENAME=");
	size_t n = strcspn(v, "\n\"");
	return n ? xstrndup(v, n) : NULL;
}

/* mmdebstrap's mirrors: --mirror, else the running system's apt sources for the suite. */
static void find_mirrors(struct install *in)
{
	if (in->o.mirror) {
		add_mirror(&in->mirrors, in->o.mirror, in->suite, "main");
		return;
	}
	static const char *const files[] = {"/etc/apt/sources.list",
	                                    "/etc/apt/sources.list.d/*.list",
	                                    "/etc/apt/sources.list.d/*.sources"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		glob_t g;
		if (glob(files[i], 0, NULL, &g) == 0)
			for (size_t j = 0; j < g.gl_pathc; j++) {
				_cleanup_free_ char *text = NULL;
				if (read_file(g.gl_pathv[j], &text, NULL) == 0)
					install_mirrors_from_sources(
					    text, strstr(g.gl_pathv[j], ".sources") != NULL,
					    in->suite, &in->mirrors);
			}
		globfree(&g);
	}
	if (!in->mirrors.n)
		add_mirror(&in->mirrors, DEFAULT_MIRROR, in->suite, "main");
}

/* The Debian package of the FUSE driver the host needs where Debian's kernel lacks the
 * host's file system (NTFS: no ntfs3), or NULL. */
static const char *host_fuse_package(const char *image)
{
	_cleanup_free_ char *copy = xstrdup(image);
	_cleanup_free_ char *dir = realpath(dirname(copy), NULL);
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	if (!dir || mount_find_path(NULL, dir, &m) <= 0 || !m.source || m.source[0] != '/')
		return NULL;
	/* ntfs-3g may serve a device or an image file: what it holds says the type. */
	_cleanup_close_ int fd = open(m.source, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	_cleanup_free_ char *type = NULL;
	if (fd < 0 || device_probe_fd(fd, &type) <= 0)
		return NULL;
	const struct fs_helper *h = fs_helper_for_type(type);
	return h && h->fuse_always ? h->fuse_package : NULL;
}

/* Whether the image's host is a file system inside a BitLocker volume opened here
 * (cryptsetup open --type bitlk): the boot then opens the volume itself. */
static bool host_is_bitlocker(const char *image)
{
	_cleanup_free_ char *copy = xstrdup(image);
	_cleanup_free_ char *dir = realpath(dirname(copy), NULL);
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	if (!dir || mount_find_path(NULL, dir, &m) <= 0 || !m.source || m.source[0] != '/')
		return false;
	_cleanup_free_ char *volume = device_bitlocker_volume_of(m.source);
	return volume != NULL;
}

/* ---- doing it ------------------------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* Progress: one line a stage, with the time it took. */
static void stage(const char *what, long long since)
{
	printf("install: %s (%.1f s)\n", what, (double)(now_ms() - since) / 1000.0);
	fflush(stdout);
}

/* Attaches the new image and mounts it in this process's own mount namespace: nobody
 * else sees it, and it goes away with us whatever happens. */
static int mount_image(struct install *in)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return log_fail(errno, "install: a private mount namespace", "unshare", NULL,
		                "run loopboot install as root");
	_cleanup_close_ int fd = open(in->o.img.path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return log_fail(errno, "install: opening the new image", in->o.img.path, NULL,
		                "check the host file system");
	int r = loopdev_attach(fd, in->o.img.path, false, &in->loop);
	if (r < 0)
		return log_fail(r, "install: attaching a loop device to", in->o.img.path, NULL,
		                "the kernel needs loop support (modprobe loop)");
	struct devspec spec = {DEVSPEC_PATH, in->loop.devnode};
	struct device_info d = {0};
	if (device_find(&spec, &d) > 0 && d.uuid)
		in->uuid = xstrdup(d.uuid);
	device_info_free(&d);
	_cleanup_free_ char *target = path_join(in->work, "root");
	if (!in->uuid || mkdir(target, 0755) < 0) {
		loopdev_release(&in->loop);
		return log_fail(in->uuid ? errno : ENOMEDIUM, "install: the new image",
		                in->o.img.path, in->uuid ? NULL : "its file system has no UUID",
		                "check it with loopboot check, or make it again");
	}
	r = mount_fs(in->loop.devnode, target, in->o.img.fs->name, false, NULL);
	loopdev_release(&in->loop); /* the mount holds the device; autoclear frees it after */
	if (r < 0)
		return log_fail(r, "install: mounting the new image", in->o.img.path, NULL,
		                "check the kernel has %s", in->o.img.fs->name);
	in->mounted = true;
	return 0;
}

/*
 * Two scripts for mmdebstrap, run with the new root as $1 (every value in them was checked
 * to be plain: a host name, a user name, a UUID, our own paths):
 *   essential: after the essential packages, before the kernel and initramfs-tools: the
 *              names and fstab, so that the initramfs Debian builds when the kernel is
 *              set up (its postinst, then the trigger) is right as it is, with the hook;
 *   customize: at the end: a machine-id generated at the first boot, the passwords, the
 *              user.
 */
static int write_scripts(struct install *in, char **ret_essential, char **ret_customize)
{
	const struct install_options *o = &in->o;
	_cleanup_free_ char *pw = path_join(in->work, "passwords");
	struct strbuf p = {0};
	if (in->root_password)
		strbuf_printf(&p, "root:%s\n", in->root_password);
	if (o->user)
		strbuf_printf(&p, "%s:%s\n", o->user, in->user_password);
	_cleanup_free_ char *passwords = strbuf_steal(&p);
	int r = write_file_atomic(pw, passwords, strlen(passwords), 0600);
	_cleanup_free_ char *fstab = install_fstab_line(in->uuid, o->img.fs->name);
	struct strbuf e = {0};
	strbuf_printf(&e,
	              "#!/bin/sh\n# Written by loopboot install: mmdebstrap's essential hook.\n"
	              "set -e\nroot=$1\n"
	              "echo '%s' >\"$root/etc/hostname\"\n"
	              "printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s\\n::1\\t\\tlocalhost "
	              "ip6-localhost ip6-loopback\\nff02::1\\t\\tip6-allnodes\\nff02::2\\t\\t"
	              "ip6-allrouters\\n' >\"$root/etc/hosts\"\n",
	              o->hostname, o->hostname);
	strbuf_printf(&e,
	              "cat >\"$root/etc/fstab\" <<'EOF'\n"
	              "# /etc/fstab: written by loopboot install. The root is the image itself.\n"
	              "# loopboot mounts the host at /host: never mount it here.\n%s"
	              "EOF\n",
	              fstab);
	/* Where loopboot mounts the host: present, so that a read-only start has it too. */
	strbuf_printf(&e, "mkdir -p \"$root%s\"\n", PLAN_DEFAULT_HOSTDIR);
	struct strbuf c = {0};
	strbuf_printf(&c, "#!/bin/sh\n# Written by loopboot install: mmdebstrap's customize hook.\n"
	                  "set -e\nroot=$1\n");
	/* Empty: a new ID at the first boot, without systemd-firstboot's questions. */
	strbuf_printf(&c, ": >\"$root/etc/machine-id\"\nrm -f \"$root/var/lib/dbus/machine-id\"\n"
	                  "[ -e \"$root/etc/locale.conf\" ] || echo LANG=C.UTF-8 "
	                  ">\"$root/etc/locale.conf\"\n");
	if (o->user)
		strbuf_printf(
		    &c,
		    "chroot \"$root\" useradd --create-home --shell /bin/bash '%s'\n"
		    "if chroot \"$root\" getent group sudo >/dev/null; then chroot \"$root\" "
		    "usermod -a -G sudo '%s'; fi\n",
		    o->user, o->user);
	strbuf_printf(&c, "[ ! -s '%s' ] || chroot \"$root\" chpasswd <'%s'\n", pw, pw);
	_cleanup_free_ char *essential = strbuf_steal(&e), *customize = strbuf_steal(&c);
	*ret_essential = path_join(in->work, "essential");
	*ret_customize = path_join(in->work, "customize");
	if (r >= 0)
		r = write_file_atomic(*ret_essential, essential, strlen(essential), 0700);
	if (r >= 0)
		r = write_file_atomic(*ret_customize, customize, strlen(customize), 0700);
	if (r < 0)
		return log_fail(r, "install: writing", in->work, NULL,
		                "check the space in $TMPDIR");
	return 0;
}

/* The packages mmdebstrap adds to the variant. */
static char *includes(const struct install *in)
{
	struct strbuf b = {0};
	/* zstd: initramfs-tools compresses with it by default (else gzip, with a warning). */
	strbuf_printf(&b, "linux-image-amd64,systemd,systemd-sysv,initramfs-tools,zstd");
	if (in->fuse)
		strbuf_printf(&b, ",%s", in->fuse);
	/* The image's own initramfs opens the BitLocker volume: loopboot's hook takes
	 * libcryptsetup from the image, where it must be installed. */
	if (in->bitlocker)
		strbuf_printf(&b, ",libcryptsetup12");
	if (in->o.packages && *in->o.packages)
		strbuf_printf(&b, ",%s", in->o.packages);
	return strbuf_steal(&b);
}

static int run_mmdebstrap(struct install *in, const char *essential, const char *script)
{
	const struct install_options *o = &in->o;
	_cleanup_free_ char *mmdebstrap = find_program("mmdebstrap", PROGRAM_SEARCH_PATH);
	_cleanup_free_ char *variant = xasprintf("--variant=%s", o->variant);
	_cleanup_free_ char *inc = includes(in), *inc_arg = xasprintf("--include=%s", inc);
	_cleanup_free_ char *deb = xasprintf("--include=%s", in->deb);
	_cleanup_free_ char *ehook = xasprintf("--essential-hook=sh %s \"$1\"", essential);
	_cleanup_free_ char *hook = xasprintf("--customize-hook=sh %s \"$1\"", script);
	_cleanup_free_ char *target = path_join(in->work, "root");
	struct strv argv = {0};
	const char *fixed[] = {
	    mmdebstrap, "--verbose", "--mode=root", "--format=directory",
	    variant,    inc_arg,     deb,           "--hook-dir=" FILE_MIRROR_HOOK};
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		strv_push(&argv, xstrdup(fixed[i]));
	if (o->cache) {
		strv_push(&argv, xstrdup("--skip=essential/unlink"));
		strv_push(
		    &argv,
		    xasprintf("--setup-hook=mkdir -p %s \"$1\"/var/cache/apt/archives/", o->cache));
		strv_push(&argv,
		          xasprintf("--setup-hook=sync-in %s /var/cache/apt/archives/", o->cache));
		strv_push(&argv, xasprintf("--customize-hook=sync-out /var/cache/apt/archives %s",
		                           o->cache));
	}
	strv_push(&argv, xstrdup(ehook));
	strv_push(&argv, xstrdup(hook));
	strv_push(&argv, xstrdup(in->suite));
	strv_push(&argv, xstrdup(target));
	for (size_t i = 0; i < in->mirrors.n; i++)
		strv_push(&argv, xstrdup(in->mirrors.v[i]));
	_cleanup_close_ int log = open(in->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log < 0) {
		strv_free(&argv);
		return log_fail(errno, "install: creating the log", in->log, NULL,
		                "check the host is writable");
	}
	/* The hooks inside take LOOPBOOT as the binary to copy: ours is not in the image. */
	unsetenv("LOOPBOOT");
	const struct process_options po = {.stdio = {STDIO_NULL, STDIO_FD(log), STDIO_FD(log)}};
	struct process_result res;
	int r = process_run(NULL, argv.v, &po, &res);
	strv_free(&argv);
	if (r < 0 && !interrupted) {
		log_file_tail("mmdebstrap", log, LOG_TAIL_LINES);
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(r, "install: mmdebstrap", in->suite, how,
		                "see its messages above and the whole log in %s", in->log);
	}
	return interrupted ? -EINTR : r;
}

/* What the image's own initramfs must hold to boot it: looked at, not assumed. */
static int check_initramfs(struct install *in)
{
	_cleanup_free_ char *target = path_join(in->work, "root");
	_cleanup_close_ int root = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = root >= 0 ? open_in_root(root, "/initrd.img", O_RDONLY) : -1;
	const struct initramfs_hook *hook = NULL;
	const char *program = NULL;
	int r = fd >= 0 ? initramfs_find_hook(fd, &hook, &program) : -errno;
	if (r > 0)
		return 0;
	return log_fail(r < 0 ? -r : ENOPKG, "install: the image's initramfs", "/initrd.img",
	                r == 0 ? "it lacks loopboot's hook" : NULL, "see the hook's warnings in %s",
	                in->log);
}

static int unmount_image(struct install *in)
{
	if (!in->mounted)
		return 0;
	_cleanup_free_ char *target = path_join(in->work, "root");
	sync();
	/* What a failed mmdebstrap may leave mounted inside (/proc, /dev, a bind mount of
	 * the package): in our namespace only, with nothing of the image's in it. */
	struct strv below = {0};
	(void)mount_targets_below(target, &below);
	for (size_t i = 0; i < below.n; i++)
		if (!streq(below.v[i], target) && umount2(below.v[i], 0) < 0)
			(void)umount2(below.v[i], MNT_DETACH);
	strv_free(&below);
	for (int i = 0; umount2(target, 0) < 0; i++) {
		if (errno != EBUSY || i == 50)
			return log_fail(errno, "install: unmounting the new image", target, NULL,
			                "something still uses it: stop it, the image goes with "
			                "this process");
		sleep_ms(100);
	}
	in->mounted = false;
	return 0;
}

/* After a failure: nothing half-made stays, unless asked for under a name that says so. */
static void undo(struct install *in)
{
	(void)unmount_image(in);
	if (!in->created)
		return;
	const char *path = in->o.img.path;
	if (in->o.keep_on_failure) {
		_cleanup_free_ char *kept = xasprintf("%s.unfinished", path);
		if (rename(path, kept) == 0)
			fprintf(stderr, "loopboot: install: the unfinished image is kept as %s\n",
			        kept);
		return;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("install: removing the unfinished image %s: %m", path);
}

static void install_done(struct install *in)
{
	if (in->work)
		(void)rm_rf(in->work);
	free(in->work);
	free(in->suite);
	strv_free(&in->mirrors);
	free(in->deb);
	free(in->root_password);
	free(in->user_password);
	free(in->log);
	free(in->uuid);
}

/* What is needed before anything is written: 0, or the exit status. */
static int prepare(struct install *in)
{
	const struct install_options *o = &in->o;
	if (geteuid() != 0)
		return log_fail(EPERM, "install", o->img.path, "it mounts and installs as root",
		                "run it as root"),
		       1;
	in->suite = o->suite ? xstrdup(o->suite) : running_suite();
	if (!in->suite)
		in->suite = xstrdup(DEFAULT_SUITE);
	_cleanup_free_ char *mmdebstrap = find_program("mmdebstrap", PROGRAM_SEARCH_PATH);
	if (!mmdebstrap)
		return log_fail(ENOENT, "install", "mmdebstrap", "not installed",
		                "apt-get install mmdebstrap"),
		       1;
	in->deb = find_own_deb(o->deb);
	if (!in->deb) {
		fprintf(stderr,
		        "loopboot: install: the loopboot package to put into the image: %s "
		        "— give --deb FILE (make deb builds it)\n",
		        o->deb ? o->deb : "not found beside this program nor in apt's cache");
		return 2;
	}
	if (o->cache && (strpbrk(o->cache, " \t\n'\"\\") || mkdir_p(o->cache, 0755) < 0)) {
		fprintf(stderr,
		        "loopboot: install: --cache %s: not a directory it can use — give "
		        "a writable directory without blanks\n",
		        o->cache);
		return 2;
	}
	int r = get_passwords(in);
	if (r)
		return r;
	if (create_refusals(&o->img) < 0)
		return 1;
	in->fuse = host_fuse_package(o->img.path);
	in->bitlocker = host_is_bitlocker(o->img.path);
	find_mirrors(in);
	const char *tmp = getenv("TMPDIR");
	in->work = path_join(tmp && *tmp ? tmp : "/tmp", "loopboot-install.XXXXXX");
	if (!mkdtemp(in->work)) {
		log_fail(errno, "install: a private directory", in->work, NULL, "set TMPDIR");
		free(in->work);
		in->work = NULL;
		return 1;
	}
	in->log = xasprintf("%s.install.log", o->img.path);
	return 0;
}

static int build(struct install *in)
{
	const struct install_options *o = &in->o;
	long long t = now_ms();
	int r = create_image(&o->img);
	if (r < 0)
		return r;
	in->created = true;
	stage("the image made and formatted", t);
	t = now_ms();
	r = mount_image(in);
	if (r < 0)
		return r;
	_cleanup_free_ char *essential = NULL, *script = NULL;
	r = write_scripts(in, &essential, &script);
	if (r < 0)
		return r;
	_cleanup_free_ char *more =
	    in->mirrors.n > 1 ? xasprintf(" and %zu more", in->mirrors.n - 1) : xstrdup("");
	printf("install: Debian %s (%s%s%s) into it with mmdebstrap, from %s%s; its log: %s\n",
	       in->suite, o->variant, in->fuse ? ", with " : "", in->fuse ? in->fuse : "",
	       in->mirrors.v[0], more, in->log);
	fflush(stdout);
	r = run_mmdebstrap(in, essential, script);
	if (r < 0)
		return r;
	r = check_initramfs(in);
	if (r < 0)
		return r;
	stage("Debian installed and configured, its initramfs built with loopboot's hook", t);
	t = now_ms();
	r = unmount_image(in);
	if (r >= 0)
		stage("the image unmounted", t);
	return r;
}

static void report(const struct install *in, long long start)
{
	const struct install_options *o = &in->o;
	_cleanup_free_ char *entry = create_boot_entry(o->img.path);
	printf("install: %s holds Debian %s, host name %s (%.0f s in all)\n", o->img.path,
	       in->suite, o->hostname, (double)(now_ms() - start) / 1000.0);
	if (!entry) {
		printf("boot it with: root=<the host> loop=<its path on the host> rw\n");
		return;
	}
	printf("boot it with: %s\n"
	       "  with GRUB on this machine: echo 'Debian (loopboot) | %s' >>/etc/loopboot.conf; "
	       "update-grub\n"
	       "  from a USB stick or a CD: loopboot iso -o debian.iso --cmdline '%s'\n",
	       entry, entry, entry);
	fflush(stdout);
}

int install_main(int argc, char **argv)
{
	struct install in = {0};
	int r = parse_options(argc, argv, &in.o);
	if (r < 0)
		r = check_options(&in.o);
	if (r >= 0)
		return r;
	long long start = now_ms();
	r = prepare(&in);
	if (r) {
		install_done(&in);
		return r;
	}
	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, &old[i]);
	stage("everything it needs is there", start);
	r = build(&in);
	if (r < 0)
		undo(&in);
	else
		report(&in, start);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
	install_done(&in);
	return r < 0 ? 1 : 0;
}
