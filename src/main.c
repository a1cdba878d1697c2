/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loopboot: boot a root file system stored in an image file on another file system.
 * One binary: as /init (PID 1) it is the engine; otherwise the first argument names a
 * subcommand.
 */
#include <getopt.h>
#include <libgen.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/util.h"
#include "engine/boot.h"
#include "engine/cmdline.h"
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
#include "tools/iso.h"
#include "tools/pxe.h"
#include "tools/status.h"

static void usage(FILE *f)
{
	fputs("Usage: loopboot COMMAND [OPTIONS]\n"
	      "\n"
	      "Boots a root file system that is an image file on another file system.\n"
	      "\n"
	      "Commands:\n"
	      "  plan [--cmdline STRING]        print what a kernel command line asks for\n"
	      "  boot --root-mnt DIR [--cmdline STRING]\n"
	      "                                 mount the root (and /host, extra images) at DIR\n"
	      "  initrd -o FILE [OPTIONS]       build a standalone initramfs (see loopboot(8))\n"
	      "  teardown --root-mnt DIR        take down what boot --root-mnt DIR built\n"
	      "  shutdown VERB                  as PID 1: take the stack down, then VERB\n"
	      "                                 (poweroff, reboot, halt, kexec)\n"
	      "  prepare-shutdown               fill /run/initramfs for the shutdown side\n"
	      "                                 (initramfs frameworks, before switching root)\n"
	      "  status [--json] [--get KIND.KEY]\n"
	      "                                 show the running system's stack\n"
	      "  create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL]\n"
	      "                                 make a fully allocated image file\n"
	      "  check [--cmdline STRING]       check, writing nothing, that an entry would boot\n"
	      "  grub [--kernel-from image|host] [--cmdline STRING]\n"
	      "                                 print a GRUB menuentry for an entry\n"
	      "  iso -o FILE [--kernel K --initrd I] [--cmdline STRING]\n"
	      "                                 a hybrid ISO (BIOS and UEFI, CD or USB stick)\n"
	      "                                 that boots the entry\n"
	      "  pxe DIR [--kernel K --initrd I] [--cmdline STRING]\n"
	      "                                 a netboot tree: GRUB for PXE and an iPXE script\n"
	      "  version                        print the version\n"
	      "\n"
	      "As /init of an initramfs, loopboot reads root=, loop= and loopboot.* from the\n"
	      "kernel command line: see loopboot-cmdline(7).\n",
	      f);
}

static int cmd_plan(int argc, char **argv)
{
	static const struct option options[] = {
	    {"cmdline", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *cmdline = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			cmdline = optarg;
			break;
		case 'h':
			puts("Usage: loopboot plan [--cmdline STRING]\n"
			     "Prints what the kernel command line (default: /proc/cmdline) asks "
			     "for. "
			     "Touches nothing.");
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		        "loopboot: plan: unexpected argument: %s — quote the command line "
		        "and pass it with --cmdline\n",
		        argv[optind]);
		return 2;
	}
	struct plan plan;
	int r = cli_load_plan(argv[0], cmdline, &plan, NULL);
	if (r)
		return r;
	plan_print(&plan, stdout);
	plan_free(&plan);
	return 0;
}

static int cmd_boot(int argc, char **argv)
{
	static const struct option options[] = {
	    {"root-mnt", required_argument, NULL, 'r'},
	    {"cmdline", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *cmdline = NULL, *root_mnt = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "r:c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'r':
			root_mnt = optarg;
			break;
		case 'c':
			cmdline = optarg;
			break;
		case 'h':
			puts("Usage: loopboot boot --root-mnt DIR [--cmdline STRING]\n"
			     "Mounts the root image at DIR, extra images inside it and the host at "
			     "DIR/host, as an initramfs framework's root mounting step.");
			return 0;
		default:
			return 2;
		}
	}
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
	int r = cli_load_plan(argv[0], cmdline, &plan, NULL);
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
	return r < 0 ? 1 : 0;
}

static int cmd_teardown(int argc, char **argv)
{
	static const struct option options[] = {
	    {"root-mnt", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *root_mnt = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "r:h", options, NULL)) >= 0) {
		switch (c) {
		case 'r':
			root_mnt = optarg;
			break;
		case 'h':
			puts("Usage: loopboot teardown --root-mnt DIR\n"
			     "Takes down what `loopboot boot --root-mnt DIR` built, in reverse "
			     "order: "
			     "extra images, the root, loop devices, then the host (flushed, FUSE "
			     "daemon waited for).");
			return 0;
		default:
			return 2;
		}
	}
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
	int r = state_load(STATE_FILE, &s, &error);
	if (r < 0) {
		log_fail(r, "reading the state record", STATE_FILE, error,
		         r == -ENOENT ? "nothing was booted by loopboot here"
		         : error ? "another loopboot wrote it: take the stack down with that one"
		                 : "check /run");
		return 1;
	}
	r = teardown_stack(&s, root);
	stack_free(&s);
	if (r < 0) {
		log_fail(r, "taking down the stack at", root, NULL,
		         "see the warnings above; close what uses it and run this again");
		return 1;
	}
	unlink(STATE_FILE);
	return 0;
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
	const char *cmd = argv[1];
	if (streq(cmd, "plan"))
		return cmd_plan(argc - 1, argv + 1);
	if (streq(cmd, "boot"))
		return cmd_boot(argc - 1, argv + 1);
	if (streq(cmd, "initrd"))
		return initrd_main(argc - 1, argv + 1);
	if (streq(cmd, "shutdown"))
		return shutdown_main(argc - 1, argv + 1);
	if (streq(cmd, "prepare-shutdown")) {
		/* For initramfs frameworks: our own /init does this before switching root. */
		if (argc > 2) {
			puts(
			    "Usage: loopboot prepare-shutdown\n"
			    "Copies this initramfs (without kernel modules) to /run/initramfs with "
			    "loopboot as its shutdown program. Run it in the initramfs, after "
			    "`loopboot boot`, before switching root.");
			return streq(argv[2], "--help") ? 0 : 2;
		}
		return shutdown_prepare() < 0 ? 1 : 0;
	}
	if (streq(cmd, "teardown"))
		return cmd_teardown(argc - 1, argv + 1);
	if (streq(cmd, "status"))
		return status_main(argc - 1, argv + 1);
	if (streq(cmd, "create"))
		return create_main(argc - 1, argv + 1);
	if (streq(cmd, "check"))
		return check_main(argc - 1, argv + 1);
	if (streq(cmd, "grub"))
		return grub_main(argc - 1, argv + 1);
	if (streq(cmd, "iso"))
		return iso_main(argc - 1, argv + 1);
	if (streq(cmd, "pxe"))
		return pxe_main(argc - 1, argv + 1);
	if (streq(cmd, "version") || streq(cmd, "--version")) {
		printf("loopboot %s\n", LOOPBOOT_VERSION);
		return 0;
	}
	if (streq(cmd, "help") || streq(cmd, "--help") || streq(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "loopboot: unknown command: %s — see loopboot --help\n", cmd);
	return 2;
}
