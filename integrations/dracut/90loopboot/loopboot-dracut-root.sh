#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /usr/lib/loopboot/dracut-root in the initramfs: mounts the root image at $NEWROOT
# (default /sysroot) with the loopboot engine: the image named by loop= from the host
# named by root=, extra images inside it, the host at $NEWROOT/host. Run by
# loopboot-root.service (systemd initrd) and mount-loopboot.sh (script initrd).
# Exit status: the engine's (0 mounted; 1 failed, nothing left mounted, the host not
# written; 2 the command line was not accepted).
NEWROOT=${NEWROOT:-/sysroot}
[ -d "$NEWROOT" ] || mkdir -p "$NEWROOT"
# The engine moves the host from /run/loopboot/host into the new root. The kernel refuses
# to move a mount whose parent mount is shared (EINVAL), and systemd makes every mount
# shared; as systemd's own switch-root does, make the parent (/run) private first. Only
# for the initrd's remaining life: systemd in the new root makes / shared again.
mountpoint -q /run 2>/dev/null && mount --make-private /run 2>/dev/null
"${LOOPBOOT_BIN:-/usr/sbin/loopboot}" boot --root-mnt "$NEWROOT" || exit
# dracut-shutdown.service restores the initramfs into /run/initramfs at shutdown only when
# something asked for it; its pre-shutdown hook then takes the stack down.
mkdir -p /run/initramfs
: > /run/initramfs/.need_shutdown

# dracut's script initrd mounts /run noexec, and systemd-shutdown does not run a
# /run/initramfs/shutdown it cannot execute: then /run/initramfs gets a tmpfs of its own
# that allows it, with what dracut keeps there copied in.
R=/run/initramfs
printf '#!/bin/sh\nexit 0\n' > "$R/.loopboot-exec-test" && chmod 755 "$R/.loopboot-exec-test"
if ! "$R/.loopboot-exec-test" 2> /dev/null; then
    rm -f "$R/.loopboot-exec-test"
    keep=$R.loopboot-keep
    if rm -rf "$keep" && mkdir -p "$keep" && cp -a "$R/." "$keep/" &&
        mount -t tmpfs -o mode=0755,nodev,nosuid tmpfs "$R"; then
        cp -a "$keep/." "$R/"
    else
        echo "loopboot: /run/initramfs does not allow executing programs: dracut's shutdown root will not run at poweroff" >&2
    fi
    rm -rf "$keep"
fi
rm -f "$R/.loopboot-exec-test"
exit 0
