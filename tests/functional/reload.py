# SPDX-License-Identifier: MIT
"""SIGHUP reloads the configuration; nothing under way is cut.

With two workers:
- a changed backend and a changed route take effect for new requests; a
  new listener opens;
  a removed one closes;
- a WebSocket and a TCP transfer opened before the reload go on through
  it, to the end, with every byte (checksums);
- with one worker, a reload that widens a bind to * (or narrows it back)
  takes: the new socket joins the old one's address;
- a file with an error is rejected with FILE:LINE in the log, and the
  running configuration stays; so is a file whose new access_log and
  pidfile are in a directory that is not there (the next start could not
  write them), and a file with a port held by another socket, and the log
  does not announce the new listeners it would have had;
- a keep-alive connection idle at a reload closes, so that the next
  request (on a new connection) meets the new routes and auth;
- a reload that moves a listener's bind logs, per listener, the address
  it no longer listens on and the one it begins (and says of a kept one
  that it still listens); the old port refuses connections, the new one
  serves; a removed listener's addresses are said to be no longer
  listened on;
- a client sending requests in a loop (new connections and a keep-alive
  one, sending a GET again when a reused connection closes before its
  response, as HTTP clients do) sees no failure across ten reloads;
- a connection that has not sent its first request at a reload, over TLS
  (handshake done) or plain HTTP (accepted), is not closed: its request,
  sent after the reload, is answered, since a client sends a request
  again only on a reused connection; one that served a request and is
  idle closes, and the debug log says why; at a stop (SIGTERM) a
  connection with no request yet closes and does not hold the stop up.
"""

import base64
import hashlib
import json
import os
import signal
import socket
import threading
import time

from httptest import Conn, EchoBackend, Reader, read_response, request
from lib import (KIB, LOOPBACK4, MIB, Server, TestFailure, check,
                 check_equal, check_log, connect, fmt_addr, free_port, info,
                 run, section, start_portier, step, wait_until)
from tlstest import (WS_TEXT, client_context, make_pki, ws_echo_backend,
                     ws_frame, ws_read_frame)


def served_by(port, host="a.test", path="/"):
    """The name of the backend that answers GET path on 127.0.0.1:port."""
    conn = Conn(LOOPBACK4, port)
    resp = conn.exchange(request("GET", path, host,
                                 ["Connection: close"]))
    conn.close()
    return json.loads(resp.body)["name"]


def refused(port):
    try:
        with socket.create_connection((LOOPBACK4, port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def sha_echo(conn, server):
    """Echo everything until EOF, then close."""
    while True:
        data = conn.recv(256 * KIB)
        if not data:
            break
        conn.sendall(data)
    conn.close()


class Loop(threading.Thread):
    """Requests in a loop until stopped: a new connection each, and one
    keep-alive connection in turns. Counts successes and failures. As
    HTTP clients do (RFC 9112, 9.3.1), a GET on a reused connection that
    closes before any response is sent again once on a new connection:
    a reload closes idle keep-alive connections (`.retried` counts
    those)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.retried = 0
        self.failures = []
        self.stop = False

    def run(self):
        keep = None
        n = 0
        while not self.stop:
            n += 1
            try:
                if n % 2:
                    conn = Conn(LOOPBACK4, self.port)
                    resp = conn.exchange(request("GET", f"/{n}", "a.test",
                                                 ["Connection: close"]))
                    conn.close()
                else:
                    reused = keep is not None
                    if keep is None:
                        keep = Conn(LOOPBACK4, self.port)
                    try:
                        resp = keep.exchange(request("GET", f"/{n}",
                                                     "a.test"))
                    except (EOFError, OSError, TestFailure):
                        if not reused:
                            raise
                        self.retried += 1
                        keep = Conn(LOOPBACK4, self.port)
                        resp = keep.exchange(request("GET", f"/{n}",
                                                     "a.test"))
                if resp.status == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"request {n}: {resp.status}")
            except Exception as e:  # every failure counts
                self.failures.append(f"request {n}: {e!r}")
                keep = None


def main():
    a = EchoBackend("a")
    b = EchoBackend("b")
    ws = Server(ws_echo_backend)
    ws.requests = []
    echo = Server(sha_echo)
    web, raw, extra = free_port(), free_port(), free_port()

    def config(backend, with_extra, broken=False):
        text = (section("global", workers="2", log_level="info") +
                section("listener web", bind=fmt_addr(LOOPBACK4, web),
                        mode="http", backend=backend.addr) +
                section("vhost ws.test", backend=ws.addr) +
                section("vhost r.test", backend=a.addr,
                        route=f"/r {backend.addr}") +
                section("listener raw", bind=fmt_addr(LOOPBACK4, raw),
                        mode="tcp", backend=echo.addr))
        if with_extra:
            text += section("listener extra",
                            bind=fmt_addr(LOOPBACK4, extra), mode="http",
                            backend=b.addr)
        if broken:
            text += "[listener web]\nbnd = 1\n"
        return text

    portier = start_portier(config(a, False))
    path = portier.conf

    def reload(text, expect="SIGHUP: configuration reloaded"):
        before = portier.log().count(expect)
        with open(path, "w") as f:
            f.write(text)
        portier.send_signal(signal.SIGHUP)
        check(wait_until(lambda: portier.log().count(expect) > before, 5),
              f"log: {expect}")

    step("before: web goes to a")
    check_equal(served_by(web), "a", "web answers from a")
    check_equal(served_by(web, "r.test", "/r"), "a", "route /r goes to a")
    check(refused(extra), "the extra listener is not there yet")

    step("a WebSocket and a TCP transfer are open across the reload")
    sock = connect(LOOPBACK4, web)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(request("GET", "/hmr", "ws.test",
                         ["Upgrade: websocket", "Connection: Upgrade",
                          f"Sec-WebSocket-Key: {key}",
                          "Sec-WebSocket-Version: 13"]))
    reader = Reader(sock)
    check_equal(read_response(reader).status, 101, "the WebSocket is up")
    sock.sendall(ws_frame(b"before", WS_TEXT, masked=True))
    check_equal(ws_read_frame(reader)[1], b"before", "it echoes")
    tcp = connect(LOOPBACK4, raw)
    tcp.settimeout(20)
    sent = hashlib.sha256()
    got = hashlib.sha256()
    received = 0
    block = os.urandom(256 * KIB)

    def pump(n):
        nonlocal received
        for _ in range(n):
            tcp.sendall(block)
            sent.update(block)
            want = received + len(block)
            while received < want:
                data = tcp.recv(want - received)
                if not data:
                    raise TestFailure("the TCP echo ended early")
                got.update(data)
                received += len(data)

    pump(8)

    step("reload: web goes to b, the extra listener opens")
    reload(config(b, True))
    check_equal(served_by(web), "b", "web now answers from b")
    check_equal(served_by(web, "r.test", "/r"), "b",
                "the changed route /r goes to b")
    check_equal(served_by(extra), "b", "the extra listener answers")
    sock.sendall(ws_frame(b"after", WS_TEXT, masked=True))
    check_equal(ws_read_frame(reader)[1], b"after",
                "the WebSocket opened before the reload still echoes")
    pump(8)
    tcp.shutdown(socket.SHUT_WR)
    while True:
        data = tcp.recv(64 * KIB)
        if not data:
            break
        got.update(data)
        received += len(data)
    check_equal(got.hexdigest(), sent.hexdigest(),
                f"the TCP transfer ended whole ({received // MIB} MiB "
                "each way, same SHA-256)")
    sock.close()
    tcp.close()

    step("an idle keep-alive connection closes at a reload; the next "
         "request meets the new configuration")
    keep = Conn(LOOPBACK4, web)
    resp = keep.exchange(request("GET", "/one", "a.test"))
    check_equal(json.loads(resp.body)["name"], "b",
                "a keep-alive request: answered by b")
    reload(config(a, True))
    keep.sock.settimeout(3)
    try:
        data = keep.sock.recv(1)
    except OSError as e:
        data = repr(e)
    check_equal(data, b"", "the idle keep-alive connection closes (EOF)")
    keep.close()
    check_equal(served_by(web), "a", "the next request goes to a")
    reload(config(b, True))

    step("a file with an error: rejected, the running one stays")
    reload(config(a, True, broken=True),
           expect="SIGHUP: the running configuration stays")
    check_log(portier, f"SIGHUP: {path}:")
    check_equal(served_by(web), "b", "web still answers from b")
    check_equal(served_by(extra), "b", "the extra listener still answers")

    step("a file whose new access_log and pidfile are in a directory that "
         "is not there: rejected, each at its line, the running one stays")
    text = config(a, True)
    line = text.count("\n") + 2
    reload(text + "[global]\naccess_log = /no/such/dir/access.log\n"
           "pidfile = /no/such/dir/portier.pid\n",
           expect="SIGHUP: the running configuration stays")
    check_log(portier, f"SIGHUP: {path}:{line}: access_log "
              "/no/such/dir/access.log: the directory /no/such/dir does "
              "not exist")
    check_log(portier, f"SIGHUP: {path}:{line + 1}: pidfile "
              "/no/such/dir/portier.pid: the directory /no/such/dir does "
              "not exist")
    check_equal(served_by(web), "b", "web still answers from b")

    step("a reload whose new port is taken: rejected, and the log never "
         "says that its other new listener listened")
    held = socket.socket()
    held.bind((LOOPBACK4, 0))
    held.listen()
    late = free_port()
    late_section = section("listener late", bind=fmt_addr(LOOPBACK4, late),
                           mode="tcp", backend=echo.addr)
    reload(config(b, True) + late_section +
           section("listener taken",
                   bind=fmt_addr(LOOPBACK4, held.getsockname()[1]),
                   mode="tcp", backend=echo.addr),
           expect="the running configuration stays")
    held.close()
    check("listener late: listening on" not in portier.log(),
          "no 'listening on' line for the listener that was not kept")
    check(refused(late), "   and its port refuses connections")
    reload(config(b, True) + late_section)
    check_equal(portier.log().count("listener late: listening on"), 1,
                "once the reload takes, the line is there, once")

    step("reload: the extra listener is removed, and the log says so")
    reload(config(b, False))
    check(wait_until(lambda: refused(extra), 3),
          "its port refuses connections")
    check_log(portier, "listener extra: no longer listening on "
              f"{fmt_addr(LOOPBACK4, extra)}")

    test_moved_bind(a, echo)

    step("one worker: a reload widens a bind to * and narrows it back")
    port = free_port()

    def narrow_or_wide(bind):
        return section("listener w", bind=f"{bind}:{port}", mode="tcp",
                       backend=echo.addr)

    one = start_portier(narrow_or_wide(LOOPBACK4))
    for bind in ("*", LOOPBACK4):
        before = one.log().count("SIGHUP: configuration reloaded")
        with open(one.conf, "w") as f:
            f.write(narrow_or_wide(bind))
        one.send_signal(signal.SIGHUP)
        check(wait_until(lambda: one.log().count(
            "SIGHUP: configuration reloaded") > before, 5),
            f"bind = {bind}:{port}: reloaded", one.log())
        conn = connect(LOOPBACK4, port)
        conn.sendall(b"ping")
        check_equal(conn.recv(4), b"ping", "   and the port relays")
        conn.close()
    one.stop()

    step("a client in a loop sees no failure across ten reloads")
    loop = Loop(web)
    loop.start()
    time.sleep(0.2)
    for i in range(10):
        reload(config(a if i % 2 else b, i % 3 == 0))
        time.sleep(0.1)
    time.sleep(0.2)
    loop.stop = True
    loop.join(10)
    info(f"{loop.ok} requests during the reloads, {loop.retried} sent "
         "again on a new connection")
    check(loop.ok > 20, "the loop made requests throughout")
    check_equal(loop.failures, [], "not one failed")
    check(loop.retried <= 10, "at most one retry per reload")
    test_fresh_connections(a)


def test_moved_bind(backend, echo):
    step("a reload that moves a listener's bind: the log says, per "
         "listener, the address it no longer listens on and the one it "
         "begins, and the one it keeps; the old port refuses connections, "
         "the new one serves")
    ports = {}

    def config(web):
        return (section("global", workers="2", log_level="info") +
                section("listener web", bind=fmt_addr(LOOPBACK4, web),
                        mode="http", backend=backend.addr) +
                section("listener raw", bind=fmt_addr(LOOPBACK4, ports["raw"]),
                        mode="tcp", backend=echo.addr))

    def first():
        ports["old"], ports["raw"] = free_port(), free_port()
        return config(ports["old"])

    portier = start_portier(first)
    old, new, raw = ports["old"], free_port(), ports["raw"]
    check_equal(served_by(old), "a", f"port {old} serves")
    with open(portier.conf, "w") as f:
        f.write(config(new))
    portier.send_signal(signal.SIGHUP)
    check_log(portier, "SIGHUP: configuration reloaded")
    check_log(portier, "listener web: no longer listening on "
              f"{fmt_addr(LOOPBACK4, old)}")
    check_log(portier, "listener web: listening on "
              f"{fmt_addr(LOOPBACK4, new)} (http -> {backend.addr})")
    check_log(portier, "listener raw: still listening on "
              f"{fmt_addr(LOOPBACK4, raw)} (tcp -> {echo.addr})")
    check_equal(portier.log().count("listener web: no longer listening"),
                1, "one line for the address, however many workers")
    check(wait_until(lambda: refused(old), 3),
          f"the old port {old} refuses connections")
    check_equal(served_by(new), "a", f"the new port {new} serves")
    portier.stop()


def server_accepted(port, client_port):
    """True when the kernel holds the server side of the connection from
    client_port to 127.0.0.1:port as established (with TCP_DEFER_ACCEPT
    it stays half open until data comes or the deferral ends), so that
    the server has it, or will at once, from accept()."""
    local = f"0100007F:{port:04X}"
    remote = f"0100007F:{client_port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return fields[3] == "01"
    return False


def test_fresh_connections(backend):
    step("a reload with connections that have not sent their first "
         "request (TLS after the handshake, plain HTTP accepted): their "
         "requests, sent after it, are answered; an idle keep-alive one "
         "closes, logged")
    pki = make_pki(["a.test"])
    ports = {}

    def config():
        ports["plain"], ports["tls"] = free_port(), free_port()
        return (section("global", workers="1", log_level="debug") +
                section("listener plain",
                        bind=fmt_addr(LOOPBACK4, ports["plain"]),
                        mode="http", backend=backend.addr) +
                section("listener tls",
                        bind=fmt_addr(LOOPBACK4, ports["tls"]),
                        mode="http", tls="on", tls_cert=pki.chain["a.test"],
                        tls_key=pki.key["a.test"], backend=backend.addr))

    portier = start_portier(config)
    ctx = client_context(pki)

    def tls_conn():
        conn = Conn(LOOPBACK4, ports["tls"])
        conn.sock = ctx.wrap_socket(conn.sock, server_hostname="a.test")
        conn.reader = Reader(conn.sock)
        return conn

    fresh_tls = tls_conn()
    kept_tls = tls_conn()
    check_equal(kept_tls.exchange(request("GET", "/", "a.test")).status, 200,
                "the keep-alive connection: a first request answered")
    fresh_plain = Conn(LOOPBACK4, ports["plain"])
    client_port = fresh_plain.sock.getsockname()[1]
    check(wait_until(lambda: server_accepted(ports["plain"], client_port),
                     10), "the plain connection is accepted")
    time.sleep(0.3)
    portier.send_signal(signal.SIGHUP)
    check_log(portier, "SIGHUP: configuration reloaded")
    for conn, what in ((fresh_tls, "TLS"), (fresh_plain, "plain HTTP")):
        resp = conn.exchange(request("GET", "/late", "a.test"))
        check_equal(resp.status, 200, f"{what}: the request sent after the "
                    "reload is answered")
        check(conn.closed(), f"{what}: then the connection closes")
    check(kept_tls.closed(), "the idle keep-alive connection closed at the "
          "reload")
    check_log(portier, "closed: idle between requests at a reload")

    step("a stop (SIGTERM) with a connection that has sent nothing yet: "
         "it closes, and the stop is not held up")
    fresh_tls = tls_conn()
    portier.send_signal(signal.SIGTERM)
    check(portier.wait_exit(3) is not None, "portier exits within 3 s (the "
          "header timeout is 10 s)")
    check(fresh_tls.closed(), "the connection closed")


if __name__ == "__main__":
    run(main)
