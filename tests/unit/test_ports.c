/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ports.c, the `portier ports` command: the table of the fake
 * /proc of tests/fixtures/proc, with and without a configuration that
 * conflicts with it, and the table an unprivileged user sees of a tree built
 * here at run time (a process whose fd directory only root may read). Run as
 * root, that test drops to nobody in a child.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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

#include "portier/ports.h"
#include "portier/config.h"

/*
 * The fake /proc: FIXTURES/proc holds the plain files, and proc.links the
 * symbolic links (fd/N -> socket:[INODE], self, exe), which a release
 * tarball cannot carry. fixture_setup copies the tree into a temporary
 * directory and makes the links there.
 */
static char proc_root[256];
#define PROC proc_root

/* A uid that has no name on a test machine: shown as the number. */
#define NONAME_UID 4242

/* The fixtures spell addresses as a little-endian kernel prints them. */
static bool little_endian(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one == 1;
}

/* The IPv4 wildcard and the header line, as /proc/net/tcp spells them. */
#define ANY4 "00000000:0000"
#define HEADER4                                                                \
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "  \
	"retrnsmt   uid  timeout inode\n"

/* --- the fixture machine ------------------------------------------------ */

static const char hint[] =
    "\nSome holders are hidden: other users' processes can be seen only "
    "by root (sudo portier ports).\n";

static char *run_ports(const struct config *cfg, int *status)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	assert_non_null(mem);
	*status = ports_cmd(PROC, cfg, mem);
	assert_int_equal(fclose(mem), 0);
	return text;
}

static void test_ports(void **state)
{
	char *text, want[1024];
	int status;

	if (!little_endian() || getpwuid(NONAME_UID) != NULL)
		skip();
	text = run_ports(NULL, &status);
	assert_int_equal(status, 0);
	snprintf(want, sizeof(want),
	         "PROTO  ADDRESS         PID  PROGRAM  USER\n"
	         "udp    127.0.0.1:53    300  dnsmasq  root\n"
	         "tcp    0.0.0.0:80      200  nginx    root\n"
	         "tcp    [::]:80         200  nginx    root\n"
	         "tcp    127.0.0.1:3306  -    -        4242\n"
	         "tcp    [::1]:5173      400  node     root\n"
	         "udp    [::]:5353       -    -        4242\n"
	         "tcp    127.0.0.1:8080  100  python3  root\n"
	         "tcp    127.0.0.1:8443  600  portier  root\n"
	         "tcp    127.0.0.1:9000  100  python3  root\n%s",
	         geteuid() == 0 ? "" : hint);
	assert_string_equal(text, want);
	free(text);
}

static const char conflict_conf[] = "[global]\n"
                                    "admin = [::1]:5173\n"
                                    "[listener web]\n"
                                    "bind = 127.0.0.1:8080\n"
                                    "backend = 127.0.0.1:3000\n"
                                    "[listener api]\n"
                                    "bind = 9000\n"
                                    "backend = 127.0.0.1:3001\n"
                                    "[listener www]\n"
                                    "bind = 127.0.0.1:80\n"
                                    "backend = 127.0.0.1:3002\n"
                                    "[listener lan]\n"
                                    "mode = tcp\n"
                                    "bind = 0.0.0.0:5173\n"
                                    "backend = localhost:5173\n"
                                    "[listener dns]\n"
                                    "mode = udp\n"
                                    "bind = 127.0.0.1:53\n"
                                    "backend = 127.0.0.1:5300\n"
                                    "[listener mdns]\n"
                                    "mode = udp\n"
                                    "bind = 127.0.0.1:5353\n"
                                    "backend = 127.0.0.1:5354\n"
                                    "[listener db]\n"
                                    "mode = tcp\n"
                                    "bind = 127.0.0.1:3306\n"
                                    "backend = 127.0.0.1:3307\n"
                                    "[listener self]\n"
                                    "bind = 127.0.0.1:8443\n"
                                    "backend = 127.0.0.1:3003\n";

/* The fixture row that starts with `prefix`, or NULL. */
static const char *row(const char *text, const char *prefix)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static void assert_row(const char *text, const char *prefix, const char *end)
{
	const char *r = row(text, prefix), *nl;

	print_message("row %s\n", prefix);
	assert_non_null(r);
	nl = strchr(r, '\n');
	assert_non_null(nl);
	if (end == NULL) {
		assert_null(memchr(r, '<', (size_t)(nl - r)));
		return;
	}
	assert_true((size_t)(nl - r) >= strlen(end));
	assert_memory_equal(nl - strlen(end), end, strlen(end));
}

static void test_ports_config(void **state)
{
	struct config *cfg;
	char err[1024] = "";
	char *text;
	int status;
	const char *hidden_conflict =
	    geteuid() == 0
	        ? "conflict: listener db wants 127.0.0.1:3306, held by "
	          "a socket of user 4242 that no visible process holds "
	          "(another PID namespace, or the kernel)\n"
	        : "conflict: listener db wants 127.0.0.1:3306, held by "
	          "a process of user 4242 that portier cannot see\n";

	if (!little_endian() || getpwuid(NONAME_UID) != NULL)
		skip();
	cfg = config_parse_string(conflict_conf, "conflict.ini", err,
	                          sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	text = run_ports(cfg, &status);
	assert_int_equal(status, 1);
	assert_row(text, "udp    127.0.0.1:53 ", "root  <- listener dns");
	assert_row(text, "tcp    0.0.0.0:80 ", "root  <- listener www");
	/* nginx's [::]:80 is IPv6-only: 0.0.0.0:80 is bound beside it */
	assert_row(text, "tcp    [::]:80 ", NULL);
	assert_row(text, "tcp    127.0.0.1:3306 ", "4242  <- listener db");
	assert_row(text, "tcp    [::1]:5173 ", "root  <- admin");
	/* no IPv4 socket on 5353: [::] is taken to hold IPv4 too */
	assert_row(text, "udp    [::]:5353 ", "4242  <- listener mdns");
	assert_row(text, "tcp    127.0.0.1:8080 ", "root  <- listener web");
	assert_row(text, "tcp    127.0.0.1:8443 ", "root  <- listener self");
	assert_row(text, "tcp    127.0.0.1:9000 ", "root  <- listener api");

	assert_non_null(strstr(text, "\nconflict: listener web wants "
	                             "127.0.0.1:8080, held by pid 100 "
	                             "(python3, user root)\n"));
	assert_non_null(strstr(text, "\nconflict: listener api wants "
	                             "127.0.0.1:9000, held by pid 100 "
	                             "(python3, user root)\n"));
	assert_non_null(strstr(text, "\nconflict: listener www wants "
	                             "127.0.0.1:80, held by pid 200 (nginx, "
	                             "user root) on 0.0.0.0:80\n"));
	assert_non_null(strstr(text, "\nconflict: listener dns wants "
	                             "127.0.0.1:53 (udp), held by pid 300 "
	                             "(dnsmasq, user root)\n"));
	assert_non_null(strstr(text, hidden_conflict));
	assert_non_null(strstr(text, "\nconflict: admin wants [::1]:5173, held "
	                             "by pid 400 (node, user root)\n"));
	/* the running portier is not in its own way; [::1] is not 0.0.0.0 */
	assert_null(strstr(text, "listener self wants"));
	assert_null(strstr(text, "listener lan wants"));
	assert_null(strstr(text, "no conflict"));
	free(text);
	config_free(cfg);
}

static void test_ports_config_free(void **state)
{
	struct config *cfg;
	char err[1024] = "";
	char *text;
	int status;

	if (!little_endian())
		skip();
	cfg = config_parse_string("[listener web]\n"
	                          "bind = 127.0.0.1:18080, [::1]:8080\n"
	                          "backend = 127.0.0.1:3000\n",
	                          "free.ini", err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	text = run_ports(cfg, &status);
	assert_int_equal(status, 0);
	assert_null(strstr(text, "<-"));
	assert_null(strstr(text, "conflict:"));
	assert_non_null(strstr(text, "\n\nno conflict with free.ini\n"));
	free(text);
	config_free(cfg);
}

/* --- trees built at run time -------------------------------------------- */

/* Write `text` to root/rel, creating the directories on the way. */
static void put_file(const char *root, const char *rel, const char *text)
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

static void put_link(const char *root, const char *rel, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

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
static int tree_setup(void **state)
{
	char *root = strdup("/tmp/ports-test-XXXXXX");
	char path[PATH_MAX];

	if (root == NULL || mkdtemp(root) == NULL)
		return -1;
	chmod(root, 0755); /* the child that drops to nobody reads it */
	put_file(root, "net/tcp",
	         HEADER4 "   0: 0100007F:0CEA " ANY4
	                 " 0A 00000000:00000000 00:00000000 00000000  4242"
	                 "        0 4001 1 0000000000000000 100 0 0 10 0\n"
	                 "   1: 0100007F:1F90 " ANY4
	                 " 0A 00000000:00000000 00:00000000 00000000     0"
	                 "        0 1001 1 0000000000000000 100 0 0 10 0\n");
	put_file(root, "net/udp", "   sl  local_address\n");
	put_file(root, "100/comm", "python3\n");
	put_file(root, "100/fd/.keep", "");
	put_link(root, "100/fd/3", "socket:[1001]");
	put_file(root, "700/comm", "mysqld\n");
	put_file(root, "700/fd/.keep", "");
	put_link(root, "700/fd/12", "socket:[4001]");
	snprintf(path, sizeof(path), "%s/700/fd", root);
	chmod(path, 0); /* no one but root gets in */
	*state = root;
	return 0;
}

static int tree_teardown(void **state)
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
static char *as_nobody(int (*fn)(const char *root, FILE *out), const char *root,
                       int *status)
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

static int ports_to(const char *root, FILE *out)
{
	return ports_cmd(root, NULL, out);
}

/* `portier ports` as nobody: "-" for the hidden holder, and a hint. */
static void test_hidden_ports(void **state)
{
	const char *root = *state;
	char *text = NULL, want[512];
	size_t len = 0;
	int status = -1;
	FILE *mem;

	if (getpwuid(NONAME_UID) != NULL || !little_endian())
		skip();
	if (geteuid() == 0) {
		text = as_nobody(ports_to, root, &status);
	} else {
		mem = open_memstream(&text, &len);
		assert_non_null(mem);
		status = ports_to(root, mem);
		fclose(mem);
	}
	snprintf(want, sizeof(want),
	         "PROTO  ADDRESS         PID  PROGRAM  USER\n"
	         "tcp    127.0.0.1:3306  -    -        4242\n"
	         "tcp    127.0.0.1:8080  100  python3  root\n"
	         "%s",
	         hint);
	assert_string_equal(text, want);
	assert_int_equal(status, 0);
	free(text);
}

/* Copy FIXTURES/proc to a temporary directory and create its links. */
static int fixture_setup(void **state)
{
	char cmd[1024], line[512], path[768];
	char tmpl[] = "/tmp/ports-proc-XXXXXX";
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
static int fixture_teardown(void **state)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'",
	         (int)(strlen(proc_root) - strlen("/proc")), proc_root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_ports_config),
	    cmocka_unit_test(test_ports_config_free),
	    cmocka_unit_test_setup_teardown(test_hidden_ports, tree_setup,
	                                    tree_teardown),
	};

	return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
