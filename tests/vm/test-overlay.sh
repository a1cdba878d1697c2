#!/bin/bash
# Read-only roots with a writable layer on top (loopboot.overlay=): the root image is
# mounted read-only at /run/loopboot/layers/base, / is an overlay. The root is busybox as
# squashfs (squash_root), whose /sbin/init (tests/vm/guest-overlay/init) reports the layers
# and then runs tests/vm/guest/init: "previous=" what /lbtest-nonce held before this boot,
# then the nonce written. Scenarios:
#   ov-tmpfs    NTFS host, loopboot.overlay=tmpfs: the writes go to RAM, the squashfs file
#               on the host is byte-identical afterwards
#   ov-ntfs     NTFS host, a persistent layer /linux/overlay.img (ext4 with upper/, work/):
#               boot 1 writes A; boot 2 sees A; boot 3 with loopboot.overlay.reset sees
#               nothing; boot 4 with loopboot.overlay.readonly sees boot 3's nonce, writes
#               into RAM, and leaves the layer's file byte-identical
#   ov-fat      the same two first boots on a FAT32 host, each ended by loopboot's shutdown
#               (lbtest.shutdown: tests/vm/guest-overlay/init), which leaves it clean
#   ov-linear   loopboot.mode=linear, NTFS host: the base and the layer are device-mapper
#               mappings of their files' extents
#   ov-iso      an ISO file on an ext4 host, loop=/isos/live.iso//live/filesystem.squashfs
#   ov-toram    loopboot.toram: the squashfs copied into RAM, the host unmounted, then the
#               host disk removed (device_del on QEMU's monitor) while the guest runs
# Except in ov-fat, the guest powers off with poweroff -f (no shutdown of the stack): a
# persistent layer is read back as the next mount would see it, its journal replayed
# (ext4_get, ext4_replayed), and the next boot finds it so.
. "$(dirname "$0")/lib.sh"
vm_require
for t in mksquashfs xorriso python3; do
	command -v "$t" >/dev/null 2>&1 || die "tools present (missing: $t — run scripts/deps all)"
done
vm_setup
W=$VM_OUT
SERIAL=0123456789ABCDEF

squash_root "$W/root.sfs" || die "the squashfs root is built (squash_root)"
note "squashfs root: $(stat -c %s "$W/root.sfs") bytes"

# A persistent layer as loopboot.overlay=PATH takes it: ext4 with empty upper/ and work/
# at its root.
layer_image() { # OUT SIZE_MB
	local d rc
	d=$(mktemp -d "$VM_OUT/.layer.XXXXXX")
	mkdir "$d/upper" "$d/work"
	mke2fs -q -F -t ext4 -L lboverlay -E root_owner=0:0 -d "$d" "$1" "${2}M" >/dev/null
	rc=$?
	rm -rf "$d"
	return $rc
}

# $W/SCENARIO.disk: a Windows NTFS holding a copy of the squashfs root, $W/SCENARIO.sfs, as
# /linux/root.sfs and, with LAYER-MB, a fresh persistent layer $W/SCENARIO.layer as
# /linux/overlay.img (ntfscp writes every byte: both fully allocated, as linear mode needs).
sfs_on_ntfs() { # SCENARIO [LAYER-MB]
	local d=$W/$1.disk
	cp "$W/root.sfs" "$W/$1.sfs" && ntfs_new "$d" 64M WINDOWS "$SERIAL" && ntfs_windows "$d" &&
		ntfs_put "$d" "$W/$1.sfs" /linux/root.sfs &&
		{ [ -z "${2:-}" ] || { layer_image "$W/$1.layer" "$2" && ntfs_put "$d" "$W/$1.layer" /linux/overlay.img; }; } ||
		die "$1: host disk built"
}

# ---- checks ------------------------------------------------------------------------------

# The checks of every boot that should reach the guest. BASEDEV: how the base's device's
# kernel name begins: loop (a loop device), dm- (a device-mapper mapping), or empty (any).
check_overlay_boot() { # SCENARIO PREVIOUS NONCE BASEDEV
	local s=$1 base basefs bad lower
	base=$(lbtest base sys)
	basefs=$(lbtest base fstype)
	[ "$VM_RC" -eq 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	console_has "LBTEST start" && [ "$(lbtest root fstype)" = overlay ]
	ok $? "$s: the guest's init ran on an overlay root (root=$(lbtest root) fstype=$(lbtest root fstype))"
	[ -n "$base" ] && [[ $base == "$4"* ]] && [ "$basefs" = squashfs ] && [ "$(lbtest base mnt)" = ro ]
	ok $? "$s: the base is the squashfs on a ${4:-block} device, read-only at /run/loopboot/layers/base (base=$(lbtest base) sys=${base:-?} fstype=${basefs:-?} mnt=$(lbtest base mnt))"
	lower=$(lbtest rootopts | sed -n 's/.*lowerdir=\([^,]*\).*/\1/p')
	[[ $lower == /run/loopboot/layers/base || $lower == *:/run/loopboot/layers/base ]]
	ok $? "$s: the overlay's lowest layer is /run/loopboot/layers/base (lowerdir=${lower:-?})"
	[ "$(lbtest previous)" = "$2" ]
	ok $? "$s: the root held '$2' in /lbtest-nonce before this boot (previous=$(lbtest previous))"
	console_has "LBTEST wrote /lbtest-nonce"
	ok $? "$s: the guest wrote /lbtest-nonce ($3)"
	bad=$(grep -aE 'I/O error|Buffer I/O|EXT4-fs (error|warning)|SQUASHFS error|overlayfs: .*(error|fail)|Kernel panic|BUG:|Oops' "$VM_LOG" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O, file system or overlay error, no panic on the console${bad:+ ($bad)}"
	console_has "reboot: Power down"
	ok $? "$s: the guest powered off"
}

# A persistent layer, as seen from the guest: the layer's image mounted read-write (or
# read-only) at /run/loopboot/layers/overlay, on a device whose kernel name begins DEV (loop:
# backed by the file; dm-: a mapping of its extents). Read-only (ro), the file is on a
# read-only loop device, mounted as it is or through a copy-on-write mapping in RAM (the
# journal replayed there).
check_layer_mounted() { # SCENARIO DEV rw|ro
	local s=$1 dev fs back under
	dev=$(lbtest overlay sys)
	fs=$(lbtest overlay fstype)
	back=$(lbtest overlay backing | tr '?' ' ')
	under=$(lbtest overlay under | tr '?' ' ')
	case $2:$3 in
	loop:rw) [[ $dev == loop* && $back == */linux/overlay.img ]] ;;
	loop:ro)
		[[ $dev == loop* && $back == */linux/overlay.img && $(lbtest overlay ro) = 1 ]] ||
			[[ $dev == dm-* && ,$under, == *"/linux/overlay.img:1,"* ]]
		;;
	*) [[ $dev == "$2"* ]] ;;
	esac &&
		[ "$fs" = ext4 ] && [ "$(lbtest overlay mnt)" = "$3" ]
	ok $? "$s: the layer's image is mounted $3 at /run/loopboot/layers/overlay (overlay=$(lbtest overlay) sys=${dev:-?} fstype=${fs:-?} mnt=$(lbtest overlay mnt)${back:+ backing=$back}${under:+ under=$under})"
	if [ "$3" = rw ]; then
		[[ $(lbtest rootopts) == *upperdir=/run/loopboot/layers/overlay/upper,* ]]
		ok $? "$s: the overlay's upper directory is the layer's upper/ ($(lbtest rootopts))"
	fi
}

# The layer image read back from the host: upper/lbtest-nonce holds NONCE, clean. After
# poweroff -f its journal may need replaying (the next mount does it: so does the check);
# after loopboot's shutdown (CLEAN=clean) it must not.
check_layer_image() { # SCENARIO IMAGE NONCE [CLEAN]
	local s=$1 img=$2 got='' tmp feats
	if ext4_get "$img" /upper/lbtest-nonce "$img.nonce"; then got=$(cat "$img.nonce"); fi
	rm -f "$img.nonce"
	[ "$got" = "$3" ]
	ok $? "$s: the layer image on the host holds upper/lbtest-nonce = $3 (got '${got:-nothing}')"
	feats=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
	if [ "${4:-}" = clean ]; then
		[ -n "$feats" ] && [[ " $feats " != *" needs_recovery "* ]] && e2fsck -fn "$img" >/dev/null 2>&1
		ok $? "$s: the layer image was left clean by the shutdown: no journal to replay, e2fsck -fn passes"
	else
		tmp=$(mktemp "$VM_OUT/.replay.XXXXXX")
		ext4_replayed "$img" "$tmp" && e2fsck -fn "$tmp" >/dev/null 2>&1
		ok $? "$s: the layer image is clean (e2fsck -fn$([[ " $feats " == *" needs_recovery "* ]] && echo ", after the journal replay the next mount does"))"
		rm -f "$tmp"
	fi
}

check_same() { # SCENARIO WHAT FILE ORIGINAL [TO-WHAT]
	cmp -s "$3" "$4"
	ok $? "$1: $2 read back from the host is byte-identical to ${5:-the one put there}"
}

# ---- a boot with the host disk removed on the way --------------------------------------
# As vm_boot, with the host disk on a PCIe root port (hot-pluggable) and QEMU's monitor on
# a socket: when the guest says "LBTEST waiting for unplug", the disk is removed with
# device_del. Sets VM_LOG, VM_RC, VM_SECS and UNPLUG_SENT (seconds after start, or empty).
monitor_cmd() { # SOCKET COMMAND: one HMP command, its answer on stdout
	python3 - "$1" "$2" <<'PY'
import re, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
def until_prompt():
    buf = b''
    end = time.time() + 10
    while not buf.endswith(b'(qemu) ') and time.time() < end:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf
until_prompt()
s.sendall(sys.argv[2].encode() + b'\n')
# The answer without the monitor's line editing (the echoed command) and the prompt.
out = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', until_prompt().decode(errors='replace'))
print(sys.argv[2] + ': ' + (' '.join(out.splitlines()[1:-1]).strip() or 'accepted'))
s.close()
PY
}

unplug_when_waiting() { # PID START
	if [ -z "$UNPLUG_ASKED" ] && console_has "LBTEST waiting for unplug"; then
		UNPLUG_ASKED=1
		monitor_cmd "$UNPLUG_MON" "device_del hostdisk" >>"$UNPLUG_LOG" 2>&1 &&
			UNPLUG_SENT=$(($(date +%s) - $2))
	fi
}
vm_boot_unplug() { # NAME CMDLINE DISK
	UNPLUG_MON=$VM_OUT/$1.monitor.sock UNPLUG_LOG=$VM_OUT/$1.monitor UNPLUG_SENT='' UNPLUG_ASKED=''
	rm -f "$UNPLUG_MON"
	: >"$UNPLUG_LOG"
	vm_boot_watched "$1" "$2" unplug_when_waiting \
		-monitor "unix:$UNPLUG_MON,server=on,wait=off" \
		-device pcie-root-port,id=rp1,slot=1 \
		-drive "if=none,id=hd0,file=$3,format=raw" \
		-device virtio-blk-pci,drive=hd0,id=hostdisk,bus=rp1
	rm -f "$UNPLUG_MON"
}

# ---- ov-tmpfs -----------------------------------------------------------------------------
s=ov-tmpfs f=$T_FAILED n=$(nonce_new)
sfs_on_ntfs "$s"
vm_boot "$s" "root=UUID=$SERIAL loop=/linux/root.sfs rw loopboot.overlay=tmpfs lbtest.nonce=$n" "$W/$s.disk"
check_overlay_boot "$s" none "$n" loop
[ "$(lbtest upper fstype)" = tmpfs ] && [[ $(lbtest rootopts) == *upperdir=/run/loopboot/overlay/* ]]
ok $? "$s: the upper layer is a tmpfs at /run/loopboot/overlay (upper=$(lbtest upper) fstype=$(lbtest upper fstype))"
[ "$(lbtest host)" = /dev/vda ] && [ "$(lbtest host fstype)" = fuseblk ] &&
	[[ $(lbtest base backing | tr '?' ' ') == */linux/root.sfs ]]
ok $? "$s: the base's loop device is backed by /linux/root.sfs on the NTFS host at /host (host=$(lbtest host) backing=$(lbtest base backing))"
check "$s: the squashfs can be read back (ntfscat)" ntfs_get "$W/$s.disk" /linux/root.sfs "$W/$s.back"
check_same "$s" "the squashfs file" "$W/$s.back" "$W/$s.sfs"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.sfs" "$W/$s.back"

# ---- ov-ntfs: a persistent layer on NTFS, four boots ------------------------------------------
s=ov-ntfs f=$T_FAILED
sfs_on_ntfs "$s" 16
cmd="root=UUID=$SERIAL loop=/linux/root.sfs rw loopboot.overlay=/linux/overlay.img"
prev=none
for boot in 1 2 3 4; do
	n=$(nonce_new) extra='' want=$prev
	keep=$n
	case $boot in
	3) extra=" loopboot.overlay.reset" want=none ;;
	4) extra=" loopboot.overlay.readonly" keep=$prev ;;
	esac
	ntfs_get "$W/$s.disk" /linux/overlay.img "$W/$s.layer.before"
	vm_boot "$s-$boot" "$cmd$extra lbtest.nonce=$n" "$W/$s.disk"
	check_overlay_boot "$s-$boot${extra:+ (${extra# })}" "$want" "$n" loop
	if [ "$boot" = 4 ]; then
		check_layer_mounted "$s-$boot" loop ro
		[ "$(lbtest upper fstype)" = tmpfs ] && [[ $(lbtest rootopts) == *upperdir=/run/loopboot/overlay/* ]] &&
			[[ $(lbtest rootopts) == *lowerdir=*/run/loopboot/layers/overlay/upper* ]]
		ok $? "$s-$boot: a tmpfs upper at /run/loopboot/overlay over the read-only layer's upper/ ($(lbtest rootopts))"
	else
		check_layer_mounted "$s-$boot" loop rw
	fi
	check "$s-$boot: the layer image can be read back (ntfscat)" ntfs_get "$W/$s.disk" /linux/overlay.img "$W/$s.layer.back"
	check_layer_image "$s-$boot" "$W/$s.layer.back" "$keep"
	# Read-only means the file is not written, even when boot 3's poweroff -f left its
	# journal to be replayed.
	[ "$boot" != 4 ] || check_same "$s-$boot" "the layer image" "$W/$s.layer.back" "$W/$s.layer.before" \
		"what it was before this boot (read-only)"
	prev=$keep
done
check "$s: the squashfs can be read back (ntfscat)" ntfs_get "$W/$s.disk" /linux/root.sfs "$W/$s.back"
check_same "$s" "the squashfs file" "$W/$s.back" "$W/$s.sfs"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.sfs" "$W/$s.layer" "$W/$s.back" "$W/$s.layer.back" "$W/$s.layer.before"

# ---- ov-fat: a persistent layer on FAT32, two boots ---------------------------------------------
# Linux marks a FAT volume dirty in its boot sector while it is mounted read-write, and the
# engine refuses a dirty one: these boots end with loopboot's shutdown (lbtest.shutdown), as
# a stick's would, which must leave the volume and the layer clean.
s=ov-fat f=$T_FAILED
cp "$W/root.sfs" "$W/$s.sfs" && layer_image "$W/$s.layer" 16 &&
	fat_new "$W/$s.disk" 64 LBSTICK &&
	fat_put "$W/$s.disk" "$W/$s.sfs" /live/root.sfs &&
	fat_put "$W/$s.disk" "$W/$s.layer" /linux/overlay.img ||
	die "$s: host disk built"
prev=none
for boot in 1 2; do
	n=$(nonce_new)
	vm_boot "$s-$boot" "root=LABEL=LBSTICK loop=/live/root.sfs rw loopboot.overlay=/linux/overlay.img lbtest.nonce=$n lbtest.shutdown" "$W/$s.disk"
	check_overlay_boot "$s-$boot" "$prev" "$n" loop
	check_layer_mounted "$s-$boot" loop rw
	[ "$(lbtest host fstype)" = vfat ]
	ok $? "$s-$boot: /host is the FAT32 volume (host=$(lbtest host) fstype=$(lbtest host fstype))"
	line=$(grep -a -m1 '^loopboot: images unmounted, loop devices detached, host' "$VM_LOG")
	[ -n "$line" ]
	ok $? "$s-$boot: loopboot's shutdown took the stack down (${line:-no such line})"
	check "$s-$boot: the FAT volume is clean, not marked dirty (fsck.fat -n)" fsck.fat -n "$W/$s.disk"
	check "$s-$boot: the layer image can be read back (mcopy)" fat_get "$W/$s.disk" /linux/overlay.img "$W/$s.layer.back"
	check_layer_image "$s-$boot" "$W/$s.layer.back" "$n" clean
	prev=$n
done
check "$s: the squashfs can be read back (mcopy)" fat_get "$W/$s.disk" /live/root.sfs "$W/$s.back"
check_same "$s" "the squashfs file" "$W/$s.back" "$W/$s.sfs"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.sfs" "$W/$s.layer" "$W/$s.back" "$W/$s.layer.back"

# ---- ov-linear: the base and the layer mapped with device-mapper ---------------------------
s=ov-linear f=$T_FAILED n=$(nonce_new)
sfs_on_ntfs "$s" 16
vm_boot "$s" "root=UUID=$SERIAL loop=/linux/root.sfs rw loopboot.mode=linear loopboot.overlay=/linux/overlay.img lbtest.nonce=$n" "$W/$s.disk"
check_overlay_boot "$s" none "$n" dm-
check_layer_mounted "$s" dm- rw
[ "$(lbtest base sys)" != "$(lbtest overlay sys)" ] && [ -n "$(lbtest base dm)" ] && [ -n "$(lbtest overlay dm)" ]
ok $? "$s: the base and the layer are two mappings (base=$(lbtest base sys) dm=$(lbtest base dm), overlay=$(lbtest overlay sys) dm=$(lbtest overlay dm))"
! grep -aq '^LBTEST state loop ' "$VM_LOG" && [[ $(lbtest base backing) == "" ]] && [[ $(lbtest overlay backing) == "" ]]
ok $? "$s: no loop device in the state record nor under the layers"
[ "$(lbtest hostdev fstype)" = fuseblk ] && [[ $(lbtest hostdev sys) == dm-* ]]
ok $? "$s: /host is the NTFS volume on a device-mapper device (host=$(lbtest hostdev) sys=$(lbtest hostdev sys) dm=$(lbtest hostdev dm))"
check "$s: the NTFS volume is consistent (ntfsfix -n)" ntfsfix -n "$W/$s.disk"
check "$s: the layer image can be read back (ntfscat)" ntfs_get "$W/$s.disk" /linux/overlay.img "$W/$s.layer.back"
check_layer_image "$s" "$W/$s.layer.back" "$n"
check "$s: the squashfs can be read back (ntfscat)" ntfs_get "$W/$s.disk" /linux/root.sfs "$W/$s.back"
check_same "$s" "the squashfs file" "$W/$s.back" "$W/$s.sfs"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.sfs" "$W/$s.layer" "$W/$s.back" "$W/$s.layer.back"

# ---- ov-iso: a squashfs inside an ISO file on an ext4 host -----------------------------------
s=ov-iso f=$T_FAILED n=$(nonce_new)
rm -rf "$W/$s.iso.d" "$W/$s.host.d"
mkdir -p "$W/$s.iso.d/live" "$W/$s.host.d/isos" &&
	cp "$W/root.sfs" "$W/$s.iso.d/live/filesystem.squashfs" &&
	echo "loopboot VM test ISO" >"$W/$s.iso.d/README" &&
	xorriso -as mkisofs -quiet -R -V LBLIVE -o "$W/$s.iso" "$W/$s.iso.d" >/dev/null 2>&1 &&
	cp "$W/$s.iso" "$W/$s.host.d/isos/live.iso" &&
	mke2fs -q -F -t ext4 -L lbisohost -d "$W/$s.host.d" "$W/$s.disk" 64M >/dev/null ||
	die "$s: host disk built"
rm -rf "$W/$s.iso.d" "$W/$s.host.d"
vm_boot "$s" "root=LABEL=lbisohost loop=/isos/live.iso//live/filesystem.squashfs rw loopboot.overlay=tmpfs lbtest.nonce=$n" "$W/$s.disk"
check_overlay_boot "$s" none "$n" loop
[[ $(lbtest base backing | tr '?' ' ') == */live/filesystem.squashfs ]] &&
	grep -aq '^LBTEST mount /run/loopboot/[^ ]* fstype=iso9660 ' "$VM_LOG"
ok $? "$s: the base's loop device is backed by /live/filesystem.squashfs in the ISO, mounted (iso9660) under /run/loopboot (backing=$(lbtest base backing))"
[ "$(lbtest upper fstype)" = tmpfs ]
ok $? "$s: the upper layer is a tmpfs at /run/loopboot/overlay (upper=$(lbtest upper))"
check "$s: the ISO can be read back (debugfs)" ext4_get "$W/$s.disk" /isos/live.iso "$W/$s.back"
check_same "$s" "the ISO file" "$W/$s.back" "$W/$s.iso"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.iso" "$W/$s.back"

# ---- ov-toram: the image in RAM, the host disk pulled out ------------------------------------
s=ov-toram f=$T_FAILED n=$(nonce_new)
sfs_on_ntfs "$s"
vm_boot_unplug "$s" "root=UUID=$SERIAL loop=/linux/root.sfs rw loopboot.toram loopboot.overlay=tmpfs lbtest.nonce=$n lbtest.hold=unplug" "$W/$s.disk"
check_overlay_boot "$s" none "$n" ""
line=$(grep -a -m1 'to RAM' "$VM_LOG")
[ -n "$line" ]
ok $? "$s: the console says the image is copied to RAM (${line:-no line})"
[ "$(lbtest host)" = none ] && [[ $(lbtest base backing | tr '?' ' ') != /host/* ]]
ok $? "$s: the host is not mounted in the guest, the base is not on it (host=$(lbtest host) backing=$(lbtest base backing))"
[ -n "$UNPLUG_SENT" ]
ok $? "$s: the guest waited for the unplug and QEMU's monitor took device_del (after ${UNPLUG_SENT:-?}s: $(tail -n 1 "$W/$s.monitor"))"
grep -aq '^LBTEST unplugged read=ok write=ok' "$VM_LOG"
ok $? "$s: with the host disk gone the guest still reads and writes its root ($(grep -a -m1 '^LBTEST unplug' "$VM_LOG"))"
check "$s: the squashfs can be read back (ntfscat)" ntfs_get "$W/$s.disk" /linux/root.sfs "$W/$s.back"
check_same "$s" "the squashfs file" "$W/$s.back" "$W/$s.sfs"
scenario_done "$s" "$f" "$W/$s.disk" "$W/$s.sfs" "$W/$s.back"

rm -f "$W/root.sfs"
finish
