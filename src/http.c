/* SPDX-License-Identifier: MIT */
/*
 * The strict HTTP/1.1 parser: request and response heads (RFC 9112
 * sections 2 to 6, with the field rules of RFC 9110) and the chunked
 * transfer coding. A head is checked in two passes: a memchr scan that
 * finds its end and rejects bare CR and LF (cheap enough to repeat on every
 * read while the head is incomplete), then a full parse of the complete
 * head that fills struct http_head and decides the body's framing. The
 * chunked walk is a byte-at-a-time state machine so that it can be fed any
 * split of the body. Nothing here allocates.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "portier/http.h"

/* Longest chunk size line, extensions and CRLF included. */
#define HTTP_CHUNK_LINE_MAX 4096

/* Character classes of http_ctype, one bit each. */
#define C_TCHAR  0x01 /* token: methods, field names, codings */
#define C_VALUE  0x02 /* field value: HTAB, SP, VCHAR, obs-text */
#define C_TARGET 0x04 /* request-target: VCHAR but '#' */
#define C_HOST   0x08 /* reg-name: unreserved, sub-delims */
#define C_HEX    0x10
#define C_QDTEXT 0x20 /* quoted-string text */
#define C_DIGIT  0x40

/* The classes written as the RFCs define them; the table below is made
 * from these at compile time. */
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_HEX(c)                                                              \
	(IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') ||                          \
	 ((c) >= 'A' && (c) <= 'F'))
#define IS_VCHAR(c) ((c) >= 0x21 && (c) <= 0x7e)
#define IS_TCHAR(c)                                                            \
	(IS_DIGIT(c) || IS_ALPHA(c) || (c) == '!' || (c) == '#' ||             \
	 (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' ||              \
	 (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' || \
	 (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
#define IS_VALUE(c) ((c) == '\t' || (c) == ' ' || IS_VCHAR(c) || (c) >= 0x80)
#define IS_HOST(c)                                                             \
	(IS_DIGIT(c) || IS_ALPHA(c) || (c) == '-' || (c) == '.' ||             \
	 (c) == '_' || (c) == '~' || (c) == '!' || (c) == '$' || (c) == '&' || \
	 (c) == '\'' || (c) == '(' || (c) == ')' || (c) == '*' ||              \
	 (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=')
#define IS_QDTEXT(c)                                                           \
	((c) == '\t' || (c) == ' ' || (c) == 0x21 ||                           \
	 ((c) >= 0x23 && (c) <= 0x5b) || ((c) >= 0x5d && (c) <= 0x7e) ||       \
	 (c) >= 0x80)
#define CLASS(c)                                                               \
	((IS_TCHAR(c) ? C_TCHAR : 0) | (IS_VALUE(c) ? C_VALUE : 0) |           \
	 (IS_VCHAR(c) && (c) != '#' ? C_TARGET : 0) |                          \
	 (IS_HOST(c) ? C_HOST : 0) | (IS_HEX(c) ? C_HEX : 0) |                 \
	 (IS_QDTEXT(c) ? C_QDTEXT : 0) | (IS_DIGIT(c) ? C_DIGIT : 0))
#define ROW4(c)  CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define ROW16(c) ROW4(c), ROW4((c) + 4), ROW4((c) + 8), ROW4((c) + 12)
#define ROW64(c) ROW16(c), ROW16((c) + 16), ROW16((c) + 32), ROW16((c) + 48)

static const uint8_t http_ctype[256] = {ROW64(0), ROW64(64), ROW64(128),
                                        ROW64(192)};

/* Header names the parser knows, lower-case, and their kinds. */
#define HTTP_FIELDS(X)                                                         \
	X("host", HTTP_F_HOST)                                                 \
	X("content-length", HTTP_F_CONTENT_LENGTH)                             \
	X("transfer-encoding", HTTP_F_TRANSFER_ENCODING)                       \
	X("connection", HTTP_F_CONNECTION)                                     \
	X("keep-alive", HTTP_F_KEEP_ALIVE)                                     \
	X("upgrade", HTTP_F_UPGRADE)                                           \
	X("expect", HTTP_F_EXPECT)                                             \
	X("te", HTTP_F_TE)                                                     \
	X("trailer", HTTP_F_TRAILER)                                           \
	X("proxy-authorization", HTTP_F_PROXY_AUTHORIZATION)                   \
	X("proxy-authenticate", HTTP_F_PROXY_AUTHENTICATE)                     \
	X("x-forwarded-for", HTTP_F_X_FORWARDED_FOR)                           \
	X("x-forwarded-proto", HTTP_F_X_FORWARDED_PROTO)                       \
	X("x-forwarded-host", HTTP_F_X_FORWARDED_HOST)                         \
	X("forwarded", HTTP_F_FORWARDED)                                       \
	X("authorization", HTTP_F_AUTHORIZATION)

/* One bit per length of a known name (all are shorter than 32): most
 * names are of none of them, and need no comparison at all. */
#define FIELD_LENGTH_BIT(name, kind) | (UINT32_C(1) << (sizeof(name) - 1))
static const uint32_t http_field_lengths = 0 HTTP_FIELDS(FIELD_LENGTH_BIT);

/* Reason phrases of the status codes a proxy sends or relays. */
static const char *const http_reasons[600] = {
    [100] = "Continue",
    [101] = "Switching Protocols",
    [103] = "Early Hints",
    [200] = "OK",
    [201] = "Created",
    [202] = "Accepted",
    [203] = "Non-Authoritative Information",
    [204] = "No Content",
    [205] = "Reset Content",
    [206] = "Partial Content",
    [300] = "Multiple Choices",
    [301] = "Moved Permanently",
    [302] = "Found",
    [303] = "See Other",
    [304] = "Not Modified",
    [307] = "Temporary Redirect",
    [308] = "Permanent Redirect",
    [400] = "Bad Request",
    [401] = "Unauthorized",
    [403] = "Forbidden",
    [404] = "Not Found",
    [405] = "Method Not Allowed",
    [406] = "Not Acceptable",
    [407] = "Proxy Authentication Required",
    [408] = "Request Timeout",
    [409] = "Conflict",
    [410] = "Gone",
    [411] = "Length Required",
    [412] = "Precondition Failed",
    [413] = "Content Too Large",
    [414] = "URI Too Long",
    [415] = "Unsupported Media Type",
    [416] = "Range Not Satisfiable",
    [417] = "Expectation Failed",
    [421] = "Misdirected Request",
    [422] = "Unprocessable Content",
    [425] = "Too Early",
    [426] = "Upgrade Required",
    [428] = "Precondition Required",
    [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
    [500] = "Internal Server Error",
    [501] = "Not Implemented",
    [502] = "Bad Gateway",
    [503] = "Service Unavailable",
    [504] = "Gateway Timeout",
    [505] = "HTTP Version Not Supported"};

/* States of a chunked walk (struct http_chunked.state); 0 is the start. */
enum chunk_state {
	CH_SIZE_START,      /* first hex digit of a chunk size */
	CH_SIZE,            /* more hex digits */
	CH_EXT_WS,          /* BWS that must lead to ';' */
	CH_EXT_NAME_START,  /* after ';' */
	CH_EXT_NAME,        /* in an extension name */
	CH_EXT_NAME_WS,     /* BWS after a name: '=' or ';' follows */
	CH_EXT_VALUE_START, /* after '=' */
	CH_EXT_TOKEN,       /* in a token value */
	CH_EXT_QUOTED,      /* in a quoted-string value */
	CH_EXT_QPAIR,       /* after a backslash in it */
	CH_EXT_QUOTED_END,  /* after its closing quote */
	CH_SIZE_LF,         /* the LF of the size line */
	CH_DATA,            /* chunk data */
	CH_DATA_CR,         /* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER_START, /* a trailer field or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_ERROR,
};

/* One head being parsed. */
struct parser {
	const char *buf;
	struct http_head *h;
	size_t line1;      /* offset of the CR that ends the start line */
	size_t end;        /* offset after the head's empty line */
	int bad;           /* status of a malformed head: 400 or 502 */
	int big;           /* status of a head over a limit: 431 or 502 */
	bool chunked;      /* Transfer-Encoding: chunked is the final coding */
	bool te_1_0;       /* Transfer-Encoding in an HTTP/1.0 message */
	int ncodings;      /* transfer codings listed */
	int nchunked;      /* of which "chunked" */
	int nhost;         /* Host fields */
	size_t host_field; /* index of the last one */
};

static bool ctype(unsigned char c, uint8_t cls);
static unsigned char to_lower(unsigned char c);
static bool ieq(const char *a, const char *b, size_t n);
static bool is_ows(char c);
static ssize_t fail(struct http_head *h, int status, const char *why);
static ssize_t head_scan(struct parser *ps, size_t len, size_t from);
static ssize_t request_line(struct parser *ps, size_t s, size_t e);
static ssize_t request_target(struct parser *ps, size_t s, size_t n);
static bool method_idempotent(const char *m, size_t n);
static const char *authority(const char *p, size_t n, bool need_port,
                             char *host, uint16_t *port);
static ssize_t status_line(struct parser *ps, size_t s, size_t e);
static ssize_t field_lines(struct parser *ps, size_t pos);
static uint8_t field_kind(const char *name, size_t n);
static bool value_chars(const char *b, size_t s, size_t e);
static ssize_t field_values(struct parser *ps);
static bool parse_length(const char *b, struct http_slice v, uint64_t *out);
static bool parse_codings(struct parser *ps, struct http_slice v);
static size_t quoted_end(const char *b, size_t i, size_t e);
static void connection_options(struct parser *ps, struct http_slice value,
                               bool *close, bool *keep, bool *upgrade);
static bool list_has(const char *buf, struct http_slice value, const char *tok,
                     size_t n);
static ssize_t request_framing(struct parser *ps);
static ssize_t response_framing(struct parser *ps, bool head_request);
static const char *chunk_byte(struct http_chunked *c, unsigned char ch);
static bool chunk_ext(struct http_chunked *c, unsigned char ch);

ssize_t http_parse_request(const char *buf, size_t len, struct http_head *head)
{
	struct parser ps = {.buf = buf, .h = head, .bad = 400, .big = 431};
	size_t start = 0;
	ssize_t r;

	memset(head, 0, sizeof(*head));
	if (len == 0)
		return 0;
	/* RFC 9112 2.2: empty lines before the request line are skipped. */
	while (start + 2 <= len && start + 2 <= HTTP_MAX_HEAD &&
	       buf[start] == '\r' && buf[start + 1] == '\n')
		start += 2;
	r = head_scan(&ps, len, start);
	if (r < 0)
		return -1;
	if (r == 0) {
		/* Say early what can be said: a bad request line, or a first
		 * word that is no method (TLS or binary bytes). */
		size_t n = len - start < 16 ? len - start : 16;

		if (ps.line1 > 0)
			return request_line(&ps, start, ps.line1) < 0 ? -1 : 0;
		for (size_t i = start; i < start + n && buf[i] != ' '; i++)
			if (!ctype(buf[i], C_TCHAR) && buf[i] != '\r')
				return fail(head, 400, "invalid method");
		if (n > 0 && buf[start] == ' ')
			return fail(head, 400, "invalid method");
		return 0;
	}
	if (request_line(&ps, start, ps.line1) < 0 ||
	    field_lines(&ps, ps.line1 + 2) < 0 || field_values(&ps) < 0 ||
	    request_framing(&ps) < 0)
		return -1;
	return (ssize_t)ps.end;
}

ssize_t http_parse_response(const char *buf, size_t len, bool head_request,
                            struct http_head *head)
{
	struct parser ps = {.buf = buf, .h = head, .bad = 502, .big = 502};
	size_t n = len < 7 ? len : 7;
	ssize_t r;

	memset(head, 0, sizeof(*head));
	if (len == 0)
		return 0;
	r = head_scan(&ps, len, 0);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (memcmp(buf, "HTTP/1.", n) != 0)
			return fail(head, 502, "malformed status line");
		if (ps.line1 > 0)
			return status_line(&ps, 0, ps.line1) < 0 ? -1 : 0;
		return 0;
	}
	if (status_line(&ps, 0, ps.line1) < 0 ||
	    field_lines(&ps, ps.line1 + 2) < 0 || field_values(&ps) < 0 ||
	    response_framing(&ps, head_request) < 0)
		return -1;
	return (ssize_t)ps.end;
}

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
}

ssize_t http_chunked_step(struct http_chunked *c, const char *p, size_t len,
                          size_t *data, const char **error)
{
	const char *why = "chunked body already failed";

	*data = 0;
	if (c->state == CH_ERROR)
		goto err;
	if (c->done || len == 0)
		return 0;
	if (c->state == CH_DATA) {
		size_t n = len < c->remaining ? len : (size_t)c->remaining;

		c->remaining -= n;
		if (c->remaining == 0)
			c->state = CH_DATA_CR;
		*data = n;
		return (ssize_t)n;
	}
	for (size_t i = 0; i < len; i++) {
		if ((why = chunk_byte(c, (unsigned char)p[i])) != NULL)
			goto err;
		if (c->state == CH_DATA || c->done ||
		    (c->state == CH_TRAILER_START && c->ntrailers == 0 &&
		     c->trailers == 0))
			return (ssize_t)(i + 1);
	}
	return (ssize_t)len;
err:
	c->state = CH_ERROR;
	if (error != NULL)
		*error = why;
	return -1;
}

bool http_chunked_trailing(const struct http_chunked *c)
{
	return c->state >= CH_TRAILER_START && c->state <= CH_FINAL_LF;
}

bool http_slice_eq(const char *buf, struct http_slice s, const char *lower)
{
	size_t n = strlen(lower);

	return s.len == n && ieq(buf + s.off, lower, n);
}

bool http_name_starts(const char *buf, struct http_slice name,
                      const char *lower)
{
	size_t n = strlen(lower);

	if (name.len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = to_lower((unsigned char)buf[name.off + i]);

		if (c != (unsigned char)lower[i] &&
		    !(c == '_' && lower[i] == '-'))
			return false;
	}
	return true;
}

bool http_list_has(const char *buf, struct http_slice value, const char *lower)
{
	return list_has(buf, value, lower, strlen(lower));
}

const char *http_status_text(int status)
{
	if (status < 0 || status >= 600 || http_reasons[status] == NULL)
		return "";
	return http_reasons[status];
}

/* True when c belongs to one of the classes in cls. */
static bool ctype(unsigned char c, uint8_t cls)
{
	return (http_ctype[c] & cls) != 0;
}

/* ASCII lower case. */
static unsigned char to_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* Compare a[0..n) with b[0..n) ignoring ASCII case. */
static bool ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (to_lower((unsigned char)a[i]) !=
		    to_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Optional whitespace: SP or HTAB. */
static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Record why parsing failed; returns -1. */
static ssize_t fail(struct http_head *h, int status, const char *why)
{
	h->error_status = status;
	h->error = why;
	return -1;
}

/*
 * Find the end of the head that starts at buf[from]: sets ps->end and
 * returns 1 when its empty line is there, 0 when more bytes are needed, -1
 * on a bare CR or LF or a limit exceeded. Sets ps->line1 once the start
 * line is complete. Only memchr runs over the bytes.
 */
static ssize_t head_scan(struct parser *ps, size_t len, size_t from)
{
	const char *b = ps->buf;
	size_t lim = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	size_t pos = from, lines = 0;

	for (;;) {
		const char *nl = memchr(b + pos, '\n', lim - pos);
		size_t e = nl != NULL ? (size_t)(nl - b) : lim;
		const char *cr = memchr(b + pos, '\r', e - pos);

		if (nl == NULL) {
			if (cr != NULL && cr + 1 < b + lim)
				return fail(ps->h, ps->bad, "bare CR in head");
			if (len >= HTTP_MAX_HEAD && lines == 0 && pos < lim &&
			    ps->big == 431)
				return fail(ps->h, 414,
				            "request line too long");
			if (len >= HTTP_MAX_HEAD)
				return fail(ps->h, ps->big, "head too long");
			return 0;
		}
		if (e == pos || b[e - 1] != '\r')
			return fail(ps->h, ps->bad, "bare LF in head");
		if (cr != b + e - 1)
			return fail(ps->h, ps->bad, "bare CR in head");
		if (e - 1 == pos) {
			if (lines == 0)
				return fail(ps->h, ps->bad, "empty start line");
			ps->end = e + 1;
			return 1;
		}
		if (lines++ == 0)
			ps->line1 = e - 1;
		else if (lines > HTTP_MAX_HEADERS + 1)
			return fail(ps->h, ps->big, "too many header fields");
		pos = e + 1;
	}
}

/* Parse the request line b[s..e): method SP request-target SP version. */
static ssize_t request_line(struct parser *ps, size_t s, size_t e)
{
	const char *b = ps->buf;
	struct http_head *h = ps->h;
	size_t i = s, t;
	const char *v;

	while (i < e && ctype(b[i], C_TCHAR))
		i++;
	if (i == s || i == e || b[i] != ' ')
		return fail(h, 400, "invalid method");
	h->method = (struct http_slice){(uint32_t)s, (uint32_t)(i - s)};
	t = ++i;
	while (i < e && ctype(b[i], C_TARGET))
		i++;
	if (i == t)
		return fail(h, 400, "invalid request target");
	if (i == e)
		return fail(h, 400, "no HTTP version");
	if (b[i] != ' ')
		return fail(h, 400,
		            b[i] == '#' ? "fragment in request target"
		                        : "invalid request target");
	h->target = (struct http_slice){(uint32_t)t, (uint32_t)(i - t)};
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
	v = b + i + 1;
	if (e - i - 1 != 8 || memcmp(v, "HTTP/", 5) != 0 || !IS_DIGIT(v[5]) ||
	    v[6] != '.' || !IS_DIGIT(v[7]))
		return fail(h, 400, "invalid HTTP version");
	if (v[5] != '1')
		return fail(h, 505, "unsupported HTTP version");
	/* HTTP/1.2 and later minor versions are read as the highest one
	 * implemented (RFC 9110 section 2.5). */
	h->version_minor = v[7] == '0' ? 0 : 1;
	/* Methods are case-sensitive. */
	h->method_head = h->method.len == 4 && memcmp(b + s, "HEAD", 4) == 0;
	h->method_connect =
	    h->method.len == 7 && memcmp(b + s, "CONNECT", 7) == 0;
	h->idempotent = method_idempotent(b + s, h->method.len);
	return request_target(ps, t, i - t);
}

/* True for the methods whose repetition has the effect of one request
 * (RFC 9110 section 9.2.2), the only ones a proxy may send again. */
static bool method_idempotent(const char *m, size_t n)
{
	static const char *const names[] = {"GET",   "HEAD", "OPTIONS",
	                                    "TRACE", "PUT",  "DELETE"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && memcmp(m, names[i], n) == 0)
			return true;
	return false;
}

/* Classify the request target b[s..s+n) and take its path and host. */
static ssize_t request_target(struct parser *ps, size_t s, size_t n)
{
	const char *b = ps->buf + s;
	struct http_head *h = ps->h;
	const char *why;
	size_t a, e;

	if (h->method_connect) {
		/* authority-form, and only for CONNECT */
		why = authority(b, n, true, h->host, &h->host_port);
		return why != NULL ? fail(h, 400, why) : 0;
	}
	if (b[0] == '/') {
		h->path = h->target;
		return 0;
	}
	if (b[0] == '*') {
		if (n != 1 || h->method.len != 7 ||
		    memcmp(ps->buf + h->method.off, "OPTIONS", 7) != 0)
			return fail(h, 400, "invalid request target");
		return 0;
	}
	if (n > 7 && ieq(b, "http://", 7))
		a = 7;
	else if (n > 8 && ieq(b, "https://", 8))
		a = 8;
	else
		return fail(h, 400, "invalid request target");
	for (e = a; e < n && b[e] != '/' && b[e] != '?'; e++)
		;
	why = authority(b + a, e - a, false, h->host, &h->host_port);
	if (why != NULL)
		return fail(h, 400, why);
	h->absolute_form = true;
	h->path = (struct http_slice){(uint32_t)(s + e), (uint32_t)(n - e)};
	return 0;
}

/*
 * Check an authority p[0..n) of the form host [":" port], host being a
 * reg-name or an IPv6 literal in brackets, and store the host lower-cased
 * in host[256] and the port in *port (0 when there is none). Returns NULL
 * when it is valid, else what is wrong.
 */
static const char *authority(const char *p, size_t n, bool need_port,
                             char *host, uint16_t *port)
{
	size_t i = 0, hostlen;
	unsigned v = 0;

	if (memchr(p, '@', n) != NULL)
		return "userinfo in authority";
	if (n > 0 && p[0] == '[') {
		const char *rb = memchr(p, ']', n);
		struct in6_addr a6;
		char lit[INET6_ADDRSTRLEN];

		if (rb == NULL || (size_t)(rb - p) - 1 >= sizeof(lit))
			return "invalid IPv6 literal";
		memcpy(lit, p + 1, (size_t)(rb - p) - 1);
		lit[rb - p - 1] = '\0';
		if (inet_pton(AF_INET6, lit, &a6) != 1)
			return "invalid IPv6 literal";
		i = (size_t)(rb - p) + 1;
		if (i < n && p[i] != ':')
			return "invalid authority";
	}
	for (; i < n && p[i] != ':'; i++) {
		if (p[i] == '%' && i + 2 < n && ctype(p[i + 1], C_HEX) &&
		    ctype(p[i + 2], C_HEX))
			i += 2;
		else if (!ctype(p[i], C_HOST))
			return "invalid character in host";
	}
	hostlen = i;
	if (hostlen == 0)
		return "empty host";
	if (hostlen > 255)
		return "host too long";
	if (i < n) {
		if (n - ++i > 5)
			return "invalid port";
		for (; i < n; i++) {
			if (!IS_DIGIT(p[i]))
				return "invalid port";
			v = v * 10 + (unsigned)(p[i] - '0');
		}
		if (v > 65535 || (v == 0 && p[n - 1] != ':'))
			return "invalid port";
	}
	if (v == 0 && need_port)
		return "no port in authority";
	for (i = 0; i < hostlen; i++)
		host[i] = (char)to_lower((unsigned char)p[i]);
	host[hostlen] = '\0';
	*port = (uint16_t)v;
	return NULL;
}

/* Parse the status line b[s..e): version SP 3DIGIT [SP reason]. */
static ssize_t status_line(struct parser *ps, size_t s, size_t e)
{
	const char *b = ps->buf + s;
	struct http_head *h = ps->h;
	size_t n = e - s;

	if (n < 12 || memcmp(b, "HTTP/1.", 7) != 0 ||
	    (b[7] != '0' && b[7] != '1') || b[8] != ' ' || !IS_DIGIT(b[9]) ||
	    !IS_DIGIT(b[10]) || !IS_DIGIT(b[11]) || (n > 12 && b[12] != ' '))
		return fail(h, 502, "malformed status line");
	h->version_minor = b[7] - '0';
	h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	if (h->status < 100 || h->status > 599)
		return fail(h, 502, "status code out of range");
	for (size_t i = 13; i < n; i++)
		if (!ctype(b[i], C_VALUE))
			return fail(h, 502, "invalid reason phrase");
	h->reason.off = (uint32_t)(n > 12 ? s + 13 : e);
	h->reason.len = (uint32_t)(n > 12 ? n - 13 : 0);
	return 0;
}

/* Split the field lines from pos to the empty line into head->headers. */
static ssize_t field_lines(struct parser *ps, size_t pos)
{
	const char *b = ps->buf;
	struct http_head *h = ps->h;

	for (;;) {
		const char *cr = memchr(b + pos, '\r', ps->end - pos);
		size_t e = (size_t)(cr - b), i = pos, vs, ve;
		struct http_header *f;

		if (e == pos)
			return 0;
		if (is_ows(b[pos]))
			return fail(h, ps->bad, "obs-fold");
		if (h->nheaders == HTTP_MAX_HEADERS)
			return fail(h, ps->big, "too many header fields");
		while (i < e && ctype(b[i], C_TCHAR))
			i++;
		if (i == e || b[i] != ':')
			return fail(h, ps->bad, "invalid field name");
		if (i == pos)
			return fail(h, ps->bad, "empty field name");
		if (!value_chars(b, i + 1, e))
			return fail(h, ps->bad,
			            "invalid character in field value");
		for (vs = i + 1; vs < e && is_ows(b[vs]); vs++)
			;
		for (ve = e; ve > vs && is_ows(b[ve - 1]); ve--)
			;
		f = &h->headers[h->nheaders];
		f->name =
		    (struct http_slice){(uint32_t)pos, (uint32_t)(i - pos)};
		f->value =
		    (struct http_slice){(uint32_t)vs, (uint32_t)(ve - vs)};
		h->kind[h->nheaders++] = field_kind(b + pos, i - pos);
		pos = e + 2;
	}
}

/* The enum http_field of a field name. */
static uint8_t field_kind(const char *name, size_t n)
{
#define FIELD_TEST(lower, kind)                                                \
	if (n == sizeof(lower) - 1 && ieq(name, lower, n))                     \
		return kind;

	if (n < 32 && (http_field_lengths >> n & 1) != 0) {
		HTTP_FIELDS(FIELD_TEST)
	}
#undef FIELD_TEST
	if (n > 6 && ieq(name, "proxy-", 6))
		return HTTP_F_PROXY_CONNECTION;
	return HTTP_F_OTHER;
}

/*
 * True when b[s..e) holds field-value bytes only (HTAB, SP, VCHAR,
 * obs-text). Eight bytes at a time: a word with a byte below 0x20 or a DEL
 * (a tab, or an error) is looked at byte by byte.
 */
static bool value_chars(const char *b, size_t s, size_t e)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t highs = UINT64_C(0x8080808080808080);
	size_t i = s;

	for (; e - i >= 8; i += 8) {
		uint64_t x, del;

		memcpy(&x, b + i, 8);
		del = x ^ (0x7f * ones);
		if ((((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) &
		    highs)
			break;
	}
	for (; i < e; i++)
		if (!ctype(b[i], C_VALUE))
			return false;
	return true;
}

/* Check the values of the fields that frame or route the message, and set
 * the flags of struct http_head that they decide. */
static ssize_t field_values(struct parser *ps)
{
	const char *b = ps->buf;
	struct http_head *h = ps->h;
	bool close = false, keep = false, upgrade = false, expect = true;
	int ncl = 0;

	for (size_t k = 0; k < h->nheaders; k++) {
		struct http_slice v = h->headers[k].value;

		switch (h->kind[k]) {
		case HTTP_F_HOST:
			ps->nhost++;
			ps->host_field = k;
			break;
		case HTTP_F_CONTENT_LENGTH:
			if (ncl++ > 0)
				return fail(h, ps->bad,
				            "more than one Content-Length");
			if (!parse_length(b, v, &h->content_length))
				return fail(h, ps->bad,
				            "invalid Content-Length");
			break;
		case HTTP_F_TRANSFER_ENCODING:
			if (!parse_codings(ps, v))
				return fail(h, ps->bad,
				            "invalid Transfer-Encoding");
			break;
		case HTTP_F_CONNECTION:
			connection_options(ps, v, &close, &keep, &upgrade);
			break;
		case HTTP_F_UPGRADE:
			h->upgrade_h2c |= list_has(b, v, "h2c", 3);
			break;
		case HTTP_F_EXPECT:
			expect &= http_slice_eq(b, v, "100-continue");
			break;
		}
	}
	for (size_t k = 0; k < h->nheaders; k++)
		h->seen |= 1u << h->kind[k];
	if ((h->seen & (1u << HTTP_F_TRANSFER_ENCODING)) != 0 && ncl > 0)
		return fail(h, ps->bad,
		            "Transfer-Encoding with Content-Length");
	if ((h->seen & (1u << HTTP_F_TRANSFER_ENCODING)) != 0 &&
	    ps->ncodings == 0)
		return fail(h, ps->bad, "empty Transfer-Encoding");
	if (ps->nchunked > 1)
		return fail(h, ps->bad, "chunked applied twice");
	ps->te_1_0 = ps->ncodings > 0 && h->version_minor == 0;
	h->keep_alive =
	    !close && (h->version_minor == 1 || keep) && !ps->te_1_0;
	/* RFC 9110 7.8: Upgrade means nothing in HTTP/1.0. */
	h->upgrade = upgrade && (h->seen & (1u << HTTP_F_UPGRADE)) != 0 &&
	             h->version_minor == 1;
	h->expect_continue = expect && (h->seen & (1u << HTTP_F_EXPECT)) != 0;
	if (ncl > 0)
		h->body = HTTP_BODY_LENGTH;
	return 0;
}

/* Content-Length = 1*DIGIT, at most 2^63-1. */
static bool parse_length(const char *b, struct http_slice v, uint64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0)
		return false;
	for (uint32_t i = 0; i < v.len; i++) {
		unsigned d = (unsigned)(b[v.off + i] - '0');

		if (d > 9 || n > ((uint64_t)INT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

/*
 * Add the codings of one Transfer-Encoding value to ps: a list of
 * token *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) ).
 * False on a syntax error or parameters on "chunked".
 */
static bool parse_codings(struct parser *ps, struct http_slice v)
{
	const char *b = ps->buf;
	size_t i = v.off, e = (size_t)v.off + v.len;

	for (;;) {
		size_t s;
		bool chunked, params = false;

		while (i < e && (b[i] == ',' || is_ows(b[i])))
			i++;
		if (i == e)
			return true;
		for (s = i; i < e && ctype(b[i], C_TCHAR); i++)
			;
		if (i == s)
			return false;
		chunked = i - s == 7 && ieq(b + s, "chunked", 7);
		for (;;) {
			while (i < e && is_ows(b[i]))
				i++;
			if (i == e || b[i] == ',')
				break;
			if (b[i] != ';')
				return false;
			params = true;
			for (i++; i < e && is_ows(b[i]); i++)
				;
			for (s = i; i < e && ctype(b[i], C_TCHAR); i++)
				;
			while (i < e && is_ows(b[i]))
				i++;
			if (i == s || i == e || b[i] != '=')
				return false;
			for (i++; i < e && is_ows(b[i]); i++)
				;
			if (i < e && b[i] == '"') {
				if ((i = quoted_end(b, i, e)) == 0)
					return false;
				continue;
			}
			for (s = i; i < e && ctype(b[i], C_TCHAR); i++)
				;
			if (i == s)
				return false;
		}
		if (chunked && params)
			return false;
		ps->ncodings++;
		ps->nchunked += chunked;
		ps->chunked = chunked;
	}
}

/* The offset after the quoted-string that starts at b[i], or 0. */
static size_t quoted_end(const char *b, size_t i, size_t e)
{
	for (i++; i < e; i++) {
		if (b[i] == '"')
			return i + 1;
		if (b[i] == '\\') {
			if (++i == e || !ctype(b[i], C_VALUE))
				return 0;
		} else if (!ctype(b[i], C_QDTEXT)) {
			return 0;
		}
	}
	return 0;
}

/* Take the options of a Connection value: close, keep-alive and upgrade
 * set their flags; a field of no recognised kind that one names is marked
 * HTTP_F_CONNECTION_LISTED (RFC 9110 7.6.1). */
static void connection_options(struct parser *ps, struct http_slice value,
                               bool *close, bool *keep, bool *upgrade)
{
	const char *b = ps->buf;
	struct http_head *h = ps->h;
	const char *p = b + value.off, *end = p + value.len;

	while (p < end) {
		const char *s, *e;
		size_t n;

		while (p < end && (*p == ',' || is_ows(*p)))
			p++;
		for (s = p; p < end && *p != ','; p++)
			;
		for (e = p; e > s && is_ows(e[-1]); e--)
			;
		n = (size_t)(e - s);
		if (n == 0)
			continue;
		*close |= n == 5 && ieq(s, "close", 5);
		*keep |= n == 10 && ieq(s, "keep-alive", 10);
		*upgrade |= n == 7 && ieq(s, "upgrade", 7);
		for (size_t k = 0; k < h->nheaders; k++) {
			if (h->kind[k] == HTTP_F_OTHER &&
			    h->headers[k].name.len == n &&
			    ieq(b + h->headers[k].name.off, s, n))
				h->kind[k] = HTTP_F_CONNECTION_LISTED;
		}
	}
}

/* True when the list value holds the element tok[0..n), ignoring case. */
static bool list_has(const char *buf, struct http_slice value, const char *tok,
                     size_t n)
{
	const char *p = buf + value.off, *end = p + value.len;

	while (p < end) {
		const char *s, *e;

		while (p < end && (*p == ',' || is_ows(*p)))
			p++;
		for (s = p; p < end && *p != ','; p++)
			;
		for (e = p; e > s && is_ows(e[-1]); e--)
			;
		if ((size_t)(e - s) == n && n > 0 && ieq(s, tok, n))
			return true;
	}
	return false;
}

/* Host and body framing of a request (RFC 9112 6.3, RFC 9110 7.2). */
static ssize_t request_framing(struct parser *ps)
{
	struct http_head *h = ps->h;
	struct http_slice v = h->headers[ps->host_field].value;
	bool from_target = h->absolute_form || h->method_connect;
	char other[256];
	uint16_t port;
	const char *why;

	if (ps->nhost > 1)
		return fail(h, 400, "more than one Host");
	if (ps->nhost == 0 && h->version_minor == 1)
		return fail(h, 400, "no Host");
	if (ps->nhost == 1) {
		if (v.len == 0)
			return fail(h, 400, "empty Host");
		why = authority(ps->buf + v.off, v.len, false,
		                from_target ? other : h->host,
		                from_target ? &port : &h->host_port);
		if (why != NULL)
			return fail(h, 400, why);
	}
	if (ps->ncodings == 0)
		return 0;
	if (h->version_minor == 0)
		return fail(h, 400, "Transfer-Encoding in an HTTP/1.0 request");
	if (!ps->chunked)
		return fail(h, 400, "final transfer coding is not chunked");
	if (ps->ncodings > 1)
		return fail(h, 501, "unsupported transfer coding");
	h->body = HTTP_BODY_CHUNKED;
	return 0;
}

/* Body framing of a response (RFC 9112 6.3). portier never sends TE to
 * a backend, so the only transfer coding a backend may use is chunked
 * (RFC 9112 section 6.1); HTTP/1.0 with Transfer-Encoding is faulty
 * framing. Either would reach the client with framing of its own
 * (portier sends one canonical Transfer-Encoding, or none), so neither is
 * forwarded. */
static ssize_t response_framing(struct parser *ps, bool head_request)
{
	struct http_head *h = ps->h;

	if (ps->te_1_0)
		return fail(h, 502, "Transfer-Encoding in an HTTP/1.0 "
		                    "response");
	if (ps->ncodings > 0 && (!ps->chunked || ps->ncodings > 1))
		return fail(h, 502, "a transfer coding other than chunked");
	if (h->status < 200 || h->status == 204 || h->status == 304 ||
	    head_request)
		h->body = HTTP_BODY_NONE;
	else if (ps->ncodings > 0)
		h->body = HTTP_BODY_CHUNKED;
	else if (h->body != HTTP_BODY_LENGTH)
		h->body = HTTP_BODY_EOF;
	if (h->body == HTTP_BODY_EOF)
		h->keep_alive = false;
	return 0;
}

/* Take one framing byte of a chunked body; NULL, or what is wrong. */
static const char *chunk_byte(struct http_chunked *c, unsigned char ch)
{
	if (++c->line > HTTP_CHUNK_LINE_MAX && c->state < CH_DATA)
		return "chunk size line too long";
	if (c->state >= CH_TRAILER_START && ++c->trailers > HTTP_MAX_HEAD)
		return "trailer section too long";
	switch (c->state) {
	case CH_SIZE_START:
		if (!ctype(ch, C_HEX))
			return "invalid chunk size";
		c->state = CH_SIZE;
		/* FALLTHROUGH */
	case CH_SIZE:
		if (!ctype(ch, C_HEX))
			break;
		/* At most 2^63-1, as Content-Length. */
		if (c->line > 16 || c->remaining >> 59 != 0)
			return "chunk size too large";
		c->remaining =
		    c->remaining << 4 |
		    (uint64_t)(IS_DIGIT(ch) ? ch - '0'
		                            : to_lower(ch) - 'a' + 10);
		return NULL;
	case CH_SIZE_LF:
		if (ch != '\n')
			return "bare CR in chunk size line";
		c->line = 0;
		c->state = c->remaining > 0 ? CH_DATA : CH_TRAILER_START;
		return NULL;
	case CH_DATA_CR:
	case CH_DATA_LF:
		if (ch != (c->state == CH_DATA_CR ? '\r' : '\n'))
			return "chunk data not followed by CRLF";
		c->line = 0;
		c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE_START;
		return NULL;
	case CH_TRAILER_START:
		if (ch == '\r')
			c->state = CH_FINAL_LF;
		else if (!ctype(ch, C_TCHAR))
			return "invalid trailer field";
		else if (++c->ntrailers > HTTP_MAX_HEADERS)
			return "too many trailer fields";
		else
			c->state = CH_TRAILER_NAME;
		return NULL;
	case CH_TRAILER_NAME:
		if (ch == ':')
			c->state = CH_TRAILER_VALUE;
		else if (!ctype(ch, C_TCHAR))
			return "invalid trailer field name";
		return NULL;
	case CH_TRAILER_VALUE:
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!ctype(ch, C_VALUE))
			return "invalid character in trailer field";
		return NULL;
	case CH_TRAILER_LF:
	case CH_FINAL_LF:
		if (ch != '\n')
			return "bare CR in trailer section";
		c->line = 0;
		c->done = c->state == CH_FINAL_LF;
		c->state = c->done ? CH_DONE : CH_TRAILER_START;
		return NULL;
	}
	return chunk_ext(c, ch) ? NULL : "invalid chunk size line";
}

/*
 * One byte of a chunk size line after the size: extensions
 * *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) and the
 * CR that ends the line. False when the byte cannot come here.
 */
static bool chunk_ext(struct http_chunked *c, unsigned char ch)
{
	bool ws = ch == ' ' || ch == '\t';

	switch (c->state) {
	case CH_SIZE:
	case CH_EXT_NAME:
	case CH_EXT_TOKEN:
	case CH_EXT_QUOTED_END:
		if (ctype(ch, C_TCHAR) && c->state != CH_SIZE &&
		    c->state != CH_EXT_QUOTED_END)
			return true;
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (ch == ';')
			c->state = CH_EXT_NAME_START;
		else if (ch == '=' && c->state == CH_EXT_NAME)
			c->state = CH_EXT_VALUE_START;
		else if (ws)
			c->state = c->state == CH_EXT_NAME ? CH_EXT_NAME_WS
			                                   : CH_EXT_WS;
		else
			return false;
		return true;
	case CH_EXT_WS:
	case CH_EXT_NAME_WS:
		if (ch == ';')
			c->state = CH_EXT_NAME_START;
		else if (ch == '=' && c->state == CH_EXT_NAME_WS)
			c->state = CH_EXT_VALUE_START;
		else if (!ws)
			return false;
		return true;
	case CH_EXT_NAME_START:
		if (ctype(ch, C_TCHAR))
			c->state = CH_EXT_NAME;
		return ws || ctype(ch, C_TCHAR);
	case CH_EXT_VALUE_START:
		if (ch == '"')
			c->state = CH_EXT_QUOTED;
		else if (ctype(ch, C_TCHAR))
			c->state = CH_EXT_TOKEN;
		else if (!ws)
			return false;
		return true;
	case CH_EXT_QUOTED:
		if (ch == '"')
			c->state = CH_EXT_QUOTED_END;
		else if (ch == '\\')
			c->state = CH_EXT_QPAIR;
		return ch == '"' || ch == '\\' || ctype(ch, C_QDTEXT);
	case CH_EXT_QPAIR:
		c->state = CH_EXT_QUOTED;
		return ctype(ch, C_VALUE);
	default:
		return false;
	}
}
