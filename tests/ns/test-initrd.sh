#!/bin/bash
# `loopboot initrd` against a real kernel's modules (Debian's, unpacked by
# tests/lib/kernel.sh): what goes in, that /init and the FUSE drivers run from the unpacked
# archive (chroot: proof that the library closure is complete), reproducibility, and the
# failures that must leave no output behind.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/kernel.sh
. "$(dirname "$0")/../lib/kernel.sh"

if ! kernel_fetch; then
	ok 1 "a Debian kernel to build against (tests/lib/kernel.sh)"
	finish
	exit
fi
VER=$KERNEL_VERSION
MODS=$KERNEL_MODULES
note "kernel $VER, modules in $MODS"

OUT=$WORK/out
mkdir -p "$OUT"
ERR=$WORK/initrd.err
build() { # FILE [OPTIONS...]: builds with the cached kernel; output in $ERR
	local file=$1
	shift
	"$LOOPBOOT" initrd -o "$file" --modules-dir "$MODS" "$@" >"$ERR" 2>&1
	local rc=$?
	sed 's/^/#   /' "$ERR"
	return $rc
}
unpack() { # ARCHIVE DIR DECOMPRESSOR...
	local img=$1 dir=$2
	shift 2
	rm -rf "$dir" && mkdir -p "$dir" && "$@" <"$img" | (cd "$dir" && cpio -idm --quiet 2>/dev/null)
}
fails_cleanly() { # STATUS: exit status wanted; the rest of the checks look at $ERR
	[ "$1" -ne 0 ] && [ "$(wc -l <"$ERR")" -ge 1 ] && grep -q '^loopboot: ' "$ERR"
}
no_leftovers() { # DIR: nothing but what was there (no temporary file)
	[ -z "$(find "$1" -name '.*' -newer "$WORK/stamp" 2>/dev/null)" ]
}

# ---- the default set, zstd ---------------------------------------------------------------
IMG=$OUT/initrd.img
start=$(date +%s)
build "$IMG"
ok $? "default build succeeds (zstd)"
note "built in $(($(date +%s) - start)) s"
check "the summary line names size, compression and counts" \
	grep -Eq "^loopboot: wrote $IMG: [0-9.]+ (KiB|MiB) \(zstd\), [0-9]+ modules?, [0-9]+ binar(y|ies), [0-9]+ librar(y|ies)$" "$ERR"
check "the archive is a zstd frame" bash -c "zstd -t -q '$IMG'"
R=$WORK/unpacked
unpack "$IMG" "$R" zstd -dc
ok $? "zstd -dc | cpio -idm unpacks it"
note "$(du -sh "$R" | cut -f1) unpacked, $(stat -c %s "$IMG") bytes compressed"

# /init is loopboot without its debugging information (Meson's debugoptimized build keeps
# it): what strip --strip-debug makes of the binary, byte for byte.
if command -v strip >/dev/null; then
	strip --strip-debug -o "$WORK/loopboot.stripped" "$LOOPBOOT"
	check "/init is loopboot itself, through strip --strip-debug" cmp "$R/init" "$WORK/loopboot.stripped"
	check "/init has no .debug_ section left" bash -c "! readelf -S '$R/init' | grep -q '\.debug_'"
else
	check "/init is loopboot itself (no strip here: as it is)" cmp "$R/init" "$LOOPBOOT"
fi
check "/init is executable" test -x "$R/init"
check "merged /usr: bin, sbin, lib, lib64 are symlinks into usr/" \
	bash -c "[ \"\$(readlink '$R/bin')\" = usr/bin ] && [ \"\$(readlink '$R/sbin')\" = usr/sbin ] && [ \"\$(readlink '$R/lib')\" = usr/lib ] && [ \"\$(readlink '$R/lib64')\" = usr/lib64 ]"
check "/sbin/modprobe points to /init" test "$(readlink "$R/usr/sbin/modprobe")" = /init
check "/dev/console is the character device 5:1" test "$(stat -c '%F %t:%T' "$R/dev/console")" = "character special file 5:1"
check "/dev/null is the character device 1:3" test "$(stat -c '%F %t:%T' "$R/dev/null")" = "character special file 1:3"
check "/proc, /sys, /run, /root, /tmp exist" bash -c "cd '$R' && test -d proc -a -d sys -a -d run -a -d root -a -d tmp"
check "/tmp is sticky and world-writable" test "$(stat -c %a "$R/tmp")" = 1777

M=$R/usr/lib/modules/$VER
has_module() { find "$M" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" -o -name "$1.ko.gz" | grep -q .; }
check "the modules are in usr/lib/modules/$VER (lib -> usr/lib)" test -d "$M/kernel"
check "ext4 is in" has_module ext4
check "crc32c (ext4's soft dependency) is in" bash -c "$(declare -f has_module); M='$M'; has_module crc32c_generic || has_module crc32c-intel"
check "jbd2 and mbcache (ext4's dependencies) are in" bash -c "$(declare -f has_module); M='$M'; has_module jbd2 && has_module mbcache"
check "nls_cp437 is in" has_module nls_cp437
for mod in virtio_blk ahci nvme sd_mod usb-storage uas xhci-pci loop dm-mod overlay fuse vfat exfat btrfs xfs squashfs isofs; do
	check "$mod is in" has_module "$mod"
done
check "modules.dep lists ext4 with its dependencies" grep -Eq '^kernel/fs/ext4/ext4\.ko(\.[a-z]+)?: .*jbd2' "$M/modules.dep"
check "modules.dep.bin, modules.alias.bin, modules.builtin.bin and .modinfo are there" \
	bash -c "cd '$M' && test -s modules.dep.bin -a -s modules.alias.bin -a -s modules.builtin.bin -a -s modules.builtin.modinfo"
check "modules.order holds only the modules that are in" \
	bash -c "[ \$(wc -l <'$M/modules.order') -eq \$(find '$M/kernel' -name '*.ko*' | wc -l) ]"
check "libkmod resolves ext4 with crc32c in the unpacked tree" \
	bash -c "modprobe -d '$R' -S '$VER' --show-depends ext4 2>&1 | grep -q crc32c"
# nvme's crc64_rocksoft asks the crypto API for crc64-rocksoft when it loads, a driver it
# does not declare: the initramfs has it, and a soft dependency loads it first.
if has_module crc64-rocksoft; then
	check "crc64_rocksoft_generic (what nvme's crc64_rocksoft asks for at init) is in" has_module crc64_rocksoft_generic
	check "/etc/modprobe.d/loopboot-initrd.conf loads it before crc64_rocksoft" \
		grep -qx 'softdep crc64_rocksoft pre: crc64_rocksoft_generic' "$R/etc/modprobe.d/loopboot-initrd.conf"
	check "libkmod loads nvme with crc64_rocksoft_generic before crc64-rocksoft (that configuration)" \
		bash -c "modprobe -d '$R' -S '$VER' -C '$R/etc/modprobe.d' --show-depends nvme 2>&1 | grep -A1 crc64_rocksoft_generic | grep -q crc64-rocksoft.ko"
fi
check "libkmod resolves a file system by its fs- alias" \
	bash -c "modprobe -d '$R' -S '$VER' --show-depends fs-vfat 2>&1 | grep -q vfat.ko"
check "a module of the kernel that is not in the set stays out" bash -c "! find '$M' -name 'e1000e.ko*' | grep -q ."

# FUSE drivers and libraries.
if [ -x /usr/bin/ntfs-3g ]; then
	check "ntfs-3g is in" test -x "$R/usr/bin/ntfs-3g"
	check "its library libntfs-3g is in" bash -c "ls '$R'/usr/lib/*/libntfs-3g.so.* >/dev/null"
	check "ntfs-3g runs from the unpacked archive (chroot)" bash -c "chroot '$R' /usr/bin/ntfs-3g --version 2>&1 | grep -q ntfs-3g"
fi
# Debian's kernel has exfat and vfat: their FUSE drivers stay out (the engine uses the
# kernel's), and with them libfuse, and fusefat's glib and libm.
if find "$MODS" -name 'exfat.ko*' | grep -q .; then
	check "mount.exfat-fuse stays out (the kernel has exfat)" test ! -e "$R/usr/sbin/mount.exfat-fuse"
fi
if find "$MODS" -name 'vfat.ko*' | grep -q .; then
	check "fusefat stays out (the kernel has vfat)" test ! -e "$R/usr/bin/fusefat"
	check "so do libfuse and glib" bash -c "! ls '$R'/usr/lib/*/libfuse.so.* '$R'/usr/lib/*/libglib-2.0.so.* 2>/dev/null | grep -q ."
fi
interp=""
for p in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1 /lib/ld-linux-armhf.so.3 /lib/ld-linux.so.2; do
	[ -e "$p" ] && interp=$p && break
done
if [ -n "$interp" ]; then
	check "the ELF interpreter $interp is in (link and file)" \
		bash -c "[ -L '$R$interp' ] && [ -f '$R$(realpath "$interp")' ]"
fi
check "the libraries of loopboot (libblkid, libmount, libc) are in" \
	bash -c "cd '$R/usr/lib' && ls */libblkid.so.1 */libmount.so.1 */libc.so.6 >/dev/null"
# With the bundled libkmod (meson option bundled-kmod, the default) libkmod is linked in,
# without OpenSSL, and dlopen()s decompressors only for compressed modules: Debian's are
# not compressed, so neither libcrypto nor libzstd, liblzma or libz goes in.
if readelf -d "$LOOPBOOT" | grep -q 'NEEDED.*libkmod'; then
	check "libkmod.so.2 is in (loopboot uses the system's)" bash -c "ls '$R'/usr/lib/*/libkmod.so.2 >/dev/null"
else
	note "libkmod is linked into loopboot (bundled-kmod)"
	check "no libkmod.so, no libcrypto in the archive" \
		bash -c "! ls '$R'/usr/lib/*/libkmod.so.* '$R'/usr/lib/*/libcrypto.so.* 2>/dev/null | grep -q ."
	if ! find "$MODS" -name '*.ko.zst' -o -name '*.ko.xz' -o -name '*.ko.gz' | grep -q .; then
		check "no module decompressor for uncompressed modules (libzstd, liblzma, libz)" \
			bash -c "! ls '$R'/usr/lib/*/libzstd.so.* '$R'/usr/lib/*/liblzma.so.* '$R'/usr/lib/*/libz.so.* 2>/dev/null | grep -q ."
	fi
fi
check "no keyboard modules without a shell (usbhid, hid_generic)" \
	bash -c "! find '$M' -name 'usbhid.ko*' -o -name 'hid-generic.ko*' | grep -q ."
out=$(chroot "$R" /init version 2>&1)
ok $? "chroot DIR /init version runs (every library resolved)"
check "it prints the version" test "$out" = "$("$LOOPBOOT" version)"
check "/sbin/modprobe runs as modprobe in the chroot" bash -c "chroot '$R' /sbin/modprobe -q no-such-module-xyz; [ \$? -le 1 ]"

# ---- reproducibility ----------------------------------------------------------------------
build "$OUT/again.img"
ok $? "a second build succeeds"
check "building twice gives identical bytes (zstd)" cmp "$IMG" "$OUT/again.img"
build "$OUT/none.img" --compress none
ok $? "--compress none builds"
check "the uncompressed archive is exactly the zstd one's content" bash -c "zstd -dc '$IMG' | cmp - '$OUT/none.img'"
check "every entry has uid/gid 0" \
	bash -c "cpio -tv --quiet <'$OUT/none.img' | awk '\$3 != \"root\" || \$4 != \"root\" { bad = 1 } END { exit bad }'"
check "every entry has mtime 0" bash -c "! TZ=UTC cpio -tv --quiet <'$OUT/none.img' | grep -v ' Jan  1  1970 '"
check "entries are sorted and directories come first" \
	bash -c "cpio -t --quiet <'$OUT/none.img' | LC_ALL=C sort -c"
build "$OUT/gz1.img" --compress gzip && build "$OUT/gz2.img" --compress gzip
ok $? "--compress gzip builds (twice)"
check "building twice gives identical bytes (gzip)" cmp "$OUT/gz1.img" "$OUT/gz2.img"
check "the gzip archive is valid and the same content" bash -c "gzip -dc '$OUT/gz1.img' | cmp - '$OUT/none.img'"
check "the summary says gzip" grep -q '(gzip)' "$ERR"
SOURCE_DATE_EPOCH=1700000000 build "$OUT/epoch.img" --compress none
ok $? "SOURCE_DATE_EPOCH is accepted"
check "SOURCE_DATE_EPOCH sets every mtime" \
	bash -c "! TZ=UTC cpio -tv --quiet <'$OUT/epoch.img' | grep -v ' Nov 14  2023 '"
SOURCE_DATE_EPOCH=soon build "$OUT/bad-epoch.img" --compress none
fails_cleanly $? && [ ! -e "$OUT/bad-epoch.img" ]
ok $? "an invalid SOURCE_DATE_EPOCH fails with a loopboot: line"
if command -v xz >/dev/null; then
	build "$OUT/x.img" --compress xz
	ok $? "--compress xz builds"
	check "the xz archive uses CRC32 checks (what the kernel accepts)" bash -c "xz -lvv '$OUT/x.img' | grep -q CRC32"
	check "the xz archive is the same content" bash -c "xz -dc '$OUT/x.img' | cmp - '$OUT/none.img'"
fi
note "sizes: zstd $(stat -c %s "$IMG"), gzip $(stat -c %s "$OUT/gz1.img"), xz $(stat -c %s "$OUT/x.img" 2>/dev/null), none $(stat -c %s "$OUT/none.img")"

# ---- extra modules and programs -----------------------------------------------------------
cat >"$WORK/hello.sh" <<'EOF'
#!/bin/sh
echo hello from the initramfs
EOF
chmod +x "$WORK/hello.sh"
build "$OUT/extra.img" --compress none --add-module e1000e --add-module raid1 --add-binary "$WORK/hello.sh" -v
ok $? "--add-module and --add-binary (a #! script) build"
X=$WORK/extra
unpack "$OUT/extra.img" "$X" cat
check "the added module is in" bash -c "find '$X/usr/lib/modules' -name 'e1000e.ko*' | grep -q ."
check "--verbose lists each module with its reason" grep -q 'module *e1000e *— --add-module' "$ERR"
check "--verbose names dependencies" grep -q 'dependency of ext4' "$ERR"
check "the script and its interpreter run in the chroot" \
	bash -c "chroot '$X' '$WORK/hello.sh' | grep -qx 'hello from the initramfs'"
build "$OUT/busybox.img" --compress none --add-binary busybox
if command -v busybox >/dev/null; then
	ok $? "--add-binary NAME is looked up in \$PATH"
	B=$WORK/busybox
	unpack "$OUT/busybox.img" "$B" cat
	check "with a shell (busybox) come the keyboard modules usbhid and hid_generic" \
		bash -c "find '$B/usr/lib/modules' -name 'usbhid.ko*' | grep -q . && find '$B/usr/lib/modules' -name 'hid-generic.ko*' | grep -q ."
else
	fails_cleanly $?
	ok $? "--add-binary NAME not in \$PATH fails"
fi

# ---- stripping ----------------------------------------------------------------------------
if readelf -S "$LOOPBOOT" | grep -q '\.debug_' && command -v strip >/dev/null; then
	build "$OUT/strip.img" --compress none -v
	ok $? "a build with --verbose"
	check "--verbose says that /init was stripped" grep -q '^  stripped init' "$ERR"
	build "$OUT/nostrip.img" --compress none --no-strip
	ok $? "--no-strip builds"
	NS=$WORK/nostrip
	unpack "$OUT/nostrip.img" "$NS" cat
	check "with --no-strip, /init is loopboot byte for byte" cmp "$NS/init" "$LOOPBOOT"
	check "--no-strip makes a bigger archive" test "$(stat -c %s "$OUT/nostrip.img")" -gt "$(stat -c %s "$OUT/strip.img")"
	# Without strip (binutils), the files go in as they are (and --verbose says so):
	# /dev/null, which has no execute bit, bound over it in this private mount namespace.
	stripbin=$(readlink -f "$(command -v strip)")
	if mount --bind /dev/null "$stripbin"; then
		"$LOOPBOOT" initrd -o "$OUT/nostrip2.img" --modules-dir "$MODS" --compress none -v >"$ERR" 2>&1
		ok $? "a build without strip installed succeeds"
		umount "$stripbin"
		check "--verbose notes that /init keeps its debugging information" grep -q '^  note *init .*strip (binutils) is not installed' "$ERR"
		check "and /init is loopboot as it is" bash -c "cd '$WORK' && rm -rf ns2 && mkdir ns2 && cd ns2 && cpio -id --quiet init <'$OUT/nostrip2.img' && cmp init '$LOOPBOOT'"
	fi
fi

# ---- compressed modules -------------------------------------------------------------------
# A modules tree whose modules are zstd-compressed (as Ubuntu's, Arch's or Fedora's kernels
# ship them): they stay compressed, and the decompressor libkmod dlopen()s comes along.
if command -v zstd >/dev/null && ! readelf -d "$LOOPBOOT" | grep -q 'NEEDED.*libkmod'; then
	ZR=$WORK/zroot
	Z=$ZR/lib/modules/$VER
	rm -rf "$ZR" && mkdir -p "$Z"
	cp -a "$MODS"/modules.builtin* "$MODS"/modules.order "$Z"/
	cp -a "$MODS/kernel" "$Z/" && find "$Z/kernel" -name '*.ko' -exec zstd -q -1 --rm {} + &&
		sed -i 's/\.ko$/.ko.zst/' "$Z/modules.order" && depmod -b "$ZR" "$VER"
	ok $? "a copy of the kernel's modules, zstd-compressed, indexed by depmod"
	"$LOOPBOOT" initrd -o "$OUT/zmods.img" --modules-dir "$Z" --compress none >"$ERR" 2>&1
	ok $? "a build from zstd-compressed modules succeeds"
	ZU=$WORK/zmods-unpacked
	unpack "$OUT/zmods.img" "$ZU" cat
	check "the modules stay compressed (ext4.ko.zst)" bash -c "find '$ZU/usr/lib/modules' -name 'ext4.ko.zst' | grep -q ."
	check "libzstd.so.1 comes along (libkmod dlopen()s it)" bash -c "ls '$ZU'/usr/lib/*/libzstd.so.1 >/dev/null"
	check "liblzma and libz do not (no such modules)" \
		bash -c "! ls '$ZU'/usr/lib/*/liblzma.so.* '$ZU'/usr/lib/*/libz.so.* 2>/dev/null | grep -q ."
	check "the archive's indexes name ext4.ko.zst with its dependencies" \
		bash -c "modprobe -d '$ZU' -S '$VER' --show-depends ext4 2>&1 | grep -q 'jbd2.ko.zst'"
	check "/init runs in the chroot (libzstd is only dlopen()ed, not needed to start)" chroot "$ZU" /init version
fi

# ---- --host-only --------------------------------------------------------------------------
build "$OUT/host.img" --compress none --host-only -v
ok $? "--host-only builds"
H=$WORK/host
unpack "$OUT/host.img" "$H" cat
rootfs=$(findmnt -n -o FSTYPE /)
note "root file system here: $rootfs; host-only took $(grep -c '^  module' "$ERR") modules"
check "--host-only has loop" bash -c "find '$H/usr/lib/modules' -name 'loop.ko*' | grep -q ."
check "--host-only has the root's file system ($rootfs) or it is built in" \
	bash -c "modprobe -d '$H' -S '$VER' --show-depends fs-$rootfs >/dev/null 2>&1 || modprobe -d '$H' -S '$VER' --show-depends $rootfs >/dev/null 2>&1 || [ $rootfs = overlay ] || [ $rootfs = tmpfs ]"
check "--host-only leaves out what this machine does not use (xfs unless root is xfs)" \
	bash -c "[ '$rootfs' = xfs ] || ! find '$H/usr/lib/modules' -name 'xfs.ko*' | grep -q ."
check "--host-only is smaller than the default set" test "$(stat -c %s "$OUT/host.img")" -lt "$(stat -c %s "$OUT/none.img")"
check "--host-only still runs /init in a chroot" bash -c "chroot '$H' /init version"
# With a state record naming an NTFS host through ntfs-3g, the FUSE driver comes along.
mkdir -p /run/loopboot
printf 'host spec=UUID=0 source=/dev/nonexistent type=ntfs driver=ntfs-3g target=/host ro=0 fuse=1\nmount role=root source=/dev/loop9 target=/ type=ext4 image=/r.img ro=0\n' >/run/loopboot/state
build "$OUT/host-ntfs.img" --compress none --host-only
ok $? "--host-only with a state record builds"
HN=$WORK/hostntfs
unpack "$OUT/host-ntfs.img" "$HN" cat
check "the state record's FUSE driver (ntfs-3g) and fuse.ko are in" \
	bash -c "[ -x '$HN/usr/bin/ntfs-3g' ] && find '$HN/usr/lib/modules' -name 'fuse.ko*' | grep -q ."
check "the state record's image type (ext4) is in" bash -c "find '$HN/usr/lib/modules' -name 'ext4.ko*' | grep -q ."
check "no other FUSE driver comes along" test ! -e "$HN/usr/bin/fusefat"
rm -f /run/loopboot/state

# ---- failures -----------------------------------------------------------------------------
touch "$WORK/stamp"
sleep 1
echo old >"$OUT/keep.img"
build "$OUT/keep.img" --compress none --add-binary /nonexistent
fails_cleanly $?
ok $? "--add-binary /nonexistent fails with a loopboot: line"
check "the message names the file" grep -q '^loopboot: --add-binary: /nonexistent: ' "$ERR"
check "the previous output is untouched" test "$(cat "$OUT/keep.img")" = old
build "$OUT/new.img" --compress none --add-binary /nonexistent
check "no output file is created" test ! -e "$OUT/new.img"
check "no temporary file is left next to the output" no_leftovers "$OUT"

"$LOOPBOOT" initrd -o "$OUT/m.img" --modules-dir /nonexistent >"$ERR" 2>&1
fails_cleanly $?
ok $? "--modules-dir /nonexistent fails with a loopboot: line"
check "the message names the directory and what to do" \
	grep -Eq '^loopboot: modules directory: /nonexistent: .* — .*modules\.dep' "$ERR"
check "no output for a bad modules dir" test ! -e "$OUT/m.img"
mkdir -p "$WORK/empty/6.1.0-99-amd64"
"$LOOPBOOT" initrd -o "$OUT/m.img" --modules-dir "$WORK/empty/6.1.0-99-amd64" >"$ERR" 2>&1
fails_cleanly $?
ok $? "a modules dir without modules.dep fails"
check "the message says to run depmod" grep -q 'run depmod 6.1.0-99-amd64' "$ERR"
build "$OUT/m.img" --add-module no_such_module_xyz
fails_cleanly $?
ok $? "--add-module that matches nothing fails"
check "the message names the module" grep -q '^loopboot: --add-module: no_such_module_xyz: ' "$ERR"
check "no output for an unknown module" test ! -e "$OUT/m.img"
build "$OUT/m.img" --add-binary /etc/hostname
fails_cleanly $?
ok $? "--add-binary of a non-program fails"

# --bitlocker: libcryptsetup (loopboot dlopen()s it for a BitLocker host) with its own
# libraries, resolvable in the unpacked archive, and dm-crypt with the AES-XTS modules;
# without it none of them.
check "without --bitlocker: no libcryptsetup, no dm-crypt" \
	bash -c "! ls '$R'/usr/lib/*/libcryptsetup.so.* 2>/dev/null | grep -q . && ! find '$M' -name 'dm-crypt.ko*' | grep -q ."
if ldconfig -p | grep -q 'libcryptsetup.so.12 '; then
	build "$OUT/bl.img" --bitlocker --compress none
	ok $? "--bitlocker builds"
	BR=$WORK/unpacked-bl
	unpack "$OUT/bl.img" "$BR" cat
	check "--bitlocker: libcryptsetup.so.12 is in" bash -c "ls '$BR'/usr/lib/*/libcryptsetup.so.12 >/dev/null"
	if [ -n "$interp" ]; then
		check "--bitlocker: every library of libcryptsetup resolves in the archive (chroot ld.so --list)" \
			bash -c "out=\$(chroot '$BR' $interp --list \$(cd '$BR' && ls -d usr/lib/*/libcryptsetup.so.12 | sed 's|^|/|')) && ! echo \"\$out\" | grep -q 'not found'"
	fi
	check "--bitlocker: dm-crypt is in" bash -c "find '$BR/usr/lib/modules' '$BR/lib/modules' -name 'dm-crypt.ko*' 2>/dev/null | grep -q ."
	check "--bitlocker: AES-XTS is in (xts, an AES module)" \
		bash -c "find '$BR' -name 'xts.ko*' | grep -q . && find '$BR' -name 'aes*.ko*' | grep -q ."
else
	note "libcryptsetup12 is not installed: --bitlocker is not tested"
fi

"$LOOPBOOT" initrd --modules-dir "$MODS" >"$ERR" 2>&1
check "missing -o is a usage error (status 2)" test $? -eq 2
check "it says -o is missing" grep -q '^loopboot: initrd: -o FILE is missing' "$ERR"
"$LOOPBOOT" initrd -o "$OUT/m.img" --bogus >"$ERR" 2>&1
check "an unknown option is a usage error (status 2)" test $? -eq 2
"$LOOPBOOT" initrd -o "$OUT/m.img" --compress lz4 >"$ERR" 2>&1
check "an unknown --compress is a usage error (status 2)" test $? -eq 2
check "it lists the methods" grep -q 'zstd, gzip, xz or none' "$ERR"
"$LOOPBOOT" initrd -o "$OUT" --modules-dir "$MODS" >"$ERR" 2>&1
fails_cleanly $?
ok $? "-o naming a directory fails"
"$LOOPBOOT" initrd -o "$WORK/no/such/dir/x.img" --modules-dir "$MODS" >"$ERR" 2>&1
fails_cleanly $?
ok $? "-o in a missing directory fails"
check "no temporary file is left anywhere in the output directory" no_leftovers "$OUT"
"$LOOPBOOT" initrd --help >"$ERR" 2>&1
check "--help prints the usage" grep -q 'Usage: loopboot initrd -o FILE' "$ERR"

finish
