#!/bin/bash
# `loopboot install`'s refusals, each one line before anything is written, and its failure
# path with a real mmdebstrap that cannot reach its mirror: the log's last lines shown,
# the unfinished image removed, or kept under a name that says so. The whole install,
# booted, is tests/vm/test-install.sh.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

out_has() { grep -q -- "$1" "$LB_OUT"; }
lb() { # ARGS... -> status; output (stdout and stderr) in $LB_OUT. No terminal: setsid.
	setsid "$LOOPBOOT" "$@" >"$LB_OUT" 2>&1 </dev/null
	local rc=$?
	sed 's/^/#   /' "$LB_OUT"
	return $rc
}
# shellcheck disable=SC2034 # read by lib.sh's cleanup
CLEANUP_MOUNTS=("$WORK/e4")

mke2fs -q -F -t ext4 "$WORK/host.img" 256M
dev=$(attach "$WORK/host.img")
mkdir -p "$WORK/e4"
mount "$dev" "$WORK/e4"
mkdir -p "$WORK/e4/linux"
img=$WORK/e4/linux/root.img
echo "secret" >"$WORK/pw"
echo "not a package" >"$WORK/fake.deb"
nothing_left() { [ -z "$(ls -A "$WORK/e4/linux")" ]; }

# ---- refused before anything is written ------------------------------------------------------
refused() { # NAME STATUS PATTERN ARGS...
	local name=$1 status=$2 pattern=$3
	shift 3
	lb install "$@"
	check "$name: exit status $status" test $? -eq "$status"
	check "$name: one loopboot: line says so" out_has "$pattern"
	check "$name: nothing is written to the host" nothing_left
}
refused "no password, no terminal" 2 \
	"^loopboot: install: no password for the new system — give --root-password-file FILE, or --user NAME --user-password-file FILE" \
	"$img" --size 64M --deb "$WORK/fake.deb"
refused "no --size" 2 "^loopboot: install: --size is missing" \
	"$img" --root-password-file "$WORK/pw" --deb "$WORK/fake.deb"
refused "a bad host name" 2 "^loopboot: install: --hostname Bad_Name: a host name is" \
	"$img" --size 64M --hostname Bad_Name --root-password-file "$WORK/pw" --deb "$WORK/fake.deb"
refused "a bad user name" 2 "^loopboot: install: --user 'x: a user name is" \
	"$img" --size 64M --user "'x" --user-password-file "$WORK/pw" --deb "$WORK/fake.deb"
refused "--user without its password" 2 "^loopboot: install: --user needs --user-password-file" \
	"$img" --size 64M --user ada --root-password-file "$WORK/pw" --deb "$WORK/fake.deb"
refused "an unknown variant" 2 "^loopboot: install: --variant huge: use minbase, important or standard" \
	"$img" --size 64M --variant huge --root-password-file "$WORK/pw" --deb "$WORK/fake.deb"
refused "packages with shell characters" 2 "^loopboot: install: --packages vim;reboot: package names separated by commas" \
	"$img" --size 64M --packages 'vim;reboot' --root-password-file "$WORK/pw" --deb "$WORK/fake.deb"
refused "a missing password file" 1 "^loopboot: .*$WORK/nope" \
	"$img" --size 64M --root-password-file "$WORK/nope" --deb "$WORK/fake.deb"
refused "a missing package file" 2 "^loopboot: install: the loopboot package to put into the image: .* — give --deb FILE (make deb builds it)" \
	"$img" --size 64M --root-password-file "$WORK/pw" --deb "$WORK/nope.deb"
refused "more than the host has" 1 "^loopboot: create: not enough room: " \
	"$img" --size 1G --root-password-file "$WORK/pw" --deb "$WORK/fake.deb"
touch "$img"
lb install "$img" --size 64M --root-password-file "$WORK/pw" --deb "$WORK/fake.deb"
check "an existing FILE: exit status 1" test $? -eq 1
check "an existing FILE: never overwritten" test ! -s "$img"
rm -f "$img"

# ---- a failure inside mmdebstrap ---------------------------------------------------------------
lb install "$img" --size 64M --root-password-file "$WORK/pw" --deb "$WORK/fake.deb" \
	--mirror "file://$WORK/no-mirror" --suite bookworm
check "mmdebstrap fails: exit status 1" test $? -eq 1
check "mmdebstrap fails: the stages before it were reported" out_has "^install: the image made and formatted ("
check "mmdebstrap fails: its log's last lines are shown" out_has "^  mmdebstrap: "
check "mmdebstrap fails: one loopboot: line names the log" out_has "^loopboot: install: mmdebstrap: bookworm: .* — see its messages above and the whole log in $img.install.log$"
check "mmdebstrap fails: the unfinished image is removed" test ! -e "$img"
check "mmdebstrap fails: the log stays" test -s "$img.install.log"
check "mmdebstrap fails: nothing of ours stays mounted" bash -c "! grep -q loopboot-install /proc/self/mountinfo"
rm -f "$img.install.log"
lb install "$img" --size 64M --root-password-file "$WORK/pw" --deb "$WORK/fake.deb" \
	--mirror "file://$WORK/no-mirror" --suite bookworm --keep-on-failure
check "--keep-on-failure: exit status 1" test $? -eq 1
check "--keep-on-failure: the image is kept as FILE.unfinished" test -s "$img.unfinished"
check "--keep-on-failure: and not under its own name" test ! -e "$img"
check "--keep-on-failure: the kept name is said" out_has "$img.unfinished"
check "no loop device is left on the image" bash -c "! losetup -n -O BACK-FILE | grep -q \"$WORK/e4\""
umount "$WORK/e4"
finish
