/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"
#include "cpio-read.h"
#include "initrd/cpio.h"
#include "tools/initramfs.h"
#include "test-main.h"

/* An in-memory file the writer writes to, read back whole. */
static int mem_open(void)
{
	return memfd_create("cpio-test", MFD_CLOEXEC);
}

static unsigned char *mem_read(int fd, size_t *ret_len)
{
	off_t len = lseek(fd, 0, SEEK_END);
	unsigned char *buf = xmalloc((size_t)len + 1);
	CHECK(pread(fd, buf, (size_t)len, 0) == len);
	*ret_len = (size_t)len;
	return buf;
}

TEST(header_layout)
{
	_cleanup_close_ int fd = mem_open();
	struct cpio c;
	cpio_init(&c, fd, 0x12345678);
	CHECK(cpio_add_dir(&c, "usr", 0755) == 0);
	CHECK(cpio_finish(&c) == 0);
	size_t len;
	_cleanup_free_ unsigned char *buf = mem_read(fd, &len);
	/* magic, ino 1, mode 040755, uid 0, gid 0, nlink 2, mtime, size 0, dev 0:0, rdev
	 * 0:0, namesize 4 ("usr\0"), check 0; then the name and padding to 4. */
	static const char want[] = "070701"
	                           "00000001"
	                           "000041ED"
	                           "00000000"
	                           "00000000"
	                           "00000002"
	                           "12345678"
	                           "00000000"
	                           "00000000"
	                           "00000000"
	                           "00000000"
	                           "00000000"
	                           "00000004"
	                           "00000000"
	                           "usr\0"
	                           "\0\0";
	CHECK(len >= sizeof(want) - 1);
	CHECK(memcmp(buf, want, sizeof(want) - 1) == 0);
	/* The trailer follows at 116: inode 0, nlink 1, its name, and the end aligned. */
	CHECK(memcmp(buf + 116, "07070100000000", 14) == 0);
	CHECK(memcmp(buf + 116 + 110, "TRAILER!!!", 11) == 0);
	CHECK(len == 116 + 124); /* trailer: 110 + 11 = 121, padded to 124 */
	CHECK(len % 4 == 0);
	CHECK(c.written == len);
}

TEST(padding)
{
	_cleanup_close_ int fd = mem_open();
	struct cpio c;
	cpio_init(&c, fd, 0);
	/* header 110 + "ab\0" = 113, padded to 116; data 3 bytes, padded to 120. */
	CHECK(cpio_add_data(&c, "ab", 0644, "xyz", 3) == 0);
	CHECK(c.written == 120);
	/* header 110 + "abcd\0" = 115 -> 116; 4 bytes of data need no padding. */
	CHECK(cpio_add_data(&c, "abcd", 0644, "1234", 4) == 0);
	CHECK(c.written == 120 + 116 + 4);
	CHECK(cpio_finish(&c) == 0);
	size_t len;
	_cleanup_free_ unsigned char *buf = mem_read(fd, &len);
	CHECK(len % 4 == 0);
	CHECK(memcmp(buf + 116, "xyz\0", 4) == 0);
	CHECK(memcmp(buf + 120 + 110, "abcd\0\0", 6) == 0);
	struct cpio_ent e[4];
	CHECK(cpio_parse(buf, len, e, 4) == 2);
}

TEST(round_trip)
{
	_cleanup_close_ int fd = mem_open();
	_cleanup_close_ int src = mem_open();
	CHECK(write(src, "hello, world\n", 13) == 13);
	CHECK(lseek(src, 0, SEEK_SET) == 0);

	struct cpio c;
	cpio_init(&c, fd, 7);
	CHECK(cpio_add_dir(&c, "dev", 0755) == 0);
	CHECK(cpio_add_device(&c, "dev/console", S_IFCHR, 0600, 5, 1) == 0);
	CHECK(cpio_add_device(&c, "dev/sda", S_IFBLK, 0660, 8, 0) == 0);
	CHECK(cpio_add_fd(&c, "init", 0755, src, 13) == 0);
	CHECK(cpio_add_symlink(&c, "lib", "usr/lib") == 0);
	CHECK(cpio_add_data(&c, "empty", 0644, "", 0) == 0);
	CHECK(cpio_finish(&c) == 0);

	size_t len;
	_cleanup_free_ unsigned char *buf = mem_read(fd, &len);
	struct cpio_ent e[8];
	int n = cpio_parse(buf, len, e, 8);
	CHECK(n == 6);
	if (n != 6)
		return;
	CHECK_STREQ(e[0].name, "dev");
	CHECK(e[0].mode == (S_IFDIR | 0755) && e[0].nlink == 2);
	CHECK_STREQ(e[1].name, "dev/console");
	CHECK(e[1].mode == (S_IFCHR | 0600) && e[1].rmajor == 5 && e[1].rminor == 1);
	CHECK(e[2].mode == (S_IFBLK | 0660) && e[2].rmajor == 8 && e[2].rminor == 0);
	CHECK_STREQ(e[3].name, "init");
	CHECK(e[3].mode == (S_IFREG | 0755) && e[3].size == 13 && e[3].nlink == 1);
	CHECK(memcmp(e[3].data, "hello, world\n", 13) == 0);
	CHECK_STREQ(e[4].name, "lib");
	CHECK(e[4].mode == (S_IFLNK | 0777) && e[4].size == 7);
	CHECK(memcmp(e[4].data, "usr/lib", 7) == 0);
	CHECK(e[5].size == 0);
	for (int i = 0; i < n; i++) {
		CHECK(e[i].ino == (uint32_t)i + 1); /* fixed numbering: 1, 2, 3, ... */
		CHECK(e[i].uid == 0 && e[i].gid == 0);
		CHECK(e[i].mtime == 7);
	}
}

/* One archive at fd's offset, all of it dated mtime: the directory dir (0755), then file
 * (0644) holding data. */
static void write_dir_and_file(int fd, uint32_t mtime, const char *dir, const char *file,
                               const char *data)
{
	struct cpio c;
	cpio_init(&c, fd, mtime);
	CHECK(cpio_add_dir(&c, dir, 0755) == 0);
	CHECK(cpio_add_data(&c, file, 0644, data, strlen(data)) == 0);
	CHECK(cpio_finish(&c) == 0);
}

TEST(same_input_same_bytes)
{
	unsigned char *out[2];
	size_t len[2];
	for (int k = 0; k < 2; k++) {
		_cleanup_close_ int fd = mem_open();
		write_dir_and_file(fd, 0, "a", "a/b", "data");
		out[k] = mem_read(fd, &len[k]);
	}
	CHECK(len[0] == len[1] && memcmp(out[0], out[1], len[0]) == 0);
	free(out[0]);
	free(out[1]);
}

TEST(large_file_crosses_buffer)
{
	/* More than the 64 KiB write buffer, in an odd size. */
	size_t size = 200001;
	_cleanup_free_ unsigned char *data = xmalloc(size);
	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	_cleanup_close_ int src = mem_open();
	CHECK(write(src, data, size) == (ssize_t)size);
	CHECK(lseek(src, 0, SEEK_SET) == 0);
	_cleanup_close_ int fd = mem_open();
	struct cpio c;
	cpio_init(&c, fd, 0);
	CHECK(cpio_add_fd(&c, "big", 0644, src, size) == 0);
	CHECK(cpio_finish(&c) == 0);
	size_t len;
	_cleanup_free_ unsigned char *buf = mem_read(fd, &len);
	struct cpio_ent e[2];
	CHECK(cpio_parse(buf, len, e, 2) == 1);
	CHECK(e[0].size == size && memcmp(e[0].data, data, size) == 0);
}

TEST(file_that_shrank)
{
	_cleanup_close_ int src = mem_open();
	CHECK(write(src, "abc", 3) == 3);
	CHECK(lseek(src, 0, SEEK_SET) == 0);
	_cleanup_close_ int fd = mem_open();
	struct cpio c;
	cpio_init(&c, fd, 0);
	CHECK(cpio_add_fd(&c, "f", 0644, src, 10) == -EIO);
}

TEST(bad_paths)
{
	CHECK_EACH(cpio_path_valid, "a", "usr/lib/x.so", "..a/b.");
	CHECK_NONE(cpio_path_valid, "", "/abs", "a//b", "a/", "a/./b", "../x", "a/..", NULL);

	_cleanup_close_ int fd = mem_open();
	struct cpio c;
	cpio_init(&c, fd, 0);
	CHECK(cpio_add_dir(&c, "/x", 0755) == -EINVAL);
	CHECK(cpio_add_symlink(&c, "x", "") == -EINVAL);
	CHECK(cpio_add_device(&c, "x", S_IFREG, 0644, 1, 1) == -EINVAL);
	CHECK(c.written == 0);
}

TEST(write_error)
{
	struct cpio c;
	cpio_init(&c, -1, 0);
	CHECK(cpio_add_dir(&c, "a", 0755) == 0); /* buffered */
	CHECK(cpio_finish(&c) == -EBADF);
}

/* ---- the reader (loopboot check looks into an image's own initramfs with it) ------------ */

struct names {
	char v[8][64];
	int n;
	const char *stop_at;
};

static int collect(const char *name, void *userdata)
{
	struct names *ns = userdata;
	if (ns->n < 8)
		snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", name);
	return ns->stop_at && streq(name, ns->stop_at) ? 7 : 0;
}

static unsigned char *two_archives(size_t *ret_len, size_t *ret_first_end)
{
	_cleanup_close_ int fd = mem_open();
	write_dir_and_file(fd, 1, "kernel", "kernel/x86/microcode/GenuineIntel.bin", "ucode");
	/* initramfs-tools pads the early archive with zeros to a 512-byte boundary. */
	off_t end = lseek(fd, 0, SEEK_END);
	static const char zeros[512];
	CHECK(write(fd, zeros, (size_t)(512 - end % 512)) > 0);
	struct cpio c;
	cpio_init(&c, fd, 1);
	CHECK(cpio_add_data(&c, "scripts/loopboot", 0644, "#!/bin/sh\n", 10) == 0);
	CHECK(cpio_finish(&c) == 0);
	*ret_first_end = (size_t)lseek(fd, 0, SEEK_END);
	static const unsigned char zstd[] = {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4};
	CHECK(write(fd, zstd, sizeof(zstd)) == (ssize_t)sizeof(zstd));
	return mem_read(fd, ret_len);
}

TEST(read_names_across_archives)
{
	size_t len, archives_end;
	_cleanup_free_ unsigned char *buf = two_archives(&len, &archives_end);
	struct names ns = {0};
	size_t end = 0;
	CHECK(cpio_read_names(buf, len, collect, &ns, &end) == 0);
	CHECK(ns.n == 3);
	CHECK_STREQ(ns.v[0], "kernel");
	CHECK_STREQ(ns.v[1], "kernel/x86/microcode/GenuineIntel.bin");
	CHECK_STREQ(ns.v[2], "scripts/loopboot");
	CHECK(end == archives_end); /* where the compressed archive begins */
	CHECK_STREQ(initramfs_compression(buf + end, len - end), "zstd");

	/* fn's nonzero return stops the reading and is returned */
	struct names stop = {.stop_at = "kernel"};
	CHECK(cpio_read_names(buf, len, collect, &stop, &end) == 7);
	CHECK(stop.n == 1);
}

TEST(read_names_refuses_damage)
{
	size_t len, archives_end;
	_cleanup_free_ unsigned char *buf = two_archives(&len, &archives_end);
	struct names ns = {0};
	size_t end;
	/* cut inside the first header, inside a name, inside data */
	CHECK(cpio_read_names(buf, 50, collect, &ns, &end) == -EBADMSG);
	CHECK(cpio_read_names(buf, 115, collect, &ns, &end) == -EBADMSG);
	CHECK(cpio_read_names(buf, 230, collect, &ns, &end) == -EBADMSG);
	/* a name size that is not hex */
	buf[94] = 'x';
	CHECK(cpio_read_names(buf, len, collect, &ns, &end) == -EBADMSG);
	/* not an archive at all: nothing read, the data begins at 0 */
	static const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
	struct names none = {0};
	CHECK(cpio_read_names(gz, sizeof(gz), collect, &none, &end) == 0);
	CHECK(none.n == 0 && end == 0);
	CHECK_STREQ(initramfs_compression(gz, sizeof(gz)), "gzip");
	CHECK(initramfs_compression((const unsigned char *)"hello", 5) == NULL);
}
