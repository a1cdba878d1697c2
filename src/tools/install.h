/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `loopboot install FILE --size SIZE [options]`: from nothing to a Debian system that
 * boots from an image file. The image is made as `loopboot create` makes it (the same
 * refusals before anything is written), attached and mounted in a private mount
 * namespace, and Debian is installed into it with mmdebstrap, with the kernel, systemd,
 * initramfs-tools, the host's FUSE driver where Debian's kernel lacks the host's file
 * system, and loopboot itself as a Debian package, whose hook goes into the image's own
 * initramfs. fstab, hostname, passwords and a first-boot machine-id are written; the
 * command line that boots it is printed last.
 */
#pragma once

#include <stdbool.h>

#include "basic/util.h"

int install_main(int argc, char **argv);

/* ---- pure parts, for the unit tests ---------------------------------------------------- */

/* A host name as RFC 1123 allows it (labels of [a-z0-9-], not starting or ending with
 * '-', 1 to 63 bytes, 253 in all). */
bool install_valid_hostname(const char *name);
/* A user name as Debian's adduser takes it by default: [a-z_][a-z0-9_-]*, 1 to 32 bytes. */
bool install_valid_user(const char *name);

/*
 * The apt sources of a system (the text of sources.list files, one-line format, and of
 * .sources files, deb822) turned into mmdebstrap's MIRROR arguments for suite: every
 * "deb" entry of that suite or of its -updates, -security, -backports siblings, as
 * "deb URI SUITE COMPONENTS". Appends to ret.
 */
void install_mirrors_from_sources(const char *text, bool deb822, const char *suite,
                                  struct strv *ret);

/* The /etc/fstab line of the image's own file system. Allocated. */
char *install_fstab_line(const char *uuid, const char *fstype);
