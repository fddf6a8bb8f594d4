# SPDX-License-Identifier: MIT
"""mode = tls-passthrough: routing TLS by its SNI name without decrypting.

- each SNI name reaches its vhost's backend (exact name, alias, longest
  wildcard; never a route of the vhost), and the client completes its
  handshake with the backend: it sees the backend's certificate (portier
  holds none);
- the backend receives every byte the client sent, the ClientHello
  included, unchanged; 10 MiB echo through it with equal checksums;
- a ClientHello sent one byte at a time, and one split across TLS
  records, are routed the same; one that takes longer than a second has
  its bytes counted for the vhost it routes to, none for no vhost;
- a client whose hello ends in the same wake-up as more data and its
  FIN: the backend gets every byte, then the end of the stream;
- no SNI goes to the listener's backend; without one the client gets an
  alert; an unknown name gets unrecognized_name;
- plain HTTP, garbage and an oversized hello are closed without reaching
  any backend, and logged; a client that stops in the middle of its hello
  is closed after timeout_header.
"""

import fcntl
import hashlib
import json
import os
import signal
import socket
import ssl
import struct
import termios
import time

from lib import (KIB, MIB, Server, check, check_equal, collect, connect,
                 fmt_addr, free_port, read_to_eof, recv_until_eof, run,
                 srcdir, step, wait_until)
from tlstest import (TlsPortier, make_pki, peer_name, tls_connect,
                     tls_reason, wait_log_line)


def admin_get(port, path):
    """(status, text) of a GET on the admin server."""
    sock = connect("127.0.0.1", port)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
                 "Connection: close\r\n\r\n".encode())
    data = read_to_eof(sock, "the admin's answer")
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def tls_backend(pki, name):
    """A TLS server with the certificate of `name`: it answers each line
    with "NAME: LINE", echoes bulk data after a line "ECHO", and records
    nothing else."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.chain[name], pki.key[name])

    def handler(conn, server):
        tls = ctx.wrap_socket(conn, server_side=True)
        line = b""
        while not line.endswith(b"\n"):
            data = tls.recv(1)
            if not data:
                return None
            line += data
        if line == b"ECHO\n":
            total = 0
            while True:
                data = tls.recv(64 * KIB)
                if not data:
                    break
                tls.sendall(data)
                total += len(data)
            tls.close()
            return total
        tls.sendall(name.encode() + b": " + line)
        tls.close()
        return line

    return Server(handler)


def until_eof(conn, server):
    """Read to the client's EOF and return the bytes; a socket.timeout
    when no EOF comes."""
    conn.settimeout(5)
    data = recv_until_eof(conn)
    conn.close()
    return data


def reading_hello(admin, listener, nbytes):
    """True when /status.json shows a connection of `listener` waiting
    for the rest of its hello after `nbytes` bytes."""
    status, body = admin_get(admin, "/status.json")
    return status == 200 and any(
        c["listener"] == listener and c["state"] == "hello" and
        c["bytes_in"] == nbytes for c in json.loads(body)["connections"])


def unacked(sock):
    """Bytes (and FIN) sent on `sock` that the peer's kernel has not
    acknowledged yet."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                          b"\0" * 4))[0]


def ask(port, sni, pki):
    """Connect with SNI `sni`, send a line, return (certificate name the
    server showed, answer)."""
    sock = tls_connect(port, sni, pki=pki)
    seen = peer_name(sock)
    sock.sendall(b"hello\n")
    return seen, read_to_eof(sock, "the answer")


def fixture(name):
    with open(os.path.join(srcdir(), "tests", "fixtures", "clienthello",
                           name), "rb") as f:
        return f.read()


def main():
    pki = make_pki(["app.test", "api.test", "x.wild.test", "default.test"])
    app = tls_backend(pki, "app.test")
    api = tls_backend(pki, "api.test")
    wild = tls_backend(pki, "x.wild.test")
    default = tls_backend(pki, "default.test")
    raw = Server(collect)  # records the bytes it receives
    fin = Server(until_eof)
    admin = free_port()
    portier = TlsPortier(
        {"pass": {"mode": "tls-passthrough", "backend": default.addr},
         "strict": {"mode": "tls-passthrough"},
         "rawpass": {"mode": "tls-passthrough"}},
        [("app.test", {"listener": "pass, strict", "backend": app.addr,
                       "alias": "www.app.test"}),
         # a route matches paths, which passthrough never reads: the
         # vhost's backend is the one its name goes to
         ("api.test", {"listener": "pass", "backend": api.addr,
                       "route": f"/ {app.addr}"}),
         ("*.wild.test", {"listener": "pass", "backend": wild.addr}),
         ("*.test", {"listener": "pass", "backend": api.addr}),
         ("raw.test", {"listener": "rawpass", "backend": raw.addr}),
         ("app.test.raw", {"listener": "rawpass", "backend": raw.addr}),
         ("fin.test", {"listener": "rawpass", "backend": fin.addr})],
        global_keys={"log_level": "debug",
                     "admin": fmt_addr("127.0.0.1", admin)})
    port = portier.port("pass")

    step("each SNI name reaches its vhost's backend, with its certificate")
    for sni, backend in [("app.test", "app.test"),
                         ("www.app.test", "app.test"),
                         ("api.test", "api.test"),
                         ("x.wild.test", "x.wild.test"),
                         ("other.test", "api.test")]:
        seen, answer = ask(port, sni, pki)
        check_equal(answer, backend.encode() + b": hello\n",
                    f"SNI {sni}: the answer of {backend}'s backend")
        check_equal(seen, backend, f"   and the client saw {backend}'s "
                    "certificate, from the backend")

    step("no SNI: the listener's backend")
    sock = tls_connect(port, None, pki=pki)
    sock.sendall(b"hello\n")
    check_equal(read_to_eof(sock, "the answer"), b"default.test: hello\n",
                "the listener's backend answers")

    step("10 MiB echoed through a passed-through connection")
    sock = tls_connect(port, "app.test", pki=pki)
    sock.sendall(b"ECHO\n")
    data = os.urandom(10 * MIB)
    got = bytearray()
    sock.settimeout(20)
    for off in range(0, len(data), 256 * KIB):
        block = data[off:off + 256 * KIB]
        sock.sendall(block)
        want = off + len(block)
        while len(got) < want:
            chunk = sock.recv(want - len(got))
            if not chunk:
                break
            got += chunk
    check_equal(hashlib.sha256(got).hexdigest(),
                hashlib.sha256(data).hexdigest(),
                "the echo has the same SHA-256 as what was sent")
    sock.close()

    step("turned away: no SNI without a listener backend, unknown names")
    strict = portier.port("strict")
    for sni, reason in [(None, "TLSV1_UNRECOGNIZED_NAME"),
                        ("nothing.example", "TLSV1_UNRECOGNIZED_NAME")]:
        try:
            tls_connect(strict, sni, pki=pki)
            check(False, f"SNI {sni}: the handshake fails")
        except ssl.SSLError as e:
            check_equal(tls_reason(e), reason,
                        f"SNI {sni}: the client hears why")
    check(wait_log_line(portier.portier, r"sni=nothing\.example: closed: "
                        r"no vhost for the TLS server name") is not None,
          "the log names the unknown name")
    check(wait_log_line(portier.portier, r"listener=strict: closed: the "
                        r"ClientHello names no server") is not None,
          "the log says the hello had no SNI")

    step("the backend receives the ClientHello byte for byte")
    rawport = portier.port("rawpass")
    sock = connect("127.0.0.1", rawport)
    sock.sendall(fixture("openssl-tls13.bin"))  # SNI app.test
    sock.settimeout(5)
    check_equal(read_to_eof(sock, "the answer")[:1], b"\x15",
                "a name this listener does not serve: an alert")
    check(wait_log_line(portier.portier, r"listener=rawpass sni=app\.test: "
                        r"closed: no vhost") is not None, "   and a log line")

    for name in ("openssl-tls13.bin", "openssl-split.bin"):
        renamed = rename_sni(fixture(name), b"app.test", b"raw.test")
        for how, pieces in [("at once", [renamed]),
                            ("one byte at a time",
                             [renamed[i:i + 1]
                              for i in range(len(renamed))])]:
            before = len(raw.results)
            sock = connect("127.0.0.1", rawport)
            for p in pieces:
                sock.sendall(p)
                if len(pieces) > 1:
                    time.sleep(0.0005)
            sock.sendall(b"after the hello")
            sock.shutdown(socket.SHUT_WR)
            results = raw.wait_results(before + 1)
            check_equal(results[before], renamed + b"after the hello",
                        f"{name} sent {how}: the backend got every byte, "
                        "unchanged, and what followed")
            sock.close()

    step("the hello's last bytes, more data and the FIN in one wake-up: "
         "the backend gets every byte, then the end of the stream")
    # More after the hello than the reads of the hello take.
    data = rename_sni(fixture("openssl-tls13.bin"), b"app.test",
                      b"fin.test") + os.urandom(32 * KIB)
    sock = connect("127.0.0.1", rawport)
    sock.sendall(data[:100])
    check(wait_until(lambda: reading_hello(admin, "rawpass", 100), 5),
          "portier has read the first 100 bytes of the hello")
    # Stopped while the rest and the FIN arrive, portier learns of both
    # in one wake-up, still reading the hello; the relay then reads the
    # bytes after the hello and must know that the FIN follows them.
    portier.portier.send_signal(signal.SIGSTOP)
    try:
        sock.sendall(data[100:])
        sock.shutdown(socket.SHUT_WR)
        check(wait_until(lambda: unacked(sock) == 0, 5),
              "   the rest and the FIN have reached portier's socket")
    finally:
        portier.portier.send_signal(signal.SIGCONT)
    results = fin.wait_results(1)
    check(len(results) == 1 and results[0] == data,
          f"the backend got the {len(data)} bytes, then EOF",
          repr(results[0])[:100] if results else "no connection")
    sock.close()

    def counted(vhost):
        """The bytes counted for `vhost` of listener rawpass."""
        status, body = admin_get(admin, "/metrics")
        for line in body.splitlines():
            if line.startswith("portier_vhost_received_bytes_total{") and \
                    'listener="rawpass"' in line and \
                    f'vhost="{vhost}"' in line:
                return int(float(line.split()[-1]))
        return 0

    step("a hello that takes longer than a second: its bytes are counted "
         "for the vhost it routes to, none for no vhost")
    renamed = rename_sni(fixture("openssl-tls13.bin"), b"app.test",
                         b"raw.test")
    before = len(raw.results)
    unrouted, routed = counted(""), counted("raw.test")
    sock = connect("127.0.0.1", rawport)
    sock.sendall(renamed[:40])
    time.sleep(1.5)  # the per-second count runs meanwhile
    sock.sendall(renamed[40:])
    sock.close()
    raw.wait_results(before + 1)

    check(wait_until(lambda: counted("raw.test") - routed ==
                     len(renamed), 3),
          f"the {len(renamed)} bytes are counted for raw.test",
          f"{counted('raw.test') - routed} bytes")
    check_equal(counted("") - unrouted, 0, "   none for no vhost")

    step("not TLS, malformed, oversized, or too slow: closed and logged")
    before = raw.accepted
    cases = [
        ("plain HTTP", b"GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n",
         r"closed: no TLS ClientHello: not TLS"),
        ("a hello whose lengths lie",
         corrupt(renamed),
         r"closed: no TLS ClientHello: malformed ClientHello"),
        ("a hello that says it is 60000 bytes long",
         bytes([22, 3, 1, 0x40, 0x00, 1, 0, 0xea, 0x60]) + b"\0" * 64,
         r"closed: no TLS ClientHello: ClientHello too big"),
    ]
    for what, data, pattern in cases:
        sock = connect("127.0.0.1", rawport)
        sock.sendall(data)
        sock.settimeout(5)
        try:
            rest = sock.recv(100)
        except ConnectionResetError:
            rest = b""
        check(rest == b"" or rest[:1] == b"\x15",
              f"{what}: closed (with at most an alert)")
        check(wait_log_line(portier.portier, pattern) is not None,
              f"   and logged ({pattern})")
        sock.close()
    # A short timeout_header, on a portier of its own: the hellos sent a
    # byte at a time above must not race it on a slow machine.
    quick = TlsPortier(
        {"rawpass": {"mode": "tls-passthrough"}},
        [("raw.test", {"listener": "rawpass", "backend": raw.addr})],
        global_keys={"timeout_header": "1s", "log_level": "debug"})
    rawport = quick.port("rawpass")
    sock = connect("127.0.0.1", rawport)
    sock.sendall(renamed[:20])
    started = time.monotonic()
    sock.settimeout(5)
    try:
        rest = sock.recv(100)
    except ConnectionResetError:
        rest = b""
    waited = time.monotonic() - started
    check(rest == b"" and 0.5 <= waited < 4,
          f"a client that stops in its hello is closed after "
          f"timeout_header ({waited:.1f} s)")
    check(wait_log_line(quick.portier, r"no complete TLS ClientHello "
                        r"within 1000 ms") is not None, "   and logged")

    # A byte every 0.2 s keeps the connection busy but the hello never
    # ends in time: timeout_header counts from the accept, not from the
    # last byte.
    sock = connect("127.0.0.1", rawport)
    sock.settimeout(0.2)
    started = time.monotonic()
    closed_after = None
    for i in range(40):
        try:
            sock.sendall(renamed[i:i + 1])
            if sock.recv(100) == b"":
                closed_after = time.monotonic() - started
                break
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            closed_after = time.monotonic() - started
            break
    sock.close()
    check(closed_after is not None and closed_after < 4,
          "a client that drips its hello a byte at a time is closed "
          "after timeout_header too",
          f"closed after {closed_after} s" if closed_after is not None
          else "still open after 40 bytes over 8 s")
    check_equal(raw.accepted, before,
                "none of these reached the backend")


def rename_sni(hello, old, new):
    """The hello with its server_name `old` replaced by `new` (same
    length), so that the one fixture serves several listeners."""
    check_equal(len(old), len(new), "names of the same length")
    check(hello.count(old) == 1, f"the fixture names {old!r} once")
    return hello.replace(old, new)


def corrupt(hello):
    """The hello with its handshake length one byte too short."""
    body = bytearray(hello)
    length = struct.unpack(">I", b"\0" + bytes(body[6:9]))[0]
    body[6:9] = struct.pack(">I", length - 1)[1:]
    return bytes(body)


if __name__ == "__main__":
    run(main)
