/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http_forward.c: a request or response head, parsed by
 * http.c, rewritten for the next hop; each case gives the head as it came
 * and exactly as it must leave.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "portier/http.h"
#include "portier/http_forward.h"

static struct http_head head;
static char out[HTTP_MAX_HEAD + HTTP_FORWARD_EXTRA + 1024];

/* One request rewrite. */
struct request_case {
	const char *name;
	const char *in;
	const char *client_ip;
	bool trusted;
	bool upgrade;
	bool drop_authorization;
	const char *host;
	const char *want;
};

static const struct request_case request_cases[] = {
    {"plain GET gets the forwarding fields; Host goes as written",
     "GET /a?b HTTP/1.1\r\nHost: App.Test:8080\r\nAccept: */*\r\n\r\n",
     "192.0.2.7", false, false, false, NULL,
     "GET /a?b HTTP/1.1\r\nHost: App.Test:8080\r\nAccept: */*\r\n"
     "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: app.test:8080\r\n"
     "Forwarded: for=192.0.2.7;host=\"app.test:8080\";proto=http\r\n"
     "\r\n"},
    {"hop-by-hop fields and the ones Connection names are dropped",
     "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\n"
     "Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X\r\n"
     "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n"
     "Upgrade: websocket\r\nX-Secret: 1\r\nX-Kept: 2\r\n\r\n",
     "127.0.0.1", false, false, false, NULL,
     "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: 2\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: a\r\n"
     "Forwarded: for=127.0.0.1;host=\"a\";proto=http\r\n\r\n"},
    {"an untrusted client's forwarding fields are replaced",
     "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n"
     "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n"
     "Forwarded: for=6.6.6.6\r\n\r\n",
     "127.0.0.1", false, false, false, NULL,
     "GET / HTTP/1.1\r\nHost: a\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: a\r\n"
     "Forwarded: for=127.0.0.1;host=\"a\";proto=http\r\n\r\n"},
    {"a trusted proxy's chain is extended, its proto and host kept",
     "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.1\r\n"
     "X-Forwarded-For: 198.51.100.2\r\nX-Forwarded-Proto: https\r\n"
     "X-Forwarded-Host: outer.test\r\nForwarded: for=198.51.100.1\r\n\r\n",
     "127.0.0.1", true, false, false, NULL,
     "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n"
     "X-Forwarded-Host: outer.test\r\n"
     "X-Forwarded-For: 198.51.100.1, 198.51.100.2, 127.0.0.1\r\n"
     "Forwarded: for=198.51.100.1, for=127.0.0.1;host=\"a\";proto=http\r\n"
     "\r\n"},
    {"IPv6 client: quoted and bracketed in Forwarded",
     "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "2001:db8::1", false, false,
     false, NULL,
     "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 2001:db8::1\r\n"
     "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n"
     "Forwarded: for=\"[2001:db8::1]\";host=\"a\";proto=http\r\n\r\n"},
    {"absolute form: origin form out, its authority as Host",
     "GET http://b.test:81/x?y HTTP/1.1\r\nHost: a\r\n\r\n", "127.0.0.1",
     false, false, false, NULL,
     "GET /x?y HTTP/1.1\r\nHost: b.test:81\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: b.test:81\r\n"
     "Forwarded: for=127.0.0.1;host=\"b.test:81\";proto=http\r\n\r\n"},
    {"absolute form with a query only gets its slash",
     "GET http://b.test?q HTTP/1.1\r\nHost: b.test\r\n\r\n", "127.0.0.1",
     false, false, false, NULL,
     "GET /?q HTTP/1.1\r\nHost: b.test\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: b.test\r\n"
     "Forwarded: for=127.0.0.1;host=\"b.test\";proto=http\r\n\r\n"},
    {"host_header: the Host given replaces the client's",
     "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", "127.0.0.1", false, false,
     false, "127.0.0.1:3000",
     "GET / HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: a.test\r\n"
     "Forwarded: for=127.0.0.1;host=\"a.test\";proto=http\r\n\r\n"},
    {"an upgrade keeps Upgrade and says Connection: upgrade",
     "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
     "Upgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n",
     "127.0.0.1", false, true, false, NULL,
     "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
     "Sec-WebSocket-Key: k\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: a\r\n"
     "Forwarded: for=127.0.0.1;host=\"a\";proto=http\r\n"
     "Connection: upgrade\r\n\r\n"},
    {"checked credentials are not forwarded; framing fields are",
     "POST /p HTTP/1.1\r\nHost: a\r\nAuthorization: Basic eDp5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     "127.0.0.1", false, false, true, NULL,
     "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: a\r\n"
     "Forwarded: for=127.0.0.1;host=\"a\";proto=http\r\n\r\n"},
    {"chunked in split field lines with empty elements: one canonical line",
     "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nX: 1\r\n"
     "Transfer-Encoding: Chunked,\r\n\r\n",
     "127.0.0.1", false, false, false, NULL,
     "POST /p HTTP/1.1\r\nHost: a\r\nX: 1\r\nTransfer-Encoding: chunked\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: a\r\n"
     "Forwarded: for=127.0.0.1;host=\"a\";proto=http\r\n\r\n"},
    {"an untrusted client's X_Forwarded_* (read by CGI as X-Forwarded-*)",
     "GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\n"
     "X-Forwarded_Proto: https\r\nX_Other: 1\r\n\r\n",
     "127.0.0.1", false, false, false, NULL,
     "GET / HTTP/1.1\r\nHost: a\r\nX_Other: 1\r\n"
     "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
     "X-Forwarded-Host: a\r\n"
     "Forwarded: for=127.0.0.1;host=\"a\";proto=http\r\n\r\n"},
    {"HTTP/1.0 without Host: the Host given, no host in Forwarded",
     "GET / HTTP/1.0\r\n\r\n", "127.0.0.1", false, false, false,
     "127.0.0.1:3000",
     "GET / HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n"
     "X-Forwarded-For: 127.0.0.1\r\n"
     "X-Forwarded-Proto: http\r\nForwarded: for=127.0.0.1;proto=http\r\n"
     "\r\n"},
};

/* One response rewrite. */
struct response_case {
	const char *name;
	const char *in;
	bool head_request;
	struct http_forward_response how;
	const char *want;
};

static const struct response_case response_cases[] = {
    {"keep-alive: hop-by-hop dropped, nothing added",
     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-A"
     "\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
     false, {0},
     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-B: 2\r\n\r\n"},
    {"closing: Connection: close",
     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false,
     {.close = true},
     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
     "Connection: close\r\n\r\n"},
    {"an HTTP/1.0 client that stays: keep-alive said",
     "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n"
     "\r\n",
     false, {.keep_alive_10 = true},
     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
     "Connection: keep-alive\r\n\r\n"},
    {"de-chunked for HTTP/1.0: Transfer-Encoding dropped",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n", false,
     {.close = true, .dechunk = true},
     "HTTP/1.1 200 OK\r\nX: y\r\nConnection: close\r\n\r\n"},
    {"chunked in split field lines with empty elements: one canonical line",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\nX: y\r\n"
     "Transfer-Encoding: ,\r\n\r\n",
     false, {0},
     "HTTP/1.1 200 OK\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n"},
    {"a HEAD response: no body, no Transfer-Encoding",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n", true,
     {0}, "HTTP/1.1 200 OK\r\nX: y\r\n\r\n"},
    {"101: Upgrade kept, Connection: upgrade",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Connection: Upgrade\r\nSec-WebSocket-Accept: z\r\n\r\n",
     false, {.upgrade = true},
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Sec-WebSocket-Accept: z\r\nConnection: upgrade\r\n\r\n"},
    {"an empty reason stays empty",
     "HTTP/1.1 204 \r\n\r\n", false, {0}, "HTTP/1.1 204 \r\n\r\n"},
};

static void test_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(request_cases) / sizeof(request_cases[0]);
	     i++) {
		const struct request_case *c = &request_cases[i];
		struct http_forward_request how = {
		    .client_ip = c->client_ip,
		    .trusted = c->trusted,
		    .upgrade = c->upgrade,
		    .drop_authorization = c->drop_authorization,
		    .host = c->host,
		};
		ssize_t n;

		print_message("request: %s\n", c->name);
		assert_true(http_parse_request(c->in, strlen(c->in), &head) > 0);
		n = http_forward_request(out, sizeof(out), c->in, &head, &how);
		assert_true(n > 0);
		out[n] = '\0';
		assert_string_equal(out, c->want);
		/* What portier sends parses as the same request. */
		assert_true(http_parse_request(out, (size_t)n, &head) == n);
	}
}

static void test_responses(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(response_cases) / sizeof(response_cases[0]); i++) {
		const struct response_case *c = &response_cases[i];
		ssize_t n;

		print_message("response: %s\n", c->name);
		assert_true(http_parse_response(c->in, strlen(c->in),
		                                c->head_request, &head) > 0);
		n = http_forward_response(out, sizeof(out), c->in, &head,
		                          &c->how);
		assert_true(n > 0);
		out[n] = '\0';
		assert_string_equal(out, c->want);
	}
}

static void test_small_buffer(void **state)
{
	const char *in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_forward_request how = {.client_ip = "127.0.0.1"};
	char small[64];

	(void)state;
	assert_true(http_parse_request(in, strlen(in), &head) > 0);
	/* Below the bound: refused, nothing written past the end. */
	assert_int_equal(
	    http_forward_request(small, sizeof(small), in, &head, &how), -1);
	assert_true(http_forward_bound(&head) <= HTTP_MAX_HEAD +
	                                             HTTP_FORWARD_EXTRA);
	/* No host anywhere: refused rather than an HTTP/1.1 without Host. */
	in = "GET / HTTP/1.0\r\n\r\n";
	assert_true(http_parse_request(in, strlen(in), &head) > 0);
	assert_int_equal(
	    http_forward_request(out, sizeof(out), in, &head, &how), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
