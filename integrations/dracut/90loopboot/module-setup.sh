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

# A host on the network (root=nbd:, root=nfs:, root=nfs4:, loop=http(s)://, with loop=):
# wanted with loopboot_network="yes" in dracut.conf, when this machine booted from such a
# command line, or when dracut's own network, nbd or nfs module was asked for; never with
# loopboot_network="no". dracut's network module (Debian: dracut-network) brings the
# interface up, the engine takes it as configured.
loopboot_network_wanted() {
    local w
    case "${loopboot_network:-}" in
        y | yes | 1) return 0 ;;
        n | no | 0) return 1 ;;
    esac
    for w in network nbd nfs; do
        [[ " $add_dracutmodules $force_add_dracutmodules $dracutmodules " == *" $w "* ]] && return 0
    done
    set -f
    # shellcheck disable=SC2013 # words, as the kernel splits them
    for w in $(cat /proc/cmdline 2> /dev/null); do
        w=${w#\"}
        case "$w" in
            root=nbd:?* | root=nfs:?* | root=nfs4:?* | loop=http://?* | loop=https://?*)
                set +f
                return 0
                ;;
        esac
    done
    set +f
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
    loopboot_network_wanted || return 0
    # dracut's network module, with an interface handler it can install: a module that
    # fails as a dependency would take this one down with it, and then no loop= boots.
    if dracut_module_included network; then
        echo network
        return 0
    fi
    if ! [[ -d $dracutbasedir/modules.d/40network ]]; then
        dwarn "loopboot: dracut's network module is not installed; root=nbd:, root=nfs: and loop=http:// with loop= will not boot (Debian: apt-get install dracut-network)"
        return 0
    fi
    if [[ " ${mods_checked_as_dep-} " == *" network "* ]]; then
        dwarn "loopboot: dracut's network module cannot be installed (see above); root=nbd:, root=nfs: and loop=http:// with loop= will not boot (Debian 12: add_dracutmodules+=\" network-legacy \")"
        return 0
    fi
    # The handler: one included already, else NetworkManager's (dracut's choice where it is
    # installed), else network-legacy (dhclient, udev and the initqueue: both initrd
    # flavours, and the wait rd.neednet=1 asks the initqueue for). Not systemd-networkd,
    # which dracut would take wherever systemd has it: its module needs D-Bus in the
    # initramfs and runs no netroot hooks.
    if ! dracut_module_included network-manager && ! dracut_module_included connman &&
        ! dracut_module_included network-wicked && ! dracut_module_included systemd-networkd &&
        ! [[ -x ${dracutsysrootdir-}/usr/libexec/nm-initrd-generator || -x ${dracutsysrootdir-}/usr/lib/nm-initrd-generator ||
        -x ${dracutsysrootdir-}/usr/lib/NetworkManager/nm-initrd-generator ]]; then
        if ! [[ -d $dracutbasedir/modules.d/35network-legacy ]] || ! type -P dhclient > /dev/null; then
            dwarn "loopboot: no network handler for dracut's network module (install isc-dhcp-client for network-legacy); root=nbd:, root=nfs: and loop=http:// with loop= will not boot"
            return 0
        fi
        echo network-legacy
    fi
    echo network
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
    # A host on the network: NBD, the NFS client, the kernel's SHA-256 for
    # loopboot.sha256= (the network drivers come with dracut's network module).
    if dracut_module_included network; then
        hostonly='' instmods nbd nfs nfsv3 nfsv4 af_packet algif_hash sha256_generic sha256_ssse3
    fi
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

    if dracut_module_included network; then
        # The engine's clients for a host on the network (nbd-client as a root storage
        # daemon; curl for loop=http(s)://, with the CA bundle), where installed.
        inst_multiple -o nbd-client curl
        [[ -f ${dracutsysrootdir-}/etc/ssl/certs/ca-certificates.crt ]] &&
            inst_simple /etc/ssl/certs/ca-certificates.crt
    fi

    if dracut_module_included "systemd"; then
        inst_simple "$moddir/loopboot-root.service" "$systemdsystemunitdir/loopboot-root.service"
        inst_simple "$moddir/sysroot-loopboot.conf" "$systemdsystemunitdir/sysroot.mount.d/90-loopboot.conf"
        inst_simple "$moddir/fsck-root-loopboot.conf" \
            "$systemdsystemunitdir/systemd-fsck-root.service.d/90-loopboot.conf"
        if dracut_module_included network; then
            # With a host on the network, no sysroot.mount is generated for root= (it names
            # no device) to pull the unit in: initrd-root-fs.target requires it. Without a
            # claim its condition skips it.
            mkdir -p "$initdir$systemdsystemunitdir/initrd-root-fs.target.requires"
            ln_r "$systemdsystemunitdir/loopboot-root.service" \
                "$systemdsystemunitdir/initrd-root-fs.target.requires/loopboot-root.service"
        fi
    else
        inst_hook mount 10 "$moddir/mount-loopboot.sh"
    fi
}
