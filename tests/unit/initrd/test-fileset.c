/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/copy.h"
#include "basic/util.h"
#include "cpio-read.h"
#include "initrd/fileset.h"
#include "test-main.h"

static const struct fileset_entry *find(const struct fileset *s, const char *path)
{
	return fileset_find(s, path);
}

static bool is_type(const struct fileset *s, const char *path, enum fileset_type t)
{
	const struct fileset_entry *e = find(s, path);
	return e && e->type == t;
}

TEST(sorted_with_parents)
{
	struct fileset s = {0};
	CHECK(fileset_add_file(&s, "/usr/lib/x/libz.so", "/src/z", 0644) == 0);
	CHECK(fileset_add_dir(&s, "etc", 0755) == 0);
	CHECK(fileset_add_symlink(&s, "usr/lib-old", "lib") == 0);
	CHECK(fileset_add_device(&s, "dev/null", S_IFCHR, 0666, 1, 3) == 0);
	CHECK(fileset_add_file(&s, "a", "/src/a", 0755) == 0);
	CHECK(fileset_add_dir(&s, "tmp", 01777) == 0);

	/* "usr/lib-old" sorts before "usr/lib/x" ('-' < '/'): still after its parent. */
	static const char *const sorted[] = {
	    "a",   "dev",     "dev/null",    "etc",       "tmp",
	    "usr", "usr/lib", "usr/lib-old", "usr/lib/x", "usr/lib/x/libz.so"};
	CHECK(s.n == ARRAY_SIZE(sorted));
	for (size_t i = 0; i < s.n && i < ARRAY_SIZE(sorted); i++)
		CHECK_STREQ(s.v[i].path, sorted[i]);
	for (size_t i = 1; i < s.n; i++)
		CHECK(strcmp(s.v[i - 1].path, s.v[i].path) < 0);
	/* Every parent comes before what it holds. */
	for (size_t i = 0; i < s.n; i++) {
		const char *slash = strrchr(s.v[i].path, '/');
		if (!slash)
			continue;
		_cleanup_free_ char *parent = xstrndup(s.v[i].path, (size_t)(slash - s.v[i].path));
		bool before = false;
		for (size_t k = 0; k < i; k++)
			before = before || streq(s.v[k].path, parent);
		CHECK(before);
	}
	CHECK(is_type(&s, "usr/lib/x", FILESET_DIR));
	CHECK(find(&s, "usr/lib")->mode == 0755);
	CHECK(find(&s, "tmp")->mode == 01777);
	CHECK(find(&s, "dev/null")->mode == (S_IFCHR | 0666));
	fileset_free(&s);
}

TEST(duplicates_and_conflicts)
{
	struct fileset s = {0};
	CHECK(fileset_add_file(&s, "bin/x", "/a", 0755) == 0);
	CHECK(fileset_add_file(&s, "/bin/x", "/a", 0755) == 0); /* the same again: fine */
	CHECK(fileset_add_file(&s, "bin/x", "/b", 0755) == -EEXIST);
	CHECK(fileset_add_symlink(&s, "bin/x", "y") == -EEXIST);
	CHECK(fileset_add_file(&s, "bin/x/below", "/c", 0644) == -ENOTDIR);
	CHECK(fileset_add_dir(&s, "bin", 0700) == 0); /* a directory again keeps its mode */
	CHECK(find(&s, "bin")->mode == 0755);
	CHECK(fileset_add_file(&s, "../x", "/a", 0644) == -EINVAL);
	CHECK(fileset_add_file(&s, "a/../../x", "/a", 0644) == -EINVAL);
	CHECK(fileset_add_file(&s, "a/./b/../c", "/a", 0644) == 0);
	CHECK(is_type(&s, "a/c", FILESET_FILE));
	CHECK(fileset_add_symlink(&s, "l", "") == -EINVAL);
	CHECK(fileset_add_device(&s, "d", S_IFREG, 0644, 1, 1) == -EINVAL);
	CHECK(fileset_add_dir(&s, "/", 0755) == 0);
	CHECK(fileset_add_file(&s, "/", "/a", 0644) == -EINVAL);
	fileset_free(&s);
}

TEST(follows_symlinks_in_the_set)
{
	struct fileset s = {0};
	CHECK(fileset_add_symlink(&s, "lib", "usr/lib") == 0);
	CHECK(fileset_add_symlink(&s, "lib64", "/usr/lib64") == 0);
	CHECK(fileset_add_symlink(&s, "usr/lib/mods", "../share/mods") == 0);
	CHECK(fileset_add_file(&s, "lib/modules/x.ko", "/x", 0644) == 0);
	CHECK(is_type(&s, "usr/lib/modules/x.ko", FILESET_FILE));
	CHECK(find(&s, "lib/modules/x.ko") == NULL); /* find does not follow */
	CHECK(fileset_add_file(&s, "lib64/ld.so", "/ld", 0755) == 0);
	CHECK(is_type(&s, "usr/lib64/ld.so", FILESET_FILE));
	/* a chain: lib -> usr/lib, usr/lib/mods -> ../share/mods */
	CHECK(fileset_add_file(&s, "lib/mods/m", "/m", 0644) == 0);
	CHECK(is_type(&s, "usr/share/mods/m", FILESET_FILE));
	/* the last component is not followed: it is what is being created */
	CHECK(fileset_add_symlink(&s, "lib", "usr/lib") == 0);

	CHECK(fileset_add_symlink(&s, "loop1", "loop2") == 0);
	CHECK(fileset_add_symlink(&s, "loop2", "loop1") == 0);
	CHECK(fileset_add_file(&s, "loop1/x", "/x", 0644) == -ELOOP);
	CHECK(fileset_add_symlink(&s, "up", "../..") == 0);
	CHECK(fileset_add_file(&s, "up/x", "/x", 0644) == -EINVAL);
	fileset_free(&s);
}

static char *make_tree(void)
{
	char tmpl[] = "/tmp/test-fileset.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	return xstrdup(tmpl);
}

static void touch(const char *root, const char *rel, mode_t mode)
{
	_cleanup_free_ char *p = path_join(root, rel);
	_cleanup_free_ char *parent = xstrdup(p);
	*strrchr(parent, '/') = '\0';
	CHECK(mkdir_p(parent, 0755) == 0);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	CHECK(fd >= 0);
	CHECK(write(fd, rel, strlen(rel)) == (ssize_t)strlen(rel));
	CHECK(fchmod(fd, mode) == 0);
}

static void link_at(const char *root, const char *rel, const char *target)
{
	_cleanup_free_ char *p = path_join(root, rel);
	_cleanup_free_ char *parent = xstrdup(p);
	*strrchr(parent, '/') = '\0';
	CHECK(mkdir_p(parent, 0755) == 0);
	CHECK(symlink(target, p) == 0);
}

TEST(host_path_merged_usr)
{
	_cleanup_free_ char *root = make_tree();
	touch(root, "usr/lib/x86_64-linux-gnu/libx.so.1.2", 0644);
	link_at(root, "usr/lib/x86_64-linux-gnu/libx.so.1", "libx.so.1.2");
	link_at(root, "lib", "usr/lib");
	link_at(root, "lib64", "usr/lib64");
	link_at(root, "usr/lib64/ld.so", "/lib/x86_64-linux-gnu/ld.so.real");
	touch(root, "usr/lib/x86_64-linux-gnu/ld.so.real", 0755);
	touch(root, "usr/bin/prog", 0755);

	struct fileset s = {0};
	CHECK(fileset_add_symlink(&s, "lib", "usr/lib") == 0);
	_cleanup_free_ char *resolved = NULL;
	CHECK(fileset_add_host_path(&s, root, "/lib/x86_64-linux-gnu/libx.so.1", &resolved) == 0);
	CHECK_STREQ(resolved, "/usr/lib/x86_64-linux-gnu/libx.so.1.2");
	CHECK(is_type(&s, "usr/lib/x86_64-linux-gnu/libx.so.1", FILESET_SYMLINK));
	const struct fileset_entry *e = find(&s, "usr/lib/x86_64-linux-gnu/libx.so.1.2");
	CHECK(e && e->type == FILESET_FILE && e->mode == 0644);
	_cleanup_free_ char *src = path_join(root, "usr/lib/x86_64-linux-gnu/libx.so.1.2");
	CHECK(e && streq(e->source, src));

	/* An absolute link through another symlinked directory. */
	free(resolved);
	resolved = NULL;
	CHECK(fileset_add_host_path(&s, root, "/lib64/ld.so", &resolved) == 0);
	CHECK_STREQ(resolved, "/usr/lib/x86_64-linux-gnu/ld.so.real");
	CHECK(is_type(&s, "lib64", FILESET_SYMLINK));
	CHECK(is_type(&s, "usr/lib64/ld.so", FILESET_SYMLINK));
	e = find(&s, "usr/lib/x86_64-linux-gnu/ld.so.real");
	CHECK(e && e->type == FILESET_FILE && e->mode == 0755);

	CHECK(fileset_add_host_path(&s, root, "/usr/bin/prog", NULL) == 0);
	CHECK(fileset_add_host_path(&s, root, "/usr/bin/missing", NULL) == -ENOENT);
	CHECK(fileset_add_host_path(&s, root, "/usr/bin/prog/x", NULL) == -ENOTDIR);
	_cleanup_free_ char *fifo = path_join(root, "fifo");
	CHECK(mkfifo(fifo, 0644) == 0);
	CHECK(fileset_add_host_path(&s, root, "/fifo", NULL) == -EOPNOTSUPP);
	link_at(root, "self", "self");
	CHECK(fileset_add_host_path(&s, root, "/self/x", NULL) == -ELOOP);
	fileset_free(&s);
	CHECK(rm_rf(root) == 0);
}

TEST(host_path_not_merged)
{
	/* A host with a real /lib: the archive keeps its lib -> usr/lib. */
	_cleanup_free_ char *root = make_tree();
	touch(root, "lib/x86_64-linux-gnu/libold.so.1", 0644);
	struct fileset s = {0};
	CHECK(fileset_add_symlink(&s, "lib", "usr/lib") == 0);
	CHECK(fileset_add_host_path(&s, root, "/lib/x86_64-linux-gnu/libold.so.1", NULL) == 0);
	CHECK(is_type(&s, "lib", FILESET_SYMLINK));
	CHECK(is_type(&s, "usr/lib/x86_64-linux-gnu/libold.so.1", FILESET_FILE));
	fileset_free(&s);
	CHECK(rm_rf(root) == 0);
}

TEST(write_archive)
{
	_cleanup_free_ char *root = make_tree();
	touch(root, "f", 0755);
	_cleanup_free_ char *f = path_join(root, "f");
	struct fileset s = {0};
	CHECK(fileset_add_file(&s, "usr/bin/f", f, 0755) == 0);
	CHECK(fileset_add_symlink(&s, "bin", "usr/bin") == 0);
	CHECK(fileset_add_device(&s, "dev/console", S_IFCHR, 0600, 5, 1) == 0);

	_cleanup_close_ int fd = memfd_create("fileset", MFD_CLOEXEC);
	struct cpio c;
	cpio_init(&c, fd, 0);
	const char *failed = NULL;
	CHECK(fileset_write(&s, &c, &failed) == 0);
	off_t len = lseek(fd, 0, SEEK_END);
	_cleanup_free_ unsigned char *buf = xmalloc((size_t)len);
	CHECK(pread(fd, buf, (size_t)len, 0) == len);
	struct cpio_ent e[8];
	int n = cpio_parse(buf, (size_t)len, e, 8);
	CHECK(n == 6);
	for (int i = 0; i < n && i < (int)s.n; i++)
		CHECK_STREQ(e[i].name, s.v[i].path);
	if (n == 6) {
		CHECK_STREQ(e[5].name, "usr/bin/f");
		CHECK(e[5].size == 1 && e[5].data[0] == 'f');
	}

	/* A source that vanished: the error names the entry. */
	CHECK(unlink(f) == 0);
	_cleanup_close_ int fd2 = memfd_create("fileset2", MFD_CLOEXEC);
	cpio_init(&c, fd2, 0);
	CHECK(fileset_write(&s, &c, &failed) == -ENOENT);
	CHECK_STREQ(failed, "usr/bin/f");
	fileset_free(&s);
	CHECK(rm_rf(root) == 0);
}
