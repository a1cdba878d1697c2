/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running the few programs the initramfs builder needs: depmod and a compressor. */
#pragma once

#include <sys/types.h>

/*
 * The program's absolute path: searched in $PATH, then /usr/sbin, /sbin, /usr/bin, /bin
 * (depmod lives in sbin, which a user's $PATH may lack). NULL when not found.
 */
char *initrd_find_program(const char *name);

/*
 * Starts argv[0] (an absolute path) with stdin/stdout taken from the given descriptors
 * (-1: inherit). Returns 0 with *ret_pid set, or -errno.
 */
int initrd_spawn(char *const argv[], int stdin_fd, int stdout_fd, pid_t *ret_pid);

/*
 * Waits for pid (retrying on EINTR). Returns 0 when it exited with status 0; -EPROTO when
 * it exited with another status, -ECANCELED when a signal killed it (*ret_status,
 * optional, gets the status or the signal); or waitpid's -errno.
 */
int initrd_wait(pid_t pid, int *ret_status);

/* Spawn and wait. */
int initrd_run(char *const argv[], int stdin_fd, int stdout_fd);
