/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* loopboot as /init, PID 1 of the initramfs. Never returns. */
int init_main(int argc, char **argv) __attribute__((noreturn));
