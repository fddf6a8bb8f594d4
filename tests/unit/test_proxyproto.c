/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for proxyproto.c: the exact bytes of version 1 and 2 headers
 * for IPv4, IPv6, v4-mapped, mixed and non-IP endpoints, and the refusal
 * of a buffer that is too small or a version that does not exist.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "portier/proxyproto.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The version 2 signature, as the spec writes it. */
#define SIG "\r\n\r\n\0\r\nQUIT\n"

/* A socket address from "IP PORT", "unix", or NULL. */
static struct sockaddr_storage endpoint(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strcmp(ip, "unix") == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, "/run/client.sock");
	} else if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

struct header {
	const char *name;
	int version;
	const char *src; /* NULL: no address */
	unsigned sport;
	const char *dst;
	unsigned dport;
	const char *bytes;
	size_t len;
};

#define TEXT(s) s, sizeof(s) - 1

static const struct header headers[] = {
    {"v1 tcp4", 1, "192.0.2.1", 56324, "198.51.100.2", 443,
     TEXT("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n")},
    {"v1 tcp6", 1, "2001:db8::1", 40000, "2001:db8::2", 8443,
     TEXT("PROXY TCP6 2001:db8::1 2001:db8::2 40000 8443\r\n")},
    {"v1 mapped", 1, "::ffff:192.0.2.1", 1, "::ffff:127.0.0.1", 65535,
     TEXT("PROXY TCP4 192.0.2.1 127.0.0.1 1 65535\r\n")},
    {"v1 mapped and v4", 1, "::ffff:192.0.2.1", 1234, "127.0.0.1", 80,
     TEXT("PROXY TCP4 192.0.2.1 127.0.0.1 1234 80\r\n")},
    {"v1 longest", 1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
     TEXT("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n")},
    {"v1 mixed", 1, "192.0.2.1", 1234, "::1", 80, TEXT("PROXY UNKNOWN\r\n")},
    {"v1 unix", 1, "unix", 0, "unix", 0, TEXT("PROXY UNKNOWN\r\n")},
    {"v1 unix and v4", 1, "unix", 0, "127.0.0.1", 80,
     TEXT("PROXY UNKNOWN\r\n")},
    {"v1 no source", 1, NULL, 0, "127.0.0.1", 80, TEXT("PROXY UNKNOWN\r\n")},

    {"v2 tcp4", 2, "192.0.2.1", 56324, "198.51.100.2", 443,
     TEXT(SIG "\x21\x11\x00\x0c"
              "\xc0\x00\x02\x01"
              "\xc6\x33\x64\x02"
              "\xdc\x04"
              "\x01\xbb")},
    {"v2 tcp6", 2, "2001:db8::1", 40000, "2001:db8::2", 8443,
     TEXT(SIG "\x21\x21\x00\x24"
              "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
              "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02"
              "\x9c\x40"
              "\x20\xfb")},
    {"v2 mapped", 2, "::ffff:10.1.2.3", 1, "::ffff:127.0.0.1", 65535,
     TEXT(SIG "\x21\x11\x00\x0c"
              "\x0a\x01\x02\x03"
              "\x7f\x00\x00\x01"
              "\x00\x01"
              "\xff\xff")},
    {"v2 mixed", 2, "2001:db8::1", 1234, "127.0.0.1", 80,
     TEXT(SIG "\x20\x00\x00\x00")},
    {"v2 unix", 2, "unix", 0, "unix", 0, TEXT(SIG "\x20\x00\x00\x00")},
    {"v2 no destination", 2, "127.0.0.1", 80, NULL, 0,
     TEXT(SIG "\x20\x00\x00\x00")},
};

/* Print a header so that a failure shows what was built. */
static void dump(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "\n");
}

static int build(const struct header *h, uint8_t *buf, size_t len)
{
	struct sockaddr_storage s, d;

	if (h->src != NULL)
		s = endpoint(h->src, h->sport);
	if (h->dst != NULL)
		d = endpoint(h->dst, h->dport);
	return proxyproto_build(
	    h->version, h->src ? (struct sockaddr *)&s : NULL,
	    h->dst ? (struct sockaddr *)&d : NULL, buf, len);
}

static void test_headers(void **state)
{
	for (size_t i = 0; i < N(headers); i++) {
		const struct header *h = &headers[i];
		uint8_t buf[PROXYPROTO_MAX + 8];
		int n;

		memset(buf, 0xaa, sizeof(buf));
		n = build(h, buf, PROXYPROTO_MAX);
		if (n != (int)h->len || memcmp(buf, h->bytes, h->len) != 0) {
			dump("expected", (const uint8_t *)h->bytes, h->len);
			if (n > 0)
				dump("got", buf, (size_t)n);
			fail_msg("%s: wrong header (%d bytes)", h->name, n);
		}
		assert_true(h->len <= PROXYPROTO_MAX);
		/* Nothing is written past the header. */
		assert_int_equal(buf[h->len], 0xaa);
	}
}

/* A buffer of exactly the header's size works; one byte less fails and
 * is left untouched. */
static void test_buffer_size(void **state)
{
	for (size_t i = 0; i < N(headers); i++) {
		const struct header *h = &headers[i];
		uint8_t buf[PROXYPROTO_MAX];
		uint8_t untouched[PROXYPROTO_MAX];

		assert_int_equal(build(h, buf, h->len), (int)h->len);
		assert_memory_equal(buf, h->bytes, h->len);

		memset(buf, 0x55, sizeof(buf));
		memset(untouched, 0x55, sizeof(untouched));
		if (build(h, buf, h->len - 1) != -1)
			fail_msg("%s: accepted a %zu-byte buffer", h->name,
			         h->len - 1);
		assert_memory_equal(buf, untouched, sizeof(buf));
		assert_int_equal(build(h, buf, 0), -1);
	}
}

static void test_bad_version(void **state)
{
	struct sockaddr_storage s = endpoint("192.0.2.1", 1234);
	struct sockaddr_storage d = endpoint("127.0.0.1", 80);
	uint8_t buf[PROXYPROTO_MAX];
	const int versions[] = {0, 3, -1, 'v'};

	for (size_t i = 0; i < N(versions); i++)
		assert_int_equal(
		    proxyproto_build(versions[i], (struct sockaddr *)&s,
		                     (struct sockaddr *)&d, buf, sizeof(buf)),
		    -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_buffer_size),
	    cmocka_unit_test(test_bad_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
