/* SPDX-License-Identifier: MIT */
/*
 * A strict HTTP/1.1 message parser (RFC 9110, RFC 9112) for a proxy.
 *
 * http_parse_request and http_parse_response read one message head from a
 * contiguous buffer and decide how its body is framed; http_chunked_step
 * walks a chunked body. Nothing here allocates or knows about sockets: the
 * caller owns the buffer, and every string the parser returns is a slice
 * (offset, length) into it. Anything a backend or client could frame
 * differently than this parser does is an error, never "fixed up": a
 * message is forwarded only as the parser understood it.
 */
#ifndef PORTIER_HTTP_H
#define PORTIER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest request or response head, request line and final CRLF included;
 * a longer request head answers 431, a longer response head 502. */
#define HTTP_MAX_HEAD (32 * 1024)

/* Most header fields in one head; the trailer section of a chunked body
 * has the same limit of its own. */
#define HTTP_MAX_HEADERS 128

/* A piece of the parsed buffer. */
struct http_slice {
	uint32_t off;
	uint32_t len;
};

/* One header field as it appeared: name and value (leading and trailing
 * whitespace of the value excluded). */
struct http_header {
	struct http_slice name;
	struct http_slice value;
};

/* How a message body is delimited. */
enum http_body {
	HTTP_BODY_NONE,	   /* no body at all */
	HTTP_BODY_LENGTH,  /* exactly content_length bytes */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked (the final coding) */
	HTTP_BODY_EOF,	   /* responses only: until the backend closes */
};

/* Header fields the parser recognises; bit i set in `seen` when a field of
 * kind i appears. */
enum http_field {
	HTTP_F_OTHER,
	HTTP_F_HOST,
	HTTP_F_CONTENT_LENGTH,
	HTTP_F_TRANSFER_ENCODING,
	HTTP_F_CONNECTION,
	HTTP_F_KEEP_ALIVE,
	HTTP_F_UPGRADE,
	HTTP_F_EXPECT,
	HTTP_F_TE,
	HTTP_F_TRAILER,
	HTTP_F_PROXY_CONNECTION,  /* any Proxy-* field but the two below */
	HTTP_F_PROXY_AUTHORIZATION,
	HTTP_F_PROXY_AUTHENTICATE,
	HTTP_F_X_FORWARDED_FOR,
	HTTP_F_X_FORWARDED_PROTO,
	HTTP_F_X_FORWARDED_HOST,
	HTTP_F_FORWARDED,
	HTTP_F_AUTHORIZATION,
	HTTP_F_CONNECTION_LISTED, /* a field a Connection field names
				     (hop-by-hop), when not one above */
	HTTP_F_COUNT
};

/* A parsed message head (request or response). */
struct http_head {
	/* Request: method, target as sent, and the target's path and query
	 * in origin form: the whole target for origin-form, the part after
	 * the authority for absolute-form ("http://h/p?q" gives "/p?q",
	 * "http://h?q" gives "?q", "http://h" gives path.len 0). "/" is not
	 * made up: path.len is 0 for an authority-form (CONNECT) or
	 * asterisk-form (OPTIONS *) target too. */
	struct http_slice method;
	struct http_slice target;
	struct http_slice path;
	/* The request's host, lower-cased copy in `host` (port removed,
	 * IPv6 brackets kept: "[::1]"; percent-encoding kept as sent),
	 * taken from an absolute-form or authority-form target's authority
	 * if there is one, else from the Host field; "" for an HTTP/1.0
	 * request without either. */
	char host[256];
	uint16_t host_port; /* the port written after the host, or 0 (none
			       written, or "host:"); never a scheme default */
	/* Response: the status code and reason phrase. */
	int status;
	struct http_slice reason;
	int version_minor; /* HTTP/1.<minor>: 0 or 1 (a higher minor
			      version is read as 1, RFC 9110 section 2.5) */

	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	uint8_t kind[HTTP_MAX_HEADERS]; /* enum http_field of each header */
	uint32_t seen;			/* bit (1 << enum http_field) */

	enum http_body body;
	uint64_t content_length; /* with HTTP_BODY_LENGTH */

	bool keep_alive;      /* persistent per version and Connection */
	bool upgrade;	      /* Connection: upgrade and an Upgrade field,
				 HTTP/1.1 only */
	bool upgrade_h2c;     /* an Upgrade field lists h2c */
	bool expect_continue; /* Expect: 100-continue (every Expect field,
				 any case). With HTTP_F_EXPECT seen and this
				 false, the expectation is unknown: 417 */
	bool method_head;     /* request: HEAD */
	bool idempotent;      /* request: GET, HEAD, OPTIONS, TRACE, PUT or
				 DELETE (RFC 9110 section 9.2.2) */
	bool method_connect;  /* request: CONNECT (refused with 501 by the
				 caller; parsed so it can say so) */
	bool absolute_form;   /* request: the target carried an authority */
	/* When parsing fails: the status to answer (400, 414, 431, 501, 505 for
	 * requests; 502 for responses) and a short reason for the log (a
	 * static string). The other fields are meaningful only after a
	 * complete parse. */
	int error_status;
	const char *error;
};

/*
 * Parse a request head at the start of buf[0..len). Returns the length of
 * the head (through its empty line) when complete, 0 when more bytes are
 * needed (len < HTTP_MAX_HEAD and nothing wrong so far), or -1 with
 * head->error_status and head->error set. Leading empty lines (CRLF) before
 * the request line are skipped and count in the returned length. Call it
 * again with the whole buffered prefix after every read: while the head is
 * incomplete only a memchr scan runs over it, and errors that already show
 * (a bare CR or LF, too many fields, a bad request line or a first word
 * that is no method) are reported at once.
 *
 * Rejected (400 unless said): bare CR or bare LF as a line end; NUL and
 * control characters other than HTAB in field values; whitespace between a
 * field name and its colon; obs-fold; invalid token characters in the method
 * or field names; a target with spaces, control characters, bytes over
 * 0x7e or a fragment ('#'); a target that is not origin-form, absolute-form
 * with an http or https scheme, authority-form ("host:port", CONNECT only)
 * or "*" (OPTIONS only); userinfo ('@') in an authority; a version other
 * than HTTP/1.0 or HTTP/1.1 (505 for any other "HTTP/d.d", HTTP/1.2 and
 * HTTP/2.0 included; 400 for junk such as "http/1.1"); Content-Length
 * that is not 1*DIGIT, overflows, or appears twice (even with equal
 * values) or as a list; Transfer-Encoding together with Content-Length;
 * Transfer-Encoding whose final coding is not exactly "chunked", or
 * "chunked" applied twice or with parameters, or an empty list; a coding
 * before chunked (501); Transfer-Encoding in an HTTP/1.0 request; no
 * Host in HTTP/1.1, an empty Host, two Host fields, a Host that is not a
 * valid authority (reg-name or [IPv6], optional port 1-65535, no
 * userinfo; also checked when the target's authority wins); more than
 * HTTP_MAX_HEADERS fields (431); a head longer than HTTP_MAX_HEAD (431).
 * An absolute-form target ("http://h:p/x") gives its authority precedence
 * over Host (both must still be valid). A request body is HTTP_BODY_NONE
 * when neither Content-Length nor Transfer-Encoding is present.
 */
ssize_t http_parse_request(const char *buf, size_t len,
			   struct http_head *head);

/*
 * Parse a response head at the start of buf[0..len), for a request that
 * was HEAD when `head_request`. Same return values as http_parse_request;
 * errors set error_status to 502. Framing per RFC 9112 section 6.3: 1xx,
 * 204, 304 and responses to HEAD have no body (their Content-Length or
 * Transfer-Encoding fields are kept for forwarding but do not frame);
 * chunked when Transfer-Encoding's final coding is chunked; otherwise
 * Content-Length; otherwise HTTP_BODY_EOF. Transfer-Encoding with a
 * Content-Length, duplicated or invalid Content-Length, "chunked" twice, a
 * status outside 100-599, a malformed status line, and the syntax errors
 * of requests are errors; the status line is "HTTP/1.0" or "HTTP/1.1", SP,
 * three digits, then SP and a reason phrase (possibly empty) or nothing.
 * No empty line may come before it. An HTTP/1.0 response with
 * Transfer-Encoding is read until close (RFC 9112 6.1). keep_alive is
 * false for HTTP_BODY_EOF.
 */
ssize_t http_parse_response(const char *buf, size_t len, bool head_request,
			    struct http_head *head);

/* Where a chunked body walk is. Zero it (or http_chunked_init) before the
 * first byte. */
struct http_chunked {
	uint64_t remaining; /* data bytes left in the current chunk */
	uint32_t line;	    /* bytes of the current size or trailer line */
	uint32_t trailers;  /* trailer bytes so far */
	uint16_t ntrailers; /* trailer fields so far */
	uint8_t state;	    /* private */
	bool done;	    /* the last chunk and trailers have been read */
};

/* Reset a chunked walk. */
void http_chunked_init(struct http_chunked *c);

/*
 * Walk the next bytes of a chunked body at p[0..len). Returns how many
 * bytes were consumed (at least 1 when len > 0 and the body is not done),
 * or -1 on a framing error (error set to a short reason). *data is set to
 * the number of consumed bytes that are chunk data (payload), which are
 * then exactly the first *data bytes consumed; framing bytes (size lines,
 * CRLFs, trailers) give *data == 0. So one call returns either payload or
 * framing, never both. c->done turns true when the consumed bytes end the
 * body; bytes after that belong to the next message and are not consumed.
 * The trailer section (its fields and the final CRLF) is consumed by calls
 * of its own: http_chunked_trailing says, before a call, whether the bytes
 * it consumes are trailer bytes.
 *
 * Strict: chunk size is 1*HEXDIG with no leading whitespace, at most 16
 * hex digits and at most 2^63-1; chunk extensions (";name" or ";name=value",
 * token or quoted-string values, whitespace allowed around ';' and '='
 * but not before the CRLF) are allowed and ignored, in a size line of at
 * most 4096 bytes (CRLF included); every line ends in CRLF (bare CR or LF
 * is an error); chunk data must be followed by CRLF; trailer fields use
 * the field syntax of heads, at most HTTP_MAX_HEADERS of them and
 * HTTP_MAX_HEAD bytes in all.
 * After an error every call fails again.
 */
ssize_t http_chunked_step(struct http_chunked *c, const char *p, size_t len,
			  size_t *data, const char **error);

/* True when the walk is in the trailer section (after the last chunk's
 * size line, before the final CRLF has been consumed). */
bool http_chunked_trailing(const struct http_chunked *c);

/* A header name or value as a NUL-less view: compare a slice of buf with
 * a lower-case literal, case-insensitively. */
bool http_slice_eq(const char *buf, struct http_slice s, const char *lower);

/* True when a field name begins with `lower`, any case, '_' standing for
 * '-': CGI, WSGI and Rack give X_Forwarded_For and X-Forwarded-For the
 * same variable. */
bool http_name_starts(const char *buf, struct http_slice name,
		      const char *lower);

/* True when a comma-separated header value (a list, as Connection) holds
 * the token `lower`, case-insensitively. */
bool http_list_has(const char *buf, struct http_slice value,
		   const char *lower);

/* The reason phrase of a status code ("Bad Gateway"), "" when unknown. */
const char *http_status_text(int status);

#endif
