/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/media.h"

#include <fcntl.h>
#include <stddef.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "basic/log.h"
#include "basic/options.h"
#include "basic/process.h"
#include "basic/strbuf.h"
#include "engine/cmdline.h"
#include "engine/modules.h"
#include "engine/plan.h"
#include "tools/grub.h"
#include "tools/secureboot.h"

#define GRUB_LIB          "/usr/lib/grub"
#define KERNEL_HEAD       65536 /* the setup sectors: at most 64 * 512 + 512 bytes */
#define MAX_TIMEOUT       3600
#define DEFAULT_TIMEOUT   5
#define LOG_TAIL_LINES    8
#define KERNEL_VERSION_AT 0x20e /* boot protocol: pointer to the version string, - 0x200 */

/* ---- the pure part ---------------------------------------------------------------------- */

int media_kernel_version(const unsigned char *head, size_t n, char **ret)
{
	*ret = NULL;
	if (n < 0x210 || memcmp(head + 0x202, "HdrS", 4) != 0)
		return -ENOEXEC;
	unsigned protocol = head[0x206] | (unsigned)head[0x207] << 8;
	size_t at = head[KERNEL_VERSION_AT] | (size_t)head[KERNEL_VERSION_AT + 1] << 8;
	if (protocol < 0x200)
		return -ENOEXEC; /* older than any kernel GRUB's linux command loads */
	if (at == 0)
		return -EINVAL;
	at += 0x200;
	size_t len = 0;
	while (at + len < n && len < 128 && head[at + len] > ' ' && head[at + len] < 0x7f)
		len++;
	/* The release ends at the first blank: "6.1.0-18-amd64 (debian-kernel@...) #1 ..." */
	if (len == 0 || at + len >= n || (head[at + len] != ' ' && head[at + len] != '\0'))
		return -EINVAL;
	*ret = xstrndup((const char *)head + at, len);
	return 0;
}

static void cfg_header(struct strbuf *b, unsigned timeout)
{
	strbuf_append(b,
	              "# Written by loopboot: one entry that boots a root image with loopboot.\n"
	              "# The console is also on the first serial port, when the machine has one.\n"
	              "if serial --unit=0 --speed=115200; then\n"
	              "\tterminal_input --append serial\n"
	              "\tterminal_output --append serial\n"
	              "fi\n"
	              "insmod all_video\n"
	              "set default=0\n");
	strbuf_printf(b, "set timeout=%u\n\n", timeout);
}

char *media_grub_cfg(const struct media_entry *e)
{
	struct strbuf b = {0};
	cfg_header(&b, e->timeout);
	_cleanup_free_ char *title = grub_quote(e->title);
	strbuf_printf(&b, "menuentry %s --class gnu-linux --class os {\n", title);
	strbuf_append(&b, "\tset gfxpayload=keep\n");
	_cleanup_free_ char *kernel = grub_quote(e->kernel);
	strbuf_printf(&b, "\tlinux %s", kernel);
	for (size_t i = 0; i < e->n_args; i++) {
		_cleanup_free_ char *q = grub_quote(e->args[i]);
		strbuf_printf(&b, " %s", q);
	}
	_cleanup_free_ char *initrd = grub_quote(e->initrd);
	strbuf_printf(&b, "\n\tinitrd %s\n}\n", initrd);
	return strbuf_steal(&b);
}

char *media_graft_escape(const char *path)
{
	char *r = xmalloc(strlen(path) * 2 + 1), *o = r;
	for (const char *p = path; *p; p++) {
		if (*p == '\\' || *p == '=')
			*o++ = '\\';
		*o++ = *p;
	}
	*o = '\0';
	return r;
}

/* ---- the commands' options -------------------------------------------------------------- */

static int take_title(const char *arg, void *to)
{
	struct media_options *o = to;
	if (!*arg || strpbrk(arg, "\n\r")) {
		fprintf(stderr, "loopboot: %s: --title: must be one non-empty line\n", o->cmd);
		return 2;
	}
	o->title = arg;
	return 0;
}

static int take_timeout(const char *arg, void *to)
{
	struct media_options *o = to;
	char *end;
	errno = 0;
	unsigned long t = strtoul(arg, &end, 10);
	if (!*arg || *arg == '-' || *end || errno || t > MAX_TIMEOUT) {
		fprintf(stderr,
		        "loopboot: %s: --timeout %s: not a number of seconds — give 0 to %d\n",
		        o->cmd, arg, MAX_TIMEOUT);
		return 2;
	}
	o->timeout = (unsigned)t;
	return 0;
}

static int take_secure_boot(const char *arg, void *to)
{
	struct media_options *o = to;
	enum sb_mode mode;
	if (sb_mode_parse(arg, &mode) < 0) {
		fprintf(stderr, "loopboot: %s: --secure-boot %s: unknown — use auto, on or off\n",
		        o->cmd, arg);
		return 2;
	}
	o->secure_boot = (int)mode;
	return 0;
}

int media_parse_args(const char *cmd, bool with_output, const char *usage, int argc, char **argv,
                     struct media_options *ret)
{
	return media_parse_args_with(cmd, with_output, usage, argc, argv, NULL, 0, ret);
}

int media_parse_args_with(const char *cmd, bool with_output, const char *usage, int argc,
                          char **argv, const struct opt *extra, size_t n_extra,
                          struct media_options *ret)
{
	*ret = (struct media_options){.cmd = cmd,
	                              .timeout = DEFAULT_TIMEOUT,
	                              .kernel_from = "media",
	                              .secure_boot = SB_AUTO,
	                              .output_allowed = with_output};
	const struct opt options[] = {
	    OPT_STRING("output", 'o', &ret->output), /* first: left out without -o */
	    OPT_STRING("kernel", 0, &ret->kernel),
	    OPT_STRING("initrd", 0, &ret->initrd),
	    OPT_STRING("cmdline", 0, &ret->cmdline),
	    OPT_CALL("title", 0, ret, take_title),
	    OPT_CALL("timeout", 0, ret, take_timeout),
	    OPT_STRING("modules-dir", 0, &ret->modules_dir),
	    OPT_STRING("kernel-from", 0, &ret->kernel_from),
	    OPT_CALL("secure-boot", 0, ret, take_secure_boot),
	    OPT_FLAG("force", 0, &ret->force),
	};
	const struct opt *base = with_output ? options : options + 1;
	size_t n_base = ARRAY_SIZE(options) - (with_output ? 0 : 1);
	_cleanup_free_ struct opt *all = xcalloc(n_base + n_extra, sizeof(*all));
	memcpy(all, base, n_base * sizeof(*all));
	if (n_extra)
		memcpy(all + n_base, extra, n_extra * sizeof(*all));
	/* A command with -o takes no argument: its options end at one, to name it as
	 * unexpected. */
	int r =
	    opts_parse(argc, argv, all, n_base + n_extra, with_output ? OPTS_WORD_ENDS : 0, usage);
	if (r >= 0)
		return r;
	if (ret->force && !with_output) {
		fprintf(stderr, "loopboot: %s: --force is for iso -o DEVICE — leave it out\n", cmd);
		return 2;
	}
	if (!streq(ret->kernel_from, "media") &&
	    !(with_output && streq(ret->kernel_from, "image"))) {
		fprintf(stderr, "loopboot: %s: --kernel-from %s: unknown — use %s\n", cmd,
		        ret->kernel_from, with_output ? "media or image" : "media");
		return 2;
	}
	return -1;
}

/* ---- signals and programs --------------------------------------------------------------- */

static volatile sig_atomic_t caught_signal;
static const int media_sigs[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig)
{
	caught_signal = sig;
	pid_t child = process_running();
	if (child > 0)
		kill(child, sig);
}

void media_signals_catch(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(media_sigs); i++)
		sigaction(media_sigs[i], &sa, NULL);
}

bool media_interrupted(void)
{
	return caught_signal != 0;
}

void media_signals_done(void)
{
	int sig = caught_signal;
	for (size_t i = 0; i < ARRAY_SIZE(media_sigs); i++)
		signal(media_sigs[i], SIG_DFL);
	if (sig)
		raise(sig);
}

int media_run(const struct media_options *o, const char *what, char *const argv[], const char *work)
{
	_cleanup_free_ char *cmd = xasprintf("%s: %s", o->cmd, what);
	_cleanup_free_ char *logname = xasprintf("%s.log", argv[0]);
	_cleanup_free_ char *logpath = path_join(work, logname);
	_cleanup_close_ int log_fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		_cleanup_free_ char *creating = xasprintf("%s: creating", o->cmd);
		log_fail(errno, creating, logpath, NULL, "check the space in %s", work);
		return -1;
	}
	_cleanup_free_ char *path = find_program(argv[0], PROGRAM_SEARCH_PATH);
	if (!path) {
		log_fail(ENOENT, cmd, argv[0], "not installed", "install it (scripts/deps)");
		return -1;
	}
	size_t n = 0;
	while (argv[n])
		n++;
	_cleanup_free_ char **args = xcalloc(n + 1, sizeof(char *));
	memcpy(args, argv, n * sizeof(char *));
	args[0] = path; /* the name stays argv[0] in messages */
	const struct process_options opts = {
	    .stdio = {STDIO_NULL, STDIO_FD(log_fd), STDIO_FD(log_fd)},
	};
	struct process_result res;
	if (process_run(NULL, args, &opts, &res) == 0)
		return 0;
	_cleanup_free_ char *how = process_result_message(&res);
	if (res.end == PROCESS_NOT_STARTED || res.end == PROCESS_LOST) {
		log_fail(res.status, cmd, path, how,
		         res.end == PROCESS_LOST ? "run it again" : "check the installation");
		return -1;
	}
	if (media_interrupted())
		return -1;
	log_file_tail(argv[0], log_fd, LOG_TAIL_LINES);
	log_fail(EPROTO, cmd, argv[0], how, "see its messages above");
	return -1;
}

/* ---- what goes on the medium ------------------------------------------------------------ */

void media_free(struct media *m)
{
	free_all(m->kernel, m->kernel_name, m->kernel_version, m->initrd, m->modules_dir, m->title,
	         m->grub_entry);
	strv_free(&m->words);
	views_release(&m->views);
	*m = (struct media){0};
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Every missing program or GRUB platform, with the Debian package that has it. */
static int check_tools(const struct media_options *o, const char *const *progs)
{
	/* Debian's packages and the programs of theirs that media use. */
	static const struct {
		const char *package;
		const char *progs[4];
	} packages[] = {
	    {"grub-common", {"grub-mkrescue", "grub-mknetdir", "grub-mkimage"}},
	    {"xorriso", {"xorriso"}},
	    {"mtools", {"mformat", "mcopy"}},
	};
	static const struct {
		const char *platform, *what, *package;
	} platforms[] = {
	    {"i386-pc", "GRUB for BIOS", "grub-pc-bin"},
	    {"x86_64-efi", "GRUB for UEFI", "grub-efi-amd64-bin"},
	};
	struct strv missing = {0}, pkgs = {0};
	for (size_t i = 0; progs[i]; i++) {
		_cleanup_free_ char *p = find_program(progs[i], PROGRAM_SEARCH_PATH);
		if (p)
			continue;
		const char *pkg = progs[i];
		for (size_t j = 0; j < ARRAY_SIZE(packages); j++)
			for (size_t k = 0; packages[j].progs[k]; k++)
				if (streq(packages[j].progs[k], progs[i]))
					pkg = packages[j].package;
		strv_push(&missing, xasprintf("%s (%s)", progs[i], pkg));
		if (!strv_contains(&pkgs, pkg))
			strv_push(&pkgs, xstrdup(pkg));
	}
	for (size_t i = 0; i < ARRAY_SIZE(platforms); i++) {
		_cleanup_free_ char *dep =
		    xasprintf("%s/%s/moddep.lst", GRUB_LIB, platforms[i].platform);
		if (access(dep, R_OK) == 0)
			continue;
		strv_push(&missing, xasprintf("%s, %s/%s (%s)", platforms[i].what, GRUB_LIB,
		                              platforms[i].platform, platforms[i].package));
		strv_push(&pkgs, xstrdup(platforms[i].package));
	}
	int r = 0;
	if (missing.n) {
		_cleanup_strbuf_ struct strbuf what = {0}, install = {0};
		for (size_t i = 0; i < missing.n; i++)
			strbuf_printf(&what, "%s%s", i ? "; " : "", missing.v[i]);
		for (size_t i = 0; i < pkgs.n; i++)
			strbuf_printf(&install, " %s", pkgs.v[i]);
		_cleanup_free_ char *w = xasprintf("%s: not installed", o->cmd);
		log_fail(ENOENT, w, what.s, "needed for media that boot under BIOS and UEFI",
		         "apt-get install%s", install.s);
		r = -1;
	}
	strv_free(&missing);
	strv_free(&pkgs);
	return r;
}

/* The kernel: the option, or the running one's where Debian keeps it. */
/* With no --kernel: the image's own, read through a read-only view of it. */
static int kernel_from_image(const struct media_options *o, const struct plan *p, struct media *m)
{
	struct modules *mods = modules_new();
	int v = views_open_entry(&m->views, mods, p, o->cmd);
	modules_free(mods);
	if (v < 0)
		return -1;
	_cleanup_free_ char *in_image = views_image_kernel(views_fd(&m->views, v), NULL);
	if (!in_image) {
		_cleanup_free_ char *image = imagepath_to_string(&p->loop);
		_cleanup_free_ char *w = xasprintf("%s: kernel", o->cmd);
		log_fail(ENOENT, w, image, "the image has no /vmlinuz nor /boot/vmlinuz-VERSION",
		         "install a kernel in the image (apt-get install linux-image-amd64), or "
		         "give one with --kernel FILE");
		return -1;
	}
	/* Resolved inside the image: /vmlinuz -> boot/vmlinuz-6.1.0-18-amd64. */
	_cleanup_close_ int fd = open_in_root(views_fd(&m->views, v), in_image, O_RDONLY);
	m->kernel = fd >= 0 ? xasprintf("/proc/%d/fd/%d", (int)getpid(), fd) : NULL;
	m->kernel_name = xasprintf("%s in the image", in_image);
	if (fd >= 0)
		fd = -1; /* kept open: the path is the kernel for as long as m lives */
	m->modules_dir = xstrdup(views_path(&m->views, v)); /* + lib/modules/VER, below */
	return m->kernel ? 0 : -1;
}

/* The version in the kernel's own header. */
static int read_kernel_version(const struct media_options *o, struct media *m);

static int find_kernel(const struct media_options *o, const struct plan *p, struct media *m)
{
	if (!o->kernel) {
		if (kernel_from_image(o, p, m) < 0)
			return -1;
		if (read_kernel_version(o, m) < 0)
			return -1;
		char *root = m->modules_dir;
		m->modules_dir = NULL;
		if (m->kernel_version && !o->modules_dir)
			m->modules_dir = xasprintf("%s/lib/modules/%s", root, m->kernel_version);
		free(root);
		return 0;
	}
	m->kernel = realpath(o->kernel, NULL);
	m->kernel_name = m->kernel ? xstrdup(m->kernel) : NULL;
	if (!m->kernel) {
		_cleanup_free_ char *w = xasprintf("%s: kernel", o->cmd);
		log_fail(errno, w, o->kernel, NULL, "give the kernel's file with --kernel");
		return -1;
	}
	return read_kernel_version(o, m);
}

static int read_kernel_version(const struct media_options *o, struct media *m)
{
	_cleanup_close_ int fd = open(m->kernel, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		_cleanup_free_ char *w = xasprintf("%s: kernel", o->cmd);
		log_fail(fd < 0 ? errno : EINVAL, w, m->kernel_name,
		         fd < 0 ? NULL : "not a regular file",
		         "give the kernel's file with --kernel");
		return -1;
	}
	unsigned char *head = xmalloc(KERNEL_HEAD);
	ssize_t n = pread(fd, head, KERNEL_HEAD, 0);
	int r = n < 0 ? -errno : media_kernel_version(head, (size_t)n, &m->kernel_version);
	free(head);
	if (r == -ENOEXEC || n < 0) {
		_cleanup_free_ char *w = xasprintf("%s: kernel", o->cmd);
		log_fail(n < 0 ? -r : ENOEXEC, w, m->kernel_name,
		         n < 0 ? NULL : "not a Linux kernel for x86 (it has no bzImage header)",
		         "give the kernel's file (vmlinuz) with --kernel");
		return -1;
	}
	return 0;
}

static int find_initrd(const struct media_options *o, struct media *m)
{
	_cleanup_free_ char *w = xasprintf("%s: initramfs", o->cmd);
	if (o->initrd) {
		m->initrd = realpath(o->initrd, NULL);
		struct stat st;
		if (!m->initrd || stat(m->initrd, &st) < 0 || !S_ISREG(st.st_mode)) {
			log_fail(
			    m->initrd ? EINVAL : errno, w, o->initrd,
			    m->initrd ? "not a regular file" : NULL,
			    "give an initramfs with loopboot as /init (loopboot initrd -o FILE), "
			    "or leave --initrd out to build one");
			return -1;
		}
		if (o->modules_dir)
			log_warn("%s: --modules-dir is for building the initramfs: ignored with "
			         "--initrd",
			         o->cmd);
		return 0;
	}
	/* Built here, for the kernel's release, from its modules. */
	if (!m->kernel_version) {
		log_fail(
		    EINVAL, w, m->kernel,
		    "the kernel does not say its version, so no initramfs can be built for it",
		    "give one with --initrd FILE (loopboot initrd -o FILE --kernel-version VER)");
		return -1;
	}
	if (!m->modules_dir)
		m->modules_dir = o->modules_dir ? xstrdup(o->modules_dir)
		                                : xasprintf("/lib/modules/%s", m->kernel_version);
	const char *dir = m->modules_dir;
	if (!is_dir(dir)) {
		log_fail(
		    ENOENT, w, dir, "the kernel's modules are not there",
		    "install the package of kernel %s, give --modules-dir DIR, or --initrd FILE",
		    m->kernel_version);
		return -1;
	}
	if (o->modules_dir) {
		_cleanup_free_ char *copy = xstrdup(o->modules_dir);
		const char *base = basename(copy);
		if (!streq(base, m->kernel_version))
			log_warn("%s: the kernel is %s, the modules in %s may be another's (%s): "
			         "they will not load if so",
			         o->cmd, m->kernel_version, o->modules_dir, base);
	}
	return 0;
}

/*
 * --kernel-from image: GRUB opens the image on the host at boot and loads its /vmlinuz and
 * /initrd.img, the links Debian keeps to the current kernel, so that a kernel upgraded in
 * the image boots without new media. The image's own initramfs needs loopboot's hook.
 */
static int image_entry(const struct media_options *o, const struct plan *p, const char *cmdline,
                       struct media *m)
{
	if (o->kernel || o->initrd || o->modules_dir)
		log_warn("%s: --kernel-from image: --kernel, --initrd and --modules-dir are "
		         "ignored: the kernel and initramfs are the image's own",
		         o->cmd);
	struct modules *mods = modules_new();
	int v = views_open_entry(&m->views, mods, p, o->cmd);
	modules_free(mods);
	if (v < 0)
		return -1;
	int rootfd = views_fd(&m->views, v);
	_cleanup_close_ int k = open_in_root(rootfd, "/vmlinuz", O_PATH);
	_cleanup_close_ int i = open_in_root(rootfd, "/initrd.img", O_PATH);
	if (k < 0 || i < 0) {
		_cleanup_free_ char *image = imagepath_to_string(&p->loop);
		_cleanup_free_ char *w = xasprintf("%s: --kernel-from image", o->cmd);
		return log_fail(
		    ENOENT, w, image,
		    k < 0 ? "the image has no /vmlinuz" : "the image has no /initrd.img",
		    "install a kernel and initramfs-tools in the image (with loopboot's "
		    "hook: apt-get install linux-image-amd64 loopboot), or use "
		    "--kernel-from media");
	}
	/* Kept open, as kernel_from_image does: the image's current kernel, for --secure-boot
	 * to check. */
	int kfd = open_in_root(rootfd, "/vmlinuz", O_RDONLY);
	if (kfd >= 0) {
		m->kernel = xasprintf("/proc/%d/fd/%d", (int)getpid(), kfd);
		m->kernel_name = xstrdup("/vmlinuz in the image");
	}
	const struct grub_options go = {
	    .cmdline = cmdline, .title = m->title, .kernel = "/vmlinuz", .initrd = "/initrd.img"};
	return grub_make_entry(p, &go, &m->grub_entry) == 0 ? 0 : -1;
}

int media_prepare(const struct media_options *o, const char *const *progs, struct media *m)
{
	*m = (struct media){0};
	_cleanup_free_ char *line = NULL;
	const char *cmdline = o->cmdline;
	if (!cmdline) {
		int r = cmdline_read(NULL, &line);
		if (r < 0) {
			log_fail(r, "reading", "/proc/cmdline", NULL,
			         "mount /proc, or give the entry with --cmdline");
			return 1;
		}
		cmdline = line;
	}
	struct plan p;
	_cleanup_free_ char *error = NULL;
	if (plan_parse(cmdline, &p, &error) < 0) {
		if (line) /* from /proc/cmdline: most likely not a loopboot system */
			fprintf(stderr,
			        "loopboot: %s: /proc/cmdline: not a loopboot entry (%s) — give one "
			        "with --cmdline 'root=... loop=...'\n",
			        o->cmd, startswith(error, "loopboot: ") ? error + 10 : error);
		else
			fprintf(stderr, "%s\n", error);
		return 2;
	}
	int ret = 0;
	/* A host on the network: nothing here to look into, and the initramfs needs the
	 * network. An NBD or NFS export may be the root itself (no loop=). */
	bool net_host = o->network || p.net.kind != PLAN_NET_NONE;
	m->network = net_host || p.ip.method != PLAN_IP_DEFAULT;
	if (!p.has_loop && !net_host) {
		log_fail(EINVAL, o->cmd, line ? "/proc/cmdline" : cmdline,
		         "not a loopboot entry: there is no loop=",
		         "give the entry with --cmdline 'root=... loop=/path/to/root.img ...'");
		ret = 2;
	} else if (net_host && !o->kernel && streq(o->kernel_from, "media")) {
		log_fail(
		    EINVAL, o->cmd, "--kernel",
		    "missing, and the image is on a network server, which cannot be looked "
		    "into from here",
		    "give the image's kernel with --kernel FILE (its /boot/vmlinuz-VERSION) and "
		    "its modules with --modules-dir DIR, or an initramfs with --initrd FILE");
		ret = 2;
	} else if (!net_host && p.root.kind == DEVSPEC_PATH) {
		_cleanup_free_ char *spec = devspec_to_string(&p.root);
		log_warn("%s: root=%s names the host by the order of the disks: booted from other "
		         "media that order can change — root=UUID=... is safer (blkid shows it)",
		         o->cmd, spec);
	}
	if (ret == 0) {
		_cleanup_free_ char *image =
		    p.has_loop ? imagepath_to_string(&p.loop) : xstrdup("the network");
		m->title =
		    o->title ? xstrdup(o->title) : xasprintf("Linux from %s (loopboot)", image);
		if (grub_kernel_words(cmdline, &m->words) < 0)
			abort();
		if (check_tools(o, progs) < 0)
			ret = 1;
		else if (streq(o->kernel_from, "image"))
			ret = image_entry(o, &p, cmdline, m) < 0 ? 1 : 0;
		else if (find_kernel(o, &p, m) < 0 || find_initrd(o, m) < 0)
			ret = 1;
	}
	if (ret == 0) {
		/* The grub.cfg the signed GRUB would run: iso's and pxe's paths differ only in
		 * names, not in the modules they load. */
		_cleanup_free_ char *cfg = media_grub_cfg_for(o, m, "/vmlinuz", "/initrd.img");
		const struct sb_request q = {
		    .cmd = o->cmd,
		    .mode = (enum sb_mode)o->secure_boot,
		    .medium = streq(o->cmd, "pxe") ? SB_MEDIUM_NET : SB_MEDIUM_CD,
		    .kernel = m->kernel,
		    .kernel_name = m->kernel_name,
		    .kernel_at_boot = m->grub_entry != NULL,
		    .cfg = cfg,
		};
		int r = sb_resolve(&q);
		if (r < 0)
			ret = 1;
		else
			m->secure_boot = r == 1;
	}
	plan_free(&p);
	if (ret)
		media_free(m);
	return ret;
}

char *media_grub_cfg_for(const struct media_options *o, const struct media *m, const char *kernel,
                         const char *initrd)
{
	if (m->grub_entry) {
		struct strbuf b = {0};
		cfg_header(&b, o->timeout);
		strbuf_append(&b, m->grub_entry);
		return strbuf_steal(&b);
	}
	const struct media_entry e = {
	    .title = m->title,
	    .kernel = kernel,
	    .initrd = initrd,
	    .args = m->words.v,
	    .n_args = m->words.n,
	    .timeout = o->timeout,
	};
	return media_grub_cfg(&e);
}

int media_build_initrd(const struct media_options *o, const struct media *m, const char *out)
{
	printf("loopboot: %s: building the initramfs for %s with loopboot initrd\n", o->cmd,
	       m->kernel_version);
	fflush(stdout);
	/* This very binary as a program of its own: its signals, its exit, its messages. */
	struct args a = {0};
	args_add(&a, "loopboot", "initrd", "-o", out, "--kernel-version", m->kernel_version, NULL);
	if (m->modules_dir)
		args_add(&a, "--modules-dir", m->modules_dir, NULL);
	if (m->network) /* ipconfig, nbd-client, curl, the NIC/NBD/NFS modules */
		args_add(&a, "--network", NULL);
	/* Its "wrote" line names our temporary file: we say what was built. */
	const struct process_options opts = {.stdio[STDOUT_FILENO] = STDIO_NULL};
	struct process_result res;
	if (process_run("/proc/self/exe", a.v, &opts, &res) == 0)
		return 0;
	if (media_interrupted())
		return -1;
	_cleanup_free_ char *how = process_result_message(&res);
	_cleanup_free_ char *why = res.end == PROCESS_EXITED
	                               ? xstrdup("loopboot initrd failed (its message is above)")
	                               : xasprintf("loopboot initrd %s", how);
	log_fail(EPROTO, o->cmd, "building the initramfs", why,
	         "fix that, or give an initramfs with --initrd FILE");
	return -1;
}
