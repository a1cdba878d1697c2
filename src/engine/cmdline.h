/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel command line, split with the kernel's own rules (lib/cmdline.c next_arg()):
 * words are separated by white space; a double quote toggles quoting anywhere in a word;
 * quotes around the whole word or around the value after '=' are removed;
 * "--" ends the kernel's parameters, the rest belongs to init.
 */
#pragma once

#include <stddef.h>

struct cmdline_param {
	char *key;   /* "loop", "loopboot.mount", "ro" */
	char *value; /* text after the first '=', quotes removed; NULL when there is no '=' */
};

struct cmdline {
	struct cmdline_param *params; /* before "--" */
	size_t n_params;
	char **init_args; /* words after "--", NULL-terminated (never NULL itself) */
	size_t n_init_args;
};

/* Splits s. Returns 0, or -ENOMEM. Never fails on odd input: the kernel doesn't either. */
int cmdline_tokenize(const char *s, struct cmdline *ret);
void cmdline_free(struct cmdline *c);

/* One parameter as the command line must hold it: "key=value", or "\"key=value\"" in the
 * kernel's double quotes when the value has a blank (the inverse of cmdline_tokenize()). */
char *cmdline_word(const char *key, const char *value);

/* Reads /proc/cmdline (or the file named by path). Returns 0 or -errno. */
int cmdline_read(const char *path, char **ret);
