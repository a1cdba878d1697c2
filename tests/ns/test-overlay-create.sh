#!/bin/bash
# `loopboot create --overlay`: a persistent overlay layer file on an ext4, an NTFS (ntfs-3g)
# and a FAT32 host: upper/ and work/ at its root (directories, root's, 0755, seen by
# debugfs and by a mount), the loopboot.overlay= words printed for the host, overlayfs
# taking it as its upper layer; the refusals (an existing file, no room, FAT's 4 GiB, a
# --fs that is not a file system, not root) write nothing; `loopboot check` given the
# layer as loop= says what it is.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

MB=$((1024 * 1024))
size_is() { [ "$(stat -c %s "$1")" -eq "$2" ]; }
no_holes() { [ $(($(stat -c %b "$1") * 512)) -ge "$2" ]; }
# debugfs's view of a directory of an ext4 image: "directory 0755 0 0" for root's 0755.
e2_dir() { # IMAGE PATH
	debugfs -R "stat $2" "$1" 2>/dev/null | sed -n \
		-e 's/^Inode: [0-9]*  *Type: \([a-z]*\)  *Mode:  *\([0-7]*\) .*/\1 \2/p' \
		-e 's/^User: *\([0-9]*\)  *Group: *\([0-9]*\).*/\1 \2/p' | tr '\n' ' ' | sed 's/ $//'
}
# The root of an image as a mount shows it: "upper:directory:755:0:0 work:...", sorted.
mounted_root() { # IMAGE
	local m=$WORK/layer-mnt out
	mkdir -p "$m"
	mount -o ro,loop "$1" "$m" || return 1
	out=$(cd "$m" && for e in upper work; do stat -c "%n:%F:%a:%u:%g" "$e"; done | tr '\n' ' ')
	umount "$m"
	echo "${out% }"
}
layer_ok() { [ "$(mounted_root "$1")" = "upper:directory:755:0:0 work:directory:755:0:0" ]; }

# shellcheck disable=SC2034 # read by lib.sh's cleanup
CLEANUP_MOUNTS=("$WORK/merged" "$WORK/rw" "$WORK/layer-mnt" "$WORK/e4" "$WORK/n" "$WORK/f")

# ---- an ext4 host ------------------------------------------------------------------------
mount_ext4_host "$WORK/e4host.img" OVHOST 640M "$WORK/e4"
e4uuid=$HOST_UUID
ov=$WORK/e4/linux/overlay.img
lb create "$ov" --size 64M --overlay
ok $? "create --overlay on ext4: exit status 0"
check "create --overlay: the file has the size asked for" size_is "$ov" $((64 * MB))
check "create --overlay: no holes (blocks >= size)" no_holes "$ov" $((64 * MB))
check "create --overlay: ext4 by default" test "$(blkid -o value -s TYPE "$ov")" = ext4
check "create --overlay: the summary names an overlay layer" out_has "^$ov: 64 MiB ext4 overlay layer (empty upper/ and work/), preallocated with fallocate, [0-9]* extents\?$"
check "create --overlay: debugfs: /upper is a directory, 0755, root's" test "$(e2_dir "$ov" /upper)" = "directory 0755 0 0"
check "create --overlay: debugfs: /work is a directory, 0755, root's" test "$(e2_dir "$ov" /work)" = "directory 0755 0 0"
# debugfs ls -p: /INODE/MODE/UID/GID/NAME/SIZE/, one entry a line.
e2_entries() { debugfs -R "ls -p $2" "$1" 2>/dev/null | awk -F/ 'NF > 5 && $6 != "." && $6 != ".." { n++ } END { print n + 0 }'; }
check "create --overlay: both empty" test "$(e2_entries "$ov" /upper) $(e2_entries "$ov" /work)" = "0 0"
check "create --overlay: a mount shows the same" layer_ok "$ov"
check "create --overlay: the file system is clean" e2fsck -fn "$ov"
check "create --overlay: prints the loopboot.overlay= words, the path on the host" out_has "^add to the boot entry: loopboot.overlay=/linux/overlay.img$"
check "create --overlay: says they go beside the loop= of a read-only root on this host" out_has "^  beside the loop= of a read-only root image on the same host: root=UUID=$e4uuid loop=<the root image> loopboot.overlay=/linux/overlay.img$"
check "create --overlay: no boot entry for the layer itself" bash -c "! grep -q 'boot it with\|loop=/linux/overlay.img' '$LB_OUT'"
check "create --overlay: no private directory left behind" bash -c "! ls -d /tmp/loopboot-create.* 2>/dev/null"
check "create --overlay: the file is 0600, as an image" test "$(stat -c %a "$ov")" = 600

# overlayfs takes it as its upper layer: what is written lands in upper/.
mkdir -p "$WORK/lower" "$WORK/rw" "$WORK/merged"
echo lower >"$WORK/lower/base"
merge() {
	mount -o loop "$ov" "$WORK/rw" &&
		mount -t overlay overlay -o "lowerdir=$WORK/lower,upperdir=$WORK/rw/upper,workdir=$WORK/rw/work" "$WORK/merged" &&
		echo written >"$WORK/merged/new" && grep -q lower "$WORK/merged/base" &&
		umount "$WORK/merged" && test "$(cat "$WORK/rw/upper/new")" = written &&
		umount "$WORK/rw"
}
check "create --overlay: overlayfs mounts it as upper/work and writes land in upper/" merge
mountpoint -q "$WORK/merged" && umount "$WORK/merged"
mountpoint -q "$WORK/rw" && umount "$WORK/rw"

mkdir -p "$WORK/e4/My Linux"
lb create "$WORK/e4/My Linux/over lay.img" --size 16M --overlay --label layer
ok $? "create --overlay, a path with blanks: exit status 0"
check "create --overlay, blanks: the word is quoted whole, as the kernel reads it" out_has "^add to the boot entry: \"loopboot.overlay=/My Linux/over lay.img\"$"
check "create --overlay, --label: blkid sees it" test "$(blkid -o value -s LABEL "$WORK/e4/My Linux/over lay.img")" = layer
rm -f "$WORK/e4/My Linux/over lay.img"

# xfs and btrfs take upper/ too, when this machine has their mkfs.
overlay_other_fs() { # FS SIZE_MB
	local fs=$1 img=$WORK/e4/linux/$1-overlay.img
	if ! command -v "mkfs.$fs" >/dev/null; then
		note "mkfs.$fs missing: --overlay --fs $fs not tested"
		return
	fi
	lb create "$img" --size "$2M" --fs "$fs" --overlay
	ok $? "create --overlay --fs $fs: exit status 0"
	check "create --overlay --fs $fs: blkid sees $fs" test "$(blkid -o value -s TYPE "$img")" = "$fs"
	check "create --overlay --fs $fs: upper/ and work/ are root's 0755 directories" layer_ok "$img"
	check "create --overlay --fs $fs: no holes" no_holes "$img" $(($2 * MB))
	check "create --overlay --fs $fs: the words" out_has "^add to the boot entry: loopboot.overlay=/linux/$fs-overlay.img$"
	rm -f "$img"
}
overlay_other_fs xfs 300
overlay_other_fs btrfs 160

# `loopboot check` given the layer as the root image: what it is, and where it goes.
lb check --cmdline "root=UUID=$e4uuid loop=/linux/overlay.img rw"
check "check, the layer as loop=: exit status 1" test $? -eq 1
check "check, the layer as loop=: one line says it is an overlay layer and where it goes" out_has "^problem: root image: /linux/overlay.img: an overlay layer (upper/ and work/, as loopboot create --overlay makes it), not a root file system — give it as loopboot.overlay=/linux/overlay.img beside the loop= of a read-only root image$"
check "check, the layer as loop=: no init problem as well" bash -c "! grep -q '^problem: init program' '$LB_OUT'"

# ---- refusals: nothing is written ----------------------------------------------------------
before=$(sum "$ov")
lb create "$ov" --size 32M --overlay
check "create --overlay over an existing file: exit status 1" test $? -eq 1
check "create --overlay over an existing file: one line says it exists" out_has "^loopboot: create: $ov: the file already exists — "
check "create --overlay over an existing file: the file is untouched" test "$(sum "$ov")" = "$before"

lb create "$WORK/e4/linux/huge.img" --size 2G --overlay
check "create --overlay too big for the host: exit status 1" test $? -eq 1
check "create --overlay too big: the message says how much is free" out_has "^loopboot: create: not enough room: .*: the host has .* free, the image needs 2 GiB — "
check "create --overlay too big: no file is left" test ! -e "$WORK/e4/linux/huge.img"

lb create "$WORK/e4/linux/fat-layer.img" --size 64M --overlay --fs vfat
check "create --overlay --fs vfat: usage error (exit status 2)" test $? -eq 2
check "create --overlay --fs vfat: one line names the file systems to use" out_has "^loopboot: create: --fs vfat: not supported — use ext4, xfs or btrfs$"
check "create --overlay --fs vfat: no file" test ! -e "$WORK/e4/linux/fat-layer.img"
lb create "$WORK/e4/linux/x.img" --size 64M --overlay=yes
check "create --overlay=yes: usage error (exit status 2)" test $? -eq 2
check "create --overlay=yes: one line" out_has "^loopboot: create: --overlay=yes: the option takes no value — "
check "create --overlay=yes: no file" test ! -e "$WORK/e4/linux/x.img"

chmod 1777 "$WORK/e4/linux"
chmod 755 "$WORK"
setpriv --reuid=65534 --regid=65534 --clear-groups "$LOOPBOOT" create "$WORK/e4/linux/user.img" --size 16M --overlay >"$LB_OUT" 2>&1
rc=$?
sed 's/^/#   /' "$LB_OUT"
chmod 700 "$WORK"
check "create --overlay not as root: exit status 1" test $rc -eq 1
check "create --overlay not as root: one line says why and what to do" out_has "^loopboot: create --overlay: $WORK/e4/linux/user.img: not root: upper/ and work/ must be root's, .* — run it as root"
check "create --overlay not as root: no file" test ! -e "$WORK/e4/linux/user.img"
check "create --overlay: after all of it, no private directory left behind" bash -c "! ls -d /tmp/loopboot-create.* 2>/dev/null"
umount "$WORK/e4"

# ---- an NTFS host through ntfs-3g: the usual home of a layer -----------------------------
make_ntfs_image "$WORK/ntfs.img" 160M WINDOWS
ndev=$(attach "$WORK/ntfs.img")
serial=$(blkval "$ndev" UUID)
mkdir -p "$WORK/n"
ntfs-3g "$ndev" "$WORK/n"
mkdir -p "$WORK/n/linux"
lb create "$WORK/n/linux/overlay.img" --size 32M --overlay
ok $? "create --overlay on NTFS (ntfs-3g): exit status 0"
check "create --overlay on NTFS: zeros were written (no fallocate through FUSE)" out_has "overlay layer (empty upper/ and work/), written with zeros"
check "create --overlay on NTFS: the words name the path on the NTFS volume, with its serial" bash -c "grep -q '^add to the boot entry: loopboot.overlay=/linux/overlay.img$' '$LB_OUT' && grep -q '^  beside the loop= .*: root=UUID=$serial loop=' '$LB_OUT'"
umount "$WORK/n"
ntfscat "$ndev" linux/overlay.img >"$WORK/ntfs-layer.img" 2>/dev/null
check "create --overlay on NTFS: read back, upper/ is root's 0755 directory" test "$(e2_dir "$WORK/ntfs-layer.img" /upper)" = "directory 0755 0 0"
check "create --overlay on NTFS: read back, work/ too" test "$(e2_dir "$WORK/ntfs-layer.img" /work)" = "directory 0755 0 0"
check "create --overlay on NTFS: read back clean" e2fsck -fn "$WORK/ntfs-layer.img"
rm -f "$WORK/ntfs-layer.img"

# ---- a FAT32 host: its 4 GiB limit holds for layers too ----------------------------------
mkfs.vfat -F 32 -n FATHOST -C "$WORK/fat.img" $((160 * 1024)) >/dev/null
fdev=$(attach "$WORK/fat.img")
fuuid=$(blkval "$fdev" UUID)
mkdir -p "$WORK/f"
mount -t vfat "$fdev" "$WORK/f" 2>/dev/null || fusefat -o rw+ "$fdev" "$WORK/f" >/dev/null 2>&1
note "FAT host mounted as $(mount_field "$WORK/f" fstype)"
lb create "$WORK/f/overlay.img" --size 32M --overlay
ok $? "create --overlay on FAT32: exit status 0"
if [ "$(mount_field "$WORK/f" fstype)" = vfat ]; then
	check "create --overlay on FAT32: the words, with the FAT volume's id" bash -c "grep -q '^add to the boot entry: loopboot.overlay=/overlay.img$' '$LB_OUT' && grep -q 'root=UUID=$fuuid loop=' '$LB_OUT'"
else # fusefat's mount names no block device: as create's entry, the words say what to fill in
	check "create --overlay on FAT32 (fusefat): the words, the path to fill in" out_has "^add to the boot entry: loopboot.overlay=<its path on the host>, beside the loop= of a read-only root image on the same host$"
fi
check "create --overlay on FAT32: upper/ and work/" layer_ok "$WORK/f/overlay.img"
lb create "$WORK/f/big.img" --size 5G --overlay
check "create --overlay 5G on FAT32: exit status 1" test $? -eq 1
check "create --overlay 5G on FAT32: the 4 GiB limit is named" out_has "FAT files hold at most 4 GiB - 1 byte"
check "create --overlay 5G on FAT32: no file is left" test ! -e "$WORK/f/big.img"
umount "$WORK/f"
finish
