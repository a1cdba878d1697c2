#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dracut module "loopboot": boot a root file system that is an image file on another file
# system (root=<host> loop=/path/in/host), through the loopboot engine.
#
#   parse-loopboot.sh       cmdline hook: claims the root when loop= is on the kernel
#                           command line (and not loopboot=off or rd.loopboot=0)
#   loopboot-root.service   systemd initrd: `loopboot boot --root-mnt /sysroot` before
#                           sysroot.mount, which then finds /sysroot mounted
#   sysroot-loopboot.conf   sysroot.mount.d: requires that service
#   fsck-root-loopboot.conf systemd-fsck-root.service.d: no fsck of the host (root=)
#   mount-loopboot.sh       script initrd: mount hook doing the same at $NEWROOT
#   loopboot-dracut-root.sh both: runs the engine, asks for dracut's shutdown root
#   loopboot-shutdown.sh    pre-shutdown hook: `loopboot teardown --root-mnt /oldroot`
#   64-loopboot-uuid.rules  udev: /dev/disk/by-uuid aliases in both cases (with loop=)
#
# docs/integrations.md explains the design.
# shellcheck disable=SC2154 # moddir, systemdsystemunitdir, hostonly, dracutsysrootdir: dracut's

# The installed engine; also where a /usr/local install put it.
loopboot_binary() {
    local p
    for p in "${LOOPBOOT:-}" "$(command -v loopboot 2> /dev/null)" /usr/sbin/loopboot \
        /usr/local/sbin/loopboot /sbin/loopboot /usr/bin/loopboot /usr/local/bin/loopboot; do
        [[ -n $p && -x ${dracutsysrootdir-}$p ]] && echo "$p" && return 0
    done
    return 1
}

# called by dracut
check() {
    loopboot_binary > /dev/null || return 1
    # Host-only images get the module when this system runs from an image loopboot
    # mounted; others when asked for (add_dracutmodules+=" loopboot ").
    if [[ $hostonly ]] && ! [[ -s /run/loopboot/state ]]; then
        return 255
    fi
    return 0
}

# called by dracut
depends() {
    echo base
    return 0
}

# called by dracut
installkernel() {
    local lb
    local -a mods
    lb=$(loopboot_binary) || return 1
    if [[ $hostonly ]] && [[ -s /run/loopboot/state ]]; then
        # What this machine booted with: the host's file system (or its FUSE driver's
        # module, fuse) and each image's, as the engine recorded them.
        # shellcheck disable=SC2046 # one word per type
        mapfile -t mods < <("${dracutsysrootdir-}$lb" helpers modules $("$lb" status --get host.type \
            --get host.driver --get mount.type | sort -u))
    else
        mapfile -t mods < <("${dracutsysrootdir-}$lb" helpers modules)
    fi
    # Not filtered by host-only: an image's file system is not the host's root file system
    # dracut would detect. Modules this kernel lacks (ntfs3 in Debian's) are skipped.
    hostonly='' instmods "${mods[@]}"
}

# called by dracut
install() {
    local lb
    lb=$(loopboot_binary) || return 1
    # On the initramfs's PATH, wherever it was installed.
    inst_binary "$lb" /usr/sbin/loopboot
    # The FUSE drivers the engine falls back to (Debian's kernel has no ntfs3) and the
    # checkers it runs before mounting an image read-write, as the engine lists them.
    # shellcheck disable=SC2046 # one word per program
    inst_multiple -o $("${dracutsysrootdir-}$lb" helpers programs)

    inst_script "$moddir/loopboot-dracut-root.sh" /usr/lib/loopboot/dracut-root
    inst_multiple mountpoint tr cp chmod mkdir rm mount
    inst_rules "$moddir/64-loopboot-uuid.rules"
    inst_hook cmdline 90 "$moddir/parse-loopboot.sh"
    # Runs when dracut's shutdown root takes over at the end of shutdown
    # (dracut-shutdown.service restores it): before dracut's own umount loop, which cannot
    # unmount a root whose host is mounted inside it.
    inst_hook pre-shutdown 40 "$moddir/loopboot-shutdown.sh"

    if dracut_module_included "systemd"; then
        inst_simple "$moddir/loopboot-root.service" "$systemdsystemunitdir/loopboot-root.service"
        inst_simple "$moddir/sysroot-loopboot.conf" "$systemdsystemunitdir/sysroot.mount.d/90-loopboot.conf"
        inst_simple "$moddir/fsck-root-loopboot.conf" \
            "$systemdsystemunitdir/systemd-fsck-root.service.d/90-loopboot.conf"
    else
        inst_hook mount 10 "$moddir/mount-loopboot.sh"
    fi
}
