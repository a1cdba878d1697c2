#!/bin/bash
# An ext4 host in a GPT partition found by root=PARTLABEL=, holding a nested image: the
# root image is a file inside outer.img, itself a file on the host
# (loop=/vm/outer.img//images/root.img). Built and read back with mke2fs -d and debugfs.
# And one on a SATA disk (AHCI) beside a virtio disk (ext4-sata), one on an NVMe drive
# beside a SATA disk (ext4-nvme).
. "$(dirname "$0")/lib.sh"
vm_require
vm_setup
W=$VM_OUT
LINUX_DATA=0FC63DAF-8483-4772-8E79-3D69D8477DE4

s=ext4-nested f=$T_FAILED n=$(nonce_new)
mkdir -p "$W/$s.outer.d/images" "$W/$s.host.d/vm"
disk_gpt "$W/$s.disk" 96 6a0c4b3e-5d2f-4e1a-8b7c-9d0e1f2a3b4c linux-vms "$LINUX_DATA" &&
	guest_root "$W/$s.outer.d/images/root.img" &&
	mke2fs -q -F -t ext4 -L lbouter -d "$W/$s.outer.d" "$W/$s.host.d/vm/outer.img" 48M >/dev/null &&
	mke2fs -q -F -t ext4 -L lbhost -d "$W/$s.host.d" "$W/$s.part" \
		"$(($(part_size "$W/$s.disk") / 1024))k" >/dev/null &&
	part_write "$W/$s.disk" "$W/$s.part" ||
	die "$s: host disk built"
rm -rf "$W/$s.outer.d" "$W/$s.host.d" "$W/$s.part"
vm_boot "$s" "root=PARTLABEL=linux-vms loop=/vm/outer.img//images/root.img rw lbtest.nonce=$n" "$W/$s.disk"
# The outer image's mount is the engine's own, outside the new root: only the inner path.
check_booted "$s" /dev/vda1 ext4 /images/root.img
part_read "$W/$s.disk" "$W/$s.part"
check "$s: the outer image can be read back (debugfs)" ext4_get "$W/$s.part" /vm/outer.img "$W/$s.outer"
check "$s: the inner image can be read back (debugfs)" ext4_get "$W/$s.outer" /images/root.img "$W/$s.root"
check_image "$s" "$W/$s.root" "$n"
ext4_replayed "$W/$s.part" "$W/$s.replayed" &&
	check "$s: the host file system is consistent after journal replay (e2fsck -fn)" e2fsck -fn "$W/$s.replayed"
ext4_replayed "$W/$s.outer" "$W/$s.replayed" &&
	check "$s: the outer image is consistent after journal replay (e2fsck -fn)" e2fsck -fn "$W/$s.replayed"
rm -f "$W/$s.replayed"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.part" "$W/$s.outer" "$W/$s.root"

# SCENARIO's disks beside another controller's: $W/SCENARIO.disk, a GPT disk of 64 MiB
# whose partition (PARTLABEL and file system label LABEL) holds ext4 with /linux/root.img,
# and $W/SCENARIO.blank, a blank 8 MiB disk.
disk_and_blank() { # SCENARIO DISK-GUID LABEL
	mkdir -p "$W/$1.host.d/linux"
	disk_gpt "$W/$1.disk" 64 "$2" "$3" "$LINUX_DATA" &&
		guest_root "$W/$1.host.d/linux/root.img" &&
		mke2fs -q -F -t ext4 -L "$3" -d "$W/$1.host.d" "$W/$1.part" \
			"$(($(part_size "$W/$1.disk") / 1024))k" >/dev/null &&
		part_write "$W/$1.disk" "$W/$1.part" &&
		truncate -s 8M "$W/$1.blank" ||
		die "$1: host disk built"
	rm -rf "$W/$1.host.d" "$W/$1.part"
}

# The checks after a boot from $W/SCENARIO.disk: the root image read back, as the guest
# left it; then the scenario's end (FAILED: the count of failures before it began).
root_read_back() { # SCENARIO NONCE FAILED
	part_read "$W/$1.disk" "$W/$1.part"
	check "$1: the root image can be read back (debugfs)" ext4_get "$W/$1.part" /linux/root.img "$W/$1.root"
	check_image "$1" "$W/$1.root" "$2"
	scenario_done "$1" "$3" "$W/$1.disk" "$W/$1.blank" "$W/$1.part" "$W/$1.root"
}

# ---- ext4-sata ------------------------------------------------------------------------------
# The host on a SATA disk behind q35's AHCI controller, a blank virtio disk beside it: each
# lane has one device, so each driver binds it in the background (AHCI resetting its five
# empty ports holds up neither the virtio disk nor the end of the engine). The engine still
# waits for the SATA disk's partition, and the disk is sda.
s=ext4-sata f=$T_FAILED n=$(nonce_new)
disk_and_blank "$s" 6a0c4b3e-5d2f-4e1a-8b7c-9d0e1f2a3b5d lbsata
VM_QEMU_EXTRA=(-drive "if=none,id=sata0,file=$W/$s.disk,format=raw" -device "ide-hd,drive=sata0,bus=ide.0")
vm_boot "$s" "root=LABEL=lbsata loop=/linux/root.img rw lbtest.nonce=$n" "$W/$s.blank"
VM_QEMU_EXTRA=()
check_booted "$s" /dev/sda1 ext4 /linux/root.img
grep -aq 'virtio_blk virtio0: \[vda\]' "$VM_LOG"
ok $? "$s: the blank virtio disk is vda beside it"
root_read_back "$s" "$n" "$f"

# ---- ext4-nvme ------------------------------------------------------------------------------
# The host on an NVMe drive, a blank SATA disk beside it behind q35's AHCI: a laptop's
# layout. NVMe names its disks nvmeXnY and AHCI sdX, so each is a lane of one device and
# both drivers bind in the background (loopboot.debug logs the option each load had); the
# engine waits for the NVMe partition. (It does not wait for the SATA disk it does not
# need: AHCI may find it after switch_root, and then its sd driver is the real system's
# udev's to load, which the busybox root has not.)
s=ext4-nvme f=$T_FAILED n=$(nonce_new)
disk_and_blank "$s" 6a0c4b3e-5d2f-4e1a-8b7c-9d0e1f2a3b6e lbnvme
VM_QEMU_EXTRA=(-drive "if=none,id=nvm0,file=$W/$s.disk,format=raw" -device "nvme,serial=lbnvme0,drive=nvm0"
	-drive "if=none,id=sata0,file=$W/$s.blank,format=raw" -device "ide-hd,drive=sata0,bus=ide.0")
vm_boot "$s" "root=PARTLABEL=lbnvme loop=/linux/root.img rw loopboot.debug lbtest.nonce=$n"
VM_QEMU_EXTRA=()
check_booted "$s" /dev/nvme0n1p1 ext4 /linux/root.img
for drv in nvme ahci; do
	grep -aEq "loaded module $drv \(for $drv, async_probe\)" "$VM_LOG"
	ok $? "$s: $drv, alone in its lane, bound in the background (async_probe)"
done
root_read_back "$s" "$n" "$f"

finish
