#!/bin/bash
# initramfs-tools with loopboot's hook and boot scripts (integrations/initramfs-tools), in
# a Debian 12 systemd root with Debian's kernel: loopboot installed with
# `make install DESTDIR=ROOT PREFIX=/usr`, the initramfs built in the root by
# `update-initramfs -u -k all`, and a plain `root=<host> loop=<path>` entry (no boot=).
# Scenarios, each shut down with `systemctl poweroff` and read back from the disk:
#   itools-ntfs   the whole disk NTFS (ntfs-3g in the initramfs)
#   itools-fat    the whole disk FAT32
#   itools-luks   an ext4 host in LUKS2, unlocked by cryptsetup-initramfs with a key file
#                 that the framework's configuration put in the initramfs (crypttab
#                 "initramfs", KEYFILE_PATTERN): the framework's layers, then the engine
#   itools-net    a host on the network: ip=dhcp root=nbd:SERVER:PORT/host
#                 loop=/linux/root.img, the image a file on an ext4 export of nbd-server
#                 (127.0.0.1 only, tests/vm/lib-net.sh); configure_networking brings the
#                 interface up, the engine connects NBD, a tmpfs overlay per client
# The root is built once (fw_root in tests/lib/roots.sh, cached in tests/vm/cache).
# LB_FW_ONLY=NAME[,NAME...] runs those scenarios only.
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
# shellcheck source=../integrations/vm-framework.sh
. "$VM_LIB/../integrations/vm-framework.sh"
# shellcheck source=lib-net.sh
. "$VM_LIB/lib-net.sh"
fw_require 1024
command -v cryptsetup >/dev/null || apt-get install -y -qq cryptsetup-bin >/dev/null 2>&1
command -v cryptsetup >/dev/null || die "cryptsetup (cryptsetup-bin) is installed"
fw_setup initramfs-tools
X=$VM_OUT/initrd
mkdir -p "$X"
unmkinitramfs "$FW_INITRD" "$X" >/dev/null 2>&1
[ -d "$X/main" ] && X=$X/main
check "update-initramfs put loopboot, ntfs-3g and the boot scripts into the initramfs" \
	test -x "$X/usr/sbin/loopboot" -a -x "$X/usr/bin/ntfs-3g" -a -f "$X/scripts/loopboot" \
	-a -x "$X/scripts/init-premount/loopboot" -a -x "$X/scripts/init-bottom/loopboot"
check "LOOPBOOT_NETWORK=y put nbd-client, ipconfig and the nbd module into the initramfs" \
	bash -c "ls '$X'/usr/sbin/nbd-client '$X'/sbin/nbd-client 2>/dev/null | grep -q . && test -x '$X/bin/ipconfig' &&
		find '$X/lib/modules' '$X/usr/lib/modules' -name 'nbd.ko*' 2>/dev/null | grep -q ."
check "update-initramfs put the LUKS host's crypttab entry and key file into the initramfs" \
	bash -c "grep -q '^$FW_LUKS_NAME ' '$X/cryptroot/crypttab' && ls '$X'/cryptroot/keyfiles/$FW_LUKS_NAME.key"
rm -rf "$VM_OUT/initrd"

fw_want itools-ntfs && fw_scenario itools-ntfs initramfs-tools ntfs
fw_want itools-fat && fw_scenario itools-fat initramfs-tools fat
fw_want itools-luks && fw_scenario itools-luks initramfs-tools luks
fw_want itools-net && fw_net_scenario itools-net initramfs-tools
note "total $(($(date +%s) - FW_START))s"
finish
