#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes what libblkid's BitLocker prober (util-linux libblkid/src/superblocks/bitlocker.c)
recognises onto FILE (a file or block device of at least 1 MiB): the Windows 7+ volume
header ("\\xeb\\x58\\x90-FVE-FS-" at 0, the FVE metadata offset at 176) and an FVE metadata
block there ("-FVE-FS-", version 2, a header of 48 bytes with the volume GUID). Only a
signature: no key protectors, nothing cryptsetup can open. Prints the volume GUID (libblkid
from util-linux 2.39 reports it as UUID; 2.38 reports no UUID).

usage: bitlocker-signature.py FILE [GUID]"""
import struct
import sys
import uuid

OFFSET = 0x10000  # where the first FVE metadata block goes (64-aligned, inside 1 MiB)


def main():
    path = sys.argv[1]
    guid = uuid.UUID(sys.argv[2]) if len(sys.argv) > 2 else uuid.UUID(
        "4c6f6f70-626f-6f74-2d42-69744c6f636b")
    hdr = bytearray(512)
    hdr[0:11] = b"\xeb\x58\x90-FVE-FS-"
    struct.pack_into("<H", hdr, 11, 512)           # bytes per sector
    struct.pack_into("<Q", hdr, 176, OFFSET)       # FVE metadata offset
    fve = bytearray(64 + 48)
    fve[0:8] = b"-FVE-FS-"
    struct.pack_into("<H", fve, 10, 2)             # version 2 (Windows 7 and later)
    # The metadata header: size (48: no entries), version, header size, size copy, GUID.
    struct.pack_into("<IIII", fve, 64, 48, 1, 48, 48)
    fve[80:96] = guid.bytes_le                     # Microsoft's mixed-endian GUID layout
    with open(path, "r+b") as f:
        f.seek(0)
        f.write(hdr)
        f.seek(OFFSET)
        f.write(fve)
    print(guid)


if __name__ == "__main__":
    main()
