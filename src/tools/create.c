/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/create.h"

#include <ctype.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>

#include "basic/log.h"
#include "basic/options.h"
#include "basic/mounttable.h"
#include "basic/process.h"
#include "basic/util.h"
#include "engine/cmdline.h"
#include "engine/device.h"
#include "engine/disk.h"
#include "engine/loopdev.h"
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

/* ---- --disk: the layout ------------------------------------------------------------------ */

#define MIB (1ULL << 20)

int create_disk_layout(uint64_t size, struct create_disk_layout *ret, const char **ret_why)
{
	if (size < CREATE_DISK_MIN) {
		*ret_why = "a disk image needs at least 50 MiB (1 MiB for the partition table, a "
		           "32 MiB EFI system partition, a 16 MiB root, 1 MiB for the backup "
		           "table): use --size 64M or more";
		return -EINVAL;
	}
	uint64_t esp = size >= (1ULL << 30) ? 64 * MIB : 32 * MIB;
	/* The backup GPT takes the last 33 sectors: the root ends at the last whole MiB
	 * before the final one. */
	uint64_t end = (size - MIB) / MIB * MIB;
	*ret = (struct create_disk_layout){
	    .esp_start = MIB,
	    .esp_size = esp,
	    .root_start = MIB + esp,
	    .root_size = end - (MIB + esp),
	};
	return 0;
}

char *create_disk_script(const struct create_disk_layout *l)
{
	return xasprintf("label: gpt\n"
	                 "start=%llu, size=%llu, type=" CREATE_ESP_TYPE ", name=esp\n"
	                 "start=%llu, size=%llu, type=%s, name=root\n",
	                 (unsigned long long)(l->esp_start / 512),
	                 (unsigned long long)(l->esp_size / 512),
	                 (unsigned long long)(l->root_start / 512),
	                 (unsigned long long)(l->root_size / 512), disk_root_type);
}

char *create_esp_grub_cfg(const char *fs_uuid, const char *partuuid)
{
	return xasprintf(
	    "# Written by loopboot create --disk. Booted as a virtual machine's own disk, this\n"
	    "# disk starts the system in its root partition (partition 2) with the kernel and\n"
	    "# initramfs of its /vmlinuz and /initrd.img (Debian's links to the current ones).\n"
	    "set timeout=3\n"
	    "if serial --unit=0 --speed=115200; then\n"
	    "\tterminal_input --append serial\n"
	    "\tterminal_output --append serial\n"
	    "fi\n"
	    "search --no-floppy --fs-uuid --set=root %s\n"
	    "menuentry 'Linux (the root partition of this disk)' --class gnu-linux --class os {\n"
	    "\tlinux /vmlinuz root=PARTUUID=%s rw\n"
	    "\tinitrd /initrd.img\n"
	    "}\n",
	    fs_uuid, partuuid);
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
	struct args a = {0};
	args_add(&a, prog, "-q", NULL);
	/* No discard: mke2fs "discards" a regular file by punching holes, which would make it
	 * sparse again (xfs and btrfs: -K). */
	if (streq(fs->name, "ext4"))
		args_add(&a, "-F", "-E", "nodiscard", NULL);
	else
		args_add(&a, "-K", NULL);
	if (label)
		args_add(&a, "-L", label, NULL);
	if (tree && streq(fs->name, "xfs"))
		args_add(&a, "-p", tree->proto, NULL);
	else if (tree)
		args_add(&a, streq(fs->name, "btrfs") ? "--rootdir" : "-d", tree->root, NULL);
	args_add(&a, path, NULL);
	static const struct process_options to_stderr = {
	    .stdio = {STDIO_NULL, STDIO_FD(STDERR_FILENO)},
	};
	return process_run(NULL, a.v, &to_stderr, ret);
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
	_cleanup_free_ char *loop = cmdline_word("loop", inner);
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
	_cleanup_free_ char *word = cmdline_word("loopboot.overlay", inner);
	printf("add to the boot entry: %s\n"
	       "  beside the loop= of a read-only root image on the same host: root=%s "
	       "loop=<the root image> %s%s\n",
	       word, root, word, bitlocker ? " loopboot.bitlocker=ask" : "");
}

/* Where the image goes: the directory, open, and the image's name in it; the programs that
 * make it. */
struct create_place {
	int dirfd;
	char *dir, *base;
	char *mkfs;
	char *sfdisk, *mkfat; /* --disk */
	/* --disk: GRUB for UEFI put into the EFI system partition, else what this machine
	 * lacks for it (NULL with esp_grub) */
	bool esp_grub;
	char *esp_missing;
};

/*
 * Runs one program of --disk with stdin from in_fd (-1: /dev/null); its messages are kept
 * and shown only when it fails (mkfs.fat warns about the size of the file it writes into).
 * 0, or -errno after the message.
 */
static int run_tool(char **argv, int in_fd, const char *path, const char *doing, const char *todo)
{
	int log = memfd_create("loopboot-create", MFD_CLOEXEC);
	struct process_options o = {0};
	o.stdio[0] =
	    in_fd >= 0 ? (struct process_stdio)STDIO_FD(in_fd) : (struct process_stdio)STDIO_NULL;
	o.stdio[1] = (struct process_stdio)STDIO_NULL;
	o.stdio[2] = log >= 0 ? (struct process_stdio)STDIO_FD(log)
	                      : (struct process_stdio)STDIO_FD(STDERR_FILENO);
	struct process_result res;
	int r = process_run(NULL, argv, &o, &res);
	if (r < 0) {
		const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
		if (log >= 0)
			log_file_tail(name, log, 10);
		_cleanup_free_ char *how = process_result_message(&res);
		_cleanup_free_ char *what = xasprintf("create --disk: %s", doing);
		_cleanup_free_ char *why = xasprintf("%s %s", name, how);
		log_fail(r, what, path, why, "%s", todo);
	}
	if (log >= 0)
		close(log);
	return r;
}

/* The partition table, with sfdisk (its script on stdin). */
static int write_table(const struct create_request *req, const struct create_place *t,
                       const struct create_disk_layout *l)
{
	_cleanup_free_ char *script = create_disk_script(l);
	_cleanup_close_ int in = memfd_create("loopboot-sfdisk", MFD_CLOEXEC);
	if (in < 0 || write(in, script, strlen(script)) != (ssize_t)strlen(script) ||
	    lseek(in, 0, SEEK_SET) < 0)
		return log_fail(errno, "create --disk: the partition table of", req->path, NULL,
		                "check that /dev/shm or memfd_create works here");
	char *argv[] = {t->sfdisk,       "--quiet",         "--no-reread", "--no-tell-kernel",
	                "--wipe=always", (char *)req->path, NULL};
	return run_tool(argv, in, req->path, "writing the partition table",
	                "see sfdisk's message above");
}

/* The EFI system partition: FAT32 from 64 MiB (with clusters of 512 bytes so that it has the
 * 65525 clusters FAT32 wants), FAT16 below; at its offset in the file. */
static int format_esp(const struct create_request *req, const struct create_place *t,
                      const struct create_disk_layout *l)
{
	_cleanup_free_ char *offset =
	    xasprintf("--offset=%llu", (unsigned long long)(l->esp_start / 512));
	_cleanup_free_ char *hidden = xasprintf("%llu", (unsigned long long)(l->esp_start / 512));
	_cleanup_free_ char *blocks = xasprintf("%llu", (unsigned long long)(l->esp_size / 1024));
	struct args a = {0};
	/* mkfs.fat's own choice would follow the size of the file, not of the partition. */
	bool fat32 = l->esp_size >= 64 * MIB;
	args_add(&a, t->mkfat, offset, "-h", hidden, "-n", "EFI", "-F", fat32 ? "32" : "16", NULL);
	if (fat32)
		args_add(&a, "-s", "1", NULL);
	args_add(&a, req->path, blocks, NULL);
	return run_tool(a.v, -1, req->path, "making the EFI system partition's file system",
	                "see mkfs.fat's message above");
}

/* The root partition's file system: mke2fs writes at an offset of a plain file; xfs and
 * btrfs are made on a loop device over the partition (root only: refused before). */
static int format_root(const struct create_request *req, const struct create_place *t,
                       const struct create_disk_layout *l)
{
	const struct create_fs *fs = req->fs;
	const char *todo = streq(fs->name, "xfs")
	                       ? "xfs needs at least 300 MiB; see the message above"
	                       : "see the message above; a larger --size may help";
	struct args a = {0};
	args_add(&a, t->mkfs, "-q", NULL);
	if (req->label)
		args_add(&a, "-L", req->label, NULL);
	if (streq(fs->name, "ext4")) {
		_cleanup_free_ char *ext =
		    xasprintf("offset=%llu,nodiscard", (unsigned long long)l->root_start);
		_cleanup_free_ char *kib =
		    xasprintf("%lluk", (unsigned long long)(l->root_size / 1024));
		args_add(&a, "-F", "-E", ext, req->path, kib, NULL);
		return run_tool(a.v, -1, req->path, "making the root partition's file system",
		                todo);
	}
	_cleanup_close_ int fd = openat(t->dirfd, t->base, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return log_fail(errno, "create --disk: reopening", req->path, NULL,
		                "check the host file system");
	struct loopdev loop;
	int r = loopdev_attach_range(fd, req->path, false, l->root_start, l->root_size, &loop);
	if (r < 0)
		return log_fail(
		    r, "create --disk: a loop device over the root partition of", req->path, NULL,
		    "%s needs one (modprobe loop), or use --fs ext4, which needs none", fs->mkfs);
	args_add(&a, "-K", loop.devnode, NULL); /* no discard */
	r = run_tool(a.v, -1, req->path, "making the root partition's file system", todo);
	loopdev_release(&loop); /* autoclear detaches it */
	return r;
}

#define GRUB_EFI_DIR "/usr/lib/grub/x86_64-efi"

/* What GRUB for UEFI in the ESP needs here: NULL when all is there, else what to install. */
static char *esp_grub_missing(void)
{
	static const char *const progs[] = {"grub-mkimage", "mmd", "mcopy"};
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		_cleanup_free_ char *p = find_program(progs[i], PROGRAM_SEARCH_PATH);
		if (!p)
			return xasprintf("%s is not installed (apt-get install %s)", progs[i],
			                 i == 0 ? "grub-common" : "mtools");
	}
	if (access(GRUB_EFI_DIR "/moddep.lst", R_OK) < 0)
		return xstrdup("GRUB's modules for UEFI, " GRUB_EFI_DIR
		               ", are not installed (apt-get install grub-efi-amd64-bin)");
	return NULL;
}

/* The root partition's file system UUID and PARTUUID, read back with libblkid. */
static int root_ids(const struct create_place *t, char **ret_uuid, char **ret_partuuid)
{
	int fd = openat(t->dirfd, t->base, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	static const struct partsel second = {.kind = PARTSEL_NUMBER, .number = 2};
	struct disk_slice s;
	struct verdict v;
	int r = disk_resolve(t->dirfd, t->base, &fd, false, &second, &s, &v);
	close(fd);
	if (r > 0 && s.has_part && s.disk.parts[s.index].uuid && s.disk.parts[s.index].partuuid) {
		*ret_uuid = xstrdup(s.disk.parts[s.index].uuid);
		*ret_partuuid = xstrdup(s.disk.parts[s.index].partuuid);
		r = 0;
	} else {
		r = r < 0 ? r : -ENODATA;
	}
	disk_slice_done(&s);
	verdict_done(&v);
	return r;
}

/*
 * GRUB for UEFI in the EFI system partition, at the removable-media path every firmware
 * tries (EFI/BOOT/BOOTX64.EFI, made by grub-mkimage with its modules built in) with a
 * grub.cfg beside it that boots the root partition; written with mtools at the partition's
 * offset, nothing mounted. Only when this machine has them (t->esp_missing says what it
 * lacks otherwise). 0, or -errno after the message.
 */
static int esp_grub(const struct create_request *req, struct create_place *t,
                    const struct create_disk_layout *l)
{
	t->esp_missing = esp_grub_missing();
	if (t->esp_missing)
		return 0;
	_cleanup_free_ char *uuid = NULL, *partuuid = NULL;
	int r = root_ids(t, &uuid, &partuuid);
	if (r < 0)
		return log_fail(r, "create --disk: reading the root partition of", req->path, NULL,
		                "check the file with sfdisk -l and blkid");
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *dir = path_join(tmp && *tmp ? tmp : "/tmp", "loopboot-esp.XXXXXX");
	if (!mkdtemp(dir))
		return log_fail(errno, "create --disk: a private directory", dir, NULL,
		                "set TMPDIR to a writable directory");
	_cleanup_free_ char *cfg_path = path_join(dir, "grub.cfg");
	_cleanup_free_ char *efi = path_join(dir, "BOOTX64.EFI");
	_cleanup_free_ char *cfg = create_esp_grub_cfg(uuid, partuuid);
	r = write_file_atomic(cfg_path, cfg, strlen(cfg), 0644);
	if (r < 0)
		log_fail(r, "create --disk: writing", cfg_path, NULL,
		         "set TMPDIR to a writable directory");
	const char *fsmod = streq(req->fs->name, "ext4") ? "ext2" : req->fs->name;
	_cleanup_free_ char *mkimage = find_program("grub-mkimage", PROGRAM_SEARCH_PATH);
	_cleanup_free_ char *mmd = find_program("mmd", PROGRAM_SEARCH_PATH);
	_cleanup_free_ char *mcopy = find_program("mcopy", PROGRAM_SEARCH_PATH);
	char *mk[] = {mkimage,      "-O",       "x86_64-efi", "-d",
	              GRUB_EFI_DIR, "-p",       "/EFI/BOOT",  "-o",
	              efi,          "part_gpt", "fat",        (char *)fsmod,
	              "normal",     "linux",    "search",     "search_fs_uuid",
	              "configfile", "echo",     "test",       "all_video",
	              "serial",     "terminal", NULL};
	if (r >= 0)
		r = run_tool(mk, -1, req->path, "making GRUB for the EFI system partition",
		             "see grub-mkimage's message above");
	/* mtools on the partition: FILE@@OFFSET. */
	_cleanup_free_ char *image =
	    xasprintf("%s@@%llu", req->path, (unsigned long long)l->esp_start);
	char *md[] = {mmd, "-i", image, "::/EFI", "::/EFI/BOOT", NULL};
	char *cp[] = {mcopy, "-i", image, efi, cfg_path, "::/EFI/BOOT/", NULL};
	if (r >= 0)
		r = run_tool(md, -1, req->path, "filling the EFI system partition",
		             "see mmd's message above");
	if (r >= 0)
		r = run_tool(cp, -1, req->path, "filling the EFI system partition",
		             "see mcopy's message above");
	(void)unlink(efi);
	(void)unlink(cfg_path);
	if (rmdir(dir) < 0)
		log_warn("create: removing the private directory %s: %m", dir);
	t->esp_grub = r >= 0;
	return r < 0 ? r : 0;
}

static int make_disk(const struct create_request *req, struct create_place *t)
{
	struct create_disk_layout l;
	const char *why;
	if (create_disk_layout(req->size, &l, &why) < 0)
		return log_fail(EINVAL, "create --disk", req->path, why, "use a larger --size");
	int r = write_table(req, t, &l);
	if (r >= 0)
		r = format_esp(req, t, &l);
	if (r >= 0)
		r = format_root(req, t, &l);
	if (r >= 0)
		r = esp_grub(req, t, &l);
	return r;
}

/* Allocates the whole file (closing fd is the caller's), then makes the file system. */
static int fill_file(int fd, const struct create_request *req, struct create_place *t,
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
	if (req->disk)
		return make_disk(req, t);
	struct process_result res;
	r = run_mkfs(fs, t->mkfs, req->label, tree, path, &res);
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
static int report(const struct create_place *t, const struct create_request *req, const char *how)
{
	int dirfd = t->dirfd;
	const char *base = t->base;
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
	struct create_disk_layout l;
	const char *why;
	if (req->disk && create_disk_layout(size, &l, &why) == 0) {
		_cleanup_free_ char *esp = check_format_size(l.esp_size);
		_cleanup_free_ char *root = check_format_size(l.root_size);
		printf("%s: %s GPT disk image: partition 1 EFI system %s vfat, partition 2 Linux "
		       "root (x86-64) %s %s%s, %s, %s\n",
		       path, sz, esp, root, req->fs->name, lab, how, extents);
		if (t->esp_grub)
			printf(
			    "its EFI system partition holds GRUB for UEFI (EFI/BOOT/BOOTX64.EFI): "
			    "as a virtual machine's own disk it boots the root partition's "
			    "/vmlinuz and /initrd.img, once a system is installed there\n");
		else
			printf("its EFI system partition is empty: %s; as a virtual machine's own "
			       "disk it needs a boot loader there, or the VM's -kernel\n",
			       t->esp_missing ? t->esp_missing : "no boot loader");
	} else {
		printf("%s: %s %s %s%s, %s, %s\n", path, sz, req->fs->name,
		       req->overlay ? "overlay layer (empty upper/ and work/)" : "image", lab, how,
		       extents);
	}
	if ((uint64_t)st.st_blocks * 512 < size)
		log_warn("create: %s is sparse on this host (%llu of %llu bytes allocated)", path,
		         (unsigned long long)st.st_blocks * 512, (unsigned long long)size);
	fflush(stdout);
	return 0;
}

static const char usage[] =
    "Usage: loopboot create FILE --size SIZE [--fs ext4|xfs|btrfs] [--label LABEL] "
    "[--overlay | --disk]\n"
    "Creates a fully allocated image file (never sparse) with a file system in it.\n"
    "SIZE takes K, M, G, T (powers of 1024) and must be a multiple of 4096 bytes.\n"
    "--overlay: a persistent overlay layer, empty upper/ and work/ at its root, for\n"
    "  loopboot.overlay=PATH beside the loop= of a read-only root image (run as root).\n"
    "--disk: a GPT disk image, as a virtual machine uses it: an EFI system partition\n"
    "  (vfat; GRUB for UEFI in it when grub-mkimage and mtools are installed), then the\n"
    "  root partition (typed x86-64 root) with the file system (--fs xfs and btrfs need\n"
    "  root: they are made on a loop device).\n";

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
	const char *size_arg = NULL, *fs_arg = "ext4";
	*req = (struct create_request){0};
	int r = OPTS_PARSE(argc, argv, 0, usage, OPT_STRING("size", 's', &size_arg),
	                   OPT_STRING("fs", 't', &fs_arg), OPT_STRING("label", 'L', &req->label),
	                   OPT_FLAG("overlay", 0, &req->overlay), OPT_FLAG("disk", 0, &req->disk));
	if (r >= 0)
		return r == 0 ? 1 : r;
	if (optind + 1 != argc) {
		fprintf(stderr,
		        "loopboot: create: %s — give one FILE, e.g. loopboot create "
		        "/mnt/win/linux/root.img --size 16G\n",
		        optind >= argc ? "the image FILE is missing" : "more than one FILE");
		return 2;
	}
	req->path = argv[optind];
	if (req->disk && req->overlay) {
		fprintf(stderr,
		        "loopboot: create: --disk and --overlay: an overlay layer is a file "
		        "system image, not a disk — give one of them\n");
		return 2;
	}
	if (create_request_parse("create", size_arg, fs_arg, req) < 0)
		return 2;
	struct create_disk_layout l;
	const char *why;
	if (req->disk && create_disk_layout(req->size, &l, &why) < 0) {
		fprintf(stderr, "loopboot: create --disk: --size %s: %s\n", size_arg, why);
		return 2;
	}
	return 0;
}

static void create_place_done(struct create_place *t)
{
	if (t->dirfd >= 0)
		close(t->dirfd);
	free_all(t->dir, t->base, t->mkfs, t->sfdisk, t->mkfat, t->esp_missing);
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
	if (req->disk) {
		/* mke2fs writes at an offset of a plain file; the others need a block device. */
		if (!streq(req->fs->name, "ext4") && geteuid() != 0)
			return log_fail(
			    EPERM, "create --disk --fs", req->fs->name,
			    "not root: it is made on a loop device over the root partition",
			    "run it as root (sudo loopboot create ...), or use --fs ext4");
		t->sfdisk = find_program("sfdisk", PROGRAM_SEARCH_PATH);
		if (!t->sfdisk)
			return log_fail(ENOENT, "create --disk", "sfdisk", "not installed",
			                "install it (Debian: apt-get install fdisk)");
		t->mkfat = find_program("mkfs.fat", PROGRAM_SEARCH_PATH);
		if (!t->mkfat)
			return log_fail(ENOENT, "create --disk", "mkfs.fat", "not installed",
			                "install it (Debian: apt-get install dosfstools)");
	}
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
static int make_image(const struct create_request *req, struct create_place *t)
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
	int r = fill_file(fd, req, t, req->overlay ? &tree : NULL, &how_done);
	close(fd);
	overlay_tree_remove(&tree);
	if (r == 0)
		r = report(t, req, how_done);
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
	if (req.disk)
		printf("the root is partition 2: its GPT type is Linux root (x86-64), so loopboot "
		       "finds it without loopboot.part=\n");
	return fflush(stdout) == 0 ? 0 : 1;
}
