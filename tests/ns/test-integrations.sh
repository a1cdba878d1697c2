#!/bin/bash
# The initramfs framework integrations (integrations/, docs/integrations.md):
#   - shellcheck on every script of them;
#   - `meson install` puts them where the frameworks look;
#   - initramfs-tools: mkinitramfs with the hook for Debian's kernel (unpacked: loopboot,
#     ntfs-3g, the boot scripts, the file list of the shutdown root); the claim in
#     init-premount run from the unpacked image; mountroot() of scripts/loopboot, sourced
#     the way /init sources it, against a real NTFS host with the real engine; init-bottom's
#     shutdown root;
#   - dracut (Debian's package, unpacked, not installed: it conflicts with initramfs-tools):
#     the module in systemd and script images; the cmdline hook run from the unpacked
#     image; the runner and the pre-shutdown hook against a real host;
#   - mkinitcpio (cannot run on Debian): install/loopboot's build() against stubs of
#     mkinitcpio's documented install API (add_binary, add_module, add_file,
#     add_runscript, map), hooks/loopboot's run_hook, mount handler and cleanup hook in
#     busybox ash against a real host with the real engine.
# /proc/cmdline is what the glue and the engine read: each case bind-mounts its own
# command line over it, in this test's private mount namespace.
# shellcheck disable=SC2016 # code for other shells, in single quotes
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/kernel.sh
. "$(dirname "$0")/../lib/kernel.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
INT=$TOP/integrations
ITOOLS=$INT/initramfs-tools
DRACUT=$INT/dracut/90loopboot
CPIO=$INT/mkinitcpio
# The NTFS serial, new on each run: a loop device of another run (or of another test on
# this machine) with the same serial would make the host ambiguous.
SERIAL=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
CALLS=$WORK/calls

skip() { # DESCRIPTION REASON
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}
set_cmdline() { # LINE: what /proc/cmdline says from now on
	mountpoint -q /proc/cmdline && umount /proc/cmdline
	printf '%s\n' "$1" >"$WORK/cmdline"
	mount --bind "$WORK/cmdline" /proc/cmdline
}
restore_cmdline() { mountpoint -q /proc/cmdline && umount /proc/cmdline; }
has_call() { grep -qxF -- "$1" "$CALLS"; }
ntfs3g_running() { pgrep -f '^@ntfs-3g ' >/dev/null; }
# The files of a shutdown root for BINARY, as the hooks list them (ldd's paths).
closure_list() { # BINARY
	echo "$1"
	ldd "$1" | sed -e '/\//!d' -e '/=>/ {s/.*=>[[:blank:]]*\([^[:blank:]]*\).*/\1/}' \
		-e 's/[[:blank:]]*\([^[:blank:]]*\) (.*)/\1/'
}

# ---- shellcheck ----------------------------------------------------------------------------
# Every shell script of the three integrations, as its shebang or shellcheck directive says
# (POSIX sh for the boot-time scripts, dash/ash for the sourced ones, bash at build time).
n=0
while IFS= read -r f; do
	case "$f" in *.service | *.conf | *.rules) continue ;; esac
	n=$((n + 1))
	rel=${f#"$TOP"/}
	if out=$(shellcheck "$f" 2>&1); then
		ok 0 "shellcheck: $rel"
	else
		ok 1 "shellcheck: $rel"
		echo "$out" | head -n 20 | sed 's/^/#   /'
	fi
done < <(find "$ITOOLS" "$INT/dracut" "$CPIO" -type f | sort)
[ "$n" -ge 11 ]
ok $? "every integration script was checked ($n)"

# ---- meson install -------------------------------------------------------------------------
BUILD_DIR=$(dirname "$LOOPBOOT")
if [ -d "$BUILD_DIR/meson-private" ]; then
	prefix=$(meson introspect "$BUILD_DIR" --buildoptions 2>/dev/null |
		python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
	D=$WORK/destdir
	meson install -C "$BUILD_DIR" --no-rebuild --skip-subprojects --destdir "$D" >"$WORK/install.log" 2>&1
	ok $? "meson install --destdir (prefix $prefix)"
	if [ "$prefix" = /usr ]; then it=/usr/share/initramfs-tools ic=/usr/lib/initcpio; else it=/etc/initramfs-tools ic=/etc/initcpio; fi
	for p in "$it/hooks/loopboot:755" "$it/scripts/init-premount/loopboot:755" \
		"$it/scripts/init-bottom/loopboot:755" "$it/scripts/loopboot:644" \
		/usr/lib/dracut/modules.d/90loopboot/module-setup.sh:755 \
		/usr/lib/dracut/modules.d/90loopboot/parse-loopboot.sh:644 \
		/usr/lib/dracut/modules.d/90loopboot/loopboot-root.service:644 \
		"$prefix/lib/systemd/system/loopboot-root.service:644" \
		"$ic/install/loopboot:644" "$ic/hooks/loopboot:644"; do
		check "installed: ${p%:*} (mode ${p##*:})" test "$(stat -c %a "$D${p%:*}" 2>/dev/null)" = "${p##*:}"
	done
else
	skip "meson install --destdir" "$LOOPBOOT is not in a Meson build directory"
fi

# ---- a real NTFS host for the glue: root.img (marker) and home.img ---------------------------
make_root_image "$WORK/root.img" integration-root
make_plain_image "$WORK/home.img" integration-home
truncate -s 96M "$WORK/ntfs.img"
mkntfs -F -Q -q -L WINDOWS "$WORK/ntfs.img" 2>/dev/null
ntfslabel --new-serial="$SERIAL" "$WORK/ntfs.img" >/dev/null 2>&1
ntfs_put "$WORK/ntfs.img" "$WORK/root.img" linux/root.img
ntfs_put "$WORK/ntfs.img" "$WORK/home.img" linux/home.img
HOSTDEV=$(attach "$WORK/ntfs.img")
GOOD="root=UUID=${SERIAL,,} loop=/linux/root.img loopboot.mount=/home:/linux/home.img rw quiet"

# A write through the mounted stack, read back from the NTFS image after the teardown.
# shellcheck disable=SC2153 # ROOT is lib.sh's
write_nonce() { echo "$1" >"$ROOT/etc/nonce" && echo "$1" >"$ROOT/home/nonce" && sync; }
nonce_in_images() { # NONCE
	ntfscat "$WORK/ntfs.img" linux/root.img >"$WORK/r.img" 2>/dev/null &&
		ntfscat "$WORK/ntfs.img" linux/home.img >"$WORK/h.img" 2>/dev/null &&
		[ "$(debugfs -R 'cat /etc/nonce' "$WORK/r.img" 2>/dev/null)" = "$1" ] &&
		[ "$(debugfs -R 'cat /nonce' "$WORK/h.img" 2>/dev/null)" = "$1" ] &&
		e2fsck -fn "$WORK/r.img" >/dev/null 2>&1 && e2fsck -fn "$WORK/h.img" >/dev/null 2>&1
}

# =============================================================================================
# initramfs-tools
# =============================================================================================

# mountroot() of scripts/loopboot as /init runs it: sourced by dash after /scripts/local,
# whose functions are stubs here recording their calls (initramfs-tools' device setup is
# not what is tested; the engine and the glue are).
itools_mountroot() { # ENV-ASSIGNMENTS...: runs in dash; calls in $CALLS, output in $LB_OUT
	: >"$CALLS"
	env "$@" CALLS="$CALLS" LOOPBOOT_BIN="$LOOPBOOT" rootmnt="$ROOT" quiet=y \
		dash -c '
		local_top() { echo local_top >>"$CALLS"; }
		local_premount() { echo local_premount >>"$CALLS"; }
		local_device_setup() { echo "local_device_setup $*" >>"$CALLS"; }
		local_mount_root() { echo local_mount_root >>"$CALLS"; }
		log_warning_msg() { echo "log_warning_msg $*" >>"$CALLS"; }
		panic() { echo panic >>"$CALLS"; exit 3; }
		. "$0"
		mountroot' "$ITOOLS/scripts/loopboot" >"$LB_OUT" 2>&1
	local rc=$?
	sed 's/^/#   /' "$LB_OUT"
	return $rc
}

set_cmdline "$GOOD"
itools_mountroot ROOT="UUID=${SERIAL,,}" LOOPBOOT_DISTRO_LOOP=n
ok $? "initramfs-tools: mountroot() succeeds on an NTFS host"
check "initramfs-tools: the image is the root at \${rootmnt} (marker)" grep -qx integration-root "$ROOT/etc/marker"
check "initramfs-tools: the root is a loop device" is_loop_mount "$ROOT"
check "initramfs-tools: /home is the extra image" grep -qx integration-home "$ROOT/home/marker"
check "initramfs-tools: the host is at \${rootmnt}/host" test "$(mount_field "$ROOT/host" source)" = "$HOSTDEV"
check "initramfs-tools: local-top ran (cryptsetup, LVM)" has_call local_top
check "initramfs-tools: initramfs-tools' device setup waited for the host, with the serial as blkid prints it, without panicking" \
	has_call "local_device_setup UUID=$SERIAL the host of loop= (root=UUID=${SERIAL,,}) false"
check "initramfs-tools: local-premount ran" has_call local_premount
check "initramfs-tools: no panic" bash -c "! grep -q panic '$CALLS'"
pid=$(sed -n 's/^host .* pid=\([0-9]*\).*/\1/p' /run/loopboot/state)
if [ -n "$pid" ]; then
	check "initramfs-tools: sysvinit's sendsigs is told to spare the FUSE daemon ($pid)" grep -qx "$pid" /run/sendsigs.omit.d/loopboot
else
	note "the kernel drives the host (no FUSE daemon): nothing for sendsigs"
fi

# init-bottom: the shutdown root.
SR=$WORK/shutdown-root
closure_list "$LOOPBOOT" >"$WORK/files"
LOOPBOOT_SHUTDOWN_ROOT=$SR LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_SHUTDOWN_FILES=$WORK/files \
	sh "$ITOOLS/scripts/init-bottom/loopboot" >"$LB_OUT" 2>&1
ok $? "initramfs-tools: init-bottom runs"
sed 's/^/#   /' "$LB_OUT"
check "initramfs-tools: init-bottom links \$R/shutdown to loopboot" test "$(readlink "$SR/shutdown")" = "$LOOPBOOT"
check "initramfs-tools: the shutdown root runs loopboot (its library closure is complete)" \
	bash -c "chroot '$SR' '$LOOPBOOT' version | grep -q '^loopboot '"
check "initramfs-tools: the shutdown root has the mount points systemd-shutdown uses" \
	test -d "$SR/oldroot" -a -d "$SR/proc" -a -d "$SR/sys" -a -d "$SR/dev" -a -d "$SR/run"
check "initramfs-tools: the shutdown root is small (loopboot's closure only, < 32 MiB)" \
	test "$(du -sm "$SR" | cut -f1)" -lt 32
# The engine's own shutdown root (what init-bottom runs at boot): loopboot's closure only,
# needing no tool of the initramfs, with a tmpfs of its own on a noexec /run.
PS=$WORK/prepare-root
"$LOOPBOOT" prepare-shutdown --root "$PS" >"$LB_OUT" 2>&1
ok $? "prepare-shutdown --root: it fills the shutdown root"
check "prepare-shutdown: \$R/shutdown is a relative link to loopboot (resolves before and after the pivot)" \
	test "$(readlink "$PS/shutdown")" = "${LOOPBOOT#/}"
check "prepare-shutdown: loopboot runs there (loader and libraries complete)" \
	bash -c "chroot '$PS' '$LOOPBOOT' version | grep -q '^loopboot '"
check "prepare-shutdown: only loopboot's closure: no busybox, no modules, no shell" \
	bash -c "[ -z \"\$(find '$PS' -name busybox -o -name modules -o -name sh)\" ]"
check "prepare-shutdown: the mount points systemd-shutdown uses" \
	test -d "$PS/oldroot" -a -d "$PS/proc" -a -d "$PS/sys" -a -d "$PS/dev" -a -d "$PS/run"
check "prepare-shutdown: loopboot-shutdown starts it with the shutdown root's loader" \
	bash -c "grep -q \"^exec '$PS/.*ld-linux.*' --library-path '$PS/.*' --argv0 loopboot '$PS$LOOPBOOT' shutdown\" '$PS/loopboot-shutdown'"
"$PS/loopboot-shutdown" poweroff >"$LB_OUT" 2>&1
check "prepare-shutdown: ... which runs (and refuses to act when not PID 1)" grep -q 'runs as PID 1 only' "$LB_OUT"
"$LOOPBOOT" prepare-shutdown --root "$PS" >/dev/null 2>&1
check "prepare-shutdown: an existing shutdown root is left to its owner" test $? -eq 0 -a "$(readlink "$PS/shutdown")" = "${LOOPBOOT#/}"
"$LOOPBOOT" prepare-shutdown --root relative/dir >/dev/null 2>&1
check "prepare-shutdown: a relative --root is a usage error (exit 2)" test $? -eq 2
NP=$WORK/noexec-prepare
mkdir -p "$NP" && mount -t tmpfs -o noexec,mode=0755 tmpfs "$NP" && mkdir "$NP/initramfs" && echo fsck-log >"$NP/initramfs/fsck.log"
"$LOOPBOOT" prepare-shutdown --root "$NP/initramfs" >"$LB_OUT" 2>&1
ok $? "prepare-shutdown on a noexec /run: it succeeds"
check "prepare-shutdown on a noexec /run: the shutdown root is a tmpfs of its own" mountpoint -q "$NP/initramfs"
check "prepare-shutdown on a noexec /run: ... where loopboot can be executed" "$NP/initramfs$LOOPBOOT" version
check "prepare-shutdown on a noexec /run: ... holding what was in /run/initramfs (fsck.log)" grep -qx fsck-log "$NP/initramfs/fsck.log"
umount "$NP/initramfs"
umount "$NP"
rm -rf "$PS"
# /run mounted noexec, as initramfs-tools mounts it: a tmpfs of its own for the shutdown
# root, with what was in /run/initramfs copied in; on failure, the original as it was.
NX=$WORK/noexec-run
mkdir -p "$NX" && mount -t tmpfs -o noexec,mode=0755 tmpfs "$NX" && mkdir "$NX/initramfs" && echo fsck-log >"$NX/initramfs/fsck.log"
LOOPBOOT_SHUTDOWN_ROOT=$NX/initramfs LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_SHUTDOWN_FILES=$WORK/files \
	sh "$ITOOLS/scripts/init-bottom/loopboot" >"$LB_OUT" 2>&1
sed 's/^/#   /' "$LB_OUT"
check "initramfs-tools: on a noexec /run, init-bottom mounts a tmpfs of its own for the shutdown root" mountpoint -q "$NX/initramfs"
check "initramfs-tools: ... where loopboot can be executed" "$NX/initramfs$LOOPBOOT" version
check "initramfs-tools: ... holding what initramfs-tools had in /run/initramfs (fsck.log)" grep -qx fsck-log "$NX/initramfs/fsck.log"
umount "$NX/initramfs"
LOOPBOOT_SHUTDOWN_ROOT=$NX/initramfs LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_SHUTDOWN_FILES=$WORK/nonexistent \
	sh "$ITOOLS/scripts/init-bottom/loopboot" >/dev/null 2>&1
check "initramfs-tools: when that fails, the tmpfs is gone and /run/initramfs is as it was" \
	bash -c "! mountpoint -q '$NX/initramfs' && [ \"\$(ls -A '$NX/initramfs')\" = fsck.log ]"
umount "$NX"
rm -rf "$SR" && mkdir -p "$SR" && ln -s /elsewhere "$SR/shutdown"
LOOPBOOT_SHUTDOWN_ROOT=$SR LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_SHUTDOWN_FILES=$WORK/files \
	sh "$ITOOLS/scripts/init-bottom/loopboot" >/dev/null 2>&1
check "initramfs-tools: init-bottom leaves another owner's shutdown root alone" \
	test "$(readlink "$SR/shutdown")" = /elsewhere -a ! -e "$SR/usr"
rm -rf "$SR"
LOOPBOOT_SHUTDOWN_ROOT=$SR LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_SHUTDOWN_FILES=$WORK/nonexistent \
	sh "$ITOOLS/scripts/init-bottom/loopboot" >"$LB_OUT" 2>&1
check "initramfs-tools: without its file list, init-bottom says so and leaves nothing half-made" \
	bash -c "grep -q '^loopboot: no shutdown root' '$LB_OUT' && [ -z \"\$(ls -A '$SR')\" ]"
n=$(date +%N)
write_nonce "$n"
teardown_root
check "initramfs-tools: the writes are in both images after the teardown, both clean" nonce_in_images "$n"
mkdir -p "$SR"
LOOPBOOT_SHUTDOWN_ROOT=$SR LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_SHUTDOWN_FILES=$WORK/files \
	sh "$ITOOLS/scripts/init-bottom/loopboot" >/dev/null 2>&1
check "initramfs-tools: init-bottom does nothing when loopboot did not mount the root" test -z "$(ls -A "$SR")"

# Failures.
sum=$(sha256sum <"$WORK/ntfs.img")
set_cmdline "root=UUID=$SERIAL loop=/linux/missing.img loopboot.timeout=2"
itools_mountroot ROOT="UUID=$SERIAL" LOOPBOOT_DISTRO_LOOP=n
check "initramfs-tools: a missing image ends in initramfs-tools' panic" test $? -eq 3 -a "$(tail -n 1 "$CALLS")" = panic
check "initramfs-tools: the engine said why (loopboot: line naming the path)" grep -q '^loopboot: .*/linux/missing.img' "$LB_OUT"
check "initramfs-tools: nothing is left mounted at \${rootmnt}" bash -c "! mountpoint -q '$ROOT'"
set_cmdline "root=UUID=$SERIAL loop=linux/root.img"
itools_mountroot ROOT="UUID=$SERIAL" LOOPBOOT_DISTRO_LOOP=y
check "initramfs-tools on Ubuntu: a line the engine refuses (loop= without a leading /) goes to Ubuntu's own loop= code" \
	bash -c "grep -qx local_mount_root '$CALLS' && grep -q '^log_warning_msg loopboot: .*status 2' '$CALLS' && ! grep -q panic '$CALLS'"
itools_mountroot ROOT="UUID=$SERIAL" LOOPBOOT_DISTRO_LOOP=n
check "initramfs-tools on Debian (no loop= code of its own): the same line panics" \
	bash -c "[ \"\$(tail -n 1 '$CALLS')\" = panic ] && ! grep -qx local_mount_root '$CALLS'"
check "initramfs-tools: the host image is byte-identical after the failures" test "$(sha256sum <"$WORK/ntfs.img")" = "$sum"

# loopboot_blkid_spec: root= as blkid prints it.
for c in "UUID=0123456789abcdef UUID=0123456789ABCDEF" "UUID=1234-abcd UUID=1234-ABCD" \
	"UUID=3F1C2A4E-8B6D-4F5E-9A7C-1D2E3F4A5B6C UUID=3f1c2a4e-8b6d-4f5e-9a7c-1d2e3f4a5b6c" \
	"LABEL=Stick LABEL=Stick" "/dev/sda1 /dev/sda1"; do
	got=$(dash -c '. "$0"; loopboot_blkid_spec "$1"' "$ITOOLS/scripts/loopboot" "${c% *}")
	check "initramfs-tools: root=${c% *} is waited for as ${c#* }" test "$got" = "${c#* }"
done

# mkinitramfs with the hook, for Debian's kernel. mkinitramfs reads /lib/modules/VER and
# /boot/config-VER only: an overlay on /usr/lib (in a nested private namespace) gives it
# /usr/lib/modules without touching this machine's file system.
if ! command -v mkinitramfs >/dev/null; then
	skip "initramfs-tools: mkinitramfs with the hook" "initramfs-tools is not installed"
elif ! kernel_fetch; then
	ok 1 "initramfs-tools: a Debian kernel to build for (tests/lib/kernel.sh)"
else
	VER=$KERNEL_VERSION
	KROOT=${KERNEL_MODULES%/lib/modules/*}
	C=$WORK/itools-conf
	cp -a /etc/initramfs-tools "$C"
	sed -i 's/^COMPRESS=.*/COMPRESS=gzip/; s/^MODULES=.*/MODULES=most/' "$C/initramfs.conf"
	install -D -m 755 "$ITOOLS/hooks/loopboot" "$C/hooks/loopboot"
	install -D -m 755 "$ITOOLS/scripts/init-premount/loopboot" "$C/scripts/init-premount/loopboot"
	install -D -m 755 "$ITOOLS/scripts/init-bottom/loopboot" "$C/scripts/init-bottom/loopboot"
	install -D -m 644 "$ITOOLS/scripts/loopboot" "$C/scripts/loopboot"
	mkdir -p "$WORK/ov/upper" "$WORK/ov/work"
	start=$(date +%s)
	unshare -m bash -c '
		mount -t overlay overlay -o "lowerdir=/usr/lib,upperdir=$1/ov/upper,workdir=$1/ov/work" /usr/lib &&
		mkdir -p /usr/lib/modules && mount --bind "$2/lib/modules" /usr/lib/modules &&
		mount --bind "$2/boot" /boot &&
		LOOPBOOT="$3" mkinitramfs -d "$4" -o "$1/itools.img" "$5"' _ \
		"$WORK" "$KROOT" "$LOOPBOOT" "$C" "$VER" >"$WORK/mkinitramfs.log" 2>&1
	ok $? "initramfs-tools: mkinitramfs with the hook builds an initramfs for $VER ($(($(date +%s) - start))s)"
	grep -E '^(E|W):' "$WORK/mkinitramfs.log" | sed 's/^/#   /'
	X=$WORK/itools
	mkdir -p "$X"
	unmkinitramfs "$WORK/itools.img" "$X" >/dev/null 2>&1
	[ -d "$X/main" ] && X=$X/main # an early microcode archive comes first
	check "initramfs-tools image: /usr/sbin/loopboot" test -x "$X/usr/sbin/loopboot"
	check "initramfs-tools image: ntfs-3g" bash -c "ls '$X'/usr/bin/ntfs-3g '$X'/usr/sbin/ntfs-3g 2>/dev/null | grep -q ."
	check "initramfs-tools image: the loop, fuse and vfat modules" \
		bash -c "find '$X/usr/lib/modules' -name 'loop.ko*' | grep -q . && find '$X/usr/lib/modules' -name 'fuse.ko*' | grep -q . && find '$X/usr/lib/modules' -name 'vfat.ko*' | grep -q ."
	check "initramfs-tools image: the boot scripts (scripts/loopboot, init-premount, init-bottom)" \
		test -f "$X/scripts/loopboot" -a -x "$X/scripts/init-premount/loopboot" -a -x "$X/scripts/init-bottom/loopboot"
	check "initramfs-tools image: init-premount and init-bottom are in their ORDER files" \
		bash -c "grep -q '^/scripts/init-premount/loopboot ' '$X/scripts/init-premount/ORDER' && grep -q '^/scripts/init-bottom/loopboot ' '$X/scripts/init-bottom/ORDER'"
	check "initramfs-tools image: the shutdown root's file list names loopboot and its loader" \
		bash -c "head -n 1 '$X/usr/lib/loopboot/shutdown-files' | grep -qx /usr/sbin/loopboot && grep -q '/ld-linux' '$X/usr/lib/loopboot/shutdown-files'"
	check "initramfs-tools image: every file of that list is in the image" \
		bash -c "while read -r f; do [ -e '$X'\"\$f\" ] || exit 1; done <'$X/usr/lib/loopboot/shutdown-files'"
	check "initramfs-tools image: conf.d/loopboot records that Debian's scripts/local has no loop= code" \
		grep -qx LOOPBOOT_DISTRO_LOOP=n "$X/conf/conf.d/loopboot"

	# The claim, run from the unpacked image as /init runs it (busybox sh, BOOT=local).
	claim() { # CMDLINE [BOOT]: prints what /conf/param.conf holds afterwards
		printf '%s\n' "$1" >"$X/tmp/cmdline"
		rm -f "$X/conf/param.conf"
		BOOT="${2:-local}" LOOPBOOT_PROC_CMDLINE=/tmp/cmdline \
			chroot "$X" /bin/sh /scripts/init-premount/loopboot >/dev/null 2>&1
		cat "$X/conf/param.conf" 2>/dev/null
	}
	mkdir -p "$X/tmp"
	for c in "yes|root=UUID=X loop=/linux/root.img rw" \
		"yes|root=LABEL=S \"loop=/My Linux/root.img\" rw" \
		"yes|root=UUID=X loop=\"/My Linux/root.img\"" \
		"no|root=/dev/sda1 ro quiet" \
		"no|root=UUID=X loop=/linux/root.img loopboot=off" \
		"no|loopboot=off root=UUID=X loop=/linux/root.img" \
		"no|root=UUID=X loop=" \
		"no|root=UUID=X -- loop=/linux/root.img"; do
		want=${c%%|*} line=${c#*|}
		got=$(claim "$line")
		if [ "$want" = yes ]; then
			check "initramfs-tools: init-premount claims the boot (BOOT=loopboot) for: $line" test "$got" = BOOT=loopboot
		else
			check "initramfs-tools: init-premount leaves the boot alone for: $line" test -z "$got"
		fi
	done
	got=$(claim "root=/dev/nfs loop=/linux/root.img" nfs)
	check "initramfs-tools: init-premount leaves boot=nfs (another boot script) alone" test -z "$got"
fi

# =============================================================================================
# dracut
# =============================================================================================

# The runner (loopboot-root.service's ExecStart, the script initrd's mount hook).
# /run noexec, as dracut's script initrd mounts it.
set_cmdline "$GOOD"
mkdir -p /run/initramfs && echo dracut-state >/run/initramfs/rdsosreport.txt
mount -o remount,noexec /run
NEWROOT=$ROOT LOOPBOOT_BIN=$LOOPBOOT sh "$DRACUT/loopboot-dracut-root.sh" >"$LB_OUT" 2>&1
ok $? "dracut: the runner mounts the root at \$NEWROOT"
sed 's/^/#   /' "$LB_OUT"
check "dracut: the image is the root (marker)" grep -qx integration-root "$ROOT/etc/marker"
check "dracut: the host is at \$NEWROOT/host" test "$(mount_field "$ROOT/host" source)" = "$HOSTDEV"
check "dracut: the runner asks dracut-shutdown.service for the shutdown root (.need_shutdown)" test -e /run/initramfs/.need_shutdown
check "dracut: on a noexec /run, /run/initramfs gets a tmpfs of its own that allows executing" \
	bash -c "mountpoint -q /run/initramfs && cp /bin/true /run/initramfs/t && /run/initramfs/t"
check "dracut: ... with what dracut had there" grep -qx dracut-state /run/initramfs/rdsosreport.txt
umount /run/initramfs
mount -o remount,exec /run
rm -rf /run/initramfs
n=$(date +%N)
write_nonce "$n"
LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_OLDROOT=$ROOT sh -c '. "$0"' "$DRACUT/loopboot-shutdown.sh" >"$LB_OUT" 2>&1
sed 's/^/#   /' "$LB_OUT"
check "dracut: the pre-shutdown hook takes the stack down and says so" grep -qx 'loopboot: images unmounted, loop devices detached, host unmounted' "$LB_OUT"
check "dracut: nothing is mounted at the old root afterwards" bash -c "! mountpoint -q '$ROOT'"
check "dracut: the host's FUSE daemon has exited" bash -c "! pgrep -f '^@ntfs-3g ' >/dev/null"
check "dracut: the state record is gone" test ! -e /run/loopboot/state
check "dracut: the writes are in both images, both clean" nonce_in_images "$n"
LOOPBOOT_BIN=$LOOPBOOT LOOPBOOT_OLDROOT=$ROOT sh -c '. "$0"' "$DRACUT/loopboot-shutdown.sh" >"$LB_OUT" 2>&1
check "dracut: the pre-shutdown hook does nothing without a state record" test ! -s "$LB_OUT"
set_cmdline "root=UUID=$SERIAL loop=/linux/missing.img loopboot.timeout=2"
rm -f /run/initramfs/.need_shutdown
NEWROOT=$ROOT LOOPBOOT_BIN=$LOOPBOOT sh "$DRACUT/loopboot-dracut-root.sh" >"$LB_OUT" 2>&1
check "dracut: the runner fails with the engine's status 1 on a missing image" test $? -eq 1
check "dracut: ... mounts nothing and asks for no shutdown root" \
	bash -c "! mountpoint -q '$ROOT' && [ ! -e /run/initramfs/.need_shutdown ]"
restore_cmdline

DR=${LOOPBOOT_DRACUT_CACHE:-$TOP/cache/dracut}
dracut_fetch() { # Debian's dracut and dracut-core, unpacked once into $DR
	(
		flock 9 || exit 1
		[ -f "$DR/.complete" ] && exit 0
		rm -rf "$DR.tmp" && mkdir -p "$DR.tmp/debs" || exit 1
		(cd "$DR.tmp/debs" && apt-get download -q dracut dracut-core >/dev/null 2>&1) || exit 1
		for d in "$DR.tmp"/debs/*.deb; do dpkg-deb -x "$d" "$DR.tmp/root" || exit 1; done
		rm -rf "$DR" && mv "$DR.tmp" "$DR" && touch "$DR/.complete"
	) 9>"$DR.lock"
}
mkdir -p "$(dirname "$DR")"
if ! kernel_fetch; then
	ok 1 "dracut: a Debian kernel to build for (tests/lib/kernel.sh)"
elif ! dracut_fetch; then
	skip "dracut: images with the module" "apt-get download dracut dracut-core failed (offline?)"
else
	VER=$KERNEL_VERSION
	B=$WORK/dracut-base
	cp -a "$DR/root/usr/lib/dracut" "$B"
	cp "$DR/root/usr/bin/dracut" "$B/dracut.sh"
	cp -a "$DRACUT" "$B/modules.d/90loopboot"
	mkdir -p "$WORK/dracut-conf.d"
	dracut_build() { # OUT MODULES...
		local out=$1
		shift
		LOOPBOOT=$LOOPBOOT dracutbasedir=$B bash "$B/dracut.sh" --no-hostonly --kver "$VER" \
			--kmoddir "$KERNEL_MODULES" --conf /dev/null --confdir "$WORK/dracut-conf.d" \
			--force --no-compress --no-early-microcode -m "$*" "$out" >"$out.log" 2>&1
	}
	unpack_cpio() { mkdir -p "$2" && (cd "$2" && cpio -id --quiet <"$1" 2>/dev/null); }
	start=$(date +%s)
	dracut_build "$WORK/dracut-sd.img" base systemd systemd-initrd dracut-systemd rootfs-block fs-lib shutdown loopboot
	ok $? "dracut: a systemd initrd with the module builds ($(($(date +%s) - start))s)"
	X=$WORK/dracut-sd
	unpack_cpio "$WORK/dracut-sd.img" "$X"
	check "dracut image (systemd): /usr/sbin/loopboot runs from it" bash -c "chroot '$X' /usr/sbin/loopboot version | grep -q '^loopboot '"
	check "dracut image (systemd): ntfs-3g" test -x "$X/usr/bin/ntfs-3g"
	check "dracut image (systemd): the loop and fuse modules" \
		bash -c "find '$X/usr/lib/modules' -name 'loop.ko*' | grep -q . && find '$X/usr/lib/modules' -name 'fuse.ko*' | grep -q ."
	check "dracut image (systemd): the cmdline hook" test -f "$X/usr/lib/dracut/hooks/cmdline/90-parse-loopboot.sh"
	check "dracut image (systemd): the pre-shutdown hook" test -f "$X/usr/lib/dracut/hooks/pre-shutdown/40-loopboot-shutdown.sh"
	check "dracut image (systemd): loopboot-root.service, ordered before sysroot.mount" \
		grep -q '^Before=sysroot.mount' "$X/usr/lib/systemd/system/loopboot-root.service"
	check "dracut image (systemd): sysroot.mount requires it (drop-in)" \
		grep -qx 'Requires=loopboot-root.service' "$X/usr/lib/systemd/system/sysroot.mount.d/90-loopboot.conf"
	check "dracut image (systemd): no fsck of the host (systemd-fsck-root.service drop-in)" \
		test -f "$X/usr/lib/systemd/system/systemd-fsck-root.service.d/90-loopboot.conf"
	check "dracut image (systemd): the udev rule for UUIDs in either case" \
		test -f "$X/etc/udev/rules.d/64-loopboot-uuid.rules"
	check "dracut image (systemd): no script-initrd mount hook" test ! -e "$X/usr/lib/dracut/hooks/mount/10-mount-loopboot.sh"

	start=$(date +%s)
	dracut_build "$WORK/dracut-sh.img" base rootfs-block fs-lib shutdown loopboot
	ok $? "dracut: a script initrd (no systemd) with the module builds ($(($(date +%s) - start))s)"
	X=$WORK/dracut-sh
	unpack_cpio "$WORK/dracut-sh.img" "$X"
	check "dracut image (script): the mount hook" test -f "$X/usr/lib/dracut/hooks/mount/10-mount-loopboot.sh"
	check "dracut image (script): no systemd unit" test ! -e "$X/usr/lib/systemd/system/loopboot-root.service"
	check "dracut image (script): the runner" test -x "$X/usr/lib/loopboot/dracut-root"

	# The cmdline hook, sourced from the unpacked script image as dracut-cmdline sources it.
	mkdir -p "$X/proc" "$X/tmp" "$X/run"
	mount -t proc proc "$X/proc"
	cmdline_hook() { # CMDLINE ROOT: prints "root rootok", the claim and the wait it queued
		printf '%s\n' "$1" >"$X/tmp/cmdline"
		rm -rf "$X/run/initramfs" "$X/usr/lib/dracut/hooks/initqueue/finished"/devexists-*
		chroot "$X" /bin/sh -c '
			. /lib/dracut-lib.sh
			root=$1
			. /usr/lib/dracut/hooks/cmdline/90-parse-loopboot.sh
			echo "root=$root rootok=${rootok:-}"
			echo "claim=$(cat /run/initramfs/loopboot-root 2>/dev/null)"
			for f in /usr/lib/dracut/hooks/initqueue/finished/devexists-*; do
				[ -e "$f" ] && echo "wait=$(cat "$f")"
			done' _ "$2" 2>/dev/null
	}
	got=$(LOOPBOOT_PROC_CMDLINE=/tmp/cmdline cmdline_hook "root=UUID=${SERIAL,,} loop=/linux/root.img rw" "UUID=${SERIAL,,}")
	printf '%s\n' "$got" | sed 's/^/#   /'
	check "dracut: the cmdline hook claims the root (root=loopboot:<host>, rootok=1)" \
		grep -qx "root=loopboot:UUID=${SERIAL,,} rootok=1" <<<"$got"
	check "dracut: ... records the claim for loopboot-root.service" grep -qx "claim=UUID=${SERIAL,,}" <<<"$got"
	check "dracut: ... and the initqueue waits for the host as udev names it" \
		grep -qx "wait=\[ -e \"/dev/disk/by-uuid/$SERIAL\" \]" <<<"$got"
	for line in "root=/dev/sda1 rw" "root=UUID=X loop=/linux/root.img loopboot=off" \
		"root=UUID=X loop=/linux/root.img rd.loopboot=0"; do
		got=$(LOOPBOOT_PROC_CMDLINE=/tmp/cmdline cmdline_hook "$line" /dev/sda1)
		check "dracut: the cmdline hook leaves the root to dracut for: $line" \
			bash -c "grep -qx 'root=/dev/sda1 rootok=' <<<'$got' && grep -qx 'claim=' <<<'$got'"
	done
	umount "$X/proc"
fi

# =============================================================================================
# mkinitcpio
# =============================================================================================

# install/loopboot's build(), with mkinitcpio's install API as stubs that record their calls.
cpio_build() { # HOOKS...: runs build(); calls in $CALLS, the shutdown file list in $WORK/cpio-files
	: >"$CALLS"
	bash -c '
		HOOKS=("$@")
		_hooks=("$@")
		add_binary() { echo "add_binary $*" >>"$CALLS"; }
		add_module() { echo "add_module $*" >>"$CALLS"; }
		add_file() { echo "add_file $*" >>"$CALLS"; [ "$1" = - ] && cat >"$FILES"; }
		add_runscript() { echo "add_runscript ${BASH_SOURCE[1]##*/}" >>"$CALLS"; }
		map() { local f=$1; shift; for a; do "$f" "$a"; done; }
		warning() { echo "warning $*" >>"$CALLS"; }
		error() { echo "error $*" >>"$CALLS"; }
		PATH="$LBDIR:$PATH"
		. "$SCRIPT"
		build' _ "$@"
}
LBDIR=$WORK/bin
mkdir -p "$LBDIR"
ln -sf "$LOOPBOOT" "$LBDIR/loopboot"
export CALLS LBDIR FILES=$WORK/cpio-files SCRIPT=$CPIO/install/loopboot
cpio_build base udev autodetect modconf block loopboot filesystems fsck
ok $? "mkinitcpio: install/loopboot's build() runs"
sed 's/^/#   /' "$CALLS" | head -n 40
check "mkinitcpio: build() adds loopboot at /usr/bin/loopboot" has_call "add_binary $LBDIR/loopboot /usr/bin/loopboot"
if command -v ntfs-3g >/dev/null; then
	check "mkinitcpio: build() adds ntfs-3g" has_call "add_binary $(command -v ntfs-3g)"
fi
for m in loop fuse vfat 'ntfs3?' 'exfat?' ext4; do
	check "mkinitcpio: build() adds the module $m" has_call "add_module $m"
done
check "mkinitcpio: build() adds the runtime hook" has_call "add_runscript loopboot"
check "mkinitcpio: build() adds the shutdown root's file list" has_call "add_file - /usr/lib/loopboot/shutdown-files 644"
check "mkinitcpio: the list names loopboot's path in the image and its dynamic loader" \
	bash -c "head -n 1 '$FILES' | grep -qx /usr/bin/loopboot && grep -q '/ld-linux' '$FILES'"
check "mkinitcpio: build() warns about nothing in a busybox image" bash -c "! grep -q '^warning' '$CALLS'"
cpio_build base systemd autodetect block loopboot filesystems
check "mkinitcpio: build() warns that a systemd-based image runs no runtime hook" grep -q '^warning loopboot: the systemd-based' "$CALLS"
cpio_build base udev block loopboot filesystems shutdown
check "mkinitcpio: build() warns about the shutdown hook" grep -q '^warning loopboot: the shutdown hook' "$CALLS"

# hooks/loopboot in busybox ash, with init_functions' msg, err, launch_interactive_shell and
# run_hookfunctions as stubs.
cpio_hook() { # SHELL-CODE: runs after sourcing hooks/loopboot; calls in $CALLS
	: >"$CALLS"
	PATH="$LBDIR:$PATH" busybox sh -c '
		msg() { echo "msg $*" >>"$CALLS"; }
		err() { echo "err $*" >>"$CALLS"; }
		launch_interactive_shell() { echo launch_interactive_shell >>"$CALLS"; }
		run_hookfunctions() { echo "run_hookfunctions $1" >>"$CALLS"; }
		mount_handler=default_mount_handler
		root=$ROOTSPEC
		. "$0"
		'"$1" "$CPIO/hooks/loopboot" >"$LB_OUT" 2>&1
	local rc=$?
	sed 's/^/#   /' "$LB_OUT"
	return $rc
}
export ROOTSPEC="UUID=${SERIAL,,}"
set_cmdline "$GOOD"
cpio_hook 'run_hook; echo "mount_handler=$mount_handler fastboot=${fastboot:-}" >>"$CALLS"'
check "mkinitcpio: run_hook with loop= makes loopboot_mount_handler the mount handler and skips fsck of the host" \
	has_call "mount_handler=loopboot_mount_handler fastboot=y"
for line in "root=/dev/sda2 rw" "root=UUID=X loop=/linux/root.img loopboot=off"; do
	set_cmdline "$line"
	cpio_hook 'run_hook; echo "mount_handler=$mount_handler fastboot=${fastboot:-}" >>"$CALLS"'
	check "mkinitcpio: run_hook leaves the default mount handler for: $line" has_call "mount_handler=default_mount_handler fastboot="
done
set_cmdline "root=LABEL=X \"loop=/My Linux/root.img\""
cpio_hook 'run_hook; echo "mount_handler=$mount_handler" >>"$CALLS"'
check "mkinitcpio: run_hook sees a quoted \"loop=/My Linux/root.img\" (which mkinitcpio's parser skips)" has_call "mount_handler=loopboot_mount_handler"

set_cmdline "$GOOD"
cpio_hook "loopboot_mount_handler '$ROOT'"
ok $? "mkinitcpio: loopboot_mount_handler /new_root succeeds on an NTFS host"
check "mkinitcpio: the image is the root (marker)" grep -qx integration-root "$ROOT/etc/marker"
check "mkinitcpio: /home is the extra image" grep -qx integration-home "$ROOT/home/marker"
check "mkinitcpio: the host is at /new_root/host" test "$(mount_field "$ROOT/host" source)" = "$HOSTDEV"
check "mkinitcpio: no emergency shell" bash -c "! grep -q launch_interactive_shell '$CALLS'"
SR=$WORK/cpio-shutdown-root
sed "1s|.*|$LOOPBOOT|" "$FILES" >"$WORK/cpio-files-here" # the image's /usr/bin/loopboot is $LOOPBOOT here
cpio_hook "LOOPBOOT_SHUTDOWN_ROOT='$SR' LOOPBOOT_SHUTDOWN_FILES='$WORK/cpio-files-here' run_cleanuphook"
check "mkinitcpio: run_cleanuphook links the shutdown root's /shutdown to loopboot" test "$(readlink "$SR/shutdown")" = "$LBDIR/loopboot"
check "mkinitcpio: the shutdown root runs loopboot" bash -c "chroot '$SR' '$LOOPBOOT' version | grep -q '^loopboot '"
mkdir -p "$WORK/arch-sr" && echo '#!/usr/bin/ash' >"$WORK/arch-sr/shutdown"
cpio_hook "LOOPBOOT_SHUTDOWN_ROOT='$WORK/arch-sr' LOOPBOOT_SHUTDOWN_FILES='$WORK/cpio-files-here' run_cleanuphook"
check "mkinitcpio: run_cleanuphook replaces the shutdown hook's /shutdown" test "$(readlink "$WORK/arch-sr/shutdown")" = "$LBDIR/loopboot"
n=$(date +%N)
write_nonce "$n"
teardown_root
check "mkinitcpio: the writes are in both images after the teardown, both clean" nonce_in_images "$n"
rm -rf "$SR"
cpio_hook "LOOPBOOT_SHUTDOWN_ROOT='$SR' LOOPBOOT_SHUTDOWN_FILES='$WORK/cpio-files-here' run_cleanuphook"
check "mkinitcpio: run_cleanuphook does nothing when loopboot did not mount the root" test ! -e "$SR"

set_cmdline "root=UUID=$SERIAL loop=/linux/missing.img loopboot.timeout=1"
cpio_hook "loopboot_mount_handler '$ROOT'"
check "mkinitcpio: on failure the handler runs the emergency hooks and opens mkinitcpio's shell" \
	bash -c "grep -qx 'run_hookfunctions run_emergencyhook' '$CALLS' && grep -qx launch_interactive_shell '$CALLS'"
check "mkinitcpio: ... then tries once more, and nothing is mounted" \
	bash -c "[ \$(grep -c '^loopboot: .*missing.img' '$LB_OUT') -ge 2 ] && ! mountpoint -q '$ROOT'"
restore_cmdline
losetup -d "$HOSTDEV" 2>/dev/null
finish
