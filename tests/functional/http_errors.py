# SPDX-License-Identifier: MIT
"""HTTP mode: the answers portier gives itself when it cannot forward.

- 502 when nothing listens on the backend port: the page names the backend
  and says nothing listens there (HTML for Accept: text/html, plain text
  otherwise, no body for HEAD); a backend on ::1 only is diagnosed as such;
- 504 when the connect does not complete within timeout_connect (a backend
  whose accept queue is full), and when a connected backend does not
  answer within timeout_idle;
- 408 when a request head does not arrive within timeout_header, whether
  it stalls or trickles, and for a client that sends nothing at all;
- 431 for a 40 KiB header field and for too many fields; the backend sees
  nothing;
- the 404 page of a listener without default backend, in both forms, on a
  connection that goes on;
- 501 for CONNECT, 417 for an unknown expectation, 505 for HTTP/2.0.
"""

import select
import time

from httptest import EchoBackend, HttpPortier, RawBackend, request
from lib import (LOOPBACK4, LOOPBACK6, Server, Unreachable, check,
                 check_equal, check_log, free_port, have_ipv6, info,
                 port_is_free, run, step)

# timeout_idle is longer than timeout_connect, so that a hanging connect
# ends by timeout_connect, and timeout_header longer than both, so that no
# other timer of the client connection runs out at the same time. The 408
# tests have a portier of their own with a short timeout_header.
CONNECT_TIMEOUT = 1
IDLE_TIMEOUT = 2
HEADER_TIMEOUT = 1
LONG_HEADER_TIMEOUT = 4


def never_answers(conn, server):
    """Read the request and keep the connection open without a word."""
    conn.settimeout(20)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


class Setup:
    def __init__(self):
        self.down_port = free_port()
        self.down = f"{LOOPBACK4}:{self.down_port}"
        self.hang = Unreachable()
        self.silent = Server(never_answers)
        self.raw = RawBackend(lambda req, conn: b"HTTP/1.1 200 OK\r\n"
                              b"Content-Length: 2\r\n\r\nok")
        self.echo = EchoBackend("echo")
        self.v6 = None
        vhosts = [("down.test", {"backend": self.down}),
                  ("hang.test", {"backend": self.hang.addr}),
                  ("silent.test", {"backend": self.silent.addr}),
                  ("raw.test", {"backend": self.raw.addr}),
                  ("echo.test", {"backend": self.echo.addr})]
        if have_ipv6():
            self.v6 = Server(never_answers, host=LOOPBACK6)
            if port_is_free(LOOPBACK4, self.v6.port):
                vhosts.append(("v6only.test", {
                    "backend": f"{LOOPBACK4}:{self.v6.port}"}))
            else:
                self.v6 = None
        self.p = HttpPortier({"web": {}}, vhosts, global_keys={
            "timeout_connect": f"{CONNECT_TIMEOUT}s",
            "timeout_idle": f"{IDLE_TIMEOUT}s",
            "timeout_header": f"{LONG_HEADER_TIMEOUT}s"})
        self.ph = HttpPortier(
            {"web": {"backend": self.echo.addr}},
            global_keys={"timeout_header": f"{HEADER_TIMEOUT}s"})

    def conn(self, timeout=10.0):
        return self.p.conn("web", timeout=timeout)


def test_refused(s):
    step(f"backend {s.down} refuses: 502 naming it, saying nothing "
         "listens there")
    for accept, ctype in (("text/html,application/xhtml+xml;q=0.9",
                           "text/html"), ("*/*", "text/plain"),
                          (None, "text/plain")):
        c = s.conn()
        headers = [f"Accept: {accept}"] if accept else []
        resp = c.exchange(request("GET", "/", "down.test", headers))
        check_equal(resp.status, 502, f"Accept: {accept}: 502")
        check(resp.headers.get("content-type", "").startswith(ctype),
              f"   {ctype} page", str(resp.headers.list))
        text = resp.text()
        check(s.down in text, f"   the page names the backend {s.down}",
              text)
        check(f"nothing listens on port {s.down_port}" in text.lower(),
              f"   the page says nothing listens on port {s.down_port}",
              text)
        if ctype == "text/html":
            check(text.lstrip().lower().startswith("<!doctype html"),
                  "   an HTML document", text[:80])
        else:
            info("page: " + " | ".join(text.splitlines()))
        check(c.closed(), "   then the connection closes")
    c = s.conn()
    c.send(request("HEAD", "/", "down.test"))
    resp = c.response("HEAD")
    check_equal(resp.status, 502, "HEAD: 502")
    check(c.closed(), "   without a body, then closed")
    check_log(s.p.portier, "502", s.down)

    if s.v6 is None:
        info("no IPv6 loopback (or its port is taken on IPv4): the "
             "IPv6-only diagnosis is not tested")
        return
    step("backend 127.0.0.1:P with a service on [::1]:P only: the page "
         "says so and suggests localhost:P")
    resp = s.p.get("v6only.test", "/")
    check_equal(resp.status, 502, "502")
    text = resp.text()
    info("page: " + " | ".join(text.splitlines()))
    check("ipv6 only" in text.lower() and
          f"localhost:{s.v6.port}" in text,
          "the page says the service listens on IPv6 only, suggests "
          f"localhost:{s.v6.port}", text)


def test_timeouts(s):
    step("connect timeout: 504 after timeout_connect")
    if not s.hang.really_hangs():
        info("connects to a full backlog complete on this kernel: cannot "
             "make a hanging backend, connect-timeout part skipped")
    else:
        c = s.conn()
        started = time.monotonic()
        resp = c.exchange(request("GET", "/", "hang.test"))
        elapsed = time.monotonic() - started
        check_equal(resp.status, 504, "504 Gateway Timeout")
        info(f"after {elapsed:.2f} s: " + " | ".join(
            resp.text().splitlines()))
        check(0.8 * CONNECT_TIMEOUT <= elapsed <= CONNECT_TIMEOUT + 2.5,
              "about timeout_connect after the request",
              f"after {elapsed:.2f} s")
        check(s.hang.addr in resp.text(), "the page names the backend",
              resp.text())

        step("timeout_connect = timeout_header: the 504 still reaches "
             "the client")
        # The client connection's timer (timeout_header, from the
        # accept) runs out with the connect's, while the 504 waits for
        # the end of the event loop's turn.
        same = HttpPortier({"web": {}}, [("hang.test",
                                          {"backend": s.hang.addr})],
                           global_keys={
                               "timeout_connect": f"{CONNECT_TIMEOUT}s",
                               "timeout_header": f"{CONNECT_TIMEOUT}s"})
        for i in range(3):
            resp = same.conn("web").exchange(request("GET", "/",
                                                     "hang.test"))
            check_equal(resp.status, 504, f"request {i + 1}: 504")

    step("a backend that accepts and never answers: 504 after "
         "timeout_idle")
    c = s.conn()
    started = time.monotonic()
    resp = c.exchange(request("GET", "/", "silent.test"))
    elapsed = time.monotonic() - started
    check_equal(resp.status, 504, "504 Gateway Timeout")
    info(f"after {elapsed:.2f} s: " + " | ".join(resp.text().splitlines()))
    check(0.8 * IDLE_TIMEOUT <= elapsed <= IDLE_TIMEOUT + 2.5,
          "about timeout_idle after the request", f"after {elapsed:.2f} s")
    check(s.silent.addr in resp.text(), "the page names the backend",
          resp.text())


def test_header_timeout(s):
    step("a request head that stalls: 408 after timeout_header")
    c = s.ph.conn("web")
    started = time.monotonic()
    c.send(b"GET / HTTP/1.1\r\nHost: echo.test\r\n")
    resp = c.response()
    elapsed = time.monotonic() - started
    check_equal(resp.status, 408, "408 Request Timeout")
    check(0.8 * HEADER_TIMEOUT <= elapsed <= HEADER_TIMEOUT + 2.5,
          "about timeout_header after its first byte",
          f"after {elapsed:.2f} s")
    check(c.closed(), "then the connection closes")

    step("a client that connects and sends nothing: 408 all the same")
    c = s.ph.conn("web")
    started = time.monotonic()
    resp = c.response()
    elapsed = time.monotonic() - started
    check_equal(resp.status, 408, "408 Request Timeout")
    # The kernel hands such a connection over after a second (portier
    # asks to be woken by the first bytes of a client that speaks
    # first), and timeout_header runs from then on.
    check(0.8 * HEADER_TIMEOUT <= elapsed <= HEADER_TIMEOUT + 2.5,
          "about timeout_header after the connect, and a second at most "
          "more", f"after {elapsed:.2f} s")
    check(c.closed(), "then the connection closes")

    step("a request head that trickles a byte every 0.1 s: 408 all the "
         "same")
    c = s.ph.conn("web")
    head = b"GET / HTTP/1.1\r\nHost: echo.test\r\n" + b"X-Slow: " + \
        b"s" * 100
    started = time.monotonic()
    sent = 0
    try:
        while sent < len(head) and time.monotonic() - started < 5:
            c.send(head[sent:sent + 1])
            sent += 1
            if select.select([c.sock], [], [], 0.1)[0]:
                break  # an answer has begun
    except OSError:
        pass
    elapsed = time.monotonic() - started
    resp = c.response()
    check_equal(resp.status, 408, f"408 after {sent} bytes in "
                f"{elapsed:.2f} s")
    check(elapsed <= HEADER_TIMEOUT + 2.5, "within about timeout_header",
          f"after {elapsed:.2f} s")


def test_too_large(s):
    step("a 40 KiB header field: 431, and the backend sees nothing")
    c = s.conn()
    c.send(request("GET", "/", "raw.test", ["X-Big: " + "a" * 40960]))
    resp = c.response()
    check_equal(resp.status, 431, "431 Request Header Fields Too Large")
    check(c.closed(), "then the connection closes")

    step("200 header fields: 431, and the backend sees nothing")
    c = s.conn()
    c.send(request("GET", "/", "raw.test",
                   [f"X-Field-{i}: {i}" for i in range(200)]))
    resp = c.response()
    check_equal(resp.status, 431, "431 Request Header Fields Too Large")
    c.close()
    check_equal(s.raw.received_bytes(), b"", "the backend received no "
                "byte")
    resp = s.p.get("raw.test", "/fine")
    check_equal(resp.body, b"ok", "a normal request to it works")


def test_404(s):
    step("404 page of a listener without default backend")
    for accept in ("text/html", None):
        c = s.conn()
        headers = [f"Accept: {accept}"] if accept else []
        resp = c.exchange(request("GET", "/", "nope.test", headers))
        check_equal(resp.status, 404, f"Accept: {accept}: 404")
        text = resp.text()
        if accept:
            check("<title>404 Not Found</title>" in text,
                  "   an HTML page titled 404 Not Found", text[:300])
        else:
            info("page: " + " | ".join(text.splitlines()))
        for name in ("nope.test", "down.test", "echo.test"):
            check(name in text, f"   the page mentions {name}", text)
        resp = c.exchange(request("GET", "/next", "echo.test"))
        check_equal(resp.json()["target"], "/next",
                    "   the connection goes on with the next request")
        c.close()


def test_own_answers(s):
    step("CONNECT, an unknown expectation, HTTP/2.0")
    before = len(s.echo.requests)
    for data, status, what in [
            (b"CONNECT echo.test:443 HTTP/1.1\r\nHost: echo.test:443\r\n"
             b"\r\n", 501, "CONNECT: 501"),
            (request("GET", "/", "echo.test", ["Expect: teapot"]), 417,
             "Expect: teapot: 417"),
            (b"GET / HTTP/2.0\r\nHost: echo.test\r\n\r\n", 505,
             "HTTP/2.0: 505")]:
        c = s.conn()
        c.send(data)
        resp = c.response()
        check_equal(resp.status, status, what)
        c.close()
    check_equal(len(s.echo.requests), before, "none reached the backend")


def main():
    s = Setup()
    test_refused(s)
    test_timeouts(s)
    test_header_timeout(s)
    test_too_large(s)
    test_404(s)
    test_own_answers(s)


run(main)
