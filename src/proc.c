/* SPDX-License-Identifier: MIT */
/*
 * Running another program: fork, exec (never a shell), read its output
 * through a pipe, wait for it. The two ways of keeping the output match
 * their uses: the end of a short report for an error message, or all of
 * stdout for a parser. This module owns nothing past the call.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portier/proc.h"

/* Growth step of a proc_capture buffer. */
#define PROC_CHUNK 65536

static pid_t proc_start(char *const argv[], int *fd, bool with_stderr,
                        char *why, size_t whylen);
static int proc_wait(pid_t pid);

bool proc_find_program(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[PATH_MAX * 2], *dir, *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s:/usr/local/sbin:/usr/sbin:/sbin",
	         path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
	for (dir = strtok_r(dirs, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return true;
	}
	if (len > 0)
		buf[0] = '\0';
	return false;
}

int proc_run(char *const argv[], char *out, size_t outlen)
{
	size_t used = 0;
	ssize_t got;
	pid_t pid;
	int fd;

	out[0] = '\0';
	pid = proc_start(argv, &fd, true, out, outlen);
	if (pid < 0)
		return -1;
	for (;;) {
		if (used + 1 >= outlen) {
			/* Keep the second half: the end says what went
			 * wrong. */
			memmove(out, out + outlen / 2, used - outlen / 2);
			used -= outlen / 2;
		}
		got = read(fd, out + used, outlen - 1 - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		used += (size_t)got;
	}
	out[used] = '\0';
	close(fd);
	return proc_wait(pid);
}

int proc_capture(char *const argv[], size_t max, char **out)
{
	char why[256], *text = NULL, *bigger, drop[4096];
	size_t used = 0, size = 0;
	bool nomem = false;
	ssize_t got;
	pid_t pid;
	int fd, status;

	*out = NULL;
	pid = proc_start(argv, &fd, false, why, sizeof(why));
	if (pid < 0)
		return -1;
	for (;;) {
		if (!nomem && used < max && used + 1 >= size) {
			bigger = realloc(text, size + PROC_CHUNK);
			if (bigger == NULL)
				nomem = true;
			else {
				text = bigger;
				size += PROC_CHUNK;
			}
		}
		/* Past max (or out of memory), read on so that the program
		 * does not block on a full pipe, and drop the bytes. */
		if (nomem || used >= max)
			got = read(fd, drop, sizeof(drop));
		else
			got = read(fd, text + used,
			           (size - 1 - used < max - used)
			               ? size - 1 - used
			               : max - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (!nomem && used < max)
			used += (size_t)got;
	}
	close(fd);
	status = proc_wait(pid);
	if (nomem || text == NULL || status < 0) {
		free(text);
		return -1;
	}
	text[used] = '\0';
	*out = text;
	return status;
}

/* Fork and exec argv[0] with stdin from /dev/null and stdout (and stderr
 * when with_stderr, else /dev/null) into a pipe whose read end goes into
 * *fd. Returns the pid, or -1 with the reason in why. */
static pid_t proc_start(char *const argv[], int *fd, bool with_stderr,
                        char *why, size_t whylen)
{
	int fds[2], devnull;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		if (with_stderr)
			dup2(fds[1], STDERR_FILENO);
		else if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execv(argv[0], argv);
		if (with_stderr)
			dprintf(STDERR_FILENO, "%s: %s\n", argv[0],
			        strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	*fd = fds[0];
	return pid;
}

/* Wait for pid; its exit status, or -1 when it was killed or its exec
 * failed (status 127). */
static int proc_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
}
