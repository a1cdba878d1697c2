#!/usr/bin/env python3
"""Marks a file system image the way an unclean shutdown or Windows would leave it.

Used by the tests to make hosts that loopboot must refuse. Usage:
  fsflags.py ntfs-dirty IMAGE      set VOLUME_IS_DIRTY in $Volume (MFT record 3)
  fsflags.py ntfs-logunclean IMAGE restart pages in $LogFile saying a client has the journal
                                   open and it is not clean, as a Windows crash or
                                   hibernation can leave them (libntfs-3g refuses to mount)
  fsflags.py fat-dirty IMAGE       clear the FAT16/32 "clean shutdown" bit in FAT[1]
  fsflags.py fat-bootdirty IMAGE   set the dirty bit Linux's vfat keeps in the boot sector
                                   (BS_Reserved1: 0x41 on FAT32, 0x25 on FAT12/16, bit 0)
  fsflags.py fat-state IMAGE       print "boot=0|1 fat1=clean|dirty|none": the flags
                                   loopboot's hoststate.c reads
  fsflags.py exfat-dirty IMAGE     set VolumeDirty in the exFAT boot sector
Offsets follow the on-disk formats (Microsoft's FAT and exFAT specifications, the NTFS
layout as documented by the Linux-NTFS project).
"""
import struct
import sys


def ntfs_geometry(f):
    """The boot sector's cluster size, the MFT's first byte and the MFT record size."""
    f.seek(0)
    bs = f.read(512)
    assert bs[3:11] == b"NTFS    ", "not NTFS"
    sector, spc = struct.unpack_from("<HB", bs, 0x0B)
    cluster = sector * spc if spc <= 0x80 else 1 << (256 - spc)
    mft_lcn = struct.unpack_from("<q", bs, 0x30)[0]
    cpr = struct.unpack_from("<b", bs, 0x40)[0]
    rsize = cluster * cpr if cpr > 0 else 1 << -cpr
    return cluster, mft_lcn * cluster, rsize


def ntfs_attribute(rec, atype, what):
    """The offset of the first attribute of type atype in an MFT record."""
    a = struct.unpack_from("<H", rec, 0x14)[0]
    while True:
        t, ln = struct.unpack_from("<II", rec, a)
        assert t != 0xFFFFFFFF, "no " + what
        if t == atype:
            return a
        a += ln


def ntfs_dirty(f):
    _, mft, rsize = ntfs_geometry(f)
    off = mft + 3 * rsize
    f.seek(off)
    rec = bytearray(f.read(rsize))
    assert rec[:4] == b"FILE"
    a = ntfs_attribute(rec, 0x70, "VOLUME_INFORMATION")
    voff = struct.unpack_from("<H", rec, a + 0x14)[0]
    pos = a + voff + 10
    assert pos % 512 < 510, "flags under the update sequence"
    flags = struct.unpack_from("<H", rec, pos)[0] | 1
    f.seek(off + pos)
    f.write(struct.pack("<H", flags))


def ntfs_logunclean(f):
    """Writes restart pages that say the journal still has a client and is not clean."""
    cluster, mft, rsize = ntfs_geometry(f)
    f.seek(mft + 2 * rsize)
    rec = bytearray(f.read(rsize))
    assert rec[:4] == b"FILE"
    usa_ofs, usa_count = struct.unpack_from("<HH", rec, 4)
    for i in range(1, usa_count):
        rec[i * 512 - 2:i * 512] = rec[usa_ofs + 2 * i:usa_ofs + 2 * i + 2]
    a = ntfs_attribute(rec, 0x80, "$DATA in $LogFile")
    assert rec[a + 8] == 1, "$LogFile's data is resident"
    mp = struct.unpack_from("<H", rec, a + 0x20)[0]
    size = struct.unpack_from("<q", rec, a + 0x30)[0]
    run = rec[a + mp:]
    lb, ob = run[0] & 0x0F, run[0] >> 4
    lcn = int.from_bytes(run[1 + lb:1 + lb + ob], "little", signed=True)
    page_size = 4096
    page = bytearray(page_size)
    usa_count = page_size // 512 + 1
    ra = 0x30
    struct.pack_into("<4sHHqIIHhh", page, 0, b"RSTR", 0x1E, usa_count, 0, page_size, page_size, ra, 1, 1)
    bits = size.bit_length()
    struct.pack_into("<qHHHHIHHqIHHI", page, ra,
                     0x1000,      # current_lsn
                     1,           # log_clients
                     0xFFFF,      # client_free_list: none
                     0,           # client_in_use_list: client 0 (NTFS) has the log open
                     0,           # flags: no RESTART_VOLUME_IS_CLEAN
                     67 - bits,   # seq_number_bits
                     0x30 + 0xA0, # restart_area_length
                     0x30,        # client_array_offset
                     size, 0, 0x30, 0x40, 1)
    ca = ra + 0x30  # the client record: oldest and restart LSN, no prev/next client, "NTFS"
    struct.pack_into("<qqHHH6xI", page, ca, 0x1000, 0x1000, 0xFFFF, 0xFFFF, 1, 8)
    page[ca + 0x20:ca + 0x28] = "NTFS".encode("utf-16-le")
    usn = b"\x01\x00"
    page[0x1E:0x20] = usn
    for i in range(1, usa_count):
        end = i * 512 - 2
        page[0x1E + 2 * i:0x20 + 2 * i] = page[end:end + 2]
        page[end:end + 2] = usn
    for n in range(2):  # both restart pages
        f.seek(lcn * cluster + n * page_size)
        f.write(page)


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


def fat_layout(bs):
    """(FAT32 layout, cluster count, reserved sectors, sector size) of a FAT boot sector."""
    sector, spc, reserved, nfats, root_entries, total16, _, fat16 = struct.unpack_from("<HBHBHHBH", bs, 0x0B)
    fat_size = fat16 or struct.unpack_from("<I", bs, 0x24)[0]
    total = total16 or struct.unpack_from("<I", bs, 0x20)[0]
    root_sectors = (root_entries * 32 + sector - 1) // sector
    clusters = (total - reserved - nfats * fat_size - root_sectors) // spc
    # The BPB's layout (where BS_Reserved1 is) follows BPB_FATSz16, as Linux and fsck.fat read it.
    return fat16 == 0, clusters, reserved, sector


def fat_bootdirty(f):
    bs = f.read(512)
    assert bs[510:512] == b"\x55\xaa", "no boot sector signature"
    fat32 = fat_layout(bs)[0]
    pos = 0x41 if fat32 else 0x25
    f.seek(pos)
    f.write(bytes([bs[pos] | 1]))


def fat_state(f):
    bs = f.read(512)
    fat32, clusters, reserved, sector = fat_layout(bs)
    boot = bs[0x41 if fat32 else 0x25] & 1
    f.seek(reserved * sector)
    fat = f.read(8)
    if clusters < 4085:
        fat1 = "none"
    elif clusters < 65525:
        v = struct.unpack_from("<H", fat, 2)[0]
        fat1 = "clean" if v & 0xC000 == 0xC000 else "dirty"
    else:
        v = struct.unpack_from("<I", fat, 4)[0]
        fat1 = "clean" if v & 0x0C000000 == 0x0C000000 else "dirty"
    print(f"boot={boot} fat1={fat1}")


def exfat_dirty(f):
    bs = f.read(512)
    assert bs[3:11] == b"EXFAT   "
    flags = struct.unpack_from("<H", bs, 106)[0] | 2
    f.seek(106)
    f.write(struct.pack("<H", flags))  # VolumeFlags is outside the boot checksum


def main():
    what, path = sys.argv[1], sys.argv[2]
    with open(path, "rb" if what == "fat-state" else "r+b") as f:
        {
            "ntfs-dirty": ntfs_dirty,
            "ntfs-logunclean": ntfs_logunclean,
            "fat-dirty": fat_dirty,
            "fat-bootdirty": fat_bootdirty,
            "fat-state": fat_state,
            "exfat-dirty": exfat_dirty,
        }[what](f)


if __name__ == "__main__":
    main()
