#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# dracut pre-shutdown hook, in the shutdown root that dracut-shutdown.service restored to
# /run/initramfs: systemd-shutdown has pivoted into it with the old root at /oldroot.
# When loopboot built the root, it takes it down in order: the host and nested layers leave
# the old root's tree, the root's tree is unmounted deepest first, the loop devices are
# detached, the host is flushed and unmounted and its FUSE daemon waited for, then an NBD
# device under the host is disconnected (the interface dracut configured stays up).
# dracut's own umount loop, which follows, would find the root busy (the host is mounted
# inside it) and the host busy (the image on it is in use).

lb=${LOOPBOOT_BIN:-/usr/sbin/loopboot}
if [ -s /run/loopboot/state ] && [ -x "$lb" ]; then
    nbd=$("$lb" status --get nbd.device 2> /dev/null)
    if "$lb" teardown --root-mnt "${LOOPBOOT_OLDROOT:-/oldroot}"; then
        echo "loopboot: images unmounted, loop devices detached, host unmounted"
        for d in $nbd; do
            [ -e "/sys/block/${d#/dev/}/pid" ] || echo "loopboot: NBD device $d disconnected"
        done
    else
        echo "loopboot: teardown at /oldroot failed (see above); the host may need checking"
    fi
fi
