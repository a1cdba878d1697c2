#!/bin/bash
# Boot media: `loopboot iso` makes a hybrid ISO (GRUB, the kernel, an initramfs that
# loopboot builds itself, the entry), which boots under SeaBIOS and under OVMF (UEFI), as a
# CD and as a USB stick; `loopboot pxe` makes a netboot tree, which boots through QEMU's
# built-in DHCP/TFTP server with GRUB's BIOS and UEFI netboot images and with the iPXE
# script. Every boot must reach the image's init on an NTFS host (found by its serial, so
# the order of the disks does not matter), with the image path containing a space.
# The boots run $MEDIA_JOBS at a time (default 2), each with its own copy of the host disk.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/media.sh
. "$VM_LIB/../lib/media.sh"
vm_require

OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd
tools_ok() {
	command -v grub-mkrescue >/dev/null && command -v grub-mknetdir >/dev/null &&
		command -v xorriso >/dev/null && command -v mformat >/dev/null &&
		[ -f /usr/lib/grub/i386-pc/moddep.lst ] && [ -f /usr/lib/grub/x86_64-efi/moddep.lst ] &&
		[ -f "$OVMF_CODE" ] && [ -f "$OVMF_VARS" ]
}
if ! tools_ok; then
	# scripts/deps lists them; a machine set up before that can still run this file.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools ovmf >/dev/null 2>&1
fi
if ! tools_ok; then
	echo "1..0 # SKIP grub-mkrescue, grub-mknetdir, xorriso, mtools, GRUB for BIOS and UEFI or OVMF missing"
	exit 0
fi
vm_setup
W=$VM_OUT
MEDIA_JOBS=${MEDIA_JOBS:-2}
SERIAL=0123456789ABCDEF
TITLE="loopboot media test"
IMAGE="/My Linux/root.img"
# Another test run may replace the cached initramfs meanwhile: keep a copy.
cp "$INITRD" "$W/initrd.img" || die "a copy of the initramfs"

# The host: a "Windows" NTFS volume with the root image in a directory with a space.
guest_root "$W/root.img" &&
	ntfs_new "$W/host.disk" 96M WINDOWS "$SERIAL" &&
	ntfs_windows "$W/host.disk" &&
	ntfs_mkdir "$W/host.disk" "/My Linux" &&
	ntfs_put "$W/host.disk" "$W/root.img" "$IMAGE" ||
	die "host disk built"
rm -f "$W/root.img"

# ---- the ISO -------------------------------------------------------------------------------
n_iso=$(nonce_new)
cmdline_iso="root=UUID=$SERIAL \"loop=$IMAGE\" rw lbtest.nonce=$n_iso $VM_APPEND_BASE"
start=$(date +%s)
"$LOOPBOOT" iso -o "$W/media.iso" --kernel "$VMLINUZ" --modules-dir "$KMODS" \
	--cmdline "$cmdline_iso" --title "$TITLE" --timeout 0 >"$W/iso.out" 2>&1
ok $? "iso: loopboot iso writes the image, the initramfs built by loopboot itself ($(($(date +%s) - start))s)"
sed 's/^/#   /' "$W/iso.out"
check_hybrid_image iso "$W/media.iso" "linux /boot/vmlinuz root=UUID=$SERIAL 'loop=$IMAGE' rw lbtest.nonce=$n_iso" \
	"$W/iso" "(a USB stick boots under UEFI)" "the path with a space quoted for GRUB"
[ -z "$(find "$W" -maxdepth 1 -name '.media.iso.*')" ]
ok $? "iso: no work files are left beside the image"
# With Debian's signed chain installed, --secure-boot auto puts it in the EFI partition.
SIGNED=0
[ -f /usr/lib/shim/shimx64.efi.signed ] && [ -f /usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed ] &&
	[ -f /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed ] && [ -f /usr/lib/shim/mmx64.efi.signed ] && SIGNED=1
if [ "$SIGNED" = 1 ]; then
	xorriso -osirrox on -indev "$W/media.iso" -extract /efi.img "$W/esp.img" >/dev/null 2>&1 &&
		mcopy -n -i "$W/esp.img" ::/EFI/BOOT/BOOTX64.EFI "$W/esp.loader" 2>/dev/null &&
		cmp -s "$W/esp.loader" /usr/lib/shim/shimx64.efi.signed
	ok $? "iso: the signed chain is installed: the EFI loader is shim (--secure-boot auto)"
	rm -f "$W/esp.img" "$W/esp.loader"
fi

# ---- the netboot tree ----------------------------------------------------------------------
n_pxe=$(nonce_new)
cmdline_pxe="root=UUID=$SERIAL \"loop=$IMAGE\" rw lbtest.nonce=$n_pxe $VM_APPEND_BASE"
start=$(date +%s)
"$LOOPBOOT" pxe "$W/tftp" --kernel "$VMLINUZ" --initrd "$W/initrd.img" \
	--cmdline "$cmdline_pxe" --title "$TITLE" --timeout 0 >"$W/pxe.out" 2>&1
ok $? "pxe: loopboot pxe fills the TFTP directory ($(($(date +%s) - start))s)"
sed 's/^/#   /' "$W/pxe.out"
for f in vmlinuz initrd.img grub/grub.cfg grub/i386-pc/core.0 grub/x86_64-efi/core.efi boot.ipxe; do
	[ -s "$W/tftp/$f" ] || break
done
ok $? "pxe: the tree has vmlinuz, initrd.img, grub/grub.cfg, both GRUB netboot images, boot.ipxe"
cmp -s "$VMLINUZ" "$W/tftp/vmlinuz" && cmp -s "$W/initrd.img" "$W/tftp/initrd.img"
ok $? "pxe: vmlinuz and initrd.img are the given files"
grep -qxF "kernel vmlinuz initrd=initrd.img root=UUID=$SERIAL \"loop=$IMAGE\" rw lbtest.nonce=$n_pxe $VM_APPEND_BASE" "$W/tftp/boot.ipxe" &&
	head -n 1 "$W/tftp/boot.ipxe" | grep -qxF '#!ipxe'
ok $? "pxe: boot.ipxe is an iPXE script with the entry"
[ -z "$(find "$W/tftp" -maxdepth 1 -name '.loopboot-pxe.*')" ]
ok $? "pxe: no work files are left in the tree"
UEFI_BOOT=grub/x86_64-efi/core.efi
if [ "$SIGNED" = 1 ]; then
	cmp -s "$W/tftp/bootnetx64.efi" /usr/lib/shim/shimx64.efi.signed &&
		cmp -s "$W/tftp/grubx64.efi" /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed
	ok $? "pxe: the signed chain is installed: bootnetx64.efi is shim, grubx64.efi Debian's signed netboot GRUB"
	UEFI_BOOT=bootnetx64.efi # UEFI netboot through shim
fi

# ---- the boots -----------------------------------------------------------------------------

boot_start() { # NAME bios|uefi QEMU-ARGS...: in the background, with a copy of the host disk
	local name=$1 fw=$2 fwargs=()
	shift 2
	cp --sparse=always "$W/host.disk" "$W/$name.disk" || return 1
	if [ "$fw" = uefi ]; then
		cp "$OVMF_VARS" "$W/$name.vars" || return 1
		fwargs=(-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE"
			-drive "if=pflash,format=raw,file=$W/$name.vars")
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$MEDIA_JOBS" ]; do wait -n; done
	(
		s=$(date +%s)
		timeout -k 5 "$(vm_timeout)" qemu-system-x86_64 -accel tcg -machine q35 -m "$VM_MEM" \
			-nodefaults -display none -no-reboot -serial stdio "${fwargs[@]}" "$@" \
			-drive "file=$W/$name.disk,format=raw,if=virtio" </dev/null >"$W/$name.console" 2>&1
		echo "$? $(($(date +%s) - s))" >"$W/$name.rc"
	) &
}

boot_checks() { # NAME bios|uefi NONCE HOW: the guest's init ran on the host, wrote the nonce
	local s=$1 fw=$2 n=$3 how=$4 f=$T_FAILED
	vm_bg_result "$s"
	check_booted "$s" /dev/vda fuseblk "/host$IMAGE"
	if [ "$fw" = uefi ]; then
		console_has "efi: EFI v"
		ok $? "$s: the kernel was started by UEFI firmware (OVMF)"
	else
		! console_has "efi: EFI v"
		ok $? "$s: the kernel was started by the BIOS (SeaBIOS)"
	fi
	case $how in
	grub) check "$s: GRUB booted the entry" console_has "Booting \`$TITLE'" ;;
	ipxe) check "$s: iPXE booted the script's kernel line, the spaced word whole" \
		console_has "Command line: initrd=initrd.img root=UUID=$SERIAL \"loop=$IMAGE\" rw" ;;
	esac
	check "$s: the root image can be read back (ntfscat)" ntfs_get "$W/$s.disk" "$IMAGE" "$W/$s.root"
	check_image "$s" "$W/$s.root" "$n"
	scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root" "$W/$s.vars"
}

start=$(date +%s)
cd_iso=(-drive "file=$W/media.iso,format=raw,if=ide,media=cdrom,readonly=on")
usb_iso=(-device qemu-xhci -drive "if=none,id=stick,file=$W/media.iso,format=raw,readonly=on"
	-device "usb-storage,drive=stick,bootindex=0")
tftp() { echo "user,id=n0,tftp=$W/tftp,bootfile=$1"; }
net=(-device "virtio-net-pci,netdev=n0,bootindex=0")
boot_start pxe-bios-grub bios -netdev "$(tftp grub/i386-pc/core.0)" "${net[@]}" -boot n
boot_start pxe-uefi-grub uefi -netdev "$(tftp "$UEFI_BOOT")" "${net[@]}"
boot_start pxe-bios-ipxe bios -netdev "$(tftp boot.ipxe)" "${net[@]}" -boot n
boot_start iso-bios-cd bios "${cd_iso[@]}" -boot d
boot_start iso-uefi-cd uefi "${cd_iso[@]}"
boot_start iso-bios-usb bios "${usb_iso[@]}"
boot_start iso-uefi-usb uefi "${usb_iso[@]}"
wait
note "7 boots, $MEDIA_JOBS at a time: $(($(date +%s) - start))s"

boot_checks iso-bios-cd bios "$n_iso" grub
boot_checks iso-uefi-cd uefi "$n_iso" grub
boot_checks iso-bios-usb bios "$n_iso" grub
boot_checks iso-uefi-usb uefi "$n_iso" grub
boot_checks pxe-bios-grub bios "$n_pxe" grub
boot_checks pxe-uefi-grub uefi "$n_pxe" grub
boot_checks pxe-bios-ipxe bios "$n_pxe" ipxe
for s in iso-bios-cd iso-uefi-cd iso-bios-usb iso-uefi-usb pxe-bios-grub pxe-uefi-grub pxe-bios-ipxe; do
	note "$s: $(cut -d' ' -f2 "$W/$s.rc")s"
done

# ---- refusals: nothing written -------------------------------------------------------------
s=refuse
"$LOOPBOOT" iso --kernel "$VMLINUZ" --initrd "$W/initrd.img" --cmdline "$cmdline_iso" >"$W/$s.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q '^loopboot: iso: -o FILE is missing' "$W/$s.out"
ok $? "$s: iso without -o: exit 2 and a loopboot: line (exit $rc)"
"$LOOPBOOT" iso -o "$W/bad.iso" --kernel "$W/no-such-kernel" --initrd "$W/initrd.img" \
	--cmdline "$cmdline_iso" >"$W/$s.out" 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$W/$s.out")" -eq 1 ] &&
	grep -q "^loopboot: iso: kernel: $W/no-such-kernel: No such file or directory — " "$W/$s.out" &&
	[ ! -e "$W/bad.iso" ]
ok $? "$s: iso with a missing kernel: exit 1, one loopboot: line, no file (exit $rc: $(head -c 200 "$W/$s.out"))"
"$LOOPBOOT" iso -o "$W/bad.iso" --kernel "$VMLINUZ" --initrd "$W/initrd.img" \
	--cmdline "root=UUID=$SERIAL rw" >"$W/$s.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "^loopboot: iso: .*no loop=" "$W/$s.out" && [ ! -e "$W/bad.iso" ]
ok $? "$s: iso for an entry without loop=: exit 2, no file (exit $rc)"
"$LOOPBOOT" pxe "$W/bad-tftp" --kernel "$VMLINUZ" --initrd "$W/initrd.img" \
	--cmdline "root=UUID=$SERIAL \"loop=/My  Linux/root.img\"" >"$W/$s.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "^loopboot: pxe: .*iPXE cannot pass" "$W/$s.out" &&
	[ ! -e "$W/bad-tftp" ]
ok $? "$s: pxe with a word iPXE cannot carry (two blanks): exit 1, the directory not even made (exit $rc)"

# Interrupted while it builds the initramfs: no image, no work directory.
"$LOOPBOOT" iso -o "$W/int.iso" --kernel "$VMLINUZ" --modules-dir "$KMODS" \
	--cmdline "$cmdline_iso" >"$W/$s.out" 2>&1 &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"
rc=$?
[ $rc -eq 130 ] && [ ! -e "$W/int.iso" ] && [ -z "$(find "$W" -maxdepth 1 -name '.int.iso.*')" ]
ok $? "$s: iso interrupted (SIGINT) while building: killed by the signal, nothing left (exit $rc)"

rm -rf "$W/tftp" "$W/bad-tftp"
[ "$T_FAILED" -eq 0 ] && rm -f "$W/media.iso" "$W/host.disk" "$W/initrd.img"
finish
