#!/bin/bash
# Dirty hosts, and the advice of the refusal followed literally. A host marked dirty is
# refused with one "loopboot:" line naming a command; the test runs exactly that command
# on the host disk (the file stands for DEVICE), boots again, and the guest must run.
#   ntfs-dirty     NTFS with VOLUME_IS_DIRTY set (tests/lib/fsflags.py ntfs-dirty): refused,
#                  the line names ntfsfix -d; after `ntfsfix -d DISK` the host boots
#   fat-bootdirty  FAT32 with the dirty bit Linux's vfat keeps in the boot sector (0x41)
#                  set, as a power cut leaves it: refused, the line names fsck.fat -a; after
#                  `fsck.fat -a DISK` the host boots
#   fat-fat1dirty  FAT32 with FAT[1]'s clean-shutdown bit cleared (Windows' flag): the same
#   fat-clean-shutdown  a clean FAT32 host booted read-write, its init ending with loopboot's
#                  shutdown command (exec /run/initramfs/loopboot-shutdown poweroff): no dirty
#                  flag afterwards (fsck.fat -n, and the flags hoststate.c reads), and the
#                  next boot is not refused
# The other boots that succeed end with tests/vm/guest/init's poweroff -f: no unmount of the
# host, so vfat's dirty bit stays set (reported as a TAP comment, not checked).
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
vm_require
vm_setup
W=$VM_OUT
SERIAL=0123456789ABCDEF
FSFLAGS=$TOP/tests/lib/fsflags.py

# A boot that must be refused (the disk stays for the next step).
refused() { # NAME DISK CMDLINE EXPECTED
	local s=$1 disk=$2 before
	before=$(sha256sum <"$disk")
	VM_TIMEOUT=90 vm_boot "$s" "$3 loopboot.timeout=3 lbtest.nonce=$(nonce_new)" "$disk"
	check_failed "$s" "$4" "$disk" "$before"
}

# The advice: the command COMMAND (e.g. "ntfsfix -d DEVICE") as the loopboot: line prints
# it, with DEVICE replaced by the disk file, run as it stands. Sets ADVICE_RC.
follow() { # SCENARIO PATTERN(grep -E, matching the command with DEVICE) DISK
	local s=$1 cmd words=() w line
	line=$(loopboot_line)
	cmd=$(grep -oE -- "$2" <<<"$line" | head -n 1)
	[ -n "$cmd" ]
	ok $? "$s: the advice names a command on DEVICE (${cmd:-none in: $line})"
	[ -n "$cmd" ] || return 1
	for w in $cmd; do
		[ "$w" = DEVICE ] && w=$3
		words+=("$w")
	done
	note "$s: running the advice: ${words[*]}"
	"${words[@]}" >"$W/$s.advice" 2>&1
	ADVICE_RC=$?
	sed 's/^/#   | /' "$W/$s.advice"
}

fat_flags() { python3 "$FSFLAGS" fat-state "$1"; } # "boot=0|1 fat1=clean|dirty|none"

# After the advice was followed: the host is not refused any more, the guest boots from it
# and what it wrote is read back from the disk with GET (GET-TOOL names it).
boots_after_fix() { # SCENARIO ROOT-SPEC THE-FIX FSTYPE DISK GET GET-TOOL
	local n
	n=$(nonce_new)
	vm_boot "$1-after" "root=$2 loop=/linux/root.img rw lbtest.nonce=$n" "$5"
	! grep -aq '^loopboot: host not safe to write' "$VM_LOG"
	ok $? "$1: after $3 the host is not refused"
	check_booted "$1-after" /dev/vda "$4" /host/linux/root.img
	check_read_back "$1-after" "$5" "$6" "$7" "$n"
}

# ---- NTFS marked dirty: ntfsfix -d ------------------------------------------------------
s=ntfs-dirty f=$T_FAILED
disk=$W/$s.disk
guest_root "$W/$s.root" &&
	ntfs_host "$disk" 96M WINDOWS "$SERIAL" "$W/$s.root" &&
	python3 "$FSFLAGS" ntfs-dirty "$disk" ||
	die "$s: host disk built (NTFS marked dirty)"
rm -f "$W/$s.root"
refused "$s-refuse" "$disk" "root=UUID=$SERIAL loop=/linux/root.img rw" \
	"host not safe to write: UUID=$SERIAL: the NTFS volume is marked dirty"
line=$(loopboot_line)
[[ $line == *"chkdsk /f"* && $line == *"loopboot.hibernated=ro"* ]]
ok $? "$s: the line also names chkdsk /f and loopboot.hibernated=ro"
[[ $line == *"repairs nothing"* ]]
ok $? "$s: the line says ntfsfix -d repairs nothing"
if follow "$s" 'ntfsfix -d DEVICE' "$disk"; then
	[ "$ADVICE_RC" -eq 0 ]
	ok $? "$s: ntfsfix -d succeeded (status $ADVICE_RC)"
	boots_after_fix "$s" "UUID=$SERIAL" "ntfsfix -d" fuseblk "$disk" ntfs_get ntfscat
fi
scenario_done "$s" "$f" "$disk" "$W/$s-after.root"

# ---- FAT32: a dirty bit, fsck.fat -a ------------------------------------------------------
fat_dirty_scenario() { # NAME fat-bootdirty|fat-dirty(fsflags.py) EXPECTED-FLAGS
	local s=$1 how=$2 f=$T_FAILED disk=$W/$1.disk got
	guest_root "$W/$s.root" &&
		fat_new "$disk" 96 LBDIRTY &&
		fat_put "$disk" "$W/$s.root" /linux/root.img &&
		python3 "$FSFLAGS" "$how" "$disk" ||
		die "$s: host disk built (FAT32, $how)"
	rm -f "$W/$s.root"
	got=$(fat_flags "$disk")
	[ "$got" = "$3" ]
	ok $? "$s: the disk's flags are $3 (got $got)"
	got=$(fsck.fat -n "$disk" 2>&1)
	[[ $got == *"Dirty bit is set"* ]]
	ok $? "$s: fsck.fat -n agrees: Dirty bit is set"
	refused "$s-refuse" "$disk" "root=LABEL=LBDIRTY loop=/linux/root.img rw" \
		"host not safe to write: LABEL=LBDIRTY: the FAT volume was not unmounted cleanly"
	[[ $(loopboot_line) == *"loopboot.hibernated=ro"* ]]
	ok $? "$s: the line also names loopboot.hibernated=ro"
	if follow "$s" 'fsck\.fat -a DEVICE' "$disk"; then
		# fsck.fat's status 1: errors were found and corrected.
		[ "$ADVICE_RC" -le 1 ] && got=$(fat_flags "$disk") && [ "$got" = "boot=0 fat1=clean" ]
		ok $? "$s: after fsck.fat -a (status $ADVICE_RC) the flags are clean ($got)"
		boots_after_fix "$s" LABEL=LBDIRTY "fsck.fat -a" vfat "$disk" fat_get mcopy
		# Its remount of /host read-only fails (the loop device holds the image open for
		# writing), so vfat's boot-sector bit stays set: a next boot would be refused.
		note "$s: flags after the guest's poweroff -f (no unmount of /host): $(fat_flags "$disk")"
	fi
	scenario_done "$s" "$f" "$disk" "$W/$s-after.root"
}
fat_dirty_scenario fat-bootdirty fat-bootdirty "boot=1 fat1=clean"
fat_dirty_scenario fat-fat1dirty fat-dirty "boot=0 fat1=dirty"

# ---- FAT32, a clean shutdown through loopboot leaves no flag -------------------------------
# The busybox root of test-shutdown.sh: its init writes to /, /home and /host, leaves a
# straggler, and ends with exec /run/initramfs/loopboot-shutdown poweroff.
s=fat-clean-shutdown f=$T_FAILED n=$(nonce_new)
disk=$W/$s.disk root=$W/$s.root home=$W/$s.home host=$W/$s.host
bb_root "$root" && plain_image "$home" "home image" && sd_host_new fat "$disk" "$root" "$home" ||
	die "$s: host disk built (FAT32 with a busybox root and a home image)"
rm -f "$root" "$home"
got=$(fat_flags "$disk")
[ "$got" = "boot=0 fat1=clean" ]
ok $? "$s: the new host is clean ($got)"
vm_boot "$s" "root=$SD_HOST_SPEC loop=/linux/root.img rw loopboot.mount=/home:/linux/home.img lbtest.nonce=$n lbtest.action=poweroff" "$disk"
sd_boot_checks "$s" /dev/vda vfat
line=$(grep -a -m1 '^loopboot: images unmounted, loop devices detached, host' "$VM_LOG")
[ "$line" = "loopboot: images unmounted, loop devices detached, host /dev/vda unmounted" ]
ok $? "$s: loopboot took the stack down (${line:-no such line})"
console_has "reboot: Power down"
ok $? "$s: the guest powered off"
got=$(fat_flags "$disk")
[ "$got" = "boot=0 fat1=clean" ]
ok $? "$s: no dirty flag after the clean shutdown, as hoststate.c reads them ($got)"
sd_host_read "$s" fat "$disk" "$root" "$home" "$host"
sd_written_checks "$s" $? "$root" "$home" "$host" "$n"
[ "$T_FAILED" -eq "$f" ] || show_console
n=$(nonce_new)
vm_boot "$s-again" "root=$SD_HOST_SPEC loop=/linux/root.img rw loopboot.mount=/home:/linux/home.img lbtest.nonce=$n lbtest.action=poweroff" "$disk"
! grep -aq '^loopboot: host not safe to write' "$VM_LOG"
ok $? "$s: the next boot is not refused"
sd_boot_checks "$s-again" /dev/vda vfat
got=$(fat_flags "$disk")
[ "$got" = "boot=0 fat1=clean" ]
ok $? "$s: no dirty flag after the second clean shutdown ($got)"
scenario_done "$s" "$f" "$disk" "$root" "$home" "$host"

finish
