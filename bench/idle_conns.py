#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Memory per idle forwarded connection.

Opens COUNT TCP connections to a proxy listening on 127.0.0.1:PORT that
forwards to an HTTP backend. On each connection one keep-alive HTTP request
is sent and its whole response read, which proves that the connection is
established through the proxy to the backend; then the connection is held
idle. The resident set size (VmRSS in /proc/PID/status, summed over the given
processes and all their descendants) is read before the connections are
opened and again after they have settled, and the difference divided by COUNT
is printed in KiB.

Output (one line, for scripts):
    kib_per_conn=2.31 before_kib=5120 after_kib=12056 open=3000 alive=3000
"open" counts the connections whose exchange succeeded, "alive" those still
open after the settle time. Exit status 0 when every connection was
established and is still alive, 1 otherwise, 2 on a usage error.

With --http PATH the proxy is an HTTP reverse proxy rather than a byte relay:
what is measured is then the memory per idle keep-alive client connection,
whatever the proxy does with its backend connections (it may hand them back
to a pool once the response is through). PATH is requested on each
connection; the response may be framed by Content-Length or be chunked, and
one that says the proxy will close the connection (Connection: close) is an
error, since only a connection that stays open can be measured.
"""

import argparse
import os
import resource
import select
import socket
import sys
import time


def descendants(pids):
    """Return the given pids plus all their descendant processes."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name (field 2) may hold spaces: split after its ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    seen = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, []))
    return seen


def rss_kib(pids):
    """Sum of VmRSS (KiB) over pids and their descendants."""
    total = 0
    for pid in descendants(pids):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def exchange(port, path, timeout, http=False):
    """Connect, send one keep-alive request, read the whole response.

    With http, the response is read as an HTTP proxy may frame it (see
    read_http_body). Returns the open socket, or raises OSError/ValueError.
    """
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        req = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Connection: keep-alive\r\n\r\n"
        )
        s.sendall(req.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise ValueError("connection closed before response head")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 200"):
            raise ValueError(f"unexpected status: {lines[0]!r}")
        if http:
            read_http_body(s, lines[1:], body)
            return s
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise ValueError("response without Content-Length")
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                raise ValueError("connection closed inside response body")
            body += chunk
        return s
    except BaseException:
        s.close()
        raise


def recv_more(sock, buf, where):
    """buf with the next bytes from sock appended; ValueError at EOF."""
    chunk = sock.recv(65536)
    if not chunk:
        raise ValueError(f"connection closed inside {where}")
    return buf + chunk


def read_line(sock, buf, where):
    """The next CRLF-terminated line of buf (reading more as needed), and
    what follows it."""
    while b"\r\n" not in buf:
        buf = recv_more(sock, buf, where)
    line, rest = buf.split(b"\r\n", 1)
    return line, rest


def read_http_body(sock, fields, body):
    """Read the body of a response whose head had the given field lines.

    body holds the bytes already read past the head. The body is framed by
    Content-Length or chunked (trailers included); a response that announces
    the end of the connection, has no framing or is followed by more bytes
    raises ValueError.
    """
    connection = []
    coding = []
    length = None
    for line in fields:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "connection":
            connection += [t.strip().lower() for t in value.split(",")]
        elif name == "transfer-encoding":
            coding += [t.strip().lower() for t in value.split(",")]
        elif name == "content-length":
            length = int(value)
    if "close" in connection:
        raise ValueError("the proxy closes the connection after the "
                         "response (Connection: close)")
    if coding:
        if coding[-1] != "chunked":
            raise ValueError(f"unexpected transfer coding {coding[-1]!r}")
        while True:
            line, body = read_line(sock, body, "a chunk size")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            while len(body) < size + 2:
                body = recv_more(sock, body, "a chunk")
            if body[size : size + 2] != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
            body = body[size + 2 :]
        while True:  # trailer fields, through the empty line
            line, body = read_line(sock, body, "the trailers")
            if not line:
                break
    elif length is not None:
        while len(body) < length:
            body = recv_more(sock, body, "the response body")
        body = body[length:]
    else:
        raise ValueError("response neither chunked nor with Content-Length")
    if body:
        raise ValueError(f"{len(body)} unexpected bytes after the response")


def still_open(sock):
    """True if the peer has neither closed nor reset the connection."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True,
                    help="proxy port on 127.0.0.1")
    ap.add_argument("--pid", type=int, action="append", required=True,
                    help="process to measure (repeatable; children included)")
    ap.add_argument("--count", type=int, default=3000,
                    help="connections to hold (default 3000)")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--path", default="/small",
                      help="request path (default /small)")
    what.add_argument("--http", metavar="PATH",
                      help="HTTP reverse proxy: request PATH, accept a "
                      "chunked response, fail when the proxy would close "
                      "the connection")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds to wait before measuring (default 2)")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="per-connection timeout in seconds (default 5)")
    args = ap.parse_args()
    http = args.http is not None
    path = args.http if http else args.path

    # One descriptor per held connection: raise the soft limit if needed.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.count + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    # Warm up: a few exchanges so that one-time allocations (first
    # connection, lazily created pools) do not count as per-connection cost.
    for _ in range(8):
        try:
            exchange(args.port, path, args.timeout, http).close()
        except (OSError, ValueError) as e:
            print(f"idle_conns: warm-up failed: {e}", file=sys.stderr)
            print("kib_per_conn=nan before_kib=0 after_kib=0 open=0 alive=0")
            return 1
    time.sleep(args.settle / 2)
    before = rss_kib(args.pid)

    socks = []
    error = None
    for _ in range(args.count):
        try:
            socks.append(exchange(args.port, path, args.timeout, http))
        except (OSError, ValueError) as e:
            # Stop at the first failure: a proxy that has run out of
            # descriptors would otherwise cost COUNT timeouts.
            error = f"connection {len(socks) + 1}: {e}"
            break

    time.sleep(args.settle)
    after = rss_kib(args.pid)
    alive = sum(1 for s in socks if still_open(s))
    for s in socks:
        s.close()

    opened = len(socks)
    per_conn = (after - before) / opened if opened else float("nan")
    if error:
        print(f"idle_conns: {error}", file=sys.stderr)
    if alive != opened:
        print(f"idle_conns: {opened - alive} connections closed while idle",
              file=sys.stderr)
    print(f"kib_per_conn={per_conn:.2f} before_kib={before} "
          f"after_kib={after} open={opened} alive={alive}")
    return 0 if opened == args.count and alive == opened else 1


if __name__ == "__main__":
    sys.exit(main())
