# shellcheck shell=bash disable=SC2034 # NBD_PORT, NET_RC, … are for the tests
# SPDX-License-Identifier: GPL-2.0-or-later
# The network tests' side of the VM tier (tests/vm/test-net-*.sh), sourced after lib.sh:
# real servers from Debian's packages on this machine, and guests that reach them.
#
# Every server listens on 127.0.0.1 only, on ports picked free at run time (two test files
# may run at once): nbd-server (its own configuration, every export read-only),
# nfs-ganesha with its VFS backend, python3's http.server. A guest's only network is
# QEMU's user networking with restrict=on: DHCP (10.0.2.15, gateway 10.0.2.2, the host name
# the test gives) and one guestfwd rule per service, from 10.0.2.100:GUESTPORT to the
# server's loopback port, through one socat per guest connection. No other address is
# ever contacted. The servers are stopped when the test file ends (the EXIT trap below).
#
# The initramfs is `loopboot initrd --network`, cached as tests/vm/cache/netinitrd-*.img;
# the busybox root is guest_root_tree with tests/vm/guest-net/init (netroot-*.img).

NET_SERVER=10.0.2.100
# The ports the guests see at NET_SERVER (the kernel command line names them).
NET_NBD_GPORT=10809
NET_NFS_GPORT=2049
NET_MNT_GPORT=20048
NET_HTTP_GPORT=8080
NET_GUEST=$VM_LIB/guest-net
NET_QEMU_PIDS=()
NET_SERVER_PIDS=()
declare -A NET_RC NET_SECS

# LB_NET_ONLY=NAME[,NAME...] runs those scenarios only.
net_want() { [ -z "${LB_NET_ONLY:-}" ] || [[ ,$LB_NET_ONLY, == *",$1,"* ]]; } # NAME

net_require() { # TOOL...: beyond vm_require's
	local missing=() t
	for t in socat python3 "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "tools present (missing: ${missing[*]} — run scripts/deps all)"
}

# ---- processes ------------------------------------------------------------------------

# N free TCP ports on 127.0.0.1, as the kernel hands them out (bound to port 0 together,
# so that they differ, then released).
net_ports() { # N
	python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

net_port_open() { # PORT: something accepts connections on 127.0.0.1:PORT
	python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}

net_wait_port() { # PORT [SECONDS]: until it accepts connections
	local i
	for ((i = 0; i < ${2:-20} * 10; i++)); do
		net_port_open "$1" && return 0
		sleep 0.1
	done
	return 1
}

# Stops PID (TERM, then KILL after 5 s) and waits until it is gone; its children first
# when KIDS is given (nbd-server's connection handlers).
net_stop_pid() { # PID [KIDS]
	local pid=$1 kid i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	if [ -n "${2:-}" ]; then
		for kid in $(pgrep -P "$pid"); do kill -KILL "$kid" 2>/dev/null; done
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

net_cleanup() { # the EXIT trap: guests first, then the servers
	local p
	for p in ${NET_QEMU_PIDS[@]+"${NET_QEMU_PIDS[@]}"}; do kill -KILL "$p" 2>/dev/null; done
	[ -z "${VM_PID:-}" ] || kill -KILL "$VM_PID" 2>/dev/null
	net_nbd_stop
	for p in ${NET_SERVER_PIDS[@]+"${NET_SERVER_PIDS[@]}"}; do net_stop_pid "$p"; done
	NET_SERVER_PIDS=()
}
trap net_cleanup EXIT

# ---- nbd-server -----------------------------------------------------------------------

# nbd-server on 127.0.0.1:$NBD_PORT, each FILE exported read-only as NAME. A daemon
# (without -d it serves each client in a process of its own): NBD_PID is the listener.
net_nbd_start() { # NAME=FILE...
	local e
	NBD_DIR=$(mktemp -d "$VM_OUT/.nbd.XXXXXX") || return 1
	NBD_PORT=$(net_ports 1)
	{
		printf '[generic]\n\tlistenaddr = 127.0.0.1\n\tport = %s\n\tallowlist = true\n' "$NBD_PORT"
		for e; do printf '[%s]\n\texportname = %s\n\treadonly = true\n' "${e%%=*}" "${e#*=}"; done
	} >"$NBD_DIR/config"
	net_nbd_run
}

net_nbd_run() { # (re)starts the server of net_nbd_start on the same port
	local i
	rm -f "$NBD_DIR/pid"
	nbd-server -C "$NBD_DIR/config" -p "$NBD_DIR/pid" >>"$NBD_DIR/log" 2>&1 || return 1
	for ((i = 0; i < 100; i++)); do
		[ -s "$NBD_DIR/pid" ] && net_port_open "$NBD_PORT" && break
		sleep 0.1
	done
	NBD_PID=$(cat "$NBD_DIR/pid" 2>/dev/null)
	[ -n "$NBD_PID" ] && net_port_open "$NBD_PORT"
}

# Kills the server and every connection it serves (SIGKILL: as a crash would).
net_nbd_kill() {
	[ -n "${NBD_PID:-}" ] || return 0
	local kid
	for kid in $(pgrep -P "$NBD_PID"); do kill -KILL "$kid" 2>/dev/null; done
	kill -KILL "$NBD_PID" 2>/dev/null
	while kill -0 "$NBD_PID" 2>/dev/null; do sleep 0.05; done
	NBD_PID=
}

net_nbd_stop() { # also from the EXIT trap
	[ -n "${NBD_PID:-}" ] || return 0
	net_stop_pid "$NBD_PID" kids
	NBD_PID=
}

# The export names nbd-server offers, one a line (nbd-client -l: the NBD handshake).
net_nbd_list() { nbd-client -l 127.0.0.1 "$NBD_PORT" 2>/dev/null | sed '1{/^Negotiation/d}'; }

# ---- HTTP -----------------------------------------------------------------------------

# python3's http.server for DIR on 127.0.0.1:$HTTP_PORT; its log (one line a request,
# with the status) in $HTTP_LOG.
net_http_start() { # DIR
	HTTP_PORT=$(net_ports 1)
	HTTP_LOG=$VM_OUT/http.log
	python3 -m http.server --bind 127.0.0.1 "$HTTP_PORT" --directory "$1" >>"$HTTP_LOG" 2>&1 &
	HTTP_PID=$!
	NET_SERVER_PIDS+=("$HTTP_PID")
	net_wait_port "$HTTP_PORT"
}

# ---- NFS: nfs-ganesha -----------------------------------------------------------------
# NFSv3 needs the MOUNT protocol registered with a portmapper, and ganesha 4.3 treats a
# failed registration as fatal (there is no option to skip it; NFSv4 alone would do
# without). It runs in a private mount namespace with a tmpfs on /run, where a stand-in
# portmapper (net_rpcbind_stub) answers on /run/rpcbind.sock, the only place ganesha's
# ntirpc registers through: no port 111 anywhere, and nothing outside sees it. NFS and MNT
# listen on 127.0.0.1:$NFS_PORT and :$MNT_PORT, TCP only.

net_rpcbind_stub() { # OUT: the stand-in, a python3 script taking the socket's path
	cat >"$1" <<'PY'
# A stand-in portmapper on a Unix socket: SET and UNSET answered TRUE, GETPORT/GETADDR
# "none", nothing remembered. It ends when its parent (ganesha) does.
import os, socket, struct, sys, threading, time
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(16)
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
def recv_exact(c, n):
    b = b''
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise EOFError
        b += x
    return b
def serve(c):
    try:
        while True:
            msg = b''
            while True:
                (h,) = struct.unpack('>I', recv_exact(c, 4))
                msg += recv_exact(c, h & 0x7fffffff)
                if h & 0x80000000:
                    break
            xid, _mtype, _rpcvers, _prog, _vers, proc = struct.unpack('>6I', msg[:24])
            res = struct.pack('>I', 1 if proc in (1, 2) else 0) if proc else b''
            rep = struct.pack('>6I', xid, 1, 0, 0, 0, 0) + res
            c.sendall(struct.pack('>I', 0x80000000 | len(rep)) + rep)
    except (EOFError, OSError, struct.error):
        pass
    finally:
        c.close()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
}

# ganesha exporting DIR read-only as /export (NFSv3 and v4; Mount_Path_Pseudo: v3 mounts
# the same path). Sets NFS_PORT, MNT_PORT, NFS_PID, NFS_LOG.
net_nfs_start() { # DIR
	local d i
	d=$(mktemp -d "$VM_OUT/.nfs.XXXXXX") || return 1
	read -r NFS_PORT MNT_PORT <<<"$(net_ports 2)"
	NFS_LOG=$VM_OUT/ganesha.log
	mkdir -p "$d/recovery"
	net_rpcbind_stub "$d/rpcbind.py"
	cat >"$d/ganesha.conf" <<EOF
NFS_CORE_PARAM {
	Bind_addr = 127.0.0.1;
	NFS_Port = $NFS_PORT;
	MNT_Port = $MNT_PORT;
	Protocols = 3, 4;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Enable_UDP = false;
	Mount_Path_Pseudo = true;
}
NFS_KRB5 { Active_krb5 = false; }
NFSV4 { Graceless = true; RecoveryRoot = $d/recovery; }
EXPORT {
	Export_Id = 1;
	Path = $1;
	Pseudo = /export;
	Access_Type = RO;
	Squash = No_Root_Squash;
	Protocols = 3, 4;
	Transports = TCP;
	SecType = sys;
	FSAL { Name = VFS; }
}
EOF
	unshare -m --propagation private bash -c '
		mount -t tmpfs -o mode=755 lbnfsrun /run || exit 1
		python3 "$1/rpcbind.py" /run/rpcbind.sock &
		for i in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done
		exec ganesha.nfsd -F -f "$1/ganesha.conf" -L "$2" -p "$1/ganesha.pid" -N NIV_EVENT' \
		net_nfs "$d" "$NFS_LOG" </dev/null >>"$d/out" 2>&1 &
	NFS_PID=$!
	NET_SERVER_PIDS+=("$NFS_PID")
	for ((i = 0; i < 300; i++)); do
		grep -q 'NFS SERVER INITIALIZED' "$NFS_LOG" 2>/dev/null && break
		kill -0 "$NFS_PID" 2>/dev/null || break
		sleep 0.1
	done
	net_port_open "$NFS_PORT" && net_port_open "$MNT_PORT"
}

# An NFS NULL call (program 100003, version VERS; MOUNT: 100005 version 3) on PORT over
# TCP: the server answers RPC.
net_rpc_null() { # PORT PROGRAM VERS
	python3 -c '
import socket, struct, sys
port, prog, vers = map(int, sys.argv[1:])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
call = struct.pack(">10I", 0x4c42, 0, 2, prog, vers, 0, 0, 0, 0, 0)
s.sendall(struct.pack(">I", 0x80000000 | len(call)) + call)
rep = s.recv(4096)
xid, mtype, stat = struct.unpack(">3I", rep[4:16])
accept = struct.unpack(">I", rep[24:28])[0]
sys.exit(0 if (xid, mtype, stat, accept) == (0x4c42, 1, 0, 0) else 1)' "$1" "$2" "$3"
}

# ---- the guest's network card -----------------------------------------------------------

# VM_QEMU_EXTRA for the next boot: a virtio card on QEMU's user networking, restricted,
# DHCP handing out HOSTNAME; each FWD (GUESTPORT:HOSTPORT) a guestfwd from
# NET_SERVER:GUESTPORT to 127.0.0.1:HOSTPORT, a socat per guest connection.
net_card() { # HOSTNAME FWD...
	local nd="user,id=n0,restrict=on,hostname=$1" f
	shift
	for f; do
		nd+=",guestfwd=tcp:$NET_SERVER:${f%%:*}-cmd:socat - TCP:127.0.0.1:${f#*:}"
	done
	VM_QEMU_EXTRA=(-netdev "$nd" -device "virtio-net-pci,netdev=n0")
}

# One guest with the card: vm_boot NAME CMDLINE with net_card HOSTNAME FWD...
net_boot() { # NAME HOSTNAME CMDLINE FWD...
	local name=$1 cmdline=$3
	net_card "$2" "${@:4}"
	vm_boot "$name" "$cmdline"
	VM_QEMU_EXTRA=()
}

# Guests at once, each on its own card: SPEC is NAME|HOSTNAME|CMDLINE|FWD[,FWD...]. WATCH
# (a function, or :) is called about five times a second with the names while any runs.
# At the time limit the rest are killed (status 124). Sets NET_RC[NAME], NET_SECS[NAME];
# net_use NAME then points VM_LOG, VM_RC and VM_SECS at one of them.
net_boot_many() { # WATCH SPEC...
	local watch=$1 spec name host cmd fwds fw pids=() names=() start deadline i left
	shift
	start=$(date +%s)
	deadline=$((start + $(vm_timeout)))
	for spec; do
		IFS='|' read -r name host cmd fwds <<<"$spec"
		IFS=, read -ra fw <<<"$fwds"
		net_card "$host" "${fw[@]}"
		vm_boot_prepare "$name" "$cmd"
		: >"$VM_LOG"
		"${VM_QEMU[@]}" </dev/null >"$VM_LOG" 2>&1 &
		pids+=("$!")
		names+=("$name")
		NET_QEMU_PIDS+=("$!")
		unset "NET_RC[$name]"
	done
	VM_QEMU_EXTRA=()
	while :; do
		left=0
		for i in "${!pids[@]}"; do
			name=${names[$i]}
			[ -z "${NET_RC[$name]:-}" ] || continue
			if kill -0 "${pids[$i]}" 2>/dev/null; then
				left=$((left + 1))
			else
				wait "${pids[$i]}" 2>/dev/null
				NET_RC[$name]=$?
				NET_SECS[$name]=$(($(date +%s) - start))
			fi
		done
		[ "$left" -gt 0 ] || break
		"$watch" "${names[@]}"
		if [ "$(date +%s)" -ge "$deadline" ]; then
			for i in "${!pids[@]}"; do
				name=${names[$i]}
				[ -z "${NET_RC[$name]:-}" ] || continue
				kill -KILL "${pids[$i]}" 2>/dev/null
				wait "${pids[$i]}" 2>/dev/null
				NET_RC[$name]=124
				NET_SECS[$name]=$(($(date +%s) - start))
			done
			break
		fi
		sleep 0.2
	done
	for name in "${names[@]}"; do sed -i 's/\r$//' "$VM_OUT/$name.console"; done
	NET_QEMU_PIDS=()
}

net_use() { # NAME: the checks below then read that guest's console
	VM_LOG=$VM_OUT/$1.console
	VM_RC=${NET_RC[$1]:-?}
	VM_SECS=${NET_SECS[$1]:-?}
}

# ---- the kernel, the initramfs, the root ----------------------------------------------

# `loopboot initrd --network`, cached by the binary's hash (as vm_initrd does the plain
# one). A binary without --network gets the plain initramfs, with a note: the network
# boots are then expected to fail. LB_VM_INITRD=FILE boots that file instead.
net_initrd() {
	NET_INITRD_ARGS=(--network)
	if ! "$LOOPBOOT" initrd --help 2>&1 | grep -q -- '--network'; then
		note "this loopboot has no 'initrd --network': the plain initramfs, network boots will fail"
		NET_INITRD_ARGS=()
	fi
	vm_initrd_cached netinitrd ${NET_INITRD_ARGS[@]+"${NET_INITRD_ARGS[@]}"}
}

# What a network test file needs, or die: vm_require's tools and the TOOLs (net_require),
# the kernel and the network initramfs.
net_setup() { # [TOOL...]
	vm_require
	net_require "$@"
	vm_kernel || die "Debian's kernel is in the cache ($LB_CACHE/kernel)"
	net_initrd || die "loopboot initrd --network builds an initramfs for $KVER"
	note "kernel $KVER, initramfs $INITRD ($(du -k "$INITRD" | cut -f1) KiB, ${NET_INITRD_ARGS[*]:-no --network})"
}

# The busybox root with tests/vm/guest-net/init, a fresh copy of the cached image, with
# the /etc/machine-id every client would share if the engine did not give each its own
# (a fleet's image has one: the systemd root's, sd_system_tree's).
NET_IMAGE_MACHINE_ID=4c4f4f50424f4f54a5e5d5c5b5a59585
net_root() { # OUT
	local id rc
	busybox_root "$1" netroot "$NET_GUEST/init" "$ROOT_SIZE_MB" always || return 1
	id=$(mktemp "$VM_OUT/.machine-id.XXXXXX") || return 1
	echo "$NET_IMAGE_MACHINE_ID" >"$id"
	debugfs -w -R "write $id /etc/machine-id" "$1" >/dev/null 2>&1 &&
		[ "$(debugfs -R 'cat /etc/machine-id' "$1" 2>/dev/null)" = "$NET_IMAGE_MACHINE_ID" ]
	rc=$?
	rm -f "$id"
	return $rc
}

# The Debian 12 systemd root (sd_root) as a fleet client: its lbtest, which lbtest.service
# runs, replaced by tests/vm/guest-net/lbtest-sd. Dies when it cannot be built.
net_sd_root() { # OUT
	sd_root "$1" || die "the Debian 12 systemd root image is built (log: $VM_CACHE/debootstrap.log)"
	debugfs -w -R "rm /usr/local/sbin/lbtest" "$1" >/dev/null 2>&1 &&
		debugfs -w -R "write $NET_GUEST/lbtest-sd /usr/local/sbin/lbtest" "$1" >/dev/null 2>&1 &&
		debugfs -w -R "sif /usr/local/sbin/lbtest mode 0100755" "$1" >/dev/null 2>&1 &&
		[ "$(debugfs -R "cat /usr/local/sbin/lbtest" "$1" 2>/dev/null | sha256sum)" = "$(sha256sum <"$NET_GUEST/lbtest-sd")" ] ||
		die "the systemd root's lbtest is tests/vm/guest-net/lbtest-sd (debugfs)"
}

# An ext4 file system image OUT holding each FILE at the root (by its own name): the host
# of loop=/NAME on an NBD export.
net_ext4_holding() { # OUT SIZE_MB FILE...
	local out=$1 size=$2 d rc
	shift 2
	d=$(mktemp -d "$VM_OUT/.hold.XXXXXX") || return 1
	cp --sparse=always "$@" "$d/" &&
		mke2fs -q -F -t ext4 -L lbnethost -E root_owner=0:0 -d "$d" "$out" "${size}M" >/dev/null
	rc=$?
	rm -rf "$d"
	return $rc
}

# ---- checks after a boot ----------------------------------------------------------------

# lib.sh's lbtest for lines "LBTEST KEY=VALUE FIELD=..." and "LBTEST KEY FIELD=...", where
# a line may have something in front ("login: " from a getty).
net_lbtest() { # KEY [FIELD]: FIELD defaults to KEY
	local key=$1 field=${2:-$1}
	grep -ao "LBTEST ${key}[= ].*" "$VM_LOG" | tail -n 1 | sed 's/\[ *[0-9]*\.[0-9]*\] .*//' | tr ' ' '\n' | sed -n "s/^$field=//p" | head -n 1
}

NET_BAD_CONSOLE='I/O error|Buffer I/O|EXT4-fs error|EXT4-fs warning|JBD2: .*(error|abort)|overlayfs: .*(error|fail)|Kernel panic|BUG:|Oops|segfault'

# systemd-shutdown's final kill: its kill(-1, SIGSTOP) interrupts nbd-client's NBD_DO_IT
# ioctl (the ioctl interface, which -persist needs), and the kernel drops the device's
# socket; nbd-client reconnects, but reads in between fail. The export is read-only, so
# nothing is lost: a known limitation, noted, not counted (see net_check_ran CUTOFF).
NET_SD_FINAL_KILL='systemd-shutdown\[1\]: Sending SIGTERM to remaining processes'

# QEMU ended by itself, the guest's init ran and powered off, nothing broke on the way.
# With CUTOFF (a pattern), what comes after its first line is only noted.
net_check_ran() { # SCENARIO [CUTOFF]
	local s=$1 bad cut='' late
	[ "$VM_RC" = 0 ]
	ok $? "$s: QEMU ended by itself (status $VM_RC, ${VM_SECS}s)"
	console_has "LBTEST start"
	ok $? "$s: the guest's init ran"
	[ -z "${2:-}" ] || cut=$(grep -anE "$2" "$VM_LOG" | head -n 1 | cut -d: -f1)
	bad=$(head -n "${cut:-$(wc -l <"$VM_LOG")}" "$VM_LOG" | grep -aE "$NET_BAD_CONSOLE" | head -n 3 | tr '\n' '|')
	[ -z "$bad" ]
	ok $? "$s: no I/O or file system error, panic or oops on the console${cut:+ before line $cut}${bad:+ ($bad)}"
	if [ -n "$cut" ]; then
		late=$(tail -n +"$((cut + 1))" "$VM_LOG" | grep -aE "$NET_BAD_CONSOLE" | head -n 3 | tr '\n' '|')
		[ -z "$late" ] || note "$s: after line $cut ($(sed -n "${cut}p" "$VM_LOG")), not counted: $late"
	fi
	console_has "reboot: Power down"
	ok $? "$s: the guest powered off"
}

# The network as the guest saw it: DHCP's address and the host name it handed out.
net_check_identity() { # SCENARIO HOSTNAME
	local s=$1 addr mid
	addr=$(net_lbtest net addr)
	[[ ,$addr, =~ [,:]10\.0\.2\.15[/,] ]]
	ok $? "$s: the guest has DHCP's address 10.0.2.15 (net addr=${addr:-?})"
	[ "$(net_lbtest hostname)" = "$2" ]
	ok $? "$s: the host name is DHCP's, $2 (hostname=$(net_lbtest hostname))"
	mid=$(net_lbtest machine-id)
	[[ $mid =~ ^[0-9a-f]{32}$ ]] && [ "$mid" != "$NET_IMAGE_MACHINE_ID" ]
	ok $? "$s: the machine has a fresh machine-id, not the image's (${mid:-none})"
}

# Runs COMMAND (net_boot, net_boot_many) with the memory and time limit a Debian systemd
# client needs: at least 1 GiB and 300 s (a busybox client boots in the defaults).
net_sd() { # COMMAND...
	local VM_MEM=$((VM_MEM > 1024 ? VM_MEM : 1024)) VM_TIMEOUT=$((VM_TIMEOUT > 300 ? VM_TIMEOUT : 300))
	"$@"
}

# A Debian systemd client (net_sd_root): systemd is PID 1 and ran lbtest.service, which
# wrote to the root; the machine is who DHCP says, with a fresh machine-id; the engine
# left its shutdown root for systemd. What systemd thought of the boot is noted.
net_check_sd() { # SCENARIO HOSTNAME
	local s=$1
	[[ $(net_lbtest start init) == */systemd ]]
	ok $? "$s: systemd is PID 1 and ran lbtest.service (init=$(net_lbtest start init))"
	console_has "LBTEST wrote /var/lbtest-root"
	ok $? "$s: the guest wrote to its root"
	net_check_identity "$s" "$2"
	[ -n "$(net_lbtest shutdown-root)" ]
	ok $? "$s: the engine left /run/initramfs/shutdown for systemd (-> $(net_lbtest shutdown-root))"
	note "$s: systemd said $(net_lbtest system), failed units: $(net_lbtest failed)"
}

# / is an overlay, its lowest layer the shared image read-only at
# /run/loopboot/layers/base, the upper a tmpfs; the guest wrote NONCE into it and saw
# only its own writes.
net_check_overlay() { # SCENARIO NONCE
	local s=$1 lower opts
	opts=$(net_lbtest rootopts)
	[ "$(net_lbtest root fstype)" = overlay ]
	ok $? "$s: / is an overlay (root=$(net_lbtest root) fstype=$(net_lbtest root fstype))"
	lower=$(sed -n 's/.*lowerdir=\([^,]*\).*/\1/p' <<<"$opts")
	[[ $lower == /run/loopboot/layers/base || $lower == *:/run/loopboot/layers/base ]]
	ok $? "$s: the overlay's lowest layer is /run/loopboot/layers/base (lowerdir=${lower:-?})"
	grep -aqE "^LBTEST mount /run/loopboot/[^ ]* fstype=tmpfs " "$VM_LOG" && [[ $opts == *upperdir=/run/loopboot/* ]]
	ok $? "$s: the writable layer is a tmpfs under /run/loopboot (upperdir=$(sed -n 's/.*upperdir=\([^,]*\).*/\1/p' <<<"$opts"))"
	[ "$(net_lbtest previous)" = none ] && console_has "LBTEST wrote /lbtest-nonce"
	ok $? "$s: the guest found no earlier nonce and wrote its own ($2)"
	[ "$(net_lbtest after nonce)" = "$2" ] && [ "$(net_lbtest after seen)" = "$2" ]
	ok $? "$s: the guest sees its own write and no other (after: nonce=$(net_lbtest after nonce) seen=$(net_lbtest after seen))"
}

# The base: a read-only loop device on the image file /NAME of the host at /host (a source
# matching the pattern HOSTDEV, with FSTYPE, mounted read-only).
net_check_base_loop() { # SCENARIO IMAGE-NAME HOSTDEV HOSTFSTYPE
	local s=$1 back
	back=$(net_lbtest base backing | tr '?' ' ')
	[[ $(net_lbtest base sys) == loop* && $back == */"$2" ]] && [ "$(net_lbtest base ro)" = 1 ] &&
		[ "$(net_lbtest base mnt)" = ro ] && [ "$(net_lbtest base fstype)" = ext4 ]
	ok $? "$s: the base is ext4 on a read-only loop device on the image $2 (base=$(net_lbtest base) sys=$(net_lbtest base sys) ro=$(net_lbtest base ro) mnt=$(net_lbtest base mnt) backing=${back:-?})"
	# shellcheck disable=SC2053 # HOSTDEV is a pattern
	[[ $(net_lbtest host) == $3 ]] && [ "$(net_lbtest host fstype)" = "$4" ] && [ "$(net_lbtest host mnt)" = ro ]
	ok $? "$s: /host is $3 with $4, read-only (host=$(net_lbtest host) fstype=$(net_lbtest host fstype) mnt=$(net_lbtest host mnt))"
	[ "$(net_lbtest host-write)" = refused ]
	ok $? "$s: the shared host cannot be written (host-write=$(net_lbtest host-write))"
}

# Every nbd-client in the running system is a root storage daemon: argv[0] starts with '@'
# (systemd's convention), so that no killing at shutdown stops the root's server link.
net_check_nbd_client() { # SCENARIO
	local s=$1 a0s
	a0s=$(grep -ao "LBTEST nbd-client pid=.*" "$VM_LOG" | tr ' ' '\n' | sed -n 's/^argv0=//p' | sort -u | tr '\n' ' ')
	[ -n "$a0s" ] && ! grep -q '^[^@]' <<<"$(tr ' ' '\n' <<<"$a0s" | sed '/^$/d')"
	ok $? "$s: nbd-client runs as a root storage daemon (argv[0] ${a0s:-not found}; NBD device pid $(net_lbtest nbd pid))"
}

# The order of loopboot's lines at shutdown: the stack (overlay, images, the host), then
# the NBD device (KIND nbd), then the network. The patterns are the engine's words
# (src/engine/shutdown.c, layer.c). With sd, systemd ran the shutdown (/run/initramfs/
# shutdown); without, the guest's exec of /run/initramfs/loopboot-shutdown did.
NET_TEARDOWN_STACK='^loopboot: .*images unmounted'
NET_TEARDOWN_NBD='^loopboot: .*NBD device .* disconnected'
NET_TEARDOWN_NET='^loopboot: .*network interface .* taken down'
net_check_teardown() { # SCENARIO nbd|nfs|http [sd]
	local s=$1 kind=$2 a b='' c order what
	a=$(grep -anE "$NET_TEARDOWN_STACK" "$VM_LOG" | head -n 1)
	c=$(grep -anE "$NET_TEARDOWN_NET" "$VM_LOG" | head -n 1)
	if [ "${3:-}" != sd ]; then
		console_has "LBTEST exec /run/initramfs/loopboot-shutdown poweroff"
		ok $? "$s: the guest ended with loopboot's shutdown"
	fi
	case $kind in
	nbd)
		b=$(grep -anE "$NET_TEARDOWN_NBD" "$VM_LOG" | head -n 1)
		[ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] && [ "${a%%:*}" -lt "${b%%:*}" ] && [ "${b%%:*}" -lt "${c%%:*}" ]
		order=$? what="the stack, then the NBD device, then the network"
		b=${b:-0:no NBD line}
		;;
	*)
		[ -n "$a" ] && [ -n "$c" ] && [ "${a%%:*}" -lt "${c%%:*}" ]
		order=$? what="the stack, then the network"
		;;
	esac
	ok $order "$s: the console shows the shutdown taking down $what (${a:-0:no stack line}${b:+ | $b} | ${c:-0:no network line})"
}

# The NBD device keeps its server until loopboot's shutdown lets it go: the kernel's
# "nbdN: shutting down sockets" (the client's link gone: killed, or its NBD_DO_IT ioctl
# interrupted by a signal) only after the engine's shutdown began, if at all.
# With CUTOFF (NET_SD_FINAL_KILL), a link dropped after that line is only noted.
net_check_nbd_kept() { # SCENARIO [CUTOFF]
	local s=$1 gone down cut=''
	gone=$(grep -anE 'nbd[0-9]+: shutting down sockets' "$VM_LOG" | head -n 1)
	down=$(grep -anE '^loopboot: shutdown' "$VM_LOG" | head -n 1)
	[ -z "${2:-}" ] || cut=$(grep -anE "$2" "$VM_LOG" | head -n 1 | cut -d: -f1)
	if [ -n "$gone" ] && [ -n "$cut" ] && [ "${gone%%:*}" -gt "$cut" ]; then
		note "$s: the NBD link dropped at systemd's final kill, not counted (${gone#*:})"
		gone=
	fi
	[ -z "$gone" ] || { [ -n "$down" ] && [ "${gone%%:*}" -gt "${down%%:*}" ]; }
	ok $? "$s: the NBD device kept its server until loopboot's shutdown${gone:+ (${gone#*:}${down:+, shutdown at line ${down%%:*}}${down:- and no loopboot shutdown})}"
}

# What the HTTP server served: the number of GET PATH answered with STATUS.
net_http_count() { # PATH STATUS
	grep -c "\"GET $1 HTTP/[0-9.]*\" $2 " "$HTTP_LOG" 2>/dev/null
}
