/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The shutdown side. At boot, before switching root, the engine copies the initramfs
 * (without its kernel modules) to /run/initramfs with loopboot as /run/initramfs/shutdown.
 * systemd-shutdown pivots into /run/initramfs, with the old root at /oldroot, and runs
 * "/shutdown VERB"; so does `loopboot shutdown VERB` when an init without that feature
 * execs it as PID 1 as its last step. There loopboot takes the recorded stack down in
 * reverse order and halts, powers off, reboots or kexecs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SHUTDOWN_ROOT    "/run/initramfs"
#define SHUTDOWN_OLDROOT "/oldroot"
/* What an init without systemd execs as its last step: see shutdown.c. */
#define SHUTDOWN_EXEC SHUTDOWN_ROOT "/loopboot-shutdown"

/*
 * Fills root (SHUTDOWN_ROOT; another directory for tests) with loopboot and what the
 * dynamic loader needs for it, root/shutdown -> loopboot and root/loopboot-shutdown (at
 * boot, before switch_root); a root on a noexec file system gets a tmpfs of its own. Leaves
 * an existing root/shutdown alone: another part of the initramfs owns it.
 */
int shutdown_prepare(const char *root);

/* `loopboot shutdown VERB`, and /shutdown: never returns when it can act. */
int shutdown_main(int argc, char **argv);

/*
 * Whether kexec is restricted to signed kernels, from the text of
 * /sys/kernel/security/lockdown ("none [integrity] confidentiality": the mode in brackets;
 * NULL when the file is missing) and the SecureBoot EFI variable's bytes (4 bytes of
 * attributes, then 1 when on; NULL when absent). Pure.
 */
bool shutdown_kexec_restricted(const char *lockdown, const unsigned char *secureboot, size_t n);
