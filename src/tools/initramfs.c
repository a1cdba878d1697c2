/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/initramfs.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/process.h"
#include "basic/util.h"
#include "initrd/cpio.h"

/* The files each framework's loopboot integration puts into its initramfs. */
static const struct initramfs_hook hooks[] = {
    {"initramfs-tools", "scripts/loopboot"},
    {"dracut", "usr/lib/loopboot/dracut-root"},
    {"mkinitcpio", "hooks/loopboot"},
};

static const struct {
	const char *program;
	unsigned char magic[6];
	size_t len;
} compressions[] = {
    {"gzip", {0x1f, 0x8b}, 2},
    {"gzip", {0x1f, 0x9e}, 2},
    {"zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4},
    {"xz", {0xfd, '7', 'z', 'X', 'Z', 0}, 6},
    {"lzma", {0x5d, 0, 0}, 3},
    {"bzip2", {'B', 'Z', 'h'}, 3},
    {"lz4", {0x02, 0x21, 0x4c, 0x18}, 4},
    {"lzop", {0x89, 'L', 'Z', 'O'}, 4},
};

const char *initramfs_compression(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(compressions); i++)
		if (len >= compressions[i].len &&
		    !memcmp(p, compressions[i].magic, compressions[i].len))
			return compressions[i].program;
	return NULL;
}

/* Where the integrations put the binary: a hook without it cannot mount anything. */
static const char *const binaries[] = {"usr/sbin/loopboot", "usr/bin/loopboot", "sbin/loopboot",
                                       "bin/loopboot"};

struct seen {
	const struct initramfs_hook *hook;
	bool binary;
};

static int match_hook(const char *name, void *userdata)
{
	struct seen *seen = userdata;
	if (name[0] == '.' && name[1] == '/')
		name += 2;
	for (size_t i = 0; i < ARRAY_SIZE(hooks); i++)
		if (streq(name, hooks[i].marker))
			seen->hook = &hooks[i];
	for (size_t i = 0; i < ARRAY_SIZE(binaries); i++)
		if (streq(name, binaries[i]))
			seen->binary = true;
	return seen->hook && seen->binary ? 1 : 0;
}

/* Reads names from a mapping of the whole file at fd; 1 when a hook was found. */
static int scan_mapped(int fd, size_t len, struct seen *found, size_t *ret_end)
{
	if (len == 0) {
		*ret_end = 0;
		return 0;
	}
	void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	int r = cpio_read_names(m, len, match_hook, found, ret_end);
	munmap(m, len);
	return r;
}

/* The compressed archive at offset off of fd, decompressed into a memory file: its
 * descriptor, or -errno. What follows the stream (zero padding) may make the program
 * complain: what it wrote is read all the same. */
static int decompress(int fd, off_t off, const char *program, size_t *ret_len)
{
	_cleanup_free_ char *path = find_program(program, PROGRAM_SEARCH_PATH);
	if (!path)
		return -ENOENT;
	int out = memfd_create("loopboot-initramfs", MFD_CLOEXEC);
	if (out < 0)
		return -errno;
	struct stat st;
	if (lseek(fd, off, SEEK_SET) < 0) {
		int r = -errno;
		close(out);
		return r;
	}
	char *argv[] = {path, "-d", "-c", "-q", NULL};
	const struct process_options o = {
	    .stdio = {STDIO_FD(fd), STDIO_FD(out), STDIO_NULL},
	};
	(void)process_run(NULL, argv, &o, NULL);
	if (fstat(out, &st) < 0) {
		int r = -errno;
		close(out);
		return r;
	}
	*ret_len = (size_t)st.st_size;
	return out;
}

int initramfs_find_hook(int fd, const struct initramfs_hook **ret, const char **ret_program)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 6)
		return -EBADMSG;
	struct seen found = {0};
	size_t end = 0;
	int r = scan_mapped(fd, (size_t)st.st_size, &found, &end);
	if (r == 1) {
		*ret = found.hook;
		return 1;
	}
	if (r < 0 || end >= (size_t)st.st_size)
		return r < 0 ? r : 0;
	unsigned char head[8] = {0};
	ssize_t n = pread(fd, head, sizeof(head), (off_t)end);
	const char *program = n > 0 ? initramfs_compression(head, (size_t)n) : NULL;
	if (!program)
		return end == 0 ? -EBADMSG : 0;
	*ret_program = program;
	size_t len = 0;
	int out = decompress(fd, (off_t)end, program, &len);
	if (out < 0)
		return out;
	size_t inner_end;
	r = scan_mapped(out, len, &found, &inner_end);
	close(out);
	if (r == 1)
		*ret = found.hook;
	/* A stream cut short still tells what it held before the cut. */
	return r == 1 ? 1 : r == -EBADMSG && len > 0 ? 0 : r;
}
