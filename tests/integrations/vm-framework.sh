# shellcheck shell=bash disable=SC2015,SC2016,SC2034 # code for bash -c in single quotes; A && B || die; globals for the tests
# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers for tests/vm/test-initramfs-tools.sh and tests/vm/test-dracut.sh, sourced after
# tests/vm/lib.sh and tests/vm/lib-systemd.sh: the framework's root (a Debian 12 systemd
# root with Debian's kernel and an initramfs framework, loopboot installed with
# `make install DESTDIR=ROOT PREFIX=/usr`, the initramfs built in the root by the
# framework's own command: fw_root in tests/lib/roots.sh, which caches it); host disks
# (NTFS, FAT32, ext4 in LUKS2); the checks after the guest has shut down.

FW_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The start of a framework test: the memory the framework's shutdown needs, then lib.sh's
# checks (or SKIP). Sets FW_START.
fw_require() { # MEM_MB
	[ "$VM_MEM" -ge "$1" ] || VM_MEM=$1
	[ "$VM_TIMEOUT" -ge 300 ] || VM_TIMEOUT=300
	vm_require
	FW_START=$(date +%s)
}

fw_setup() { # FW: the framework's root, or die
	fw_root "$1" || die "the Debian 12 root with $1 and loopboot is built (log: ${FW_LOG:-$VM_CACHE/fw-$1.log})"
	note "root with kernel $FW_KVER ready in $(($(date +%s) - FW_START))s$([ "$FW_CACHED" = 1 ] && echo ' (cached)')"
}

# LB_FW_ONLY=NAME[,NAME...] runs those scenarios only.
fw_want() { [ -z "${LB_FW_ONLY:-}" ] || [[ ,$LB_FW_ONLY, == *",$1,"* ]]; } # NAME

# ---- host disks -----------------------------------------------------------------------------

# An ext4 host file system holding FILES at PATHS, in a LUKS2 container (the whole disk),
# encrypted offline by cryptsetup (no device-mapper needed on this machine).
luks_host_new() { # DISK KEYFILE SRC DEST [SRC DEST...]
	local disk=$1 key=$2 dir mb
	shift 2
	dir=$(mktemp -d "$VM_OUT/.luks.XXXXXX")
	while [ $# -ge 2 ]; do
		mkdir -p "$dir/$(dirname "$2")"
		cp --sparse=always "$1" "$dir/$2"
		shift 2
	done
	mb=$(($(du -sm --apparent-size "$dir" | cut -f1) * 5 / 4 + 32))
	mke2fs -q -F -t ext4 -b 4096 -L lbluks -d "$dir" "$disk" "${mb}M" >/dev/null &&
		truncate -s "$((mb + 16))M" "$disk" &&
		cryptsetup reencrypt --encrypt --type luks2 --uuid "$FW_LUKS_UUID" --sector-size 4096 \
			--reduce-device-size 16M --key-file "$key" --batch-mode --force-offline-reencrypt \
			--pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$disk" >/dev/null
	local rc=$?
	rm -rf "$dir"
	return $rc
}

# The host file system of a LUKS disk, decrypted in userspace (tests/integrations/luks-plain.py).
luks_host_read() { # DISK KEYFILE OUT
	local vk
	vk=$(mktemp "$VM_OUT/.vk.XXXXXX")
	rm -f "$vk"
	cryptsetup luksDump --dump-volume-key --volume-key-file "$vk" --key-file "$2" --batch-mode "$1" >/dev/null 2>&1 &&
		python3 "$FW_DIR/luks-plain.py" "$1" "$vk" "$3"
	local rc=$?
	rm -f "$vk"
	return $rc
}

# ---- a scenario -----------------------------------------------------------------------------

# Boots the framework root from a host disk and checks the boot, the shutdown and the disk.
#   FW         initramfs-tools | dracut
#   HOST       ntfs | fat | luks
#   INITRD     systemd (the default) | script (dracut without systemd in the initramfs)
fw_scenario() { # NAME FW HOST [INITRD]
	local s=$1 fw=$2 kind=$3 flavour=${4:-systemd} f=$T_FAILED n disk=$VM_OUT/$1.disk spec hostdev hostfs got line bad
	local initrd=$FW_INITRD
	[ "$flavour" = script ] && initrd=$FW_INITRD_SCRIPT
	local root=$VM_OUT/$1.root home=$VM_OUT/$1.home host=$VM_OUT/$1.host key=$VM_OUT/$1.key plain=$VM_OUT/$1.plain
	n=$(nonce_new)
	cp --sparse=always "$FW_IMG" "$root" && plain_image "$home" "home image" || die "$s: images built"
	hostdev=/dev/vda
	case $kind in
	ntfs | fat)
		sd_host_new "$kind" "$disk" "$root" "$home" &&
			spec=$SD_HOST_SPEC hostfs=$SD_HOST_FSTYPE
		;;
	luks)
		spec=/dev/mapper/$FW_LUKS_NAME hostfs=ext4 hostdev=/dev/mapper/$FW_LUKS_NAME
		fw_luks_key "$key" &&
			luks_host_new "$disk" "$key" "$root" /linux/root.img "$home" /linux/home.img
		;;
	esac || die "$s: host disk built"
	rm -f "$root" "$home"

	VMLINUZ=$FW_VMLINUZ INITRD=$initrd vm_boot "$s" \
		"root=$spec loop=/linux/root.img rw loopboot.mount=/home:/linux/home.img systemd.show_status=1 lbtest.nonce=$n lbtest.action=poweroff" "$disk"

	# What the guest saw and did. systemd's status lines, without their colours:
	sed 's/\x1b\[[0-9;]*m//g' "$VM_LOG" >"$VM_LOG.plain"
	sd_boot_checks "$s" "$hostdev" "$hostfs"
	case $fw in
	initramfs-tools)
		console_has "Begin: Running /scripts/init-premount" && console_has "Begin: Running /scripts/local-top" &&
			console_has "loopboot: root /linux/root.img mounted from"
		ok $? "$s: initramfs-tools' scripts ran, then the engine mounted the root"
		got=$(sd_lbtest "fw shutdown" shutdown)
		[ "$got" = usr/sbin/loopboot ] # relative: it resolves before and after the pivot
		ok $? "$s: init-bottom left /run/initramfs/shutdown -> loopboot for systemd (got '${got:-nothing}')"
		;;
	dracut)
		if [ "$flavour" = script ]; then
			console_has "loopboot: root /linux/root.img mounted from" && ! console_has "dracut-root[" &&
				! grep -aq 'Starting loopboot-root' "$VM_LOG.plain"
			ok $? "$s: dracut's script initrd (no systemd) ran the mount hook, which mounted the root"
		else
			grep -aq 'Finished loopboot-root' "$VM_LOG.plain" &&
				grep -aqE 'dracut-root\[[0-9]+\]: loopboot: root /linux/root.img mounted from' "$VM_LOG"
			ok $? "$s: dracut's systemd initrd ran loopboot-root.service, which mounted the root"
			got=$(grep -ao 'LBTEST fw daemon=.*' "$VM_LOG" | head -n 1 | sed -n 's/.* cgroup=//p')
			[ "$kind" != ntfs ] || [ "$got" = /system.slice/loopboot-root.service ]
			ok $? "$s: the host's FUSE daemon lives on in loopboot-root.service's control group${got:+ ($got)}"
		fi
		[ "$(sd_lbtest "fw shutdown" need_shutdown)" = yes ]
		ok $? "$s: the runner asked dracut-shutdown.service for its shutdown root (.need_shutdown)"
		if [ "$flavour" != script ]; then
			got=$(grep -ao 'LBTEST fw unit=.*' "$VM_LOG" | tail -n 1)
			[[ $got == *"active=active ignore-on-isolate=yes kill-mode=process"* ]]
			ok $? "$s: after the switch to the root, loopboot-root.service is active with its settings (${got#LBTEST fw })"
		fi
		;;
	esac
	if [ "$kind" = luks ]; then
		got=$(sd_lbtest "fw crypt" crypt)
		[ "$got" = "$FW_LUKS_NAME" ]
		ok $? "$s: cryptsetup in the initramfs unlocked the host with the key file (crypt=${got:-none})"
	fi
	if [ "$kind" = ntfs ]; then
		sd_ntfs3g_checks "$s" "systemd spared ntfs-3g until the end"
	fi
	case $fw in
	initramfs-tools) line=$(grep -a -m1 '^loopboot: images unmounted, loop devices detached, host' "$VM_LOG")
		[ "$line" = "loopboot: images unmounted, loop devices detached, host $hostdev unmounted" ] ;;
	dracut) line=$(grep -a -m1 'loopboot: images unmounted, loop devices detached, host' "$VM_LOG")
		[[ $line == *"loopboot: images unmounted, loop devices detached, host unmounted" ]] ;;
	esac
	ok $? "$s: loopboot took the stack down in the shutdown root (${line:-no such line})"
	console_has "reboot: Power down"
	ok $? "$s: the kernel powered off"
	bad=$(grep -aE "$SD_BAD_CONSOLE" "$VM_LOG" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O error on the console${bad:+ ($bad)}"

	# What is on the disk.
	case $kind in
	ntfs | fat) sd_host_read "$s" "$kind" "$disk" "$root" "$home" "$host" ;;
	luks)
		luks_host_read "$disk" "$key" "$plain"
		ok $? "$s: the LUKS host can be decrypted"
		sd_image_checks "$s" "$plain" "ext4 host in LUKS" /lbtest-host "$n"
		debugfs -R "dump /linux/root.img $root" "$plain" >/dev/null 2>&1 &&
			debugfs -R "dump /linux/home.img $home" "$plain" >/dev/null 2>&1 &&
			debugfs -R "dump /lbtest-host $host" "$plain" >/dev/null 2>&1
		;;
	esac
	sd_written_checks "$s" $? "$root" "$home" "$host" "$n"
	scenario_done "$s" "$f" "$disk" "$root" "$home" "$host" "$key" "$plain"
}
