/* SPDX-License-Identifier: MIT */
/*
 * Invariants shared by the libFuzzer targets of http.c: a failed check
 * aborts, which libFuzzer reports as a crash with the input that caused it.
 */
#ifndef PORTIER_FUZZ_CHECK_H
#define PORTIER_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portier/http.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* A slice lies inside the first n bytes. */
static inline int fuzz_inside(struct http_slice s, size_t n)
{
	return (uint64_t)s.off + s.len <= n;
}

/* The invariants of a parse result r over buf[0..len). */
static inline void fuzz_check_head(const char *buf, size_t len, ssize_t r,
                                   const struct http_head *h, int response)
{
	size_t hl;

	if (r < 0) {
		CHECK(r == -1);
		CHECK(h->error != NULL && h->error[0] != '\0');
		if (response)
			CHECK(h->error_status == 502);
		else
			CHECK(h->error_status == 400 ||
			      h->error_status == 431 ||
			      h->error_status == 501 || h->error_status == 505);
		return;
	}
	if (r == 0) {
		CHECK(len < HTTP_MAX_HEAD);
		return;
	}
	CHECK((size_t)r <= len && r <= HTTP_MAX_HEAD && r >= 4);
	CHECK(memcmp(buf + r - 4, "\r\n\r\n", 4) == 0);
	CHECK(h->error_status == 0 && h->error == NULL);
	CHECK(h->version_minor == 0 || h->version_minor == 1);
	CHECK(h->nheaders <= HTTP_MAX_HEADERS);
	for (size_t i = 0; i < h->nheaders; i++) {
		struct http_slice n = h->headers[i].name;
		struct http_slice v = h->headers[i].value;

		CHECK(fuzz_inside(n, (size_t)r) && fuzz_inside(v, (size_t)r));
		CHECK(n.len > 0 && buf[n.off + n.len] == ':');
		CHECK(h->kind[i] < HTTP_F_COUNT);
		CHECK(h->seen & (1u << h->kind[i]));
		for (uint32_t k = 0; k < v.len; k++)
			CHECK(buf[v.off + k] != '\r' &&
			      buf[v.off + k] != '\n' && buf[v.off + k] != '\0');
		if (v.len > 0)
			CHECK(buf[v.off] != ' ' && buf[v.off] != '\t' &&
			      buf[v.off + v.len - 1] != ' ' &&
			      buf[v.off + v.len - 1] != '\t');
	}
	CHECK(h->seen < (1u << HTTP_F_COUNT));
	hl = strnlen(h->host, sizeof(h->host));
	CHECK(hl < sizeof(h->host));
	for (size_t i = 0; i < hl; i++)
		CHECK(!(h->host[i] >= 'A' && h->host[i] <= 'Z') &&
		      h->host[i] != '@' && h->host[i] != ' ');
	if (h->body == HTTP_BODY_LENGTH)
		CHECK(h->seen & (1u << HTTP_F_CONTENT_LENGTH));
	if (h->body == HTTP_BODY_CHUNKED)
		CHECK(h->seen & (1u << HTTP_F_TRANSFER_ENCODING));
	if (h->seen & (1u << HTTP_F_TRANSFER_ENCODING))
		CHECK(!(h->seen & (1u << HTTP_F_CONTENT_LENGTH)));
	if (h->body == HTTP_BODY_LENGTH)
		CHECK(h->content_length <= (uint64_t)INT64_MAX);
	if (h->upgrade)
		CHECK(h->seen & (1u << HTTP_F_UPGRADE));
	if (response) {
		CHECK(h->status >= 100 && h->status <= 599);
		CHECK(fuzz_inside(h->reason, (size_t)r));
		if (h->body == HTTP_BODY_EOF)
			CHECK(!h->keep_alive);
		return;
	}
	CHECK(h->body != HTTP_BODY_EOF);
	CHECK(h->method.len > 0 && h->target.len > 0);
	CHECK(fuzz_inside(h->method, (size_t)r) &&
	      fuzz_inside(h->target, (size_t)r));
	CHECK(h->path.len == 0 ||
	      (h->path.off >= h->target.off &&
	       h->path.off + h->path.len == h->target.off + h->target.len));
	if (h->version_minor == 1 || h->absolute_form || h->method_connect)
		CHECK(hl > 0);
	for (uint32_t k = 0; k < h->target.len; k++) {
		unsigned char c = (unsigned char)buf[h->target.off + k];

		CHECK(c > 0x20 && c < 0x7f);
	}
}

#endif
