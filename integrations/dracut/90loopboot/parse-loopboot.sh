#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# dracut cmdline hook (sourced by dracut-cmdline, before 95rootfs-block's parse-block.sh):
# when loop= is on the kernel command line, root= names the host of the image, not the
# root. Claims the root for loopboot:
#   - /run/initramfs/loopboot-root records the claim (loopboot-root.service runs only then,
#     systemd-fsck-root.service does not);
#   - root=loopboot:<host> keeps dracut's block root handling (parse-block.sh,
#     mount-root.sh) from mounting the host itself;
#   - in the script initrd, the initqueue waits for the host device, as it would for a
#     root device.
#   - a host on the network (root=nbd:, root=nfs:, root=nfs4:, loop=http(s)://):
#     rd.neednet=1 in /etc/cmdline.d, so that dracut's network module brings the interface
#     up (ip=) and the initqueue waits for it; the engine then takes it as configured.
#     dracut's own 95nbd and 95nfs find root=loopboot:... and leave it alone.
# loopboot=off (or rd.loopboot=0) on the command line leaves everything to dracut, and so
# does a network root= without loop= (the export as the root: dracut's own modules).
# The decision reads /proc/cmdline, as the engine does, not /etc/cmdline.d.

# shellcheck source=/dev/null # dracut's library, in the initramfs
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

# The kernel command line's words, enough to see loop= and loopboot=off: a word may begin
# with a double quote ("loop=/My Linux/root.img"); words after -- belong to init.
loopboot_wanted() { # [CMDLINE-FILE]
    want=n
    set -f
    # shellcheck disable=SC2013 # words, as the kernel splits them
    for w in $(cat "${1:-/proc/cmdline}"); do
        w=${w#\"}
        case "$w" in
            --) break ;;
            loop=?*) [ "$want" = off ] || want=y ;;
            loop=) [ "$want" = off ] || want=n ;;
            loopboot=off | loopboot=0 | loopboot=no | rd.loopboot=0 | rd.loopboot=off | rd.loopboot=no) want=off ;;
        esac
    done
    set +f
    [ "$want" = y ]
    _r=$?
    unset want w
    return $_r
}

# Does root= or loop= name a host on the network?
loopboot_network_host() { # [CMDLINE-FILE]
    _rnet=n _lnet=n
    set -f
    # shellcheck disable=SC2013 # words, as the kernel splits them
    for w in $(cat "${1:-/proc/cmdline}"); do
        w=${w#\"}
        case "$w" in
            --) break ;;
            root=nbd:?* | root=nfs:?* | root=nfs4:?*) _rnet=y ;;
            root=*) _rnet=n ;;
            loop=http://?* | loop=https://?*) _lnet=y ;;
            loop=*) _lnet=n ;;
        esac
    done
    set +f
    [ "$_rnet" = y ] || [ "$_lnet" = y ]
    _r=$?
    unset _rnet _lnet w
    return $_r
}

# The host device as udev names it: blkid prints NTFS serials and FAT volume IDs in upper
# case, other UUIDs in lower case, and /dev/disk/by-uuid follows; loopboot itself compares
# without regard to case.
loopboot_host_dev() { # SPEC
    _v=${1#UUID=}
    case "$1" in
        UUID=????-???? | UUID=????????????????)
            _v=$(echo "$_v" | tr '[:lower:]' '[:upper:]')
            ;;
        UUID=*)
            _v=$(echo "$_v" | tr '[:upper:]' '[:lower:]')
            ;;
        *)
            label_uuid_to_dev "$1"
            return
            ;;
    esac
    echo "/dev/disk/by-uuid/$_v"
}

if loopboot_wanted "${LOOPBOOT_PROC_CMDLINE:-}"; then
    if [ ! -x /usr/sbin/loopboot ]; then
        warn "loopboot: loop= is on the kernel command line, but this initramfs has no loopboot — install loopboot and rebuild it with dracut"
    else
        _host=${root#block:}
        mkdir -p /run/initramfs
        echo "$_host" > /run/initramfs/loopboot-root
        info "loopboot: root=$_host is the host of loop=; loopboot mounts the root"
        root="loopboot:$_host"
        # shellcheck disable=SC2034 # read by dracut-cmdline after the hooks
        rootok=1
        if loopboot_network_host "${LOOPBOOT_PROC_CMDLINE:-}"; then
            if [ -e /lib/net-lib.sh ]; then
                mkdir -p /etc/cmdline.d
                echo "rd.neednet=1" > /etc/cmdline.d/90-loopboot-neednet.conf
                info "loopboot: the host is on the network; dracut brings the network up"
            else
                warn "loopboot: the host is on the network, but this initramfs has no dracut network module — install dracut-network (or add_dracutmodules+=\" network \") and rebuild it"
            fi
        # The systemd initrd already waits for root= (systemd-fstab-generator).
        elif [ -z "$DRACUT_SYSTEMD" ]; then
            case "$_host" in
                LABEL=* | UUID=* | PARTUUID=* | PARTLABEL=* | /dev/*)
                    wait_for_dev "$(loopboot_host_dev "$_host")"
                    ;;
            esac
        fi
        unset _host
    fi
fi
