#!/bin/bash
# A FAT32 host, the USB stick case (vfat): the whole disk, found by root=LABEL=, with a
# space in the image's path ("loop=/My Linux/root.img", quoted as the kernel allows).
# Written without mounting: mkfs.vfat, mmd, mcopy.
. "$(dirname "$0")/lib.sh"
vm_require
vm_setup
W=$VM_OUT

s=fat-label f=$T_FAILED n=$(nonce_new)
guest_root "$W/$s.root" &&
	fat_new "$W/$s.disk" 96 LBSTICK &&
	fat_put "$W/$s.disk" "$W/$s.root" "/My Linux/root.img" ||
	die "$s: host disk built"
rm -f "$W/$s.root"
vm_boot "$s" "root=LABEL=LBSTICK \"loop=/My Linux/root.img\" rw lbtest.nonce=$n" "$W/$s.disk"
check_booted "$s" /dev/vda vfat "/host/My Linux/root.img"
check "$s: the root image can be read back (mcopy)" fat_get "$W/$s.disk" "/My Linux/root.img" "$W/$s.root"
check_image "$s" "$W/$s.root" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root"

finish
