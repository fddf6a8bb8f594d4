/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for http_chunked_step. The same bytes are walked in
 * one piece, one byte at a time, and in pieces of sizes drawn from the
 * input; the three walks must agree on the payload, on where the body
 * ends and on whether it is an error. Each step must honour the contract:
 * it consumes at least one byte, no more than it was given, and returns
 * either payload or framing.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portier/http.h"
#include "fuzz_check.h"

/* What a walk found. */
struct walk {
	char *payload;
	size_t npayload;
	size_t consumed; /* through the end of the body, or before the error */
	bool done;
	bool error;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk data[0..size) in pieces of at most `piece` bytes (0: all at once);
 * with `seed`, piece sizes vary. */
static void walk(const uint8_t *data, size_t size, size_t piece, uint32_t seed,
                 struct walk *w)
{
	struct http_chunked c;
	size_t pos = 0;

	http_chunked_init(&c);
	memset(w, 0, sizeof(*w));
	w->payload = malloc(size + 1);
	CHECK(w->payload != NULL);
	while (pos < size && !c.done) {
		size_t avail = size - pos, n;
		const char *err = NULL;
		ssize_t r;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 17;
		}
		if (piece > 0 && avail > piece)
			avail = piece;
		r = http_chunked_step(&c, (const char *)data + pos, avail, &n,
		                      &err);
		if (r < 0) {
			CHECK(err != NULL);
			w->error = true;
			break;
		}
		CHECK(r >= 1 && (size_t)r <= avail);
		CHECK(n == 0 || n == (size_t)r);
		memcpy(w->payload + w->npayload, data + pos, n);
		w->npayload += n;
		pos += (size_t)r;
	}
	w->consumed = pos;
	w->done = c.done;
	if (c.done) {
		size_t n = 1;
		const char *err = NULL;

		/* A finished walk takes nothing more. */
		CHECK(http_chunked_step(&c, "x", 1, &n, &err) == 0 && n == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk a, b, c;
	uint32_t seed = 1;

	for (size_t i = 0; i < size && i < 4; i++)
		seed = seed * 31 + data[i];
	walk(data, size, 0, 0, &a);
	walk(data, size, 1, 0, &b);
	walk(data, size, 0, seed | 1, &c);
	CHECK(a.error == b.error && a.error == c.error);
	CHECK(a.done == b.done && a.done == c.done);
	CHECK(a.npayload == b.npayload && a.npayload == c.npayload);
	CHECK(memcmp(a.payload, b.payload, a.npayload) == 0);
	CHECK(memcmp(a.payload, c.payload, a.npayload) == 0);
	if (a.done)
		CHECK(a.consumed == b.consumed && a.consumed == c.consumed);
	if (!a.error && !a.done)
		CHECK(a.consumed == size);
	free(a.payload);
	free(b.payload);
	free(c.payload);
	return 0;
}
