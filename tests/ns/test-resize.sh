#!/bin/bash
# `loopboot resize` on real hosts: an ext4 host (fallocate), NTFS through ntfs-3g and FAT32
# (which cannot preallocate: zeros are written), each grown and shrunk with its data read
# back; xfs and btrfs grown; and every refusal (in use, below the minimum, xfs shrinking,
# FAT's 4 GiB, no room), each one line with the image unchanged.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

MB=$((1024 * 1024))
size_is() { [ "$(stat -c %s "$1")" -eq "$2" ]; }
no_holes() { [ $(($(stat -c %b "$1") * 512)) -ge "$(stat -c %s "$1")" ]; }
fs_bytes() { # IMAGE: the size its ext4 file system claims
	dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block count/ {c=$2} /^Block size/ {s=$2} END {print c*s}'
}
data_sum() { debugfs -R "cat /data" "$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# shellcheck disable=SC2034 # read by lib.sh's cleanup
CLEANUP_MOUNTS=("$WORK/e4" "$WORK/n" "$WORK/f" "$WORK/busy")

# The image every host gets: ext4 with 3 MiB of random data, most of it used.
mkdir -p "$WORK/content"
head -c $((3 * MB)) /dev/urandom >"$WORK/content/data"
mke2fs -q -F -t ext4 -L rsz -d "$WORK/content" "$WORK/orig.img" 48M
want_sum=$(data_sum "$WORK/orig.img")

# Grows by 32 MiB, then shrinks to 24 MiB, checking after each step.
grow_and_shrink() { # NAME IMAGE
	local name=$1 img=$2
	lb resize "$img" +32M
	ok $? "$name: grow +32M: exit status 0"
	check "$name: grow: the file is 80 MiB" size_is "$img" $((80 * MB))
	check "$name: grow: its file system fills it" test "$(fs_bytes "$img")" -eq $((80 * MB))
	check "$name: grow: no holes (blocks >= size)" no_holes "$img"
	check "$name: grow: the summary line" out_has "^$img: 48 MiB → 80 MiB, its ext4 file system 80 MiB$"
	check "$name: grow: e2fsck -fn is clean" e2fsck -fn "$img"
	check "$name: grow: the data survives" test "$(data_sum "$img")" = "$want_sum"
	lb resize "$img" 24M
	ok $? "$name: shrink to 24M: exit status 0"
	check "$name: shrink: the file is 24 MiB" size_is "$img" $((24 * MB))
	check "$name: shrink: its file system is 24 MiB" test "$(fs_bytes "$img")" -eq $((24 * MB))
	check "$name: shrink: e2fsck -fn is clean" e2fsck -fn "$img"
	check "$name: shrink: the data survives" test "$(data_sum "$img")" = "$want_sum"
}

# ---- an ext4 host ----------------------------------------------------------------------------
mke2fs -q -F -t ext4 "$WORK/e4host.img" 640M
e4dev=$(attach "$WORK/e4host.img")
mkdir -p "$WORK/e4"
mount "$e4dev" "$WORK/e4"
cp --sparse=never "$WORK/orig.img" "$WORK/e4/root.img"
grow_and_shrink "ext4 host" "$WORK/e4/root.img"
lb resize "$WORK/e4/root.img" +32M
check "ext4 host: fallocate was used" out_has "preallocated with fallocate"

# The refusals, on this host: each leaves the image as it was.
img=$WORK/e4/root.img
before=$(sha256sum <"$img")
unchanged() { [ "$(sha256sum <"$img")" = "$before" ]; }

lb resize "$img" 1M
check "below the minimum: exit status 1" test $? -eq 1
check "below the minimum: the minimum and a size that works are named" out_has "^loopboot: resize: $img: its file system needs at least .* (resize2fs -P) — give a size of [0-9]*M or more"
check "below the minimum: the image is unchanged" unchanged
lb resize "$img" -- -56M
check "-SIZE of the whole image: exit status 2" test $? -eq 2
check "-SIZE of the whole image: said so" out_has "^loopboot: resize: -56M: that is the whole image or more"
lb resize "$img" 1000001
check "a size not a multiple of 4096: exit status 2" test $? -eq 2
lb resize "$img" +1T
check "more than the host has: exit status 1" test $? -eq 1
check "more than the host has: the free space is named" out_has "^loopboot: resize: not enough room: $WORK/e4: the host has .* free, the image needs 1 TiB more — "
check "more than the host has: the image is unchanged" unchanged
lb resize "$img"
check "no SIZE: exit status 2" test $? -eq 2
lb resize "$img" 56M
check "the size it has: exit status 0" test $? -eq 0
check "the size it has: nothing to do" out_has "already 56 MiB, nothing to do"

loop=$(attach "$img")
lb resize "$img" +4M
check "attached to a loop device: exit status 1" test $? -eq 1
check "attached to a loop device: the device and losetup -d are named" out_has "^loopboot: resize: $img: .* — it is attached to $loop: detach it first (losetup -d $loop)$"
check "attached to a loop device: the image is unchanged" unchanged
mkdir -p "$WORK/busy"
mount "$loop" "$WORK/busy"
lb resize "$img" +4M
check "mounted: exit status 1" test $? -eq 1
check "mounted: the mount point and umount are named" out_has "it is mounted at $WORK/busy (through $loop): unmount it first (umount $WORK/busy)$"
umount "$WORK/busy"
losetup -d "$loop"
check "mounted: the file keeps its size" size_is "$img" $((56 * MB))

# A damaged file system is not touched: e2fsck -fn first.
cp "$img" "$WORK/e4/bad.img"
debugfs -w -R "clri /data" "$WORK/e4/bad.img" >/dev/null 2>&1
badsum=$(sha256sum <"$WORK/e4/bad.img")
lb resize "$WORK/e4/bad.img" +4M
check "a file system with errors: exit status 1" test $? -eq 1
check "a file system with errors: e2fsck -f is the advice" out_has "^loopboot: resize: e2fsck -fn: $WORK/e4/bad.img: .* mend it first (e2fsck -f $WORK/e4/bad.img)"
check "a file system with errors: the image is unchanged" test "$(sha256sum <"$WORK/e4/bad.img")" = "$badsum"

# xfs and btrfs grow, mounted privately; xfs does not shrink.
lb create "$WORK/e4/x.img" --size 320M --fs xfs >/dev/null
lb resize "$WORK/e4/x.img" +32M
ok $? "xfs: grow +32M: exit status 0"
check "xfs: the file is 352 MiB" size_is "$WORK/e4/x.img" $((352 * MB))
check "xfs: xfs_repair -n is clean" xfs_repair -n "$WORK/e4/x.img"
check "xfs: its file system fills it" out_has "its xfs file system 352 MiB$"
lb resize "$WORK/e4/x.img" -- -32M
check "xfs: shrink: exit status 1" test $? -eq 1
check "xfs: shrink: refused with a size that works" out_has "xfs file systems only grow — give a size of 360448K or more"
check "xfs: nothing of ours is left mounted" bash -c "! grep -q loopboot-resize /proc/self/mountinfo"
rm -f "$WORK/e4/x.img"
lb create "$WORK/e4/b.img" --size 128M --fs btrfs >/dev/null
lb resize "$WORK/e4/b.img" 160M
check "btrfs: below 256 MiB: exit status 1" test $? -eq 1
check "btrfs: below 256 MiB: the kernel's limit is named" out_has "btrfs resizes only to 256 MiB or more — give a size of 256M or more$"
check "btrfs: below 256 MiB: the file keeps its size" size_is "$WORK/e4/b.img" $((128 * MB))
lb resize "$WORK/e4/b.img" 288M
ok $? "btrfs: grow to 288M: exit status 0"
check "btrfs: the file is 288 MiB" size_is "$WORK/e4/b.img" $((288 * MB))
check "btrfs: its file system fills it" out_has "its btrfs file system 288 MiB$"
check "btrfs: btrfs check is clean" btrfs check "$WORK/e4/b.img"
rm -f "$WORK/e4/b.img"
umount "$WORK/e4"

# ---- NTFS through ntfs-3g ----------------------------------------------------------------------
make_ntfs_image "$WORK/ntfs.img" 200M WINDOWS
ndev=$(attach "$WORK/ntfs.img")
mkdir -p "$WORK/n"
ntfs-3g "$ndev" "$WORK/n"
mkdir -p "$WORK/n/linux"
cp --sparse=never "$WORK/orig.img" "$WORK/n/linux/root.img"
grow_and_shrink "NTFS host" "$WORK/n/linux/root.img"
lb resize "$WORK/n/linux/root.img" +8M
check "NTFS host: zeros were written (no fallocate through FUSE)" out_has "written with zeros"
umount "$WORK/n"
check "NTFS host: ntfsfix -n is clean" ntfsfix -n "$ndev"
ntfscat "$ndev" linux/root.img >"$WORK/ntfs-copy.img" 2>/dev/null
check "NTFS host: the image reads back clean after unmounting" e2fsck -fn "$WORK/ntfs-copy.img"
check "NTFS host: its data reads back" test "$(data_sum "$WORK/ntfs-copy.img")" = "$want_sum"
rm -f "$WORK/ntfs-copy.img"

# ---- FAT32 (the kernel's vfat, or fusefat) ----------------------------------------------------
mkfs.vfat -F 32 -n FATHOST -C "$WORK/fat.img" $((200 * 1024)) >/dev/null
fdev=$(attach "$WORK/fat.img")
mkdir -p "$WORK/f"
mount -t vfat "$fdev" "$WORK/f" 2>/dev/null || fusefat -o rw+ "$fdev" "$WORK/f" >/dev/null
fattype=$(mount_field "$WORK/f" fstype)
note "FAT host mounted as $fattype"
cp --sparse=never "$WORK/orig.img" "$WORK/f/root.img"
if [ "$fattype" = vfat ]; then
	grow_and_shrink "FAT32 host" "$WORK/f/root.img"
	lb resize "$WORK/f/root.img" 5G
	check "5G on FAT32: exit status 1" test $? -eq 1
	check "5G on FAT32: the 4 GiB limit is named" out_has "^loopboot: resize: too large for a FAT host: $WORK/f/root.img: FAT files hold at most 4 GiB - 1 byte — choose a SIZE of 4194300K or less"
	check "5G on FAT32: the file keeps its size" size_is "$WORK/f/root.img" $((24 * MB))
else
	# fusefat writes what extends a large file over its first clusters: growing is refused.
	fatsum=$(sha256sum <"$WORK/f/root.img")
	lb resize "$WORK/f/root.img" +32M
	check "FAT32 host through fusefat: grow: exit status 1" test $? -eq 1
	check "FAT32 host through fusefat: grow: refused, the kernel's vfat named" out_has "^loopboot: resize: $WORK/f/root.img: its host is mounted with fusefat, which damages a file it extends — mount the FAT host with the kernel's vfat instead"
	check "FAT32 host through fusefat: grow: the image is unchanged" test "$(sha256sum <"$WORK/f/root.img")" = "$fatsum"
	lb resize "$WORK/f/root.img" 24M
	ok $? "FAT32 host through fusefat: shrink to 24M: exit status 0"
	check "FAT32 host through fusefat: shrink: the file is 24 MiB" size_is "$WORK/f/root.img" $((24 * MB))
	check "FAT32 host through fusefat: shrink: e2fsck -fn is clean" e2fsck -fn "$WORK/f/root.img"
	check "FAT32 host through fusefat: shrink: the data survives" test "$(data_sum "$WORK/f/root.img")" = "$want_sum"
fi
umount "$WORK/f"
check "FAT32 host: fsck.fat -n is clean" fsck.fat -n "$fdev"
losetup -d "$fdev"

finish
