/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for qr.c: the drawing's shape (square in modules, a light
 * quiet zone of QR_QUIET modules, only the four half-block cells, the
 * line count), a round trip that reads the modules back from the drawn
 * characters and compares them with libqrencode's own symbol at the level
 * qr.h promises, the inverted drawing, and the errors.
 *
 * Run as `test_qr --print TEXT` (or --print-invert) it prints qr_text's
 * drawing instead, for the functional test that has a real decoder read
 * it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <qrencode.h>

#include "portier/qr.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A drawing read back: side x rows cells' halves, true where a block
 * character covers them. rows is twice the number of lines. */
struct drawing {
	int side;
	int rows;
	bool *ink;
};

/* A URL of exactly 200 characters, built by setup_long_url. */
static char long_url[201];

static const char *urls[] = {
    "http://192.168.1.23:8080/",
    "https://[fd00::1]:8443/",
    "http://portier.local:3000/some/Path?with=query&Case=Kept",
    long_url,
};

/* Fill long_url: a LAN URL with a path, 200 characters in all. */
static void setup_long_url(void)
{
	const char *start = "http://192.168.100.200:8080/app/";
	size_t n = strlen(start);

	memcpy(long_url, start, n);
	for (size_t i = n; i < sizeof(long_url) - 1; i++)
		long_url[i] = "abcdefghijklmnopqrstuvwxyz0123456789-_"[i % 38];
	long_url[sizeof(long_url) - 1] = '\0';
}

/* The symbol qr.h promises: level M up to QR_LEVEL_M_MAX_VERSION, beyond
 * that (or when M cannot hold the text) level L when it is a smaller
 * version. */
static QRcode *expected_symbol(const char *text)
{
	QRcode *m, *l;

	m = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (m != NULL && m->version <= QR_LEVEL_M_MAX_VERSION)
		return m;
	l = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	assert_non_null(l);
	if (m == NULL || l->version < m->version) {
		QRcode_free(m);
		return l;
	}
	QRcode_free(l);
	return m;
}

/* Which halves the UTF-8 cell at *p covers (bit 0 upper, bit 1 lower);
 * advances *p. Fails on any other character. */
static int read_cell(const char **p)
{
	static const char *const cells[4] = {" ", "\xe2\x96\x80",
	                                     "\xe2\x96\x84", "\xe2\x96\x88"};

	for (int i = 0; i < 4; i++) {
		size_t n = strlen(cells[i]);

		if (strncmp(*p, cells[i], n) == 0) {
			*p += n;
			return i;
		}
	}
	fail_msg("unexpected character 0x%02x in the drawing",
	         (unsigned char)**p);
	return 0;
}

/* Parse a drawing: every line ends in '\n' and has as many cells as the
 * first, and nothing follows the last line. */
static struct drawing parse(const char *out)
{
	struct drawing d = {0, 0, NULL};
	const char *p;
	int lines = 0;

	for (p = out; *p != '\n' && *p != '\0'; d.side++)
		read_cell(&p);
	for (p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_true(d.side > 0);
	d.rows = 2 * lines;
	d.ink = calloc((size_t)d.side * (size_t)d.rows, sizeof(*d.ink));
	assert_non_null(d.ink);
	p = out;
	for (int line = 0; line < lines; line++) {
		for (int col = 0; col < d.side; col++) {
			int cell;

			assert_true(*p != '\n' && *p != '\0');
			cell = read_cell(&p);
			d.ink[2 * line * d.side + col] = cell & 1;
			d.ink[(2 * line + 1) * d.side + col] = cell & 2;
		}
		assert_int_equal(*p, '\n');
		p++;
	}
	assert_int_equal(*p, '\0');
	return d;
}

/* Whether the module at (row, col) of the drawing (quiet zone included)
 * is dark, under the colour convention of qr.h. */
static bool dark(const struct drawing *d, int row, int col, bool invert)
{
	return d->ink[row * d->side + col] == invert;
}

/* Check the drawing of text: its size and lines, the quiet zone, the
 * empty half below it, and every module against libqrencode's symbol. */
static void check_drawing(const char *text, bool invert)
{
	QRcode *code = expected_symbol(text);
	int side = code->width + 2 * QR_QUIET;
	char *out = qr_text(text, invert);
	struct drawing d;

	assert_non_null(out);
	d = parse(out);
	assert_int_equal(d.side, side);
	assert_int_equal(d.rows / 2, (code->width + 2 * QR_QUIET + 1) / 2);
	/* Symbol sides are odd, so the last line has an empty lower half. */
	assert_int_equal(d.rows, side + 1);
	for (int col = 0; col < side; col++)
		assert_false(d.ink[side * side + col]);
	for (int row = 0; row < side; row++) {
		for (int col = 0; col < side; col++) {
			int r = row - QR_QUIET, c = col - QR_QUIET;
			bool want = false;

			if (r >= 0 && r < code->width && c >= 0 &&
			    c < code->width)
				want = code->data[r * code->width + c] & 1;
			if (dark(&d, row, col, invert) != want)
				fail_msg("%s: module (%d, %d) is %s", text, r,
				         c, want ? "light" : "dark");
		}
	}
	free(d.ink);
	free(out);
	QRcode_free(code);
}

/* The drawing matches the symbol, module by module, for each URL. */
static void test_round_trip(void **state)
{
	for (size_t i = 0; i < N(urls); i++)
		check_drawing(urls[i], false);
}

/* The same for terminals with dark text on a light background. */
static void test_round_trip_inverted(void **state)
{
	for (size_t i = 0; i < N(urls); i++)
		check_drawing(urls[i], true);
}

/* A line of n copies of the UTF-8 cell, ending in '\n'. */
static const char *line_of(char *buf, const char *cell, int n)
{
	size_t len = strlen(cell);

	for (int i = 0; i < n; i++)
		memcpy(buf + (size_t)i * len, cell, len);
	strcpy(buf + (size_t)n * len, "\n");
	return buf;
}

/* Shape of a small code: a 25-module version 2 symbol at level M is 33
 * cells wide on 17 lines; its first two lines are light quiet zone, and
 * its last one is light above and empty below. Inverted, the quiet zone
 * is left to the terminal's background. */
static void test_shape(void **state)
{
	const char *url = "http://192.168.1.23:8080/";
	char *out = qr_text(url, false);
	char *inverted = qr_text(url, true);
	char buf[33 * 3 + 2];
	const char *p, *end, *last = NULL;
	int lines = 0;

	assert_non_null(out);
	assert_non_null(inverted);
	for (p = out; *p != '\0'; p = end + 1) {
		end = strchr(p, '\n');
		assert_non_null(end);
		last = p;
		lines++;
	}
	assert_int_equal(lines, 17);
	line_of(buf, "\xe2\x96\x88", 33);
	assert_memory_equal(out, buf, strlen(buf));
	assert_memory_equal(out + strlen(buf), buf, strlen(buf));
	assert_string_equal(last, line_of(buf, "\xe2\x96\x80", 33));
	line_of(buf, " ", 33);
	assert_memory_equal(inverted, buf, strlen(buf));
	assert_memory_equal(inverted + strlen(buf), buf, strlen(buf));
	p = inverted + strlen(inverted) - strlen(buf);
	assert_string_equal(p, buf);
	free(inverted);
	free(out);
}

/* Short URLs get level M; the 200-character one level L, which keeps its
 * symbol a version smaller. */
static void test_level(void **state)
{
	QRcode *code;
	char *out;
	struct drawing d;

	code = QRcode_encodeString(urls[0], 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	out = qr_text(urls[0], false);
	d = parse(out);
	assert_int_equal(d.side, code->width + 2 * QR_QUIET);
	QRcode_free(code);
	free(d.ink);
	free(out);

	code = QRcode_encodeString(long_url, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	assert_true(code->version < 10);
	out = qr_text(long_url, false);
	d = parse(out);
	assert_int_equal(d.side, code->width + 2 * QR_QUIET);
	QRcode_free(code);
	free(d.ink);
	free(out);
}

/* Empty text and text too long for any symbol fail with errno set; text
 * too long for level M falls back to level L. */
static void test_errors(void **state)
{
	size_t len = 3000;
	char *text = malloc(len + 1);
	char *out;

	assert_non_null(text);
	errno = 0;
	assert_null(qr_text("", false));
	assert_int_equal(errno, EINVAL);
	memset(text, 'x', len);
	text[len] = '\0';
	errno = 0;
	assert_null(qr_text(text, false));
	assert_int_equal(errno, ERANGE);
	/* 2,500 bytes: beyond M's 2,331, within L's 2,953. */
	text[2500] = '\0';
	out = qr_text(text, false);
	assert_non_null(out);
	check_drawing(text, false);
	free(out);
	free(text);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shape),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_round_trip_inverted),
	    cmocka_unit_test(test_level),
	    cmocka_unit_test(test_errors),
	};

	if (argc == 3 && (strcmp(argv[1], "--print") == 0 ||
	                  strcmp(argv[1], "--print-invert") == 0)) {
		char *out = qr_text(argv[2], strcmp(argv[1], "--print") != 0);

		if (out == NULL) {
			perror("qr_text");
			return 1;
		}
		fputs(out, stdout);
		free(out);
		return 0;
	}
	setup_long_url();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
