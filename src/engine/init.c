/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/init.h"

#include <fcntl.h>
#include <sys/reboot.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/process.h"
#include "basic/util.h"
#include "engine/boot.h"
#include "engine/cmdline.h"
#include "engine/plan.h"
#include "engine/shutdown.h"
#include "engine/switchroot.h"
#include "engine/times.h"

#define NEWROOT "/root"

/* The kernel may have found no /dev/console in the archive: give messages somewhere to go. */
static void ensure_console(void)
{
	if (fcntl(STDERR_FILENO, F_GETFD) < 0)
		log_open_console();
}

static void run_shell(void)
{
	static const char *const shells[] = {"/bin/sh", "/usr/bin/sh", "/bin/busybox"};
	for (size_t i = 0; i < ARRAY_SIZE(shells); i++) {
		if (access(shells[i], X_OK) < 0)
			continue;
		log_info("starting %s (loopboot.shell); the machine reboots when it exits",
		         shells[i]);
		/* The console as its controlling terminal (opened in its new session), so that
		 * ^C works in the shell; argv[0] "sh" also makes busybox run its shell applet. */
		struct process_options console = {
		    .stdio = {STDIO_PATH("/dev/console"), STDIO_PATH("/dev/console"),
		              STDIO_PATH("/dev/console")},
		    .new_session = true,
		};
		char *argv[] = {"sh", NULL};
		struct process_result res;
		int r = process_run(shells[i], argv, &console, &res);
		if (r < 0 && res.end == PROCESS_NOT_STARTED && !streq(res.step, "exec")) {
			/* Without the console, the shell still has ours (without ^C). */
			_cleanup_free_ char *how = process_result_message(&res);
			log_warn("the shell %s: starting it on our own output", how);
			console = (struct process_options){.new_session = true};
			r = process_run(shells[i], argv, &console, &res);
		}
		if (r < 0 && (res.end == PROCESS_NOT_STARTED || res.end == PROCESS_LOST)) {
			_cleanup_free_ char *how = process_result_message(&res);
			log_fail(r, "starting the shell", shells[i], how,
			         "rebuild the initramfs with a working shell (--add-binary)");
		}
		return;
	}
	log_info("loopboot.shell was given, but the initramfs has no shell — rebuild it with "
	         "loopboot initrd --add-binary /bin/busybox");
}

/*
 * A user's mistake must never end in a kernel panic (PID 1 exiting): say what happened,
 * optionally give a shell, and reboot after the timeout so a remote machine comes back.
 */
static void __attribute__((noreturn)) fail_and_reboot(unsigned timeout, bool shell)
{
	log_info("the boot stopped%s", shell ? ""
	                                     : " — fix the boot entry (add loopboot.shell "
	                                       "for a shell here)");
	if (shell)
		run_shell();
	else {
		log_info("rebooting in %u s", timeout);
		sleep(timeout);
	}
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

int init_main(int argc, char **argv)
{
	times_start(&times_boot, false);
	int step = step_begin("start");
	ensure_console();
	if (boot_mount_api_filesystems() < 0) {
		ensure_console();
		fail_and_reboot(PLAN_DEFAULT_TIMEOUT, false);
	}
	ensure_console();

	_cleanup_free_ char *line = NULL;
	int r = cmdline_read(NULL, &line);
	if (r < 0) {
		log_fail(r, "reading", "/proc/cmdline", NULL, "the kernel must have /proc");
		fail_and_reboot(PLAN_DEFAULT_TIMEOUT, false);
	}
	struct plan plan;
	_cleanup_free_ char *error = NULL;
	r = plan_parse(line, &plan, &error);
	if (r < 0) {
		fprintf(stderr, "%s\n", error);
		unsigned timeout;
		bool shell;
		plan_failure_policy(line, &timeout, &shell);
		fail_and_reboot(timeout, shell);
	}
	log_set_debug(plan.debug);
	times_boot.print = plan.times || plan.debug;
	for (size_t i = 0; i < plan.warnings.n; i++)
		log_warn("%s", plan.warnings.v[i]);
	log_debug("loopboot %s as /init; command line: %s", LOOPBOOT_VERSION, strip_trailing(line));

	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST) {
		log_fail(errno, "creating", NEWROOT, NULL, "the initramfs must be writable");
		fail_and_reboot(plan.timeout, plan.shell);
	}
	step_end(step);
	struct boot_options opts = {.root_mnt = NEWROOT, .find_init = true};
	struct boot_result result;
	r = boot_run(&plan, &opts, &result);
	if (r < 0)
		fail_and_reboot(plan.timeout, plan.shell);

	/* For systemd-shutdown (and `loopboot shutdown`) to come back to at poweroff. */
	step = step_begin("shutdown root");
	if ((plan.has_loop || plan.net.kind != PLAN_NET_NONE) &&
	    shutdown_prepare(SHUTDOWN_ROOT) < 0)
		log_warn(
		    "the stack cannot be taken down at shutdown: the host may be left unclean");
	step_end(step);

	/* The kernel handed us the arguments meant for init: pass them on. */
	char **init_argv = xcalloc((size_t)argc + 1, sizeof(char *));
	init_argv[0] = result.init;
	for (int i = 1; i < argc; i++)
		init_argv[i] = argv[i];
	log_debug("switching root to %s, executing %s", NEWROOT, result.init);
	(void)step_begin("switch_root"); /* ended by switchroot(), before init starts */
	(void)switchroot(NEWROOT, result.init, init_argv); /* it said what failed */
	/* Past the point of no return: the initramfs may already be gone. */
	fail_and_reboot(plan.timeout, plan.shell);
}
