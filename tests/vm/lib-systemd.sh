# shellcheck shell=bash disable=SC2034 # SD_HOST_SPEC, SD_BAD_CONSOLE, … are for the tests
# Helpers for the VM tests whose guest shuts down through systemd or loopboot's documented
# shutdown command (tests/vm/test-shutdown.sh, and the framework tests through
# tests/integrations/vm-framework.sh), sourced after lib.sh: the host disk with the root
# image and a home image, what the guest reports, and the checks made on the host disk
# after the guest shut down. The roots themselves (sd_root, bb_root, fw_root) are built by
# tests/lib/roots.sh.

SD_NTFS_SERIAL=0123456789ABCDEF
SD_FAT_UUID=1234-ABCD # fat_new's volume ID
# The lines on the console that mean something was lost or broken on the way down.
SD_BAD_CONSOLE='I/O error|Buffer I/O|EXT4-fs error|EXT4-fs warning|JBD2: .*(error|abort)|Transport endpoint|Kernel panic|BUG:|Oops'

# lib.sh's lbtest for consoles where a getty's "login:" prompt may start the line.
sd_lbtest() { # KEY [FIELD]: FIELD defaults to KEY
	local key=$1 field=${2:-$1}
	grep -ao "LBTEST $key=.*" "$VM_LOG" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$field=//p" | head -n 1
}

# The whole disk NTFS or FAT32 with the images at /linux/root.img and /linux/home.img.
# Sets SD_HOST_SPEC (for root=) and SD_HOST_FSTYPE (what the guest sees at /host).
sd_host_new() { # ntfs|fat DISK ROOT-IMAGE HOME-IMAGE
	local mb
	mb=$(($(stat -c %s "$3") * 5 / 4 / 1048576 + 64)) # NTFS keeps 1/8 for its MFT
	case $1 in
	ntfs)
		SD_HOST_SPEC=UUID=$SD_NTFS_SERIAL SD_HOST_FSTYPE=fuseblk
		ntfs_host "$2" "${mb}M" WINDOWS "$SD_NTFS_SERIAL" "$3" "$4"
		;;
	fat)
		SD_HOST_SPEC=UUID=$SD_FAT_UUID SD_HOST_FSTYPE=vfat
		fat_new "$2" "$mb" LBFAT &&
			fat_put "$2" "$3" /linux/root.img &&
			fat_put "$2" "$4" /linux/home.img
		;;
	esac
}

# What the guest saw and did: / and /home on loop devices, /host, the three writes.
sd_boot_checks() { # SCENARIO HOSTDEV HOSTFSTYPE
	local s=$1
	[ "$VM_RC" -eq 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	[[ $(sd_lbtest root) == /dev/loop* ]] && [ "$(sd_lbtest root fstype)" = ext4 ] &&
		[[ $(sd_lbtest home) == /dev/loop* ]] && [ "$(sd_lbtest home fstype)" = ext4 ] &&
		[ "$(sd_lbtest host)" = "$2" ] && [ "$(sd_lbtest host fstype)" = "$3" ]
	ok $? "$s: / and /home are ext4 on loop devices, /host is $2 with $3 (root=$(sd_lbtest root) home=$(sd_lbtest home) host=$(sd_lbtest host) $(sd_lbtest host fstype))"
	console_has "LBTEST wrote /var/lbtest-root /home/lbtest-home /host/lbtest-host"
	ok $? "$s: the guest wrote to /, /home and /host"
}

# ntfs-3g in the running system: a root storage daemon (argv[0] "@ntfs-3g"), which
# systemd's killing at shutdown spared ("SPARED" says so).
sd_ntfs3g_checks() { # SCENARIO SPARED
	local got line
	got=$(sd_lbtest fuse argv0)
	[ "$got" = @ntfs-3g ]
	ok $? "$1: ntfs-3g runs as a root storage daemon (argv[0] '${got:-not found}')"
	line=$(grep -aE 'Sending SIG[A-Z]+ to PID [0-9]+ \(@?ntfs-3g\)' "$VM_LOG" | head -n 1)
	[ -z "$line" ]
	ok $? "$1: $2${line:+ ($line)}"
}

# The host's own check of an NTFS or FAT32 host, then the images and /lbtest-host copied
# out of it; the status is the copying's.
sd_host_read() { # SCENARIO ntfs|fat DISK ROOT-OUT HOME-OUT HOST-OUT
	local s=$1 disk=$3 got
	case $2 in
	ntfs)
		check "$s: the NTFS host is consistent (ntfsfix -n)" ntfsfix -n "$disk"
		ntfs_get "$disk" /linux/root.img "$4" && ntfs_get "$disk" /linux/home.img "$5" &&
			ntfs_get "$disk" /lbtest-host "$6"
		;;
	fat)
		got=$(fsck.fat -n "$disk" 2>&1) && [[ $got != *"Dirty bit"* ]]
		ok $? "$s: the FAT32 host was unmounted cleanly (fsck.fat -n: $(echo "$got" | grep -m1 -E 'Dirty bit|rror' || echo clean))"
		fat_get "$disk" /linux/root.img "$4" && fat_get "$disk" /linux/home.img "$5" &&
			fat_get "$disk" /lbtest-host "$6"
		;;
	esac
}

# An ext4 image as the guest left it: no journal to replay, clean, PATH holding the nonce.
sd_image_checks() { # SCENARIO IMAGE-FILE WHAT PATH NONCE
	local s=$1 img=$2 what=$3 path=$4 nonce=$5 feats got
	feats=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
	[ -n "$feats" ] && [[ " $feats " != *" needs_recovery "* ]]
	ok $? "$s: the $what needs no journal recovery (features: ${feats:-unreadable})"
	check "$s: the $what passes e2fsck -fn" e2fsck -fn "$img"
	# Read as it is on the disk, without replaying the journal.
	got=$(debugfs -R "cat $path" "$img" 2>/dev/null)
	[ "$got" = "$nonce" ]
	ok $? "$s: $path in the $what holds the nonce (got '${got:-nothing}')"
}

# The three writes, read back from the host (READ-STATUS: whether the copies were made).
sd_written_checks() { # SCENARIO READ-STATUS ROOT-IMAGE HOME-IMAGE HOST-FILE NONCE
	local s=$1 got
	ok "$2" "$s: the images and /lbtest-host can be read back from the host"
	sd_image_checks "$s" "$3" "root image" /var/lbtest-root "$6"
	sd_image_checks "$s" "$4" "home image" /lbtest-home "$6"
	got=$(cat "$5" 2>/dev/null)
	[ "$got" = "$6" ]
	ok $? "$s: /lbtest-host on the host holds the nonce (got '${got:-nothing}')"
}
