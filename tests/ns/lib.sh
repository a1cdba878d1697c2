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
# shellcheck source=tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

LOOPBOOT=${LOOPBOOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/loopboot}
WORK=$(mktemp -d /tmp/loopboot-ns.XXXXXX)
ROOT=$WORK/newroot
mkdir -p "$ROOT"

# Mount points a test file mounts hosts at itself: unmounted (lazily) first, before their
# loop devices are detached.
CLEANUP_MOUNTS=()
cleanup() {
	local m
	for m in "${CLEANUP_MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	teardown_root
	# attach runs in $(...), a subshell: find our loop devices by their backing files.
	losetup -n -O NAME,BACK-FILE 2>/dev/null | while read -r l f; do
		case $f in "$WORK"/*) losetup -d "$l" 2>/dev/null ;; esac
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

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

# Loop devices left behind, without counting those of tests running beside this one (CI runs
# the VM tier alongside; loop devices are global). A device is this test's when it is new
# since BEFORE (loops_now's output), its backing file matches PATTERN (grep -E), and that
# file is under $WORK or /run/loopboot, or exists no more at that path: what a tool leaves
# that set the device up inside its own mount namespace (the kernel then prints the path
# inside the detached mount). Another test's devices are on its own files, which exist.
loops_now() { losetup -n -O NAME | sort; }
no_loop_left() { # BEFORE PATTERN
	local name back
	while read -r name back; do
		grep -qxF "$name" "$1" && continue
		printf '%s\n' "$back" | grep -Eq -- "$2" || continue
		back=${back% (deleted)}
		case $back in "$WORK"/* | /run/loopboot/*) return 1 ;; esac
		[ -e "$back" ] || return 1
	done < <(losetup -n -O NAME,BACK-FILE)
	return 0
}
blkval() { blkid -p -o value -s "$2" "$1"; } # DEVICE TAG: the tag's value, probed

# Copies files into an NTFS image through ntfs-3g in this private namespace.
ntfs_put() { # IMAGE SRC DEST-PATH
	local m=$WORK/ntfs-mnt
	mkdir -p "$m"
	ntfs-3g "$1" "$m" || return 1
	mkdir -p "$m/$(dirname "$3")"
	cp "$2" "$m/$3"
	umount "$m"
}

# A fresh NTFS image holding the files given (mkntfs, then ntfs_put each).
make_ntfs_image() { # OUT SIZE LABEL [SRC DEST-PATH]...
	local img=$1
	truncate -s "$2" "$img" && mkntfs -F -Q -q -L "$3" "$img" 2>/dev/null || return 1
	shift 3
	while [ $# -ge 2 ]; do
		ntfs_put "$img" "$1" "$2" || return 1
		shift 2
	done
}

# A fresh ext4 image holding the files given, each SRC at DEST-PATH (mke2fs -d).
make_ext4_image() { # OUT SIZE [SRC DEST-PATH]...
	local img=$1 size=$2 dir
	dir=$(mktemp -d "$WORK/e4dir.XXXXXX")
	shift 2
	while [ $# -ge 2 ]; do
		mkdir -p "$dir/$(dirname "$2")" && cp "$1" "$dir/$2" || return 1
		shift 2
	done
	mke2fs -q -F -t ext4 -d "$dir" "$img" "$size"
}

# A fresh, empty ext4 host: IMAGE made, attached and mounted at MOUNTPOINT, with a /linux
# directory in it. Sets HOST_DEV (the loop device) and HOST_UUID.
mount_ext4_host() { # IMAGE LABEL SIZE MOUNTPOINT
	mke2fs -q -F -t ext4 -L "$2" "$1" "$3" || return 1
	HOST_DEV=$(attach "$1") || return 1
	# shellcheck disable=SC2034 # the tests' result
	HOST_UUID=$(blkval "$HOST_DEV" UUID)
	mkdir -p "$4" && mount "$HOST_DEV" "$4" && mkdir -p "$4/linux"
}

# A hibernated Windows: NTFS with /linux/root.img and a hiberfil.sys that begins "HIBR".
make_hibernated_ntfs() { # OUT LABEL ROOT-IMAGE
	{ printf 'HIBR'; head -c 65532 /dev/urandom; } >"$WORK/hiberfil"
	make_ntfs_image "$1" 96M "$2" "$3" linux/root.img "$WORK/hiberfil" hiberfil.sys
}

LB_OUT=$WORK/loopboot.out
lb_boot() { # CMDLINE -> status; output in $LB_OUT
	"$LOOPBOOT" boot --root-mnt "$ROOT" --cmdline "$1" >"$LB_OUT" 2>&1
	local rc=$?
	sed 's/^/#   /' "$LB_OUT"
	return $rc
}

# A loopboot command other than boot: its output in $LB_OUT too.
out_has() { grep -q -- "$1" "$LB_OUT"; }
lb() { # ARGS... -> status; output (stdout and stderr) in $LB_OUT
	"$LOOPBOOT" "$@" >"$LB_OUT" 2>&1
	local rc=$?
	sed 's/^/#   /' "$LB_OUT"
	return $rc
}

# Partition N of a disk file: "START SIZE" in sectors (sfdisk's JSON).
# A boot that must be refused: it fails, a line of its output matches PATTERN (checked as
# "NAME: WHAT"), and HOST-IMAGE is byte-identical afterwards.
lb_refused() { # NAME HOST-IMAGE CMDLINE PATTERN WHAT [NAME-OF-THE-FAILURE]
	local before
	before=$(sum "$2")
	lb_boot "$3"
	check "${6:-$1}: boot fails" test $? -ne 0
	check "$1: $5" grep -q -- "$4" "$LB_OUT"
	teardown_root
	check "$1: the host is byte-identical" test "$(sum "$2")" = "$before"
}
part_of() { # DISK N
	sfdisk -J "$1" 2>/dev/null | python3 -c "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$2-1]; print(p['start'], p['size'])"
}

# A disk image file of SIZE with the partition table sfdisk makes of TABLE (its script: a
# "label:" line, then a line a partition).
new_disk() { # DISK SIZE TABLE
	truncate -s "$2" "$1" && printf '%s\n' "$3" | sfdisk -q "$1"
}
# An ext4 file system in partition N of DISK, labelled LABEL, holding DIR's files if given.
mkfs_part() { # DISK N LABEL [DIR]
	local start size
	read -r start size < <(part_of "$1" "$2")
	mke2fs -q -F -t ext4 -L "$3" ${4:+-d "$4"} -E offset=$((start * 512)) "$1" "$((size / 2))k"
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
