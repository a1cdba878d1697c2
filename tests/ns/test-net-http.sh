#!/bin/bash
# loop=http://SERVER:PORT/PATH ip=off: the root image fetched by curl from an HTTP server of
# our own on 127.0.0.1 (python3 -m http.server) into a tmpfs, then attached and mounted as
# the root; loopboot.sha256= right and wrong, a file the server does not have, a port
# nobody listens on. Each failure is one loopboot: line and leaves nothing mounted. The
# checksum cases need the kernel's AF_ALG hash sockets (algif_hash): without them the
# boot must fail naming the module, and the cases that need them are "# SKIP" lines.
# shellcheck source=tests/ns/lib.sh
. "$(dirname "$0")/lib.sh"

skip() { # DESCRIPTION REASON
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}

for t in python3 curl mke2fs sha256sum; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "1..0 # SKIP $t is not installed"
		exit 0
	}
done
# The test's curl must not send 127.0.0.1 to a proxy of the machine's.
unset http_proxy https_proxy HTTPS_PROXY ALL_PROXY all_proxy

# ---- the server -----------------------------------------------------------------------------
SRV_DIR=$WORK/srv
SRV_LOG=$WORK/http.log
SRV_PID=
mkdir -p "$SRV_DIR"
stop_server() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	SRV_PID=
}
trap 'stop_server; cleanup' EXIT

# Port 0: the kernel chooses a free one, which the server prints (unbuffered, -u).
python3 -u -m http.server --bind 127.0.0.1 --directory "$SRV_DIR" 0 >"$SRV_LOG" 2>&1 &
SRV_PID=$!
PORT=
for _ in $(seq 100); do
	PORT=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$SRV_LOG")
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || die "python3 -m http.server listens on 127.0.0.1 (log: $(cat "$SRV_LOG"))"
note "HTTP server on 127.0.0.1:$PORT (pid $SRV_PID)"
URL=http://127.0.0.1:$PORT

# A port on 127.0.0.1 that nobody listens on: bound by the kernel's choice, then let go.
CLOSED_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

make_root_image "$SRV_DIR/root.img" http-root 32
SUM=$(sha256sum "$SRV_DIR/root.img" | cut -d' ' -f1)
WRONG=$(printf 'not the image' | sha256sum | cut -d' ' -f1)
have_af_alg() {
	python3 -c 'import socket; s=socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET); s.bind(("hash", "sha256"))' 2>/dev/null
}
AF_ALG=no
# The engine loads algif_hash itself; here it is loaded first so that the probe can see it.
modprobe -q algif_hash 2>/dev/null
have_af_alg && AF_ALG=yes
NO_ALG="the kernel has no AF_ALG hash sockets (CONFIG_CRYPTO_USER_API_HASH, module algif_hash)"
note "AF_ALG hash sockets: $AF_ALG"

nothing_mounted() {
	! mountpoint -q "$ROOT" && ! mountpoint -q /run/loopboot/host &&
		! findmnt -rn -o TARGET | grep -q '^/run/loopboot/'
}
no_loop_on_ram() { # no loop device is left over a file of the staging tmpfs
	! losetup -n -O BACK-FILE 2>/dev/null | grep -q '^/run/loopboot/'
}
server_was_asked() { # PATH: the server's log has a GET of it
	grep -q "\"GET $1 HTTP/1.1\" 200" "$SRV_LOG"
}

# A booted root from the image in RAM: what every successful case checks.
booted_from_ram() { # NAME
	check "$1: the root is a loop device" is_loop_mount "$ROOT"
	check "$1: the root is the served image (marker)" grep -qx http-root "$ROOT/etc/marker"
	local back
	back=$(losetup -n -O BACK-FILE "$(mount_field "$ROOT" source)")
	note "the root's loop device is over $back"
	check "$1: the root's loop device is over the image in RAM (the tmpfs at /host)" \
		test "$(stat -c %d:%i "$back")" = "$(stat -c %d:%i "$ROOT/host/root.img")"
	check "$1: the host at /host is a tmpfs" test "$(mount_field "$ROOT/host" fstype)" = tmpfs
	check "$1: the host holds the image, byte for byte" cmp "$ROOT/host/root.img" "$SRV_DIR/root.img"
	check "$1: no partial download is left beside it" bash -c "! ls -A '$ROOT/host' | grep -q '\.part$'"
	check "$1: the state record has the tmpfs host and the root's loop device" \
		bash -c "grep -q '^host .*type=tmpfs' /run/loopboot/state && grep -q '^loop .*root.img' /run/loopboot/state && grep -q '^mount .*role=root.*target=/ ' /run/loopboot/state"
	check "$1: status --get host.type is tmpfs" test "$("$LOOPBOOT" status --get host.type)" = tmpfs
	check "$1: one line says what was fetched, its size and rate" \
		grep -q "^loopboot: fetched $URL/root.img: 32 MiB in [0-9.]* s ([0-9.]* [KM]iB/s)" "$LB_OUT"
	check "$1: the server was asked for /root.img" server_was_asked /root.img
	teardown_root
	check "$1: teardown leaves nothing mounted" nothing_mounted
	check "$1: ... and no loop device over RAM" no_loop_on_ram
}

# ---- without a checksum -----------------------------------------------------------------------
lb_boot "loop=$URL/root.img ip=off"
ok $? "no checksum: loop=http://127.0.0.1:PORT/root.img ip=off boots"
booted_from_ram "no checksum"

# ---- loopboot.sha256= ---------------------------------------------------------------------------
if [ "$AF_ALG" = yes ]; then
	lb_boot "loop=$URL/root.img ip=off loopboot.sha256=$SUM"
	ok $? "right checksum: boots"
	check "right checksum: the check is reported" grep -q "^loopboot: checked $URL/root.img: its sha256 is the one given" "$LB_OUT"
	booted_from_ram "right checksum"

	lb_boot "loop=$URL/root.img ip=off loopboot.sha256=$WRONG"
	check "wrong checksum: boot fails" test $? -ne 0
	check "wrong checksum: one loopboot: line with both digests and the advice" \
		grep -q "^loopboot: checking: $URL/root.img: sha256 is $SUM: not the loopboot.sha256=$WRONG given — the image on the server differs from the one the checksum was made for: recompute it with sha256sum or fix the server's file" "$LB_OUT"
	check "wrong checksum: nothing is mounted afterwards" nothing_mounted
	check "wrong checksum: no loop device over RAM" no_loop_on_ram
	check "wrong checksum: no state record" test ! -e /run/loopboot/state
	teardown_root
else
	skip "right checksum: boots, and the root is the image in RAM" "$NO_ALG"
	skip "wrong checksum: boot fails with one loopboot: line with sha256 and nothing mounted" "$NO_ALG"
	lb_boot "loop=$URL/root.img ip=off loopboot.sha256=$SUM"
	check "checksum without AF_ALG: boot fails" test $? -ne 0
	check "checksum without AF_ALG: one loopboot: line names the URL and algif_hash" \
		grep -q "^loopboot: checking: $URL/root.img: .*AF_ALG.* — .*algif_hash" "$LB_OUT"
	check "checksum without AF_ALG: nothing is mounted afterwards" nothing_mounted
	check "checksum without AF_ALG: no loop device over RAM" no_loop_on_ram
	teardown_root
fi

# ---- a file the server does not have ----------------------------------------------------------
lb_boot "loop=$URL/nope.img ip=off"
check "404: boot fails" test $? -ne 0
check "404: one loopboot: line names the URL and the HTTP status" \
	grep -q "^loopboot: fetching: $URL/nope.img: the server answered 404 Not Found — check the path in loop=" "$LB_OUT"
check "404: the server was asked" grep -q '"GET /nope.img HTTP/1.1" 404' "$SRV_LOG"
check "404: only that one failure line" test "$(grep -c '^loopboot: .* — ' "$LB_OUT")" -eq 1
check "404: nothing is mounted afterwards" nothing_mounted
teardown_root

# ---- a port nobody listens on ------------------------------------------------------------------
lb_boot "loop=http://127.0.0.1:$CLOSED_PORT/root.img ip=off"
check "no server: boot fails" test $? -ne 0
check "no server: one loopboot: line names the URL, curl's words and the advice" \
	grep -q "^loopboot: fetching: http://127.0.0.1:$CLOSED_PORT/root.img: could not connect to the server (6 tries; curl: .*) — check that the server is running" "$LB_OUT"
check "no server: the console heard about the wait" \
	grep -q "^loopboot: fetching http://127.0.0.1:$CLOSED_PORT/root.img: no answer from the server yet" "$LB_OUT"
check "no server: nothing is mounted afterwards" nothing_mounted
teardown_root

stop_server
finish
