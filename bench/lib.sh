# shellcheck shell=bash disable=SC2016 # code for bash -c in single quotes
# SPDX-License-Identifier: GPL-2.0-or-later
# What bench/boot and bench/phase share, sourced after tests/vm/lib.sh and
# tests/vm/lib-systemd.sh: initramfs-tools' and dracut's images for the benchmark kernel,
# and the busybox root whose init marks its own exec and powers off. Each function writes
# its log beside its output. Needs W (the work directory), KVER, KMODS and KROOT (the
# unpacked kernel package: KMODS is KROOT/lib/modules/KVER).

# mkinitramfs with MODULES (most: Debian's default, dep: this machine's root device),
# COMPRESS=zstd, from a configuration directory of its own (no hooks of this machine's),
# with the kernel's modules bind-mounted at /usr/lib/modules in a private mount namespace.
bench_itools() { # MODULES OUT
	local conf=$W/itools-conf created=0
	rm -rf "$conf"
	mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts"
	printf 'MODULES=%s\nBUSYBOX=auto\nKEYMAP=n\nCOMPRESS=zstd\nDEVICE=\nNFSROOT=auto\nRUNSIZE=10%%\nFSTYPE=auto\n' "$1" >"$conf/initramfs.conf"
	: >"$conf/modules"
	[ -d /usr/lib/modules ] || { mkdir /usr/lib/modules && created=1; }
	unshare -m --propagation private bash -c '
		mount --bind "$1/lib/modules" /usr/lib/modules &&
			mount --bind "$1/boot" /boot &&
			mkinitramfs -d "$2" -o "$3" "$4"' itools "$KROOT" "$conf" "$2" "$KVER" >"$2.log" 2>&1
	local rc=$?
	[ "$created" = 0 ] || rmdir /usr/lib/modules
	rm -rf "$conf"
	return $rc
}

# Debian's dracut --no-hostonly --compress zstd (its systemd initrd), run in a copy of the
# VM tier's debootstrap tree with `apt-get install dracut` (network, once; cached in
# $LB_CACHE/bench-dracut) and the kernel's modules bound in.
bench_dracut() { # OUT (in $W)
	local dr=$LB_CACHE/bench-dracut
	sd_debootstrap || return 1
	if [ ! -f "$dr/.complete" ]; then
		rm -rf "$dr"
		cp -a "$SD_TREE" "$dr" || return 1
		cp /etc/resolv.conf "$dr/etc/resolv.conf" 2>/dev/null
		unshare -m --propagation private bash -c '
			t=$1
			mount -t proc proc "$t/proc" && mount -t sysfs sys "$t/sys" && mount --rbind /dev "$t/dev" &&
				chroot "$t" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
					sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends dracut zstd"' \
			dr "$dr" >"$W/dracut-install.log" 2>&1 || return 1
		touch "$dr/.complete"
	fi
	mkdir -p "$dr/usr/lib/modules/$KVER" "$dr/out"
	unshare -m --propagation private bash -c '
		t=$1
		mount -t proc proc "$t/proc" && mount -t sysfs sys "$t/sys" && mount --rbind /dev "$t/dev" &&
			mount --bind "$2" "$t/usr/lib/modules/$3" && mount --bind "$4" "$t/out" &&
			chroot "$t" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
				dracut --no-hostonly --compress zstd --kver "$3" -f "/out/$5"' \
		dr "$dr" "$KMODS" "$KVER" "$W" "$1" >"$W/${1%.img}.log" 2>&1
}

# The VM tier's busybox tree with bench/boot-init as /sbin/init (it writes "LBBOOT init"
# to /dev/kmsg, then powers off), as a 24 MiB ext4 file system labelled lbboot.
bench_root() { # OUT
	local tree=$W/root.d rc
	guest_root_tree "$tree" || return 1
	rm -f "$tree/sbin/init"
	cp "$TOP/bench/boot-init" "$tree/sbin/init"
	chmod 755 "$tree/sbin/init"
	# systemd (dracut's initrd) switches only into an OS tree: one with an os-release.
	printf 'NAME=lbboot\nID=lbboot\n' >"$tree/etc/os-release"
	mke2fs -q -F -t ext4 -L lbboot -d "$tree" "$1" 24M >/dev/null
	rc=$?
	rm -rf "$tree"
	return $rc
}
