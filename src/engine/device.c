/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/device.h"

#include <blkid.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "basic/log.h"

void device_info_free(struct device_info *d)
{
	free_all(d->devnode, d->type, d->uuid, d->label, d->partuuid, d->partlabel);
	*d = (struct device_info){0};
}

static char *probe_value(blkid_probe pr, const char *name)
{
	const char *v = NULL;
	if (blkid_probe_lookup_value(pr, name, &v, NULL) == 0 && v)
		return xstrdup(v);
	return NULL;
}

int device_read(const char *devnode, struct device_info *d)
{
	*d = (struct device_info){.devnode = xstrdup(devnode)};
	_cleanup_close_ int fd = open(devnode, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0) {
		blkid_free_probe(pr);
		return -EIO;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
	                                          BLKID_SUBLKS_LABEL);
	/* Partition entries come from the parent's table; ENTRY_DETAILS makes blkid read it. */
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	if (blkid_do_safeprobe(pr) == 0) {
		d->type = probe_value(pr, "TYPE");
		d->uuid = probe_value(pr, "UUID");
		d->label = probe_value(pr, "LABEL");
	}
	d->partuuid = probe_value(pr, "PART_ENTRY_UUID");
	d->partlabel = probe_value(pr, "PART_ENTRY_NAME");
	blkid_free_probe(pr);
	return 0;
}

static int devname_cmp(const struct dirent **a, const struct dirent **b)
{
	return strverscmp((*a)->d_name, (*b)->d_name);
}

static unsigned long long block_size(const char *name)
{
	_cleanup_free_ char *sizef = xasprintf("/sys/class/block/%s/size", name);
	_cleanup_free_ char *size = NULL;
	return read_file(sizef, &size, NULL) == 0 ? strtoull(size, NULL, 10) : 0;
}

/* The block devices of /sys/class/block, in a stable order: vda before vda1 before vdb. */
static int block_devices(struct strv *ret)
{
	struct dirent **names;
	int n = scandir("/sys/class/block", &names, NULL, devname_cmp);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		/* An unattached loop device or empty drive has size 0: nothing to probe. */
		if (name[0] != '.' && block_size(name) > 0)
			strv_push(ret, xasprintf("/dev/%s", name));
		free(names[i]);
	}
	free(names);
	return 0;
}

static const char *spec_value_of(const struct device_info *d, enum devspec_kind kind)
{
	switch (kind) {
	case DEVSPEC_UUID:
		return d->uuid;
	case DEVSPEC_LABEL:
		return d->label;
	case DEVSPEC_PARTUUID:
		return d->partuuid;
	case DEVSPEC_PARTLABEL:
		return d->partlabel;
	case DEVSPEC_PATH:
		break;
	}
	return NULL;
}

static bool spec_matches(const struct devspec *spec, const struct device_info *d)
{
	const char *v = spec_value_of(d, spec->kind);
	if (!v)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(devspec_tags); i++)
		if (devspec_tags[i].kind == spec->kind && devspec_tags[i].fold_case)
			return strcaseeq(v, spec->value);
	return streq(v, spec->value);
}

/*
 * Without udev there are no /dev/disk/by-* links; a root= written with one still names a
 * tag, so translate it rather than wait for a link that never comes.
 */
static bool devspec_from_by_link(const char *path, struct devspec *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(devspec_tags); i++) {
		const char *v = startswith(path, devspec_tags[i].link_dir);
		if (v && *v) {
			ret->kind = devspec_tags[i].kind;
			ret->value = (char *)v;
			return true;
		}
	}
	return false;
}

static int device_find_path(const char *path, struct device_info *ret)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISBLK(st.st_mode))
		return log_fail(
		    ENOTBLK, "host device", path, "not a block device",
		    "give root= a block device, a UUID=, LABEL=, PARTUUID= or PARTLABEL=");
	/* An attached-but-empty device (a card reader without a card) has nothing to read. */
	int r = device_read(path, ret);
	if (r == -ENOMEDIUM || r == -ENXIO) {
		device_info_free(ret);
		return 0;
	}
	if (r < 0) {
		device_info_free(ret);
		return log_fail(r, "host device", path, NULL, "check the device and its cable");
	}
	return 1;
}

void device_cache_free(struct device_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		device_info_free(&c->v[i].info);
	free(c->v);
	*c = (struct device_cache){0};
}

static struct device_seen *cache_find(struct device_cache *c, const char *devnode,
                                      struct device_seen *key)
{
	struct stat st;
	if (!c || stat(devnode, &st) < 0)
		return NULL;
	*key = (struct device_seen){.rdev = st.st_rdev, .size = block_size(devnode + 5)};
	for (size_t i = 0; i < c->n; i++)
		if (streq(c->v[i].info.devnode, devnode) && c->v[i].rdev == key->rdev &&
		    c->v[i].size == key->size)
			return &c->v[i];
	return NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void info_copy(struct device_info *to, const struct device_info *from)
{
	*to = (struct device_info){.devnode = dup_or_null(from->devnode),
	                           .type = dup_or_null(from->type),
	                           .uuid = dup_or_null(from->uuid),
	                           .label = dup_or_null(from->label),
	                           .partuuid = dup_or_null(from->partuuid),
	                           .partlabel = dup_or_null(from->partlabel)};
}

/* Reads devnode, or takes what the cache has; 0, or -errno as device_read(). */
static int read_cached(struct device_cache *c, const char *devnode, struct device_info *d)
{
	struct device_seen key;
	const struct device_seen *seen = cache_find(c, devnode, &key);
	if (seen) {
		info_copy(d, &seen->info);
		return 0;
	}
	int r = device_read(devnode, d);
	if (r < 0 || !c || !key.size)
		return r;
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	info_copy(&key.info, d);
	c->v[c->n++] = key;
	return 0;
}

int device_find(const struct devspec *spec, struct device_info *ret)
{
	return device_find_cached(spec, NULL, ret);
}

int device_find_cached(const struct devspec *spec, struct device_cache *c, struct device_info *ret)
{
	struct devspec translated;
	if (spec->kind == DEVSPEC_PATH) {
		if (!devspec_from_by_link(spec->value, &translated))
			return device_find_path(spec->value, ret);
		spec = &translated;
	}

	struct strv devs = {0};
	int r = block_devices(&devs);
	if (r < 0)
		return log_fail(r, "listing block devices", "/sys/class/block", NULL,
		                "the kernel must have sysfs mounted at /sys");
	int found = 0;
	for (size_t i = 0; i < devs.n; i++) {
		struct device_info d;
		if (read_cached(c, devs.v[i], &d) < 0 || !spec_matches(spec, &d)) {
			device_info_free(&d);
			continue;
		}
		if (found) {
			_cleanup_free_ char *name = devspec_to_string(spec);
			log_warn("%s also matches %s; using %s", name, d.devnode, ret->devnode);
			device_info_free(&d);
			continue;
		}
		*ret = d;
		found = 1;
	}
	strv_free(&devs);
	return found;
}

void device_list_all(void)
{
	struct strv devs = {0};
	if (block_devices(&devs) < 0 || devs.n == 0) {
		log_info(
		    "no block devices are visible — the storage driver may be missing from the "
		    "initramfs");
		strv_free(&devs);
		return;
	}
	log_info("block devices seen:");
	for (size_t i = 0; i < devs.n; i++) {
		struct device_info d;
		if (device_read(devs.v[i], &d) < 0) {
			log_info("  %s (cannot be read)", devs.v[i]);
		} else {
			log_info("  %s TYPE=%s UUID=%s LABEL=%s PARTUUID=%s PARTLABEL=%s",
			         d.devnode, d.type ? d.type : "-", d.uuid ? d.uuid : "-",
			         d.label ? d.label : "-", d.partuuid ? d.partuuid : "-",
			         d.partlabel ? d.partlabel : "-");
		}
		device_info_free(&d);
	}
	strv_free(&devs);
}

int device_probe_fd(int fd, char **ret_type)
{
	return device_probe_range(fd, 0, 0, ret_type);
}

int device_probe_range(int fd, uint64_t offset, uint64_t size, char **ret_type)
{
	*ret_type = NULL;
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	int r = blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size);
	if (r < 0) {
		blkid_free_probe(pr);
		return -EIO;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE);
	r = blkid_do_safeprobe(pr);
	if (r == -2) {
		blkid_free_probe(pr);
		return -EUCLEAN; /* more than one signature */
	}
	if (r != 0) {
		blkid_free_probe(pr);
		return r == 1 ? 0 : -EIO;
	}
	const char *usage = NULL;
	char *type = probe_value(pr, "TYPE");
	/* A swap area or a RAID member is a signature, but nothing to mount. */
	if (blkid_probe_lookup_value(pr, "USAGE", &usage, NULL) == 0 && usage &&
	    !streq(usage, "filesystem")) {
		blkid_free_probe(pr);
		*ret_type = type;
		return -EMEDIUMTYPE;
	}
	blkid_free_probe(pr);
	if (!type)
		return 0;
	*ret_type = type;
	return 1;
}

/* /sys/dev/block/MAJ:MIN of a block device node, or NULL. */
static char *sysfs_of(const char *devnode)
{
	struct stat st;
	if (!devnode || stat(devnode, &st) < 0 || !S_ISBLK(st.st_mode))
		return NULL;
	return xasprintf("/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
}

static bool sysfs_is_bitlk(const char *sysdir)
{
	_cleanup_free_ char *f = xasprintf("%s/dm/uuid", sysdir);
	_cleanup_free_ char *uuid = NULL;
	return read_file(f, &uuid, NULL) == 0 && startswith(uuid, "CRYPT-BITLK-");
}

/* The first entry of sysdir/sub (slaves, holders) that is or is not a BITLK mapping. */
static char *sysfs_related(const char *sysdir, const char *sub, bool want_bitlk)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", sysdir, sub);
	DIR *d = opendir(dir);
	char *found = NULL;
	for (struct dirent *de; d && !found && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *rel = xasprintf("%s/%s", dir, de->d_name);
		if (!want_bitlk || sysfs_is_bitlk(rel))
			found = xasprintf("/dev/%s", de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

char *device_bitlocker_volume_of(const char *mapping)
{
	_cleanup_free_ char *sys = sysfs_of(mapping);
	return sys && sysfs_is_bitlk(sys) ? sysfs_related(sys, "slaves", false) : NULL;
}

char *device_bitlocker_mapping_on(const char *volume)
{
	_cleanup_free_ char *sys = sysfs_of(volume);
	return sys ? sysfs_related(sys, "holders", true) : NULL;
}

char *device_bitlocker_closed(void)
{
	struct strv devs = {0};
	char *found = NULL;
	if (block_devices(&devs) < 0)
		return NULL;
	for (size_t i = 0; i < devs.n && !found; i++) {
		struct device_info d;
		if (device_read(devs.v[i], &d) == 0 && d.type && streq(d.type, "BitLocker")) {
			_cleanup_free_ char *mapping = device_bitlocker_mapping_on(d.devnode);
			if (!mapping)
				found = xstrdup(d.devnode);
		}
		device_info_free(&d);
	}
	strv_free(&devs);
	return found;
}
