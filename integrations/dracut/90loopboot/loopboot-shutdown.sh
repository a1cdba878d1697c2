#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# dracut pre-shutdown hook, in the shutdown root that dracut-shutdown.service restored to
# /run/initramfs: systemd-shutdown has pivoted into it with the old root at /oldroot.
# When loopboot built the root, it takes it down in order: the host and nested layers leave
# the old root's tree, the root's tree is unmounted deepest first, the loop devices are
# detached, the host is flushed and unmounted and its FUSE daemon waited for. dracut's own
# umount loop, which follows, would find the root busy (the host is mounted inside it)
# and the host busy (the image on it is in use).

if [ -s /run/loopboot/state ] && [ -x "${LOOPBOOT_BIN:-/usr/sbin/loopboot}" ]; then
    if "${LOOPBOOT_BIN:-/usr/sbin/loopboot}" teardown --root-mnt "${LOOPBOOT_OLDROOT:-/oldroot}"; then
        echo "loopboot: images unmounted, loop devices detached, host unmounted"
    else
        echo "loopboot: teardown at /oldroot failed (see above); the host may need checking"
    fi
fi
