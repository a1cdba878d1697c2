#!/bin/bash
# One file, VM and metal: a virtual machine's whole disk image, lying on an NTFS host
# (ntfs-3g), boots the machine with loop= naming it; the root is a partition inside.
#
#   disk-raw, disk-vhd, disk-vdi, disk-vmdk
#                 a Debian 12 systemd root in partition 2 of a GPT disk (ESP in 1, /home in
#                 3), as a raw disk, a fixed VHD, a fixed VDI and a VMDK monolithicFlat
#                 (qemu-img), on one NTFS host: loop= names the image, the root partition is
#                 found by its GPT type, /home comes from loopboot.mount=/home:PATH::part=3;
#                 systemd's poweroff hands over to loopboot's teardown
#   own-vhd       the fixed VHD as disk-vhd left it, copied off the host, as the VM's own
#                 disk (-drive format=vpc) with root=PARTUUID= of partition 2 and no loop=:
#                 it sees what disk-vhd wrote, and shuts down clean
#   ref-qcow2, ref-vhd-dynamic, ref-vhdx, ref-vdi-dynamic, ref-ambiguous
#                 refused (busybox roots on a small NTFS host): one line naming the format
#                 and the qemu-img conversion, or listing the partitions; host byte-identical
#   ref-vdi-dynamic-converted, ref-qcow2-converted
#                 the conversion the refusal names, run on the host as written (the VDI's
#                 path has spaces); the converted qcow2 boots
#   amb-part      the ambiguous disk with loopboot.part=PARTLABEL=one and /home from
#                 part=LABEL=lbhome of the same disk
# The same four disks in loopboot.mode=linear, and the refusals in it: test-disk-linear.sh.
# The disk images and their host are built once and cached (sd_disk in tests/lib/roots.sh,
# sd_disk_host in tests/vm/lib-systemd.sh); the guest's tests/vm/guest-disk/lbdisk reports
# what the kernel and `loopboot status` say backs / and /home.
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
sd_disk_begin

# ---- refusals, then the advice followed, and the ambiguous disk named ------------------------
sd_disk_refusal_host "$W/refuse.disk" || die "the refusal host is built"
sd_disk_refusals ref "$W/refuse.disk" ""

# The conversion a refusal names, run as written on the host mounted at $M instead of /host.
run_advice() { # SCENARIO REFUSED-SCENARIO
	local cmd
	cmd=$(sed -n 's/.*"\(qemu-img convert -O raw .*\)", then boot with .*/\1/p' "$W/$2.console" | head -n 1)
	[ -n "$cmd" ]
	ok $? "$1: the command $2's line names (${cmd:-none})"
	# shellcheck disable=SC2016 # for fuse_do's bash
	fuse_do ntfs-3g "$W/refuse.disk" 'cd "$M" && eval "${1//\/host\//$M/}"' "$cmd" >"$W/$1.log" 2>&1
	ok $? "$1: the command, run as written, converted the image on the host$(sed -n '1s/^/ (/p' "$W/$1.log" | sed 's/$/)/')"
}

# A path with spaces: the command must still work as written.
s=ref-vdi-dynamic-converted f=$T_FAILED
run_advice "$s" ref-vdi-dynamic
ntfs_get "$W/refuse.disk" "/VirtualBox VMs/small/dynamic.img" "$W/$s.img" &&
	sfdisk -d "$W/$s.img" 2>/dev/null | grep -q "type=$DISK_ROOT_TYPE"
ok $? "$s: the raw disk is on the host, where the line says, with its partition table"
scenario_done "$s" "$f" "$W/$s.img" "$W/$s.log"

s=ref-qcow2-converted f=$T_FAILED n=$(nonce_new)
run_advice "$s" ref-qcow2
vm_boot "$s" "root=UUID=$SD_NTFS_SERIAL loop=/vm/small.img rw lbtest.nonce=$n" "$W/refuse.disk"
check_booted "$s" /dev/vda fuseblk /host/vm/small.img
ntfs_get "$W/refuse.disk" /vm/small.img "$W/$s.img" &&
	dd if="$W/$s.img" of="$W/$s.root" bs=1M skip=1 count=24 conv=sparse status=none
ok $? "$s: the converted disk can be read back (ntfscat), its partition 1 copied out"
check_image "$s" "$W/$s.root" "$n" "root partition"
scenario_done "$s" "$f" "$W/$s.img" "$W/$s.root" "$W/$s.log"

s=amb-part f=$T_FAILED n=$(nonce_new)
vm_boot "$s" "root=UUID=$SD_NTFS_SERIAL loop=/vm/ambiguous.img loopboot.part=PARTLABEL=one rw loopboot.mount=/home:/vm/ambiguous.img::part=LABEL=lbhome lbtest.nonce=$n" "$W/refuse.disk"
check_booted "$s" /dev/vda fuseblk /host/vm/ambiguous.img
[[ $(lbtest home) == /dev/loop* ]] && [ "$(lbtest home backing)" = /host/vm/ambiguous.img ]
ok $? "$s: /home is a loop device on the same disk image (home=$(lbtest home) backing=$(lbtest home backing))"
ntfs_get "$W/refuse.disk" /vm/ambiguous.img "$W/$s.img" &&
	dd if="$W/$s.img" of="$W/$s.root" bs=1M skip=1 count=24 conv=sparse status=none &&
	dd if="$W/$s.img" of="$W/$s.home" bs=1M skip=25 count=8 conv=sparse status=none
ok $? "$s: the disk can be read back (ntfscat), partitions 1 and 2 copied out"
check_image "$s" "$W/$s.root" "$n" "root partition (1)"
check_image "$s" "$W/$s.home" "$n" "home partition (2)"
scenario_done "$s" "$f" "$W/$s.img" "$W/$s.root" "$W/$s.home" "$W/refuse.disk"

# ---- the systemd root in each format, loop devices -------------------------------------------
t=$(date +%s)
sd_disk_host "$W/host.disk" || die "the disk images and their NTFS host are built"
note "disk images and host ready in $(($(date +%s) - t))s ($SD_DISK)"
for fmt in $SD_DISK_FORMATS; do
	s=disk-$fmt f=$T_FAILED n=$(nonce_new)
	p=$(sd_disk_path "$fmt")
	vm_boot "$s" "root=UUID=$SD_NTFS_SERIAL \"loop=$p\" rw \"loopboot.mount=/home:$p::part=3\" systemd.show_status=1 lbtest.nonce=$n lbtest.action=poweroff" "$W/host.disk"
	sd_boot_checks "$s" /dev/vda fuseblk
	[ "$(sd_lbtest disk-prev-root)" = none ]
	ok $? "$s: the root partition is as built (no earlier /var/lbtest-root: $(sd_lbtest disk-prev-root))"
	sd_disk_guest_checks "$s" "$fmt" loop
	sd_ntfs3g_checks "$s" "systemd's final killing spree spared ntfs-3g"
	sd_disk_console_checks "$s" /dev/vda
	sd_disk_read_back "$s" "$fmt" "$W/host.disk" "$W/$s.d" "$n"
	got=
	ntfs_get "$W/host.disk" /lbtest-host "$W/$s.host" && got=$(cat "$W/$s.host")
	[ "$got" = "$n" ]
	ok $? "$s: /lbtest-host on the host holds the nonce (got '${got:-nothing}')"
	if [ "$fmt" = vhd ]; then
		cp "$W/$s.d/disk.vhd" "$W/own-vhd.vhd" && VHD_NONCE=$n
	fi
	[ "$T_FAILED" -gt "$f" ] || rm -rf "$W/$s.d"
	scenario_done "$s" "$f" "$W/$s.host"
done

# ---- the same VHD file as the virtual machine's own disk -----------------------------------
s=own-vhd f=$T_FAILED n=$(nonce_new)
[ -s "$W/$s.vhd" ] || die "$s: disk-vhd left its VHD"
vm_boot_watched "$s" "root=PARTUUID=${DISK_ROOT_PARTUUID,,} rw systemd.show_status=1 lbtest.nonce=$n lbtest.action=poweroff" : \
	-drive "file=$W/$s.vhd,format=vpc,if=virtio"
[ "$VM_RC" -eq 0 ]
ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
got="$(sd_lbtest disk-root) $(sd_lbtest disk-root fstype) partition=$(sd_lbtest disk-root partition) partuuid=$(sd_lbtest disk-root partuuid)"
[ "$got" = "/dev/vda2 ext4 partition=2 partuuid=${DISK_ROOT_PARTUUID,,}" ]
ok $? "$s: / is partition 2 of the VM's disk, found by its PARTUUID ($got)"
! grep -aqE 'LBTEST disk-state (loop|dm) ' "$VM_LOG" && [ "$(sd_lbtest host)" = none ]
ok $? "$s: no loop device, no mapping, no host: the engine booted a plain root"
[ "$(sd_lbtest disk-prev-root)" = "${VHD_NONCE:-?}" ]
ok $? "$s: the VM sees what the machine wrote into the file through loopboot (/var/lbtest-root: $(sd_lbtest disk-prev-root))"
console_has "LBTEST wrote /var/lbtest-root" && console_has "lbtest login:" && console_has "reboot: Power down"
ok $? "$s: multi-user (the login prompt), the guest wrote its nonce and powered off"
bad=$(grep -aE "$SD_BAD_CONSOLE" "$VM_LOG" | head -n 3 | tr '\n' '|')
[ -z "$bad" ]
ok $? "$s: no I/O error, file system error, panic or oops on the console${bad:+ ($bad)}"
[ "$(stat -c %s "$W/$s.vhd")" = "$(stat -c %s "$SD_DISK/disk.vhd")" ] &&
	[ "$(tail -c 512 "$W/$s.vhd" | head -c 8)" = conectix ]
ok $? "$s: the file is still a fixed VHD of its size (the footer's conectix in the last 512 bytes)"
qemu-img convert -f vpc -O raw "$W/$s.vhd" "$W/$s.raw" &&
	dd if="$W/$s.raw" of="$W/$s.root" bs=1M iflag=skip_bytes,count_bytes skip="$DISK_ROOT_OFFSET" \
		count="$DISK_ROOT_BYTES" conv=sparse status=none
ok $? "$s: qemu-img converts the VHD, partition 2 copied out"
sd_image_checks "$s" "$W/$s.root" "root partition" /var/lbtest-root "$n"
scenario_done "$s" "$f" "$W/$s.vhd" "$W/$s.raw" "$W/$s.root" "$W/host.disk"

note "total $(($(date +%s) - start))s"
finish
