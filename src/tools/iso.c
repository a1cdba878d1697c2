/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/iso.h"

#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>

#include "basic/copy.h"
#include "basic/log.h"
#include "basic/util.h"
#include "tools/grub.h"
#include "tools/media.h"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- loopboot iso ----------------------------------------------------------------------- */

static const char usage[] =
    "Usage: loopboot iso -o FILE [--kernel FILE] [--initrd FILE] [--cmdline STRING]\n"
    "                    [--title TITLE] [--timeout SECONDS] [--modules-dir DIR]\n"
    "                    [--kernel-from media|image]\n"
    "Writes a hybrid ISO image that boots the entry under BIOS and UEFI, from a CD/DVD\n"
    "or written to a USB stick (dd): GRUB, the kernel, an initramfs with loopboot as\n"
    "/init, and a GRUB entry with the entry's command line.\n"
    "  --kernel FILE      default: the image's own (its /vmlinuz, read from inside it)\n"
    "  --initrd FILE      default: one built with `loopboot initrd` for the kernel\n"
    "                     (its modules from beside it, or --modules-dir)\n"
    "  --kernel-from image  GRUB only: at boot it loads the image's /vmlinuz and\n"
    "                     /initrd.img (its own initramfs, with loopboot's hook), so a\n"
    "                     kernel upgraded in the image boots (default: media)\n"
    "  --cmdline STRING   default /proc/cmdline (without BOOT_IMAGE= and initrd=)\n"
    "  --title TITLE      the menu entry's title\n"
    "  --timeout SECONDS  how long GRUB's menu waits (default 5)\n";

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

static int iso_build(const struct media_options *o, const struct media *m, const char *output,
                     const char *work)
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
	if (media_run(o, "making the image", argv, work) < 0)
		return -1;

	_cleanup_close_ int fd = open(iso, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		log_fail(fd < 0 ? errno : EIO, "iso: grub-mkrescue wrote no image", iso, NULL,
		         "run grub-mkrescue -o %s %s by hand to see why", output, tree);
		return -1;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		log_fail(errno, "iso: writing", iso, NULL, "check the space and the device");
		return -1;
	}
	if (rename(iso, output) < 0) {
		log_fail(errno, "iso: renaming the new image to", output, NULL,
		         "check that the directory is writable");
		return -1;
	}
	struct stat ist;
	if (!own || stat(initrd, &ist) < 0)
		ist.st_size = 0;
	printf("loopboot: wrote %s: %.1f MiB hybrid ISO, boots under BIOS and UEFI from a CD/DVD "
	       "or written to a USB stick (dd if=%s of=/dev/sdX bs=4M)\n",
	       output, (double)st.st_size / (1024.0 * 1024.0), output);
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
	struct stat st;
	if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
		log_fail(EEXIST, "iso: output", output,
		         S_ISBLK(st.st_mode) ? "a device: the image is written to a file first"
		                             : "exists and is not a regular file",
		         "give a file name; write it to a stick afterwards with dd");
		return 2;
	}
	_cleanup_free_ char *copy = xstrdup(output);
	const char *dir = dirname(copy);
	if (!is_dir(dir)) {
		log_fail(ENOENT, "iso: output directory", dir, NULL, "create it first");
		return 2;
	}

	static const char *const progs[] = {"grub-mkrescue", "xorriso", "mformat", "mcopy", NULL};
	struct media m;
	r = media_prepare(&o, progs, &m);
	if (r)
		return r;
	media_signals_catch();
	/* A reader of our output that goes away makes a write fail, rather than kill us
	 * before the work directory is removed. */
	signal(SIGPIPE, SIG_IGN);
	char *work = work_dir_for(output);
	r = work ? iso_build(&o, &m, output, work) : -1;
	if (work) {
		(void)rm_rf(work);
		free(work);
	}
	media_free(&m);
	media_signals_done();
	return r < 0 ? 1 : 0;
}
