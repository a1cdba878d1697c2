/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A disk image's container is read from a file anyone may have put on the host: a VHD
 * footer, a VDI header, a VMDK descriptor. Parsing it must take any bytes without crashing
 * or reading out of bounds, and what it accepts must describe bytes inside the file.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size < DISK_HEAD_BYTES ? size : DISK_HEAD_BYTES;
	const unsigned char *tail = size >= 512 ? data + size - 512 : NULL;
	struct disk_header h;
	int r = disk_header_parse(data, n, tail, size, &h);
	if (r < 0) {
		assert(r == -EINVAL && h.why && *h.why);
	} else if (h.format == DISK_VHD_FIXED || h.format == DISK_VDI_FIXED ||
	           h.format == DISK_RAW) {
		assert(h.data_offset <= size && h.data_size <= size - h.data_offset);
	} else if (h.format == DISK_VMDK_FLAT) {
		/* The bytes are in another file, named plainly beside the descriptor. */
		assert(h.extent && *h.extent && !strchr(h.extent, '/'));
	}
	if (r == 0 && !disk_format_mappable(h.format) && h.format != DISK_NONE) {
		char *advice = disk_convert_advice(h.format, "/vm/disk.vhd");
		assert(advice && strstr(advice, "qemu-img convert"));
		free(advice);
	}
	disk_header_done(&h);
	return 0;
}
