/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/iso.h"

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "basic/copy.h"
#include "basic/log.h"
#include "basic/util.h"
#include "tools/grub.h"
#include "tools/media.h"
#include "tools/stick.h"
#include "tools/secureboot.h"

#define GRUB_BIOS_DIR "/usr/lib/grub/i386-pc"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- loopboot iso ----------------------------------------------------------------------- */

static const char usage[] =
    "Usage: loopboot iso -o FILE|DEVICE [--kernel FILE] [--initrd FILE] [--cmdline STRING]\n"
    "                    [--title TITLE] [--timeout SECONDS] [--modules-dir DIR]\n"
    "                    [--kernel-from media|image] [--secure-boot auto|on|off] [--force]\n"
    "Writes a hybrid ISO image that boots the entry under BIOS and UEFI, from a CD/DVD\n"
    "or a USB stick: GRUB, the kernel, an initramfs with loopboot as /init, and a GRUB\n"
    "entry with the entry's command line. -o /dev/sdX writes it onto the stick (synced,\n"
    "read back), refusing a partition, a device in use or holding the entry's host.\n"
    "  --force            -o DEVICE: write a device that is not removable (internal)\n"
    "  --kernel FILE      default: the image's own (its /vmlinuz, read from inside it)\n"
    "  --initrd FILE      default: one built with `loopboot initrd` for the kernel\n"
    "                     (its modules from beside it, or --modules-dir)\n"
    "  --kernel-from image  GRUB only: at boot it loads the image's /vmlinuz and\n"
    "                     /initrd.img (its own initramfs, with loopboot's hook), so a\n"
    "                     kernel upgraded in the image boots (default: media)\n"
    "  --cmdline STRING   default /proc/cmdline (without BOOT_IMAGE= and initrd=)\n"
    "  --title TITLE      the menu entry's title\n"
    "  --timeout SECONDS  how long GRUB's menu waits (default 5)\n"
    "  --secure-boot auto|on|off  UEFI through Debian's signed shim and GRUB\n"
    "                     (shim-signed, grub-efi-amd64-signed): auto (default) when\n"
    "                     installed; on: refused when not, or when the kernel is not\n"
    "                     signed by Debian's CA; off: GRUB's unsigned loader\n";

/* Where the work happens: a directory beside the output, so that the rename is atomic. */
static char *work_dir_for(const char *output)
{
	_cleanup_free_ char *copy = xstrdup(output), *copy2 = xstrdup(output);
	const char *dir = dirname(copy), *base = basename(copy2);
	char *tmpl = xasprintf("%s/.%s.XXXXXX", dir, base);
	if (!mkdtemp(tmpl)) {
		log_fail(errno, "iso: creating a directory in", dir, NULL,
		         "check that it exists, is writable and has room");
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

/* ---- the signed chain (--secure-boot) ---------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && streq(s + n - k, suffix);
}

static int write_text(const char *path, const char *text, const char *work)
{
	int r = write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return log_fail(r, "iso: writing", path, NULL, "check the space in %s", work);
	return 0;
}

/* The EFI system partition: a FAT image with shim, the signed GRUB, MokManager and the
 * grub.cfg that leads GRUB to the ISO 9660 file system (tools/secureboot.h). */
static int make_esp(const struct media_options *o, const char *work, const char *marker,
                    const char *esp)
{
	size_t n;
	const struct sb_file *chain = sb_chain(SB_MEDIUM_CD, &n);
	off_t bytes = 1024 * 1024; /* the FAT's own structures and slack */
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(chain[i].source, &st) < 0)
			return log_fail(errno, "iso: the signed chain", chain[i].source, NULL,
			                "apt-get install %s", chain[i].package);
		bytes += (st.st_size + 4095) / 4096 * 4096;
	}
	bytes = (bytes + 1024 * 1024 - 1) / (1024 * 1024) * (1024 * 1024);
	_cleanup_free_ char *cfgpath = path_join(work, "esp-grub.cfg");
	_cleanup_free_ char *cfg = sb_esp_grub_cfg(marker);
	if (write_text(cfgpath, cfg, work) < 0)
		return -1;
	_cleanup_free_ char *sectors = xasprintf("%lld", (long long)(bytes / 512));
	char *mformat[] = {"mformat", "-i", (char *)esp, "-C", "-T",      sectors, "-h",
	                   "64",      "-s", "32",        "-v", "EFIBOOT", "::",    NULL};
	char *mmd[] = {"mmd",         "-i",      (char *)esp,    "::/EFI",
	               "::/EFI/BOOT", "::/boot", "::/boot/grub", NULL};
	if (media_run(o, "making the EFI system partition", mformat, work) < 0 ||
	    media_run(o, "making the EFI system partition", mmd, work) < 0)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		_cleanup_free_ char *dest =
		    xasprintf("::/%s", i < n ? chain[i].dest : "boot/grub/grub.cfg");
		char *mcopy[] = {"mcopy",     "-i",
		                 (char *)esp, i < n ? (char *)chain[i].source : cfgpath,
		                 dest,        NULL};
		if (media_run(o, "filling the EFI system partition", mcopy, work) < 0)
			return -1;
	}
	return 0;
}

/* GRUB for BIOS as grub-mkrescue makes it: its modules in /boot/grub/i386-pc, and an El
 * Torito core image with the CD's driver that finds them there. */
static int make_bios(const struct media_options *o, const char *work, const char *tree)
{
	_cleanup_free_ char *dir = path_join(tree, "boot/grub/i386-pc");
	int r = mkdir_p(dir, 0755);
	if (r < 0)
		return log_fail(r, "iso: creating", dir, NULL, "check the space in %s", work);
	_cleanup_(closedirp) DIR *d = opendir(GRUB_BIOS_DIR);
	if (!d)
		return log_fail(errno, "iso: GRUB for BIOS", GRUB_BIOS_DIR, NULL,
		                "apt-get install grub-pc-bin");
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!has_suffix(de->d_name, ".mod") && !has_suffix(de->d_name, ".lst"))
			continue;
		_cleanup_free_ char *src = path_join(GRUB_BIOS_DIR, de->d_name);
		_cleanup_free_ char *dst = path_join(dir, de->d_name);
		if ((r = copy_file(src, dst, 0644)) < 0)
			return log_fail(r, "iso: copying", src, NULL, "check the space in %s",
			                work);
	}
	_cleanup_free_ char *core = path_join(dir, "eltorito.img");
	char *argv[] = {"grub-mkimage", "-O",       "i386-pc-eltorito", "-d",
	                GRUB_BIOS_DIR,  "-p",       "/boot/grub",       "-o",
	                core,           "biosdisk", "iso9660",          NULL};
	return media_run(o, "making GRUB's BIOS image", argv, work);
}

/* The hybrid ISO with the signed chain in its EFI system partition: what grub-mkrescue
 * makes, with xorriso called directly so that the EFI image is ours. */
static int make_signed_iso(const struct media_options *o, const char *work, const char *tree,
                           const char *initrd_graft, const char *iso)
{
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return log_fail(errno, "iso: a marker for GRUB", "getrandom", NULL, "run it again");
	_cleanup_free_ char *marker =
	    xasprintf("/.disk/loopboot-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	              rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	_cleanup_free_ char *diskdir = path_join(tree, ".disk");
	_cleanup_free_ char *info = path_join(diskdir, "info");
	_cleanup_free_ char *mark = path_join(tree, marker + 1);
	int r = mkdir_p(diskdir, 0755);
	if (r < 0)
		return log_fail(r, "iso: creating", diskdir, NULL, "check the space in %s", work);
	/* /.disk/info: what the signed GRUB's own configuration searches for when its prefix
	 * is not on the device it started from. */
	if (write_text(info, "loopboot boot medium\n", work) < 0 ||
	    write_text(mark,
	               "loopboot: GRUB finds this medium's ISO 9660 file system by this "
	               "file\n",
	               work) < 0)
		return -1;
	_cleanup_free_ char *esp = path_join(work, "efi.img");
	if (make_esp(o, work, marker, esp) < 0 || make_bios(o, work, tree) < 0)
		return -1;
	_cleanup_free_ char *esp_e = media_graft_escape(esp);
	_cleanup_free_ char *esp_graft = xasprintf("efi.img=%s", esp_e);
	char *argv[] = {"xorriso", "-as", "mkisofs", "-graft-points", "-r", "-V", "LOOPBOOT", "-o",
	                (char *)iso,
	                /* BIOS: El Torito from a CD, the hybrid MBR from a stick */
	                "-c", "boot.catalog", "-b", "boot/grub/i386-pc/eltorito.img",
	                "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
	                "--grub2-boot-info", "--grub2-mbr", GRUB_BIOS_DIR "/boot_hybrid.img",
	                /* UEFI: the ESP as El Torito's EFI image and as a GPT/MBR partition */
	                "-eltorito-alt-boot", "-e", "efi.img", "-no-emul-boot", "-efi-boot-part",
	                "--efi-boot-image", "--protective-msdos-label", (char *)tree, esp_graft,
	                (char *)initrd_graft, NULL};
	return media_run(o, "making the image", argv, work);
}

/* output: the file to write; device (or NULL): the stick it is then written to. */
static int iso_build(const struct media_options *o, const struct media *m, const char *output,
                     const char *work, const char *device)
{
	/* --kernel-from image: GRUB and its configuration only. */
	bool own = !m->grub_entry;
	_cleanup_free_ char *initrd =
	    m->initrd ? xstrdup(m->initrd) : path_join(work, "initrd.img");
	if (own && !m->initrd) {
		if (media_build_initrd(o, m, initrd) < 0)
			return -1;
	}
	_cleanup_free_ char *tree = path_join(work, "tree");
	_cleanup_free_ char *grubdir = path_join(tree, "boot/grub");
	_cleanup_free_ char *cfgpath = path_join(grubdir, "grub.cfg");
	int r = mkdir_p(grubdir, 0755);
	_cleanup_free_ char *cfg = media_grub_cfg_for(o, m, "/boot/vmlinuz", "/boot/initrd.img");
	if (r >= 0)
		r = write_file_atomic(cfgpath, cfg, strlen(cfg), 0644);
	if (r < 0) {
		log_fail(r, "iso: writing", cfgpath, NULL, "check the space in %s", work);
		return -1;
	}

	/* In the tree as a file: a kernel read from inside an image has a /proc/PID/fd path,
	 * which xorriso would record as the symbolic link it is. */
	_cleanup_free_ char *kernel = own ? path_join(tree, "boot/vmlinuz") : NULL;
	if (own && (r = copy_file(m->kernel, kernel, 0644)) < 0) {
		log_fail(r, "iso: copying the kernel", m->kernel_name, NULL,
		         "check the space in %s", work);
		return -1;
	}
	_cleanup_free_ char *iso = path_join(work, "image.iso");
	_cleanup_free_ char *ei = own ? media_graft_escape(initrd) : NULL;
	_cleanup_free_ char *gi = own ? xasprintf("boot/initrd.img=%s", ei) : NULL;
	char *argv[] = {"grub-mkrescue", "-o", iso, tree, gi, NULL};
	if (m->secure_boot ? make_signed_iso(o, work, tree, gi, iso) < 0
	                   : media_run(o, "making the image", argv, work) < 0)
		return -1;

	_cleanup_close_ int fd = open(iso, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		if (m->secure_boot)
			log_fail(fd < 0 ? errno : EIO, "iso: xorriso wrote no image", iso, NULL,
			         "check the space in %s and run loopboot iso again", work);
		else
			log_fail(fd < 0 ? errno : EIO, "iso: grub-mkrescue wrote no image", iso,
			         NULL, "run grub-mkrescue -o %s %s by hand to see why", output,
			         tree);
		return -1;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		log_fail(errno, "iso: writing", iso, NULL, "check the space and the device");
		return -1;
	}
	if (device) {
		/* The checks again, now that the size is known and time has passed. */
		if (stick_check(device, o->cmdline, (uint64_t)st.st_size, o->force) < 0 ||
		    stick_write("iso", iso, device) < 0)
			return -1;
		printf("  hybrid ISO, boots under BIOS and UEFI%s: choose the stick in the "
		       "firmware's boot menu (README: Booting it)\n",
		       m->secure_boot ? " (Secure Boot: shim, signed GRUB)" : "");
	} else if (rename(iso, output) < 0) {
		log_fail(errno, "iso: renaming the new image to", output, NULL,
		         "check that the directory is writable");
		return -1;
	} else {
		printf(
		    "loopboot: wrote %s: %.1f MiB hybrid ISO, boots under BIOS and UEFI%s from a "
		    "CD/DVD or written to a USB stick (loopboot iso -o /dev/sdX, or dd if=%s "
		    "of=/dev/sdX bs=4M)\n",
		    output, (double)st.st_size / (1024.0 * 1024.0),
		    m->secure_boot ? " (Secure Boot: shim, signed GRUB)" : "", output);
	}
	struct stat ist;
	if (!own || stat(initrd, &ist) < 0)
		ist.st_size = 0;
	if (own)
		printf("  kernel %s%s%s%s, initramfs %s (%.1f MiB)\n", m->kernel_name,
		       m->kernel_version ? " (" : "", m->kernel_version ? m->kernel_version : "",
		       m->kernel_version ? ")" : "",
		       m->initrd ? m->initrd : "built by loopboot initrd",
		       (double)ist.st_size / (1024.0 * 1024.0));
	else
		printf("  GRUB only: at boot it loads the image's own /vmlinuz and /initrd.img\n");
	printf("  entry %s:", m->title);
	for (size_t i = 0; i < m->words.n; i++) {
		_cleanup_free_ char *q = grub_quote(m->words.v[i]);
		printf(" %s", q);
	}
	printf("\n");
	return fflush(stdout) == 0 ? 0 : -1;
}

int iso_main(int argc, char **argv)
{
	struct media_options o;
	int r = media_parse_args("iso", true, usage, argc, argv, &o);
	if (r >= 0)
		return r;
	const char *output = o.output;
	if (optind < argc) {
		fprintf(stderr,
		        "loopboot: iso: unexpected argument: %s — the image is named with -o FILE, "
		        "the command line is passed quoted with --cmdline\n",
		        argv[optind]);
		return 2;
	}
	if (!output || !*output) {
		fputs("loopboot: iso: -o FILE is missing — name the ISO image to write\n", stderr);
		return 2;
	}
	/* A device (a USB stick): the image is made in TMPDIR, then written to it. */
	struct stat st;
	const char *device = NULL;
	_cleanup_free_ char *tmpbase = NULL;
	if (stat(output, &st) == 0 && S_ISBLK(st.st_mode)) {
		if (stick_check(output, o.cmdline, 0, o.force) < 0)
			return 1;
		device = output;
		const char *tmp = getenv("TMPDIR");
		tmpbase = path_join(tmp && *tmp ? tmp : "/var/tmp", "loopboot-iso");
	} else if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
		log_fail(EEXIST, "iso: output", output, "exists and is not a regular file",
		         "give a file name, or a stick's device (/dev/sdX)");
		return 2;
	} else if (o.force) {
		fputs(
		    "loopboot: iso: --force is for -o DEVICE (a stick) — leave it out for a file\n",
		    stderr);
		return 2;
	}
	_cleanup_free_ char *copy = xstrdup(device ? tmpbase : output);
	const char *dir = dirname(copy);
	if (!is_dir(dir)) {
		log_fail(ENOENT, "iso: output directory", dir, NULL, "create it first");
		return 2;
	}

	static const char *const progs[] = {"grub-mkrescue", "grub-mkimage", "xorriso",
	                                    "mformat",       "mcopy",        NULL};
	struct media m;
	r = media_prepare(&o, progs, &m);
	if (r)
		return r;
	media_signals_catch();
	/* A reader of our output that goes away makes a write fail, rather than kill us
	 * before the work directory is removed. */
	signal(SIGPIPE, SIG_IGN);
	char *work = work_dir_for(device ? tmpbase : output);
	_cleanup_free_ char *file = device && work ? path_join(work, "media.iso") : NULL;
	r = work ? iso_build(&o, &m, device ? file : output, work, device) : -1;
	if (work) {
		(void)rm_rf(work);
		free(work);
	}
	media_free(&m);
	media_signals_done();
	return r < 0 ? 1 : 0;
}
