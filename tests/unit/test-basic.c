/* SPDX-License-Identifier: GPL-2.0-or-later */
/* src/basic: path prefixes, octal escapes, the clock; the mount table on fake mountinfo. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "basic/copy.h"
#include "basic/mounttable.h"
#include "basic/options.h"
#include "basic/strbuf.h"
#include "basic/util.h"
#include "test-main.h"

TEST(path_next)
{
	const char *p = "//a/./bc/", *c;
	size_t n = 0;
	c = path_next(&p, &n);
	CHECK(c && n == 1 && c[0] == 'a');
	c = path_next(&p, &n);
	CHECK(c && n == 1 && c[0] == '.');
	c = path_next(&p, &n);
	CHECK(c && n == 2 && strncmp(c, "bc/", 3) == 0);
	CHECK(!path_next(&p, &n) && n == 0);
	CHECK(!path_next(&p, &n)); /* and stays at the end */
	const char *root = "/";
	CHECK(!path_next(&root, &n));
}

TEST(path_startswith)
{
	static const struct {
		const char *path, *prefix, *rest; /* rest NULL: not a prefix */
	} cases[] = {
	    {"/usr/lib", "/usr", "lib"},
	    {"/usr", "/usr", ""},
	    {"/usr/", "/usr", ""},
	    {"/usr", "/usr/", ""},
	    {"/usr//lib/x", "/usr/", "lib/x"},
	    {"//usr///lib", "/usr//lib", ""},
	    {"/usrx", "/usr", NULL},
	    {"/usr", "/usrx", NULL},
	    {"/us", "/usr", NULL},
	    {"/usr", "/usr/lib", NULL},
	    {"/", "/", ""},
	    {"/a/b", "/", "a/b"},
	    {"/", "/a", NULL},
	    {"usr/lib", "usr", "lib"},
	    {"/usr/lib", "usr", NULL},
	    {"usr/lib", "/usr", NULL},
	    {"a", "", "a"},
	    {"/host/images/root.img", "/host", "images/root.img"},
	    {"/run/loopboot/host", "/run/loopboot", "host"},
	    {"/run/loopboot-x", "/run/loopboot", NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *rest = path_startswith(cases[i].path, cases[i].prefix);
		if (!cases[i].rest) {
			if (rest)
				printf("# case %zu: %s, %s: \"%s\", expected NULL\n", i,
				       cases[i].path, cases[i].prefix, rest);
			CHECK(rest == NULL);
		} else {
			CHECK_STREQ(rest, cases[i].rest);
		}
	}
}

TEST(octal_unescape)
{
	static const struct {
		const char *in;
		size_t n; /* 0: all of in */
		const char *out;
	} cases[] = {
	    {"plain", 0, "plain"},
	    {"", 0, ""},
	    {"a\\040b", 0, "a b"},
	    {"\\040lead", 0, " lead"},
	    {"trail\\040", 0, "trail "},
	    {"tab\\011nl\\012", 0, "tab\tnl\n"},
	    {"back\\134slash", 0, "back\\slash"},
	    {"\\101\\102\\103", 0, "ABC"},
	    {"\\377", 0, "\377"},
	    {"\\400", 0, "\\400"}, /* more than a byte: not an escape */
	    {"\\08", 0, "\\08"},
	    {"\\04", 0, "\\04"},
	    {"\\", 0, "\\"},
	    {"\\\\040", 0, "\\ "},
	    {"a\\040b c", 6, "a b"}, /* one field of a line */
	    {"a\\040b", 4, "a\\04"}, /* an escape cut by n stays */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].in);
		_cleanup_free_ char *out = octal_unescape(cases[i].in, n);
		CHECK_STREQ(out, cases[i].out);
	}
}

TEST(clock)
{
	/* 1005: the whole seconds and the rest go to different fields of the timespec. */
	static const long waits[] = {0, 1, 20, 1005};
	for (size_t i = 0; i < ARRAY_SIZE(waits); i++) {
		long long before = now_ms();
		sleep_ms(waits[i]);
		long long elapsed = now_ms() - before;
		CHECK(before > 0);
		CHECK(elapsed >= waits[i]);
		CHECK(elapsed < waits[i] + 1000);
	}
}

static char *temp_dir(void)
{
	char tmpl[] = "/tmp/test-basic.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	return xstrdup(tmpl);
}

static char *put(const char *dir, const char *name, const char *content)
{
	char *p = path_join(dir, name);
	CHECK(write_file_atomic(p, content, strlen(content), 0644) == 0);
	return p;
}

static const char fake_mountinfo[] =
    "20 1 0:5 / /proc rw,nosuid - proc proc rw\n"
    "25 1 7:0 / / rw,relatime - ext4 /dev/loop0 rw\n"
    "30 25 8:1 / /host rw - fuseblk /dev/sda1 rw,user_id=0\n"
    "31 25 0:40 / /with\\040space ro,nosuid - tmpfs tmp\\040fs rw\n"
    "32 25 8:1 /sub /bind rw - ext4 /dev/sda1 rw\n"
    "33 30 0:41 / /host/inner rw - tmpfs below rw\n"
    "34 30 0:42 / /host/inner rw - tmpfs stacked rw\n"
    "this line is not mountinfo\n";

TEST(mount_find_path)
{
	_cleanup_free_ char *dir = temp_dir();
	_cleanup_free_ char *mi = put(dir, "mountinfo", fake_mountinfo);
	static const struct {
		const char *path, *target, *source, *fstype, *root;
		unsigned maj, min;
		bool read_only;
	} cases[] = {
	    {"/", "/", "/dev/loop0", "ext4", "/", 7, 0, false},
	    {"/etc/fstab", "/", "/dev/loop0", "ext4", "/", 7, 0, false},
	    {"/hostx/a", "/", "/dev/loop0", "ext4", "/", 7, 0, false},
	    {"/host", "/host", "/dev/sda1", "fuseblk", "/", 8, 1, false},
	    {"/host/images/root.img", "/host", "/dev/sda1", "fuseblk", "/", 8, 1, false},
	    {"/host//images/", "/host", "/dev/sda1", "fuseblk", "/", 8, 1, false},
	    {"/with space/f", "/with space", "tmp fs", "tmpfs", "/", 0, 40, true},
	    {"/bind/x", "/bind", "/dev/sda1", "ext4", "/sub", 8, 1, false},
	    {"/host/inner/x", "/host/inner", "stacked", "tmpfs", "/", 0, 42, false},
	    {"/proc/self", "/proc", "proc", "proc", "/", 0, 5, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(mount_entry_free) struct mount_entry m = {0};
		CHECK(mount_find_path(mi, cases[i].path, &m) == 1);
		CHECK_STREQ(m.target, cases[i].target);
		CHECK_STREQ(m.source, cases[i].source);
		CHECK_STREQ(m.fstype, cases[i].fstype);
		CHECK_STREQ(m.root, cases[i].root);
		CHECK(m.devno == makedev(cases[i].maj, cases[i].min));
		CHECK(m.read_only == cases[i].read_only);
	}

	_cleanup_(mount_entry_free) struct mount_entry root = {0};
	CHECK(mount_find_root(mi, &root) == 1);
	CHECK_STREQ(root.target, "/");
	CHECK_STREQ(root.fstype, "ext4");

	/* No mount holds a relative path; an empty table has no root; no file: -ENOENT. */
	struct mount_entry none = {0};
	CHECK(mount_find_path(mi, "host/x", &none) == 0);
	_cleanup_free_ char *empty = put(dir, "empty", "");
	CHECK(mount_find_root(empty, &none) == 0);
	CHECK(none.target == NULL);
	_cleanup_free_ char *missing = path_join(dir, "missing");
	CHECK(mount_find_root(missing, &none) == -ENOENT);
	CHECK(rm_rf(dir) == 0);
}

TEST(mount_find_device)
{
	_cleanup_free_ char *dir = temp_dir();
	/* A FUSE host mounted from a file (ntfs-3g on an image): found by its source, not by
	 * its anonymous device number; a later bind mount of a directory in it is not the whole
	 * file system. */
	_cleanup_free_ char *image = put(dir, "host.img", "");
	_cleanup_free_ char *other = put(dir, "other.img", "");
	_cleanup_free_ char *blk = path_join(dir, "blk");
	_cleanup_free_ char *text = xasprintf("25 1 7:0 / / rw - ext4 /dev/loop0 rw\n"
	                                      "40 25 0:50 / /fusehost ro - fuseblk %s ro\n"
	                                      "41 25 0:50 /dir /fusebind rw - fuseblk %s rw\n"
	                                      "42 25 0:51 / /other rw - fuseblk %s/./blk rw\n",
	                                      image, image, dir);
	_cleanup_free_ char *mi = put(dir, "mountinfo", text);

	_cleanup_(mount_entry_free) struct mount_entry m = {0};
	CHECK(mount_find_device(mi, image, &m) == 1);
	CHECK_STREQ(m.target, "/fusehost");
	CHECK(m.read_only);
	struct mount_entry none = {0};
	CHECK(mount_find_device(mi, other, &none) == 0);
	CHECK(mount_find_device(mi, blk, &none) == -ENOENT);
	CHECK(none.target == NULL);

	/* A kernel mount: by the device number, whatever its source says. Making a device
	 * node needs CAP_MKNOD. */
	if (mknod(blk, S_IFBLK | 0600, makedev(7, 0)) == 0) {
		_cleanup_(mount_entry_free) struct mount_entry k = {0};
		CHECK(mount_find_device(mi, blk, &k) == 1);
		CHECK_STREQ(k.target, "/other"); /* listed last: its source names blk */
		_cleanup_free_ char *text2 =
		    xasprintf("25 1 7:0 / / rw - ext4 /dev/loop0 rw\n"
		              "40 25 0:50 / /fusehost ro - fuseblk %s ro\n",
		              image);
		_cleanup_free_ char *mi2 = put(dir, "mountinfo2", text2);
		_cleanup_(mount_entry_free) struct mount_entry k2 = {0};
		CHECK(mount_find_device(mi2, blk, &k2) == 1);
		CHECK_STREQ(k2.target, "/");
	} else {
		printf("# no block device node made (%s): the device number case is not run\n",
		       strerror(errno));
	}
	CHECK(rm_rf(dir) == 0);
}

TEST(is_mount_point)
{
	_cleanup_free_ char *dir = temp_dir();
	_cleanup_free_ char *sub = path_join(dir, "sub");
	CHECK(mkdir(sub, 0755) == 0);
	CHECK(is_mount_point("/"));
	CHECK(!is_mount_point(dir));
	CHECK(!is_mount_point(sub));
	CHECK(!is_mount_point("/nonexistent/path"));
	CHECK(rm_rf(dir) == 0);
}

/* write_exactly and compare_exactly on real files: same bytes, a difference, a short one. */
TEST(write_and_compare_exactly)
{
	char a_path[] = "/tmp/lbtest-cmp-a.XXXXXX", b_path[] = "/tmp/lbtest-cmp-b.XXXXXX";
	int a = mkstemp(a_path), b = mkstemp(b_path);
	CHECK(a >= 0 && b >= 0);
	static const char data[] = "0123456789abcdef";
	CHECK(write_exactly(a, data, 16) == 0);
	CHECK(write_exactly(b, data, 16) == 0);
	char x[16], y[16];
	CHECK(compare_exactly(a, b, x, y, 16, 0) == 0);
	CHECK(pwrite(b, "X", 1, 9) == 1);
	CHECK(compare_exactly(a, b, x, y, 16, 0) == 1);
	CHECK(compare_exactly(a, b, x, y, 8, 0) == 0);     /* before the difference */
	CHECK(compare_exactly(a, b, x, y, 8, 12) == -EIO); /* past the end */
	CHECK(write_exactly(-1, data, 1) == -EBADF);
	close(a);
	close(b);
	unlink(a_path);
	unlink(b_path);
}

TEST(copy_file)
{
	_cleanup_free_ char *dir = temp_dir();
	/* Larger than copy_file()'s buffer, not a multiple of a page; and an empty file. */
	size_t len = 3 * 65536 + 123;
	_cleanup_free_ char *data = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 7 + i / 4096);
	_cleanup_free_ char *src = path_join(dir, "src"), *empty = path_join(dir, "empty");
	CHECK(write_file_atomic(src, data, len, 0644) == 0);
	CHECK(write_file_atomic(empty, "", 0, 0644) == 0);

	_cleanup_free_ char *dst = path_join(dir, "sub/dir/dst");
	CHECK(copy_file(src, dst, 0750) == 0); /* makes the directories */
	_cleanup_free_ char *got = NULL;
	size_t got_len = 0;
	CHECK(read_file(dst, &got, &got_len) == 0);
	CHECK(got_len == len && memcmp(got, data, len) == 0);
	struct stat st;
	CHECK(stat(dst, &st) == 0 && (st.st_mode & 07777) == 0750);

	/* Over a longer file: truncated to the source. */
	CHECK(copy_file(empty, dst, 0644) == 0);
	CHECK(stat(dst, &st) == 0 && st.st_size == 0);
	CHECK(copy_file(dir, dst, 0644) < 0); /* a directory is no file to copy */
	_cleanup_free_ char *missing = path_join(dir, "missing");
	CHECK(copy_file(missing, dst, 0644) == -ENOENT);

	unlink(dst);
	unlink(src);
	unlink(empty);
	_cleanup_free_ char *d1 = path_join(dir, "sub/dir"), *d2 = path_join(dir, "sub");
	CHECK(rmdir(d1) == 0 && rmdir(d2) == 0 && rmdir(dir) == 0);
}

/* ---- opts_parse(): one table, our own messages ------------------------------------------ */

struct opts_case {
	const char *name;
	const char *args; /* the words after the command's name "cmd", split at blanks */
	unsigned flags;
	int ret;                  /* opts_parse()'s: -1 to go on, 0 after --help, 2 refused */
	const char *says;         /* a part of its one line on stderr, or NULL: none */
	const char *value, *list; /* --value's, and --list's joined with ',' */
	bool flag;
	int word; /* with ret -1: optind, the first word left */
};

static const struct opts_case opts_cases[] = {
    {"opts: long, short, = and list", "--value a -L x --list=y --flag", 0, -1, NULL, "a", "x,y",
     true, 7},
    {"opts: the last value counts", "-v a --value=b", 0, -1, NULL, "b", "", false, 4},
    {"opts: words are left, options taken around them", "w1 --flag w2", 0, -1, NULL, NULL, "", true,
     2},
    {"opts: WORD_ENDS stops at a word", "w1 --flag", OPTS_WORD_ENDS, -1, NULL, NULL, "", false, 1},
    {"opts: -- ends them", "-- --flag", 0, -1, NULL, NULL, "", false, 2},
    {"opts: --help", "--value a --help --bogus", 0, 0, NULL, "a", "", false, 0},
    {"opts: an unknown long one", "--bogus", 0, 2,
     "loopboot: cmd: --bogus: unknown option — see loopboot cmd --help", NULL, "", false, 0},
    {"opts: an unknown short one in a cluster", "-fz", 0, 2, "cmd: -z: unknown option", NULL, "",
     true, 0},
    {"opts: a missing value", "--value", 0, 2, "cmd: --value: the option needs a value", NULL, "",
     false, 0},
    {"opts: a short one's missing value", "-v", 0, 2, "cmd: -v: the option needs a value", NULL, "",
     false, 0},
    {"opts: a flag given a value", "--flag=yes", 0, 2, "cmd: --flag=yes: the option takes no value",
     NULL, "", false, 0},
    {"opts: --help given a value", "--help=1", 0, 2, "cmd: --help=1: the option takes no value",
     NULL, "", false, 0},
    {"opts: a call's refusal is its own", "--call no", 0, 2, "cmd: --call no: refused", NULL, "",
     false, 0},
    {"opts: a call takes its value", "--call yes", 0, -1, NULL, "yes", "", false, 3},
};

static int take_call(const char *v, void *to)
{
	if (streq(v, "no")) {
		fprintf(stderr, "loopboot: cmd: --call %s: refused\n", v);
		return 2;
	}
	*(const char **)to = v;
	return 0;
}

static void check_opts(const void *row)
{
	const struct opts_case *c = row;
	_cleanup_free_ char *args = xstrdup(c->args);
	char *argv[16] = {"cmd"};
	int argc = 1;
	for (char *w = args, *save = NULL; (w = strtok_r(w, " ", &save)); w = NULL)
		argv[argc++] = w;
	const char *value = NULL;
	struct strv list = {0};
	bool flag = false;
	struct test_stderr err = test_stderr_catch();
	int r = OPTS_PARSE(argc, argv, c->flags, "# usage\n", OPT_STRING("value", 'v', &value),
	                   OPT_LIST("list", 'L', &list), OPT_FLAG("flag", 'f', &flag),
	                   OPT_CALL("call", 0, &value, take_call));
	_cleanup_free_ char *said = test_stderr_caught(err);
	CHECK(r == c->ret);
	CHECK(c->says ? strstr(said, c->says) && !strchr(strchr(said, '\n') + 1, '\n') : !*said);
	CHECK(c->value ? value && streq(value, c->value) : !value);
	struct strbuf joined = {0};
	for (size_t i = 0; i < list.n; i++)
		strbuf_printf(&joined, "%s%s", i ? "," : "", list.v[i]);
	_cleanup_free_ char *got = strbuf_steal(&joined);
	CHECK_STREQ(got, c->list);
	CHECK(flag == c->flag);
	CHECK(c->ret != -1 || optind == c->word);
	strv_free(&list);
}
TEST_TABLE(check_opts, opts_cases)
