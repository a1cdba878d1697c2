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

#define SHUTDOWN_ROOT    "/run/initramfs"
#define SHUTDOWN_OLDROOT "/oldroot"
/* What an init without systemd execs as its last step: see shutdown.c. */
#define SHUTDOWN_EXEC SHUTDOWN_ROOT "/loopboot-shutdown"

/* Copies the running initramfs to SHUTDOWN_ROOT (at boot, PID 1, before switch_root).
 * Leaves an existing SHUTDOWN_ROOT/shutdown alone: another initramfs owns it. */
int shutdown_prepare(void);

/* `loopboot shutdown VERB`, and /shutdown: never returns when it can act. */
int shutdown_main(int argc, char **argv);
