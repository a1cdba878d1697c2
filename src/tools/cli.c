/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/cli.h"

#include "basic/log.h"
#include "basic/options.h"
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
	int r = OPTS_PARSE(argc, argv, 0, usage, OPT_STRING("cmdline", 'c', ret_cmdline));
	if (r >= 0)
		return r;
	return cli_refuse_words(argc, argv) < 0 ? 2 : -1;
}
