/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/grub.h"

#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <sys/stat.h>

#include "basic/log.h"
#include "basic/mounttable.h"
#include "basic/options.h"
#include "basic/strbuf.h"
#include "engine/cmdline.h"
#include "engine/device.h"
#include "engine/loopdev.h"
#include "engine/modules.h"
#include "tools/check.h"
#include "tools/cli.h"
#include "tools/views.h"

/* ---- the pure part ---------------------------------------------------------------------- */

/* Characters GRUB's parser takes literally outside quotes. Parentheses are included so
 * that device paths such as (loop0)/boot/vmlinuz stay as people write them. */
char *grub_quote(const char *word)
{
	return quote_word(word, "-_./=:,+@%()");
}

const char *grub_module_for(const char *fstype)
{
	static const struct {
		const char *type, *module;
	} map[] = {
	    {"ext2", "ext2"},        {"ext3", "ext2"},   {"ext4", "ext2"},
	    {"ntfs", "ntfs"},        {"ntfs3", "ntfs"},  {"vfat", "fat"},
	    {"msdos", "fat"},        {"exfat", "exfat"}, {"btrfs", "btrfs"},
	    {"xfs", "xfs"},          {"f2fs", "f2fs"},   {"iso9660", "iso9660"},
	    {"squashfs", "squash4"}, {"udf", "udf"},     {"hfsplus", "hfsplus"},
	};
	for (size_t i = 0; fstype && i < ARRAY_SIZE(map); i++)
		if (streq(map[i].type, fstype))
			return map[i].module;
	return NULL;
}

char *grub_partition_name(const char *table, unsigned number)
{
	if (streq_ptr(table, "gpt"))
		return xasprintf("gpt%u", number);
	if (streq_ptr(table, "dos"))
		return xasprintf("msdos%u", number);
	return NULL;
}

/* FNV-1a, 32 bits, over n bytes. */
static uint32_t fnv1a(uint32_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

char *grub_loop_name(const struct grub_entry *e, unsigned layer)
{
	/* The host as GRUB finds it, then each path up to this layer, each with its NUL: a
	 * layer's name differs from those of the layers it is in. */
	const char *how = e->search == GRUB_SEARCH_LABEL ? "label" : "fs-uuid";
	uint32_t h = fnv1a(2166136261u, how, strlen(how) + 1);
	h = fnv1a(h, e->search_value, strlen(e->search_value) + 1);
	for (unsigned i = 0; i <= layer && i < e->n_layers; i++) {
		h = fnv1a(h, e->layers[i].path, strlen(e->layers[i].path) + 1);
		/* Hashed only where there is one: the names of images without stay as they were. */
		const char *part = e->layers[i].partition;
		if (i < layer && part)
			h = fnv1a(h, part, strlen(part) + 1);
	}
	return xasprintf("%s%08x", GRUB_LOOP_PREFIX, h);
}

static void add_module(struct strbuf *b, struct strv *seen, const char *module)
{
	if (!module || strv_contains(seen, module))
		return;
	strv_push(seen, xstrdup(module));
	strbuf_printf(b, "\tinsmod %s\n", module);
}

char *grub_format_entry(const struct grub_entry *e)
{
	struct strbuf b = {0};
	struct strv seen = {0};
	_cleanup_free_ char *title = grub_quote(e->title);
	strbuf_printf(&b, "menuentry %s --class gnu-linux --class os {\n", title);
	add_module(&b, &seen, "part_gpt");
	add_module(&b, &seen, "part_msdos");
	if (grub_module_for(e->host_fstype)) {
		add_module(&b, &seen, grub_module_for(e->host_fstype));
	} else {
		/* Not known here: the hosts loopboot is made for. */
		static const char *const usual[] = {"ntfs", "fat", "exfat", "ext2"};
		for (size_t i = 0; i < ARRAY_SIZE(usual); i++)
			add_module(&b, &seen, usual[i]);
	}
	_cleanup_free_ char *value = grub_quote(e->search_value);
	strbuf_printf(&b, "\tsearch --no-floppy %s --set=root %s\n",
	              e->search == GRUB_SEARCH_LABEL ? "--label" : "--fs-uuid", value);

	_cleanup_free_ char *prefix = xstrdup(""); /* where the kernel is read from */
	if (!e->kernel_from_host) {
		add_module(&b, &seen, "loopback");
		for (unsigned i = 0; i < e->n_layers; i++) {
			const char *m = grub_module_for(e->layers[i].fstype);
			add_module(&b, &seen, m ? m : "ext2");
		}
		/* A device of this name left from an entry tried before (the same image: the
		 * name is made from the host and the paths) is removed first, inner ones
		 * before the ones they are in: GRUB refuses a name that exists. The test keeps
		 * GRUB quiet when there is none. */
		for (unsigned i = e->n_layers; i-- > 0;) {
			_cleanup_free_ char *name = grub_loop_name(e, i);
			strbuf_printf(&b, "\tif [ -e (%s)/ ]; then loopback -d %s; fi\n", name,
			              name);
		}
		for (unsigned i = 0; i < e->n_layers; i++) {
			const struct grub_layer *l = &e->layers[i];
			_cleanup_free_ char *name = grub_loop_name(e, i);
			_cleanup_free_ char *file =
			    xasprintf("%s%s", prefix, l->file ? l->file : l->path);
			_cleanup_free_ char *q = grub_quote(file);
			strbuf_printf(&b, "\tloopback %s %s\n", name, q);
			free(prefix);
			/* A disk image: what follows is in its partition, (NAME,gpt2). */
			prefix = l->partition ? xasprintf("(%s,%s)", name, l->partition)
			                      : xasprintf("(%s)", name);
		}
	}
	_cleanup_free_ char *kernel = xasprintf("%s%s", prefix, e->kernel);
	_cleanup_free_ char *qk = grub_quote(kernel);
	strbuf_printf(&b, "\tlinux %s", qk);
	for (size_t i = 0; i < e->n_args; i++) {
		_cleanup_free_ char *q = grub_quote(e->args[i]);
		strbuf_printf(&b, " %s", q);
	}
	strbuf_append(&b, "\n");
	if (e->initrd) {
		_cleanup_free_ char *initrd = xasprintf("%s%s", prefix, e->initrd);
		_cleanup_free_ char *qi = grub_quote(initrd);
		strbuf_printf(&b, "\tinitrd %s\n", qi);
	}
	strbuf_append(&b, "}\n");
	strv_free(&seen);
	return strbuf_steal(&b);
}

static bool key_is(const char *key, const char *name)
{
	return streq(key, name);
}

int grub_kernel_words(const char *cmdline, struct strv *ret)
{
	struct cmdline c;
	int r = cmdline_tokenize(cmdline ? cmdline : "", &c);
	if (r < 0)
		return r;
	const struct cmdline_param *root = NULL, *loop = NULL;
	for (size_t i = 0; i < c.n_params; i++) {
		if (key_is(c.params[i].key, "root"))
			root = &c.params[i];
		else if (key_is(c.params[i].key, "loop"))
			loop = &c.params[i];
	}
	const struct cmdline_param *first[] = {root, loop};
	for (size_t i = 0; i < ARRAY_SIZE(first); i++)
		if (first[i])
			strv_push(ret, first[i]->value
			                   ? xasprintf("%s=%s", first[i]->key, first[i]->value)
			                   : xstrdup(first[i]->key));
	for (size_t i = 0; i < c.n_params; i++) {
		const struct cmdline_param *p = &c.params[i];
		if (key_is(p->key, "root") || key_is(p->key, "loop") ||
		    key_is(p->key, "BOOT_IMAGE") || key_is(p->key, "initrd"))
			continue;
		strv_push(ret, p->value ? xasprintf("%s=%s", p->key, p->value) : xstrdup(p->key));
	}
	if (c.n_init_args) {
		strv_push(ret, xstrdup("--"));
		for (size_t i = 0; i < c.n_init_args; i++)
			strv_push(ret, xstrdup(c.init_args[i]));
	}
	cmdline_free(&c);
	return 0;
}

/* ---- from a command line and this machine ---------------------------------------------- */

/* A path of the image's own (kept in keep) for the entry. */
static const char *kept(struct strv *keep, char *owned)
{
	strv_push(keep, owned);
	return owned;
}

static bool exists_in(int rootfd, const char *path)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_PATH);
	return fd >= 0;
}

/*
 * What image i is as a disk image (a VM's disk), into the entry: GRUB's name of the
 * partition holding what follows, the file its loopback opens (a VMDK's -flat extent) and
 * the partition's file system. GRUB reads a disk's bytes from the start of the file: a
 * raw disk, a fixed VHD (its footer is at the end), a VMDK's extent; not a VDI, whose
 * bytes start after VirtualBox's header. Returns 0, or 1 after a message.
 */
static int take_slice(const struct plan *p, unsigned i, const struct disk_slice *s,
                      struct grub_entry *e, struct strv *keep)
{
	if (s->disk.h.format == DISK_NONE || e->kernel_from_host)
		return 0; /* GRUB opens no image: the kernel is on the host */
	const char *path = p->loop.part[i];
	if (s->disk.h.data_offset != 0) {
		_cleanup_free_ char *dir = xstrdup(p->loop.part[0]);
		*strrchr(dir, '/') = '\0';
		_cleanup_free_ char *convert = disk_convert_advice(s->disk.h.format, path);
		_cleanup_free_ char *why = xasprintf(
		    "GRUB cannot read the disk inside a %s (its bytes start at offset %llu of the "
		    "file, GRUB's loopback reads from 0)",
		    disk_format_name(s->disk.h.format), (unsigned long long)s->disk.h.data_offset);
		log_fail(EMEDIUMTYPE, "grub: --kernel-from image", path, why,
		         "copy the image's kernel and initramfs to the host beside it (%s/vmlinuz, "
		         "%s/initrd.img) and write the entry with --kernel-from host; or %s",
		         dir, dir, convert);
		return 1;
	}
	if (s->data_path)
		e->layers[i].file = kept(keep, xstrdup(s->data_path));
	if (!s->has_part)
		return 0; /* a bare file system in the container: the whole file */
	const struct disk_part *part = &s->disk.parts[s->index];
	char *name = grub_partition_name(s->disk.table, part->number);
	if (!name) {
		log_fail(EMEDIUMTYPE, "grub: the partition table of", path,
		         "GRUB names partitions of GPT and MBR (dos) tables only",
		         "convert the disk to GPT or MBR, or use --kernel-from host");
		return 1;
	}
	e->layers[i].partition = kept(keep, name);
	if (part->fstype && !(i + 1 == p->loop.n && p->loopfstype))
		e->layers[i].fstype = kept(keep, xstrdup(part->fstype));
	return 0;
}

/*
 * With the host mounted on this machine, reads the images' types (and follows images in
 * use, such as the running system's root; a disk image to its partition). Returns 0 with
 * *ret_rootfd a descriptor of the innermost image's root directory when it could be
 * reached (else -1), or 1 after a message.
 */
static int probe_layers(const struct device_info *dev, const struct plan *p, struct grub_entry *e,
                        struct strv *keep, int *ret_rootfd)
{
	static const struct partsel automatic = {.kind = PARTSEL_AUTO};
	const struct partsel *sel = &p->loop.sel;
	*ret_rootfd = -1;
	if (!dev->devnode)
		return 0;
	int dirfd = mount_open_device(dev->devnode, NULL), ret = 0;
	for (unsigned i = 0; dirfd >= 0 && i < p->loop.n; i++) {
		int fd = open_in_root(dirfd, p->loop.part[i], O_RDONLY | O_NONBLOCK);
		if (fd < 0) {
			log_warn("grub: %s is not on the host (it is mounted here): check loop=",
			         p->loop.part[i]);
			close(dirfd);
			dirfd = -1;
			break;
		}
		struct disk_slice s;
		struct verdict v;
		int r = disk_resolve(dirfd, p->loop.part[i], &fd, false, sel, &s, &v);
		close(dirfd);
		dirfd = -1;
		if (r < 0) {
			/* The boot refuses it too, wherever the kernel comes from. */
			views_disk_failed(&v, &s, "grub");
			ret = 1;
		} else if (r > 0) {
			sel = &automatic;
			ret = take_slice(p, i, &s, e, keep);
		}
		char *type = NULL;
		uint64_t off = r > 0 ? s.offset : 0;
		if (r >= 0 && !e->layers[i].fstype &&
		    device_probe_range(fd, off, r > 0 ? s.size : 0, &type) > 0) {
			strv_push(keep, type);
			e->layers[i].fstype = type;
		} else {
			free(type);
		}
		_cleanup_free_ char *busy = r >= 0 && !ret ? views_loop_of(fd, off) : NULL;
		disk_slice_done(&s);
		verdict_done(&v);
		close(fd);
		if (busy)
			dirfd = mount_open_device(busy, NULL);
	}
	*ret_rootfd = dirfd < 0 ? -1 : dirfd;
	return ret;
}

/* GRUB's module for image i (in the view dirv), from the type blkid finds in it. */
static void probe_layer_type(const struct views *vs, int dirv, const struct plan *p, unsigned i,
                             struct grub_entry *e, struct strv *keep)
{
	if (e->layers[i].fstype)
		return;
	_cleanup_close_ int fd =
	    open_in_root(views_fd(vs, dirv), p->loop.part[i], O_RDONLY | O_NONBLOCK);
	char *type = NULL;
	if (fd >= 0 && device_probe_fd(fd, &type) > 0) {
		strv_push(keep, type);
		e->layers[i].fstype = type;
	} else {
		free(type);
	}
}

/*
 * The kernel and initramfs of the entry, read from inside the innermost image through a
 * read-only view of the host and the images (mounted here in a private namespace when the
 * system has not mounted them), and the images' types. Returns 0, 1 when the image cannot
 * be looked into, GRUB_EXIT_NO_KERNEL when it has nothing to boot (after a message).
 */
static int image_names(const struct plan *p, const struct grub_options *o, struct grub_entry *e,
                       struct strv *keep)
{
	_cleanup_free_ char *image = imagepath_to_string(&p->loop);
	if (geteuid() != 0) {
		log_fail(EPERM, "grub: not root", image,
		         "the kernel's name is read from inside the image, which is mounted "
		         "read-only in a private namespace",
		         "run it as root (it writes nothing), or give --kernel and --initrd");
		return 1;
	}
	struct views vs = {0};
	struct modules *mods = modules_new();
	int views[PLAN_MAX_LAYERS + 1];
	struct disk_slice slices[PLAN_MAX_LAYERS];
	int v = views_open_layers(&vs, mods, p, "grub", views, slices);
	modules_free(mods);
	int bad = 0;
	for (unsigned i = 0; i < p->loop.n; i++) {
		if (v >= 0 && !bad)
			bad = take_slice(p, i, &slices[i], e, keep);
		if (v >= 0 && !bad && slices[i].disk.h.format == DISK_NONE)
			probe_layer_type(&vs, views[i], p, i, e, keep);
		disk_slice_done(&slices[i]);
	}
	if (v < 0 || bad) {
		views_release(&vs);
		return 1; /* views_open_layers() or take_slice() said why */
	}
	int rootfd = views_fd(&vs, v), ret = 0;
	char *found_initrd = NULL;
	char *found = o->kernel ? NULL : views_image_kernel(rootfd, &found_initrd);
	if (found) {
		e->kernel = kept(keep, found);
	} else if (o->kernel) {
		e->kernel = o->kernel;
		if (!exists_in(rootfd, o->kernel))
			log_warn("grub: the kernel %s is not in the image %s — give --kernel PATH",
			         o->kernel, image);
	} else {
		log_warn("grub: %s: no kernel in the image (/vmlinuz, /boot/vmlinuz, "
		         "/boot/vmlinuz-VERSION): no entry written — install one in the image "
		         "(apt-get install linux-image-amd64), or give --kernel PATH",
		         image);
		ret = GRUB_EXIT_NO_KERNEL;
	}
	if (ret == 0 && o->initrd) {
		free(found_initrd);
		e->initrd = o->initrd;
		if (!exists_in(rootfd, o->initrd))
			log_warn(
			    "grub: the initramfs %s is not in the image %s — give --initrd PATH",
			    o->initrd, image);
	} else if (ret == 0) {
		/* The initramfs that goes with the kernel: /initrd.img with /vmlinuz,
		 * /boot/initrd.img-VERSION with /boot/vmlinuz-VERSION. */
		char *want = found ? found_initrd : views_initrd_for(o->kernel);
		if (!found && want && !exists_in(rootfd, want)) {
			free(want);
			want = NULL;
		}
		if (want) {
			e->initrd = kept(keep, want);
		} else {
			_cleanup_free_ char *beside = views_initrd_for(e->kernel);
			log_warn(
			    "grub: %s: the image has the kernel %s but not its initramfs %s: no "
			    "entry written — install initramfs-tools and loopboot in the image "
			    "(update-initramfs -u -k all), or give --initrd PATH",
			    image, e->kernel, beside ? beside : "(initrd.img beside it)");
			ret = GRUB_EXIT_NO_KERNEL;
		}
	} else {
		free(found_initrd);
	}
	views_release(&vs);
	return ret;
}

static const char usage[] =
    "Usage: loopboot grub [--kernel-from image|host] [--cmdline STRING] [--title TITLE]\n"
    "                     [--kernel PATH] [--initrd PATH]\n"
    "Prints a GRUB menuentry for a boot entry (default: /proc/cmdline, the running "
    "system).\n"
    "--kernel-from image (default): GRUB loads the kernel and initramfs from inside "
    "the image\n"
    "  (--kernel/--initrd: paths in the image; default: read from the image, read-only: "
    "/vmlinuz\n"
    "  and /initrd.img, else the newest /boot/vmlinuz-VERSION and its "
    "/boot/initrd.img-VERSION);\n"
    "--kernel-from host: from the host (default vmlinuz and initrd.img beside the "
    "image).\n";

/*
 * The host is not here: whether the first image is a disk image cannot be seen. With
 * loopboot.part=N it is one, and GRUB takes (NAME,N) in the first partition table it
 * recognises; a partition named otherwise cannot be found without the disk.
 */
static void name_partition_unseen(const struct plan *p, struct grub_entry *e, struct strv *keep)
{
	const struct partsel *sel = &p->loop.sel;
	if (sel->kind == PARTSEL_AUTO || e->kernel_from_host)
		return;
	if (sel->kind == PARTSEL_NUMBER) {
		e->layers[0].partition = kept(keep, xasprintf("%u", sel->number));
		return;
	}
	_cleanup_free_ char *s = partsel_to_string(sel);
	log_warn("grub: %s: loopboot.part=%s names the partition by a tag, which only the disk "
	         "itself resolves, and the host is not here: the entry opens the whole file — "
	         "attach the host and run it again, or write loopboot.part=N",
	         p->loop.part[0], s);
}

static int grub_run(const struct plan *p, const struct grub_options *o, struct device_info *dev,
                    struct strv *keep, struct strv *words, int *rootfd, char **ret_text)
{
	_cleanup_free_ char *spec = devspec_to_string(&p->root);
	if (!p->has_loop) {
		log_fail(EINVAL, "grub: no loop= in", o->cmdline, "this is not a loopboot entry",
		         "give the entry with --cmdline 'root=... loop=/path/to/root.img ...'");
		return 1;
	}
	struct grub_entry e = {.kernel_from_host = o->from_host, .n_layers = p->loop.n};
	for (unsigned i = 0; i < p->loop.n; i++)
		e.layers[i].path = p->loop.part[i];
	if (p->loopfstype)
		e.layers[p->loop.n - 1].fstype = p->loopfstype;

	/* The host: GRUB finds it by its file system's UUID or label. */
	int found = device_find(&p->root, dev);
	if (found < 0)
		return 1;
	if (p->root.kind == DEVSPEC_UUID) {
		e.search = GRUB_SEARCH_FS_UUID;
		e.search_value = p->root.value;
	} else if (p->root.kind == DEVSPEC_LABEL) {
		e.search = GRUB_SEARCH_LABEL;
		e.search_value = p->root.value;
	} else if (!found) {
		log_fail(ENODEV, "grub: host device not found", spec,
		         "GRUB needs its file system UUID, and no block device here matches",
		         "attach the host, or write root=UUID=... (blkid shows it)");
		return 1;
	} else if (!dev->uuid) {
		log_fail(ENODEV, "grub: the host has no file system UUID", spec,
		         "GRUB finds a volume by its file system UUID or label",
		         "check root= names the volume that holds the image");
		return 1;
	} else {
		e.search = GRUB_SEARCH_FS_UUID;
		e.search_value = dev->uuid;
	}
	bool look_inside = !e.kernel_from_host && !(o->kernel && o->initrd);
	if (!found && !look_inside)
		log_warn("grub: the host %s is not on this machine: the entry is written without "
		         "checking it",
		         spec);
	e.host_fstype = found ? dev->type : NULL;
	if (p->rootfstype && grub_module_for(p->rootfstype))
		e.host_fstype = p->rootfstype;
	/* Where the kernel is: inside the image (a kernel upgraded there boots), or on the
	 * host beside the image. */
	_cleanup_free_ char *kdef = NULL, *idef = NULL;
	if (e.kernel_from_host) {
		_cleanup_free_ char *dir = xstrdup(p->loop.part[0]);
		*strrchr(dir, '/') = '\0';
		kdef = xasprintf("%s/vmlinuz", dir);
		idef = xasprintf("%s/initrd.img", dir);
		e.kernel = o->kernel ? o->kernel : kdef;
		e.initrd = o->initrd ? o->initrd : idef;
		if (found) {
			/* The images' types, when they can be reached; the host's root. */
			int fd;
			int r = probe_layers(dev, p, &e, keep, &fd);
			if (fd >= 0)
				close(fd);
			if (r)
				return r;
			*rootfd = mount_open_device(dev->devnode, NULL); /* < 0: not reachable */
		}
	} else if (o->kernel && o->initrd) {
		/* Both given: looked at only where the host is mounted here. */
		e.kernel = o->kernel;
		e.initrd = o->initrd;
		int r = found ? probe_layers(dev, p, &e, keep, rootfd) : 0;
		if (r)
			return r;
		if (!found)
			name_partition_unseen(p, &e, keep);
	} else if (!found) {
		/* Nothing to look into: Debian's links, which loopboot install's images have. */
		e.kernel = o->kernel ? o->kernel : "/vmlinuz";
		idef = o->kernel ? views_initrd_for(o->kernel) : NULL;
		e.initrd = o->initrd ? o->initrd : idef ? idef : "/initrd.img";
		log_warn("grub: %s: the host is not here to look into the image: the entry names "
		         "%s and %s unchecked — attach the host and run it again, or give --kernel "
		         "and --initrd",
		         spec, e.kernel, e.initrd);
		name_partition_unseen(p, &e, keep);
	} else {
		int r = image_names(p, o, &e, keep);
		if (r)
			return r;
	}
	if (*rootfd >= 0) {
		const char *where = e.kernel_from_host ? "on the host" : "in the image";
		if (!exists_in(*rootfd, e.kernel))
			log_warn("grub: the kernel %s is not %s — give --kernel PATH", e.kernel,
			         where);
		if (!exists_in(*rootfd, e.initrd))
			log_warn("grub: the initramfs %s is not %s — give --initrd PATH", e.initrd,
			         where);
	}

	if (grub_kernel_words(o->cmdline, words) < 0)
		return 1;
	e.args = words->v;
	e.n_args = words->n;
	_cleanup_free_ char *image = imagepath_to_string(&p->loop);
	_cleanup_free_ char *deftitle = xasprintf("Linux from %s (loopboot)", image);
	e.title = o->title ? o->title : deftitle;
	*ret_text = grub_format_entry(&e);
	return 0;
}

int grub_make_entry(const struct plan *p, const struct grub_options *o, char **ret_text)
{
	struct device_info dev = {0};
	struct strv keep = {0}, words = {0};
	int rootfd = -1;
	*ret_text = NULL;
	int ret = grub_run(p, o, &dev, &keep, &words, &rootfd, ret_text);
	if (rootfd >= 0)
		close(rootfd);
	strv_free(&words);
	strv_free(&keep);
	device_info_free(&dev);
	return ret;
}

int grub_main(int argc, char **argv)
{
	const char *cmdline = NULL, *from = "image", *title = NULL, *kernel = NULL, *initrd = NULL;
	int r = OPTS_PARSE(argc, argv, 0, usage, OPT_STRING("kernel-from", 'f', &from),
	                   OPT_STRING("cmdline", 'c', &cmdline), OPT_STRING("title", 't', &title),
	                   OPT_STRING("kernel", 'k', &kernel), OPT_STRING("initrd", 'i', &initrd));
	if (r >= 0)
		return r;
	if (cli_refuse_words(argc, argv) < 0)
		return 2;
	if (!streq(from, "image") && !streq(from, "host")) {
		fprintf(stderr, "loopboot: grub: --kernel-from %s: unknown — use image or host\n",
		        from);
		return 2;
	}
	if ((kernel && kernel[0] != '/') || (initrd && initrd[0] != '/')) {
		fprintf(stderr,
		        "loopboot: grub: --kernel/--initrd: %s: the path must be absolute — start "
		        "it with /\n",
		        kernel && kernel[0] != '/' ? kernel : initrd);
		return 2;
	}
	_cleanup_free_ char *line = NULL; /* the entry's command line: cmdline or /proc's */
	struct plan p;
	r = cli_load_plan("grub", cmdline, &p, &line);
	if (r)
		return r;
	struct grub_options o = {.cmdline = line,
	                         .title = title,
	                         .kernel = kernel,
	                         .initrd = initrd,
	                         .from_host = streq(from, "host")};
	_cleanup_free_ char *text = NULL;
	int ret = grub_make_entry(&p, &o, &text);
	plan_free(&p);
	if (ret)
		return ret;
	fputs(text, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}
