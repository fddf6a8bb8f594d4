/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for http_parse_request. Besides the invariants of
 * fuzz_check.h, the answer must not depend on where the bytes stop: a
 * complete head parses the same without what follows it, any shorter
 * prefix of it asks for more bytes, and an error stays an error when more
 * bytes arrive.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portier/http.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head h, h2;
	const char *buf = (const char *)data;
	ssize_t r, r2;

	r = http_parse_request(buf, size, &h);
	fuzz_check_head(buf, size, r, &h, 0);
	if (r > 0) {
		const size_t cut[] = {(size_t)r - 1, (size_t)r / 2,
		                      size > 0 ? data[0] % (size_t)r : 0};

		CHECK(http_parse_request(buf, (size_t)r, &h2) == r);
		CHECK(h2.body == h.body && h2.keep_alive == h.keep_alive &&
		      h2.nheaders == h.nheaders &&
		      strcmp(h2.host, h.host) == 0);
		for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
			r2 = http_parse_request(buf, cut[i], &h2);
			CHECK(r2 == 0);
		}
	} else {
		size_t half = size / 2;

		r2 = http_parse_request(buf, half, &h2);
		fuzz_check_head(buf, half, r2, &h2, 0);
		if (r2 < 0)
			CHECK(r < 0);
		if (r < 0 && size < HTTP_MAX_HEAD) {
			/* More bytes do not turn an error into success. */
			char *more = malloc(size + 4);

			CHECK(more != NULL);
			memcpy(more, buf, size);
			memcpy(more + size, "\r\n\r\n", 4);
			CHECK(http_parse_request(more, size + 4, &h2) == -1);
			free(more);
		}
	}
	return 0;
}
