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
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "portier/ports.h"
#include "portier/config.h"
#include "fakeproc.h"

/* The copy of tests/fixtures/proc that fakeproc_setup makes. */
#define PROC fakeproc_root()

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

	if (!fakeproc_little_endian() || getpwuid(FAKEPROC_NONAME_UID) != NULL)
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
	         "tcp    127.0.0.1:8443  600  portier  nobody\n"
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

	if (!fakeproc_little_endian() || getpwuid(FAKEPROC_NONAME_UID) != NULL)
		skip();
	cfg = config_parse_string(conflict_conf, "conflict.ini", err,
	                          sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	text = run_ports(cfg, &status);
	assert_int_equal(status, 1);
	assert_row(text, "udp    127.0.0.1:53 ", "root    <- listener dns");
	assert_row(text, "tcp    0.0.0.0:80 ", "root    <- listener www");
	/* nginx's [::]:80 is IPv6-only: 0.0.0.0:80 is bound beside it */
	assert_row(text, "tcp    [::]:80 ", NULL);
	assert_row(text, "tcp    127.0.0.1:3306 ", "4242    <- listener db");
	assert_row(text, "tcp    [::1]:5173 ", "root    <- admin");
	/* no IPv4 socket on 5353: [::] is taken to hold IPv4 too */
	assert_row(text, "udp    [::]:5353 ", "4242    <- listener mdns");
	assert_row(text, "tcp    127.0.0.1:8080 ", "root    <- listener web");
	assert_row(text, "tcp    127.0.0.1:8443 ", "nobody  <- listener self");
	assert_row(text, "tcp    127.0.0.1:9000 ", "root    <- listener api");

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

	if (!fakeproc_little_endian())
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

	if (getpwuid(FAKEPROC_NONAME_UID) != NULL || !fakeproc_little_endian())
		skip();
	if (geteuid() == 0) {
		text = fakeproc_as_nobody(ports_to, root, &status);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_ports_config),
	    cmocka_unit_test(test_ports_config_free),
	    cmocka_unit_test_setup_teardown(
	        test_hidden_ports, fakeproc_tree_setup, fakeproc_tree_teardown),
	};

	return cmocka_run_group_tests(tests, fakeproc_setup, fakeproc_teardown);
}
