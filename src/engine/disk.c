/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Disk images: the containers (pure), the choice of the partition (pure), and reading a real
 * file's partition table with libblkid. */
#include "engine/disk.h"

#include <blkid.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"
#include "engine/cmdline.h"
#include "engine/device.h"
#include "engine/hoststate.h"

/* ---- formats ------------------------------------------------------------------------ */

static const struct {
	const char *name, *key;
} formats[_DISK_FORMAT_MAX] = {
    [DISK_NONE] = {"file system image", "none"},
    [DISK_RAW] = {"raw disk image", "raw"},
    [DISK_VHD_FIXED] = {"fixed VHD", "vhd-fixed"},
    [DISK_VDI_FIXED] = {"fixed VDI", "vdi-fixed"},
    [DISK_VMDK_FLAT] = {"flat VMDK", "vmdk-flat"},
    [DISK_VHD_DYNAMIC] = {"dynamic VHD", "vhd-dynamic"},
    [DISK_VHD_DIFFERENCING] = {"differencing VHD", "vhd-differencing"},
    [DISK_VHDX] = {"VHDX", "vhdx"},
    [DISK_VDI_DYNAMIC] = {"dynamic VDI", "vdi-dynamic"},
    [DISK_QCOW2] = {"qcow2", "qcow2"},
    [DISK_VMDK_SPARSE] = {"sparse or split VMDK", "vmdk-sparse"},
};

const char *disk_format_name(enum disk_format f)
{
	return (unsigned)f < _DISK_FORMAT_MAX ? formats[f].name : "?";
}

const char *disk_format_key(enum disk_format f)
{
	return (unsigned)f < _DISK_FORMAT_MAX ? formats[f].key : "?";
}

const char *disk_format_name_of_key(const char *key)
{
	for (int f = 0; f < _DISK_FORMAT_MAX; f++)
		if (key && streq(formats[f].key, key))
			return formats[f].name;
	return key;
}

bool disk_format_mappable(enum disk_format f)
{
	return f == DISK_RAW || f == DISK_VHD_FIXED || f == DISK_VDI_FIXED || f == DISK_VMDK_FLAT;
}

void disk_header_done(struct disk_header *h)
{
	free(h->extent);
	free(h->why);
	*h = (struct disk_header){0};
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p + 4) << 32 | get_le32(p);
}

static int damaged(struct disk_header *h, enum disk_format f, char *why)
{
	h->format = f;
	h->why = why;
	return -EINVAL;
}

/* VHD: the footer (big-endian): "conectix", ..., current size at 48, disk type at 60. */
/* The footer's checksum (at 64): the ones' complement of the sum of its other bytes. */
static bool vhd_checksum_ok(const unsigned char *footer)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < 512; i++)
		if (i < 64 || i >= 68)
			sum += footer[i];
	return ~sum == get_be32(footer + 64);
}

static int parse_vhd(const unsigned char *footer, bool at_end, uint64_t file_size,
                     struct disk_header *h)
{
	uint32_t type = get_be32(footer + 60);
	if (!vhd_checksum_ok(footer))
		return damaged(
		    h, DISK_VHD_FIXED,
		    xstrdup("its footer's checksum is wrong (a damaged or partial copy)"));
	if (type == 3) {
		h->format = DISK_VHD_DYNAMIC;
		return 0;
	}
	if (type == 4) {
		h->format = DISK_VHD_DIFFERENCING;
		return 0;
	}
	if (type != 2 || !at_end)
		return damaged(h, DISK_VHD_FIXED,
		               xasprintf("its footer gives the disk type %" PRIu32
		                         " (2: fixed, 3: dynamic, 4: differencing)%s",
		                         type, at_end ? "" : " and is not at the file's end"));
	uint64_t current = get_be64(footer + 48);
	if (current > file_size - 512)
		return damaged(h, DISK_VHD_FIXED,
		               xasprintf("its footer gives %" PRIu64
		                         " bytes but the file holds %" PRIu64
		                         " before it (a truncated copy?)",
		                         current, file_size - 512));
	h->format = DISK_VHD_FIXED;
	h->data_offset = 0;
	h->data_size = file_size - 512;
	return 0;
}

#define VDI_SIGNATURE 0xbeda107fu

/* VDI (little-endian): the text, the signature at 64, the version at 68, the type at 76,
 * the block map's offset at 340, the data's at 344, the disk size at 368, the block size
 * at 376, the number of blocks at 384. */
static int parse_vdi(const unsigned char *head, size_t n, uint64_t file_size, struct disk_header *h)
{
	if (n < 400)
		return damaged(h, DISK_VDI_FIXED, xstrdup("its header is cut short"));
	uint32_t version = get_le32(head + 68);
	if (version >> 16 != 1)
		return damaged(h, DISK_VDI_FIXED,
		               xasprintf("its header has version %" PRIu32 ".%" PRIu32
		                         ", which loopboot does not read (1.x)",
		                         version >> 16, version & 0xffff));
	uint32_t type = get_le32(head + 76);
	if (type != 2) {
		h->format = DISK_VDI_DYNAMIC;
		return 0;
	}
	h->format = DISK_VDI_FIXED;
	h->vdi_map_offset = get_le32(head + 340);
	h->data_offset = get_le32(head + 344);
	h->data_size = get_le64(head + 368);
	h->vdi_block_size = get_le32(head + 376);
	h->vdi_blocks = get_le32(head + 384);
	if (h->data_offset < 512 || h->data_offset % 512 || h->data_size % 512)
		return damaged(h, DISK_VDI_FIXED,
		               xasprintf("its header gives the data at %" PRIu64 " and %" PRIu64
		                         " bytes, not whole sectors",
		                         h->data_offset, h->data_size));
	if (h->data_offset > file_size || h->data_size > file_size - h->data_offset)
		return damaged(h, DISK_VDI_FIXED,
		               xasprintf("its header gives %" PRIu64 " bytes from %" PRIu64
		                         " but the file holds %" PRIu64 " (a truncated copy?)",
		                         h->data_size, h->data_offset, file_size));
	if (h->vdi_block_size == 0 || h->vdi_blocks == 0 ||
	    (uint64_t)h->vdi_blocks * h->vdi_block_size < h->data_size ||
	    h->vdi_map_offset + (uint64_t)h->vdi_blocks * 4 > h->data_offset)
		return damaged(h, DISK_VDI_FIXED,
		               xasprintf("its block map (%" PRIu32 " blocks of %" PRIu32
		                         " bytes at %" PRIu64 ") does not fit its header",
		                         h->vdi_blocks, h->vdi_block_size, h->vdi_map_offset));
	return 0;
}

bool disk_vdi_map_in_order(const unsigned char *map, uint32_t blocks)
{
	for (uint32_t i = 0; i < blocks; i++)
		if (get_le32(map + (size_t)i * 4) != i)
			return false;
	return true;
}

/* The next word of a descriptor line; a quoted one without its quotes. */
static char *vmdk_word(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (!**p)
		return NULL;
	const char *start = *p;
	if (**p == '"') {
		const char *end = strchr(start + 1, '"');
		if (!end)
			return NULL;
		*p = end + 1;
		return xstrndup(start + 1, (size_t)(end - start - 1));
	}
	while (**p && **p != ' ' && **p != '\t')
		(*p)++;
	return xstrndup(start, (size_t)(*p - start));
}

/* A text descriptor: createType= and the extent lines ("RW 2097152 FLAT "x-flat.vmdk" 0"). */
static int parse_vmdk_descriptor(const unsigned char *head, size_t n, struct disk_header *h)
{
	_cleanup_free_ char *text = xstrndup((const char *)head, n);
	unsigned flat = 0, other = 0;
	uint64_t sectors = 0, offset = 0;
	char *extent = NULL;
	_cleanup_free_ char *create_type = NULL;
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (startswith(p, "createType")) {
			const char *eq = strchr(p, '=');
			if (eq) {
				const char *q = eq + 1;
				free(create_type);
				create_type = vmdk_word(&q);
			}
			continue;
		}
		if (!startswith(p, "RW ") && !startswith(p, "RDONLY ") &&
		    !startswith(p, "NOACCESS "))
			continue;
		free(vmdk_word(&p)); /* the access: RW, RDONLY, NOACCESS */
		_cleanup_free_ char *count = vmdk_word(&p), *type = vmdk_word(&p),
		                    *file = vmdk_word(&p), *off = vmdk_word(&p);
		if (type && (streq(type, "FLAT") || streq(type, "VMFS")) && count && file) {
			flat++;
			char *end;
			errno = 0;
			unsigned long long c = strtoull(count, &end, 10);
			unsigned long long o = off ? strtoull(off, &end, 10) : 0;
			if (errno || c == 0) {
				free(extent);
				return damaged(
				    h, DISK_VMDK_FLAT,
				    xasprintf("its extent line for %s gives no size", file));
			}
			sectors = c;
			offset = o;
			free(extent);
			extent = file;
			file = NULL;
		} else {
			other++;
		}
	}
	if (flat == 1 && other == 0) {
		if (!*extent || strchr(extent, '/')) {
			_cleanup_free_ char *e = extent;
			return damaged(
			    h, DISK_VMDK_FLAT,
			    xasprintf("its extent \"%s\" is not a file name beside it", e));
		}
		h->format = DISK_VMDK_FLAT;
		h->extent = extent;
		h->data_offset = offset * 512;
		h->data_size = sectors * 512;
		return 0;
	}
	free(extent);
	h->format = DISK_VMDK_SPARSE;
	h->why = xasprintf("its descriptor (createType \"%s\") names %u flat and %u other extents: "
	                   "loopboot maps one flat extent",
	                   create_type ? create_type : "?", flat, other);
	return 0;
}

static bool is_vmdk_descriptor(const unsigned char *head, size_t n)
{
	static const char magic[] = "# Disk DescriptorFile";
	size_t i = 0;
	while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
		i++;
	return n - i >= sizeof(magic) - 1 && memcmp(head + i, magic, sizeof(magic) - 1) == 0;
}

int disk_header_parse(const unsigned char *head, size_t n, const unsigned char *tail,
                      uint64_t file_size, struct disk_header *ret)
{
	*ret = (struct disk_header){.format = DISK_NONE};
	if (n >= 4 && memcmp(head, "QFI\xfb", 4) == 0) {
		ret->format = DISK_QCOW2;
		return 0;
	}
	if (n >= 8 && memcmp(head, "vhdxfile", 8) == 0) {
		ret->format = DISK_VHDX;
		return 0;
	}
	if (n >= 4 && memcmp(head, "KDMV", 4) == 0) {
		ret->format = DISK_VMDK_SPARSE;
		return 0;
	}
	if (n >= 72 && get_le32(head + 64) == VDI_SIGNATURE)
		return parse_vdi(head, n, file_size, ret);
	if (tail && file_size >= 1024 && memcmp(tail, "conectix", 8) == 0)
		return parse_vhd(tail, true, file_size, ret);
	if (n >= 512 && memcmp(head, "conectix", 8) == 0)
		return parse_vhd(head, false, file_size, ret);
	if (is_vmdk_descriptor(head, n))
		return parse_vmdk_descriptor(head, n, ret);
	if (file_size >= 1024) {
		ret->format = DISK_RAW;
		ret->data_size = file_size;
	}
	return 0;
}

/* ---- partitions ---------------------------------------------------------------------- */

#if defined(__x86_64__)
const char *const disk_root_type = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
#define ROOT_NAME "Linux root (x86-64)"
#elif defined(__aarch64__)
const char *const disk_root_type = "b921b045-1df0-41c3-af44-4c6f280d3fae";
#define ROOT_NAME "Linux root (ARM64)"
#elif defined(__i386__)
const char *const disk_root_type = "44479540-f297-41b2-9af7-d131d5f0458a";
#define ROOT_NAME "Linux root (x86)"
#elif defined(__riscv) && __riscv_xlen == 64
const char *const disk_root_type = "72ec70a6-cf74-40e6-bd49-4bda08e8f224";
#define ROOT_NAME "Linux root (RISC-V 64)"
#else
const char *const disk_root_type = "";
#define ROOT_NAME "Linux root"
#endif

static const struct {
	const char *type, *name;
} gpt_types[] = {
    {"c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "EFI system"},
    {"21686148-6449-6e6f-744e-656564454649", "BIOS boot"},
    {"0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux filesystem"},
    {"4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "Linux root (x86-64)"},
    {"44479540-f297-41b2-9af7-d131d5f0458a", "Linux root (x86)"},
    {"b921b045-1df0-41c3-af44-4c6f280d3fae", "Linux root (ARM64)"},
    {"72ec70a6-cf74-40e6-bd49-4bda08e8f224", "Linux root (RISC-V 64)"},
    {"933ac7e1-2eb4-4f13-b844-0e14e2aef915", "Linux home"},
    {"3b8f8425-20e0-4f3b-907f-1a25a76f98e8", "Linux server data"},
    {"4d21b016-b534-45c2-a9fb-5c16e091fd2d", "Linux variable data"},
    {"7ec6f557-3bc5-4aca-b293-16ef5df639d1", "Linux temporary data"},
    {"8484680c-9521-48c6-9c11-b0720656f69e", "Linux /usr (x86-64)"},
    {"bc13c2ff-59e6-4262-a352-b275fd6f7172", "Linux extended boot"},
    {"0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "Linux swap"},
    {"e6d6d379-f507-44c2-a23c-238f2a3df928", "Linux LVM"},
    {"a19d880f-05fc-4d3b-a006-743f0f84911e", "Linux RAID"},
    {"ca7d7ccb-63ed-4c53-861c-1742536059cc", "Linux LUKS"},
    {"ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "Microsoft basic data"},
    {"e3c9e316-0b5c-4db8-817d-f92df00215ae", "Microsoft reserved"},
    {"de94bba4-06d1-4d40-a16a-bfd50179d6ac", "Windows recovery"},
};

static const struct {
	unsigned type;
	const char *name;
} mbr_types[] = {
    {0x01, "0x01 FAT12"},          {0x04, "0x04 FAT16"},
    {0x06, "0x06 FAT16"},          {0x07, "0x07 NTFS/exFAT"},
    {0x0b, "0x0b FAT32"},          {0x0c, "0x0c FAT32 (LBA)"},
    {0x0e, "0x0e FAT16 (LBA)"},    {0x27, "0x27 Windows recovery"},
    {0x82, "0x82 Linux swap"},     {0x83, "0x83 Linux"},
    {0x8e, "0x8e Linux LVM"},      {0xa5, "0xa5 FreeBSD"},
    {0xee, "0xee GPT protective"}, {0xef, "0xef EFI system"},
    {0xfd, "0xfd Linux RAID"},
};

const char *disk_part_type_name(const char *table, const char *type)
{
	if (!type)
		return "unknown";
	if (table && streq(table, "dos")) {
		char *end;
		unsigned long t = strtoul(type, &end, 16);
		for (size_t i = 0; i < ARRAY_SIZE(mbr_types); i++)
			if (mbr_types[i].type == t && !*end)
				return mbr_types[i].name;
		return type;
	}
	for (size_t i = 0; i < ARRAY_SIZE(gpt_types); i++)
		if (strcaseeq(gpt_types[i].type, type))
			return gpt_types[i].name;
	return type;
}

bool disk_fs_is_linux(const char *fstype)
{
	static const char *const linux_fs[] = {"ext2",   "ext3",     "ext4",     "xfs",
	                                       "btrfs",  "f2fs",     "jfs",      "reiserfs",
	                                       "nilfs2", "bcachefs", "squashfs", "erofs"};
	if (!fstype)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(linux_fs); i++)
		if (streq(linux_fs[i], fstype))
			return true;
	return false;
}

void disk_done(struct disk *d)
{
	for (size_t i = 0; i < d->n_parts; i++) {
		struct disk_part *p = &d->parts[i];
		free_all(p->type, p->partuuid, p->partlabel, p->fstype, p->uuid, p->label);
	}
	free(d->parts);
	free(d->table);
	disk_header_done(&d->h);
	*d = (struct disk){0};
}

static bool part_matches(const struct disk_part *p, const struct partsel *sel)
{
	switch (sel->kind) {
	case PARTSEL_NUMBER:
		return p->number == sel->number;
	case PARTSEL_PARTUUID:
		return p->partuuid && strcaseeq(p->partuuid, sel->value);
	case PARTSEL_PARTLABEL:
		return p->partlabel && streq(p->partlabel, sel->value);
	case PARTSEL_UUID:
		return p->uuid && strcaseeq(p->uuid, sel->value);
	case PARTSEL_LABEL:
		return p->label && streq(p->label, sel->value);
	case PARTSEL_AUTO:
		break;
	}
	return false;
}

#define GPT_NO_AUTO (1ULL << 63)

static int pick(const struct disk *d, bool (*want)(const struct disk_part *, const void *),
                const void *arg, size_t *ret_index, unsigned *ret_count)
{
	unsigned count = 0;
	for (size_t i = 0; i < d->n_parts; i++)
		if (want(&d->parts[i], arg)) {
			if (count++ == 0)
				*ret_index = i;
		}
	*ret_count = count;
	return count == 1 ? 0 : count ? -ENOTUNIQ : -ENOENT;
}

static bool want_sel(const struct disk_part *p, const void *arg)
{
	return part_matches(p, arg);
}

static bool want_root_type(const struct disk_part *p, const void *arg)
{
	const struct disk *d = arg;
	/* (An architecture without a root type has "", which no partition has.) */
	return d->table && streq(d->table, "gpt") && p->type &&
	       strcaseeq(p->type, disk_root_type) && !(p->flags & GPT_NO_AUTO);
}

static bool want_linux(const struct disk_part *p, const void *arg)
{
	(void)arg;
	return disk_fs_is_linux(p->fstype);
}

int disk_choose(const struct disk *d, const struct partsel *sel, size_t *ret_index, char **ret_why)
{
	unsigned count;
	*ret_why = NULL;
	if (sel->kind != PARTSEL_AUTO) {
		_cleanup_free_ char *s = partsel_to_string(sel);
		if (!d->table) {
			*ret_why = xasprintf(
			    "it holds no partition table, so there is no partition %s", s);
			return -ENOENT;
		}
		int r = pick(d, want_sel, sel, ret_index, &count);
		if (r == 0 && sel->kind == PARTSEL_NUMBER)
			*ret_why = xasprintf("it is partition %s, as asked", s);
		else if (r == 0)
			*ret_why = xasprintf("its %s%s, as asked",
			                     sel->kind == PARTSEL_UUID || sel->kind == PARTSEL_LABEL
			                         ? "file system's "
			                         : "",
			                     s);
		else if (r == -ENOENT)
			*ret_why = xasprintf("no partition is %s", s);
		else
			*ret_why = xasprintf("%u partitions match %s", count, s);
		return r;
	}
	if (!d->table) {
		*ret_index = 0;
		*ret_why =
		    xstrdup("it holds no partition table: the whole disk is the file system");
		return 0;
	}
	int r = pick(d, want_root_type, d, ret_index, &count);
	if (r == 0) {
		*ret_why = xstrdup("its GPT type is " ROOT_NAME);
		return 0;
	}
	if (r == -ENOTUNIQ) {
		*ret_why = xasprintf("%u partitions have the GPT type " ROOT_NAME, count);
		return r;
	}
	r = pick(d, want_linux, NULL, ret_index, &count);
	if (r == 0)
		*ret_why = xstrdup("it is the only partition with a Linux file system");
	else if (r == -ENOENT)
		*ret_why = xstrdup("no partition holds a Linux file system");
	else
		*ret_why = xasprintf("%u partitions hold a Linux file system and none has the GPT "
		                     "type " ROOT_NAME,
		                     count);
	return r;
}

static char *size_text(uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	unsigned u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	return u == 0 ? xasprintf("%" PRIu64 " B", bytes) : xasprintf("%.1f %s", v, units[u]);
}

char *disk_part_line(const struct disk_part *p, const char *table)
{
	_cleanup_free_ char *size = size_text(p->size);
	_cleanup_free_ char *uuid = p->uuid ? xasprintf("  UUID=%s", p->uuid) : xstrdup("");
	_cleanup_free_ char *label = p->label ? xasprintf("  LABEL=%s", p->label) : xstrdup("");
	_cleanup_free_ char *plabel =
	    p->partlabel && *p->partlabel ? xasprintf("  PARTLABEL=%s", p->partlabel) : xstrdup("");
	return xasprintf("%u  %s  %s  %s%s%s%s  PARTUUID=%s", p->number,
	                 disk_part_type_name(table, p->type), size,
	                 p->fstype ? p->fstype : "no file system", uuid, label, plabel,
	                 p->partuuid ? p->partuuid : "-");
}

/* "/vm/a.qcow2" -> "/vm/a" + ext */
static char *with_extension(const char *path, const char *ext)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t stem = dot && (!slash || dot > slash + 1) ? (size_t)(dot - path) : strlen(path);
	return xasprintf("%.*s%s", (int)stem, path, ext);
}

/* "qemu-img convert OPTS /host/IN /host/OUT" with the paths quoted for the shell. */
static char *convert_command(const char *opts, const char *in, const char *out)
{
	_cleanup_free_ char *a = xasprintf("/host%s", in), *b = xasprintf("/host%s", out);
	_cleanup_free_ char *qa = shell_quote(a), *qb = shell_quote(b);
	return xasprintf("qemu-img convert %s %s %s", opts, qa, qb);
}

char *disk_convert_advice(enum disk_format f, const char *path)
{
	_cleanup_free_ char *raw = with_extension(path, ".img");
	const char *keep_opts = NULL, *keep_ext = NULL, *keep_what = NULL;
	switch (f) {
	case DISK_VHD_DYNAMIC:
	case DISK_VHD_DIFFERENCING:
	case DISK_VHDX:
		keep_opts = "-O vpc -o subformat=fixed";
		keep_ext = "-fixed.vhd";
		keep_what = "Hyper-V and VirtualBox open";
		break;
	case DISK_VDI_DYNAMIC:
		keep_opts = "-O vdi -o static=on";
		keep_ext = "-fixed.vdi";
		keep_what = "VirtualBox opens";
		break;
	case DISK_VMDK_SPARSE:
		keep_opts = "-O vmdk -o subformat=monolithicFlat";
		keep_ext = "-flat.vmdk";
		keep_what = "VMware opens";
		break;
	default:
		break;
	}
	_cleanup_free_ char *cmd = convert_command("-O raw", path, raw);
	_cleanup_free_ char *word = cmdline_word("loop", raw);
	_cleanup_free_ char *alt = NULL;
	if (keep_opts) {
		_cleanup_free_ char *keep = with_extension(path, keep_ext);
		_cleanup_free_ char *kcmd = convert_command(keep_opts, path, keep);
		_cleanup_free_ char *kword = cmdline_word("loop", keep);
		alt = xasprintf("; or \"%s\" for a file %s, then %s", kcmd, keep_what, kword);
	}
	return xasprintf("convert it on a system with the host mounted (here at /host): \"%s\", "
	                 "then boot with %s%s",
	                 cmd, word, strempty(alt));
}

/* ---- a real file ---------------------------------------------------------------------- */

void disk_slice_done(struct disk_slice *s)
{
	disk_done(&s->disk);
	free(s->why);
	free(s->data_path);
	*s = (struct disk_slice){0};
}

static char *probe_str(blkid_probe pr, const char *name)
{
	const char *v = NULL;
	if (blkid_probe_lookup_value(pr, name, &v, NULL) == 0 && v && *v)
		return xstrdup(v);
	return NULL;
}

static void probe_part_fs(int fd, uint64_t offset, uint64_t size, struct disk_part *p)
{
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
		                                          BLKID_SUBLKS_LABEL | BLKID_SUBLKS_USAGE);
		if (blkid_do_safeprobe(pr) == 0) {
			p->fstype = probe_str(pr, "TYPE");
			p->uuid = probe_str(pr, "UUID");
			p->label = probe_str(pr, "LABEL");
		}
	}
	blkid_free_probe(pr);
}

/* The partition table at the disk's data with libblkid: 1 with d->parts, 0 without one. */
static int read_parts(int fd, struct disk *d)
{
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	int r = blkid_probe_set_device(pr, fd, (blkid_loff_t)d->h.data_offset,
	                               (blkid_loff_t)d->h.data_size);
	if (r < 0) {
		blkid_free_probe(pr);
		return -EIO;
	}
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	blkid_partlist ls = blkid_probe_get_partitions(pr);
	blkid_parttable tab = ls ? blkid_partlist_get_table(ls) : NULL;
	if (!tab) {
		blkid_free_probe(pr);
		return 0;
	}
	d->table = xstrdup(blkid_parttable_get_type(tab));
	int n = blkid_partlist_numof_partitions(ls);
	d->parts = n > 0 ? xcalloc((size_t)n, sizeof(*d->parts)) : NULL;
	for (int i = 0; i < n; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		if (!par || blkid_partition_is_extended(par))
			continue;
		blkid_loff_t start = blkid_partition_get_start(par);
		blkid_loff_t size = blkid_partition_get_size(par);
		if (start < 0 || size <= 0)
			continue;
		struct disk_part *p = &d->parts[d->n_parts++];
		p->number = (unsigned)blkid_partition_get_partno(par);
		p->start = (uint64_t)start * 512;
		p->size = (uint64_t)size * 512;
		const char *t = blkid_partition_get_type_string(par);
		p->type = t ? xstrdup(t) : xasprintf("0x%02x", blkid_partition_get_type(par));
		for (char *c = p->type; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		const char *u = blkid_partition_get_uuid(par);
		p->partuuid = u && *u ? xstrdup(u) : NULL;
		const char *name = blkid_partition_get_name(par);
		p->partlabel = name && *name ? xstrdup(name) : NULL;
		p->flags = blkid_partition_get_flags(par);
	}
	blkid_free_probe(pr);
	for (size_t i = 0; i < d->n_parts; i++) {
		struct disk_part *p = &d->parts[i];
		if (p->start >= d->h.data_size || p->size > d->h.data_size - p->start)
			continue; /* past the disk's end: nothing to probe */
		probe_part_fs(fd, d->h.data_offset + p->start, p->size, p);
	}
	return 1;
}

static int verdict_fail(struct verdict *v, enum verdict_code code, int err, const char *what,
                        const char *value, char *reason, char *todo)
{
	*v = (struct verdict){
	    .code = code, .err = err, .what = what, .value = value, .reason = reason, .todo = todo};
	return -err;
}

/* VMDK: the extent file beside the descriptor, inside the same root. */
static int open_extent(int rootfd, const char *path, const char *extent, bool writable, int *fd,
                       char **ret_path, struct verdict *v)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir =
	    slash && slash != path ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
	char *ext = xasprintf("%s/%s", dir, extent);
	int efd = open_in_root(rootfd, ext, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (efd < 0) {
		int e = errno;
		return verdict_fail(v, e == ENOENT ? VERDICT_NOT_FOUND : VERDICT_OPEN_FAILED, e,
		                    "the VMDK's extent file", ext,
		                    xasprintf("%s (the descriptor %s names it)", strerror(e), path),
		                    xstrdup(e == ENOENT ? "copy the -flat.vmdk file beside its "
		                                          "descriptor"
		                                        : "check the host file system"));
	}
	close(*fd);
	*fd = efd;
	*ret_path = ext;
	return 0;
}

int disk_resolve(int rootfd, const char *path, int *fd, bool writable, const struct partsel *sel,
                 struct disk_slice *ret, struct verdict *v)
{
	*ret = (struct disk_slice){0};
	*v = (struct verdict){.code = VERDICT_OK, .value = path};
	struct stat st;
	if (fstat(*fd, &st) < 0)
		return verdict_fail(v, VERDICT_PROBE_FAILED, errno, "reading the image", path,
		                    xstrdup(strerror(errno)),
		                    xstrdup("check the host file system"));
	uint64_t size = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode))
		return 0;
	/* A file system at the start wins: an image of one, an ISO (whose hybrid partition
	 * table would look like a disk), a squashfs. */
	_cleanup_free_ char *fs = NULL;
	if (device_probe_fd(*fd, &fs) != 0)
		return 0;
	_cleanup_free_ unsigned char *head = xmalloc(DISK_HEAD_BYTES);
	unsigned char tail[512];
	size_t n = 0, tn = 0;
	int r = read_up_to(*fd, head, DISK_HEAD_BYTES, 0, &n);
	if (r >= 0 && size >= 512)
		r = read_up_to(*fd, tail, sizeof(tail), (int64_t)(size - 512), &tn);
	if (r < 0)
		return verdict_fail(v, VERDICT_PROBE_FAILED, -r, "reading the image", path,
		                    xstrdup(strerror(-r)), xstrdup("check the host file system"));
	struct disk *d = &ret->disk;
	r = disk_header_parse(head, n, tn == 512 ? tail : NULL, size, &d->h);
	if (r < 0) {
		_cleanup_free_ char *advice = disk_convert_advice(d->h.format, path);
		return verdict_fail(
		    v, VERDICT_DISK_FORMAT, EINVAL, disk_format_name(d->h.format), path,
		    xstrdup(d->h.why),
		    xasprintf("copy the image again from where it was made, or %s", advice));
	}
	if (d->h.format == DISK_NONE) {
		disk_slice_done(ret);
		return 0;
	}
	if (!disk_format_mappable(d->h.format))
		return verdict_fail(v, VERDICT_DISK_FORMAT, EMEDIUMTYPE, "image", path,
		                    d->h.why
		                        ? xasprintf("it is a %s disk image (%s), which loopboot "
		                                    "cannot map",
		                                    disk_format_name(d->h.format), d->h.why)
		                        : xasprintf("it is a %s disk image, which loopboot "
		                                    "cannot map",
		                                    disk_format_name(d->h.format)),
		                    disk_convert_advice(d->h.format, path));
	if (d->h.format == DISK_VDI_FIXED) {
		size_t len = (size_t)d->h.vdi_blocks * 4, got = 0;
		_cleanup_free_ unsigned char *map = xmalloc(len ? len : 1);
		r = read_up_to(*fd, map, len, (int64_t)d->h.vdi_map_offset, &got);
		if (r < 0 || got != len || !disk_vdi_map_in_order(map, d->h.vdi_blocks)) {
			enum disk_format f = d->h.format;
			return verdict_fail(
			    v, VERDICT_DISK_FORMAT, EMEDIUMTYPE, "image", path,
			    xasprintf("it is a %s whose blocks are not stored in order",
			              disk_format_name(f)),
			    disk_convert_advice(DISK_VDI_DYNAMIC, path));
		}
	}
	if (d->h.format == DISK_VMDK_FLAT) {
		r = open_extent(rootfd, path, d->h.extent, writable, fd, &ret->data_path, v);
		if (r < 0)
			return r;
		struct stat est;
		if (fstat(*fd, &est) < 0 || (uint64_t)est.st_size < d->h.data_offset ||
		    (uint64_t)est.st_size - d->h.data_offset < d->h.data_size)
			return verdict_fail(
			    v, VERDICT_TRUNCATED, EFBIG, "the VMDK's extent file", ret->data_path,
			    xasprintf("the descriptor %s gives %" PRIu64 " bytes from %" PRIu64
			              " but the file is shorter",
			              path, d->h.data_size, d->h.data_offset),
			    xstrdup("copy the -flat.vmdk file again"));
	}
	r = read_parts(*fd, d);
	if (r < 0)
		return verdict_fail(v, VERDICT_PROBE_FAILED, -r, "reading the image", path,
		                    xstrdup(strerror(-r)), xstrdup("check the host file system"));
	if (r == 0 && d->h.format == DISK_RAW && sel->kind == PARTSEL_AUTO) {
		/* Neither a file system nor a partition table: not a disk image at all. */
		disk_slice_done(ret);
		return 0;
	}
	size_t idx = 0;
	r = disk_choose(d, sel, &idx, &ret->why);
	if (r < 0)
		return verdict_fail(
		    v, VERDICT_PARTITION, r == -ENOTUNIQ ? ENOTUNIQ : ENOENT, "disk image", path,
		    xasprintf("%s: %s", disk_format_name(d->h.format), ret->why),
		    xstrdup(sel->kind == PARTSEL_AUTO || r == -ENOTUNIQ
		                ? "name the root's partition with loopboot.part=N (a "
		                  "loopboot.mount= image's with part=N in its OPTIONS; PARTUUID=, "
		                  "PARTLABEL=, UUID= and LABEL= work too), from this list:"
		                : "name one of these partitions instead:"));
	if (d->table) {
		const struct disk_part *p = &d->parts[idx];
		if (p->start >= d->h.data_size || p->size > d->h.data_size - p->start)
			return verdict_fail(
			    v, VERDICT_TRUNCATED, EFBIG, "disk image", path,
			    xasprintf("its partition %u ends past the disk's end (%" PRIu64
			              " bytes)",
			              p->number, d->h.data_size),
			    xstrdup("copy the image again (was the copy interrupted?)"));
		ret->has_part = true;
		ret->index = idx;
		ret->offset = d->h.data_offset + p->start;
		ret->size = p->size;
	} else {
		ret->offset = d->h.data_offset;
		ret->size = d->h.data_size;
	}
	return 1;
}

/* The bytes of offset .. offset+size that the file has allocated (SEEK_DATA, SEEK_HOLE);
 * all of them when the file system cannot tell. */
static uint64_t allocated_in(int fd, uint64_t offset, uint64_t size)
{
	uint64_t end = offset + size, total = 0;
	off_t pos = (off_t)offset;
	while ((uint64_t)pos < end) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? total : size; /* ENXIO: only a hole is left */
		if ((uint64_t)data >= end)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return size;
		uint64_t stop = (uint64_t)hole < end ? (uint64_t)hole : end;
		total += stop - (uint64_t)data;
		pos = (off_t)stop;
	}
	return total;
}

void disk_slice_facts(int fd, const struct disk_slice *s, struct image_facts *f, char **ret_type)
{
	*ret_type = NULL;
	f->size = s->size;
	f->allocated = allocated_in(fd, s->offset, s->size);
	f->probe = device_probe_range(fd, s->offset, s->size, ret_type);
	f->type = *ret_type;
	f->fs_size_known =
	    f->probe > 0 && image_fs_geometry_at(fd, s->offset, f->type, &f->fs_size, NULL) == 0;
}

int disk_selector_unused(const struct imagepath *ip, bool for_root, struct verdict *v,
                         char **ret_value)
{
	_cleanup_free_ char *s = imagepath_to_string(ip);
	*ret_value = partsel_to_string(&ip->sel);
	return verdict_fail(v, VERDICT_PARTITION, EINVAL, "partition", *ret_value,
	                    xstrdup("no file in the path is a disk image"),
	                    xasprintf("%s holds file systems only: drop %s or name the disk "
	                              "image itself",
	                              s, for_root ? "loopboot.part=" : "part= from OPTIONS"));
}

char *disk_slice_describe(const struct disk_slice *s, const char *path)
{
	if (!s->has_part)
		return xasprintf("the %s %s", disk_format_name(s->disk.h.format), path);
	return xasprintf("partition %u of the %s %s", s->disk.parts[s->index].number,
	                 disk_format_name(s->disk.h.format), path);
}
