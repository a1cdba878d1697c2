/* SPDX-License-Identifier: GPL-2.0-or-later */
/* loopboot.mode=linear, the pure parts: extent maps, their refusals, the dm table. */
#include <fcntl.h>
#include <linux/fiemap.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"
#include "engine/dmlinear.h"
#include "engine/extents.h"
#include "test-main.h"

static const char *finish(struct extent_map *m, uint64_t size, uint64_t dev_size)
{
	const char *why = NULL;
	m->size = size;
	int r = extent_map_finish(m, dev_size, &why);
	CHECK((r == 0) == (why == NULL));
	return why;
}

TEST(merge_contiguous)
{
	struct extent_map m = {0};
	CHECK(extent_map_add(&m, 0, 1048576, 4096) == 0);
	CHECK(extent_map_add(&m, 4096, 1048576 + 4096, 8192) == 0); /* continues: merged */
	CHECK(m.n == 1 && m.v[0].length == 12288);
	CHECK(extent_map_add(&m, 12288, 4 * 1048576, 4096) == 0); /* elsewhere on disk */
	CHECK(m.n == 2);
	CHECK(extent_map_add(&m, 16384, 4 * 1048576 + 4096, 0) == 0); /* empty: ignored */
	CHECK(m.n == 2);
	/* disk-contiguous but a gap in the file: not merged (and a hole) */
	CHECK(extent_map_add(&m, 20480, 4 * 1048576 + 4096, 4096) == 0);
	CHECK(m.n == 3);
	extent_map_free(&m);
	CHECK(m.v == NULL && m.n == 0);
}

TEST(add_rejects_disorder)
{
	struct extent_map m = {0};
	CHECK(extent_map_add(&m, 8192, 0, 4096) == 0);
	CHECK(extent_map_add(&m, 4096, 65536, 4096) == -EINVAL);        /* backwards */
	CHECK(extent_map_add(&m, 10240, 65536, 4096) == -EINVAL);       /* overlaps */
	CHECK(extent_map_add(&m, UINT64_MAX - 10, 0, 4096) == -EINVAL); /* wraps */
	CHECK(m.n == 1);
	extent_map_free(&m);
}

TEST(finish_trims_last_block)
{
	struct extent_map m = {0};
	extent_map_add(&m, 0, 4096 * 100, 4096 * 3);
	extent_map_add(&m, 4096 * 3, 4096 * 500, 4096 * 2);
	extent_map_add(&m, 4096 * 5, 4096 * 900, 4096); /* wholly past the end: dropped */
	CHECK(finish(&m, 4096 * 4 + 1024, 0) == NULL);
	CHECK(m.n == 2);
	CHECK(m.v[1].length == 4096 + 1024);
	extent_map_free(&m);
}

TEST(refuse_sparse)
{
	struct extent_map m = {0};
	extent_map_add(&m, 0, 1 << 20, 4096);
	extent_map_add(&m, 8192, 2 << 20, 4096);
	const char *why = finish(&m, 12288, 0);
	CHECK(why && strstr(why, "sparse"));
	extent_map_free(&m);
	/* a hole at the start */
	extent_map_add(&m, 4096, 1 << 20, 4096);
	why = finish(&m, 8192, 0);
	CHECK(why && strstr(why, "sparse"));
	extent_map_free(&m);
	/* an unallocated end */
	extent_map_add(&m, 0, 1 << 20, 4096);
	why = finish(&m, 16384, 0);
	CHECK(why && strstr(why, "end is not allocated"));
	extent_map_free(&m);
	/* no extents at all */
	why = finish(&m, 16384, 0);
	CHECK(why && strstr(why, "sparse"));
	extent_map_free(&m);
}

TEST(refuse_alignment_and_size)
{
	struct extent_map m = {0};
	extent_map_add(&m, 0, 1000, 4096); /* physical not on a sector */
	const char *why = finish(&m, 4096, 0);
	CHECK(why && strstr(why, "512-byte sectors"));
	extent_map_free(&m);
	extent_map_add(&m, 0, 4096, 4096);
	why = finish(&m, 4000, 0); /* size not a multiple of 512 */
	CHECK(why && strstr(why, "multiple of 512"));
	extent_map_free(&m);
	why = finish(&m, 0, 0);
	CHECK(why && strstr(why, "empty"));
	extent_map_free(&m);
	/* a block size that is not a multiple of 512 would split sectors */
	extent_map_add(&m, 0, 0, 1000);
	extent_map_add(&m, 1000, 5000, 24);
	why = finish(&m, 1024, 0);
	CHECK(why && strstr(why, "512-byte sectors"));
	extent_map_free(&m);
}

TEST(refuse_past_device)
{
	struct extent_map m = {0};
	extent_map_add(&m, 0, 1 << 20, 1 << 20);
	CHECK(finish(&m, 1 << 20, 2 << 20) == NULL); /* ends exactly at the end */
	extent_map_free(&m);
	extent_map_add(&m, 0, 1 << 20, 1 << 20);
	const char *why = finish(&m, 1 << 20, (2 << 20) - 512);
	CHECK(why && strstr(why, "past the end"));
	extent_map_free(&m);
}

TEST(refuse_too_many)
{
	struct extent_map m = {0};
	for (uint64_t i = 0; i <= EXTENTS_MAX; i++)
		extent_map_add(&m, i * 4096, i * 8192, 4096); /* every other block */
	CHECK(m.n == EXTENTS_MAX + 1);
	const char *why = finish(&m, (EXTENTS_MAX + 1) * 4096ULL, 0);
	CHECK(why && strstr(why, "fragmented"));
	extent_map_free(&m);
}

TEST(fiemap_flags)
{
	CHECK(extent_fiemap_flags_refusal(0) == NULL);
	CHECK(extent_fiemap_flags_refusal(FIEMAP_EXTENT_LAST) == NULL);
	CHECK(extent_fiemap_flags_refusal(FIEMAP_EXTENT_MERGED | FIEMAP_EXTENT_LAST) == NULL);
	const char *w;
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_UNWRITTEN);
	CHECK(w && strstr(w, "preallocated"));
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_LAST);
	CHECK(w && strstr(w, "compressed"));
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_DATA_ENCRYPTED | FIEMAP_EXTENT_ENCODED);
	CHECK(w && strstr(w, "encrypted"));
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED);
	CHECK(w && strstr(w, "resident"));
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_DATA_TAIL);
	CHECK(w && strstr(w, "resident"));
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_NOT_ALIGNED);
	CHECK(w && strstr(w, "aligned"));
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_UNKNOWN);
	CHECK(w && strstr(w, "does not say"));
	w = extent_fiemap_flags_refusal(FIEMAP_EXTENT_DELALLOC);
	CHECK(w && strstr(w, "does not say"));
	w = extent_fiemap_flags_refusal(0x2000); /* FIEMAP_EXTENT_SHARED */
	CHECK(w && strstr(w, "shares blocks"));
}

TEST(table_text)
{
	struct extent_map m = {0};
	extent_map_add(&m, 0, 1048576, 8192);
	extent_map_add(&m, 8192, 1048576 + 8192, 4096); /* merged */
	extent_map_add(&m, 12288, 40960, 4096);
	CHECK(finish(&m, 16384, 0) == NULL);
	char *t = extent_map_table_text(&m, 254, 17);
	CHECK_STREQ(t, "0 24 linear 254:17 2048\n"
	               "24 8 linear 254:17 80\n");
	free(t);
	extent_map_free(&m);
	t = extent_map_table_text(&m, 8, 1);
	CHECK_STREQ(t, "");
	free(t);
}

TEST(host_types)
{
	CHECK(extent_host_type_refusal("ext4") == NULL);
	CHECK(extent_host_type_refusal("vfat") == NULL);
	CHECK(extent_host_type_refusal("ntfs") == NULL);
	CHECK(extent_host_type_refusal("xfs") == NULL);
	const char *w = extent_host_type_refusal("btrfs");
	CHECK(w && strstr(w, "btrfs"));
	CHECK(extent_host_type_refusal("iso9660") != NULL);
	CHECK(extent_host_type_refusal("squashfs") != NULL);
	CHECK(extent_host_type_refusal(NULL) != NULL);
}

TEST(dm_names)
{
	char *n = dmlinear_name_for("root", "/whatever");
	CHECK_STREQ(n, "loopboot-root");
	free(n);
	n = dmlinear_name_for("mount", "/home");
	CHECK_STREQ(n, "loopboot-home");
	free(n);
	n = dmlinear_name_for("mount", "/srv/data");
	CHECK_STREQ(n, "loopboot-srv-data");
	free(n);
	n = dmlinear_name_for("mount", "/srv-data");
	CHECK_STREQ(n, "loopboot-srv--data");
	free(n);
	char longt[400];
	memset(longt, 'a', sizeof(longt) - 1);
	longt[0] = '/';
	longt[sizeof(longt) - 1] = '\0';
	n = dmlinear_name_for("mount", longt);
	CHECK(strlen(n) < 128);
	free(n);
}

/* On a real file of this machine: FIEMAP when the file system has it (tmpfs does not). */
TEST(fiemap_real_file)
{
	char path[] = "/var/tmp/lb-dmlinear-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(path);
	char buf[65536];
	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < 4; i++)
		CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	struct extent_map m;
	const char *why = NULL;
	int r = extents_from_fiemap(fd, 0, &m, &why);
	if (r == -EOPNOTSUPP) {
		printf("# FIEMAP not supported on /var/tmp here: %s\n", why);
		close(fd);
		return;
	}
	if (r < 0)
		printf("# extents_from_fiemap: %d %s\n", r, why ? why : "");
	CHECK(r == 0);
	if (r == 0) {
		CHECK(m.size == 4 * sizeof(buf));
		CHECK(m.n >= 1);
		uint64_t sum = 0;
		for (size_t i = 0; i < m.n; i++)
			sum += m.v[i].length;
		CHECK(sum == m.size);
		extent_map_free(&m);
	}
	/* a hole: sparse, refused */
	CHECK(ftruncate(fd, 16 << 20) == 0);
	CHECK(pwrite(fd, buf, sizeof(buf), 8 << 20) == (ssize_t)sizeof(buf));
	r = extents_from_fiemap(fd, 0, &m, &why);
	CHECK(r == -EINVAL);
	CHECK(why && strstr(why, "sparse"));
	close(fd);
}

TEST(ntfs_without_library_or_device)
{
	struct extent_map m;
	const char *why = NULL;
	int r = extents_from_ntfs("/nonexistent/device", "/linux/root.img", 0, 0, &m, &why);
	CHECK(r < 0);
	CHECK(why != NULL);
	CHECK(m.v == NULL);
	if (!extents_have_ntfs())
		CHECK(r == -ENOTSUP);
}

TEST(fat_boot_sector)
{
	unsigned char b[512] = {0};
	CHECK(extent_fat_cluster_bytes(b) == 0); /* no signature */
	b[510] = 0x55;
	b[511] = 0xaa;
	b[11] = 0x00; /* 512 bytes per sector */
	b[12] = 0x02;
	b[13] = 8; /* 8 sectors per cluster */
	CHECK(extent_fat_cluster_bytes(b) == 4096);
	b[13] = 64;
	CHECK(extent_fat_cluster_bytes(b) == 32768);
	b[13] = 3; /* not a power of two */
	CHECK(extent_fat_cluster_bytes(b) == 0);
	b[13] = 0;
	CHECK(extent_fat_cluster_bytes(b) == 0);
	b[13] = 1;
	b[12] = 0x03; /* 768 bytes per sector */
	CHECK(extent_fat_cluster_bytes(b) == 0);
	b[12] = 0x10; /* 4096 */
	CHECK(extent_fat_cluster_bytes(b) == 4096);
}
