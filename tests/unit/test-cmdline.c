/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tokenizer must split /proc/cmdline exactly as the kernel's next_arg() does. */
#include "basic/util.h"
#include "engine/cmdline.h"
#include "test-main.h"

static struct cmdline split(const char *s)
{
	struct cmdline c;
	CHECK(cmdline_tokenize(s, &c) == 0);
	return c;
}

TEST(plain_words)
{
	struct cmdline c = split("  root=UUID=1234  ro\tquiet loop=/a.img\n");
	CHECK(c.n_params == 4);
	CHECK_STREQ(c.params[0].key, "root");
	CHECK_STREQ(c.params[0].value, "UUID=1234");
	CHECK_STREQ(c.params[1].key, "ro");
	CHECK(c.params[1].value == NULL);
	CHECK_STREQ(c.params[3].key, "loop");
	CHECK_STREQ(c.params[3].value, "/a.img");
	CHECK(c.n_init_args == 0);
	CHECK(c.init_args && c.init_args[0] == NULL);
	cmdline_free(&c);
}

TEST(quoted_whole_word)
{
	struct cmdline c = split("\"loop=/My Linux/root.img\" rw");
	CHECK(c.n_params == 2);
	CHECK_STREQ(c.params[0].key, "loop");
	CHECK_STREQ(c.params[0].value, "/My Linux/root.img");
	CHECK_STREQ(c.params[1].key, "rw");
	cmdline_free(&c);
}

TEST(quoted_value)
{
	struct cmdline c = split("loop=\"/My Linux/root.img\" x");
	CHECK(c.n_params == 2);
	CHECK_STREQ(c.params[0].value, "/My Linux/root.img");
	cmdline_free(&c);
}

TEST(quote_inside_word_is_kept)
{
	/* next_arg() only strips a quote at the start of the word or of the value. */
	struct cmdline c = split("a=b\"c d\"e f");
	CHECK(c.n_params == 2);
	CHECK_STREQ(c.params[0].key, "a");
	CHECK_STREQ(c.params[0].value, "b\"c d\"e");
	CHECK_STREQ(c.params[1].key, "f");
	cmdline_free(&c);
}

TEST(unterminated_quote_runs_to_end)
{
	struct cmdline c = split("x \"loop=/a b");
	CHECK(c.n_params == 2);
	CHECK_STREQ(c.params[1].key, "loop");
	CHECK_STREQ(c.params[1].value, "/a b");
	cmdline_free(&c);
}

TEST(equals_first_character_is_not_a_separator)
{
	struct cmdline c = split("=x a==b");
	CHECK(c.n_params == 2);
	CHECK_STREQ(c.params[0].key, "=x");
	CHECK(c.params[0].value == NULL);
	CHECK_STREQ(c.params[1].key, "a");
	CHECK_STREQ(c.params[1].value, "=b");
	cmdline_free(&c);
}

TEST(empty_value)
{
	struct cmdline c = split("loop= root=\"\"");
	CHECK(c.n_params == 2);
	CHECK_STREQ(c.params[0].value, "");
	CHECK_STREQ(c.params[1].value, "");
	cmdline_free(&c);
}

TEST(double_dash_goes_to_init)
{
	struct cmdline c = split("root=/dev/vda -- single x=1 \"a b\"");
	CHECK(c.n_params == 1);
	CHECK(c.n_init_args == 3);
	CHECK_STREQ(c.init_args[0], "single");
	CHECK_STREQ(c.init_args[1], "x=1");
	CHECK_STREQ(c.init_args[2], "a b");
	CHECK(c.init_args[3] == NULL);
	cmdline_free(&c);
}

TEST(empty_and_blank)
{
	struct cmdline c = split("");
	CHECK(c.n_params == 0);
	cmdline_free(&c);
	c = split(" \t\n ");
	CHECK(c.n_params == 0);
	cmdline_free(&c);
	c = split("\"\"");
	CHECK(c.n_params == 1);
	CHECK_STREQ(c.params[0].key, "");
	cmdline_free(&c);
}

TEST(utf8_is_not_space)
{
	/* "à" is C3 A0; the kernel's Latin-1 ctype would call A0 a space, we must not. */
	struct cmdline c = split("loop=/d\xc3\xa0/r.img");
	CHECK(c.n_params == 1);
	CHECK_STREQ(c.params[0].value, "/d\xc3\xa0/r.img");
	cmdline_free(&c);
}

TEST(read_file)
{
	char path[] = "/tmp/lb-cmdline-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "root=/dev/sda1 ro\n", 18) == 18);
	close(fd);
	char *s = NULL;
	CHECK(cmdline_read(path, &s) == 0);
	CHECK_STREQ(s, "root=/dev/sda1 ro");
	free(s);
	unlink(path);
	CHECK(cmdline_read("/nonexistent/cmdline", &s) == -ENOENT);
}
