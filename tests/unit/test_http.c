/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for http.c: tables of valid requests and responses with what
 * the parser must find in them (method, path, host, port, framing,
 * connection flags), tables of invalid ones with the status each must
 * answer (request smuggling shapes first among them), the limits on head
 * size and field count, and chunked bodies walked in one piece, one byte
 * at a time and split at every position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portier/http.h"

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define TEXT(s) s, sizeof(s) - 1

/* Flags of a parsed head, as the tables write them. */
#define KA       0x01 /* keep_alive */
#define UPG      0x02 /* upgrade */
#define H2C      0x04 /* upgrade_h2c */
#define EXP      0x08 /* expect_continue */
#define HEADM    0x10 /* method_head */
#define CONN     0x20 /* method_connect */
#define ABS      0x40 /* absolute_form */
#define V10      0x80 /* HTTP/1.0 */
#define HOST_ONE "Host: a.test\r\n"

struct good_request {
	const char *name;
	const char *text; /* the head, followed by nothing */
	const char *method;
	const char *path; /* NULL: path.len == 0 */
	const char *host;
	uint16_t port;
	enum http_body body;
	uint64_t content_length;
	int flags;
};

static const struct good_request good_requests[] = {
    {"simple", "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET", "/", "a.test",
     0, HTTP_BODY_NONE, 0, KA},
    {"query kept in path", "GET /a/b?c=d&e HTTP/1.1\r\n" HOST_ONE "\r\n", "GET",
     "/a/b?c=d&e", "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"host lower-cased, port", "GET / HTTP/1.1\r\nHost: App.TEST:5173\r\n\r\n",
     "GET", "/", "app.test", 5173, HTTP_BODY_NONE, 0, KA},
    {"host OWS trimmed", "GET / HTTP/1.1\r\nHost: \t a.test \t\r\n\r\n", "GET",
     "/", "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"host empty port", "GET / HTTP/1.1\r\nHost: a.test:\r\n\r\n", "GET", "/",
     "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"host ipv6", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET", "/",
     "[::1]", 8080, HTTP_BODY_NONE, 0, KA},
    {"host ipv6 upper", "GET / HTTP/1.1\r\nHost: [2001:DB8::A]\r\n\r\n", "GET",
     "/", "[2001:db8::a]", 0, HTTP_BODY_NONE, 0, KA},
    {"host ipv4", "GET / HTTP/1.1\r\nHost: 127.0.0.1:65535\r\n\r\n", "GET", "/",
     "127.0.0.1", 65535, HTTP_BODY_NONE, 0, KA},
    {"host pct and sub-delims",
     "GET / HTTP/1.1\r\nHost: a%2Db!$&'()*+,;=_~\r\n\r\n", "GET", "/",
     "a%2db!$&'()*+,;=_~", 0, HTTP_BODY_NONE, 0, KA},
    {"content-length",
     "POST /x HTTP/1.1\r\n" HOST_ONE "Content-Length: 42\r\n\r\n", "POST", "/x",
     "a.test", 0, HTTP_BODY_LENGTH, 42, KA},
    {"content-length zero",
     "POST /x HTTP/1.1\r\n" HOST_ONE "Content-Length: 0\r\n\r\n", "POST", "/x",
     "a.test", 0, HTTP_BODY_LENGTH, 0, KA},
    {"content-length max",
     "PUT /x HTTP/1.1\r\n" HOST_ONE
     "content-length: 9223372036854775807\r\n\r\n",
     "PUT", "/x", "a.test", 0, HTTP_BODY_LENGTH, INT64_MAX, KA},
    {"content-length leading zeros",
     "PUT /x HTTP/1.1\r\n" HOST_ONE
     "Content-Length: 000000000000000000000007\r\n\r\n",
     "PUT", "/x", "a.test", 0, HTTP_BODY_LENGTH, 7, KA},
    {"chunked",
     "POST / HTTP/1.1\r\n" HOST_ONE "Transfer-Encoding: chunked\r\n\r\n",
     "POST", "/", "a.test", 0, HTTP_BODY_CHUNKED, 0, KA},
    {"chunked any case, empty elements",
     "POST / HTTP/1.1\r\n" HOST_ONE "Transfer-Encoding: , ,CHUNKED , \r\n\r\n",
     "POST", "/", "a.test", 0, HTTP_BODY_CHUNKED, 0, KA},
    {"http/1.0", "GET /old HTTP/1.0\r\n\r\n", "GET", "/old", "", 0,
     HTTP_BODY_NONE, 0, V10},
    {"http/1.0 keep-alive",
     "GET / HTTP/1.0\r\nHost: a.test\r\nConnection: Keep-Alive\r\n\r\n", "GET",
     "/", "a.test", 0, HTTP_BODY_NONE, 0, V10 | KA},
    {"http/1.0 keep-alive and close",
     "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
     "GET", "/", "", 0, HTTP_BODY_NONE, 0, V10},
    {"close", "GET / HTTP/1.1\r\n" HOST_ONE "Connection: foo, CLOSE\r\n\r\n",
     "GET", "/", "a.test", 0, HTTP_BODY_NONE, 0, 0},
    {"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\n" HOST_ONE "\r\n", "GET",
     "/", "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"head", "HEAD /h HTTP/1.1\r\n" HOST_ONE "\r\n", "HEAD", "/h", "a.test", 0,
     HTTP_BODY_NONE, 0, KA | HEADM},
    {"lower-case method is another method",
     "head / HTTP/1.1\r\n" HOST_ONE "\r\n", "head", "/", "a.test", 0,
     HTTP_BODY_NONE, 0, KA},
    {"extension method", "M-SEARCH /x HTTP/1.1\r\n" HOST_ONE "\r\n", "M-SEARCH",
     "/x", "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"options *", "OPTIONS * HTTP/1.1\r\n" HOST_ONE "\r\n", "OPTIONS", NULL,
     "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"connect", "CONNECT Db.Test:5432 HTTP/1.1\r\nHost: db.test:5432\r\n\r\n",
     "CONNECT", NULL, "db.test", 5432, HTTP_BODY_NONE, 0, KA | CONN},
    {"absolute-form wins over Host",
     "GET http://App.Test:81/p?q HTTP/1.1\r\nHost: other.test\r\n\r\n", "GET",
     "/p?q", "app.test", 81, HTTP_BODY_NONE, 0, KA | ABS},
    {"absolute-form https, no path",
     "GET HTTPS://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET", NULL,
     "a.test", 0, HTTP_BODY_NONE, 0, KA | ABS},
    {"absolute-form query only",
     "GET http://a.test?x=1 HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET", "?x=1",
     "a.test", 0, HTTP_BODY_NONE, 0, KA | ABS},
    {"absolute-form http/1.0 without Host",
     "GET http://[::1]:3000/x HTTP/1.0\r\n\r\n", "GET", "/x", "[::1]", 3000,
     HTTP_BODY_NONE, 0, V10 | ABS},
    {"websocket",
     "GET /ws HTTP/1.1\r\n" HOST_ONE "Connection: keep-alive, Upgrade\r\n"
     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
     "GET", "/ws", "a.test", 0, HTTP_BODY_NONE, 0, KA | UPG},
    {"h2c",
     "GET / HTTP/1.1\r\n" HOST_ONE "Connection: Upgrade, HTTP2-Settings\r\n"
     "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
     "GET", "/", "a.test", 0, HTTP_BODY_NONE, 0, KA | UPG | H2C},
    {"upgrade field without connection token",
     "GET / HTTP/1.1\r\n" HOST_ONE "Upgrade: websocket\r\n\r\n", "GET", "/",
     "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"upgrade ignored in HTTP/1.0",
     "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
     "GET", "/", "", 0, HTTP_BODY_NONE, 0, V10},
    {"connection upgrade without upgrade field",
     "GET / HTTP/1.1\r\n" HOST_ONE "Connection: upgrade\r\n\r\n", "GET", "/",
     "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"expect 100-continue",
     "PUT /f HTTP/1.1\r\n" HOST_ONE
     "Expect: 100-Continue\r\nContent-Length: 9\r\n\r\n",
     "PUT", "/f", "a.test", 0, HTTP_BODY_LENGTH, 9, KA | EXP},
    {"expect something else",
     "PUT /f HTTP/1.1\r\n" HOST_ONE "Expect: 200-ok\r\n\r\n", "PUT", "/f",
     "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"empty value, obs-text, tabs",
     "GET / HTTP/1.1\r\n" HOST_ONE
     "X-Empty:\r\nX-Text: caf\xc3\xa9\t x\r\n\r\n",
     "GET", "/", "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"long values with tabs and obs-text",
     "GET / HTTP/1.1\r\n" HOST_ONE
     "X-Long: abcdefgh\tijklmnop\x80\xff" "~ !qrstuvwxyz0123456789\r\n"
     "X-Eight: 01234567\r\n\r\n",
     "GET", "/", "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"HTTP/1.2 read as HTTP/1.1", "GET /v HTTP/1.2\r\n" HOST_ONE "\r\n",
     "GET", "/v", "a.test", 0, HTTP_BODY_NONE, 0, KA},
    {"target with odd but visible bytes",
     "GET /a|b^c`d{e}\"<>\\%zz HTTP/1.1\r\n" HOST_ONE "\r\n", "GET",
     "/a|b^c`d{e}\"<>\\%zz", "a.test", 0, HTTP_BODY_NONE, 0, KA},
};

/* The flags of a parsed head, as the tables write them. */
static int flags_of(const struct http_head *h)
{
	return (h->keep_alive ? KA : 0) | (h->upgrade ? UPG : 0) |
	       (h->upgrade_h2c ? H2C : 0) | (h->expect_continue ? EXP : 0) |
	       (h->method_head ? HEADM : 0) | (h->method_connect ? CONN : 0) |
	       (h->absolute_form ? ABS : 0) | (h->version_minor == 0 ? V10 : 0);
}

/* A slice equals a C string exactly (case too). */
static void assert_slice(const char *buf, struct http_slice s, const char *want,
                         const char *name)
{
	size_t n = want != NULL ? strlen(want) : 0;

	if (s.len != n || (n > 0 && memcmp(buf + s.off, want, n) != 0))
		fail_msg("%s: got \"%.*s\", want \"%s\"", name, (int)s.len,
		         buf + s.off, want != NULL ? want : "");
}

/* Parse with every shorter prefix first: each must ask for more bytes. */
static ssize_t parse_growing(const char *text, size_t len, bool response,
                             bool head_request, struct http_head *h)
{
	for (size_t k = 0; k < len; k++) {
		ssize_t r = response
		                ? http_parse_response(text, k, head_request, h)
		                : http_parse_request(text, k, h);

		if (r != 0)
			fail_msg("prefix of %zu bytes: %zd (%s)", k, r,
			         h->error ? h->error : "");
	}
	return response ? http_parse_response(text, len, head_request, h)
	                : http_parse_request(text, len, h);
}

static void test_good_requests(void **state)
{
	static struct http_head h;

	for (size_t i = 0; i < N(good_requests); i++) {
		const struct good_request *g = &good_requests[i];
		size_t len = strlen(g->text);
		char *more = malloc(len + 6);
		ssize_t r;

		r = parse_growing(g->text, len, false, false, &h);
		if (r != (ssize_t)len)
			fail_msg("%s: returned %zd, want %zu (%d %s)", g->name,
			         r, len, h.error_status,
			         h.error ? h.error : "");
		/* Bytes after the head are the body or the next request. */
		memcpy(more, g->text, len);
		memcpy(more + len, "hello\n", 6);
		assert_int_equal(http_parse_request(more, len + 6, &h), len);
		free(more);
		assert_slice(g->text, h.method, g->method, g->name);
		assert_slice(g->text, h.path, g->path, g->name);
		assert_string_equal(h.host, g->host);
		assert_int_equal(h.host_port, g->port);
		assert_int_equal(h.body, g->body);
		if (g->body == HTTP_BODY_LENGTH)
			assert_int_equal(h.content_length, g->content_length);
		if (flags_of(&h) != g->flags)
			fail_msg("%s: flags %#x, want %#x", g->name,
			         flags_of(&h), g->flags);
		assert_int_equal(h.error_status, 0);
	}
}

struct bad {
	const char *name;
	const char *text;
	size_t len;
	int status;
};

#define REQ(name, text, status)                                                \
	{                                                                      \
		name, TEXT(text), status                                       \
	}
#define POST "POST / HTTP/1.1\r\nHost: a\r\n"

static const struct bad bad_requests[] = {
    /* Framing that two parsers could read differently. */
    REQ("CL and TE",
        POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    REQ("TE and CL",
        POST "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400),
    REQ("TE chunked, identity",
        POST "Transfer-Encoding: chunked, identity\r\n\r\n", 400),
    REQ("TE chunked then identity field",
        POST "Transfer-Encoding: chunked\r\n"
             "Transfer-Encoding: identity\r\n\r\n",
        400),
    REQ("TE xchunked", POST "Transfer-Encoding: xchunked\r\n\r\n", 400),
    REQ("TE chunked-false", POST "Transfer-Encoding: chunked-false\r\n\r\n",
        400),
    REQ("TE identity", POST "Transfer-Encoding: identity\r\n\r\n", 400),
    REQ("TE chunked twice", POST "Transfer-Encoding: chunked, chunked\r\n\r\n",
        400),
    REQ("TE chunked in two fields",
        POST "Transfer-Encoding: chunked\r\n"
             "Transfer-Encoding: chunked\r\n\r\n",
        400),
    REQ("TE gzip, chunked", POST "Transfer-Encoding: gzip, chunked\r\n\r\n",
        501),
    REQ("TE gzip;q=1, chunked",
        POST "Transfer-Encoding: gzip;q=\"1\" , chunked\r\n\r\n", 501),
    REQ("TE chunked with parameter",
        POST "Transfer-Encoding: chunked;a=b\r\n\r\n", 400),
    REQ("TE space before colon", POST "Transfer-Encoding : chunked\r\n\r\n",
        400),
    REQ("TE tab before colon", POST "Transfer-Encoding\t: chunked\r\n\r\n",
        400),
    REQ("TE leading space",
        "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n",
        400),
    REQ("TE with VT",
        POST "Transfer-Encoding: \x0b"
             "chunked\r\n\r\n",
        400),
    REQ("TE with FF", POST "Transfer-Encoding: chunked\x0c\r\n\r\n", 400),
    REQ("TE with NUL", POST "Transfer-Encoding: chun\0ked\r\n\r\n", 400),
    REQ("TE two words", POST "Transfer-Encoding: chunked chunked\r\n\r\n", 400),
    REQ("TE quoted", POST "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
    REQ("TE empty", POST "Transfer-Encoding:\r\n\r\n", 400),
    REQ("TE only commas", POST "Transfer-Encoding: , ,\r\n\r\n", 400),
    REQ("TE in HTTP/1.0",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    REQ("CL twice same", POST "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
        400),
    REQ("CL twice different",
        POST "Content-Length: 5\r\ncontent-length: 6\r\n\r\n", 400),
    REQ("CL list", POST "Content-Length: 5, 5\r\n\r\n", 400),
    REQ("CL plus", POST "Content-Length: +5\r\n\r\n", 400),
    REQ("CL minus", POST "Content-Length: -1\r\n\r\n", 400),
    REQ("CL inner space", POST "Content-Length: 5 5\r\n\r\n", 400),
    REQ("CL hex", POST "Content-Length: 0x5\r\n\r\n", 400),
    REQ("CL empty", POST "Content-Length:\r\n\r\n", 400),
    REQ("CL overflow", POST "Content-Length: 9223372036854775808\r\n\r\n", 400),
    REQ("CL huge", POST "Content-Length: 99999999999999999999999\r\n\r\n", 400),
    REQ("CL space before colon", POST "Content-Length : 5\r\n\r\n", 400),
    /* Line and field syntax. */
    REQ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 400),
    REQ("obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n",
        400),
    REQ("bare LF ends request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    REQ("bare LF ends field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
    REQ("bare LF ends head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
    REQ("bare LF inside value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n",
        400),
    REQ("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("bare CR inside value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        400),
    REQ("bare CR ends field", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),
    REQ("leading bare CR", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
    REQ("NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\0Y: b\r\n\r\n", 400),
    REQ("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400),
    REQ("ESC in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", 400),
    /* Values of eight bytes and more are checked a word at a time. */
    REQ("DEL in a value's second word",
        "GET / HTTP/1.1\r\nHost: a\r\nX: 01234567\x7f" "9abcdef\r\n\r\n", 400),
    REQ("CTL at a long value's end",
        "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcde\x01\r\n\r\n", 400),
    REQ("NUL after a tab in a long value",
        "GET / HTTP/1.1\r\nHost: a\r\nX: 0123\t5678\0abcdef\r\n\r\n", 400),
    REQ("CTL in the first word of a long value",
        "GET / HTTP/1.1\r\nHost: a\r\nX: \x1f" "123456789abcdef\r\n\r\n", 400),
    REQ("no colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
    REQ("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n", 400),
    REQ("space in name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", 400),
    REQ("bad name char", "GET / HTTP/1.1\r\nHost: a\r\nX(Y): z\r\n\r\n", 400),
    REQ("utf-8 in name", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: z\r\n\r\n",
        400),
    /* Request line. */
    REQ("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    REQ("no version", "GET /\r\nHost: a\r\n\r\n", 400),
    REQ("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("bad method char", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("version junk", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400),
    REQ("version one digit", "GET / HTTP/2\r\nHost: a\r\n\r\n", 400),
    REQ("version two digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
    REQ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    REQ("HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
    REQ("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    REQ("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    REQ("target CTL", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("target DEL", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("target utf-8", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("target fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("target relative", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("target other scheme", "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
        400),
    REQ("target authority not CONNECT",
        "GET a.test:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("asterisk not OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("asterisk plus", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("CONNECT origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("CONNECT no port", "CONNECT a.test HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("CONNECT absolute", "CONNECT http://a:1/ HTTP/1.1\r\nHost: a\r\n\r\n",
        400),
    REQ("absolute empty host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
        400),
    REQ("absolute userinfo",
        "GET http://u:p@a.test/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("absolute bad port",
        "GET http://a.test:99999/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    REQ("absolute needs valid Host",
        "GET http://a.test/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    REQ("absolute still needs Host", "GET http://a.test/ HTTP/1.1\r\n\r\n",
        400),
    REQ("TLS hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        400),
    /* Host. */
    REQ("no Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400),
    REQ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    REQ("two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
        400),
    REQ("empty Host", "GET / HTTP/1.1\r\nHost:   \r\n\r\n", 400),
    REQ("empty Host in 1.0", "GET / HTTP/1.0\r\nHost:\r\n\r\n", 400),
    REQ("Host userinfo", "GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n", 400),
    REQ("Host list", "GET / HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n", 400),
    REQ("Host space", "GET / HTTP/1.1\r\nHost: a .test\r\n\r\n", 400),
    REQ("Host slash", "GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n", 400),
    REQ("Host port only", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
    REQ("Host port zero", "GET / HTTP/1.1\r\nHost: a:0\r\n\r\n", 400),
    REQ("Host port too big", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400),
    REQ("Host port letters", "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", 400),
    REQ("Host two ports", "GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n", 400),
    REQ("Host bad pct", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400),
    REQ("Host bad ipv6", "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", 400),
    REQ("Host ipv6 unclosed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    REQ("Host ipv6 junk after", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400),
    REQ("Host ipv6 zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n",
        400),
    REQ("Host bare ipv6", "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400),
};

static void test_bad_requests(void **state)
{
	static struct http_head h;

	for (size_t i = 0; i < N(bad_requests); i++) {
		const struct bad *b = &bad_requests[i];
		ssize_t r = http_parse_request(b->text, b->len, &h);

		if (r != -1 || h.error_status != b->status)
			fail_msg("%s: returned %zd status %d, want %d", b->name,
			         r, h.error_status, b->status);
		assert_non_null(h.error);
		/* No prefix is ever accepted. */
		for (size_t k = 0; k < b->len; k++)
			if (http_parse_request(b->text, k, &h) > 0)
				fail_msg("%s: accepted a prefix of %zu bytes",
				         b->name, k);
	}
}

/* Errors that show before the head is complete are reported at once. */
static void test_early_errors(void **state)
{
	static struct http_head h;
	static const struct bad early[] = {
	    REQ("bare LF", "GET / HTTP/1.1\nHost: a", 400),
	    REQ("bare LF in a field", "GET / HTTP/1.1\r\nHost: a\nX", 400),
	    REQ("bare CR", "GET / HTTP/1.1\rHost", 400),
	    REQ("TLS hello", "\x16\x03\x01\x02\x00", 400),
	    REQ("binary", "\x00\x01\x02", 400),
	    REQ("bad method", "GE(T /", 400),
	    REQ("HTTP/2.0 line", "GET / HTTP/2.0\r\nHost", 505),
	    REQ("bad target", "GET \x01 HTTP/1.1\r\n", 400),
	};
	static const char *more[] = {
	    "",
	    "\r",
	    "\r\n",
	    "\r\n\r",
	    "GET",
	    "GET / HTTP/1.1\r",
	    "GET / HTTP/1.1\r\nHost: a\r\n\r",
	    "POST /x HTTP/1.1\r\nHost: a\r\nX",
	};

	for (size_t i = 0; i < N(early); i++) {
		ssize_t r = http_parse_request(early[i].text, early[i].len, &h);

		if (r != -1 || h.error_status != early[i].status)
			fail_msg("%s: %zd %d", early[i].name, r,
			         h.error_status);
	}
	for (size_t i = 0; i < N(more); i++)
		assert_int_equal(
		    http_parse_request(more[i], strlen(more[i]), &h), 0);
}

/* A request head with nfields fields, the last one padded so that the
 * head is `total` bytes long when total is not 0. */
static char *make_head(size_t nfields, size_t total, size_t *len)
{
	char *buf = malloc(total + 64 + nfields * 16);
	size_t n = 0;

	n += (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (size_t i = 1; i < nfields; i++)
		n += (size_t)sprintf(buf + n, "X-%zu: v\r\n", i);
	if (total > 0) {
		/* One long field fills the head up to `total` bytes. */
		size_t pad = total - n - 4;

		memcpy(buf + n, "Y: ", 3);
		memset(buf + n + 3, 'y', pad - 3);
		n += pad;
		memcpy(buf + n, "\r\n", 2);
		n += 2;
	}
	memcpy(buf + n, "\r\n", 2);
	n += 2;
	*len = n;
	return buf;
}

static void test_limits(void **state)
{
	static struct http_head h;
	size_t len;
	char *buf;

	buf = make_head(HTTP_MAX_HEADERS, 0, &len);
	assert_int_equal(http_parse_request(buf, len, &h), len);
	assert_int_equal(h.nheaders, HTTP_MAX_HEADERS);
	free(buf);

	buf = make_head(HTTP_MAX_HEADERS + 1, 0, &len);
	assert_int_equal(http_parse_request(buf, len, &h), -1);
	assert_int_equal(h.error_status, 431);
	/* Known as soon as the extra field's line is complete. */
	assert_int_equal(http_parse_request(buf, len - 2, &h), -1);
	assert_int_equal(h.error_status, 431);
	assert_int_equal(http_parse_response(buf, len, false, &h), -1);
	assert_int_equal(h.error_status, 502);
	free(buf);

	buf = make_head(2, HTTP_MAX_HEAD, &len);
	assert_int_equal(len, HTTP_MAX_HEAD);
	assert_int_equal(http_parse_request(buf, len, &h), HTTP_MAX_HEAD);
	/* One byte more in the head is too long; so is a head that has not
	 * ended within the limit. */
	free(buf);
	buf = make_head(2, HTTP_MAX_HEAD + 1, &len);
	assert_int_equal(len, HTTP_MAX_HEAD + 1);
	assert_int_equal(http_parse_request(buf, len, &h), -1);
	assert_int_equal(h.error_status, 431);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD - 1, &h), 0);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD, &h), -1);
	assert_int_equal(h.error_status, 431);
	free(buf);

	/* A request line that has not ended within the limit: the target
	 * is too long (414), not the fields. */
	buf = malloc(HTTP_MAX_HEAD + 16);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', HTTP_MAX_HEAD + 11);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD - 1, &h), 0);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD + 16, &h), -1);
	assert_int_equal(h.error_status, 414);
	assert_int_equal(http_parse_response(buf, HTTP_MAX_HEAD + 16, false, &h),
	                 -1);
	assert_int_equal(h.error_status, 502);
	free(buf);

	/* Leading empty lines count. */
	buf = malloc(HTTP_MAX_HEAD + 2);
	for (size_t i = 0; i < HTTP_MAX_HEAD + 2; i += 2)
		memcpy(buf + i, "\r\n", 2);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD - 2, &h), 0);
	assert_int_equal(http_parse_request(buf, HTTP_MAX_HEAD + 2, &h), -1);
	assert_int_equal(h.error_status, 431);
	free(buf);

	/* The host buffer holds 255 bytes. */
	buf = malloc(600);
	len =
	    (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: %0255d:1\r\n\r\n", 0);
	assert_int_equal(http_parse_request(buf, len, &h), len);
	assert_int_equal(strlen(h.host), 255);
	assert_int_equal(h.host_port, 1);
	len = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: %0256d\r\n\r\n", 0);
	assert_int_equal(http_parse_request(buf, len, &h), -1);
	assert_int_equal(h.error_status, 400);
	free(buf);
}

/* Field kinds, seen bits and the fields that Connection names. */
static void test_kinds(void **state)
{
	static struct http_head h;
	static const char text[] =
	    "GET / HTTP/1.1\r\n"
	    "HOST: a\r\n"
	    "Connection: keep-alive, X-Hop, x-other-hop, TE\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "TE: trailers\r\n"
	    "Trailer: X-Sum\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "Proxy-Foo: 1\r\n"
	    "Proxy-Authorization: Basic eDp5\r\n"
	    "Proxy-Authenticate: Basic\r\n"
	    "X-Forwarded-For: 192.0.2.1\r\n"
	    "x-forwarded-proto: https\r\n"
	    "X-Forwarded-Host: a\r\n"
	    "Forwarded: for=192.0.2.1\r\n"
	    "Authorization: Basic eDp5\r\n"
	    "x-hop: 1\r\n"
	    "X-Other-Hop: 2\r\n"
	    "X-Kept: 3\r\n"
	    "Expect: 100-continue\r\n"
	    "Upgrade: websocket\r\n"
	    "Content-Length: 0\r\n"
	    "Proxy-: odd\r\n"
	    "\r\n";
	static const uint8_t want[] = {
	    HTTP_F_HOST,
	    HTTP_F_CONNECTION,
	    HTTP_F_KEEP_ALIVE,
	    HTTP_F_TE,
	    HTTP_F_TRAILER,
	    HTTP_F_PROXY_CONNECTION,
	    HTTP_F_PROXY_CONNECTION,
	    HTTP_F_PROXY_AUTHORIZATION,
	    HTTP_F_PROXY_AUTHENTICATE,
	    HTTP_F_X_FORWARDED_FOR,
	    HTTP_F_X_FORWARDED_PROTO,
	    HTTP_F_X_FORWARDED_HOST,
	    HTTP_F_FORWARDED,
	    HTTP_F_AUTHORIZATION,
	    HTTP_F_CONNECTION_LISTED,
	    HTTP_F_CONNECTION_LISTED,
	    HTTP_F_OTHER,
	    HTTP_F_EXPECT,
	    HTTP_F_UPGRADE,
	    HTTP_F_CONTENT_LENGTH,
	    HTTP_F_OTHER,
	};
	uint32_t seen = 0;

	assert_int_equal(http_parse_request(text, sizeof(text) - 1, &h),
	                 sizeof(text) - 1);
	assert_int_equal(h.nheaders, N(want));
	for (size_t i = 0; i < N(want); i++) {
		if (h.kind[i] != want[i])
			fail_msg("field %zu (%.*s): kind %d, want %d", i,
			         (int)h.headers[i].name.len,
			         text + h.headers[i].name.off, h.kind[i],
			         want[i]);
		seen |= 1u << want[i];
	}
	assert_int_equal(h.seen, seen);
	assert_slice(text, h.headers[0].name, "HOST", "name");
	assert_slice(text, h.headers[1].value,
	             "keep-alive, X-Hop, x-other-hop, TE", "value");
	assert_true(h.expect_continue);
	assert_false(h.upgrade);
	assert_true(h.keep_alive);
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
}

struct good_response {
	const char *name;
	const char *text;
	bool head_request;
	int status;
	const char *reason;
	enum http_body body;
	uint64_t content_length;
	int flags;
};

static const struct good_response good_responses[] = {
    {"length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", false, 200,
     "OK", HTTP_BODY_LENGTH, 12, KA},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false,
     200, "OK", HTTP_BODY_CHUNKED, 0, KA},
    {"chunked split over lines, empty elements",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\nTransfer-Encoding: "
     "Chunked,\r\n\r\n",
     false, 200, "OK", HTTP_BODY_CHUNKED, 0, KA},
    {"no length: until close", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", false,
     200, "OK", HTTP_BODY_EOF, 0, 0},
    {"HTTP/1.0 keep-alive",
     "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
     "Content-Length: 1\r\n\r\n",
     false, 200, "OK", HTTP_BODY_LENGTH, 1, V10 | KA},
    {"HTTP/1.0 default close", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
     false, 200, "OK", HTTP_BODY_LENGTH, 1, V10},
    {"close",
     "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false,
     200, "OK", HTTP_BODY_LENGTH, 1, 0},
    {"HEAD with length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true,
     200, "OK", HTTP_BODY_NONE, 0, KA},
    {"HEAD with chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, 200, "OK",
     HTTP_BODY_NONE, 0, KA},
    {"HEAD without length", "HTTP/1.1 404 Not Found\r\n\r\n", true, 404,
     "Not Found", HTTP_BODY_NONE, 0, KA},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "No Content",
     HTTP_BODY_NONE, 0, KA},
    {"304 with length",
     "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", false, 304,
     "Not Modified", HTTP_BODY_NONE, 0, KA},
    {"100", "HTTP/1.1 100 Continue\r\n\r\n", false, 100, "Continue",
     HTTP_BODY_NONE, 0, KA},
    {"103", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
     false, 103, "Early Hints", HTTP_BODY_NONE, 0, KA},
    {"101",
     "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
     "Upgrade: websocket\r\n\r\n",
     false, 101, "Switching Protocols", HTTP_BODY_NONE, 0, KA | UPG},
    {"empty reason", "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n", false, 500,
     "", HTTP_BODY_LENGTH, 0, KA},
    {"no reason", "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", false, 503, NULL,
     HTTP_BODY_LENGTH, 0, KA},
    {"reason with spaces and obs-text",
     "HTTP/1.1 299 Tout va tr\xe8s bien \r\nContent-Length: 0\r\n\r\n", false,
     299, "Tout va tr\xe8s bien ", HTTP_BODY_LENGTH, 0, KA},
    {"599", "HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", false, 599, "X",
     HTTP_BODY_LENGTH, 0, KA},
};

static void test_good_responses(void **state)
{
	static struct http_head h;

	for (size_t i = 0; i < N(good_responses); i++) {
		const struct good_response *g = &good_responses[i];
		size_t len = strlen(g->text);
		ssize_t r;

		r = parse_growing(g->text, len, true, g->head_request, &h);
		if (r != (ssize_t)len)
			fail_msg("%s: returned %zd, want %zu (%s)", g->name, r,
			         len, h.error ? h.error : "");
		assert_int_equal(h.status, g->status);
		assert_slice(g->text, h.reason, g->reason, g->name);
		assert_int_equal(h.body, g->body);
		if (g->body == HTTP_BODY_LENGTH)
			assert_int_equal(h.content_length, g->content_length);
		if (flags_of(&h) != g->flags)
			fail_msg("%s: flags %#x, want %#x", g->name,
			         flags_of(&h), g->flags);
	}
}

#define RSP(name, text)                                                        \
	{                                                                      \
		name, TEXT(text), 502                                          \
	}

static const struct bad bad_responses[] = {
    RSP("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: "
                     "3\r\nTransfer-Encoding: chunked\r\n\r\n"),
    RSP("CL and TE on 304", "HTTP/1.1 304 OK\r\nContent-Length: "
                            "3\r\nTransfer-Encoding: chunked\r\n\r\n"),
    RSP("CL twice",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
    RSP("CL list", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n"),
    RSP("CL sign", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n"),
    RSP("CL bad on 204", "HTTP/1.1 204 OK\r\nContent-Length: x\r\n\r\n"),
    /* portier sends no TE: chunked is the only coding a backend may
     * use, and Transfer-Encoding in HTTP/1.0 is faulty framing. */
    RSP("TE gzip then chunked",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
        "Chunked\r\n\r\n"),
    RSP("TE chunked not final",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
    RSP("TE unknown coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n"),
    RSP("TE in HTTP/1.0",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: "
        "keep-alive\r\n\r\n"),
    RSP("TE in HTTP/1.0 on HEAD's 204",
        "HTTP/1.0 204 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    RSP("TE chunked twice",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
    RSP("TE garbage", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;\r\n\r\n"),
    RSP("TE empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n"),
    RSP("TE space before colon",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n"),
    RSP("status 99", "HTTP/1.1 099 Low\r\n\r\n"),
    RSP("status 600", "HTTP/1.1 600 High\r\n\r\n"),
    RSP("status two digits", "HTTP/1.1 20 OK\r\n\r\n"),
    RSP("status four digits", "HTTP/1.1 2000 OK\r\n\r\n"),
    RSP("status letters", "HTTP/1.1 2OO OK\r\n\r\n"),
    RSP("no status", "HTTP/1.1\r\n\r\n"),
    RSP("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"),
    RSP("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n"),
    RSP("lower-case", "http/1.1 200 OK\r\n\r\n"),
    RSP("double space", "HTTP/1.1  200 OK\r\n\r\n"),
    RSP("leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n"),
    RSP("CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"),
    RSP("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
    RSP("bare CR", "HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n"),
    RSP("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
    RSP("NUL in value", "HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n"),
    RSP("no colon", "HTTP/1.1 200 OK\r\nX\r\n\r\n"),
    RSP("not HTTP", "SSH-2.0-OpenSSH_9.2\r\n"),
    RSP("empty start line", "\r\n"),
};

static void test_bad_responses(void **state)
{
	static struct http_head h;

	for (size_t i = 0; i < N(bad_responses); i++) {
		const struct bad *b = &bad_responses[i];
		ssize_t r = http_parse_response(b->text, b->len, false, &h);

		if (r != -1 || h.error_status != 502)
			fail_msg("%s: returned %zd status %d", b->name, r,
			         h.error_status);
		assert_non_null(h.error);
		for (size_t k = 0; k < b->len; k++)
			if (http_parse_response(b->text, k, false, &h) > 0)
				fail_msg("%s: accepted a prefix of %zu bytes",
				         b->name, k);
	}
	/* Early: not a status line. */
	assert_int_equal(http_parse_response("SSH-", 4, false, &h), -1);
	assert_int_equal(http_parse_response("HTTP/1.", 7, false, &h), 0);
	assert_int_equal(
	    http_parse_response("HTTP/1.1 999 X\r\n", 16, false, &h), -1);
}

struct chunked_case {
	const char *name;
	const char *text;
	size_t len;
	const char *payload; /* NULL: a framing error */
	size_t consumed;     /* where the body ends; 0: not complete */
};

#define CHK(name, text, payload, consumed)                                     \
	{                                                                      \
		name, TEXT(text), payload, consumed                            \
	}
#define CHK_BAD(name, text)                                                    \
	{                                                                      \
		name, TEXT(text), NULL, 0                                      \
	}

static const struct chunked_case chunked_cases[] = {
    CHK("simple", "5\r\nhello\r\n0\r\n\r\n", "hello", 15),
    CHK("two chunks, next message after",
        "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\nGET", "abc0123456789", 28),
    CHK("empty body", "0\r\n\r\n", "", 5),
    CHK("upper and lower hex",
        "1f\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n",
        "0123456789abcdef0123456789abcde", 42),
    CHK("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", 20),
    CHK("16 hex digits", "0000000000000002\r\nab\r\n0\r\n\r\n", "ab", 27),
    CHK("extensions", "2;a\r\nab\r\n2;a=b;c=\"d;e\"\r\ncd\r\n0;last\r\n\r\n",
        "abcd", 38),
    CHK("extensions with BWS", "2 ; a = b ;\tc=\"\\\"q\"\r\nab\r\n0\r\n\r\n",
        "ab", 30),
    CHK("trailers",
        "1\r\nx\r\n0\r\nExpires: never\r\nX-Sum:\r\nX-Tab:\ta b \r\n\r\n", "x",
        48),
    CHK("incomplete size", "5\r\nhel", "hel", 0),
    CHK("incomplete trailers", "0\r\nX: y\r\n", "", 0),
    CHK("incomplete extension", "5;name=\"val", "", 0),
    CHK_BAD("bad hex", "5g\r\nhello\r\n0\r\n\r\n"),
    CHK_BAD("no size", "\r\nhello\r\n"),
    CHK_BAD("leading space", " 5\r\nhello\r\n0\r\n\r\n"),
    CHK_BAD("sign", "+5\r\nhello\r\n"),
    CHK_BAD("0x prefix", "0x5\r\nhello\r\n"),
    CHK_BAD("trailing space without extension", "5 \r\nhello\r\n0\r\n\r\n"),
    CHK_BAD("bare LF after size", "5\nhello\r\n0\r\n\r\n"),
    CHK_BAD("bare CR after size", "5\rhello\r\n0\r\n\r\n"),
    CHK_BAD("no CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n"),
    CHK_BAD("bare LF after data", "5\r\nhello\n0\r\n\r\n"),
    CHK_BAD("data longer than size", "3\r\nhello\r\n0\r\n\r\n"),
    CHK_BAD("17 hex digits", "00000000000000001\r\nx\r\n0\r\n\r\n"),
    CHK_BAD("overflow", "10000000000000000\r\n"),
    CHK_BAD("empty extension", "5;\r\nhello\r\n"),
    CHK_BAD("extension no name", "5;=x\r\nhello\r\n"),
    CHK_BAD("extension empty value", "5;a=\r\nhello\r\n"),
    CHK_BAD("extension CTL", "5;a=\x01\r\nhello\r\n"),
    CHK_BAD("extension unclosed quote", "5;a=\"x\r\nhello\r\n"),
    CHK_BAD("extension after quote", "5;a=\"x\"y\r\nhello\r\n"),
    CHK_BAD("final bare LF", "0\r\n\n"),
    CHK_BAD("trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n"),
    CHK_BAD("trailer no colon", "0\r\nAb\r\n\r\n"),
    CHK_BAD("trailer space before colon", "0\r\nA : b\r\n\r\n"),
    CHK_BAD("trailer NUL", "0\r\nA: \0\r\n\r\n"),
    CHK_BAD("trailer bare LF", "0\r\nA: b\n\r\n"),
};

/* Step through p[0..len) until an error, the end of the body or of the
 * bytes: how many were consumed, or -1. */
static ssize_t step_all(struct http_chunked *c, const char *p, size_t len)
{
	size_t off = 0, n;
	const char *err;

	while (off < len && !c->done) {
		ssize_t r = http_chunked_step(c, p + off, len - off, &n, &err);

		if (r < 0)
			return -1;
		off += (size_t)r;
	}
	return (ssize_t)off;
}

/* Walk text in pieces: all at once (piece 0), piece bytes at a time, or
 * split once at `split`. Returns false on an error; fills payload. */
static bool walk(const char *text, size_t len, size_t piece, size_t split,
                 char *payload, size_t *npayload, size_t *consumed, bool *done)
{
	struct http_chunked c;
	size_t pos = 0;

	http_chunked_init(&c);
	*npayload = 0;
	while (pos < len && !c.done) {
		size_t avail = len - pos, n = 99;
		const char *err = NULL;
		ssize_t r;

		if (piece > 0 && avail > piece)
			avail = piece;
		if (split > 0 && pos < split && avail > split - pos)
			avail = split - pos;
		r = http_chunked_step(&c, text + pos, avail, &n, &err);
		if (r < 0) {
			assert_non_null(err);
			return false;
		}
		assert_true(r >= 1 && (size_t)r <= avail);
		assert_true(n == 0 || n == (size_t)r);
		memcpy(payload + *npayload, text + pos, n);
		*npayload += n;
		pos += (size_t)r;
	}
	*consumed = pos;
	*done = c.done;
	return true;
}

static void test_chunked(void **state)
{
	for (size_t i = 0; i < N(chunked_cases); i++) {
		const struct chunked_case *t = &chunked_cases[i];
		char payload[128];

		/* piece 0 = one piece, 1 = byte by byte, then every split. */
		for (size_t way = 0; way <= t->len + 1; way++) {
			size_t n = 0, consumed = 0;
			bool done = false;
			bool ok = walk(t->text, t->len, way < 2 ? way : 0,
			               way < 2 ? 0 : way - 1, payload, &n,
			               &consumed, &done);

			if (t->payload == NULL) {
				if (ok)
					fail_msg("%s (way %zu): accepted",
					         t->name, way);
				continue;
			}
			if (!ok)
				fail_msg("%s (way %zu): refused", t->name, way);
			assert_int_equal(n, strlen(t->payload));
			assert_memory_equal(payload, t->payload, n);
			assert_int_equal(done, t->consumed > 0);
			if (t->consumed > 0)
				assert_int_equal(consumed, t->consumed);
		}
	}
}

static void test_chunked_limits(void **state)
{
	struct http_chunked c;
	size_t n, len;
	const char *err;
	char *buf = malloc(HTTP_MAX_HEAD * 2);

	/* A size line of 4096 bytes is fine, one more is not. */
	len = (size_t)sprintf(buf, "1;e=");
	memset(buf + len, 'x', 4096 - len - 2);
	memcpy(buf + 4094, "\r\n", 2);
	http_chunked_init(&c);
	assert_int_equal(http_chunked_step(&c, buf, 4096, &n, &err), 4096);
	assert_int_equal(c.remaining, 1);
	len = (size_t)sprintf(buf, "1;e=");
	memset(buf + len, 'x', 4097 - len - 2);
	memcpy(buf + 4095, "\r\n", 2);
	http_chunked_init(&c);
	assert_int_equal(http_chunked_step(&c, buf, 4097, &n, &err), -1);
	/* Once failed, always failed. */
	assert_int_equal(http_chunked_step(&c, "0\r\n\r\n", 5, &n, &err), -1);

	/* Too many trailer fields. */
	len = (size_t)sprintf(buf, "0\r\n");
	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		len += (size_t)sprintf(buf + len, "T%d: v\r\n", i);
	http_chunked_init(&c);
	assert_int_equal(step_all(&c, buf, len), -1);

	/* A trailer section longer than HTTP_MAX_HEAD. */
	len = (size_t)sprintf(buf, "0\r\nT: ");
	memset(buf + len, 'v', HTTP_MAX_HEAD);
	http_chunked_init(&c);
	assert_int_equal(step_all(&c, buf, len + HTTP_MAX_HEAD), -1);

	/* The trailer section comes in calls of its own. */
	http_chunked_init(&c);
	assert_false(http_chunked_trailing(&c));
	assert_int_equal(
	    http_chunked_step(&c, "0\r\nT: v\r\n\r\nX", 12, &n, &err), 3);
	assert_true(http_chunked_trailing(&c));
	assert_int_equal(http_chunked_step(&c, "T: v\r\n\r\nX", 9, &n, &err),
	                 8);
	assert_true(c.done);
	assert_false(http_chunked_trailing(&c));

	/* The largest size (2^63-1, as Content-Length), and data handed out
	 * in pieces. */
	http_chunked_init(&c);
	assert_int_equal(
	    http_chunked_step(&c, "8000000000000000\r\n", 18, &n, &err), -1);
	http_chunked_init(&c);
	assert_int_equal(
	    http_chunked_step(&c, "7fffffffffffffff\r\nab", 20, &n, &err), 18);
	assert_int_equal(n, 0);
	assert_true(c.remaining == INT64_MAX);
	assert_int_equal(http_chunked_step(&c, "ab", 2, &n, &err), 2);
	assert_int_equal(n, 2);
	assert_true(c.remaining == INT64_MAX - 2);
	assert_false(c.done);
	/* Nothing to do for no bytes. */
	assert_int_equal(http_chunked_step(&c, "", 0, &n, &err), 0);
	free(buf);
}

/* Only the methods RFC 9110 calls idempotent may be sent twice. */
static void test_idempotent(void **state)
{
	static const struct {
		const char *method;
		bool idempotent;
	} methods[] = {
	    {"GET", true},     {"HEAD", true},   {"OPTIONS", true},
	    {"TRACE", true},   {"PUT", true},    {"DELETE", true},
	    {"POST", false},   {"PATCH", false}, {"LOCK", false},
	    {"get", false},    {"GETS", false},  {"DELET", false},
	};
	static struct http_head h;
	char buf[128];

	(void)state;
	for (size_t i = 0; i < N(methods); i++) {
		int n = snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\n" HOST_ONE
		                 "\r\n", methods[i].method);

		assert_int_equal(http_parse_request(buf, (size_t)n, &h), n);
		if (h.idempotent != methods[i].idempotent)
			fail_msg("%s: idempotent %d", methods[i].method,
			         h.idempotent);
	}
}

static void test_helpers(void **state)
{
	static const char buf[] = "Keep-Alive, UPGRADE ,,\tfoo bar , h2c";
	struct http_slice all = {0, sizeof(buf) - 1};
	struct http_slice ka = {0, 10};
	struct http_slice xff = {0, 15};

	assert_true(http_slice_eq(buf, ka, "keep-alive"));
	assert_false(http_slice_eq(buf, ka, "keep-aliv"));
	assert_false(http_slice_eq(buf, ka, "keep-alive,"));
	assert_true(http_name_starts(buf, ka, "keep-"));
	assert_true(http_name_starts(buf, ka, "keep-alive"));
	assert_false(http_name_starts(buf, ka, "keep-alive,"));
	assert_false(http_name_starts(buf, ka, "alive"));
	assert_true(http_name_starts("X_Forwarded_For", xff, "x-forwarded-"));
	assert_false(http_name_starts("X-Forwarded-For", xff, "x_forwarded_"));
	assert_true(http_list_has(buf, all, "keep-alive"));
	assert_true(http_list_has(buf, all, "upgrade"));
	assert_true(http_list_has(buf, all, "foo bar"));
	assert_true(http_list_has(buf, all, "h2c"));
	assert_false(http_list_has(buf, all, "foo"));
	assert_false(http_list_has(buf, all, ""));
	assert_false(http_list_has(buf, (struct http_slice){0, 0}, "x"));

	for (int s = 100; s < 600; s++) {
		const char *t = http_status_text(s);

		assert_non_null(t);
	}
	assert_string_equal(http_status_text(502), "Bad Gateway");
	assert_string_equal(http_status_text(431),
	                    "Request Header Fields Too Large");
	assert_string_equal(http_status_text(999), "");
	{
		static const int sent[] = {100, 101, 200, 301, 400, 401, 403,
		                           404, 408, 413, 417, 421, 431, 500,
		                           501, 502, 503, 504, 505};

		for (size_t i = 0; i < N(sent); i++)
			assert_true(http_status_text(sent[i])[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_requests),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_early_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_good_responses),
	    cmocka_unit_test(test_bad_responses),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_chunked_limits),
	    cmocka_unit_test(test_idempotent),
	    cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
