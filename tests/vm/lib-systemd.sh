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
	grep -ao "LBTEST $key=.*" "$VM_LOG" | tail -n 1 | sed 's/\[ *[0-9]*\.[0-9]*\] .*//' | tr ' ' '\n' | sed -n "s/^$field=//p" | head -n 1
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

# ---- VM disk images on an NTFS host (tests/vm/test-disk.sh, tests/vm/test-disk-linear.sh) ----
# The disk images of sd_disk (tests/lib/roots.sh), each where its hypervisor keeps it, on a
# "Windows" NTFS volume (serial SD_NTFS_SERIAL). Cached as sdhost-KEY.img, keyed by the
# images and the functions that build it; sd_disk_host copies it to OUT (under the cache's
# lock), so each test file boots a host of its own.
SD_DISK_FORMATS="raw vhd vdi vmdk"
sd_disk_path() { # FORMAT: the image's path on the host
	case $1 in
	raw) echo /vm/disk.img ;;
	vhd) echo /Hyper-V/lab/disk.vhd ;;
	vdi) echo "/VirtualBox VMs/lab/disk.vdi" ;; # a space: the parameters are quoted
	vmdk) echo /VMware/lab/disk.vmdk ;;         # the descriptor; disk-flat.vmdk beside it
	esac
}
sd_disk_qemu_format() { # FORMAT: qemu-img's name for it
	case $1 in
	raw) echo raw ;;
	vhd) echo vpc ;;
	vdi) echo vdi ;;
	vmdk) echo vmdk ;;
	esac
}
sd_disk_key() { # FORMAT: the engine's name for it (the state record's disk=)
	case $1 in
	raw) echo raw ;;
	vhd) echo vhd-fixed ;;
	vdi) echo vdi-fixed ;;
	vmdk) echo vmdk-flat ;;
	esac
}

sd_disk_host_build() { # TMP IMG
	local tmp=$1 img=$2 f p bytes dirs=()
	find "$VM_CACHE" -maxdepth 1 -name 'sdhost-*.img' -delete
	bytes=$(stat -c %s "$SD_DISK/disk-flat.vmdk")
	for f in $SD_DISK_FORMATS; do
		p=$(sd_disk_path "$f")
		dirs+=("${p%/*}")
		bytes=$((bytes + $(stat -c %s "$SD_DISK/disk.${p##*.}")))
	done
	ntfs_new "$tmp/host.img" "$((bytes * 5 / 4 / 1048576 + 64))M" WINDOWS "$SD_NTFS_SERIAL" &&
		ntfs_windows "$tmp/host.img" && ntfs_mkdir "$tmp/host.img" "${dirs[@]}" || return 1
	for f in $SD_DISK_FORMATS; do
		p=$(sd_disk_path "$f")
		ntfs_put "$tmp/host.img" "$SD_DISK/disk.${p##*.}" "$p" || return 1
	done
	ntfs_put "$tmp/host.img" "$SD_DISK/disk-flat.vmdk" "${p%/*}/disk-flat.vmdk" &&
		mv "$tmp/host.img" "$img"
}

sd_disk_host() { # OUT: a copy of the cached host; sets SD_DISK too
	local key img
	sd_disk || return 1
	key=$( (echo "$SD_DISK $SD_NTFS_SERIAL $SD_DISK_FORMATS" &&
		declare -f sd_disk_path sd_disk_host_build ntfs_new ntfs_windows ntfs_mkdir ntfs_put) |
		sha256sum | cut -c1-16)
	img=$VM_CACHE/sdhost-$key.img
	cache_build "$SD_LOCK" "$img" sd_disk_host_build "$img" -- cp --reflink=auto --sparse=always "$img" "$1"
}
sd_disk_name() { # FORMAT: as loopboot status names it
	case $1 in
	raw) echo "raw disk image" ;;
	vhd) echo "fixed VHD" ;;
	vdi) echo "fixed VDI" ;;
	vmdk) echo "flat VMDK" ;;
	esac
}
sd_disk_bytes_path() { # FORMAT: the file on the host that holds the disk's bytes
	local p
	p=$(sd_disk_path "$1")
	case $1 in
	vmdk) echo "${p%/*}/disk-flat.vmdk" ;;
	*) echo "$p" ;;
	esac
}
# Where the disk's first byte is in that file: 0, or the VDI header's offData (at 0x158).
sd_disk_data_offset() { # FORMAT FILE
	case $1 in
	vdi) od -An -tu4 -j 344 -N 4 "$2" | tr -d ' ' ;;
	*) echo 0 ;;
	esac
}

# lbdisk's "LBTEST disk-get KIND.KEY=V1,V2": `loopboot status --get KIND.KEY` in the guest.
sd_disk_get() { sd_lbtest "disk-get $1" "$1"; } # KIND.KEY

# What lbdisk (tests/vm/guest-disk) reported in a guest booted from the disk image of
# FORMAT: / and /home are partitions 2 and 3, on loop devices over exactly their bytes of
# the file (the kernel's offset and sizelimit, no partition scan) or, in linear mode, on
# device-mapper mappings of their size; the engine's state record and status say which
# partition of which disk.
sd_disk_guest_checks() { # SCENARIO FORMAT loop|linear
	local s=$1 fmt=$2 mode=$3 key name file d x m off len n dev got want
	key=$(sd_disk_key "$fmt")
	name=$(sd_disk_name "$fmt")
	file=$(sd_disk_bytes_path "$fmt")
	d=$(sd_disk_data_offset "$fmt" "$SD_DISK/${file##*/}")
	for x in root:/:$((d + DISK_ROOT_OFFSET)):$DISK_ROOT_BYTES:2 home:/home:$((d + DISK_HOME_OFFSET)):$DISK_HOME_BYTES:3; do
		IFS=: read -r x m off len n <<<"$x"
		dev=$(sd_lbtest "disk-$x")
		if [ "$mode" = loop ]; then
			got="offset=$(sd_lbtest "disk-$x" offset) sizelimit=$(sd_lbtest "disk-$x" sizelimit) partscan=$(sd_lbtest "disk-$x" partscan) backing=$(sd_lbtest "disk-$x" backing | tr '?' ' ')"
			want="offset=$off sizelimit=$len partscan=0 backing=/host$file"
			[[ $dev == /dev/loop* ]] && [ "$got" = "$want" ]
			ok $? "$s: $m is a loop device over exactly partition $n's bytes of $file, no partition scan (${dev:-?} $got)"
		else
			got="dm=$(sd_lbtest "disk-$x" dm) sectors=$(sd_lbtest "disk-$x" sectors) on=$(sd_lbtest "disk-$x" on)"
			want="dm=loopboot-$x sectors=$((len / 512)) on=vda"
			[[ $dev == /dev/dm-* ]] && [ "$got" = "$want" ]
			ok $? "$s: $m is the mapping loopboot-$x on /dev/vda, partition $n's size (${dev:-?} $got)"
		fi
		grep -aqF "LBTEST disk-status disk:   partition $n of the $name $(sd_disk_path "$fmt")" "$VM_LOG"
		ok $? "$s: loopboot status says $m is partition $n of the $name $(sd_disk_path "$fmt")"
	done
	got=$(sd_disk_get mount.partition)/$(sd_disk_get mount.disk)
	[ "$got" = "2,3/$key,$key" ]
	ok $? "$s: status --get mount.partition and mount.disk: 2,3 and $key ($got)"
	if [ "$mode" = loop ]; then
		got=$(sd_disk_get loop.offset)/$(sd_disk_get loop.sizelimit)
		want=$((d + DISK_ROOT_OFFSET)),$((d + DISK_HOME_OFFSET))/$DISK_ROOT_BYTES,$DISK_HOME_BYTES
		[ "$got" = "$want" ]
		ok $? "$s: status --get loop.offset and loop.sizelimit: the partitions' bytes in the file ($got)"
	else
		got=$(sd_disk_get dm.offset)/$(sd_disk_get dm.size)/$(sd_disk_get loop.offset)
		want=$((d + DISK_ROOT_OFFSET)),$((d + DISK_HOME_OFFSET))/$DISK_ROOT_BYTES,$DISK_HOME_BYTES/
		[ "$got" = "$want" ]
		ok $? "$s: status --get dm.offset and dm.size: the partitions' bytes in the file, no loop device ($got)"
	fi
}

# What test-disk.sh and test-disk-linear.sh start with: a systemd guest's memory and time,
# the usual checks, qemu-img, the kernel and initramfs.
# Sets W (the output directory) and start (the time, for the file's "total" note).
sd_disk_begin() {
	W=$VM_OUT
	start=$(date +%s)
	[ "$VM_MEM" -ge 1024 ] || VM_MEM=1024
	[ "$VM_TIMEOUT" -ge 300 ] || VM_TIMEOUT=300
	vm_require
	command -v qemu-img >/dev/null 2>&1 || die "qemu-img is installed (qemu-utils: scripts/deps all)"
	vm_setup
}

# The console of a guest booted from a disk image on the NTFS host: the serial getty came
# up (multi-user.target's units ran), systemd's shutdown handed over to loopboot, which took
# the stack down (HOSTDEV unmounted), the machine powered off, nothing went wrong.
sd_disk_console_checks() { # SCENARIO HOSTDEV
	console_has "lbtest login:"
	ok $? "$1: multi-user: the serial console's login prompt came up"
	sd_stack_down_checks "$1" "$2"
}

# The end of a systemd guest: loopboot took the stack down after systemd's shutdown (HOSTDEV
# unmounted), the machine powered off, and no line on the console matches SD_BAD_CONSOLE or
# MORE-BAD (a grep -E pattern).
sd_stack_down_checks() { # SCENARIO HOSTDEV [MORE-BAD]
	local s=$1 line bad
	line=$(grep -a -m1 '^loopboot: images unmounted, loop devices detached, host' "$VM_LOG")
	[ "$line" = "loopboot: images unmounted, loop devices detached, host $2 unmounted" ] && console_has "reboot: Power down"
	ok $? "$s: loopboot took the stack down after systemd's shutdown, the machine powered off (${line:-no such line})"
	bad=$(grep -aE "$SD_BAD_CONSOLE${3:+|$3}" "$VM_LOG" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O error, file system error, panic or oops${3:+ or $3} on the console${bad:+ ($bad)}"
}

# The disk image of FORMAT read back from the NTFS host DISK into DIR after the guest shut
# down: qemu-img reads it in that format; partitions 2 and 3, copied out of qemu-img's raw
# conversion, need no journal recovery, pass e2fsck -fn and hold the nonce; every byte of
# the file outside them (the format's header or footer, the GPT, the ESP) is as built.
sd_disk_read_back() { # SCENARIO FORMAT DISK DIR NONCE
	local s=$1 fmt=$2 host=$3 dir=$4 n=$5 p file f orig d rc
	p=$(sd_disk_path "$fmt")
	file=$(sd_disk_bytes_path "$fmt")
	mkdir -p "$dir"
	check "$s: the NTFS host is consistent (ntfsfix -n)" ntfsfix -n "$host"
	ntfs_get "$host" "$p" "$dir/${p##*/}" && { [ "$file" = "$p" ] || ntfs_get "$host" "$file" "$dir/${file##*/}"; }
	ok $? "$s: $p can be read back from the host (ntfscat)"
	check "$s: qemu-img reads it as $(sd_disk_qemu_format "$fmt") and converts it to raw" \
		qemu-img convert -f "$(sd_disk_qemu_format "$fmt")" -O raw "$dir/${p##*/}" "$dir/raw"
	dd if="$dir/raw" of="$dir/root" bs=1M iflag=skip_bytes,count_bytes skip="$DISK_ROOT_OFFSET" \
		count="$DISK_ROOT_BYTES" conv=sparse status=none
	dd if="$dir/raw" of="$dir/home" bs=1M iflag=skip_bytes,count_bytes skip="$DISK_HOME_OFFSET" \
		count="$DISK_HOME_BYTES" conv=sparse status=none
	sd_image_checks "$s" "$dir/root" "root partition" /var/lbtest-root "$n"
	sd_image_checks "$s" "$dir/home" "home partition" /lbtest-home "$n"
	f=$dir/${file##*/} orig=$SD_DISK/${file##*/}
	d=$(sd_disk_data_offset "$fmt" "$orig")
	[ "$(stat -c %s "$f")" = "$(stat -c %s "$orig")" ] &&
		cmp -s -n $((d + DISK_ROOT_OFFSET)) "$orig" "$f" &&
		cmp -s -i $((d + DISK_HOME_OFFSET + DISK_HOME_BYTES)) "$orig" "$f" &&
		{ [ "$fmt" != vmdk ] || cmp -s "$SD_DISK/disk.vmdk" "$dir/disk.vmdk"; }
	rc=$?
	ok $rc "$s: every byte of $file outside partitions 2 and 3 is as built (GPT, ESP, the format's header, footer or descriptor)"
}

# ---- disk images loopboot refuses (tests/vm/test-disk.sh, tests/vm/test-disk-linear.sh) -------
# A small NTFS host for busybox guests (guest_root): a GPT disk whose partition 1 (typed as
# the root) holds the busybox root, in qemu-img's formats loopboot cannot map (qcow2, and
# the dynamic VHD, VHDX and dynamic VDI that qemu-img makes by default), and
# /vm/ambiguous.img: a raw GPT disk with the busybox root and a home image in two
# partitions typed Linux filesystem, neither as the root.
DISK_AMB_PARTUUID1=6c4f4f50-424f-4f54-8d15-4b00000000a1
DISK_AMB_PARTUUID2=6c4f4f50-424f-4f54-8d15-4b00000000a2
# NAME|PATH|FORMAT as the line names it|the conversion that keeps a format the hypervisor
# opens|the file it makes, for PATH without its extension
SD_DISK_REFUSED="qcow2|/vm/small.qcow2|qcow2||
vhd-dynamic|/vm/dynamic.vhd|dynamic VHD|-O vpc -o subformat=fixed|-fixed.vhd
vhdx|/vm/small.vhdx|VHDX|-O vpc -o subformat=fixed|-fixed.vhd
vdi-dynamic|/VirtualBox VMs/small/dynamic.vdi|dynamic VDI|-O vdi -o static=on|-fixed.vdi"

sd_disk_refusal_host() { # DISK
	local t rc
	t=$(mktemp -d "$VM_OUT/.refuse.XXXXXX")
	guest_root "$t/root" && plain_image "$t/home" "ambiguous home" 8 &&
		truncate -s 26M "$t/small.img" &&
		printf 'label: gpt\nstart=2048, size=24MiB, type=%s, name=root\n' "$DISK_ROOT_TYPE" |
		sfdisk -q "$t/small.img" >/dev/null &&
		dd if="$t/root" of="$t/small.img" bs=1M seek=1 conv=notrunc,sparse status=none &&
		truncate -s 34M "$t/ambiguous.img" &&
		printf 'label: gpt\nstart=2048, size=24MiB, type=%s, uuid=%s, name=one\nsize=8MiB, type=%s, uuid=%s, name=two\n' \
			"$DISK_LINUX_TYPE" "$DISK_AMB_PARTUUID1" "$DISK_LINUX_TYPE" "$DISK_AMB_PARTUUID2" |
		sfdisk -q "$t/ambiguous.img" >/dev/null &&
		dd if="$t/root" of="$t/ambiguous.img" bs=1M seek=1 conv=notrunc,sparse status=none &&
		dd if="$t/home" of="$t/ambiguous.img" bs=1M seek=25 conv=notrunc,sparse status=none &&
		qemu-img convert -f raw -O qcow2 "$t/small.img" "$t/small.qcow2" &&
		qemu-img convert -f raw -O vpc "$t/small.img" "$t/dynamic.vhd" &&
		qemu-img convert -f raw -O vhdx "$t/small.img" "$t/small.vhdx" &&
		qemu-img convert -f raw -O vdi "$t/small.img" "$t/dynamic.vdi" &&
		ntfs_new "$1" 128M WINDOWS "$SD_NTFS_SERIAL" && ntfs_windows "$1" &&
		ntfs_mkdir "$1" /vm "/VirtualBox VMs/small" &&
		ntfs_put "$1" "$t/small.qcow2" /vm/small.qcow2 && ntfs_put "$1" "$t/dynamic.vhd" /vm/dynamic.vhd &&
		ntfs_put "$1" "$t/small.vhdx" /vm/small.vhdx &&
		ntfs_put "$1" "$t/dynamic.vdi" "/VirtualBox VMs/small/dynamic.vdi" &&
		ntfs_put "$1" "$t/ambiguous.img" /vm/ambiguous.img
	rc=$?
	rm -rf "$t"
	return $rc
}

# Each image of SD_DISK_REFUSED, then the ambiguous disk, booted on the refusal host DISK
# with APPEND added to the command line: refused as check_failed says (one loopboot: line,
# no guest, no panic, the reboot, the host byte-identical), the line naming the format and
# the qemu-img command, and for the ambiguous disk the partitions listed.
sd_disk_refusals() { # PREFIX DISK APPEND
	local pre=$1 disk=$2 append=$3 name p what keep kept s f line sum stem got
	sum=$(sum "$disk")
	while IFS='|' read -r name p what keep kept; do
		s=$pre-$name f=$T_FAILED stem=${p%.*}
		vm_boot "$s" "root=UUID=$SD_NTFS_SERIAL \"loop=$p\" rw loopboot.timeout=3${append:+ $append}" "$disk"
		check_failed "$s" "$p: it is a $what disk image" "$disk" "$sum"
		# Compared without quotes: whichever way the paths are quoted.
		line=$(loopboot_line | tr -d "\"'\\\\")
		[[ $line == *"qemu-img convert -O raw /host$p /host$stem.img, then boot with loop=$stem.img"* ]]
		ok $? "$s: the line names the conversion to raw and the loop= to boot then"
		if [ -n "$keep" ]; then
			[[ $line == *"qemu-img convert $keep /host$p /host$stem$kept "* ]]
			ok $? "$s: ... and the one that keeps a format the hypervisor opens ($keep)"
		fi
		got=$(grep -ac '^loopboot: .*qemu-img' "$VM_LOG")
		[ "$got" -eq 1 ]
		ok $? "$s: one line says it all ($got loopboot: lines name qemu-img)"
		scenario_done "$s" "$f"
	done <<<"$SD_DISK_REFUSED"

	s=$pre-ambiguous f=$T_FAILED
	vm_boot "$s" "root=UUID=$SD_NTFS_SERIAL loop=/vm/ambiguous.img rw loopboot.timeout=3${append:+ $append}" "$disk"
	check_failed "$s" "/vm/ambiguous.img: raw disk image: 2 partitions hold a Linux file system and none has the GPT type Linux root (x86-64)" "$disk" "$sum"
	line=$(loopboot_line)
	[[ $line == *"loopboot.part=N"*"part=N in its OPTIONS"* ]]
	ok $? "$s: the line says how to name the partition (loopboot.part=, part= in loopboot.mount='s OPTIONS)"
	grep -aqE "^loopboot: +1  Linux filesystem  24\.0 MiB  ext4  UUID=[0-9a-f-]{36}  LABEL=lbroot  PARTLABEL=one  PARTUUID=$DISK_AMB_PARTUUID1\$" "$VM_LOG" &&
		grep -aqE "^loopboot: +2  Linux filesystem  8\.0 MiB  ext4  UUID=[0-9a-f-]{36}  LABEL=lbhome  PARTLABEL=two  PARTUUID=$DISK_AMB_PARTUUID2\$" "$VM_LOG"
	ok $? "$s: the partitions are listed: number, type, size, file system, UUID, label, PARTLABEL, PARTUUID"
	scenario_done "$s" "$f"
}
