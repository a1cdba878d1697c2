/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `loopboot iso` and `loopboot pxe`: the kernel's version, grub.cfg, the iPXE script. */
#include "test-main.h"
#include "tools/media.h"
#include "tools/pxe.h"

/* A bzImage's first sector and setup header, version string at 0x200 + at. */
static size_t fake_kernel(unsigned char *buf, size_t size, const char *magic, unsigned protocol,
                          unsigned at, const char *version)
{
	memset(buf, 0, size);
	memcpy(buf + 0x202, magic, 4);
	buf[0x206] = protocol & 0xff;
	buf[0x207] = protocol >> 8;
	buf[0x20e] = at & 0xff;
	buf[0x20f] = at >> 8;
	if (version)
		memcpy(buf + 0x200 + at, version, strlen(version) + 1);
	return size;
}

TEST(kernel_version)
{
	static unsigned char k[4096];
	char *v = NULL;
	const char *debian =
	    "6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC "
	    "Debian 6.1.76-1 (2024-02-01)";
	size_t n = fake_kernel(k, sizeof(k), "HdrS", 0x20f, 0x3e0, debian);
	CHECK(media_kernel_version(k, n, &v) == 0);
	CHECK_STREQ(v, "6.1.0-18-amd64");
	free(v);

	/* A version alone, ended by its NUL. */
	n = fake_kernel(k, sizeof(k), "HdrS", 0x20f, 0x100, "6.8.0-rc1+");
	CHECK(media_kernel_version(k, n, &v) == 0);
	CHECK_STREQ(v, "6.8.0-rc1+");
	free(v);

	/* Not a bzImage, too old a protocol, no pointer, a pointer out of the bytes read. */
	n = fake_kernel(k, sizeof(k), "ELF!", 0x20f, 0x100, "6.1.0");
	CHECK(media_kernel_version(k, n, &v) == -ENOEXEC && v == NULL);
	n = fake_kernel(k, sizeof(k), "HdrS", 0x1ff, 0x100, "6.1.0");
	CHECK(media_kernel_version(k, n, &v) == -ENOEXEC);
	n = fake_kernel(k, sizeof(k), "HdrS", 0x20f, 0, NULL);
	CHECK(media_kernel_version(k, n, &v) == -EINVAL);
	n = fake_kernel(k, sizeof(k), "HdrS", 0x20f, 0x100, "6.1.0");
	CHECK(media_kernel_version(k, 0x303, &v) == -EINVAL);  /* cut in the middle */
	CHECK(media_kernel_version(k, 0x100, &v) == -ENOEXEC); /* shorter than the header */
	/* An empty string, and one without an end within the bytes. */
	n = fake_kernel(k, sizeof(k), "HdrS", 0x20f, 0x100, "");
	CHECK(media_kernel_version(k, n, &v) == -EINVAL);
	n = fake_kernel(k, sizeof(k), "HdrS", 0x20f, 0x100, NULL);
	memset(k + 0x300, 'x', sizeof(k) - 0x300);
	CHECK(media_kernel_version(k, n, &v) == -EINVAL);
}

TEST(grub_cfg)
{
	char *const args[] = {"root=UUID=0A1B2C3D4E5F6789",
	                      "loop=/My Linux/root.img",
	                      "rw",
	                      "it's",
	                      "$x",
	                      "--",
	                      "single"};
	struct media_entry e = {
	    .title = "Linux from /My Linux/root.img (loopboot)",
	    .kernel = "/boot/vmlinuz",
	    .initrd = "/boot/initrd.img",
	    .args = args,
	    .n_args = ARRAY_SIZE(args),
	    .timeout = 3,
	};
	char *cfg = media_grub_cfg(&e);
	CHECK(contains(cfg, "if serial --unit=0 --speed=115200; then\n"
	                    "\tterminal_input --append serial\n"
	                    "\tterminal_output --append serial\nfi\n"));
	CHECK(contains(cfg, "set default=0\nset timeout=3\n"));
	CHECK(contains(cfg,
	               "menuentry 'Linux from /My Linux/root.img (loopboot)' --class gnu-linux "
	               "--class os {\n"));
	CHECK(contains(cfg, "\tlinux /boot/vmlinuz root=UUID=0A1B2C3D4E5F6789 "
	                    "'loop=/My Linux/root.img' rw 'it'\\''s' '$x' -- single\n"
	                    "\tinitrd /boot/initrd.img\n}\n"));
	free(cfg);

	e.timeout = 0;
	e.n_args = 0;
	e.kernel = "/vmlinuz";
	e.initrd = "/initrd.img";
	e.title = "t";
	cfg = media_grub_cfg(&e);
	CHECK(contains(cfg, "set timeout=0\n"));
	CHECK(contains(cfg, "menuentry t --class"));
	CHECK(contains(cfg, "\tlinux /vmlinuz\n\tinitrd /initrd.img\n"));
	free(cfg);
}

TEST(graft_escape)
{
	static const struct str_case paths[] = {
	    {"/boot/vmlinuz-6.1.0", "/boot/vmlinuz-6.1.0"},
	    {"/a=b\\c d", "/a\\=b\\\\c d"},
	    {"", ""},
	};
	CHECK_STR_FN(media_graft_escape, paths);
}

TEST(ipxe_script)
{
	char *const args[] = {"root=UUID=0A1B2C3D4E5F6789", "loop=/My Linux/root.img", "rw", "--",
	                      "a b"};
	char *s = NULL;
	const char *bad = "x";
	CHECK(pxe_ipxe_script("vmlinuz", "initrd.img", args, ARRAY_SIZE(args), &s, &bad) == 0);
	CHECK(bad == NULL);
	CHECK_STREQ(s, "#!ipxe\n"
	               "# Written by loopboot pxe.\n"
	               "kernel vmlinuz initrd=initrd.img root=UUID=0A1B2C3D4E5F6789 "
	               "\"loop=/My Linux/root.img\" rw -- \"a b\"\n"
	               "initrd initrd.img\n"
	               "boot\n");
	free(s);

	/* No words: the kernel and the initramfs alone. */
	CHECK(pxe_ipxe_script("k", "i", NULL, 0, &s, &bad) == 0);
	CHECK(contains(s, "\nkernel k initrd=i\ninitrd i\nboot\n"));
	free(s);

	/* What iPXE's parser would change: refused, the word named. */
	static const char *const refused[] = {
	    "loop=/My  Linux/root.img", /* two blanks become one */
	    "a\tb",                     /* a tab splits the word */
	    "x=${net0/ip}",             /* expanded as a setting */
	    "a #b",                     /* a comment from #b on */
	    "#x",                       /* a comment */
	    "a || b",                   /* a command separator */
	    "a && b",                   /* a command separator */
	    "a ; b",                    /* a command separator */
	    "say=\"hi\"",               /* the kernel strips it */
	    "",                         /* nothing to pass */
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		char *const one[] = {"rw", (char *)refused[i]};
		s = (char *)"untouched";
		bad = NULL;
		CHECK(pxe_ipxe_script("vmlinuz", "initrd.img", one, 2, &s, &bad) == -EINVAL);
		CHECK(s == NULL);
		CHECK_STREQ(bad, refused[i]);
	}

	/* Blanks at the ends of a quoted word survive iPXE's joining. */
	char *const ends[] = {" lead", "trail ", "a||b", "x#y", "$x", "a;b"};
	CHECK(pxe_ipxe_script("k", "i", ends, ARRAY_SIZE(ends), &s, &bad) == 0);
	CHECK(contains(s, "kernel k initrd=i \" lead\" \"trail \" a||b x#y $x a;b\n"));
	free(s);
}
