/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A growable string, for text built piece by piece. */
#pragma once

#include <stddef.h>

struct strbuf {
	char *s; /* NUL-terminated; NULL while empty */
	size_t len, cap;
};

void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_putc(struct strbuf *b, char c);
/* The string (never NULL: "" when nothing was added); the buffer is empty afterwards. */
char *strbuf_steal(struct strbuf *b);
void strbuf_free(struct strbuf *b);
