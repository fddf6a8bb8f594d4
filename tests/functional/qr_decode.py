# SPDX-License-Identifier: MIT
"""QR codes drawn for a terminal decode, with a real decoder, to exactly
the text they were drawn for.

The drawings come from qr_text() through the unit test binary
(`tests/unit/test_qr --print TEXT`, next to $PORTIER in the build tree);
qrtest turns each into a PNG and has zbarimg read it. Checked for LAN
URLs of both families, a URL with a query in mixed case, one of 200
characters and one of 600 (level L, a large symbol), each drawn for a
dark terminal and inverted for a light one; the quiet zone is light.
Skipped when the unit tests were not built (no cmocka) or zbarimg is
missing.
"""

import os
import subprocess

from lib import check, check_equal, info, run, skip, step
from qrtest import QUIET, decode_terminal_qr, find_drawing, parse_drawing

URLS = [
    "http://192.168.1.23:8080/",
    "https://[fd00::1]:8443/",
    "https://[2001:db8:1234:5678:9abc:def0:1234:5678]:8443/",
    "http://laptop.local:3000/Some/Path?token=AbC123&x=%20y",
    "http://192.168.100.200:8080/app/" + "abcdefghij0123456789" * 8 + "-" * 8,
    "https://192.168.1.23:8443/" + "0123456789abcdefXYZ/" * 28 + "x" * 14,
]


def qr_printer():
    """The unit test binary that prints qr_text's drawings."""
    portier = os.environ.get("PORTIER") or os.path.abspath("portier")
    path = os.path.join(os.path.dirname(portier), "tests", "unit", "test_qr")
    if not os.access(path, os.X_OK):
        skip(f"{path} was not built (the unit tests need cmocka)")
    return path


def draw(printer, url, invert):
    """qr_text's drawing of url."""
    option = "--print-invert" if invert else "--print"
    result = subprocess.run([printer, option, url], capture_output=True,
                            timeout=10)
    check(result.returncode == 0, f"test_qr {option} exits 0",
          result.stderr.decode(errors="replace"))
    return result.stdout.decode("utf-8")


def quiet_zone_light(modules):
    """Whether the QUIET outer rows and columns are all light."""
    size = len(modules)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            edge = min(r, c, size - 1 - r, size - 1 - c) < QUIET
            if edge and dark:
                return False
    return True


def main():
    printer = qr_printer()
    for invert in (False, True):
        step("drawn for a " + ("light" if invert else "dark") +
             " terminal" + (" (inverted)" if invert else ""))
        for url in URLS:
            text = draw(printer, url, invert)
            modules = parse_drawing(find_drawing(text), invert)
            info(f"{len(url)} characters: {len(modules) - 2 * QUIET} "
                 f"modules, {len(text.splitlines())} lines")
            check(quiet_zone_light(modules), "the quiet zone is light")
            check_equal(decode_terminal_qr(text, invert), url,
                        "zbarimg reads the URL")


run(main)
