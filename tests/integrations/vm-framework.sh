# shellcheck shell=bash disable=SC2015,SC2016,SC2034 # code for bash -c in single quotes; A && B || die; globals for the tests
# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers for tests/vm/test-initramfs-tools.sh and tests/vm/test-dracut.sh, sourced after
# tests/vm/lib.sh and tests/vm/lib-systemd.sh: a Debian 12 systemd root with Debian's
# kernel and an initramfs framework, loopboot installed with `make install DESTDIR=ROOT
# PREFIX=/usr`, the initramfs built in the root by the framework's own command; host disks
# (NTFS, FAT32, ext4 in LUKS2); the checks after the guest has shut down.
#
# Caches in tests/vm/cache (each rebuilt when its inputs change):
#   fw-FW-KEY/            debootstrap's tree (lib-systemd.sh) + apt-get install of the
#                         kernel, the framework and the tools (network, minutes; once)
#   fw-FW-KEY.{img,vmlinuz,initrd[,initrd-script]}
#                         that tree + `make install` + the framework's initramfs (for dracut
#                         also a script-based one, without systemd) + the guest units, as an
#                         ext4 image; keyed by the sources (src/, integrations/, meson.build,
#                         Makefile), the guest files and the functions that build it
#   build-usr/            the Meson build directory of `make install PREFIX=/usr`

FW_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FW_LAYOUT=1     # bump when fw_root_tree changes
FW_SIZE_MB=320  # the root image (sparse); the tree is about 180 MB
FW_BUILD=$VM_CACHE/build-usr
FW_LOCK=$VM_CACHE/.lock-fw
# The LUKS scenario's key and UUID: fixed, so that the initramfs that holds them is cached.
FW_LUKS_UUID=4c4f4f50-424f-4f54-8000-00000000c0de
FW_LUKS_NAME=lbhost

# Runs COMMAND in TREE with /proc, /sys, /dev and a /run of its own, in a private mount
# namespace (nothing stays mounted).
fw_chroot() { # TREE COMMAND...
	local tree=$1
	shift
	unshare -m --propagation private bash -c '
		t=$1
		shift
		mount -t proc proc "$t/proc" && mount -t sysfs sys "$t/sys" &&
			mount --rbind /dev "$t/dev" && mount -t tmpfs tmpfs "$t/run" || exit 1
		exec chroot "$t" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"' fw_chroot "$tree" "$@"
}

# The packages of each framework's root. --no-install-recommends keeps it small; busybox
# is what initramfs-tools recommends and a Debian system has.
fw_packages() { # FW
	case $1 in
	initramfs-tools) echo linux-image-amd64 initramfs-tools busybox zstd ntfs-3g cryptsetup-initramfs ;;
	dracut) echo linux-image-amd64 dracut zstd ntfs-3g ;;
	esac
}

# debootstrap's tree with the kernel, the framework and the tools. Sets FW_BASE.
fw_base() { # FW
	local fw=$1 key dir tmp lock pkgs
	sd_debootstrap || return 1
	pkgs=$(fw_packages "$fw")
	key=$(echo "$SD_TREE $pkgs $FW_LAYOUT" | sha256sum | cut -c1-16)
	dir=$VM_CACHE/fw-$fw-$key
	FW_BASE=$dir
	exec {lock}>"$FW_LOCK"
	flock "$lock"
	if [ ! -f "$dir/.complete" ]; then
		find "$VM_CACHE" -maxdepth 1 -name "fw-$fw-*" -not -name "fw-$fw-$key*" -exec rm -rf {} +
		tmp=$dir.tmp
		rm -rf "$tmp"
		note "building the $fw root: apt-get install $pkgs (once; a few minutes)"
		cp -a "$SD_TREE" "$tmp" && rm -f "$tmp/.complete" &&
			cp /etc/resolv.conf "$tmp/etc/resolv.conf" &&
			printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d" && chmod 755 "$tmp/usr/sbin/policy-rc.d" || {
			rm -rf "$tmp"
			exec {lock}>&-
			return 1
		}
		# dracut in a chroot must not look at the build machine's devices.
		if [ "$fw" = dracut ]; then
			mkdir -p "$tmp/etc/dracut.conf.d"
			printf 'hostonly="no"\n' >"$tmp/etc/dracut.conf.d/10-lbtest.conf"
		fi
		# shellcheck disable=SC2086 # a list of packages
		if ! { fw_chroot "$tmp" apt-get update -q &&
			fw_chroot "$tmp" apt-get install -y -q --no-install-recommends $pkgs; } >"$VM_CACHE/fw-$fw.log" 2>&1; then
			tail -n 20 "$VM_CACHE/fw-$fw.log" | sed 's/^/# apt: /'
			rm -rf "$tmp"
			exec {lock}>&-
			return 1
		fi
		rm -rf "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*_Packages \
			"$tmp/usr/sbin/policy-rc.d"
		touch "$tmp/.complete"
		mv "$tmp" "$dir"
	fi
	exec {lock}>&-
}

# The LUKS scenario's key file, the same on every run.
fw_luks_key() { # OUT
	printf 'loopboot test key for the LUKS host\n' | sha512sum | cut -c1-64 | tr -d '\n' >"$1"
}

# What a system installed on a loop root from this tree needs, and the guest units.
fw_root_tree() { # FW TREE [luks]
	local fw=$1 d=$2
	echo lbtest >"$d/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tlbtest\n' >"$d/etc/hosts"
	echo "# / and /home come from the kernel command line (loopboot)" >"$d/etc/fstab"
	echo 4c4f4f50424f4f54a5e5d5c5b5a59585 >"$d/etc/machine-id"
	mkdir -p "$d/host" "$d/home" "$d/etc/systemd/system/multi-user.target.wants"
	install -m 755 "$SD_GUEST/lbtest" "$d/usr/local/sbin/lbtest"
	install -m 644 "$SD_GUEST/lbtest.service" "$d/etc/systemd/system/lbtest.service"
	install -m 755 "$FW_DIR/guest/lbtest-fw" "$d/usr/local/sbin/lbtest-fw"
	install -m 644 "$FW_DIR/guest/lbtest-fw.service" "$d/etc/systemd/system/lbtest-fw.service"
	ln -sf ../lbtest.service "$d/etc/systemd/system/multi-user.target.wants/lbtest.service"
	ln -sf ../lbtest-fw.service "$d/etc/systemd/system/multi-user.target.wants/lbtest-fw.service"
	if [ "$fw" = initramfs-tools ]; then
		# The LUKS host: the framework's own layers. cryptsetup-initramfs puts crypttab
		# entries marked "initramfs" and the key files matching KEYFILE_PATTERN into the
		# initramfs (cryptsetup-initramfs(7)); UMASK keeps the image unreadable to others.
		mkdir -p "$d/etc/keys" "$d/etc/cryptsetup-initramfs"
		fw_luks_key "$d/etc/keys/$FW_LUKS_NAME.key"
		chmod 400 "$d/etc/keys/$FW_LUKS_NAME.key"
		echo "$FW_LUKS_NAME UUID=$FW_LUKS_UUID /etc/keys/$FW_LUKS_NAME.key luks,initramfs" >"$d/etc/crypttab"
		echo 'KEYFILE_PATTERN="/etc/keys/*.key"' >"$d/etc/cryptsetup-initramfs/conf-hook"
		sed -i 's/^UMASK=.*//; $a UMASK=0077' "$d/etc/initramfs-tools/initramfs.conf"
	fi
}

# The framework root as an ext4 image, with its kernel and initramfs. Sets FW_IMG,
# FW_VMLINUZ, FW_INITRD, FW_KVER, FW_CACHED (1 when it was already built); the log of the
# build is in $FW_LOG.
fw_root() { # FW
	local fw=$1 key tmp lock t rc
	fw_base "$fw" || return 1
	key=$( (echo "$FW_BASE $FW_LAYOUT $FW_SIZE_MB" &&
		cd "$TOP" && find src integrations meson.build meson_options.txt Makefile subprojects/kmod.wrap scripts/kmod-bundle -type f -print0 |
		sort -z | xargs -0 cat && cat "$SD_GUEST/lbtest" "$SD_GUEST/lbtest.service" "$FW_DIR"/guest/* &&
		declare -f fw_root fw_root_tree fw_luks_key) | sha256sum | cut -c1-16)
	FW_IMG=$VM_CACHE/fw-$fw-$key.img
	FW_VMLINUZ=$VM_CACHE/fw-$fw-$key.vmlinuz
	FW_INITRD=$VM_CACHE/fw-$fw-$key.initrd
	FW_INITRD_SCRIPT=$VM_CACHE/fw-$fw-$key.initrd-script
	FW_LOG=$VM_CACHE/fw-$fw-$key.log
	FW_CACHED=1
	exec {lock}>"$FW_LOCK"
	flock "$lock"
	if [ ! -s "$FW_IMG" ]; then
		FW_CACHED=0
		find "$VM_CACHE" -maxdepth 1 -name "fw-$fw-*.*" -not -name "fw-$fw-$key.*" -delete
		tmp=$(mktemp -d "$VM_CACHE/.fw.XXXXXX")
		t=$tmp/tree
		(
			set -x
			cp -a "$FW_BASE" "$t" && rm -f "$t/.complete" &&
				# What the contract says: make install honouring DESTDIR and PREFIX.
				make -C "$TOP" BUILD="$FW_BUILD" PREFIX=/usr DESTDIR="$t" install &&
				fw_root_tree "$fw" "$t" &&
				case $fw in
				initramfs-tools) fw_chroot "$t" update-initramfs -u -k all ;;
				# Also a script-based initrd: dracut without its systemd modules.
				dracut) fw_chroot "$t" sh -c 'for k in /lib/modules/*; do dracut -f --kver "${k##*/}" &&
					dracut -f -m "base udev-rules kernel-modules rootfs-block fs-lib shutdown loopboot" \
						"/boot/initrd-script.img-${k##*/}" "${k##*/}" || exit; done' ;;
				esac &&
				FW_KVER=$(find "$t/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1) &&
				cp "$t/boot/vmlinuz-$FW_KVER" "$tmp/vmlinuz" &&
				cp "$t/boot/initrd.img-$FW_KVER" "$tmp/initrd" &&
				{ [ ! -e "$t/boot/initrd-script.img-$FW_KVER" ] ||
					mv "$t/boot/initrd-script.img-$FW_KVER" "$tmp/initrd-script"; } &&
				# The booted system needs no module tree (the initramfs has what boots it),
				# documentation or apt's lists; dracut's shutdown needs /boot/initrd.img.
				rm -rf "$t"/usr/lib/modules/* "$t"/usr/share/doc/* "$t"/usr/share/man/* \
					"$t"/usr/share/locale/* "$t"/var/cache/apt/* "$t"/var/lib/apt/lists/* &&
				echo "$FW_KVER" >"$tmp/kver" &&
				du -sm "$t" &&
				mke2fs -q -F -t ext4 -L lbfwroot -E root_owner=0:0 -d "$t" "$tmp/root.img" "${FW_SIZE_MB}M"
		) >"$tmp/log" 2>&1
		rc=$?
		cp "$tmp/log" "$FW_LOG"
		if [ $rc -ne 0 ]; then
			tail -n 25 "$FW_LOG" | sed 's/^/# build: /'
			rm -rf "$tmp"
			exec {lock}>&-
			return 1
		fi
		mv "$tmp/vmlinuz" "$FW_VMLINUZ"
		mv "$tmp/initrd" "$FW_INITRD"
		[ ! -e "$tmp/initrd-script" ] || mv "$tmp/initrd-script" "$FW_INITRD_SCRIPT"
		mv "$tmp/kver" "$VM_CACHE/fw-$fw-$key.kver"
		mv "$tmp/root.img" "$FW_IMG"
		rm -rf "$tmp"
	fi
	FW_KVER=$(cat "$VM_CACHE/fw-$fw-$key.kver")
	exec {lock}>&-
}

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

# The lines on the console that mean something was lost or broken on the way down.
FW_BAD_CONSOLE='I/O error|Buffer I/O|EXT4-fs error|EXT4-fs warning|JBD2: .*(error|abort)|Transport endpoint|Kernel panic|BUG:|Oops'

fw_image_checks() { # SCENARIO IMAGE-FILE WHAT PATH NONCE
	local s=$1 img=$2 what=$3 path=$4 nonce=$5 feats got
	feats=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
	[ -n "$feats" ] && [[ " $feats " != *" needs_recovery "* ]]
	ok $? "$s: the $what needs no journal recovery"
	check "$s: the $what passes e2fsck -fn" e2fsck -fn "$img"
	got=$(debugfs -R "cat $path" "$img" 2>/dev/null)
	[ "$got" = "$nonce" ]
	ok $? "$s: $path in the $what holds the nonce (got '${got:-nothing}')"
}

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
	local mb=$(($(stat -c %s "$root") * 5 / 4 / 1048576 + 64))
	hostdev=/dev/vda
	case $kind in
	ntfs)
		spec=UUID=0123456789ABCDEF hostfs=fuseblk
		ntfs_new "$disk" "${mb}M" WINDOWS 0123456789ABCDEF &&
			ntfs_windows "$disk" &&
			ntfs_put "$disk" "$root" /linux/root.img &&
			ntfs_put "$disk" "$home" /linux/home.img
		;;
	fat)
		spec=UUID=1234-ABCD hostfs=vfat
		fat_new "$disk" "$mb" LBFAT &&
			fat_put "$disk" "$root" /linux/root.img &&
			fat_put "$disk" "$home" /linux/home.img
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
	[ "$VM_RC" -eq 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	[[ $(sd_lbtest root) == /dev/loop* ]] && [ "$(sd_lbtest root fstype)" = ext4 ] &&
		[[ $(sd_lbtest home) == /dev/loop* ]] && [ "$(sd_lbtest home fstype)" = ext4 ] &&
		[ "$(sd_lbtest host)" = "$hostdev" ] && [ "$(sd_lbtest host fstype)" = "$hostfs" ]
	ok $? "$s: / and /home are ext4 on loop devices, /host is $hostdev with $hostfs (root=$(sd_lbtest root) home=$(sd_lbtest home) host=$(sd_lbtest host) $(sd_lbtest host fstype))"
	console_has "LBTEST wrote /var/lbtest-root /home/lbtest-home /host/lbtest-host"
	ok $? "$s: the guest wrote to /, /home and /host"
	case $fw in
	initramfs-tools)
		console_has "Begin: Running /scripts/init-premount" && console_has "Begin: Running /scripts/local-top" &&
			console_has "loopboot: root /linux/root.img mounted from"
		ok $? "$s: initramfs-tools' scripts ran, then the engine mounted the root"
		got=$(sd_lbtest "fw shutdown" shutdown)
		[ "$got" = /usr/sbin/loopboot ]
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
		got=$(sd_lbtest fuse argv0)
		[ "$got" = @ntfs-3g ]
		ok $? "$s: ntfs-3g runs as a root storage daemon (argv[0] '${got:-not found}')"
		line=$(grep -aE 'Sending SIG[A-Z]+ to PID [0-9]+ \(@?ntfs-3g\)' "$VM_LOG" | head -n 1)
		[ -z "$line" ]
		ok $? "$s: systemd spared ntfs-3g until the end${line:+ ($line)}"
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
	bad=$(grep -aE "$FW_BAD_CONSOLE" "$VM_LOG" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O error on the console${bad:+ ($bad)}"

	# What is on the disk.
	case $kind in
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
	luks)
		luks_host_read "$disk" "$key" "$plain"
		ok $? "$s: the LUKS host can be decrypted"
		fw_image_checks "$s" "$plain" "ext4 host in LUKS" /lbtest-host "$n"
		debugfs -R "dump /linux/root.img $root" "$plain" >/dev/null 2>&1 &&
			debugfs -R "dump /linux/home.img $home" "$plain" >/dev/null 2>&1 &&
			debugfs -R "dump /lbtest-host $host" "$plain" >/dev/null 2>&1
		;;
	esac
	ok $? "$s: the images and /lbtest-host can be read back from the host"
	fw_image_checks "$s" "$root" "root image" /var/lbtest-root "$n"
	fw_image_checks "$s" "$home" "home image" /lbtest-home "$n"
	got=$(cat "$host" 2>/dev/null)
	[ "$got" = "$n" ]
	ok $? "$s: /lbtest-host on the host holds the nonce (got '${got:-nothing}')"
	scenario_done "$s" "$f" "$disk" "$root" "$home" "$host" "$key" "$plain"
}
