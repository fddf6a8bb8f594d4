# SPDX-License-Identifier: MIT
"""HTTP mode: WebSocket and other upgrades.

The WebSocket backend here is written with plain sockets: the opening
handshake of RFC 6455 and an echo of every frame.

- messages of a few bytes to a few hundred KiB echo through portier, with
  Connection: upgrade and with Connection: keep-alive, Upgrade;
- a frame the backend sends in the same write as its 101 reaches the
  client; bytes the client sends before the 101 (in the request's write
  or later) never reach the backend;
- a backend that answers an Upgrade request with something else than 101
  keeps the connection in HTTP: the next request is parsed and routed as
  one;
- Upgrade: h2c is never forwarded as an upgrade, and a 101 the backend
  sends anyway becomes a 502;
- an upgraded connection stays open across more than timeout_header, while
  a request head that takes that long gets its 408;
- the access log has one entry per upgraded connection, written when it
  closes (by either side, by timeout_idle, or cut by a stop), with status
  101, the bytes of the whole connection each way (request and 101 heads,
  then every frame) and, for one closed by the client, a duration that
  covers the time it was open.
"""

import base64
import json
import os
import signal
import struct
import time

from httptest import (WS_BINARY, WS_CLOSE, WS_TEXT, EchoBackend,
                      HttpPortier, Reader, describe, read_request, request,
                      response_bytes, ws_accept_key, ws_frame, ws_read_frame)
from lib import (KIB, Server, TestFailure, check, check_equal, check_log,
                 info, run, step, tmpdir, wait_until)

TEXT, BINARY, CLOSE = WS_TEXT, WS_BINARY, WS_CLOSE
accept_key, frame, read_frame = ws_accept_key, ws_frame, ws_read_frame
HEADER_TIMEOUT = 1.0
LOG_IDLE_TIMEOUT = 1.0


def ws_backend(conn, server):
    """Requests of a keep-alive connection: a WebSocket upgrade is
    accepted (on /greet with a first frame in the same write as the 101)
    and every frame echoed; /force101 gets a 101 whatever it asked;
    anything else gets the JSON description of the request."""
    try:
        return ws_serve(Reader(conn), conn, server)
    finally:
        conn.close()


def ws_serve(reader, conn, server):
    """The requests of one connection of ws_backend."""
    while True:
        req = read_request(reader)
        if req is None:
            return "closed"
        server.requests.append(req)
        h = req.headers
        if req.target == "/force101":
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                         b"Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            return "forced"
        if (h.get("upgrade", "").lower() == "websocket" and
                req.target != "/refuse"):
            out = (b"HTTP/1.1 101 Switching Protocols\r\n"
                   b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Accept: " +
                   accept_key(h.get("sec-websocket-key")).encode() +
                   b"\r\n\r\n")
            if req.target == "/greet":
                out += frame(b"welcome, sent with the 101")
            if req.target == "/slow":
                time.sleep(0.5)  # the client's early bytes come first
            conn.sendall(out)
            return ws_echo(reader, conn)
        conn.sendall(response_bytes(200, "OK", [],
                                    describe("ws-backend", req)))


def ws_echo(reader, conn):
    """Echo frames until a close frame, which is answered; then close."""
    count = 0
    while True:
        opcode, payload = read_frame(reader)
        if opcode == CLOSE:
            conn.sendall(frame(payload, CLOSE))
            return count
        conn.sendall(frame(payload, opcode))
        count += 1


class Setup:
    def __init__(self):
        self.ws = Server(ws_backend)
        self.ws.requests = []
        self.other = EchoBackend("other")
        self.p = HttpPortier(
            {"web": {}},
            [("ws.test", {"backend": self.ws.addr}),
             ("other.test", {"backend": self.other.addr})],
            global_keys={"timeout_header": f"{int(HEADER_TIMEOUT)}s"})

    def upgrade(self, target="/", connection="Upgrade", p=None):
        """A client connection to p (by default the portier of the
        tests) upgraded to a WebSocket; (conn, 101, size of the request
        sent)."""
        c = (p or self.p).conn("web")
        key = base64.b64encode(os.urandom(16)).decode()
        req = request("GET", target, "ws.test", [
            f"Connection: {connection}", "Upgrade: websocket",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
            "Origin: http://ws.test"])
        c.send(req)
        resp = c.response(interim=False)
        if resp.status != 101:
            raise TestFailure(f"upgrade to {target}: expected 101, got "
                              f"{resp!r}")
        check_equal(resp.headers.get("sec-websocket-accept"),
                    accept_key(key), "101 with the right "
                    "Sec-WebSocket-Accept")
        check_equal(resp.headers.get("upgrade", "").lower(), "websocket",
                    "   and Upgrade: websocket")
        check("upgrade" in resp.headers.get("connection", "").lower(),
              "   and Connection: upgrade", str(resp.headers.list))
        return c, resp, len(req)


def echo_ok(c, payload, opcode=TEXT):
    """Send a frame, check that the same comes back."""
    c.send(frame(payload, opcode, masked=True))
    got = read_frame(c.reader)
    return got == (opcode, payload)


def test_echo(s):
    for connection in ("Upgrade", "keep-alive, Upgrade"):
        step(f"WebSocket echo through portier (Connection: {connection})")
        c, _, _ = s.upgrade(connection=connection)
        req = s.ws.requests[-1]
        check_equal(req.headers.get("upgrade"), "websocket",
                    "the backend got Upgrade: websocket")
        check("upgrade" in req.headers.get("connection", "").lower(),
              "   and Connection: upgrade", str(req.headers.list))
        for size in (5, 125, 126, 65535, 65536, 300 * KIB):
            payload = os.urandom(size)
            check(echo_ok(c, payload, BINARY),
                  f"a {size}-byte message echoes")
        check(echo_ok(c, "text ✓".encode()), "a text message echoes")
        c.send(frame(struct.pack("!H", 1000), CLOSE, masked=True))
        check_equal(read_frame(c.reader), (CLOSE, struct.pack("!H", 1000)),
                    "the close frame is answered")
        check(c.closed(), "then the connection closes")


def test_greeting(s):
    step("a frame sent in the same write as the 101 reaches the client")
    c, _, _ = s.upgrade("/greet")
    check_equal(read_frame(c.reader), (TEXT, b"welcome, sent with the 101"),
                "the backend's first frame arrives")
    check(echo_ok(c, b"after the greeting"), "echo works after it")
    c.close()


def test_early_bytes(s):
    step("bytes a client sends before the 101 never reach the backend")
    for how in ("in the same write as the request", "in a write of their "
                "own, before the 101"):
        c = s.p.conn("web")
        key = base64.b64encode(os.urandom(16)).decode()
        req = request("GET", "/slow", "ws.test", [
            "Connection: Upgrade", "Upgrade: websocket",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"])
        early = frame(b"sent before the 101", TEXT, masked=True)
        if how.startswith("in the same"):
            c.send(req + early)
        else:
            c.send(req)
            time.sleep(0.2)
            c.send(early)
        resp = c.response(interim=False)
        check_equal(resp.status, 101, f"{how}: 101")
        check(echo_ok(c, b"after the 101"), "   the first frame the "
              "backend echoes is the one sent after the 101")
        c.close()


def test_refused_upgrade(s):
    step("an Upgrade answered with 200 keeps HTTP on the connection")
    c = s.p.conn("web")
    c.send(request("GET", "/refuse", "ws.test", [
        "Connection: Upgrade", "Upgrade: websocket",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13"]))
    resp = c.response()
    check_equal((resp.status, resp.json()["name"]), (200, "ws-backend"),
                "the backend's 200 arrives")
    resp = c.exchange(request("GET", "/next", "other.test"))
    check_equal((resp.status, resp.json()["name"]), (200, "other"),
                "the next request on the connection is routed by its Host "
                "(not tunnelled to the first backend)")
    c.close()


H2C = ["Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c",
       "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"]


def test_h2c(s):
    step("Upgrade: h2c is not forwarded as an upgrade")
    c = s.p.conn("web")
    resp = c.exchange(request("GET", "/h2c", "other.test", H2C))
    check_equal(resp.status, 200, "a plain 200 comes back")
    got = resp.json()
    names = [n.lower() for n, _ in got["headers"]]
    info("backend received: " + ", ".join(names))
    check("upgrade" not in names and "http2-settings" not in names,
          "the backend got neither Upgrade nor HTTP2-Settings",
          str(got["headers"]))
    check(all("upgrade" not in v.lower() for n, v in got["headers"]
              if n.lower() == "connection"),
          "   nor Connection: upgrade", str(got["headers"]))
    resp = c.exchange(request("GET", "/after-h2c", "other.test"))
    check_equal(resp.json()["target"], "/after-h2c",
                "the connection stays HTTP/1.1")
    c.close()

    step("a backend that answers h2c with 101 anyway: 502, no tunnel")
    c = s.p.conn("web")
    resp = c.exchange(request("GET", "/force101", "ws.test", H2C))
    check_equal(resp.status, 502, "the client gets 502")
    c.close()


def test_outlives_header_timeout(s):
    step(f"an upgraded connection outlives timeout_header = "
         f"{HEADER_TIMEOUT:.0f}s")
    c, _, _ = s.upgrade()
    since = time.monotonic()
    slow = s.p.conn("web")
    slow.send(b"GET / HTTP/1.1\r\nHost: other.test\r\n")
    resp = slow.response()
    check_equal(resp.status, 408, "meanwhile, a request head that does not "
                "end in time gets 408")
    slow.close()
    left = since + 2.5 * HEADER_TIMEOUT - time.monotonic()
    if left > 0:
        time.sleep(left)
    info(f"WebSocket idle for {time.monotonic() - since:.1f} s")
    check(echo_ok(c, b"still here"), "the WebSocket still echoes")
    c.close()


def echo_sizes(c, sizes):
    """Echo a binary message of each size over the WebSocket c; (bytes
    sent, bytes received), frames as they are on the wire."""
    sent = got = 0
    for size in sizes:
        payload = os.urandom(size)
        out = frame(payload, BINARY, masked=True)
        c.send(out)
        check_equal(read_frame(c.reader), (BINARY, payload),
                    f"a {size}-byte message echoes")
        sent += len(out)
        got += len(frame(payload, BINARY))
    return sent, got


def log_entries(path, target):
    """The access log entries (JSON) of the requests for `target`."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]  # whole lines only
    except FileNotFoundError:
        return []
    return [e for e in map(json.loads, lines) if e.get("target") == target]


def check_entry(path, target, bytes_in, bytes_out):
    """Wait for the entry of `target` and check its status and bytes;
    return it."""
    check(wait_until(lambda: log_entries(path, target), 5.0),
          f"an access log entry for {target}")
    entry = log_entries(path, target)[0]
    info("log: " + json.dumps(entry))
    check_equal((entry["status"], entry["bytes_in"], entry["bytes_out"]),
                (101, bytes_in, bytes_out), "   status 101, and the bytes "
                "of the whole connection in and out (heads and frames)")
    return entry


def test_access_log(s):
    path = os.path.join(tmpdir(), "access.log")
    p = HttpPortier(
        {"web": {}}, [("ws.test", {"backend": s.ws.addr})],
        global_keys={"access_log": path, "access_log_format": "json",
                     "timeout_idle": f"{int(LOG_IDLE_TIMEOUT)}s"})
    closing = frame(struct.pack("!H", 1000), CLOSE, masked=True)
    closed = frame(struct.pack("!H", 1000), CLOSE)

    step("access log: a WebSocket the client closes is logged when it "
         "closes, with all its bytes and its whole duration")
    c, resp, head = s.upgrade("/log-close", p=p)
    opened = time.monotonic()
    sent, got = echo_sizes(c, (100, 70 * KIB))
    time.sleep(0.3)
    check_equal(log_entries(path, "/log-close"), [],
                "no entry while the WebSocket is open")
    held = time.monotonic() - opened
    c.send(closing)
    check_equal(read_frame(c.reader), (CLOSE, struct.pack("!H", 1000)),
                "the close frame is answered")
    check(c.closed(), "then the connection closes")
    c.close()
    entry = check_entry(path, "/log-close", head + sent + len(closing),
                        resp.wire_len + got + len(closed))
    check(entry["duration_ms"] >= int(held * 1000),
          f"   duration_ms covers the {held * 1000:.0f} ms it was open",
          str(entry["duration_ms"]))

    step(f"access log: a WebSocket closed by timeout_idle = "
         f"{LOG_IDLE_TIMEOUT:.0f}s")
    c, resp, head = s.upgrade("/log-idle", p=p)
    sent, got = echo_sizes(c, (1000,))
    check(c.closed(within=5 * LOG_IDLE_TIMEOUT), "portier closes it")
    c.close()
    check_entry(path, "/log-idle", head + sent, resp.wire_len + got)

    step("access log: a WebSocket cut by a stop (a second SIGTERM while "
         "it drains)")
    c, resp, head = s.upgrade("/log-stop", p=p)
    sent, got = echo_sizes(c, (1000, 70 * KIB))
    p.portier.send_signal(signal.SIGTERM)
    check_log(p.portier, "waiting up to")
    more, back = echo_sizes(c, (10,))
    p.portier.send_signal(signal.SIGTERM)
    check_equal(p.portier.wait_exit(5), 0, "portier stops with status 0")
    check_entry(path, "/log-stop", head + sent + more,
                resp.wire_len + got + back)
    check_equal([len(log_entries(path, t)) for t in
                 ("/log-close", "/log-idle", "/log-stop")], [1, 1, 1],
                "one entry for each, none twice")
    c.close()


def main():
    s = Setup()
    test_echo(s)
    test_greeting(s)
    test_early_bytes(s)
    test_refused_upgrade(s)
    test_h2c(s)
    test_outlives_header_timeout(s)
    test_access_log(s)


run(main)
