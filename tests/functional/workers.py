# SPDX-License-Identifier: MIT
"""Several workers (workers = 2 and auto): each event loop binds the
listening address (SO_REUSEPORT) and the kernel spreads connections among
them.

- many concurrent connections all relay their own bytes;
- [global] max_connections holds across workers: beyond it a connection is
  closed at once, and one closing makes room again;
- SIGTERM stops every worker: new connections are refused, an open one
  finishes, and portier exits 0.
"""

import signal
import threading
import time

from lib import (LOOPBACK4, Forward, check, check_closed_without_data,
                 check_equal, check_log, connect, echo_ok, recv_exactly,
                 run, step)

CLIENTS = 64


def exchange(port, i, failures):
    """One connection: send a message of its own, expect it back."""
    try:
        with connect(LOOPBACK4, port) as c:
            msg = (f"client {i} " * (i + 1)).encode()
            c.sendall(msg)
            if recv_exactly(c, len(msg)) != msg:
                failures.append(f"client {i}: wrong bytes back")
    except OSError as e:
        failures.append(f"client {i}: {e}")


def test_concurrent():
    step(f"workers = 2: {CLIENTS} concurrent connections each get their "
         "own bytes back")
    fwd = Forward(global_keys={"workers": "2"})
    check_log(fwd.portier, "2 workers")
    failures = []
    threads = [threading.Thread(target=exchange,
                                args=(fwd.port, i, failures))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check_equal(failures, [], "every client got its own bytes back")


def test_global_limit():
    step("workers = 2, max_connections = 3: the limit holds across workers")
    fwd = Forward(global_keys={"workers": "2", "max_connections": "3"})
    held = []
    for _ in range(3):
        c = fwd.connect()
        check(echo_ok(c), "a connection within the limit works")
        held.append(c)
    # Several tries: with SO_REUSEPORT they land on either worker.
    for i in range(4):
        c = fwd.connect()
        check_closed_without_data(c, f"connection {4 + i} over the limit "
                                  "is closed at once")
    check_log(fwd.portier, "connection limit")
    held.pop().close()
    time.sleep(0.5)
    c = fwd.connect()
    check(echo_ok(c), "after one closed, a new connection works again")


def test_stop():
    step("workers = auto: SIGTERM refuses new connections, lets the open "
         "one finish, exits 0")
    fwd = Forward(global_keys={"workers": "auto"})
    c = fwd.connect()
    check(echo_ok(c), "a connection is open")
    fwd.portier.send_signal(signal.SIGTERM)
    check_log(fwd.portier, "stopped accepting")
    # Each worker closes its own listening socket when the order reaches
    # its loop, a moment after the log line: allow it that moment.
    refused = False
    deadline = time.monotonic() + 2
    while not refused and time.monotonic() < deadline:
        try:
            connect(LOOPBACK4, fwd.port, timeout=2).close()
            time.sleep(0.05)
        except OSError:
            refused = True
    check(refused, "new connections are refused while draining")
    check(echo_ok(c, b"still here\n"), "the open connection still relays")
    c.close()
    status = fwd.portier.wait_exit(5)
    check_equal(status, 0, "portier exits 0 once the connection closed")


def main():
    test_concurrent()
    test_global_limit()
    test_stop()


run(main)
