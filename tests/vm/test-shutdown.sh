#!/bin/bash
# Nothing lost at shutdown. The guest writes to its root image, to an extra image at /home
# and to the host file system, syncs nothing and shuts down; the disk is then read back:
# no image may need journal recovery, e2fsck -fn passes on each, all three writes are
# there, and the console shows no I/O error. Scenarios:
#   sd-ntfs-poweroff  a Debian 12 systemd root on NTFS (ntfs-3g), `systemctl poweroff`:
#                     systemd-shutdown runs loopboot as /run/initramfs/shutdown
#   sd-fat-poweroff   the same on FAT32
#   sd-ntfs-reboot    the same on NTFS with `systemctl reboot`
#   bb-ntfs-poweroff  a busybox root whose init ends with the documented shutdown command
#                     for inits without systemd: exec /run/initramfs/loopboot-shutdown poweroff
# The systemd root is built once with debootstrap (sd_root in tests/lib/roots.sh) and cached in
# tests/vm/cache. VM_APPEND=loopboot.debug boots with the engine's details on the console.
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
# systemd under TCG wants more room and time than the busybox guests.
[ "$VM_MEM" -ge 1024 ] || VM_MEM=1024
[ "$VM_TIMEOUT" -ge 300 ] || VM_TIMEOUT=300
vm_require
vm_setup
W=$VM_OUT

start=$(date +%s)
sd_root "$W/sd.img" || die "the Debian 12 systemd root image is built (log: $VM_CACHE/debootstrap.log)"
note "systemd root image ready in $(($(date +%s) - start))s ($SD_SIZE_MB MB, $(du -k "$W/sd.img" | cut -f1) KiB used)"

scenario() { # NAME ntfs|fat sd|bb poweroff|reboot
	local s=$1 fs=$2 kind=$3 action=$4 f=$T_FAILED n disk=$W/$1.disk got bad line
	n=$(nonce_new)
	local root=$W/$s.root home=$W/$s.home host=$W/$s.host
	case $kind in
	sd) cp --sparse=always "$W/sd.img" "$root" ;;
	bb) bb_root "$root" ;;
	esac || die "$s: root image built"
	plain_image "$home" "home image" || die "$s: home image built"
	sd_host_new "$fs" "$disk" "$root" "$home" || die "$s: host disk built"
	rm -f "$root" "$home"

	local cmdline="root=$SD_HOST_SPEC loop=/linux/root.img rw loopboot.mount=/home:/linux/home.img"
	[ "$kind" = sd ] && cmdline="$cmdline systemd.show_status=1"
	vm_boot "$s" "$cmdline lbtest.nonce=$n lbtest.action=$action" "$disk"

	# What the guest saw and did.
	sd_boot_checks "$s" /dev/vda "$SD_HOST_FSTYPE"
	if [ "$kind" = sd ]; then
		[ "$(sd_lbtest shutdown-root)" = init ]
		ok $? "$s: the engine left /run/initramfs/shutdown for systemd (-> $(sd_lbtest shutdown-root))"
		[ -n "$(sd_lbtest state)" ]
		ok $? "$s: the engine's state record is in the running system (/run/loopboot/state)"
		if [ "$fs" = ntfs ]; then
			sd_ntfs3g_checks "$s" "systemd's final killing spree spared ntfs-3g"
		fi
	else
		console_has "LBTEST shutdown-command=/run/initramfs/loopboot-shutdown"
		ok $? "$s: the engine left /run/initramfs/loopboot-shutdown for the init"
	fi
	line=$(grep -a -m1 '^loopboot: images unmounted, loop devices detached, host' "$VM_LOG")
	[ "$line" = "loopboot: images unmounted, loop devices detached, host /dev/vda unmounted" ]
	ok $? "$s: loopboot took the stack down (${line:-no such line})"
	case $action in
	poweroff) console_has "reboot: Power down" ;;
	reboot) console_has "reboot: Restarting system" ;;
	esac
	ok $? "$s: the kernel carried out the $action"
	bad=$(grep -aE "$SD_BAD_CONSOLE" "$VM_LOG" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O error, panic or oops on the console${bad:+ ($bad)}"

	# What is on the disk.
	sd_host_read "$s" "$fs" "$disk" "$root" "$home" "$host"
	sd_written_checks "$s" $? "$root" "$home" "$host" "$n"
	scenario_done "$s" "$f" "$disk" "$root" "$home" "$host"
}

# LB_SHUTDOWN_ONLY=NAME[,NAME...] runs those scenarios only.
want() { [ -z "${LB_SHUTDOWN_ONLY:-}" ] || [[ ,$LB_SHUTDOWN_ONLY, == *",$1,"* ]]; }
want sd-ntfs-poweroff && scenario sd-ntfs-poweroff ntfs sd poweroff
want sd-fat-poweroff && scenario sd-fat-poweroff fat sd poweroff
want sd-ntfs-reboot && scenario sd-ntfs-reboot ntfs sd reboot
want bb-ntfs-poweroff && scenario bb-ntfs-poweroff ntfs bb poweroff
rm -f "$W/sd.img"
note "total $(($(date +%s) - start))s"
finish
