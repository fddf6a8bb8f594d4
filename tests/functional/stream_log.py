# SPDX-License-Identifier: MIT
"""The access log of the stream modes: one line per TCP connection and per
UDP flow, written when it ends.

- mode = tcp, combined format: a connection that echoed 11 bytes gets a
  line with the client, "TCP fwd", the backend, the bytes each way and
  end="done"; a connection whose backend refuses gets end="no backend
  connection" and no byte counts but zeros;
- mode = udp, JSON: a flow that forwarded two datagrams and went idle
  gets a JSON line with protocol UDP, the bytes each way and end "idle".
"""

import json
import os
import re
import socket
import threading

from lib import (LOOPBACK4, Forward, at_cleanup, check,
                 check_equal, echo_ok, fmt_addr, free_port, run, section,
                 start_portier, step, tmpdir, wait_until)


def log_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line for line in f.read().splitlines() if line]


def test_tcp():
    step("mode = tcp: one combined line per connection, when it ends")
    path = os.path.join(tmpdir(), "tcp-access.log")
    fwd = Forward(global_keys={"access_log": path})
    sock = fwd.connect()
    check(echo_ok(sock, b"hello"), "5 bytes echoed")
    check(echo_ok(sock, b"world!"), "6 more")
    client = "%s:%d" % sock.getsockname()
    sock.close()
    check(wait_until(lambda: len(log_lines(path)) == 1, 5),
          "one line once the connection closed", str(log_lines(path)))
    line = log_lines(path)[0]
    m = re.match(r'(\S+) - - \[[^]]+\] "TCP fwd" - (\d+) "-" "-" '
                 r'sni=- backend=(\S+) in=(\d+) ms=(\d+) end="([^"]*)"$',
                 line)
    check(m is not None, "the line has the combined layout", line)
    check_equal(m.group(1), client, "   the client's address and port")
    check_equal(m.group(3), fwd.backend.addr, "   the backend")
    check_equal((int(m.group(4)), int(m.group(2))), (11, 11),
                "   11 bytes each way")
    check_equal(m.group(6), "done", "   end=done")

    step("a connection whose backend refuses: end=\"no backend "
         "connection\"")
    path = os.path.join(tmpdir(), "tcp-refused.log")
    fwd = Forward(backend=fmt_addr(LOOPBACK4, free_port()),
                  global_keys={"access_log": path})
    sock = fwd.connect()
    sock.settimeout(5)
    try:
        sock.recv(10)
    except OSError:
        pass
    sock.close()
    check(wait_until(lambda: len(log_lines(path)) == 1, 5),
          "one line", str(log_lines(path)))
    line = log_lines(path)[0]
    check('"TCP fwd" - 0 ' in line and 'in=0 ' in line and
          'end="no backend connection"' in line,
          "   no bytes, and why", line)


def udp_echo():
    """A UDP echo server on a thread; returns its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK4, 0))
    sock.settimeout(0.1)
    done = threading.Event()
    at_cleanup(done.set)
    at_cleanup(sock.close)

    def loop():
        while not done.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            sock.sendto(data, peer)

    threading.Thread(target=loop, daemon=True).start()
    return sock.getsockname()[1]


def test_udp():
    step("mode = udp, JSON: one line per flow, when it ends")
    path = os.path.join(tmpdir(), "udp-access.log")
    backend = udp_echo()
    port = free_port(kind=socket.SOCK_DGRAM)
    start_portier(section("global", access_log=path,
                          access_log_format="json", timeout_idle="1s") +
                  section("listener dns", bind=fmt_addr(LOOPBACK4, port),
                          mode="udp",
                          backend=fmt_addr(LOOPBACK4, backend)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    at_cleanup(sock.close)
    sock.bind((LOOPBACK4, 0))
    sock.settimeout(5)
    for data in (b"abc", b"defgh"):
        sock.sendto(data, (LOOPBACK4, port))
        check_equal(sock.recvfrom(100)[0], data, f"{data!r} echoed")
    client = "%s:%d" % sock.getsockname()
    check(wait_until(lambda: len(log_lines(path)) == 1, 5),
          "one line once the flow went idle", str(log_lines(path)))
    entry = json.loads(log_lines(path)[0])
    check_equal((entry["protocol"], entry["listener"], entry["client"]),
                ("UDP", "dns", client), "   protocol, listener, client")
    check_equal((entry["bytes_in"], entry["bytes_out"]), (8, 8),
                "   8 bytes each way")
    check_equal((entry["backend"], entry["end"], entry["sni"]),
                (fmt_addr(LOOPBACK4, backend), "idle", None),
                "   backend, end idle, no SNI")
    check(entry["duration_ms"] >= 1000, "   lasted at least timeout_idle",
          str(entry["duration_ms"]))


def main():
    test_tcp()
    test_udp()


run(main)
