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

/*
 * How a command line splits, written out: each parameter as [key] or [key]=[value], then,
 * after " --", each word for init as [word]; one space between them.
 */
static char *split_text(const struct cmdline *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	for (size_t i = 0; i < c->n_params; i++) {
		fprintf(f, "%s[%s]", i ? " " : "", c->params[i].key);
		if (c->params[i].value)
			fprintf(f, "=[%s]", c->params[i].value);
	}
	if (c->n_init_args)
		fprintf(f, "%s--", c->n_params ? " " : "");
	for (size_t i = 0; i < c->n_init_args; i++)
		fprintf(f, " [%s]", c->init_args[i]);
	fclose(f);
	return buf;
}

struct split_case {
	const char *name, *line, *want;
};

static void check_split(const struct split_case *t)
{
	struct cmdline c = split(t->line);
	char *got = split_text(&c);
	if (strcmp(got, t->want) != 0) {
		printf("# [%s] split as %s, expected %s\n", t->line, got, t->want);
		test_failed_checks++;
	}
	free(got);
	CHECK(c.init_args && c.init_args[c.n_init_args] == NULL);
	cmdline_free(&c);
}

static const struct split_case split_cases[] = {
    {"plain_words", "  root=UUID=1234  ro\tquiet loop=/a.img\n",
     "[root]=[UUID=1234] [ro] [quiet] [loop]=[/a.img]"},
    {"quoted_whole_word", "\"loop=/My Linux/root.img\" rw", "[loop]=[/My Linux/root.img] [rw]"},
    {"quoted_value", "loop=\"/My Linux/root.img\" x", "[loop]=[/My Linux/root.img] [x]"},
    /* next_arg() only strips a quote at the start of the word or of the value. */
    {"quote_inside_word_is_kept", "a=b\"c d\"e f", "[a]=[b\"c d\"e] [f]"},
    {"unterminated_quote_runs_to_end", "x \"loop=/a b", "[x] [loop]=[/a b]"},
    {"equals_first_character_is_not_a_separator", "=x a==b", "[=x] [a]=[=b]"},
    {"empty_value", "loop= root=\"\"", "[loop]=[] [root]=[]"},
    {"double_dash_goes_to_init", "root=/dev/vda -- single x=1 \"a b\"",
     "[root]=[/dev/vda] -- [single] [x=1] [a b]"},
};
TEST_TABLE(check_split, split_cases);

TEST(empty_and_blank)
{
	static const struct split_case blank[] = {
	    {"empty", "", ""},
	    {"blank", " \t\n ", ""},
	    {"empty quotes", "\"\"", "[]"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(blank); i++)
		check_split(&blank[i]);
}

TEST(utf8_is_not_space)
{
	/* "à" is C3 A0; the kernel's Latin-1 ctype would call A0 a space, we must not. */
	check_split(
	    &(struct split_case){"utf8", "loop=/d\xc3\xa0/r.img", "[loop]=[/d\xc3\xa0/r.img]"});
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
