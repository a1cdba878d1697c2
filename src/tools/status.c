/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tools/status.h"

#include <inttypes.h>
#include <stdio.h>

#include "basic/log.h"
#include "basic/options.h"
#include "basic/util.h"
#include "engine/disk.h"
#include "engine/state.h"

static void print_layer(const struct layer *l)
{
	switch (l->kind) {
	case LAYER_HOST: {
		const struct layer_host *h = &l->host;
		printf("host:   %s = %s (%s via %s%s) at %s%s\n", strempty(h->spec),
		       strempty(h->source), strempty(h->type), strempty(h->driver),
		       h->fuse ? ", FUSE" : "", strempty(h->target),
		       h->read_only ? ", read-only" : "");
		if (h->daemon_pid > 0)
			printf("        daemon pid %d\n", (int)h->daemon_pid);
		if (h->dm)
			printf("        mounted from %s, a read-only mapping of %s\n",
			       strempty(h->source), strempty(h->device));
		break;
	}
	case LAYER_LOOP:
		printf("loop:   %s ← %s (in %s%s%s)\n", strempty(l->loop.device),
		       strempty(l->loop.file), strempty(l->loop.parent),
		       l->loop.direct_io ? ", direct I/O" : "",
		       l->loop.read_only ? ", read-only" : "");
		if (l->loop.offset || l->loop.sizelimit)
			printf("        bytes %" PRIu64 " to %" PRIu64 " of the file\n",
			       l->loop.offset, l->loop.offset + l->loop.sizelimit);
		break;
	case LAYER_DM:
		if (l->dm.target) {
			printf("dm:     %s (%s): %s over %s%s\n", strempty(l->dm.device),
			       strempty(l->dm.name),
			       streq(l->dm.target, "snapshot") ? "a copy-on-write in RAM"
			                                       : l->dm.target,
			       strempty(l->dm.on), l->dm.read_only ? ", read-only" : "");
			break;
		}
		printf("dm:     %s (%s) ← %s (in %s): %lu extent%s on %s, linear%s\n",
		       strempty(l->dm.device), strempty(l->dm.name), strempty(l->dm.file),
		       strempty(l->dm.parent), l->dm.extents, l->dm.extents == 1 ? "" : "s",
		       strempty(l->dm.on), l->dm.read_only ? ", read-only" : "");
		if (l->dm.size)
			printf("        bytes %" PRIu64 " to %" PRIu64 " of the file\n",
			       l->dm.offset, l->dm.offset + l->dm.size);
		break;
	case LAYER_MOUNT:
		printf("mount:  %s on %s (%s, %s%s%s) [%s]\n", strempty(l->mount.source),
		       strempty(l->mount.target), strempty(l->mount.type),
		       l->mount.read_only ? "ro" : "rw", l->mount.options ? "," : "",
		       strempty(l->mount.options), mount_role_name(l->mount.role));
		if (l->mount.overlay)
			printf("overlay: the image read-only under the writable layer %s\n",
			       l->mount.overlay);
		if (l->mount.disk && l->mount.partition)
			printf("disk:   partition %" PRIu64 " of the %s %s\n", l->mount.partition,
			       disk_format_name_of_key(l->mount.disk), strempty(l->mount.image));
		else if (l->mount.disk)
			printf("disk:   the %s %s (no partition table)\n",
			       disk_format_name_of_key(l->mount.disk), strempty(l->mount.image));
		break;
	case LAYER_CRYPT:
		printf(
		    "crypt:  %s (%s) ← %s, %s, opened with the key from %s%s\n",
		    strempty(l->crypt.device), strempty(l->crypt.name), strempty(l->crypt.volume),
		    streq(strempty(l->crypt.type), "BITLK") ? "BitLocker" : strempty(l->crypt.type),
		    strempty(l->crypt.key), l->crypt.read_only ? ", read-only" : "");
		break;
	case LAYER_NET:
		printf("net:    %s%s%s%s %s%s%s via %s%s%s%s%s\n", strempty(l->net.interface),
		       l->net.mac ? " (" : "", strempty(l->net.mac), l->net.mac ? ")" : "",
		       strempty(l->net.address), l->net.netmask ? "/" : "",
		       strempty(l->net.netmask), strempty(l->net.method),
		       l->net.gateway ? ", gateway " : "", strempty(l->net.gateway),
		       l->net.hostname ? ", hostname " : "", strempty(l->net.hostname));
		if (l->net.external)
			printf("        configured before loopboot: left up at shutdown\n");
		break;
	case LAYER_NBD:
		printf("nbd:    %s ← %s:%lu%s%s%s\n", strempty(l->nbd.device),
		       strempty(l->nbd.server), l->nbd.port, l->nbd.export ? ", export " : "",
		       strempty(l->nbd.export), l->nbd.read_only ? ", read-only" : "");
		if (l->nbd.daemon_pid > 0)
			printf("        nbd-client pid %d (reconnects: -persist)\n",
			       (int)l->nbd.daemon_pid);
		break;
	case _LAYER_KIND_MAX:
		break;
	}
}

/* loopboot.mode: what the images are on, and how many pieces were mapped. */
static void print_mode(const struct stack *s)
{
	const struct layer_host *host = NULL;
	unsigned long extents = 0, mapped = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].kind == LAYER_HOST)
			host = &s->v[i].host;
		else if (s->v[i].kind == LAYER_DM) {
			extents += s->v[i].dm.extents;
			mapped++;
		}
	}
	if (!host)
		return;
	if (host->mode == PLAN_MODE_LINEAR)
		printf("mode:   linear: %lu image%s mapped, %lu extent%s\n", mapped,
		       mapped == 1 ? "" : "s", extents, extents == 1 ? "" : "s");
	else
		printf("mode:   loop%s%s%s\n", host->linear_refused ? " (linear refused: " : "",
		       strempty(host->linear_refused), host->linear_refused ? ")" : "");
}

int status_main(int argc, char **argv)
{
	_cleanup_free_ char *fields = state_field_names();
	_cleanup_free_ char *help =
	    xasprintf("Usage: loopboot status [--json] [--get KIND.KEY]...\n"
	              "Shows the running system's stack, from the state record %s.\n"
	              "  --json          as a JSON array, one object per layer\n"
	              "  --get KIND.KEY  that field of every layer of KIND, one value a line (for "
	              "scripts)\n"
	              "fields: %s\n",
	              STATE_FILE, fields);
	bool json = false;
	struct strv get = {0};
	int r = OPTS_PARSE(argc, argv, OPTS_WORD_ENDS, help, OPT_FLAG("json", 'j', &json),
	                   OPT_LIST("get", 'g', &get));
	if (r < 0 && (optind < argc || (json && get.n))) {
		fprintf(stderr, "loopboot: status: %s — see loopboot status --help\n",
		        optind < argc ? "it takes no argument"
		                      : "--json and --get: give one of them");
		r = 2;
	}
	if (r >= 0) {
		strv_free(&get);
		return r;
	}
	struct stack s;
	_cleanup_free_ char *error = NULL;
	r = state_load(STATE_FILE, &s, &error);
	if (r == -ENOENT) {
		fprintf(stderr,
		        "loopboot: no state record: %s: this system was not booted by "
		        "loopboot — nothing to show\n",
		        STATE_FILE);
		strv_free(&get);
		return 1;
	}
	if (r < 0) {
		log_fail(r, "reading the state record", STATE_FILE, error,
		         error
		             ? "it was written by another loopboot: use that one (the initramfs's "
		               "/run/initramfs/shutdown)"
		             : "check /run");
		strv_free(&get);
		return 1;
	}
	int ret = 0;
	for (size_t i = 0; i < get.n && ret == 0; i++)
		if (state_print_field(&s, get.v[i], stdout) < 0) {
			fprintf(stderr,
			        "loopboot: status: --get %s: no such field — use one of: %s\n",
			        get.v[i], fields);
			ret = 2;
		}
	if (json) {
		state_print_json(&s, stdout);
	} else if (!get.n) {
		print_mode(&s);
		for (size_t i = 0; i < s.n; i++)
			print_layer(&s.v[i]);
	}
	stack_free(&s);
	strv_free(&get);
	return ret;
}
