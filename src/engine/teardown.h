/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Taking a recorded stack down, top first: `loopboot teardown`, the shutdown program, and
 * the initramfs frameworks' shutdown hooks. What each layer's undo is lives in layer.c;
 * here is the order, and what to do with the root's own tree.
 */
#pragma once

#include "engine/layer.h"

/*
 * Takes the stack s (as read from the state record: paths as seen from the new root)
 * down: moves the host and intermediate layers out of the root's tree, unmounts the root
 * with everything still mounted below it (deepest first), then undoes the rest in reverse
 * order: loop and device-mapper devices, layers, the host (its FUSE daemon waited for).
 * prefix is where the recorded root is now ("" after switch_root: then only the extra
 * images can go; "/oldroot" in the shutdown root; DIR for `boot --root-mnt DIR`).
 * Returns 0 or the first error; goes on after errors so that as much as possible is
 * released.
 */
int teardown_stack(const struct stack *s, const char *prefix);
