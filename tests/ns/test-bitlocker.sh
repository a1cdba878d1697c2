#!/bin/bash
# BitLocker hosts, with a volume that carries BitLocker's signature as libblkid's prober
# reads it (tests/lib/bitlocker-signature.py) on a real loop device: check, the engine's
# boot (loopboot boot, as the framework hooks and the other root tests drive it), create
# and install each recognise it and say what to do in one line, and write nothing. The
# signature has no key protectors: opening it through libcryptsetup is refused at its
# metadata, which is tested too, as is a missing libcryptsetup. Then a BitLocker volume
# made by tests/lib/bitlocker.py (cryptsetup cannot make one; cryptsetup bitlkDump and
# open --test-passphrase check what it made), NTFS inside: the recovery password asked
# (typos, wrong ones, three tries) or read from a key file; where the kernel has
# device-mapper the image inside boots, elsewhere the activation's failure is one line.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

SIG=$(cd "$(dirname "$0")/../lib" && pwd)/bitlocker-signature.py
out_has() { grep -q -- "$1" "$LB_OUT"; }
lb() { # ARGS... -> status; output (stdout and stderr) in $LB_OUT
	"$LOOPBOOT" "$@" >"$LB_OUT" 2>&1 </dev/null
	local rc=$?
	sed 's/^/#   /' "$LB_OUT"
	return $rc
}
no_mapping() { ! [ -e /sys/block/dm-0 ] || ! grep -qx loopboot-bitlocker /sys/block/dm-*/dm/name; }
nothing_mounted() { ! mountpoint -q "$ROOT" && ! mountpoint -q /run/loopboot/host; }
failures() { # the failure lines of $LB_OUT: not the prompts, not the warnings
	grep '^loopboot: ' "$LB_OUT" | grep -c -v -e '^loopboot: warning: ' -e 'recovery password of .*(48 digits; try'
}

truncate -s 64M "$WORK/bl.img"
python3 "$SIG" "$WORK/bl.img" >/dev/null || die "writing the BitLocker signature"
bl=$(attach "$WORK/bl.img") || die "attaching the BitLocker volume"
check "libblkid sees TYPE=BitLocker" test "$(blkval "$bl" TYPE)" = BitLocker
before=$(sum "$WORK/bl.img")
# shellcheck disable=SC2317 # called through check
identical() { test "$(sum "$WORK/bl.img")" = "$before"; }

# ---- check ------------------------------------------------------------------------------
lb check --cmdline "root=$bl loop=/linux/root.img rw"
check "check: exit status 1 (would not boot)" test $? -eq 1
check "check: one problem line names the BitLocker volume and the parameter" \
	grep -q "^problem: host: $bl: a BitLocker volume: .* — add loopboot.bitlocker=ask" "$LB_OUT"
check "check: no unknown file system, no mount error" bash -c "! grep -qi 'unknown\|mounting' '$LB_OUT'"
check "check: the volume is byte-identical" identical

lb check --cmdline "root=$bl loop=/linux/root.img rw loopboot.bitlocker=ask"
check "check, loopboot.bitlocker=ask: libcryptsetup found" out_has "^ok: BitLocker: $bl: opened at boot with the recovery password asked on the console"
check "check, loopboot.bitlocker=ask: says the images are not looked at, and how to" \
	out_has "^warning: looking inside the host: $bl: a BitLocker volume not opened on this machine: .* cryptsetup open --readonly --type bitlk $bl "

# ---- the engine ---------------------------------------------------------------------------
lb_boot "root=$bl loop=/linux/root.img rw"
check "boot: refused" test $? -ne 0
check "boot: one loopboot: line says BitLocker and what to write" \
	grep -q "^loopboot: host: $bl: a BitLocker volume: .* — add loopboot.bitlocker=ask" "$LB_OUT"
check "boot: no other failure line" test "$(grep -c '^loopboot: ' "$LB_OUT")" -eq 1
check "boot: nothing mounted, no state record" bash -c "$(declare -f nothing_mounted); nothing_mounted && ! [ -e /run/loopboot/state ]"
teardown_root
check "boot: the volume is byte-identical" identical

# libcryptsetup is there: its BITLK loader reads the metadata, which has no protectors.
lb_boot "root=$bl loop=/linux/root.img rw loopboot.bitlocker=ask" </dev/null
check "boot, bitlocker=ask, no protectors: refused" test $? -ne 0
check "boot, bitlocker=ask, no protectors: one line from reading the metadata" \
	grep -q "^loopboot: reading the BitLocker metadata: $bl: .* — .*cryptsetup bitlkDump $bl" "$LB_OUT"
check "boot, bitlocker=ask, no protectors: no password was asked for" bash -c "! grep -q 'recovery password of' '$LB_OUT'"
check "boot, bitlocker=ask, no protectors: no mapping left, nothing mounted" bash -c "$(declare -f no_mapping nothing_mounted); no_mapping && nothing_mounted"
teardown_root
check "boot, bitlocker=ask, no protectors: the volume is byte-identical" identical

lb_boot "root=$bl loop=/linux/root.img rw loopboot.bitlocker=LABEL=LBKEYS:/keys/pc.txt"
check "boot, key file: refused at the metadata too" grep -q "^loopboot: reading the BitLocker metadata: $bl" "$LB_OUT"
teardown_root
check "boot, key file: the volume is byte-identical" identical

# Without libcryptsetup (as in an initramfs built without --bitlocker): hidden here by an
# empty file bound over it, in this test's private mount namespace.
lib=$(ldconfig -p | sed -n 's|^[[:blank:]]*libcryptsetup.so.12 (.*=> \(/.*\)|\1|p' | head -n 1)
if [ -n "$lib" ] && mount --bind /dev/null "$lib"; then
	lb_boot "root=$bl loop=/linux/root.img rw loopboot.bitlocker=ask"
	check "no libcryptsetup: refused" test $? -ne 0
	check "no libcryptsetup: one line names the library, the package and loopboot initrd --bitlocker" \
		grep -q "^loopboot: opening the BitLocker host: $bl: .*libcryptsetup.so.12.* — install libcryptsetup12 .*loopboot initrd --bitlocker" "$LB_OUT"
	check "no libcryptsetup: one failure line" test "$(grep -c '^loopboot: ' "$LB_OUT")" -eq 1
	teardown_root
	lb check --cmdline "root=$bl loop=/linux/root.img rw loopboot.bitlocker=ask"
	check "no libcryptsetup: check says so" out_has "^problem: BitLocker: $bl: libcryptsetup.so.12 is not installed"
	umount "$lib"
	check "no libcryptsetup: the volume is byte-identical" identical
else
	ok 1 "hiding libcryptsetup.so.12 (ldconfig -p found: ${lib:-nothing})"
fi

# ---- create and install: a host directory that is not there because the volume is locked --
mkdir -p "$WORK/win"
lb create "$WORK/win/linux/root.img" --size 64M
check "create: exit status 1" test $? -eq 1
check "create: one line names the locked BitLocker volume and how to open it" \
	out_has "^loopboot: create: the directory: $WORK/win/linux: not there, and the BitLocker volume $bl is not opened .* — open it first: cryptsetup open --type bitlk $bl win"
check "create: one line" test "$(wc -l <"$LB_OUT")" -eq 1
check "create: nothing written" bash -c "[ -z \"\$(ls -A '$WORK/win')\" ]"

echo secret >"$WORK/pw"
: >"$WORK/loopboot.deb" # refused before the package is looked at
lb install "$WORK/win/linux/root.img" --size 1G --root-password-file "$WORK/pw" --deb "$WORK/loopboot.deb"
check "install: exit status 1" test $? -eq 1
check "install: the same line" \
	out_has "^loopboot: create: the directory: $WORK/win/linux: not there, and the BitLocker volume $bl is not opened"
check "install: nothing written" bash -c "[ -z \"\$(ls -A '$WORK/win')\" ]"
check "create and install: the volume is byte-identical" identical
losetup -d "$bl"

# ---- a BitLocker volume with a recovery password --------------------------------------------
PW=111111-222222-333333-444444-555555-666666-700007-000011
WRONG=000000-000000-000000-000000-000000-000000-000000-000011
make_root_image "$WORK/root.img" bitlocker-root 16
make_ntfs_image "$WORK/win.img" 63M WINBL "$WORK/root.img" linux/root.img || die "making the NTFS inside"
python3 "$(dirname "$SIG")/bitlocker.py" "$WORK/win.img" "$WORK/blv.img" 64 "$PW" >/dev/null ||
	die "making the BitLocker volume (tests/lib/bitlocker.py)"
rm -f "$WORK/win.img"
check "the made volume: libblkid sees TYPE=BitLocker" test "$(blkid -p -o value -s TYPE "$WORK/blv.img")" = BitLocker
check "the made volume: cryptsetup bitlkDump reads a recovery-password VMK and an FVEK" \
	bash -c "cryptsetup bitlkDump '$WORK/blv.img' | grep -q 'VMK protected with recovery passphrase' && cryptsetup bitlkDump '$WORK/blv.img' | grep -q 'Cipher mode:.*xts-plain64'"
check "the made volume: cryptsetup accepts its recovery password" \
	bash -c "echo -n '$PW' | cryptsetup open --test-passphrase --type bitlk '$WORK/blv.img' --key-file -"
check "the made volume: cryptsetup refuses another" \
	bash -c "! echo -n '$WRONG' | cryptsetup open --test-passphrase --type bitlk '$WORK/blv.img' --key-file -"
rv=$(attach "$WORK/blv.img") || die "attaching the made BitLocker volume"
before=$(sum "$WORK/blv.img")
# shellcheck disable=SC2317 # called through check
identical() { test "$(sum "$WORK/blv.img")" = "$before"; }
dm=no
[ -e /dev/mapper/control ] && dmsetup targets 2>/dev/null | grep -q '^crypt' && dm=yes
note "device-mapper with dm-crypt in this kernel: $dm"

# The boot as it goes on when the mapping is made (device-mapper) or not (this kernel).
opened() { # WHAT
	if [ "$dm" = yes ]; then
		check "$1: boots" grep -q "^loopboot: BitLocker host $rv opened as /dev/dm-" "$LB_OUT"
		check "$1: the root holds the image inside the NTFS inside the volume" grep -qx bitlocker-root "$ROOT/etc/marker"
		check "$1: status shows the crypt layer below the host" \
			bash -c "'$LOOPBOOT' status | grep -q '^crypt:  /dev/dm-.* (loopboot-bitlocker) ← $rv, BitLocker'"
		teardown_root
		check "$1: the mapping is gone after the teardown" bash -c "$(declare -f no_mapping); no_mapping"
	else
		check "$1: the password opened it, the mapping failed: one line" \
			grep -q "^loopboot: opening the BitLocker host: $rv: .* — the kernel needs dm-crypt" "$LB_OUT"
		check "$1: one failure line" test "$(failures)" -eq 1
		check "$1: nothing mounted" bash -c "$(declare -f nothing_mounted); nothing_mounted"
		teardown_root
	fi
	check "$1: the volume is byte-identical" identical
}

printf '12345\n%s\n%s\n' "$WRONG" "$PW" >"$WORK/answers"
lb_boot "root=$rv loop=/linux/root.img rw loopboot.bitlocker=ask" <"$WORK/answers"
check "ask: prompts on the console, naming the volume" grep -q "recovery password of $rv (48 digits; try 1 of 3)" "$LB_OUT"
check "ask: a typo is named before the volume is asked" grep -q "^loopboot: warning: that is no recovery password: a recovery password has 48 digits" "$LB_OUT"
check "ask: a wrong password is said" grep -q "^loopboot: warning: that recovery password does not open $rv" "$LB_OUT"
check "ask: the third try is the right one" grep -q "try 3 of 3" "$LB_OUT"
opened "ask, third try"

printf '%s\n%s\n%s\n' "$WRONG" "$WRONG" "$WRONG" >"$WORK/answers"
lb_boot "root=$rv loop=/linux/root.img rw loopboot.bitlocker=ask" <"$WORK/answers"
check "ask, three wrong: refused" test $? -ne 0
check "ask, three wrong: one line says where the recovery password is found" \
	grep -q "^loopboot: opening the BitLocker host: $rv: no recovery password given opens it — read the recovery password from your Microsoft account" "$LB_OUT"
check "ask, three wrong: no mapping, nothing mounted" bash -c "$(declare -f no_mapping nothing_mounted); no_mapping && nothing_mounted"
teardown_root
check "ask, three wrong: the volume is byte-identical" identical

lb_boot "root=$rv loop=/linux/root.img rw loopboot.bitlocker=ask" </dev/null
check "ask, no console input: one line says so" grep -q "^loopboot: asking for the BitLocker recovery password: $rv: no answer on the console — " "$LB_OUT"
teardown_root

# The key file on another device (ext4, label LBKEYS).
mkdir -p "$WORK/keys/bitlocker"
echo "$PW" >"$WORK/keys/bitlocker/pc.txt"
echo "$WRONG" >"$WORK/keys/bitlocker/old.txt"
mke2fs -q -F -t ext4 -L LBKEYS -d "$WORK/keys" "$WORK/keys.img" 8M
attach "$WORK/keys.img" >/dev/null || die "attaching the key device"
keys_before=$(sum "$WORK/keys.img")
lb_boot "root=$rv loop=/linux/root.img rw loopboot.bitlocker=LABEL=LBKEYS:/bitlocker/pc.txt"
opened "key file"
check "key file: its device is unmounted again" bash -c "! grep -q bitlocker-key /proc/self/mountinfo"
lb_boot "root=$rv loop=/linux/root.img rw loopboot.bitlocker=LABEL=LBKEYS:/bitlocker/old.txt"
check "key file, wrong password: one line names the file" \
	grep -q "^loopboot: opening the BitLocker host: $rv: the key file's password does not open it — .*(LABEL=LBKEYS:/bitlocker/old.txt)" "$LB_OUT"
teardown_root
lb_boot "root=$rv loop=/linux/root.img rw loopboot.bitlocker=LABEL=LBKEYS:/bitlocker/none.txt"
check "key file missing: one line names device and path" \
	grep -q "^loopboot: reading the BitLocker key file: LABEL=LBKEYS:/bitlocker/none.txt: " "$LB_OUT"
teardown_root
check "key file: its device is byte-identical (mounted read-only, no journal replay)" test "$(sum "$WORK/keys.img")" = "$keys_before"
check "key file: the volume is byte-identical" identical

finish
