/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening a BitLocker host: libcryptsetup (loaded with dlopen here, only when a BitLocker
 * host is met, as systemd loads its optional libraries), its BITLK metadata read, the
 * recovery password from the console or a key file, activation as a dm-crypt mapping, and
 * the record of it below the host. crypt_format() and every header write are never
 * called: crypt_load() reads, crypt_activate_by_passphrase() only creates the mapping.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>

#include "basic/log.h"
#include "engine/bitlocker.h"
#include "engine/engine.h"
#include "engine/modules.h"
#include "engine/mounts.h"

#ifdef HAVE_LIBCRYPTSETUP_H
#include <libcryptsetup.h>

#define KEY_MOUNT STATE_DIR "/bitlocker-key"
#define KEY_MAX   65536
#define ASK_TRIES 3

/* The few functions loopboot calls, typed from the header. */
struct cryptsetup {
	void *dl;
	typeof(crypt_init) *init;
	typeof(crypt_load) *load;
	typeof(crypt_activate_by_passphrase) *activate;
	typeof(crypt_free) *free;
	typeof(crypt_set_log_callback) *set_log;
};

static int cryptsetup_open(struct cryptsetup *cs, const char *spec)
{
	*cs = (struct cryptsetup){0};
	cs->dl = dlopen(BITLOCKER_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (!cs->dl) {
		const char *err = dlerror();
		return log_fail(ELIBACC, "opening the BitLocker host", spec,
		                err ? err : BITLOCKER_LIBRARY " not found", "%s",
		                BITLOCKER_NO_LIBRARY_TODO);
	}
	static const char *const names[] = {"crypt_init", "crypt_load",
	                                    "crypt_activate_by_passphrase", "crypt_free",
	                                    "crypt_set_log_callback"};
	void **slots[] = {(void **)&cs->init, (void **)&cs->load, (void **)&cs->activate,
	                  (void **)&cs->free, (void **)&cs->set_log};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		*slots[i] = dlsym(cs->dl, names[i]);
		if (!*slots[i]) {
			dlclose(cs->dl);
			cs->dl = NULL;
			return log_fail(ELIBBAD, "opening the BitLocker host", spec,
			                "libcryptsetup.so.12 lacks one of its functions",
			                "install Debian's libcryptsetup12 (2.3 or later)");
		}
	}
	return 0;
}

/* libcryptsetup's own messages: the last error is kept for our line, the rest is debug. */
static void cryptsetup_log(int level, const char *msg, void *userdata)
{
	char *last = userdata;
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		n--;
	if (level == CRYPT_LOG_ERROR)
		snprintf(last, 256, "%.*s", (int)n, msg);
	log_debug("libcryptsetup: %.*s", (int)n, msg);
}

/* The /dev/dm-N of a device-mapper device by its name, waiting for devtmpfs's node. */
static char *dm_devnode_of(const char *name)
{
	DIR *d = opendir("/sys/block");
	char *found = NULL;
	for (struct dirent *de; d && !found && (de = readdir(d));) {
		if (!startswith(de->d_name, "dm-"))
			continue;
		_cleanup_free_ char *f = xasprintf("/sys/block/%s/dm/name", de->d_name);
		_cleanup_free_ char *v = NULL;
		if (read_file(f, &v, NULL) == 0) {
			v[strcspn(v, "\n")] = '\0';
			if (streq(v, name))
				found = xasprintf("/dev/%s", de->d_name);
		}
	}
	if (d)
		closedir(d);
	for (int i = 0; found && i < 500 && access(found, F_OK) < 0; i++)
		sleep_ms(10);
	return found;
}

/* One line from the console with echo off. 1 with *ret, 0 at end of input, or -errno. */
static int ask_line(int fd, const char *prompt, char **ret)
{
	struct termios old, quiet;
	bool tty = tcgetattr(fd, &old) == 0;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		(void)tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	(void)!write(STDERR_FILENO, prompt, strlen(prompt));
	char buf[256];
	size_t n = 0;
	int r = 1;
	for (;;) {
		char c;
		ssize_t k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0) {
			r = n > 0 ? 1 : 0;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (n < sizeof(buf) - 1)
			buf[n++] = c;
	}
	buf[n] = '\0';
	if (tty)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(STDERR_FILENO, "\n", 1); /* nothing was echoed: end the prompt's line */
	*ret = r > 0 ? xstrdup(buf) : NULL;
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* The key file from loopboot.bitlocker=DEVSPEC:/PATH: its device mounted read-only (no
 * journal replay) just long enough to read it. */
static int read_key_file(struct engine *e, char **ret, size_t *ret_len)
{
	const struct plan *p = e->plan;
	_cleanup_free_ char *spec = devspec_to_string(&p->bitlocker_dev);
	_cleanup_free_ char *where = xasprintf("%s:%s", spec, p->bitlocker_path);
	struct device_info dev = {0};
	int r = engine_wait_device(e, &p->bitlocker_dev, &dev);
	if (r <= 0)
		return r < 0
		           ? r
		           : log_fail(ENODEV, "the BitLocker key file's device", spec,
		                      "no block device matches it",
		                      "plug in the stick that holds %s, or fix loopboot.bitlocker=",
		                      p->bitlocker_path);
	if (!dev.type) {
		device_info_free(&dev);
		return log_fail(EMEDIUMTYPE, "the BitLocker key file's device", spec,
		                "no file system found on it",
		                "put the key file on a FAT, exFAT or ext4 file system");
	}
	r = mkdir_p(KEY_MOUNT, 0700);
	if (r >= 0) {
		modules_have_fs(e->mods, dev.type);
		r = mount_fs(dev.devnode, KEY_MOUNT, dev.type, true, options_no_replay(dev.type));
		if (r < 0)
			log_fail(r, "mounting the BitLocker key file's device read-only", spec,
			         NULL,
			         "the kernel must read its %s file system (a module in the "
			         "initramfs), or put the key file on a FAT stick",
			         dev.type);
	} else
		log_fail(r, "creating", KEY_MOUNT, NULL, "/run must be writable");
	device_info_free(&dev);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = path_join(KEY_MOUNT, p->bitlocker_path);
	char *data = NULL;
	size_t len = 0;
	r = read_file(path, &data, &len);
	if (r == 0 && len > KEY_MAX)
		r = -EFBIG;
	if (r < 0)
		log_fail(r, "reading the BitLocker key file", where, NULL,
		         "check the path on that device (it holds the recovery password, 48 "
		         "digits)");
	else
		*ret = bitlocker_key_from_file(data, len, ret_len);
	if (data) {
		explicit_bzero(data, len);
		free(data);
	}
	if (umount2(KEY_MOUNT, 0) < 0)
		(void)umount2(KEY_MOUNT, MNT_DETACH);
	(void)rmdir(KEY_MOUNT);
	return r < 0 ? r : 0;
}

static void free_secret(char **s, size_t len)
{
	if (*s) {
		explicit_bzero(*s, len);
		free(*s);
		*s = NULL;
	}
}

/* What checking a key alone (no name: no mapping) said: only the key derivation and the
 * unwrapping of the VMK and FVEK run, so any failure but a missing cipher or memory means
 * the key does not open the volume (libcryptsetup 2.6 returns -EINVAL for a wrong
 * recovery password, -EPERM for a key it cannot use). */
static int verdict_of_key(int r)
{
	if (r >= 0 || r == -ENOTSUP || r == -ENOMEM)
		return r;
	return -EPERM;
}

static int activate(struct engine *e, struct cryptsetup *cs, struct crypt_device *cd,
                    bool read_only, char *last_error, char **ret_key)
{
	const struct plan *p = e->plan;
	uint32_t flags = read_only ? CRYPT_ACTIVATE_READONLY : 0;
	if (p->bitlocker == PLAN_BITLOCKER_FILE) {
		char *key = NULL;
		size_t len = 0;
		int r = read_key_file(e, &key, &len);
		if (r < 0)
			return r;
		/* First the key alone (no name: libcryptsetup only unwraps the keys), so that
		 * a wrong one is told apart from a mapping the kernel cannot make. */
		last_error[0] = '\0';
		r = verdict_of_key(cs->activate(cd, NULL, CRYPT_ANY_SLOT, key, len, 0));
		if (r >= 0) {
			last_error[0] = '\0';
			r = cs->activate(cd, BITLOCKER_DM_NAME, CRYPT_ANY_SLOT, key, len, flags);
		}
		free_secret(&key, len);
		_cleanup_free_ char *spec = devspec_to_string(&p->bitlocker_dev);
		*ret_key = xasprintf("%s:%s", spec, p->bitlocker_path);
		if (r < 0)
			return log_fail(r, "opening the BitLocker host", e->host_spec,
			                r == -EPERM ? "the key file's password does not open it"
			                            : (last_error[0] ? last_error : NULL),
			                "%s (%s)",
			                r == -EPERM
			                    ? "put the volume's recovery password (48 digits) "
			                      "in that file, or boot with loopboot.bitlocker=ask"
			                    : "the kernel needs dm-crypt, dm-zero and AES-XTS/CBC "
			                      "(loopboot initrd --bitlocker)",
			                *ret_key);
		return 0;
	}
	/* The console: loopboot's /init has it on stdin (and stderr); so do initramfs-tools'
	 * scripts. The prompt goes to stderr, the answer is read from stdin. */
	int fd = STDIN_FILENO;
	int r = -EPERM;
	bool logged = false;
	for (unsigned try = 1; try <= ASK_TRIES && r == -EPERM; try++) {
		_cleanup_free_ char *prompt = xasprintf(
		    "loopboot: the BitLocker recovery password of %s (48 digits; try %u of %u): ",
		    e->host_spec, try, ASK_TRIES);
		char *line = NULL;
		int k = ask_line(fd, prompt, &line);
		if (k <= 0) {
			r = log_fail(k < 0 ? k : ENODATA,
			             "asking for the BitLocker recovery password", e->host_spec,
			             k < 0 ? NULL : "no answer on the console",
			             "type it on the console, or give a key file: "
			             "loopboot.bitlocker=UUID=<device>:/path/to/file");
			logged = true;
			break;
		}
		char *pw = NULL;
		const char *why;
		unsigned block;
		int v = bitlocker_recovery_password(line, &pw, &why, &block);
		free_secret(&line, strlen(line));
		if (v < 0) {
			if (block)
				log_warn("block %u of the recovery password: %s", block, why);
			else
				log_warn("that is no recovery password: %s", why);
			continue; /* r stays -EPERM: ask again */
		}
		last_error[0] = '\0';
		/* the key only */
		r = verdict_of_key(cs->activate(cd, NULL, CRYPT_ANY_SLOT, pw, strlen(pw), 0));
		if (r >= 0) {
			last_error[0] = '\0';
			r = cs->activate(cd, BITLOCKER_DM_NAME, CRYPT_ANY_SLOT, pw, strlen(pw),
			                 flags);
		}
		free_secret(&pw, strlen(pw));
		if (r == -EPERM)
			log_warn("that recovery password does not open %s", e->host_spec);
	}
	*ret_key = xstrdup("console");
	if (r == -EPERM)
		return log_fail(EPERM, "opening the BitLocker host", e->host_spec,
		                "no recovery password given opens it",
		                "read the recovery password from your Microsoft account "
		                "(aka.ms/myrecoverykey) or from Windows (manage-bde -protectors "
		                "-get C:), and boot again");
	if (r < 0 && !logged)
		return log_fail(
		    r, "opening the BitLocker host", e->host_spec,
		    last_error[0] ? last_error : NULL,
		    "the kernel needs dm-crypt, dm-zero and AES-XTS/CBC (modules in the "
		    "initramfs: loopboot initrd --bitlocker)");
	return r;
}

int bitlocker_unlock(struct engine *e)
{
	struct cryptsetup cs;
	int r = cryptsetup_open(&cs, e->host_spec);
	if (r < 0)
		return r;
	/* dm-crypt and the ciphers BitLocker uses; modules or built in. */
	for (size_t i = 0; bitlocker_modules[i]; i++)
		(void)modules_load(e->mods, bitlocker_modules[i]);

	char last_error[256] = "";
	struct crypt_device *cd = NULL;
	r = cs.init(&cd, e->hostdev.devnode);
	if (r < 0) {
		r = log_fail(r, "opening the BitLocker host", e->hostdev.devnode, NULL,
		             "check the device");
		goto out;
	}
	cs.set_log(cd, cryptsetup_log, last_error);
	r = cs.load(cd, CRYPT_BITLK, NULL);
	if (r < 0) {
		r = log_fail(r, "reading the BitLocker metadata", e->host_spec,
		             last_error[0] ? last_error : "libcryptsetup cannot read it",
		             "the volume may be damaged or of a kind libcryptsetup does not open "
		             "(see cryptsetup bitlkDump %s); open it in Windows and turn BitLocker "
		             "off (manage-bde -off C:) to boot this image",
		             e->hostdev.devnode);
		goto out;
	}
	struct host_facts f = {0};
	host_read_only_facts(e, &f);
	bool ro = f.device_ro;
	char *key = NULL;
	r = activate(e, &cs, cd, ro, last_error, &key);
	if (r < 0) {
		free(key);
		goto out;
	}

	struct layer *l = stack_push(&e->stack, LAYER_CRYPT);
	l->crypt = (struct layer_crypt){.name = xstrdup(BITLOCKER_DM_NAME),
	                                .volume = xstrdup(e->hostdev.devnode),
	                                .type = xstrdup(CRYPT_BITLK),
	                                .key = key,
	                                .read_only = ro};
	e->base = e->stack.n;
	l->crypt.device = dm_devnode_of(BITLOCKER_DM_NAME);
	struct device_info inner;
	r = l->crypt.device ? device_read(l->crypt.device, &inner) : -ENOENT;
	if (r < 0) {
		device_info_free(&inner);
		r = log_fail(r, "the opened BitLocker host", BITLOCKER_DM_NAME, NULL,
		             "the kernel needs device-mapper (dm-mod) and dm-crypt");
		goto out;
	}
	log_info("BitLocker host %s opened as %s (%s inside)", e->host_spec, l->crypt.device,
	         strempty(inner.type));
	device_info_free(&e->hostdev);
	e->hostdev = inner;
out:
	if (cd)
		cs.free(cd);
	/* libcryptsetup stays loaded: unloading a library that registered handlers with
	 * libdevmapper is not safe, and the process ends soon. */
	return r;
}

#else /* !HAVE_LIBCRYPTSETUP_H */

int bitlocker_unlock(struct engine *e)
{
	return log_fail(ENOTSUP, "opening the BitLocker host", e->host_spec,
	                "this loopboot was built without libcryptsetup's header",
	                "rebuild it with libcryptsetup-dev installed (scripts/deps)");
}

#endif
