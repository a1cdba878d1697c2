#!/bin/bash
# Secure Boot: `loopboot iso` puts Debian's signed chain on the medium (shim-signed's shim
# as EFI/BOOT/BOOTX64.EFI, grub-efi-amd64-signed's GRUB beside it), and OVMF with Secure
# Boot enforcing (OVMF_CODE_4M.secboot.fd, Microsoft's keys enrolled: OVMF_VARS_4M.ms.fd)
# boots it as a CD and as a USB stick to the image's init on an NTFS host, the kernel
# reporting Secure Boot and lockdown; `--kernel-from image` media (GRUB loads the image's
# own kernel from a FAT host) boot too. Negative controls on the same firmware prove
# enforcement: an unsigned copy of the kernel (sbattach --remove) is refused by the chain,
# and `--secure-boot off` media (GRUB's unsigned loader) are refused by the firmware.
# Also: the initramfs carries the kernel's modules byte for byte (signatures intact), and
# `--secure-boot on` refuses an unsigned kernel before anything is written; `loopboot pxe`
# puts the chain in its tree. It is not booted here: under enforcing Secure Boot, shim
# netbooted through QEMU's built-in TFTP server refuses Debian's signed netboot GRUB
# ("Verification failed: (0x2) Invalid Parameter"), while it starts it without Secure
# Boot (test-media's pxe-uefi-grub).
. "$(dirname "$0")/lib.sh"
vm_require

OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
SHIM=/usr/lib/shim/shimx64.efi.signed
GRUB_CD=/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed
MOKMGR=/usr/lib/shim/mmx64.efi.signed
tools_ok() {
	command -v grub-mkimage >/dev/null && command -v xorriso >/dev/null &&
		command -v mformat >/dev/null && command -v sbverify >/dev/null &&
		command -v sbattach >/dev/null && [ -f /usr/lib/grub/i386-pc/moddep.lst ] &&
		[ -f /usr/lib/grub/x86_64-efi/moddep.lst ] && [ -f "$SHIM" ] && [ -f "$GRUB_CD" ] &&
		[ -f "$MOKMGR" ] && [ -f "$OVMF_CODE" ] && [ -f "$OVMF_VARS" ]
}
if ! tools_ok; then
	# scripts/deps lists them; a machine set up before that can still run this file.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools ovmf shim-signed \
		grub-efi-amd64-signed sbsigntool >/dev/null 2>&1
fi
if ! tools_ok; then
	echo "1..0 # SKIP shim-signed, grub-efi-amd64-signed, sbsigntool, GRUB, xorriso, mtools or OVMF's Secure Boot firmware missing"
	exit 0
fi
vm_setup
W=$VM_OUT
SB_JOBS=${SB_JOBS:-2}
SERIAL=0123456789ABCDEF
TITLE="loopboot secure boot test"
# Another test run may replace the cached initramfs meanwhile: keep a copy.
cp "$INITRD" "$W/initrd.img" || die "a copy of the initramfs"

# ---- the initramfs under lockdown: modules as the kernel package has them -------------------
s=modules
mkdir -p "$W/initrd.tree"
(cd "$W/initrd.tree" && zstd -dc "$W/initrd.img" | cpio -id --quiet 2>/dev/null)
n_ko=0 n_same=0 n_signed=0
while IFS= read -r ko; do
	n_ko=$((n_ko + 1))
	rel=${ko#"$W/initrd.tree/"}
	rel=${rel#usr/}
	rel=${rel#lib/modules/"$KVER"/}
	cmp -s "$ko" "$KMODS/$rel" && n_same=$((n_same + 1))
	[ "$(tail -c 28 "$ko")" = "~Module signature appended~" ] && n_signed=$((n_signed + 1))
done < <(find "$W/initrd.tree" -name '*.ko*' -type f)
[ "$n_ko" -gt 0 ] && [ "$n_same" -eq "$n_ko" ]
ok $? "$s: every module in the (zstd-compressed) initramfs is the kernel's, byte for byte ($n_same of $n_ko)"
[ "$n_ko" -gt 0 ] && [ "$n_signed" -eq "$n_ko" ]
ok $? "$s: and each still ends with its signature ($n_signed of $n_ko)"
rm -rf "$W/initrd.tree"

# ---- the hosts -----------------------------------------------------------------------------
# NTFS ("Windows"), the root image at /linux/root.img, for media with the kernel on them.
guest_root "$W/root.img" &&
	ntfs_host "$W/host.disk" 96M WINDOWS "$SERIAL" "$W/root.img" ||
	die "NTFS host disk built"
rm -f "$W/root.img"
# FAT, the root image with the kernel and initramfs inside it (as Debian links them), for
# --kernel-from image: Debian's signed GRUB has no NTFS driver and loads no modules.
t=$(mktemp -d "$W/.tree.XXXXXX")
guest_root_tree "$t" &&
	cp "$VMLINUZ" "$t/vmlinuz" && cp "$W/initrd.img" "$t/initrd.img" &&
	mke2fs -q -F -t ext4 -L lbroot -d "$t" "$W/kroot.img" 96M >/dev/null &&
	fat_new "$W/fathost.disk" 160 LBSBHOST &&
	fat_put "$W/fathost.disk" "$W/kroot.img" /linux/root.img ||
	die "FAT host disk built"
rm -rf "$t" "$W/kroot.img"
FAT_UUID=1234-ABCD

# ---- the media -----------------------------------------------------------------------------
n=$(nonce_new)
cmdline="root=UUID=$SERIAL loop=/linux/root.img rw lbtest.nonce=$n $VM_APPEND_BASE"
iso() { "$LOOPBOOT" iso --title "$TITLE" --timeout 0 "$@"; }

s=build
iso -o "$W/sb.iso" --kernel "$VMLINUZ" --initrd "$W/initrd.img" --cmdline "$cmdline" >"$W/sb.out" 2>&1
ok $? "$s: loopboot iso (--secure-boot auto) writes the image"
sed 's/^/#   /' "$W/sb.out"
[ "$(grep -c 'Secure Boot' "$W/sb.out")" -ge 1 ] &&
	grep -q "^loopboot: iso: Secure Boot: the signed chain: shim (shim-signed) then Debian's signed GRUB (grub-efi-amd64-signed), the kernel signed by Debian's CA (sbverify)$" "$W/sb.out"
ok $? "$s: auto says in one line that it uses the signed chain, the kernel verified"

# The ESP as El Torito has it and as the GPT partition a stick boots from: the same bytes.
xorriso -osirrox on -indev "$W/sb.iso" -extract /efi.img "$W/esp.img" >/dev/null 2>&1
esp_start=$(sfdisk -J "$W/sb.iso" 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]:
    if p["type"].upper() in ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EF"):
        print(p["start"], p["size"])' | head -n 1)
read -r pstart psize <<<"$esp_start"
[ -n "${pstart:-}" ] && dd if="$W/sb.iso" of="$W/esp.part" bs=512 skip="$pstart" count="$psize" status=none &&
	cmp -s "$W/esp.img" "$W/esp.part"
ok $? "$s: the El Torito EFI image is the EFI system partition of the hybrid disk (start ${pstart:-?})"
esp_cmp() { mcopy -n -i "$W/esp.img" "::$1" "$W/esp.file" 2>/dev/null && cmp -s "$W/esp.file" "$2"; }
esp_cmp /EFI/BOOT/BOOTX64.EFI "$SHIM"
ok $? "$s: EFI/BOOT/BOOTX64.EFI is shim-signed's $SHIM"
esp_cmp /EFI/BOOT/grubx64.efi "$GRUB_CD"
ok $? "$s: EFI/BOOT/grubx64.efi is Debian's signed GRUB for CDs ($GRUB_CD)"
esp_cmp /EFI/BOOT/mmx64.efi "$MOKMGR"
ok $? "$s: EFI/BOOT/mmx64.efi is MokManager ($MOKMGR)"
mcopy -n -i "$W/esp.img" ::/boot/grub/grub.cfg "$W/esp.cfg" 2>/dev/null &&
	marker=$(sed -n 's/^search --no-floppy --file --set=root //p' "$W/esp.cfg") && [ -n "$marker" ] &&
	xorriso -indev "$W/sb.iso" -find "$marker" 2>/dev/null | grep -qF "'$marker'" &&
	xorriso -indev "$W/sb.iso" -find /.disk/info 2>/dev/null | grep -qF "'/.disk/info'"
ok $? "$s: the ESP's boot/grub/grub.cfg finds the ISO 9660 by $marker, which the image has (and /.disk/info)"
rm -f "$W/esp.file" "$W/esp.part"

# An unsigned copy of the kernel: --secure-boot on refuses it, auto warns and makes media
# that the chain must refuse.
cp "$VMLINUZ" "$W/vmlinuz.unsigned" && sbattach --remove "$W/vmlinuz.unsigned" >/dev/null 2>&1 &&
	! sbverify --list "$W/vmlinuz.unsigned" 2>/dev/null | grep -q '^signature'
ok $? "$s: sbattach --remove makes an unsigned copy of the kernel"
iso -o "$W/on-unsigned.iso" --secure-boot on --kernel "$W/vmlinuz.unsigned" --initrd "$W/initrd.img" \
	--cmdline "$cmdline" >"$W/on.out" 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$W/on.out")" -eq 1 ] &&
	grep -q "^loopboot: iso: --secure-boot on: kernel: $W/vmlinuz.unsigned: not signed by Debian's CA.* — " "$W/on.out" &&
	[ ! -e "$W/on-unsigned.iso" ]
ok $? "$s: --secure-boot on with an unsigned kernel: exit 1, one loopboot: line naming it, no file (exit $rc: $(head -c 300 "$W/on.out"))"
iso -o "$W/unsigned.iso" --kernel "$W/vmlinuz.unsigned" --initrd "$W/initrd.img" \
	--cmdline "$cmdline" >"$W/unsigned.out" 2>&1 &&
	grep -q "is not signed by Debian's CA.*mokutil --import" "$W/unsigned.out"
ok $? "$s: auto with an unsigned kernel makes the media and warns (mokutil --import)"
iso -o "$W/off.iso" --secure-boot off --kernel "$VMLINUZ" --initrd "$W/initrd.img" \
	--cmdline "$cmdline" >"$W/off.out" 2>&1 &&
	grep -q "^loopboot: iso: Secure Boot: off: GRUB's unsigned EFI loader" "$W/off.out"
ok $? "$s: --secure-boot off makes media with GRUB's unsigned loader, and says so"

# --kernel-from image, the host attached here so that iso finds it by its UUID.
n_img=$(nonce_new)
cmdline_img="root=UUID=$FAT_UUID loop=/linux/root.img rw lbtest.nonce=$n_img $VM_APPEND_BASE"
loop=$(losetup -f --show -r "$W/fathost.disk")
if [ -n "$loop" ]; then
	udevadm settle --timeout=10 2>/dev/null
	iso -o "$W/image.iso" --kernel-from image --cmdline "$cmdline_img" >"$W/image.out" 2>&1
	rc=$?
	losetup -d "$loop"
else
	rc=1
fi
[ $rc -eq 0 ] && grep -q "^loopboot: iso: Secure Boot: the signed chain: .*the kernel signed by Debian's CA (sbverify); GRUB has shim check the image's kernel at each boot$" "$W/image.out"
ok $? "$s: --kernel-from image on a FAT host: the signed chain, the image's current kernel verified (exit $rc)"
sed 's/^/#   /' "$W/image.out"

# The netboot tree: shim as bootnetx64.efi, Debian's signed netboot GRUB beside it.
"$LOOPBOOT" pxe "$W/tftp" --kernel "$VMLINUZ" --initrd "$W/initrd.img" --cmdline "$cmdline" \
	--title "$TITLE" --timeout 0 >"$W/pxe.out" 2>&1 &&
	cmp -s "$W/tftp/bootnetx64.efi" "$SHIM" &&
	cmp -s "$W/tftp/grubx64.efi" /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed &&
	cmp -s "$W/tftp/mmx64.efi" "$MOKMGR" && grep -q "UEFI PXE   bootnetx64.efi" "$W/pxe.out"
ok $? "$s: loopboot pxe puts shim (bootnetx64.efi), the signed netboot GRUB (grubx64.efi) and mmx64.efi in the tree"

# ---- the boots -----------------------------------------------------------------------------
# Each boot runs with its own copy of the variables (Secure Boot enforcing) and of the host
# disk. STOP: a console line after which the boot has shown what it will (a refusal): QEMU
# is stopped then instead of waiting for its time limit.
boot_start() { # NAME HOST-DISK TIMEOUT STOP QEMU-ARGS...
	local name=$1 disk=$2 limit=$3 stop=$4
	shift 4
	cp --sparse=always "$disk" "$W/$name.disk" && cp "$OVMF_VARS" "$W/$name.vars" || return 1
	while [ "$(jobs -rp | wc -l)" -ge "$SB_JOBS" ]; do wait -n; done
	(
		s=$(date +%s)
		timeout -k 5 "$limit" qemu-system-x86_64 -accel tcg -machine q35,smm=on -m "$VM_MEM" \
			-global driver=cfi.pflash01,property=secure,value=on \
			-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
			-drive "if=pflash,format=raw,unit=1,file=$W/$name.vars" \
			-nodefaults -display none -no-reboot -serial stdio "$@" \
			-drive "file=$W/$name.disk,format=raw,if=virtio" </dev/null >"$W/$name.console" 2>&1 &
		q=$!
		if [ -n "$stop" ]; then
			while kill -0 "$q" 2>/dev/null; do
				if grep -aqF -- "$stop" "$W/$name.console" 2>/dev/null; then
					sleep 2 # the rest of the line, for the log
					kill "$q" 2>/dev/null
					break
				fi
				sleep 1
			done
		fi
		wait "$q"
		echo "$? $(($(date +%s) - s))" >"$W/$name.rc"
	) &
}

cd_of() { echo "file=$W/$1,format=raw,if=ide,media=cdrom,readonly=on"; }
usb_of() {
	usb=(-device qemu-xhci -drive "if=none,id=stick,file=$W/$1,format=raw,readonly=on"
		-device "usb-storage,drive=stick,bootindex=0")
}
start=$(date +%s)
limit=$(vm_timeout)
usb_of sb.iso
boot_start sb-cd "$W/host.disk" "$limit" "" -drive "$(cd_of sb.iso)"
boot_start sb-usb "$W/host.disk" "$limit" "" "${usb[@]}"
boot_start sb-image "$W/fathost.disk" "$limit" "" -drive "$(cd_of image.iso)"
# A refused kernel: GRUB says so and goes back to its menu, again and again.
boot_start sb-unsigned-kernel "$W/host.disk" 150 "shim signature" -drive "$(cd_of unsigned.iso)"
# A refused loader: OVMF says "Access Denied" and tries the next boot option.
boot_start sb-off "$W/host.disk" 120 "Access Denied" -drive "$(cd_of off.iso)"
wait
note "5 boots, $SB_JOBS at a time: $(($(date +%s) - start))s"

sb_checks() { # NAME HOST-DEV HOST-FSTYPE NONCE DISK-GET
	local s=$1 f=$T_FAILED
	vm_bg_result "$s"
	check_booted "$s" "$2" "$3" /host/linux/root.img
	check "$s: the kernel says Secure Boot is enabled" console_has "Secure boot enabled"
	check "$s: and that it is locked down by it (modules load under lockdown)" \
		console_has "Kernel is locked down from EFI Secure Boot"
	check "$s: shim started Debian's GRUB, which booted the entry" console_has "Booting \`$TITLE'"
	check "$s: the root image can be read back" "$5" "$W/$s.disk" /linux/root.img "$W/$s.root"
	check_image "$s" "$W/$s.root" "$4"
	scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root" "$W/$s.vars"
}
sb_checks sb-cd /dev/vda fuseblk "$n" ntfs_get
sb_checks sb-usb /dev/vda fuseblk "$n" ntfs_get
sb_checks sb-image /dev/vda vfat "$n_img" fat_get
vm_bg_result sb-image
# GRUB names the image's loopback device: BOOT_IMAGE=(NAME)/vmlinuz.
check "sb-image: the kernel came from inside the image (GRUB's loopback device)" \
	grep -aqE "Command line: BOOT_IMAGE=\([^)]+\)/vmlinuz root=UUID=$FAT_UUID loop=/linux/root.img rw" "$VM_LOG"

s=sb-unsigned-kernel f=$T_FAILED
vm_bg_result "$s"
console_has "Booting \`$TITLE'"
ok $? "$s: the signed chain ran the entry (GRUB)"
grep -aqiE "bad shim signature|shim signature|Access Denied" "$VM_LOG"
ok $? "$s: the unsigned kernel was refused: $(grep -aoiE '[^[]*(bad shim signature|Access Denied)[^[]*' "$VM_LOG" | head -n 1)"
! console_has "Linux version" && ! console_has "LBTEST start"
ok $? "$s: the kernel never started, the init never ran"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.vars"

s=sb-off f=$T_FAILED
vm_bg_result "$s"
grep -aqF "Access Denied" "$VM_LOG"
ok $? "$s: the firmware refused GRUB's unsigned loader: $(grep -aoE '[^[]*Access Denied' "$VM_LOG" | head -n 1)"
! console_has "Booting \`$TITLE'" && ! console_has "LBTEST start"
ok $? "$s: GRUB never ran, the init never ran"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.vars"

rm -rf "$W/tftp"
[ "$T_FAILED" -eq 0 ] && rm -f "$W"/*.iso "$W"/*.disk "$W/initrd.img" "$W/esp.img" "$W/vmlinuz.unsigned"
finish
