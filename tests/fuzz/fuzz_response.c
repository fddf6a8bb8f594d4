/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for http_parse_response. The first byte says whether
 * the request was HEAD; the rest is the response. Checked: the invariants
 * of fuzz_check.h, the framing rules of RFC 9112 section 6.3, and that the
 * answer does not depend on where the bytes stop.
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
	const char *buf = (const char *)data + 1;
	bool head_request;
	size_t len;
	ssize_t r, r2;

	if (size == 0)
		return 0;
	head_request = data[0] & 1;
	len = size - 1;
	r = http_parse_response(buf, len, head_request, &h);
	fuzz_check_head(buf, len, r, &h, 1);
	if (r > 0) {
		if (head_request || h.status < 200 || h.status == 204 ||
		    h.status == 304)
			CHECK(h.body == HTTP_BODY_NONE);
		else
			CHECK(h.body != HTTP_BODY_NONE);
		CHECK(http_parse_response(buf, (size_t)r, head_request, &h2) ==
		      r);
		CHECK(h2.body == h.body && h2.status == h.status);
		r2 = http_parse_response(buf, (size_t)r - 1, head_request, &h2);
		CHECK(r2 == 0);
		r2 = http_parse_response(buf, (size_t)r / 2, head_request, &h2);
		CHECK(r2 == 0);
	} else {
		r2 = http_parse_response(buf, len / 2, head_request, &h2);
		fuzz_check_head(buf, len / 2, r2, &h2, 1);
		if (r2 < 0)
			CHECK(r < 0);
	}
	return 0;
}
