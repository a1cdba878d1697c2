#!/bin/bash
# Fleets over NFS (issue 17): the root image is a file on an NFS export served by
# nfs-ganesha (its VFS backend: no kernel NFS server) on this machine, listening on
# 127.0.0.1 only, read-only; the guests reach it through QEMU's restricted user networking
# (tests/vm/lib-net.sh), NFS on 10.0.2.100:2049 and MOUNT on 10.0.2.100:20048. Scenarios:
#   nfs3   root=nfs:10.0.2.100:/export:port=2049,mountport=20048,proto=tcp,mountproto=tcp
#          loop=/root.img: no portmapper query on the guest's side
#   nfs4   root=nfs4:10.0.2.100:/export:port=2049 loop=/root.img
#   sd-nfs the Debian 12 systemd root (net_sd_root) as /sd.img on the same export, over
#          NFSv4: systemd boots and shuts down through the engine's shutdown root
# Each: / an overlay over the image on a read-only loop device, /host the NFS mount
# (read-only, a write refused), the guest's write in its tmpfs layer, DHCP's host name and
# a fresh machine-id; at shutdown the stack comes down before the network; the exported
# file byte-identical afterwards (sha256). LB_NET_ONLY=NAME[,NAME...] runs those
# scenarios only.
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-net.sh
. "$VM_LIB/lib-net.sh"
[ -n "$(find /usr/lib /usr/lib64 -name 'libfsalvfs.so*' -print -quit 2>/dev/null)" ] ||
	die "nfs-ganesha's VFS backend is installed (nfs-ganesha-vfs — run scripts/deps all)"
net_setup ganesha.nfsd unshare
W=$VM_OUT
start=$(date +%s)

mkdir -p "$W/export"
net_root "$W/export/root.img" || die "the busybox root image is built (net_root)"
before=$(sum "$W/export/root.img")
if net_want sd-nfs; then
	net_sd_root "$W/export/sd.img"
	before_sd=$(sum "$W/export/sd.img")
fi
net_nfs_start "$W/export" || {
	tail -n 5 "$NFS_LOG" | sed 's/^/# ganesha: /'
	die "nfs-ganesha starts on 127.0.0.1 (log: $NFS_LOG)"
}
check "nfs-ganesha answers NFSv3 on 127.0.0.1:$NFS_PORT" net_rpc_null "$NFS_PORT" 100003 3
check "nfs-ganesha answers NFSv4 on 127.0.0.1:$NFS_PORT" net_rpc_null "$NFS_PORT" 100003 4
check "nfs-ganesha answers MOUNT v3 on 127.0.0.1:$MNT_PORT" net_rpc_null "$MNT_PORT" 100005 3
FWD=("$NET_NFS_GPORT:$NFS_PORT" "$NET_MNT_GPORT:$MNT_PORT")

scenario() { # NAME HOSTNAME FSTYPE ROOT=
	local s=$1 f=$T_FAILED n
	n=$(nonce_new)
	net_boot "$s" "$2" "ip=dhcp $4 loop=/root.img lbtest.nonce=$n lbtest.shutdown" "${FWD[@]}"
	net_check_ran "$s"
	net_check_overlay "$s" "$n"
	net_check_base_loop "$s" root.img "$NET_SERVER:/export" "$3"
	net_check_identity "$s" "$2"
	grep -aE '^LBTEST (state|status) ' "$VM_LOG" | grep -qF "$NET_SERVER:/export"
	ok $? "$s: the state record and loopboot status name $NET_SERVER:/export"
	net_check_teardown "$s" nfs
	[ "$(sum "$W/export/root.img")" = "$before" ]
	ok $? "$s: the exported root.img is byte-identical afterwards (sha256)"
	scenario_done "$s" "$f"
}

net_want nfs3 && scenario nfs3 client1 nfs \
	"root=nfs:$NET_SERVER:/export:port=$NET_NFS_GPORT,mountport=$NET_MNT_GPORT,proto=tcp,mountproto=tcp"
net_want nfs4 && scenario nfs4 client2 nfs4 "root=nfs4:$NET_SERVER:/export:port=$NET_NFS_GPORT"

# ---- sd-nfs: Debian with systemd ------------------------------------------------------------
if net_want sd-nfs; then
	s=sd-nfs f=$T_FAILED n=$(nonce_new)
	net_sd net_boot "$s" client3 "ip=dhcp root=nfs4:$NET_SERVER:/export:port=$NET_NFS_GPORT loop=/sd.img systemd.show_status=1 lbtest.nonce=$n" "${FWD[@]}"
	net_check_ran "$s"
	net_check_sd "$s" client3
	[ "$(net_lbtest root fstype)" = overlay ] && [[ $(net_lbtest rootopts) == *upperdir=/run/loopboot/* ]]
	ok $? "$s: / is an overlay with its writable layer under /run/loopboot ($(net_lbtest rootopts))"
	net_check_base_loop "$s" sd.img "$NET_SERVER:/export" nfs4
	grep -aE '^LBTEST state ' "$VM_LOG" | grep -qF "$NET_SERVER:/export"
	ok $? "$s: the state record names $NET_SERVER:/export"
	net_check_teardown "$s" nfs sd
	[ "$(sum "$W/export/sd.img")" = "$before_sd" ]
	ok $? "$s: the exported sd.img is byte-identical afterwards (sha256)"
	scenario_done "$s" "$f"
fi

bad=$(grep -aE ':(CRIT|MAJ|FATAL) :' "$NFS_LOG" | grep -avE 'DBUS|krb5|keytab|credentials for principal' | head -n 3 | tr '\n' '|')
[ -z "$bad" ]
ok $? "nfs-ganesha logged no critical error but the expected ones (no D-Bus, no Kerberos)${bad:+ ($bad)}"
rm -f "$W/export/root.img" "$W/export/sd.img"
note "total $(($(date +%s) - start))s"
finish
