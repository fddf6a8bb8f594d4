# SPDX-License-Identifier: MIT
"""SIGTERM and SIGINT: stop accepting at once, drain, exit 0.

- idle: portier exits 0 within 2 s;
- with a relayed connection open: new connects are refused at once, the
  open connection keeps relaying, and portier exits 0 soon after it ends;
- a connection that never ends is cut when the 10 s drain time is over,
  or at once on a second signal;
- an HTTP connection that waits between requests is closed at once, so it
  does not hold the stop for the drain period.
"""

import signal
import socket
import time

from httptest import Conn, EchoBackend, request
from lib import (LOOPBACK4, Forward, check, check_closed_without_data,
                 check_equal, echo_ok, fmt_addr, free_port, info, run,
                 section, start_portier, step, wait_until)

DRAIN_SECONDS = 10


def refuses_connections(port):
    """True when a connect to 127.0.0.1:port is refused."""
    try:
        with socket.create_connection((LOOPBACK4, port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def test_idle(sig):
    name = signal.Signals(sig).name
    step(f"{name} with no connection: exit 0 within 2 s")
    fwd = Forward()
    started = time.monotonic()
    fwd.portier.send_signal(sig)
    status = fwd.portier.wait_exit(5)
    elapsed = time.monotonic() - started
    check(status is not None, f"portier exited after {name}")
    info(f"exited after {elapsed:.2f} s")
    check_equal(status, 0, "exit status")
    check(elapsed < 2.0, "exited within 2 s", f"took {elapsed:.2f} s")


def test_drain(sig):
    name = signal.Signals(sig).name
    step(f"{name} with a relayed connection open: refuse new ones, keep "
         "the open one, exit 0 when it ends")
    fwd = Forward()
    c = fwd.connect()
    check(echo_ok(c), "connection relays before the signal")
    fwd.portier.send_signal(sig)
    check(wait_until(lambda: refuses_connections(fwd.port), 1.0,
                     interval=0.05),
          "new connections are refused within 1 s")
    for i in range(5):
        time.sleep(0.2)
        check(echo_ok(c, f"still here {i}\n".encode()),
              f"open connection still relays ({(i + 1) * 0.2:.1f} s after "
              "the signal)")
    check(fwd.portier.running(), "portier still runs while it drains")
    c.close()
    started = time.monotonic()
    status = fwd.portier.wait_exit(5)
    check(status is not None, "portier exits once the connection ended")
    info(f"exited {time.monotonic() - started:.2f} s after the client "
         "closed")
    check_equal(status, 0, "exit status")


def test_drain_limit():
    step(f"SIGTERM with a connection that stays open: cut after the "
         f"{DRAIN_SECONDS} s drain time")
    fwd = Forward()
    c = fwd.connect()
    check(echo_ok(c), "connection relays before the signal")
    started = time.monotonic()
    fwd.portier.send_signal(signal.SIGTERM)
    status = fwd.portier.wait_exit(DRAIN_SECONDS + 5)
    elapsed = time.monotonic() - started
    check(status is not None, f"portier exited within {DRAIN_SECONDS + 5} s",
          "still running")
    info(f"exited after {elapsed:.1f} s with status {status}")
    check(DRAIN_SECONDS - 1 <= elapsed <= DRAIN_SECONDS + 3,
          f"exited about {DRAIN_SECONDS} s after the signal",
          f"after {elapsed:.1f} s")
    check_equal(status, 0, "exit status")
    check_closed_without_data(c, "the open connection was closed",
                              within=1)


def test_second_signal():
    step("a second SIGTERM while draining stops at once")
    fwd = Forward()
    c = fwd.connect()
    check(echo_ok(c), "connection relays before the signal")
    fwd.portier.send_signal(signal.SIGTERM)
    check(wait_until(lambda: refuses_connections(fwd.port), 1.0,
                     interval=0.05), "draining: new connections refused")
    check(fwd.portier.running(), "portier still drains the open connection")
    started = time.monotonic()
    fwd.portier.send_signal(signal.SIGTERM)
    status = fwd.portier.wait_exit(5)
    elapsed = time.monotonic() - started
    check(status is not None and elapsed < 1.0,
          "the second SIGTERM stops portier within 1 s",
          f"status {status} after {elapsed:.2f} s")
    check_equal(status, 0, "exit status")
    check_closed_without_data(c, "the open connection was closed",
                              within=1)


def test_idle_keepalive():
    step("SIGINT with an idle keep-alive HTTP connection: closed at once, "
         "exit 0 within 2 s")
    backend = EchoBackend("app")
    port = free_port()
    portier = start_portier(section("listener web",
                                    bind=fmt_addr(LOOPBACK4, port),
                                    mode="http", backend=backend.addr))
    conn = Conn(LOOPBACK4, port)
    check_equal(conn.exchange(request("GET", "/", "a.test")).status, 200,
                "a request on a keep-alive connection")
    started = time.monotonic()
    portier.send_signal(signal.SIGINT)
    check(conn.closed(within=2), "the idle connection is closed")
    status = portier.wait_exit(5)
    elapsed = time.monotonic() - started
    check_equal(status, 0, "exit status 0")
    check(elapsed < 2, f"within 2 s, not the drain period ({elapsed:.1f} s)")


def main():
    test_idle_keepalive()
    test_idle(signal.SIGTERM)
    test_idle(signal.SIGINT)
    test_drain(signal.SIGTERM)
    test_drain(signal.SIGINT)
    test_second_signal()
    test_drain_limit()


run(main)
