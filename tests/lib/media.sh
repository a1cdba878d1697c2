#!/bin/bash
# The checks of a hybrid image that `loopboot iso` wrote, shared by the root tests (written
# to a device: tests/ns/test-stick.sh) and the VM tests (a file: tests/vm/test-media.sh).
# Needs tap.sh's ok, xorriso and sfdisk.

# El Torito with a BIOS and a UEFI boot image, an EFI system partition when the image is
# read as a disk, and a grub.cfg that holds ENTRY (a fixed string). The reports go to
# PREFIX.eltorito and PREFIX.grub.cfg.
check_hybrid_image() { # NAME IMAGE(file or device) ENTRY PREFIX [ON-THE-ESP] [ON-THE-ENTRY]
	xorriso -indev "stdio:$2" -report_el_torito plain >"$4.eltorito" 2>&1
	grep -qE 'El Torito boot img : +[0-9]+ +BIOS' "$4.eltorito" &&
		grep -qE 'El Torito boot img : +[0-9]+ +UEFI' "$4.eltorito"
	ok $? "$1: El Torito has a BIOS and a UEFI boot image"
	sfdisk -l "$2" 2>/dev/null | grep -q 'EFI System'
	ok $? "$1: as a disk it has an EFI system partition${5:+ $5}"
	xorriso -osirrox on -indev "stdio:$2" -extract /boot/grub/grub.cfg "$4.grub.cfg" >/dev/null 2>&1
	grep -qF "$3" "$4.grub.cfg"
	ok $? "$1: grub.cfg has the entry${6:+, $6}"
}
