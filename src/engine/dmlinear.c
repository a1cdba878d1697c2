/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/dmlinear.h"

#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "basic/log.h"
#include "basic/util.h"

#define DM_CONTROL      "/dev/" DM_DIR "/" DM_CONTROL_NODE
#define DM_CONTROL_ALT  "/run/loopboot/dm-control"
#define DM_SPEC_ALIGN   8
#define VERIFY_BYTES    4096
#define VERIFY_MAX_HITS 4096

/* /dev/mapper/control, made by devtmpfs; or a node of our own from sysfs when /dev has
 * none (a /dev that is not devtmpfs). */
static int open_control(void)
{
	int fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	_cleanup_free_ char *dev = NULL;
	if (read_file("/sys/class/misc/device-mapper/dev", &dev, NULL) < 0)
		return -ENOENT;
	unsigned ma, mi;
	if (sscanf(dev, "%u:%u", &ma, &mi) != 2)
		return -ENOENT;
	(void)mkdir_p("/run/loopboot", 0755);
	(void)unlink(DM_CONTROL_ALT);
	if (mknod(DM_CONTROL_ALT, S_IFCHR | 0600, makedev(ma, mi)) < 0)
		return -errno;
	fd = open(DM_CONTROL_ALT, O_RDWR | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

static void dm_init(struct dm_ioctl *io, size_t size, const char *name)
{
	memset(io, 0, size);
	/* Minor 0: every kernel with interface 4 accepts it. */
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = (__u32)size;
	io->data_start = sizeof(struct dm_ioctl);
	if (name)
		snprintf(io->name, sizeof(io->name), "%s", name);
}

int dmlinear_available(void)
{
	_cleanup_close_ int fd = open_control();
	if (fd < 0)
		return fd;
	struct dm_ioctl io;
	dm_init(&io, sizeof(io), NULL);
	if (ioctl(fd, DM_VERSION, &io) < 0)
		return -errno;
	return 0;
}

static int dm_simple(int fd, unsigned long cmd, const char *name, __u32 flags)
{
	struct dm_ioctl io;
	dm_init(&io, sizeof(io), name);
	io.flags = flags;
	return ioctl(fd, cmd, &io) < 0 ? -errno : 0;
}

static int remove_fd(int fd, const char *name)
{
	int r = 0;
	for (int i = 0; i < 100; i++) {
		r = dm_simple(fd, DM_DEV_REMOVE, name, 0);
		if (r != -EBUSY)
			break;
		sleep_ms(20); /* blkid or a closing opener may hold it a moment */
	}
	return r;
}

int dmlinear_remove(const char *name)
{
	_cleanup_close_ int fd = open_control();
	if (fd < 0)
		return fd;
	int r = remove_fd(fd, name);
	if (r == 0) {
		_cleanup_free_ char *link = xasprintf("/dev/" DM_DIR "/%s", name);
		(void)unlink(link);
		log_debug("removed the device-mapper device %s", name);
	}
	return r;
}

/* One target of a table: sectors start.. of the new device, its type and parameters. */
struct dm_target {
	uint64_t start, length;
	const char *type;
	char params[96];
};

static int load_table(int fd, const char *name, const struct dm_target *t, size_t n_targets,
                      bool read_only)
{
	/* Each target: the spec, its parameter string, padded to 8 bytes. */
	size_t size = sizeof(struct dm_ioctl);
	for (size_t i = 0; i < n_targets; i++)
		size +=
		    (sizeof(struct dm_target_spec) + strlen(t[i].params) + 1 + DM_SPEC_ALIGN - 1) &
		    ~(size_t)(DM_SPEC_ALIGN - 1);
	if (size > UINT32_MAX)
		return -E2BIG;
	char *buf = xcalloc(1, size);
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	dm_init(io, size, name);
	io->target_count = (__u32)n_targets;
	io->flags = read_only ? DM_READONLY_FLAG : 0;
	size_t off = sizeof(struct dm_ioctl);
	for (size_t i = 0; i < n_targets; i++) {
		struct dm_target_spec *spec = (struct dm_target_spec *)(buf + off);
		spec->sector_start = t[i].start;
		spec->length = t[i].length;
		snprintf(spec->target_type, sizeof(spec->target_type), "%s", t[i].type);
		size_t n = strlen(t[i].params);
		memcpy(spec + 1, t[i].params, n + 1);
		size_t step =
		    (sizeof(*spec) + n + 1 + DM_SPEC_ALIGN - 1) & ~(size_t)(DM_SPEC_ALIGN - 1);
		spec->next = (__u32)step;
		off += step;
	}
	int r = ioctl(fd, DM_TABLE_LOAD, io) < 0 ? -errno : 0;
	free(buf);
	return r;
}

/* Creates, loads and activates the device name with the table t; waits for its node. */
static int dm_create(const char *name, const struct dm_target *t, size_t n_targets, bool read_only,
                     char **ret_devnode)
{
	*ret_devnode = NULL;
	if (n_targets == 0)
		return -EINVAL;
	_cleanup_close_ int fd = open_control();
	if (fd < 0)
		return fd;
	struct dm_ioctl io;
	dm_init(&io, sizeof(io), name);
	snprintf(io.uuid, sizeof(io.uuid), "LOOPBOOT-%s", name);
	if (ioctl(fd, DM_DEV_CREATE, &io) < 0)
		return errno == EBUSY ? -EEXIST : -errno;
	unsigned dm_minor = minor(io.dev);
	int r = load_table(fd, name, t, n_targets, read_only);
	if (r == 0)
		r = dm_simple(fd, DM_DEV_SUSPEND, name, 0); /* no DM_SUSPEND_FLAG: resume */
	if (r < 0) {
		(void)remove_fd(fd, name);
		return r;
	}
	_cleanup_free_ char *node = xasprintf("/dev/dm-%u", dm_minor);
	/* devtmpfs makes the node asynchronously. */
	for (int i = 0; i < 500 && access(node, F_OK) < 0; i++)
		sleep_ms(10);
	if (access(node, F_OK) < 0) {
		r = -errno;
		(void)remove_fd(fd, name);
		return r;
	}
	/* As udev would: ntfs-3g, for one, names dm devices by /dev/mapper/NAME. */
	_cleanup_free_ char *link = xasprintf("/dev/" DM_DIR "/%s", name);
	_cleanup_free_ char *rel = xasprintf("../dm-%u", dm_minor);
	(void)mkdir("/dev/" DM_DIR, 0755);
	(void)unlink(link);
	if (symlink(rel, link) < 0)
		log_debug("creating %s: %m", link);
	*ret_devnode = node;
	node = NULL;
	return 0;
}

int dmlinear_create(const char *name, unsigned major, unsigned minor, const struct extent_map *map,
                    bool read_only, char **ret_devnode)
{
	struct dm_target *t = xcalloc(map->n ? map->n : 1, sizeof(*t));
	for (size_t i = 0; i < map->n; i++) {
		const struct extent *e = &map->v[i];
		t[i] = (struct dm_target){.start = e->logical / EXTENT_SECTOR,
		                          .length = e->length / EXTENT_SECTOR,
		                          .type = "linear"};
		snprintf(t[i].params, sizeof(t[i].params), "%u:%u %llu", major, minor,
		         (unsigned long long)(e->physical / EXTENT_SECTOR));
	}
	int r = dm_create(name, t, map->n, read_only, ret_devnode);
	free(t);
	if (r == 0)
		log_debug("device-mapper %s is %s: %zu linear extent%s on %u:%u%s", name,
		          *ret_devnode, map->n, map->n == 1 ? "" : "s", major, minor,
		          read_only ? ", read-only" : "");
	return r;
}

int dmsnap_create(const char *name, dev_t origin, dev_t cow, uint64_t sectors, char **ret_devnode)
{
	struct dm_target t = {.start = 0, .length = sectors, .type = "snapshot"};
	/* N: not persistent (the store is thrown away); 8 sectors: 4 KiB chunks. */
	snprintf(t.params, sizeof(t.params), "%u:%u %u:%u N 8", major(origin), minor(origin),
	         major(cow), minor(cow));
	return dm_create(name, &t, 1, false, ret_devnode);
}

/* The device's bytes at off against the file's at base + off. */
static int compare_at(int file_fd, int dev_fd, uint64_t base, uint64_t off, uint64_t size)
{
	char a[VERIFY_BYTES], b[VERIFY_BYTES];
	size_t n = size - off < VERIFY_BYTES ? (size_t)(size - off) : VERIFY_BYTES;
	int r = read_exactly(file_fd, a, n, (int64_t)(base + off));
	if (r == 0)
		r = read_exactly(dev_fd, b, n, (int64_t)off);
	if (r < 0)
		return r;
	if (memcmp(a, b, n) != 0) {
		log_debug("the mapped device differs from the file at byte %llu",
		          (unsigned long long)off);
		return -EIO;
	}
	return 0;
}

int dmlinear_verify(int file_fd, uint64_t file_base, const char *devnode,
                    const struct extent_map *map)
{
	_cleanup_close_ int dev_fd = open(devnode, O_RDONLY | O_CLOEXEC);
	if (dev_fd < 0)
		return -errno;
	size_t step = map->n > VERIFY_MAX_HITS ? map->n / VERIFY_MAX_HITS : 1;
	for (size_t i = 0; i < map->n; i += step) {
		int r = compare_at(file_fd, dev_fd, file_base, map->v[i].logical, map->size);
		if (r < 0)
			return r;
	}
	uint64_t tail = map->size > VERIFY_BYTES ? map->size - VERIFY_BYTES : 0;
	return compare_at(file_fd, dev_fd, file_base, tail, map->size);
}

char *dmlinear_name_for(const char *role, const char *target)
{
	if (!target || streq(role, "root"))
		return xstrdup(DM_NAME_ROOT);
	/* '-' doubled first, as LVM does, so that /a-b and /a/b get different names. */
	size_t n = strlen(target);
	char *s = xmalloc(sizeof("loopboot") + 2 * n);
	char *o = stpcpy(s, "loopboot");
	for (const char *p = target; *p; p++) {
		if (*p == '-')
			*o++ = '-';
		*o++ = *p == '/' ? '-' : *p;
	}
	*o = '\0';
	if (strlen(s) >= DM_NAME_LEN)
		s[DM_NAME_LEN - 1] = '\0';
	return s;
}
