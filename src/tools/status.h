/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot status [--json]`: the running system's stack as the engine recorded it in its
 * state record: the host, loop devices, linear mappings and mounts, one line each.
 */
#pragma once

int status_main(int argc, char **argv);
