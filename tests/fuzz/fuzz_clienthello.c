/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for clienthello_parse. Besides reading no byte outside
 * the input (each call gets a heap copy of exactly the bytes it may read),
 * the parser must keep its contract: a final result never changes when
 * more bytes arrive, so every prefix of the input gives "more" or the
 * input's own result; "more" only below CLIENTHELLO_MAX bytes; a name only
 * with CLIENTHELLO_OK, NUL-terminated, lower case, a valid host name. A
 * ClientHello that parses is then cut into records of other sizes, which
 * must give the same answer (or "too big" when the new records no longer
 * fit).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portier/clienthello.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* How many prefixes of each input are tried besides len - 1. */
#define PREFIXES 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The result for a heap copy of exactly data[0..len); name checked. */
static enum clienthello_result parse(const uint8_t *data, size_t len,
                                     char *name)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	enum clienthello_result r;
	size_t n;

	CHECK(copy != NULL);
	if (len > 0)
		memcpy(copy, data, len);
	memset(name, 'X', CLIENTHELLO_NAME_MAX);
	r = clienthello_parse(copy, len, name, CLIENTHELLO_NAME_MAX);
	free(copy);

	CHECK(r >= CLIENTHELLO_MORE && r <= CLIENTHELLO_MALFORMED);
	CHECK(strcmp(clienthello_result_str(r), "") != 0);
	if (r == CLIENTHELLO_MORE)
		CHECK(len < CLIENTHELLO_MAX);
	/* "Not TLS" is decided on the first two bytes, the rest after. */
	if (r == CLIENTHELLO_NOT_TLS)
		CHECK(len >= 1 &&
		      (data[0] != 22 || (len >= 2 && data[1] != 3)));
	else if (r != CLIENTHELLO_MORE)
		CHECK(len >= 3 && data[0] == 22 && data[1] == 3);
	n = strnlen(name, CLIENTHELLO_NAME_MAX);
	CHECK(n < CLIENTHELLO_NAME_MAX);
	if (r != CLIENTHELLO_OK) {
		CHECK(n == 0);
		return r;
	}
	CHECK(n >= 1 && n <= 255);
	CHECK(name[0] != '.' && name[n - 1] != '.');
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.');
		if (c == '.')
			CHECK(name[i + 1] != '.');
	}
	return r;
}

/* Copy the handshake message out of the records of a buffer that parsed:
 * its length, or 0 if it does not fit in msg. */
static size_t message(const uint8_t *data, size_t size, uint8_t *msg,
                      size_t room)
{
	size_t pos = 0, got = 0, need = 0;

	while (need == 0 || got < need) {
		size_t reclen;

		CHECK(pos + 5 <= size && data[pos] == 22);
		reclen = (size_t)data[pos + 3] << 8 | data[pos + 4];
		CHECK(pos + 5 + reclen <= size && got + reclen <= room);
		memcpy(msg + got, data + pos + 5, reclen);
		got += reclen;
		pos += 5 + reclen;
		if (need == 0 && got >= 4)
			need = 4 + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 |
			            msg[3]);
	}
	CHECK(got == need);
	return got;
}

/* Send msg[0..n) again in records of `piece` bytes (a varying size when
 * seed is not 0) and check that the result is r, with the same name. */
static void resplit(const uint8_t *msg, size_t n, size_t piece, uint32_t seed,
                    enum clienthello_result r, const char *name)
{
	static uint8_t buf[CLIENTHELLO_MAX + 64];
	char name2[CLIENTHELLO_NAME_MAX];
	size_t len = 0, off = 0;
	enum clienthello_result r2;

	while (off < n) {
		size_t k;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 300;
		}
		k = n - off < piece ? n - off : piece;
		if (len + 5 + k > sizeof(buf))
			break;
		buf[len] = 22;
		buf[len + 1] = 3;
		buf[len + 2] = 3;
		buf[len + 3] = (uint8_t)(k >> 8);
		buf[len + 4] = (uint8_t)k;
		memcpy(buf + len + 5, msg + off, k);
		len += 5 + k;
		off += k;
	}
	r2 = parse(buf, len, name2);
	if (off < n || len > CLIENTHELLO_MAX) {
		/* Would not fit: the parser says so before the end. */
		CHECK(r2 == CLIENTHELLO_TOO_BIG);
		return;
	}
	CHECK(r2 == r);
	CHECK(strcmp(name, name2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[CLIENTHELLO_MAX];
	char name[CLIENTHELLO_NAME_MAX], name2[CLIENTHELLO_NAME_MAX];
	enum clienthello_result r, r2;
	uint32_t seed = 1;
	size_t n;

	r = parse(data, size, name);
	CHECK(parse(data, size, name2) == r && strcmp(name, name2) == 0);

	/* Prefixes: "more" or the same answer. */
	for (size_t i = 0; i < size && i < 8; i++)
		seed = seed * 31 + data[size - 1 - i];
	for (int i = 0; i <= PREFIXES && size > 0; i++) {
		size_t cut = size - 1;

		if (i > 0) {
			seed = seed * 1103515245u + 12345u;
			cut = (seed >> 8) % size;
		}
		r2 = parse(data, cut, name2);
		CHECK(r2 == CLIENTHELLO_MORE || r2 == r);
		if (r2 == CLIENTHELLO_OK)
			CHECK(strcmp(name, name2) == 0);
	}

	if (r != CLIENTHELLO_OK && r != CLIENTHELLO_NO_SNI)
		return 0;
	n = message(data, size, msg, sizeof(msg));
	resplit(msg, n, 1, 0, r, name);
	resplit(msg, n, 7, 0, r, name);
	resplit(msg, n, 16384, 0, r, name);
	resplit(msg, n, 0, seed | 1, r, name);
	return 0;
}
