/* SPDX-License-Identifier: GPL-2.0-or-later */
/* loopboot.mode=linear: image files mapped with device-mapper over their extents on the
 * host's device, and the host mounted from a read-only mapping of its own. */
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "basic/log.h"
#include "engine/dmlinear.h"
#include "engine/engine.h"
#include "engine/extents.h"
#include "engine/modules.h"
#include "engine/mounts.h"

static int blockdev_info(const char *devnode, dev_t *ret_rdev, uint64_t *ret_size)
{
	_cleanup_close_ int fd = open(devnode, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	if (ioctl(fd, BLKGETSIZE64, ret_size) < 0)
		return -errno;
	*ret_rdev = st.st_rdev;
	return 0;
}

/* Linear mode gives way to loop devices, with one warning line that says why. */
void linear_refuse(struct engine *e, const char *what, const char *why)
{
	if (!e->linear)
		return;
	e->linear = false;
	free(e->linear_refused);
	e->linear_refused = xasprintf("%s: %s", what, why);
	log_warn("loopboot.mode=linear refused: %s: %s — booting with a loop device instead", what,
	         why);
}

/* Whether the kernel can map at all; refuses linear mode up front when it cannot. */
void linear_check_kernel(struct engine *e)
{
	(void)modules_load(e->mods, "dm_mod");
	int r = dmlinear_available();
	if (r < 0) {
		_cleanup_free_ char *why = xasprintf("the kernel has no device-mapper (%s): the "
		                                     "initramfs needs the dm_mod module",
		                                     strerror(-r));
		linear_refuse(e, "device-mapper", why);
	}
}

/* The extents of the image file open as fd, on the host device. */
static int linear_extents(struct engine *e, int fd, const char *path, dev_t *ret_rdev,
                          struct extent_map *ret, const char **ret_why)
{
	uint64_t dev_size;
	*ret = (struct extent_map){0};
	int r = blockdev_info(e->hostdev.devnode, ret_rdev, &dev_size);
	if (r < 0) {
		*ret_why = "the host is not a block device";
		return r;
	}
	*ret_why = extent_host_type_refusal(e->hostdev.type);
	if (*ret_why)
		return -EINVAL;
	if (engine_host(e)->fuse) {
		if (!streq(e->hostdev.type, "ntfs")) {
			*ret_why = "the host is served by a FUSE driver, which reports no extents";
			return -EOPNOTSUPP;
		}
		/* ntfs-3g reports the MFT record number as the inode number. */
		struct stat st;
		uint64_t ino = fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
		return extents_from_ntfs(e->hostdev.devnode, path, ino, dev_size, ret, ret_why);
	}
	r = extents_from_fiemap(fd, dev_size, ret, ret_why);
	if (r == -EOPNOTSUPP && (streq(e->hostdev.type, "vfat") || streq(e->hostdev.type, "msdos")))
		r = extents_from_fat(fd, e->hostdev.devnode, dev_size, ret, ret_why);
	return r;
}

/* A refusal in the real pass: the caller builds the stack again with loop devices. */
static int linear_give_way(struct engine *e, const char *path, const char *why)
{
	_cleanup_free_ char *what = xasprintf("the image %s", path);
	linear_refuse(e, what, why);
	if (e->probe)
		return 0;
	e->linear_retry = true;
	return -EAGAIN;
}

/*
 * An image file on the host, mapped with device-mapper instead of a loop device. In the
 * dry run only the extents are read and judged (a refusal switches the whole boot to loop
 * devices); in the real pass the mapping is made, checked against the file and recorded,
 * and *ret_devnode gets its node. A refusal in the real pass sets linear_retry and fails:
 * the caller builds the stack again with loop devices.
 */
int linear_map(struct engine *e, int fd, const char *path, const char *dir, enum mount_role role,
               const char *target, bool read_only, uint64_t offset, uint64_t size,
               char **ret_devnode)
{
	struct extent_map m;
	const char *why = NULL;
	dev_t rdev = 0;
	*ret_devnode = NULL;
	int r = linear_extents(e, fd, path, &rdev, &m, &why);
	if (r < 0)
		return linear_give_way(e, path, why ? why : strerror(-r));
	if (size) {
		/* A partition of a disk image: only its bytes. */
		struct extent_map part;
		r = extent_map_slice(&m, offset, size, &part);
		extent_map_free(&m);
		if (r < 0)
			return linear_give_way(e, path,
			                       "the partition is not inside the file's extents");
		m = part;
	}
	if (e->probe) {
		log_debug("%s: %zu extent%s on %s, can be mapped", path, m.n, m.n == 1 ? "" : "s",
		          e->hostdev.devnode);
		extent_map_free(&m);
		return 0;
	}
	_cleanup_free_ char *fin = engine_final_path(e, target);
	_cleanup_free_ char *name = dmlinear_name_for(mount_role_name(role), fin);
	char *node = NULL;
	r = dmlinear_create(name, major(rdev), minor(rdev), &m, read_only, &node);
	if (r == 0) {
		r = dmlinear_verify(fd, offset, node, &m);
		if (r < 0) {
			(void)dmlinear_remove(name);
			free(node);
			node = NULL;
		}
	}
	if (r < 0) {
		_cleanup_free_ char *msg =
		    r == -EIO
		        ? xstrdup("the mapped device does not read back what the file holds")
		        : xasprintf("creating the device-mapper device %s: %s", name, strerror(-r));
		extent_map_free(&m);
		return linear_give_way(e, path, msg);
	}
	struct layer *l = stack_push(&e->stack, LAYER_DM);
	l->dm = (struct layer_dm){.device = xstrdup(node),
	                          .name = xstrdup(name),
	                          .extents = m.n,
	                          .file = xstrdup(path),
	                          .parent = xstrdup(dir),
	                          .on = xstrdup(e->hostdev.devnode),
	                          .read_only = read_only,
	                          .offset = offset,
	                          .size = size};
	log_info("%s: mapped linearly on %s as %s (%s, %zu extent%s)", path, e->hostdev.devnode,
	         node, name, m.n, m.n == 1 ? "" : "s");
	extent_map_free(&m);
	*ret_devnode = node;
	return 0;
}

/*
 * The real pass in linear mode: the host leaves its device to device-mapper. A mounted
 * file system holds its device exclusively and device-mapper claims the devices under its
 * tables, so the host is mounted from a mapping of its own (the whole device, one extent),
 * read-only; the images' mappings share the device with it. The mapping is then made
 * read-only too, so that nobody remounts the host writable behind the images' backs.
 */
int linear_host(struct engine *e)
{
	dev_t rdev;
	uint64_t size;
	int r = blockdev_info(e->hostdev.devnode, &rdev, &size);
	if (r < 0) {
		linear_refuse(e, e->host_spec, "the host is not a block device");
		return 0;
	}
	r = host_unmount(e, "unmounting the host after the check");
	if (r < 0)
		return r;
	struct extent_map m = {.size = size};
	(void)extent_map_add(&m, 0, 0, size);
	char *node = NULL;
	r = dmlinear_create(DM_NAME_HOST, major(rdev), minor(rdev), &m, e->hc.host_ro, &node);
	extent_map_free(&m);
	if (r < 0) {
		_cleanup_free_ char *why = xasprintf("creating the device-mapper device %s: %s",
		                                     DM_NAME_HOST, strerror(-r));
		linear_refuse(e, e->host_spec, why);
		return host_mount_as(e, true); /* as the dry run left it */
	}
	r = host_mount_from(e, node, true, e->hc.host_ro);
	if (r < 0) {
		(void)dmlinear_remove(DM_NAME_HOST);
		free(node);
		return r;
	}
	struct layer_host *h = engine_host(e);
	h->dm = xstrdup(DM_NAME_HOST);
	h->device = xstrdup(e->hostdev.devnode);
	_cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC);
	int one = 1;
	if (fd < 0 || ioctl(fd, BLKROSET, &one) < 0)
		log_warn("making %s read-only: %m — do not remount the host writable", node);
	free(node);
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Linear mode refused during the real pass: the host as the loop path wants it. */
int linear_abandon(struct engine *e)
{
	e->linear_retry = false;
	_cleanup_free_ char *dm = dup_or_null(engine_host(e)->dm);
	int r = host_unmount(e, "unmounting the host");
	if (r < 0)
		return r;
	if (dm)
		(void)dmlinear_remove(dm);
	return host_mount_as(e, e->hc.host_ro);
}
