# shellcheck shell=bash
# Helpers for tests/vm/test-shutdown.sh, sourced after lib.sh: a Debian 12 root with
# systemd in an ext4 image (debootstrap once, cached), a busybox root whose init ends
# with loopboot's documented shutdown command, and the checks made on the host disk
# after the guest shut down.
#
# The guest side lives in tests/vm/guest-systemd/:
#   lbtest          the program of lbtest.service in the systemd root: writes the nonce
#                   to /var, /home and /host, then `systemctl --no-block ACTION`
#   lbtest.service  its unit (WantedBy=multi-user.target)
#   busybox-init    /sbin/init of the busybox root: the same writes, then
#                   exec /run/initramfs/loopboot-shutdown ACTION

SD_GUEST=$VM_LIB/guest-systemd
SD_SUITE=bookworm
SD_VARIANT=minbase
SD_INCLUDE=systemd-sysv,udev,kmod
SD_MIRROR=${LB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SD_LAYOUT=1    # bump when sd_root_tree changes
SD_SIZE_MB=320 # the image; debootstrap's tree is about 180 MB
# debootstrap takes minutes: its own lock, so that other VM tests are not held up.
SD_LOCK=$VM_CACHE/.lock-systemd

# debootstrap's tree, cached as a directory keyed by what debootstrap was asked for
# (the mirror is no input: any mirror serves the same suite). Sets SD_TREE.
sd_debootstrap() {
	local key dir lock tmp
	key=$(echo "$SD_SUITE $SD_VARIANT $SD_INCLUDE" | sha256sum | cut -c1-16)
	dir=$VM_CACHE/debian-$SD_SUITE-$key
	SD_TREE=$dir
	exec {lock}>"$SD_LOCK"
	flock "$lock"
	if [ ! -f "$dir/.complete" ]; then
		find "$VM_CACHE" -maxdepth 1 -name 'debian-*' -exec rm -rf {} +
		command -v debootstrap >/dev/null 2>&1 || apt-get install -y -qq debootstrap >/dev/null 2>&1
		tmp=$dir.tmp
		rm -rf "$tmp"
		note "debootstrap --variant=$SD_VARIANT --include=$SD_INCLUDE $SD_SUITE (once; a few minutes)"
		if ! debootstrap --variant="$SD_VARIANT" --include="$SD_INCLUDE" "$SD_SUITE" "$tmp" \
			"$SD_MIRROR" >"$VM_CACHE/debootstrap.log" 2>&1; then
			tail -n 20 "$VM_CACHE/debootstrap.log" | sed 's/^/# debootstrap: /'
			rm -rf "$tmp"
			exec {lock}>&-
			return 1
		fi
		# What debootstrap leaves for apt is no part of the root we test.
		rm -rf "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*_Packages
		touch "$tmp/.complete"
		mv "$tmp" "$dir"
	fi
	exec {lock}>&-
}

# The tree of the systemd root: debootstrap's, with lbtest.service and what a system
# installed on a loop root needs (see the comments).
sd_root_tree() { # DIR
	local d=$1
	cp -a "$SD_TREE" "$d" || return 1
	rm -f "$d/.complete"
	echo lbtest >"$d/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tlbtest\n' >"$d/etc/hosts"
	# The engine mounts / and /home from loopboot.mount=: nothing for fstab.
	echo "# / and /home come from the kernel command line (loopboot)" >"$d/etc/fstab"
	# A machine ID: without one, systemd runs its first-boot setup.
	echo 4c4f4f50424f4f54a5e5d5c5b5a59585 >"$d/etc/machine-id"
	mkdir -p "$d/host" "$d/home"
	install -m 755 "$SD_GUEST/lbtest" "$d/usr/local/sbin/lbtest"
	install -m 644 "$SD_GUEST/lbtest.service" "$d/etc/systemd/system/lbtest.service"
	mkdir -p "$d/etc/systemd/system/multi-user.target.wants"
	ln -sf ../lbtest.service "$d/etc/systemd/system/multi-user.target.wants/lbtest.service"
}

# A fresh copy of the cached systemd root image. Keyed by debootstrap's tree, the guest
# files and this layout.
sd_root() { # OUT
	local key img tmp lock
	sd_debootstrap || return 1
	key=$( (echo "$SD_TREE $SD_LAYOUT $SD_SIZE_MB" && cat "$SD_GUEST/lbtest" "$SD_GUEST/lbtest.service" &&
		declare -f sd_root_tree) | sha256sum | cut -c1-16)
	img=$VM_CACHE/sdroot-$key.img
	exec {lock}>"$SD_LOCK"
	flock "$lock"
	if [ ! -s "$img" ]; then
		find "$VM_CACHE" -maxdepth 1 -name 'sdroot-*.img' -delete
		tmp=$(mktemp -d "$VM_CACHE/.sdroot.XXXXXX")
		if ! sd_root_tree "$tmp/tree" ||
			! mke2fs -q -F -t ext4 -L lbsdroot -E root_owner=0:0 -d "$tmp/tree" "$tmp/root.img" "${SD_SIZE_MB}M" >/dev/null; then
			rm -rf "$tmp"
			exec {lock}>&-
			return 1
		fi
		mv "$tmp/root.img" "$img"
		rm -rf "$tmp"
	fi
	exec {lock}>&-
	cp --sparse=always "$img" "$1"
}

# The busybox root of lib.sh with tests/vm/guest-systemd/busybox-init as /sbin/init.
# Cheap: built each time.
bb_root() { # OUT
	local tmp rc
	tmp=$(mktemp -d "$VM_OUT/.bbroot.XXXXXX")
	guest_root_tree "$tmp/tree" &&
		install -m 755 "$SD_GUEST/busybox-init" "$tmp/tree/sbin/init" &&
		mkdir -p "$tmp/tree/var" &&
		mke2fs -q -F -t ext4 -L lbroot -d "$tmp/tree" "$1" "${ROOT_SIZE_MB}M" >/dev/null
	rc=$?
	rm -rf "$tmp"
	return $rc
}

# lib.sh's lbtest for consoles where a getty's "login:" prompt may start the line.
sd_lbtest() { # KEY [FIELD]: FIELD defaults to KEY
	local key=$1 field=${2:-$1}
	grep -ao "LBTEST $key=.*" "$VM_LOG" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$field=//p" | head -n 1
}
