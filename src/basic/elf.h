/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the dynamic loader needs to run a program, read from the ELF file itself rather than
 * by running ldd: ldd executes the loader on the file, which we must not do to a binary
 * that may be for another machine, and whose output format is not an interface.
 *
 * Only program headers are used (PT_INTERP, PT_DYNAMIC, PT_LOAD), as the loader does:
 * section headers may be stripped. Every offset and size is checked against the file, so a
 * truncated or hostile file gives an error, never a read outside it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/util.h"

struct elf_info {
	unsigned char elf_class; /* ELFCLASS32 or ELFCLASS64 */
	unsigned char data;      /* ELFDATA2LSB or ELFDATA2MSB */
	uint16_t type;           /* ET_EXEC, ET_DYN, ... */
	uint16_t machine;        /* EM_X86_64, ... */
	char *interp;            /* PT_INTERP; NULL for a static program or a library */
	struct strv needed;      /* DT_NEEDED, in order */
	char *rpath;             /* DT_RPATH, ':'-separated; NULL if none */
	char *runpath;           /* DT_RUNPATH; NULL if none */
	bool debug_sections;     /* section headers name .debug_* (strip --strip-debug) */
};

/*
 * Parses an ELF image in memory. Returns 0, -ENOEXEC when it is not ELF at all (a script,
 * say), or -EBADMSG when it is ELF but damaged (offsets outside the file, unterminated
 * strings, a dynamic section without a string table).
 */
int elf_parse(const void *data, size_t size, struct elf_info *ret);
/* Same for a file (mapped read-only); also -errno from open/mmap. */
int elf_read(const char *path, struct elf_info *ret);
void elf_info_done(struct elf_info *e);

/*
 * Replaces $ORIGIN / ${ORIGIN} in a DT_RUNPATH or DT_RPATH entry by origin (the directory of
 * the object). Returns NULL for entries using $LIB or $PLATFORM, whose value depends on the
 * machine that runs the loader.
 */
char *elf_expand_origin(const char *entry, const char *origin);

/*
 * Appends to dirs the directories named in an ld.so.conf file, following "include GLOB"
 * lines (relative globs are relative to the including file's directory). A missing file
 * is not an error: not every system has one. Returns 0 or -errno.
 */
int elf_read_ld_so_conf(const char *path, struct strv *dirs);

/*
 * The library search list for objects like e (its class and machine): the ld.so.conf
 * directories (what ldconfig puts into the loader's cache), then the loader's built-in
 * directories: /lib/<multiarch>, /usr/lib/<multiarch>, /lib64 and /usr/lib64 for 64-bit,
 * /lib, /usr/lib.
 */
void elf_default_search_dirs(const struct elf_info *e, const char *ld_so_conf, struct strv *ret);

/*
 * Everything program (an absolute path) needs from the file system to start: its
 * interpreter and, recursively, every DT_NEEDED library, searched like the loader does:
 * DT_RPATH (when there is no DT_RUNPATH) of the object and of the program, DT_RUNPATH of
 * the object, then search_dirs. Only libraries of the program's class and machine match,
 * as for the loader (a 32-bit libc in /lib32 is skipped).
 *
 * Appends the paths as they were found (not resolved: /lib64/ld-linux-x86-64.so.2 stays
 * a symlink for the caller to copy as one) to files, each once, program not included.
 * *ret_libs_outside (optional) is set to true when a library was found only through a
 * directory the loader does not search by default (ld.so.conf, not RUNPATH/RPATH).
 *
 * Returns 0; -ENOEXEC when program is not ELF; -ENOENT with *ret_missing (the library's
 * name) and *ret_needed_by (the object that needs it) set when a library is not found;
 * other -errno from reading a file, with *ret_needed_by naming it.
 */
int elf_collect_deps(const char *program, const struct strv *search_dirs, struct strv *files,
                     bool *ret_libs_outside, char **ret_missing, char **ret_needed_by);

/*
 * The first file named name (a soname, as a program passes it to dlopen()) in search_dirs
 * that the loader would accept for prog (its class, byte order and machine), or NULL.
 */
char *elf_find_library(const char *name, const struct elf_info *prog,
                       const struct strv *search_dirs);
