/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BitLocker hosts: the pure parts (bitlocker.h) and, in bitlocker-open.c, the opening. */
#include "engine/bitlocker.h"

#include <errno.h>
#include <string.h>

#include "basic/util.h"

const char *const bitlocker_modules[] = {
    "dm_mod", "dm_crypt", "dm_zero", "crypto-aes", "crypto-xts", "crypto-cbc", "crypto-ecb", NULL,
};

bool bitlocker_is_type(const char *blkid_type)
{
	return blkid_type && streq(blkid_type, BITLOCKER_TYPE);
}

int bitlocker_recovery_password(const char *in, char **ret, const char **ret_why,
                                unsigned *ret_block)
{
	char digits[49];
	size_t n = 0;
	*ret = NULL;
	*ret_block = 0;
	for (const char *p = in; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n == 48) {
				*ret_why = "more than 48 digits";
				return -EINVAL;
			}
			digits[n++] = *p;
		} else if (*p != '-' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			*ret_why = "only digits, '-' and spaces belong in a recovery password";
			return -EINVAL;
		}
	}
	if (n != 48) {
		*ret_why = "a recovery password has 48 digits (8 blocks of 6)";
		return -EINVAL;
	}
	char out[56];
	for (unsigned b = 0; b < 8; b++) {
		unsigned long v = 0;
		for (unsigned i = 0; i < 6; i++)
			v = v * 10 + (unsigned long)(digits[b * 6 + i] - '0');
		if (v % 11 || v / 11 > 65535) {
			*ret_why =
			    "this block is not one of a recovery password (each is a multiple "
			    "of 11 below 720896): a typo";
			*ret_block = b + 1;
			return -EINVAL;
		}
		memcpy(out + b * 7, digits + b * 6, 6);
		out[b * 7 + 6] = b == 7 ? '\0' : '-';
	}
	*ret = xstrdup(out);
	return 0;
}

char *bitlocker_key_from_file(const char *data, size_t len, size_t *ret_len)
{
	_cleanup_free_ char *text = xstrndup(data, len);
	if (strlen(text) == len) { /* text: no NUL inside */
		char *norm;
		const char *why;
		unsigned block;
		if (bitlocker_recovery_password(text, &norm, &why, &block) == 0) {
			*ret_len = strlen(norm);
			return norm;
		}
		while (len > 0 && strchr(" \t\r\n", data[len - 1]))
			len--;
	}
	char *raw = xmalloc(len + 1);
	memcpy(raw, data, len);
	raw[len] = '\0';
	*ret_len = len;
	return raw;
}
