#!/bin/bash
# Disk images (a VM's whole disk) as loop=: a GPT raw disk with the root in partition 2 and
# /home in 3, the same disk as fixed VHD, fixed VDI and flat VMDK (qemu-img), an MBR disk,
# the partition selectors, nesting inside a partition, and the refusals (qcow2, dynamic
# VHD, an ambiguous disk, a partition used twice) that leave the host byte-identical.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

command -v qemu-img >/dev/null || die "qemu-img (qemu-utils) is installed"
command -v sfdisk >/dev/null || die "sfdisk (fdisk) is installed"

ROOT_TYPE=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
LINUX_TYPE=0fc63daf-8483-4772-8e79-3d69d8477de4
ESP_TYPE=c12a7328-f81f-11d2-ba4b-00a0c93ec93b

# A file system made straight into a partition of a disk file (no partition devices here).
part_dev() { # DISK N: a read-only loop device over partition N
	local start size
	read -r start size < <(part_of "$1" "$2")
	losetup -f --show -r -o $((start * 512)) --sizelimit $((size * 512)) "$1" 2>/dev/null
}

# The disk: ESP (FAT) in 1, the root (GPT root type) in 2, /home (Linux filesystem) in 3.
rootdir=$WORK/disk-root homedir=$WORK/disk-home
mkdir -p "$rootdir/sbin" "$rootdir/etc" "$rootdir/host" "$rootdir/home" "$rootdir/images" "$homedir"
cp /bin/true "$rootdir/sbin/init"
echo disk-root >"$rootdir/etc/marker"
echo disk-home >"$homedir/marker"
disk=$WORK/disk.img
new_disk "$disk" 100M "label: gpt
start=2048, size=8M, type=$ESP_TYPE, name=esp
size=48M, type=$ROOT_TYPE, name=lbroot
type=$LINUX_TYPE, name=lbhome"
mkfs.fat --offset 2048 -n ESP "$disk" 8192 >/dev/null 2>&1
mkfs_part "$disk" 2 diskroot "$rootdir"
mkfs_part "$disk" 3 diskhome "$homedir"
check "the disk has three partitions" test "$(sfdisk -l "$disk" | grep -c '^.*disk.img[0-9]')" -eq 3

# The host: ext4 with the disk in all four formats, and the refused ones.
hostdir=$WORK/hostdir
mkdir -p "$hostdir/vm"
cp --sparse=always "$disk" "$hostdir/vm/disk.img"
qemu-img convert -f raw -O vpc -o subformat=fixed "$disk" "$hostdir/vm/disk.vhd"
qemu-img convert -f raw -O vdi -o static=on "$disk" "$hostdir/vm/disk.vdi"
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat "$disk" "$hostdir/vm/disk.vmdk"
qemu-img convert -f raw -O qcow2 "$disk" "$hostdir/vm/disk.qcow2"
qemu-img convert -f raw -O vpc "$disk" "$hostdir/vm/dynamic.vhd"
check "qemu-img made a flat VMDK's extent beside its descriptor" test -s "$hostdir/vm/disk-flat.vmdk"
check "qemu-img made a fixed VHD (footer in the last 512 bytes)" \
	bash -c "tail -c 512 '$hostdir/vm/disk.vhd' | head -c 8 | grep -q conectix"
make_root_image "$hostdir/vm/plain.img" plain 8
mke2fs -q -F -t ext4 -L DISKHOST -d "$hostdir" "$WORK/host.img" 700M
dev=$(attach "$WORK/host.img")

for f in disk.img disk.vhd disk.vdi disk.vmdk; do
	loops_now >"$WORK/loops.before"
	lb_boot "root=LABEL=DISKHOST loop=/vm/$f loopboot.mount=/home:/vm/$f::part=3 rw"
	ok $? "$f: boots with /home from partition 3"
	check "$f: the root is partition 2 (marker)" grep -qx disk-root "$ROOT/etc/marker"
	check "$f: /home is partition 3 (marker)" grep -qx disk-home "$ROOT/home/marker"
	check "$f: the root is a loop device" is_loop_mount "$ROOT"
	check "$f: the state records the root's partition" test "$("$LOOPBOOT" status --get mount.partition | head -1)" = 2
	check "$f: ... and /home's" test "$("$LOOPBOOT" status --get mount.partition | sed -n 2p)" = 3
	check "$f: the loop devices cover the partitions' bytes" \
		bash -c "'$LOOPBOOT' status --get loop.offset | grep -q . && '$LOOPBOOT' status --get loop.sizelimit | grep -qx 50331648"
	check "$f: status says which partition of which disk" \
		bash -c "'$LOOPBOOT' status | grep -q '^disk:   partition 2 of the .* /vm/$f'"
	check "$f: a write lands in the root" bash -c "echo '$f' >'$ROOT/etc/written' && sync"
	teardown_root
	check "$f: nothing is left attached after teardown" no_loop_left "$WORK/loops.before" /vm/
done
check "the flat VMDK's descriptor was not written" grep -q '^createType="monolithicFlat"' "$hostdir/vm/disk.vmdk"

# What was written went into the partitions, and they are clean.
losetup -d "$dev"
debugfs -R "dump /vm/disk.vhd $WORK/after.vhd" "$WORK/host.img" 2>/dev/null
p2=$(part_dev "$WORK/after.vhd" 2)
check "fixed VHD: the write is in partition 2" bash -c "debugfs -R 'cat /etc/written' '$p2' 2>/dev/null | grep -qx disk.vhd"
check "fixed VHD: partition 2 is clean" e2fsck -fn "$p2"
losetup -d "$p2"
p3=$(part_dev "$WORK/after.vhd" 3)
check "fixed VHD: partition 3 is clean" e2fsck -fn "$p3"
losetup -d "$p3"
dev=$(attach "$WORK/host.img")
sum_before=$(sha256sum <"$WORK/host.img")

# The refusals: one line with the format and the conversion, and the host unchanged.
refused() { lb_refused "$1" "$WORK/host.img" "$2" "$3" "$4"; } # NAME CMDLINE PATTERN WHAT
refused qcow2 "root=LABEL=DISKHOST loop=/vm/disk.qcow2 rw" \
	'^loopboot: image: /vm/disk.qcow2: it is a qcow2 disk image.*qemu-img convert -O raw /host/vm/disk.qcow2 /host/vm/disk.img.*loop=/vm/disk.img' \
	"the one line names qcow2 and the qemu-img command"
refused "dynamic VHD" "root=LABEL=DISKHOST loop=/vm/dynamic.vhd rw" \
	'^loopboot: image: /vm/dynamic.vhd: it is a dynamic VHD disk image.*qemu-img convert -O vpc -o subformat=fixed /host/vm/dynamic.vhd' \
	"the one line names the dynamic VHD and the fixed conversion"
refused "no partition 7" "root=LABEL=DISKHOST loop=/vm/disk.img loopboot.part=7 rw" \
	'^loopboot: disk image: /vm/disk.img: raw disk image: no partition is 7' "the line says there is no partition 7"
check "no partition 7: the partitions are listed" grep -q '^loopboot: *2  Linux root (x86-64)  48.0 MiB  ext4  UUID=.*LABEL=diskroot' "$LB_OUT"
refused "one partition twice" "root=LABEL=DISKHOST loop=/vm/disk.img loopboot.mount=/home:/vm/disk.img::part=2 rw" \
	'^loopboot: disk image: partition 2 of the raw disk image /vm/disk.img: it is already attached' \
	"the second use of partition 2 is refused"
refused "selector without a disk" "root=LABEL=DISKHOST loop=/vm/plain.img loopboot.part=2 rw" \
	'^loopboot: partition: 2: no file in the path is a disk image — /vm/plain.img holds file systems only' \
	"loopboot.part= on a file system image is refused"

# check says the same as the boot about a selector without a disk image.
lb check --cmdline "root=LABEL=DISKHOST loop=/vm/plain.img loopboot.part=2 rw"
check "check, selector without a disk: exit status 1" test $? -eq 1
check "check, selector without a disk: the boot's words" \
	out_has '^problem: partition: 2: no file in the path is a disk image — /vm/plain.img holds file systems only: drop loopboot.part='
lb check --cmdline "root=LABEL=DISKHOST loop=/vm/disk.vhd loopboot.mount=/home:/vm/disk.vhd::part=3 rw"
ok $? "check, fixed VHD with /home from partition 3: exit status 0"
check "check, fixed VHD: partition 3 is checked for /home" out_has '^ok: partition: 3 of /vm/disk.vhd: it is partition 3, as asked'
check "check: the host is byte-identical" test "$(sha256sum <"$WORK/host.img")" = "$sum_before"

# The selectors: by PARTLABEL=, PARTUUID=, UUID= and LABEL= of the file system inside.
partuuid=$(sfdisk --part-uuid "$disk" 3)
fsuuid=$(blkid -p -o value -s UUID -O $((116736 * 512)) "$disk" 2>/dev/null)
for sel in "PARTLABEL=lbhome" "PARTUUID=${partuuid,,}" "UUID=$fsuuid" "LABEL=diskhome" 3; do
	lb_boot "root=LABEL=DISKHOST loop=/vm/disk.img loopboot.part=$sel"
	ok $? "loopboot.part=$sel: boots"
	check "loopboot.part=$sel: the root is partition 3" grep -qx disk-home "$ROOT/marker"
	teardown_root
done

# An ambiguous disk: two Linux file systems, neither typed as the root.
amb=$WORK/ambiguous.img
new_disk "$amb" 40M "label: gpt
size=16M, type=$LINUX_TYPE, name=one
type=$LINUX_TYPE, name=two"
mkfs_part "$amb" 1 one "$rootdir"
mkfs_part "$amb" 2 two "$homedir"
# An MBR disk with one Linux partition: found without a selector.
mbr=$WORK/mbr.img
new_disk "$mbr" 40M $'label: dos\nstart=2048, type=83'
mkfs_part "$mbr" 1 mbrroot "$rootdir"
# Nested: an image file inside the root partition of a disk.
make_root_image "$rootdir/images/inner.img" nested-in-partition 16
nest=$WORK/nest.img
new_disk "$nest" 60M "label: gpt
type=$ROOT_TYPE"
mkfs_part "$nest" 1 nest "$rootdir"
mkdir -p "$WORK/host2/vm"
cp --sparse=always "$amb" "$mbr" "$nest" "$WORK/host2/vm/"
mke2fs -q -F -t ext4 -L DISKHOST2 -d "$WORK/host2" "$WORK/host2.img" 200M
dev2=$(attach "$WORK/host2.img")
sum_before=$(sha256sum <"$WORK/host2.img")
lb_boot "root=LABEL=DISKHOST2 loop=/vm/ambiguous.img rw"
check "ambiguous disk: boot fails" test $? -ne 0
check "ambiguous disk: one line says why and what to write" \
	grep -q '^loopboot: disk image: /vm/ambiguous.img: raw disk image: 2 partitions hold a Linux file system and none has the GPT type Linux root (x86-64) — name the root.s partition with loopboot.part=N' "$LB_OUT"
check "ambiguous disk: the partitions are listed (number, type, size, fs, UUID, label)" \
	bash -c "grep -q '^loopboot: *1  Linux filesystem  16.0 MiB  ext4  UUID=.*  LABEL=one  PARTLABEL=one  PARTUUID=' '$LB_OUT' && grep -q '^loopboot: *2  Linux filesystem  .*LABEL=two' '$LB_OUT'"
teardown_root
check "ambiguous disk: the host is byte-identical" test "$(sha256sum <"$WORK/host2.img")" = "$sum_before"
lb_boot "root=LABEL=DISKHOST2 loop=/vm/ambiguous.img loopboot.part=2"
ok $? "ambiguous disk: loopboot.part=2 boots it"
check "ambiguous disk: ... from partition 2" grep -qx disk-home "$ROOT/marker"
teardown_root
lb_boot "root=LABEL=DISKHOST2 loop=/vm/mbr.img rw"
ok $? "MBR disk: its one Linux partition is found without loopboot.part="
check "MBR disk: the root is partition 1" bash -c "grep -qx disk-root '$ROOT/etc/marker' && test \"\$('$LOOPBOOT' status --get mount.partition)\" = 1"
teardown_root
lb_boot "root=LABEL=DISKHOST2 loop=/vm/nest.img//images/inner.img rw"
ok $? "nested: an image inside a disk's partition boots"
check "nested: the root is the inner image" grep -qx nested-in-partition "$ROOT/etc/marker"
check "nested: the partition is an intermediate layer" \
	bash -c "grep -q '^mount role=layer .*disk=raw partition=1' /run/loopboot/state"
teardown_root

# Each partition is checked on its own: a clean root does not excuse a /home that needs it.
cp --sparse=always "$disk" "$WORK/dirty.img"
p3=$(losetup -f --show -o $((116736 * 512)) --sizelimit $((86016 * 512)) "$WORK/dirty.img")
debugfs -w -R "sif /marker links_count 5" "$p3" >/dev/null 2>&1
debugfs -w -R "ssv state 0" "$p3" >/dev/null 2>&1 # so that a check is due
check "dirty /home: partition 3 has an error (a wrong link count)" bash -c "! e2fsck -fn '$p3'"
losetup -d "$p3"
mkdir -p "$WORK/host3/vm"
cp --sparse=always "$WORK/dirty.img" "$WORK/host3/vm/disk.img"
mke2fs -q -F -t ext4 -L DISKHOST3 -d "$WORK/host3" "$WORK/host3.img" 200M
dev3=$(attach "$WORK/host3.img")
lb_boot "root=LABEL=DISKHOST3 loop=/vm/disk.img loopboot.mount=/home:/vm/disk.img::part=3 rw loopboot.debug"
ok $? "dirty /home: boots"
check "dirty /home: the real pass repairs partition 3 (e2fsck -p)" grep -q 'checking /vm/disk.img: .*e2fsck -p' "$LB_OUT"
check "dirty /home: ... and says so" grep -q 'file system errors were repaired' "$LB_OUT"
teardown_root
losetup -d "$dev3"
debugfs -R "dump /vm/disk.img $WORK/dirty-after.img" "$WORK/host3.img" 2>/dev/null
p3=$(losetup -f --show -r -o $((116736 * 512)) --sizelimit $((86016 * 512)) "$WORK/dirty-after.img")
check "dirty /home: partition 3 is clean afterwards" e2fsck -fn "$p3"
losetup -d "$p3"

losetup -d "$dev" "$dev2" 2>/dev/null
finish
