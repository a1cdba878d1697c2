#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A relay for bench/net-storm: QEMU's guestfwd runs it once per guest connection with the
# connection on stdin/stdout; it connects to HOST:PORT (a server on 127.0.0.1), copies
# both ways and, when either side ends, appends one line to LOGFILE:
#   pid=PID served=BYTES (server to guest) sent=BYTES (guest to server) secs=SECONDS
# A line "pid=PID start" is appended first, so that the bench can wait for every relay
# it started to have written its figures.
import os
import select
import signal
import socket
import sys
import time


def log(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + '\n').encode())  # one write: lines from relays never mix
    finally:
        os.close(fd)


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if host not in ('127.0.0.1', 'localhost'):
        sys.exit('relay: servers are on 127.0.0.1 only')
    pid = os.getpid()
    log(path, f'pid={pid} start')
    start = time.monotonic()
    served = sent = 0

    def done(*_):
        log(path, f'pid={pid} served={served} sent={sent} secs={time.monotonic() - start:.2f}')
        os._exit(0)

    signal.signal(signal.SIGTERM, done)
    signal.signal(signal.SIGHUP, done)
    try:
        s = socket.create_connection(('127.0.0.1', port))
    except OSError:
        done()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    gin, gout = sys.stdin.fileno(), sys.stdout.fileno()
    sfd = s.fileno()
    try:
        while True:
            r, _, _ = select.select([gin, sfd], [], [])
            if gin in r:
                b = os.read(gin, 262144)
                if not b:
                    break
                s.sendall(b)
                sent += len(b)
            if sfd in r:
                b = s.recv(262144)
                if not b:
                    break
                view = memoryview(b)
                while view:
                    view = view[os.write(gout, view):]
                served += len(b)
    except OSError:
        pass
    done()


main()
