/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop=http(s)://: the image fetched by curl (the program) into a file, with progress on
 * the console, and checked against loopboot.sha256= with the kernel's SHA-256 (AF_ALG).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Downloads url to path (created; removed again on failure). With sha256 (64 hex
 * digits) the file must have that digest. Progress goes to the console (stderr), at most
 * one line every few seconds. timeout_s bounds the connection setup (0: curl's default).
 * 0, or -errno after one loopboot: line (the HTTP status, curl's own message, the
 * digests that differ). */
int fetch_url(const char *url, const char *path, const char *sha256, unsigned timeout_s);

/* The SHA-256 of what fd reads from its current offset to the end, through AF_ALG
 * (algif_hash; loaded by the caller); -EAFNOSUPPORT when the kernel has no AF_ALG, -ENOENT
 * when it has no sha256. */
int sha256_fd(int fd, uint8_t ret[32]);
/* 64 lower-case hex digits and a NUL into out. */
void sha256_hex(const uint8_t digest[32], char out[65]);

/* ---- the words, pure (for the unit tests) ---- */

/* "812 bytes", "3.5 KiB", "4.2 MiB", "96 MiB", "12.3 GiB". Allocated. */
char *fetch_size_text(unsigned long long bytes);
/* "96 MiB of 512 MiB (18%), 12.3 MiB/s"; total < 0 (unknown): "96 MiB so far, 12.3 MiB/s".
 * Allocated. */
char *fetch_progress_text(unsigned long long done, long long total, double bytes_per_s);
/* The URL for the console: a password in it ("http://user:pw@host/") shown as ***.
 * Allocated. */
char *fetch_url_display(const char *url);
/* The last response in curl's header dump (every response of a redirect chain, in order):
 * its status (0: none), the server's reason text (allocated, NULL: none; ret_reason may be
 * NULL) and Content-Length (-1: none). */
void fetch_headers_parse(const char *headers, int *ret_status, char **ret_reason,
                         long long *ret_length);
/* The standard reason phrase of an HTTP status ("Not Found"), NULL when we have none. */
const char *fetch_http_reason(int status);
/* curl's exit status (with its stderr and the header dump) as the reason and the advice
 * of one loopboot: line (both allocated); returns the -errno for it. */
int fetch_curl_failure(int status, const char *err, const char *headers, bool https,
                       char **ret_reason, char **ret_todo);
