/* SPDX-License-Identifier: MIT */
/*
 * QR codes drawn with text, so that `portier expose` can show its LAN URL
 * in a terminal and a phone's camera can open it. The symbol comes from
 * libqrencode; this module only chooses its parameters and draws it.
 */
#ifndef PORTIER_QR_H
#define PORTIER_QR_H

#include <stdbool.h>

/* Modules of light margin (the quiet zone) drawn on each side. */
#define QR_QUIET 4

/*
 * Largest symbol version drawn at error correction level M (15% of the
 * symbol may be lost). Text that needs a larger version at M uses level L
 * (7%) when that gives a smaller symbol: a screen does not get dirty or
 * torn, and larger modules scan from further away than extra redundancy
 * would. Version 6 is 41 modules, 49 columns with the quiet zone.
 */
#define QR_LEVEL_M_MAX_VERSION 6

/*
 * Draw `text` (bytes in 8-bit mode, case kept) as a QR code for a
 * terminal. A symbol of `size` modules is drawn with its quiet zone as
 * (size + 2 * QR_QUIET + 1) / 2 lines of size + 2 * QR_QUIET characters,
 * each line ending in '\n': every character cell holds two modules, one
 * above the other, drawn with U+2580 (upper half), U+2584 (lower half),
 * U+2588 (full block) or a space. The lower half of the last line lies
 * below the symbol and is left empty.
 *
 * A scanner wants dark modules on a light background, and most terminals
 * draw a light foreground on a dark background, so by default the LIGHT
 * modules (quiet zone included) are drawn with the block characters and
 * the dark ones are left to the terminal's background. When `invert` is
 * true, for a terminal with dark text on a light background, the dark
 * modules are drawn instead.
 *
 * Returns a malloc'd NUL-terminated UTF-8 string that the caller frees,
 * or NULL with errno set: EINVAL for an empty text, ERANGE for one too
 * long for any QR code (over 2,953 bytes), ENOMEM.
 */
char *qr_text(const char *text, bool invert)
    __attribute__((warn_unused_result));

#endif
