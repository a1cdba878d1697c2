#!/bin/bash
# Volatile sessions after a crash (issue 15). A power cut: the guest writes its nonce,
# syncs, says "LBTEST synced" and waits (lbtest.hold=powercut); the test kills QEMU with
# SIGKILL as soon as that line is on the console. Then the next boot. Scenarios:
#   crash-overlay  an NTFS host with /linux/root.img and a persistent overlay image
#                  /linux/overlay.img (ext4 holding upper/ and work/): a power cut, then a
#                  clean boot sees what was synced; the overlay image is clean afterwards
#                  (as its journal replays) and the root image byte-identical
#   crash-hib-ro   a power cut of a read-write root on NTFS leaves the image needing
#                  journal replay; with a hiberfil.sys added, loopboot.hibernated=ro boots
#                  it (the journal replayed into RAM) and the host disk is byte-identical
#   crash-tmpfs    that image on a fresh, clean NTFS host under loopboot.overlay=tmpfs:
#                  boots, sees what was synced, the host disk byte-identical
. "$(dirname "$0")/lib.sh"
vm_require
vm_setup
W=$VM_OUT
SERIAL=0123456789ABCDEF

# As vm_boot, with lbtest.hold=powercut on the command line, and the power cut: QEMU is
# killed (SIGKILL) as soon as "LBTEST synced" is in $VM_LOG. Sets VM_RC (137 after the
# cut, QEMU's own status when it ended before the line, 124 on timeout) and VM_SECS.
cut_when_synced() { # PID
	if grep -aq '^LBTEST synced' "$VM_LOG"; then kill -KILL "$1" 2>/dev/null; fi
}
vm_boot_powercut() { # NAME CMDLINE DISK...
	local name=$1 cmdline="$2 lbtest.hold=powercut"
	shift 2
	vm_boot_watched "$name" "$cmdline" cut_when_synced -- "$@"
}

check_cut() { # SCENARIO: the power cut came after the guest had written and synced
	[ "$VM_RC" -eq 137 ] && console_has "LBTEST synced"
	ok $? "$1: QEMU killed (SIGKILL) once the guest had synced (status $VM_RC, ${VM_SECS}s)"
	console_has "LBTEST wrote /lbtest-nonce"
	ok $? "$1: the guest wrote its nonce before the power cut"
}

# Whether an ext4 image was left needing journal replay: the needs_recovery feature, and
# transactions in the journal (its start block is not 0).
needs_recovery() { dumpe2fs -h "$1" 2>/dev/null | grep -a '^Filesystem features:' | grep -qw needs_recovery; }
journal_start() { dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Journal start: *//p'; }
# Whether debugfs sees /lbtest-nonce without replaying the journal (a note for the report).
unreplayed_nonce() { debugfs -R 'cat /lbtest-nonce' "$1" 2>/dev/null; }

# The read-only image's journal replayed into RAM: the kernel replays it on a device-mapper
# device (the snapshot over the read-only loop device), and the engine does not stop. (Its
# first, plain read-only mount may fail first with "recovery required on readonly
# filesystem … cannot proceed": that is how the engine learns that the journal needs it.)
replayed_in_ram() { # SCENARIO
	grep -aqE 'EXT4-fs \(dm-[0-9]+\): recovery complete' "$VM_LOG"
	ok $? "$1: the kernel replayed the journal on a device-mapper device (EXT4-fs (dm-N): recovery complete)"
	! grep -aqE 'EXT4-fs \(loop[0-9]+\): recovery complete|may be damaged|the boot stopped' "$VM_LOG"
	ok $? "$1: not on the loop device itself, and the engine did not stop (no damaged file system)"
}

# A boot into a tmpfs overlay over the image a power cut left: the guest saw the nonce synced
# before the cut ($a), wrote into the overlay, powered off, and the host disk is as before.
overlay_over_cut_ok() { # SCENARIO DISK BEFORE [WHAT-THE-NONCE-SHOWS]
	local s=$1
	console_has "LBTEST start"
	ok $? "$s: the guest's init ran"
	[ "$(lbtest root fstype)" = overlay ]
	ok $? "$s: the guest's root is an overlay (fstype=$(lbtest root fstype))"
	[ "$(lbtest previous)" = "$a" ]
	ok $? "$s: the guest sees the nonce synced before the power cut${4:+: $4} (previous=$(lbtest previous), wanted $a)"
	console_has "LBTEST wrote /lbtest-nonce"
	ok $? "$s: the guest wrote to / (into the overlay)"
	console_has "reboot: Power down"
	ok $? "$s: the guest powered off"
	[ "$(sum "$2")" = "$3" ]
	ok $? "$s: the host disk image is byte-identical after poweroff"
}

# ---- a persistent overlay, a power cut, a clean boot --------------------------------------
s=crash-overlay f=$T_FAILED a=$(nonce_new) b=$(nonce_new)
disk=$W/$s.disk
mkdir -p "$W/$s.tree/upper" "$W/$s.tree/work" &&
	mke2fs -q -F -t ext4 -L lboverlay -d "$W/$s.tree" "$W/$s.overlay" 16M >/dev/null &&
	guest_root "$W/$s.root" &&
	ntfs_host "$disk" 96M WINDOWS "$SERIAL" "$W/$s.root" &&
	ntfs_put "$disk" "$W/$s.overlay" /linux/overlay.img ||
	die "$s: host disk built (NTFS with /linux/root.img and /linux/overlay.img)"
rootsum=$(sum "$W/$s.root")
rm -rf "$W/$s.tree" "$W/$s.overlay" "$W/$s.root"
cmdline="root=UUID=$SERIAL loop=/linux/root.img rw loopboot.overlay=/linux/overlay.img"

vm_boot_powercut "$s-1" "$cmdline lbtest.nonce=$a" "$disk"
check_cut "$s-1"
[ "$(lbtest previous)" = none ]
ok $? "$s-1: the guest saw no earlier nonce (previous=$(lbtest previous))"
[ "$(lbtest root fstype)" = overlay ]
ok $? "$s-1: the guest's root is an overlay (fstype=$(lbtest root fstype))"
[ "$T_FAILED" -eq "$f" ] || show_console
if ntfs_get "$disk" /linux/overlay.img "$W/$s.overlay"; then
	needs_recovery "$W/$s.overlay" && how="needs journal replay" || how="needs no journal replay"
	note "$s-1: after the power cut the overlay image $how (journal start $(journal_start "$W/$s.overlay"))"
fi
rm -f "$W/$s.overlay"

vm_boot "$s-2" "$cmdline lbtest.nonce=$b" "$disk"
[ "$VM_RC" -eq 0 ]
ok $? "$s-2: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
[ "$(lbtest previous)" = "$a" ]
ok $? "$s-2: the guest sees what it synced before the power cut (previous=$(lbtest previous), wanted $a)"
[ "$(lbtest root fstype)" = overlay ]
ok $? "$s-2: the guest's root is an overlay (fstype=$(lbtest root fstype))"
console_has "LBTEST wrote /lbtest-nonce"
ok $? "$s-2: the guest wrote its new nonce"
console_has "reboot: Power down"
ok $? "$s-2: the guest powered off"
check "$s-2: the overlay image can be read back (ntfscat)" ntfs_get "$disk" /linux/overlay.img "$W/$s.overlay"
# The guest powers off with the overlay's upper file system still mounted: it is checked
# as its next mount sees it, once its journal is replayed.
check "$s-2: the overlay image is clean once its journal is replayed (e2fsck -fn)" \
	eval 'ext4_replayed "$W/$s.overlay" "$W/$s.replayed" && e2fsck -fn "$W/$s.replayed"'
got=
ext4_get "$W/$s.overlay" /upper/lbtest-nonce "$W/$s.nonce" && got=$(cat "$W/$s.nonce")
[ "$got" = "$b" ]
ok $? "$s-2: the overlay image holds the second boot's nonce in upper/ (got '${got:-nothing}')"
check "$s-2: the root image can be read back (ntfscat)" ntfs_get "$disk" /linux/root.img "$W/$s.root"
[ "$(sum "$W/$s.root")" = "$rootsum" ]
ok $? "$s-2: the root image is byte-identical to the one put on the host"
scenario_done "$s" "$f" "$disk" "$W/$s.overlay" "$W/$s.replayed" "$W/$s.nonce" "$W/$s.root"

# ---- a power cut of a read-write root, then loopboot.hibernated=ro ------------------------
s=crash-hib-ro f=$T_FAILED a=$(nonce_new) b=$(nonce_new)
disk=$W/$s.disk
CUT=$W/crash.cut.img # the root image as the power cut left it, for crash-tmpfs too
guest_root "$W/$s.root" &&
	ntfs_host "$disk" 96M WINDOWS "$SERIAL" "$W/$s.root" ||
	die "$s: host disk built (NTFS with /linux/root.img)"
rm -f "$W/$s.root"

vm_boot_powercut "$s-1" "root=UUID=$SERIAL loop=/linux/root.img rw lbtest.nonce=$a" "$disk"
check_cut "$s-1"
[[ $(lbtest root) == /dev/loop* ]] && [ "$(lbtest root fstype)" = ext4 ]
ok $? "$s-1: the guest's root is a loop device with ext4 (root=$(lbtest root) fstype=$(lbtest root fstype))"
[ "$T_FAILED" -eq "$f" ] || show_console
check "$s-1: the root image can be read back after the power cut (ntfscat)" ntfs_get "$disk" /linux/root.img "$CUT"
needs_recovery "$CUT"
ok $? "$s-1: the root image needs journal replay (needs_recovery in dumpe2fs -h's features)"
js=$(journal_start "$CUT")
[ -n "$js" ] && [ "$js" != 0 ]
ok $? "$s-1: its journal holds transactions (journal start ${js:-?})"
[ -n "$(unreplayed_nonce "$CUT")" ] && how="already" || how="not yet"
note "$s-1: without journal replay /lbtest-nonce is $how in the image"
got=
ext4_get "$CUT" /lbtest-nonce "$W/$s.nonce" && got=$(cat "$W/$s.nonce")
rm -f "$W/$s.nonce"
[ "$got" = "$a" ]
ok $? "$s-1: the synced nonce is in the image once its journal is replayed (got '${got:-nothing}')"

# Windows hibernated on the volume, as test-safety.sh makes it.
{ printf 'HIBR'; head -c 65532 /dev/urandom; } >"$W/hiberfil"
check "$s: hiberfil.sys put on the host after the power cut" ntfs_put "$disk" "$W/hiberfil" /hiberfil.sys
rm -f "$W/hiberfil"
before=$(sum "$disk")
vm_boot "$s-2" "root=UUID=$SERIAL loop=/linux/root.img rw loopboot.hibernated=ro lbtest.nonce=$b" "$disk"
[ "$VM_RC" -eq 0 ]
ok $? "$s-2: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
console_has "VOLATILE SESSION"
ok $? "$s-2: the console announces a VOLATILE SESSION"
grep -aqE '^loopboot: warning: .*Windows is hibernated' "$VM_LOG"
ok $? "$s-2: a warning says why (Windows is hibernated)"
replayed_in_ram "$s-2"
overlay_over_cut_ok "$s-2" "$disk" "$before" "the journal was replayed"
scenario_done "$s" "$f" "$disk"

# ---- that image under a tmpfs overlay, on a clean host ------------------------------------
s=crash-tmpfs f=$T_FAILED c=$(nonce_new)
disk=$W/$s.disk
[ -s "$CUT" ] && needs_recovery "$CUT" && ntfs_host "$disk" 96M WINDOWS "$SERIAL" "$CUT" ||
	die "$s: host disk built (a fresh NTFS with crash-hib-ro's image, needing journal replay, as /linux/root.img)"
cutsum=$(sum "$CUT")
before=$(sum "$disk")
vm_boot "$s" "root=UUID=$SERIAL loop=/linux/root.img rw loopboot.overlay=tmpfs lbtest.nonce=$c" "$disk"
[ "$VM_RC" -eq 0 ]
ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
replayed_in_ram "$s"
overlay_over_cut_ok "$s" "$disk" "$before"
got=
ntfs_get "$disk" /linux/root.img "$W/$s.root" && got=$(sum "$W/$s.root")
[ "$got" = "$cutsum" ]
ok $? "$s: the root image is byte-identical to the one put there (still needing replay)"
scenario_done "$s" "$f" "$disk" "$W/$s.root" "$CUT"

finish
