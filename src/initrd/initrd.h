/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot initrd`: builds a standalone initramfs whose /init is loopboot itself. */
#pragma once

/* argv[0] is "initrd". Returns the process exit status: 0, 1 (failure), 2 (usage). */
int initrd_main(int argc, char **argv);
