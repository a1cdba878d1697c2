/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A string built piece by piece (grub.cfg, menu entries, lists in messages). */
#pragma once

#include <stddef.h>

struct strbuf {
	char *s; /* NUL-terminated once anything was added; NULL before */
	size_t len, cap;
};

/* Appends the formatted text. Allocation failure stops the program (as xmalloc). */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as it is. */
void strbuf_append(struct strbuf *b, const char *s);
/* Appends n bytes (a NUL among them ends the string as C sees it). */
void strbuf_put(struct strbuf *b, const void *data, size_t n);
/* Appends one byte. */
void strbuf_putc(struct strbuf *b, char c);
/* The string, now the caller's ("" when nothing was added); b is empty again. */
char *strbuf_steal(struct strbuf *b);
/* Frees what b holds; b is empty again. */
void strbuf_free(struct strbuf *b);

#define _cleanup_strbuf_ __attribute__((cleanup(strbuf_free)))
