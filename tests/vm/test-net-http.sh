#!/bin/bash
# Fleets over HTTP (issue 17): loop=http://10.0.2.100:8080/root.img, no root=: the engine
# brings the network up (DHCP by default), fetches the image into RAM with progress on
# the console, checks it against loopboot.sha256= and boots it as loopboot.toram does.
# The server is python3's http.server on this machine, listening on 127.0.0.1 only; the
# guest reaches it through QEMU's restricted user networking (tests/vm/lib-net.sh).
# Scenarios:
#   http-ram     the right checksum, rw: the guest runs from the copy in RAM (a tmpfs at
#                /host), its write stays there; the server answered one GET of the image
#   http-badsum  a wrong checksum: the engine's one loopboot: line names sha256, the
#                guest's init never runs, no panic, QEMU ends by itself after the reboot
#   sd-http      the Debian 12 systemd root (net_sd_root, 320 MiB) as /sd.img, the right
#                checksum, rw: systemd boots from the copy in RAM (1 GiB of guest memory)
#                and shuts down through the engine's shutdown root
# The file on the server is byte-identical afterwards (sha256).
# LB_NET_ONLY=NAME[,NAME...] runs those scenarios only.
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib-net.sh
. "$VM_LIB/lib-net.sh"
net_setup python3
W=$VM_OUT
start=$(date +%s)

mkdir -p "$W/www"
net_root "$W/www/root.img" || die "the busybox root image is built (net_root)"
# Fully allocated on the server, as a real one is (the copy is sparse in the cache).
cp --sparse=never "$W/www/root.img" "$W/www/root.img.tmp" && mv "$W/www/root.img.tmp" "$W/www/root.img"
SUM=$(sha256sum "$W/www/root.img" | cut -d' ' -f1)
before=$(sum "$W/www/root.img")
if net_want sd-http; then
	net_sd_root "$W/www/sd.img"
	SDSUM=$(sha256sum "$W/www/sd.img" | cut -d' ' -f1) before_sd=$(sum "$W/www/sd.img")
fi
net_http_start "$W/www" || die "python3's http.server starts on 127.0.0.1"
URL=http://$NET_SERVER:$NET_HTTP_GPORT/root.img
FWD=("$NET_HTTP_GPORT:$HTTP_PORT")

check_served_same() { # SCENARIO [FILE SUM-BEFORE]
	[ "$(sum "${2:-$W/www/root.img}")" = "${3:-$before}" ]
	ok $? "$1: the image on the server is byte-identical afterwards (sha256)"
}

# The root is the image on a loop device over its copy in RAM, a tmpfs at /host: / itself
# (rw) or the base of an overlay.
check_ram_root() { # SCENARIO IMAGE-NAME
	local s=$1 root rootfs back dev
	root=$(net_lbtest root) rootfs=$(net_lbtest root fstype)
	if [ "$rootfs" = overlay ]; then
		back=$(net_lbtest base backing | tr '?' ' ') dev=$(net_lbtest base sys)
	else
		back=$(net_lbtest root backing | tr '?' ' ') dev=$(net_lbtest root sys)
	fi
	[[ $dev == loop* && $back == */"$2" ]] && [ "$(net_lbtest host fstype)" = tmpfs ] &&
		[ "${back#/host/}" != "$back" ]
	ok $? "$s: the root is the image on a loop device over its copy in RAM, a tmpfs at /host (root=${root:-?} $rootfs, sys=${dev:-?} backing=${back:-?}, host=$(net_lbtest host) $(net_lbtest host fstype))"
}

# The console has the engine's line about fetching URL and its word on the checksum SUM;
# the server answered one more GET of PATH (than GETS before the boot).
check_fetched() { # SCENARIO URL SUM PATH GETS
	local s=$1 line
	[ "$(net_http_count "$4" 200)" -eq $(($5 + 1)) ]
	ok $? "$s: the server answered one GET of $4 with 200 ($(grep -c "GET $4" "$HTTP_LOG") in its log)"
	line=$(grep -aE '^loopboot: ' "$VM_LOG" | grep -aF "$2" | head -n 1)
	[ -n "$line" ]
	ok $? "$s: the console has the engine's line about the fetch (${line:-none})"
	console_has "$3" || grep -aiqE '^loopboot: .*(sha256|checksum).*(ok|match|verified)' "$VM_LOG"
	ok $? "$s: the console says the checksum was verified ($(grep -aiE '^loopboot: .*(sha256|checksum)' "$VM_LOG" | head -n 1))"
}

# ---- http-ram ------------------------------------------------------------------------------
if net_want http-ram; then
	s=http-ram f=$T_FAILED n=$(nonce_new) gets=$(net_http_count /root.img 200)
	net_boot "$s" client1 "loop=$URL loopboot.sha256=$SUM rw lbtest.nonce=$n lbtest.shutdown" "${FWD[@]}"
	net_check_ran "$s"
	check_fetched "$s" "$URL" "$SUM" /root.img "$gets"
	check_ram_root "$s" root.img
	console_has "LBTEST wrote /lbtest-nonce" && [ "$(net_lbtest after nonce)" = "$n" ]
	ok $? "$s: the guest wrote its nonce into the copy (rw) and reads it back"
	net_check_identity "$s" client1
	grep -aE '^LBTEST (state|status) ' "$VM_LOG" | grep -qF "$URL"
	ok $? "$s: the state record and loopboot status name $URL"
	net_check_teardown "$s" http
	check_served_same "$s"
	scenario_done "$s" "$f"
fi

# ---- http-badsum -----------------------------------------------------------------------------
if net_want http-badsum; then
	s=http-badsum f=$T_FAILED
	wrong=$(printf 'not the image' | sha256sum | cut -d' ' -f1)
	net_boot "$s" client2 "loop=$URL loopboot.sha256=$wrong loopboot.timeout=3 lbtest.nonce=$(nonce_new)" "${FWD[@]}"
	line=$(grep -a -m1 -E '^loopboot: .*sha256' "$VM_LOG")
	[ -n "$line" ]
	ok $? "$s: the console has the engine's loopboot: line naming sha256 (${line:-none})"
	[ -n "$line" ] && [[ $line == *" — "* ]]
	ok $? "$s: the line says what to do (loopboot: <what>: <value>: <reason> — <what to do>)"
	check_no_guest "$s"
	check_served_same "$s"
	scenario_done "$s" "$f"
fi

# ---- sd-http: Debian with systemd, into RAM -------------------------------------------------
if net_want sd-http; then
	s=sd-http f=$T_FAILED n=$(nonce_new) gets=$(net_http_count /sd.img 200)
	sdurl=http://$NET_SERVER:$NET_HTTP_GPORT/sd.img
	net_sd net_boot "$s" client3 "loop=$sdurl loopboot.sha256=$SDSUM rw systemd.show_status=1 lbtest.nonce=$n" "${FWD[@]}"
	net_check_ran "$s"
	net_check_sd "$s" client3
	check_fetched "$s" "$sdurl" "$SDSUM" /sd.img "$gets"
	check_ram_root "$s" sd.img
	grep -aE '^LBTEST state ' "$VM_LOG" | grep -qF "$sdurl"
	ok $? "$s: the state record names $sdurl"
	net_check_teardown "$s" http sd
	check_served_same "$s" "$W/www/sd.img" "$before_sd"
	scenario_done "$s" "$f"
fi

rm -f "$W/www/root.img" "$W/www/sd.img"
note "total $(($(date +%s) - start))s"
finish
