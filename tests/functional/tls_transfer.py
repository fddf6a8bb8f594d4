# SPDX-License-Identifier: MIT
"""TLS termination: what goes through it.

- mode = tcp with tls = on terminates TLS and relays the plain bytes, as
  stunnel or hitch do: the backend receives exactly what the client
  wrote; the client's close_notify reaches the backend as EOF, and the
  backend's FIN the client as close_notify;
- 100 MiB through a tls = on tcp listener in each direction at the same
  time, with equal SHA-256 at both ends;
- a 100 MiB HTTP response through an https listener, with an equal
  SHA-256, and the connection is kept alive after it;
- a WebSocket through an https listener: the upgrade, messages up to
  1 MiB, the close handshake.
"""

import base64
import hashlib
import os
import socket
import struct
import time

from httptest import (Fields, RawBackend, Reader, parse_head, request,
                      response_bytes)
from lib import (KIB, MIB, Server, Transfer, Worker, check, check_equal,
                 info, recv_until_eof, run, send_stream, step)
from tlstest import (BULK_READ, WS_BINARY, WS_CLOSE, WS_TEXT, TlsConn,
                     TlsPortier, make_pki, peer_name, tls_connect,
                     ws_accept_key, ws_echo_backend, ws_frame,
                     ws_read_frame)

BULK = 100 * MIB
# Seconds without a byte after which a transfer counts as stalled.
STALL = 10
UP_SEED, DOWN_SEED, HTTP_SEED = 11, 12, 13


def bulk_backend(conn, server):
    """The tcp listener's backend. The first byte says what to do:
    U: read until EOF, return ("U", Transfer received, EOF seen);
    D: send 100 MiB then SHUT_WR, read until EOF, return ("D", Transfer
       sent);
    E: echo until EOF, then SHUT_WR, return ("E", bytes received).
    More than STALL seconds without a byte ends the connection."""
    conn.settimeout(STALL)
    try:
        cmd = conn.recv(1)
        if cmd == b"U":
            return ("U", *sink_stream(conn))
        if cmd == b"D":
            sent = send_stream(conn, BULK, DOWN_SEED)
            recv_until_eof(conn)
            return "D", sent
        got = bytearray()
        while True:
            data = conn.recv(64 * KIB)
            if not data:
                break
            got += data
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        return "E", bytes(got)
    finally:
        conn.close()


def sink_stream(sock):
    """Read until EOF or a stall; (Transfer received, EOF seen)."""
    h = hashlib.sha256()
    buf = memoryview(bytearray(BULK_READ))
    total = 0
    try:
        while True:
            n = sock.recv_into(buf)
            if n == 0:
                return Transfer(total, h.hexdigest()), True
            h.update(buf[:n])
            total += n
    except socket.timeout:
        return Transfer(total, h.hexdigest()), False


class Setup:
    """portier with `tcp` (mode tcp, tls = on, certificate tcp.test) in
    front of bulk_backend, and `web` (mode http, tls = on, certificate
    app.test) with vhosts app.test (a RawBackend) and ws.test (a
    WebSocket echo, with a certificate of its own)."""

    def __init__(self):
        step("certificates and portier")
        self.pki = make_pki(["tcp.test", "app.test", "ws.test"])
        pki = self.pki
        self.bulk = Server(bulk_backend)
        self.http_sent = []
        self.app = RawBackend(self._respond)
        self.ws = Server(ws_echo_backend)
        self.ws.requests = []

        def cert(name):
            return {"tls": "on", "tls_cert": pki.chain[name],
                    "tls_key": pki.key[name]}

        self.p = TlsPortier(
            {"tcp": {"mode": "tcp", "backend": self.bulk.addr,
                     **cert("tcp.test")},
             "web": {"mode": "http", **cert("app.test")}},
            [("app.test", {"listener": "web", "backend": self.app.addr}),
             ("ws.test", {"listener": "web", "backend": self.ws.addr,
                          "tls_cert": pki.chain["ws.test"],
                          "tls_key": pki.key["ws.test"]})])

    def _respond(self, req, conn):
        """app.test: /big is a 100 MiB body, anything else a short one."""
        if req.target != "/big":
            return response_bytes(200, "OK", [], b"small")
        conn.sendall(response_bytes(200, "OK", [
            f"Content-Length: {BULK}",
            "Content-Type: application/octet-stream"], length=False))
        self.http_sent.append(send_stream(conn, BULK, HTTP_SEED,
                                          shut=False))
        return b""

    def tls(self, listener, sni):
        return tls_connect(self.p.port(listener), sni, pki=self.pki,
                           timeout=STALL)


def test_tcp_plain(s):
    step("mode = tcp, tls = on: the backend gets the plain bytes")
    sock = s.tls("tcp", "tcp.test")
    check_equal(peer_name(sock), "tcp.test",
                "the listener's certificate tcp.test")
    parts = [b"E", b"hello over TLS\r\n", b"\x00\x16\x03\x01 binary too"]
    for part in parts:
        sock.sendall(part)
    want = b"".join(parts[1:])
    check_equal(Reader(sock).exactly(len(want)), want,
                "the backend's echo comes back decrypted")

    step("the close: close_notify and FIN are relayed both ways")
    closer = Worker(sock.unwrap)
    closer.start()
    results = s.bulk.wait_results(1, timeout=5)
    check(results and results[-1] == ("E", want),
          "the backend received exactly the plain bytes, then EOF for "
          "the client's close_notify", repr(results[-1:])[:200])
    closer.join(5)
    check(not closer.is_alive() and closer.error is None,
          "the backend's FIN reaches the client as close_notify",
          "still waiting after 5 s" if closer.is_alive() else
          repr(closer.error))
    sock.close()


def upload(s):
    """100 MiB to the backend over TLS, then close_notify; returns
    (Transfer sent, seconds, None or how waiting for portier's
    close_notify failed)."""
    sock = s.tls("tcp", "tcp.test")
    started = time.monotonic()
    sock.sendall(b"U")
    sent = send_stream(sock, BULK, UP_SEED, shut=False)
    took = time.monotonic() - started
    sock.settimeout(5)
    try:
        sock.unwrap()
        closed = None
    except OSError as e:
        closed = repr(e)
    sock.close()
    return sent, took, closed


def download(s):
    """100 MiB from the backend over TLS; returns (Transfer got,
    seconds)."""
    sock = s.tls("tcp", "tcp.test")
    started = time.monotonic()
    sock.sendall(b"D")
    got = sink_stream(sock)[0]
    took = time.monotonic() - started
    sock.close()
    return got, took


def test_tcp_bulk(s):
    step("100 MiB each way at the same time through a tls = on tcp "
         "listener")
    before = len(s.bulk.results)
    up = Worker(upload, s)
    down = Worker(download, s)
    up.start()
    down.start()
    sent, up_time, unwrap_error = up.outcome(3 * STALL)
    got, down_time = down.outcome(3 * STALL)
    info(f"client -> backend: {BULK / MIB / up_time:.0f} MiB/s; "
         f"backend -> client: {BULK / MIB / down_time:.0f} MiB/s")
    results = {r[0]: r[1:] for r in
               s.bulk.wait_results(before + 2, timeout=STALL)[before:]
               if isinstance(r, tuple)}
    check("U" in results and "D" in results,
          "the backend's two connections ended",
          repr(s.bulk.results[before:]))
    check_equal(results["U"][0], sent, "client -> backend: 100 MiB, "
                "same SHA-256 at both ends")
    check_equal(got, results["D"][0], "backend -> client: 100 MiB, "
                "same SHA-256 at both ends")

    step("after 100 MiB, the close is relayed both ways")
    check(results["U"][1], "the client's close_notify reached the backend "
          "as EOF", f"no EOF {STALL} s after the last byte")
    check(unwrap_error is None, "the backend's close reached the client as "
          "close_notify", unwrap_error)


def test_http_bulk(s):
    step("a 100 MiB HTTP response through an https listener")
    c = TlsConn(s.p.port("web"), "app.test", pki=s.pki, timeout=STALL)
    started = time.monotonic()
    c.send(request("GET", "/big", "app.test"))
    head = c.reader.until(b"\r\n\r\n")
    check(head is not None, "a response head arrives")
    line, fields = parse_head(head)
    check_equal(line, "HTTP/1.1 200 OK", "200 OK")
    length = Fields(fields).get("content-length")
    check_equal(length, str(BULK), f"   with Content-Length: {BULK}")
    h = hashlib.sha256(c.reader.pending())
    left = BULK - len(c.reader.pending())
    buf = memoryview(bytearray(BULK_READ))
    while left > 0:
        n = c.sock.recv_into(buf[:min(left, len(buf))])
        if n == 0:
            break
        h.update(buf[:n])
        left -= n
    took = time.monotonic() - started
    info(f"{BULK / MIB / took:.0f} MiB/s")
    check_equal(Transfer(BULK - left, h.hexdigest()), s.http_sent[-1],
                "the body: 100 MiB, same SHA-256 as the backend sent")
    c.reader.buf.clear()
    resp = c.exchange(request("GET", "/small", "app.test"))
    check_equal((resp.status, resp.body), (200, b"small"),
                "the connection is kept alive: a next request works")
    c.close()


def test_websocket(s):
    step("a WebSocket through an https listener")
    c = TlsConn(s.p.port("web"), "ws.test", pki=s.pki)
    check_equal(peer_name(c.sock), "ws.test", "certificate ws.test")
    key = base64.b64encode(os.urandom(16)).decode()
    c.send(request("GET", "/socket", "ws.test", [
        "Connection: Upgrade", "Upgrade: websocket",
        f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
        "Origin: https://ws.test"]))
    resp = c.response(interim=False)
    check_equal(resp.status, 101, "101 Switching Protocols")
    check_equal(resp.headers.get("sec-websocket-accept"), ws_accept_key(key),
                "   with the right Sec-WebSocket-Accept")
    req = s.ws.requests[-1]
    check_equal(req.headers.get("upgrade", "").lower(), "websocket",
                "the backend got Upgrade: websocket")
    check_equal(req.headers.all("x-forwarded-proto"), ["https"],
                "   and X-Forwarded-Proto: https")
    for size in (5, 125, 126, 65535, 65536, 300 * KIB, MIB):
        payload = os.urandom(size)
        c.send(ws_frame(payload, WS_BINARY, masked=True))
        check(ws_read_frame(c.reader) == (WS_BINARY, payload),
              f"a {size}-byte message echoes")
    c.send(ws_frame("text ✓".encode(), WS_TEXT, masked=True))
    check_equal(ws_read_frame(c.reader), (WS_TEXT, "text ✓".encode()),
                "a text message echoes")
    close = struct.pack("!H", 1000)
    c.send(ws_frame(close, WS_CLOSE, masked=True))
    check_equal(ws_read_frame(c.reader), (WS_CLOSE, close),
                "the close frame is answered")
    check(c.closed(), "then the connection closes")


def main():
    s = Setup()
    test_tcp_plain(s)
    test_websocket(s)
    test_http_bulk(s)
    test_tcp_bulk(s)


run(main)
