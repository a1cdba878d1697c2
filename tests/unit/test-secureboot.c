/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Secure Boot for the media (tools/secureboot.h) and kexec under lockdown (shutdown.c). */
#include <stdint.h>

#include "test-main.h"
#include "engine/shutdown.h"
#include "tools/secureboot.h"

static void put16(unsigned char *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8 & 0xff;
}
static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}
static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/*
 * A PE image with two sections: ".sbat" (a short name) and one whose long name is in the
 * COFF string table ("/4" -> name), holding data. Returns the size used in buf.
 */
static size_t fake_pe(unsigned char *buf, size_t size, const char *name, const void *data,
                      size_t len)
{
	memset(buf, 0, size);
	buf[0] = 'M', buf[1] = 'Z';
	put32(buf + 0x3c, 0x40);
	unsigned char *pe = buf + 0x40;
	memcpy(pe, "PE\0\0", 4);
	put16(pe + 4, 0x8664);
	put16(pe + 6, 2);  /* sections */
	put16(pe + 20, 0); /* no optional header */
	unsigned char *sect = pe + 24;
	/* The string table: after the (empty) symbol table at 0x200: size, then names. */
	put32(pe + 12, 0x200);
	put32(pe + 16, 0);
	put32(buf + 0x200, 4 + (uint32_t)strlen(name) + 1);
	memcpy(buf + 0x204, name, strlen(name) + 1);
	memcpy(sect, ".sbat", 5);
	put32(sect + 8, 4);
	put32(sect + 16, 16);
	put32(sect + 20, 0x300);
	memcpy(buf + 0x300, "sbat", 4);
	sect += 40;
	if (strlen(name) <= 8)
		memcpy(sect, name, strlen(name));
	else
		memcpy(sect, "/4", 2);
	put32(sect + 8, (uint32_t)len);
	put32(sect + 16, (uint32_t)((len + 511) / 512 * 512));
	put32(sect + 20, 0x400);
	memcpy(buf + 0x400, data, len);
	return 0x400 + (len + 511) / 512 * 512;
}

TEST(mode_and_choice)
{
	enum sb_mode m;
	CHECK(sb_mode_parse("auto", &m) == 0 && m == SB_AUTO);
	CHECK(sb_mode_parse("on", &m) == 0 && m == SB_ON);
	CHECK(sb_mode_parse("off", &m) == 0 && m == SB_OFF);
	CHECK(sb_mode_parse("yes", &m) == -EINVAL);
	CHECK(sb_mode_parse("", &m) == -EINVAL);
	CHECK(sb_mode_parse(NULL, &m) == -EINVAL);

	static const struct {
		enum sb_mode mode;
		bool installed;
		enum sb_choice want;
	} rows[] = {
	    {SB_AUTO, true, SB_USE_CHAIN}, {SB_AUTO, false, SB_UNSIGNED},
	    {SB_ON, true, SB_USE_CHAIN},   {SB_ON, false, SB_REFUSE},
	    {SB_OFF, true, SB_UNSIGNED},   {SB_OFF, false, SB_UNSIGNED},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		CHECK(sb_decide(rows[i].mode, rows[i].installed) == rows[i].want);
}

TEST(chain_paths)
{
	size_t n;
	const struct sb_file *cd = sb_chain(SB_MEDIUM_CD, &n);
	CHECK(n == 3);
	CHECK_STREQ(cd[0].source, "/usr/lib/shim/shimx64.efi.signed");
	CHECK_STREQ(cd[0].dest, "EFI/BOOT/BOOTX64.EFI");
	CHECK_STREQ(cd[1].source, "/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed");
	CHECK_STREQ(cd[1].dest, "EFI/BOOT/grubx64.efi");
	CHECK_STREQ(cd[2].source, "/usr/lib/shim/mmx64.efi.signed");
	CHECK_STREQ(cd[2].dest, "EFI/BOOT/mmx64.efi");
	const struct sb_file *net = sb_chain(SB_MEDIUM_NET, &n);
	CHECK(n == 3);
	CHECK_STREQ(net[0].source, "/usr/lib/shim/shimx64.efi.signed");
	CHECK_STREQ(net[0].dest, "bootnetx64.efi");
	CHECK_STREQ(net[1].source, "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed");
	CHECK_STREQ(net[1].dest, "grubx64.efi"); /* where shim looks, beside itself */
	CHECK_STREQ(net[2].dest, "mmx64.efi");
	for (size_t i = 0; i < n; i++)
		CHECK(cd[i].package && net[i].package);
}

TEST(pe_section)
{
	static unsigned char pe[4096];
	size_t n = fake_pe(pe, sizeof(pe), ".vendor_cert", "0123456789", 10);
	const unsigned char *s;
	size_t len;
	CHECK(sb_pe_section(pe, n, ".vendor_cert", &s, &len) == 0);
	CHECK(len == 10 && s && !memcmp(s, "0123456789", 10)); /* VirtualSize, not the raw 512 */
	CHECK(sb_pe_section(pe, n, ".sbat", &s, &len) == 0 && len == 4 && !memcmp(s, "sbat", 4));
	CHECK(sb_pe_section(pe, n, ".sba", &s, &len) == -ENOENT);
	CHECK(sb_pe_section(pe, n, ".vendor_cer", &s, &len) == -ENOENT);
	CHECK(sb_pe_section(pe, n, "mods", &s, &len) == -ENOENT && s == NULL && len == 0);
	/* Cut before the section's data ends; not PE at all. */
	CHECK(sb_pe_section(pe, 0x405, ".vendor_cert", &s, &len) == -EBADMSG);
	CHECK(sb_pe_section(pe, 0x30, ".sbat", &s, &len) == -ENOEXEC);
	CHECK(sb_pe_section((const unsigned char *)"\177ELF", 4, ".sbat", &s, &len) == -ENOEXEC);
	pe[0x41] = 'X';
	CHECK(sb_pe_section(pe, n, ".sbat", &s, &len) == -ENOEXEC);
}

TEST(vendor_cert)
{
	static unsigned char pe[4096];
	unsigned char sect[64] = {0};
	const unsigned char der[] = {0x30, 0x82, 0x00, 0x04, 1, 2, 3, 4};
	put32(sect, sizeof(der)); /* authorized size */
	put32(sect + 4, 0);       /* deauthorized size */
	put32(sect + 8, 16);      /* authorized offset */
	put32(sect + 12, 16 + sizeof(der));
	memcpy(sect + 16, der, sizeof(der));
	size_t n = fake_pe(pe, sizeof(pe), ".vendor_cert", sect, 16 + sizeof(der));
	const unsigned char *c;
	size_t len;
	CHECK(sb_vendor_cert(pe, n, &c, &len) == 0);
	CHECK(len == sizeof(der) && !memcmp(c, der, sizeof(der)));

	/* No certificate; one that runs past the section; one that is not DER. */
	put32(sect, 0);
	n = fake_pe(pe, sizeof(pe), ".vendor_cert", sect, 16 + sizeof(der));
	CHECK(sb_vendor_cert(pe, n, &c, &len) == -ENOENT);
	put32(sect, 100);
	n = fake_pe(pe, sizeof(pe), ".vendor_cert", sect, 16 + sizeof(der));
	CHECK(sb_vendor_cert(pe, n, &c, &len) == -EBADMSG);
	put32(sect, sizeof(der));
	sect[16] = 0x31;
	n = fake_pe(pe, sizeof(pe), ".vendor_cert", sect, 16 + sizeof(der));
	CHECK(sb_vendor_cert(pe, n, &c, &len) == -EBADMSG);
	/* A shim without the section. */
	n = fake_pe(pe, sizeof(pe), ".data", sect, 16 + sizeof(der));
	CHECK(sb_vendor_cert(pe, n, &c, &len) == -ENOENT && c == NULL);
}

TEST(pem)
{
	char *p = sb_pem((const unsigned char *)"Man", 3);
	CHECK_STREQ(p, "-----BEGIN CERTIFICATE-----\nTWFu\n-----END CERTIFICATE-----\n");
	free(p);
	p = sb_pem((const unsigned char *)"Ma", 2);
	CHECK(contains(p, "\nTWE=\n"));
	free(p);
	p = sb_pem((const unsigned char *)"M", 1);
	CHECK(contains(p, "\nTQ==\n"));
	free(p);
	/* 48 bytes: exactly one 64-column line, then the end. */
	unsigned char z[49] = {0};
	p = sb_pem(z, 48);
	CHECK_STREQ(p, "-----BEGIN CERTIFICATE-----\n"
	               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	               "-----END CERTIFICATE-----\n");
	free(p);
	p = sb_pem(z, 49);
	CHECK(contains(p, "AAAA\nAA==\n-----END"));
	free(p);
}

/* An ELF64 object with a .modname section: null section, .modname, .shstrtab. */
static size_t fake_module(unsigned char *e, const char *name)
{
	memset(e, 0, 512);
	memcpy(e, "\177ELF", 4);
	e[4] = 2, e[5] = 1;
	const char strtab[] = "\0.modname\0.shstrtab";
	memcpy(e + 64, strtab, sizeof(strtab));
	memcpy(e + 96, name, strlen(name) + 1);
	size_t shoff = 128;
	put64(e + 0x28, shoff);
	put16(e + 0x3a, 64);
	put16(e + 0x3c, 3);
	put16(e + 0x3e, 2);
	unsigned char *sh = e + shoff + 64; /* [1] .modname */
	put32(sh, 1);
	put64(sh + 0x18, 96);
	put64(sh + 0x20, strlen(name) + 1);
	sh += 64; /* [2] .shstrtab */
	put32(sh, 10);
	put64(sh + 0x18, 64);
	put64(sh + 0x20, sizeof(strtab));
	return shoff + 3 * 64;
}

TEST(grub_modules)
{
	static unsigned char mods[4096], pe[8192];
	memset(mods, 0, sizeof(mods));
	put32(mods, 0x676d696d); /* "mimg" */
	size_t off = 24;
	const char *names[] = {"normal", "linux", "ext2"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t sz = fake_module(mods + off + 8, names[i]);
		put32(mods + off, 0);
		put32(mods + off + 4, (uint32_t)(8 + sz));
		off += 8 + sz;
		if (i == 1) { /* the embedded configuration between modules: not a module */
			put32(mods + off, 2);
			put32(mods + off + 4, 8 + 8);
			memcpy(mods + off + 8, "normal\n", 7);
			off += 16;
		}
	}
	put64(mods + 8, 24);
	put64(mods + 16, off);
	size_t n = fake_pe(pe, sizeof(pe), "mods", mods, off);
	struct strv got = {0};
	CHECK(sb_grub_modules(pe, n, &got) == 0);
	CHECK(got.n == 3);
	CHECK(strv_contains(&got, "normal") && strv_contains(&got, "linux") &&
	      strv_contains(&got, "ext2"));

	char *m = sb_cfg_missing_module("insmod all_video\n\tinsmod ext2\nlinux /vmlinuz\n", &got);
	CHECK_STREQ(m, "all_video");
	free(m);
	m = sb_cfg_missing_module("if serial; then\n\tinsmod  linux\nfi\n  insmod ntfs\n", &got);
	CHECK_STREQ(m, "ntfs");
	free(m);
	m = sb_cfg_missing_module("insmod ext2\n# insmod is a word\ninsmodx ntfs\n", &got);
	CHECK(m == NULL);
	m = sb_cfg_missing_module("", &got);
	CHECK(m == NULL);
	strv_free(&got);

	/* A list that runs past its section, a wrong magic. */
	put64(mods + 16, off + 100);
	n = fake_pe(pe, sizeof(pe), "mods", mods, off);
	CHECK(sb_grub_modules(pe, n, &got) == -EBADMSG);
	strv_free(&got);
	put64(mods + 16, off);
	put32(mods, 0x12345678);
	n = fake_pe(pe, sizeof(pe), "mods", mods, off);
	CHECK(sb_grub_modules(pe, n, &got) == -EBADMSG);
	strv_free(&got);
}

TEST(esp_grub_cfg)
{
	char *c = sb_esp_grub_cfg("/.disk/loopboot-0123456789abcdef");
	CHECK(contains(c,
	               "\nsearch --no-floppy --file --set=root /.disk/loopboot-0123456789abcdef\n"
	               "set prefix=($root)/boot/grub\n"
	               "source $prefix/grub.cfg\n"));
	/* Every command in it is built into the signed GRUB: no insmod. */
	CHECK(strstr(c, "insmod") == NULL);
	free(c);
}

TEST(kexec_restricted)
{
	const unsigned char on[] = {6, 0, 0, 0, 1}, off[] = {6, 0, 0, 0, 0};
	CHECK(!shutdown_kexec_restricted(NULL, NULL, 0));
	CHECK(!shutdown_kexec_restricted("[none] integrity confidentiality\n", NULL, 0));
	CHECK(shutdown_kexec_restricted("none [integrity] confidentiality\n", NULL, 0));
	CHECK(shutdown_kexec_restricted("none integrity [confidentiality]\n", NULL, 0));
	CHECK(shutdown_kexec_restricted(NULL, on, sizeof(on)));
	CHECK(!shutdown_kexec_restricted(NULL, off, sizeof(off)));
	CHECK(!shutdown_kexec_restricted(NULL, on, 4)); /* cut: attributes only */
	CHECK(shutdown_kexec_restricted("[none] integrity confidentiality\n", on, sizeof(on)));
}
