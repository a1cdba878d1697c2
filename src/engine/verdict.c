/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/verdict.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/util.h"
#include "engine/device.h"
#include "engine/hoststate.h"

void image_facts_read(int fd, struct image_facts *f, char **ret_type)
{
	struct stat st;
	*ret_type = NULL;
	if (fd < 0 || fstat(fd, &st) < 0) {
		f->open_errno = errno;
		return;
	}
	f->mode = st.st_mode;
	f->size = (uint64_t)st.st_size;
	f->allocated = (uint64_t)st.st_blocks * 512;
	if (!S_ISREG(st.st_mode))
		return;
	f->probe = device_probe_fd(fd, ret_type);
	f->type = *ret_type;
	f->fs_size_known = f->probe > 0 && image_fs_size(fd, f->type, &f->fs_size) == 0;
}

bool verdict_type_matches(const char *wanted, const char *found)
{
	if (streq(wanted, found))
		return true;
	/* The ext4 driver mounts ext2 and ext3 too. */
	return streq(wanted, "ext4") && (streq(found, "ext2") || streq(found, "ext3"));
}

static int fail(struct verdict *v, enum verdict_code code, int err, const char *what,
                const char *value, char *reason, char *todo)
{
	*v = (struct verdict){
	    .code = code, .err = err, .what = what, .value = value, .reason = reason, .todo = todo};
	return -err;
}

static int judge_open(const struct image_facts *f, struct verdict *v)
{
	int e = f->open_errno;
	if (e == ENOENT || e == ENOTDIR)
		return fail(v, VERDICT_NOT_FOUND, ENOENT, "image file not found", f->path,
		            xasprintf("no such file on %s", f->where),
		            xstrdup("check loop= or loopboot.mount= (paths are case-sensitive on "
		                    "Linux file systems)"));
	if (e == EISDIR)
		return fail(v, VERDICT_DIRECTORY, EISDIR, "image file", f->path,
		            xstrdup("it is a directory, not a file"),
		            xstrdup("name the image file itself"));
	if (f->for_writing && (e == EROFS || e == EACCES || e == EPERM))
		return fail(v, VERDICT_READ_ONLY, e, "opening the image for writing", f->path,
		            xstrdup(strerror(e)),
		            xasprintf("boot with ro, or make the file writable (%s)", f->where));
	return fail(v, VERDICT_OPEN_FAILED, e, "opening the image", f->path, xstrdup(strerror(e)),
	            xasprintf("check the host file system (%s)", f->where));
}

static int judge_probe(const struct image_facts *f, struct verdict *v)
{
	switch (f->probe) {
	case -EUCLEAN:
		return fail(v, VERDICT_TWO_SIGNATURES, EUCLEAN, "image", f->path,
		            xstrdup("it carries signatures of two file systems"),
		            xstrdup("wipe the stale one (wipefs) or set loopfstype="));
	case -EMEDIUMTYPE:
		return fail(
		    v, VERDICT_NOT_A_FILE_SYSTEM, EMEDIUMTYPE, "image", f->path,
		    xstrdup("it is not a file system"),
		    xasprintf("point at a file system image (it holds %s)", strempty(f->type)));
	case 0:
		return fail(v, VERDICT_NO_FILE_SYSTEM, EMEDIUMTYPE, "image", f->path,
		            xstrdup("no file system found in it"),
		            xstrdup("check the path, or make a file system in the image (e.g. "
		                    "mkfs.ext4)"));
	default:
		return fail(v, VERDICT_PROBE_FAILED, -f->probe, "reading the image", f->path,
		            xstrdup(strerror(-f->probe)), xstrdup("check the host file system"));
	}
}

int image_verdict(const struct image_facts *f, struct verdict *ret)
{
	*ret = (struct verdict){.code = VERDICT_OK, .value = f->path};
	if (f->open_errno)
		return judge_open(f, ret);
	if (S_ISDIR(f->mode))
		return fail(ret, VERDICT_DIRECTORY, EISDIR, "image file", f->path,
		            xstrdup("it is a directory, not a file"),
		            xstrdup("name the image file itself"));
	if (!S_ISREG(f->mode))
		return fail(ret, VERDICT_NOT_REGULAR, EINVAL, "image file", f->path,
		            xstrdup("not a regular file"), xstrdup("name an image file"));
	if (f->probe <= 0 || !f->type)
		return judge_probe(f, ret);
	if (f->wanted && !verdict_type_matches(f->wanted, f->type))
		return fail(
		    ret, VERDICT_TYPE_MISMATCH, EMEDIUMTYPE, "image", f->path,
		    xstrdup("its file system does not match"),
		    xasprintf("it holds %s; fix loopfstype=%s or drop it", f->type, f->wanted));
	if (f->fs_size_known && f->size < f->fs_size)
		return fail(
		    ret, VERDICT_TRUNCATED, EFBIG, "image", f->path, xstrdup("it is truncated"),
		    xasprintf("the file holds %llu bytes, its %s file system %llu: copy the "
		              "image again (was the copy interrupted, or is the host FAT32 "
		              "with its 4 GiB file limit?)",
		              (unsigned long long)f->size, f->type,
		              (unsigned long long)f->fs_size));
	return 0;
}

void verdict_done(struct verdict *v)
{
	free(v->reason);
	free(v->todo);
	*v = (struct verdict){0};
}
