/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/create.h"

#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/process.h"
#include "basic/util.h"
#include "engine/device.h"
#include "tools/allocate.h"
#include "tools/check.h"
#include "tools/cli.h"

#define ALIGN 4096ULL

int create_parse_size(const char *s, uint64_t *ret, const char **ret_why)
{
	if (!s || !isdigit((unsigned char)*s)) {
		*ret_why = "a size is digits with an optional K, M, G or T suffix, e.g. 8G";
		return -EINVAL;
	}
	uint64_t n = 0;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10) {
			*ret_why = "the size is too large";
			return -ERANGE;
		}
		n = n * 10 + d;
	}
	unsigned shift = 0;
	switch (toupper((unsigned char)*s)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		*ret_why = "unknown suffix: use K, M, G or T (powers of 1024), e.g. 8G";
		return -EINVAL;
	}
	if (*s) {
		s++;
		/* "8G", "8GiB", "8GB", "8g" all mean 8 * 1024^3. */
		if (*s == 'i' || *s == 'I')
			s++;
		if (*s == 'B' || *s == 'b')
			s++;
		if (*s) {
			*ret_why = "unknown suffix: use K, M, G or T (powers of 1024), e.g. 8G";
			return -EINVAL;
		}
	}
	if (shift && n > (UINT64_MAX >> shift)) {
		*ret_why = "the size is too large";
		return -ERANGE;
	}
	n <<= shift;
	if (n == 0) {
		*ret_why = "the size must be more than 0";
		return -EINVAL;
	}
	/* off_t is signed: files end below 2^63. */
	if (n > (uint64_t)INT64_MAX) {
		*ret_why = "the size is too large";
		return -ERANGE;
	}
	*ret = n;
	return 0;
}

/* ---- making the file ------------------------------------------------------------------- */

static const struct create_fs fs_kinds[] = {
    {"ext4", "mkfs.ext4", 16, "e2fsprogs"},
    {"xfs", "mkfs.xfs", 12, "xfsprogs"},
    {"btrfs", "mkfs.btrfs", 255, "btrfs-progs"},
};

/* Runs mkfs on the file; its messages go to our stderr, so stdout stays the summary. */
static int run_mkfs(const struct create_fs *fs, const char *prog, const char *label,
                    const char *path, struct process_result *ret)
{
	char *argv[12];
	size_t n = 0;
	argv[n++] = (char *)prog;
	argv[n++] = "-q";
	if (streq(fs->name, "ext4")) {
		/* mke2fs "discards" a regular file by punching holes: it would make the file
		 * sparse again. */
		argv[n++] = "-F";
		argv[n++] = "-E";
		argv[n++] = "nodiscard";
	} else {
		argv[n++] = "-K"; /* xfs, btrfs: no discard */
	}
	if (label) {
		argv[n++] = "-L";
		argv[n++] = (char *)label;
	}
	argv[n++] = (char *)path;
	argv[n] = NULL;
	static const struct process_options to_stderr = {
	    .stdio = {STDIO_NULL, STDIO_FD(STDERR_FILENO)},
	};
	return process_run(NULL, argv, &to_stderr, ret);
}

char *create_boot_entry(const char *path)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	if (!real)
		return NULL;
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	if (mount_find_path(NULL, real, &m) <= 0)
		return NULL;
	char *hint = NULL;
	struct stat st;
	const char *rest = path_startswith(real, m.target);
	if (rest && m.source && stat(m.source, &st) == 0 && S_ISBLK(st.st_mode)) {
		/* A host inside a BitLocker volume opened here: at boot only the volume is
		 * there (its NTFS appears once it is opened), so the entry names the volume. */
		_cleanup_free_ char *volume = device_bitlocker_volume_of(m.source);
		const char *bitlocker = volume ? " loopboot.bitlocker=ask" : "";
		if (volume)
			log_info(
			    "the host %s is inside the BitLocker volume %s: the entry opens it at "
			    "boot (loopboot.bitlocker=ask asks for the recovery password on the "
			    "console; loopboot-cmdline(7) tells how to use a key file instead)",
			    m.source, volume);
		/* Quietly: a host device we may not open only means no entry to print. */
		struct device_info d = {0};
		int rd = device_read(volume ? volume : m.source, &d);
		/* libblkid before 2.39 reports no UUID for BitLocker: its partition's then. */
		_cleanup_free_ char *root = rd < 0   ? NULL
		                            : d.uuid ? xasprintf("UUID=%s", d.uuid)
		                            : volume && d.partuuid
		                                ? xasprintf("PARTUUID=%s", d.partuuid)
		                            : volume ? xstrdup(volume)
		                                     : NULL;
		if (root) {
			/* A bind mount of a subdirectory shows the file system from m.root. */
			_cleanup_free_ char *inner =
			    path_join(streq(m.root, "/") ? "" : m.root, rest);
			/* The kernel's quoting: a value with blanks is quoted as a whole word. */
			bool blank = strpbrk(inner, " \t") != NULL;
			hint = xasprintf("root=%s %sloop=%s%s rw%s", root, blank ? "\"" : "", inner,
			                 blank ? "\"" : "", bitlocker);
		}
		device_info_free(&d);
	}
	return hint;
}

/* Allocates the whole file (closing fd is the caller's), then makes the file system. */
static int fill_file(int fd, uint64_t size, const struct create_fs *fs, const char *mkfs,
                     const char *label, const char *path, const char **ret_how)
{
	int r = allocate_range(fd, 0, size, "create", ret_how);
	if (r < 0) {
		if (r == -EINTR && allocate_interrupted)
			return log_fail(EINTR, "create", path, "interrupted",
			                "nothing is left behind");
		return log_fail(r, "create: allocating", path, NULL,
		                r == -ENOSPC ? "free space on the host or choose a smaller --size"
		                             : "check the host file system");
	}
	struct process_result res;
	r = run_mkfs(fs, mkfs, label, path, &res);
	if (r < 0) {
		_cleanup_free_ char *how = process_result_message(&res);
		return log_fail(
		    r, "create: making the file system", path,
		    res.end == PROCESS_EXITED ? "mkfs failed (its message is above)" : how, "%s",
		    streq(fs->name, "xfs") ? "xfs needs at least 300 MiB; see the message above"
		                           : "see the message above; a larger --size may help");
	}
	return 0;
}

/* The summary on stdout: size, type, how it was allocated, fragments, a boot entry. */
static int report(int dirfd, const char *base, const char *path, uint64_t size,
                  const struct create_fs *fs, const char *label, const char *how)
{
	_cleanup_close_ int fd = openat(dirfd, base, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return log_fail(errno, "create: reopening", path, NULL,
		                "check the host file system");
	uint64_t frags = 0;
	int fr = check_fiemap_fragments(fd, &frags);
	_cleanup_free_ char *sz = check_format_size(size);
	_cleanup_free_ char *extents =
	    fr == 0 ? xasprintf("%llu extent%s", (unsigned long long)frags, frags == 1 ? "" : "s")
	            : xstrdup("extents not reported by the host file system (no FIEMAP)");
	_cleanup_free_ char *lab = label ? xasprintf(" labelled \"%s\"", label) : xstrdup("");
	printf("%s: %s %s image%s, %s, %s\n", path, sz, fs->name, lab, how, extents);
	if ((uint64_t)st.st_blocks * 512 < size)
		log_warn("create: %s is sparse on this host (%llu of %llu bytes allocated)", path,
		         (unsigned long long)st.st_blocks * 512, (unsigned long long)size);
	fflush(stdout);
	return 0;
}

static const char usage[] =
    "Usage: loopboot create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL]\n"
    "Creates a fully allocated image file (never sparse) with a file system in it.\n"
    "SIZE takes K, M, G, T (powers of 1024) and must be a multiple of 4096 bytes.\n";

const struct create_fs *create_fs_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(fs_kinds); i++)
		if (streq(fs_kinds[i].name, name))
			return &fs_kinds[i];
	return NULL;
}

int create_request_parse(const char *cmd, const char *size_arg, const char *fs_arg,
                         struct create_request *req)
{
	if (!size_arg) {
		fprintf(stderr,
		        "loopboot: %s: --size is missing — give the image's size, e.g. --size "
		        "16G\n",
		        cmd);
		return -EINVAL;
	}
	const char *why;
	if (create_parse_size(size_arg, &req->size, &why) < 0) {
		fprintf(stderr, "loopboot: %s: --size %s: %s\n", cmd, size_arg, why);
		return -EINVAL;
	}
	if (req->size % ALIGN) {
		uint64_t up = (req->size + ALIGN - 1) / ALIGN * ALIGN;
		fprintf(stderr,
		        "loopboot: %s: --size %s: %llu bytes is not a multiple of 4096 — use "
		        "--size %lluK\n",
		        cmd, size_arg, (unsigned long long)req->size,
		        (unsigned long long)(up >> 10));
		return -EINVAL;
	}
	req->fs = create_fs_find(fs_arg);
	if (!req->fs) {
		fprintf(stderr, "loopboot: %s: --fs %s: not supported — use ext4, xfs or btrfs\n",
		        cmd, fs_arg);
		return -EINVAL;
	}
	const char *label = req->label;
	if (label && (!*label || strlen(label) > req->fs->max_label)) {
		fprintf(stderr,
		        "loopboot: %s: --label %s: %s labels are 1 to %u bytes — use a shorter "
		        "label\n",
		        cmd, label, req->fs->name, req->fs->max_label);
		return -EINVAL;
	}
	return 0;
}

/* The arguments: 0 with *req, 1 after --help, 2 after a usage message. */
static int parse_request(int argc, char **argv, struct create_request *req)
{
	const char *size_arg = NULL, *fs_arg = "ext4";
	*req = (struct create_request){0};
	const struct cli_option options[] = {
	    {"size", 's', &size_arg},
	    {"fs", 't', &fs_arg},
	    {"label", 'L', &req->label},
	};
	int r = cli_parse_options(argc, argv, options, ARRAY_SIZE(options), usage);
	if (r < 0)
		fputs(usage, stderr);
	if (r <= 0)
		return r < 0 ? 2 : 1;
	if (optind + 1 != argc) {
		fprintf(stderr,
		        "loopboot: create: %s — give one FILE, e.g. loopboot create "
		        "/mnt/win/linux/root.img --size 16G\n",
		        optind >= argc ? "the image FILE is missing" : "more than one FILE");
		return 2;
	}
	req->path = argv[optind];
	return create_request_parse("create", size_arg, fs_arg, req) < 0 ? 2 : 0;
}

/* Where the image goes: the directory, open, and the image's name in it. */
struct create_place {
	int dirfd;
	char *dir, *base;
	char *mkfs;
};

static void create_place_done(struct create_place *t)
{
	if (t->dirfd >= 0)
		close(t->dirfd);
	free(t->dir);
	free(t->base);
	free(t->mkfs);
}

/* Everything that can be refused is refused before the file exists. */
static int prepare_place(const struct create_request *req, struct create_place *t)
{
	*t = (struct create_place){.dirfd = -1};
	t->mkfs = find_program(req->fs->mkfs, PROGRAM_SEARCH_PATH);
	if (!t->mkfs)
		return log_fail(ENOENT, "create", req->fs->mkfs, "not installed",
		                "install it (Debian: apt-get install %s), or choose another --fs",
		                req->fs->package);
	struct stat st;
	if (lstat(req->path, &st) == 0)
		return log_fail(
		    EEXIST, "create", req->path, "the file already exists",
		    "loopboot never overwrites: remove it first or choose another name");
	_cleanup_free_ char *pathcopy = xstrdup(req->path), *basecopy = xstrdup(req->path);
	t->dir = xstrdup(dirname(pathcopy));
	t->base = xstrdup(basename(basecopy));
	t->dirfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0 && errno == ENOENT) {
		/* A Windows partition that could not be mounted because BitLocker encrypts
		 * it: say so, rather than have the image made on whatever is mounted. */
		_cleanup_free_ char *bl = device_bitlocker_closed();
		_cleanup_free_ char *why =
		    bl ? xasprintf("not there, and the BitLocker volume %s is not opened (its "
		                   "file system cannot be mounted before)",
		                   bl)
		       : NULL;
		if (bl)
			return log_fail(ENOENT, "create: the directory", t->dir, why,
			                "open it first: cryptsetup open --type bitlk %s win (asks "
			                "for the recovery password), mount /dev/mapper/win where "
			                "the host belongs, and run this again",
			                bl);
		errno = ENOENT;
	}
	if (t->dirfd < 0)
		return log_fail(errno, "create: the directory", t->dir, NULL,
		                "create it first (mkdir -p %s), or check the host is mounted",
		                t->dir);
	return allocate_check_room("create", req->path, t->dirfd, t->dir, req->size, req->size,
	                           "--size");
}

/* A copy-on-write host would fragment the image with every write inside it. */
static void no_copy_on_write(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)BTRFS_SUPER_MAGIC) {
		int flags = 0;
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
			flags |= FS_NOCOW_FL;
			(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
		}
	}
}

/* The file, its allocation, its file system and the report; nothing left on failure. */
static int make_image(const struct create_request *req, const struct create_place *t)
{
	int fd = openat(t->dirfd, t->base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_fail(errno, "create", req->path, NULL,
		                errno == EEXIST ? "remove it first or choose another name"
		                                : "check the directory is writable");
	const char *how_done = NULL;
	struct allocate_signals sigs;
	allocate_catch_signals(&sigs);
	no_copy_on_write(fd);
	int r = fill_file(fd, req->size, req->fs, t->mkfs, req->label, req->path, &how_done);
	close(fd);
	if (r == 0)
		r = report(t->dirfd, t->base, req->path, req->size, req->fs, req->label, how_done);
	if (r < 0 && unlinkat(t->dirfd, t->base, 0) < 0 && errno != ENOENT)
		log_warn("create: removing the partial file %s: %m", req->path);
	allocate_restore_signals(&sigs);
	return r;
}

int create_image(const struct create_request *req)
{
	struct create_place t;
	int r = prepare_place(req, &t);
	if (r >= 0)
		r = make_image(req, &t);
	create_place_done(&t);
	return r;
}

int create_refusals(const struct create_request *req)
{
	struct create_place t;
	int r = prepare_place(req, &t);
	create_place_done(&t);
	return r;
}

int create_main(int argc, char **argv)
{
	struct create_request req;
	int r = parse_request(argc, argv, &req);
	if (r > 0)
		return r == 1 ? 0 : r;
	r = create_image(&req);
	if (r < 0)
		return 1;
	_cleanup_free_ char *entry = create_boot_entry(req.path);
	if (entry)
		printf("boot it with: %s\n", entry);
	return fflush(stdout) == 0 ? 0 : 1;
}
