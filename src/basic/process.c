/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "basic/process.h"

#include <errno.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/util.h"

extern char **environ;

char *initrd_find_program(const char *name)
{
	const char *env = getenv("PATH");
	_cleanup_free_ char *path =
	    xasprintf("%s%s/usr/sbin:/sbin:/usr/bin:/bin", env ? env : "", env && *env ? ":" : "");
	for (char *save = NULL, *dir = strtok_r(path, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/')
			continue; /* a relative $PATH entry would depend on the current directory */
		char *cand = path_join(dir, name);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

int initrd_spawn(char *const argv[], int stdin_fd, int stdout_fd, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	int r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	if (stdin_fd >= 0)
		r = posix_spawn_file_actions_adddup2(&fa, stdin_fd, STDIN_FILENO);
	if (r == 0 && stdout_fd >= 0)
		r = posix_spawn_file_actions_adddup2(&fa, stdout_fd, STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn(ret_pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

int initrd_wait(pid_t pid, int *ret_status)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status)) {
		if (ret_status)
			*ret_status = WEXITSTATUS(status);
		return WEXITSTATUS(status) == 0 ? 0 : -EPROTO;
	}
	if (ret_status)
		*ret_status = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return -ECANCELED;
}

int initrd_run(char *const argv[], int stdin_fd, int stdout_fd)
{
	pid_t pid;
	int r = initrd_spawn(argv, stdin_fd, stdout_fd, &pid);
	if (r < 0)
		return r;
	return initrd_wait(pid, NULL);
}
