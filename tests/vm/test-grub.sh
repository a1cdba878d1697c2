#!/bin/bash
# GRUB boots the kernel from inside the root image: `loopboot grub` writes the menuentry
# with the host disk attached here (it reads the kernel's name from inside the image, with
# nothing mounted), grub-mkrescue makes a BIOS-bootable GRUB image with it, and QEMU boots
# that (no -kernel): GRUB searches the NTFS host by its serial, opens /linux/root.img (and,
# nested, an image inside an image) with loopback under a device name of its own, loads
# /boot/vmlinuz and /boot/initrd.img from inside it, and the kernel with loopboot's
# initramfs boots the same image as the root.
. "$(dirname "$0")/lib.sh"
vm_require
if ! command -v grub-mkrescue >/dev/null || ! command -v xorriso >/dev/null ||
	[ ! -d /usr/lib/grub/i386-pc ]; then
	# scripts/deps lists them; a machine set up before that can still run this file.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		grub-pc-bin grub-common xorriso >/dev/null 2>&1
fi
if ! command -v grub-mkrescue >/dev/null || ! command -v xorriso >/dev/null ||
	[ ! -d /usr/lib/grub/i386-pc ]; then
	echo "1..0 # SKIP grub-mkrescue, xorriso or GRUB's i386-pc modules missing (grub-pc-bin)"
	exit 0
fi
vm_setup
W=$VM_OUT
SERIAL=0123456789ABCDEF

# A guest root with the kernel and loopboot's initramfs in its /boot, as an installed
# system has them.
root_with_kernel() { # OUT
	local t
	t=$(mktemp -d "$W/.tree.XXXXXX")
	guest_root_tree "$t"
	mkdir -p "$t/boot"
	cp "$VMLINUZ" "$t/boot/vmlinuz-$KVER"
	cp "$INITRD" "$t/boot/initrd.img-$KVER"
	ln -s "vmlinuz-$KVER" "$t/boot/vmlinuz"
	ln -s "initrd.img-$KVER" "$t/boot/initrd.img"
	mke2fs -q -F -t ext4 -L lbroot -d "$t" "$1" 96M >/dev/null
	local rc=$?
	rm -rf "$t"
	return $rc
}

# A GRUB image whose only entry is what `loopboot grub` printed; the console on serial.
grub_iso() { # OUT ENTRY-FILE
	local t
	t=$(mktemp -d "$W/.iso.XXXXXX")
	mkdir -p "$t/boot/grub"
	{
		echo "serial --unit=0 --speed=115200"
		echo "terminal_input serial"
		echo "terminal_output serial"
		echo "set timeout=0"
		echo "set default=0"
		cat "$2"
	} >"$t/boot/grub/grub.cfg"
	grub-mkrescue -o "$1" "$t" >"$W/grub-mkrescue.log" 2>&1
	local rc=$?
	rm -rf "$t"
	return $rc
}

grub_boot() { # NAME ISO DISK
	VM_LOG=$W/$1.console
	local start
	start=$(date +%s)
	timeout -k 5 "$(vm_timeout)" qemu-system-x86_64 -accel tcg -machine q35 -m "$VM_MEM" \
		-nodefaults -display none -no-reboot -serial stdio \
		-drive "file=$2,format=raw,if=ide,media=cdrom,readonly=on" \
		-drive "file=$3,format=raw,if=virtio" -boot d </dev/null >"$VM_LOG" 2>&1
	VM_RC=$?
	VM_SECS=$(($(date +%s) - start))
	sed -i 's/\r$//' "$VM_LOG"
}

# The entry for DISK's image as `loopboot grub` writes it with the disk attached here (a
# read-only loop device of ours): it reads the kernel's name from inside the image itself.
grub_entry() { # DISK OUT ARGS...
	local disk=$1 out=$2 dev rc
	shift 2
	dev=$(losetup -f --show -r "$disk") || return 1
	udevadm settle 2>/dev/null
	"$LOOPBOOT" grub "$@" >"$out" 2>"$out.err"
	rc=$?
	losetup -d "$dev"
	sed 's/^/#   stderr: /' "$out.err"
	return $rc
}
loop_name() { sed -n "s|^	loopback \(loopboot-[0-9a-f]\{8\}\) $1\$|\1|p" "$2"; } # FILE-IN-GRUB ENTRY

# ---- the image on an NTFS host, the kernel inside it ---------------------------------------
s=grub-ntfs f=$T_FAILED n=$(nonce_new)
root_with_kernel "$W/$s.root" &&
	ntfs_host "$W/$s.disk" 256M WINDOWS "$SERIAL" "$W/$s.root" ||
	die "$s: host disk built"
cmdline="root=UUID=$SERIAL loop=/linux/root.img rw lbtest.nonce=$n $VM_APPEND_BASE"
grub_entry "$W/$s.disk" "$W/$s.entry" --cmdline "$cmdline" --title "loopboot test"
ok $? "$s: loopboot grub writes the entry"
sed 's/^/#   /' "$W/$s.entry"
dev=$(loop_name /linux/root.img "$W/$s.entry")
check "$s: the entry opens the image with loopback, a device name of its own (${dev:-none})" test -n "$dev"
check "$s: the kernel's name was read from inside the image (its /boot/vmlinuz link)" grep -qxF "	linux ($dev)/boot/vmlinuz $cmdline" "$W/$s.entry"
grub_iso "$W/$s.iso" "$W/$s.entry" || die "$s: grub-mkrescue builds a GRUB image (log: $W/grub-mkrescue.log)"
grub_boot "$s" "$W/$s.iso" "$W/$s.disk"
check_booted "$s" /dev/vda fuseblk /host/linux/root.img
check "$s: GRUB booted the entry" console_has "Booting \`loopboot test'"
check "$s: the kernel came from inside the image" console_has "Command line: BOOT_IMAGE=($dev)/boot/vmlinuz root=UUID=$SERIAL loop=/linux/root.img rw"
check "$s: GRUB printed no error (removing a stale device that is not there is quiet)" bash -c "! grep -a '^error: ' '$VM_LOG'"
rm -f "$W/$s.root"
check_read_back "$s" "$W/$s.disk" ntfs_get ntfscat "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root" "$W/$s.iso"

# ---- nested: the root image inside an image on the NTFS host, a path with a space ----------
s=grub-nested f=$T_FAILED n=$(nonce_new)
mkdir -p "$W/.outer/images"
root_with_kernel "$W/.outer/images/root.img" &&
	mke2fs -q -F -t ext4 -L outer -d "$W/.outer" "$W/$s.outer" 160M >/dev/null &&
	ntfs_new "$W/$s.disk" 256M WINDOWS "$SERIAL" &&
	ntfs_windows "$W/$s.disk" &&
	ntfs_mkdir "$W/$s.disk" "/My Linux" &&
	ntfs_put "$W/$s.disk" "$W/$s.outer" "/My Linux/outer.img" ||
	die "$s: host disk built"
rm -rf "$W/.outer"
cmdline="root=UUID=$SERIAL \"loop=/My Linux/outer.img//images/root.img\" rw lbtest.nonce=$n $VM_APPEND_BASE"
grub_entry "$W/$s.disk" "$W/$s.entry" --cmdline "$cmdline"
ok $? "$s: loopboot grub writes the entry"
sed 's/^/#   /' "$W/$s.entry"
outer=$(loop_name "'/My Linux/outer.img'" "$W/$s.entry")
dev=$(loop_name "($outer)/images/root.img" "$W/$s.entry")
check "$s: the entry chains the inner image's device inside the outer's (${outer:-none}, ${dev:-none})" \
	bash -c "[ -n '$outer' ] && [ -n '$dev' ] && [ '$outer' != '$dev' ]"
grub_iso "$W/$s.iso" "$W/$s.entry" || die "$s: grub-mkrescue builds a GRUB image (log: $W/grub-mkrescue.log)"
grub_boot "$s" "$W/$s.iso" "$W/$s.disk"
check_booted "$s" /dev/vda fuseblk /images/root.img
check "$s: the kernel came from the inner image, the path with a space quoted for the kernel" \
	console_has "Command line: BOOT_IMAGE=($dev)/boot/vmlinuz root=UUID=$SERIAL \"loop=/My Linux/outer.img//images/root.img\" rw"
rm -f "$W/$s.outer"
check "$s: the outer image can be read back (ntfscat)" ntfs_get "$W/$s.disk" "/My Linux/outer.img" "$W/$s.outer"
check "$s: the inner image can be read back" ext4_get "$W/$s.outer" /images/root.img "$W/$s.root"
check_image "$s" "$W/$s.root" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.outer" "$W/$s.root" "$W/$s.iso"

finish
