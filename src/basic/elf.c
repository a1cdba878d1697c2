/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "basic/elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NEEDED     1024 /* far above any real program; bounds work on hostile input */
#define MAX_CONF_DEPTH 8    /* include nesting in ld.so.conf */

/* The file, its class and byte order: every field is read through this, with memcpy, so
 * that unaligned or foreign-endian data is read correctly and UBSan stays quiet. */
struct reader {
	const unsigned char *p;
	size_t size;
	bool is64;
	bool msb;
};

static bool range_ok(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

static uint64_t rd(const struct reader *r, size_t off, size_t width)
{
	unsigned char b[8];
	memcpy(b, r->p + off, width);
	uint64_t v = 0;
	for (size_t i = 0; i < width; i++) {
		size_t k = r->msb ? i : width - 1 - i;
		v = (v << 8) | b[k];
	}
	return v;
}

/* A field of a 32- or 64-bit structure at base: offsetof() in each layout, and widths. */
#define FIELD(r, base, T, field)                                                                   \
	((r)->is64                                                                                 \
	     ? rd((r), (base) + offsetof(Elf64_##T, field), sizeof(((Elf64_##T *)0)->field))       \
	     : rd((r), (base) + offsetof(Elf32_##T, field), sizeof(((Elf32_##T *)0)->field)))

struct load {
	uint64_t vaddr, offset, filesz;
};

/* The file offset of virtual address addr, and how many bytes of the file follow it in
 * its segment: the loader finds the dynamic string table by address, not by section. */
static int vaddr_to_offset(const struct load *loads, size_t n, uint64_t addr, uint64_t *ret_off,
                           uint64_t *ret_avail)
{
	for (size_t i = 0; i < n; i++) {
		if (addr < loads[i].vaddr || addr - loads[i].vaddr >= loads[i].filesz)
			continue;
		*ret_off = loads[i].offset + (addr - loads[i].vaddr);
		*ret_avail = loads[i].filesz - (addr - loads[i].vaddr);
		return 0;
	}
	return -EBADMSG;
}

static int string_at(const unsigned char *tab, uint64_t tabsz, uint64_t off, char **ret)
{
	if (off >= tabsz)
		return -EBADMSG;
	const char *s = (const char *)tab + off;
	size_t len = strnlen(s, (size_t)(tabsz - off));
	if (len == tabsz - off || len == 0)
		return -EBADMSG; /* unterminated, or an empty name no loader would accept */
	*ret = xstrndup(s, len);
	return 0;
}

/* Whether the section headers name debugging sections (.debug_*, compressed .zdebug_*):
 * what `strip --strip-debug` would remove. The loader never reads section headers, so
 * damaged ones only mean "no": they are no reason to refuse a program. */
static bool has_debug_sections(const struct reader *r)
{
	size_t shsize = r->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	uint64_t shoff = FIELD(r, 0, Ehdr, e_shoff);
	uint64_t shentsize = FIELD(r, 0, Ehdr, e_shentsize);
	uint64_t shnum = FIELD(r, 0, Ehdr, e_shnum);
	uint64_t shstrndx = FIELD(r, 0, Ehdr, e_shstrndx);
	/* SHN_XINDEX (a count or index in section 0) only occurs with > 65279 sections. */
	if (shoff == 0 || shnum == 0 || shentsize < shsize || shstrndx >= shnum ||
	    shstrndx == SHN_XINDEX || !range_ok(r->size, shoff, shnum * shentsize))
		return false;
	size_t strhdr = (size_t)(shoff + shstrndx * shentsize);
	uint64_t stroff = FIELD(r, strhdr, Shdr, sh_offset);
	uint64_t strsize = FIELD(r, strhdr, Shdr, sh_size);
	if (!range_ok(r->size, stroff, strsize))
		return false;
	for (uint64_t i = 0; i < shnum; i++) {
		size_t base = (size_t)(shoff + i * shentsize);
		uint64_t name = FIELD(r, base, Shdr, sh_name);
		if (name >= strsize)
			continue;
		const char *s = (const char *)r->p + stroff + name;
		size_t len = strnlen(s, (size_t)(strsize - name));
		if (len == strsize - name)
			continue; /* unterminated */
		if (startswith(s, ".debug_") || startswith(s, ".zdebug_"))
			return true;
	}
	return false;
}

/* Where the program headers say the dynamic section is. */
struct segments {
	struct load *loads;
	size_t n_loads;
	bool have_dynamic;
	uint64_t dyn_off, dyn_size;
};

/* PT_LOAD (for addresses), PT_INTERP, PT_DYNAMIC. -EBADMSG on a malformed one. */
static int parse_program_headers(const struct reader *r, uint64_t phoff, uint64_t phentsize,
                                 uint64_t phnum, struct segments *seg, struct elf_info *ret)
{
	for (uint64_t i = 0; i < phnum; i++) {
		size_t base = (size_t)(phoff + i * phentsize);
		uint64_t type = FIELD(r, base, Phdr, p_type);
		uint64_t off = FIELD(r, base, Phdr, p_offset);
		uint64_t filesz = FIELD(r, base, Phdr, p_filesz);
		switch (type) {
		case PT_LOAD:
			seg->loads[seg->n_loads++] =
			    (struct load){.vaddr = FIELD(r, base, Phdr, p_vaddr),
			                  .offset = off,
			                  .filesz = filesz};
			break;
		case PT_INTERP: {
			if (ret->interp || !range_ok(r->size, off, filesz) || filesz == 0 ||
			    filesz > PATH_MAX)
				return -EBADMSG;
			const char *s = (const char *)r->p + off;
			size_t len = strnlen(s, (size_t)filesz);
			if (len == filesz || len == 0)
				return -EBADMSG;
			ret->interp = xstrndup(s, len);
			break;
		}
		case PT_DYNAMIC:
			if (seg->have_dynamic || !range_ok(r->size, off, filesz))
				return -EBADMSG;
			seg->have_dynamic = true;
			seg->dyn_off = off;
			seg->dyn_size = filesz;
			break;
		}
	}
	return 0;
}

/* DT_NEEDED, DT_RPATH and DT_RUNPATH, as strings of DT_STRTAB. */
static int parse_dynamic(const struct reader *r, const struct segments *seg, struct elf_info *ret)
{
	size_t dynsize = r->is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
	size_t word = r->is64 ? 8 : 4;
	/* Collect the string offsets first: DT_STRTAB may come after the entries using it. */
	uint64_t needed[MAX_NEEDED];
	size_t n_needed = 0;
	bool have_strtab = false, have_rpath = false, have_runpath = false;
	uint64_t strtab = 0, strsz = 0, rpath = 0, runpath = 0;
	uint64_t end = seg->dyn_off + seg->dyn_size;
	for (uint64_t off = seg->dyn_off; off + dynsize <= end; off += dynsize) {
		uint64_t tag = rd(r, (size_t)off, word);
		uint64_t val = rd(r, (size_t)off + word, word);
		if (tag == DT_NULL)
			break;
		switch (tag) {
		case DT_NEEDED:
			if (n_needed == MAX_NEEDED)
				return -EBADMSG;
			needed[n_needed++] = val;
			break;
		case DT_STRTAB:
			have_strtab = true;
			strtab = val;
			break;
		case DT_STRSZ:
			strsz = val;
			break;
		case DT_RPATH:
			have_rpath = true;
			rpath = val;
			break;
		case DT_RUNPATH:
			have_runpath = true;
			runpath = val;
			break;
		}
	}
	if (n_needed == 0 && !have_rpath && !have_runpath)
		return 0;
	if (!have_strtab)
		return -EBADMSG;

	uint64_t tab_off, avail;
	if (vaddr_to_offset(seg->loads, seg->n_loads, strtab, &tab_off, &avail) < 0)
		return -EBADMSG;
	if (strsz == 0 || strsz > avail)
		strsz = avail;
	if (!range_ok(r->size, tab_off, strsz))
		return -EBADMSG;
	const unsigned char *tab = r->p + tab_off;
	int rv = 0;
	for (size_t i = 0; i < n_needed && rv >= 0; i++) {
		char *name;
		rv = string_at(tab, strsz, needed[i], &name);
		if (rv >= 0)
			strv_push(&ret->needed, name);
	}
	if (rv >= 0 && have_rpath)
		rv = string_at(tab, strsz, rpath, &ret->rpath);
	if (rv >= 0 && have_runpath)
		rv = string_at(tab, strsz, runpath, &ret->runpath);
	return rv;
}

int elf_parse(const void *data, size_t size, struct elf_info *ret)
{
	const unsigned char *p = data;
	*ret = (struct elf_info){0};

	if (size < EI_NIDENT || memcmp(p, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if ((p[EI_CLASS] != ELFCLASS32 && p[EI_CLASS] != ELFCLASS64) ||
	    (p[EI_DATA] != ELFDATA2LSB && p[EI_DATA] != ELFDATA2MSB) || p[EI_VERSION] != EV_CURRENT)
		return -EBADMSG;

	struct reader r = {.p = p,
	                   .size = size,
	                   .is64 = p[EI_CLASS] == ELFCLASS64,
	                   .msb = p[EI_DATA] == ELFDATA2MSB};
	size_t ehsize = r.is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = r.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (size < ehsize)
		return -EBADMSG;

	ret->elf_class = p[EI_CLASS];
	ret->data = p[EI_DATA];
	ret->type = (uint16_t)FIELD(&r, 0, Ehdr, e_type);
	ret->machine = (uint16_t)FIELD(&r, 0, Ehdr, e_machine);
	uint64_t phoff = FIELD(&r, 0, Ehdr, e_phoff);
	uint64_t phentsize = FIELD(&r, 0, Ehdr, e_phentsize);
	uint64_t phnum = FIELD(&r, 0, Ehdr, e_phnum);
	ret->debug_sections = has_debug_sections(&r);

	if (phnum == 0)
		return 0; /* a relocatable object or a core file: nothing to load */
	/* PN_XNUM (the count moved to section 0) only occurs in core files. */
	if (phnum == PN_XNUM || phentsize < phsize || !range_ok(size, phoff, phnum * phentsize))
		return -EBADMSG;

	_cleanup_free_ struct load *loads = xcalloc(phnum, sizeof(struct load));
	struct segments seg = {.loads = loads};
	int rv = parse_program_headers(&r, phoff, phentsize, phnum, &seg, ret);
	if (rv >= 0 && seg.have_dynamic) /* else statically linked */
		rv = parse_dynamic(&r, &seg, ret);
	if (rv < 0)
		elf_info_done(ret);
	return rv < 0 ? rv : 0;
}

int elf_read(const char *path, struct elf_info *ret)
{
	struct stat st;
	_cleanup_close_ int fd = open_regular(path, &st);
	if (fd < 0)
		return fd == -EINVAL ? -ENOEXEC : fd;
	if (st.st_size < EI_NIDENT)
		return -ENOEXEC;
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	int r = elf_parse(map, (size_t)st.st_size, ret);
	munmap(map, (size_t)st.st_size);
	return r;
}

void elf_info_done(struct elf_info *e)
{
	free(e->interp);
	free(e->rpath);
	free(e->runpath);
	strv_free(&e->needed);
	*e = (struct elf_info){0};
}

char *elf_expand_origin(const char *entry, const char *origin)
{
	if (strstr(entry, "$LIB") || strstr(entry, "${LIB}") || strstr(entry, "$PLATFORM") ||
	    strstr(entry, "${PLATFORM}"))
		return NULL;
	size_t cap = strlen(entry) + 1, len = 0;
	char *out = xmalloc(cap);
	for (const char *s = entry; *s;) {
		const char *rest = NULL;
		if ((rest = startswith(s, "$ORIGIN")) || (rest = startswith(s, "${ORIGIN}"))) {
			size_t n = strlen(origin);
			cap += n;
			out = xrealloc(out, cap);
			memcpy(out + len, origin, n);
			len += n;
			s = rest;
			continue;
		}
		out[len++] = *s++;
	}
	out[len] = '\0';
	return out;
}

static int read_conf(const char *path, struct strv *dirs, unsigned depth)
{
	if (depth > MAX_CONF_DEPTH)
		return -ELOOP;
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) >= 0) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = line + strspn(line, " \t");
		strip_trailing(s);
		if (!*s)
			continue;
		const char *arg;
		if ((arg = startswith(s, "include")) && (*arg == ' ' || *arg == '\t')) {
			arg += strspn(arg, " \t");
			_cleanup_free_ char *pattern = NULL;
			if (arg[0] != '/') {
				_cleanup_free_ char *copy = xstrdup(path);
				pattern = path_join(dirname(copy), arg);
			} else
				pattern = xstrdup(arg);
			glob_t g;
			/* glob() sorts its matches: the same order as ldconfig, every time. */
			if (glob(pattern, 0, NULL, &g) == 0) {
				for (size_t i = 0; i < g.gl_pathc; i++) {
					int r = read_conf(g.gl_pathv[i], dirs, depth + 1);
					if (r < 0) {
						globfree(&g);
						return r;
					}
				}
				globfree(&g);
			}
			continue;
		}
		if (startswith(s, "hwcap") && (s[5] == ' ' || s[5] == '\t'))
			continue;
		/* Old syntax "dir=libtype" and several dirs per line separated by blanks,
		 * commas or colons, as ldconfig accepts. */
		for (char *save = NULL, *tok = strtok_r(s, " \t,:", &save); tok;
		     tok = strtok_r(NULL, " \t,:", &save)) {
			char *eq = strchr(tok, '=');
			if (eq)
				*eq = '\0';
			if (tok[0] == '/' && !strv_contains(dirs, tok))
				strv_push(dirs, xstrdup(tok));
		}
	}
	return 0;
}

int elf_read_ld_so_conf(const char *path, struct strv *dirs)
{
	return read_conf(path, dirs, 0);
}

/* Debian's multiarch directory for a machine; NULL where we do not know one. */
static const char *multiarch(const struct elf_info *e)
{
	bool is64 = e->elf_class == ELFCLASS64, lsb = e->data == ELFDATA2LSB;
	switch (e->machine) {
	case EM_X86_64:
		return is64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
	case EM_386:
		return "i386-linux-gnu";
	case EM_AARCH64:
		return "aarch64-linux-gnu";
	case EM_ARM:
		return "arm-linux-gnueabihf";
	case EM_RISCV:
		return is64 ? "riscv64-linux-gnu" : NULL;
	case EM_PPC64:
		return lsb ? "powerpc64le-linux-gnu" : "powerpc64-linux-gnu";
	case EM_S390:
		return "s390x-linux-gnu";
	case EM_LOONGARCH:
		return "loongarch64-linux-gnu";
	}
	return NULL;
}

static void push_unique(struct strv *v, char *owned)
{
	if (strv_contains(v, owned))
		free(owned);
	else
		strv_push(v, owned);
}

/*
 * The standard library directories. Without lib64 they are what Debian's loader searches
 * with no cache at all ("System search path" in ld.so --help).
 */
static void builtin_dirs(const struct elf_info *e, struct strv *ret, bool lib64)
{
	const char *ma = multiarch(e);
	if (ma) {
		push_unique(ret, xasprintf("/lib/%s", ma));
		push_unique(ret, xasprintf("/usr/lib/%s", ma));
	}
	if (lib64 && e->elf_class == ELFCLASS64) {
		push_unique(ret, xstrdup("/lib64"));
		push_unique(ret, xstrdup("/usr/lib64"));
	}
	push_unique(ret, xstrdup("/lib"));
	push_unique(ret, xstrdup("/usr/lib"));
}

void elf_default_search_dirs(const struct elf_info *e, const char *ld_so_conf, struct strv *ret)
{
	struct strv conf = {0};
	if (ld_so_conf)
		(void)elf_read_ld_so_conf(ld_so_conf, &conf); /* unreadable: the built-ins remain */
	for (size_t i = 0; i < conf.n; i++)
		push_unique(ret, xstrdup(conf.v[i]));
	strv_free(&conf);
	builtin_dirs(e, ret, true);
}

struct object {
	char *path;
	struct elf_info info;
};

/* Whether the file at path is a shared object the loader would accept for prog. */
static bool compatible(const char *path, const struct elf_info *prog, struct elf_info *ret)
{
	if (elf_read(path, ret) < 0)
		return false;
	if (ret->elf_class == prog->elf_class && ret->data == prog->data &&
	    ret->machine == prog->machine)
		return true;
	elf_info_done(ret);
	return false;
}

static char *origin_of(const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	return xstrdup(dirname(real));
}

/* Tries every directory of a ':'-separated list; returns the path found or NULL. */
static char *search_list(const char *list, const char *origin, const char *name,
                         const struct elf_info *prog, struct elf_info *ret)
{
	if (!list)
		return NULL;
	_cleanup_free_ char *copy = xstrdup(list);
	for (char *save = NULL, *tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *dir = elf_expand_origin(tok, origin);
		if (!dir || dir[0] != '/')
			continue;
		char *cand = path_join(dir, name);
		if (compatible(cand, prog, ret))
			return cand;
		free(cand);
	}
	return NULL;
}

char *elf_find_library(const char *name, const struct elf_info *prog,
                       const struct strv *search_dirs)
{
	for (size_t d = 0; d < search_dirs->n; d++) {
		char *cand = path_join(search_dirs->v[d], name);
		struct elf_info info = {0};
		if (compatible(cand, prog, &info)) {
			elf_info_done(&info);
			return cand;
		}
		free(cand);
	}
	return NULL;
}

static void report(char **ret_missing, const char *missing, char **ret_needed_by,
                   const char *needed_by)
{
	if (ret_missing && missing)
		*ret_missing = xstrdup(missing);
	if (ret_needed_by)
		*ret_needed_by = xstrdup(needed_by);
}

int elf_collect_deps(const char *program, const struct strv *search_dirs, struct strv *files,
                     bool *ret_libs_outside, char **ret_missing, char **ret_needed_by)
{
	struct object *objs = xcalloc(1, sizeof(*objs));
	size_t n_objs = 1, cap = 1;
	struct strv seen = {0}; /* real paths of the objects, so each is read once */
	struct strv builtin = {0};
	bool outside = false;
	int r;

	objs[0].path = xstrdup(program);
	r = elf_read(program, &objs[0].info);
	if (r < 0) {
		report(NULL, NULL, ret_needed_by, program);
		goto out;
	}
	builtin_dirs(&objs[0].info, &builtin, false);
	char real[PATH_MAX];
	strv_push(&seen, xstrdup(realpath(program, real) ? real : program));
	const struct elf_info *prog = &objs[0].info;

	for (size_t i = 0; i < n_objs; i++) {
		/* objs may move when it grows: copy what we use of this one. */
		const char *interp = objs[i].info.interp;
		if (interp && !strv_contains(files, interp)) {
			if (access(interp, F_OK) < 0) {
				r = -ENOENT;
				report(ret_missing, interp, ret_needed_by, objs[i].path);
				goto out;
			}
			strv_push(files, xstrdup(interp));
		}
		_cleanup_free_ char *origin = origin_of(objs[i].path);
		for (size_t k = 0; k < objs[i].info.needed.n; k++) {
			const char *name = objs[i].info.needed.v[k];
			struct elf_info info = {0};
			char *found = NULL;
			if (strchr(name, '/')) {
				if (name[0] == '/' && compatible(name, prog, &info))
					found = xstrdup(name);
			} else {
				/* The loader's order; DT_RPATH counts only without DT_RUNPATH. */
				if (!objs[i].info.runpath) {
					found = search_list(objs[i].info.rpath, origin, name, prog,
					                    &info);
					if (!found && i > 0 && !prog->runpath) {
						_cleanup_free_ char *porigin = origin_of(program);
						found = search_list(prog->rpath, porigin, name,
						                    prog, &info);
					}
				}
				if (!found)
					found = search_list(objs[i].info.runpath, origin, name,
					                    prog, &info);
				for (size_t d = 0; !found && d < search_dirs->n; d++) {
					char *cand = path_join(search_dirs->v[d], name);
					if (compatible(cand, prog, &info)) {
						found = cand;
						if (!strv_contains(&builtin, search_dirs->v[d]))
							outside = true;
					} else
						free(cand);
				}
			}
			if (!found) {
				r = -ENOENT;
				report(ret_missing, name, ret_needed_by, objs[i].path);
				goto out;
			}
			char *key = xstrdup(realpath(found, real) ? real : found);
			if (strv_contains(&seen, key)) {
				free(key);
				free(found);
				elf_info_done(&info);
				continue;
			}
			strv_push(&seen, key);
			if (!strv_contains(files, found))
				strv_push(files, xstrdup(found));
			if (n_objs == cap) {
				cap *= 2;
				objs = xrealloc(objs, cap * sizeof(*objs));
				prog = &objs[0].info;
			}
			objs[n_objs++] = (struct object){.path = found, .info = info};
		}
	}
	r = 0;
out:
	for (size_t i = 0; i < n_objs; i++) {
		free(objs[i].path);
		elf_info_done(&objs[i].info);
	}
	free(objs);
	strv_free(&seen);
	strv_free(&builtin);
	if (ret_libs_outside)
		*ret_libs_outside = outside;
	return r;
}
