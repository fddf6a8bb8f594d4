# SPDX-License-Identifier: MIT
"""Backpressure: a fast writer facing a reader that lags does not make
portier buffer without bound.

In each direction the writer pushes 128 MiB. The reader reads nothing until
the writer is stuck, then 64 KiB every 10 ms for a while, then at full
speed. While the reader lags, portier's RSS must stay within
RSS_GROWTH_LIMIT of what it was before (growth, not absolute: sanitizer
builds start large); at the end every byte must have arrived, in order.

HTTP: a client that pipelines 200000 requests and reads no answer is held
back (portier stops reading while answers wait), RSS stays within the same
limit, and once it reads it gets every answer; one that never reads is
closed after timeout_idle, and the answers it left are logged.
"""

import os
import queue
import time

from httptest import HttpPortier, request
from lib import (KIB, MIB, Counter, Forward, Receiver, Worker, check,
                 check_equal, info, recv_exactly, run, send_stream, step,
                 stream_digest)

TOTAL = 128 * MIB
RSS_GROWTH_LIMIT = 16 * MIB // KIB  # KiB
SLOW_READ = 64 * KIB
SLOW_SECONDS = 1.5

# AddressSanitizer keeps freed memory in a quarantine instead of reusing it;
# keep that small so RSS shows what portier holds, not what it freed.
ASAN_ENV = {"ASAN_OPTIONS": ":".join(filter(None, [
    os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=1"]))}


def wait_stalled(counter, quiet=0.5, timeout=20.0):
    """Wait until `counter` has not moved for `quiet` s; return its
    value."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = counter.value
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.05)
    return counter.value


def peak_rss(portier, seconds):
    """Largest RSS of portier over `seconds`, in KiB."""
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, portier.rss_kib())
        time.sleep(0.05)
    return peak


def check_growth(baseline, peak, what):
    """Fail when portier's RSS grew by RSS_GROWTH_LIMIT or more."""
    info(f"portier RSS: {baseline} KiB at rest, {peak} KiB at most {what}")
    check(peak - baseline < RSS_GROWTH_LIMIT,
          f"RSS grows by less than {RSS_GROWTH_LIMIT // KIB} MiB {what}",
          f"grew by {peak - baseline} KiB")


def lagging_transfer(portier, writer, reader, seed):
    """Push TOTAL bytes from socket `writer` to socket `reader` (the other
    end of the relay) while `reader` lags; check RSS and the data."""
    baseline = portier.rss_kib()
    written = Counter()
    sender = Worker(send_stream, writer, TOTAL, seed, written)
    sender.start()

    stuck_at = wait_stalled(written)
    info(f"writer stuck after {stuck_at // KIB} KiB of {TOTAL // KIB} KiB")
    check(stuck_at < TOTAL, "the writer is held back while nobody reads",
          "portier took the whole stream with nobody reading")
    check_growth(baseline, peak_rss(portier, 1.0),
                 "while the reader reads nothing")

    receiver = Receiver(reader)
    sampler = Worker(peak_rss, portier, SLOW_SECONDS)
    sampler.start()
    end = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < end and not receiver.eof:
        receiver.read(SLOW_READ)
        time.sleep(0.01)
    info(f"read {receiver.nbytes // KIB} KiB slowly")
    check_growth(baseline, sampler.outcome(10),
                 "while the reader reads 64 KiB every 10 ms")

    receiver.read()
    sent = sender.outcome(30)
    check_equal(sent, stream_digest(TOTAL, seed), "writer sent the stream")
    check_equal(receiver.transfer(), sent,
                "reader received every byte, in order, then EOF")


class Relay:
    """portier forwarding to a backend whose connections the test drives
    itself."""

    def __init__(self):
        self.handed = queue.Queue()
        self.fwd = Forward(lambda conn, server: self.handed.put(conn),
                           env=ASAN_ENV)
        self.portier = self.fwd.portier

    def pair(self):
        """A new relayed connection: (client socket, backend socket)."""
        client = self.fwd.connect(timeout=30)
        backend = self.handed.get(timeout=5)
        backend.settimeout(30)
        return client, backend


def warm_up(relay):
    """Relay 1 MiB each way once, so that start-up allocations are not
    counted as growth."""
    client, backend = relay.pair()
    client.sendall(b"c" * MIB)
    backend.sendall(b"b" * MIB)
    check(recv_exactly(backend, MIB) == b"c" * MIB
          and recv_exactly(client, MIB) == b"b" * MIB,
          "warm-up connection relays 1 MiB each way")
    client.close()
    backend.close()
    time.sleep(0.2)


PIPELINED = 200000


def pipelined_flood():
    """HTTP: a client that pipelines requests and reads no answer. Each
    27-byte request gets a 404 page of a few hundred bytes: without
    backpressure, answers pile up in portier tens of times faster than
    the requests come."""
    step(f"HTTP: {PIPELINED} pipelined requests from a client that reads "
         "nothing until the sender is stuck")
    p = HttpPortier({"web": {}}, env=ASAN_ENV)
    req = request("GET", "/", "nothing.test")
    c = p.conn("web", timeout=30)
    one = c.exchange(req)
    check_equal(one.status, 404, "one request: 404")
    size = one.wire_len
    for _ in range(3):  # warm-up
        c.exchange(req)
    baseline = p.portier.rss_kib()
    written = Counter()

    def send_all(sock):
        block = req * 1000
        for _ in range(PIPELINED // 1000):
            sock.sendall(block)
            written.add(len(block))
        return written.value

    sender = Worker(send_all, c.sock)
    sender.start()
    stuck_at = wait_stalled(written)
    info(f"sender stuck after {stuck_at // len(req)} requests")
    check(stuck_at < PIPELINED * len(req),
          "the sender is held back while nobody reads",
          "portier took every request with nobody reading")
    check_growth(baseline, peak_rss(p.portier, 1.0),
                 "while the client reads nothing")
    want = PIPELINED * size
    got = 0
    c.sock.settimeout(30)
    while got < want:
        data = c.sock.recv(1 << 20)
        if not data:
            break
        got += len(data)
    check_equal(got, want, f"then every request is answered "
                f"({PIPELINED} answers of {size} bytes)")
    sender.outcome(30)
    c.close()

    step("a pipelining client that never reads: closed after timeout_idle, "
         "and the answers left behind are logged at info")
    p = HttpPortier({"web": {}}, global_keys={"timeout_idle": "1s"},
                    env=ASAN_ENV)
    c = p.conn("web", timeout=30)
    written = Counter()
    sender = Worker(send_all, c.sock)
    sender.start()
    check(p.portier.wait_log("info", "closed: the client took none of "
                             "the", timeout=10) is not None,
          "the close is logged with the bytes that waited")
    c.close()
    sender.join(10)  # its send fails once portier has closed


def main():
    pipelined_flood()
    relay = Relay()
    warm_up(relay)

    step(f"client pushes {TOTAL // MIB} MiB to a backend that lags")
    client, backend = relay.pair()
    lagging_transfer(relay.portier, client, backend, 1)
    client.close()
    backend.close()

    step(f"backend pushes {TOTAL // MIB} MiB to a client that lags")
    client, backend = relay.pair()
    lagging_transfer(relay.portier, backend, client, 2)
    client.close()
    backend.close()


run(main)
