#!/bin/bash
# test-disk.sh's virtual machine disk images in loopboot.mode=linear: each partition
# mapped with device-mapper straight onto the host disk's sectors (the image's extents from
# libntfs-3g), no loop device and no FUSE in the root's I/O; the host read-only at /host.
#
#   lin-raw, lin-vhd, lin-vdi, lin-vmdk
#                 the Debian 12 systemd root in partition 2 of the raw disk, the fixed VHD,
#                 the fixed VDI and the VMDK monolithicFlat on the cached NTFS host, /home
#                 from part=3 of the same image; systemd's poweroff, then loopboot's
#                 teardown; what was written through the mappings is read back from the
#                 host, in the partitions qemu-img sees
#   lin-ref-qcow2, lin-ref-vhd-dynamic, lin-ref-vhdx, lin-ref-vdi-dynamic, lin-ref-ambiguous
#                 the refusals of test-disk.sh, in linear mode: the same line, the host
#                 byte-identical
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
sd_disk_begin

sd_disk_host "$W/host.disk" || die "the disk images and their NTFS host are built"
note "disk images and host ready in $(($(date +%s) - start))s ($SD_DISK)"
for fmt in $SD_DISK_FORMATS; do
	s=lin-$fmt f=$T_FAILED n=$(nonce_new)
	p=$(sd_disk_path "$fmt")
	file=$(sd_disk_bytes_path "$fmt")
	vm_boot "$s" "root=UUID=$SD_NTFS_SERIAL \"loop=$p\" rw loopboot.mode=linear \"loopboot.mount=/home:$p::part=3\" systemd.show_status=1 lbtest.nonce=$n lbtest.action=poweroff" "$W/host.disk"
	[ "$VM_RC" -eq 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	got="root=$(sd_lbtest root) $(sd_lbtest root fstype) home=$(sd_lbtest home) $(sd_lbtest home fstype) host=$(sd_lbtest host) $(sd_lbtest host fstype)"
	[[ $got =~ ^root=/dev/dm-[0-9]+\ ext4\ home=/dev/dm-[0-9]+\ ext4\ host=/dev/mapper/loopboot-host\ fuseblk$ ]]
	ok $? "$s: / and /home are ext4 on device-mapper devices, /host is ntfs-3g on the read-only mapping ($got)"
	got=$(grep -ac "^loopboot: $file: mapped linearly on /dev/vda as /dev/dm-[0-9]* (loopboot-\(root\|home\), [0-9]* extents\?)" "$VM_LOG")
	[ "$got" -eq 2 ]
	ok $? "$s: the engine mapped two pieces of $file linearly on /dev/vda ($got lines)"
	! grep -aq 'LBTEST disk-state loop ' "$VM_LOG" && grep -aq 'LBTEST disk-state host .* ro=1 .*mode=linear' "$VM_LOG"
	ok $? "$s: no loop device in the state record; the host read-only, mode linear"
	console_has "LBTEST wrote /var/lbtest-root /home/lbtest-home" && console_has "LBTEST cannot write /host/lbtest-host"
	ok $? "$s: the guest wrote to / and /home, and could not write to the read-only host"
	[ "$(sd_lbtest disk-prev-root)" = none ]
	ok $? "$s: the root partition is as built (no earlier /var/lbtest-root: $(sd_lbtest disk-prev-root))"
	sd_disk_guest_checks "$s" "$fmt" linear
	sd_ntfs3g_checks "$s" "systemd's final killing spree spared ntfs-3g"
	sd_disk_console_checks "$s" /dev/dm-0
	bad=$(grep -a 'removing the device-mapper' "$VM_LOG" | head -n 1)
	[ -z "$bad" ]
	ok $? "$s: every mapping was removed at shutdown${bad:+ ($bad)}"
	sd_disk_read_back "$s" "$fmt" "$W/host.disk" "$W/$s.d" "$n"
	! ntfs_get "$W/host.disk" /lbtest-host "$W/$s.host"
	ok $? "$s: the read-only host has no /lbtest-host"
	[ "$T_FAILED" -gt "$f" ] || rm -rf "$W/$s.d"
	scenario_done "$s" "$f" "$W/$s.host"
done
rm -f "$W/host.disk"

sd_disk_refusal_host "$W/refuse.disk" || die "the refusal host is built"
sd_disk_refusals lin-ref "$W/refuse.disk" loopboot.mode=linear
[ "$T_FAILED" -gt 0 ] || rm -f "$W/refuse.disk"

note "total $(($(date +%s) - start))s"
finish
