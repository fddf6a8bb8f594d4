# SPDX-License-Identifier: MIT
"""Reading back the QR codes portier draws in a terminal.

A drawing is lines of equal length made of four characters, each cell
holding two modules, one above the other: space (neither), U+2580 (upper
half), U+2584 (lower half), U+2588 (both). The block characters stand for
LIGHT modules, since a terminal usually draws a light foreground on a dark
background; an inverted drawing (for light-background terminals) draws the
dark ones instead. The lower half of the last line lies below the symbol.

- `find_drawing(text)` picks the drawing out of a command's output;
- `parse_drawing(lines, invert)` turns it into rows of modules;
- `write_png(modules, path)` writes them as a black-on-white PNG, each
  module a square of pixels (no library needed: zlib and struct);
- `decode_terminal_qr(text, invert)` does all of that and has a real
  decoder, `zbarimg` (Debian zbar-tools), read the PNG; the test is
  skipped when it is not installed.
The PNG has no border beyond the drawing's own quiet zone, so a drawing
without one would fail to decode rather than be helped out.
"""

import os
import shutil
import struct
import subprocess
import zlib

from lib import TestFailure, info, skip, tmpdir

# Which halves (upper, lower) each character covers.
CELLS = {
    " ": (False, False),
    "\u2580": (True, False),
    "\u2584": (False, True),
    "\u2588": (True, True),
}

# Modules of quiet zone drawn on each side (QR_QUIET in qr.h).
QUIET = 4

# Pixels per module side in the PNG.
SCALE = 8

_pngs = 0


def find_drawing(text):
    """The longest run of consecutive non-empty lines of the same length
    made only of the four cell characters."""
    best, run = [], []
    for line in text.split("\n"):
        if not line or any(ch not in CELLS for ch in line):
            run = []
        elif run and len(line) == len(run[0]):
            run.append(line)
        else:
            run = [line]
        if len(run) > len(best):
            best = list(run)
    if not best:
        raise TestFailure(f"no QR code drawing in:\n{text}")
    return best


def parse_drawing(lines, invert=False):
    """Rows of modules (True: dark) of a drawing, quiet zone included,
    without the empty lower half of the last line."""
    width = len(lines[0])
    rows = []
    for number, line in enumerate(lines):
        if len(line) != width:
            raise TestFailure(f"line {number} of the drawing has "
                              f"{len(line)} cells, not {width}")
        upper, lower = [], []
        for ch in line:
            if ch not in CELLS:
                raise TestFailure(f"unexpected character {ch!r} in line "
                                  f"{number} of the drawing")
            top, bottom = CELLS[ch]
            upper.append(top == invert)
            lower.append(bottom == invert)
        rows += [upper, lower]
    if len(rows) != width + 1:
        raise TestFailure(f"a drawing {width} cells wide has {len(lines)} "
                          f"lines, not {(width + 1) // 2}")
    if any(CELLS[ch][1] for ch in lines[-1]):
        raise TestFailure("the lower half of the last line is not empty")
    return rows[:width]


def _chunk(kind, data):
    """One PNG chunk: length, type, data, CRC of type and data."""
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png(modules, path, scale=SCALE):
    """Write modules (rows of booleans, True: dark) as an 8-bit greyscale
    PNG, black on white, each module scale x scale pixels."""
    height = len(modules) * scale
    width = len(modules[0]) * scale
    raw = bytearray()
    for row in modules:
        line = b"\x00" + b"".join(
            (b"\x00" if dark else b"\xff") * scale for dark in row)
        raw += line * scale
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                            0, 0, 0)))
        f.write(_chunk(b"IDAT", zlib.compress(bytes(raw), 9)))
        f.write(_chunk(b"IEND", b""))


def zbarimg():
    """The path of zbarimg, or skip the test."""
    path = shutil.which("zbarimg")
    if path is None:
        skip("zbarimg is not installed (apt-get install zbar-tools)")
    return path


def decode_terminal_qr(text, invert=False):
    """The text a QR decoder reads from the drawing in `text`: raises
    TestFailure when the drawing is malformed or nothing decodes."""
    global _pngs
    modules = parse_drawing(find_drawing(text), invert)
    _pngs += 1
    path = os.path.join(tmpdir(), f"qr-{_pngs}.png")
    write_png(modules, path)
    cmd = [zbarimg(), "--raw", "-q", path]
    result = subprocess.run(cmd, capture_output=True, timeout=20)
    if result.returncode != 0:
        info("$ " + " ".join(cmd))
        raise TestFailure(f"zbarimg found no QR code in {path} (exit "
                          f"{result.returncode}): "
                          f"{result.stderr.decode(errors='replace')}")
    out = result.stdout.decode("utf-8", errors="replace")
    return out[:-1] if out.endswith("\n") else out
