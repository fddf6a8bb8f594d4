/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for portdiag.c: the /proc/net parser on good and bad lines,
 * holder lookup, the bind-failure messages and the helpers ports.c shares,
 * against the fake /proc of tests/fixtures/proc and against small trees
 * built here at run time (a process whose fd directory only root may read,
 * a malformed file). Run as root, the tests also check what an unprivileged
 * user sees, in a child that drops to nobody. `portier ports` itself is
 * tested in test_ports.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "portier/portdiag.h"
#include "portier/addr.h"
#include "fakeproc.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The copy of tests/fixtures/proc that fakeproc_setup makes. */
#define PROC fakeproc_root()

/* --- /proc/net parser ------------------------------------------------ */

/* What follows the state on a line: queues, timers, uid 1000, inode. */
#define REST                                                                   \
	" 00000000:00000000 00:00000000 00000000  1000        0 12345 1 "      \
	"0000000000000000 100 0 0 10 0\n"
#define ANY4 "00000000:0000"
#define ANY6 "00000000000000000000000000000000:0000"
#define HEADER4                                                                \
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "  \
	"retrnsmt   uid  timeout inode\n"

struct parse_case {
	const char *name;
	const char *text;
	int family;
	int proto;
	int want;       /* return value */
	const char *ip; /* first socket appended */
	unsigned port;
	unsigned long uid;
	unsigned long inode;
};

static const struct parse_case parse_cases[] = {
    {"v4 listen", "   0: 0100007F:1F90 " ANY4 " 0A" REST, AF_INET, IPPROTO_TCP,
     1, "127.0.0.1", 8080, 1000, 12345},
    {"v4 header, established, listen",
     HEADER4 "   0: 0100007F:1F90 0100007F:D1F0 01" REST
             "   1: 00000000:0016 " ANY4 " 0A" REST,
     AF_INET, IPPROTO_TCP, 1, "0.0.0.0", 22, 1000, 12345},
    {"v4 private address", "   0: 0A01A8C0:01BB " ANY4 " 0A" REST, AF_INET,
     IPPROTO_TCP, 1, "192.168.1.10", 443, 1000, 12345},
    {"v4 lowercase hex, no newline",
     "0: 0100007f:1f90 00000000:0000 0a 0:0 0:0 0 7 0 99", AF_INET, IPPROTO_TCP,
     1, "127.0.0.1", 8080, 7, 99},
    {"v4 CRLF and trailing blanks",
     "   0: 0100007F:0050 " ANY4
     " 0A 00000000:00000000 00:00000000 00000000 0 0 7 1 0   \r\n",
     AF_INET, IPPROTO_TCP, 1, "127.0.0.1", 80, 0, 7},
    {"v4 largest uid",
     "0: 0100007F:0050 " ANY4 " 0A 0:0 0:0 0 4294967294 0 4294967295", AF_INET,
     IPPROTO_TCP, 1, "127.0.0.1", 80, 4294967294UL, 4294967295UL},
    {"v4 time-wait is not listed", "   0: 0100007F:1F90 " ANY4 " 06" REST,
     AF_INET, IPPROTO_TCP, 0, NULL, 0, 0, 0},
    {"v4 tcp close (07) is not listed", "   0: 0100007F:1F90 " ANY4 " 07" REST,
     AF_INET, IPPROTO_TCP, 0, NULL, 0, 0, 0},
    {"v6 loopback",
     "   0: 00000000000000000000000001000000:1435 " ANY6 " 0A" REST, AF_INET6,
     IPPROTO_TCP, 1, "::1", 5173, 1000, 12345},
    {"v6 any", "   0: 00000000000000000000000000000000:0050 " ANY6 " 0A" REST,
     AF_INET6, IPPROTO_TCP, 1, "::", 80, 1000, 12345},
    {"v6 word order",
     "   0: B80D0120000000000000000042000000:0050 " ANY6 " 0A" REST, AF_INET6,
     IPPROTO_TCP, 1, "2001:db8::42", 80, 1000, 12345},
    {"v6 link-local",
     "   0: 000080FE000000000000000001000000:0050 " ANY6 " 0A" REST, AF_INET6,
     IPPROTO_TCP, 1, "fe80::1", 80, 1000, 12345},
    {"v4-mapped v6",
     "   0: 0000000000000000FFFF00000100007F:2328 " ANY6 " 0A" REST, AF_INET6,
     IPPROTO_TCP, 1, "::ffff:127.0.0.1", 9000, 1000, 12345},
    {"udp bound", "   53: 0100007F:0035 " ANY4 " 07" REST, AF_INET, IPPROTO_UDP,
     1, "127.0.0.1", 53, 1000, 12345},
    {"udp6 bound",
     "  211: 00000000000000000000000000000000:14E9 " ANY6 " 07" REST, AF_INET6,
     IPPROTO_UDP, 1, "::", 5353, 1000, 12345},
    {"udp port 0 is not listed", "   80: 00000000:0000 " ANY4 " 07" REST,
     AF_INET, IPPROTO_UDP, 0, NULL, 0, 0, 0},
    {"udp connected is not listed",
     "   91: 0100007F:A112 0100007F:0035 01" REST, AF_INET, IPPROTO_UDP, 0,
     NULL, 0, 0, 0},
    {"udp 0A is not a udp state", "   0: 0100007F:0035 " ANY4 " 0A" REST,
     AF_INET, IPPROTO_UDP, 0, NULL, 0, 0, 0},
    {"empty text", "", AF_INET, IPPROTO_TCP, 0, NULL, 0, 0, 0},
    {"header and blank lines", HEADER4 "\n  \n", AF_INET, IPPROTO_TCP, 0, NULL,
     0, 0, 0},

    {"garbage", "hello world\n", AF_INET, IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"v4 address in a v6 file", "   0: 0100007F:1F90 " ANY4 " 0A" REST,
     AF_INET6, IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"v6 address in a v4 file",
     "   0: 00000000000000000000000001000000:1435 " ANY6 " 0A" REST, AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"too few fields", "   0: 0100007F:1F90 " ANY4 " 0A 0:0 0:0 0 1000 0\n",
     AF_INET, IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"no colon in the address", "   0: 0100007F1F90 " ANY4 " 0A" REST, AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"short address", "   0: 100007F:1F90 " ANY4 " 0A" REST, AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"not hex", "   0: 0100007G:1F90 " ANY4 " 0A" REST, AF_INET, IPPROTO_TCP,
     -1, NULL, 0, 0, 0},
    {"port of five digits", "   0: 0100007F:11F90 " ANY4 " 0A" REST, AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"empty port", "   0: 0100007F: " ANY4 " 0A" REST, AF_INET, IPPROTO_TCP, -1,
     NULL, 0, 0, 0},
    {"bad remote", "   0: 0100007F:1F90 00000000:x 0A" REST, AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"bad state", "   0: 0100007F:1F90 " ANY4 " 0Z" REST, AF_INET, IPPROTO_TCP,
     -1, NULL, 0, 0, 0},
    {"state of three digits", "   0: 0100007F:1F90 " ANY4 " 00A" REST, AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"sl without colon", "   0 0100007F:1F90 " ANY4 " 0A" REST, AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"bad uid", "   0: 0100007F:1F90 " ANY4 " 0A 0:0 0:0 0 alice 0 12345 1 0\n",
     AF_INET, IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"uid out of range",
     "   0: 0100007F:1F90 " ANY4 " 0A 0:0 0:0 0 4294967295 0 12345 1 0\n",
     AF_INET, IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"bad inode", "   0: 0100007F:1F90 " ANY4 " 0A 0:0 0:0 0 0 0 12x 1 0\n",
     AF_INET, IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"inode overflow",
     "   0: 0100007F:1F90 " ANY4
     " 0A 0:0 0:0 0 0 0 99999999999999999999999 1 0\n",
     AF_INET, IPPROTO_TCP, -1, NULL, 0, 0, 0},
    {"good line, then a bad one",
     "   0: 0100007F:1F90 " ANY4 " 0A" REST "   1: junk\n", AF_INET,
     IPPROTO_TCP, -1, NULL, 0, 0, 0},
};

static void test_parse_net(void **state)
{
	struct portdiag_socket seed = {.inode = 777};

	if (!fakeproc_little_endian())
		skip();
	for (size_t i = 0; i < N(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct portdiag_socket *list = malloc(sizeof(*list));
		size_t n = 1;
		char ip[INET6_ADDRSTRLEN] = "";
		unsigned port = 0;
		int got;

		assert_non_null(list);
		list[0] = seed; /* appended to, never overwritten */
		got =
		    portdiag_parse_net(c->text, c->family, c->proto, &list, &n);
		print_message("%s\n", c->name);
		assert_int_equal(got, c->want);
		assert_int_equal(n, got > 0 ? 1 + (size_t)got : 1);
		assert_int_equal(list[0].inode, 777);
		if (c->ip != NULL) {
			const struct portdiag_socket *s = &list[1];

			assert_int_equal(s->family, c->family);
			assert_int_equal(s->proto, c->proto);
			assert_int_equal(s->addr.ss_family, c->family);
			if (c->family == AF_INET) {
				const struct sockaddr_in *sin =
				    (const void *)&s->addr;

				assert_int_equal(s->addrlen, sizeof(*sin));
				inet_ntop(AF_INET, &sin->sin_addr, ip,
				          sizeof(ip));
				port = ntohs(sin->sin_port);
			} else {
				const struct sockaddr_in6 *sin6 =
				    (const void *)&s->addr;

				assert_int_equal(s->addrlen, sizeof(*sin6));
				inet_ntop(AF_INET6, &sin6->sin6_addr, ip,
				          sizeof(ip));
				port = ntohs(sin6->sin6_port);
			}
			assert_string_equal(ip, c->ip);
			assert_int_equal(port, c->port);
			assert_int_equal(s->uid, c->uid);
			assert_int_equal(s->inode, c->inode);
			assert_int_equal(s->pid, 0);
			assert_string_equal(s->program, "");
		}
		free(list);
	}
}

/* Several lines of one file append in order to an empty list. */
static void test_parse_net_appends(void **state)
{
	struct portdiag_socket *list = NULL;
	size_t n = 0;

	assert_int_equal(
	    portdiag_parse_net(HEADER4, AF_INET, IPPROTO_TCP, &list, &n), 0);
	assert_null(list);
	assert_int_equal(portdiag_parse_net("0: 0100007F:0050 " ANY4 " 0A" REST
	                                    "1: 0100007F:0051 " ANY4 " 0A" REST,
	                                    AF_INET, IPPROTO_TCP, &list, &n),
	                 2);
	assert_int_equal(portdiag_parse_net("0: 0100007F:0052 " ANY4 " 07" REST,
	                                    AF_INET, IPPROTO_UDP, &list, &n),
	                 1);
	assert_int_equal(n, 3);
	assert_int_equal(list[1].proto, IPPROTO_TCP);
	assert_int_equal(list[2].proto, IPPROTO_UDP);
	assert_int_equal(ntohs(((struct sockaddr_in *)&list[2].addr)->sin_port),
	                 0x52);
	assert_int_equal(
	    portdiag_parse_net("", AF_UNIX, IPPROTO_TCP, &list, &n), -1);
	assert_int_equal(n, 3);
	free(list);
}

/* --- holders ----------------------------------------------------------- */

struct holder_case {
	unsigned long inode;
	pid_t pid; /* 0: not found */
	const char *program;
};

static const struct holder_case holder_cases[] = {
    {1001, 100, "python3"}, /* 127.0.0.1:8080 */
    {1002, 100, "python3"}, /* second socket of the same process */
    {2001, 200, "nginx"},   /* held by 200 and its worker 201: lowest */
    {2002, 200, "nginx"},   {8123, 201, "nginx"}, /* the worker alone */
    {3001, 300, "dnsmasq"}, {6001, 400, "node"},  {7001, 600, "portier"},
    {4001, 0, NULL}, /* in /proc/net, held by no visible process */
    {7771, 0, NULL}, /* a pipe with that number, not a socket */
    {424242, 0, NULL},      {0, 0, NULL},
};

static void test_find_holder(void **state)
{
	for (size_t i = 0; i < N(holder_cases); i++) {
		const struct holder_case *c = &holder_cases[i];
		char program[64] = "unchanged";
		pid_t pid = -1;
		int rc;

		rc = portdiag_find_holder(PROC, c->inode, &pid, program,
		                          sizeof(program));
		print_message("inode %lu\n", c->inode);
		if (c->pid == 0) {
			assert_int_equal(rc, -1);
			assert_int_equal(pid, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(pid, c->pid);
		assert_string_equal(program, c->program);
	}
	assert_int_equal(portdiag_find_holder(FIXTURES "/no-such-proc", 1001,
	                                      &(pid_t){0}, NULL, 0),
	                 -1);
}

/* The whole fixture machine, sorted by port, holders filled in. */
static void test_list(void **state)
{
	static const struct {
		int proto;
		const char *addr;
		pid_t pid;
		const char *program;
		const char *user;
	} want[] = {
	    {IPPROTO_UDP, "127.0.0.1:53", 300, "dnsmasq", "root"},
	    {IPPROTO_TCP, "0.0.0.0:80", 200, "nginx", "root"},
	    {IPPROTO_TCP, "[::]:80", 200, "nginx", "root"},
	    {IPPROTO_TCP, "127.0.0.1:3306", 0, "", "4242"},
	    {IPPROTO_TCP, "[::1]:5173", 400, "node", "root"},
	    {IPPROTO_UDP, "[::]:5353", 0, "", "4242"},
	    {IPPROTO_TCP, "127.0.0.1:8080", 100, "python3", "root"},
	    /* bound as root (the socket's uid), run as nobody since */
	    {IPPROTO_TCP, "127.0.0.1:8443", 600, "portier", "nobody"},
	    {IPPROTO_TCP, "127.0.0.1:9000", 100, "python3", "root"},
	};
	struct portdiag_socket *list = NULL;
	size_t n = 0;
	char text[ADDR_STRLEN];

	if (!fakeproc_little_endian() || getpwuid(FAKEPROC_NONAME_UID) != NULL)
		skip();
	assert_int_equal(portdiag_list(PROC, &list, &n), 0);
	assert_int_equal(n, N(want));
	for (size_t i = 0; i < n; i++) {
		addr_format_sa((struct sockaddr *)&list[i].addr,
		               list[i].addrlen, text, sizeof(text));
		assert_string_equal(text, want[i].addr);
		assert_int_equal(list[i].proto, want[i].proto);
		assert_int_equal(list[i].pid, want[i].pid);
		assert_string_equal(list[i].program, want[i].program);
		assert_string_equal(list[i].user, want[i].user);
	}
	assert_int_equal(list[8].family, AF_INET6); /* v4-mapped */
	free(list);

	assert_int_equal(portdiag_list(FIXTURES "/no-such-proc", &list, &n),
	                 -1);
}

/* --- trees built at run time -------------------------------------------- */

static int explain_3306(const char *root, FILE *out)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons(3306)};
	char buf[512];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	portdiag_explain_bind(root, EADDRINUSE, (struct sockaddr *)&sin,
	                      sizeof(sin), IPPROTO_TCP, buf, sizeof(buf));
	fputs(buf, out);
	return 0;
}

static const char hidden_msg[] =
    "address already in use by a process of user 4242 that portier "
    "cannot see (run as root, e.g. sudo portier ports, to see which)";

/* Root sees through an fd directory it may not list; nobody cannot. */
static void test_hidden_holder(void **state)
{
	const char *root = *state;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int status;

	if (getpwuid(FAKEPROC_NONAME_UID) != NULL || !fakeproc_little_endian())
		skip();
	assert_non_null(mem);
	explain_3306(root, mem);
	fclose(mem);
	if (geteuid() == 0)
		assert_string_equal(text, "address already in use by pid 700 "
		                          "(mysqld, user 4242)");
	else
		assert_string_equal(text, hidden_msg);
	free(text);
	text = fakeproc_as_nobody(explain_3306, root, &status);
	if (text != NULL) {
		assert_string_equal(text, hidden_msg);
		free(text);
	}
}

/* A file the parser rejects fails the list and leaves the holder unknown;
 * a tree without self/exe and the sysctl gets the defaults. */
static void test_malformed_tree(void **state)
{
	const char *root = *state;
	struct portdiag_socket *list = NULL;
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons(8080)};
	size_t n = 0;
	char buf[512], path[PATH_MAX];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(portdiag_list(root, &list, &n), 0);
	free(list);
	assert_string_equal(
	    portdiag_explain_bind(root, EACCES, (struct sockaddr *)&sin,
	                          sizeof(sin), IPPROTO_TCP, buf, sizeof(buf)),
	    strerror(EACCES));
	sin.sin_port = htons(443);
	portdiag_explain_bind(root, EACCES, (struct sockaddr *)&sin,
	                      sizeof(sin), IPPROTO_TCP, buf, sizeof(buf));
	assert_non_null(strstr(buf, "ports below 1024 need root"));
	assert_non_null(
	    strstr(buf, "setcap cap_net_bind_service=+ep "
	                "\"$(command -v portier)\", or AmbientCapabilities"));
	/* A sysctl that opens every port from 80 up. */
	fakeproc_put_file(root, "sys/net/ipv4/ip_unprivileged_port_start",
	                  "80\n");
	portdiag_explain_bind(root, EACCES, (struct sockaddr *)&sin,
	                      sizeof(sin), IPPROTO_TCP, buf, sizeof(buf));
	assert_string_equal(buf, strerror(EACCES));
	sin.sin_port = htons(79);
	portdiag_explain_bind(root, EACCES, (struct sockaddr *)&sin,
	                      sizeof(sin), IPPROTO_TCP, buf, sizeof(buf));
	assert_non_null(strstr(buf, "ports below 80 need root"));
	assert_non_null(strstr(buf, "use a port of 80 or above"));
	snprintf(path, sizeof(path),
	         "%s/sys/net/ipv4/ip_unprivileged_port_start", root);
	assert_int_equal(unlink(path), 0);

	fakeproc_put_file(root, "net/udp", "   0: 0100007F:0035 junk\n");
	assert_int_equal(portdiag_list(root, &list, &n), -1);
	sin.sin_port = htons(53);
	portdiag_explain_bind(root, EADDRINUSE, (struct sockaddr *)&sin,
	                      sizeof(sin), IPPROTO_UDP, buf, sizeof(buf));
	assert_string_equal(buf, "address already in use (holder not found)");
	fakeproc_put_file(root, "net/udp", "   sl  local_address\n");
}

/* --- explain_bind on the fixture machine ---------------------------------- */

struct explain_case {
	int err;
	int proto;
	const char *ip;
	unsigned port;
	const char *want;      /* as root */
	const char *want_user; /* as anyone else; NULL: same as want */
};

#define IN_USE "address already in use by "
#define EACCES_MSG                                                             \
	"permission denied: ports below 1024 need root; run as root, give "    \
	"the binary the capability (setcap cap_net_bind_service=+ep "          \
	"/usr/local/bin/portier, or AmbientCapabilities=CAP_NET_BIND_SERVICE " \
	"in a systemd unit), or use a port of 1024 or above"

static const struct explain_case explain_cases[] = {
    {EADDRINUSE, IPPROTO_TCP, "127.0.0.1", 8080,
     IN_USE "pid 100 (python3, user root)", NULL},
    /* binding the wildcard finds the loopback socket under it */
    {EADDRINUSE, IPPROTO_TCP, "0.0.0.0", 8080,
     IN_USE "pid 100 (python3, user root) on 127.0.0.1:8080", NULL},
    /* the wildcard socket holds the loopback address too */
    {EADDRINUSE, IPPROTO_TCP, "127.0.0.1", 80,
     IN_USE "pid 200 (nginx, user root) on 0.0.0.0:80", NULL},
    {EADDRINUSE, IPPROTO_TCP, "::1", 80,
     IN_USE "pid 200 (nginx, user root) on [::]:80", NULL},
    {EADDRINUSE, IPPROTO_TCP, "::", 80, IN_USE "pid 200 (nginx, user root)",
     NULL},
    {EADDRINUSE, IPPROTO_TCP, "::ffff:127.0.0.1", 8080,
     IN_USE "pid 100 (python3, user root)", NULL},
    /* held by a v4-mapped IPv6 socket */
    {EADDRINUSE, IPPROTO_TCP, "127.0.0.1", 9000,
     IN_USE "pid 100 (python3, user root)", NULL},
    {EADDRINUSE, IPPROTO_UDP, "127.0.0.1", 53,
     IN_USE "pid 300 (dnsmasq, user root)", NULL},
    {EADDRINUSE, IPPROTO_TCP, "127.0.0.1", 53,
     "address already in use (holder not found)", NULL},
    {EADDRINUSE, IPPROTO_TCP, "10.1.2.3", 5173,
     "address already in use (holder not found)", NULL},
    {EADDRINUSE, IPPROTO_TCP, "127.0.0.1", 3306,
     IN_USE "a socket of user 4242 that no visible process holds (another "
            "PID namespace, or the kernel)",
     IN_USE "a process of user 4242 that portier cannot see (run as root, "
            "e.g. sudo portier ports, to see which)"},
    {EADDRINUSE, IPPROTO_UDP, "127.0.0.1", 5353,
     IN_USE "a socket of user 4242 that no visible process holds (another "
            "PID namespace, or the kernel); its socket is [::]:5353",
     IN_USE "a process of user 4242 that portier cannot see (run as root, "
            "e.g. sudo portier ports, to see which); its socket is [::]:5353"},
    {EACCES, IPPROTO_TCP, "0.0.0.0", 80, EACCES_MSG, NULL},
    {EACCES, IPPROTO_UDP, "::", 53, EACCES_MSG, NULL},
    {EACCES, IPPROTO_TCP, "0.0.0.0", 1024, "Permission denied", NULL},
    {EADDRNOTAVAIL, IPPROTO_TCP, "192.0.2.1", 80,
     "address not available: no interface on this machine has this address",
     NULL},
    {ECONNREFUSED, IPPROTO_TCP, "127.0.0.1", 80, "Connection refused", NULL},
    {EINVAL, IPPROTO_TCP, "127.0.0.1", 80, "Invalid argument", NULL},
};

static socklen_t make_sa(const char *ip, unsigned port,
                         struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return sizeof(*sin);
	}
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	return sizeof(*sin6);
}

static void test_explain_bind(void **state)
{
	struct sockaddr_storage ss;
	char buf[512];

	if (!fakeproc_little_endian() || getpwuid(FAKEPROC_NONAME_UID) != NULL)
		skip();
	for (size_t i = 0; i < N(explain_cases); i++) {
		const struct explain_case *c = &explain_cases[i];
		socklen_t len = make_sa(c->ip, c->port, &ss);
		const char *want = c->want;

		if (geteuid() != 0 && c->want_user != NULL)
			want = c->want_user;
		print_message("%s %s:%u\n", strerror(c->err), c->ip, c->port);
		assert_ptr_equal(
		    portdiag_explain_bind(PROC, c->err, (struct sockaddr *)&ss,
		                          len, c->proto, buf, sizeof(buf)),
		    buf);
		assert_string_equal(buf, want);
	}
}

/* Odd arguments: no /proc, a unix socket, a short buffer. */
static void test_explain_edges(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun = {.sun_family = AF_UNIX,
	                          .sun_path = "/run/x.sock"};
	socklen_t len = make_sa("127.0.0.1", 8080, &ss);
	char buf[512], small[12];

	portdiag_explain_bind(FIXTURES "/no-such-proc", EADDRINUSE,
	                      (struct sockaddr *)&ss, len, IPPROTO_TCP, buf,
	                      sizeof(buf));
	assert_string_equal(buf, "address already in use (holder not found)");
	portdiag_explain_bind(PROC, EADDRINUSE, (struct sockaddr *)&sun,
	                      sizeof(sun), IPPROTO_TCP, buf, sizeof(buf));
	assert_string_equal(buf, strerror(EADDRINUSE));
	portdiag_explain_bind(PROC, EADDRINUSE, (struct sockaddr *)&ss, 4,
	                      IPPROTO_TCP, buf, sizeof(buf));
	assert_string_equal(buf, strerror(EADDRINUSE));
	portdiag_explain_bind(PROC, EADDRINUSE, NULL, 0, IPPROTO_TCP, buf,
	                      sizeof(buf));
	assert_string_equal(buf, strerror(EADDRINUSE));
	portdiag_explain_bind(PROC, EADDRNOTAVAIL, (struct sockaddr *)&ss, len,
	                      IPPROTO_TCP, small, sizeof(small));
	assert_string_equal(small, "address not");
	small[0] = 'x';
	portdiag_explain_bind(PROC, EADDRNOTAVAIL, (struct sockaddr *)&ss, len,
	                      IPPROTO_TCP, small, 0);
	assert_int_equal(small[0], 'x');
}

/* --- helpers shared with ports.c ----------------------------------------- */

/* A socket as a struct addr: v4-mapped IPv6 becomes IPv4. */
static void test_socket_addr(void **state)
{
	static const struct {
		const char *ip;
		unsigned port;
		int family;
		const char *want;
	} cases[] = {
	    {"127.0.0.1", 8080, AF_INET, "127.0.0.1:8080"},
	    {"0.0.0.0", 80, AF_INET, "0.0.0.0:80"},
	    {"::1", 5173, AF_INET6, "[::1]:5173"},
	    {"::", 80, AF_INET6, "[::]:80"},
	    {"::ffff:127.0.0.1", 9000, AF_INET, "127.0.0.1:9000"},
	    {"::ffff:0.0.0.0", 53, AF_INET, "0.0.0.0:53"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct portdiag_socket s;
		struct addr a;
		char text[ADDR_STRLEN];

		memset(&s, 0, sizeof(s));
		s.addrlen = make_sa(cases[i].ip, cases[i].port, &s.addr);
		s.family = s.addr.ss_family;
		portdiag_socket_addr(&s, &a);
		print_message("%s\n", cases[i].want);
		assert_int_equal(a.kind, ADDR_INET);
		assert_int_equal(a.port, cases[i].port);
		assert_int_equal(a.sa.sa.sa_family, cases[i].family);
		assert_int_equal(a.salen, cases[i].family == AF_INET
		                              ? sizeof(struct sockaddr_in)
		                              : sizeof(struct sockaddr_in6));
		assert_string_equal(addr_format(&a, text, sizeof(text)),
		                    cases[i].want);
	}
}

/* Who holds a socket, in the words of the messages. */
static void test_describe_holder(void **state)
{
	static const struct {
		pid_t pid;
		const char *program;
		const char *user;
		const char *want;      /* as root */
		const char *want_user; /* as anyone else; NULL: same as want */
	} cases[] = {
	    {100, "python3", "root", "pid 100 (python3, user root)", NULL},
	    {4000000, "", "alice", "pid 4000000 (user alice)", NULL},
	    {0, "", "4242",
	     "a socket of user 4242 that no visible process holds (another "
	     "PID namespace, or the kernel)",
	     "a process of user 4242 that portier cannot see"},
	};
	char buf[256], small[8];

	for (size_t i = 0; i < N(cases); i++) {
		struct portdiag_socket s;
		const char *want = cases[i].want;

		if (geteuid() != 0 && cases[i].want_user != NULL)
			want = cases[i].want_user;
		memset(&s, 0, sizeof(s));
		s.pid = cases[i].pid;
		snprintf(s.program, sizeof(s.program), "%s", cases[i].program);
		snprintf(s.user, sizeof(s.user), "%s", cases[i].user);
		portdiag_describe_holder(&s, buf, sizeof(buf));
		assert_string_equal(buf, want);
		portdiag_describe_holder(&s, small, sizeof(small));
		assert_int_equal(strlen(small), sizeof(small) - 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_net),
	    cmocka_unit_test(test_parse_net_appends),
	    cmocka_unit_test(test_find_holder),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_explain_bind),
	    cmocka_unit_test(test_explain_edges),
	    cmocka_unit_test(test_socket_addr),
	    cmocka_unit_test(test_describe_holder),
	    cmocka_unit_test_setup_teardown(test_hidden_holder,
	                                    fakeproc_tree_setup,
	                                    fakeproc_tree_teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_tree,
	                                    fakeproc_tree_setup,
	                                    fakeproc_tree_teardown),
	};

	return cmocka_run_group_tests(tests, fakeproc_setup, fakeproc_teardown);
}
