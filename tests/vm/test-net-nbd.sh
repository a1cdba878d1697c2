#!/bin/bash
# Fleets over NBD (issue 17): one read-only image on an nbd-server on this machine boots
# clients, each with its own writable layer (a tmpfs overlay, the default for a network
# host), its own host name (DHCP's) and machine-id. nbd-server listens on 127.0.0.1 only;
# the guests reach it through QEMU's restricted user networking (tests/vm/lib-net.sh).
# Two exports, both read-only: "host", an ext4 file system holding /root.img (the busybox
# root with tests/vm/guest-net/init), and "root", that root image itself. Scenarios:
#   nbd-file     root=nbd:…/host loop=/root.img ip=dhcp: / an overlay over the image on a
#                read-only loop device, /host the export; the guest's write lands in the
#                overlay; ended by loopboot's shutdown, which takes down the stack, then the
#                NBD device, then the network, in that order on the console
#   nbd-root     root=nbd:…/root, no loop= and no ip= (DHCP by default): the export is the
#                overlay's base
#   nbd-two      two clients at once on the same export, each writing its own nonce; both
#                wait at a barrier (a file the test puts on an HTTP server once both have
#                written) before they look: neither sees the other's write
#   nbd-restart  nbd-server killed (SIGKILL, every connection with it) before the client
#                boots, and started again on the same port 3 s after the console shows the
#                engine's network line: one line from the engine that it waits for the
#                server, and the boot finishes. (Killed after the engine has handed the
#                connection to the kernel, the connection is gone for good: Linux 6.1
#                returns from NBD_DO_IT as from a disconnect and nbd-client 3.24 exits
#                instead of reconnecting; loopboot-cmdline(7), root=nbd:.)
#   sd-nbd       two Debian 12 systemd clients at once (net_sd_root: sd_root, its lbtest
#                replaced by tests/vm/guest-net/lbtest-sd), the first with the export "sd"
#                as the root, the second with the image as /sd.img on the ext4 export
#                "sdhost" (root=nbd:…/sdhost loop=/sd.img): systemd boots, each
#                has DHCP's host name and a fresh machine-id, different from the image's and
#                from the other's; nbd-client is spared by systemd's killing spree (its
#                final kill(-1, SIGSTOP) still drops the ioctl-mode NBD link for a moment:
#                the I/O errors after that line are noted, not counted)
# After every scenario the exported files are byte-identical to what they were (sha256).
# LB_NET_ONLY=NAME[,NAME...] runs those scenarios only.
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-net.sh
. "$VM_LIB/lib-net.sh"
net_setup nbd-server nbd-client
W=$VM_OUT
start=$(date +%s)

net_root "$W/root.img" || die "the busybox root image is built (net_root)"
net_ext4_holding "$W/host.img" 48 "$W/root.img" || die "the ext4 export holding /root.img is built"
exports=(host="$W/host.img" root="$W/root.img")
if net_want sd-nbd; then
	net_sd_root "$W/sd.img"
	net_ext4_holding "$W/sdhost.img" 400 "$W/sd.img" || die "the ext4 export holding /sd.img is built"
	exports+=(sd="$W/sd.img" sdhost="$W/sdhost.img")
fi
declare -A SUMS
for e in "${exports[@]}"; do SUMS[${e#*=}]=$(sum "${e#*=}"); done
note "images ready in $(($(date +%s) - start))s"

mkdir -p "$W/www"
net_nbd_start "${exports[@]}" || die "nbd-server starts on 127.0.0.1 (log: $NBD_DIR/log)"
got=$(net_nbd_list | sort | tr '\n' ' ')
[[ $got == "host root "* ]]
ok $? "nbd-server on 127.0.0.1:$NBD_PORT offers the exports (nbd-client -l: ${got:-nothing})"
net_http_start "$W/www" || die "the barrier's HTTP server starts on 127.0.0.1"
FWD=("$NET_NBD_GPORT:$NBD_PORT" "$NET_HTTP_GPORT:$HTTP_PORT")
FWD_LIST=$(IFS=,; echo "${FWD[*]}") # as net_boot_many takes them
NBD_URL=nbd:$NET_SERVER:$NET_NBD_GPORT

check_exports_same() { # SCENARIO
	local e bad=''
	for e in "${exports[@]}"; do
		[ "$(sum "${e#*=}")" = "${SUMS[${e#*=}]}" ] || bad="$bad ${e%%=*}"
	done
	[ -z "$bad" ]
	ok $? "$1: the exported files are byte-identical afterwards (sha256${bad:+; changed:$bad})"
}

# The state record and `loopboot status` name the network host.
check_state_names() { # SCENARIO WHAT
	grep -aE '^LBTEST (state|status) ' "$VM_LOG" | grep -qF "$2"
	ok $? "$1: the state record and loopboot status name $2"
}

# ---- nbd-file ----------------------------------------------------------------------------
if net_want nbd-file; then
	s=nbd-file f=$T_FAILED n=$(nonce_new)
	net_boot "$s" client1 "ip=dhcp root=$NBD_URL/host loop=/root.img lbtest.nonce=$n lbtest.shutdown" "${FWD[@]}"
	net_check_ran "$s"
	net_check_overlay "$s" "$n"
	net_check_base_loop "$s" root.img "/dev/nbd[0-9]*" ext4
	net_check_identity "$s" client1
	net_check_nbd_client "$s"
	check_state_names "$s" "$NBD_URL/host"
	net_check_teardown "$s" nbd
	net_check_nbd_kept "$s"
	check_exports_same "$s"
	scenario_done "$s" "$f"
fi

# ---- nbd-root ----------------------------------------------------------------------------
if net_want nbd-root; then
	s=nbd-root f=$T_FAILED n=$(nonce_new)
	net_boot "$s" client2 "root=$NBD_URL/root lbtest.nonce=$n" "${FWD[@]}"
	net_check_ran "$s"
	net_check_overlay "$s" "$n"
	[[ $(net_lbtest base sys) == nbd* ]] && [ "$(net_lbtest base fstype)" = ext4 ] && [ "$(net_lbtest base mnt)" = ro ]
	ok $? "$s: the base is the NBD device itself, ext4, read-only (base=$(net_lbtest base) sys=$(net_lbtest base sys) mnt=$(net_lbtest base mnt))"
	net_check_identity "$s" client2
	net_check_nbd_client "$s"
	console_has "LBTEST shutdown-command=/run/initramfs/loopboot-shutdown"
	ok $? "$s: the engine left /run/initramfs/loopboot-shutdown for the init"
	net_check_nbd_kept "$s"
	check_exports_same "$s"
	scenario_done "$s" "$f"
fi

# ---- nbd-two: two clients at once ------------------------------------------------------------
# The barrier opens (the file appears on the HTTP server) once both consoles say the nonce
# was written; nbd-server's connection handlers are counted then.
two_barrier() { # NAME...
	local nm
	[ -z "$TWO_OPEN" ] || return 0
	for nm; do grep -aq "LBTEST waiting for the barrier" "$VM_OUT/$nm.console" || return 0; done
	TWO_CONNS=$(pgrep -P "$NBD_PID" | wc -l)
	echo go >"$W/www/$TWO_TOKEN"
	TWO_OPEN=$(date +%s)
}
if net_want nbd-two; then
	s=nbd-two f=$T_FAILED n1=$(nonce_new) n2=$(nonce_new)
	TWO_TOKEN=go-$(nonce_new) TWO_OPEN='' TWO_CONNS=0
	bar=lbtest.barrier=http://$NET_SERVER:$NET_HTTP_GPORT/$TWO_TOKEN
	net_boot_many two_barrier \
		"$s-1|client1|ip=dhcp root=$NBD_URL/host loop=/root.img lbtest.nonce=$n1 $bar|$FWD_LIST" \
		"$s-2|client2|ip=dhcp root=$NBD_URL/host loop=/root.img lbtest.nonce=$n2 $bar|$FWD_LIST"
	[ -n "$TWO_OPEN" ] && [ "$TWO_CONNS" -ge 2 ]
	ok $? "$s: both clients wrote their nonce, then waited, while nbd-server served both at once ($TWO_CONNS connections)"
	ids=()
	for i in 1 2; do
		net_use "$s-$i"
		fi=$T_FAILED nn=n$i
		net_check_ran "$s-$i"
		net_check_overlay "$s-$i" "${!nn}"
		console_has "LBTEST barrier passed"
		ok $? "$s-$i: the guest passed the barrier, after both had written"
		net_check_identity "$s-$i" "client$i"
		ids+=("$(net_lbtest machine-id)")
		[ "$T_FAILED" -eq "$fi" ] || show_console
	done
	[ "${ids[0]}" != "${ids[1]}" ]
	ok $? "$s: the two clients have different machine-ids (${ids[*]})"
	check_exports_same "$s"
	scenario_done "$s" "$f"
fi

# ---- nbd-restart: the server killed and restarted during the boot ----------------------------
# The engine's line that the network is up: nbd-client connects right after it.
NET_UP_LINE='^loopboot: network: '
restart_watch() { # PID START
	local now
	now=$(date +%s)
	if [ -z "$RS_SEEN" ] && grep -aqE "$NET_UP_LINE" "$VM_LOG"; then
		RS_LINE=$(grep -anE "$NET_UP_LINE" "$VM_LOG" | head -n 1)
		console_has "LBTEST start" && RS_EARLY=late
		RS_SEEN=$now
		RS_KILL_LINES=${RS_LINE%%:*} # the engine's lines from the network line on
	elif [ -n "$RS_SEEN" ] && [ -z "$RS_BACK" ] && [ "$now" -ge $((RS_SEEN + 3)) ]; then
		net_nbd_run && RS_BACK=$now
	fi
}
if net_want nbd-restart; then
	s=nbd-restart f=$T_FAILED n=$(nonce_new)
	RS_SEEN='' RS_BACK='' RS_LINE='' RS_EARLY=early RS_KILL_LINES=0
	net_nbd_kill
	RS_KILLED=$(date +%s)
	net_card client3 "${FWD[@]}"
	vm_boot_watched "$s" "ip=dhcp root=$NBD_URL/host loop=/root.img lbtest.nonce=$n" restart_watch
	VM_QEMU_EXTRA=()
	[ -n "$NBD_PID" ] || net_nbd_run # for the scenarios after this one
	[ -n "$RS_SEEN" ] && [ "$RS_EARLY" = early ]
	ok $? "$s: the network came up with nbd-server down, before the guest's init ran (${RS_LINE#*:})"
	[ -n "$RS_BACK" ]
	ok $? "$s: nbd-server was started again on the same port $((${RS_BACK:-0} - ${RS_KILLED:-0}))s after it was killed"
	net_check_ran "$s"
	net_check_overlay "$s" "$n"
	lost=$(tail -n +"$((RS_KILL_LINES + 1))" "$VM_LOG" | grep -aE '^loopboot: ' | grep -aiE 'nbd|server|connection' |
		grep -aiE 'waiting|lost|reconnect|gone|away|unreachable|restart|retry|back' | head -n 3)
	[ -n "$lost" ]
	ok $? "$s: the console has the engine's line about the lost server (${lost:-none})"
	check_exports_same "$s"
	scenario_done "$s" "$f"
fi

# ---- sd-nbd: Debian with systemd, two clients at once --------------------------------------
if net_want sd-nbd; then
	s=sd-nbd f=$T_FAILED n1=$(nonce_new) n2=$(nonce_new)
	sdcmd="ip=dhcp systemd.show_status=1"
	net_sd net_boot_many : "$s-1|client1|root=$NBD_URL/sd $sdcmd lbtest.nonce=$n1|$FWD_LIST" \
		"$s-2|client2|root=$NBD_URL/sdhost loop=/sd.img $sdcmd lbtest.nonce=$n2|$FWD_LIST"
	ids=()
	for i in 1 2; do
		net_use "$s-$i"
		fi=$T_FAILED
		net_check_ran "$s-$i" "$NET_SD_FINAL_KILL"
		net_check_sd "$s-$i" "client$i"
		if [ "$i" = 1 ]; then
			[ "$(net_lbtest root fstype)" = overlay ] && [[ $(net_lbtest base) == /dev/nbd* ]] &&
				[ "$(net_lbtest base fstype)" = ext4 ] && [ "$(net_lbtest base mnt)" = ro ]
			ok $? "$s-$i: / is an overlay over the NBD export, read-only (root=$(net_lbtest root) $(net_lbtest root fstype), base=$(net_lbtest base) $(net_lbtest base fstype) $(net_lbtest base mnt))"
		else
			[ "$(net_lbtest root fstype)" = overlay ]
			ok $? "$s-$i: / is an overlay (root=$(net_lbtest root) $(net_lbtest root fstype))"
			net_check_base_loop "$s-$i" sd.img "/dev/nbd*" ext4
		fi
		ids+=("$(net_lbtest machine-id)")
		net_check_nbd_client "$s-$i"
		# Spared by the SIGTERM pass ('@'); a SIGKILL after that pass's SIGSTOP ended the
		# ioctl-mode connection goes to a client on its way out: noted (net_check_ran).
		line=$(grep -aE 'Sending SIGTERM to PID [0-9]+ \((@|n)?bd-client\)' "$VM_LOG" | head -n 1)
		[ -z "$line" ]
		ok $? "$s-$i: systemd's killing spree spared nbd-client (no SIGTERM to it)${line:+ ($line)}"
		line=$(grep -aE 'Sending SIGKILL to PID [0-9]+ \((@|n)?bd-client\)' "$VM_LOG" | head -n 1)
		[ -z "$line" ] || note "$s-$i: after the SIGSTOP, not counted: $line"
		net_check_teardown "$s-$i" nbd sd
		net_check_nbd_kept "$s-$i" "$NET_SD_FINAL_KILL"
		[ "$T_FAILED" -eq "$fi" ] || show_console
	done
	[ "${ids[0]}" != "${ids[1]}" ]
	ok $? "$s: the two machines have different machine-ids (${ids[*]})"
	check_exports_same "$s"
	scenario_done "$s" "$f"
fi

net_nbd_stop
rm -f "$W/root.img" "$W/host.img" "$W/sd.img" "$W/sdhost.img"
note "total $(($(date +%s) - start))s"
finish
