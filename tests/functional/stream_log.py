# SPDX-License-Identifier: MIT
"""The access log of the stream modes: one line per TCP connection and per
UDP flow, written when it ends.

- mode = tcp, combined format: a connection that echoed 11 bytes gets a
  line with the client, "TCP fwd", the backend, the bytes each way and
  end="done"; a connection whose backend refuses gets end="no backend
  connection" and no byte counts but zeros; connections refused by the
  deny list or at the listener's limit get a line each with why;
- mode = udp, JSON: a flow that forwarded two datagrams and went idle
  gets a JSON line with protocol UDP, the bytes each way and end "idle",
  its time as RFC 3339 has it (an offset with a colon);
- mode = tls-passthrough: a ClientHello for a name no vhost serves gets a
  line with the name and end="unknown server name", bytes that are no
  hello end="no ClientHello".
"""

import json
import os
import re
import socket
import threading

from lib import (LOOPBACK4, Forward, at_cleanup, check,
                 check_equal, echo_ok, fmt_addr, free_port, run, section,
                 srcdir, start_portier, step, tmpdir, wait_until)


def log_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line for line in f.read().splitlines() if line]


def wait_closed(sock):
    """Wait (5 s at most) for portier to close sock, then close it."""
    sock.settimeout(5)
    try:
        sock.recv(10)
    except OSError:
        pass
    sock.close()


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
                 r'port=(\d+) sni=- backend=(\S+) in=(\d+) ms=(\d+) '
                 r'end="([^"]*)"$', line)
    check(m is not None, "the line has the combined layout", line)
    check_equal("%s:%s" % (m.group(1), m.group(3)), client,
                "   the client's address (the first field) and port")
    check_equal(m.group(4), fwd.backend.addr, "   the backend")
    check_equal((int(m.group(5)), int(m.group(2))), (11, 11),
                "   11 bytes each way")
    check_equal(m.group(7), "done", "   end=done")

    step("a connection whose backend refuses: end=\"no backend "
         "connection\"")
    path = os.path.join(tmpdir(), "tcp-refused.log")
    fwd = Forward(backend=fmt_addr(LOOPBACK4, free_port()),
                  global_keys={"access_log": path})
    wait_closed(fwd.connect())
    check(wait_until(lambda: len(log_lines(path)) == 1, 5),
          "one line", str(log_lines(path)))
    line = log_lines(path)[0]
    check('"TCP fwd" - 0 ' in line and 'in=0 ' in line and
          'end="no backend connection"' in line,
          "   no bytes, and why", line)

    step("connections refused by the deny list and at the listener's "
         "limit: a line each, saying why")
    path = os.path.join(tmpdir(), "tcp-denied.log")
    fwd = Forward(global_keys={"access_log": path}, deny="127.0.0.2/32",
                  max_connections="1")
    denied = socket.create_connection(("127.0.0.1", fwd.port),
                                      source_address=("127.0.0.2", 0))
    denied.close()
    held = fwd.connect()
    check(echo_ok(held, b"first"), "one connection within the limit")
    wait_closed(fwd.connect())
    check(wait_until(lambda: len(log_lines(path)) == 2, 5),
          "two lines while the first connection lasts",
          str(log_lines(path)))
    lines = log_lines(path)
    check(lines[0].startswith("127.0.0.2 ") and
          'end="refused by the deny list"' in lines[0] and
          "backend=- in=0 " in lines[0],
          "   the denied client, no backend, why", lines[0])
    check('end="refused: listener connection limit"' in lines[1],
          "   the one over the limit, why", lines[1])
    held.close()


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
    client = sock.getsockname()
    check(wait_until(lambda: len(log_lines(path)) == 1, 5),
          "one line once the flow went idle", str(log_lines(path)))
    entry = json.loads(log_lines(path)[0])
    check_equal((entry["protocol"], entry["listener"], entry["client"],
                 entry["client_port"]),
                ("UDP", "dns", client[0], client[1]),
                "   protocol, listener, client address and port")
    check_equal((entry["bytes_in"], entry["bytes_out"]), (8, 8),
                "   8 bytes each way")
    check_equal((entry["backend"], entry["end"], entry["sni"]),
                (fmt_addr(LOOPBACK4, backend), "idle", None),
                "   backend, end idle, no SNI")
    check(entry["duration_ms"] >= 1000, "   lasted at least timeout_idle",
          str(entry["duration_ms"]))
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
                       entry["time"]),
          "   time as RFC 3339 writes it, offset with a colon", entry["time"])


def test_passthrough():
    step("mode = tls-passthrough: a hello for a name not served, and bytes "
         "that are no hello, each get a line saying so")
    path = os.path.join(tmpdir(), "tls-access.log")
    port = free_port()
    start_portier(section("global", access_log=path) +
                  section("listener pass", bind=fmt_addr(LOOPBACK4, port),
                          mode="tls-passthrough") +
                  section("vhost other.test", listener="pass",
                          backend=fmt_addr(LOOPBACK4, free_port())))
    with open(os.path.join(srcdir(), "tests", "fixtures", "clienthello",
                           "openssl-tls13.bin"), "rb") as f:
        hello = f.read()  # asks for app.test
    for data in (hello, b"GET / HTTP/1.1\r\n\r\n"):
        sock = socket.create_connection((LOOPBACK4, port))
        sock.sendall(data)
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        sock.close()
    check(wait_until(lambda: len(log_lines(path)) == 2, 5), "two lines",
          str(log_lines(path)))
    first, second = log_lines(path)
    check('"TLS pass"' in first and "sni=app.test" in first and
          f"in={len(hello)} " in first and
          'end="unknown server name"' in first,
          "   the hello: its name, its size, unknown server name", first)
    check('"TLS pass"' in second and 'end="no ClientHello"' in second,
          "   the plain bytes: no ClientHello", second)


def main():
    test_tcp()
    test_udp()
    test_passthrough()


run(main)
