#!/bin/bash
# dracut with loopboot's module (integrations/dracut/90loopboot), in a Debian 12 systemd
# root with Debian's kernel and Debian's dracut package: loopboot installed with
# `make install DESTDIR=ROOT PREFIX=/usr`, the initramfs built in the root by
# `dracut -f` (no host-only: the build runs in a chroot), a systemd-based initrd, and a
# plain `root=<host> loop=<path>` entry. At shutdown dracut-shutdown.service restores the
# initramfs to /run/initramfs and its shutdown script runs loopboot's pre-shutdown hook.
# Scenarios, each shut down with `systemctl poweroff` and read back from the disk:
#   dracut-ntfs   the whole disk NTFS (ntfs-3g in the initramfs)
#   dracut-fat    the whole disk FAT32
#   dracut-script-ntfs  NTFS again, with a script-based initrd (dracut without its systemd
#                 modules: the cmdline and mount hooks; the system itself runs systemd)
#   dracut-net    a host on the network: ip=dhcp root=nbd:SERVER:PORT/host
#                 loop=/linux/root.img, the image a file on an ext4 export of nbd-server
#                 (127.0.0.1 only, tests/vm/lib-net.sh); dracut's network module
#                 (network-legacy: dhclient) brings the interface up (rd.neednet=1 from the
#                 cmdline hook), loopboot-root.service runs the engine, a tmpfs overlay;
#                 the NBD connection is the kernel's (netlink: systemd signals every process
#                 at the switch to the root)
# The root is built once (fw_root in tests/lib/roots.sh, cached in tests/vm/cache).
# LB_FW_ONLY=NAME[,NAME...] runs those scenarios only.
. "$(dirname "$0")/lib.sh"
. "$VM_LIB/lib-systemd.sh"
# shellcheck source=../integrations/vm-framework.sh
. "$VM_LIB/../integrations/vm-framework.sh"
# shellcheck source=lib-net.sh
. "$VM_LIB/lib-net.sh"
# dracut-shutdown.service unpacks the whole initramfs into /run (20 % of the memory).
fw_require 1536
fw_setup dracut
X=$VM_OUT/initrd
mkdir -p "$X"
(cd "$X" && /usr/lib/dracut/skipcpio "$FW_INITRD" 2>/dev/null | zstd -dc 2>/dev/null | cpio -id --quiet 2>/dev/null ||
	zstd -dc <"$FW_INITRD" 2>/dev/null | cpio -id --quiet 2>/dev/null ||
	zcat <"$FW_INITRD" 2>/dev/null | cpio -id --quiet 2>/dev/null)
check "dracut put loopboot, ntfs-3g, the hooks and loopboot-root.service into the initramfs" \
	test -x "$X/usr/sbin/loopboot" -a -x "$X/usr/bin/ntfs-3g" \
	-a -f "$X/usr/lib/dracut/hooks/cmdline/90-parse-loopboot.sh" \
	-a -f "$X/usr/lib/dracut/hooks/pre-shutdown/40-loopboot-shutdown.sh" \
	-a -f "$X/usr/lib/systemd/system/loopboot-root.service"
check "dracut put its network module (network-legacy), nbd-client and the nbd module in, and initrd-root-fs.target requires loopboot-root.service" \
	bash -c "test -e '$X/lib/net-lib.sh' -a -e '$X/sbin/ifup' && ls '$X'/usr/sbin/nbd-client '$X'/sbin/nbd-client 2>/dev/null | grep -q . &&
		find '$X/lib/modules' '$X/usr/lib/modules' -name 'nbd.ko*' 2>/dev/null | grep -q . &&
		test -L '$X/usr/lib/systemd/system/initrd-root-fs.target.requires/loopboot-root.service'"
rm -rf "$X" && mkdir -p "$X"
(cd "$X" && zstd -dc <"$FW_INITRD_SCRIPT" 2>/dev/null | cpio -id --quiet 2>/dev/null ||
	zcat <"$FW_INITRD_SCRIPT" 2>/dev/null | cpio -id --quiet 2>/dev/null)
check "the script-based dracut initramfs has loopboot and its mount hook, and no systemd" \
	test -x "$X/usr/sbin/loopboot" -a -f "$X/usr/lib/dracut/hooks/mount/10-mount-loopboot.sh" \
	-a ! -e "$X/usr/lib/systemd/systemd"
rm -rf "$VM_OUT/initrd"

fw_want dracut-ntfs && fw_scenario dracut-ntfs dracut ntfs
fw_want dracut-fat && fw_scenario dracut-fat dracut fat
fw_want dracut-script-ntfs && fw_scenario dracut-script-ntfs dracut ntfs script
fw_want dracut-net && fw_net_scenario dracut-net dracut
note "total $(($(date +%s) - FW_START))s"
finish
