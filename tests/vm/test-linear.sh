#!/bin/bash
# loopboot.mode=linear: the root image's extents mapped with device-mapper on the host
# device, no loop device and no host driver in the root's I/O path.
#
#   lin-ext4    GPT partition with ext4, fully allocated /linux/root.img and, at /home,
#               /linux/home.img (FIEMAP; two mappings)
#   lin-fat     FAT32 whole disk, /linux/root.img fragmented on purpose (FIEMAP, vfat)
#   lin-ntfs    NTFS whole disk served by ntfs-3g: extents from libntfs-3g
#   lin-sparse  ext4 host whose root.img is sparse: refused, one warning, loop device
#   lin-nested  ext4 host, loop=/vm/outer.img//images/root.img: the outer image mapped, the
#               inner one on a loop device inside it
#   lin-sd      the Debian 12 systemd root of test-shutdown.sh on NTFS with /home, linear:
#               `systemctl poweroff`, systemd-shutdown hands over to loopboot's teardown
#
# The guest (tests/vm/guest-linear/init) reports what backs / and /host, the state record
# and `loopboot status`, tries to write to the host, writes a nonce and 4 MiB of random data
# through the mapping, and shuts down with `exec /run/initramfs/loopboot-shutdown poweroff`
# (the teardown removes the mappings). Afterwards the image is read back from the host disk
# with the host's own tools: the nonce and the data must be in the file, and it must be clean.
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
vm_require
vm_setup
W=$VM_OUT
LINUX_DATA=0FC63DAF-8483-4772-8E79-3D69D8477DE4
VM_MEM=${VM_MEM_LINEAR:-768}

# mke2fs -d turns zero blocks into holes: a fully allocated file on ext4 needs the kernel's
# ext4 (a loop mount in a private mount namespace; there is no tool that writes it).
ext4_put_full() { # FSFILE SRC DEST
	unshare -m --propagation private bash -c '
		set -e
		M=$(mktemp -d)
		mount -o loop "$1" "$M"
		mkdir -p "$M/$(dirname "$3")"
		cp --sparse=never "$2" "$M/$3"
		sync
		umount "$M"
		rmdir "$M"' ext4_put_full "$1" "$2" "$3"
}

# Guest lines: "LBTEST state dm device=/dev/dm-1 name=loopboot-root extents=3 ..."
state_field() { # KIND FIELD: from the first state record of KIND
	grep -a "^LBTEST state $1 " "$VM_LOG" | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# The checks of a linear boot. HOSTTYPE is the guest's fstype for /host.
check_linear() { # SCENARIO HOSTTYPE MIN_EXTENTS [IMAGES]
	local s=$1 root rootdm host hostdm n st images=${4:-1} total
	root=$(lbtest root)
	rootdm=$(lbtest root dm)
	host=$(lbtest host)
	hostdm=$(lbtest host dm)
	[ "$VM_RC" -eq 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	[[ $root == /dev/dm-* ]] && [ "$rootdm" = loopboot-root ] && [ "$(lbtest root fstype)" = ext4 ]
	ok $? "$s: / is the device-mapper device loopboot-root with ext4 (root=${root:-?} dm=${rootdm:-?})"
	! grep -aq '^LBTEST state loop ' "$VM_LOG"
	ok $? "$s: no loop device in the state record"
	[[ $host == /dev/dm-* ]] && [ "$hostdm" = loopboot-host ] && [ "$(lbtest host fstype)" = "$2" ] &&
		[ "$(lbtest host ro)" = 1 ]
	ok $? "$s: /host is $2 on the read-only mapping loopboot-host (host=${host:-?} dm=${hostdm:-?} ro=$(lbtest host ro))"
	console_has "LBTEST host-write=refused" && console_has "LBTEST host-remount=refused"
	ok $? "$s: the host cannot be written nor remounted writable"
	n=$(state_field dm extents)
	[ -n "$n" ] && [ "$n" -ge "$3" ]
	ok $? "$s: the state record has the dm record with $3 or more extents (extents=${n:-?})"
	st=$(grep -a '^LBTEST status mode:' "$VM_LOG" | head -n 1)
	total=$(grep -a '^LBTEST state dm ' "$VM_LOG" | sed -n 's/.* extents=\([0-9]*\).*/\1/p' | awk '{ t += $1 } END { print t + 0 }')
	[[ $st == *"linear: $images image"*" mapped, $total extent"* ]] && grep -aq "^LBTEST status dm: .*(loopboot-root)" "$VM_LOG"
	ok $? "$s: loopboot status shows the mode and the extent count (${st#LBTEST status })"
	console_has "loopboot: images unmounted, loop devices detached, host" && console_has "reboot: Power down"
	ok $? "$s: the shutdown took the stack down and powered off"
	! grep -aqE 'I/O error|Buffer I/O|EXT4-fs (error|warning)|Kernel panic|Oops|loopboot: warning:' "$VM_LOG"
	ok $? "$s: no I/O error, file system error, panic or loopboot warning on the console"
}

# The image as read back from the host: the nonce, the data, clean.
check_written() { # SCENARIO IMAGE NONCE
	local s=$1 img=$2 got="" sum="" want
	want=$(lbtest data)
	if debugfs -R "dump /lbtest-nonce $img.nonce" "$img" >/dev/null 2>&1; then got=$(cat "$img.nonce"); fi
	if debugfs -R "dump /lbtest-data $img.data" "$img" >/dev/null 2>&1; then sum=$(sha256sum <"$img.data" | cut -d' ' -f1); fi
	rm -f "$img.nonce" "$img.data"
	[ "$got" = "$3" ]
	ok $? "$s: the nonce written through the mapping is in the image file (got '${got:-nothing}')"
	[ -n "$want" ] && [ "$sum" = "$want" ]
	ok $? "$s: the 4 MiB written through the mapping are in the image file (sha256 ${sum:0:12}…)"
	check "$s: the image is clean as the guest left it (e2fsck -fn)" e2fsck -fn "$img"
}

# ---- lin-ext4 ---------------------------------------------------------------------------
s=lin-ext4 f=$T_FAILED n=$(nonce_new)
disk_gpt "$W/$s.disk" 128 7b1d5c2e-6a3f-4e2b-9c8d-0e1f2a3b4c5d lb-linear "$LINUX_DATA" &&
	linear_root "$W/$s.root" &&
	plain_image "$W/$s.home" home-marker 16 &&
	mke2fs -q -F -t ext4 -L lbhost "$W/$s.part" "$(($(part_size "$W/$s.disk") / 1024))k" >/dev/null &&
	ext4_put_full "$W/$s.part" "$W/$s.root" /linux/root.img &&
	ext4_put_full "$W/$s.part" "$W/$s.home" /linux/home.img &&
	part_write "$W/$s.disk" "$W/$s.part" ||
	die "$s: host disk built"
rm -f "$W/$s.root" "$W/$s.part" "$W/$s.home"
vm_boot "$s" "root=PARTLABEL=lb-linear loop=/linux/root.img rw loopboot.mode=linear loopboot.mount=/home:/linux/home.img lbtest.nonce=$n" "$W/$s.disk"
check_linear "$s" ext4 1 2
[[ $(lbtest home) == /dev/dm-* ]] && [ "$(lbtest home dm)" = loopboot-home ]
ok $? "$s: /home is the mapping loopboot-home (home=$(lbtest home) dm=$(lbtest home dm))"
part_read "$W/$s.disk" "$W/$s.part"
check "$s: the host is clean: mounted read-only, never written (e2fsck -fn)" e2fsck -fn "$W/$s.part"
check "$s: the root image can be read back (debugfs)" ext4_get "$W/$s.part" /linux/root.img "$W/$s.root"
check_written "$s" "$W/$s.root" "$n"
got=
ext4_get "$W/$s.part" /linux/home.img "$W/$s.home" &&
	debugfs -R "dump /lbtest-nonce $W/$s.home.nonce" "$W/$s.home" >/dev/null 2>&1 && got=$(cat "$W/$s.home.nonce")
[ "$got" = "$n" ]
ok $? "$s: the nonce written to /home is in home.img (got '${got:-nothing}')"
check "$s: home.img is clean (e2fsck -fn)" e2fsck -fn "$W/$s.home"
rm -f "$W/$s.home.nonce"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.part" "$W/$s.root" "$W/$s.home"

# ---- lin-fat: fragmented ------------------------------------------------------------------
# 1 MiB files fill the volume, every other one is deleted, and the image goes in: its
# clusters can only fill the 1 MiB holes. The runs of its cluster chain, counted here from
# the FAT itself, must be the extents the engine mapped.
fat_runs() { # DISK PATH: the number of contiguous runs of the file's cluster chain
	python3 - "$1" "$2" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
bps, spc, res, nfat = struct.unpack_from('<HBHB', d, 11)
fatsz, rootc = struct.unpack_from('<I', d, 36)[0], struct.unpack_from('<I', d, 44)[0]
fat = res * bps
data = (res + nfat * fatsz) * bps
cl = spc * bps
nxt = lambda c: struct.unpack_from('<I', d, fat + 4 * c)[0] & 0x0FFFFFFF
def chain(c):
    while 2 <= c < 0x0FFFFFF8:
        yield c
        c = nxt(c)
def lookup(c, name):
    for k in chain(c):
        for o in range(data + (k - 2) * cl, data + (k - 1) * cl, 32):
            e = d[o:o + 32]
            if e[0] == 0:
                return None
            if e[11] != 0x0F and e[0] != 0xE5 and e[:11] == name:
                return (struct.unpack_from('<H', e, 20)[0] << 16) | struct.unpack_from('<H', e, 26)[0]
c = rootc
for part in sys.argv[2].strip('/').split('/'):
    base, _, ext = part.upper().partition('.')
    c = lookup(c, (base.ljust(8) + ext.ljust(3)).encode())
runs, prev = 0, None
for k in chain(c):
    runs += prev is None or k != prev + 1
    prev = k
print(runs)
PY
}
s=lin-fat f=$T_FAILED n=$(nonce_new)
linear_root "$W/$s.root" && fat_new "$W/$s.disk" 112 LBLINEAR && head -c 1M /dev/urandom >"$W/$s.fill" &&
	mmd -i "$W/$s.disk" ::/fill ::/linux ||
	die "$s: host disk built"
i=0
while mcopy -i "$W/$s.disk" "$W/$s.fill" "::/fill/f$i" 2>/dev/null; do i=$((i + 1)); done
mdel -i "$W/$s.disk" "::/fill/f$((i))" 2>/dev/null # a partial last copy
for j in $(seq 0 2 $((i - 1))); do mdel -i "$W/$s.disk" "::/fill/f$j" || die "$s: filler $j deleted"; done
fat_put "$W/$s.disk" "$W/$s.root" /linux/root.img || die "$s: the image copied"
rm -f "$W/$s.root" "$W/$s.fill"
runs=$(fat_runs "$W/$s.disk" /linux/root.img)
note "$s: $i fillers of 1 MiB, every other one deleted; root.img is in ${runs:-?} pieces"
vm_boot "$s" "root=LABEL=LBLINEAR loop=/linux/root.img rw loopboot.mode=linear lbtest.nonce=$n" "$W/$s.disk"
check_linear "$s" vfat 8
[ "$(state_field dm extents)" = "$runs" ]
ok $? "$s: the mapping has exactly the runs of the file's cluster chain in the FAT ($runs)"
check "$s: the FAT volume is clean, not even marked dirty (fsck.fat -n)" fsck.fat -n "$W/$s.disk"
check "$s: the root image can be read back (mcopy)" fat_get "$W/$s.disk" /linux/root.img "$W/$s.root"
check_written "$s" "$W/$s.root" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root"

# ---- lin-ntfs: ntfs-3g host, libntfs-3g data runs -----------------------------------------
s=lin-ntfs f=$T_FAILED n=$(nonce_new)
linear_root "$W/$s.root" &&
	ntfs_host "$W/$s.disk" 112M Windows 0123456789ABCDEF "$W/$s.root" ||
	die "$s: host disk built"
rm -f "$W/$s.root"
vm_boot "$s" "root=UUID=0123456789ABCDEF loop=/linux/root.img rw loopboot.mode=linear lbtest.nonce=$n" "$W/$s.disk"
check_linear "$s" fuseblk 1
console_has "LBTEST state host " && grep -aq "^LBTEST state host .*driver=ntfs-3g" "$VM_LOG"
ok $? "$s: the host is served by ntfs-3g (read-only), the extents came from libntfs-3g"
check "$s: the NTFS volume is consistent (ntfsfix -n)" ntfsfix -n "$W/$s.disk"
check "$s: the root image can be read back (ntfscat)" ntfs_get "$W/$s.disk" /linux/root.img "$W/$s.root"
check_written "$s" "$W/$s.root" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root"

# ---- lin-sparse: refused, loop device -------------------------------------------------------
s=lin-sparse f=$T_FAILED n=$(nonce_new)
mkdir -p "$W/$s.host.d/linux"
disk_gpt "$W/$s.disk" 112 7b1d5c2e-6a3f-4e2b-9c8d-0e1f2a3b4c5e lb-sparse "$LINUX_DATA" &&
	linear_root "$W/$s.host.d/linux/root.img" &&
	mke2fs -q -F -t ext4 -L lbhost -d "$W/$s.host.d" "$W/$s.part" "$(($(part_size "$W/$s.disk") / 1024))k" >/dev/null &&
	part_write "$W/$s.disk" "$W/$s.part" ||
	die "$s: host disk built"
rm -rf "$W/$s.host.d" "$W/$s.part"
vm_boot "$s" "root=PARTLABEL=lb-sparse loop=/linux/root.img rw loopboot.mode=linear lbtest.nonce=$n" "$W/$s.disk"
line=$(grep -a -m1 '^loopboot: warning: loopboot.mode=linear refused' "$VM_LOG")
[[ $line == *"/linux/root.img"*"sparse"*"loop device instead"* ]]
ok $? "$s: one warning names the image and the reason, sparse (${line:-none})"
[ "$(grep -ac '^loopboot: warning:' "$VM_LOG")" -eq 1 ]
ok $? "$s: exactly one warning line"
[ "$VM_RC" -eq 0 ] && [[ $(lbtest root) == /dev/loop* ]] && [[ $(lbtest root backing) == */linux/root.img ]]
ok $? "$s: it booted with a loop device instead (root=$(lbtest root) backing=$(lbtest root backing))"
[ "$(lbtest host ro)" = 0 ] && console_has "LBTEST host-write=ok"
ok $? "$s: the host is read-write as in loop mode"
grep -aq '^LBTEST status mode:   loop (linear refused: the image /linux/root.img: it is sparse' "$VM_LOG"
ok $? "$s: loopboot status says loop, and why linear was refused"
console_has "loopboot: images unmounted, loop devices detached, host" && console_has "reboot: Power down"
ok $? "$s: the shutdown took the stack down and powered off"
part_read "$W/$s.disk" "$W/$s.part"
check "$s: the root image can be read back (debugfs)" ext4_get "$W/$s.part" /linux/root.img "$W/$s.root"
check_written "$s" "$W/$s.root" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.part" "$W/$s.root"

# ---- lin-nested: the host-level image mapped, a loop device inside it ------------------------
s=lin-nested f=$T_FAILED n=$(nonce_new)
mkdir -p "$W/$s.outer.d/images"
disk_gpt "$W/$s.disk" 112 7b1d5c2e-6a3f-4e2b-9c8d-0e1f2a3b4c5f lb-nested "$LINUX_DATA" &&
	linear_root "$W/$s.outer.d/images/root.img" &&
	mke2fs -q -F -t ext4 -L lbouter -d "$W/$s.outer.d" "$W/$s.outer" 64M >/dev/null &&
	mke2fs -q -F -t ext4 -L lbhost "$W/$s.part" "$(($(part_size "$W/$s.disk") / 1024))k" >/dev/null &&
	ext4_put_full "$W/$s.part" "$W/$s.outer" /vm/outer.img &&
	part_write "$W/$s.disk" "$W/$s.part" ||
	die "$s: host disk built"
rm -rf "$W/$s.outer.d" "$W/$s.outer" "$W/$s.part"
vm_boot "$s" "root=PARTLABEL=lb-nested loop=/vm/outer.img//images/root.img rw loopboot.mode=linear lbtest.nonce=$n" "$W/$s.disk"
[ "$VM_RC" -eq 0 ] && [[ $(lbtest root) == /dev/loop* ]] && [[ $(lbtest root backing) == */images/root.img ]]
ok $? "$s: QEMU ended by itself; / is a loop device on /images/root.img (root=$(lbtest root) backing=$(lbtest root backing))"
grep -aq '^LBTEST state dm .*name=loopboot-root .*file=/vm/outer.img' "$VM_LOG" &&
	grep -aq '^LBTEST state loop .*file=/images/root.img' "$VM_LOG" &&
	grep -aq '^LBTEST status mode:   linear: 1 image mapped' "$VM_LOG"
ok $? "$s: the state record has the outer image mapped and the inner one on a loop device"
console_has "loopboot: images unmounted, loop devices detached, host" && console_has "reboot: Power down" &&
	! grep -aqE 'I/O error|Buffer I/O|EXT4-fs (error|warning)|Kernel panic|Oops|loopboot: warning:' "$VM_LOG"
ok $? "$s: the shutdown took the stack down and powered off, no error on the console"
part_read "$W/$s.disk" "$W/$s.part"
check "$s: the host is clean, never written (e2fsck -fn)" e2fsck -fn "$W/$s.part"
check "$s: the outer image can be read back (debugfs)" ext4_get "$W/$s.part" /vm/outer.img "$W/$s.outer"
check "$s: the outer image is clean (e2fsck -fn)" e2fsck -fn "$W/$s.outer"
check "$s: the inner image can be read back (debugfs)" ext4_get "$W/$s.outer" /images/root.img "$W/$s.root"
check_written "$s" "$W/$s.root" "$n"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.part" "$W/$s.outer" "$W/$s.root"

# ---- lin-sd: systemd, its shutdown, then loopboot's ------------------------------------------
# guest-systemd/lbtest writes to /var/lbtest-root, /home/lbtest-home and /host/lbtest-host
# (refused: the host is read-only) and runs `systemctl --no-block poweroff`.
s=lin-sd f=$T_FAILED n=$(nonce_new)
sd_root "$W/$s.root" && plain_image "$W/$s.home" "home image" &&
	ntfs_host "$W/$s.disk" "$(($(stat -c %s "$W/$s.root") * 5 / 4 / 1048576 + 64))M" Windows 0123456789ABCDEF \
		"$W/$s.root" "$W/$s.home" ||
	die "$s: host disk built"
rm -f "$W/$s.root" "$W/$s.home"
VM_MEM=1024 VM_TIMEOUT=300 vm_boot "$s" "root=UUID=0123456789ABCDEF loop=/linux/root.img rw loopboot.mode=linear loopboot.mount=/home:/linux/home.img systemd.show_status=1 lbtest.nonce=$n lbtest.action=poweroff" "$W/$s.disk"
[ "$VM_RC" -eq 0 ]
ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
[[ $(sd_lbtest root) == /dev/dm-* || $(sd_lbtest root) == /dev/mapper/loopboot-root ]] &&
	[[ $(sd_lbtest home) == /dev/dm-* || $(sd_lbtest home) == /dev/mapper/loopboot-home ]] &&
	[ "$(sd_lbtest host fstype)" = fuseblk ]
ok $? "$s: / and /home are device-mapper devices, /host is ntfs-3g (root=$(sd_lbtest root) home=$(sd_lbtest home) host=$(sd_lbtest host))"
console_has "LBTEST wrote /var/lbtest-root /home/lbtest-home" && console_has "LBTEST cannot write /host/lbtest-host"
ok $? "$s: the guest wrote to / and /home, and could not write to the read-only host"
sd_stack_down_checks "$s" /dev/dm-0 'removing the device-mapper'
check "$s: the NTFS host is consistent (ntfsfix -n)" ntfsfix -n "$W/$s.disk"
for x in root:/var/lbtest-root home:/lbtest-home; do
	img=$W/$s.${x%%:*}
	got=""
	ntfs_get "$W/$s.disk" "/linux/${x%%:*}.img" "$img" && got=$(debugfs -R "cat ${x#*:}" "$img" 2>/dev/null)
	feats=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
	[ "$got" = "$n" ] && [ -n "$feats" ] && [[ " $feats " != *" needs_recovery "* ]]
	ok $? "$s: ${x#*:} is in ${x%%:*}.img on the host, which needs no journal recovery (got '${got:-nothing}')"
	check "$s: ${x%%:*}.img passes e2fsck -fn" e2fsck -fn "$img"
done
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.root" "$W/$s.home"

finish
