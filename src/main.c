/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loopboot: boot a root file system stored in an image file on another file system.
 * One binary: as /init (PID 1) it is the engine; otherwise the first argument names a
 * verb, looked up in the table below.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/options.h"
#include "basic/util.h"
#include "engine/boot.h"
#include "engine/cmdline.h"
#include "engine/helpers.h"
#include "engine/init.h"
#include "engine/modules.h"
#include "engine/plan.h"
#include "engine/shutdown.h"
#include "engine/state.h"
#include "engine/teardown.h"
#include "initrd/initrd.h"
#include "tools/check.h"
#include "tools/cli.h"
#include "tools/create.h"
#include "tools/grub.h"
#include "tools/install.h"
#include "tools/resize.h"
#include "tools/iso.h"
#include "tools/pxe.h"
#include "tools/status.h"

/* ---- the verbs implemented here: plan, boot, teardown, prepare-shutdown, version, help -- */

static const char plan_usage[] =
    "Usage: loopboot plan [--cmdline STRING]\n"
    "Prints what the kernel command line (default: /proc/cmdline) asks for. Touches "
    "nothing.\n";

static int cmd_plan(int argc, char **argv)
{
	const char *cmdline = NULL;
	int r = cli_parse_cmdline_only(argc, argv, plan_usage, &cmdline);
	if (r >= 0)
		return r;
	struct plan plan;
	r = cli_load_plan(argv[0], cmdline, &plan, NULL);
	if (r)
		return r;
	plan_print(&plan, stdout);
	plan_free(&plan);
	return 0;
}

static const char boot_usage[] =
    "Usage: loopboot boot --root-mnt DIR [--cmdline STRING]\n"
    "Mounts the root image at DIR, extra images inside it and the host at DIR/host, as "
    "an initramfs framework's root mounting step.\n";

static int cmd_boot(int argc, char **argv)
{
	const char *root_mnt = NULL, *cmdline = NULL;
	int r = OPTS_PARSE(argc, argv, 0, boot_usage, OPT_STRING("root-mnt", 'r', &root_mnt),
	                   OPT_STRING("cmdline", 'c', &cmdline));
	if (r >= 0)
		return r;
	if (!root_mnt) {
		fputs("loopboot: boot: --root-mnt is missing — give the directory where the root "
		      "is to be mounted\n",
		      stderr);
		return 2;
	}
	struct stat st;
	if (stat(root_mnt, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_fail(errno ? errno : ENOTDIR, "root mount point", root_mnt, NULL,
		         "create the directory first");
		return 2;
	}
	_cleanup_free_ char *root = realpath(root_mnt, NULL);
	struct plan plan;
	r = cli_load_plan(argv[0], cmdline, &plan, NULL);
	if (r)
		return r;
	log_set_debug(plan.debug);
	for (size_t i = 0; i < plan.warnings.n; i++)
		log_warn("%s", plan.warnings.v[i]);
	r = boot_mount_api_filesystems();
	if (r >= 0) {
		struct boot_options opts = {.root_mnt = root ? root : root_mnt};
		r = boot_run(&plan, &opts, NULL);
	}
	plan_free(&plan);
	return r < 0 ? r : 0;
}

static const char teardown_usage[] =
    "Usage: loopboot teardown --root-mnt DIR\n"
    "Takes down what `loopboot boot --root-mnt DIR` built, in reverse order: extra "
    "images, the root, loop devices, then the host (flushed, FUSE daemon waited for).\n";

static int cmd_teardown(int argc, char **argv)
{
	const char *root_mnt = NULL;
	int r = OPTS_PARSE(argc, argv, 0, teardown_usage, OPT_STRING("root-mnt", 'r', &root_mnt));
	if (r >= 0)
		return r;
	if (!root_mnt || optind < argc) {
		fputs("loopboot: teardown: --root-mnt is missing — give the directory the root "
		      "is mounted at\n",
		      stderr);
		return 2;
	}
	_cleanup_free_ char *root = realpath(root_mnt, NULL);
	if (!root) {
		log_fail(errno, "root mount point", root_mnt, NULL, "give an existing directory");
		return 2;
	}
	struct stack s;
	_cleanup_free_ char *error = NULL;
	r = state_load(STATE_FILE, &s, &error);
	if (r < 0)
		return log_fail(r, "reading the state record", STATE_FILE, error,
		                r == -ENOENT ? "nothing was booted by loopboot here"
		                : error ? "another loopboot wrote it: take the stack down with "
		                          "that one"
		                        : "check /run");
	r = teardown_stack(&s, root);
	stack_free(&s);
	if (r < 0)
		return log_fail(r, "taking down the stack at", root, NULL,
		                "see the warnings above; close what uses it and run this again");
	unlink(STATE_FILE);
	return 0;
}

/* For initramfs frameworks: our own /init does this before switching root. */
static const char prepare_shutdown_usage[] =
    "Usage: loopboot prepare-shutdown [--root DIR]\n"
    "Copies loopboot and what the dynamic loader needs for it to /run/initramfs (or DIR), "
    "with loopboot as its shutdown program; a noexec /run gets a tmpfs of its own there. Run "
    "it in the initramfs, after `loopboot boot`, before switching root.\n";

static int cmd_prepare_shutdown(int argc, char **argv)
{
	const char *root = SHUTDOWN_ROOT;
	int r = OPTS_PARSE(argc, argv, 0, prepare_shutdown_usage, OPT_STRING("root", 'r', &root));
	if (r >= 0)
		return r;
	if (optind < argc || root[0] != '/') {
		fprintf(stderr, "loopboot: prepare-shutdown: %s: %s — %s\n",
		        optind < argc ? argv[optind] : root,
		        optind < argc ? "unexpected argument" : "not an absolute path",
		        "usage: loopboot prepare-shutdown [--root DIR]");
		return 2;
	}
	r = shutdown_prepare(root);
	return r < 0 ? r : 0;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("loopboot %s\n", LOOPBOOT_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv);

/* ---- the table -------------------------------------------------------------------------- */

#define VERB_ANY UINT_MAX

struct verb {
	const char *name;
	/* How many words may follow the name. The verbs that take options count them here
	 * too, so those take any number and look at their words themselves. */
	unsigned min_args, max_args;
	/* argv[0] is the name. Returns 0, a negative errno (exit status 1), or an exit status
	 * of the verb's contract: 2 for input it cannot take, 1 for a check that failed. */
	int (*run)(int argc, char **argv);
	const char *synopsis; /* NULL: another name of a verb, not in the usage text */
	const char *help;     /* for the usage text; '\n' continues it in its column */
};

static const struct verb verbs[] = {
    {"plan", 0, VERB_ANY, cmd_plan, "plan [--cmdline STRING]",
     "print what a kernel command line asks for"},
    {"boot", 0, VERB_ANY, cmd_boot, "boot --root-mnt DIR [--cmdline STRING]",
     "mount the root (and /host, extra images) at DIR"},
    {"initrd", 0, VERB_ANY, initrd_main, "initrd -o FILE [OPTIONS]",
     "build a standalone initramfs (see loopboot(8))"},
    {"teardown", 0, VERB_ANY, cmd_teardown, "teardown --root-mnt DIR",
     "take down what boot --root-mnt DIR built"},
    /* As PID 1 an exit is a kernel panic with the host still mounted: extra words after
     * VERB are not worth one. */
    {"shutdown", 1, VERB_ANY, shutdown_main, "shutdown VERB",
     "as PID 1: take the stack down, then VERB\n(poweroff, reboot, halt, kexec)"},
    {"prepare-shutdown", 0, VERB_ANY, cmd_prepare_shutdown, "prepare-shutdown [--root DIR]",
     "fill /run/initramfs for the shutdown side\n(initramfs frameworks, before switching root)"},
    {"status", 0, VERB_ANY, status_main, "status [--json] [--get KIND.KEY]...",
     "show the running system's stack"},
    {"helpers", 1, VERB_ANY, helpers_main, "helpers programs|modules [TYPE...]",
     "what an initramfs needs, one a line\n(for the initramfs frameworks' hooks)"},
    {"install", 0, VERB_ANY, install_main, "install FILE --size SIZE [OPTIONS]",
     "Debian into a new image, ready to boot"},
    {"create", 0, VERB_ANY, create_main,
     "create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL] [--overlay]",
     "make a fully allocated image file\n(--overlay: a persistent overlay layer)"},
    {"resize", 0, VERB_ANY, resize_main, "resize FILE SIZE|+SIZE|-SIZE",
     "grow or shrink an image offline"},
    {"check", 0, VERB_ANY, check_main, "check [--cmdline STRING]",
     "check, writing nothing, that an entry would boot"},
    {"grub", 0, VERB_ANY, grub_main, "grub [--kernel-from image|host] [--cmdline STRING]",
     "print a GRUB menuentry for an entry"},
    {"iso", 0, VERB_ANY, iso_main, "iso -o FILE [--kernel K --initrd I] [--cmdline STRING]",
     "a hybrid ISO (BIOS and UEFI, CD or USB stick)\nthat boots the entry"},
    {"pxe", 0, VERB_ANY, pxe_main, "pxe DIR [--kernel K --initrd I] [--cmdline STRING]",
     "a netboot tree: GRUB for PXE and an iPXE script"},
    {"version", 0, 0, cmd_version, "version", "print the version"},
    {"--version", 0, 0, cmd_version, NULL, NULL},
    {"help", 0, 0, cmd_help, NULL, NULL},
    {"--help", 0, 0, cmd_help, NULL, NULL},
    {"-h", 0, 0, cmd_help, NULL, NULL},
};

static const struct verb *verb_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		if (streq(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

/* The help column: a synopsis that reaches it gets a line of its own. */
#define HELP_COLUMN 33

static void usage(FILE *f)
{
	fputs("Usage: loopboot COMMAND [OPTIONS]\n"
	      "\n"
	      "Boots a root file system that is an image file on another file system.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		const struct verb *v = &verbs[i];
		if (!v->synopsis)
			continue;
		int width = fprintf(f, "  %s", v->synopsis);
		for (const char *line = v->help; line;) {
			const char *nl = strchr(line, '\n');
			if (width >= HELP_COLUMN) { /* a long synopsis, or the help's next line */
				fputc('\n', f);
				width = 0;
			}
			fprintf(f, "%*s%.*s", HELP_COLUMN - width, "",
			        nl ? (int)(nl - line) : (int)strlen(line), line);
			width = HELP_COLUMN;
			line = nl ? nl + 1 : NULL;
		}
		fputc('\n', f);
	}
	fputs("\n"
	      "As /init of an initramfs, loopboot reads root=, loop= and loopboot.* from the\n"
	      "kernel command line: see loopboot-cmdline(7).\n",
	      f);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	usage(stdout);
	return 0;
}

/* Finds the verb, checks how many words follow it, runs it. Returns the exit status. */
static int run_verb(int argc, char **argv)
{
	const struct verb *v = verb_find(argv[0]);
	if (!v) {
		fprintf(stderr, "loopboot: unknown command: %s — see loopboot --help\n", argv[0]);
		return 2;
	}
	unsigned n = (unsigned)argc - 1;
	const char *synopsis = v->synopsis ? v->synopsis : v->name;
	if (n < v->min_args) {
		fprintf(stderr,
		        "loopboot: %s: an argument is missing — usage: loopboot %s (see loopboot "
		        "--help)\n",
		        v->name, synopsis);
		return 2;
	}
	if (n > v->max_args) {
		fprintf(stderr, "loopboot: %s: unexpected argument: %s — usage: loopboot %s\n",
		        v->name, argv[1 + v->max_args], synopsis);
		return 2;
	}
	int r = v->run(argc, argv);
	return r < 0 ? EXIT_FAILURE : r;
}

/* The kernel runs "modprobe -q -- NAME" for request_module(); as /sbin/modprobe in the
 * initramfs we answer it through libkmod. */
static int modprobe_main(int argc, char **argv)
{
	struct modules *m = modules_new();
	int failed = 0;
	bool quiet = false;
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "-q")) {
			quiet = true;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		if (modules_load(m, argv[i]) < 0) {
			if (!quiet)
				fprintf(stderr, "modprobe: %s: not found\n", argv[i]);
			failed = 1;
		}
	}
	modules_free(m);
	return failed;
}

int main(int argc, char **argv)
{
	_cleanup_free_ char *arg0 = xstrdup(argv[0]);
	const char *name = basename(arg0);

	/* systemd-shutdown runs /run/initramfs/shutdown, a link to us. */
	if (streq(name, "shutdown"))
		return shutdown_main(argc, argv);
	if (getpid() == 1 && !(argc > 1 && streq(argv[1], "shutdown") && !streq(name, "init")))
		init_main(argc, argv);
	if (streq(name, "modprobe"))
		return modprobe_main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	return run_verb(argc - 1, argv + 1);
}
