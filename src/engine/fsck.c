/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/fsck.h"

#include "basic/log.h"
#include "basic/process.h"
#include "basic/util.h"
#include "engine/helpers.h"
#include "engine/times.h"

char *fsck_find(const char *fstype)
{
	const struct fs_helper *h = fs_helper_for_type(fstype);
	return h && h->fsck ? find_program(h->fsck, PROGRAM_SEARCH_PATH) : NULL;
}

/* The checkers agree on the fsck(8) exit status: bit 0 corrected, bit 1 reboot advised,
 * bit 2 errors left, bit 3 operational error. The repair flags differ a little. */
static void build_argv(const struct plan *p, const char *prog, const char *devnode, bool dry_run,
                       struct args *a)
{
	bool e2 = strstr(prog, "e2fsck") != NULL;
	bool exfat = strstr(prog, "exfat") != NULL;
	const char *repair = "-n";
	if (!dry_run && p->fsck_repair == PLAN_FSCK_REPAIR_PREEN)
		repair = e2 || exfat ? "-p" : "-a";
	else if (!dry_run && p->fsck_repair == PLAN_FSCK_REPAIR_YES)
		repair = "-y";
	args_add(a, prog, repair, NULL);
	if (p->fsck_mode == PLAN_FSCK_FORCE && e2)
		args_add(a, "-f", NULL);
	args_add(a, devnode, NULL);
}

int fsck_run(const struct plan *p, const char *devnode, const char *fstype, const char *what,
             bool dry_run)
{
	if (p->fsck_mode == PLAN_FSCK_SKIP)
		return 0;
	_cleanup_free_ char *prog = fsck_find(fstype);
	if (!prog) {
		log_debug("no checker for %s installed: %s not checked", fstype, what);
		return 0;
	}
	struct args a = {0};
	build_argv(p, prog, devnode, dry_run, &a);
	log_debug("checking %s: %s %s %s", what, a.v[0], a.v[1], devnode);
	/* The checker talks to the console (stdout/stderr are ours); it must not wait for
	 * answers. */
	static const struct process_options no_input = {.stdio = {STDIO_NULL}};
	struct process_result res;
	int step = step_begin("fsck");
	int r = process_run(NULL, a.v, &no_input, &res);
	step_end(step);
	if (res.end != PROCESS_EXITED) {
		_cleanup_free_ char *how = process_result_message(&res);
		if (res.end == PROCESS_NOT_STARTED)
			return log_fail(r, "checking", what, how,
			                "rebuild the initramfs, or boot with fsck.mode=skip");
		if (res.end == PROCESS_LOST)
			return log_fail(r, "checking", what, how, "retry the boot");
		_cleanup_free_ char *why = xasprintf("the checker was %s", how);
		return log_fail(EIO, "checking", what, why, "check the image from another system");
	}
	int rc = res.status;
	if (rc == 0)
		return 0;
	/* The dynamic loader's status when a library is missing. */
	if (rc == 127)
		return log_fail(ENOEXEC, "checking", what, "the checker would not start",
		                "rebuild the initramfs, or boot with fsck.mode=skip");
	if (dry_run && (rc & 4) && p->fsck_repair != PLAN_FSCK_REPAIR_NO) {
		log_info("%s has file system errors: they will be repaired (fsck.repair=%s)", what,
		         p->fsck_repair == PLAN_FSCK_REPAIR_YES ? "yes" : "preen");
		return 1;
	}
	if (rc & 4)
		return log_fail(
		    EUCLEAN, "file system errors in", what, "the checker could not repair them",
		    "repair it from another system (%s -f on the image file)%s", a.v[0],
		    p->fsck_repair == PLAN_FSCK_REPAIR_NO ? ", or boot with fsck.repair=preen"
		                                          : "");
	if (rc & 8)
		return log_fail(EIO, "checking", what, "the checker failed to run",
		                "see its messages above; fsck.mode=skip boots without the check");
	if (rc & 3)
		log_info("%s: file system errors were repaired", what);
	return 0;
}
