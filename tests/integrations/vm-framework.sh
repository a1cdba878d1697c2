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

# ---- a host on the network ------------------------------------------------------------------

# What the guest reports on top of lbtest-fw (written over it in the scenario's copy of the
# root, which keeps the original as lbtest-fw-base): `loopboot status`, the machine's
# identity and address, the NBD devices.
fw_net_reporter() { # OUT
	cat >"$1" <<'SH'
#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
say() { echo "LBTEST fw $*" >/dev/console; }
loopboot status 2>&1 | sed 's/^/LBTEST fw status: /' >/dev/console
say "net hostname=$(hostname) machine-id=$(cat /etc/machine-id 2>/dev/null) addr=$(hostname -I 2>/dev/null | xargs | tr ' ' ',')"
for d in /sys/block/nbd*; do
	[ -r "$d/pid" ] && say "nbd dev=${d##*/} pid=$(cat "$d/pid")"
done
exec /usr/local/sbin/lbtest-fw-base
SH
}

# The root image with fw_net_reporter (and without the LUKS scenario's crypttab), on an
# ext4 file system (the export) at /linux/root.img.
fw_net_host() { # SCENARIO ROOT HOST
	local d rep rc mb
	d=$(mktemp -d "$VM_OUT/.nethost.XXXXXX") && rep=$VM_OUT/$1.reporter || return 1
	fw_net_reporter "$rep"
	cp --sparse=always "$FW_IMG" "$2" &&
		debugfs -w -R "write $FW_GUEST/lbtest-fw /usr/local/sbin/lbtest-fw-base" "$2" >/dev/null 2>&1 &&
		debugfs -w -R "sif /usr/local/sbin/lbtest-fw-base mode 0100755" "$2" >/dev/null 2>&1 &&
		debugfs -w -R "rm /usr/local/sbin/lbtest-fw" "$2" >/dev/null 2>&1 &&
		debugfs -w -R "write $rep /usr/local/sbin/lbtest-fw" "$2" >/dev/null 2>&1 &&
		debugfs -w -R "sif /usr/local/sbin/lbtest-fw mode 0100755" "$2" >/dev/null 2>&1 &&
		[ "$(debugfs -R "cat /usr/local/sbin/lbtest-fw" "$2" 2>/dev/null | sha256sum)" = "$(sha256sum <"$rep")" ] &&
		# The LUKS scenario's crypttab entry names a device this boot has not: systemd
		# would wait 90 s for it.
		{ ! debugfs -R "stat /etc/crypttab" "$2" 2>/dev/null | grep -q Inode ||
			debugfs -w -R "rm /etc/crypttab" "$2" >/dev/null 2>&1; } &&
		mkdir -p "$d/linux" && cp --sparse=always "$2" "$d/linux/root.img" &&
		mb=$(($(stat -c %s "$2") / 1048576 + 64)) &&
		mke2fs -q -F -t ext4 -L lbfwnet -E root_owner=0:0 -d "$d" "$3" "${mb}M" >/dev/null
	rc=$?
	rm -rf "$d" "$rep"
	return $rc
}

# Boots the framework root over the network: the root image a file on an ext4 export that
# nbd-server (tests/vm/lib-net.sh, 127.0.0.1 only) serves read-only, the guest on QEMU's
# restricted user networking. `ip=dhcp root=nbd:SERVER:PORT/host loop=/linux/root.img`:
# the framework brings the network up with its own stack, the engine takes the interface
# as configured, connects the NBD device and mounts the image under a tmpfs overlay (the
# default for a network host). Checked: the boot, `loopboot status` (net and nbd layers),
# DHCP's host name and a fresh machine-id, nbd-client as a root storage daemon (in dracut's
# systemd initrd: the connection the kernel's, netlink), the
# shutdown order (the stack, then the NBD device; the framework's interface left up) and
# the export byte-identical afterwards.
#   FW      initramfs-tools | dracut
#   INITRD  systemd (the default) | script (dracut without systemd in the initramfs)
fw_net_scenario() { # NAME FW [INITRD]
	local s=$1 fw=$2 flavour=${3:-systemd} f=$T_FAILED n root=$VM_OUT/$1.root host=$VM_OUT/$1.host
	local initrd=$FW_INITRD sum got a b c bad cut late url
	[ "$flavour" = script ] && initrd=$FW_INITRD_SCRIPT
	net_require nbd-server nbd-client
	n=$(nonce_new)
	fw_net_host "$s" "$root" "$host" || die "$s: the ext4 export holding /linux/root.img is built"
	rm -f "$root"
	sum=$(sha256sum <"$host")
	net_nbd_start host="$host" || die "$s: nbd-server starts on 127.0.0.1 (log: $NBD_DIR/log)"
	url=$NET_SERVER:$NET_NBD_GPORT
	net_card fw-client "$NET_NBD_GPORT:$NBD_PORT"
	VMLINUZ=$FW_VMLINUZ INITRD=$initrd vm_boot "$s" \
		"ip=dhcp root=nbd:$url/host loop=/linux/root.img systemd.show_status=1 lbtest.nonce=$n lbtest.action=poweroff"
	VM_QEMU_EXTRA=()
	sed 's/\x1b\[[0-9;]*m//g' "$VM_LOG" >"$VM_LOG.plain"

	[ "$VM_RC" -eq 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	# dracut's systemd initrd prefixes the engine's lines (dracut-root[PID]: loopboot: ...).
	got=$(grep -aoE -m1 'loopboot: network: .*' "$VM_LOG" | head -n 1)
	[[ $got == *", configured before loopboot"* ]]
	ok $? "$s: the framework's network stack brought the interface up, the engine took it as it was (${got:-no network line})"
	case $fw in
	initramfs-tools)
		console_has "Begin: Running /scripts/init-premount" && console_has "IP-Config: " &&
			console_has "loopboot: root /linux/root.img (read-only, under an overlay) mounted from nbd:$url/host"
		ok $? "$s: initramfs-tools' scripts ran, configure_networking (ipconfig) too, then the engine mounted the root"
		;;
	dracut)
		if [ "$flavour" = script ]; then
			console_has "loopboot: root /linux/root.img (read-only, under an overlay) mounted from nbd:$url/host" && ! console_has "dracut-root["
			ok $? "$s: dracut's script initrd brought the network up (network-legacy), then its mount hook ran the engine"
		else
			grep -aq 'Finished loopboot-root' "$VM_LOG.plain" &&
				grep -aqE "dracut-root\[[0-9]+\]: loopboot: root /linux/root.img \(read-only, under an overlay\) mounted from nbd:$url/host" "$VM_LOG"
			ok $? "$s: dracut's systemd initrd brought the network up, then loopboot-root.service mounted the root"
		fi
		;;
	esac
	[ "$(sd_lbtest root fstype)" = overlay ] && [[ $(sd_lbtest host) == /dev/nbd* ]] && [ "$(sd_lbtest host fstype)" = ext4 ]
	ok $? "$s: / is an overlay, /host the NBD export with ext4 (root=$(sd_lbtest root) $(sd_lbtest root fstype), host=$(sd_lbtest host) $(sd_lbtest host fstype))"
	grep -aq '^LBTEST fw status: net: .*configured before loopboot' "$VM_LOG" ||
		grep -aqE '^LBTEST fw status: net: .* via external' "$VM_LOG"
	a=$?
	got=$(grep -a -m1 '^LBTEST fw status: nbd: ' "$VM_LOG")
	[ "$a" -eq 0 ] && [[ $got == *"← $url, export host, read-only"* ]]
	ok $? "$s: loopboot status shows the net layer (the framework's) and the nbd layer (${got#LBTEST fw status: })"
	[ "$(net_lbtest "fw net" hostname)" = fw-client ]
	ok $? "$s: the host name is DHCP's, fw-client (hostname=$(net_lbtest "fw net" hostname))"
	got=$(net_lbtest "fw net" machine-id)
	[[ $got =~ ^[0-9a-f]{32}$ ]] && [ "$got" != 4c4f4f50424f4f54a5e5d5c5b5a59585 ]
	ok $? "$s: the machine has a fresh machine-id, not the image's (${got:-none})"
	if [ "$fw" = dracut ] && [ "$flavour" != script ]; then
		# systemd's switch to the root sends every process SIGSTOP: the engine leaves the
		# connection to the kernel (netlink), no daemon to interrupt.
		got=$(grep -aoE 'NBD export [^ ]+ connected as /dev/nbd[0-9]+ \(netlink[^)]*\)' "$VM_LOG" | head -n 1)
		[ -n "$got" ] && grep -aqE '^LBTEST fw nbd dev=nbd[0-9]+ pid=' "$VM_LOG" &&
			! grep -ao 'LBTEST fw daemon=.*' "$VM_LOG" | grep -q 'argv0=@bd-client\|argv0=@nbd-client'
		ok $? "$s: the kernel holds the NBD connection (netlink, no nbd-client daemon), still connected in the root (${got:-no netlink line})"
	else
		got=$(grep -ao 'LBTEST fw daemon=.*' "$VM_LOG" | grep 'argv0=@bd-client\|argv0=@nbd-client' | head -n 1)
		[ -n "$got" ] && { [ "$fw" != dracut ] || [[ $got == *"cgroup=/system.slice/loopboot-root.service" ]]; }
		ok $? "$s: nbd-client runs as a root storage daemon${got:+ (${got#LBTEST fw })}"
	fi
	console_has "LBTEST wrote /var/lbtest-root" && console_has "LBTEST cannot write /host/lbtest-host"
	ok $? "$s: the guest wrote to its root (the overlay), not to the shared host"

	# The shutdown: the stack first, then the NBD device; the interface is the framework's.
	a=$(grep -anE '^(\[[^]]*\] )?loopboot: images unmounted, loop devices detached, host' "$VM_LOG" | head -n 1)
	b=$(grep -anE 'loopboot: NBD device /dev/nbd[0-9]+ disconnected' "$VM_LOG" | head -n 1)
	c=$(grep -anE 'loopboot: network interface .* taken down' "$VM_LOG" | head -n 1)
	[ -n "$a" ] && [ -n "$b" ] && [ "${a%%:*}" -lt "${b%%:*}" ] && [ -z "$c" ]
	ok $? "$s: the shutdown took down the overlay, images and host, then the NBD device, and left the framework's interface up (${a:-0:no stack line} | ${b:-0:no NBD line}${c:+ | $c})"
	# I/O errors after systemd-shutdown's final kill(-1, SIGSTOP) are a known limitation of
	# nbd-client's ioctl mode (tests/vm/lib-net.sh, NET_SD_FINAL_KILL): noted, not counted.
	cut=$(grep -anE "$NET_SD_FINAL_KILL" "$VM_LOG" | head -n 1 | cut -d: -f1)
	bad=$(head -n "${cut:-$(wc -l <"$VM_LOG")}" "$VM_LOG" | grep -aE "$SD_BAD_CONSOLE" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O error on the console${cut:+ before the final kill of systemd-shutdown (line $cut)}${bad:+ ($bad)}"
	if [ -n "$cut" ]; then
		late=$(tail -n +"$((cut + 1))" "$VM_LOG" | grep -aE "$SD_BAD_CONSOLE" | head -n 3 | tr '\n' '|')
		[ -z "$late" ] || note "$s: after systemd's final kill, not counted: $late"
	fi
	console_has "reboot: Power down"
	ok $? "$s: the kernel powered off"
	net_nbd_stop
	[ "$(sha256sum <"$host")" = "$sum" ]
	ok $? "$s: the export is byte-identical afterwards (sha256)"
	scenario_done "$s" "$f" "$host"
}
