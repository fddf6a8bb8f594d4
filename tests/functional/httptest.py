# SPDX-License-Identifier: MIT
"""HTTP helpers shared by the functional tests of portier's http mode.

Clients write requests as raw bytes (`request`) and read responses with a
small strict reader (`Conn.response`), so that a test controls every byte
portier sees and checks every byte it sends back. Two kinds of backends run
on `lib.Server`:

- `EchoBackend`: answers every request with a JSON description of what it
  received (its own name, the method, target, header fields in order and
  the body's length and SHA-256), on keep-alive connections;
- `RawBackend`: records every byte it receives, on every connection, and
  answers each request with what a test function returns (canned, even
  malformed, responses).

`HttpPortier` starts portier with http listeners on ephemeral ports and
vhosts.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import threading

from lib import (KIB, LOOPBACK4, Server, TestFailure, at_cleanup, fmt_addr,
                 free_port, section, start_portier)

# Longest head the helpers read; portier's own limit is lower.
MAX_HEAD = 256 * KIB


# --- configuration -----------------------------------------------------


def http_listener(name, bind, backend=None, **keys):
    """A `[listener NAME]` section in http mode; no backend unless given."""
    if backend is not None:
        keys = dict(backend=backend, **keys)
    return section(f"listener {name}", bind=bind, mode="http", **keys)


def vhost(name, **keys):
    """A `[vhost NAME]` section."""
    return section(f"vhost {name}", **keys)


class HttpPortier:
    """portier with http listeners on 127.0.0.1 ephemeral ports.

    `listeners` maps a listener name to its keys (backend included, when
    it has one); `vhosts` is a list of (name, keys) in file order.
    """

    def __init__(self, listeners, vhosts=(), global_keys=None, **kwargs):
        self.ports = {}

        def config():
            text = section("global", **global_keys) if global_keys else ""
            for name, keys in listeners.items():
                self.ports[name] = free_port()
                text += http_listener(
                    name, fmt_addr(LOOPBACK4, self.ports[name]), **keys)
            for name, keys in vhosts:
                text += vhost(name, **keys)
            return text

        self.portier = start_portier(config, **kwargs)

    def port(self, listener=None):
        """The port of `listener` (the only one when None)."""
        if listener is None:
            (listener,) = self.ports
        return self.ports[listener]

    def conn(self, listener=None, timeout=10.0, source=None):
        """A new client connection to `listener`."""
        return Conn(LOOPBACK4, self.port(listener), timeout=timeout,
                    source=source)

    def get(self, host, target="/", listener=None, **kwargs):
        """One request on a new connection; its Response."""
        c = self.conn(listener)
        c.send(request("GET", target, host, **kwargs))
        resp = c.response()
        c.close()
        return resp


# --- bytes on a socket -------------------------------------------------


class Reader:
    """Buffered reads from a socket; `record(data)`, when given, sees every
    byte received."""

    def __init__(self, sock, record=None):
        self.sock = sock
        self.buf = bytearray()
        self.record = record
        self.eof = False
        self.used = 0  # bytes taken out of the buffer so far

    def _fill(self):
        """Read more; False at EOF."""
        if self.eof:
            return False
        data = self.sock.recv(256 * KIB)
        if not data:
            self.eof = True
            return False
        if self.record:
            self.record(data)
        self.buf += data
        return True

    def until(self, marker, limit=MAX_HEAD):
        """Bytes through `marker`; None at an EOF before any byte; raises
        EOFError at an EOF after some."""
        start = 0
        while True:
            i = self.buf.find(marker, start)
            if i >= 0:
                end = i + len(marker)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                self.used += end
                return out
            if len(self.buf) > limit:
                raise TestFailure(f"no {marker!r} in the first {limit} "
                                  "bytes")
            start = max(0, len(self.buf) - len(marker) + 1)
            if not self._fill():
                if not self.buf:
                    return None
                raise EOFError(f"EOF before {marker!r} after "
                               f"{bytes(self.buf[:80])!r}")

    def exactly(self, n):
        """n bytes; raises EOFError when the peer closes first."""
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"EOF after {len(self.buf)} of {n} bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.used += n
        return out

    def rest(self):
        """Everything until EOF."""
        while self._fill():
            pass
        out = bytes(self.buf)
        self.buf.clear()
        self.used += len(out)
        return out

    def pending(self):
        """Bytes already read and not yet used."""
        return bytes(self.buf)


def parse_head(head):
    """(first line, [(name, value)]) of a head that ends in CRLF CRLF."""
    lines = head[:-4].split(b"\r\n")
    fields = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise TestFailure(f"bad header line {line!r}")
        fields.append((name.decode("latin-1"),
                       value.strip(b" \t").decode("latin-1")))
    return lines[0].decode("latin-1"), fields


class Fields:
    """Header fields in order, looked up case-insensitively."""

    def __init__(self, fields):
        self.list = fields

    def all(self, name):
        return [v for n, v in self.list if n.lower() == name.lower()]

    def get(self, name, default=None):
        values = self.all(name)
        return values[0] if values else default

    def has(self, name):
        return bool(self.all(name))

    def names(self):
        return [n.lower() for n, _ in self.list]


def read_chunked(reader, limit=None):
    """De-chunk a chunked body; returns (payload, trailers). Strict: every
    line must end in CRLF."""
    parts = []
    total = 0
    while True:
        line = reader.until(b"\r\n", limit=4096)
        if line is None:
            raise EOFError("EOF in a chunked body")
        size = int(line[:-2].split(b";")[0].strip(), 16)
        if size == 0:
            break
        parts.append(reader.exactly(size))
        total += size
        if limit is not None and total > limit:
            raise TestFailure(f"chunked body over {limit} bytes")
        if reader.exactly(2) != b"\r\n":
            raise TestFailure("chunk data not followed by CRLF")
    trailers = []
    while True:
        line = reader.until(b"\r\n", limit=MAX_HEAD)
        if line is None:
            raise EOFError("EOF in the trailers")
        if line == b"\r\n":
            return b"".join(parts), trailers
        trailers.append(line[:-2])


def chunked(data, sizes=(1, 7, 4096, 65536, 100003), ext=False):
    """data in chunked framing, with chunks of the sizes given (cycled),
    and chunk extensions when `ext`."""
    out = []
    i = n = 0
    while i < len(data):
        size = sizes[n % len(sizes)]
        piece = data[i:i + size]
        out.append(b"%x%s\r\n%s\r\n" % (
            len(piece), b";ext=\"v\"" if ext and n % 2 else b"", piece))
        i += size
        n += 1
    out.append(b"0\r\n\r\n")
    return b"".join(out)


# --- the client side ---------------------------------------------------


def request(method, target, host, headers=(), body=b"", version="1.1",
            length=True):
    """A request as bytes: the request line, Host (none when host is
    None), the given header fields (pairs or "Name: value" strings), a
    Content-Length when there is a body and `length`, then the body."""
    lines = [f"{method} {target} HTTP/{version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for h in headers:
        lines.append(h if isinstance(h, str) else f"{h[0]}: {h[1]}")
    if body and length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Response:
    """A response as the client received it."""

    def __init__(self, status_line, fields, body, raw, interim):
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        self.version = parts[0]
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = Fields(fields)
        self.body = body
        self.raw = raw  # the head as received
        self.wire_len = 0  # bytes of head and body as framed on the wire
        self.interim = interim  # the 1xx responses before this one

    def json(self):
        """The body as JSON (what EchoBackend answers)."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise TestFailure(f"response body is not JSON: {self.status} "
                              f"{self.body[:200]!r}")

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return f"<Response {self.status_line!r} {self.body[:120]!r}>"


def read_response(reader, method="GET", interim=True):
    """The next response from reader, for a request with `method`; 1xx
    responses before it are collected in .interim (a 101 is returned
    itself, the bytes after it left in the reader). None at an EOF before
    the first byte. With interim False, a 1xx is returned as it is."""
    seen = []
    while True:
        head = reader.until(b"\r\n\r\n")
        if head is None:
            if seen:
                raise EOFError("EOF after an interim response")
            return None
        start = reader.used - len(head)
        status_line, fields = parse_head(head)
        resp = Response(status_line, fields, b"", head, seen)
        if 100 <= resp.status < 200 and resp.status != 101 and interim:
            seen.append(resp)
            continue
        break
    h = resp.headers
    if (method == "HEAD" or 100 <= resp.status < 200
            or resp.status in (204, 304)):
        body = b""
    elif "chunked" in h.get("transfer-encoding", "").lower():
        body, _ = read_chunked(reader)
    elif h.has("content-length"):
        body = reader.exactly(int(h.get("content-length")))
    else:
        body = reader.rest()
    resp.body = body
    resp.wire_len = reader.used - start
    return resp


class Conn:
    """A client connection to portier: send bytes, read responses."""

    def __init__(self, host, port, timeout=10.0, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        at_cleanup(self.sock.close)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.reader = Reader(self.sock)

    def send(self, data):
        self.sock.sendall(data)

    def response(self, method="GET", interim=True):
        """The next response; fails when the connection closes first."""
        resp = read_response(self.reader, method, interim)
        if resp is None:
            raise TestFailure("portier closed the connection instead of "
                              "answering")
        return resp

    def exchange(self, data, method=None):
        """Send one request, return its response."""
        self.send(data)
        if method is None:
            method = data.split(b" ", 1)[0].decode("latin-1")
        return self.response(method)

    def closed(self, within=5.0):
        """True when portier closes the connection within `within` s
        without sending anything more."""
        self.sock.settimeout(within)
        try:
            data = self.reader.rest()
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        return data == b""

    def close(self):
        self.sock.close()


# --- backends ----------------------------------------------------------


class Request:
    """A request as a backend received it."""

    def __init__(self, head, line, fields, body, chunked_body):
        self.head = head
        self.line = line
        parts = line.split(" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else ""
        self.version = parts[2] if len(parts) > 2 else ""
        self.headers = Fields(fields)
        self.body = body
        self.chunked = chunked_body


def read_request(reader, interim=None):
    """The next request from reader, its body de-chunked; None at EOF
    before it. `interim(request)` is called between head and body (to
    answer 100 Continue); the request's body is not read yet then."""
    head = reader.until(b"\r\n\r\n")
    if head is None:
        return None
    line, fields = parse_head(head)
    req = Request(head, line, fields, b"", False)
    if interim:
        interim(req)
    te = req.headers.get("transfer-encoding", "").lower()
    if "chunked" in te:
        req.body, _ = read_chunked(reader)
        req.chunked = True
    elif req.headers.has("content-length"):
        req.body = reader.exactly(int(req.headers.get("content-length")))
    return req


def response_bytes(status=200, reason="OK", headers=(), body=b"",
                   length=True):
    """A response as bytes, with Content-Length when `length`."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    for h in headers:
        lines.append(h if isinstance(h, str) else f"{h[0]}: {h[1]}")
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def describe(name, req):
    """What EchoBackend answers for req: JSON bytes."""
    return json.dumps({
        "name": name,
        "method": req.method,
        "target": req.target,
        "version": req.version,
        "headers": req.headers.list,
        "chunked": req.chunked,
        "body_len": len(req.body),
        "body_sha256": hashlib.sha256(req.body).hexdigest(),
    }).encode()


class EchoBackend(Server):
    """An HTTP/1.1 backend that answers every request with 200 and a JSON
    description of it (see `describe`), keeping connections open.

    A request field `X-Test-Response-Header: Name: value` adds that field
    to the response (it may repeat). `.requests` lists what came in.
    """

    def __init__(self, name, **kwargs):
        self.name = name
        self.requests = []
        super().__init__(self._handle, **kwargs)

    def _handle(self, conn, server):
        try:
            self._serve_conn(conn)
        except (EOFError, OSError, ValueError, TestFailure):
            pass
        finally:
            conn.close()

    def _serve_conn(self, conn):
        reader = Reader(conn)
        while True:
            req = read_request(reader, self._continue(conn))
            if req is None:
                return
            with self._lock:
                self.requests.append(req)
            extra = req.headers.all("x-test-response-header")
            body = describe(self.name, req)
            close = "close" in req.headers.get("connection", "").lower()
            headers = ["Content-Type: application/json", *extra]
            if close:
                headers.append("Connection: close")
            conn.sendall(response_bytes(200, "OK", headers, body))
            if close:
                return

    @staticmethod
    def _continue(conn):
        def interim(req):
            if req.headers.get("expect", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        return interim


class RawBackend(Server):
    """A backend that records every byte it receives (`.received`, all
    connections together, in arrival order) and answers each request with
    respond(request, conn): bytes to send, or None to close the
    connection. respond may also write to conn itself and return b"".

    `interim(request, conn)` runs between a request's head and body.
    """

    def __init__(self, respond, interim=None, **kwargs):
        self.respond = respond
        self.interim = interim
        self.received = bytearray()
        # with .conn_id (1 for the first connection...) and .nth (1 for
        # the first request of its connection...)
        self.requests = []
        self._rlock = threading.Lock()
        self._conns = 0
        super().__init__(self._handle, **kwargs)

    def _record(self, data):
        with self._rlock:
            self.received += data

    def received_bytes(self):
        with self._rlock:
            return bytes(self.received)

    def _handle(self, conn, server):
        try:
            self._serve_conn(conn)
        except (EOFError, OSError, ValueError, TestFailure):
            pass
        finally:
            conn.close()

    def _serve_conn(self, conn):
        reader = Reader(conn, self._record)
        with self._rlock:
            self._conns += 1
            conn_id = self._conns
        interim = None
        if self.interim:
            def interim(req):
                self.interim(req, conn)
        nth = 0
        while True:
            req = read_request(reader, interim)
            if req is None:
                return
            nth += 1
            req.conn_id = conn_id
            req.nth = nth
            with self._rlock:
                self.requests.append(req)
            answer = self.respond(req, conn)
            if answer is None:
                return
            conn.sendall(answer)


# --- WebSocket -------------------------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_TEXT, WS_BINARY, WS_CLOSE = 0x1, 0x2, 0x8


def ws_accept_key(key):
    """The Sec-WebSocket-Accept for Sec-WebSocket-Key `key`."""
    return base64.b64encode(
        hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(payload, opcode=WS_TEXT, masked=False):
    """One final WebSocket frame; masked as a client sends it."""
    n = len(payload)
    bit = 0x80 if masked else 0
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if masked:
        mask = os.urandom(4)
        head += mask
        key = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^
                   int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + payload


def ws_read_frame(reader):
    """(opcode, payload) of the next frame, unmasked."""
    b0, b1 = reader.exactly(2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack("!H", reader.exactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", reader.exactly(8))[0]
    mask = reader.exactly(4) if b1 & 0x80 else None
    payload = reader.exactly(n)
    if mask:
        key = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^
                   int.from_bytes(key, "big")).to_bytes(n, "big")
    return b0 & 0x0f, payload


def ws_echo_backend(conn, server):
    """A WebSocket server on one connection: accepts the upgrade (keeping
    the request in server.requests), then echoes every frame until a
    close frame, which it answers. Returns how many frames it echoed."""
    reader = Reader(conn)
    try:
        req = read_request(reader)
        if req is None:
            return 0
        server.requests.append(req)
        return ws_echo_upgrade(conn, reader, req)
    finally:
        conn.close()


def ws_echo_upgrade(conn, reader, req):
    """Accept the WebSocket upgrade `req`, read from conn by reader, then
    echo every frame until a close frame, which is answered. Returns how
    many frames were echoed; the caller closes conn."""
    key = req.headers.get("sec-websocket-key", "")
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                 b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " +
                 ws_accept_key(key).encode() + b"\r\n\r\n")
    count = 0
    while True:
        opcode, payload = ws_read_frame(reader)
        conn.sendall(ws_frame(payload, opcode))
        if opcode == WS_CLOSE:
            return count
        count += 1
