/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/cli.h"

#include <getopt.h>

#include "basic/log.h"
#include "basic/util.h"
#include "engine/cmdline.h"

int cli_load_plan(const char *cmd, const char *cmdline, struct plan *ret, char **ret_line)
{
	_cleanup_free_ char *line = NULL;
	bool from_proc = !cmdline;
	if (from_proc) {
		int r = cmdline_read(NULL, &line);
		if (r < 0) {
			log_fail(r, "reading", "/proc/cmdline", NULL,
			         "mount /proc, or use --cmdline");
			return 1;
		}
	} else {
		line = xstrdup(cmdline);
	}
	_cleanup_free_ char *error = NULL;
	if (plan_parse(line, ret, &error) < 0) {
		if (from_proc) /* most likely not a loopboot system */
			fprintf(stderr,
			        "loopboot: %s: /proc/cmdline: not a loopboot entry (%s) — give one "
			        "with --cmdline 'root=... loop=...'\n",
			        cmd, startswith(error, "loopboot: ") ? error + 10 : error);
		else
			fprintf(stderr, "%s\n", error);
		return 2;
	}
	if (ret_line)
		*ret_line = line, line = NULL;
	return 0;
}

int cli_parse_options(int argc, char **argv, const struct cli_option *options, size_t n_options,
                      const char *usage)
{
	_cleanup_free_ struct option *longopts = xcalloc(n_options + 2, sizeof(*longopts));
	_cleanup_free_ char *letters = xcalloc(2 * n_options + 2, 1);
	size_t len = 0;
	for (size_t i = 0; i < n_options; i++) {
		longopts[i] =
		    (struct option){options[i].name, required_argument, NULL, options[i].letter};
		letters[len++] = options[i].letter;
		letters[len++] = ':';
	}
	longopts[n_options] = (struct option){"help", no_argument, NULL, 'h'};
	letters[len] = 'h';
	int c;
	while ((c = getopt_long(argc, argv, letters, longopts, NULL)) >= 0) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		size_t i = 0;
		while (i < n_options && options[i].letter != c)
			i++;
		if (i == n_options) /* '?': getopt has printed why */
			return -EINVAL;
		*options[i].value = optarg;
	}
	return 1;
}

int cli_refuse_words(int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr,
	        "loopboot: %s: unexpected argument: %s — quote the command line and pass it "
	        "with --cmdline\n",
	        argv[0], argv[optind]);
	return -EINVAL;
}

int cli_parse_cmdline_only(int argc, char **argv, const char *usage, const char **ret_cmdline)
{
	const struct cli_option options[] = {{"cmdline", 'c', ret_cmdline}};
	int r = cli_parse_options(argc, argv, options, ARRAY_SIZE(options), usage);
	if (r <= 0)
		return r;
	return cli_refuse_words(argc, argv) < 0 ? -EINVAL : 1;
}
