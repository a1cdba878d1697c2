/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/copy.h"
#include "basic/elf.h"
#include "basic/util.h"
#include "test-main.h"

/* ---- crafting small ELF files in memory -------------------------------------------- */

struct spec {
	bool is64, msb;
	uint16_t machine;
	const char *interp;
	const char *needed[4];
	const char *runpath, *rpath;
};

static void put(unsigned char *buf, size_t off, size_t width, uint64_t v, bool msb)
{
	for (size_t i = 0; i < width; i++) {
		size_t k = msb ? width - 1 - i : i;
		buf[off + k] = (unsigned char)(v >> (8 * i));
	}
}

#define SET(T, base, field, v)                                                                     \
	put(buf, (base) + (s->is64 ? offsetof(Elf64_##T, field) : offsetof(Elf32_##T, field)),     \
	    s->is64 ? sizeof(((Elf64_##T *)0)->field) : sizeof(((Elf32_##T *)0)->field), (v),      \
	    s->msb)

#define CRAFT_SIZE 2048
#define VADDR      0x10000
#define INTERP_OFF 512
#define STRTAB_OFF 768
#define DYN_OFF    1536

/* Writes an ELF shared object or program as spec says into buf (CRAFT_SIZE bytes). */
static size_t craft(const struct spec *s, unsigned char *buf)
{
	memset(buf, 0, CRAFT_SIZE);
	memcpy(buf, ELFMAG, SELFMAG);
	buf[EI_CLASS] = s->is64 ? ELFCLASS64 : ELFCLASS32;
	buf[EI_DATA] = s->msb ? ELFDATA2MSB : ELFDATA2LSB;
	buf[EI_VERSION] = EV_CURRENT;
	size_t ehsize = s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = s->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t dynsize = s->is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
	size_t word = s->is64 ? 8 : 4;

	/* The string table. */
	size_t strsz = 1;
	uint64_t needed_off[4], runpath_off = 0, rpath_off = 0;
	size_t n_needed = 0;
	for (; n_needed < 4 && s->needed[n_needed]; n_needed++) {
		needed_off[n_needed] = strsz;
		strcpy((char *)buf + STRTAB_OFF + strsz, s->needed[n_needed]);
		strsz += strlen(s->needed[n_needed]) + 1;
	}
	if (s->runpath) {
		runpath_off = strsz;
		strcpy((char *)buf + STRTAB_OFF + strsz, s->runpath);
		strsz += strlen(s->runpath) + 1;
	}
	if (s->rpath) {
		rpath_off = strsz;
		strcpy((char *)buf + STRTAB_OFF + strsz, s->rpath);
		strsz += strlen(s->rpath) + 1;
	}

	/* The dynamic section: DT_STRTAB last, as it may be anywhere. */
	size_t d = DYN_OFF;
#define DYN(tag, val)                                                                              \
	do {                                                                                       \
		put(buf, d, word, (tag), s->msb);                                                  \
		put(buf, d + word, word, (val), s->msb);                                           \
		d += dynsize;                                                                      \
	} while (0)
	for (size_t i = 0; i < n_needed; i++)
		DYN(DT_NEEDED, needed_off[i]);
	if (s->runpath)
		DYN(DT_RUNPATH, runpath_off);
	if (s->rpath)
		DYN(DT_RPATH, rpath_off);
	DYN(DT_STRSZ, strsz);
	DYN(DT_STRTAB, VADDR + STRTAB_OFF);
	DYN(DT_NULL, 0);
#undef DYN

	unsigned phnum = 0;
	size_t ph = ehsize;
	if (s->interp) {
		strcpy((char *)buf + INTERP_OFF, s->interp);
		SET(Phdr, ph, p_type, PT_INTERP);
		SET(Phdr, ph, p_offset, INTERP_OFF);
		SET(Phdr, ph, p_vaddr, VADDR + INTERP_OFF);
		SET(Phdr, ph, p_filesz, strlen(s->interp) + 1);
		ph += phsize;
		phnum++;
	}
	SET(Phdr, ph, p_type, PT_LOAD);
	SET(Phdr, ph, p_offset, 0);
	SET(Phdr, ph, p_vaddr, VADDR);
	SET(Phdr, ph, p_filesz, CRAFT_SIZE);
	ph += phsize;
	phnum++;
	SET(Phdr, ph, p_type, PT_DYNAMIC);
	SET(Phdr, ph, p_offset, DYN_OFF);
	SET(Phdr, ph, p_vaddr, VADDR + DYN_OFF);
	SET(Phdr, ph, p_filesz, d - DYN_OFF);
	phnum++;

	SET(Ehdr, 0, e_type, s->interp ? ET_EXEC : ET_DYN);
	SET(Ehdr, 0, e_machine, s->machine);
	SET(Ehdr, 0, e_version, EV_CURRENT);
	SET(Ehdr, 0, e_phoff, ehsize);
	SET(Ehdr, 0, e_ehsize, ehsize);
	SET(Ehdr, 0, e_phentsize, phsize);
	SET(Ehdr, 0, e_phnum, phnum);
	return CRAFT_SIZE;
}

static bool allowed(int r)
{
	return r == 0 || r == -EBADMSG || r == -ENOEXEC;
}

/* Parses a heap copy of exactly len bytes, so that ASan sees any read past the end. */
static int parse_copy(const unsigned char *data, size_t len, struct elf_info *info)
{
	unsigned char *copy = xmalloc(len ? len : 1);
	memcpy(copy, data, len);
	int r = elf_parse(copy, len, info);
	free(copy);
	return r;
}

/* ---- parsing ---------------------------------------------------------------------- */

TEST(parse_crafted_all_layouts)
{
	for (int v = 0; v < 4; v++) {
		struct spec s = {.is64 = v & 1,
		                 .msb = v & 2,
		                 .machine = EM_S390,
		                 .interp = "/lib/ld-test.so.1",
		                 .needed = {"libfoo.so.1", "libbar.so.2"},
		                 .runpath = "$ORIGIN/../lib:/opt/x"};
		unsigned char buf[CRAFT_SIZE];
		size_t len = craft(&s, buf);
		struct elf_info e;
		int r = parse_copy(buf, len, &e);
		CHECK(r == 0);
		if (r < 0)
			continue;
		CHECK(e.elf_class == (s.is64 ? ELFCLASS64 : ELFCLASS32));
		CHECK(e.data == (s.msb ? ELFDATA2MSB : ELFDATA2LSB));
		CHECK(e.machine == EM_S390);
		CHECK(e.type == ET_EXEC);
		CHECK_STREQ(e.interp, "/lib/ld-test.so.1");
		CHECK(e.needed.n == 2);
		if (e.needed.n == 2) {
			CHECK_STREQ(e.needed.v[0], "libfoo.so.1");
			CHECK_STREQ(e.needed.v[1], "libbar.so.2");
		}
		CHECK_STREQ(e.runpath, "$ORIGIN/../lib:/opt/x");
		CHECK(e.rpath == NULL);
		elf_info_done(&e);
	}
}

TEST(parse_self)
{
	struct elf_info e;
	int r = elf_read("/proc/self/exe", &e);
	CHECK(r == 0);
	if (r < 0)
		return;
	CHECK(e.interp != NULL); /* the tests are dynamically linked (ASan) */
	CHECK(e.needed.n > 0);
	bool libc = false;
	for (size_t i = 0; i < e.needed.n; i++)
		libc = libc || startswith(e.needed.v[i], "libc.so");
	CHECK(libc);
#if defined(__x86_64__)
	CHECK(e.elf_class == ELFCLASS64 && e.machine == EM_X86_64);
#endif
	elf_info_done(&e);
}

/* Appends section headers to a crafted file: a null section, one per name, and the
 * section name table last (e_shstrndx). */
#define SHSTR_OFF 1680
#define SHDR_OFF  1728
static void add_sections(const struct spec *s, unsigned char *buf, const char *const *names,
                         size_t n)
{
	size_t shsize = s->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	size_t strsz = 1;
	uint64_t name_off[4];
	for (size_t i = 0; i < n; i++) {
		name_off[i] = strsz;
		strcpy((char *)buf + SHSTR_OFF + strsz, names[i]);
		strsz += strlen(names[i]) + 1;
	}
	uint64_t shstrtab_name = strsz;
	strcpy((char *)buf + SHSTR_OFF + strsz, ".shstrtab");
	strsz += sizeof(".shstrtab");
	CHECK(SHSTR_OFF + strsz <= SHDR_OFF && SHDR_OFF + (n + 2) * shsize <= CRAFT_SIZE);
	for (size_t i = 0; i < n; i++)
		SET(Shdr, SHDR_OFF + (i + 1) * shsize, sh_name, name_off[i]);
	size_t str = SHDR_OFF + (n + 1) * shsize;
	SET(Shdr, str, sh_name, shstrtab_name);
	SET(Shdr, str, sh_type, SHT_STRTAB);
	SET(Shdr, str, sh_offset, SHSTR_OFF);
	SET(Shdr, str, sh_size, strsz);
	SET(Ehdr, 0, e_shoff, SHDR_OFF);
	SET(Ehdr, 0, e_shentsize, shsize);
	SET(Ehdr, 0, e_shnum, n + 2);
	SET(Ehdr, 0, e_shstrndx, n + 1);
}

TEST(debug_sections)
{
	static const struct {
		const char *names[3];
		size_t n;
		bool debug;
	} cases[] = {
	    {{".text", ".debug_info", ".symtab"}, 3, true},
	    {{".zdebug_line"}, 1, true},
	    {{".text", ".symtab", ".strtab"}, 3, false},
	    {{".debugger"}, 1, false}, /* not a .debug_ section */
	};
	for (int layout = 0; layout < 4; layout++) {
		const struct spec sp = {.is64 = layout & 1,
		                        .msb = layout & 2,
		                        .machine = EM_X86_64,
		                        .needed = {"libc.so.6"}};
		const struct spec *s = &sp;
		unsigned char buf[CRAFT_SIZE];
		struct elf_info e;
		size_t len = craft(s, buf);
		CHECK(parse_copy(buf, len, &e) == 0 && !e.debug_sections); /* no section headers */
		elf_info_done(&e);
		for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
			craft(s, buf);
			add_sections(s, buf, cases[c].names, cases[c].n);
			CHECK(parse_copy(buf, len, &e) == 0);
			CHECK(e.debug_sections == cases[c].debug);
			CHECK(e.needed.n == 1); /* the rest is read as before */
			elf_info_done(&e);
		}
		/* Damaged section headers are not an error (the loader never reads them): they
		 * only mean "no debugging information". */
		const char *const dbg[] = {".debug_info"};
		struct {
			const char *what;
			uint64_t shoff, shnum, shstrndx, name;
		} damage[] = {
		    {"shstrndx past the table", SHDR_OFF, 3, 7, 1},
		    {"table past the end", CRAFT_SIZE - 8, 3, 2, 1},
		    {"name past the strings", SHDR_OFF, 3, 2, 4000},
		    {"SHN_XINDEX", SHDR_OFF, 3, SHN_XINDEX, 1},
		};
		for (size_t d = 0; d < ARRAY_SIZE(damage); d++) {
			craft(s, buf);
			add_sections(s, buf, dbg, 1);
			SET(Ehdr, 0, e_shoff, damage[d].shoff);
			SET(Ehdr, 0, e_shnum, damage[d].shnum);
			SET(Ehdr, 0, e_shstrndx, damage[d].shstrndx);
			size_t shsize = s->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
			SET(Shdr, SHDR_OFF + shsize, sh_name, damage[d].name);
			int r = parse_copy(buf, len, &e);
			CHECK(r == 0);
			CHECK(!e.debug_sections);
			if (r == 0)
				elf_info_done(&e);
		}
		/* The name table unterminated at its end. */
		craft(s, buf);
		add_sections(s, buf, dbg, 1);
		size_t shsize = s->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
		SET(Shdr, SHDR_OFF + 2 * shsize, sh_size, 5); /* cuts ".debug_info" */
		CHECK(parse_copy(buf, len, &e) == 0 && !e.debug_sections);
		elf_info_done(&e);
	}
	/* The unit tests are built with -g (Meson's debugoptimized). */
	struct elf_info self;
	CHECK(elf_read("/proc/self/exe", &self) == 0);
	CHECK(self.debug_sections);
	elf_info_done(&self);
}

static unsigned char *read_self(size_t *ret_len)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	CHECK(read_file("/proc/self/exe", &data, &len) == 0);
	*ret_len = len;
	unsigned char *out = xmalloc(len);
	memcpy(out, data, len);
	return out;
}

TEST(truncated_self)
{
	size_t len;
	_cleanup_free_ unsigned char *self = read_self(&len);
	struct elf_info e;
	/* Every length in the headers, then a sample of the rest. */
	for (size_t n = 0; n < len; n += n < 8192 ? 1 : len / 613 + 1) {
		int r = parse_copy(self, n, &e);
		CHECK(allowed(r));
		if (n < SELFMAG)
			CHECK(r == -ENOEXEC);
		if (r == 0)
			elf_info_done(&e);
	}
	/* Just the ELF header: the program headers are past the end. */
	CHECK(parse_copy(self, sizeof(Elf64_Ehdr), &e) == -EBADMSG);
}

TEST(corrupted_self)
{
	size_t len;
	_cleanup_free_ unsigned char *self = read_self(&len);
	_cleanup_free_ unsigned char *bad = xmalloc(len);
	uint32_t seed = 12345;
	for (int i = 0; i < 3000; i++) {
		memcpy(bad, self, len);
		/* A few random bytes in the headers (where the offsets are). */
		for (int k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245 + 12345;
			size_t off = (seed >> 8) % (len < 4096 ? len : 4096);
			seed = seed * 1103515245 + 12345;
			bad[off] = (unsigned char)(seed >> 16);
		}
		struct elf_info e;
		int r = elf_parse(bad, len, &e);
		CHECK(allowed(r));
		if (r == 0)
			elf_info_done(&e);
	}
}

TEST(specific_damage)
{
	struct spec s = {.is64 = true, .machine = EM_X86_64, .needed = {"libfoo.so.1"}};
	unsigned char buf[CRAFT_SIZE];
	struct elf_info e;

	craft(&s, buf);
	buf[1] = 'X'; /* not ELF */
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -ENOEXEC);
	CHECK(parse_copy((const unsigned char *)"#!/bin/sh\n", 10, &e) == -ENOEXEC);

	craft(&s, buf);
	buf[EI_CLASS] = 7;
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -EBADMSG);

	craft(&s, buf);
	put(buf, offsetof(Elf64_Ehdr, e_phoff), 8, UINT64_MAX - 10, false);
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -EBADMSG);

	craft(&s, buf);
	put(buf, offsetof(Elf64_Ehdr, e_phentsize), 2, 8, false); /* smaller than a Phdr */
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -EBADMSG);

	/* A DT_NEEDED offset past the string table. */
	craft(&s, buf);
	put(buf, DYN_OFF + 8, 8, 100000, false);
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -EBADMSG);

	/* A string that runs unterminated to the end of the segment holding the string
	 * table (the PT_LOAD, first without PT_INTERP, cut to end there). */
	craft(&s, buf);
	memset(buf + STRTAB_OFF + 1, 'a', DYN_OFF - STRTAB_OFF - 1);
	put(buf, sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_filesz), 8, DYN_OFF, false);
	put(buf, DYN_OFF + 16 + 8, 8, CRAFT_SIZE, false); /* DT_STRSZ: too large */
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -EBADMSG);

	/* DT_STRTAB at an address no PT_LOAD maps. */
	craft(&s, buf);
	put(buf, DYN_OFF + 32 + 8, 8, 0x99999999, false);
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -EBADMSG);

	/* A PT_INTERP without its NUL. */
	s.interp = "/lib/ld.so";
	craft(&s, buf);
	buf[INTERP_OFF + strlen(s.interp)] = 'x';
	put(buf, sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_filesz), 8, strlen(s.interp) + 1,
	    false);
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == -EBADMSG);
}

TEST(static_and_no_program_headers)
{
	struct spec s = {.is64 = true, .machine = EM_X86_64};
	unsigned char buf[CRAFT_SIZE];
	craft(&s, buf);
	struct elf_info e;
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == 0);
	CHECK(e.needed.n == 0 && !e.interp && !e.runpath);
	elf_info_done(&e);

	craft(&s, buf);
	put(buf, offsetof(Elf64_Ehdr, e_phnum), 2, 0, false); /* a relocatable object */
	CHECK(parse_copy(buf, CRAFT_SIZE, &e) == 0);
	CHECK(e.needed.n == 0);
	elf_info_done(&e);
}

/* ---- $ORIGIN and search paths ------------------------------------------------------ */

TEST(expand_origin)
{
	char *s;
	CHECK_STREQ(s = elf_expand_origin("$ORIGIN/../lib", "/opt/app/bin"), "/opt/app/bin/../lib");
	free(s);
	CHECK_STREQ(s = elf_expand_origin("${ORIGIN}/lib", "/o"), "/o/lib");
	free(s);
	CHECK_STREQ(s = elf_expand_origin("$ORIGIN:$ORIGIN/x", "/a"), "/a:/a/x");
	free(s);
	CHECK_STREQ(s = elf_expand_origin("/usr/lib/plain", "/a"), "/usr/lib/plain");
	free(s);
	CHECK_STREQ(s = elf_expand_origin("", "/a"), "");
	free(s);
	CHECK_STREQ(s = elf_expand_origin("$ORIGIN", "/a/very/long/origin/directory/name"),
	            "/a/very/long/origin/directory/name");
	free(s);
	CHECK(elf_expand_origin("/usr/$LIB/x", "/a") == NULL);
	CHECK(elf_expand_origin("/usr/${LIB}/x", "/a") == NULL);
	CHECK(elf_expand_origin("/p/$PLATFORM", "/a") == NULL);
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/test-elf.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	return xstrdup(tmpl);
}

static void write_at(const char *dir, const char *rel, const void *data, size_t len)
{
	_cleanup_free_ char *path = path_join(dir, rel);
	_cleanup_free_ char *parent = xstrdup(path);
	*strrchr(parent, '/') = '\0';
	CHECK(mkdir_p(parent, 0755) == 0);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
}

static void write_str(const char *dir, const char *rel, const char *s)
{
	write_at(dir, rel, s, strlen(s));
}

TEST(ld_so_conf)
{
	_cleanup_free_ char *dir = make_tmpdir();
	write_str(dir, "ld.so.conf",
	          "# comment\n/first\ninclude conf.d/*.conf\n  /last=libc6 # x\n");
	write_str(dir, "conf.d/b.conf", "/b1 /b2,/b3:/b4\nhwcap 0 nosegneg\n");
	write_str(dir, "conf.d/a.conf", "/a1\n\n/first\nrelative/ignored\n");
	struct strv v = {0};
	_cleanup_free_ char *conf = path_join(dir, "ld.so.conf");
	CHECK(elf_read_ld_so_conf(conf, &v) == 0);
	static const char *const want[] = {"/first", "/a1", "/b1", "/b2", "/b3", "/b4", "/last"};
	CHECK(v.n == ARRAY_SIZE(want));
	for (size_t i = 0; i < v.n && i < ARRAY_SIZE(want); i++)
		CHECK_STREQ(v.v[i], want[i]);
	strv_free(&v);

	CHECK(elf_read_ld_so_conf("/nonexistent/ld.so.conf", &v) == 0);
	CHECK(v.n == 0);
	CHECK(rm_rf(dir) == 0);
}

TEST(default_search_dirs)
{
	struct elf_info e = {.elf_class = ELFCLASS64, .data = ELFDATA2LSB, .machine = EM_X86_64};
	struct strv v = {0};
	elf_default_search_dirs(&e, NULL, &v);
	CHECK_STRV(v.v, v.n, "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", NULL,
	           NULL, "/usr/lib");
	strv_free(&v);
}

/* ---- dependency closure ------------------------------------------------------------ */

static void write_elf(const char *dir, const char *rel, const struct spec *s)
{
	unsigned char buf[CRAFT_SIZE];
	size_t len = craft(s, buf);
	write_at(dir, rel, buf, len);
}

static bool has_real(const struct strv *files, const char *dir, const char *rel)
{
	_cleanup_free_ char *want = path_join(dir, rel);
	char a[PATH_MAX], b[PATH_MAX];
	if (!realpath(want, a))
		return false;
	for (size_t i = 0; i < files->n; i++)
		if (realpath(files->v[i], b) && streq(a, b))
			return true;
	return false;
}

TEST(collect_deps)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *interp = path_join(dir, "ld.so");
	struct spec base = {.is64 = true, .machine = EM_X86_64};

	struct spec prog = base;
	prog.interp = interp;
	prog.needed[0] = "libfoo.so.1";
	prog.needed[1] = "libc.so.6";
	prog.runpath = "$ORIGIN/../lib";
	write_elf(dir, "bin/prog", &prog);
	write_elf(dir, "ld.so", &base);
	struct spec foo = base;
	foo.needed[0] = "libbar.so.2"; /* not in prog's RUNPATH: that is for prog's own needs */
	foo.needed[1] = "libc.so.6";
	write_elf(dir, "lib/libfoo.so.1", &foo);
	struct spec wrong = base;
	wrong.machine = EM_AARCH64; /* the wrong machine comes first in the search list */
	write_elf(dir, "wrong/libbar.so.2", &wrong);
	write_elf(dir, "sys/libbar.so.2", &base);
	write_elf(dir, "sys/libc.so.6", &base);

	struct strv dirs = {0};
	strv_push(&dirs, path_join(dir, "wrong"));
	strv_push(&dirs, path_join(dir, "sys"));
	_cleanup_free_ char *path = path_join(dir, "bin/prog");
	struct strv files = {0};
	char *missing = NULL, *needed_by = NULL;
	bool outside = false;
	int r = elf_collect_deps(path, &dirs, &files, &outside, &missing, &needed_by);
	CHECK(r == 0);
	CHECK(files.n == 4);
	CHECK(files.n > 0 && streq(files.v[0], interp));
	CHECK(has_real(&files, dir, "lib/libfoo.so.1"));
	CHECK(has_real(&files, dir, "sys/libbar.so.2"));
	CHECK(has_real(&files, dir, "sys/libc.so.6"));
	CHECK(!has_real(&files, dir, "wrong/libbar.so.2"));
	CHECK(outside); /* "sys" is not one of the loader's own directories */
	free(missing);
	free(needed_by);
	strv_free(&files);

	/* Without "sys": prog's libc.so.6 (its second need, after libfoo from RUNPATH) is
	 * missing first, and the error names who needs it. */
	free(dirs.v[1]);
	dirs.v[1] = NULL;
	dirs.n = 1;
	missing = needed_by = NULL;
	r = elf_collect_deps(path, &dirs, &files, NULL, &missing, &needed_by);
	CHECK(r == -ENOENT);
	CHECK_STREQ(missing, "libc.so.6");
	CHECK_STREQ(needed_by, path);
	free(missing);
	free(needed_by);
	strv_free(&files);
	strv_free(&dirs);

	/* DT_RPATH of the program applies to its libraries too (no DT_RUNPATH anywhere). */
	struct spec prog2 = base;
	prog2.needed[0] = "libfoo2.so";
	prog2.rpath = "$ORIGIN/../rp";
	write_elf(dir, "bin/prog2", &prog2);
	struct spec foo2 = base;
	foo2.needed[0] = "libbaz.so";
	write_elf(dir, "rp/libfoo2.so", &foo2);
	write_elf(dir, "rp/libbaz.so", &base);
	_cleanup_free_ char *path2 = path_join(dir, "bin/prog2");
	r = elf_collect_deps(path2, &dirs, &files, NULL, NULL, NULL);
	CHECK(r == 0);
	CHECK(files.n == 2);
	CHECK(has_real(&files, dir, "rp/libbaz.so"));
	strv_free(&files);

	/* Not ELF at all. */
	write_str(dir, "bin/script", "#!/bin/sh\n");
	_cleanup_free_ char *script = path_join(dir, "bin/script");
	CHECK(elf_collect_deps(script, &dirs, &files, NULL, NULL, NULL) == -ENOEXEC);
	strv_free(&files);
	CHECK(rm_rf(dir) == 0);
}

TEST(collect_deps_self)
{
	struct elf_info e;
	CHECK(elf_read("/proc/self/exe", &e) == 0);
	struct strv dirs = {0}, files = {0};
	elf_default_search_dirs(&e, "/etc/ld.so.conf", &dirs);
	char *missing = NULL, *needed_by = NULL;
	CHECK(elf_collect_deps("/proc/self/exe", &dirs, &files, NULL, &missing, &needed_by) == 0);
	CHECK(files.n >= 2);
	CHECK(files.n > 0 && streq_ptr(files.v[0], e.interp));
	bool libc = false;
	for (size_t i = 0; i < files.n; i++)
		libc = libc || strstr(files.v[i], "/libc.so.6");
	CHECK(libc);
	free(missing);
	free(needed_by);
	strv_free(&files);
	strv_free(&dirs);
	elf_info_done(&e);
}

TEST(find_library)
{
	struct elf_info self;
	CHECK(elf_read("/proc/self/exe", &self) == 0);
	struct strv dirs = {0};
	elf_default_search_dirs(&self, "/etc/ld.so.conf", &dirs);
	_cleanup_free_ char *libc = elf_find_library("libc.so.6", &self, &dirs);
	CHECK(libc && libc[0] == '/' && access(libc, R_OK) == 0);
	_cleanup_free_ char *none = elf_find_library("libno-such-library.so.9", &self, &dirs);
	CHECK(none == NULL);
	/* A file of another machine is not a match, as for the loader. */
	char tmpl[] = "/tmp/test-elf-find.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	struct spec s = {.is64 = true, .machine = EM_AARCH64};
	unsigned char buf[CRAFT_SIZE];
	size_t len = craft(&s, buf);
	write_at(tmpl, "libfoo.so.1", buf, len);
	struct strv only = {0};
	strv_push(&only, xstrdup(tmpl));
	_cleanup_free_ char *foreign = elf_find_library("libfoo.so.1", &self, &only);
	CHECK(foreign == NULL);
	s.machine = self.machine;
	s.is64 = self.elf_class == ELFCLASS64;
	len = craft(&s, buf);
	write_at(tmpl, "libfoo.so.1", buf, len);
	_cleanup_free_ char *native = elf_find_library("libfoo.so.1", &self, &only);
	CHECK(native && strstr(native, "/libfoo.so.1") != NULL);
	strv_free(&only);
	strv_free(&dirs);
	elf_info_done(&self);
	CHECK(rm_rf(tmpl) == 0);
}
