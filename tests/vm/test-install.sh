#!/bin/bash
# `loopboot install` from nothing to a running Debian, as a new user would do it: a
# "Windows" NTFS disk (ntfs-3g) and an exFAT stick (exfat-fuse here; the guest's kernel
# has exfat), each mounted on this machine, `loopboot install` into /linux/root.img on it
# (mmdebstrap, the package `make deb` builds), then two ways to boot it, each to
# multi-user.target and a login on the serial console with the password given:
#   media: `loopboot iso` without --kernel (the image's kernel and modules, loopboot's own
#          initramfs on the medium);
#   image: `loopboot iso --kernel-from image` (GRUB only; the image's own /vmlinuz and
#          /initrd.img, with loopboot's hook from the package); on NTFS update-initramfs
#          -u runs there (MODULES=dep: the hook's own module list), and the machine
#          reboots and comes up again from the new initramfs.
# There: `loopboot status` shows the stack, findmnt / a loop device read-write. After
# systemctl poweroff the image passes e2fsck -fn without needs_recovery and the host is
# clean (ntfsfix -n, fsck.exfat -n). The two disks' boots run side by side, each one QEMU.
# The NTFS machine has a FAT32 stick too, where `loopboot resize` grows and shrinks an image
# on the kernel's vfat (this machine has only fusefat); the data and the stick stay intact.
. "$(dirname "$0")/lib.sh"
vm_require
for t in mmdebstrap grub-mkrescue xorriso mformat dpkg-buildpackage lintian python3; do
	command -v "$t" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends mmdebstrap grub-common grub-pc-bin grub-efi-amd64-bin xorriso \
		mtools dpkg-dev debhelper fakeroot lintian python3 >/dev/null 2>&1
	command -v "$t" >/dev/null 2>&1 || die "$t is installed (scripts/deps all)"
done
W=$VM_OUT
SESSION=$VM_LIB/serial-session
IMAGE_SIZE=${INSTALL_IMAGE_SIZE:-1536M}
APT_CACHE=$VM_CACHE/install-apt # the packages mmdebstrap fetched: downloaded once
mkdir -p "$APT_CACHE"
printf 'lb-root-%s\n' "$(nonce_new)" >"$W/root.pw"
printf 'lb-ada-%s\n' "$(nonce_new)" >"$W/ada.pw"
mirror=()
[ -z "${LB_DEBIAN_MIRROR:-}" ] || mirror=(--mirror "$LB_DEBIAN_MIRROR")

# ---- the package -------------------------------------------------------------------------
# Keyed by every file make-deb copies: rebuilt when the sources change.
deb_key=$(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
DEB_DIR=$VM_CACHE/deb-$deb_key
deb_build() { # TMP
	find "$VM_CACHE" -maxdepth 1 -name 'deb-*' -exec rm -rf {} +
	"$TOP/scripts/make-deb" "$1/out" >"$1/make-deb.out" 2>&1 || {
		sed 's/^/# make deb: /' "$1/make-deb.out" | tail -n 20
		return 1
	}
	mkdir -p "$1/deb" && mv "$1"/out/loopboot_*.deb "$1/deb/" && touch "$1/deb/.complete" &&
		mv "$1/deb" "$DEB_DIR"
}
start=$(date +%s)
cache_build "$VM_CACHE/deb.lock" "$DEB_DIR" deb_build
ok $? "make deb builds the package ($(($(date +%s) - start))s, cached by the sources' hash)"
DEB=$(ls "$DEB_DIR"/loopboot_*_amd64.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || die "the package is there"
lintian --fail-on error,warning "$DEB" 2>&1 | grep -v "running with root privileges" >"$W/lintian.out"; [ "${PIPESTATUS[0]}" -eq 0 ]
ok $? "the package is lintian clean at its default level"
sed 's/^/#   /' "$W/lintian.out" | head -n 20
dpkg-deb -c "$DEB" >"$W/deb.contents"
for f in ./usr/sbin/loopboot ./usr/share/initramfs-tools/hooks/loopboot \
	./usr/lib/dracut/modules.d/90loopboot/module-setup.sh ./etc/grub.d/42_loopboot \
	./usr/share/man/man8/loopboot.8.gz; do
	grep -q " $f$" "$W/deb.contents" || break
done
ok $? "the package has the binary, both initramfs integrations, the GRUB script, the man page"
dpkg-deb -f "$DEB" Depends | grep -q 'libblkid1' && dpkg-deb -e "$DEB" "$W/debian-control" &&
	grep -q 'update-initramfs' "$W/debian-control/postinst"
ok $? "its Depends come from shlibs and its postinst rebuilds the initramfs images"

# ---- the hosts, mounted here as a user would, and the installs -----------------------------

# Runs SCRIPT with the host DISK attached to a loop device and mounted by its FUSE driver
# at $M, in a private mount namespace (as fuse_do, but through a block device, so that
# install and iso find the host's UUID as on a real disk).
host_do() { # ntfs|exfat DISK SCRIPT [ARGS...]
	local kind=$1 disk=$2 script=$3
	shift 3
	unshare -m --propagation private bash -c '
		kind=$1 disk=$2 script=$3
		shift 3
		M=$(mktemp -d) && loop=$(losetup -f --show "$disk") || exit 1
		export M loop
		case $kind in
		ntfs) ntfs-3g -o no_detach "$loop" "$M" >/dev/null 2>&1 & ;;
		exfat) mount.exfat-fuse -d "$loop" "$M" >/dev/null 2>&1 & ;;
		esac
		pid=$!
		for _ in $(seq 100); do mountpoint -q "$M" && break; sleep 0.05; done
		rc=1
		if mountpoint -q "$M"; then
			rc=0
			bash -c "$script" host_do "$@" || rc=$?
			umount "$M"
		fi
		wait "$pid"
		losetup -d "$loop"
		rmdir "$M"
		exit $rc
	' host_do "$kind" "$disk" "$script" "$@"
}

# The install, then both media, with the host mounted: the entry is the one install printed.
install_onto() { # NAME ntfs|exfat INSTALL-OPTIONS...
	local s=$1 kind=$2 f=$T_FAILED
	shift 2
	local start
	start=$(date +%s)
	host_do "$kind" "$W/$s.disk" '
		out=$1 lb=$2
		shift 2
		mkdir -p "$M/linux"
		"$lb" install "$M/linux/root.img" "$@" >"$out.install" 2>&1 || exit 1
		cp "$M/linux/root.img.install.log" "$out.install.log"
		entry=$(sed -n "s/^boot it with: //p" "$out.install")
		echo "$entry" >"$out.entry"
		"$lb" iso -o "$out-media.iso" --timeout 0 --cmdline "$entry console=ttyS0" >"$out.iso-media" 2>&1 &&
			"$lb" iso -o "$out-image.iso" --timeout 0 --kernel-from image \
				--cmdline "$entry console=ttyS0" >"$out.iso-image" 2>&1 &&
			"$lb" check --cmdline "$entry BOOT_IMAGE=(loop0)/vmlinuz" >"$out.check" 2>&1
	' "$W/$s" "$LOOPBOOT" --size "$IMAGE_SIZE" --variant minbase --cache "$APT_CACHE" \
		--deb "$DEB" "${mirror[@]}" "$@"
	ok $? "$s: loopboot install, then loopboot iso twice and check with the host mounted ($(($(date +%s) - start))s)"
	sed 's/^/#   /' "$W/$s.install"
	grep -Eq '^install: .* \([0-9.]+ s\)$' "$W/$s.install"
	ok $? "$s: install: one line per stage with its time"
	grep -q "^boot it with: root=UUID=$(cat "$W/$s.uuid") loop=/linux/root.img rw$" "$W/$s.install"
	ok $? "$s: install: the last lines give the entry, with rw, naming the host's UUID"
	grep -q "loopboot iso -o" "$W/$s.install" && grep -q "/etc/loopboot.conf" "$W/$s.install"
	ok $? "$s: install: and the two ways to boot it (loopboot.conf + update-grub, loopboot iso)"
	grep -q "Setting up linux-image" "$W/$s.install.log" 2>/dev/null && grep -q "^I: success" "$W/$s.install.log"
	ok $? "$s: install: mmdebstrap's whole log is in FILE.install.log"
	grep -q "^summary: .* 0 problems" "$W/$s.check" &&
		grep -q "^ok: the image's initramfs: /initrd.img: has loopboot's hook (initramfs-tools: scripts/loopboot)$" "$W/$s.check"
	ok $? "$s: check: the entry would boot, the image's own initramfs has loopboot's hook"
	[ "$T_FAILED" -eq "$f" ] || sed 's/^/#   /' "$W/$s.check" "$W/$s.iso-media" "$W/$s.iso-image" 2>/dev/null | head -n 60
}

# The guest's checks, as SCRIPT steps for serial-session.
steps_look() { # PREFIX [PRIV]: PRIV runs what needs root (sudo, for a user)
	cat <<EOF
run $1-status ${2:-}loopboot status
run $1-findmnt findmnt -n -o SOURCE,FSTYPE,OPTIONS /
run $1-target ${2:-}timeout 300 systemctl is-system-running --wait >/dev/null; ${2:-}systemctl is-active multi-user.target
run $1-hostname hostname
run $1-machineid cat /etc/machine-id
run $1-cmdline cat /proc/cmdline
run $1-groups id -nG
EOF
}

# The two boots of one disk, one after the other, in the background.
boots_start() { # NAME USER PASSWORD-FILE UPDATE(yes|no) [EXTRA-STEPS-FILE [EXTRA-DISK]]
	local s=$1 user=$2 pw=$3 update=$4 extra=${5:-/dev/null} disk2=() priv=
	[ -z "${6:-}" ] || disk2=(-drive "file=$6,format=raw,if=virtio")
	# A user has no /usr/sbin on the PATH: loopboot and systemctl as root through sudo,
	# with the password given (the first time; sudo keeps it for the rest).
	[ "$user" = root ] || priv="echo '$(cat "$pw")' | sudo -S -p '' "
	{
		echo "login $user $pw"
		steps_look "$s-media" "$priv"
		cat "$extra"
		echo "poweroff ${priv:+sudo }systemctl poweroff"
	} >"$W/$s-media.script"
	{
		echo "login root $W/root.pw"
		steps_look "$s-image"
		# MODULES=dep (the hook then adds what the state record says this machine uses):
		# under TCG, MODULES=most takes a quarter of an hour. install built a MODULES=most
		# one on this machine already, which the first boot of this chain used. Once (on
		# one host): it takes minutes under TCG.
		if [ "$update" = yes ]; then
			echo "run $s-image-update echo MODULES=dep >/etc/initramfs-tools/conf.d/lbtest; update-initramfs -u"
			echo reboot
			echo "login root $W/root.pw"
			steps_look "$s-image2"
		fi
		echo poweroff
	} >"$W/$s-image.script"
	(
		for how in media image; do
			t=$(date +%s)
			timeout -k 5 1800 "$SESSION" "$W/$s-$how.script" "$W/$s-$how" -- \
				qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -nodefaults -display none \
				-serial stdio -cdrom "$W/$s-$how.iso" -boot d \
				-drive "file=$W/$s.disk,format=raw,if=virtio" "${disk2[@]}"
			echo "$? $(($(date +%s) - t))" >"$W/$s-$how.rc"
		done
	) &
}

out_of() { cat "$W/$1/$2.out" 2>/dev/null; } # BOOT KEY
rc_of() { cat "$W/$1/$2.rc" 2>/dev/null; }    # BOOT KEY

# The checks of one boot: BOOT is NAME-media or NAME-image, KEY one of its steps' prefixes.
look_checks() { # BOOT KEY HOSTTYPE HOSTNAME USER
	local b=$1 k=$2
	out_of "$b" "$k-status" | grep -q "^host: .*= /dev/vda ($3[,)]" &&
		out_of "$b" "$k-status" | grep -Eq '^mount: +/dev/loop[0-9]+ on / \(ext4, rw\) \[root\]$'
	ok $? "$k: loopboot status shows the host ($3) and the image's loop device as / (rw)"
	out_of "$b" "$k-findmnt" | grep -Eq '^/dev/loop[0-9]+ +ext4 +rw,'
	ok $? "$k: findmnt / is a loop device, ext4, read-write ($(out_of "$b" "$k-findmnt"))"
	[ "$(out_of "$b" "$k-target")" = active ]
	ok $? "$k: multi-user.target is active, once the boot has finished ($(out_of "$b" "$k-target"))"
	[ "$(out_of "$b" "$k-hostname")" = "$4" ]
	ok $? "$k: the host name is the one given ($(out_of "$b" "$k-hostname"))"
	out_of "$b" "$k-machineid" | grep -Eqx '[0-9a-f]{32}'
	ok $? "$k: a machine-id was made at the first boot"
	if [ "$5" != root ]; then
		out_of "$b" "$k-groups" | tr ' ' '\n' | grep -qx sudo
		ok $? "$k: logged in as $5, who is in group sudo ($(out_of "$b" "$k-groups"))"
	fi
}

boots_checks() { # NAME HOSTTYPE HOSTNAME USER UPDATE(yes|no)
	local s=$1 how rc secs
	for how in media image; do
		read -r rc secs <"$W/$s-$how.rc" 2>/dev/null || rc=255 secs=0
		[ "$rc" -eq 0 ]
		ok $? "$s-$how: every step at the serial console worked (${secs}s)"
		sed 's/^/#   /' "$W/$s-$how/steps" 2>/dev/null
	done
	look_checks "$s-media" "$s-media" "$2" "$3" "$4"
	out_of "$s-media" "$s-media-cmdline" | grep -q 'BOOT_IMAGE=/boot/vmlinuz ' &&
		! out_of "$s-media" "$s-media-cmdline" | grep -q 'BOOT_IMAGE=(loop'
	ok $? "$s-media: the kernel came from the medium (BOOT_IMAGE=/boot/vmlinuz, not GRUB's loop device)"
	look_checks "$s-image" "$s-image" "$2" "$3" root
	out_of "$s-image" "$s-image-cmdline" | grep -Eq 'BOOT_IMAGE=\(loopboot-[0-9a-f]{8}\)/vmlinuz'
	ok $? "$s-image: GRUB loaded the image's own /vmlinuz (BOOT_IMAGE=(loopboot-HASH)/vmlinuz)"
	if [ "$5" = yes ]; then
		[ "$(rc_of "$s-image" "$s-image-update")" = 0 ]
		ok $? "$s-image: update-initramfs -u inside the image worked"
		sed 's/^/#   /' "$W/$s-image/$s-image-update.out" 2>/dev/null | head -n 5
		look_checks "$s-image" "$s-image2" "$2" "$3" root
	fi
	local f=$T_FAILED
	grep -aq "loopboot: shutdown: poweroff" "$W/$s-image/console"
	ok $? "$s-image: loopboot took the stack down at poweroff"
	[ "$T_FAILED" -eq "$f" ] || note "consoles: $W/$s-media/console $W/$s-image/console"
}

# After the last poweroff: the image and the host as the guest left them.
disk_checks() { # NAME ntfs|exfat
	local s=$1
	host_do "$2" "$W/$s.disk" '
		dumpe2fs -h "$M/linux/root.img" 2>/dev/null | grep -i "^Filesystem features:" >"$1.features"
		e2fsck -fn "$M/linux/root.img" >"$1.e2fsck" 2>&1' "$W/$s"
	ok $? "$s: after poweroff the image passes e2fsck -fn"
	[ -s "$W/$s.features" ] && ! grep -q needs_recovery "$W/$s.features"
	ok $? "$s: the image needs no journal recovery ($(sed 's/^[^:]*: *//' "$W/$s.features" 2>/dev/null))"
	case $2 in
	ntfs) ntfsfix -n "$W/$s.disk" >"$W/$s.hostfsck" 2>&1 ;;
	exfat) fsck.exfat -n "$W/$s.disk" >"$W/$s.hostfsck" 2>&1 ;;
	esac
	ok $? "$s: the host is clean ($([ "$2" = ntfs ] && echo "ntfsfix -n" || echo "fsck.exfat -n"))"
}

# ---- a FAT32 stick for resize on the kernel's vfat -----------------------------------------
# /lb/t.img: 32 MiB of ext4 with /marker and 8 MiB of random /data; in the guest it grows by
# 64 MiB and shrinks by 48 MiB (to 48 MiB), with the stick mounted by the kernel's vfat.
fat_stick() { # DISK
	local d=$W/fat-tree
	rm -rf "$d" && mkdir -p "$d" && echo lb-resize-marker >"$d/marker" &&
		head -c 8M /dev/urandom >"$d/data" && sha256sum <"$d/data" | cut -d' ' -f1 >"$W/fat.sha" &&
		mke2fs -q -F -t ext4 -d "$d" "$W/fat-t.img" 32M >/dev/null &&
		fat_new "$1" 256 LBFAT && fat_put "$1" "$W/fat-t.img" /lb/t.img
	local rc=$?
	rm -rf "$d" "$W/fat-t.img"
	return $rc
}
fat_steps() { # PREFIX
	cat <<EOF
run $1-fatmount mount -t vfat /dev/vdb /mnt
run $1-fatgrow loopboot resize /mnt/lb/t.img +64M
run $1-fatgrown stat -c %s /mnt/lb/t.img
run $1-fatshrink loopboot resize /mnt/lb/t.img -48M
run $1-fatumount umount /mnt
EOF
}
fat_checks() { # BOOT PREFIX DISK
	local b=$1 k=$2 img=$W/fat-back.img
	[ "$(rc_of "$b" "$k-fatmount")" = 0 ] && [ "$(rc_of "$b" "$k-fatgrow")" = 0 ] &&
		[ "$(out_of "$b" "$k-fatgrown")" = $((96 << 20)) ]
	ok $? "$k: loopboot resize +64M on the kernel's vfat (FAT32) grows the image to 96 MiB"
	sed 's/^/#   /' "$W/$b/$k-fatgrow.out" 2>/dev/null | tail -n 3
	[ "$(rc_of "$b" "$k-fatshrink")" = 0 ] && [ "$(rc_of "$b" "$k-fatumount")" = 0 ]
	ok $? "$k: loopboot resize -48M there shrinks it, and the stick unmounts"
	sed 's/^/#   /' "$W/$b/$k-fatshrink.out" 2>/dev/null | tail -n 3
	fsck.fat -n "$3" >"$W/fat.fsck" 2>&1
	ok $? "$k: the FAT32 stick is clean afterwards (fsck.fat -n)"
	rm -f "$img"
	fat_get "$3" /lb/t.img "$img" && [ "$(stat -c %s "$img")" = $((48 << 20)) ] &&
		e2fsck -fn "$img" >/dev/null 2>&1 &&
		[ "$(debugfs -R 'cat /marker' "$img" 2>/dev/null)" = lb-resize-marker ] &&
		[ "$(debugfs -R 'cat /data' "$img" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$(cat "$W/fat.sha")" ]
	ok $? "$k: the image is 48 MiB, passes e2fsck -fn and holds its files byte for byte"
	rm -f "$img"
}

# ---- NTFS: install, then its boots run while the exFAT install goes on -------------------
NTFS_SERIAL=5A5A0123456789AB
ntfs_new "$W/ntfs.disk" 2560M WINDOWS "$NTFS_SERIAL" && ntfs_windows "$W/ntfs.disk" ||
	die "ntfs: the host disk is made"
echo "$NTFS_SERIAL" >"$W/ntfs.uuid"
install_onto ntfs ntfs --hostname lb-ntfs --root-password-file "$W/root.pw"
fat_stick "$W/fat.disk" || die "fat: the stick is made"
fat_steps ntfs-media >"$W/ntfs-fat.steps"
boots_start ntfs root "$W/root.pw" yes "$W/ntfs-fat.steps" "$W/fat.disk"

exfat_new "$W/exfat.disk" 2560 LBSTICK || die "exfat: the host disk is made"
blkid -p -o value -s UUID "$W/exfat.disk" >"$W/exfat.uuid"
install_onto exfat exfat --hostname lb-exfat --root-password-file "$W/root.pw" \
	--user ada --user-password-file "$W/ada.pw" --packages sudo
boots_start exfat ada "$W/ada.pw" no
wait

boots_checks ntfs "ntfs via ntfs-3g" lb-ntfs root yes
disk_checks ntfs ntfs
fat_checks ntfs-media ntfs-media "$W/fat.disk"
boots_checks exfat "exfat via exfat" lb-exfat ada no
disk_checks exfat exfat

# What only a failure needs stays: the disks are large.
[ "$T_FAILED" -eq 0 ] && rm -f "$W"/*.disk "$W"/*.iso
finish
