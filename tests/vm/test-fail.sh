#!/bin/bash
# Mistakes on the command line or on the host: the engine prints its one "loopboot:" line
# on the console, waits loopboot.timeout and reboots (QEMU -no-reboot then ends), the
# guest's init never runs, and the host disk is byte-identical afterwards.
#   fail-missing  loop= names a file that is not on the host
#   fail-uuid     root=UUID= names a host that is not there
#   fail-notfs    the image is not a file system (zeros)
. "$(dirname "$0")/lib.sh"
vm_require
vm_setup
W=$VM_OUT
SERIAL=0123456789ABCDEF

fail_scenario() { # NAME CMDLINE EXPECTED IMAGE-SOURCE
	local s=$1 f=$T_FAILED before
	ntfs_host "$W/$s.disk" 96M WINDOWS "$SERIAL" "$4" || die "$s: host disk built"
	before=$(sha256sum <"$W/$s.disk")
	VM_TIMEOUT=90 vm_boot "$s" "$2 loopboot.timeout=3 lbtest.nonce=$(nonce_new)" "$W/$s.disk"
	check_failed "$s" "$3" "$W/$s.disk" "$before"
	scenario_done "$s" "$f" "$W/$s.disk"
}

guest_root "$W/root.img" || die "guest root image built"
head -c 16M /dev/zero >"$W/zeros.img"
fail_scenario fail-missing "root=UUID=$SERIAL loop=/linux/missing.img rw" /linux/missing.img "$W/root.img"
fail_scenario fail-uuid "root=UUID=FEEDFACE00000000 loop=/linux/root.img rw" FEEDFACE00000000 "$W/root.img"
fail_scenario fail-notfs "root=UUID=$SERIAL loop=/linux/root.img rw" /linux/root.img "$W/zeros.img"
rm -f "$W/root.img" "$W/zeros.img"

finish
