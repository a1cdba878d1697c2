#!/bin/bash
# update-grub on a Debian system with two loopboot images in /etc/loopboot.conf, and GRUB
# booting each entry to its own image's init. One virtual disk, MBR: partition 1 an ext4
# Debian 12 root (debootstrap's tree from tests/lib/roots.sh with the kernel, GRUB and
# ntfs-3g; loopboot as /usr/sbin/loopboot and integrations/grub/42_loopboot in
# /etc/grub.d), with GRUB for BIOS installed on the disk from its own grub-pc-bin (as
# grub-install --target=i386-pc does it: modules, core.img after the MBR, boot.img in
# it; see ug_grub_install); partition 2 an NTFS volume (its
# own serial) holding two busybox root images, each with Debian's kernel and loopboot's
# initramfs in its /boot: a.img with Debian's /vmlinuz and /initrd.img links, b.img with
# /boot/vmlinuz-VERSION only, and an older version beside it. The Debian root boots under
# QEMU (SeaBIOS, serial console) once: tests/vm/serial-session logs in as root and runs
# update-grub (42_loopboot runs `loopboot grub`, which reads the kernel's name from inside
# each image with nothing mounted), shows grub.cfg, then grub-set-default B and grub-reboot
# A (GRUB_DEFAULT=saved) and reboots: GRUB boots entry A, whose init prints its marker and
# reboots; GRUB then boots B (the saved default), whose init prints its marker and powers
# off. The images' markers are made fresh on each run; the disk is cached in
# tests/vm/cache (ugbase-KEY/: the package tree; ugdisk-KEY.img: the disk with GRUB).
. "$(dirname "$0")/lib.sh"
vm_require
ug_tools() { command -v grub-mkimage && command -v grub-editenv && command -v python3; } >/dev/null
if ! ug_tools; then
	# scripts/deps lists them; a machine set up before that can still run this file.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		grub-common python3 >/dev/null 2>&1
fi
if ! ug_tools; then
	echo "1..0 # SKIP grub-mkimage, grub-editenv (grub-common) or python3 missing"
	exit 0
fi
vm_setup
W=$VM_OUT
SESSION=$VM_LIB/serial-session
UG_LOCK=$VM_CACHE/.lock-update-grub
UG_PACKAGES="linux-image-amd64 initramfs-tools zstd ntfs-3g grub-pc-bin grub2-common"
UG_LAYOUT=1                                         # bump when ug_base_build changes
UG_DISK_LAYOUT=1                                    # bump when ug_disk_build or ug_system changes
UG_ROOT_UUID=4c4f4f50-6772-7562-8000-000000000042 # the Debian root's ext4
UG_ROOT_MB=1200
UG_NTFS_MB=200
UG_NTFS_SERIAL=4C4F4F5047525542 # the host of the images
UG_PW=lbtest-update-grub        # root's password in the test system (fixed: the disk is cached)
A_TITLE="lbtest image A"
B_TITLE="lbtest image B"
OLD_KVER=5.10.0-1-amd64 # the older kernel beside b.img's own

# ---- the Debian root with GRUB (cached) -------------------------------------------------------

# debootstrap's tree with the kernel, GRUB and ntfs-3g. Sets UG_BASE.
ug_base() {
	local key
	sd_debootstrap || return 1
	key=$(echo "$SD_TREE $UG_PACKAGES $UG_LAYOUT" | sha256sum | cut -c1-16)
	UG_BASE=$VM_CACHE/ugbase-$key
	cache_build "$UG_LOCK" "$UG_BASE" ug_base_build "$key"
}

ug_base_build() { # TMP KEY
	local t=$1/tree
	find "$VM_CACHE" -maxdepth 1 -name 'ugbase-*' -not -name "ugbase-$2" -exec rm -rf {} +
	note "building the Debian root with GRUB: apt-get install $UG_PACKAGES (once; a few minutes)"
	tree_for_apt "$t" || return 1
	# shellcheck disable=SC2086 # a list of packages
	tree_apt_install "$t" "$VM_CACHE/ugbase.log" $UG_PACKAGES || return 1
	touch "$t/.complete"
	mv "$t" "$UG_BASE"
}

# What the test system has besides the packages: its root in fstab, a root password, GRUB's
# settings (the serial console, GRUB_DEFAULT=saved for grub-reboot), and a first grub.cfg
# that boots it (update-grub in the guest writes the real one).
ug_system() { # TREE
	local t=$1
	echo lbgrub >"$t/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tlbgrub\n' >"$t/etc/hosts"
	echo "UUID=$UG_ROOT_UUID / ext4 errors=remount-ro 0 1" >"$t/etc/fstab"
	echo 4c4f4f50424f4f54a5e5d5c5b5a59586 >"$t/etc/machine-id"
	fw_chroot "$t" sh -c "echo 'root:$UG_PW' | chpasswd" || return 1
	# No watchdog left running through the reboot into GRUB (q35's TCO timer: systemd
	# arms it for 10 minutes by default).
	mkdir -p "$t/etc/systemd/system.conf.d"
	printf '[Manager]\nRuntimeWatchdogSec=0\nRebootWatchdogSec=0\n' >"$t/etc/systemd/system.conf.d/lbtest.conf"
	cat >"$t/etc/default/grub" <<EOF
GRUB_DEFAULT=saved
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_RECOVERY=true
GRUB_DISABLE_OS_PROBER=true
EOF
	mkdir -p "$t/boot/grub"
	cat >"$t/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root $UG_ROOT_UUID
linux /vmlinuz root=UUID=$UG_ROOT_UUID ro console=ttyS0
initrd /initrd.img
boot
EOF
}

# The whole disk: the partitions, the root's file system, GRUB in the MBR and the gap after
# it (core.img) and in /boot/grub. Sets UG_DISK.
ug_disk() {
	local key
	ug_base || return 1
	key=$( (echo "$UG_BASE $UG_DISK_LAYOUT $UG_ROOT_UUID $UG_ROOT_MB $UG_NTFS_MB $UG_PW" &&
		dpkg-query -W grub-pc-bin 2>/dev/null && declare -f ug_disk_build ug_system ug_grub_files ug_grub_install) |
		sha256sum | cut -c1-16)
	UG_DISK=$VM_CACHE/ugdisk-$key.img
	cache_build "$UG_LOCK" "$UG_DISK" ug_disk_build
}

# GRUB for BIOS on the disk as grub-install puts it there, from the tree's own grub-pc-bin
# (this machine's loop devices scan no partitions, which grub-install needs): its modules
# in /boot/grub/i386-pc, core.img (with the prefix on partition 1) in the sectors after the
# MBR, boot.img in the MBR's boot code (the partition table stays).
ug_grub_files() { # TREE
	local t=$1
	mkdir -p "$t/boot/grub/i386-pc" &&
		cp "$t"/usr/lib/grub/i386-pc/*.mod "$t"/usr/lib/grub/i386-pc/*.lst "$t/boot/grub/i386-pc/" &&
		grub-editenv "$t/boot/grub/grubenv" create
}
ug_grub_install() { # DISK TREE
	local core
	core=$(dirname "$1")/core.img
	grub-mkimage -O i386-pc -d "$2/usr/lib/grub/i386-pc" -o "$core" -p '(hd0,msdos1)/boot/grub' \
		biosdisk part_msdos ext2 &&
		[ $(($(stat -c %s "$core") / 512 + 1)) -lt "$PART_START" ] &&
		dd if="$2/usr/lib/grub/i386-pc/boot.img" of="$1" bs=440 count=1 conv=notrunc status=none &&
		dd if="$core" of="$1" bs=512 seek=1 conv=notrunc status=none
}

ug_disk_build() { # TMP
	local tmp=$1 start2
	find "$VM_CACHE" -maxdepth 1 -name 'ugdisk-*.img' -delete
	start2=$((PART_START + UG_ROOT_MB * 2048))
	(
		set -x
		cp -a "$UG_BASE" "$tmp/tree" && rm -f "$tmp/tree/.complete" &&
			ug_system "$tmp/tree" && ug_grub_files "$tmp/tree" &&
			mke2fs -q -F -t ext4 -U "$UG_ROOT_UUID" -L lbdebian -E root_owner=0:0 -d "$tmp/tree" \
				"$tmp/root.fs" "${UG_ROOT_MB}M" &&
			truncate -s $(((UG_ROOT_MB + UG_NTFS_MB + 2) * 1048576)) "$tmp/disk" &&
			printf 'label: dos\nlabel-id: 0x4c425547\nstart=%s, size=%s, type=83, bootable\nstart=%s, size=%s, type=7\n' \
				"$PART_START" $((UG_ROOT_MB * 2048)) "$start2" $((UG_NTFS_MB * 2048)) | sfdisk -q "$tmp/disk" &&
			dd if="$tmp/root.fs" of="$tmp/disk" bs=1M seek=$((PART_START * 512)) oflag=seek_bytes \
				conv=notrunc,sparse status=none &&
			ug_grub_install "$tmp/disk" "$tmp/tree"
	) >"$tmp/log" 2>&1 || {
		tail -n 25 "$tmp/log" | sed 's/^/# disk: /'
		return 1
	}
	mv "$tmp/disk" "$UG_DISK"
}

# ---- the images and the host -----------------------------------------------------------------

# An image's /sbin/init: its marker (from its own /etc), what its root is, then reboot or
# poweroff as the image says.
cat >"$W/init" <<'EOF'
#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
[ -r /proc/self/mountinfo ] || mount -t proc proc /proc
[ -d /sys/block ] || mount -t sysfs sysfs /sys
src=$(awk '$5 == "/" { for (i = 7; i <= NF; i++) if ($i == "-") s = $(i + 2) } END { print s }' /proc/self/mountinfo)
backing=$(tr ' ' '?' <"/sys/block/${src#/dev/}/loop/backing_file" 2>/dev/null)
echo "LBTEST marker=$(cat /etc/lbtest-marker) root=$src backing=${backing:-none}" >/dev/console
sync
case $(cat /etc/lbtest-then) in
reboot) reboot -f ;;
*) poweroff -f ;;
esac
EOF

image() { # OUT MARKER THEN(reboot|poweroff) LINKS(yes|no)
	local t rc
	t=$(mktemp -d "$W/.tree.XXXXXX")
	guest_root_tree "$t" "$W/init" &&
		echo "$2" >"$t/etc/lbtest-marker" && echo "$3" >"$t/etc/lbtest-then" &&
		mkdir -p "$t/boot" &&
		cp "$VMLINUZ" "$t/boot/vmlinuz-$KVER" && cp "$INITRD" "$t/boot/initrd.img-$KVER" || return 1
	if [ "$4" = yes ]; then
		ln -s "boot/vmlinuz-$KVER" "$t/vmlinuz"
		ln -s "boot/initrd.img-$KVER" "$t/initrd.img"
	else
		# An older version, which is no kernel: GRUB fails on it, should the entry name it.
		echo "not the newest kernel" >"$t/boot/vmlinuz-$OLD_KVER"
		echo "not the newest initramfs" >"$t/boot/initrd.img-$OLD_KVER"
	fi
	mke2fs -q -F -t ext4 -L "lb$3" -d "$t" "$1" 40M >/dev/null
	rc=$?
	rm -rf "$t"
	return $rc
}

# Runs SCRIPT with the disk's partition 1 mounted at $M (private namespace, a loop device of
# ours on the partition's bytes).
root_do() { # DISK SCRIPT [ARGS...]
	local disk=$1 script=$2
	shift 2
	unshare -m --propagation private bash -c '
		set -e
		disk=$1 script=$2 offset=$3 size=$4
		shift 4
		loop=$(losetup -o "$offset" --sizelimit "$size" -f --show "$disk")
		M=$(mktemp -d)
		export M
		trap "umount \"\$M\" 2>/dev/null || true; rmdir \"\$M\"; losetup -d $loop" EXIT
		mount "$loop" "$M"
		bash -c "$script" root_do "$@"' root_do "$disk" "$script" $((PART_START * 512)) $((UG_ROOT_MB * 1048576)) "$@"
}

start=$(date +%s)
ug_disk
ok $? "the Debian disk with GRUB installed is built or cached (${UG_DISK:-?}, $(($(date +%s) - start))s)"
[ -s "${UG_DISK:-}" ] || die "the Debian disk is there"
cp --sparse=always "$UG_DISK" "$W/disk" || die "the disk is copied"

na=A-$(nonce_new) nb=B-$(nonce_new)
image "$W/a.img" "$na" reboot yes && image "$W/b.img" "$nb" poweroff no ||
	die "the two root images are built"
ntfs_new "$W/ntfs" "${UG_NTFS_MB}M" WINDOWS "$UG_NTFS_SERIAL" $((PART_START + UG_ROOT_MB * 2048)) &&
	ntfs_windows "$W/ntfs" &&
	ntfs_put "$W/ntfs" "$W/a.img" /linux/a.img &&
	ntfs_put "$W/ntfs" "$W/b.img" /linux/b.img &&
	dd if="$W/ntfs" of="$W/disk" bs=1M seek=$(((PART_START + UG_ROOT_MB * 2048) * 512)) oflag=seek_bytes \
		conv=notrunc status=none ||
	die "the NTFS partition holds both images"
rm -f "$W/ntfs" "$W/a.img" "$W/b.img"

# loopboot and its GRUB script, as the package installs them, and the two entries.
append="rw console=ttyS0 panic=-1"
cat >"$W/loopboot.conf" <<EOF
# Two images on the NTFS partition
$A_TITLE | root=UUID=$UG_NTFS_SERIAL loop=/linux/a.img $append
$B_TITLE | root=UUID=$UG_NTFS_SERIAL loop=/linux/b.img $append
EOF
root_do "$W/disk" '
	install -m 755 "$1" "$M/usr/sbin/loopboot" &&
		install -m 755 "$2" "$M/etc/grub.d/42_loopboot" &&
		install -m 644 "$3" "$M/etc/loopboot.conf"' \
	"$LOOPBOOT" "$TOP/integrations/grub/42_loopboot" "$W/loopboot.conf"
ok $? "loopboot, /etc/grub.d/42_loopboot and /etc/loopboot.conf are installed in the Debian root"
note "disk ready after $(($(date +%s) - start))s"

# ---- one boot of the Debian root, then GRUB boots A, then B ---------------------------------------
echo "$UG_PW" >"$W/root.pw"
cat >"$W/script" <<EOF
login root $W/root.pw
run update-grub update-grub
run cfg cat /boot/grub/grub.cfg
run env grub-set-default '$B_TITLE' && grub-reboot '$A_TITLE' && grub-editenv list
poweroff systemctl reboot
EOF
t=$(date +%s)
LB_SERIAL_BOOT_TIMEOUT=$((300 * ${VM_TIMEOUT_SCALE:-1})) timeout -k 5 $((900 * ${VM_TIMEOUT_SCALE:-1})) \
	"$SESSION" "$W/script" "$W/session" -- \
	qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -nodefaults -display none -serial stdio \
	-drive "file=$W/disk,format=raw,if=virtio"
rc=$?
secs=$(($(date +%s) - t))
VM_LOG=$W/session/console
sed -i 's/\r$//' "$VM_LOG" 2>/dev/null
ok $rc "the session ran every step: login, update-grub, grub.cfg, grub-reboot, reboot; QEMU ended (${secs}s)"
sed 's/^/#   /' "$W/session/steps" 2>/dev/null

out() { cat "$W/session/$1.out" 2>/dev/null; }
sed 's/^/#   update-grub: /' "$W/session/update-grub.out" 2>/dev/null
check "update-grub: exit status 0" test "$(cat "$W/session/update-grub.rc" 2>/dev/null)" = 0
out update-grub | grep -q "^Found loopboot entry: $A_TITLE$" && out update-grub | grep -q "^Found loopboot entry: $B_TITLE$"
ok $? "update-grub: 42_loopboot found both entries"
! out update-grub | grep -Eiq 'error|warning|fail|skipped|not found'
ok $? "update-grub: printed no error or warning"

# The two entries in grub.cfg, each with its own loopback device.
entry() { out cfg | sed -n "/^menuentry '$1'/,/^}/p"; } # TITLE
entry "$A_TITLE" >"$W/a.entry"
entry "$B_TITLE" >"$W/b.entry"
sed 's/^/#   /' "$W/a.entry" "$W/b.entry"
dev_a=$(sed -n 's/^\tloopback \([^ -][^ ]*\) \/linux\/a.img$/\1/p' "$W/a.entry")
dev_b=$(sed -n 's/^\tloopback \([^ -][^ ]*\) \/linux\/b.img$/\1/p' "$W/b.entry")
[ -n "$dev_a" ] && [ -n "$dev_b" ] && [ "$dev_a" != "$dev_b" ]
ok $? "grub.cfg: both entries, with distinct loopback names (${dev_a:-none}, ${dev_b:-none})"
grep -qxF "	if [ -e ($dev_a)/ ]; then loopback -d $dev_a; fi" "$W/a.entry" &&
	grep -qxF "	if [ -e ($dev_b)/ ]; then loopback -d $dev_b; fi" "$W/b.entry"
ok $? "grub.cfg: each entry removes a stale device of its name before opening its image"
grep -qxF "	linux ($dev_a)/vmlinuz root=UUID=$UG_NTFS_SERIAL loop=/linux/a.img $append" "$W/a.entry" &&
	grep -qxF "	initrd ($dev_a)/initrd.img" "$W/a.entry"
ok $? "grub.cfg: A loads Debian's /vmlinuz and /initrd.img links from its own image"
grep -qxF "	linux ($dev_b)/boot/vmlinuz-$KVER root=UUID=$UG_NTFS_SERIAL loop=/linux/b.img $append" "$W/b.entry" &&
	grep -qxF "	initrd ($dev_b)/boot/initrd.img-$KVER" "$W/b.entry"
ok $? "grub.cfg: B (no links) loads the newest /boot/vmlinuz-$KVER, not $OLD_KVER, and its initramfs"
out env | grep -qxF "next_entry=$A_TITLE" && out env | grep -qxF "saved_entry=$B_TITLE"
ok $? "grub-reboot and grub-set-default wrote grubenv ($(out env | tr '\n' ' '))"

# What GRUB and the images' inits said on the console, in order.
grep -anE "^LBTEST marker=|Booting \`" "$VM_LOG" | sed 's/^/#   /'
line_of() { grep -anF -m1 -- "$1" "$VM_LOG" | cut -d: -f1; } # TEXT: its first line number
boot_a=$(line_of "Booting \`$A_TITLE'") mark_a=$(line_of "LBTEST marker=$na ")
boot_b=$(line_of "Booting \`$B_TITLE'") mark_b=$(line_of "LBTEST marker=$nb ")
[ -n "$boot_a" ] && [ -n "$mark_a" ] && [ "$boot_a" -lt "$mark_a" ]
ok $? "after grub-reboot, GRUB booted entry A and image A's init printed its marker"
grep -aF "LBTEST marker=$na " "$VM_LOG" | grep -Eq "root=/dev/loop[0-9]+ backing=/host/linux/a.img$"
ok $? "image A's root is a loop device on /linux/a.img"
[ -n "$boot_b" ] && [ -n "$mark_b" ] && [ -n "$mark_a" ] && [ "$mark_a" -lt "$boot_b" ] && [ "$boot_b" -lt "$mark_b" ]
ok $? "then GRUB booted the saved entry B and image B's init printed its marker"
grep -aF "LBTEST marker=$nb " "$VM_LOG" | grep -Eq "root=/dev/loop[0-9]+ backing=/host/linux/b.img$"
ok $? "image B's root is a loop device on /linux/b.img"
! grep -aE "^error: |device name already exists|you need to load the kernel first" "$VM_LOG"
ok $? "GRUB printed no error on the way"
console_has "reboot: Power down"
ok $? "image B powered the machine off"
note "the Debian boot, update-grub and both images: ${secs}s; the whole test $(($(date +%s) - start))s"

if [ "$T_FAILED" -eq 0 ]; then
	rm -f "$W/disk"
else
	grep -aE '^loopboot:|Kernel panic|error:' "$VM_LOG" | head -n 20 | sed 's/^/#   /'
	note "console: $VM_LOG; disk kept: $W/disk"
fi
finish
