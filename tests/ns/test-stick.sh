#!/bin/bash
# `loopboot iso -o /dev/…`: the media written straight to a device, on real loop devices.
# Refused before a byte is written: a device that is not removable (loop devices are not:
# --force lets it through), a partition, a mounted device, the device holding the entry's
# host (even with --force), one too small. Written with --force: what is on the device is a
# hybrid ISO (BIOS and UEFI El Torito images, an EFI system partition, the entry's grub.cfg)
# and nothing is left in TMPDIR. The boot from such a stick is test-media's USB boot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/kernel.sh"
# shellcheck source=tests/lib/media.sh
. "$(dirname "$0")/../lib/media.sh"

if ! command -v grub-mkrescue >/dev/null || ! command -v xorriso >/dev/null ||
	[ ! -f /usr/lib/grub/i386-pc/moddep.lst ] || [ ! -f /usr/lib/grub/x86_64-efi/moddep.lst ]; then
	echo "1..0 # SKIP grub-mkrescue, xorriso or GRUB for BIOS and UEFI missing (scripts/deps)"
	exit 0
fi
kernel_fetch || die "the Debian kernel for the tests (tests/lib/kernel.sh)"

export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
# New on each run: another loop device with the same serial would make the host ambiguous.
SERIAL=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
ENTRY="root=UUID=$SERIAL loop=/linux/root.img rw"
head -c 1M /dev/urandom >"$WORK/initrd.img" # what goes on the media: written, not booted
iso() { # DEVICE [OPTIONS...]: output in $WORK/out
	"$LOOPBOOT" iso -o "$@" --kernel "$KERNEL_VMLINUZ" --initrd "$WORK/initrd.img" \
		--cmdline "$ENTRY" --timeout 0 --secure-boot off >"$WORK/out" 2>&1
}
# The refusal: exit status 2 or 1, one loopboot: line naming the device and REASON, the
# device unchanged.
refused() { # NAME DEVICE REASON [OPTIONS...]
	local name=$1 dev=$2 why=$3 before rc
	shift 3
	before=$(sum "$dev")
	iso "$dev" "$@"
	rc=$?
	[ "$rc" -ne 0 ] && grep -q "^loopboot: iso: output: $dev: $why.* — " "$WORK/out"
	ok $? "$name: refused, one line saying why and what to do (status $rc: $(grep -m1 '^loopboot: iso: output:' "$WORK/out"))"
	[ "$(sum "$dev")" = "$before" ]
	ok $? "$name: not a byte written to $dev"
}

# A plain loop device: a disk that is neither removable nor on USB.
truncate -s 128M "$WORK/stick.img"
STICK=$(attach "$WORK/stick.img") || die "a loop device"
refused internal "$STICK" "not a removable device"
grep -q -- "--force" "$WORK/out"
ok $? "internal: the advice names lsblk and --force ($(grep -m1 '^loopboot:' "$WORK/out" | sed 's/.* — //'))"

# A partition of a disk: the media are a whole-disk image.
truncate -s 64M "$WORK/parted.img"
printf 'label: dos\n,32M,L\n' | sfdisk -q "$WORK/parted.img" >/dev/null
PARTED=$(losetup -f --show -P "$WORK/parted.img") || die "a partitioned loop device"
PART=${PARTED}p1
for _ in 1 2 3 4 5; do [ -b "$PART" ] && break; sleep 0.2; done
if [ -b "$PART" ]; then
	refused partition "$PART" "a partition" --force
	grep -q "give the whole device, $PARTED" "$WORK/out"
	ok $? "partition: the advice names the whole device $PARTED"
else
	# Some kernels (this sandbox's) scan no partitions on loop devices: the decision is
	# in the unit test (test-stick).
	note "partition: skipped: the kernel made no ${PART} (loop partition scanning is off here)"
fi

# A mounted one, even with --force.
truncate -s 64M "$WORK/mounted.img"
mkfs.ext4 -q -F "$WORK/mounted.img"
MOUNTED=$(attach "$WORK/mounted.img") || die "a loop device to mount"
mkdir -p "$WORK/mnt"
mount -o ro,noload "$MOUNTED" "$WORK/mnt" || die "mounting $MOUNTED" # ro: it writes nothing itself
CLEANUP_MOUNTS+=("$WORK/mnt")
refused mounted "$MOUNTED" "mounted" --force
grep -q "umount $WORK/mnt" "$WORK/out"
ok $? "mounted: the advice names the mount point"
umount "$WORK/mnt"

# The device that holds the entry's host (an NTFS volume with that serial), even with
# --force and unmounted.
make_ntfs_image "$WORK/host.img" 64M WINDOWS &&
	ntfslabel --new-serial="$SERIAL" "$WORK/host.img" >/dev/null 2>&1 || die "an NTFS host"
HOST=$(attach "$WORK/host.img") || die "a loop device for the host"
[ "$(blkval "$HOST" UUID)" = "$SERIAL" ] || die "the host's serial is $SERIAL"
refused host "$HOST" "it holds the host the entry boots from" --force

# Too small for the media, with --force: refused after the media are built.
truncate -s 4M "$WORK/small.img"
SMALL=$(attach "$WORK/small.img") || die "a small loop device"
refused small "$SMALL" "too small for the media" --force

# Written with --force.
iso "$STICK" --force
rc=$?
ok $rc "written: loopboot iso -o $STICK --force ($(tail -n 1 "$WORK/out"))"
grep -q "^loopboot: iso: wrote .* to $STICK, synced and read back" "$WORK/out"
ok $? "written: it says the stick was synced and read back"
[ "$(blkval "$STICK" TYPE)" = iso9660 ]
ok $? "written: the device holds an ISO 9660 file system ($(blkval "$STICK" TYPE))"
check_hybrid_image written "$STICK" "linux /boot/vmlinuz $ENTRY" "$WORK/written"
[ -z "$(ls -A "$TMPDIR")" ]
ok $? "written: nothing is left in TMPDIR"

losetup -d "$PARTED" 2>/dev/null
finish
