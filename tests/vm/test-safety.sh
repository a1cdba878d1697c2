#!/bin/bash
# Safety in a real boot: hosts the engine must not write, and images and paths it must
# refuse or resolve correctly. Each refusal prints one "loopboot:" line, the guest's init
# never runs, the engine reboots after loopboot.timeout and the host disk is byte-identical.
#   hib-refuse    NTFS with hiberfil.sys beginning HIBR: refused, with the fix
#   hib-ro        the same disk with loopboot.hibernated=ro: a volatile session (overlay root,
#                 read-only /host), the disk byte-identical after poweroff
#   e4-truncated  an image cut in half: refused
#   e4-fsck-no    an image with file system errors, fsck.repair=no: refused
#   e4-relative   loop= without a leading /: refused as a bad kernel parameter
#   e4-symlink    loop= names an absolute symlink on the host: resolved inside the host
#   e4-fsck-preen the damaged image with the default fsck.repair=preen: repaired, boots
# The e4-* scenarios share one ext4 host disk; the refusals run first. Dirty NTFS and FAT
# hosts, refused and then booted after doing what the refusal says: tests/vm/test-dirty.sh.
. "$(dirname "$0")/lib.sh"
vm_require
vm_setup
W=$VM_OUT
SERIAL=0123456789ABCDEF

# A wrapper init for hib-ro: reports /host's mount options and whether /host can be
# written, then runs the guest's own init. Written into the root image with debugfs.
cat >"$W/lbsafety" <<'EOF'
#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
[ -r /proc/self/mountinfo ] || mount -t proc proc /proc
opts=$(awk '$5 == "/host" { o = $6 } END { print o }' /proc/self/mountinfo)
echo "LBTEST hostopts=${opts:-none}" >/dev/console
if echo x >/host/lbtest-write 2>/dev/null; then
	echo "LBTEST hostwrite=yes" >/dev/console
else
	echo "LBTEST hostwrite=no" >/dev/console
fi
exec /sbin/init "$@"
EOF
chmod 755 "$W/lbsafety"

root_with_wrapper() { # OUT: the guest root with /lbsafety
	guest_root "$1" &&
		printf 'write %s lbsafety\nsif lbsafety mode 0100755\n' "$W/lbsafety" |
		debugfs -w -f - "$1" >/dev/null 2>&1 &&
		debugfs -R 'stat /lbsafety' "$1" 2>/dev/null | grep -q 'Mode:  *0755'
}

# A boot that must be refused; the disk stays (it may be shared), see disk_done.
refused() { # NAME DISK CMDLINE EXPECTED
	local s=$1 disk=$2 f=$T_FAILED before
	before=$(sum "$disk")
	VM_TIMEOUT=90 vm_boot "$s" "$3 loopboot.timeout=3 lbtest.nonce=$(nonce_new)" "$disk"
	check_failed "$s" "$4" "$disk" "$before"
	[ "$T_FAILED" -eq "$f" ] || show_console
}
disk_done() { # FAILED-BEFORE FILE...: delete the files unless a scenario failed since
	local f=$1
	shift
	if [ "$T_FAILED" -gt "$f" ]; then
		note "disks kept: $*"
	else
		rm -f "$@"
	fi
}

# ---- a hibernated Windows volume -------------------------------------------------------
g=$T_FAILED
disk=$W/hib.disk
{ printf 'HIBR'; head -c 65532 /dev/urandom; } >"$W/hiberfil"
root_with_wrapper "$W/hib.root" &&
	ntfs_host "$disk" 96M WINDOWS "$SERIAL" "$W/hib.root" &&
	ntfs_put "$disk" "$W/hiberfil" /hiberfil.sys ||
	die "hib: host disk built (NTFS with /linux/root.img and a HIBR hiberfil.sys)"
rm -f "$W/hib.root" "$W/hiberfil"

s=hib-refuse
refused "$s" "$disk" "root=UUID=$SERIAL loop=/linux/root.img rw" \
	"host not safe to write: UUID=$SERIAL: Windows is hibernated"
[[ $(loopboot_line) == *"shutdown /s /t 0"* ]]
ok $? "$s: the line says what to do (shutdown /s /t 0)"

s=hib-ro f=$T_FAILED n=$(nonce_new)
before=$(sum "$disk")
vm_boot "$s" "root=UUID=$SERIAL loop=/linux/root.img rw loopboot.hibernated=ro init=/lbsafety lbtest.nonce=$n" "$disk"
[ "$VM_RC" -eq 0 ]
ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
console_has "VOLATILE SESSION"
ok $? "$s: the console announces a VOLATILE SESSION"
grep -aqE '^loopboot: warning: .*Windows is hibernated' "$VM_LOG"
ok $? "$s: a warning says why (Windows is hibernated)"
console_has "LBTEST start"
ok $? "$s: the guest's init ran"
rootfs=$(lbtest root fstype)
[ "$rootfs" = overlay ]
ok $? "$s: the guest's root is an overlay (fstype=${rootfs:-?})"
console_has "LBTEST image=loopboot VM test root"
ok $? "$s: the overlay shows the root image's files (/etc/lbtest-root)"
console_has "LBTEST wrote /lbtest-nonce"
ok $? "$s: the guest wrote to / (into the overlay)"
host=$(lbtest host) hostfs=$(lbtest host fstype) hostopts=$(lbtest hostopts)
[ "$host" = /dev/vda ] && [ "$hostfs" = fuseblk ]
ok $? "$s: /host is /dev/vda with fuseblk (host=${host:-?} fstype=${hostfs:-?})"
[[ ,$hostopts, == *,ro,* ]]
ok $? "$s: /host is mounted read-only (options ${hostopts:-?})"
[ "$(lbtest hostwrite)" = no ]
ok $? "$s: writing to /host fails (hostwrite=$(lbtest hostwrite))"
console_has "reboot: Power down"
ok $? "$s: the guest powered off"
[ "$(sum "$disk")" = "$before" ]
ok $? "$s: the host disk image is byte-identical after poweroff"
[ "$T_FAILED" -eq "$f" ] || show_console
disk_done "$g" "$disk"

# ---- an ext4 host: truncated and damaged images, relative and symlinked paths ------------
# /images/real.img        the guest root
# /images/truncated.img   its first half
# /linux/root.img         -> /images/real.img (absolute: must mean the host's file)
# /linux/bad.img          the guest root with a wrong link count, marked not clean
g=$T_FAILED
disk=$W/e4.disk
tree=$W/e4.tree
mkdir -p "$tree/images" "$tree/linux"
guest_root "$tree/images/real.img" &&
	head -c "$(($(stat -c %s "$tree/images/real.img") / 2))" "$tree/images/real.img" >"$tree/images/truncated.img" &&
	ln -s /images/real.img "$tree/linux/root.img" &&
	guest_root "$tree/linux/bad.img" &&
	debugfs -w -R "set_inode_field /etc/lbtest-root links_count 5" "$tree/linux/bad.img" >/dev/null 2>&1 &&
	debugfs -w -R "ssv state 0" "$tree/linux/bad.img" >/dev/null 2>&1 &&
	! e2fsck -fn "$tree/linux/bad.img" >/dev/null 2>&1 &&
	mke2fs -q -F -t ext4 -L SAFEHOST -d "$tree" "$disk" 128M >/dev/null ||
	die "e4: host disk built (ext4 with the images and the symlink)"
rm -rf "$tree"

refused e4-truncated "$disk" "root=LABEL=SAFEHOST loop=/images/truncated.img rw" \
	"/images/truncated.img: it is truncated"
refused e4-fsck-no "$disk" "root=LABEL=SAFEHOST loop=/linux/bad.img rw fsck.repair=no" \
	"file system errors in: /linux/bad.img"
# A command line that does not parse: the well-formed loopboot.timeout=3 still applies.
refused e4-relative "$disk" "root=LABEL=SAFEHOST loop=linux/root.img rw" \
	"bad kernel parameter: loop=linux/root.img"

s=e4-symlink f=$T_FAILED n=$(nonce_new)
vm_boot "$s" "root=LABEL=SAFEHOST loop=/linux/root.img rw lbtest.nonce=$n" "$disk"
check_booted "$s" /dev/vda ext4 /host/images/real.img
check "$s: /images/real.img can be read back (debugfs)" ext4_get "$disk" /images/real.img "$W/real.img"
check_image "$s" "$W/real.img" "$n" "host's /images/real.img"
rm -f "$W/real.img"
[ "$T_FAILED" -eq "$f" ] || show_console

s=e4-fsck-preen f=$T_FAILED n=$(nonce_new)
vm_boot "$s" "root=LABEL=SAFEHOST loop=/linux/bad.img rw lbtest.nonce=$n" "$disk"
grep -aqE '^loopboot: .*bad\.img.*errors were repaired' "$VM_LOG"
ok $? "$s: the console says the errors were repaired"
check_booted "$s" /dev/vda ext4 /host/linux/bad.img
check "$s: /linux/bad.img can be read back (debugfs)" ext4_get "$disk" /linux/bad.img "$W/bad.img"
check_image "$s" "$W/bad.img" "$n" "repaired image"
rm -f "$W/bad.img"
[ "$T_FAILED" -eq "$f" ] || show_console
disk_done "$g" "$disk"

rm -f "$W/lbsafety"
finish
