#!/bin/bash
# The user tools on real hosts: `loopboot create` (ext4 host with fallocate, NTFS through
# ntfs-3g and FAT32 through the kernel or fusefat, which cannot preallocate), `loopboot
# check` (a good entry, then planted problems, each one line and exit 1, the hosts
# byte-identical afterwards), `loopboot grub` and /etc/grub.d/42_loopboot.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

FSFLAGS=$(cd "$(dirname "$0")/../lib" && pwd)/fsflags.py
GRUBD=$(cd "$(dirname "$0")/../../integrations/grub" && pwd)/42_loopboot
size_is() { [ "$(stat -c %s "$1")" -eq "$2" ]; }
# No holes: every byte of the file has a block on the host.
no_holes() { [ $(($(stat -c %b "$1") * 512)) -ge "$2" ]; }
out_has() { grep -q -- "$1" "$LB_OUT"; }
show() { sed 's/^/#   /' "$LB_OUT"; }

lb() { # ARGS... -> status; output (stdout and stderr) in $LB_OUT
	"$LOOPBOOT" "$@" >"$LB_OUT" 2>&1
	local rc=$?
	show
	return $rc
}

# `loopboot check` of a bad entry: its exit status, and the lines it must print.
check_finds() { # NAME STATUS CMDLINE [WHAT PATTERN]...
	local name=$1 status=$2
	lb check --cmdline "$3"
	check "$name: exit status $status" test $? -eq "$status"
	shift 3
	while [ $# -ge 2 ]; do
		check "$name: $1" out_has "$2"
		shift 2
	done
}

# check_finds with HOST-IMAGE attached for it; the host is byte-identical afterwards.
check_finds_host() { # HOST-IMAGE NAME STATUS CMDLINE [WHAT PATTERN]...
	local img=$1 dev before
	dev=$(attach "$img") || return 1
	before=$(sum "$img")
	shift
	check_finds "$@"
	check "$1: the host is byte-identical" test "$(sum "$img")" = "$before"
	losetup -d "$dev"
}

MB=$((1024 * 1024))
# shellcheck disable=SC2034 # read by lib.sh's cleanup
CLEANUP_MOUNTS=("$WORK/e4" "$WORK/n" "$WORK/f" "$WORK/gm")

# ---- create: ext4 host (fallocate) -------------------------------------------------------
mount_ext4_host "$WORK/e4host.img" E4HOST 640M "$WORK/e4"
e4uuid=$HOST_UUID
lb create "$WORK/e4/linux/root.img" --size 64M --label lbroot
ok $? "create on ext4: exit status 0"
check "create on ext4: the file has the size asked for" size_is "$WORK/e4/linux/root.img" $((64 * MB))
check "create on ext4: no holes (blocks >= size)" no_holes "$WORK/e4/linux/root.img" $((64 * MB))
check "create on ext4: blkid sees ext4" test "$(blkid -o value -s TYPE "$WORK/e4/linux/root.img")" = ext4
check "create on ext4: blkid sees the label" test "$(blkid -o value -s LABEL "$WORK/e4/linux/root.img")" = lbroot
check "create on ext4: preallocated with fallocate" out_has "preallocated with fallocate"
check "create on ext4: reports the extents" grep -Eq 'ext4 image.*, [0-9]+ extents?$' "$LB_OUT"
check "create on ext4: prints the boot entry" out_has "^boot it with: root=UUID=$e4uuid loop=/linux/root.img rw$"
check "create on ext4: the image is clean" e2fsck -fn "$WORK/e4/linux/root.img"

# Another file system type for the image, when this machine has its mkfs.
create_other_fs() { # FS SIZE_MB LABEL
	local fs=$1 img=$WORK/e4/linux/$1.img
	if ! command -v "mkfs.$fs" >/dev/null; then
		note "mkfs.$fs missing: --fs $fs not tested"
		return
	fi
	lb create "$img" --size "$2M" --fs "$fs" --label "$3"
	ok $? "create --fs $fs: exit status 0"
	check "create --fs $fs: blkid sees $fs and the label" test "$(blkid -o value -s TYPE "$img"):$(blkid -o value -s LABEL "$img")" = "$fs:$3"
	check "create --fs $fs: no holes" no_holes "$img" $(($2 * MB))
	rm -f "$img"
}
create_other_fs xfs 300 XFSIMG
create_other_fs btrfs 160 BTRIMG

before=$(sum "$WORK/e4/linux/root.img")
lb create "$WORK/e4/linux/root.img" --size 32M
check "create over an existing file: exit status 1" test $? -eq 1
check "create over an existing file: one line says it exists" out_has "^loopboot: create: $WORK/e4/linux/root.img: the file already exists — "
check "create over an existing file: the file is untouched" test "$(sum "$WORK/e4/linux/root.img")" = "$before"

lb create "$WORK/e4/linux/huge.img" --size 2G
check "create too big for the host: exit status 1" test $? -eq 1
check "create too big for the host: the message says how much is free" out_has "^loopboot: create: not enough room: .*: the host has .* free, the image needs 2 GiB — "
check "create too big for the host: no file is left" test ! -e "$WORK/e4/linux/huge.img"

lb create "$WORK/e4/linux/odd.img" --size 5000
check "create --size 5000: usage error (exit status 2)" test $? -eq 2
check "create --size 5000: names the nearest good size" out_has "not a multiple of 4096 — use --size 8K"
check "create --size 5000: no file" test ! -e "$WORK/e4/linux/odd.img"
lb create "$WORK/e4/linux/odd.img" --size 1Q
check "create --size 1Q: exit status 2" test $? -eq 2
lb create "$WORK/e4/linux/odd.img" --size 64M --fs zfs
check "create --fs zfs: exit status 2" test $? -eq 2
lb create "$WORK/e4/linux/odd.img"
check "create without --size: exit status 2" test $? -eq 2
lb create "$WORK/e4/nodir/x.img" --size 4M
check "create in a missing directory: exit status 1" test $? -eq 1

# ---- create: NTFS through ntfs-3g (no fallocate: zeros are written) ------------------------
make_ntfs_image "$WORK/ntfs.img" 200M WINDOWS
ndev=$(attach "$WORK/ntfs.img")
serial=$(blkval "$ndev" UUID)
mkdir -p "$WORK/n"
ntfs-3g "$ndev" "$WORK/n"
note "NTFS host $ndev mounted with ntfs-3g: $(mount_field "$WORK/n" fstype)"
mkdir -p "$WORK/n/My Linux"
lb create "$WORK/n/My Linux/root.img" --size 48M --label ntfsimg
ok $? "create on NTFS (ntfs-3g): exit status 0"
check "create on NTFS: the file has the size asked for" size_is "$WORK/n/My Linux/root.img" $((48 * MB))
check "create on NTFS: no holes (blocks >= size)" no_holes "$WORK/n/My Linux/root.img" $((48 * MB))
check "create on NTFS: blkid sees ext4 with the label" test "$(blkid -o value -s LABEL "$WORK/n/My Linux/root.img")" = ntfsimg
check "create on NTFS: zeros were written (no fallocate through FUSE)" out_has "written with zeros"
check "create on NTFS: progress was reported" out_has "^loopboot: create: 100% written"
check "create on NTFS: FIEMAP unsupported is said" out_has "extents not reported by the host file system (no FIEMAP)"
check "create on NTFS: the boot entry names the NTFS serial" out_has "^boot it with: root=UUID=$serial \"loop=/My Linux/root.img\" rw$"
lb create "$WORK/n/My Linux/big.img" --size 1G
check "create too big on NTFS: exit status 1" test $? -eq 1
check "create too big on NTFS: no file is left" test ! -e "$WORK/n/My Linux/big.img"
umount "$WORK/n"
ntfscat "$ndev" "My Linux/root.img" >"$WORK/ntfs-root-copy.img" 2>/dev/null
check "create on NTFS: the image reads back clean after unmounting" e2fsck -fn "$WORK/ntfs-root-copy.img"
rm -f "$WORK/ntfs-root-copy.img"

# ---- create: FAT32 (the kernel's vfat, or fusefat) -----------------------------------------
mkfs.vfat -F 32 -n FATHOST -C "$WORK/fat.img" $((160 * 1024)) >/dev/null
fdev=$(attach "$WORK/fat.img")
mkdir -p "$WORK/f"
mount -t vfat "$fdev" "$WORK/f" 2>/dev/null || fusefat -o rw+ "$fdev" "$WORK/f" >/dev/null
note "FAT host mounted as $(mount_field "$WORK/f" fstype)"
lb create "$WORK/f/root.img" --size 32M --label fatimg
ok $? "create on FAT32: exit status 0"
check "create on FAT32: the file has the size asked for" size_is "$WORK/f/root.img" $((32 * MB))
check "create on FAT32: no holes" no_holes "$WORK/f/root.img" $((32 * MB))
check "create on FAT32: blkid sees the label" test "$(blkid -o value -s LABEL "$WORK/f/root.img")" = fatimg
lb create "$WORK/f/big.img" --size 5G
check "create 5G on FAT32: exit status 1" test $? -eq 1
check "create 5G on FAT32: the 4 GiB limit is named" out_has "FAT files hold at most 4 GiB - 1 byte"
check "create 5G on FAT32: no file is left" test ! -e "$WORK/f/big.img"
umount "$WORK/f"
losetup -d "$fdev"

# ---- check: a good NTFS setup ----------------------------------------------------------------
make_root_image "$WORK/root.img" tools-root
make_plain_image "$WORK/home.img" tools-home
make_ntfs_image "$WORK/good.img" 128M GOODWIN "$WORK/root.img" linux/root.img "$WORK/home.img" linux/home.img
gdev=$(attach "$WORK/good.img")
gserial=$(blkval "$gdev" UUID)
good="root=UUID=$gserial loop=/linux/root.img loopboot.mount=/home:/linux/home.img rw"
before=$(sum "$WORK/good.img")
loops_now >"$WORK/loops.before"
lb check --cmdline "$good"
ok $? "check, good NTFS entry: exit status 0"
check "check, good: the host is found" out_has "^ok: host: UUID=$gserial: $gdev, ntfs, label GOODWIN$"
check "check, good: the host's driver is named" grep -Eq '^ok: host driver: ntfs: (the kernel.s ntfs3|ntfs-3g \(FUSE\))' "$LB_OUT"
check "check, good: the host is safe to write" out_has "^ok: host state: UUID=$gserial: safe to write"
check "check, good: the root image is found" out_has "^ok: image: /linux/root.img: 32 MiB on the host UUID=$gserial$"
check "check, good: fragmentation is reported" out_has "^ok: fragmentation: /linux/root.img: "
check "check, good: the file system was checked read-only" out_has "^ok: file system: /linux/root.img: ext4, clean (e2fsck -fn, read-only)$"
check "check, good: init is found" out_has "^ok: init: /sbin/init"
check "check, good: /home is checked too" out_has "^ok: file system: /linux/home.img: ext4, clean"
check "check, good: fstab does not mount the host" out_has "^ok: fstab: /etc/fstab"
check "check, good: summary with no problem" out_has "^summary: [0-9]* ok, [0-9]* warnings\?, 0 problems — this entry would boot"
check "check, good: every line is a finding" bash -c "! grep -Ev '^(checking|ok|warning|problem|summary): ' '$LB_OUT'"
check "check, good: the host is byte-identical" test "$(sum "$WORK/good.img")" = "$before"
check "check, good: no loop device left on the images" no_loop_left "$WORK/loops.before" '(root|home)\.img'
check "check, good: no ntfs-3g left running on the host" bash -c "! pgrep -f '^@ntfs-3g $gdev '"
check "check, good: nothing left mounted" bash -c "! grep -q loopboot-view /proc/self/mountinfo && ! ls -d /run/loopboot-view.* /tmp/loopboot-view.* 2>/dev/null"

# The host already mounted somewhere: looked at there, not mounted again.
mkdir -p "$WORK/gm"
ntfs-3g -o ro "$gdev" "$WORK/gm"
lb check --cmdline "$good"
ok $? "check, host mounted already: exit status 0"
check "check, host mounted already: looked at where it is" out_has "^ok: host files: UUID=$gserial: mounted at $WORK/gm"
umount "$WORK/gm"

check_finds "check, missing image" 1 "root=UUID=$gserial loop=/linux/nope.img rw" \
	"one line names it" "^problem: image file not found: /linux/nope.img: no such file on the host UUID=$gserial — " \
	"the summary says it would not boot" "^summary: .* 1 problem — this entry would not boot"
check_finds "check, wrong loopfstype" 1 "root=UUID=$gserial loop=/linux/root.img loopfstype=xfs" \
	"the line says what the image holds" "^problem: image type: /linux/root.img: it holds ext4, the command line says xfs — "
lb check --cmdline "root=UUID=$gserial loop=/linux/root.img loopboot.mount=/srv:/linux/home.img"
check "check, missing mount point in a read-only root: exit status 1" test $? -eq 1
check "check, missing mount point: the line names it" out_has "^problem: mount point: /srv: the directory is missing in the read-only root image — "
check_finds "check, unknown host" 1 "root=UUID=0000000000000000 loop=/linux/root.img" \
	"one line names it" "^problem: host device not found: UUID=0000000000000000: "
check_finds "check, bad command line" 2 "root=UUID=$gserial loop=linux/root.img"
lb check --frobnicate
check "check, bad option: exit status 2" test $? -eq 2
check "check: after all of it, the host is byte-identical" test "$(sum "$WORK/good.img")" = "$before"

# ---- check: a hibernated Windows -------------------------------------------------------------
make_hibernated_ntfs "$WORK/hib.img" HIBWIN "$WORK/root.img"
hdev=$(attach "$WORK/hib.img")
hserial=$(blkval "$hdev" UUID)
before=$(sum "$WORK/hib.img")
check_finds "check, hibernated NTFS" 1 "root=UUID=$hserial loop=/linux/root.img rw" \
	"one line says why and what to do" "^problem: host not safe to write: UUID=$hserial: Windows is hibernated on it .* — .*shutdown /s /t 0" \
	"the image is still looked at" "^ok: image: /linux/root.img"
lb check --cmdline "root=UUID=$hserial loop=/linux/root.img rw loopboot.hibernated=ro"
ok $? "check, hibernated NTFS with loopboot.hibernated=ro: exit status 0"
check "check, hibernated=ro: a warning says it boots a volatile session" out_has "^warning: host not safe to write: UUID=$hserial: .*read-only volatile session"
check "check, hibernated NTFS: the host is byte-identical" test "$(sum "$WORK/hib.img")" = "$before"

# ---- check: the image's /etc/fstab mounts the host -----------------------------------------
fsdir=$(mktemp -d "$WORK/fstabroot.XXXXXX")
mkdir -p "$fsdir/sbin" "$fsdir/host" "$fsdir/etc"
cp /bin/true "$fsdir/sbin/init"
printf '# a fstab\nUUID=%s /host ntfs-3g defaults 0 0\n' "$gserial" >"$fsdir/etc/fstab"
mke2fs -q -F -t ext4 -d "$fsdir" "$WORK/fstab-root.img" 16M
losetup -d "$gdev"
ntfs_put "$WORK/good.img" "$WORK/fstab-root.img" linux/fstab.img
gdev=$(attach "$WORK/good.img")
before=$(sum "$WORK/good.img")
check_finds "check, fstab mounts the host" 1 "root=UUID=$gserial loop=/linux/fstab.img rw" \
	"the line is quoted with its number" "^problem: the image's /etc/fstab mounts the host: line 2: UUID=$gserial /host ntfs-3g defaults 0 0 — "
check "check, fstab: the host is byte-identical" test "$(sum "$WORK/good.img")" = "$before"

# ---- check: a FAT32 host not unmounted cleanly ---------------------------------------------
mkfs.vfat -F 32 -n DIRTYFAT -C "$WORK/dfat.img" 98304 >/dev/null
mmd -i "$WORK/dfat.img" ::/linux
mcopy -i "$WORK/dfat.img" "$WORK/root.img" ::/linux/root.img
python3 "$FSFLAGS" fat-dirty "$WORK/dfat.img"
check_finds_host "$WORK/dfat.img" "check, dirty FAT" 1 "root=LABEL=DIRTYFAT loop=/linux/root.img rw" \
	"one line says why and names fsck.fat" "^problem: host not safe to write: LABEL=DIRTYFAT: the FAT volume was not unmounted cleanly.* — .*fsck.fat"
# The boot sector's dirty bit (Linux's vfat), FAT[1] clean: the same words as the boot's.
fsck.fat -a "$WORK/dfat.img" >/dev/null 2>&1
python3 "$FSFLAGS" fat-bootdirty "$WORK/dfat.img"
check_finds_host "$WORK/dfat.img" "check, FAT boot sector dirty" 1 "root=LABEL=DIRTYFAT loop=/linux/root.img rw" \
	"one line says why and names fsck.fat -a" "^problem: host not safe to write: LABEL=DIRTYFAT: the FAT volume was not unmounted cleanly (its boot sector is marked dirty) — run fsck.fat -a DEVICE"

# ---- check: an ext4 host whose journal needs replaying (as after a crash) -------------------
mkdir -p "$WORK/rechost/linux"
cp "$WORK/root.img" "$WORK/rechost/linux/root.img"
mke2fs -q -F -t ext4 -L RECHOST -d "$WORK/rechost" "$WORK/rec.img" 96M
debugfs -w -R "feature needs_recovery" "$WORK/rec.img" >/dev/null 2>&1
before=$(sum "$WORK/rec.img")
rdev=$(attach "$WORK/rec.img")
lb check --cmdline "root=LABEL=RECHOST loop=/linux/root.img rw"
ok $? "check, ext4 host with a journal to replay: exit status 0"
check "check, journal to replay: mounted read-only for the check, nothing replayed" out_has "^ok: host files: LABEL=RECHOST: mounted read-only with ext4 for this check$"
losetup -d "$rdev"
check "check, journal to replay: the host is byte-identical (the journal was not replayed)" test "$(sum "$WORK/rec.img")" = "$before"

# ---- check: a nested image on an ext4 host, an image without init ---------------------------
make_root_image "$WORK/inner.img" nested-root
mkdir -p "$WORK/outerdir/images" "$WORK/noinit/etc"
cp "$WORK/inner.img" "$WORK/outerdir/images/root.img"
mke2fs -q -F -t ext4 -d "$WORK/outerdir" "$WORK/e4/linux/outer.img" 64M
mke2fs -q -F -t ext4 -d "$WORK/noinit" "$WORK/e4/linux/noinit.img" 8M
sync
lb check --cmdline "root=LABEL=E4HOST loop=/linux/outer.img//images/root.img rw"
ok $? "check, nested image on ext4: exit status 0"
check "check, nested: the inner image is checked" out_has "^ok: file system: /images/root.img: ext4, clean"
check "check, nested: the inner image is found in the outer" out_has "^ok: image: /images/root.img: .* on the image /linux/outer.img$"
check "check, nested: the host was already mounted and is looked at there" out_has "^ok: host files: LABEL=E4HOST: mounted at $WORK/e4"
lb check --cmdline "root=LABEL=E4HOST loop=/linux/noinit.img"
check "check, no init in the image: exit status 1" test $? -eq 1
check "check, no init: one line says so" out_has "^problem: init program: /sbin/init: not found or not executable in the root image — "

# ---- check: a root that stays read-only; the image's own initramfs ---------------------------
# An initramfs as initramfs-tools makes it: an uncompressed early archive padded to 512
# bytes, then the main archive compressed (gzip here), with or without loopboot's hook
# (scripts-only: the hook's scripts without the binary, as a hook that could not find it).
make_initramfs() { # OUT HOOK(yes|no|scripts-only)
	local t=$WORK/initramfs-tree
	rm -rf "$t" && mkdir -p "$t/early/kernel/x86/microcode" "$t/main/scripts" "$t/main/bin"
	echo ucode >"$t/early/kernel/x86/microcode/GenuineIntel.bin"
	cp /bin/true "$t/main/bin/true"
	if [ "$2" != no ]; then
		echo '# loopboot' >"$t/main/scripts/loopboot"
		[ "$2" = yes ] && mkdir -p "$t/main/usr/sbin" && cp /bin/true "$t/main/usr/sbin/loopboot"
	fi
	(cd "$t/early" && find . | cpio -o -H newc 2>/dev/null) >"$1"
	truncate -s %512 "$1"
	(cd "$t/main" && find . | cpio -o -H newc 2>/dev/null | gzip -9) >>"$1"
}
mkdir -p "$WORK/modes/sbin" "$WORK/modes/etc" "$WORK/modes/boot" "$WORK/modes/host"
cp /bin/true "$WORK/modes/sbin/init"
echo "LABEL=lbroot / ext4 errors=remount-ro 0 1" >"$WORK/modes/etc/fstab"
make_initramfs "$WORK/modes/boot/initrd.img" yes
make_initramfs "$WORK/modes/boot/initrd.img-6.1.0-9-amd64" no
make_initramfs "$WORK/modes/boot/initrd.img-6.1.0-8-amd64" scripts-only
mke2fs -q -F -t ext4 -d "$WORK/modes" "$WORK/e4/linux/modes.img" 16M
make_root_image "$WORK/e4/linux/nofstab.img" no-fstab
sync
lb check --cmdline "root=LABEL=E4HOST loop=/linux/modes.img"
ok $? "check, no rw but a line for / in fstab: exit status 0"
check "check, no rw, fstab: the root is read-write after the fstab" out_has "^ok: root mode: ro: mounted read-only, then read-write by the image's /etc/fstab (line 1)$"
check "check, no kernel from the image: its initramfs is not looked at" bash -c "! grep -q initramfs '$LB_OUT'"
lb check --cmdline "root=LABEL=E4HOST loop=/linux/nofstab.img"
check "check, no rw and no fstab: exit status 0 (it boots)" test $? -eq 0
check "check, no rw and no fstab: warns it stays read-only" out_has "^warning: root mode: no rw: the image's /etc/fstab has no line for /: the system stays read-only — add rw to the entry, or a line for / (without ro) to the image's /etc/fstab$"
lb check --cmdline "root=LABEL=E4HOST loop=/linux/modes.img rw" --kernel-from image
ok $? "check --kernel-from image, initramfs with the hook: exit status 0"
check "check --kernel-from image: the hook is found in the compressed archive" out_has "^ok: the image's initramfs: /boot/initrd.img: has loopboot's hook (initramfs-tools: scripts/loopboot)$"
lb check --cmdline "BOOT_IMAGE=(loop0)/boot/vmlinuz-6.1.0-9-amd64 root=LABEL=E4HOST loop=/linux/modes.img rw"
check "check, BOOT_IMAGE from GRUB's loop device, initramfs without the hook: exit status 0" test $? -eq 0
check "check, initramfs without the hook: the initramfs beside the kernel is named, with the fix" out_has "^warning: the image's initramfs: /boot/initrd.img-6.1.0-9-amd64: lacks loopboot's hook, and the entry loads the image's kernel: it cannot mount the image — install loopboot in the image and rebuild it"
lb check --cmdline "BOOT_IMAGE=(loop0)/boot/vmlinuz-6.1.0-8-amd64 root=LABEL=E4HOST loop=/linux/modes.img rw"
check "check, the hook's scripts without the binary: warned as a missing hook" out_has "^warning: the image's initramfs: /boot/initrd.img-6.1.0-8-amd64: lacks loopboot's hook"
lb check --cmdline "root=LABEL=E4HOST loop=/linux/nofstab.img rw" --kernel-from image
check "check --kernel-from image, no initramfs in the image: exit status 1" test $? -eq 1
check "check --kernel-from image, no initramfs: one problem line" out_has "^problem: the image's initramfs: /initrd.img: not found, and the entry loads the image's kernel — "
lb check --cmdline "root=LABEL=E4HOST loop=/linux/modes.img" --kernel-from host
check "check --kernel-from host: exit status 2 (only image is a value)" test $? -eq 2
umount "$WORK/e4"

# ---- grub -----------------------------------------------------------------------------------
# Images with a kernel: as Debian has it (/vmlinuz and /initrd.img links at the top), and
# versions only in /boot (6.1.0-18 is newer than 6.1.0-9). Nothing is mounted: grub looks
# inside them itself. root.img has no kernel.
kernel_image() { # OUT links|versions
	local d
	d=$(mktemp -d "$WORK/kimg.XXXXXX")
	mkdir -p "$d/sbin" "$d/host" "$d/etc" "$d/boot"
	cp /bin/true "$d/sbin/init"
	for v in 6.1.0-9-amd64 6.1.0-18-amd64; do
		echo "kernel $v" >"$d/boot/vmlinuz-$v"
		echo "initrd $v" >"$d/boot/initrd.img-$v"
	done
	if [ "$2" = links ]; then
		ln -s boot/vmlinuz-6.1.0-9-amd64 "$d/vmlinuz"
		ln -s boot/initrd.img-6.1.0-9-amd64 "$d/initrd.img"
	fi
	mke2fs -q -F -t ext4 -d "$d" "$1" 16M
}
kernel_image "$WORK/links.img" links
kernel_image "$WORK/versions.img" versions
losetup -d "$gdev"
ntfs_put "$WORK/good.img" "$WORK/links.img" linux/links.img
ntfs_put "$WORK/good.img" "$WORK/versions.img" linux/versions.img
gdev=$(attach "$WORK/good.img")
LOOPNAME='loopboot-[0-9a-f]\{8\}'
lb grub --cmdline "BOOT_IMAGE=/vmlinuz root=$gdev loop=/linux/links.img rw quiet"
ok $? "grub, NTFS host by device path: exit status 0"
check "grub: GRUB searches the host by its NTFS serial" out_has "^	search --no-floppy --fs-uuid --set=root $gserial$"
check "grub: loads GRUB's ntfs module" out_has "^	insmod ntfs$"
check "grub: removes a stale device of the image's own name first" out_has "^	if \[ -e ($LOOPNAME)/ \]; then loopback -d $LOOPNAME; fi$"
check "grub: opens the image with loopback, a name of its own" out_has "^	loopback $LOOPNAME /linux/links.img$"
check "grub: with nothing mounted, the kernel is the image's /vmlinuz link" out_has "^	linux ($LOOPNAME)/vmlinuz root=$gdev loop=/linux/links.img rw quiet$"
check "grub: and the initramfs its /initrd.img" out_has "^	initrd ($LOOPNAME)/initrd.img$"
check "grub: BOOT_IMAGE= is dropped" bash -c "! grep -q BOOT_IMAGE '$LB_OUT'"
check "grub: the image's type chose GRUB's module" out_has "^	insmod ext2$"
check "grub: no warning" bash -c "! grep -q warning '$LB_OUT'"
check "grub: nothing stays mounted or attached" bash -c "! grep -q '$gdev' /proc/self/mountinfo && [ \$(losetup -j '$WORK/good.img' | wc -l) -eq 1 ]"
cp "$LB_OUT" "$WORK/links.entry"
lb grub --cmdline "root=UUID=$gserial loop=/linux/versions.img rw"
ok $? "grub, an image without links: exit status 0"
check "grub, no links: the newest /boot/vmlinuz-VERSION (version order)" out_has "^	linux ($LOOPNAME)/boot/vmlinuz-6.1.0-18-amd64 root=UUID=$gserial loop=/linux/versions.img rw$"
check "grub, no links: and its initramfs" out_has "^	initrd ($LOOPNAME)/boot/initrd.img-6.1.0-18-amd64$"
name_a=$(sed -n 's/^	loopback \(loopboot-[0-9a-f]*\) .*/\1/p' "$WORK/links.entry")
name_b=$(sed -n 's/^	loopback \(loopboot-[0-9a-f]*\) .*/\1/p' "$LB_OUT")
check "grub: two images, two loopback names ($name_a, $name_b)" bash -c "[ -n '$name_a' ] && [ -n '$name_b' ] && [ '$name_a' != '$name_b' ]"
lb grub --cmdline "root=UUID=$gserial loop=/linux/links.img rw" --title "again"
check "grub: the same image, the same name (stable)" out_has "^	loopback $name_a /linux/links.img$"
lb grub --cmdline "root=UUID=$gserial loop=/linux/root.img rw"
check "grub, no kernel in the image: exit status 3" test $? -eq 3
check "grub, no kernel: one warning naming the image and the fix" out_has "^loopboot: warning: grub: /linux/root.img: no kernel in the image (/vmlinuz, /boot/vmlinuz, /boot/vmlinuz-VERSION): no entry written — install one"
check "grub, no kernel: no entry" bash -c "! grep -q menuentry '$LB_OUT'"
lb grub --cmdline "root=UUID=$gserial loop=/linux/links.img rw" --kernel /boot/vmlinuz-6.1.0-18-amd64
ok $? "grub --kernel alone: exit status 0"
check "grub --kernel alone: the initramfs beside that kernel" out_has "^	initrd ($LOOPNAME)/boot/initrd.img-6.1.0-18-amd64$"
lb grub --cmdline "root=UUID=$gserial loop=/linux/missing.img rw"
check "grub, no such image: exit status 1" test $? -eq 1
check "grub, no such image: one line" out_has "^loopboot: grub: /linux/missing.img: no such image file — "

mkdir -p "$WORK/gm"
ntfs-3g -o ro "$gdev" "$WORK/gm"
lb grub --cmdline "root=UUID=$gserial loop=/linux/root.img rw" --kernel-from host --title "Host kernel"
ok $? "grub --kernel-from host: exit status 0"
check "grub --kernel-from host: the kernel is beside the image" out_has "^	linux /linux/vmlinuz root=UUID=$gserial loop=/linux/root.img rw$"
check "grub --kernel-from host: no loopback" bash -c "! grep -q loopback '$LB_OUT'"
check "grub --kernel-from host: the title" out_has "^menuentry 'Host kernel' "
check "grub --kernel-from host: warns that the kernel is not there" out_has "^loopboot: warning: grub: the kernel /linux/vmlinuz is not on the host"
umount "$WORK/gm"

# The FAT host is not attached now: nothing to look into.
lb grub --cmdline "root=LABEL=FATHOST \"loop=/My Linux/outer.img//inner dir/root.img\" rw"
ok $? "grub, LABEL= and spaces, host not here: exit status 0"
check "grub, host not here: warns that Debian's links are written unchecked" out_has "^loopboot: warning: grub: LABEL=FATHOST: the host is not here to look into the image: the entry names /vmlinuz and /initrd.img unchecked — "
check "grub: root=LABEL= searches by label" out_has "^	search --no-floppy --label --set=root FATHOST$"
check "grub: nested images chain loop devices, quoted" out_has "^	loopback $LOOPNAME '($LOOPNAME)/inner dir/root.img'$"
check "grub: the inner image's device is not the outer's" bash -c "[ \$(grep -o 'loopback loopboot-[0-9a-f]*' '$LB_OUT' | sort -u | wc -l) -eq 2 ]"
check "grub: a path with spaces is quoted for GRUB" out_has "^	linux ($LOOPNAME)/vmlinuz root=LABEL=FATHOST 'loop=/My Linux/outer.img//inner dir/root.img' rw$"

lb grub --cmdline "root=PARTUUID=00000000-01 loop=/linux/root.img"
check "grub, host not found by PARTUUID: exit status 1" test $? -eq 1
check "grub, host not found: one line" out_has "^loopboot: grub: host device not found: PARTUUID=00000000-01: "
lb grub --cmdline "root=$gdev"
check "grub, no loop=: exit status 1" test $? -eq 1
lb grub --kernel-from usb --cmdline "root=$gdev loop=/a.img"
check "grub, bad --kernel-from: exit status 2" test $? -eq 2

# On a booted entry: the host at $ROOT/host, the image in use as the root (the Debian-style
# image with /vmlinuz and /initrd.img links at its top).
booted="root=UUID=$gserial loop=/linux/links.img rw"
lb_boot "$booted"
ok $? "booted entry: loopboot boot succeeds"
lb check --cmdline "$booted"
ok $? "check on a booted entry: exit status 0"
check "check on a booted entry: the host is looked at in \$ROOT/host" out_has "^ok: host files: UUID=$gserial: mounted at $ROOT/host "
check "check on a booted entry: the image in use is not fsck'd" out_has "^ok: file system: /linux/links.img: in use: /dev/loop[0-9]*, mounted at $ROOT; not checked while mounted$"
check "check on a booted entry: init is found in the running root" out_has "^ok: init: /sbin/init"
check "check on a booted entry: the dirty flags of the host mounted rw are not taken for a problem" out_has "^ok: host state: UUID=$gserial: not hibernated; mounted read-write at $ROOT/host"
lb grub --cmdline "$booted"
ok $? "grub on a booted entry: exit status 0"
check "grub on a booted entry: takes /vmlinuz, which the image has" out_has "^	linux ($LOOPNAME)/vmlinuz root=UUID=$gserial loop=/linux/links.img rw$"
check "grub on a booted entry: and /initrd.img" out_has "^	initrd ($LOOPNAME)/initrd.img$"
check "grub on a booted entry: the same device name as with nothing mounted" out_has "^	loopback $name_a /linux/links.img$"
check "grub on a booted entry: the image's type chose GRUB's module" out_has "^	insmod ext2$"
check "grub on a booted entry: no warning" bash -c "! grep -q warning '$LB_OUT'"
teardown_root

# /etc/grub.d/42_loopboot reading a loopboot.conf: an image without a kernel is a warning,
# and the lines after it still give their entries.
cat >"$WORK/loopboot.conf" <<EOF
# loopboot entries
Debian on Windows | root=UUID=$gserial loop=/linux/links.img rw quiet
No kernel | root=UUID=$gserial loop=/linux/root.img rw

  Debian, host kernel | root=UUID=$gserial loop=/linux/root.img | host
Versions | root=UUID=$gserial loop=/linux/versions.img rw
no bar here
EOF
LOOPBOOT_CONF=$WORK/loopboot.conf LOOPBOOT=$LOOPBOOT sh "$GRUBD" >"$LB_OUT" 2>"$WORK/grubd.err"
ok $? "42_loopboot: exit status 0"
show
sed 's/^/#   stderr: /' "$WORK/grubd.err"
check "42_loopboot: three menu entries" test "$(grep -c '^menuentry ' "$LB_OUT")" -eq 3
check "42_loopboot: the first with its title and command line" out_has "^menuentry 'Debian on Windows' "
check "42_loopboot: the first takes the kernel from the image" out_has "^	linux ($name_a)/vmlinuz root=UUID=$gserial loop=/linux/links.img rw quiet$"
check "42_loopboot: the image without a kernel: loopboot's warning, and no entry" bash -c "grep -q '^loopboot: warning: grub: /linux/root.img: no kernel in the image' '$WORK/grubd.err' && ! grep -q \"^menuentry 'No kernel'\" '$LB_OUT'"
check "42_loopboot: no second line for it (a warning, not a failure)" bash -c "! grep -q 'failed' '$WORK/grubd.err'"
check "42_loopboot: the host kernel entry after it" out_has "^	linux /linux/vmlinuz root=UUID=$gserial loop=/linux/root.img$"
check "42_loopboot: the last image, its own device ($name_b), its newest kernel" out_has "^	linux ($name_b)/boot/vmlinuz-6.1.0-18-amd64 root=UUID=$gserial loop=/linux/versions.img rw$"
check "42_loopboot: 'Found loopboot entry' for each entry written, not for the skipped one" bash -c "[ \$(grep -c '^Found loopboot entry: ' '$WORK/grubd.err') -eq 3 ] && ! grep -q 'Found loopboot entry: No kernel' '$WORK/grubd.err'"
check "42_loopboot: a bad line is reported and skipped" grep -q "loopboot.conf:7: no '|'" "$WORK/grubd.err"
LOOPBOOT_CONF=$WORK/none.conf sh "$GRUBD" >"$LB_OUT" 2>&1
rc=$?
check "42_loopboot: no loopboot.conf, no output" bash -c "[ $rc -eq 0 ] && [ ! -s '$LB_OUT' ]"
check "42_loopboot: shellcheck-clean" bash -c "! command -v shellcheck >/dev/null || shellcheck -s sh '$GRUBD'"

# ---- loopboot helpers: the lists the frameworks' hooks take ---------------------------------
lb helpers programs
check "helpers programs: exit status 0" test $? -eq 0
check "helpers programs: the FUSE drivers and checkers, one a line" \
	bash -c "for p in ntfs-3g fusefat mount.exfat-fuse e2fsck fsck.fat fsck.exfat; do grep -qx \"\$p\" '$LB_OUT' || exit 1; done"
check "helpers modules --required: loop, overlay, fuse, vfat, ext4" \
	test "$("$LOOPBOOT" helpers modules --required | tr '\n' ' ')" = "loop overlay fuse vfat ext4 "
check "helpers modules ntfs ntfs-3g ext4: the stack's, ntfs3 with its code page, ext4" \
	test "$("$LOOPBOOT" helpers modules ntfs ntfs-3g ext4 | tr '\n' ' ')" = "loop dm_mod dm_snapshot overlay fuse ntfs3 nls_utf8 ext4 "
lb helpers colours
check "helpers with an unknown list: exit status 2" test $? -eq 2
finish
