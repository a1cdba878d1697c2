#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the plaintext of a LUKS2 device (aes-xts-plain64) to OUT, given its volume key.

    luks-plain.py DEVICE VOLUME-KEY-FILE OUT

The VM tests read a host file system back from a LUKS disk after the guest powered off.
This machine may have no device-mapper (cryptsetup open needs it): this does what dm-crypt
does, in userspace, with the offset, sector size and cipher that `cryptsetup luksDump`
prints."""
import re
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def main():
    dev, keyfile, out = sys.argv[1:4]
    dump = subprocess.run(["cryptsetup", "luksDump", dev], check=True, capture_output=True,
                          text=True).stdout
    seg = dump.split("Data segments:", 1)[1].split("Keyslots:", 1)[0]
    offset = int(re.search(r"offset:\s*(\d+)", seg).group(1))
    cipher = re.search(r"cipher:\s*(\S+)", seg).group(1)
    sector = int(re.search(r"sector:\s*(\d+)", seg).group(1))
    if cipher != "aes-xts-plain64":
        sys.exit(f"luks-plain: {dev}: cipher {cipher}: only aes-xts-plain64 is supported")
    key = open(keyfile, "rb").read()
    # dm-crypt's plain64 IV: the number of the 512-byte sector, little-endian, 16 bytes
    # (as cryptsetup sets up LUKS2 with larger encryption sectors, without iv_large_sectors).
    with open(dev, "rb") as f, open(out, "wb") as o:
        f.seek(offset)
        n = 0
        while True:
            block = f.read(sector * 256)
            if not block:
                break
            plain = bytearray()
            for i in range(0, len(block), sector):
                iv = ((n + i // sector) * (sector // 512)).to_bytes(16, "little")
                d = Cipher(algorithms.AES(key), modes.XTS(iv)).decryptor()
                plain += d.update(block[i:i + sector]) + d.finalize()
            o.write(plain)
            n += len(block) // sector


if __name__ == "__main__":
    main()
