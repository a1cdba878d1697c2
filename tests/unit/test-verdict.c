/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict on an image: one table of what is found and what is said. */
#include <sys/stat.h>

#include "basic/util.h"
#include "engine/verdict.h"
#include "test-main.h"

#define FILE_MODE (S_IFREG | 0644)
/* An ext4 image of size bytes whose file system claims fs_size. */
#define EXT4_SIZES(sz, fs)                                                                         \
	{                                                                                          \
		.mode = FILE_MODE, .probe = 1, .type = "ext4", .size = (sz),                       \
		.fs_size_known = true, .fs_size = (fs)                                             \
	}

TEST(verdict_table)
{
	static const struct {
		struct image_facts f;
		enum verdict_code code;
		int err;
		const char *line; /* "what: value: reason — todo", or a prefix of it */
	} cases[] = {
	    {{.open_errno = ENOENT},
	     VERDICT_NOT_FOUND,
	     ENOENT,
	     "image file not found: /linux/root.img: no such file on the host UUID=0A — check "
	     "loop= or loopboot.mount= (paths are case-sensitive on Linux file systems)"},
	    {{.open_errno = ENOTDIR}, VERDICT_NOT_FOUND, ENOENT, "image file not found: "},
	    {{.open_errno = EISDIR},
	     VERDICT_DIRECTORY,
	     EISDIR,
	     "image file: /linux/root.img: it is a directory, not a file — name the image file "
	     "itself"},
	    {{.mode = S_IFDIR | 0755}, VERDICT_DIRECTORY, EISDIR, "image file: /linux/root.img: "},
	    {{.mode = S_IFCHR | 0600},
	     VERDICT_NOT_REGULAR,
	     EINVAL,
	     "image file: /linux/root.img: not a regular file — name an image file"},
	    {{.open_errno = EROFS, .for_writing = true},
	     VERDICT_READ_ONLY,
	     EROFS,
	     "opening the image for writing: /linux/root.img: Read-only file system — boot with "
	     "ro, or make the file writable (the host UUID=0A)"},
	    {{.open_errno = EACCES, .for_writing = true},
	     VERDICT_READ_ONLY,
	     EACCES,
	     "opening the "},
	    {{.open_errno = EACCES},
	     VERDICT_OPEN_FAILED,
	     EACCES,
	     "opening the image: /linux/root.img: Permission denied — check the host file system "
	     "(the host UUID=0A)"},
	    {{.open_errno = EIO}, VERDICT_OPEN_FAILED, EIO, "opening the image: /linux/root.img: "},
	    {{.mode = FILE_MODE, .probe = -EUCLEAN},
	     VERDICT_TWO_SIGNATURES,
	     EUCLEAN,
	     "image: /linux/root.img: it carries signatures of two file systems — wipe the stale "
	     "one (wipefs) or set loopfstype="},
	    {{.mode = FILE_MODE, .probe = -EMEDIUMTYPE, .type = "gpt"},
	     VERDICT_NOT_A_FILE_SYSTEM,
	     EMEDIUMTYPE,
	     "image: /linux/root.img: it is not a file system — point at a file system image (it "
	     "holds gpt)"},
	    {{.mode = FILE_MODE, .probe = 0},
	     VERDICT_NO_FILE_SYSTEM,
	     EMEDIUMTYPE,
	     "image: /linux/root.img: no file system found in it — check the path, or make a "
	     "file system in the image (e.g. mkfs.ext4)"},
	    {{.mode = FILE_MODE, .probe = -EIO},
	     VERDICT_PROBE_FAILED,
	     EIO,
	     "reading the image: /linux/root.img: Input/output error — check the host file "
	     "system"},
	    {{.mode = FILE_MODE, .probe = 1, .type = "ext4", .wanted = "xfs"},
	     VERDICT_TYPE_MISMATCH,
	     EMEDIUMTYPE,
	     "image: /linux/root.img: its file system does not match — it holds ext4; fix "
	     "loopfstype=xfs or drop it"},
	    {{.mode = FILE_MODE, .probe = 1, .type = "ext3", .wanted = "ext4"},
	     VERDICT_OK,
	     0,
	     NULL},
	    {{.mode = FILE_MODE, .probe = 1, .type = "ext4", .wanted = "ext3"},
	     VERDICT_TYPE_MISMATCH,
	     EMEDIUMTYPE,
	     "image: /linux/root.img: its file system"},
	    {EXT4_SIZES(16 << 20, 40 << 20), VERDICT_TRUNCATED, EFBIG,
	     "image: /linux/root.img: it is truncated — the file holds 16777216 bytes, its ext4 "
	     "file system 41943040: copy the image again (was the copy interrupted, or is the "
	     "host FAT32 with its 4 GiB file limit?)"},
	    /* Larger than its file system (space left to grow into): fine. */
	    {EXT4_SIZES(64 << 20, 40 << 20), VERDICT_OK, 0, NULL},
	    {{.mode = FILE_MODE, .probe = 1, .type = "squashfs", .size = 1}, VERDICT_OK, 0, NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct image_facts f = cases[i].f;
		f.path = "/linux/root.img";
		f.where = "the host UUID=0A";
		struct verdict v;
		int r = image_verdict(&f, &v);
		char *line =
		    v.what ? xasprintf("%s: %s: %s — %s", v.what, v.value, v.reason, v.todo) : NULL;
		bool ok = r == -cases[i].err && v.code == cases[i].code && v.err == cases[i].err &&
		          (cases[i].line ? line && startswith(line, cases[i].line) : !line);
		if (!ok)
			printf("# case %zu: r=%d code=%d line=%s\n", i, r, v.code,
			       line ? line : "(none)");
		CHECK(ok);
		free(line);
		verdict_done(&v);
	}
}

TEST(type_matches)
{
	CHECK(verdict_type_matches("ext4", "ext4"));
	CHECK(verdict_type_matches("ext4", "ext2"));
	CHECK(verdict_type_matches("ext4", "ext3"));
	CHECK(!verdict_type_matches("ext2", "ext4"));
	CHECK(!verdict_type_matches("xfs", "ext4"));
	CHECK(verdict_type_matches("vfat", "vfat"));
}
