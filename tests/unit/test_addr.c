/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for addr.c: the address syntax of the configuration (good
 * inputs and the exact message for each bad one), formatting, the overlap
 * test between bind addresses and CIDR blocks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "portier/addr.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Both uses of an address string. */
#define BOTH -1

struct good_addr {
	const char *text;
	int use; /* enum addr_use, or BOTH */
	enum addr_kind kind;
	const char *formatted;
	uint16_t port;
};

static const struct good_addr good_addrs[] = {
    {"8080", BOTH, ADDR_INET, "127.0.0.1:8080", 8080},
    {" \t8080 \n", BOTH, ADDR_INET, "127.0.0.1:8080", 8080},
    {"1", BOTH, ADDR_INET, "127.0.0.1:1", 1},
    {"65535", BOTH, ADDR_INET, "127.0.0.1:65535", 65535},
    {"0080", BOTH, ADDR_INET, "127.0.0.1:80", 80},
    {"127.0.0.1:3000", BOTH, ADDR_INET, "127.0.0.1:3000", 3000},
    {"192.168.1.10:443", BOTH, ADDR_INET, "192.168.1.10:443", 443},
    {"0.0.0.0:80", BOTH, ADDR_INET, "0.0.0.0:80", 80},
    {"[::1]:8080", BOTH, ADDR_INET, "[::1]:8080", 8080},
    {"[::]:80", BOTH, ADDR_INET, "[::]:80", 80},
    {"[2001:DB8::1]:65535", BOTH, ADDR_INET, "[2001:db8::1]:65535", 65535},
    {"[::ffff:1.2.3.4]:80", BOTH, ADDR_INET, "1.2.3.4:80", 80},
    {"*:80", ADDR_FOR_BIND, ADDR_ANY, "*:80", 80},
    {" *:443 ", ADDR_FOR_BIND, ADDR_ANY, "*:443", 443},
    {"localhost:3000", BOTH, ADDR_LOCALHOST, "localhost:3000", 3000},
    {"LocalHost:5173", BOTH, ADDR_LOCALHOST, "localhost:5173", 5173},
    {"unix:/run/app.sock", ADDR_FOR_BACKEND, ADDR_UNIX, "unix:/run/app.sock",
     0},
    {"unix:/tmp/a b", ADDR_FOR_BACKEND, ADDR_UNIX, "unix:/tmp/a b", 0},
};

struct bad_addr {
	const char *text;
	int use;
	const char *message;
};

static const struct bad_addr bad_addrs[] = {
    {"", BOTH, "empty address"},
    {"  \t ", BOTH, "empty address"},
    {"0", BOTH, "port '0' out of range 1-65535"},
    {"00", BOTH, "port '00' out of range 1-65535"},
    {"65536", BOTH, "port '65536' out of range 1-65535"},
    {"70000", BOTH, "port '70000' out of range 1-65535"},
    {"99999999999999999999999", BOTH,
     "port '99999999999999999999999' out of range 1-65535"},
    {"80a", BOTH, "port '80a' is not a number"},
    {"-1", BOTH, "port '-1' is not a number"},
    {"+80", BOTH, "port '+80' is not a number"},
    {"127.0.0.1", BOTH, "missing port in '127.0.0.1'"},
    {"127.0.0.1:", BOTH, "missing port in '127.0.0.1:'"},
    {"localhost", BOTH, "missing port in 'localhost'"},
    {"example.com", BOTH, "missing port in 'example.com'"},
    {"127.0.0.1:http", BOTH, "port 'http' is not a number"},
    {"127.0.0.1: 80", BOTH, "port ' 80' is not a number"},
    {"127.0.0.1:0", ADDR_FOR_BIND, "port '0' out of range 1-65535"},
    {"127.0.0.1:70000", BOTH, "port '70000' out of range 1-65535"},
    {"1.2.3:80", BOTH, "invalid IPv4 address '1.2.3'"},
    {"1.2.3.4.5:80", BOTH, "invalid IPv4 address '1.2.3.4.5'"},
    {"256.1.1.1:80", BOTH, "invalid IPv4 address '256.1.1.1'"},
    {":80", BOTH, "missing host in ':80'"},
    {"example.com:80", ADDR_FOR_BIND,
     "'example.com': host names are not accepted; use an IP address, "
     "'*' or 'localhost'"},
    {"example.com:80", ADDR_FOR_BACKEND,
     "'example.com': host names are not accepted; use an IP address, "
     "'localhost' or unix:/path"},
    {"my-host:80", ADDR_FOR_BIND,
     "'my-host': host names are not accepted; use an IP address, "
     "'*' or 'localhost'"},
    {"::1:80", BOTH, "IPv6 addresses need brackets: '[::1]:80'"},
    {"2001:db8::1:443", BOTH,
     "IPv6 addresses need brackets: '[2001:db8::1]:443'"},
    {"fd00::1", BOTH,
     "IPv6 addresses need brackets and a port: '[fd00::1]:PORT'"},
    {"a:b:c", BOTH, "invalid address 'a:b:c'"},
    {"[::1]", BOTH, "missing port in '[::1]'"},
    {"[::1]:", BOTH, "missing port in '[::1]:'"},
    {"[::1]80", BOTH, "expected ':PORT' after ']' in '[::1]80'"},
    {"[::1:80", BOTH, "missing ']' in '[::1:80'"},
    {"[]:80", BOTH, "invalid IPv6 address ''"},
    {"[1.2.3.4]:80", BOTH, "invalid IPv6 address '1.2.3.4'"},
    {"[fe80::1%eth0]:80", BOTH,
     "IPv6 zone ids are not supported: 'fe80::1%eth0'"},
    {"[::1]:70000", BOTH, "port '70000' out of range 1-65535"},
    {"[::1]:x", BOTH, "port 'x' is not a number"},
    {"*:80", ADDR_FOR_BACKEND, "'*' is only for bind addresses"},
    {"*:0", ADDR_FOR_BIND, "port '0' out of range 1-65535"},
    {"*", BOTH, "missing port in '*'"},
    {"localhost:0", BOTH, "port '0' out of range 1-65535"},
    {"unix:/run/app.sock", ADDR_FOR_BIND,
     "unix sockets are not supported as bind addresses"},
    {"unix:", ADDR_FOR_BACKEND, "missing path after 'unix:'"},
    {"unix:run/app.sock", ADDR_FOR_BACKEND,
     "unix socket path 'run/app.sock' is not absolute"},
};

/* Parse text for one use and check the result against g. */
static void check_good(const struct good_addr *g, enum addr_use use)
{
	char err[256] = "";
	char buf[ADDR_STRLEN];
	struct addr a;

	if (addr_parse(g->text, use, &a, err, sizeof(err)) != 0)
		fail_msg("'%s' (use %d): %s", g->text, (int)use, err);
	assert_int_equal(a.kind, g->kind);
	assert_int_equal(a.port, g->port);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), g->formatted);
}

static void test_parse_good(void **state)
{
	for (size_t i = 0; i < N(good_addrs); i++) {
		const struct good_addr *g = &good_addrs[i];

		if (g->use == BOTH || g->use == ADDR_FOR_BIND)
			check_good(g, ADDR_FOR_BIND);
		if (g->use == BOTH || g->use == ADDR_FOR_BACKEND)
			check_good(g, ADDR_FOR_BACKEND);
	}
}

static void check_bad(const struct bad_addr *b, enum addr_use use)
{
	char err[256] = "";
	struct addr a;

	if (addr_parse(b->text, use, &a, err, sizeof(err)) != -1)
		fail_msg("'%s' (use %d) was accepted", b->text, (int)use);
	if (strcmp(err, b->message) != 0)
		fail_msg("'%s' (use %d):\n  got      %s\n  expected %s",
		         b->text, (int)use, err, b->message);
}

static void test_parse_bad(void **state)
{
	for (size_t i = 0; i < N(bad_addrs); i++) {
		const struct bad_addr *b = &bad_addrs[i];

		if (b->use == BOTH || b->use == ADDR_FOR_BIND)
			check_bad(b, ADDR_FOR_BIND);
		if (b->use == BOTH || b->use == ADDR_FOR_BACKEND)
			check_bad(b, ADDR_FOR_BACKEND);
	}
}

static void test_parse_sockaddr(void **state)
{
	char err[256];
	struct addr a;

	assert_int_equal(
	    addr_parse("10.1.2.3:8080", ADDR_FOR_BACKEND, &a, err, sizeof(err)),
	    0);
	assert_int_equal(a.salen, sizeof(struct sockaddr_in));
	assert_int_equal(a.sa.sin.sin_family, AF_INET);
	assert_int_equal(a.sa.sin.sin_port, htons(8080));
	assert_int_equal(a.sa.sin.sin_addr.s_addr, htonl(0x0a010203));

	assert_int_equal(
	    addr_parse("[::1]:443", ADDR_FOR_BIND, &a, err, sizeof(err)), 0);
	assert_int_equal(a.salen, sizeof(struct sockaddr_in6));
	assert_int_equal(a.sa.sin6.sin6_family, AF_INET6);
	assert_int_equal(a.sa.sin6.sin6_port, htons(443));
	assert_true(IN6_IS_ADDR_LOOPBACK(&a.sa.sin6.sin6_addr));

	/* A v4-mapped address is the IPv4 address: bindable, and the same
	 * as 127.0.0.1 for the overlap checks. */
	assert_int_equal(addr_parse("[::ffff:127.0.0.1]:443", ADDR_FOR_BIND,
	                            &a, err, sizeof(err)),
	                 0);
	assert_int_equal(a.salen, sizeof(struct sockaddr_in));
	assert_int_equal(a.sa.sin.sin_family, AF_INET);
	assert_int_equal(a.sa.sin.sin_port, htons(443));
	assert_int_equal(a.sa.sin.sin_addr.s_addr, htonl(0x7f000001));

	assert_int_equal(addr_parse("unix:/run/x.sock", ADDR_FOR_BACKEND, &a,
	                            err, sizeof(err)),
	                 0);
	assert_int_equal(a.sa.sun.sun_family, AF_UNIX);
	assert_string_equal(a.sa.sun.sun_path, "/run/x.sock");
	assert_int_equal(a.salen, offsetof(struct sockaddr_un, sun_path) +
	                              strlen("/run/x.sock") + 1);
}

static void test_parse_unix_length(void **state)
{
	char text[256], err[256], expected[512];
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	struct addr a;

	/* The longest path that fits, NUL included. */
	strcpy(text, "unix:/");
	memset(text + 6, 'a', max - 1);
	text[6 + max - 1] = '\0';
	assert_int_equal(
	    addr_parse(text, ADDR_FOR_BACKEND, &a, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.sa.sun.sun_path), max);

	/* One byte more. */
	strcat(text, "b");
	assert_int_equal(
	    addr_parse(text, ADDR_FOR_BACKEND, &a, err, sizeof(err)), -1);
	snprintf(expected, sizeof(expected),
	         "unix socket path '%s' is too long (%zu bytes, at most %zu)",
	         text + 5, max + 1, max);
	assert_string_equal(err, expected);
}

static void test_parse_err_buffer(void **state)
{
	char err[8];
	struct addr a;

	memset(err, 'x', sizeof(err));
	assert_int_equal(
	    addr_parse("70000", ADDR_FOR_BIND, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "port '7");
	assert_int_equal(addr_parse("70000", ADDR_FOR_BIND, &a, NULL, 0), -1);
	assert_int_equal(addr_parse(NULL, ADDR_FOR_BIND, &a, NULL, 0), -1);
}

static void test_format_sa(void **state)
{
	struct sockaddr_in sin = {0};
	struct sockaddr_in6 sin6 = {0};
	struct sockaddr_un sun = {0};
	struct sockaddr_storage ss = {0};
	char buf[ADDR_STRLEN];
	socklen_t unlen;

	sin.sin_family = AF_INET;
	sin.sin_port = htons(80);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	assert_string_equal(addr_format_sa((struct sockaddr *)&sin, sizeof(sin),
	                                   buf, sizeof(buf)),
	                    "192.0.2.1:80");

	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(8443);
	inet_pton(AF_INET6, "2001:db8::42", &sin6.sin6_addr);
	assert_string_equal(addr_format_sa((struct sockaddr *)&sin6,
	                                   sizeof(sin6), buf, sizeof(buf)),
	                    "[2001:db8::42]:8443");

	inet_pton(AF_INET6, "::ffff:198.51.100.7", &sin6.sin6_addr);
	assert_string_equal(addr_format_sa((struct sockaddr *)&sin6,
	                                   sizeof(sin6), buf, sizeof(buf)),
	                    "198.51.100.7:8443");

	/* A numeric scope id that names no interface. */
	inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr);
	sin6.sin6_scope_id = 999999;
	assert_string_equal(addr_format_sa((struct sockaddr *)&sin6,
	                                   sizeof(sin6), buf, sizeof(buf)),
	                    "[fe80::1%999999]:8443");

	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/run/app.sock");
	unlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                    strlen(sun.sun_path) + 1);
	assert_string_equal(
	    addr_format_sa((struct sockaddr *)&sun, unlen, buf, sizeof(buf)),
	    "unix:/run/app.sock");
	/* Unnamed (the peer of a connect(2) without bind) and abstract. */
	assert_string_equal(addr_format_sa((struct sockaddr *)&sun,
	                                   sizeof(sa_family_t), buf,
	                                   sizeof(buf)),
	                    "unix");
	sun.sun_path[0] = '\0';
	assert_string_equal(
	    addr_format_sa((struct sockaddr *)&sun, unlen, buf, sizeof(buf)),
	    "unix");

	ss.ss_family = AF_UNSPEC;
	assert_string_equal(addr_format_sa((struct sockaddr *)&ss, sizeof(ss),
	                                   buf, sizeof(buf)),
	                    "unknown");
	assert_string_equal(addr_format_sa(NULL, 0, buf, sizeof(buf)),
	                    "unknown");
	/* A short socket address is not read past its length. */
	assert_string_equal(
	    addr_format_sa((struct sockaddr *)&sin, 4, buf, sizeof(buf)),
	    "unknown");

	/* Truncation keeps the string terminated. */
	sin6.sin6_scope_id = 0;
	assert_string_equal(
	    addr_format_sa((struct sockaddr *)&sin6, sizeof(sin6), buf, 6),
	    "[fe80");
}

static void test_inet(void **state)
{
	char buf[ADDR_STRLEN];
	struct addr a;

	addr_inet(&a, AF_INET, true, 80);
	assert_int_equal(a.kind, ADDR_INET);
	assert_int_equal(a.salen, sizeof(struct sockaddr_in));
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "127.0.0.1:80");
	addr_inet(&a, AF_INET, false, 81);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "0.0.0.0:81");
	addr_inet(&a, AF_INET6, true, 82);
	assert_int_equal(a.salen, sizeof(struct sockaddr_in6));
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "[::1]:82");
	addr_inet(&a, AF_INET6, false, 83);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "[::]:83");
	assert_int_equal(a.port, 83);
}

static struct addr parsed(const char *text, enum addr_use use)
{
	char err[256];
	struct addr a;

	if (addr_parse(text, use, &a, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", text, err);
	return a;
}

struct pair {
	const char *a;
	const char *b;
	bool expected;
};

static const struct pair equal_pairs[] = {
    {"127.0.0.1:80", "80", true},
    {"127.0.0.1:80", "127.0.0.1:81", false},
    {"127.0.0.1:80", "127.0.0.2:80", false},
    {"[::1]:80", "[0:0::1]:80", true},
    {"[::1]:80", "127.0.0.1:80", false},
    {"[::1]:80", "[::2]:80", false},
    {"localhost:80", "localhost:80", true},
    {"localhost:80", "localhost:81", false},
    {"localhost:80", "127.0.0.1:80", false},
    {"unix:/a", "unix:/a", true},
    {"unix:/a", "unix:/b", false},
    {"unix:/a", "80", false},
};

static void test_bind_sockets(void **state)
{
	struct addr out[2], want;
	bool optional[2];
	struct addr a;

	(void)state;
	a = parsed("*:8080", ADDR_FOR_BIND);
	assert_int_equal(addr_bind_sockets(&a, out, optional), 2);
	addr_inet(&want, AF_INET, false, 8080);
	assert_true(addr_equal(&out[0], &want) && !optional[0]);
	addr_inet(&want, AF_INET6, false, 8080);
	assert_true(addr_equal(&out[1], &want) && optional[1]);
	a = parsed("localhost:53", ADDR_FOR_BIND);
	assert_int_equal(addr_bind_sockets(&a, out, optional), 2);
	addr_inet(&want, AF_INET, true, 53);
	assert_true(addr_equal(&out[0], &want) && !optional[0]);
	addr_inet(&want, AF_INET6, true, 53);
	assert_true(addr_equal(&out[1], &want) && optional[1]);
	a = parsed("[::1]:9", ADDR_FOR_BIND);
	assert_int_equal(addr_bind_sockets(&a, out, optional), 1);
	assert_true(addr_equal(&out[0], &a) && !optional[0]);
	a = parsed("unix:/run/x.sock", ADDR_FOR_BACKEND);
	assert_int_equal(addr_bind_sockets(&a, out, optional), 0);
}

static void test_equal(void **state)
{
	for (size_t i = 0; i < N(equal_pairs); i++) {
		const struct pair *p = &equal_pairs[i];
		struct addr a = parsed(p->a, ADDR_FOR_BACKEND);
		struct addr b = parsed(p->b, ADDR_FOR_BACKEND);

		if (addr_equal(&a, &b) != p->expected ||
		    addr_equal(&b, &a) != p->expected)
			fail_msg("addr_equal('%s', '%s') != %d", p->a, p->b,
			         p->expected);
	}
}

static const struct pair overlap_pairs[] = {
    {"*:80", "*:80", true},
    {"*:80", "*:81", false},
    {"*:80", "127.0.0.1:80", true},
    {"*:80", "192.168.1.2:80", true},
    {"*:80", "[::1]:80", true},
    {"*:80", "[::]:80", true},
    {"*:80", "0.0.0.0:80", true},
    {"*:80", "localhost:80", true},
    {"*:80", "localhost:81", false},
    {"*:80", "127.0.0.1:81", false},
    {"0.0.0.0:80", "0.0.0.0:80", true},
    {"0.0.0.0:80", "192.168.1.2:80", true},
    {"0.0.0.0:80", "127.0.0.1:80", true},
    {"0.0.0.0:80", "127.0.0.1:81", false},
    {"0.0.0.0:80", "[::1]:80", false},
    {"0.0.0.0:80", "[::]:80", false},
    {"0.0.0.0:80", "localhost:80", true},
    {"[::]:80", "[::1]:80", true},
    {"[::]:80", "[2001:db8::1]:80", true},
    {"[::]:80", "[::1]:81", false},
    {"[::]:80", "127.0.0.1:80", false},
    {"[::]:80", "localhost:80", true},
    {"localhost:80", "localhost:80", true},
    {"localhost:80", "localhost:81", false},
    {"localhost:80", "127.0.0.1:80", true},
    {"localhost:80", "80", true},
    {"localhost:80", "[::1]:80", true},
    {"localhost:80", "127.0.0.2:80", false},
    {"localhost:80", "[::2]:80", false},
    {"localhost:80", "192.168.1.2:80", false},
    {"127.0.0.1:80", "127.0.0.1:80", true},
    {"127.0.0.1:80", "127.0.0.2:80", false},
    {"127.0.0.1:80", "127.0.0.1:81", false},
    {"127.0.0.1:80", "[::1]:80", false},
    {"[::1]:80", "[::1]:80", true},
};

static void test_overlaps(void **state)
{
	for (size_t i = 0; i < N(overlap_pairs); i++) {
		const struct pair *p = &overlap_pairs[i];
		struct addr a = parsed(p->a, ADDR_FOR_BIND);
		struct addr b = parsed(p->b, ADDR_FOR_BIND);

		if (addr_overlaps(&a, &b) != p->expected ||
		    addr_overlaps(&b, &a) != p->expected)
			fail_msg("addr_overlaps('%s', '%s') != %d", p->a, p->b,
			         p->expected);
	}
}

static void test_overlaps_unix(void **state)
{
	struct addr u = parsed("unix:/run/a.sock", ADDR_FOR_BACKEND);
	struct addr v = parsed("unix:/run/b.sock", ADDR_FOR_BACKEND);
	struct addr any = parsed("*:80", ADDR_FOR_BIND);
	struct addr lo = parsed("localhost:80", ADDR_FOR_BIND);
	struct addr wild = parsed("0.0.0.0:80", ADDR_FOR_BIND);

	assert_true(addr_overlaps(&u, &u));
	assert_false(addr_overlaps(&u, &v));
	assert_false(addr_overlaps(&u, &any));
	assert_false(addr_overlaps(&any, &u));
	assert_false(addr_overlaps(&lo, &u));
	assert_false(addr_overlaps(&u, &wild));
}

struct good_cidr {
	const char *text;
	int family;
	unsigned prefix;
	const char *formatted;
};

static const struct good_cidr good_cidrs[] = {
    {"10.0.0.0/8", AF_INET, 8, "10.0.0.0/8"},
    {"192.168.1.7", AF_INET, 32, "192.168.1.7/32"},
    {"192.168.1.128/25", AF_INET, 25, "192.168.1.128/25"},
    {"10.0.0.0/7", AF_INET, 7, "10.0.0.0/7"},
    {"0.0.0.0/0", AF_INET, 0, "0.0.0.0/0"},
    {" 172.16.0.0/12\t", AF_INET, 12, "172.16.0.0/12"},
    {"10.0.0.0/08", AF_INET, 8, "10.0.0.0/8"},
    {"::1", AF_INET6, 128, "::1/128"},
    {"fd00::/8", AF_INET6, 8, "fd00::/8"},
    {"FE80::/10", AF_INET6, 10, "fe80::/10"},
    {"::/0", AF_INET6, 0, "::/0"},
    {"::ffff:0:0/96", AF_INET6, 96, "::ffff:0.0.0.0/96"},
    {"2001:db8::1/128", AF_INET6, 128, "2001:db8::1/128"},
};

static void test_cidr_good(void **state)
{
	for (size_t i = 0; i < N(good_cidrs); i++) {
		const struct good_cidr *g = &good_cidrs[i];
		char err[256] = "", buf[64];
		struct cidr c;

		if (cidr_parse(g->text, &c, err, sizeof(err)) != 0)
			fail_msg("'%s': %s", g->text, err);
		assert_int_equal(c.family, g->family);
		assert_int_equal(c.prefix, g->prefix);
		assert_string_equal(cidr_format(&c, buf, sizeof(buf)),
		                    g->formatted);
	}
}

struct bad_cidr {
	const char *text;
	const char *message;
};

static const struct bad_cidr bad_cidrs[] = {
    {"", "empty address block"},
    {"   ", "empty address block"},
    {"10.0.0.0/33", "prefix length '33' out of range 0-32"},
    {"10.0.0.0/999999999999", "prefix length '999999999999' out of range "
                              "0-32"},
    {"fd00::/129", "prefix length '129' out of range 0-128"},
    {"10.0.0.0/", "missing prefix length in '10.0.0.0/'"},
    {"10.0.0.0/x", "prefix length 'x' is not a number"},
    {"10.0.0.0/-1", "prefix length '-1' is not a number"},
    {"10.0.0.0/8/8", "prefix length '8/8' is not a number"},
    {"10.1.2.3/8", "'10.1.2.3/8' has host bits set; did you mean "
                   "'10.0.0.0/8'?"},
    {"192.168.1.129/25", "'192.168.1.129/25' has host bits set; did you "
                         "mean '192.168.1.128/25'?"},
    {"11.0.0.0/7", "'11.0.0.0/7' has host bits set; did you mean "
                   "'10.0.0.0/7'?"},
    {"fd00::1/8", "'fd00::1/8' has host bits set; did you mean "
                  "'fd00::/8'?"},
    {"10.0.0/8", "'10.0.0' is not an IP address"},
    {"example.com", "'example.com' is not an IP address"},
    {"/8", "'' is not an IP address"},
    {"fe80::1%eth0", "'fe80::1%eth0' is not an IP address"},
};

static void test_cidr_bad(void **state)
{
	for (size_t i = 0; i < N(bad_cidrs); i++) {
		const struct bad_cidr *b = &bad_cidrs[i];
		char err[256] = "";
		struct cidr c;

		if (cidr_parse(b->text, &c, err, sizeof(err)) != -1)
			fail_msg("'%s' was accepted", b->text);
		if (strcmp(err, b->message) != 0)
			fail_msg("'%s':\n  got      %s\n  expected %s", b->text,
			         err, b->message);
	}
}

/* A client socket address from an IP literal. */
static struct sockaddr_storage client(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

struct match {
	const char *cidr;
	const char *ip;
	bool expected;
};

static const struct match matches[] = {
    {"10.0.0.0/8", "10.1.2.3", true},
    {"10.0.0.0/8", "10.255.255.255", true},
    {"10.0.0.0/8", "11.0.0.1", false},
    {"10.0.0.0/8", "9.255.255.255", false},
    {"10.0.0.0/8", "::ffff:10.1.2.3", true},
    {"10.0.0.0/8", "::ffff:11.1.2.3", false},
    {"10.0.0.0/8", "::1", false},
    {"10.0.0.0/7", "11.255.0.1", true},
    {"10.0.0.0/7", "12.0.0.1", false},
    {"192.168.1.128/25", "192.168.1.200", true},
    {"192.168.1.128/25", "192.168.1.127", false},
    {"192.168.1.7", "192.168.1.7", true},
    {"192.168.1.7", "192.168.1.8", false},
    {"0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0", "::ffff:203.0.113.9", true},
    {"0.0.0.0/0", "2001:db8::1", false},
    {"::1", "::1", true},
    {"::1", "::2", false},
    {"::1", "127.0.0.1", false},
    {"fd00::/8", "fd12:3456::1", true},
    {"fd00::/8", "fe00::1", false},
    {"fe80::/10", "febf::1", true},
    {"fe80::/10", "fec0::1", false},
    {"::/0", "2001:db8::1", true},
    {"::/0", "1.2.3.4", false},
    {"::ffff:0:0/96", "::ffff:1.2.3.4", true},
    {"::ffff:0:0/96", "1.2.3.4", true},
    {"::ffff:127.0.0.1", "127.0.0.1", true},
    {"::ffff:127.0.0.1", "::ffff:127.0.0.1", true},
    {"::ffff:127.0.0.1", "127.0.0.2", false},
    {"::ffff:127.0.0.0/104", "127.9.9.9", true},
    {"::ffff:127.0.0.0/104", "128.0.0.1", false},
    {"::ffff:127.0.0.0/104", "::1", false},
    {"::ffff:0:0/96", "2001:db8::1", false},
};

static void test_cidr_match(void **state)
{
	for (size_t i = 0; i < N(matches); i++) {
		const struct match *m = &matches[i];
		struct sockaddr_storage ss = client(m->ip);
		char err[256];
		struct cidr c;

		if (cidr_parse(m->cidr, &c, err, sizeof(err)) != 0)
			fail_msg("'%s': %s", m->cidr, err);
		if (cidr_match(&c, (struct sockaddr *)&ss) != m->expected)
			fail_msg("cidr_match('%s', %s) != %d", m->cidr, m->ip,
			         m->expected);
	}
}

static void test_cidr_match_any(void **state)
{
	const char *texts[] = {"10.0.0.0/8", "192.168.0.0/16", "::1"};
	struct sockaddr_storage in = client("192.168.5.5");
	struct sockaddr_storage lo6 = client("::1");
	struct sockaddr_storage out = client("172.16.0.1");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct cidr list[3];
	char err[256];

	for (size_t i = 0; i < N(texts); i++)
		assert_int_equal(
		    cidr_parse(texts[i], &list[i], err, sizeof(err)), 0);
	assert_true(cidr_match_any(list, N(list), (struct sockaddr *)&in));
	assert_true(cidr_match_any(list, N(list), (struct sockaddr *)&lo6));
	assert_false(cidr_match_any(list, N(list), (struct sockaddr *)&out));
	assert_false(cidr_match_any(list, 0, (struct sockaddr *)&in));
	assert_false(cidr_match_any(list, N(list), (struct sockaddr *)&sun));
	assert_false(cidr_match(&list[0], NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_parse_sockaddr),
	    cmocka_unit_test(test_parse_unix_length),
	    cmocka_unit_test(test_parse_err_buffer),
	    cmocka_unit_test(test_format_sa),
	    cmocka_unit_test(test_inet),
	    cmocka_unit_test(test_bind_sockets),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_overlaps),
	    cmocka_unit_test(test_overlaps_unix),
	    cmocka_unit_test(test_cidr_good),
	    cmocka_unit_test(test_cidr_bad),
	    cmocka_unit_test(test_cidr_match),
	    cmocka_unit_test(test_cidr_match_any),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
