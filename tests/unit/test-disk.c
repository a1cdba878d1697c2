/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Disk images: the containers from their bytes, the choice of the partition, the words. */
#include <errno.h>
#include <string.h>

#include "basic/util.h"
#include "engine/disk.h"
#include "engine/extents.h"
#include "engine/plan.h"
#include "test-main.h"

static unsigned char head[DISK_HEAD_BYTES], tail[512];

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static void clear(void)
{
	memset(head, 0, sizeof(head));
	memset(tail, 0, sizeof(tail));
}

static void vhd_footer(unsigned char *f, uint32_t type, uint64_t size)
{
	memcpy(f, "conectix", 8);
	put_be64(f + 48, size);
	put_be32(f + 60, type);
	uint32_t sum = 0;
	for (size_t i = 0; i < 512; i++)
		if (i < 64 || i >= 68)
			sum += f[i];
	put_be32(f + 64, ~sum);
}

/* A VDI 1.1 header: the map at 512, the data at 1 MiB, blocks of 1 MiB. */
static void vdi_header(uint32_t type, uint64_t disk_size, uint32_t blocks)
{
	memcpy(head, "<<< Oracle VM VirtualBox Disk Image >>>\n", 40);
	put_le32(head + 64, 0xbeda107f);
	put_le32(head + 68, 0x00010001);
	put_le32(head + 72, 400);
	put_le32(head + 76, type);
	put_le32(head + 340, 512);
	put_le32(head + 344, 1048576);
	put_le64(head + 368, disk_size);
	put_le32(head + 376, 1048576);
	put_le32(head + 384, blocks);
}

TEST(containers)
{
	struct disk_header h;
	const uint64_t mib = 1048576;

	clear();
	memcpy(head, "QFI\xfb", 4);
	CHECK(disk_header_parse(head, sizeof(head), tail, 64 * mib, &h) == 0);
	CHECK(h.format == DISK_QCOW2 && !disk_format_mappable(h.format));
	disk_header_done(&h);

	clear();
	memcpy(head, "vhdxfile", 8);
	CHECK(disk_header_parse(head, sizeof(head), tail, 64 * mib, &h) == 0 &&
	      h.format == DISK_VHDX);
	disk_header_done(&h);

	clear();
	memcpy(head, "KDMV", 4);
	CHECK(disk_header_parse(head, sizeof(head), tail, 64 * mib, &h) == 0 &&
	      h.format == DISK_VMDK_SPARSE);
	disk_header_done(&h);

	/* Fixed VHD: data from 0, the footer's 512 bytes not part of the disk. */
	clear();
	vhd_footer(tail, 2, 64 * mib);
	CHECK(disk_header_parse(head, sizeof(head), tail, 64 * mib + 512, &h) == 0);
	CHECK(h.format == DISK_VHD_FIXED && disk_format_mappable(h.format));
	CHECK(h.data_offset == 0 && h.data_size == 64 * mib);
	CHECK_STREQ(disk_format_key(h.format), "vhd-fixed");
	disk_header_done(&h);
	/* ... whose footer was damaged: its checksum says so. */
	tail[100] ^= 1;
	CHECK(disk_header_parse(head, sizeof(head), tail, 64 * mib + 512, &h) == -EINVAL);
	CHECK(h.why && strstr(h.why, "checksum"));
	disk_header_done(&h);
	tail[100] ^= 1;
	/* ... whose footer claims more than the file holds: a truncated copy. */
	CHECK(disk_header_parse(head, sizeof(head), tail, 32 * mib + 512, &h) == -EINVAL);
	CHECK(h.why && strstr(h.why, "truncated"));
	disk_header_done(&h);

	/* Dynamic VHD: the footer's copy at 0 and the footer at the end say type 3. */
	clear();
	vhd_footer(head, 3, 64 * mib);
	vhd_footer(tail, 3, 64 * mib);
	CHECK(disk_header_parse(head, sizeof(head), tail, 3 * mib, &h) == 0 &&
	      h.format == DISK_VHD_DYNAMIC);
	disk_header_done(&h);
	vhd_footer(tail, 4, 64 * mib);
	CHECK(disk_header_parse(head, sizeof(head), tail, 3 * mib, &h) == 0 &&
	      h.format == DISK_VHD_DIFFERENCING);
	disk_header_done(&h);

	/* Fixed VDI: the data offset read from the header, never assumed. */
	clear();
	vdi_header(2, 64 * mib, 64);
	CHECK(disk_header_parse(head, sizeof(head), tail, 65 * mib, &h) == 0);
	CHECK(h.format == DISK_VDI_FIXED && h.data_offset == mib && h.data_size == 64 * mib);
	CHECK(h.vdi_map_offset == 512 && h.vdi_blocks == 64);
	disk_header_done(&h);
	CHECK(disk_header_parse(head, sizeof(head), tail, 40 * mib, &h) == -EINVAL);
	CHECK(h.why && strstr(h.why, "truncated"));
	disk_header_done(&h);
	vdi_header(1, 64 * mib, 64);
	CHECK(disk_header_parse(head, sizeof(head), tail, 2 * mib, &h) == 0 &&
	      h.format == DISK_VDI_DYNAMIC);
	disk_header_done(&h);

	/* A monolithicFlat descriptor: one FLAT extent beside it. */
	clear();
	const char *desc = "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n\n"
	                   "# Extent description\nRW 204800 FLAT \"disk-flat.vmdk\" 0\n\n"
	                   "ddb.adapterType = \"ide\"\n";
	memcpy(head, desc, strlen(desc));
	CHECK(disk_header_parse(head, strlen(desc), NULL, strlen(desc), &h) == 0);
	CHECK(h.format == DISK_VMDK_FLAT && h.data_offset == 0 && h.data_size == 204800 * 512ULL);
	CHECK_STREQ(h.extent, "disk-flat.vmdk");
	disk_header_done(&h);
	/* Split into 2 GiB pieces, or sparse: refused with the reason. */
	clear();
	desc = "# Disk DescriptorFile\ncreateType=\"twoGbMaxExtentFlat\"\n"
	       "RW 4192256 FLAT \"d-f001.vmdk\" 0\nRW 1000 FLAT \"d-f002.vmdk\" 0\n";
	memcpy(head, desc, strlen(desc));
	CHECK(disk_header_parse(head, strlen(desc), NULL, strlen(desc), &h) == 0);
	CHECK(h.format == DISK_VMDK_SPARSE && h.why && strstr(h.why, "twoGbMaxExtentFlat"));
	disk_header_done(&h);
	/* An extent elsewhere than beside the descriptor is not followed. */
	clear();
	desc = "# Disk DescriptorFile\nRW 2048 FLAT \"../../etc/shadow\" 0\n";
	memcpy(head, desc, strlen(desc));
	CHECK(disk_header_parse(head, strlen(desc), NULL, strlen(desc), &h) == -EINVAL);
	CHECK(h.why && strstr(h.why, "not a file name beside it"));
	disk_header_done(&h);

	/* Anything else of at least 1 KiB may be a raw disk (libblkid says whether). */
	clear();
	CHECK(disk_header_parse(head, sizeof(head), tail, 64 * mib, &h) == 0);
	CHECK(h.format == DISK_RAW && h.data_offset == 0 && h.data_size == 64 * mib);
	disk_header_done(&h);
	CHECK(disk_header_parse(head, 100, NULL, 100, &h) == 0 && h.format == DISK_NONE);
	disk_header_done(&h);
}

TEST(vdi_map)
{
	unsigned char map[16];
	for (uint32_t i = 0; i < 4; i++)
		put_le32(map + i * 4, i);
	CHECK(disk_vdi_map_in_order(map, 4));
	put_le32(map + 8, 0xffffffff); /* a block not allocated */
	CHECK(!disk_vdi_map_in_order(map, 4));
}

#define ROOT_X64 "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
#define LINUX_FS "0fc63daf-8483-4772-8e79-3d69d8477de4"
#define ESP      "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"

static struct disk_part part(unsigned n, const char *type, const char *fs, const char *label)
{
	return (struct disk_part){.number = n,
	                          .start = n * 1048576ULL,
	                          .size = 1048576,
	                          .type = (char *)type,
	                          .partuuid = (char *)"ABCD-EF",
	                          .partlabel = (char *)label,
	                          .fstype = (char *)fs,
	                          .label = (char *)label};
}

static int choose(struct disk_part *parts, size_t n, const char *sel, size_t *ret_index,
                  char **ret_why)
{
	struct disk d = {.table = (char *)"gpt", .parts = parts, .n_parts = n};
	struct partsel s = {.kind = PARTSEL_AUTO};
	char *why = NULL;
	if (sel)
		CHECK(partsel_parse(sel, &s, &why) == 0);
	free(why);
	int r = disk_choose(&d, &s, ret_index, ret_why);
	free(s.value);
	return r;
}

TEST(choose_partition)
{
	size_t i = 99;
	char *why = NULL;
	/* The ESP, the root typed as such, /home as a plain Linux file system. */
	struct disk_part three[] = {part(1, ESP, "vfat", "ESP"), part(2, ROOT_X64, "ext4", "root"),
	                            part(3, LINUX_FS, "ext4", "home")};
	CHECK(choose(three, 3, NULL, &i, &why) == 0 && i == 1);
	CHECK_STREQ(why, "its GPT type is Linux root (x86-64)");
	free(why);
	CHECK(choose(three, 3, "3", &i, &why) == 0 && i == 2);
	CHECK_STREQ(why, "it is partition 3, as asked");
	free(why);
	CHECK(choose(three, 3, "PARTLABEL=home", &i, &why) == 0 && i == 2);
	CHECK_STREQ(why, "its PARTLABEL=home, as asked");
	free(why);
	CHECK(choose(three, 3, "LABEL=root", &i, &why) == 0 && i == 1);
	CHECK_STREQ(why, "its file system's LABEL=root, as asked");
	free(why);
	CHECK(choose(three, 3, "LABEL=ROOT", &i, &why) == -ENOENT); /* labels keep their case */
	CHECK_STREQ(why, "no partition is LABEL=ROOT");
	free(why);
	CHECK(choose(three, 3, "PARTUUID=abcd-ef", &i, &why) == -ENOTUNIQ);
	CHECK_STREQ(why, "3 partitions match PARTUUID=abcd-ef");
	free(why);
	CHECK(choose(three, 3, "9", &i, &why) == -ENOENT);
	free(why);

	/* No root type: the one Linux file system; two of them: ambiguous. */
	struct disk_part two[] = {part(1, ESP, "vfat", NULL), part(2, LINUX_FS, "xfs", NULL),
	                          part(3, LINUX_FS, "ext4", NULL)};
	CHECK(choose(two, 2, NULL, &i, &why) == 0 && i == 1);
	CHECK_STREQ(why, "it is the only partition with a Linux file system");
	free(why);
	CHECK(choose(two, 3, NULL, &i, &why) == -ENOTUNIQ);
	CHECK(strstr(why, "2 partitions hold a Linux file system"));
	free(why);
	/* Two root-typed ones: ambiguous too, not the first. */
	struct disk_part roots[] = {part(1, ROOT_X64, "ext4", NULL),
	                            part(2, ROOT_X64, "ext4", NULL)};
	CHECK(choose(roots, 2, NULL, &i, &why) == -ENOTUNIQ);
	CHECK_STREQ(why, "2 partitions have the GPT type Linux root (x86-64)");
	free(why);
	/* The no-auto attribute (bit 63) takes a root-typed partition out of the search. */
	roots[1].flags = 1ULL << 63;
	CHECK(choose(roots, 2, NULL, &i, &why) == 0 && i == 0);
	free(why);
	/* Nothing Linux at all: a Windows disk. */
	struct disk_part win[] = {part(1, ESP, "vfat", NULL),
	                          part(2, "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "ntfs", NULL)};
	CHECK(choose(win, 2, NULL, &i, &why) == -ENOENT);
	CHECK_STREQ(why, "no partition holds a Linux file system");
	free(why);

	/* No partition table: the whole data, unless a partition is asked for. */
	struct disk bare = {0};
	struct partsel automatic = {.kind = PARTSEL_AUTO},
	               two_sel = {.kind = PARTSEL_NUMBER, .number = 2};
	CHECK(disk_choose(&bare, &automatic, &i, &why) == 0 && i == 0);
	free(why);
	CHECK(disk_choose(&bare, &two_sel, &i, &why) == -ENOENT);
	CHECK(strstr(why, "no partition table"));
	free(why);
}

TEST(words)
{
	CHECK_STREQ(disk_part_type_name("gpt", ESP), "EFI system");
	CHECK_STREQ(disk_part_type_name("gpt", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"),
	            "Linux root (x86-64)");
	CHECK_STREQ(disk_part_type_name("dos", "0x83"), "0x83 Linux");
	CHECK_STREQ(disk_part_type_name("dos", "0x99"), "0x99");
	CHECK(disk_fs_is_linux("ext4") && disk_fs_is_linux("btrfs") && !disk_fs_is_linux("vfat") &&
	      !disk_fs_is_linux(NULL));

	struct disk_part p = part(2, ROOT_X64, "ext4", "root");
	p.size = 3ULL << 30;
	p.uuid = (char *)"1234";
	char *line = disk_part_line(&p, "gpt");
	CHECK_STREQ(line, "2  Linux root (x86-64)  3.0 GiB  ext4  UUID=1234  LABEL=root  "
	                  "PARTLABEL=root  PARTUUID=ABCD-EF");
	free(line);
	p = (struct disk_part){.number = 5, .size = 512, .type = (char *)"0x07"};
	line = disk_part_line(&p, "dos");
	CHECK_STREQ(line, "5  0x07 NTFS/exFAT  512 B  no file system  PARTUUID=-");
	free(line);

	char *advice = disk_convert_advice(DISK_QCOW2, "/vm/win.qcow2");
	CHECK_STREQ(advice, "convert it on a system with the host mounted (here at /host): "
	                    "\"qemu-img convert -O raw /host/vm/win.qcow2 /host/vm/win.img\", then "
	                    "boot with loop=/vm/win.img");
	free(advice);
	advice = disk_convert_advice(DISK_VHD_DYNAMIC, "/VMs/Linux Disk.vhd");
	/* Paths with blanks: quoted for the shell in the command, for the kernel in loop=. */
	CHECK(strstr(advice, "\"qemu-img convert -O vpc -o subformat=fixed '/host/VMs/Linux "
	                     "Disk.vhd' '/host/VMs/Linux Disk-fixed.vhd'\""));
	CHECK(strstr(advice, "then boot with \"loop=/VMs/Linux Disk.img\";"));
	CHECK(strstr(advice, "then \"loop=/VMs/Linux Disk-fixed.vhd\""));
	free(advice);
	advice = disk_convert_advice(DISK_VDI_DYNAMIC, "/vm/a.vdi");
	CHECK(strstr(advice, "-O vdi -o static=on /host/vm/a.vdi /host/vm/a-fixed.vdi"));
	free(advice);
}

TEST(partsel)
{
	struct partsel s;
	char *why = NULL;
	CHECK(partsel_parse("3", &s, &why) == 0 && s.kind == PARTSEL_NUMBER && s.number == 3);
	CHECK(partsel_parse("partuuid=AB-01", &s, &why) == 0 && s.kind == PARTSEL_PARTUUID);
	CHECK_STREQ(s.value, "AB-01");
	char *text = partsel_to_string(&s);
	CHECK_STREQ(text, "PARTUUID=AB-01");
	free(text);
	free(s.value);
	static const char *const bad[] = {"", "0", "257", "x", "3a", "-1", "LABEL=", "PARTLABEL="};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK(partsel_parse(bad[i], &s, &why) == -EINVAL);
		CHECK(why && *why);
		free(why);
		why = NULL;
	}
}

TEST(extent_slice)
{
	/* A file of 4 MiB in two pieces on the disk; a partition across the gap. */
	struct extent_map m = {.size = 4 << 20}, part;
	CHECK(extent_map_add(&m, 0, 100 << 20, 2 << 20) == 0);
	CHECK(extent_map_add(&m, 2 << 20, 500 << 20, 2 << 20) == 0);
	CHECK(extent_map_slice(&m, 1 << 20, 2 << 20, &part) == 0);
	CHECK(part.n == 2 && part.size == 2 << 20);
	CHECK(part.v[0].logical == 0 && part.v[0].physical == 101 << 20 &&
	      part.v[0].length == 1 << 20);
	CHECK(part.v[1].logical == 1 << 20 && part.v[1].physical == 500 << 20 &&
	      part.v[1].length == 1 << 20);
	extent_map_free(&part);
	/* Past the file, not on a sector, empty: refused. */
	CHECK(extent_map_slice(&m, 3 << 20, 2 << 20, &part) == -EINVAL);
	CHECK(extent_map_slice(&m, 100, 512, &part) == -EINVAL);
	CHECK(extent_map_slice(&m, 0, 0, &part) == -EINVAL);
	extent_map_free(&m);
}
