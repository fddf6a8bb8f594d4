# SPDX-License-Identifier: MIT
"""A backend that fails: the client's connection is closed without data and
the log names the backend and the reason.

- refused: nothing listens on the backend port;
- connect timeout: the backend's accept queue is full, so its SYNs are
  dropped and the connect hangs until timeout_connect;
- idle timeout: no byte in either direction for timeout_idle closes the
  relayed connection, while traffic keeps it open, even traffic in one
  direction only;
- a backend that closes at once: the client sees EOF.
"""

import hashlib
import time

from lib import (Forward, Unreachable, check, check_closed_without_data,
                 check_equal, check_log, collect, echo_ok, free_port, info,
                 recv_until_eof, run, step)


def closes_at_once(conn, server):
    conn.close()


def trickle(conn, server):
    """Send one byte every 0.4 s, six times, then wait for EOF."""
    for _ in range(6):
        time.sleep(0.4)
        conn.sendall(b"t")
    return recv_until_eof(conn)


def trickle_to(sock):
    """Send one byte every 0.4 s, six times; False if a send fails."""
    try:
        for _ in range(6):
            time.sleep(0.4)
            sock.sendall(b"t")
        return True
    except OSError:
        return False


def check_idle_close(sock, since):
    """The connection is closed 1-3 s after `since` (the last byte)."""
    check_closed_without_data(sock, "idle connection closed by portier",
                              within=4)
    elapsed = time.monotonic() - since
    info(f"closed after {elapsed:.2f} s of silence")
    check(0.8 <= elapsed <= 3.0, "closed 1-3 s after the last byte",
          f"closed after {elapsed:.2f} s")


def test_refused():
    port = free_port()
    step(f"backend 127.0.0.1:{port} refuses: client closed, reason logged")
    fwd = Forward(backend=f"127.0.0.1:{port}")
    for attempt in (1, 2):
        c = fwd.connect()
        check_closed_without_data(
            c, f"connection {attempt} closed without data")
        c.close()
    check_log(fwd.portier, f"connect to 127.0.0.1:{port} failed: "
              "Connection refused")
    check(fwd.portier.running(), "portier still runs after failed connects")


def test_connect_timeout():
    step("backend never answers the SYN: closed after timeout_connect = 1s")
    target = Unreachable()
    if not target.really_hangs():
        info("connects to a full backlog complete on this kernel: cannot "
             "make a hanging backend, connect-timeout part skipped")
        return
    fwd = Forward(backend=target.addr, global_keys={"timeout_connect": "1s"})
    started = time.monotonic()
    c = fwd.connect()
    check_closed_without_data(c, "client closed without data", within=5)
    elapsed = time.monotonic() - started
    info(f"closed after {elapsed:.2f} s")
    check(0.8 <= elapsed <= 3.5, "closed about 1 s after connecting",
          f"closed after {elapsed:.2f} s")
    check_log(fwd.portier, target.addr, "timed out")


def test_idle_timeout():
    step("timeout_idle = 1s: traffic keeps a connection open, silence "
         "closes it within 1-3 s")
    fwd = Forward(global_keys={"timeout_idle": "1s"})
    c = fwd.connect()
    alive = True
    for _ in range(6):
        time.sleep(0.4)
        alive = echo_ok(c, b".")
        if not alive:
            break
    idle_since = time.monotonic()
    check(alive, "a byte each way every 0.4 s for 2.4 s keeps the "
          "connection open")
    check_idle_close(c, idle_since)
    results = fwd.backend.wait_results(1, timeout=2)
    check(len(results) == 1, "backend side of the connection closed too")


def test_idle_one_way():
    step("timeout_idle = 1s: bytes in one direction only keep a "
         "connection open too")
    fwd = Forward(trickle, global_keys={"timeout_idle": "1s"})
    c = fwd.connect()
    c.settimeout(2.5)
    got = b""
    try:
        while len(got) < 6:
            data = c.recv(16)
            if not data:
                break
            got += data
    except OSError:
        pass
    idle_since = time.monotonic()
    check_equal(got, b"t" * 6, "backend -> client only: all 6 bytes, sent "
                "over 2.4 s, arrive")
    check_idle_close(c, idle_since)

    fwd = Forward(collect, global_keys={"timeout_idle": "1s"})
    c = fwd.connect()
    sent = trickle_to(c)
    idle_since = time.monotonic()
    check(sent, "client -> backend only: 6 bytes sent over 2.4 s")
    check_idle_close(c, idle_since)
    results = fwd.backend.wait_results(1, timeout=3)
    check_equal(results, [b"t" * 6], "backend received all 6 bytes")


SLOW_TOTAL = 1024 * 1024


def slow_reader(conn, server):
    """Read 16 KiB every 50 ms (about 3 s for SLOW_TOTAL), then answer
    with the SHA-256 of what arrived."""
    got = bytearray()
    while len(got) < SLOW_TOTAL:
        data = conn.recv(16 * 1024)
        if not data:
            break
        got += data
        time.sleep(0.05)
    conn.sendall(hashlib.sha256(got).hexdigest().encode() + b"\n")
    return len(got)


def test_idle_slow_reader():
    step("timeout_idle = 1s: a backend that reads slowly for 3 s is not "
         "idle, though portier itself sees no event for a while")
    fwd = Forward(slow_reader, global_keys={"timeout_idle": "1s"})
    c = fwd.connect(timeout=10)
    data = bytes(range(256)) * (SLOW_TOTAL // 256)
    c.sendall(data)
    answer = c.recv(128)
    check_equal(answer, hashlib.sha256(data).hexdigest().encode() + b"\n",
                "the backend got every byte and its answer came back")


def test_backend_closes():
    step("backend accepts and closes at once: client sees EOF")
    fwd = Forward(closes_at_once)
    c = fwd.connect()
    check_closed_without_data(c, "client connection closed")


def main():
    test_refused()
    test_connect_timeout()
    test_idle_timeout()
    test_idle_one_way()
    test_idle_slow_reader()
    test_backend_closes()


run(main)
