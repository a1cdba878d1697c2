#!/bin/bash
# A BitLocker host in a VM: NTFS with /linux/root.img inside a BitLocker volume made by
# tests/lib/bitlocker.py (AES-XTS, a recovery-password protector), the recovery password in
# a file on a second disk (ext4, label LBKEYS), and an initramfs from `loopboot initrd
# --bitlocker`. Debian's kernel has device-mapper and dm-crypt: the engine opens the volume
# through libcryptsetup, mounts the NTFS inside from the mapping, boots the image's init,
# which writes a nonce; after poweroff the file system is read back out of the volume with
# the FVEK (the nonce is there), and the BitLocker metadata (boot sector, the three FVE
# areas) is byte-identical. Then the shutdown: a busybox root that writes to /, /home and
# /host and ends with the documented exec /run/initramfs/loopboot-shutdown poweroff; the
# stack, the host and then the mapping are taken down, and every write is in the volume.
# Without loopboot.bitlocker= the same disk is refused with one line and stays
# byte-identical.
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
vm_require
vm_kernel || die "Debian's kernel is in the cache ($LB_CACHE/kernel)"
W=$VM_OUT
INITRD=$W/initrd-bitlocker.img
"$LOOPBOOT" initrd -o "$INITRD" --modules-dir "$KMODS" --bitlocker >"$W/initrd.log" 2>&1 ||
	{ sed 's/^/# /' "$W/initrd.log"; die "loopboot initrd --bitlocker builds"; }
note "kernel $KVER, initramfs $INITRD ($(du -k "$INITRD" | cut -f1) KiB, with --bitlocker)"
BL=$TOP/tests/lib/bitlocker.py
PW=111111-222222-333333-444444-555555-666666-700007-000011

meta_sum() { # VOLUME: the BitLocker metadata's bytes: sector 0 and the three FVE areas
	python3 - "$1" <<'PY'
import hashlib, struct, sys
f = open(sys.argv[1], "rb")
boot = f.read(512)
h = hashlib.sha256(boot)
for off in struct.unpack_from("<QQQ", boot, 176):
    f.seek(off)
    h.update(f.read(65536))
print(h.hexdigest())
PY
}

s=bitlocker-keyfile f=$T_FAILED n=$(nonce_new)
guest_root "$W/$s.root" &&
	ntfs_host "$W/$s.win" 95M WINDOWS 0B17C0DE0B17C0DE "$W/$s.root" &&
	python3 "$BL" "$W/$s.win" "$W/$s.disk" 96 "$PW" "$W/$s.fvek" >/dev/null ||
	die "$s: BitLocker host disk built"
rm -f "$W/$s.win" "$W/$s.root"
mkdir -p "$W/keys" && echo "$PW" >"$W/keys/pc07.txt" &&
	mke2fs -q -F -t ext4 -L LBKEYS -d "$W/keys" "$W/$s.keys" 8M || die "$s: key disk built"
check "$s: the disk is a BitLocker volume (blkid)" test "$(blkid -p -o value -s TYPE "$W/$s.disk")" = BitLocker
check "$s: cryptsetup accepts the recovery password" \
	bash -c "echo -n '$PW' | cryptsetup open --test-passphrase --type bitlk '$W/$s.disk' --key-file -"
meta_before=$(meta_sum "$W/$s.disk")
vm_boot "$s" "root=/dev/vda loop=/linux/root.img rw loopboot.bitlocker=LABEL=LBKEYS:/pc07.txt lbtest.nonce=$n" \
	"$W/$s.disk" "$W/$s.keys"
console_has "loopboot: BitLocker host /dev/vda opened as /dev/dm-"
ok $? "$s: the engine opened the BitLocker volume"
check_booted "$s" "$(lbtest host)" fuseblk /host/linux/root.img
[[ $(lbtest host) == /dev/dm-* || $(lbtest host) == /dev/mapper/* ]]
ok $? "$s: /host is mounted from the dm-crypt mapping (host=$(lbtest host))"
check "$s: the BitLocker metadata is byte-identical (boot sector, FVE areas)" \
	test "$(meta_sum "$W/$s.disk")" = "$meta_before"
check "$s: the NTFS inside can be read back out of the volume (the FVEK)" \
	python3 "$BL" decrypt "$W/$s.disk" "$W/$s.fvek" "$W/$s.ntfs"
check_read_back "$s" "$W/$s.ntfs" ntfs_get ntfscat "$n"
scenario_done "$s" "$f" "$W/$s.ntfs" "$W/$s.root"

s=bitlocker-shutdown f=$T_FAILED n=$(nonce_new)
bb_root "$W/$s.root" && plain_image "$W/$s.home" "home image" &&
	ntfs_host "$W/$s.win" 95M WINDOWS 0B17C0DE0B17C0DE "$W/$s.root" "$W/$s.home" &&
	python3 "$BL" "$W/$s.win" "$W/$s.disk" 96 "$PW" "$W/$s.fvek" >/dev/null ||
	die "$s: BitLocker host disk built"
rm -f "$W/$s.win" "$W/$s.root" "$W/$s.home"
meta_before=$(meta_sum "$W/$s.disk")
vm_boot "$s" "root=/dev/vda loop=/linux/root.img rw loopboot.mount=/home:/linux/home.img loopboot.bitlocker=LABEL=LBKEYS:/pc07.txt lbtest.nonce=$n lbtest.action=poweroff" \
	"$W/$s.disk" "$W/bitlocker-keyfile.keys"
console_has "LBTEST wrote /var/lbtest-root /home/lbtest-home /host/lbtest-host"
ok $? "$s: the guest wrote to /, /home and /host"
line=$(grep -a -m1 '^loopboot: images unmounted, loop devices detached, host' "$VM_LOG")
[ "$line" = "loopboot: images unmounted, loop devices detached, host /dev/dm-0 unmounted" ]
ok $? "$s: loopboot took the stack down (${line:-no such line})"
! grep -aq -e 'removing the device-mapper device' -e '^loopboot: warning' "$VM_LOG"
ok $? "$s: the mapping was removed after the host, without a warning"
console_has "reboot: Power down"
ok $? "$s: the kernel powered off"
bad=$(grep -aE "$SD_BAD_CONSOLE" "$VM_LOG" | head -n 3 | tr '\n' '|')
[ -z "$bad" ]
ok $? "$s: no I/O error, panic or oops on the console${bad:+ ($bad)}"
check "$s: the BitLocker metadata is byte-identical" test "$(meta_sum "$W/$s.disk")" = "$meta_before"
python3 "$BL" decrypt "$W/$s.disk" "$W/$s.fvek" "$W/$s.ntfs"
sd_host_read "$s" ntfs "$W/$s.ntfs" "$W/$s.root" "$W/$s.home" "$W/$s.host"
sd_written_checks "$s" $? "$W/$s.root" "$W/$s.home" "$W/$s.host" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.fvek" "$W/$s.ntfs" "$W/$s.root" "$W/$s.home" "$W/$s.host"

s=bitlocker-refused f=$T_FAILED
before=$(sha256sum <"$W/bitlocker-keyfile.disk")
vm_boot "$s" "root=/dev/vda loop=/linux/root.img rw" "$W/bitlocker-keyfile.disk"
check_failed "$s" "a BitLocker volume" "$W/bitlocker-keyfile.disk" "$before"
check "$s: the line says what to write" console_has "add loopboot.bitlocker=ask"
scenario_done "$s" "$f" "$W/bitlocker-keyfile.disk" "$W/bitlocker-keyfile.fvek" \
	"$W/bitlocker-keyfile.keys"
rm -rf "$W/keys" "$INITRD"

finish
