/* SPDX-License-Identifier: MIT */
/*
 * QR codes as terminal text: libqrencode makes the symbol, this file picks
 * its error correction level and draws it two module rows per line with
 * the half-block characters. The colour convention (light modules drawn,
 * dark ones left to a dark terminal's background) is explained in qr.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "portier/qr.h"

/* The four cells, by which halves are drawn: UTF-8 of space, U+2580,
 * U+2584 and U+2588. */
static const char *const qr_cells[4] = {" ", "\xe2\x96\x80", "\xe2\x96\x84",
                                        "\xe2\x96\x88"};

/* Longest UTF-8 sequence in qr_cells. */
#define QR_CELL_MAX 3

static QRcode *qr_encode(const char *text);
static bool qr_drawn(const QRcode *code, int row, int col, bool invert);

char *qr_text(const char *text, bool invert)
{
	QRcode *code;
	size_t side, lines, len;
	char *out, *p;

	if (text == NULL || text[0] == '\0') {
		errno = EINVAL;
		return NULL;
	}
	if ((code = qr_encode(text)) == NULL)
		return NULL;
	side = (size_t)code->width + 2 * QR_QUIET;
	lines = (side + 1) / 2;
	len = lines * (side * QR_CELL_MAX + 1) + 1;
	if ((out = malloc(len)) == NULL) {
		QRcode_free(code);
		errno = ENOMEM;
		return NULL;
	}
	p = out;
	for (size_t line = 0; line < lines; line++) {
		int top = (int)line * 2 - QR_QUIET;

		for (int col = -QR_QUIET; col < code->width + QR_QUIET; col++) {
			int upper = qr_drawn(code, top, col, invert);
			int lower = qr_drawn(code, top + 1, col, invert);
			const char *cell = qr_cells[upper | lower << 1];
			size_t n = strlen(cell);

			memcpy(p, cell, n);
			p += n;
		}
		*p++ = '\n';
	}
	*p = '\0';
	QRcode_free(code);
	return out;
}

/* The symbol for text: level M, or L when M needs a version over
 * QR_LEVEL_M_MAX_VERSION and L fits a smaller one. NULL with errno set. */
static QRcode *qr_encode(const char *text)
{
	QRcode *code, *smaller;

	code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (code == NULL && errno != ERANGE)
		return NULL;
	if (code != NULL && code->version <= QR_LEVEL_M_MAX_VERSION)
		return code;
	smaller = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (code == NULL)
		return smaller;
	if (smaller == NULL || smaller->version >= code->version) {
		if (smaller != NULL)
			QRcode_free(smaller);
		return code;
	}
	QRcode_free(code);
	return smaller;
}

/* Whether the module at (row, col) of the symbol, counted without the
 * quiet zone, gets a block character. Outside the symbol lie the light
 * quiet zone and, below it, the empty half of the last line. */
static bool qr_drawn(const QRcode *code, int row, int col, bool invert)
{
	bool dark;

	if (row >= code->width + QR_QUIET)
		return false;
	if (row < 0 || col < 0 || row >= code->width || col >= code->width)
		dark = false;
	else
		dark = code->data[row * code->width + col] & 1;
	return dark == invert;
}
