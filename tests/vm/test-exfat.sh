#!/bin/bash
# An exFAT host (the kernel's exfat module) in the first partition of an MBR disk, found
# by its device name, root=/dev/vda1. exFAT has no tool that writes files without
# mounting: exfat-fuse mounts it in a private mount namespace here.
. "$(dirname "$0")/lib.sh"
vm_require
vm_setup
W=$VM_OUT

s=exfat-mbr f=$T_FAILED n=$(nonce_new)
disk_mbr "$W/$s.disk" 96 0x4c424f4f 7 &&
	truncate -s "$(part_size "$W/$s.disk")" "$W/$s.part" &&
	mkfs.exfat -L LBEXFAT "$W/$s.part" >/dev/null &&
	guest_root "$W/$s.root" &&
	exfat_put "$W/$s.part" "$W/$s.root" /linux/root.img &&
	part_write "$W/$s.disk" "$W/$s.part" ||
	die "$s: host disk built"
rm -f "$W/$s.part" "$W/$s.root"
vm_boot "$s" "root=/dev/vda1 loop=/linux/root.img rw lbtest.nonce=$n" "$W/$s.disk"
check_booted "$s" /dev/vda1 exfat /host/linux/root.img
part_read "$W/$s.disk" "$W/$s.part"
check_read_back "$s" "$W/$s.part" exfat_get "exfat-fuse, read-only" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.part" "$W/$s.root"

finish
