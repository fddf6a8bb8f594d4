# SPDX-License-Identifier: MIT
"""HTTP mode: message framing, byte for byte.

A raw backend records exactly the bytes it receives and answers with
canned responses, so that the tests see what portier forwards:

- bodies of a few MiB, chunked and with Content-Length, both ways, keep
  their SHA-256;
- request smuggling attempts (Content-Length with Transfer-Encoding, odd
  Transfer-Encoding values or spellings, duplicate or signed
  Content-Length, obs-fold, bare LF, NUL, missing or doubled Host) are
  answered 400 (501 for unknown transfer codings), the connection is
  closed, and the backend receives nothing at all;
- pipelined requests are answered in order;
- responses without a body (HEAD, 204, 304) do not hang the connection;
- Transfer-Encoding split over field lines or with empty list elements
  reaches the next hop as one "Transfer-Encoding: chunked", both ways;
  a chunked body is framed anew (plain size lines, no extensions, only
  trailers that neither frame, route nor authenticate); a chunk size of
  2^63 or more is 400;
- a malformed response (or a response head over the limit, a transfer
  coding other than chunked, Transfer-Encoding in HTTP/1.0, a bad chunk
  or trailer read with the head, before anything was sent) gives 502,
  and the next request goes to a new backend connection;
- a backend that sends more than the response it declared (in the same
  write, or in a later one): the rest is never taken for the response to
  another client's request, whose answer comes from a new connection;
- a reused backend connection that closes before answering gets a
  bodyless idempotent request (GET) again on a new connection, never a
  request with a body or a POST without one; a malformed chunked request body gets 400 and its bytes never
  reach the backend;
- a close-delimited response reaches an HTTP/1.1 client, which is then
  closed too; 103 Early Hints reaches an HTTP/1.1 client only;
- an HTTP/1.0 client gets a close-delimited body when the backend answers
  chunked, and a reset when that body is cut short;
- Expect: 100-continue gets the backend's 100 Continue.
"""

import hashlib
import socket
import struct
import time

from httptest import HttpPortier, RawBackend, chunked, request, response_bytes
from lib import MIB, check, check_equal, info, run, step, stream_chunks

BIG = 3 * MIB + 12345


def stream_bytes(total, seed):
    return b"".join(bytes(c) for c in stream_chunks(total, seed))


def digest(data):
    return hashlib.sha256(data).hexdigest()


DOWNLOAD = stream_bytes(BIG, 21)


# What a backend sends after the response it declared: it must never be
# taken for the answer to the next request.
SPILLED = (b"HTTP/1.1 302 Found\r\nLocation: http://evil.example/\r\n"
           b"Content-Length: 0\r\n\r\n")


def respond(req, conn):
    """The canned answers of the frame backend, by target."""
    t = req.target
    if t == "/upload":
        return response_bytes(200, "OK", [], (
            f"len={len(req.body)} sha256={digest(req.body)} "
            f"chunked={req.chunked}").encode())
    if t == "/download-chunked":
        head = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                b"Trailer: X-Check\r\n\r\n")
        if req.method == "HEAD":
            return head
        return (head +
                chunked(DOWNLOAD, ext=True)[:-2] +
                b"X-Check: done\r\n\r\n")
    if t == "/download-length":
        return response_bytes(200, "OK", [], DOWNLOAD)
    if t == "/head":
        return b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    if t == "/204":
        return b"HTTP/1.1 204 No Content\r\nX-Empty: yes\r\n\r\n"
    if t == "/304":
        return (b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
                b"Content-Length: 1000\r\n\r\n")
    if t == "/chunked-small":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n")
    if t == "/malformed-cl":
        return (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                b"Content-Length: 6\r\n\r\nhello!")
    if t == "/malformed-lf":
        return b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"
    if t == "/malformed-status":
        return b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nhi"
    if t == "/malformed-te10":
        # Transfer-Encoding in HTTP/1.0 is faulty framing: relayed with
        # its header, the "response" after the chunked body would answer
        # the client's next request.
        return (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n0\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
    if t == "/malformed-gzip":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
                b"\r\n3\r\nGZ!\r\n0\r\n\r\n")
    if t == "/chunked-odd":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n"
                b"Transfer-Encoding: ,\r\n\r\n"
                b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n")
    if t == "/malformed-chunk":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhelloXX\r\n0\r\n\r\n")
    if t == "/malformed-trailer":
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n")
    if t == "/malformed-big":
        return (b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 40000 +
                b"\r\nContent-Length: 2\r\n\r\nhi")
    if t == "/eof-body":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"\r\nuntil the close")
        return None
    if t == "/eof-reset":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"\r\nthe start of a body")
        time.sleep(0.2)
        # A reset, not a close: the body has no end.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        return None
    if t == "/early":
        return (b"HTTP/1.1 103 Early Hints\r\n"
                b"Link: </style.css>; rel=preload\r\n\r\n" +
                response_bytes(200, "OK", [], b"after the hints"))
    if t == "/cut-chunked":
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                     b"\r\n5\r\nhello\r\n")
        return None  # closed in the middle of the body
    if t == "/spill-one-write":
        # More than the Content-Length, in one write: a whole response
        # after the body.
        return (b"HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n" +
                b"A" * 30000 + SPILLED)
    if t == "/spill-later":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        time.sleep(0.1)
        conn.sendall(b"hello" + SPILLED)
        return b""
    if t.startswith("/drop") and req.nth > 1:
        return None  # as if the backend closed an idle connection
    body = f"{req.method} {t} body={req.body.decode('latin-1')}".encode()
    return response_bytes(200, "OK", [], body)


def interim(req, conn):
    """The backend's 100 Continue, marked as its own."""
    if req.headers.get("expect", "").lower() == "100-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\nX-From: backend\r\n\r\n")


class Setup:
    def __init__(self):
        self.frame = RawBackend(respond, interim)
        self.smuggle = RawBackend(respond)
        self.bad = RawBackend(respond)
        self.flaky = RawBackend(respond)
        self.strict = RawBackend(respond)
        self.spill = RawBackend(respond)
        self.p = HttpPortier(
            {"web": {}},
            [("frame.test", {"backend": self.frame.addr}),
             ("smuggle.test", {"backend": self.smuggle.addr}),
             ("bad.test", {"backend": self.bad.addr}),
             ("flaky.test", {"backend": self.flaky.addr}),
             ("strict.test", {"backend": self.strict.addr}),
             ("spill.test", {"backend": self.spill.addr})])

    def conn(self, timeout=10.0):
        return self.p.conn("web", timeout=timeout)


def test_bodies(s):
    step(f"chunked upload of {BIG} bytes: the backend de-chunks the same "
         "bytes")
    data = stream_bytes(BIG, 22)
    c = s.conn(timeout=30)
    c.send(b"POST /upload HTTP/1.1\r\nHost: frame.test\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunked(data, ext=True))
    resp = c.response()
    check_equal(resp.body.decode(), f"len={BIG} sha256={digest(data)} "
                "chunked=True", "backend got every byte, chunked")
    req = s.frame.requests[-1]
    check(not req.headers.has("content-length"),
          "no Content-Length was added to a chunked request",
          str(req.headers.list))

    step("Transfer-Encoding split over field lines, with empty list "
         "elements: the backend gets one canonical field")
    c2 = s.conn()
    c2.send(b"POST /upload HTTP/1.1\r\nHost: frame.test\r\n"
            b"Transfer-Encoding: ,\r\nTransfer-Encoding: Chunked,\r\n\r\n" +
            chunked(b"hello"))
    resp = c2.response()
    check_equal(resp.body.decode(), f"len=5 sha256={digest(b'hello')} "
                "chunked=True", "the backend got the body, chunked")
    req = s.frame.requests[-1]
    check_equal(req.headers.all("transfer-encoding"), ["chunked"],
                "   under one Transfer-Encoding: chunked")
    c2.send(request("GET", "/chunked-odd", "frame.test"))
    resp = c2.response()
    check_equal(resp.body, b"hello world", "a response whose "
                "Transfer-Encoding is split the same way reaches the client")
    check_equal(resp.headers.all("transfer-encoding"), ["chunked"],
                "   under one Transfer-Encoding: chunked")
    c2.close()

    step("a chunked body is framed anew: plain size lines, no "
         "extensions, no trailer that frames, routes or authenticates")
    before = len(s.frame.received_bytes())
    c2 = s.conn()
    c2.send(b"POST /upload HTTP/1.1\r\nHost: frame.test\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            b"5 ;a=b\r\nhello\r\n00000002;q=\"x;y\"\r\n, \r\n"
            b"0;last\r\nContent-Length: 50\r\nX-Sum: 1\r\n"
            b"Host: evil.test\r\nTransfer-Encoding: chunked\r\n\r\n")
    resp = c2.response()
    check_equal(resp.body.decode(), f"len=7 sha256={digest(b'hello, ')} "
                "chunked=True", "the backend got the body")
    got = bytes(s.frame.received_bytes()[before:])
    body = got[got.find(b"\r\n\r\n") + 4:]
    check_equal(body, b"5\r\nhello\r\n2\r\n, \r\n0\r\nX-Sum: 1\r\n\r\n",
                "   framed as 5, 2, 0 with the one harmless trailer")
    c2.send(b"POST /upload HTTP/1.1\r\nHost: frame.test\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            b"8000000000000005\r\nhello\r\n0\r\n\r\n")
    resp = c2.response()
    check_equal(resp.status, 400, "a chunk size of 2^63 or more: 400")
    c2.close()

    step(f"Content-Length upload of {BIG} bytes on the same connection")
    data = stream_bytes(BIG, 23)
    c.send(request("PUT", "/upload", "frame.test", body=data))
    resp = c.response()
    check_equal(resp.body.decode(), f"len={BIG} sha256={digest(data)} "
                "chunked=False", "backend got every byte")

    step(f"chunked download of {BIG} bytes, with extensions and a trailer")
    resp = c.exchange(request("GET", "/download-chunked", "frame.test"))
    check_equal(resp.headers.get("transfer-encoding"), "chunked",
                "response stays chunked for an HTTP/1.1 client")
    check_equal((len(resp.body), digest(resp.body)),
                (BIG, digest(DOWNLOAD)), "client got every byte")

    step(f"Content-Length download of {BIG} bytes")
    resp = c.exchange(request("GET", "/download-length", "frame.test"))
    check_equal((len(resp.body), digest(resp.body)),
                (BIG, digest(DOWNLOAD)), "client got every byte")
    resp = c.exchange(request("GET", "/after", "frame.test"))
    check_equal(resp.body, b"GET /after body=",
                "the connection still works after the bodies")
    c.close()


# Each attempt: what it is, the bytes, the statuses allowed.
SMUGGLING = [
    ("Content-Length and Transfer-Encoding",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\nContent-Length: 6\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", {400}),
    ("Transfer-Encoding and Content-Length (other order)",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX",
     {400}),
    ("Transfer-Encoding: chunked, identity",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", {400, 501}),
    ("Transfer-Encoding: chunked twice (two fields)",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", {400}),
    ("Transfer-Encoding: gzip, chunked (unknown coding)",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", {501}),
    ("Transfer-Encoding: xchunked",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", {400, 501}),
    ("'Transfer-Encoding : chunked' (space before the colon)",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", {400}),
    ("Transfer-Encoding with a vertical tab",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n", {400}),
    ("Transfer-Encoding in an HTTP/1.0 request",
     b"POST / HTTP/1.0\r\nHost: smuggle.test\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}),
    ("duplicate Content-Length (equal values)",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\nContent-Length: 5\r\n"
     b"Content-Length: 5\r\n\r\nhello", {400}),
    ("Content-Length as a list",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\nContent-Length: 5, 5\r\n"
     b"\r\nhello", {400}),
    ("Content-Length: +5",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\nContent-Length: +5\r\n"
     b"\r\nhello", {400}),
    ("obs-fold",
     b"GET / HTTP/1.1\r\nHost: smuggle.test\r\nX-Folded: a\r\n b\r\n\r\n",
     {400}),
    ("obs-fold of Transfer-Encoding",
     b"POST / HTTP/1.1\r\nHost: smuggle.test\r\nTransfer-Encoding:\r\n"
     b" chunked\r\n\r\n0\r\n\r\n", {400}),
    ("bare LF line ends",
     b"GET / HTTP/1.1\nHost: smuggle.test\n\n", {400}),
    ("a bare LF among CRLFs",
     b"GET / HTTP/1.1\r\nHost: smuggle.test\nX-A: b\r\n\r\n", {400}),
    ("a bare CR in a value",
     b"GET / HTTP/1.1\r\nHost: smuggle.test\r\nX-A: b\rc\r\n\r\n", {400}),
    ("NUL in a header value",
     b"GET / HTTP/1.1\r\nHost: smuggle.test\r\nX-A: b\x00c\r\n\r\n",
     {400}),
    ("no Host in HTTP/1.1",
     b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", {400}),
    ("two Host fields",
     b"GET / HTTP/1.1\r\nHost: smuggle.test\r\nHost: smuggle.test\r\n\r\n",
     {400}),
    ("two Host fields, different",
     b"GET / HTTP/1.1\r\nHost: smuggle.test\r\nHost: frame.test\r\n\r\n",
     {400}),
]


def test_smuggling(s):
    step("smuggling attempts: 400 (or 501), closed, nothing reaches the "
         "backend")
    for what, data, statuses in SMUGGLING:
        c = s.conn()
        c.send(data)
        resp = c.response()
        check(resp.status in statuses,
              f"{what}: {resp.status} {resp.reason}",
              f"expected {sorted(statuses)}, got {resp!r}\n   sent "
              f"{data!r}")
        check(c.closed(), "   then the connection is closed")
        c.close()
    c = s.conn()
    resp = c.exchange(request("GET", "/sentinel", "smuggle.test"))
    check_equal(resp.body, b"GET /sentinel body=",
                "a good request then reaches the backend")
    received = s.smuggle.received_bytes()
    check(received.startswith(b"GET /sentinel HTTP/1.1\r\n") and
          len(s.smuggle.requests) == 1,
          "the backend received nothing but that good request",
          f"it received {received[:600]!r}")


def test_pipelining(s):
    step("pipelined requests on one connection are answered in order")
    c = s.conn()
    c.send(request("GET", "/p1", "frame.test") +
           request("POST", "/p2", "frame.test", body=b"two") +
           request("POST", "/p3", "frame.test", body=b"x" * 100000) +
           request("GET", "/p4", "frame.test", ["Connection: close"]))
    for want in (b"GET /p1 body=", b"POST /p2 body=two",
                 b"POST /p3 body=" + b"x" * 100000, b"GET /p4 body="):
        resp = c.response()
        check_equal(resp.body[:40], want[:40], f"response to "
                    f"{want.split(b' ')[1].decode()} in its place")
        check_equal(len(resp.body), len(want), "   whole")
    check(c.closed(), "the connection closes after the request with "
          "Connection: close")


def test_no_body(s):
    step("responses without a body do not hang a keep-alive connection")
    c = s.conn(timeout=5)
    for method, target, status, what in [
            ("HEAD", "/head", 200, "HEAD with Content-Length: 1000"),
            ("GET", "/204", 204, "204 No Content"),
            ("GET", "/304", 304, "304 Not Modified with Content-Length"),
            ("HEAD", "/download-chunked", 200, "HEAD of a chunked "
             "response")]:
        c.send(request(method, target, "frame.test"))
        resp = c.response(method)
        check_equal(resp.status, status, what)
        resp = c.exchange(request("GET", "/next", "frame.test"))
        check_equal(resp.body, b"GET /next body=",
                    "   the next request on the connection is answered")
    check_equal(c.reader.pending(), b"", "no stray byte came after them")
    c.close()


def test_malformed_response(s):
    step("a malformed response: 502, then a new backend connection")
    for target in ("/malformed-cl", "/malformed-lf", "/malformed-status",
                   "/malformed-te10", "/malformed-gzip", "/malformed-big",
                   "/malformed-chunk", "/malformed-trailer"):
        c = s.conn()
        c.send(request("GET", "/warm", "bad.test"))
        check_equal(c.response().status, 200, "a first request works")
        c.send(request("GET", target, "bad.test"))
        resp = c.response()
        check_equal(resp.status, 502, f"{target}: 502")
        info("page: " + " | ".join(resp.text().splitlines()))
        check("malformed" in resp.text() or "too large" in resp.text() or
              "bad chunked body" in resp.text(),
              "   the page says what was wrong with the response",
              resp.text())
        c.close()
        bad_conn = s.bad.requests[-1].conn_id
        c = s.conn()
        resp = c.exchange(request("GET", "/ok", "bad.test"))
        check_equal(resp.body, b"GET /ok body=", "   the next request is "
                    "answered")
        check(s.bad.requests[-1].conn_id != bad_conn,
              "   on another backend connection than the bad one")
        c.close()


def test_spill(s):
    for target in ("/spill-one-write", "/spill-later"):
        step(f"{target}: a backend that sends more than its response; the "
             "rest never answers another request")
        c = s.conn()
        resp = c.exchange(request("GET", target, "spill.test"))
        check_equal(resp.status, 200, "the response as declared")
        spilled = s.spill.requests[-1].conn_id
        c.close()
        c = s.conn()
        resp = c.exchange(request("GET", "/next", "spill.test"))
        check_equal((resp.status, resp.body), (200, b"GET /next body="),
                    "another client's request gets its own answer")
        check(s.spill.requests[-1].conn_id != spilled,
              "   from another backend connection")
        c.close()
    check(s.p.portier.wait_log("the backend sent more than its response")
          is not None, "the log says why the connection was closed")


def test_reuse_retry(s):
    step("a reused backend connection closes instead of answering")
    c = s.conn()
    resp = c.exchange(request("GET", "/first", "flaky.test"))
    check_equal(resp.body, b"GET /first body=", "a first request works")
    first = s.flaky.requests[-1].conn_id
    resp = c.exchange(request("GET", "/drop-get", "flaky.test"))
    check_equal(resp.body, b"GET /drop-get body=",
                "GET on the reused connection: answered all the same")
    tries = [r.conn_id for r in s.flaky.requests if r.target == "/drop-get"]
    check(len(tries) == 2 and tries[0] == first and tries[1] != first,
          "   sent again on a new backend connection",
          f"connections of the tries: {tries} (first request: {first})")
    c.close()
    c = s.conn()
    resp = c.exchange(request("POST", "/drop-post", "flaky.test",
                              body=b"pay once"))
    check_equal(resp.status, 502, "POST with a body on a reused connection "
                "that closes: 502")
    tries = [r for r in s.flaky.requests if r.target == "/drop-post"]
    check_equal(len(tries), 1, "   the POST was not sent twice")
    c.close()
    c = s.conn()
    resp = c.exchange(request("GET", "/warm", "flaky.test"))
    check_equal(resp.status, 200, "a bodyless POST: first a GET warms a "
                "backend connection")
    resp = c.exchange(request("POST", "/drop-bodyless", "flaky.test"))
    check_equal(resp.status, 502, "POST without a body on a reused "
                "connection that closes: 502 (not idempotent)")
    tries = [r for r in s.flaky.requests if r.target == "/drop-bodyless"]
    check_equal(len(tries), 1, "   the POST was not sent twice")
    c.close()

    step("a malformed chunked request body: 400, its bytes never reach "
         "the backend")
    c = s.conn()
    c.send(b"POST /bad-chunk HTTP/1.1\r\nHost: strict.test\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
           b"zz\r\nsmuggled\r\n0\r\n\r\n")
    resp = c.response()
    check_equal(resp.status, 400, "400 Bad Request")
    check(c.closed(), "then the connection closes")
    s.strict.wait_results(1, timeout=5)
    received = s.strict.received_bytes()
    check(b"zz" not in received and b"smuggled" not in received,
          "the backend never got the bytes after the bad chunk line",
          repr(received[-200:]))
    c = s.conn()
    resp = c.exchange(request("GET", "/after", "strict.test"))
    check_equal(resp.body, b"GET /after body=", "the next request works")
    check_equal([r.conn_id for r in s.strict.requests], [2],
                "   on a new backend connection")


def read_to_end(c):
    """Everything c receives until the end of the stream, and whether
    that end was a reset (True) or a FIN (False)."""
    got = b""
    try:
        while True:
            data = c.sock.recv(65536)
            if not data:
                return got, False
            got += data
    except ConnectionResetError:
        return got, True


def test_response_kinds(s):
    step("a close-delimited response to an HTTP/1.1 client")
    c = s.conn()
    resp = c.exchange(request("GET", "/eof-body", "frame.test"))
    check_equal(resp.body, b"until the close",
                "the body arrives, delimited by the close")
    check_equal(resp.headers.get("connection", "").lower(), "close",
                "   with Connection: close")

    step("a close-delimited response the backend resets: the client is "
         "reset too, not closed as if the body were whole")
    c = s.conn()
    c.send(request("GET", "/eof-reset", "frame.test"))
    got, reset = read_to_end(c)
    check(reset, "the connection is reset", repr(got))
    c.close()

    step("103 Early Hints")
    c = s.conn()
    resp = c.exchange(request("GET", "/early", "frame.test"))
    check_equal(([r.status for r in resp.interim], resp.status, resp.body),
                ([103], 200, b"after the hints"),
                "an HTTP/1.1 client gets the 103, then the 200")
    c.close()
    c = s.conn()
    c.send(b"GET /early HTTP/1.0\r\nHost: frame.test\r\n\r\n")
    resp = c.response()
    check_equal(([r.status for r in resp.interim], resp.status, resp.body),
                ([], 200, b"after the hints"),
                "an HTTP/1.0 client gets the 200 only")
    c.close()


def test_http10(s):
    step("HTTP/1.0 client, chunked response: close-delimited body")
    c = s.conn()
    c.send(b"GET /chunked-small HTTP/1.0\r\nHost: frame.test\r\n\r\n")
    resp = c.response()
    check_equal(resp.status, 200, "200")
    check(not resp.headers.has("transfer-encoding"),
          "no Transfer-Encoding for the HTTP/1.0 client",
          str(resp.headers.list))
    check_equal(resp.body, b"hello world",
                "the body without chunk framing, until the close")

    step("HTTP/1.0 client, chunked response cut short: a reset, not a "
         "FIN that would make the part look whole")
    c = s.conn()
    c.send(b"GET /cut-chunked HTTP/1.0\r\nHost: frame.test\r\n\r\n")
    got, reset = read_to_end(c)
    check(reset, "the connection is reset", repr(got))
    c.close()

    step("HTTP/1.0 client without keep-alive: answered, then closed")
    c = s.conn()
    c.send(b"GET /ten HTTP/1.0\r\nHost: frame.test\r\n\r\n")
    resp = c.response()
    check_equal(resp.body, b"GET /ten body=", "answered")
    check(c.closed(), "then closed")

    step("HTTP/1.0 client with Connection: keep-alive: stays open")
    c = s.conn()
    for n in (1, 2):
        c.send(b"GET /ka HTTP/1.0\r\nHost: frame.test\r\n"
               b"Connection: keep-alive\r\n\r\n")
        resp = c.response()
        check_equal(resp.body, b"GET /ka body=", f"request {n} answered")
    c.close()


def test_expect_continue(s):
    step("Expect: 100-continue: the backend's 100 Continue reaches the "
         "client before it sends the body")
    c = s.conn()
    c.send(b"POST /continue HTTP/1.1\r\nHost: frame.test\r\n"
           b"Content-Length: 11\r\nExpect: 100-continue\r\n\r\n")
    resp = c.response(interim=False)
    check_equal(resp.status, 100, "client gets 100 Continue")
    check_equal(resp.headers.get("x-from"), "backend",
                "   the backend's own")
    c.send(b"hello world")
    resp = c.response()
    check_equal(resp.body, b"POST /continue body=hello world",
                "then the body reaches the backend and the answer comes")
    req = s.frame.requests[-1]
    check_equal(req.headers.get("expect"), "100-continue",
                "the backend saw the Expect field")
    c.close()


def main():
    s = Setup()
    test_bodies(s)
    test_smuggling(s)
    test_pipelining(s)
    test_no_body(s)
    test_malformed_response(s)
    test_spill(s)
    test_reuse_retry(s)
    test_response_kinds(s)
    test_http10(s)
    test_expect_continue(s)


run(main)
