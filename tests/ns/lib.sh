#!/bin/bash
# Root tests: a private mount namespace, real loop devices, real host images.
# Sourced by tests/ns/test-*.sh. Each check prints one TAP line.
set -uo pipefail

if [ -z "${LB_IN_NS:-}" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP root tests need root"
		exit 0
	fi
	# Mounts made here vanish with the namespace; /run is a private tmpfs so the state
	# record of one test never meets the machine's or another test's.
	exec unshare --mount --propagation private env LB_IN_NS=1 bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run

LOOPBOOT=${LOOPBOOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/loopboot}
WORK=$(mktemp -d /tmp/loopboot-ns.XXXXXX)
ROOT=$WORK/newroot
mkdir -p "$ROOT"
T_N=0
T_FAILED=0

cleanup() {
	teardown_root
	# attach runs in $(...), a subshell: find our loop devices by their backing files.
	losetup -n -O NAME,BACK-FILE 2>/dev/null | while read -r l f; do
		case $f in "$WORK"/*) losetup -d "$l" 2>/dev/null ;; esac
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() { # ok CONDITION-STATUS DESCRIPTION
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}
check() { # check DESCRIPTION COMMAND...
	local desc=$1
	shift
	"$@" >/dev/null 2>&1
	ok $? "$desc"
}
note() { echo "# $*"; }

# An ext4 root image with an init, the /host and /home mount points and a marker file.
make_root_image() { # OUT MARKER [SIZE_MB]
	local out=$1 marker=$2 size=${3:-32} dir
	dir=$(mktemp -d "$WORK/rootdir.XXXXXX")
	mkdir -p "$dir/sbin" "$dir/host" "$dir/home" "$dir/etc" "$dir/usr"
	cp /bin/true "$dir/sbin/init"
	echo "$marker" >"$dir/etc/marker"
	mke2fs -q -F -t ext4 -L lbroot -d "$dir" "$out" "${size}M"
}

make_plain_image() { # OUT MARKER [SIZE_MB]
	local out=$1 marker=$2 size=${3:-16} dir
	dir=$(mktemp -d "$WORK/imgdir.XXXXXX")
	echo "$marker" >"$dir/marker"
	mke2fs -q -F -t ext4 -d "$dir" "$out" "${size}M"
}

attach() { # FILE -> prints the loop device
	local dev
	dev=$(losetup -f --show "$1") || return 1
	echo "$dev"
}

# Copies files into an NTFS image through ntfs-3g in this private namespace.
ntfs_put() { # IMAGE SRC DEST-PATH
	local m=$WORK/ntfs-mnt
	mkdir -p "$m"
	ntfs-3g "$1" "$m" || return 1
	mkdir -p "$m/$(dirname "$3")"
	cp "$2" "$m/$3"
	umount "$m"
}

LB_OUT=$WORK/loopboot.out
lb_boot() { # CMDLINE -> status; output in $LB_OUT
	"$LOOPBOOT" boot --root-mnt "$ROOT" --cmdline "$1" >"$LB_OUT" 2>&1
	local rc=$?
	sed 's/^/#   /' "$LB_OUT"
	return $rc
}

mount_field() { # MOUNTPOINT FIELD(source|fstype|options)
	findmnt -n -o "${2^^}" --mountpoint "$1" 2>/dev/null | tail -n 1
}

is_loop_mount() { # MOUNTPOINT
	local src
	src=$(mount_field "$1" source)
	[[ $src == /dev/loop* ]]
}

teardown_root() {
	# The engine's own teardown, as a framework's shutdown would call it; then a fallback
	# for what a failed test may have left.
	[ -f /run/loopboot/state ] && "$LOOPBOOT" teardown --root-mnt "$ROOT"
	if mountpoint -q "$ROOT" 2>/dev/null; then
		umount -R "$ROOT" 2>/dev/null || umount -R -l "$ROOT" 2>/dev/null
	fi
	for m in /run/loopboot/host /run/loopboot/layers/*; do
		mountpoint -q "$m" 2>/dev/null && umount -R "$m"
	done
	rm -f /run/loopboot/state
	# Give FUSE daemons a moment to write back and exit.
	for _ in $(seq 50); do
		pgrep -f '^@(ntfs-3g|mount.exfat-fuse|fusefat) ' >/dev/null || break
		sleep 0.1
	done
}

finish() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
