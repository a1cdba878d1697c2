/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot status [--json] [--get KIND.KEY]...`: the running system's stack, from the
 * state record. */
#pragma once

int status_main(int argc, char **argv);
