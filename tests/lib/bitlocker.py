#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Makes a BitLocker volume (Windows 7+ layout, AES-XTS-128, one recovery-password
protector) around a plain file system image, with python3-cryptography, as libbde's
documentation of the format and cryptsetup's lib/bitlk/bitlk.c read it:

  - sector 0: the BitLocker boot sector ("\\xeb\\x58\\x90-FVE-FS-", the kind GUID at 160,
    the three FVE metadata offsets at 176);
  - three FVE metadata blocks (64 KiB areas): the block header, the metadata header
    (encryption 0x8004, the GUID) and the entries: a VMK protected by the recovery
    password (a stretch-key salt, the VMK wrapped with AES-CCM under the key derived from
    the password: SHA-256 of the 8 blocks / 11, then 0x100000 rounds of SHA-256 over
    {last, initial, salt, count}), the FVEK wrapped with AES-CCM under the VMK, and where
    the file system's first sectors (the "volume header") are kept, encrypted;
  - every other sector of the file system encrypted with AES-XTS, the sector number as
    the tweak (dm-crypt's plain64); the volume header's sectors are encrypted with the
    numbers of the place they are stored at.

The metadata and the moved volume header sit in the last MiB, beyond the file system
(which must leave it free: make it 1 MiB smaller than the volume). No MAC of the metadata
(the validation entry) is written: cryptsetup does not read it, Windows would.

usage: bitlocker.py FS-IMAGE OUT SIZE-MiB PASSWORD [FVEK-OUT]
       bitlocker.py decrypt VOLUME FVEK-FILE OUT
The first form makes the volume (and with FVEK-OUT keeps its FVEK in that file, for the
tests); the second reads the file system back out of a volume this script made, as the
dm-crypt mapping shows it (to check what a guest wrote through the mapping)."""
import hashlib
import os
import struct
import sys
import uuid

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

SECTOR = 512
META_AREA = 64 * 1024
VH_SIZE = 8192  # the file system's first 16 sectors (NTFS's boot area)
ENC_XTS_128 = 0x8004
BITLK_GUID_NORMAL = bytes.fromhex("3bd66749292ed84a8399f6a339e3d001")


def recovery_key(password):
    blocks = password.split("-")
    assert len(blocks) == 8 and all(len(b) == 6 and int(b) % 11 == 0 for b in blocks)
    return struct.pack("<8H", *[int(b) // 11 for b in blocks])


def stretch(key16, salt):
    initial = hashlib.sha256(key16).digest()
    last = b"\0" * 32
    for count in range(0x100000):
        last = hashlib.sha256(last + initial + salt + struct.pack("<Q", count)).digest()
    return last


def entry(etype, value, data, version=1):
    return struct.pack("<HHHH", 8 + len(data), etype, value, version) + data


def wrapped(key, plain_key, method, nonce):
    # The wrapped blob: a key entry (size, type 0, value KEY, version 1, method) + the key.
    blob = struct.pack("<HHHHI", 12 + len(plain_key), 0, 1, 1, method) + plain_key
    ct_tag = AESCCM(key, tag_length=16).encrypt(nonce, blob, None)
    return nonce + ct_tag[-16:] + ct_tag[:-16]  # nonce, MAC tag, then the ciphertext


def xts(fvek, sector, data):
    enc = Cipher(algorithms.AES(fvek), modes.XTS(struct.pack("<QQ", sector, 0))).encryptor()
    return enc.update(data) + enc.finalize()


def xts_decrypt(fvek, sector, data):
    dec = Cipher(algorithms.AES(fvek), modes.XTS(struct.pack("<QQ", sector, 0))).decryptor()
    return dec.update(data) + dec.finalize()


def decrypt(vol_path, fvek_path, out_path):
    fvek = open(fvek_path, "rb").read()
    with open(vol_path, "rb") as f:
        boot = f.read(SECTOR)
        meta = struct.unpack_from("<QQQ", boot, 176)
        f.seek(meta[0] + 56)
        vh_off = struct.unpack("<Q", f.read(8))[0]
        with open(out_path, "wb") as out:
            f.seek(vh_off)
            data = f.read(VH_SIZE)
            out.write(b"".join(xts_decrypt(fvek, (vh_off + i) // SECTOR, data[i:i + SECTOR])
                               for i in range(0, VH_SIZE, SECTOR)))
            for off in range(VH_SIZE, meta[0], 1024 * 1024):
                f.seek(off)
                data = f.read(min(1024 * 1024, meta[0] - off))
                out.write(b"".join(xts_decrypt(fvek, (off + i) // SECTOR, data[i:i + SECTOR])
                                   for i in range(0, len(data), SECTOR)))


def main():
    if sys.argv[1] == "decrypt":
        decrypt(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    fs_path, out_path, size_mib, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    size = size_mib * 1024 * 1024
    fs = open(fs_path, "rb").read()
    tail = size - 1024 * 1024
    assert len(fs) <= tail, "the file system must leave the volume's last MiB free"
    meta = [tail, tail + 256 * 1024, tail + 512 * 1024]
    vh_off = meta[0] + META_AREA  # cryptsetup maps the volume header right after area 0

    guid = uuid.uuid4()
    fvek = os.urandom(32)  # AES-XTS-128: two 128-bit keys
    vmk = os.urandom(32)
    salt = os.urandom(16)
    kek = stretch(recovery_key(password), salt)
    nonce_base = struct.pack("<Q", 0x01D9_0000_0000_0000)

    vmk_data = (uuid.uuid4().bytes_le + b"\0" * 8 + struct.pack("<HH", 0, 0x0800)
                + entry(0, 0x0003, struct.pack("<I", 0x1000) + salt)
                + entry(0, 0x0005, wrapped(kek, vmk, 0x2000, nonce_base + struct.pack("<I", 1))))
    entries = (entry(0x0002, 0x0008, vmk_data)
               + entry(0x0003, 0x0005, wrapped(vmk, fvek, ENC_XTS_128, nonce_base + struct.pack("<I", 2)))
               + entry(0x000F, 0x000F, struct.pack("<QQ", vh_off, VH_SIZE)))
    mhdr = struct.pack("<IIII", 48 + len(entries), 1, 48, 48 + len(entries)) + guid.bytes_le \
        + struct.pack("<IHHQ", 3, ENC_XTS_128, 0, 133_000_000_000_000_000)
    block = bytearray(64)
    block[0:8] = b"-FVE-FS-"
    # size, version 2, current and next state 4 (encrypted: "normal"), the volume's size,
    # the volume header's sectors
    struct.pack_into("<HHHHQII", block, 8, 48, 2, 4, 4, size, 0, VH_SIZE // SECTOR)
    struct.pack_into("<QQQQ", block, 32, meta[0], meta[1], meta[2], vh_off)
    fve = bytes(block) + mhdr + entries

    boot = bytearray(SECTOR)
    boot[0:11] = b"\xeb\x58\x90-FVE-FS-"
    struct.pack_into("<H", boot, 11, SECTOR)
    boot[160:176] = BITLK_GUID_NORMAL  # the kind of volume: fully encrypted
    struct.pack_into("<QQQ", boot, 176, *meta)
    boot[510:512] = b"\x55\xaa"

    plain = fs + b"\0" * (tail - len(fs))
    with open(out_path, "wb") as f:
        f.truncate(size)
        # The file system's sectors past its volume header, in place.
        chunk = 1024 * 1024
        for off in range(VH_SIZE, tail, chunk):
            data = plain[off:off + chunk]
            out = b"".join(xts(fvek, (off + i) // SECTOR, data[i:i + SECTOR])
                           for i in range(0, len(data), SECTOR))
            f.seek(off)
            f.write(out)
        # Its volume header, moved: encrypted with the numbers of where it is stored.
        f.seek(vh_off)
        f.write(b"".join(xts(fvek, (vh_off + i) // SECTOR, plain[i:i + SECTOR])
                         for i in range(0, VH_SIZE, SECTOR)))
        for m in meta:
            f.seek(m)
            f.write(fve)
        f.seek(0)
        f.write(boot)
    if len(sys.argv) > 5:
        with open(sys.argv[5], "wb") as k:
            k.write(fvek)
    print(guid)


if __name__ == "__main__":
    main()
