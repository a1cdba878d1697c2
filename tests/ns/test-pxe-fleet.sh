#!/bin/bash
# `loopboot pxe`'s fleet options: one entry for every client, the image on an NBD, NFS or
# HTTP server. With a given kernel and initramfs the tree is made without looking at any
# server (none is contacted), and grub.cfg and boot.ipxe must carry the composed line;
# contradictory options are refused before the directory is even made.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v grub-mknetdir >/dev/null || [ ! -e /usr/lib/grub/i386-pc/moddep.lst ] ||
	[ ! -e /usr/lib/grub/x86_64-efi/moddep.lst ]; then
	echo "1..0 # SKIP grub-mknetdir or GRUB's BIOS and UEFI platforms are not installed"
	exit 0
fi

# A kernel for the tree: a bzImage setup header with a version, nothing more.
K=$WORK/vmlinuz
python3 - "$K" <<'EOF'
import sys
b = bytearray(70000)
b[0x202:0x206] = b"HdrS"
b[0x206:0x208] = (0x020F).to_bytes(2, "little")
b[0x20E:0x210] = (0x300).to_bytes(2, "little")
v = b"6.1.0-99-amd64 (fleet test) #1\0"
b[0x500:0x500 + len(v)] = v
open(sys.argv[1], "wb").write(b)
EOF
I=$WORK/initrd.img
echo "an initramfs made with loopboot initrd --network" >"$I"
TITLE="Lab fleet"

same_files() { cmp -s "$1/vmlinuz" "$K" && cmp -s "$1/initrd.img" "$I"; }
# The linux line of grub.cfg without GRUB's quotes, and the kernel line of boot.ipxe.
grub_line() { sed -n 's/^\tlinux \/vmlinuz //p' "$1/grub/grub.cfg" | tr -d "'"; }
ipxe_line() { sed -n 's/^kernel vmlinuz initrd=initrd.img //p' "$1/boot.ipxe"; }

fleet() { # NAME WANT-LINE ARGS...: a tree with the fleet options; its lines must be WANT
	local name=$1 want=$2 dir=$WORK/$1
	shift 2
	lb pxe "$dir" --kernel "$K" --initrd "$I" --secure-boot off --title "$TITLE" "$@"
	ok $? "$name: exit status 0"
	check "$name: grub.cfg boots the composed line" test "$(grub_line "$dir")" = "$want"
	check "$name: boot.ipxe boots the same line" test "$(ipxe_line "$dir")" = "$want"
	check "$name: the tree has the given kernel and initramfs" same_files "$dir"
	check "$name: the title is the one given" grep -qF "menuentry '$TITLE'" "$dir/grub/grub.cfg"
	check "$name: it says the initramfs needs --network" out_has "loopboot initrd --network"
}

refused() { # NAME PATTERN ARGS...: exit 2, one loopboot: line matching PATTERN, no DIR
	local name=$1 pattern=$2 dir=$WORK/refused
	shift 2
	lb pxe "$dir" --kernel "$K" --initrd "$I" --secure-boot off "$@"
	check "$name: exit status 2" test $? -eq 2
	check "$name: one line says why and what to do" test "$(grep -c '^loopboot: pxe: .* — ' "$LB_OUT")" -eq 1
	check "$name: the line names it" out_has "$pattern"
	check "$name: nothing is written" test ! -e "$dir"
}

# ---- NBD -----------------------------------------------------------------------------------
fleet "nbd, the export is the root" \
	"root=nbd:127.0.0.1:10809/root loopboot.overlay=tmpfs ip=dhcp console=ttyS0" \
	--nbd 127.0.0.1/root --cmdline console=ttyS0
check "nbd: the storage server's part names nbd-server and a read-only export" \
	grep -qx '                readonly = true' "$LB_OUT"
check "nbd: ... and the export" grep -qx '                \[root\]' "$LB_OUT"
check "nbd: the DHCP part is still printed" out_has "BIOS PXE   grub/i386-pc/core.0"
check "nbd: no work files are left in the tree" \
	test -z "$(find "$WORK/nbd, the export is the root" -maxdepth 1 -name '.loopboot-pxe.*')"

fleet "nbd, a file on the export, the layer on the client's disk, a static address" \
	"root=nbd:127.0.0.1:10900/fleet loop=/images/root.img loopboot.overlay=LABEL=scratch:/rw ip=10.0.2.15:10.0.2.2:10.0.2.2:255.255.255.0:lab07:eth0:off" \
	--nbd 127.0.0.1:10900/fleet --image /images/root.img --overlay LABEL=scratch:/rw \
	--ip 10.0.2.15:10.0.2.2:10.0.2.2:255.255.255.0:lab07:eth0:off

# ---- NFS -----------------------------------------------------------------------------------
fleet "nfs, a file on the export" \
	"root=nfs:127.0.0.1:/srv/fleet loop=/root.img loopboot.overlay=tmpfs:2G ip=dhcp quiet" \
	--nfs 127.0.0.1:/srv/fleet --image /root.img --overlay tmpfs:2G --cmdline quiet
check "nfs: /etc/exports' line, read-only" \
	out_has "/srv/fleet  \*(ro,no_subtree_check,no_root_squash)"
fleet "nfs4, the export is the root" \
	"root=nfs4:127.0.0.1:/fleet loopboot.overlay=tmpfs ip=dhcp" --nfs4 127.0.0.1:/fleet

# ---- HTTP ----------------------------------------------------------------------------------
head -c 3000000 /dev/urandom >"$WORK/root.img"
digest=$(sha256sum "$WORK/root.img" | cut -d' ' -f1)
fleet "http, checked with --sha256-of a local copy" \
	"loop=http://127.0.0.1:8080/fleet/root.img loopboot.sha256=$digest rw ip=dhcp" \
	--http http://127.0.0.1:8080/fleet/root.img --sha256-of "$WORK/root.img"
fleet "http, a squashfs in an ISO with an overlay, --sha256 typed" \
	"loop=http://127.0.0.1/live.iso//live/filesystem.squashfs loopboot.sha256=$digest loopboot.overlay=tmpfs ip=dhcp" \
	--http http://127.0.0.1/live.iso//live/filesystem.squashfs --overlay tmpfs \
	--sha256 "$(echo "$digest" | tr a-f A-F)"

# ---- refusals --------------------------------------------------------------------------------
refused "two sources" "two network sources" --nbd 127.0.0.1/root --nfs 127.0.0.1:/x
refused "--http with --image" "the image of --http is the URL itself" \
	--http http://127.0.0.1/r.img --image /r.img
refused "--cmdline's own root=" "leave them out of --cmdline" \
	--nbd 127.0.0.1/root --cmdline 'root=UUID=0A1B2C3D4E5F6789 loop=/linux/root.img'
refused "--sha256 with NBD" "only an image fetched over HTTP is checked" \
	--nbd 127.0.0.1/root --sha256 "$digest"
refused "--sha256 and --sha256-of" "--sha256 is given too" \
	--http http://127.0.0.1/r.img --sha256 "$digest" --sha256-of "$WORK/root.img"
refused "--image alone" "no network source" --image /root.img
refused "a bad --nbd" "not SERVER\[:PORT\]" --nbd 127.0.0.1:99999/root

lb pxe "$WORK/badip" --kernel "$K" --initrd "$I" --secure-boot off --nbd 127.0.0.1/root --ip bogus
check "an ip= the engine refuses: exit status 2" test $? -eq 2
check "an ip= the engine refuses: the engine's line names ip=" out_has "^loopboot: .*ip=bogus"
check "an ip= the engine refuses: nothing is written" test ! -e "$WORK/badip"

# ---- the initramfs built here has the network ------------------------------------------------
# Only with the kernel tests/lib/kernel.sh has already unpacked: nothing is downloaded here.
KCACHE=${LOOPBOOT_KERNEL_CACHE:-$(cd "$(dirname "$0")/../.." && pwd)/cache/kernel}
kver=$(find "$KCACHE/lib/modules" -mindepth 1 -maxdepth 1 -printf "%f\n" 2>/dev/null | head -n 1)
if [ -f "$KCACHE/.complete" ] && [ -n "$kver" ]; then
	lb pxe "$WORK/built" --kernel "$KCACHE/boot/vmlinuz-$kver" \
		--modules-dir "$KCACHE/lib/modules/$kver" --secure-boot off --nbd 127.0.0.1/root
	ok $? "built initramfs: exit status 0"
	check "built initramfs: it says it was built with --network" \
		out_has "initrd.img was built with loopboot initrd --network"
	zstd -dc "$WORK/built/initrd.img" 2>/dev/null | cpio -t --quiet 2>/dev/null >"$WORK/built.list"
	for f in usr/sbin/nbd-client usr/lib/klibc/bin/ipconfig usr/bin/curl; do
		check "built initramfs: it has $f (loopboot initrd --network)" grep -qx "$f" "$WORK/built.list"
	done
	check "built initramfs: it has the nbd module" grep -q '/nbd\.ko' "$WORK/built.list"
else
	note "no unpacked kernel in $KCACHE (tests/lib/kernel.sh): the built initramfs is not tested"
fi

lb pxe "$WORK/nokernel" --initrd "$I" --secure-boot off --nbd 127.0.0.1/root
check "no --kernel: exit status 2" test $? -eq 2
check "no --kernel: the line asks for it" out_has "^loopboot: pxe: --kernel: .* — give the image's kernel with --kernel FILE"
finish
