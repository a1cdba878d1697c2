#!/bin/bash
# `loopboot boot --root-mnt DIR` on real host images: NTFS (ntfs-3g or ntfs3), FAT32,
# exFAT, ext4, a nested image, an extra /home image, and the failures that must leave the
# host byte-identical.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

# A boot that fails with one loopboot: line, leaving the NTFS host as it was before it.
fails_on_ntfs() { # NAME CMDLINE PATTERN WHAT-THE-MESSAGE-DOES [NAME-OF-THE-FAILURE]
	lb_refused "$1" "$WORK/ntfs.img" "$2" "$3" "$4" "${5:-}"
}

# ---- ext4 host, root=UUID= ----------------------------------------------------------------
make_root_image "$WORK/root.img" ext4-host-root
make_ext4_image "$WORK/ext4host.img" 96M "$WORK/root.img" images/root.img
dev=$(attach "$WORK/ext4host.img")
uuid=$(blkval "$dev" UUID)
lb_boot "root=UUID=${uuid^^} loop=/images/root.img rw"
ok $? "ext4 host: boot succeeds with root=UUID= (upper case) and loop="
check "ext4 host: the root is a loop device" is_loop_mount "$ROOT"
check "ext4 host: the root is the image (marker)" grep -qx ext4-host-root "$ROOT/etc/marker"
check "ext4 host: the root is read-write with rw" bash -c "findmnt -n -o OPTIONS --mountpoint '$ROOT' | grep -q '^rw'"
check "ext4 host: the host is at /host" test "$(mount_field "$ROOT/host" source)" = "$dev"
check "ext4 host: the host is ext4" test "$(mount_field "$ROOT/host" fstype)" = ext4
check "ext4 host: the state record names the host and the root" \
	bash -c "grep -q '^host .*target=/host' /run/loopboot/state && grep -q '^mount .*role=root.*target=/ ' /run/loopboot/state"
check "ext4 host: status shows the stack" bash -c "'$LOOPBOOT' status | grep -q 'loop: .*/images/root.img'"
check "ext4 host: status --json is JSON" bash -c "'$LOOPBOOT' status --json | python3 -m json.tool"
check "ext4 host: the loop device uses direct I/O" bash -c "grep -q '^loop .*dio=1' /run/loopboot/state"
# The typed record: a version line, fields for scripts, typed JSON, refusal of what it cannot read.
check "ext4 host: the state record carries its version" grep -qx "version 1" /run/loopboot/state
check "ext4 host: status --get host.source is the host device" test "$("$LOOPBOOT" status --get host.source)" = "$dev"
check "ext4 host: status --get mount.type lists the root's type" test "$("$LOOPBOOT" status --get mount.type)" = ext4
check "ext4 host: status --get of an unknown field exits 2" bash -c "'$LOOPBOOT' status --get host.colour; test \$? -eq 2"
check "ext4 host: status --json has typed values" bash -c "'$LOOPBOOT' status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0][\"kind\"]==\"host\" and d[0][\"ro\"] is False and isinstance(d[1].get(\"ro\"), bool)'"
cp /run/loopboot/state "$WORK/state.good"
sed 's/^version 1$/version 9/' "$WORK/state.good" >/run/loopboot/state
"$LOOPBOOT" status >"$LB_OUT" 2>&1
check "ext4 host: a record of another version is refused (exit 1)" test $? -eq 1
check "ext4 host: ... in one line naming the version" grep -q '^loopboot: reading the state record: /run/loopboot/state: version 9 of the record' "$LB_OUT"
"$LOOPBOOT" teardown --root-mnt "$ROOT" >"$LB_OUT" 2>&1
check "ext4 host: teardown refuses it too (exit 1)" test $? -eq 1
check "ext4 host: ... and takes nothing down" bash -c "mountpoint -q '$ROOT' && mountpoint -q '$ROOT/host'"
printf 'version 1\noverlay lower=/x\n' >/run/loopboot/state
"$LOOPBOOT" status >"$LB_OUT" 2>&1
check "ext4 host: a record of an unknown kind is refused" grep -q 'line 2: unknown kind of record "overlay"' "$LB_OUT"
cp "$WORK/state.good" /run/loopboot/state
check "ext4 host: a write lands in the image" bash -c "echo written > '$ROOT/etc/written' && sync"
teardown_root
check "ext4 host: the write is in the image after unmount" \
	bash -c "debugfs -R 'dump /images/root.img $WORK/root-after.img' '$WORK/ext4host.img' 2>/dev/null && debugfs -R 'cat /etc/written' '$WORK/root-after.img' 2>/dev/null | grep -qx written"
check "ext4 host: the image is clean" e2fsck -fn "$WORK/root-after.img"

# Default (ro): the root image is mounted read-only, the loop device stays writable.
lb_boot "root=$dev loop=/images/root.img"
ok $? "ext4 host: boot with root=/dev/loopN and the default ro"
check "ext4 host: the root is read-only by default" bash -c "findmnt -n -o OPTIONS --mountpoint '$ROOT' | grep -q '^ro'"
check "ext4 host: the host is read-write" bash -c "findmnt -n -o OPTIONS --mountpoint '$ROOT/host' | grep -q '^rw'"
teardown_root

# ---- NTFS host through ntfs-3g (or ntfs3 when the kernel has it) --------------------------
make_root_image "$WORK/ntfsroot.img" ntfs-root
make_plain_image "$WORK/home.img" home-image
make_ntfs_image "$WORK/ntfs.img" 96M WINDOWS "$WORK/ntfsroot.img" linux/root.img "$WORK/home.img" linux/home.img
dev=$(attach "$WORK/ntfs.img")
serial=$(blkval "$dev" UUID)
note "NTFS serial $serial on $dev"
lb_boot "root=UUID=$serial loop=/linux/root.img loopboot.mount=/home:/linux/home.img rw"
ok $? "NTFS host: boot succeeds with root=UUID=<16-digit serial>"
check "NTFS host: the root is a loop device" is_loop_mount "$ROOT"
check "NTFS host: the root is the image" grep -qx ntfs-root "$ROOT/etc/marker"
check "NTFS host: the host is mounted at /host" mountpoint -q "$ROOT/host"
fstype=$(mount_field "$ROOT/host" fstype)
note "host file system type: $fstype"
check "NTFS host: the host type is ntfs3 or fuseblk (ntfs-3g)" bash -c "[[ '$fstype' == ntfs3 || '$fstype' == fuseblk ]]"
if [ "$fstype" = fuseblk ]; then
	check "NTFS host: the ntfs-3g daemon runs as a root storage daemon (argv[0] starts with @)" \
		bash -c "pgrep -af '^@ntfs-3g ' | grep -q '$dev'"
	check "NTFS host: the state record has the daemon's pid" bash -c "pid=\$(sed -n 's/^host .*pid=\([0-9]*\).*/\1/p' /run/loopboot/state); [ -n \"\$pid\" ] && tr '\0' ' ' </proc/\$pid/cmdline | grep -q '^@ntfs-3g'"
fi
check "NTFS host: /home is the extra image on a loop device" is_loop_mount "$ROOT/home"
check "NTFS host: /home holds the home image" grep -qx home-image "$ROOT/home/marker"
check "NTFS host: a write to /home lands" bash -c "echo home-write > '$ROOT/home/written' && sync"
check "NTFS host: a write to / lands" bash -c "echo root-write > '$ROOT/etc/written' && sync"
teardown_root
check "NTFS host: the /home write is in home.img" bash -c "ntfscat '$WORK/ntfs.img' linux/home.img > '$WORK/home-after.img' && debugfs -R 'cat /written' '$WORK/home-after.img' 2>/dev/null | grep -qx home-write"
check "NTFS host: the root write is in root.img" bash -c "ntfscat '$WORK/ntfs.img' linux/root.img > '$WORK/nroot-after.img' && debugfs -R 'cat /etc/written' '$WORK/nroot-after.img' 2>/dev/null | grep -qx root-write"
check "NTFS host: both images are clean" bash -c "e2fsck -fn '$WORK/home-after.img' && e2fsck -fn '$WORK/nroot-after.img'"

# Failures on the NTFS host: each is one loopboot: line, and the host stays byte-identical.
sum_before=$(sha256sum <"$WORK/ntfs.img")
lb_boot "root=UUID=$serial loop=/linux/nope.img loopboot.timeout=2"
rc=$?
check "missing file: boot fails" test "$rc" -ne 0
check "missing file: one loopboot: line names the path and the host" grep -q '^loopboot: image file not found: /linux/nope.img: no such file on the host UUID=' "$LB_OUT"
check "missing file: the directory it looked in is listed" grep -q '^loopboot: /linux on the host .* holds 2 entries: .*root.img' "$LB_OUT"
check "missing file: nothing is left mounted" bash -c "! mountpoint -q '$ROOT' && ! mountpoint -q /run/loopboot/host"
teardown_root
check "missing file: the NTFS host is byte-identical" test "$(sha256sum <"$WORK/ntfs.img")" = "$sum_before"

fails_on_ntfs "wrong type" "root=UUID=$serial loop=/linux/root.img loopfstype=xfs" \
	'^loopboot: image: /linux/root.img: its file system does not match — it holds ext4; fix loopfstype=xfs' \
	"the message names loopfstype and what the image holds"
fails_on_ntfs "missing mount point" "root=UUID=$serial loop=/linux/root.img loopboot.mount=/srv:/linux/home.img" \
	'^loopboot: mount point: .*/srv: the directory is missing in the image' "the message names it" \
	"missing mount point in a read-only root"
fails_on_ntfs "a directory as loop=" "root=UUID=$serial loop=/linux" \
	'^loopboot: image file: /linux: it is a directory' "the message says so"

lb_boot "root=UUID=0000000000000000 loop=/linux/root.img loopboot.timeout=1"
check "unknown host: boot fails" test $? -ne 0
check "unknown host: the message names the UUID" grep -q '^loopboot: host device not found: UUID=0000000000000000' "$LB_OUT"
check "unknown host: the block devices are listed with their tags" grep -q "^loopboot:   $dev TYPE=ntfs UUID=$serial" "$LB_OUT"

# ---- not a file system -----------------------------------------------------------------
head -c 4M /dev/urandom >"$WORK/random.img"
ntfs_put "$WORK/ntfs.img" "$WORK/random.img" linux/random.img
fails_on_ntfs "not a file system" "root=UUID=$serial loop=/linux/random.img" \
	'^loopboot: image: /linux/random.img: no file system found in it' "the message says so"

# ---- FAT32 host, LABEL= and a space in the path -----------------------------------------
make_root_image "$WORK/fatroot.img" fat-root
mkfs.vfat -F 32 -n LBSTICK -C "$WORK/fat.img" 98304 >/dev/null
mmd -i "$WORK/fat.img" "::/My Linux"
mcopy -i "$WORK/fat.img" "$WORK/fatroot.img" "::/My Linux/root.img"
dev=$(attach "$WORK/fat.img")
lb_boot 'root=LABEL=LBSTICK "loop=/My Linux/root.img" rw'
ok $? "FAT32 host: boot succeeds with LABEL= and a quoted path with a space"
check "FAT32 host: the root is a loop device" is_loop_mount "$ROOT"
check "FAT32 host: the root is the image" grep -qx fat-root "$ROOT/etc/marker"
note "FAT host type: $(mount_field "$ROOT/host" fstype)"
check "FAT32 host: the host is at /host" test -f "$ROOT/host/My Linux/root.img"
check "FAT32 host: a write to / lands" bash -c "echo fat-write > '$ROOT/etc/written' && sync"
teardown_root
check "FAT32 host: the write is in the image" bash -c "mcopy -n -i '$WORK/fat.img' '::/My Linux/root.img' '$WORK/fatroot-after.img' && debugfs -R 'cat /etc/written' '$WORK/fatroot-after.img' 2>/dev/null | grep -qx fat-write"
check "FAT32 host: the image is clean" e2fsck -fn "$WORK/fatroot-after.img"

# ---- exFAT host, root=/dev/NAME ---------------------------------------------------------
make_root_image "$WORK/exroot.img" exfat-root
truncate -s 96M "$WORK/exfat.img"
mkfs.exfat -L LBEXFAT "$WORK/exfat.img" >/dev/null
mkdir -p "$WORK/exmnt"
# exfat-fuse wants a block device, not a file.
dev=$(attach "$WORK/exfat.img")
mount -t exfat "$dev" "$WORK/exmnt" 2>/dev/null || mount.exfat-fuse "$dev" "$WORK/exmnt" >/dev/null
mkdir -p "$WORK/exmnt/linux" && cp "$WORK/exroot.img" "$WORK/exmnt/linux/root.img"
umount "$WORK/exmnt"
lb_boot "root=$dev loop=/linux/root.img rw"
ok $? "exFAT host: boot succeeds with root=/dev/NAME"
check "exFAT host: the root is the image" grep -qx exfat-root "$ROOT/etc/marker"
note "exFAT host type: $(mount_field "$ROOT/host" fstype)"
check "exFAT host: a write to / lands" bash -c "echo exfat-write > '$ROOT/etc/written' && sync"
teardown_root
mount -t exfat -o ro "$dev" "$WORK/exmnt" 2>/dev/null || mount.exfat-fuse -o ro "$dev" "$WORK/exmnt" >/dev/null
check "exFAT host: the write is in the image" bash -c "debugfs -R 'cat /etc/written' '$WORK/exmnt/linux/root.img' 2>/dev/null | grep -qx exfat-write"
umount "$WORK/exmnt"

# ---- nested: an image inside an image on an ext4 host ------------------------------------
make_root_image "$WORK/inner.img" nested-root
mkdir -p "$WORK/outerdir/images"
cp "$WORK/inner.img" "$WORK/outerdir/images/root.img"
mkdir -p "$WORK/nesthost/vm"
mke2fs -q -F -t ext4 -d "$WORK/outerdir" "$WORK/nesthost/vm/outer.img" 64M
mke2fs -q -F -t ext4 -L NESTHOST -d "$WORK/nesthost" "$WORK/nest.img" 128M
dev=$(attach "$WORK/nest.img")
lb_boot "root=LABEL=NESTHOST loop=/vm/outer.img//images/root.img rw"
ok $? "nested: boot succeeds with loop=/vm/outer.img//images/root.img"
check "nested: the root is the inner image" grep -qx nested-root "$ROOT/etc/marker"
check "nested: the root is a loop device" is_loop_mount "$ROOT"
check "nested: the outer image is a recorded layer" bash -c "grep -q '^mount .*role=layer.*image=/vm/outer.img' /run/loopboot/state"
check "nested: two loop devices are recorded" test "$(grep -c '^loop ' /run/loopboot/state)" -eq 2
check "nested: a write to / lands" bash -c "echo nested-write > '$ROOT/etc/written' && sync"
teardown_root
check "nested: the write is in the inner image" bash -c "debugfs -R 'dump /vm/outer.img $WORK/outer-after.img' '$WORK/nest.img' 2>/dev/null && debugfs -R 'dump /images/root.img $WORK/inner-after.img' '$WORK/outer-after.img' 2>/dev/null && debugfs -R 'cat /etc/written' '$WORK/inner-after.img' 2>/dev/null | grep -qx nested-write"
check "nested: both images are clean" bash -c "e2fsck -fn '$WORK/outer-after.img' && e2fsck -fn '$WORK/inner-after.img'"

lb_boot "root=LABEL=NESTHOST loop=/vm/outer.img//images/missing.img"
check "nested missing file: boot fails" test $? -ne 0
check "nested missing file: the message says where it looked" grep -q '^loopboot: image file not found: /images/missing.img: no such file on the image /vm/outer.img' "$LB_OUT"
teardown_root

# ---- plan: bad input exits 2 and names the parameter ------------------------------------
"$LOOPBOOT" plan --cmdline "root=/dev/sda1 loop=images/root.img" >"$LB_OUT" 2>&1
check "plan: a relative loop= exits 2" test $? -eq 2
check "plan: the message names the parameter" grep -q '^loopboot: bad kernel parameter: loop=images/root.img' "$LB_OUT"
"$LOOPBOOT" plan --cmdline "root=UUID=ABCD loop=/a.img" >"$LB_OUT" 2>&1
check "plan: a good command line exits 0" test $? -eq 0
lb_boot "root=/dev/sda1 loop="
check "boot: bad input exits 2" test $? -eq 2

finish
