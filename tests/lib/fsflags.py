#!/usr/bin/env python3
"""Marks a file system image the way an unclean shutdown or Windows would leave it.

Used by the tests to make hosts that loopboot must refuse. Usage:
  fsflags.py ntfs-dirty IMAGE      set VOLUME_IS_DIRTY in $Volume (MFT record 3)
  fsflags.py fat-dirty IMAGE       clear the FAT16/32 "clean shutdown" bit in FAT[1]
  fsflags.py exfat-dirty IMAGE     set VolumeDirty in the exFAT boot sector
Offsets follow the on-disk formats (Microsoft's FAT and exFAT specifications, the NTFS
layout as documented by the Linux-NTFS project).
"""
import struct
import sys


def ntfs_dirty(f):
    bs = f.read(512)
    assert bs[3:11] == b"NTFS    ", "not NTFS"
    sector, spc = struct.unpack_from("<HB", bs, 0x0B)
    cluster = sector * spc if spc <= 0x80 else 1 << (256 - spc)
    mft_lcn = struct.unpack_from("<q", bs, 0x30)[0]
    cpr = struct.unpack_from("<b", bs, 0x40)[0]
    rsize = cluster * cpr if cpr > 0 else 1 << -cpr
    off = mft_lcn * cluster + 3 * rsize
    f.seek(off)
    rec = bytearray(f.read(rsize))
    assert rec[:4] == b"FILE"
    a = struct.unpack_from("<H", rec, 0x14)[0]
    while True:
        t, ln = struct.unpack_from("<II", rec, a)
        assert t != 0xFFFFFFFF, "no VOLUME_INFORMATION"
        if t == 0x70:
            break
        a += ln
    voff = struct.unpack_from("<H", rec, a + 0x14)[0]
    pos = a + voff + 10
    assert pos % 512 < 510, "flags under the update sequence"
    flags = struct.unpack_from("<H", rec, pos)[0] | 1
    f.seek(off + pos)
    f.write(struct.pack("<H", flags))


def fat_dirty(f):
    bs = f.read(512)
    sector, spc, reserved, nfats, root_entries, total16, _, fat16 = struct.unpack_from("<HBHBHHBH", bs, 0x0B)
    fat_size = fat16 or struct.unpack_from("<I", bs, 0x24)[0]
    total = total16 or struct.unpack_from("<I", bs, 0x20)[0]
    root_sectors = (root_entries * 32 + sector - 1) // sector
    clusters = (total - reserved - nfats * fat_size - root_sectors) // spc
    for n in range(nfats):
        base = (reserved + n * fat_size) * sector
        if clusters >= 65525:
            f.seek(base + 4)
            v = struct.unpack("<I", f.read(4))[0] & ~0x08000000
            f.seek(base + 4)
            f.write(struct.pack("<I", v))
        else:
            f.seek(base + 2)
            v = struct.unpack("<H", f.read(2))[0] & ~0x8000
            f.seek(base + 2)
            f.write(struct.pack("<H", v))


def exfat_dirty(f):
    bs = f.read(512)
    assert bs[3:11] == b"EXFAT   "
    flags = struct.unpack_from("<H", bs, 106)[0] | 2
    f.seek(106)
    f.write(struct.pack("<H", flags))  # VolumeFlags is outside the boot checksum


def main():
    what, path = sys.argv[1], sys.argv[2]
    with open(path, "r+b") as f:
        {"ntfs-dirty": ntfs_dirty, "fat-dirty": fat_dirty, "exfat-dirty": exfat_dirty}[what](f)


if __name__ == "__main__":
    main()
