# SPDX-License-Identifier: MIT
"""Half-close is carried both ways.

Client first: the client sends data and shuts down its write side; the
backend sees EOF only after every byte, answers after the EOF, and the client
receives that answer and then EOF.

Backend first: the backend sends data and shuts down its write side; the
client sees EOF after every byte, then still sends data that the backend
receives in full.

Send and close: a client that closes right after sending (before the
backend connection may even be up) still delivers every byte.
"""

import socket

from lib import (KIB, Forward, check, check_equal, read_to_eof,
                 recv_until_eof, run, sha256, sink, step, stream_chunks)

# More than portier's buffer and the kernel's, so EOF has to wait for data.
SIZE = 3000 * KIB


def stream_bytes(seed):
    return b"".join(bytes(c) for c in stream_chunks(SIZE, seed))


def answer_after_eof(conn, server):
    """Read to EOF, then reply with what was read and close."""
    received = recv_until_eof(conn)
    conn.sendall(b"after EOF I got " + sha256(received).sha256.encode())
    conn.close()
    return received


def speak_first(conn, server):
    """Send SIZE bytes, shut down writing, then read to EOF."""
    conn.sendall(stream_bytes(2))
    conn.shutdown(socket.SHUT_WR)
    received = recv_until_eof(conn)
    conn.close()
    return received


def test_client_shuts_first():
    step("client sends 3000 KiB then SHUT_WR; backend answers after EOF")
    fwd = Forward(answer_after_eof)
    data = stream_bytes(1)
    c = fwd.connect(timeout=10)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    results = fwd.backend.wait_results(1, timeout=10)
    check(len(results) == 1 and isinstance(results[0], bytes),
          "backend saw EOF on its side", repr(results)[:200])
    check_equal(sha256(results[0]), sha256(data),
                "backend got every byte before EOF")
    reply = read_to_eof(c, "client reads the backend's answer")
    check_equal(reply, b"after EOF I got " + sha256(data).sha256.encode(),
                "client received the answer sent after the backend's EOF, "
                "then EOF")


def test_backend_shuts_first():
    step("backend sends 3000 KiB then SHUT_WR; client answers after EOF")
    fwd = Forward(speak_first)
    c = fwd.connect(timeout=10)
    received = read_to_eof(c, "client sees the backend's SHUT_WR")
    check_equal(sha256(received), sha256(stream_bytes(2)),
                "client got every byte, then EOF")
    answer = stream_bytes(3)
    c.sendall(answer)
    c.shutdown(socket.SHUT_WR)
    results = fwd.backend.wait_results(1, timeout=10)
    check(len(results) == 1 and isinstance(results[0], bytes),
          "backend saw EOF after the client's answer", repr(results)[:200])
    check_equal(sha256(results[0]), sha256(answer),
                "backend received the client's whole answer after its own "
                "SHUT_WR")


def test_send_and_close():
    step("client sends 3000 KiB and closes at once: the backend still "
         "gets every byte, then EOF")
    fwd = Forward(sink)
    data = stream_bytes(4)
    c = fwd.connect(timeout=10)
    c.sendall(data)
    c.close()
    results = fwd.backend.wait_results(1, timeout=10)
    check_equal(results, [sha256(data)], "backend received all of it")


def main():
    test_client_shuts_first()
    test_backend_shuts_first()
    test_send_and_close()


run(main)
