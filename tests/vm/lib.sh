#!/bin/bash
# shellcheck disable=SC2034 # globals (KVER, INITRD, VM_LOG, …) are for the scripts that source this
# VM tests: Debian's kernel and an initramfs from `loopboot initrd` boot in QEMU (TCG)
# with host disk images built on this machine; the guest reports on the console what it
# sees, writes a nonce into its root image and powers off; the tests then read the disk
# images back without mounting them where the tools allow.
# Sourced by tests/vm/test-*.sh and tests/vm/demo. Each check prints one TAP line.
set -uo pipefail

VM_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$VM_LIB/../.." && pwd)
LOOPBOOT=${LOOPBOOT:-$TOP/build/loopboot}
# The kernel cache is shared with tests/lib/kernel.sh (the initrd tests).
LB_CACHE=${LB_CACHE:-$TOP/cache}
VM_CACHE=${VM_CACHE:-$VM_LIB/cache}
VM_TIMEOUT=${VM_TIMEOUT:-180}
# tests/run sets VM_TIMEOUT_SCALE when it runs VM test files side by side: a guest then
# gets a share of the CPUs, and every QEMU time limit grows with it.
vm_timeout() { echo $((VM_TIMEOUT * ${VM_TIMEOUT_SCALE:-1})); }
VM_MEM=${VM_MEM:-768}
# A file sourced by tests/run has $0 = tests/vm/test-NAME.sh: its results go to out/NAME.
VM_NAME=${VM_NAME:-$(basename "$0" .sh)}
VM_NAME=${VM_NAME#test-}
VM_OUT=${VM_OUT:-$VM_LIB/out/$VM_NAME}
export MTOOLS_SKIP_CHECK=1

# shellcheck source=../lib/tap.sh
. "$TOP/tests/lib/tap.sh"
# The guest roots and the cache they live in: guest_root, linear_root, sd_root, fw_root, …
# shellcheck source=../lib/roots.sh
. "$TOP/tests/lib/roots.sh"

vm_require() { # the checks every VM test file starts with
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP VM tests need root"
		exit 0
	fi
	local missing=() t
	for t in qemu-system-x86_64 mke2fs debugfs e2fsck mkntfs ntfscp ntfscat ntfs-3g mkfs.vfat \
		mcopy mmd mkfs.exfat mount.exfat-fuse sfdisk busybox dpkg-deb depmod apt-get zstd flock; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "tools present (missing: ${missing[*]} — run scripts/deps all)"
	[ -x "$LOOPBOOT" ] || die "loopboot binary at $LOOPBOOT (run make)"
	rm -rf "$VM_OUT"
	mkdir -p "$VM_OUT" "$VM_CACHE" "$LB_CACHE"
}

# ---------------------------------------------------------------------------------------
# Debian's current amd64 kernel, from tests/lib/kernel.sh (shared with the initrd tests:
# apt-get download, dpkg-deb -x and depmod -b into cache/kernel, once, under flock).
# Sets KVER, VMLINUZ and KMODS (the lib/modules/KVER directory).
# LB_VM_KERNEL_DIR=DIR uses a tree laid out like an extracted package instead.

vm_kernel() {
	if [ -n "${LB_VM_KERNEL_DIR:-}" ]; then
		KVER=$(find "$LB_VM_KERNEL_DIR/lib/modules" -mindepth 1 -maxdepth 1 -printf "%f\n" | head -n 1)
		VMLINUZ=$LB_VM_KERNEL_DIR/boot/vmlinuz-$KVER
		KMODS=$LB_VM_KERNEL_DIR/lib/modules/$KVER
	else
		# A fresh machine may have no package lists yet: apt-cache then names no kernel.
		if [ ! -f "${LOOPBOOT_KERNEL_CACHE:-$LB_CACHE/kernel}/.complete" ] &&
			! apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-[0-9]'; then
			apt-get update -qq >/dev/null 2>&1
		fi
		# shellcheck source=../lib/kernel.sh
		. "$TOP/tests/lib/kernel.sh"
		kernel_fetch || return 1
		KVER=$KERNEL_VERSION
		VMLINUZ=$KERNEL_VMLINUZ
		KMODS=$KERNEL_MODULES
	fi
	[ -f "$VMLINUZ" ] && [ -f "$KMODS/modules.dep" ] || {
		echo "kernel cache incomplete: $VMLINUZ, $KMODS/modules.dep" >&2
		return 1
	}
}

# ---------------------------------------------------------------------------------------
# The initramfs: `loopboot initrd` with the kernel's modules and ARGS (--network, for one),
# cached as NAME-KVER-KEY.img, KEY a hash of the binary, the kernel version and ARGS.
# LB_VM_INITRD=FILE uses that file instead (for debugging the harness).
# Sets INITRD, INITRD_CACHED (1 when it was already built); the builder's output is in
# $INITRD_LOG.
vm_initrd_cached() { # NAME [ARGS...]
	if [ -n "${LB_VM_INITRD:-}" ]; then
		INITRD=$LB_VM_INITRD
		INITRD_LOG=/dev/null
		INITRD_CACHED=1
		return 0
	fi
	local name=$1 key
	shift
	key=$( (sha256sum <"$LOOPBOOT" && echo "$KVER${*:+ $*}") | sha256sum | cut -c1-16)
	INITRD=$VM_CACHE/$name-$KVER-$key.img
	INITRD_LOG=$VM_CACHE/$name-$KVER-$key.log
	cache_build "$VM_CACHE/.lock" "$INITRD" vm_initrd_build "$name" "$@" || return 1
	INITRD_CACHED=$((1 - CACHE_BUILT))
}
vm_initrd() { vm_initrd_cached initrd; } # the plain one

vm_initrd_build() { # TMP NAME [ARGS...]
	# Old builds go once nobody can still be using them (another test file running at the
	# same time reads its $INITRD without the lock).
	find "$VM_CACHE" -maxdepth 1 -name "$2-*" -mmin +60 -delete
	# loopboot initrd replaces its output atomically.
	if ! "$LOOPBOOT" initrd -o "$INITRD" --modules-dir "$KMODS" --compress zstd "${@:3}" >"$INITRD_LOG" 2>&1; then
		rm -f "$INITRD"
		sed 's/^/# initrd: /' "$INITRD_LOG"
		return 1
	fi
}

plain_image() { # OUT MARKER [SIZE_MB]: an ext4 image with /marker (for /home)
	local d
	d=$(mktemp -d)
	echo "$2" >"$d/marker"
	mke2fs -q -F -t ext4 -L lbhome -d "$d" "$1" "${3:-8}M" >/dev/null
	local rc=$?
	rm -rf "$d"
	return $rc
}

# ---------------------------------------------------------------------------------------
# Host disk images. File systems are built in their own files and, for partitioned disks,
# copied into the partition with dd. Nothing is mounted except where no tool writes the
# file system otherwise (directories on NTFS, anything on exFAT): there a FUSE driver
# mounts it in a private mount namespace, and we wait for the driver to exit.

fuse_do() { # ntfs-3g|exfat-fuse[:ro] IMAGE SCRIPT [ARGS...]: runs SCRIPT with $M mounted
	local drv=$1 img=$2 script=$3
	shift 3
	unshare -m --propagation private bash -c '
		set -e
		drv=${1%:ro} img=$2 script=$3 opts=rw
		[ "$drv" = "$1" ] || opts=ro
		shift 3
		M=$(mktemp -d)
		export M
		loop=
		case $drv in
		ntfs-3g) ntfs-3g -o "no_detach,$opts" "$img" "$M" >/dev/null 2>&1 & ;;
		exfat-fuse)
			# As root, exfat-fuse mounts block devices only (fuseblk).
			loop=$(losetup -f --show "$img")
			mount.exfat-fuse -d -o "$opts" "$loop" "$M" >/dev/null 2>&1 &
			;;
		esac
		pid=$!
		trap "umount -l \"\$M\" 2>/dev/null; [ -z \"\$loop\" ] || losetup -d \"\$loop\" 2>/dev/null; exit 1" INT TERM
		for _ in $(seq 100); do mountpoint -q "$M" && break; sleep 0.05; done
		rc=0
		if mountpoint -q "$M"; then
			bash -c "$script" fuse_do "$@" || rc=$?
			umount "$M"
		else
			echo "$drv did not mount $img" >&2
			kill "$pid" 2>/dev/null
			rc=1
		fi
		wait "$pid" || true
		[ -z "$loop" ] || losetup -d "$loop"
		rmdir "$M"
		exit $rc
	' fuse_do "$drv" "$img" "$script" "$@"
}

ntfs_new() { # FILE SIZE(truncate's syntax) LABEL SERIAL [PART_START_SECTOR]
	truncate -s "$2" "$1"
	mkntfs -F -f -q -L "$3" -p "${5:-0}" -H 255 -S 63 "$1" >/dev/null 2>&1 &&
		ntfslabel --new-serial="$4" "$1" >/dev/null 2>&1
}
ntfs_mkdir() { # FILE DIR...
	local img=$1
	shift
	fuse_do ntfs-3g "$img" 'for d; do mkdir -p "$M/$d"; done' "$@"
}
ntfs_put() { # FILE SRC DEST: ntfscp writes every byte: the image is not sparse on NTFS
	ntfscp -f "$1" "$2" "$3" >/dev/null 2>&1
}
ntfs_get() { # FILE PATH OUT
	ntfscat "$1" "$2" >"$3" 2>/dev/null
}

# A "Windows" NTFS volume: the usual top-level directories and a few files.
ntfs_windows() { # FILE
	fuse_do ntfs-3g "$1" '
		mkdir -p "$M/Windows/System32" "$M/Program Files" "$M/Users/Public/Documents" "$M/linux"
		echo "[boot loader]" >"$M/boot.ini"
		echo "Not really Windows." >"$M/Windows/System32/notepad.txt"'
}

# The usual NTFS host: a "Windows" volume with the root image at /linux/root.img and, when
# given, a home image at /linux/home.img. PART_START_SECTOR for a volume in a partition.
ntfs_host() { # FILE SIZE LABEL SERIAL ROOT-IMAGE [HOME-IMAGE] [PART_START_SECTOR]
	ntfs_new "$1" "$2" "$3" "$4" "${7:-0}" &&
		ntfs_windows "$1" &&
		ntfs_put "$1" "$5" /linux/root.img &&
		{ [ -z "${6:-}" ] || ntfs_put "$1" "$6" /linux/home.img; }
}

fat_new() { # FILE SIZE_MB LABEL
	truncate -s "$2M" "$1"
	mkfs.vfat -F 32 -n "$3" -i 1234ABCD "$1" >/dev/null
}
fat_put() { # FILE SRC DEST (DEST's parent directories are made)
	local img=$1 src=$2 dest=$3 dir=
	local IFS=/
	for p in ${dest%/*}; do
		[ -n "$p" ] || continue
		dir=$dir/$p
		mmd -D s -i "$img" "::$dir" 2>/dev/null
	done
	unset IFS
	mcopy -o -i "$img" "$src" "::$dest"
}
fat_get() { # FILE PATH OUT
	mcopy -n -i "$1" "::$2" "$3"
}

exfat_new() { # FILE SIZE_MB LABEL
	truncate -s "$2M" "$1"
	mkfs.exfat -L "$3" "$1" >/dev/null
}
exfat_put() { # FILE SRC DEST
	fuse_do exfat-fuse "$1" 'mkdir -p "$M/$(dirname "$2")" && cp --sparse=never "$1" "$M/$2"' "$2" "$3"
}
exfat_get() { # FILE PATH OUT
	fuse_do exfat-fuse:ro "$1" 'cp "$M/$1" "$2"' "$2" "$3"
}

# What the next mount of an ext4 file system would see: a copy with its journal replayed
# (a host file system cannot be unmounted while the root image on it is in use, so after
# poweroff its latest metadata may still be in the journal only).
ext4_replayed() { # FILE OUT
	cp --sparse=always "$1" "$2" || return 1
	e2fsck -E journal_only -p "$2" >/dev/null 2>&1
	[ $? -le 1 ]
}
ext4_get() { # FILE PATH OUT: from the file system as replayed
	local tmp rc=1
	tmp=$(mktemp "$VM_OUT/.replay.XXXXXX")
	if ext4_replayed "$1" "$tmp"; then
		debugfs -R "dump \"$2\" \"$3\"" "$tmp" >/dev/null 2>&1 && [ -f "$3" ]
		rc=$?
	fi
	rm -f "$tmp"
	return $rc
}

# Partitioned disks: one partition starting at 1 MiB. Sets PART_START (sectors).
PART_START=2048
disk_gpt() { # DISK SIZE_MB PARTUUID PARTLABEL TYPE(sfdisk GPT type)
	truncate -s "$2M" "$1"
	printf 'label: gpt\nlabel-id: 5A4D1E2B-0C3F-4B6A-9D8E-7F6A5B4C3D2E\nstart=%s, type=%s, uuid=%s, name="%s"\n' \
		"$PART_START" "$5" "$3" "$4" | sfdisk -q "$1" >/dev/null
}
disk_mbr() { # DISK SIZE_MB DISKID TYPE(hex)
	truncate -s "$2M" "$1"
	printf 'label: dos\nlabel-id: %s\nstart=%s, type=%s\n' "$3" "$PART_START" "$4" | sfdisk -q "$1" >/dev/null
}
part_size() { # DISK: bytes of partition 1
	sfdisk -l -o Sectors "$1" 2>/dev/null | awk 'END { print $1 * 512 }'
}
part_write() { # DISK FSFILE: copies the file system into partition 1
	dd if="$2" of="$1" bs=1M seek=$((PART_START * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
}
part_read() { # DISK OUT: copies partition 1 out
	dd if="$1" of="$2" bs=1M skip=$((PART_START * 512)) iflag=skip_bytes,count_bytes \
		count="$(part_size "$1")" conv=sparse status=none
}

# ---------------------------------------------------------------------------------------
# QEMU. vm_boot runs one guest to its end; the console goes to $VM_LOG (and to stdout
# when VM_LIVE=1). Sets VM_RC (QEMU's status, 124 on timeout) and VM_SECS.

VM_APPEND_BASE="console=ttyS0 panic=-1"

# What every boot starts with: VM_LOG, the .cmdline file, and VM_QEMU, QEMU's command line
# with the kernel, the initramfs, CMDLINE (and VM_APPEND), each DISK as a virtio drive and
# then the array VM_QEMU_EXTRA, when a test sets it (a network card: tests/vm/lib-net.sh).
vm_boot_prepare() { # NAME CMDLINE DISK...
	local name=$1 cmdline="$VM_APPEND_BASE $2${VM_APPEND:+ $VM_APPEND}" d
	shift 2
	VM_LOG=$VM_OUT/$name.console
	mkdir -p "$VM_OUT"
	printf '%s\n' "$cmdline" >"$VM_OUT/$name.cmdline"
	VM_QEMU=(qemu-system-x86_64 -accel tcg -machine q35 -m "$VM_MEM"
		-nodefaults -display none -no-reboot -serial stdio
		-kernel "$VMLINUZ" -initrd "$INITRD" -append "$cmdline")
	for d in "$@"; do VM_QEMU+=(-drive "file=$d,format=raw,if=virtio"); done
	VM_QEMU+=(${VM_QEMU_EXTRA[@]+"${VM_QEMU_EXTRA[@]}"})
}

vm_boot() { # NAME CMDLINE DISK...
	local start
	vm_boot_prepare "$@"
	start=$(date +%s)
	local qemu=(timeout -k 5 "$(vm_timeout)" "${VM_QEMU[@]}")
	if [ "${VM_LIVE:-0}" = 1 ]; then
		# The console as it comes, indented, without the guest's LBTEST lines (for tests).
		"${qemu[@]}" </dev/null 2>&1 | tee "$VM_LOG" |
			sed -u -e 's/\r$//' -e '/^LBTEST /d' -e 's/^/    /'
		VM_RC=${PIPESTATUS[0]}
	else
		"${qemu[@]}" </dev/null >"$VM_LOG" 2>&1
		VM_RC=$?
	fi
	VM_SECS=$(($(date +%s) - start))
	# The serial console ends lines with CR LF.
	sed -i 's/\r$//' "$VM_LOG"
	return 0
}

# The end of a guest a test ran in the background (several at once), its console in
# $VM_OUT/NAME.console and "STATUS SECONDS" in $VM_OUT/NAME.rc: sets VM_LOG, VM_RC and
# VM_SECS as vm_boot does.
vm_bg_result() { # NAME
	VM_LOG=$VM_OUT/$1.console
	read -r VM_RC VM_SECS <"$VM_OUT/$1.rc" || VM_RC=255 VM_SECS=0
	sed -i 's/\r$//' "$VM_LOG"
}

# As vm_boot, with QEMU in the background and WATCH (a function) called with its PID
# about five times a second while it runs: WATCH may talk to QEMU's monitor or kill QEMU
# (a power cut). QEMU_ARGS go after the disks (a monitor, hot-pluggable devices). No
# timeout(1) in between, so that a signal reaches QEMU itself; at the time limit QEMU is
# killed and VM_RC is 124. A test file that stops meanwhile kills it (VM_PID, trap below).
vm_boot_watched() { # NAME CMDLINE WATCH [QEMU_ARGS...] [-- DISK...]
	local name=$1 cmdline=$2 watch=$3 qemu_args disks start deadline pid
	shift 3
	split_at_dashes qemu_args disks "$@"
	vm_boot_prepare "$name" "$cmdline" "${disks[@]}"
	: >"$VM_LOG" # there before the first look at it
	start=$(date +%s)
	deadline=$((start + $(vm_timeout)))
	"${VM_QEMU[@]}" "${qemu_args[@]}" </dev/null >"$VM_LOG" 2>&1 &
	pid=$!
	VM_PID=$pid
	VM_RC=
	while kill -0 "$pid" 2>/dev/null; do
		"$watch" "$pid" "$start"
		if [ "$(date +%s)" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			VM_RC=124
			break
		fi
		sleep 0.2
	done
	if [ -z "$VM_RC" ]; then
		wait "$pid" 2>/dev/null # (no "Killed" job message after a power cut)
		VM_RC=$?
	fi
	VM_PID=
	VM_SECS=$(($(date +%s) - start))
	sed -i 's/\r$//' "$VM_LOG"
	return 0
}
VM_PID=
trap '[ -z "$VM_PID" ] || kill -KILL "$VM_PID" 2>/dev/null' EXIT
trap 'exit 143' TERM

# Lines from the guest's init: "LBTEST KEY=VALUE fstype=..." -> the value of FIELD. A kernel
# message the serial console put on the same line ("[   11.46] ...") is cut off first.
lbtest() { # KEY [FIELD]: FIELD defaults to KEY
	local key=$1 field=${2:-$1}
	grep -a "^LBTEST $key=" "$VM_LOG" | tail -n 1 | sed 's/\[ *[0-9]*\.[0-9]*\] .*//' | tr ' ' '\n' | sed -n "s/^$field=//p" | head -n 1
}
console_has() { grep -aqF -- "$1" "$VM_LOG"; }
# The engine's error: "loopboot: <what>: <value>: <reason> — <what to do>".
loopboot_line() { grep -a -m1 -E '^loopboot: [^:]+: .+: .+ — .+' "$VM_LOG"; }

show_console() { # the interesting console lines, as TAP comments
	grep -aE '^(LBTEST|loopboot:)|Kernel panic|reboot: |BUG:|Oops' "$VM_LOG" | head -n 40 | sed 's/^/#   /'
	note "console: $VM_LOG"
}

nonce_new() { printf 'lb%s' "$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }

# The checks after a boot that should have reached the guest's init: the root is a loop
# device with an ext4 file system on the image file, the host is DEVICE with FSTYPE, and
# the guest powered off by itself.
check_booted() { # SCENARIO HOSTDEV HOSTFSTYPE IMAGE (the loop's backing file ends so)
	local s=$1 root rootfs host hostfs backing
	root=$(lbtest root)
	rootfs=$(lbtest root fstype)
	backing=$(lbtest root backing | tr '?' ' ')
	host=$(lbtest host)
	hostfs=$(lbtest host fstype)
	[ "$VM_RC" -eq 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	[[ $root == /dev/loop* ]] && [ "$rootfs" = ext4 ]
	ok $? "$s: the guest's root is a loop device with ext4 (root=${root:-?} fstype=${rootfs:-?})"
	[[ -n $backing && $backing == *"$4" ]]
	ok $? "$s: the root's loop device is backed by the image file $4 (backing=${backing:-?})"
	[ "$host" = "$2" ] && [ "$hostfs" = "$3" ]
	ok $? "$s: /host is $2 with $3 (host=${host:-?} fstype=${hostfs:-?})"
	console_has "reboot: Power down"
	ok $? "$s: the guest powered off"
}

# The checks on a root image read back from the host disk after poweroff.
check_image() { # SCENARIO IMAGE-FILE NONCE [WHAT]
	local s=$1 img=$2 nonce=$3 what=${4:-root image} got=
	if ext4_get "$img" /lbtest-nonce "$img.nonce"; then
		got=$(cat "$img.nonce")
	fi
	rm -f "$img.nonce"
	[ "$got" = "$nonce" ]
	ok $? "$s: the nonce the guest wrote is in the $what after poweroff (got '${got:-nothing}')"
	check "$s: the $what is clean as the guest left it (e2fsck -fn)" e2fsck -fn "$img"
}

# The root image /linux/root.img read back from the host file system FS (the disk, or its
# partition read out with part_read) with GET (ntfs_get, exfat_get, ext4_get, ...) into
# $VM_OUT/SCENARIO.root, and checked as check_image does.
check_read_back() { # SCENARIO FS GET HOW NONCE
	check "$1: the root image can be read back ($4)" "$3" "$2" /linux/root.img "$VM_OUT/$1.root"
	check_image "$1" "$VM_OUT/$1.root" "$5"
}

# After a boot the engine stopped: the guest's init did not run, no kernel panic, and QEMU
# ended by itself (the engine's reboot).
check_no_guest() { # SCENARIO
	! console_has "LBTEST start"
	ok $? "$1: the guest's init did not run"
	! console_has "Kernel panic"
	ok $? "$1: no kernel panic"
	[ "$VM_RC" -eq 0 ]
	ok $? "$1: QEMU ended by itself after the engine's reboot (status $VM_RC, ${VM_SECS}s)"
}

# After a failed boot: the engine's line on the console, no guest, no panic, the host
# disk untouched.
check_failed() { # SCENARIO EXPECTED-SUBSTRING DISK SHA256-BEFORE
	local s=$1 line after
	line=$(loopboot_line)
	[ -n "$line" ]
	ok $? "$s: the console has the engine's error line (${line:-none})"
	[[ ${line,,} == *"${2,,}"* ]]
	ok $? "$s: the loopboot: line names $2"
	check_no_guest "$s"
	after=$(sha256sum <"$3")
	[ "$after" = "$4" ]
	ok $? "$s: the host disk image is byte-identical afterwards"
}

# Boots NAME, then runs the checks; keeps the disks of a failing scenario in $VM_OUT.
scenario_done() { # NAME FAILED-BEFORE DISK...
	local name=$1 before=$2
	shift 2
	if [ "$T_FAILED" -gt "$before" ]; then
		show_console
		note "disks kept: $*"
	else
		rm -f "$@"
	fi
}

vm_setup() { # kernel + initrd, or die
	vm_kernel || die "Debian's kernel is in the cache ($LB_CACHE/kernel)"
	vm_initrd || die "loopboot initrd builds an initramfs for $KVER"
	note "kernel $KVER, initramfs $INITRD ($(du -k "$INITRD" | cut -f1) KiB)"
}
