# SPDX-License-Identifier: MIT
"""TCP relay: bytes arrive intact in both directions, on one connection and
on many at once, and 100 MiB each way (concurrently) keep their SHA-256. A
reset on one side closes the other side's connection, with a reset. A
backend that speaks
first (SMTP, SSH) reaches a client that has sent nothing, at once.
"""

import time

from lib import (LOOPBACK4, MIB, Forward, Server, Worker, check,
                 check_equal, check_log, echo_ok, info, recv_exactly,
                 recv_stream, reset, run, send_stream, source, stream_digest,
                 step)

BULK = 100 * MIB
CONCURRENT = 100
BULK_TIME_LIMIT = 30.0


def bulk_both_ways(conn, server):
    """Backend side of the bulk test: send stream 2 while receiving."""
    sender = Worker(send_stream, conn, BULK, 2)
    sender.start()
    received = recv_stream(conn)
    sent = sender.outcome(BULK_TIME_LIMIT)
    conn.close()
    return received, sent


def reset_after_one_mib(conn, server):
    """Read 1 MiB, then reset the connection."""
    recv_exactly(conn, MIB)
    reset(conn)


def say_then_reset(conn, server):
    """Send a line, then reset the connection."""
    conn.sendall(b"partial\n")
    time.sleep(0.3)
    reset(conn)


def test_resets():
    step("backend resets: the client sees a reset too, not an end of "
         "stream that would make a cut transfer look whole")
    fwd = Forward(say_then_reset)
    c = fwd.connect()
    c.settimeout(5)
    check_equal(recv_exactly(c, 8), b"partial\n", "the client gets the line")
    try:
        got = c.recv(100)
        outcome = f"end of stream ({got!r})" if not got else repr(got)
    except ConnectionResetError:
        outcome = "reset"
    check_equal(outcome, "reset", "then a reset (ECONNRESET)")
    c.close()

    step("client resets in the middle of a download: the backend's "
         "connection is closed, portier keeps serving")
    fwd = Forward(source(BULK, 3))
    c = fwd.connect()
    check_equal(len(recv_exactly(c, MIB)), MIB, "client got 1 MiB")
    reset(c)
    results = fwd.backend.wait_results(1, timeout=5)
    check(len(results) == 1 and isinstance(results[0], OSError),
          "backend's send fails within 5 s (its connection was closed)",
          repr(results))
    c = fwd.connect()
    check_equal(len(recv_exactly(c, MIB)), MIB, "a new client gets 1 MiB")
    c.close()

    step("backend resets in the middle of an upload: the client's "
         "connection is closed, portier keeps serving")
    fwd = Forward(reset_after_one_mib)
    c = fwd.connect()
    uploader = Worker(send_stream, c, BULK, 4)
    uploader.start()
    uploader.join(5)
    check(not uploader.is_alive() and isinstance(uploader.error, OSError),
          "client's upload fails within 5 s (its connection was closed)",
          "still sending" if uploader.is_alive() else repr(uploader.error))
    c = fwd.connect()
    c.sendall(b"x" * MIB)
    results = fwd.backend.wait_results(2, timeout=5)
    check(len(results) == 2, "a new client's 1 MiB reaches the backend")


def greet(conn, server):
    """A server that speaks first: a banner, then an echo of one line."""
    conn.sendall(b"220 ready\r\n")
    line = conn.recv(100)
    conn.sendall(line)
    conn.close()


def test_server_first():
    step("a backend that speaks first: its banner reaches a client that "
         "has sent nothing, at once")
    fwd = Forward(backend=Server(greet))
    c = fwd.connect()
    started = time.monotonic()
    banner = recv_exactly(c, 11)
    elapsed = time.monotonic() - started
    check_equal(banner, b"220 ready\r\n", "the banner")
    check(elapsed < 0.5, "within half a second of the connect",
          f"after {elapsed:.2f} s")
    check(echo_ok(c, b"EHLO client\r\n"), "then the client's line goes "
          "through and comes back")


def test_echo():
    step("a small message goes through and comes back")
    fwd = Forward()
    check_log(fwd.portier, "listening on", f"{LOOPBACK4}:{fwd.port}")
    c = fwd.connect()
    check(echo_ok(c, b"hello portier\n"), "echo of one line")
    check(echo_ok(c, bytes(range(256)) * 64), "echo of all 256 byte values")
    c.close()

    step(f"{CONCURRENT} connections at once each get their own bytes back")
    clients = [fwd.connect() for _ in range(CONCURRENT)]
    messages = [f"client {i} ".encode() * 1000 for i in range(CONCURRENT)]
    for c, message in zip(clients, messages):
        c.sendall(message)
    mixed_up = [i for i, (c, message) in enumerate(zip(clients, messages))
                if recv_exactly(c, len(message)) != message]
    check(not mixed_up, f"all {CONCURRENT} connections echoed their own "
          "data", f"wrong data on connections {mixed_up}")
    for c in clients:
        c.close()
    check_equal(fwd.backend.accepted, CONCURRENT + 1,
                f"backend accepted {CONCURRENT + 1} connections")


def test_bulk():
    step(f"{BULK // MIB} MiB each way at the same time, same SHA-256 at "
         f"both ends, in under {BULK_TIME_LIMIT:.0f} s")
    fwd = Forward(backend=Server(bulk_both_ways))
    started = time.monotonic()
    c = fwd.connect(timeout=BULK_TIME_LIMIT)
    sender = Worker(send_stream, c, BULK, 1)
    sender.start()
    received = recv_stream(c)
    sent = sender.outcome(BULK_TIME_LIMIT)
    results = fwd.backend.wait_results(1, timeout=BULK_TIME_LIMIT)
    elapsed = time.monotonic() - started
    info(f"relayed {2 * BULK // MIB} MiB in {elapsed:.1f} s")
    check(len(results) == 1 and not isinstance(results[0], Exception),
          "backend finished its side of the transfer", repr(results))
    backend_received, backend_sent = results[0]
    check_equal(sent, stream_digest(BULK, 1), "client sent the whole stream")
    check_equal(backend_received, sent,
                "backend received exactly what the client sent")
    check_equal(received, backend_sent,
                "client received exactly what the backend sent")
    check(elapsed < BULK_TIME_LIMIT,
          f"transfer took less than {BULK_TIME_LIMIT:.0f} s",
          f"took {elapsed:.1f} s")


def main():
    test_echo()
    test_server_first()
    test_bulk()
    test_resets()


run(main)
