#!/bin/bash
# Safety: hosts that must not be written (hibernated Windows, dirty volumes, recorded
# errors), loopboot.hibernated=ro, read-only media, hostile paths and bad input. Every
# refusal prints one `loopboot:` line and leaves the host byte-identical.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

FSFLAGS=$(cd "$(dirname "$0")/../lib" && pwd)/fsflags.py

refused() { # NAME IMAGE CMDLINE EXPECTED-TEXT
	local name=$1 img=$2 before
	before=$(sum "$img")
	lb_boot "$3"
	check "$name: boot is refused" test $? -ne 0
	check "$name: the message says why" grep -q "^loopboot: .*$4" "$LB_OUT"
	check "$name: nothing is left mounted" bash -c "! mountpoint -q '$ROOT' && ! mountpoint -q /run/loopboot/host"
	teardown_root
	check "$name: the host is byte-identical" test "$(sum "$img")" = "$before"
}

make_root_image "$WORK/root.img" safety-root

# ---- a hibernated Windows volume -----------------------------------------------------------
make_hibernated_ntfs "$WORK/hib.img" WINDOWS "$WORK/root.img"
dev=$(attach "$WORK/hib.img")
serial=$(blkval "$dev" UUID)
refused "hibernated NTFS" "$WORK/hib.img" "root=UUID=$serial loop=/linux/root.img rw" \
	"host not safe to write: UUID=$serial: Windows is hibernated"
check "hibernated NTFS: the message says what to do" grep -q "shutdown /s /t 0" "$LB_OUT"

before=$(sum "$WORK/hib.img")
lb_boot "root=UUID=$serial loop=/linux/root.img rw loopboot.hibernated=ro"
ok $? "hibernated NTFS, loopboot.hibernated=ro: boots"
check "hibernated=ro: announced as a volatile session" grep -q "VOLATILE SESSION" "$LB_OUT"
check "hibernated=ro: the root is an overlay" test "$(mount_field "$ROOT" fstype)" = overlay
check "hibernated=ro: the root holds the image" grep -qx safety-root "$ROOT/etc/marker"
check "hibernated=ro: the root can be written (in memory)" bash -c "echo x > '$ROOT/etc/volatile'"
check "hibernated=ro: the host is read-only" bash -c "findmnt -n -o OPTIONS --mountpoint '$ROOT/host' | grep -q '^ro'"
teardown_root
check "hibernated=ro: nothing is left mounted" bash -c "! grep -q loopboot /proc/self/mountinfo"
check "hibernated=ro: the host is byte-identical" test "$(sum "$WORK/hib.img")" = "$before"

# ---- an NTFS volume marked dirty ----------------------------------------------------------
make_ntfs_image "$WORK/dirty.img" 96M WINDOWS "$WORK/root.img" linux/root.img
python3 "$FSFLAGS" ntfs-dirty "$WORK/dirty.img"
dev=$(attach "$WORK/dirty.img")
refused "dirty NTFS" "$WORK/dirty.img" "root=$dev loop=/linux/root.img rw" "marked dirty"
check "dirty NTFS: the message names ntfsfix -d" grep -q "ntfsfix -d DEVICE" "$LB_OUT"

# ---- an NTFS journal Windows has not applied -----------------------------------------------
make_ntfs_image "$WORK/log.img" 96M WINDOWS "$WORK/root.img" linux/root.img
python3 "$FSFLAGS" ntfs-logunclean "$WORK/log.img"
dev=$(attach "$WORK/log.img")
refused "NTFS journal unclean" "$WORK/log.img" "root=$dev loop=/linux/root.img rw" \
	"holds changes Windows has not written back"
check "NTFS journal unclean: the message says shutdown /s /t 0, not ntfsfix" \
	grep -q "shutdown /s /t 0.*do not run ntfsfix" "$LB_OUT"

# ---- FAT32 and exFAT not unmounted cleanly ------------------------------------------------
mkfs.vfat -F 32 -n DIRTYFAT -C "$WORK/fat.img" 98304 >/dev/null
mmd -i "$WORK/fat.img" ::/linux
mcopy -i "$WORK/fat.img" "$WORK/root.img" ::/linux/root.img
python3 "$FSFLAGS" fat-dirty "$WORK/fat.img"
dev=$(attach "$WORK/fat.img")
refused "dirty FAT32" "$WORK/fat.img" "root=LABEL=DIRTYFAT loop=/linux/root.img rw" "not unmounted cleanly"
check "dirty FAT32: the message names fsck.fat" grep -q "fsck.fat -a DEVICE" "$LB_OUT"

# The dirty bit Linux's vfat keeps in the boot sector (a power cut leaves it set).
mkfs.vfat -F 32 -n BOOTDIRTY -C "$WORK/bfat.img" 98304 >/dev/null
mmd -i "$WORK/bfat.img" ::/linux
mcopy -i "$WORK/bfat.img" "$WORK/root.img" ::/linux/root.img
python3 "$FSFLAGS" fat-bootdirty "$WORK/bfat.img"
bdev=$(attach "$WORK/bfat.img")
refused "FAT32 boot sector dirty" "$WORK/bfat.img" "root=LABEL=BOOTDIRTY loop=/linux/root.img rw" \
	"not unmounted cleanly (its boot sector is marked dirty)"
check "FAT32 boot sector dirty: the message names fsck.fat -a" grep -q "fsck.fat -a DEVICE" "$LB_OUT"
losetup -d "$bdev"

truncate -s 96M "$WORK/exfat.img"
mkfs.exfat -L DIRTYEX "$WORK/exfat.img" >/dev/null
dev=$(attach "$WORK/exfat.img")
mkdir -p "$WORK/exmnt"
mount -t exfat "$dev" "$WORK/exmnt" 2>/dev/null || mount.exfat-fuse "$dev" "$WORK/exmnt" >/dev/null
mkdir -p "$WORK/exmnt/linux" && cp "$WORK/root.img" "$WORK/exmnt/linux/root.img"
umount "$WORK/exmnt"
losetup -d "$dev"
python3 "$FSFLAGS" exfat-dirty "$WORK/exfat.img"
dev=$(attach "$WORK/exfat.img")
refused "dirty exFAT" "$WORK/exfat.img" "root=$dev loop=/linux/root.img rw" "not unmounted cleanly"

# ---- an ext4 host with recorded errors; symlinks; bad images -------------------------------
mkdir -p "$WORK/e4/images" "$WORK/e4/linux" "$WORK/e4/dir.img"
cp "$WORK/root.img" "$WORK/e4/images/real.img"
# An absolute link: it must mean the host's /images/real.img, not the initramfs's.
ln -s /images/real.img "$WORK/e4/linux/abs.img"
# A link that tries to climb out of the host.
ln -s ../../../../../../etc/passwd "$WORK/e4/linux/escape.img"
head -c 8M /dev/urandom >"$WORK/e4/images/random.img"
truncate -s 40M "$WORK/e4/images/truncated.img"
head -c 16M "$WORK/root.img" | dd of="$WORK/e4/images/truncated.img" conv=notrunc status=none
truncate -s 16M "$WORK/e4/images/truncated.img"
mke2fs -q -F -t ext4 -L SAFEHOST -d "$WORK/e4" "$WORK/e4host.img" 96M
dev=$(attach "$WORK/e4host.img")

lb_boot "root=LABEL=SAFEHOST loop=/linux/abs.img rw"
ok $? "absolute symlink on the host: boots"
check "absolute symlink: resolved inside the host" grep -qx safety-root "$ROOT/etc/marker"
teardown_root

refused "symlink out of the host" "$WORK/e4host.img" "root=LABEL=SAFEHOST loop=/linux/escape.img" "/linux/escape.img"
refused "a directory instead of a file" "$WORK/e4host.img" "root=LABEL=SAFEHOST loop=/dir.img" "/dir.img"
refused "not a file system" "$WORK/e4host.img" "root=LABEL=SAFEHOST loop=/images/random.img rw" "no file system found"
refused "truncated image" "$WORK/e4host.img" "root=LABEL=SAFEHOST loop=/images/truncated.img rw" "truncated.img: it is truncated"
refused "wrong loopfstype" "$WORK/e4host.img" "root=LABEL=SAFEHOST loop=/images/real.img loopfstype=xfs rw" "does not match"

# A journal that needs replaying (as after a crash): a refused boot must not replay it.
losetup -d "$dev"
debugfs -w -R "feature needs_recovery" "$WORK/e4host.img" >/dev/null 2>&1
dev=$(attach "$WORK/e4host.img")
refused "host journal needs recovery, bad entry" "$WORK/e4host.img" \
	"root=LABEL=SAFEHOST loop=/images/real.img loopfstype=xfs rw" "does not match"
check "host journal needs recovery: still flagged after the refusal" \
	bash -c "dumpe2fs -h '$WORK/e4host.img' 2>/dev/null | grep -q needs_recovery"

lb_boot "root=LABEL=SAFEHOST loop=/images/real.img rw loopboot.frobnicate=1"
ok $? "unknown loopboot.* option: the boot goes on"
check "unknown option: a warning names it" grep -q "^loopboot: warning: .*loopboot.frobnicate" "$LB_OUT"
teardown_root

losetup -d "$dev"
debugfs -w -R "ssv state 3" "$WORK/e4host.img" >/dev/null 2>&1
dev=$(attach "$WORK/e4host.img")
refused "ext4 host with recorded errors" "$WORK/e4host.img" "root=LABEL=SAFEHOST loop=/images/real.img rw" "recorded errors"

# ---- checking the image before a read-write mount (fsck.mode=, fsck.repair=) ---------------
make_root_image "$WORK/bad.img" fsck-root
# A wrong link count, and the file system marked not clean, as after a crash.
debugfs -w -R "set_inode_field /etc/marker links_count 5" "$WORK/bad.img" >/dev/null 2>&1
debugfs -w -R "ssv state 0" "$WORK/bad.img" >/dev/null 2>&1
mkdir -p "$WORK/fk/linux"
cp "$WORK/bad.img" "$WORK/fk/linux/bad.img"
mke2fs -q -F -t ext4 -L FSCKHOST -d "$WORK/fk" "$WORK/fkhost.img" 64M
dev=$(attach "$WORK/fkhost.img")
refused "damaged image, fsck.repair=no" "$WORK/fkhost.img" \
	"root=LABEL=FSCKHOST loop=/linux/bad.img rw fsck.repair=no" "file system errors in: /linux/bad.img"
lb_boot "root=LABEL=FSCKHOST loop=/linux/bad.img ro"
ok $? "damaged image, read-only: no check, boots"
teardown_root
lb_boot "root=LABEL=FSCKHOST loop=/linux/bad.img rw"
ok $? "damaged image, default fsck.repair=preen: repaired, boots"
check "fsck: the repair is announced" grep -q "errors were repaired" "$LB_OUT"
teardown_root
check "fsck: the image is clean afterwards" bash -c "debugfs -R 'dump /linux/bad.img $WORK/bad-after.img' '$WORK/fkhost.img' 2>/dev/null && e2fsck -fn '$WORK/bad-after.img'"

# ---- a read-only host (squashfs) with rw asked ----------------------------------------------
if command -v mksquashfs >/dev/null; then
	mkdir -p "$WORK/sq/linux"
	cp "$WORK/root.img" "$WORK/sq/linux/root.img"
	mksquashfs "$WORK/sq" "$WORK/host.sqfs" -quiet -noappend >/dev/null
	dev=$(attach "$WORK/host.sqfs")
	before=$(sum "$WORK/host.sqfs")
	lb_boot "root=$dev loop=/linux/root.img rw"
	ok $? "read-only host with rw: boots"
	check "read-only host: the root is read-only" bash -c "findmnt -n -o OPTIONS --mountpoint '$ROOT' | grep -q '^ro'"
	check "read-only host: a warning says so" grep -q "^loopboot: warning: .*read-only" "$LB_OUT"
	teardown_root
	check "read-only host: byte-identical" test "$(sum "$WORK/host.sqfs")" = "$before"
else
	note "squashfs-tools missing: read-only host not tested"
fi

# ---- bad command lines: exit 2, one line, nothing touched ----------------------------------
for bad in "root=LABEL=SAFEHOST loop=linux/root.img" "root=LABEL=SAFEHOST loop=" \
	"root=LABEL=SAFEHOST loop=/a.img loopboot.mount=/home:/a.img"; do
	"$LOOPBOOT" boot --root-mnt "$ROOT" --cmdline "$bad" >"$LB_OUT" 2>&1
	rc=$?
	check "bad input [$bad]: exit status 2" test "$rc" -eq 2
	check "bad input [$bad]: one loopboot: line" test "$(grep -c '^loopboot: ' "$LB_OUT")" -eq 1
done

finish
