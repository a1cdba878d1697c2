#!/bin/bash
# The user tools with disk images (a VM's whole disk) as loop=: `loopboot create --disk`
# (a GPT disk with an EFI system partition and an x86-64 root partition, read back with
# sfdisk and blkid), `loopboot check` (the partition listing, which one is the root and
# why, the partition checked through a loop device over its bytes; an ambiguous disk and a
# refused format in the engine's words), `loopboot grub` (loopback plus (NAME,gpt2) for the
# kernel in the partition; an MBR disk's msdosN; a flat VMDK's extent; a fixed VDI refused
# with what to do instead). The host and the disks stay byte-identical through check and
# grub.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

command -v sfdisk >/dev/null || die "sfdisk (fdisk) is installed"
command -v mkfs.fat >/dev/null || die "mkfs.fat (dosfstools) is installed"

ESP_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
ROOT_TYPE=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709
LINUX_TYPE=0FC63DAF-8483-4772-8E79-3D69D8477DE4
MB=$((1024 * 1024))


part_field() { # DISK N FIELD(type|name|uuid)
	sfdisk -J "$1" | python3 -c "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$2-1]; print(p.get('$3', ''))"
}
# blkid's tag of the file system in partition N (probed at its offset).
part_tag() { # DISK N TAG
	local start size
	read -r start size <<<"$(part_of "$1" "$2")"
	blkid -p -O $((start * 512)) -S $((size * 512)) -o value -s "$3" "$1"
}
# Copies the files of DIR into partition N's ext4 (a loop device over its bytes: no
# partition devices here).
fill_part() { # DISK N DIR
	local start size dev m=$WORK/part-mnt
	read -r start size <<<"$(part_of "$1" "$2")"
	dev=$(losetup -f --show -o $((start * 512)) --sizelimit $((size * 512)) "$1") || return 1
	mkdir -p "$m"
	mount "$dev" "$m" && cp -a "$3/." "$m/" && umount "$m"
	local rc=$?
	losetup -d "$dev"
	return $rc
}

# ---- the host: ext4, mounted, with a directory for the disks -------------------------------
mke2fs -q -F -t ext4 -L DISKTOOLS "$WORK/host.img" 600M
hdev=$(attach "$WORK/host.img")
huuid=$(blkval "$hdev" UUID)
H=$WORK/h
mkdir -p "$H"
# shellcheck disable=SC2034 # read by lib.sh's cleanup
CLEANUP_MOUNTS=("$H" "$WORK/part-mnt")
mount "$hdev" "$H"
mkdir -p "$H/vm"

# ---- create --disk ---------------------------------------------------------------------------
disk=$H/vm/disk.img
lb create "$disk" --size 128M --disk --label lbroot
ok $? "create --disk: exit status 0"
check "create --disk: the file has the size asked for" test "$(stat -c %s "$disk")" -eq $((128 * MB))
check "create --disk: no holes" test $(($(stat -c %b "$disk") * 512)) -ge $((128 * MB))
check "create --disk: the summary names both partitions" out_has "^$disk: 128 MiB GPT disk image: partition 1 EFI system 32 MiB vfat, partition 2 Linux root (x86-64) 94 MiB ext4 labelled \"lbroot\", "
check "create --disk: prints the entry, without loopboot.part=" out_has "^boot it with: root=UUID=$huuid loop=/vm/disk.img rw$"
check "create --disk: says why no loopboot.part= is needed" out_has "^the root is partition 2: its GPT type is Linux root (x86-64)"
check "sfdisk: a GPT table" test "$(sfdisk -J "$disk" | python3 -c "import json,sys; print(json.load(sys.stdin)['partitiontable']['label'])")" = gpt
check "sfdisk: two partitions" test "$(sfdisk -J "$disk" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['partitiontable']['partitions']))")" -eq 2
check "sfdisk: partition 1 is an EFI system partition from 1 MiB" test "$(part_field "$disk" 1 type) $(part_of "$disk" 1)" = "$ESP_TYPE 2048 65536"
check "sfdisk: partition 2 is typed x86-64 root" test "$(part_field "$disk" 2 type)" = "$ROOT_TYPE"
check "sfdisk: the partitions are named esp and root" test "$(part_field "$disk" 1 name):$(part_field "$disk" 2 name)" = esp:root
check "sfdisk: the table verifies" sfdisk --verify "$disk"
check "blkid: vfat in partition 1" test "$(part_tag "$disk" 1 TYPE)" = vfat
check "blkid: ext4 labelled lbroot in partition 2" test "$(part_tag "$disk" 2 TYPE):$(part_tag "$disk" 2 LABEL)" = ext4:lbroot
if command -v grub-mkimage >/dev/null && command -v mtype >/dev/null && [ -d /usr/lib/grub/x86_64-efi ]; then
	check "create --disk: says GRUB for UEFI is in the ESP" out_has "^its EFI system partition holds GRUB for UEFI (EFI/BOOT/BOOTX64.EFI)"
	check "the ESP holds EFI/BOOT/BOOTX64.EFI (mtools)" bash -c "mdir -i '$disk@@1M' ::/EFI/BOOT | grep -q '^BOOTX64 *EFI '"
	mtype -i "$disk@@1M" ::/EFI/BOOT/grub.cfg >"$WORK/esp-grub.cfg"
	check "the ESP's grub.cfg finds the root partition's file system" grep -q "^search --no-floppy --fs-uuid --set=root $(part_tag "$disk" 2 UUID)$" "$WORK/esp-grub.cfg"
	check "the ESP's grub.cfg boots it by its PARTUUID" grep -qi "^	linux /vmlinuz root=PARTUUID=$(part_field "$disk" 2 uuid) rw$" "$WORK/esp-grub.cfg"
	check "the ESP's FAT is clean" bash -c "fsck.fat -n '$disk?offset=1048576' >/dev/null 2>&1 || mdir -i '$disk@@1M' ::/ >/dev/null"
else
	check "create --disk without GRUB for UEFI: says the ESP is empty and what to install" out_has "^its EFI system partition is empty: .*apt-get install"
fi
read -r s2 z2 <<<"$(part_of "$disk" 2)"
check "e2fsck: the root partition is clean" e2fsck -fn "$disk?offset=$((s2 * 512))"
check "the root file system fills its partition" test "$(dumpe2fs -h "$disk?offset=$((s2 * 512))" 2>/dev/null | sed -n 's/^Block count: *//p')" -eq $((z2 * 512 / 1024))

lb create "$H/vm/small.img" --size 40M --disk
check "create --disk --size 40M: usage error (exit status 2)" test $? -eq 2
check "create --disk --size 40M: one line says the least" out_has "^loopboot: create --disk: --size 40M: a disk image needs at least 50 MiB .*: use --size 64M or more$"
check "create --disk --size 40M: no file" test ! -e "$H/vm/small.img"
lb create "$H/vm/ov.img" --size 64M --disk --overlay
check "create --disk --overlay: usage error (exit status 2)" test $? -eq 2
before=$(sum "$disk")
lb create "$disk" --size 64M --disk
check "create --disk over an existing file: exit status 1" test $? -eq 1
check "create --disk over an existing file: untouched" test "$(sum "$disk")" = "$before"
if command -v mkfs.xfs >/dev/null; then
	loops_now >"$WORK/loops.before"
	lb create "$H/vm/xfs.img" --size 400M --disk --fs xfs --label XR
	ok $? "create --disk --fs xfs (a loop device over the partition): exit status 0"
	check "create --disk --fs xfs: xfs labelled XR in partition 2" test "$(part_tag "$H/vm/xfs.img" 2 TYPE):$(part_tag "$H/vm/xfs.img" 2 LABEL)" = xfs:XR
	check "create --disk --fs xfs: no loop device left" no_loop_left "$WORK/loops.before" 'xfs\.img$'
	rm -f "$H/vm/xfs.img"
fi

# ---- a root in the disk's partition 2 ----------------------------------------------------------
rootdir=$WORK/rootdir
mkdir -p "$rootdir/sbin" "$rootdir/etc" "$rootdir/host" "$rootdir/boot"
cp /bin/true "$rootdir/sbin/init"
# A kernel's header only (bzImage "HdrS", its release string), enough for iso to name it.
python3 -c "import sys; b=bytearray(4096); b[0x202:0x206]=b'HdrS'; b[0x206:0x208]=(0x20f).to_bytes(2,'little'); b[0x20e:0x210]=(0x300).to_bytes(2,'little'); v=b'6.1.0-18-amd64 (test) #1 SMP\\0'; b[0x500:0x500+len(v)]=v; sys.stdout.buffer.write(b)" >"$rootdir/boot/vmlinuz-6.1.0-18-amd64"
echo initramfs >"$rootdir/boot/initrd.img-6.1.0-18-amd64"
ln -s boot/vmlinuz-6.1.0-18-amd64 "$rootdir/vmlinuz"
ln -s boot/initrd.img-6.1.0-18-amd64 "$rootdir/initrd.img"
fill_part "$disk" 2 "$rootdir"
ok $? "the root's files are copied into partition 2"

entry="root=UUID=$huuid loop=/vm/disk.img rw"
hbefore=$(sum "$WORK/host.img")
before=$(sum "$disk")
loops_now >"$WORK/loops.before"
lb check --cmdline "$entry"
ok $? "check, GPT disk: exit status 0"
check "check: the disk's format and table" out_has "^ok: disk image: /vm/disk.img: raw disk image, GPT partition table, 2 partitions$"
check "check: the ESP is listed" grep -Eq '^    1  EFI system  32\.0 MiB  vfat  UUID=.*  LABEL=EFI  PARTLABEL=esp  PARTUUID=' "$LB_OUT"
check "check: the root partition is listed" grep -Eq '^    2  Linux root \(x86-64\)  94\.0 MiB  ext4  UUID=.*  LABEL=lbroot  PARTLABEL=root  PARTUUID=' "$LB_OUT"
check "check: says which is the root and why" out_has "^ok: root partition: 2 of /vm/disk.img: its GPT type is Linux root (x86-64)$"
check "check: the partition's file system is checked read-only" out_has "^ok: file system: /vm/disk.img: ext4, clean (e2fsck -fn, read-only)$"
check "check: init is found in the partition" out_has "^ok: init: /sbin/init"
check "check: summary with no problem" out_has "^summary: .* 0 problems — this entry would boot"
check "check: every line is a finding or a partition" bash -c "! grep -Ev '^(checking|ok|warning|problem|summary): |^    [0-9]+  ' '$LB_OUT'"
check "check: no loop device left on the disk" no_loop_left "$WORK/loops.before" '/vm/disk\.img$'

lb check --cmdline "$entry loopboot.part=1"
check "check, loopboot.part=1 (the ESP): exit status 1" test $? -eq 1
check "check, loopboot.part=1: the chosen partition and why" grep -Eq "^ok: root partition: 1 of /vm/disk.img: .*1" "$LB_OUT"
lb check --cmdline "$entry loopboot.part=PARTLABEL=root"
ok $? "check, loopboot.part=PARTLABEL=root: exit status 0"
check "check, loopboot.part=PARTLABEL=root: the reason names the selector" grep -Eq "^ok: root partition: 2 of /vm/disk.img: .*PARTLABEL=root" "$LB_OUT"
lb check --cmdline "$entry loopboot.part=7"
check "check, loopboot.part=7 (none): exit status 1" test $? -eq 1
check "check, loopboot.part=7: a problem line, then the partitions" bash -c "grep -A2 '^problem: disk image: /vm/disk.img: ' '$LB_OUT' | grep -q '^    2  Linux root'"
check "check: the disk is byte-identical" test "$(sum "$disk")" = "$before"

# ---- grub: loopback plus the partition --------------------------------------------------------
lb grub --cmdline "$entry"
ok $? "grub, GPT disk: exit status 0"
check "grub: loads GPT's partition module" out_has "^	insmod part_gpt$"
check "grub: opens the disk with loopback" grep -Eq "^	loopback loopboot-[0-9a-f]{8} /vm/disk.img$" "$LB_OUT"
lbname=$(sed -n 's/^	loopback \(loopboot-[0-9a-f]*\) .*/\1/p' "$LB_OUT" | head -1)
check "grub: the kernel from partition 2" out_has "^	linux ($lbname,gpt2)/boot/vmlinuz-6.1.0-18-amd64 root=UUID=$huuid loop=/vm/disk.img rw$\|^	linux ($lbname,gpt2)/vmlinuz root=UUID=$huuid loop=/vm/disk.img rw$"
check "grub: the initramfs from partition 2" grep -Eq "^	initrd \\($lbname,gpt2\\)/(initrd.img|boot/initrd.img-6.1.0-18-amd64)$" "$LB_OUT"
check "grub: ext4's module for the partition" out_has "^	insmod ext2$"
lb grub --cmdline "$entry loopboot.part=2" --kernel /vmlinuz --initrd /initrd.img
ok $? "grub --kernel --initrd (the host mounted here): exit status 0"
check "grub --kernel --initrd: the partition is still named" out_has "^	linux (loopboot-[0-9a-f]*,gpt2)/vmlinuz "
nohost="root=UUID=00000000-1111-2222-3333-444444444444 loop=/vm/disk.img"
lb grub --cmdline "$nohost loopboot.part=2"
ok $? "grub, the host not here, loopboot.part=2: exit status 0"
check "grub, the host not here: (NAME,2), GRUB's first table that has it" out_has "^	linux (loopboot-[0-9a-f]*,2)/vmlinuz "
lb grub --cmdline "$nohost loopboot.part=PARTLABEL=root"
ok $? "grub, the host not here, loopboot.part=PARTLABEL=root: exit status 0"
check "grub, the host not here, a tag: a warning says the whole file is opened" out_has "^loopboot: warning: grub: /vm/disk.img: loopboot.part=PARTLABEL=root names the partition by a tag, .* — attach the host and run it again, or write loopboot.part=N$"
check "grub: the disk is byte-identical" test "$(sum "$disk")" = "$before"

# ---- iso: the kernel read from the disk's partition (views), or loaded there by GRUB --------
if command -v grub-mkrescue >/dev/null && command -v xorriso >/dev/null &&
	[ -d /usr/lib/grub/i386-pc ] && [ -d /usr/lib/grub/x86_64-efi ]; then
	echo initramfs >"$WORK/initrd.img"
	lb iso -o "$WORK/media.iso" --cmdline "$entry" --initrd "$WORK/initrd.img" --secure-boot off
	ok $? "iso, the kernel from the disk's partition: exit status 0"
	xorriso -osirrox on -indev "$WORK/media.iso" -extract /boot/vmlinuz "$WORK/iso-vmlinuz" >/dev/null 2>&1
	check "iso: the medium's kernel is the one in partition 2" cmp "$WORK/iso-vmlinuz" "$rootdir/boot/vmlinuz-6.1.0-18-amd64"
	lb iso -o "$WORK/image.iso" --cmdline "$entry" --kernel-from image --secure-boot off
	ok $? "iso --kernel-from image, the disk: exit status 0"
	xorriso -osirrox on -indev "$WORK/image.iso" -extract /boot/grub/grub.cfg "$WORK/iso-grub.cfg" >/dev/null 2>&1
	check "iso --kernel-from image: GRUB opens the disk with loopback" grep -q "^	loopback loopboot-[0-9a-f]* /vm/disk.img$" "$WORK/iso-grub.cfg"
	check "iso --kernel-from image: and loads the kernel from partition 2" grep -q "^	linux (loopboot-[0-9a-f]*,gpt2)/vmlinuz root=UUID=$huuid loop=/vm/disk.img rw$" "$WORK/iso-grub.cfg"
	check "iso: the disk is byte-identical" test "$(sum "$disk")" = "$before"
	rm -f "$WORK/media.iso" "$WORK/image.iso"
else
	note "grub-mkrescue, xorriso or GRUB's platforms missing: iso not tested"
fi

# ---- an MBR disk: msdosN -----------------------------------------------------------------------
mbr=$H/vm/mbr.img
new_disk "$mbr" 64M $'label: dos\nstart=2048, size=8M, type=b\ntype=83'
mkfs_part "$mbr" 2 mbrroot "$rootdir"
lb grub --cmdline "root=UUID=$huuid loop=/vm/mbr.img"
ok $? "grub, MBR disk: exit status 0"
check "grub, MBR disk: the kernel from (NAME,msdos2)" out_has "^	linux (loopboot-[0-9a-f]*,msdos2)/"
lb check --cmdline "root=UUID=$huuid loop=/vm/mbr.img rw"
ok $? "check, MBR disk: exit status 0"
check "check, MBR disk: the table is named" out_has "^ok: disk image: /vm/mbr.img: raw disk image, MBR partition table, 2 partitions$"
check "check, MBR disk: the only Linux file system is the root" out_has "^ok: root partition: 2 of /vm/mbr.img: "

# ---- other containers (qemu-img) ---------------------------------------------------------------
if command -v qemu-img >/dev/null; then
	qemu-img convert -f raw -O vpc -o subformat=fixed "$disk" "$H/vm/disk.vhd"
	qemu-img convert -f raw -O vdi -o static=on "$disk" "$H/vm/disk.vdi"
	qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat "$disk" "$H/vm/disk.vmdk"
	qemu-img convert -f raw -O qcow2 "$disk" "$H/vm/disk.qcow2"
	for fv in "disk.vhd:fixed VHD" "disk.vdi:fixed VDI" "disk.vmdk:flat VMDK"; do
		f=${fv%%:*}
		lb check --cmdline "root=UUID=$huuid loop=/vm/$f rw"
		ok $? "check, $f: exit status 0"
		check "check, $f: the format is named" out_has "^ok: disk image: /vm/$f: ${fv#*:}, GPT partition table, 2 partitions$"
		check "check, $f: the root partition and why" out_has "^ok: root partition: 2 of /vm/$f: its GPT type is Linux root (x86-64)$"
		check "check, $f: the partition's file system is checked" out_has "^ok: file system: /vm/$f: ext4, clean"
		check "check, $f: init is found in the partition" out_has "^ok: init: /sbin/init"
	done
	lb grub --cmdline "root=UUID=$huuid loop=/vm/disk.vhd"
	ok $? "grub, fixed VHD (data at 0): exit status 0"
	check "grub, fixed VHD: loopback on the .vhd, the kernel in gpt2" \
		bash -c "grep -q '^	loopback loopboot-[0-9a-f]* /vm/disk.vhd$' '$LB_OUT' && grep -q '^	linux (loopboot-[0-9a-f]*,gpt2)/' '$LB_OUT'"
	lb grub --cmdline "root=UUID=$huuid loop=/vm/disk.vmdk"
	ok $? "grub, flat VMDK: exit status 0"
	check "grub, flat VMDK: loopback on the -flat extent" grep -q '^	loopback loopboot-[0-9a-f]* /vm/disk-flat.vmdk$' "$LB_OUT"
	lb grub --cmdline "root=UUID=$huuid loop=/vm/disk.vdi"
	check "grub, fixed VDI from the image: exit status 1" test $? -eq 1
	check "grub, fixed VDI: one loopboot: line with what to do instead" \
		grep -Eq '^loopboot: grub: --kernel-from image: /vm/disk.vdi: GRUB cannot read the disk inside a fixed VDI .* — copy the image.s kernel and initramfs to the host beside it \(/vm/vmlinuz, /vm/initrd.img\) and write the entry with --kernel-from host; or .*qemu-img convert -O raw' "$LB_OUT"
	check "grub, fixed VDI: no entry printed" bash -c "! grep -q '^menuentry' '$LB_OUT'"
	lb grub --cmdline "root=UUID=$huuid loop=/vm/disk.vdi" --kernel-from host
	ok $? "grub, fixed VDI --kernel-from host: exit status 0"
	check "grub, fixed VDI --kernel-from host: the kernel beside the image, no loopback" \
		bash -c "grep -q '^	linux /vm/vmlinuz ' '$LB_OUT' && ! grep -q loopback '$LB_OUT'"
	qbefore=$(sum "$H/vm/disk.qcow2")
	lb check --cmdline "root=UUID=$huuid loop=/vm/disk.qcow2 rw"
	check "check, qcow2: exit status 1" test $? -eq 1
	check "check, qcow2: refused in the engine's words, with the conversion" out_has "^problem: image: /vm/disk.qcow2: it is a qcow2 disk image, which loopboot cannot map — convert it .*qemu-img convert -O raw"
	lb grub --cmdline "root=UUID=$huuid loop=/vm/disk.qcow2"
	check "grub, qcow2: exit status 1" test $? -eq 1
	check "grub, qcow2: one loopboot: line" out_has "^loopboot: grub: image: /vm/disk.qcow2: it is a qcow2 disk image"
	check "qcow2: byte-identical" test "$(sum "$H/vm/disk.qcow2")" = "$qbefore"
else
	note "qemu-img missing: fixed VHD, VDI, flat VMDK and qcow2 not tested"
fi

# ---- an ambiguous disk: two Linux file systems, no root type -----------------------------------
amb=$H/vm/two.img
new_disk "$amb" 80M "label: gpt
start=2048, size=32M, type=$LINUX_TYPE, name=one
type=$LINUX_TYPE, name=two"
mkfs_part "$amb" 1 amb1
mkfs_part "$amb" 2 amb2
abefore=$(sum "$amb")
lb check --cmdline "root=UUID=$huuid loop=/vm/two.img rw"
check "check, ambiguous disk: exit status 1" test $? -eq 1
check "check, ambiguous disk: the disk is named" out_has "^ok: disk image: /vm/two.img: raw disk image, GPT partition table, 2 partitions$"
check "check, ambiguous disk: one problem line in the engine's words" out_has "^problem: disk image: /vm/two.img: raw disk image: .* — name the root's partition with loopboot.part=N"
check "check, ambiguous disk: both partitions listed after it" \
	bash -c "grep -A2 '^problem: disk image: /vm/two.img' '$LB_OUT' | grep -q '^    1  Linux filesystem  32\.0 MiB  ext4  UUID=.*  LABEL=amb1  PARTLABEL=one' && grep -A2 '^problem: disk image: /vm/two.img' '$LB_OUT' | grep -q '^    2  Linux filesystem  .*  ext4  UUID=.*  LABEL=amb2  PARTLABEL=two'"
check "check, ambiguous disk: the summary says it would not boot" out_has "^summary: .* 1 problem — this entry would not boot"
lb check --cmdline "root=UUID=$huuid loop=/vm/two.img rw loopboot.part=LABEL=amb2"
check "check, ambiguous disk with loopboot.part=LABEL=amb2: it is chosen" grep -Eq "^ok: root partition: 2 of /vm/two.img: .*LABEL=amb2" "$LB_OUT"
lb grub --cmdline "root=UUID=$huuid loop=/vm/two.img"
check "grub, ambiguous disk: exit status 1" test $? -eq 1
check "grub, ambiguous disk: the engine's line, then the partitions" \
	bash -c "grep -q '^loopboot: grub: disk image: /vm/two.img: ' '$LB_OUT' && grep -q '^loopboot:   2  Linux filesystem' '$LB_OUT'"
check "ambiguous disk: byte-identical" test "$(sum "$amb")" = "$abefore"

umount "$H"
check "the host: clean after all of it" e2fsck -fn "$WORK/host.img"
note "the host changed only by create and the test's own writes: $([ "$(sum "$WORK/host.img")" = "$hbefore" ] && echo unchanged since check || echo written)"
finish
