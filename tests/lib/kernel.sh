#!/bin/bash
# A real Debian kernel for the tests, unpacked once into cache/kernel (this machine may run
# a kernel without /lib/modules). Safe to call from several processes at once (flock) and
# idempotent: a finished cache is reused as is.
#
# As a command:  tests/lib/kernel.sh [modules-dir|vmlinuz|version|env]
#   modules-dir  prints cache/kernel/lib/modules/VER (holds modules.dep)
#   vmlinuz      prints cache/kernel/boot/vmlinuz-VER
#   version      prints VER
#   env          prints KERNEL_VERSION=, KERNEL_MODULES=, KERNEL_VMLINUZ= lines (default)
# Sourced: defines kernel_fetch, which sets KERNEL_VERSION, KERNEL_MODULES, KERNEL_VMLINUZ.
# Override the cache directory with LOOPBOOT_KERNEL_CACHE, the package with
# LOOPBOOT_KERNEL_PACKAGE (default: what linux-image-amd64 depends on).

kernel_fetch() {
	local top cache pkg ver tmp
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	cache=${LOOPBOOT_KERNEL_CACHE:-$top/cache/kernel}
	mkdir -p "$(dirname "$cache")" || return 1
	(
		flock 9 || exit 1
		if [ -f "$cache/.complete" ]; then
			exit 0
		fi
		pkg=${LOOPBOOT_KERNEL_PACKAGE:-$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)}
		if [ -z "$pkg" ]; then
			echo "loopboot: kernel package: linux-image-amd64 has no linux-image-VER dependency — run apt-get update" >&2
			exit 1
		fi
		tmp=$(mktemp -d "$cache.tmp.XXXXXX") || exit 1
		trap 'rm -rf "$tmp"' EXIT
		# apt warns that its _apt user cannot write into the private directory: noise.
		(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.err") || {
			cat "$tmp/apt.err" >&2
			echo "loopboot: downloading the kernel package: $pkg: apt-get download failed — check the network and apt sources" >&2
			exit 1
		}
		mkdir -p "$tmp/root" &&
			dpkg-deb -x "$tmp"/*.deb "$tmp/root" || exit 1
		# Debian 12 ships modules in /lib/modules; merged-/usr systems in /usr/lib/modules.
		ver=$(ls "$tmp/root/lib/modules" 2>/dev/null || ls "$tmp/root/usr/lib/modules")
		ver=$(echo "$ver" | head -n 1)
		if [ -d "$tmp/root/usr/lib/modules/$ver" ] && [ ! -d "$tmp/root/lib/modules/$ver" ]; then
			mkdir -p "$tmp/root/lib/modules"
			mv "$tmp/root/usr/lib/modules/$ver" "$tmp/root/lib/modules/$ver"
		fi
		depmod -b "$tmp/root" "$ver" || {
			echo "loopboot: depmod: $tmp/root $ver failed — install kmod" >&2
			exit 1
		}
		echo "$ver" >"$tmp/root/.version"
		touch "$tmp/root/.complete"
		rm -rf "$cache"
		mv "$tmp/root" "$cache"
	) 9>"$cache.lock" || return 1
	KERNEL_VERSION=$(cat "$cache/.version")
	KERNEL_MODULES=$cache/lib/modules/$KERNEL_VERSION
	KERNEL_VMLINUZ=$cache/boot/vmlinuz-$KERNEL_VERSION
	export KERNEL_VERSION KERNEL_MODULES KERNEL_VMLINUZ
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	kernel_fetch || exit 1
	case "${1:-env}" in
	modules-dir) echo "$KERNEL_MODULES" ;;
	vmlinuz) echo "$KERNEL_VMLINUZ" ;;
	version) echo "$KERNEL_VERSION" ;;
	env)
		echo "KERNEL_VERSION=$KERNEL_VERSION"
		echo "KERNEL_MODULES=$KERNEL_MODULES"
		echo "KERNEL_VMLINUZ=$KERNEL_VMLINUZ"
		;;
	*)
		echo "usage: $0 [modules-dir|vmlinuz|version|env]" >&2
		exit 2
		;;
	esac
fi
