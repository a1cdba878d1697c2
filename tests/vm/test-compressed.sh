#!/bin/bash
# Compressed kernel modules, as Ubuntu's, Arch's and Fedora's kernels ship them: the
# default set's modules recompressed two ways (file systems .ko.zst, the rest .ko.xz),
# indexed with depmod, and built into an initramfs from that tree. Debian's kernel does not
# decompress modules itself (no CONFIG_MODULE_DECOMPRESS), so every module the boot needs
# (virtio_pci, virtio_blk, ext4, loop...) goes through libkmod's own decompression: the
# bundled libkmod dlopen()s libzstd and liblzma, which `loopboot initrd` adds because such
# modules are in. (.ko.gz is left out: Debian 12's depmod is built without zlib and does
# not index such modules.) An ext4 host, a root image.
. "$(dirname "$0")/lib.sh"
vm_require
vm_kernel || die "Debian's kernel is in the cache ($LB_CACHE/kernel)"
W=$VM_OUT
LINUX_DATA=0FC63DAF-8483-4772-8E79-3D69D8477DE4

grep -q '^CONFIG_MODULE_DECOMPRESS=y' "$(dirname "$VMLINUZ")/config-$KVER" 2>/dev/null &&
	note "this kernel decompresses modules itself: libkmod hands them over compressed"

# The default set's modules, from an uncompressed build.
"$LOOPBOOT" initrd -o "$W/plain.cpio" --modules-dir "$KMODS" --compress none >"$W/plain.log" 2>&1 ||
	die "loopboot initrd builds the default set (log: $W/plain.log)"
mkdir -p "$W/plain" && (cd "$W/plain" && cpio -idm --quiet <"$W/plain.cpio" 2>/dev/null)
Z=$W/zroot/lib/modules/$KVER
mkdir -p "$(dirname "$Z")" && cp -a "$W/plain/usr/lib/modules/$KVER" "$Z" || die "the staged modules copied"
rm -rf "$W/plain" "$W/plain.cpio"
(
	cd "$Z" || exit 1
	find kernel -name '*.ko' | while read -r f; do
		case $f in
		kernel/fs/*) zstd -q --rm "$f" -o "$f.zst" ;;
		*) xz --check=crc32 "$f" ;;
		esac || exit 1
	done
	sed -i -e 's|^\(kernel/fs/.*\.ko\)$|\1.zst|' -e 's|\.ko$|.ko.xz|' modules.order
) && depmod -b "$W/zroot" "$KVER" || die "the modules recompressed and indexed (depmod)"
check "the tree has .ko.zst and .ko.xz modules and no plain .ko" bash -c "
	cd '$Z' && find kernel -name '*.ko.zst' | grep -q . && find kernel -name '*.ko.xz' | grep -q . &&
	! find kernel -name '*.ko' | grep -q ."
check "depmod indexed every module" test "$(grep -c . "$Z/modules.dep")" -eq "$(find "$Z/kernel" -name '*.ko.*' | wc -l)"

INITRD=$W/compressed.img
"$LOOPBOOT" initrd -o "$INITRD" --modules-dir "$Z" --compress zstd >"$W/initrd.log" 2>&1
ok $? "loopboot initrd builds from the compressed modules"
sed 's/^/#   /' "$W/initrd.log"
mkdir -p "$W/u" && zstd -dc "$INITRD" | (cd "$W/u" && cpio -idm --quiet 2>/dev/null)
if readelf -d "$LOOPBOOT" | grep -q 'NEEDED.*libkmod'; then
	note "loopboot links the system's libkmod: its decompressors are DT_NEEDED"
fi
for lib in libzstd.so.1 liblzma.so.5; do
	check "$lib is in the initramfs" bash -c "ls '$W/u'/usr/lib/*/$lib >/dev/null 2>&1"
done
check "the modules are in compressed (ext4.ko.zst, virtio_blk.ko.xz, virtio_pci.ko.xz)" bash -c "
	find '$W/u/usr/lib/modules' -name ext4.ko.zst | grep -q . &&
	find '$W/u/usr/lib/modules' -name virtio_blk.ko.xz | grep -q . &&
	find '$W/u/usr/lib/modules' -name virtio_pci.ko.xz | grep -q ."
check "libz stays out (no .ko.gz module)" bash -c "! ls '$W/u'/usr/lib/*/libz.so.* 2>/dev/null | grep -q ."
rm -rf "$W/u"

s=compressed f=$T_FAILED n=$(nonce_new)
mkdir -p "$W/$s.host.d/linux"
disk_gpt "$W/$s.disk" 64 3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b linux-host "$LINUX_DATA" &&
	guest_root "$W/$s.host.d/linux/root.img" &&
	mke2fs -q -F -t ext4 -L lbhost -d "$W/$s.host.d" "$W/$s.part" \
		"$(($(part_size "$W/$s.disk") / 1024))k" >/dev/null &&
	part_write "$W/$s.disk" "$W/$s.part" ||
	die "$s: host disk built"
rm -rf "$W/$s.host.d" "$W/$s.part"
vm_boot "$s" "root=PARTLABEL=linux-host loop=/linux/root.img rw lbtest.nonce=$n" "$W/$s.disk"
check_booted "$s" /dev/vda1 ext4 /linux/root.img
! grep -aqiE 'could not load|failed to (load|insert)|decompress' "$VM_LOG"
ok $? "$s: no module failed to load or decompress"
part_read "$W/$s.disk" "$W/$s.part"
check_read_back "$s" "$W/$s.part" ext4_get debugfs "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.part" "$W/$s.root"
rm -rf "$W/zroot"

finish
