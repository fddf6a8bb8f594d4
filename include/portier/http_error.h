/* SPDX-License-Identifier: MIT */
/*
 * The answers portier gives itself: error pages (400, 404, 408, 413, 431,
 * 501, 502, 504...) as short HTML for browsers and plain text for other
 * clients, and the words that explain a refused backend.
 */
#ifndef PORTIER_HTTP_ERROR_H
#define PORTIER_HTTP_ERROR_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct addr;

/* How to write a page. */
struct http_error_page {
	int status;
	bool html;	  /* the client accepts text/html */
	bool head_only;	  /* answer to HEAD: no body */
	bool close;	  /* Connection: close */
	const char *text; /* what happened and what to do, plain text; lines
			     are separated by '\n'; may be NULL */
	const char *fields; /* more header fields, each ending in CRLF;
			       may be NULL */
	const void *body;   /* a ready body of body_len bytes of `type`
			       instead of the page made from text */
	size_t body_len;
	const char *type;   /* Content-Type of body */
};

/* Append a complete response for `page` to out. Returns 0 or -1 (out of
 * memory). */
int http_error_write(struct evbuffer *out, const struct http_error_page *page)
	__attribute__((warn_unused_result));

/*
 * Explain a refused backend: whether anything listens on its port on
 * 127.0.0.1, ::1 or a wildcard address, and who holds it, as one or two
 * sentences into buf. Reads /proc; for unix: backends says whether the
 * path exists. Returns buf.
 */
char *http_error_explain_refused(const struct addr *backend, char *buf,
				 size_t len);

/*
 * A 403 response body (the first len bytes) that a dev server sends when
 * its host check refuses the Host it got: Vite's "Blocked request",
 * webpack-dev-server's "Invalid Host header", Next.js's allowedDevOrigins.
 * Returns what to change, as a sentence that follows "the backend refused
 * the host NAME: ", or NULL when the body is none of these.
 */
const char *http_error_dev_host_check(const char *body, size_t len);

#endif
