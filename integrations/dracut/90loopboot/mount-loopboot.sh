#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# dracut mount hook (script initrd only; the systemd initrd uses loopboot-root.service):
# when parse-loopboot.sh claimed the root, the engine mounts it at $NEWROOT. init sources
# the mount hooks until $NEWROOT is mounted; on failure dracut's emergency policy applies
# (rd.shell, rd.emergency=), and leaving the shell tries again.

# shellcheck source=/dev/null # dracut's library, in the initramfs
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

# shellcheck disable=SC2154 # root and NEWROOT are dracut's
if [ "${root%%:*}" = loopboot ] && ! ismounted "$NEWROOT"; then
    if ! NEWROOT="$NEWROOT" /usr/lib/loopboot/dracut-root; then
        emergency_shell -n loopboot "loopboot could not mount the root image (see the loopboot: line above; the host was not written)"
    fi
fi
