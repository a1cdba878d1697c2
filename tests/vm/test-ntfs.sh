#!/bin/bash
# NTFS hosts, the Windows dual-boot case. Debian 12's kernel has no ntfs3, so the engine
# mounts them with ntfs-3g (fuseblk). Scenarios:
#   ntfs-uuid      the whole disk is NTFS, found by root=UUID= (the volume serial)
#   ntfs-partuuid  NTFS in a GPT partition, found by root=PARTUUID=
#   ntfs-home      an extra image at /home with loopboot.mount=, the serial in lower case
. "$(dirname "$0")/lib.sh"
vm_require
vm_setup
W=$VM_OUT
SERIAL=0123456789ABCDEF
PARTUUID=3f1c2a4e-8b6d-4f5e-9a7c-1d2e3f4a5b6c
BASIC_DATA=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7

s=ntfs-uuid f=$T_FAILED n=$(nonce_new)
guest_root "$W/$s.root" &&
	ntfs_host "$W/$s.disk" 96M WINDOWS "$SERIAL" "$W/$s.root" ||
	die "$s: host disk built"
vm_boot "$s" "root=UUID=$SERIAL loop=/linux/root.img rw lbtest.nonce=$n" "$W/$s.disk"
check_booted "$s" /dev/vda fuseblk /host/linux/root.img
rm -f "$W/$s.root"
check_read_back "$s" "$W/$s.disk" ntfs_get ntfscat "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root"

s=ntfs-partuuid f=$T_FAILED n=$(nonce_new)
disk_gpt "$W/$s.disk" 96 "$PARTUUID" "Basic data partition" "$BASIC_DATA" &&
	guest_root "$W/$s.root" &&
	ntfs_host "$W/$s.part" "$(part_size "$W/$s.disk")" WINDOWS 00C0FFEE00C0FFEE "$W/$s.root" "" "$PART_START" &&
	part_write "$W/$s.disk" "$W/$s.part" ||
	die "$s: host disk built"
rm -f "$W/$s.part" "$W/$s.root"
vm_boot "$s" "root=PARTUUID=$PARTUUID loop=/linux/root.img rw lbtest.nonce=$n" "$W/$s.disk"
check_booted "$s" /dev/vda1 fuseblk /host/linux/root.img
part_read "$W/$s.disk" "$W/$s.part"
check_read_back "$s" "$W/$s.part" ntfs_get ntfscat "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.part" "$W/$s.root"

s=ntfs-home f=$T_FAILED n=$(nonce_new)
guest_root "$W/$s.root" &&
	plain_image "$W/$s.home" "home image" &&
	ntfs_host "$W/$s.disk" 96M WINDOWS "$SERIAL" "$W/$s.root" "$W/$s.home" ||
	die "$s: host disk built"
vm_boot "$s" "root=UUID=${SERIAL,,} loop=/linux/root.img rw loopboot.mount=/home:/linux/home.img lbtest.nonce=$n" "$W/$s.disk"
check_booted "$s" /dev/vda fuseblk /host/linux/root.img
home=$(lbtest home) homefs=$(lbtest home fstype) homeback=$(lbtest home backing)
[[ $home == /dev/loop* ]] && [ "$homefs" = ext4 ] && [ "$home" != "$(lbtest root)" ]
ok $? "$s: /home is another loop device with ext4 (home=${home:-?} fstype=${homefs:-?})"
[ "$homeback" = /host/linux/home.img ]
ok $? "$s: /home's loop device is backed by /host/linux/home.img (backing=${homeback:-?})"
rm -f "$W/$s.root" "$W/$s.home"
check "$s: the images can be read back (ntfscat)" eval 'ntfs_get "$W/$s.disk" /linux/root.img "$W/$s.root" &&
	ntfs_get "$W/$s.disk" /linux/home.img "$W/$s.home"'
check_image "$s" "$W/$s.root" "$n"
check_image "$s" "$W/$s.home" "$n" "home image"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root" "$W/$s.home"

finish
