/* SPDX-License-Identifier: MIT */
/*
 * Test support: the fake /proc shared by test_portdiag.c and test_ports.c.
 * FIXTURES/proc holds the plain files and FIXTURES/proc.links the symbolic
 * links, which a release tarball cannot carry; fakeproc_setup copies the
 * tree into a temporary directory and makes the links there. Also the small
 * tree built at run time (a process whose fd directory only root may read)
 * and the helper that runs a check as user nobody in a child.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fakeproc.h"

/* The IPv4 wildcard and the header line, as /proc/net/tcp spells them. */
#define ANY4 "00000000:0000"
#define HEADER4                                                                \
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "  \
	"retrnsmt   uid  timeout inode\n"

/* Where fakeproc_setup put the copy of FIXTURES/proc. */
static char proc_root[256];

/* True when this machine is little-endian, as the fixtures assume. */
bool fakeproc_little_endian(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one == 1;
}

/* Copy FIXTURES/proc to a temporary directory and create its links. */
int fakeproc_setup(void **state)
{
	char cmd[1024], line[512], path[768];
	char tmpl[] = "/tmp/fakeproc-XXXXXX";
	FILE *links;

	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(proc_root, sizeof(proc_root), "%s/proc", tmpl);
	snprintf(cmd, sizeof(cmd), "cp -R '%s/proc' '%s' && chmod -R u+w '%s'",
	         FIXTURES, tmpl, tmpl);
	if (system(cmd) != 0)
		return -1;
	links = fopen(FIXTURES "/proc.links", "r");
	if (links == NULL)
		return -1;
	while (fgets(line, sizeof(line), links) != NULL) {
		char *target = strchr(line, ' ');

		if (target == NULL)
			continue;
		*target++ = '\0';
		target[strcspn(target, "\n")] = '\0';
		/* Lines name paths under FIXTURES: "proc/100/fd/3 ...". */
		snprintf(path, sizeof(path), "%s/%s", tmpl, line);
		/* Empty fd/ directories are not kept in git: make them. */
		for (char *p = path + strlen(tmpl) + 1; *p; p++) {
			if (*p == '/') {
				*p = '\0';
				(void)mkdir(path, 0755);
				*p = '/';
			}
		}
		if (symlink(target, path) < 0) {
			fclose(links);
			return -1;
		}
	}
	fclose(links);
	return 0;
}

/* Remove the temporary tree. */
int fakeproc_teardown(void **state)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'",
	         (int)(strlen(proc_root) - strlen("/proc")), proc_root);
	return system(cmd) == 0 ? 0 : -1;
}

/* The copy of FIXTURES/proc. */
const char *fakeproc_root(void)
{
	return proc_root;
}

/* Write `text` to root/rel, creating the directories on the way. */
void fakeproc_put_file(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	for (const char *p = strchr(rel, '/'); p != NULL;
	     p = strchr(p + 1, '/')) {
		snprintf(path, sizeof(path), "%s/%.*s", root, (int)(p - rel),
		         rel);
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
	}
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Make root/rel a symbolic link to target. */
static void put_link(const char *root, const char *rel, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

/* nftw callback: remove one entry, the deepest first. */
static int remove_cb(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw)
{
	return remove(path);
}

/*
 * A machine where pid 700 (uid 4242) holds 127.0.0.1:3306 behind an fd
 * directory only root may read, and pid 100 holds 127.0.0.1:8080 in the
 * open. No tcp6 or udp6 (IPv6 disabled), no self, no sysctl.
 */
int fakeproc_tree_setup(void **state)
{
	char *root = strdup("/tmp/fakeproc-tree-XXXXXX");
	char path[PATH_MAX];

	if (root == NULL || mkdtemp(root) == NULL)
		return -1;
	chmod(root, 0755); /* the child that drops to nobody reads it */
	fakeproc_put_file(root, "net/tcp",
	                  HEADER4
	                  "   0: 0100007F:0CEA " ANY4
	                  " 0A 00000000:00000000 00:00000000 00000000  4242"
	                  "        0 4001 1 0000000000000000 100 0 0 10 0\n"
	                  "   1: 0100007F:1F90 " ANY4
	                  " 0A 00000000:00000000 00:00000000 00000000     0"
	                  "        0 1001 1 0000000000000000 100 0 0 10 0\n");
	fakeproc_put_file(root, "net/udp", "   sl  local_address\n");
	fakeproc_put_file(root, "100/comm", "python3\n");
	fakeproc_put_file(root, "100/fd/.keep", "");
	put_link(root, "100/fd/3", "socket:[1001]");
	fakeproc_put_file(root, "700/comm", "mysqld\n");
	fakeproc_put_file(root, "700/fd/.keep", "");
	put_link(root, "700/fd/12", "socket:[4001]");
	snprintf(path, sizeof(path), "%s/700/fd", root);
	chmod(path, 0); /* no one but root gets in */
	*state = root;
	return 0;
}

/* Give the closed fd directory back its mode and remove the tree. */
int fakeproc_tree_teardown(void **state)
{
	char *root = *state, path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/700/fd", root);
	chmod(path, 0755);
	nftw(root, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
	return 0;
}

/*
 * Run fn as user nobody in a child and return what it wrote (malloc'd);
 * NULL when this test does not run as root and cannot drop.
 */
char *fakeproc_as_nobody(int (*fn)(const char *root, FILE *out),
                         const char *root, int *status)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem;
	int fds[2], ws;
	ssize_t got;
	char chunk[512];
	pid_t pid;

	if (geteuid() != 0)
		return NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *out;

		close(fds[0]);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		    setuid(65534) != 0)
			_exit(99);
		out = fdopen(fds[1], "w");
		if (out == NULL)
			_exit(98);
		ws = fn(root, out);
		fclose(out);
		_exit(ws);
	}
	close(fds[1]);
	mem = open_memstream(&text, &len);
	assert_non_null(mem);
	while ((got = read(fds[0], chunk, sizeof(chunk))) > 0)
		fwrite(chunk, 1, (size_t)got, mem);
	close(fds[0]);
	fclose(mem);
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	assert_true(WEXITSTATUS(ws) < 90);
	*status = WEXITSTATUS(ws);
	return text;
}
