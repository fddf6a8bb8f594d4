# SPDX-License-Identifier: MIT
"""The status page in a real browser: headless Chromium.

The page is loaded from the admin server and watched through the DevTools
protocol (a websocket to Chromium's --remote-debugging-port, spoken by the
small client of devtools.py, with python's standard library only):

- the page draws itself from /status.json (its state says "live") and
  shows the backend of a tcp listener as up;
- a connection held open to that listener appears in the page's table of
  live connections, with its client address, without the page being
  reloaded; once closed, it disappears;
- everything the page loaded came from the admin server itself.

Skipped (77) when no Chromium is installed (Debian: apt-get install
chromium; or set $PORTIER_CHROMIUM to a Chromium or Chrome binary).
Chromium and every process it starts are stopped at the end.
"""

import time

from devtools import find_chromium, start_chromium
from lib import (LOOPBACK4, Server, check, check_equal, connect, echo,
                 echo_ok, fmt_addr, free_port, info, run, section, skip,
                 start_portier, step, tcp_listener)


def main():
    binary = find_chromium()
    if binary is None:
        skip("no Chromium found: install it (Debian: apt-get install "
             "chromium) or set PORTIER_CHROMIUM")
    backend = Server(echo)
    ports = {}

    def config():
        ports["admin"], ports["fwd"] = free_port(), free_port()
        return (section("global", admin=fmt_addr(LOOPBACK4, ports["admin"]))
                + tcp_listener("fwd", fmt_addr(LOOPBACK4, ports["fwd"]),
                               backend.addr))

    step("portier with the admin page, and headless Chromium")
    start_portier(config)
    origin = f"http://127.0.0.1:{ports['admin']}"
    # A first connection makes the backend known to be up.
    s = connect(LOOPBACK4, ports["fwd"])
    check(echo_ok(s), "a first connection echoes")
    s.close()
    devtools = start_chromium(binary).page()
    devtools.call("Page.enable")
    devtools.call("Page.navigate", url=origin + "/")
    devtools.wait_for("document.readyState === 'complete' && "
                      "location.href.startsWith('" + origin + "')", 10.0,
                      "the page loaded")

    step("the page draws itself from /status.json")
    devtools.wait_for("!!document.querySelector('#state.live')", 10.0,
                      "the page says it is live")
    devtools.wait_for(
        "!!document.querySelector('#backends tr[data-backend=\""
        + backend.addr + "\"][data-up=\"true\"]')", 5.0,
        f"the backend {backend.addr} is shown up")
    check_equal(devtools.evaluate(
        "document.querySelector('#listeners tr[data-listener=\"fwd\"]')"
        " !== null"), True, "listener fwd is shown")

    step("a live connection appears, then disappears")
    s = connect(LOOPBACK4, ports["fwd"])
    check(echo_ok(s, b"z" * 2048), "a connection held open echoes")
    client = fmt_addr(*s.getsockname()[:2])
    row = "document.querySelector('#connections tr[data-client=\"" + \
        client + "\"]')"
    started = time.monotonic()
    devtools.wait_for(row + " !== null", 8.0,
                      f"{client} appears in the live connections")
    info(f"after {time.monotonic() - started:.1f} s: " +
         devtools.evaluate(row + ".innerText").replace("\t", " | "))
    check("fwd" in devtools.evaluate(row + ".innerText"),
          "its row names listener fwd")
    loads = devtools.evaluate("performance.getEntriesByType('navigation')"
                              ".length")
    s.close()
    started = time.monotonic()
    devtools.wait_for(row + " === null", 8.0,
                      f"{client} disappears once closed")
    info(f"after {time.monotonic() - started:.1f} s")
    check_equal(devtools.evaluate(
        "performance.getEntriesByType('navigation').length"), loads,
        "the page was not reloaded meanwhile")

    step("the page needs nothing but the admin server")
    urls = devtools.evaluate(
        "[location.href].concat(performance.getEntriesByType('resource')"
        ".map(function (e) { return e.name; }))")
    others = [u for u in urls if not u.startswith(origin + "/")]
    check_equal(others, [], "every resource came from " + origin)
    info(f"{len(urls)} loads, all from the admin server")


if __name__ == "__main__":
    run(main)
