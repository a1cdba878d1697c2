/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state record: typed layers to text and back, and what is refused. */
#include "engine/state.h"
#include "test-main.h"

static void push_mount(struct stack *s, enum mount_role role, const char *source,
                       const char *target, const char *image, const char *options)
{
	struct layer *l = stack_push(s, LAYER_MOUNT);
	l->mount = (struct layer_mount){.role = role,
	                                .source = xstrdup(source),
	                                .target = xstrdup(target),
	                                .type = xstrdup("ext4"),
	                                .image = image ? xstrdup(image) : NULL,
	                                .options = options ? xstrdup(options) : NULL};
}

/* A stack as a linear boot on NTFS with a nested /home image builds it. */
static void sample(struct stack *s)
{
	*s = (struct stack){0};
	struct layer *l = stack_push(s, LAYER_HOST);
	l->host = (struct layer_host){.spec = xstrdup("UUID=0123456789ABCDEF"),
	                              .source = xstrdup("/dev/dm-0"),
	                              .type = xstrdup("ntfs"),
	                              .driver = xstrdup("ntfs-3g"),
	                              .target = xstrdup("/host"),
	                              .options = xstrdup("uid=0,big_writes"),
	                              .read_only = true,
	                              .fuse = true,
	                              .daemon_pid = 321,
	                              .mode = PLAN_MODE_LINEAR,
	                              .linear_refused = NULL,
	                              .dm = xstrdup("loopboot-host"),
	                              .device = xstrdup("/dev/vda2")};
	l = stack_push(s, LAYER_DM);
	l->dm = (struct layer_dm){.device = xstrdup("/dev/dm-1"),
	                          .name = xstrdup("loopboot-root"),
	                          .extents = 7,
	                          .file = xstrdup("/My Linux/root.img"),
	                          .parent = xstrdup("/host"),
	                          .on = xstrdup("/dev/vda2")};
	push_mount(s, MOUNT_ROLE_ROOT, "/dev/dm-1", "/", "/My Linux/root.img", "noatime");
	l = stack_push(s, LAYER_LOOP);
	l->loop = (struct layer_loop){.device = xstrdup("/dev/loop0"),
	                              .file = xstrdup("/a\\b\tc\nd"),
	                              .parent = xstrdup("/"),
	                              .read_only = true,
	                              .direct_io = true};
	push_mount(s, MOUNT_ROLE_MOUNT, "/dev/loop0", "/home", "/a\\b\tc\nd", NULL);
}

static bool same_layer(const struct layer *a, const struct layer *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case LAYER_HOST:
		return streq_ptr(a->host.spec, b->host.spec) &&
		       streq_ptr(a->host.source, b->host.source) &&
		       streq_ptr(a->host.type, b->host.type) &&
		       streq_ptr(a->host.driver, b->host.driver) &&
		       streq_ptr(a->host.target, b->host.target) &&
		       streq_ptr(a->host.options, b->host.options) &&
		       a->host.read_only == b->host.read_only && a->host.fuse == b->host.fuse &&
		       a->host.daemon_pid == b->host.daemon_pid && a->host.mode == b->host.mode &&
		       streq_ptr(a->host.linear_refused, b->host.linear_refused) &&
		       streq_ptr(a->host.dm, b->host.dm) &&
		       streq_ptr(a->host.device, b->host.device);
	case LAYER_LOOP:
		return streq_ptr(a->loop.device, b->loop.device) &&
		       streq_ptr(a->loop.file, b->loop.file) &&
		       streq_ptr(a->loop.parent, b->loop.parent) &&
		       a->loop.read_only == b->loop.read_only &&
		       a->loop.direct_io == b->loop.direct_io && a->loop.offset == b->loop.offset &&
		       a->loop.sizelimit == b->loop.sizelimit;
	case LAYER_DM:
		return streq_ptr(a->dm.device, b->dm.device) && streq_ptr(a->dm.name, b->dm.name) &&
		       a->dm.extents == b->dm.extents && streq_ptr(a->dm.file, b->dm.file) &&
		       streq_ptr(a->dm.parent, b->dm.parent) && streq_ptr(a->dm.on, b->dm.on) &&
		       streq_ptr(a->dm.target, b->dm.target) &&
		       a->dm.read_only == b->dm.read_only && a->dm.offset == b->dm.offset &&
		       a->dm.size == b->dm.size;
	case LAYER_MOUNT:
		return a->mount.role == b->mount.role &&
		       streq_ptr(a->mount.source, b->mount.source) &&
		       streq_ptr(a->mount.target, b->mount.target) &&
		       streq_ptr(a->mount.type, b->mount.type) &&
		       streq_ptr(a->mount.image, b->mount.image) &&
		       streq_ptr(a->mount.options, b->mount.options) &&
		       streq_ptr(a->mount.overlay, b->mount.overlay) &&
		       streq_ptr(a->mount.disk, b->mount.disk) &&
		       a->mount.partition == b->mount.partition &&
		       a->mount.read_only == b->mount.read_only;
	case LAYER_CRYPT:
		return streq_ptr(a->crypt.device, b->crypt.device) &&
		       streq_ptr(a->crypt.name, b->crypt.name) &&
		       streq_ptr(a->crypt.volume, b->crypt.volume) &&
		       streq_ptr(a->crypt.type, b->crypt.type) &&
		       streq_ptr(a->crypt.key, b->crypt.key) &&
		       a->crypt.read_only == b->crypt.read_only;
	case LAYER_NET:
		return streq_ptr(a->net.interface, b->net.interface) &&
		       streq_ptr(a->net.mac, b->net.mac) &&
		       streq_ptr(a->net.address, b->net.address) &&
		       streq_ptr(a->net.netmask, b->net.netmask) &&
		       streq_ptr(a->net.gateway, b->net.gateway) &&
		       streq_ptr(a->net.method, b->net.method) &&
		       streq_ptr(a->net.hostname, b->net.hostname) &&
		       streq_ptr(a->net.server, b->net.server) &&
		       a->net.external == b->net.external;
	case LAYER_NBD:
		return streq_ptr(a->nbd.device, b->nbd.device) &&
		       streq_ptr(a->nbd.server, b->nbd.server) && a->nbd.port == b->nbd.port &&
		       streq_ptr(a->nbd.export, b->nbd.export) &&
		       a->nbd.daemon_pid == b->nbd.daemon_pid &&
		       a->nbd.read_only == b->nbd.read_only;
	case _LAYER_KIND_MAX:
		break;
	}
	return false;
}

/* text parses back into as many layers as s has, each the same as s's. */
static void check_parses_back(const struct stack *s, const char *text)
{
	struct stack back;
	char *error = NULL;
	CHECK(state_parse(text, &back, &error) == 0);
	CHECK(!error);
	CHECK(back.n == s->n);
	for (size_t i = 0; i < s->n && i < back.n; i++)
		CHECK(same_layer(&s->v[i], &back.v[i]));
	free(error);
	stack_free(&back);
}

/* text is refused as a whole (-EBADMSG, no layers), the message naming says. */
static void check_refused(const char *text, const char *says)
{
	struct stack back = {.n = 99};
	char *error = NULL;
	CHECK(state_parse(text, &back, &error) == -EBADMSG);
	CHECK(error && strstr(error, says));
	CHECK(back.n == 0);
	free(error);
}

/* A BitLocker host: the opened volume is the bottom record, below the host mounted from
 * it; it goes through text and back, and a crypt record without its name (which undoing
 * needs) is refused as a whole. */
TEST(crypt_below_host)
{
	struct stack s = {0};
	struct layer *l = stack_push(&s, LAYER_CRYPT);
	l->crypt = (struct layer_crypt){.device = xstrdup("/dev/dm-0"),
	                                .name = xstrdup("loopboot-bitlocker"),
	                                .volume = xstrdup("/dev/sda3"),
	                                .type = xstrdup("BITLK"),
	                                .key = xstrdup("LABEL=KEYS:/bitlocker/pc.txt")};
	l = stack_push(&s, LAYER_HOST);
	l->host = (struct layer_host){.spec = xstrdup("UUID=1234-ABCD"),
	                              .source = xstrdup("/dev/dm-0"),
	                              .type = xstrdup("ntfs"),
	                              .driver = xstrdup("ntfs3"),
	                              .target = xstrdup("/host")};
	push_mount(&s, MOUNT_ROLE_ROOT, "/dev/loop0", "/", "/linux/root.img", NULL);
	char *text = state_format(&s);
	CHECK(strstr(text, "\nversion 1\ncrypt device=/dev/dm-0 name=loopboot-bitlocker "
	                   "volume=/dev/sda3 type=BITLK key=LABEL=KEYS:/bitlocker/pc.txt ro=0\n"
	                   "host spec="));
	CHECK(s.n == 3 && s.v[0].kind == LAYER_CRYPT && s.v[1].kind == LAYER_HOST);
	check_parses_back(&s, text);
	check_refused("version 1\ncrypt device=/dev/dm-0 volume=/dev/sda3\n", "name");
	free(text);
	stack_free(&s);
}

/* An overlay root over a base whose journal is replayed into RAM: the copy-on-write's
 * tmpfs, loop and snapshot records, the layer and the overlay, through text and back. */
TEST(overlay_round_trip)
{
	struct stack s = {0};
	struct layer *l = stack_push(&s, LAYER_HOST);
	l->host = (struct layer_host){.spec = xstrdup("UUID=1234-ABCD"),
	                              .type = xstrdup("vfat"),
	                              .driver = xstrdup("vfat"),
	                              .target = xstrdup("/host")};
	l = stack_push(&s, LAYER_LOOP);
	l->loop = (struct layer_loop){.device = xstrdup("/dev/loop0"),
	                              .file = xstrdup("/linux/root.img"),
	                              .parent = xstrdup("/host"),
	                              .read_only = true};
	push_mount(&s, MOUNT_ROLE_LAYER, "tmpfs", "/run/loopboot/cow", NULL, NULL);
	l = stack_push(&s, LAYER_DM);
	l->dm = (struct layer_dm){.device = xstrdup("/dev/dm-0"),
	                          .name = xstrdup("loopboot-cow"),
	                          .file = xstrdup("/linux/root.img"),
	                          .on = xstrdup("/dev/loop0"),
	                          .target = xstrdup("snapshot")};
	push_mount(&s, MOUNT_ROLE_LAYER, "/dev/dm-0", "/run/loopboot/layers/base",
	           "/linux/root.img", NULL);
	push_mount(&s, MOUNT_ROLE_ROOT, "overlay", "/", NULL,
	           "lowerdir=/run/loopboot/layers/base,upperdir=/run/loopboot/layers/overlay/"
	           "upper,workdir=/run/loopboot/layers/overlay/work");
	s.v[s.n - 1].mount.overlay = xstrdup("/linux/overlay.img");
	char *text = state_format(&s);
	CHECK(strstr(text, " on=/dev/loop0 target=snapshot ro=0\n"));
	CHECK(strstr(text, " overlay=/linux/overlay.img\n"));
	check_parses_back(&s, text);
	free(text);
	stack_free(&s);
}

/* A partition of a disk image: the loop device's byte range, the mapping's, and the mount's
 * disk format and partition number go through the text and back. */
TEST(disk_partition_round_trip)
{
	struct stack s = {0};
	struct layer *l = stack_push(&s, LAYER_HOST);
	l->host = (struct layer_host){.spec = xstrdup("LABEL=WIN"), .target = xstrdup("/host")};
	l = stack_push(&s, LAYER_LOOP);
	l->loop = (struct layer_loop){.device = xstrdup("/dev/loop0"),
	                              .file = xstrdup("/vm/disk-flat.vmdk"),
	                              .parent = xstrdup("/host"),
	                              .offset = 9437184,
	                              .sizelimit = 8589934592ULL};
	push_mount(&s, MOUNT_ROLE_ROOT, "/dev/loop0", "/", "/vm/disk.vmdk", NULL);
	s.v[s.n - 1].mount.disk = xstrdup("vmdk-flat");
	s.v[s.n - 1].mount.partition = 2;
	l = stack_push(&s, LAYER_DM);
	l->dm = (struct layer_dm){.device = xstrdup("/dev/dm-1"),
	                          .name = xstrdup("loopboot-home"),
	                          .file = xstrdup("/vm/disk.img"),
	                          .offset = 1048576,
	                          .size = 4096};
	char *text = state_format(&s);
	CHECK(strstr(text, " offset=9437184 sizelimit=8589934592\n"));
	CHECK(strstr(text, " disk=vmdk-flat partition=2\n"));
	CHECK(strstr(text, " offset=1048576 size=4096\n"));
	check_parses_back(&s, text);
	free(text);
	/* Zero is "not a partition": never written, and refused when it is. */
	check_refused("version 1\nloop device=/dev/loop0 offset=0\n", "offset");
	stack_free(&s);
}

TEST(round_trip)
{
	struct stack s, back;
	sample(&s);
	char *text = state_format(&s);
	char *error = NULL;
	CHECK(state_parse(text, &back, &error) == 0);
	CHECK(!error);
	CHECK(back.n == s.n);
	for (size_t i = 0; i < s.n && i < back.n; i++)
		CHECK(same_layer(&s.v[i], &back.v[i]));
	/* Formatting what was parsed gives the same text again. */
	char *again = state_format(&back);
	CHECK_STREQ(again, text);
	/* Blanks and backslashes are escaped: one record a line, one field a word. */
	CHECK(strstr(text, "file=/My\\040Linux/root.img"));
	CHECK(strstr(text, "file=/a\\134b\\011c\\012d "));
	CHECK(strncmp(text, "# ", 2) == 0 && strstr(text, "\nversion 1\nhost spec="));
	free(text);
	free(again);
	stack_free(&s);
	stack_free(&back);
}

TEST(copy_is_deep)
{
	struct stack s;
	sample(&s);
	struct layer c;
	for (size_t i = 0; i < s.n; i++) {
		layer_copy(&c, &s.v[i]);
		CHECK(same_layer(&c, &s.v[i]));
		if (c.kind == LAYER_HOST)
			CHECK(c.host.spec != s.v[i].host.spec);
		layer_done(&c);
	}
	stack_free(&s);
}

/* What the tests and the integrations of the first format wrote: no version line. */
TEST(legacy_without_version)
{
	struct stack s;
	char *error = NULL;
	CHECK(
	    state_parse("# loopboot state 1: what the boot built\n"
	                "host spec=UUID=0 source=/dev/nonexistent type=ntfs driver=ntfs-3g "
	                "target=/host ro=0 fuse=1\n"
	                "mount role=root source=/dev/loop9 target=/ type=ext4 image=/r.img ro=0\n",
	                &s, &error) == 0);
	CHECK(!error && s.n == 2);
	CHECK(s.n == 2 && s.v[0].kind == LAYER_HOST && s.v[0].host.fuse &&
	      s.v[0].host.mode == PLAN_MODE_LOOP && s.v[0].host.daemon_pid == 0);
	CHECK(s.n == 2 && s.v[1].kind == LAYER_MOUNT && s.v[1].mount.role == MOUNT_ROLE_ROOT);
	stack_free(&s);
	CHECK(state_parse("", &s, &error) == 0 && s.n == 0 && !error);
	stack_free(&s);
}

TEST(refused_whole)
{
	static const struct {
		const char *text;
		int error;
		const char *says; /* in the message */
	} cases[] = {
	    {"version 2\nloop device=/dev/loop0\n", -EPROTONOSUPPORT, "version 2"},
	    {"version one\n", -EBADMSG, "not a version line"},
	    {"loop device=/dev/loop0\nversion 1\n", -EBADMSG, "line 2"},
	    {"version 1\nloop device=/dev/loop0\noverlay lower=/x\n", -EBADMSG, "\"overlay\""},
	    {"version 1\nloop device=/dev/loop0 colour=blue\n", -EBADMSG, "unknown key \"colour\""},
	    {"version 1\nloop device=/dev/loop0 ro\n", -EBADMSG, "not key=value"},
	    {"version 1\nloop device=/dev/loop0 ro=yes\n", -EBADMSG, "bad value ro=yes"},
	    {"version 1\nloop file=/a.img\n", -EBADMSG, "device= is missing"},
	    {"version 1\nmount role=root source=/dev/loop0\n", -EBADMSG, "target= is missing"},
	    {"version 1\nmount role=top target=/\n", -EBADMSG, "bad value role=top"},
	    {"version 1\nhost target=/host pid=0\n", -EBADMSG, "bad value pid=0"},
	    {"version 1\nhost target=/host pid=12x\n", -EBADMSG, "bad value pid=12x"},
	    {"version 1\nhost target=/host mode=fast\n", -EBADMSG, "bad value mode=fast"},
	    {"version 1\ndm name=x extents=-1\n", -EBADMSG, "bad value extents=-1"},
	    {"version 1\nloop device=/a device=/b\n", -EBADMSG, "repeated key device"},
	    /* A value is quoted as written: an escaped newline stays "\012" (one line). */
	    {"version 1\nhost target=/host pid=1\\0122\n", -EBADMSG, "bad value pid=1\\0122"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct stack s = {.n = 99};
		char *error = NULL;
		int r = state_parse(cases[i].text, &s, &error);
		if (r != cases[i].error || !error || !strstr(error, cases[i].says) || s.n != 0 ||
		    s.v)
			printf("# case %zu: r=%d error=%s\n", i, r, error ? error : "(none)");
		CHECK(r == cases[i].error);
		CHECK(error && strstr(error, cases[i].says));
		CHECK(s.n == 0 && !s.v);
		CHECK(error && !strchr(error, '\n'));
		free(error);
	}
}

/* What printing the fields gives, one after the other; -EINVAL ones give nothing. */
static char *print_fields(const struct stack *s, const char *const *fields, size_t n, int *ret)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	for (size_t i = 0; i < n; i++)
		ret[i] = state_print_field(s, fields[i], f);
	fclose(f);
	return out;
}

TEST(fields_for_scripts)
{
	struct stack s;
	sample(&s);
	static const char *const fields[] = {
	    "host.pid",    "mount.type",
	    "loop.file",   "host.linear_refused" /* not set: nothing */,
	    "host.colour", "overlay.lower",
	    "pid"};
	static const int want[] = {0, 0, 0, 0, -EINVAL, -EINVAL, -EINVAL};
	int got[ARRAY_SIZE(fields)];
	char *out = print_fields(&s, fields, ARRAY_SIZE(fields), got);
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		CHECK(got[i] == want[i]);
	CHECK_STREQ(out, "321\next4\next4\n/a\\134b\tc\\012d\n");
	free(out);
	char *names = state_field_names();
	CHECK(strstr(names, "host.spec host.source") && strstr(names, "mount.options"));
	free(names);
	stack_free(&s);
}

TEST(json_is_typed)
{
	struct stack s;
	sample(&s);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	state_print_json(&s, f);
	fclose(f);
	static const char *const want[] = {
	    "{\"kind\": \"host\", \"spec\": \"UUID=0123456789ABCDEF\"",
	    "\"ro\": true, \"fuse\": true, \"mode\": \"linear\"",
	    "\"pid\": 321}",
	    "\"extents\": 7,",
	    "\"file\": \"/a\\\\b\\u0009c\\u000ad\"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		CHECK(contains(out, want[i]));
	free(out);
	stack_free(&s);
}

TEST(save_and_load)
{
	struct stack s, back;
	sample(&s);
	char dir[] = "/tmp/loopboot-test-state.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = path_join(dir, "state");
	char *error = NULL;
	CHECK(state_save(&s, path) == 0);
	CHECK(state_load(path, &back, &error) == 0 && back.n == s.n);
	stack_free(&back);
	/* A NUL inside the file is not text: refused, not cut short. */
	CHECK(write_file_atomic(path, "version 1\n\0loop device=/x\n", 26, 0644) == 0);
	CHECK(state_load(path, &back, &error) == -EBADMSG && error);
	free(error);
	error = NULL;
	unlink(path);
	CHECK(state_load(path, &back, &error) == -ENOENT && !error);
	rmdir(dir);
	free(path);
	stack_free(&s);
}

/* A fleet client: the interface and the NBD device below the host, through text and back
 * in that order (teardown goes top first: the network last); records without the
 * interface or the device (which undoing needs) are refused. */
TEST(network_round_trip)
{
	struct stack s = {0};
	struct layer *l = stack_push(&s, LAYER_NET);
	l->net = (struct layer_net){.interface = xstrdup("eth0"),
	                            .mac = xstrdup("52:54:00:12:34:56"),
	                            .address = xstrdup("10.0.2.15"),
	                            .netmask = xstrdup("255.255.255.0"),
	                            .gateway = xstrdup("10.0.2.2"),
	                            .method = xstrdup("dhcp"),
	                            .hostname = xstrdup("client1"),
	                            .server = xstrdup("10.0.2.2")};
	l = stack_push(&s, LAYER_NBD);
	l->nbd = (struct layer_nbd){.device = xstrdup("/dev/nbd0"),
	                            .server = xstrdup("10.0.2.100"),
	                            .port = 10809,
	                            .export = xstrdup("fleet"),
	                            .daemon_pid = 77,
	                            .read_only = true};
	l = stack_push(&s, LAYER_HOST);
	l->host = (struct layer_host){.spec = xstrdup("nbd:10.0.2.100:10809/fleet"),
	                              .source = xstrdup("/dev/nbd0"),
	                              .type = xstrdup("ext4"),
	                              .driver = xstrdup("ext4"),
	                              .target = xstrdup("/host"),
	                              .read_only = true};
	push_mount(&s, MOUNT_ROLE_ROOT, "overlay", "/", NULL, "lowerdir=/run/loopboot/layers/base");
	char *text = state_format(&s);
	CHECK(strstr(text, "\nnet interface=eth0 mac=52:54:00:12:34:56 address=10.0.2.15 "
	                   "netmask=255.255.255.0 gateway=10.0.2.2 method=dhcp hostname=client1 "
	                   "server=10.0.2.2 external=0\nnbd device=/dev/nbd0 server=10.0.2.100 "
	                   "port=10809 export=fleet ro=1 pid=77\nhost "));
	CHECK(s.n == 4 && s.v[0].kind == LAYER_NET && s.v[1].kind == LAYER_NBD);
	check_parses_back(&s, text);
	check_refused("version 1\nnbd server=10.0.2.100 port=10809\n", "device");
	check_refused("version 1\nnet address=10.0.2.15\n", "interface");
	free(text);
	stack_free(&s);
}
