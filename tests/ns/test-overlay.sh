#!/bin/bash
# Overlay roots (loopboot.overlay=), toram, on real hosts in a private mount namespace: a
# squashfs root under a tmpfs layer, a persistent layer file on NTFS across boots, its
# reset and read-only forms, a copy in RAM with the host unmounted, and the refusals that
# must leave the host byte-identical.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

# A squashfs root: an init, a marker, no /host (the overlay makes the mount point).
make_squashfs_root() { # OUT MARKER
	local dir
	dir=$(mktemp -d "$WORK/sqdir.XXXXXX")
	mkdir -p "$dir/sbin" "$dir/etc"
	cp /bin/true "$dir/sbin/init"
	echo "$2" >"$dir/etc/marker"
	mksquashfs "$dir" "$1" -quiet -noappend -all-root >/dev/null
}

# An overlay layer as loopboot create --overlay makes it: ext4 with upper/ and work/.
make_layer() { # OUT
	local dir
	dir=$(mktemp -d "$WORK/layer.XXXXXX")
	mkdir -p "$dir/upper" "$dir/work"
	mke2fs -q -F -t ext4 -L lboverlay -d "$dir" "$1" 16M
}

root_is_overlay() { test "$(mount_field "$ROOT" fstype)" = overlay; }

# ---- a squashfs root on an ext4 host, tmpfs layer -------------------------------------------
make_squashfs_root "$WORK/root.sqfs" sq-root
make_ext4_image "$WORK/e4host.img" 64M "$WORK/root.sqfs" live/root.sqfs
e4dev=$(attach "$WORK/e4host.img")
e4uuid=$(blkval "$e4dev" UUID)
lb_boot "root=UUID=$e4uuid loop=/live/root.sqfs loopboot.overlay=tmpfs:64M"
ok $? "squashfs + tmpfs overlay: boots"
check "squashfs + tmpfs overlay: the root is an overlay" root_is_overlay
check "squashfs + tmpfs overlay: the root holds the image" grep -qx sq-root "$ROOT/etc/marker"
check "squashfs + tmpfs overlay: the root can be written" bash -c "echo x > '$ROOT/etc/written'"
check "squashfs + tmpfs overlay: the base is the squashfs, read-only" \
	bash -c "findmnt -n -o FSTYPE,OPTIONS --mountpoint /run/loopboot/layers/base | grep -q '^squashfs *ro'"
check "squashfs + tmpfs overlay: the layer is a tmpfs of the size asked" \
	bash -c "findmnt -n -o FSTYPE,OPTIONS --mountpoint /run/loopboot/overlay | grep -q '^tmpfs .*size=65536k'"
check "squashfs + tmpfs overlay: the host is at /host (a mount point the overlay made)" \
	test "$(mount_field "$ROOT/host" source)" = "$e4dev"
check "squashfs + tmpfs overlay: status shows the layer" \
	bash -c "'$LOOPBOOT' status | grep -q '^overlay: .*tmpfs size=64M'"
check "squashfs + tmpfs overlay: status --get mount.overlay names it" \
	bash -c "'$LOOPBOOT' status --get mount.overlay | grep -qx 'tmpfs size=64M'"
teardown_root
check "squashfs + tmpfs overlay: nothing is left mounted" bash -c "! grep -q loopboot /proc/self/mountinfo"
check "squashfs + tmpfs overlay: the image on the host is byte-identical" \
	bash -c "debugfs -R 'cat /live/root.sqfs' '$WORK/e4host.img' 2>/dev/null | cmp -s - '$WORK/root.sqfs'"

# ---- toram: the copy in RAM, the host unmounted ---------------------------------------------
lb_boot "root=UUID=$e4uuid loop=/live/root.sqfs loopboot.overlay=tmpfs loopboot.toram"
ok $? "toram: boots"
check "toram: the console shows the copy" grep -q "copying /live/root.sqfs to RAM" "$LB_OUT"
check "toram: the root holds the image" grep -qx sq-root "$ROOT/etc/marker"
check "toram: the base's loop device is backed by the copy in RAM" \
	bash -c "losetup -n -O BACK-FILE \"\$(findmnt -n -o SOURCE --mountpoint /run/loopboot/layers/base)\" | grep -q '^/run/loopboot/toram/root.sqfs'"
check "toram: the host is not mounted any more" bash -c "! grep -q '^$e4dev ' /proc/mounts"
check "toram: the host's loop device is free to go" bash -c "! fuser -m '$e4dev' 2>/dev/null"
check "toram: the state record has no host" bash -c "! grep -q '^host ' /run/loopboot/state"
teardown_root
check "toram: nothing is left mounted" bash -c "! grep -q loopboot /proc/self/mountinfo"

# ---- a persistent layer file on NTFS, across boots ------------------------------------------
make_root_image "$WORK/root.img" ntfs-root
make_layer "$WORK/overlay.img"
make_ntfs_image "$WORK/ntfs.img" 96M WINDOWS "$WORK/root.img" linux/root.img "$WORK/overlay.img" linux/overlay.img
ndev=$(attach "$WORK/ntfs.img")
serial=$(blkval "$ndev" UUID)
root_sum=$(sha256sum <"$WORK/root.img")
cmd="root=UUID=$serial loop=/linux/root.img loopboot.overlay=/linux/overlay.img rw"
lb_boot "$cmd"
ok $? "persistent layer: boot 1"
check "persistent layer: the root is an overlay" root_is_overlay
check "persistent layer: the layer image is mounted read-write" \
	bash -c "findmnt -n -o FSTYPE,OPTIONS --mountpoint /run/loopboot/layers/overlay | grep -q '^ext4 *rw'"
echo boot-one >"$ROOT/etc/persisted"
check "persistent layer: status shows the layer" bash -c "'$LOOPBOOT' status | grep -q '^overlay: .*/linux/overlay.img'"
teardown_root
check "persistent layer: nothing is left mounted after boot 1" bash -c "! grep -q loopboot /proc/self/mountinfo"
lb_boot "$cmd"
ok $? "persistent layer: boot 2"
check "persistent layer: what boot 1 wrote is there in boot 2" grep -qx boot-one "$ROOT/etc/persisted"
teardown_root
lb_boot "$cmd loopboot.overlay.readonly"
ok $? "persistent layer, readonly: boots"
check "persistent layer, readonly: boot 1's file is there" grep -qx boot-one "$ROOT/etc/persisted"
check "persistent layer, readonly: the root can be written (in RAM)" bash -c "echo ram > '$ROOT/etc/persisted'"
check "persistent layer, readonly: the layer image is mounted read-only" \
	bash -c "findmnt -n -o OPTIONS --mountpoint /run/loopboot/layers/overlay | grep -q '^ro'"
teardown_root
lb_boot "$cmd"
ok $? "persistent layer: boot after the readonly one"
check "persistent layer: the readonly boot's change is gone" grep -qx boot-one "$ROOT/etc/persisted"
teardown_root
lb_boot "$cmd loopboot.overlay.reset"
ok $? "persistent layer, reset: boots"
check "persistent layer, reset: the layer was emptied" test ! -e "$ROOT/etc/persisted"
check "persistent layer, reset: the console says so" grep -q "emptied (loopboot.overlay.reset)" "$LB_OUT"
check "persistent layer, reset: the root still holds the image" grep -qx ntfs-root "$ROOT/etc/marker"
teardown_root
check "persistent layer: the root image on the host is byte-identical" \
	bash -c "ntfscat '$WORK/ntfs.img' linux/root.img | sha256sum | grep -qxF '$root_sum'"

# ---- a persistent layer on a partition ----------------------------------------------------
mke2fs -q -F -t ext4 -L lbpersist "$WORK/persist.img" 16M
pdev=$(attach "$WORK/persist.img")
pcmd="root=UUID=$serial loop=/linux/root.img loopboot.overlay=LABEL=lbpersist:/live/rw"
lb_boot "$pcmd"
ok $? "layer on a partition: boot 1"
check "layer on a partition: it is mounted read-write" \
	bash -c "findmnt -n -o SOURCE,OPTIONS --mountpoint /run/loopboot/layers/overlay | grep -q '^$pdev *rw'"
check "layer on a partition: the overlay's upper is DIR/upper" \
	bash -c "findmnt -n -o OPTIONS --mountpoint '$ROOT' | grep -q 'upperdir=/run/loopboot/layers/overlay/live/rw/upper'"
echo on-partition >"$ROOT/etc/persisted"
teardown_root
lb_boot "$pcmd"
ok $? "layer on a partition: boot 2"
check "layer on a partition: what boot 1 wrote is there" grep -qx on-partition "$ROOT/etc/persisted"
teardown_root
check "layer on a partition: the file is in DIR/upper on the partition" \
	bash -c "debugfs -R 'cat /live/rw/upper/etc/persisted' '$WORK/persist.img' 2>/dev/null | grep -qx on-partition"
mkfs.vfat -n LBFATRW -C "$WORK/fatrw.img" 16384 >/dev/null
attach "$WORK/fatrw.img" >/dev/null
lb_boot "root=UUID=$serial loop=/linux/root.img loopboot.overlay=LABEL=LBFATRW"
check "layer on a FAT partition: refused" test $? -ne 0
check "layer on a FAT partition: the line says to format it ext4" \
	grep -q "^loopboot: the overlay's device: LABEL=LBFATRW: its file system cannot hold an overlay's upper layer — format it with mkfs.ext4" "$LB_OUT"
teardown_root

# ---- loopboot check reads the same entries ------------------------------------------------
"$LOOPBOOT" check --cmdline "$cmd" >"$WORK/check.out" 2>&1
ok $? "check, persistent layer: the entry would boot"
sed 's/^/#   /' "$WORK/check.out"
check "check, persistent layer: the layer holds upper/ and work/" \
	grep -q "overlay layer: /linux/overlay.img: holds upper/ and work/" "$WORK/check.out"
check "check, persistent layer: no warning about a read-only root" bash -c "! grep -q 'root mode' '$WORK/check.out'"
"$LOOPBOOT" check --cmdline "root=UUID=$e4uuid loop=/live/root.sqfs loopboot.overlay=tmpfs" >"$WORK/check.out" 2>&1
ok $? "check, squashfs + tmpfs: the entry would boot"
sed 's/^/#   /' "$WORK/check.out"
"$LOOPBOOT" check --cmdline "root=UUID=$serial loop=/linux/root.img loopboot.overlay=/linux/root.img.nope" >"$WORK/check.out" 2>&1
check "check, missing layer: the entry would not boot" test $? -eq 1
check "check, missing layer: it names the file" grep -q "/linux/root.img.nope" "$WORK/check.out"

# ---- refusals: nothing written --------------------------------------------------------------
lb_refused "missing layer file" "$WORK/ntfs.img" \
	"root=UUID=$serial loop=/linux/root.img loopboot.overlay=/linux/nope.img rw" \
	"^loopboot: .*/linux/nope.img" "one loopboot: line names it"
lb_boot "root=UUID=$serial loop=/linux/root.img loopboot.overlay=/linux/root.img"
check "layer = root image: refused" test $? -ne 0
check "layer = root image: the message says to give the layer its own file" grep -q "its own file" "$LB_OUT"
lb_boot "root=UUID=$serial loop=/linux/root.img loopboot.overlay=tmpfs:lots"
check "bad tmpfs size: refused with an example" grep -q "loopboot.overlay=tmpfs:512M" "$LB_OUT"

# toram refused when the image does not fit: a sparse 64 GiB image on the ext4 host.
mkdir -p "$WORK/big"
mount "$e4dev" "$WORK/big"
truncate -s 64G "$WORK/big/big.img"
mke2fs -q -F -t ext4 -E lazy_itable_init=1,nodiscard "$WORK/big/big.img" >/dev/null 2>&1
umount "$WORK/big"
lb_refused "toram, too big" "$WORK/e4host.img" \
	"root=UUID=$e4uuid loop=/big.img loopboot.overlay=tmpfs loopboot.toram" \
	"^loopboot: copying the root image into RAM (loopboot.toram): /big.img: 65536 MiB do not fit into the [0-9]* MiB of memory available" \
	"the line names the sizes"

finish
