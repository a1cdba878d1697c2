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

/*
 * What an overlay layer's file system is made with, in a private directory: root/ holding
 * upper/ and work/ (root's, 0755) for mkfs.ext4 -d and mkfs.btrfs --rootdir, which copy a
 * tree, and proto, the same as a prototype file for mkfs.xfs -p (owners written in it).
 * Nothing is mounted: the layer is made as the file system is.
 */
struct overlay_tree {
	char *dir, *root, *proto;
};

static const char overlay_proto[] = "/dev/null\n" /* no boot image */
                                    "0 0\n"
                                    "d--755 0 0\n"
                                    "upper d--755 0 0\n"
                                    "$\n"
                                    "work d--755 0 0\n"
                                    "$\n"
                                    "$\n";

static void overlay_tree_remove(struct overlay_tree *t)
{
	if (t->dir) {
		_cleanup_free_ char *upper = path_join(t->root, "upper");
		_cleanup_free_ char *work = path_join(t->root, "work");
		(void)rmdir(upper);
		(void)rmdir(work);
		(void)rmdir(t->root);
		(void)unlink(t->proto);
		if (rmdir(t->dir) < 0 && errno != ENOENT)
			log_warn("create: removing the private directory %s: %m", t->dir);
	}
	free(t->dir);
	free(t->root);
	free(t->proto);
	*t = (struct overlay_tree){0};
}

static int overlay_tree_make(struct overlay_tree *t)
{
	const char *tmp = getenv("TMPDIR");
	t->dir = path_join(tmp && *tmp ? tmp : "/tmp", "loopboot-create.XXXXXX");
	if (!mkdtemp(t->dir)) {
		int r = log_fail(errno, "create --overlay: a private directory", t->dir, NULL,
		                 "set TMPDIR to a writable directory");
		free(t->dir);
		t->dir = NULL;
		return r;
	}
	t->root = path_join(t->dir, "root");
	t->proto = path_join(t->dir, "proto");
	_cleanup_free_ char *upper = path_join(t->root, "upper");
	_cleanup_free_ char *work = path_join(t->root, "work");
	/* chmod after mkdir: the umask must not take bits away. */
	const char *dirs[] = {t->root, upper, work};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdir(dirs[i], 0755) < 0 || chmod(dirs[i], 0755) < 0)
			return log_fail(errno, "create --overlay: a private directory", dirs[i],
			                NULL, "set TMPDIR to a writable directory");
	int r = write_file_atomic(t->proto, overlay_proto, strlen(overlay_proto), 0600);
	if (r < 0)
		return log_fail(r, "create --overlay: writing", t->proto, NULL,
		                "set TMPDIR to a writable directory");
	return 0;
}

/* Runs mkfs on the file (with the overlay layer's tree when tree is given); its messages
 * go to our stderr, so stdout stays the summary. */
static int run_mkfs(const struct create_fs *fs, const char *prog, const char *label,
                    const struct overlay_tree *tree, const char *path, struct process_result *ret)
{
	char *argv[14];
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
	if (tree && streq(fs->name, "xfs")) {
		argv[n++] = "-p";
		argv[n++] = tree->proto;
	} else if (tree) {
		argv[n++] = streq(fs->name, "btrfs") ? "--rootdir" : "-d";
		argv[n++] = tree->root;
	}
	argv[n++] = (char *)path;
	argv[n] = NULL;
	static const struct process_options to_stderr = {
	    .stdio = {STDIO_NULL, STDIO_FD(STDERR_FILENO)},
	};
	return process_run(NULL, argv, &to_stderr, ret);
}

char *create_cmdline_word(const char *key, const char *value)
{
	bool blank = strpbrk(value, " \t") != NULL;
	return xasprintf("%s%s=%s%s", blank ? "\"" : "", key, value, blank ? "\"" : "");
}

/*
 * Where the file is, as a kernel command line names it: the host (*ret_root, "UUID=..."),
 * the file's path in the host's file system (*ret_inner), and whether the host is inside a
 * BitLocker volume (the entry then opens it). 0, or -ENOENT when the file is not on a
 * block device's file system that can be named.
 */
static int boot_location(const char *path, char **ret_root, char **ret_inner, bool *ret_bitlocker)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	if (!real)
		return -ENOENT;
	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	if (mount_find_path(NULL, real, &m) <= 0)
		return -ENOENT;
	struct stat st;
	const char *rest = path_startswith(real, m.target);
	if (!rest || !m.source || stat(m.source, &st) < 0 || !S_ISBLK(st.st_mode))
		return -ENOENT;
	/* A host inside a BitLocker volume opened here: at boot only the volume is there (its
	 * NTFS appears once it is opened), so the entry names the volume. */
	_cleanup_free_ char *volume = device_bitlocker_volume_of(m.source);
	if (volume)
		log_info("the host %s is inside the BitLocker volume %s: the entry opens it at "
		         "boot (loopboot.bitlocker=ask asks for the recovery password on the "
		         "console; loopboot-cmdline(7) tells how to use a key file instead)",
		         m.source, volume);
	/* Quietly: a host device we may not open only means no entry to print. */
	struct device_info d = {0};
	int rd = device_read(volume ? volume : m.source, &d);
	/* libblkid before 2.39 reports no UUID for BitLocker: its partition's then. */
	char *root = rd < 0                 ? NULL
	             : d.uuid               ? xasprintf("UUID=%s", d.uuid)
	             : volume && d.partuuid ? xasprintf("PARTUUID=%s", d.partuuid)
	             : volume               ? xstrdup(volume)
	                                    : NULL;
	device_info_free(&d);
	if (!root)
		return -ENOENT;
	/* A bind mount of a subdirectory shows the file system from m.root. */
	*ret_inner = path_join(streq(m.root, "/") ? "" : m.root, rest);
	*ret_root = root;
	*ret_bitlocker = volume != NULL;
	return 0;
}

char *create_boot_entry(const char *path)
{
	_cleanup_free_ char *root = NULL, *inner = NULL;
	bool bitlocker = false;
	if (boot_location(path, &root, &inner, &bitlocker) < 0)
		return NULL;
	_cleanup_free_ char *loop = create_cmdline_word("loop", inner);
	return xasprintf("root=%s %s rw%s", root, loop, bitlocker ? " loopboot.bitlocker=ask" : "");
}

/* An overlay layer's words for the entry: loopboot.overlay= beside the loop= of a
 * read-only root image on the same host. */
static void print_overlay_entry(const char *path)
{
	_cleanup_free_ char *root = NULL, *inner = NULL;
	bool bitlocker = false;
	if (boot_location(path, &root, &inner, &bitlocker) < 0) {
		printf("add to the boot entry: loopboot.overlay=<its path on the host>, beside the "
		       "loop= of a read-only root image on the same host\n");
		return;
	}
	_cleanup_free_ char *word = create_cmdline_word("loopboot.overlay", inner);
	printf("add to the boot entry: %s\n"
	       "  beside the loop= of a read-only root image on the same host: root=%s "
	       "loop=<the root image> %s%s\n",
	       word, root, word, bitlocker ? " loopboot.bitlocker=ask" : "");
}

/* Allocates the whole file (closing fd is the caller's), then makes the file system. */
static int fill_file(int fd, const struct create_request *req, const char *mkfs,
                     const struct overlay_tree *tree, const char **ret_how)
{
	const char *path = req->path;
	const struct create_fs *fs = req->fs;
	int r = allocate_range(fd, 0, req->size, "create", ret_how);
	if (r < 0) {
		if (r == -EINTR && allocate_interrupted)
			return log_fail(EINTR, "create", path, "interrupted",
			                "nothing is left behind");
		return log_fail(r, "create: allocating", path, NULL,
		                r == -ENOSPC ? "free space on the host or choose a smaller --size"
		                             : "check the host file system");
	}
	struct process_result res;
	r = run_mkfs(fs, mkfs, req->label, tree, path, &res);
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

/* The summary on stdout: size, type, how it was allocated, fragments. */
static int report(int dirfd, const char *base, const struct create_request *req, const char *how)
{
	const char *path = req->path, *label = req->label;
	uint64_t size = req->size;
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
	printf("%s: %s %s %s%s, %s, %s\n", path, sz, req->fs->name,
	       req->overlay ? "overlay layer (empty upper/ and work/)" : "image", lab, how,
	       extents);
	if ((uint64_t)st.st_blocks * 512 < size)
		log_warn("create: %s is sparse on this host (%llu of %llu bytes allocated)", path,
		         (unsigned long long)st.st_blocks * 512, (unsigned long long)size);
	fflush(stdout);
	return 0;
}

static const char usage[] =
    "Usage: loopboot create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL] "
    "[--overlay]\n"
    "Creates a fully allocated image file (never sparse) with a file system in it.\n"
    "SIZE takes K, M, G, T (powers of 1024) and must be a multiple of 4096 bytes.\n"
    "--overlay: a persistent overlay layer, empty upper/ and work/ at its root, for\n"
    "  loopboot.overlay=PATH beside the loop= of a read-only root image (run as root).\n";

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

int create_parse_args(int argc, char **argv, struct create_request *req)
{
	enum { OPT_OVERLAY = 0x100 };
	static const struct option options[] = {
	    {"size", required_argument, NULL, 's'},  {"fs", required_argument, NULL, 't'},
	    {"label", required_argument, NULL, 'L'}, {"overlay", no_argument, NULL, OPT_OVERLAY},
	    {"help", no_argument, NULL, 'h'},        {0},
	};
	const char *size_arg = NULL, *fs_arg = "ext4";
	*req = (struct create_request){0};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:t:L:h", options, NULL)) >= 0) {
		switch (c) {
		case 's':
			size_arg = optarg;
			break;
		case 't':
			fs_arg = optarg;
			break;
		case 'L':
			req->label = optarg;
			break;
		case OPT_OVERLAY:
			req->overlay = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fprintf(stderr, "loopboot: create: %s: %s — see loopboot create --help\n",
			        argv[optind - 1],
			        c == ':' ? "the option needs a value"
			        : optopt == OPT_OVERLAY || optopt == 'h'
			            ? "the option takes no value"
			            : "unknown option");
			return 2;
		}
	}
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
	/* mkfs.ext4 -d and mkfs.btrfs --rootdir copy the owner of the directories they are
	 * given, the one who runs create; a layer whose upper/ is not root's gives the booted
	 * system a / that is not root's. */
	if (req->overlay && geteuid() != 0)
		return log_fail(EPERM, "create --overlay", req->path,
		                "not root: upper/ and work/ must be root's, and mkfs makes them "
		                "with the owner of the one who runs it",
		                "run it as root (sudo loopboot create ...)");
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
	struct overlay_tree tree = {0};
	if (req->overlay) {
		int r = overlay_tree_make(&tree);
		if (r < 0) {
			overlay_tree_remove(&tree);
			return r;
		}
	}
	int fd = openat(t->dirfd, t->base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int r = log_fail(errno, "create", req->path, NULL,
		                 errno == EEXIST ? "remove it first or choose another name"
		                                 : "check the directory is writable");
		overlay_tree_remove(&tree);
		return r;
	}
	const char *how_done = NULL;
	struct allocate_signals sigs;
	allocate_catch_signals(&sigs);
	no_copy_on_write(fd);
	int r = fill_file(fd, req, t->mkfs, req->overlay ? &tree : NULL, &how_done);
	close(fd);
	overlay_tree_remove(&tree);
	if (r == 0)
		r = report(t->dirfd, t->base, req, how_done);
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
	int r = create_parse_args(argc, argv, &req);
	if (r > 0)
		return r == 1 ? 0 : r;
	r = create_image(&req);
	if (r < 0)
		return 1;
	if (req.overlay) {
		print_overlay_entry(req.path);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	_cleanup_free_ char *entry = create_boot_entry(req.path);
	if (entry)
		printf("boot it with: %s\n", entry);
	return fflush(stdout) == 0 ? 0 : 1;
}
