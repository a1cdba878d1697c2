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
# The systemd root is built once with debootstrap (tests/vm/lib-systemd.sh) and cached in
# tests/vm/cache. VM_APPEND=loopboot.debug boots with the engine's details on the console.
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
# systemd under TCG wants more room and time than the busybox guests.
[ "$VM_MEM" -ge 1024 ] || VM_MEM=1024
[ "$VM_TIMEOUT" -ge 300 ] || VM_TIMEOUT=300
vm_require
vm_setup
W=$VM_OUT
NTFS_SERIAL=0123456789ABCDEF
FAT_UUID=1234-ABCD # fat_new's volume ID

start=$(date +%s)
sd_root "$W/sd.img" || die "the Debian 12 systemd root image is built (log: $VM_CACHE/debootstrap.log)"
note "systemd root image ready in $(($(date +%s) - start))s ($SD_SIZE_MB MB, $(du -k "$W/sd.img" | cut -f1) KiB used)"

# The lines on the console that mean something was lost or broken on the way down.
BAD_CONSOLE='I/O error|Buffer I/O|EXT4-fs error|EXT4-fs warning|JBD2: .*(error|abort)|Transport endpoint|Kernel panic|BUG:|Oops'

image_checks() { # SCENARIO IMAGE-FILE WHAT PATH NONCE
	local s=$1 img=$2 what=$3 path=$4 nonce=$5 feats got
	feats=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
	[ -n "$feats" ] && [[ " $feats " != *" needs_recovery "* ]]
	ok $? "$s: the $what needs no journal recovery (features: ${feats:-unreadable})"
	check "$s: the $what passes e2fsck -fn" e2fsck -fn "$img"
	# Read as it is on the disk, without replaying the journal.
	got=$(debugfs -R "cat $path" "$img" 2>/dev/null)
	[ "$got" = "$nonce" ]
	ok $? "$s: $path in the $what holds the nonce (got '${got:-nothing}')"
}

scenario() { # NAME ntfs|fat sd|bb poweroff|reboot
	local s=$1 fs=$2 kind=$3 action=$4 f=$T_FAILED n spec hostfs disk=$W/$1.disk got bad line
	n=$(nonce_new)
	local root=$W/$s.root home=$W/$s.home host=$W/$s.host
	case $kind in
	sd) cp --sparse=always "$W/sd.img" "$root" ;;
	bb) bb_root "$root" ;;
	esac || die "$s: root image built"
	plain_image "$home" "home image" || die "$s: home image built"
	local mb
	mb=$(($(stat -c %s "$root") * 5 / 4 / 1048576 + 64)) # NTFS keeps 1/8 for its MFT
	case $fs in
	ntfs)
		spec=UUID=$NTFS_SERIAL hostfs=fuseblk
		ntfs_new "$disk" "${mb}M" WINDOWS "$NTFS_SERIAL" &&
			ntfs_windows "$disk" &&
			ntfs_put "$disk" "$root" /linux/root.img &&
			ntfs_put "$disk" "$home" /linux/home.img
		;;
	fat)
		spec=UUID=$FAT_UUID hostfs=vfat
		fat_new "$disk" "$mb" LBFAT &&
			fat_put "$disk" "$root" /linux/root.img &&
			fat_put "$disk" "$home" /linux/home.img
		;;
	esac || die "$s: host disk built"
	rm -f "$root" "$home"

	local cmdline="root=$spec loop=/linux/root.img rw loopboot.mount=/home:/linux/home.img"
	[ "$kind" = sd ] && cmdline="$cmdline systemd.show_status=1"
	vm_boot "$s" "$cmdline lbtest.nonce=$n lbtest.action=$action" "$disk"

	# What the guest saw and did.
	ok "$([ "$VM_RC" -eq 0 ] && echo 0 || echo 1)" "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	[[ $(sd_lbtest root) == /dev/loop* ]] && [ "$(sd_lbtest root fstype)" = ext4 ] &&
		[[ $(sd_lbtest home) == /dev/loop* ]] && [ "$(sd_lbtest home fstype)" = ext4 ] &&
		[ "$(sd_lbtest host)" = /dev/vda ] && [ "$(sd_lbtest host fstype)" = "$hostfs" ]
	ok $? "$s: / and /home are ext4 on loop devices, /host is /dev/vda with $hostfs (root=$(sd_lbtest root) home=$(sd_lbtest home) host=$(sd_lbtest host) $(sd_lbtest host fstype))"
	console_has "LBTEST wrote /var/lbtest-root /home/lbtest-home /host/lbtest-host"
	ok $? "$s: the guest wrote to /, /home and /host"
	if [ "$kind" = sd ]; then
		[ "$(sd_lbtest shutdown-root)" = init ]
		ok $? "$s: the engine left /run/initramfs/shutdown for systemd (-> $(sd_lbtest shutdown-root))"
		[ -n "$(sd_lbtest state)" ]
		ok $? "$s: the engine's state record is in the running system (/run/loopboot/state)"
		if [ "$fs" = ntfs ]; then
			got=$(sd_lbtest fuse argv0)
			[ "$got" = @ntfs-3g ]
			ok $? "$s: ntfs-3g runs as a root storage daemon (argv[0] '${got:-not found}')"
			line=$(grep -aE 'Sending SIG[A-Z]+ to PID [0-9]+ \(@?ntfs-3g\)' "$VM_LOG" | head -n 1)
			[ -z "$line" ]
			ok $? "$s: systemd's final killing spree spared ntfs-3g${line:+ ($line)}"
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
	bad=$(grep -aE "$BAD_CONSOLE" "$VM_LOG" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O error, panic or oops on the console${bad:+ ($bad)}"

	# What is on the disk.
	case $fs in
	ntfs)
		check "$s: the NTFS host is consistent (ntfsfix -n)" ntfsfix -n "$disk"
		ntfs_get "$disk" /linux/root.img "$root" && ntfs_get "$disk" /linux/home.img "$home" &&
			ntfs_get "$disk" /lbtest-host "$host"
		;;
	fat)
		got=$(fsck.fat -n "$disk" 2>&1) && [[ $got != *"Dirty bit"* ]]
		ok $? "$s: the FAT32 host was unmounted cleanly (fsck.fat -n: $(echo "$got" | grep -m1 -E 'Dirty bit|rror' || echo clean))"
		fat_get "$disk" /linux/root.img "$root" && fat_get "$disk" /linux/home.img "$home" &&
			fat_get "$disk" /lbtest-host "$host"
		;;
	esac
	ok $? "$s: the images and /lbtest-host can be read back from the host"
	image_checks "$s" "$root" "root image" /var/lbtest-root "$n"
	image_checks "$s" "$home" "home image" /lbtest-home "$n"
	got=$(cat "$host" 2>/dev/null)
	[ "$got" = "$n" ]
	ok $? "$s: /lbtest-host on the host holds the nonce (got '${got:-nothing}')"
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
