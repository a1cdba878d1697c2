# shellcheck shell=bash disable=SC2016,SC2034 # code for bash -c in single quotes; settings and results (SD_TREE, FW_IMG, …) for the callers
# SPDX-License-Identifier: GPL-2.0-or-later
# The VM tier's guest roots, each built once and kept in $VM_CACHE (tests/vm/cache), keyed
# by everything it is made of, so that it is rebuilt when an input changes; deleting the
# cache only costs time. Sourced by tests/vm/lib.sh, which sets VM_LIB, TOP, VM_CACHE,
# VM_OUT and LOOPBOOT (and tests/lib/tap.sh's note).
#
#   root-KEY.img          busybox and tests/vm/guest/init, ext4 by mke2fs -d (guest_root)
#   linroot-KEY.img       the same with tests/vm/guest-linear/init (linear_root)
#   sqroot-KEY.sfs        busybox, tests/vm/guest-overlay/init and guest/init, squashfs
#                         (squash_root)
#   debian-SUITE-KEY/     debootstrap's Debian 12 tree (sd_debootstrap; network, minutes)
#   sdroot-KEY.img        that tree with tests/vm/guest-systemd/lbtest.service (sd_root)
#   fw-FW-KEY/            that tree + apt-get install of the kernel, the initramfs framework
#                         FW and the tools (fw_base; network, minutes)
#   fw-FW-KEY.{img,vmlinuz,initrd[,initrd-script],kver,log}
#                         fw_base's tree + `make install` + the framework's initramfs (for
#                         dracut also a script-based one, without systemd) + the guest units
#                         (fw_root); keyed by the sources (src/, integrations/, meson.build,
#                         Makefile, the kmod wrap), the guest files and the functions that
#                         build it
#   build-usr/            the Meson build directory of that `make install PREFIX=/usr`
# bb_root (busybox and tests/vm/guest-systemd/busybox-init) is cheap: built each time.

# ---- the cache ------------------------------------------------------------------------------

cache_has() { # ENTRY: a non-empty file, or a directory with a .complete file
	if [ -d "$1" ]; then
		[ -f "$1/.complete" ]
	else
		[ -s "$1" ]
	fi
}

# The words of ARGS before the first "--" into the array named BEFORE, the words after it
# into the array named AFTER (both emptied first).
split_at_dashes() { # BEFORE AFTER [ARGS...]
	local -n split_before=$1 split_after=$2
	shift 2
	split_before=() split_after=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		split_before+=("$1")
		shift
	done
	[ $# -eq 0 ] || { shift && split_after=("$@"); }
}

# Makes the cache entry ENTRY once, then runs USE. Everything happens under an exclusive
# flock on LOCK, so that test files running at the same time build an entry once, never see
# half of one, and never have one deleted under them while they copy it. Unless ENTRY is
# there, runs BUILD TMP [ARGS...] in a fresh directory TMP (removed afterwards); BUILD
# removes the entries ENTRY replaces and moves what it made into place last. Sets
# CACHE_BUILT=1 when this call built the entry, else 0.
cache_build() { # LOCK ENTRY BUILD [ARGS...] [-- USE [ARGS...]]
	local lock_file=$1 entry=$2 build use lock tmp rc=0
	shift 2
	split_at_dashes build use "$@"
	exec {lock}>"$lock_file"
	flock "$lock"
	CACHE_BUILT=0
	if ! cache_has "$entry"; then
		CACHE_BUILT=1
		if tmp=$(mktemp -d "$VM_CACHE/.build.XXXXXX"); then
			"${build[0]}" "$tmp" "${build[@]:1}"
			rc=$?
			rm -rf "$tmp"
		else
			rc=1
		fi
	fi
	if [ $rc -eq 0 ] && [ ${#use[@]} -gt 0 ]; then
		"${use[@]}"
		rc=$?
	fi
	exec {lock}>&-
	return $rc
}

# The builder of the cached ext4 images: TREE-FN fills a directory, mke2fs -d makes the
# image of it, which replaces the older images matching PRUNE (a find -name pattern).
ext4_image_build() { # TMP IMG PRUNE LABEL SIZE_MB TREE-FN [ARGS...]
	local tmp=$1 img=$2 prune=$3 label=$4 size=$5 tree_fn=$6
	shift 6
	find "$VM_CACHE" -maxdepth 1 -name "$prune" -delete
	"$tree_fn" "$tmp/tree" "$@" &&
		mke2fs -q -F -t ext4 -L "$label" -E root_owner=0:0 -d "$tmp/tree" "$tmp/root.img" "${size}M" >/dev/null &&
		mv "$tmp/root.img" "$img"
}

# ---- busybox roots --------------------------------------------------------------------------

ROOT_LAYOUT=1 # bump when guest_root_tree changes
ROOT_SIZE_MB=24
LINEAR_ROOT_MB=40

guest_root_tree() { # DIR [INIT]: busybox, and INIT (tests/vm/guest/init) as /sbin/init
	local d=$1 init=${2:-$VM_LIB/guest/init} a
	mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,host,home}
	cp "$(command -v busybox)" "$d/bin/busybox" || return 1
	busybox --list-full | while read -r a; do
		[ -e "$d/$a" ] || ln -s /bin/busybox "$d/$a"
	done
	rm -f "$d/sbin/init"
	cp "$init" "$d/sbin/init" && chmod 755 "$d/sbin/init" || return 1
	echo "loopboot VM test root" >"$d/etc/lbtest-root"
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
	echo "root:x:0:" >"$d/etc/group"
	chmod 1777 "$d/tmp"
}

# A fresh copy of the cached image NAME-KEY.img of guest_root_tree with INIT, keyed by
# busybox, INIT, the layout and the size.
busybox_root() { # OUT NAME INIT SIZE_MB SPARSE(always|never: cp --sparse=)
	local out=$1 name=$2 init=$3 size=$4 sparse=$5 key img
	key=$( (sha256sum <"$(command -v busybox)" && sha256sum <"$init" &&
		echo "$ROOT_LAYOUT $size") | sha256sum | cut -c1-16)
	img=$VM_CACHE/$name-$key.img
	cache_build "$VM_CACHE/.lock" "$img" ext4_image_build "$img" "$name-*.img" lbroot "$size" guest_root_tree "$init" \
		-- cp --sparse="$sparse" "$img" "$out"
}

guest_root() { busybox_root "$1" root "$VM_LIB/guest/init" "$ROOT_SIZE_MB" always; } # OUT
# test-linear.sh's guest: fully allocated, for the linear mapping.
linear_root() { busybox_root "$1" linroot "$VM_LIB/guest-linear/init" "$LINEAR_ROOT_MB" never; } # OUT

# The busybox root with tests/vm/guest-systemd/busybox-init as /sbin/init (test-shutdown.sh).
bb_root() { # OUT
	local tmp rc
	tmp=$(mktemp -d "$VM_OUT/.bbroot.XXXXXX")
	guest_root_tree "$tmp/tree" "$SD_GUEST/busybox-init" &&
		mkdir -p "$tmp/tree/var" &&
		mke2fs -q -F -t ext4 -L lbroot -d "$tmp/tree" "$1" "${ROOT_SIZE_MB}M" >/dev/null
	rc=$?
	rm -rf "$tmp"
	return $rc
}

# The read-only root of test-overlay.sh: guest_root_tree with tests/vm/guest-overlay/init as
# /sbin/init (it reports the layers below the overlay, then runs tests/vm/guest/init, here
# /sbin/lbtest-init), as squashfs. Cached as sqroot-KEY.sfs, keyed by busybox, both inits,
# the layouts and mksquashfs's version.
SQUASH_LAYOUT=1 # bump when squash_root_tree or the mksquashfs options change

squash_root_tree() { # DIR
	guest_root_tree "$1" "$VM_LIB/guest-overlay/init" &&
		install -m 755 "$VM_LIB/guest/init" "$1/sbin/lbtest-init"
}

squash_image_build() { # TMP IMG
	local tmp=$1 img=$2
	find "$VM_CACHE" -maxdepth 1 -name 'sqroot-*.sfs' -delete
	squash_root_tree "$tmp/tree" &&
		mksquashfs "$tmp/tree" "$tmp/root.sfs" -noappend -all-root -no-progress >/dev/null &&
		mv "$tmp/root.sfs" "$img"
}

squash_root() { # OUT
	local key img
	key=$( (sha256sum <"$(command -v busybox)" && sha256sum <"$VM_LIB/guest/init" &&
		sha256sum <"$VM_LIB/guest-overlay/init" &&
		mksquashfs -version 2>&1 | head -n 1 &&
		echo "$ROOT_LAYOUT $SQUASH_LAYOUT") | sha256sum | cut -c1-16)
	img=$VM_CACHE/sqroot-$key.sfs
	cache_build "$VM_CACHE/.lock" "$img" squash_image_build "$img" -- cp "$img" "$1"
}

# ---- the Debian 12 systemd root -------------------------------------------------------------
# The guest side lives in tests/vm/guest-systemd/:
#   lbtest          the program of lbtest.service in the systemd root: writes the nonce
#                   to /var, /home and /host, then `systemctl --no-block ACTION`
#   lbtest.service  its unit (WantedBy=multi-user.target)
#   busybox-init    /sbin/init of bb_root: the same writes, then
#                   exec /run/initramfs/loopboot-shutdown ACTION

SD_GUEST=$VM_LIB/guest-systemd
SD_SUITE=bookworm
SD_VARIANT=minbase
SD_INCLUDE=systemd-sysv,udev,kmod
SD_MIRROR=${LB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SD_LAYOUT=1    # bump when sd_system_tree or sd_root_tree changes
SD_SIZE_MB=320 # the image; debootstrap's tree is about 180 MB
# debootstrap takes minutes: its own lock, so that other VM tests are not held up.
SD_LOCK=$VM_CACHE/.lock-systemd

# debootstrap's tree, cached as a directory keyed by what debootstrap was asked for
# (the mirror is no input: any mirror serves the same suite). Sets SD_TREE.
sd_debootstrap() {
	local key
	key=$(echo "$SD_SUITE $SD_VARIANT $SD_INCLUDE" | sha256sum | cut -c1-16)
	SD_TREE=$VM_CACHE/debian-$SD_SUITE-$key
	cache_build "$SD_LOCK" "$SD_TREE" sd_debootstrap_build
}

sd_debootstrap_build() { # TMP
	local t=$1/tree
	find "$VM_CACHE" -maxdepth 1 -name 'debian-*' -exec rm -rf {} +
	command -v debootstrap >/dev/null 2>&1 || apt-get install -y -qq debootstrap >/dev/null 2>&1
	note "debootstrap --variant=$SD_VARIANT --include=$SD_INCLUDE $SD_SUITE (once; a few minutes)"
	if ! debootstrap --variant="$SD_VARIANT" --include="$SD_INCLUDE" "$SD_SUITE" "$t" \
		"$SD_MIRROR" >"$VM_CACHE/debootstrap.log" 2>&1; then
		tail -n 20 "$VM_CACHE/debootstrap.log" | sed 's/^/# debootstrap: /'
		return 1
	fi
	# What debootstrap leaves for apt is no part of the root we test.
	rm -rf "$t"/var/cache/apt/*.bin "$t"/var/cache/apt/archives/*.deb "$t"/var/lib/apt/lists/*_Packages
	touch "$t/.complete"
	mv "$t" "$SD_TREE"
}

# What a system installed on a loop root needs (see the comments), and lbtest.service.
sd_system_tree() { # DIR
	local d=$1
	echo lbtest >"$d/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tlbtest\n' >"$d/etc/hosts"
	# The engine mounts / and /home from loopboot.mount=: nothing for fstab.
	echo "# / and /home come from the kernel command line (loopboot)" >"$d/etc/fstab"
	# A machine ID: without one, systemd runs its first-boot setup.
	echo 4c4f4f50424f4f54a5e5d5c5b5a59585 >"$d/etc/machine-id"
	mkdir -p "$d/host" "$d/home" "$d/etc/systemd/system/multi-user.target.wants"
	install -m 755 "$SD_GUEST/lbtest" "$d/usr/local/sbin/lbtest"
	install -m 644 "$SD_GUEST/lbtest.service" "$d/etc/systemd/system/lbtest.service"
	ln -sf ../lbtest.service "$d/etc/systemd/system/multi-user.target.wants/lbtest.service"
}

sd_root_tree() { # DIR: debootstrap's tree as the system
	cp -a "$SD_TREE" "$1" && rm -f "$1/.complete" && sd_system_tree "$1"
}

# The cached systemd root image, built when missing; with OUT, a fresh copy of it at OUT.
# Keyed by debootstrap's tree, the guest files and the functions that build it.
sd_root() { # [OUT]
	local key img
	sd_debootstrap || return 1
	key=$( (echo "$SD_TREE $SD_LAYOUT $SD_SIZE_MB" && cat "$SD_GUEST/lbtest" "$SD_GUEST/lbtest.service" &&
		declare -f sd_root_tree sd_system_tree) | sha256sum | cut -c1-16)
	img=$VM_CACHE/sdroot-$key.img
	cache_build "$SD_LOCK" "$img" ext4_image_build "$img" 'sdroot-*.img' lbsdroot "$SD_SIZE_MB" sd_root_tree \
		${1:+-- cp --sparse=always "$img" "$1"}
}

# ---- the framework roots (tests/vm/test-initramfs-tools.sh, tests/vm/test-dracut.sh) ----------
# The systemd root with Debian's kernel and an initramfs framework, loopboot installed with
# `make install DESTDIR=ROOT PREFIX=/usr`, the initramfs built in the root by the
# framework's own command.

FW_GUEST=$TOP/tests/integrations/guest
FW_LAYOUT=2    # bump when fw_base_build or fw_root_tree changes
FW_SIZE_MB=320 # the root image (sparse); the tree is about 180 MB
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
# is what initramfs-tools recommends and a Debian system has. nbd-client for the network
# scenario (root=nbd:); for dracut also dracut-network, its network modules (40network,
# 35network-legacy with isc-dhcp-client and arping, 95nbd), and procps (pgrep, which
# network-legacy needs).
fw_packages() { # FW
	case $1 in
	initramfs-tools) echo linux-image-amd64 initramfs-tools busybox zstd ntfs-3g cryptsetup-initramfs nbd-client ;;
	dracut) echo linux-image-amd64 dracut dracut-network zstd ntfs-3g nbd-client procps ;;
	esac
}

# debootstrap's tree with the kernel, the framework and the tools. Sets FW_BASE.
fw_base() { # FW
	local fw=$1 key pkgs
	sd_debootstrap || return 1
	pkgs=$(fw_packages "$fw")
	key=$(echo "$SD_TREE $pkgs $FW_LAYOUT" | sha256sum | cut -c1-16)
	FW_BASE=$VM_CACHE/fw-$fw-$key
	cache_build "$FW_LOCK" "$FW_BASE" fw_base_build "$fw" "$key" "$pkgs"
}

fw_base_build() { # TMP FW KEY PACKAGES
	local t=$1/tree fw=$2 key=$3 pkgs=$4
	find "$VM_CACHE" -maxdepth 1 -name "fw-$fw-*" -not -name "fw-$fw-$key*" -exec rm -rf {} +
	note "building the $fw root: apt-get install $pkgs (once; a few minutes)"
	tree_for_apt "$t" || return 1
	# dracut in a chroot must not look at the build machine's devices. Its network module
	# takes systemd-networkd when systemd has it (Debian 12's does), and dracut's module
	# for it needs D-Bus in the initramfs, which this root has not: network-legacy
	# (dhclient) instead, or dracut-network's postinst fails (its ifcfg module needs one).
	if [ "$fw" = dracut ]; then
		mkdir -p "$t/etc/dracut.conf.d"
		printf 'hostonly="no"\nadd_dracutmodules+=" network-legacy "\n' >"$t/etc/dracut.conf.d/10-lbtest.conf"
	fi
	# shellcheck disable=SC2086 # a list of packages
	tree_apt_install "$t" "$VM_CACHE/fw-$fw.log" $pkgs || return 1
	touch "$t/.complete"
	mv "$t" "$FW_BASE"
}

# A copy of debootstrap's tree at TREE, ready for apt-get: the build machine's resolv.conf,
# a policy-rc.d that starts no services.
tree_for_apt() { # TREE
	cp -a "$SD_TREE" "$1" && rm -f "$1/.complete" &&
		cp /etc/resolv.conf "$1/etc/resolv.conf" &&
		printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d" && chmod 755 "$1/usr/sbin/policy-rc.d"
}

# apt-get install PACKAGES in TREE (from tree_for_apt), apt's output in LOG (its end on
# failure); then apt's caches and the policy-rc.d go.
tree_apt_install() { # TREE LOG PACKAGE...
	local t=$1 log=$2
	shift 2
	if ! { fw_chroot "$t" apt-get update -q &&
		fw_chroot "$t" apt-get install -y -q --no-install-recommends "$@"; } >"$log" 2>&1; then
		tail -n 20 "$log" | sed 's/^/# apt: /'
		return 1
	fi
	rm -rf "$t"/var/cache/apt/*.bin "$t"/var/cache/apt/archives/*.deb "$t"/var/lib/apt/lists/*_Packages \
		"$t/usr/sbin/policy-rc.d"
}

# The LUKS scenario's key file, the same on every run.
fw_luks_key() { # OUT
	printf 'loopboot test key for the LUKS host\n' | sha512sum | cut -c1-64 | tr -d '\n' >"$1"
}

# What a system installed on a loop root from this tree needs, and the guest units.
fw_root_tree() { # FW TREE
	local fw=$1 d=$2
	sd_system_tree "$d"
	install -m 755 "$FW_GUEST/lbtest-fw" "$d/usr/local/sbin/lbtest-fw"
	install -m 644 "$FW_GUEST/lbtest-fw.service" "$d/etc/systemd/system/lbtest-fw.service"
	ln -sf ../lbtest-fw.service "$d/etc/systemd/system/multi-user.target.wants/lbtest-fw.service"
	# One initramfs for every scenario, the network one too (a host on the network: the
	# framework's network stack, nbd-client; docs/integrations.md).
	case $fw in
	initramfs-tools) echo LOOPBOOT_NETWORK=y >"$d/etc/initramfs-tools/conf.d/loopboot-network" ;;
	dracut) echo 'loopboot_network="yes"' >"$d/etc/dracut.conf.d/20-lbtest-network.conf" ;;
	esac
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
# FW_VMLINUZ, FW_INITRD, FW_INITRD_SCRIPT, FW_KVER, FW_CACHED (1 when it was already
# built); the log of the build is in $FW_LOG.
fw_root() { # FW
	local fw=$1 key
	fw_base "$fw" || return 1
	key=$( (echo "$FW_BASE $FW_LAYOUT $FW_SIZE_MB" &&
		cd "$TOP" && find src integrations meson.build meson_options.txt Makefile subprojects/kmod.wrap scripts/kmod-bundle -type f -print0 |
		sort -z | xargs -0 cat && cat "$SD_GUEST/lbtest" "$SD_GUEST/lbtest.service" "$FW_GUEST"/* &&
		declare -f fw_root fw_root_build fw_root_tree sd_system_tree fw_luks_key) | sha256sum | cut -c1-16)
	FW_IMG=$VM_CACHE/fw-$fw-$key.img
	FW_VMLINUZ=$VM_CACHE/fw-$fw-$key.vmlinuz
	FW_INITRD=$VM_CACHE/fw-$fw-$key.initrd
	FW_INITRD_SCRIPT=$VM_CACHE/fw-$fw-$key.initrd-script
	FW_LOG=$VM_CACHE/fw-$fw-$key.log
	cache_build "$FW_LOCK" "$FW_IMG" fw_root_build "$fw" "$key" -- fw_root_kver "$fw" "$key" || return 1
	FW_CACHED=$((1 - CACHE_BUILT))
}

fw_root_kver() { FW_KVER=$(cat "$VM_CACHE/fw-$1-$2.kver"); } # FW KEY

fw_root_build() { # TMP FW KEY
	local tmp=$1 fw=$2 key=$3 t=$1/tree rc
	find "$VM_CACHE" -maxdepth 1 -name "fw-$fw-*.*" -not -name "fw-$fw-$key.*" -delete
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
			kver=$(find "$t/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1) &&
			cp "$t/boot/vmlinuz-$kver" "$tmp/vmlinuz" &&
			cp "$t/boot/initrd.img-$kver" "$tmp/initrd" &&
			{ [ ! -e "$t/boot/initrd-script.img-$kver" ] ||
				mv "$t/boot/initrd-script.img-$kver" "$tmp/initrd-script"; } &&
			# The booted system needs no module tree (the initramfs has what boots it),
			# documentation or apt's lists; dracut's shutdown needs /boot/initrd.img.
			rm -rf "$t"/usr/lib/modules/* "$t"/usr/share/doc/* "$t"/usr/share/man/* \
				"$t"/usr/share/locale/* "$t"/var/cache/apt/* "$t"/var/lib/apt/lists/* &&
			echo "$kver" >"$tmp/kver" &&
			du -sm "$t" &&
			mke2fs -q -F -t ext4 -L lbfwroot -E root_owner=0:0 -d "$t" "$tmp/root.img" "${FW_SIZE_MB}M"
	) >"$tmp/log" 2>&1
	rc=$?
	cp "$tmp/log" "$FW_LOG"
	if [ $rc -ne 0 ]; then
		tail -n 25 "$FW_LOG" | sed 's/^/# build: /'
		return 1
	fi
	mv "$tmp/vmlinuz" "$FW_VMLINUZ"
	mv "$tmp/initrd" "$FW_INITRD"
	[ ! -e "$tmp/initrd-script" ] || mv "$tmp/initrd-script" "$FW_INITRD_SCRIPT"
	mv "$tmp/kver" "$VM_CACHE/fw-$fw-$key.kver"
	mv "$tmp/root.img" "$FW_IMG"
}

# ---- the systemd root in a VM disk image (tests/vm/test-disk.sh, test-disk-linear.sh) ---------
# A GPT disk as a virtual machine has it: an ESP (FAT) in partition 1, the systemd root in 2
# (typed Linux root (x86-64), the Discoverable Partitions Specification), /home in 3 (Linux
# filesystem, ext4); its file systems are made straight into the disk file (mkfs.fat
# --offset, mke2fs -E offset=: no partition devices needed). The root also has
# tests/vm/guest-disk/lbdisk.service, which reports the partitions behind / and /home.
# Then the same disk as qemu-img writes it for the other hypervisors: a fixed VHD, a
# fixed VDI and a VMDK monolithicFlat (the descriptor and its -flat.vmdk). Cached as the
# directory sddisk-KEY/ (disk.img, disk.vhd, disk.vdi, disk.vmdk, disk-flat.vmdk), keyed by
# debootstrap's tree, the guest files, qemu-img's version and the functions that build it.

DISK_GUEST=$VM_LIB/guest-disk
DISK_LAYOUT=1 # bump when sd_disk_tree or sd_disk_build changes what they make
DISK_ESP_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
DISK_ROOT_TYPE=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 # Linux root (x86-64)
DISK_LINUX_TYPE=0FC63DAF-8483-4772-8E79-3D69D8477DE4
DISK_LABEL_ID=6C4F4F50-424F-4F54-8D15-4B0000000000
DISK_ESP_PARTUUID=6C4F4F50-424F-4F54-8D15-4B0000000001
DISK_ROOT_PARTUUID=6C4F4F50-424F-4F54-8D15-4B0000000002
DISK_HOME_PARTUUID=6C4F4F50-424F-4F54-8D15-4B0000000003
DISK_ROOT_UUID=6c4f4f50-424f-4f54-8d15-4b00000000f2
DISK_HOME_UUID=6c4f4f50-424f-4f54-8d15-4b00000000f3
# MiB: the ESP from 1 MiB, the root, /home, and 1 MiB for the backup GPT.
DISK_ESP_MB=8 DISK_ROOT_MB=256 DISK_HOME_MB=16
DISK_MB=$((1 + DISK_ESP_MB + DISK_ROOT_MB + DISK_HOME_MB + 1))
# The partitions' first bytes and sizes (for dd, cmp and the checks of the guest's report).
DISK_ROOT_OFFSET=$(((1 + DISK_ESP_MB) * 1048576))
DISK_ROOT_BYTES=$((DISK_ROOT_MB * 1048576))
DISK_HOME_OFFSET=$((DISK_ROOT_OFFSET + DISK_ROOT_BYTES))
DISK_HOME_BYTES=$((DISK_HOME_MB * 1048576))

# The systemd root's tree with lbdisk.service.
sd_disk_tree() { # DIR
	sd_root_tree "$1" &&
		install -m 755 "$DISK_GUEST/lbdisk" "$1/usr/local/sbin/lbdisk" &&
		install -m 644 "$DISK_GUEST/lbdisk.service" "$1/etc/systemd/system/lbdisk.service" &&
		ln -sf ../lbdisk.service "$1/etc/systemd/system/multi-user.target.wants/lbdisk.service"
}

sd_disk_build() { # TMP DIR
	local tmp=$1 dir=$2 d=$1/out
	find "$VM_CACHE" -maxdepth 1 -name 'sddisk-*' -exec rm -rf {} +
	mkdir -p "$d" "$tmp/home" && sd_disk_tree "$tmp/tree" && echo "home partition" >"$tmp/home/marker" &&
		truncate -s "${DISK_MB}M" "$d/disk.img" &&
		printf '%s\n' "label: gpt" "label-id: $DISK_LABEL_ID" \
			"start=2048, size=${DISK_ESP_MB}MiB, type=$DISK_ESP_TYPE, uuid=$DISK_ESP_PARTUUID, name=\"EFI system partition\"" \
			"size=${DISK_ROOT_MB}MiB, type=$DISK_ROOT_TYPE, uuid=$DISK_ROOT_PARTUUID, name=root" \
			"size=${DISK_HOME_MB}MiB, type=$DISK_LINUX_TYPE, uuid=$DISK_HOME_PARTUUID, name=home" |
		sfdisk -q "$d/disk.img" >/dev/null &&
		mkfs.fat --offset 2048 -n ESP -i 6C4F4F50 "$d/disk.img" $((DISK_ESP_MB * 1024)) >/dev/null 2>&1 &&
		mmd -i "$d/disk.img@@1M" ::/EFI ::/EFI/BOOT &&
		mke2fs -q -F -t ext4 -L lbdiskroot -U "$DISK_ROOT_UUID" -E "offset=$DISK_ROOT_OFFSET,nodiscard,root_owner=0:0" \
			-d "$tmp/tree" "$d/disk.img" $((DISK_ROOT_MB * 1024))k >/dev/null &&
		mke2fs -q -F -t ext4 -L lbdiskhome -U "$DISK_HOME_UUID" -E "offset=$DISK_HOME_OFFSET,nodiscard" \
			-d "$tmp/home" "$d/disk.img" $((DISK_HOME_MB * 1024))k >/dev/null &&
		qemu-img convert -f raw -O vpc -o subformat=fixed "$d/disk.img" "$d/disk.vhd" &&
		qemu-img convert -f raw -O vdi -o static=on "$d/disk.img" "$d/disk.vdi" &&
		qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat "$d/disk.img" "$d/disk.vmdk" &&
		touch "$d/.complete" &&
		mv "$d" "$dir"
}

# The cached disk images. Sets SD_DISK (the directory).
sd_disk() {
	local key
	sd_debootstrap || return 1
	key=$( (echo "$SD_TREE $SD_LAYOUT $DISK_LAYOUT $DISK_MB" && qemu-img --version | head -n 1 &&
		cat "$SD_GUEST/lbtest" "$SD_GUEST/lbtest.service" "$DISK_GUEST/lbdisk" "$DISK_GUEST/lbdisk.service" &&
		declare -f sd_root_tree sd_system_tree sd_disk_tree sd_disk_build) | sha256sum | cut -c1-16)
	SD_DISK=$VM_CACHE/sddisk-$key
	cache_build "$SD_LOCK" "$SD_DISK" sd_disk_build "$SD_DISK"
}
