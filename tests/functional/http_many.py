# SPDX-License-Identifier: MIT
"""HTTP mode: many responses that complete at the same moment.

portier holds its small writes to clients until the end of the event
loop's turn, then makes them all; these checks make sure that nothing is
lost, mixed up or left unsent that way:

- 32 clients, each with one request in flight: portier forwards all 32 at
  once (the backend holds every answer until it has them all) and each
  client gets its own response, whole, when the backend answers them
  together;
- the half that sent "Connection: close" then see the close; the other
  half stay open, and each carries a second request, answered together
  again;
- a client that sends five requests in one write gets five responses, in
  order, on one connection.
"""

import threading

from httptest import HttpPortier, Reader, read_request, request, \
    response_bytes
from lib import Server, check, check_equal, info, run, step

CLIENTS = 32


def body_for(target):
    """The body the backend answers for target: the target and padding,
    so that each answer is a few hundred bytes and tells whose it is."""
    return (target + "\n" + "x" * 300).encode()


class GatherBackend(Server):
    """Answers each request with body_for(its target); while `gather` is
    set, an answer waits until that many requests have come, so that the
    answers leave together. `.broken` counts the waits that timed out."""

    def __init__(self):
        self.gather = None
        self.broken = 0
        super().__init__(self._handle)

    def expect(self, n):
        """The next n requests are answered together."""
        self.gather = threading.Barrier(n) if n > 1 else None

    def _handle(self, conn, server):
        reader = Reader(conn)
        try:
            while True:
                req = read_request(reader)
                if req is None:
                    return
                gather = self.gather
                if gather is not None:
                    try:
                        gather.wait(timeout=10)
                    except threading.BrokenBarrierError:
                        with self._lock:
                            self.broken += 1
                conn.sendall(response_bytes(200, "OK", [],
                                            body_for(req.target)))
        except OSError:
            pass
        finally:
            conn.close()


def answers(conns, prefix, what):
    """Read one response on each connection; check each is the one for
    its own request."""
    wrong = []
    for i, c in enumerate(conns):
        r = c.response()
        want = body_for(f"/{prefix}/{i}")
        if r.status != 200 or r.body != want:
            wrong.append(f"client {i}: {r.status} {r.body[:40]!r}")
    check(not wrong, what, "; ".join(wrong[:5]))


def test_together():
    step(f"{CLIENTS} responses completed at once reach their own clients")
    backend = GatherBackend()
    p = HttpPortier({"web": {"backend": backend.addr}})

    backend.expect(CLIENTS)
    conns = [p.conn("web") for _ in range(CLIENTS)]
    for i, c in enumerate(conns):
        close = ["Connection: close"] if i % 2 else []
        c.send(request("GET", f"/one/{i}", "app.test", close))
    answers(conns, "one", f"   each of the {CLIENTS} clients got its own "
            "response, whole")
    check_equal(backend.broken, 0, "   the backend had all the requests "
                "at once (none waited 10 s for the others)")

    closing = conns[1::2]
    staying = conns[0::2]
    still_open = [i for i, c in enumerate(closing) if not c.closed(3.0)]
    check(not still_open, f"   the {len(closing)} clients that sent "
          "Connection: close saw the close after their response",
          f"still open: {still_open}")

    info("a second request on each connection kept open")
    backend.expect(len(staying))
    for i, c in enumerate(staying):
        c.send(request("GET", f"/two/{i}", "app.test"))
    answers(staying, "two", f"   each of the {len(staying)} clients got its "
            "own second response")
    check_equal(backend.broken, 0, "   again all at once")


def test_pipelined():
    step("five requests in one write: five responses, in order")
    backend = GatherBackend()
    p = HttpPortier({"web": {"backend": backend.addr}})
    c = p.conn("web")
    c.send(b"".join(request("GET", f"/pipe/{i}", "app.test")
                    for i in range(5)))
    got = [c.response() for _ in range(5)]
    check_equal([r.body for r in got],
                [body_for(f"/pipe/{i}") for i in range(5)],
                "   the five bodies, in the order asked")


def main():
    test_together()
    test_pipelined()


run(main)
