# SPDX-License-Identifier: MIT
"""TLS termination on http listeners (tls = on).

A test CA signs leaves for app.test (aliases www.app.test and
*.app.test), *.wild.test, *.deep.wild.test, exact.wild.test, other.test,
rsa.test (an RSA key) and default.test, the listeners' own certificate.
Every backend answers with its own name (EchoBackend).

- the certificate is chosen by SNI: the exact vhost name or an alias, then
  the longest `*.suffix` vhost, then the listener's certificate (also with
  no SNI, for a name no vhost with a certificate has, and for a vhost of
  another listener); a vhost without a certificate whose name a wildcard
  vhost's certificate covers (admin.wild.test) gets that one; the full
  chain is sent;
- TLS 1.2 and 1.3 only: TLS 1.0 and 1.1 hellos get a protocol_version
  alert; TLS 1.2 offers with CBC, RSA or DHE key exchange only fail;
- ALPN: http/1.1 is selected when offered, h2 never;
- sessions resume (openssl s_client -sess_out, -sess_in), TLS 1.2 and 1.3
  tickets, under the name they were made for only: offered under another
  name (same certificate, another one, another listener) a full handshake
  serves that name's certificate; a resumed TLS 1.3 connection gets a fresh ticket, and that one
  resumes too; the TLS 1.3 ticket leaves with the first response, not
  alone right after the handshake, on a full and on a resumed connection;
- a Connection: close response ends with close_notify;
- a client that sends its request and leaves (close_notify and FIN, or
  FIN alone) before the response comes: portier closes the backend's
  connection as soon as a write to the client fails, not after
  timeout_idle;
- a Host (port ignored, any case) other than the SNI name gets 421 and no
  backend sees the request; without SNI every Host is routed;
- the backend gets X-Forwarded-Proto: https and Forwarded with proto=https;
- curl keeps one connection for several requests;
- a failed handshake (garbage, TLS 1.0, an SNI name that is not a host
  name) is logged at level info with the client's address and a reason
  (portier's own for the name), and disturbs no other connection; a
  client that closes before the handshake ends is not logged at info; a
  client that sends nothing, or half a hello, is closed after
  timeout_header;
- a TLS 1.2 client that asks to renegotiate is refused, and the close is
  logged at info with OpenSSL's reason.
"""

import os
import re
import shutil
import select
import socket
import ssl
import subprocess
import time

from httptest import EchoBackend, RawBackend, request
from lib import (LOOPBACK4, TestFailure, Worker, check, check_equal, connect,
                 info, read_to_eof, run, run_portier, srcdir, step, tmpdir)
from tlstest import (TLS13_SUITES, TlsConn, TlsPortier, client_context,
                     handshake_error, handshake_line, make_pki, peer_name,
                     s_client, tls_connect, tls_reason, wait_log_line)

HEADER_TIMEOUT = 1.0

# Vhosts with a certificate of their own: (name, aliases[, key type]).
CERT_VHOSTS = [("app.test", ["www.app.test", "*.app.test"]),
               ("*.wild.test", []), ("*.deep.wild.test", []),
               ("exact.wild.test", []), ("other.test", []),
               ("rsa.test", [], "rsa")]


class Endless:
    """A backend whose responses never end: after a short wait, a head
    that announces a gigabyte, then data for as long as the connection
    takes it. `.ended` lists, per response, the seconds from its first
    byte until the connection refused more (portier closed it)."""

    def __init__(self):
        self.ended = []
        self.server = RawBackend(self.respond)

    def respond(self, req, conn):
        time.sleep(0.3)
        start = time.monotonic()
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824"
                         b"\r\n\r\n")
            block = b"x" * 65536
            while time.monotonic() - start < 30:
                conn.sendall(block)
        except OSError:
            self.ended.append(time.monotonic() - start)
        return None


class Setup:
    """portier with two tls = on http listeners: `web` (default backend,
    every vhost but other.test) and `web2` (other.test only); both have
    default.test as their own certificate."""

    def __init__(self):
        step("certificates and portier")
        self.pki = make_pki([*CERT_VHOSTS, "default.test"])
        pki = self.pki
        names = ["default", "app", "wild", "deep", "exact", "other", "rsa",
                 "plain"]
        self.b = {n: EchoBackend(n) for n in names}
        b = self.b
        self.endless = Endless()
        own = {"tls": "on", "tls_cert": pki.chain["default.test"],
               "tls_key": pki.key["default.test"]}

        def cert(name):
            return {"tls_cert": pki.chain[name], "tls_key": pki.key[name]}

        self.p = TlsPortier(
            {"web": {"mode": "http", "backend": b["default"].addr, **own},
             "web2": {"mode": "http", **own}},
            [("app.test", {"listener": "web", "backend": b["app"].addr,
                           "alias": "www.app.test, *.app.test",
                           **cert("app.test")}),
             ("*.wild.test", {"listener": "web", "backend": b["wild"].addr,
                              **cert("*.wild.test")}),
             ("*.deep.wild.test", {"listener": "web",
                                   "backend": b["deep"].addr,
                                   **cert("*.deep.wild.test")}),
             ("exact.wild.test", {"listener": "web",
                                  "backend": b["exact"].addr,
                                  **cert("exact.wild.test")}),
             ("plain.test", {"listener": "web", "backend": b["plain"].addr}),
             ("admin.wild.test", {"listener": "web",
                                  "backend": b["plain"].addr}),
             ("other.test", {"listener": "web2", "backend": b["other"].addr,
                             **cert("other.test")}),
             ("rsa.test", {"listener": "web", "backend": b["rsa"].addr,
                           **cert("rsa.test")}),
             ("endless.test", {"listener": "web",
                               "backend": self.endless.server.addr})],
            global_keys={"timeout_header": f"{int(HEADER_TIMEOUT)}s"})
        self.web = self.p.port("web")

    def conn(self, sni, listener="web", **kwargs):
        """A TLS client connection with SNI `sni` (None: no SNI)."""
        return TlsConn(self.p.port(listener), sni, pki=self.pki, **kwargs)

    def ctx(self, **kwargs):
        return client_context(self.pki, **kwargs)

    def get(self, conn, host, target="/", **kwargs):
        """One GET on conn; (status, backend name or None)."""
        resp = conn.exchange(request("GET", target, host, **kwargs))
        name = resp.json()["name"] if resp.status == 200 else None
        return resp.status, name

    def requests(self):
        return sum(len(b.requests) for b in self.b.values())


def test_certificates(s):
    step("certificate by SNI: exact name or alias, longest wildcard, then "
         "the listener's")
    for listener, sni, want in [
            ("web", "app.test", "app.test"),
            ("web", "www.app.test", "app.test"),        # alias
            ("web", "x.app.test", "app.test"),          # wildcard alias
            ("web", "APP.Test", "app.test"),            # any case
            ("web", "x.wild.test", "*.wild.test"),
            ("web", "a.b.wild.test", "*.wild.test"),
            ("web", "x.deep.wild.test", "*.deep.wild.test"),  # longest
            ("web", "deep.wild.test", "*.wild.test"),
            ("web", "exact.wild.test", "exact.wild.test"),  # exact first
            ("web", "rsa.test", "rsa.test"),
            ("web", "plain.test", "default.test"),  # vhost without cert
            ("web", "admin.wild.test", "*.wild.test"),  # ...a wildcard's
                                                        # covers it
            ("web", "unknown.example", "default.test"),
            ("web", "other.test", "default.test"),  # vhost of web2 only
            ("web", None, "default.test"),          # no SNI
            ("web2", "other.test", "other.test"),
            ("web2", "app.test", "default.test"),   # vhost of web only
            ("web2", None, "default.test")]:
        sock = tls_connect(s.p.port(listener), sni, pki=s.pki)
        got = peer_name(sock)
        sock.close()
        check_equal(got, want, f"{listener}, SNI {sni or '(none)'}: "
                    f"certificate {want}, verified by the test CA")

    step("the server sends the full chain of tls_cert")
    status, out = s_client(s.web, "-showcerts", sni="app.test")
    pems = out.count("-----BEGIN CERTIFICATE-----")
    check_equal(pems, 2, "SNI app.test: two certificates (leaf and CA)")
    check(re.search(r"^ 1 s:\s*CN\s*=\s*portier test CA", out, re.M),
          "   the second one is the test CA", out[:2000])


def test_versions(s):
    step("TLS 1.2 and 1.3 only; ECDHE and AEAD ciphers only")
    sock = tls_connect(s.web, "app.test", s.ctx())
    check_equal(sock.version(), "TLSv1.3", "a default client gets TLS 1.3")
    check(sock.cipher()[0] in TLS13_SUITES,
          f"   with an AEAD suite ({sock.cipher()[0]})")
    sock.close()
    for version, name in [(ssl.TLSVersion.TLSv1_3, "TLSv1.3"),
                          (ssl.TLSVersion.TLSv1_2, "TLSv1.2")]:
        c = s.conn("app.test", ctx=s.ctx(version=version))
        check_equal(c.sock.version(), name, f"a {name}-only client "
                    "completes the handshake")
        cipher = c.sock.cipher()[0]
        if name == "TLSv1.2":
            check(cipher.startswith("ECDHE-") and
                  re.search(r"GCM|CHACHA20|CCM", cipher),
                  f"   with an ECDHE AEAD cipher ({cipher})")
        check_equal(s.get(c, "app.test"), (200, "app"),
                    f"   and a request over {name} reaches app")
        c.close()

    for version, name, have in [
            (ssl.TLSVersion.TLSv1, "TLS 1.0", ssl.HAS_TLSv1),
            (ssl.TLSVersion.TLSv1_1, "TLS 1.1", ssl.HAS_TLSv1_1)]:
        if not have:
            info(f"this python's OpenSSL cannot speak {name}: not tried")
            continue
        err = handshake_error(s.web, "app.test", s.ctx(version=version))
        check(err is not None, f"a {name}-only client fails the handshake")
        check_equal(tls_reason(err), "TLSV1_ALERT_PROTOCOL_VERSION",
                    "   with a protocol_version alert from portier")

    tls12 = ssl.TLSVersion.TLSv1_2
    for sni, ciphers, what in [
            ("app.test", "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:"
             "ECDHE-ECDSA-AES128-SHA", "ECDHE with CBC ciphers only"),
            ("rsa.test", "AES128-GCM-SHA256:AES256-GCM-SHA384",
             "RSA key exchange (AEAD) only"),
            ("rsa.test", "DHE-RSA-AES128-GCM-SHA256:"
             "DHE-RSA-AES256-GCM-SHA384", "DHE key exchange (AEAD) only")]:
        err = handshake_error(s.web, sni, s.ctx(version=tls12,
                                                ciphers=ciphers))
        check(err is not None, f"TLS 1.2, SNI {sni}, offering {what}: "
              f"handshake fails ({tls_reason(err) if err else 'it did not'})")
    for sni, cipher in [("app.test", "ECDHE-ECDSA-AES128-GCM-SHA256"),
                        ("app.test", "ECDHE-ECDSA-CHACHA20-POLY1305"),
                        ("rsa.test", "ECDHE-RSA-AES128-GCM-SHA256")]:
        sock = tls_connect(s.web, sni, s.ctx(version=tls12, ciphers=cipher))
        check_equal(sock.cipher()[0], cipher, f"TLS 1.2, SNI {sni}, "
                    f"offering only {cipher}: it is used")
        sock.close()


def test_alpn(s):
    step("ALPN: http/1.1 when offered, never h2")
    tls12 = ssl.TLSVersion.TLSv1_2
    for offer, version, want in [(["h2", "http/1.1"], None, "http/1.1"),
                                 (["h2", "http/1.1"], tls12, "http/1.1"),
                                 (["http/1.1"], None, "http/1.1"),
                                 (["http/1.0", "http/1.1"], None, "http/1.1"),
                                 (["http/1.0"], None, "http/1.0")]:
        c = s.conn("app.test", ctx=s.ctx(alpn=offer, version=version))
        what = f"offer {', '.join(offer)} ({c.sock.version()})"
        check_equal(c.sock.selected_alpn_protocol(), want,
                    f"{what}: {want} selected")
        check_equal(s.get(c, "app.test"), (200, "app"),
                    "   and HTTP/1.1 works")
        c.close()

    c = s.conn("app.test")
    check_equal(c.sock.selected_alpn_protocol(), None,
                "no ALPN offered: none selected")
    check_equal(s.get(c, "app.test"), (200, "app"), "   and HTTP/1.1 works")
    c.close()

    for offer in (["h2"], ["spdy/3", "foo"]):
        try:
            c = s.conn("app.test", ctx=s.ctx(alpn=offer))
        except ssl.SSLError as e:
            check("no application protocol" in str(e).lower() or
                  tls_reason(e) == "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
                  f"offer {', '.join(offer)} only: refused with a "
                  f"no_application_protocol alert", repr(e))
            continue
        got = c.sock.selected_alpn_protocol()
        c.close()
        check(False, f"offer {', '.join(offer)} only: refused",
              f"the handshake went through, ALPN {got}")


def test_resumption(s):
    step("session resumption with tickets, TLS 1.2 and TLS 1.3")
    req = (b"GET /resume HTTP/1.1\r\nHost: app.test\r\n"
           b"Connection: close\r\n\r\n")
    for flag, name in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")]:
        sess = os.path.join(tmpdir(), f"session{flag}.pem")
        common = ["-CAfile", s.pki.ca, "-verify_return_error", flag,
                  "-ign_eof"]
        status, first = s_client(s.web, *common, "-sess_out", sess,
                                 sni="app.test", stdin=req)
        check("HTTP/1.1 200" in first,
              f"{name}: first connection answers 200",
              f"status {status}\n{first[-3000:]}")
        line = handshake_line(first)
        check(line is not None and line.startswith(f"New, {name}"),
              f"   with a new {name} session ({line})", first[-3000:])
        check("TLS session ticket:" in first,
              "   and portier sends a session ticket", first[-3000:])
        check(os.path.getsize(sess) > 0, "   s_client saved the session")
        renewed = os.path.join(tmpdir(), f"renewed{flag}.pem")
        status, second = s_client(s.web, *common, "-sess_in", sess,
                                  "-sess_out", renewed, sni="app.test",
                                  stdin=req)
        check("HTTP/1.1 200" in second,
              f"{name}: second connection answers 200",
              f"status {status}\n{second[-3000:]}")
        line = handshake_line(second)
        check(line is not None and line.startswith(f"Reused, {name}"),
              f"   and resumes the session ({line})", second[-3000:])
        # Under another name the session is not resumed (RFC 6066
        # section 3), be its certificate the same (a name of the same
        # vhost), another one, or that of another listener; the full
        # handshake serves the name's own certificate and routes.
        for sni, port, cn, backend in [
                ("www.app.test", s.web, "app.test", "app"),
                ("exact.wild.test", s.web, "exact.wild.test", "exact"),
                ("other.test", s.p.port("web2"), "other.test", "other")]:
            other_req = req.replace(b"app.test", sni.encode())
            status, out = s_client(port, *common, "-sess_in", sess,
                                   sni=sni, stdin=other_req)
            line = handshake_line(out)
            check(line is not None and line.startswith(f"New, {name}"),
                  f"   offered under {sni}: a new session ({line})",
                  out[-3000:])
            check(f"CN = {cn}" in out and "HTTP/1.1 200" in out and
                  f'"name": "{backend}"' in out,
                  f"      with the certificate of {cn}, and 200 from "
                  f"backend {backend}", out[-3000:])
        if name != "TLSv1.3":
            continue
        # A TLS 1.3 client uses a ticket once (RFC 8446, C.4): without a
        # fresh one on the resumed connection, its next is a full one.
        check("Post-Handshake New Session Ticket arrived" in second,
              "   and gets a fresh ticket on the resumed connection",
              second[-3000:])
        check(os.path.exists(renewed) and
              open(renewed).read() != open(sess).read(),
              "   which s_client saved in place of the first")
        status, third = s_client(s.web, *common, "-sess_in", renewed,
                                 sni="app.test", stdin=req)
        line = handshake_line(third)
        check("HTTP/1.1 200" in third and line is not None and
              line.startswith("Reused, TLSv1.3"),
              f"{name}: a third connection resumes with the fresh ticket "
              f"({line})", third[-3000:])


def memory_handshake(s, ctx, sni, session=None):
    """A TLS client on listener web through memory BIOs, so that the test
    sees every byte: the handshake up to the client's last flight, which
    is left in `out` for the caller to send with what it wants. Returns
    (the socket, the SSLObject, its incoming and outgoing BIOs)."""
    raw = connect(LOOPBACK4, s.web)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=sni, session=session)
    while True:
        try:
            tls.do_handshake()
            return raw, tls, inc, out
        except ssl.SSLWantReadError:
            raw.sendall(out.read())
            data = raw.recv(65536)
            check(data, "the server's flight arrives")
            inc.write(data)


def ticket_exchange(s, ctx, session=None):
    """One TLS 1.3 connection (resuming `session` when given) with one
    request, read through memory BIOs to see when the ticket comes;
    checks that none comes alone after the client's Finished. Returns
    (the SSLObject, the response)."""
    raw, tls, inc, out = memory_handshake(s, ctx, "app.test", session)
    raw.sendall(out.read())  # the client's Finished
    # The kernel sends held bytes after its minimum retransmission
    # timeout (200 ms) if nothing else pushes them: look before that.
    ready, _, _ = select.select([raw], [], [], 0.1)
    check(not ready, "no ticket comes alone after the client's Finished")
    tls.write(b"GET /ticket HTTP/1.1\r\nHost: app.test\r\n"
              b"Connection: close\r\n\r\n")
    raw.sendall(out.read())
    got = b""
    while True:
        data = raw.recv(65536)
        if not data:
            break
        inc.write(data)
        try:
            while chunk := tls.read(65536):
                got += chunk
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            break
    raw.close()
    return tls, got


def test_ticket_with_response(s):
    step("TLS 1.3: the session ticket leaves with the first response")
    ctx = s.ctx(version=ssl.TLSVersion.TLSv1_3)
    tls, got = ticket_exchange(s, ctx)
    check(got.startswith(b"HTTP/1.1 200"), "the response arrives",
          got[:300])
    check(tls.session is not None and tls.session.has_ticket,
          "   and the session ticket with it")
    first = tls.session
    tls, got = ticket_exchange(s, ctx, session=first)
    check(tls.session_reused and got.startswith(b"HTTP/1.1 200"),
          "a resumed connection: the response arrives", got[:300])
    check(tls.session is not None and tls.session.has_ticket and
          tls.session.id != first.id,
          "   and a fresh session ticket with it")


def test_close_notify(s):
    step("Connection: close: the response ends with close_notify")
    req = (b"GET /bye HTTP/1.1\r\nHost: app.test\r\n"
           b"Connection: close\r\n\r\n")
    status, out = s_client(s.web, "-CAfile", s.pki.ca, "-ign_eof",
                           sni="app.test", stdin=req)
    check("HTTP/1.1 200" in out, "the response arrives", out[-2000:])
    check("unexpected eof" not in out.lower() and status == 0,
          "s_client sees close_notify, not a bare FIN (exits 0)",
          f"status {status}\n{out[-1000:]}")


def test_client_gone(s):
    step("a client gone while its response is written: the connection "
         "ends at once, not after timeout_idle")
    for how in ("close_notify and FIN", "FIN alone"):
        raw, tls, inc, out = memory_handshake(s, s.ctx(), "endless.test")
        raw.sendall(out.read())
        tls.write(b"GET /forever HTTP/1.1\r\nHost: endless.test\r\n\r\n")
        if how.startswith("close_notify"):
            try:
                tls.unwrap()
            except ssl.SSLWantReadError:
                pass
        # The request (and close_notify) and the FIN in one segment: the
        # client is gone before the response starts.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        raw.sendall(out.read())
        raw.shutdown(socket.SHUT_WR)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        raw.close()
        before = len(s.endless.ended)
        deadline = time.monotonic() + 10
        while len(s.endless.ended) == before and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        check(len(s.endless.ended) > before and
              s.endless.ended[-1] < 5,
              f"{how}: portier closes the backend's connection within "
              "5 s of the response's start",
              f"ended after {s.endless.ended[before:]} s")


def test_421(s):
    step("a Host other than the SNI name: 421; no backend sees it")
    for sni, host, want in [
            ("app.test", "app.test", (200, "app")),
            ("app.test", "APP.Test:8443", (200, "app")),
            ("APP.Test", "app.test", (200, "app")),
            ("www.app.test", "www.app.test", (200, "app")),
            ("x.deep.wild.test", "X.Deep.Wild.Test", (200, "deep")),
            ("plain.test", "plain.test:443", (200, "plain")),
            ("unknown.example", "unknown.example", (200, "default")),
            ("app.test", "plain.test", (421, None)),
            ("app.test", "exact.wild.test", (421, None)),
            ("x.wild.test", "y.wild.test", (421, None)),
            ("unknown.example", "app.test", (421, None))]:
        before = s.requests()
        c = s.conn(sni)
        got = s.get(c, host)
        c.close()
        check_equal(got, want, f"SNI {sni}, Host {host}: "
                    f"{want[0]}" + (f" from {want[1]}" if want[1] else ""))
        if want[0] == 421:
            check_equal(s.requests(), before, "   no backend saw it")

    step("421 on a keep-alive connection, and for an absolute-form target")
    c = s.conn("app.test")
    check_equal(s.get(c, "app.test", "/1"), (200, "app"),
                "SNI app.test: first request for app.test: 200")
    before = s.requests()
    check_equal(s.get(c, "plain.test", "/2"), (421, None),
                "   next request on the connection for plain.test: 421")
    check_equal(s.requests(), before, "   no backend saw it")
    c.close()
    c = s.conn("app.test")
    check_equal(s.get(c, "app.test", "https://plain.test/abs"), (421, None),
                "SNI app.test, target https://plain.test/abs: 421")
    check_equal(s.requests(), before, "   no backend saw it")
    c.close()

    step("HTTP/1.0 without Host: routed by the SNI name")
    for sni, want in [("app.test", "app"), ("x.wild.test", "wild"),
                      (None, "default")]:
        c = s.conn(sni)
        check_equal(s.get(c, None, version="1.0"), (200, want),
                    f"SNI {sni}, no Host: 200 from {want}")
        c.close()

    step("without SNI: no check, every Host is routed")
    c = s.conn(None)
    for host, name in [("app.test", "app"), ("plain.test", "plain"),
                       ("x.wild.test", "wild"),
                       ("unknown.example", "default")]:
        check_equal(s.get(c, host), (200, name),
                    f"no SNI, Host {host}: 200 from {name} (same "
                    "connection)")
    c.close()


def fields_of(got, name):
    """The values of the fields `name` the echo backend received."""
    return [v for n, v in got["headers"] if n.lower() == name]


def test_headers(s):
    step("the backend learns the request came over https")
    c = s.conn("app.test")
    resp = c.exchange(request("GET", "/h", "app.test", [
        "X-Forwarded-Proto: http", "Forwarded: for=1.2.3.4;proto=http"]))
    c.close()
    check_equal(resp.status, 200, "GET over TLS: 200")
    got = resp.json()
    check_equal(fields_of(got, "x-forwarded-proto"), ["https"],
                "   one X-Forwarded-Proto: https (the client's http "
                "dropped)")
    check_equal(fields_of(got, "forwarded"),
                ['for=127.0.0.1;host="app.test";proto=https'],
                "   one Forwarded with proto=https")


def test_curl(s):
    step("curl: several requests on one kept-alive TLS connection")
    if shutil.which("curl") is None:
        info("curl is not installed: this check is skipped")
        return
    base = f"https://app.test:{s.web}"
    urls = [f"{base}/c{i}" for i in range(1, 4)]
    cmd = ["curl", "-sS", "-v", "--cacert", s.pki.ca, "--resolve",
           f"app.test:{s.web}:127.0.0.1", *urls]
    info("$ " + " ".join(cmd))
    before = len(s.b["app"].requests)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=20)
    except subprocess.TimeoutExpired:
        raise TestFailure("curl still running after 20 s")
    err = proc.stderr
    check_equal(proc.returncode, 0, "curl exits 0")
    bodies = proc.stdout.count('"name": "app"')
    check_equal(bodies, 3, "three answers from app")
    check_equal(len(s.b["app"].requests) - before, 3,
                "   app got three requests")
    reused = err.count("Re-using existing connection")
    check_equal(reused, 2, "curl -v: 'Re-using existing connection' for "
                "the second and third")
    handshakes = len(re.findall(r"SSL connection using", err))
    check_equal(handshakes, 1, "   one TLS handshake in all")
    alpn = re.search(r"ALPN[:,] server accepted( to use)? (\S+)", err)
    check(alpn is not None and alpn.group(2) == "http/1.1",
          f"   ALPN: curl offered h2 and http/1.1, portier chose "
          f"{alpn.group(2) if alpn else 'nothing'}", err[-2000:])


def client_port(sock):
    return sock.getsockname()[1]


def logged_failure(s, port, what):
    """portier's info line about the failed handshake from client port
    `port`; fails when there is none."""
    line = wait_log_line(s.p.portier,
                         rf"^\S+ info\b.*127\.0\.0\.1:{port}(?!\d)")
    check(line is not None, f"{what}: logged at level info with the "
          f"client's address 127.0.0.1:{port}",
          "no such line in portier's stderr")
    info(f"log: {line}")
    return line


def test_handshake_failures(s):
    step("failed handshakes: logged, closed, and nobody else notices")
    c0 = s.conn("app.test")
    check_equal(s.get(c0, "app.test", "/before"), (200, "app"),
                "a connection established before the failures works")

    t0 = time.monotonic()
    silent = connect(LOOPBACK4, s.web, timeout=10)
    half = connect(LOOPBACK4, s.web, timeout=10)
    # A handshake record that announces 512 bytes and never sends them.
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    watcher = Worker(watch_closes, [silent, half], t0, 4 * HEADER_TIMEOUT)
    watcher.start()
    c1 = s.conn("x.wild.test")
    check_equal(s.get(c1, "x.wild.test", "/during"), (200, "wild"),
                "while two handshakes hang, a new connection works")
    took = time.monotonic() - t0
    check(took < 0.8 * HEADER_TIMEOUT,
          f"   at once ({took * 1000:.0f} ms), not after the hanging ones")
    c1.close()

    for method in ("GET", "OPTIONS", "DELETE", "PROPFIND"):
        plain = connect(LOOPBACK4, s.web, timeout=10)
        plain.sendall(f"{method} / HTTP/1.1\r\nHost: app.test\r\n\r\n"
                      .encode())
        answer = read_to_eof(plain, f"plain {method}")
        plain.close()
        check(answer.startswith(b"HTTP/1.1 400 ") and b"https://" in answer,
              f"plain HTTP ({method}) to the TLS port: a 400 that says to "
              f"use https://", repr(answer[:200]))

    # Port scans and unused preconnections: gone before the handshake
    # ends, which is no news worth a line at level info.
    quiet = []
    for hello in (False, True):
        raw = connect(LOOPBACK4, s.web, timeout=10)
        quiet.append(client_port(raw))
        if hello:
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = s.ctx().wrap_bio(inc, out, server_hostname="app.test")
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            raw.sendall(out.read())
            check(raw.recv(65536), "a client that sends its ClientHello "
                  "gets the server's flight")
        raw.close()

    garbage = connect(LOOPBACK4, s.web, timeout=10)
    garbage.sendall(b"\x00\x01\x02 this is no TLS record \xff\xfe\r\n" * 32)
    sent = closed_without_alert(garbage)
    check(sent is None, "garbage: portier closes the connection"
          + (f" ({sent})" if sent else ""))
    line = logged_failure(s, client_port(garbage), "garbage")
    check(line.split(f"{client_port(garbage)}", 1)[1].strip(" :,-"),
          "   with a reason", line)
    time.sleep(0.2)
    loud = [line for line in s.p.portier.log().splitlines()
            if re.search(r"^\S+ info\b.*127\.0\.0\.1:(%s)(?!\d)"
                         % "|".join(map(str, quiet)), line)]
    check(not loud, "clients that close before the handshake ends (at "
          "once, or after their ClientHello) are not logged at level info",
          "\n".join(loud))

    if ssl.HAS_TLSv1:
        raw = connect(LOOPBACK4, s.web, timeout=10)
        port = client_port(raw)
        try:
            s.ctx(version=ssl.TLSVersion.TLSv1).wrap_socket(
                raw, server_hostname="app.test")
            raise TestFailure("a TLS 1.0 client completed the handshake")
        except ssl.SSLError as e:
            info(f"TLS 1.0 client: {tls_reason(e)}")
        finally:
            raw.close()
        line = logged_failure(s, port, "TLS 1.0 only")
        check(re.search(r"protocol|version|TLS ?v?1\.?0", line, re.I),
              "   with a reason that names the protocol version", line)

    check_equal(s.get(c0, "app.test", "/after"), (200, "app"),
                "the connection established before still works")

    step(f"handshake timeout: closed after timeout_header = "
         f"{HEADER_TIMEOUT:.0f}s")
    closes = watcher.outcome(5 * HEADER_TIMEOUT)
    for sock, what in [(silent, "a client that sends nothing"),
                       (half, "a client that sends half a hello")]:
        after, data = closes[sock]
        check(after is not None, f"{what}: closed",
              f"still open {5 * HEADER_TIMEOUT:.0f} s after connecting")
        check(only_alerts(data), f"   having sent nothing but TLS alerts "
              f"({len(data)} bytes)", repr(data[:60]))
        check(0.9 * HEADER_TIMEOUT <= after <= 3 * HEADER_TIMEOUT,
              f"   {after:.2f} s after connecting: after timeout_header, "
              "not long after")
        line = logged_failure(s, client_port(sock), what)
        check(re.search(r"time", line, re.I),
              "   the reason says the time ran out", line)
        sock.close()
    check_equal(s.get(c0, "app.test", "/last"), (200, "app"),
                "the connection established first still works")
    c0.close()


def closed_without_alert(sock, within=3.0):
    """None when the peer closes sock within `within` s, having sent
    nothing or only TLS alert records; else what happened instead."""
    sock.settimeout(within)
    data = b""
    try:
        while True:
            part = sock.recv(4096)
            if not part:
                break
            data += part
    except socket.timeout:
        return f"still open after {within} s"
    except ConnectionResetError:
        pass
    return None if only_alerts(data) else f"it sent {data[:40]!r}"


def only_alerts(data):
    """True when data is nothing but whole TLS alert records."""
    while data:
        if data[0] != 0x15 or len(data) < 5:
            return False
        data = data[5 + int.from_bytes(data[3:5], "big"):]
    return True


def watch_closes(socks, t0, limit):
    """For each socket, when (seconds after t0) the peer closed it and
    what it sent before: {sock: (seconds or None, bytes)}, watching until
    all are closed or `limit` s after t0."""
    out = {sock: (None, b"") for sock in socks}
    open_ = list(socks)
    while open_:
        left = t0 + limit - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(open_, [], [], left)
        for sock in ready:
            try:
                part = sock.recv(4096)
            except OSError:
                part = b""
            if part:
                out[sock] = (None, out[sock][1] + part)
                continue
            out[sock] = (time.monotonic() - t0, out[sock][1])
            open_.remove(sock)
    return out


def test_key_mismatch(s):
    step("a key that is not the certificate's, or a chain file with the "
         "leaf not first: the check says so and names both files")
    reversed_chain = os.path.join(tmpdir(), "ca-first.pem")
    with open(s.pki.chain["app.test"]) as f:
        pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?"
                          r"-----END CERTIFICATE-----\n", f.read(), re.S)
    check_equal(len(pems), 2, "the app.test chain file holds two "
                "certificates")
    with open(reversed_chain, "w") as f:
        f.write(pems[1] + pems[0])
    for what, cert, key in [
            ("the key of another certificate", s.pki.chain["app.test"],
             s.pki.key["other.test"]),
            ("the CA before the leaf", reversed_chain,
             s.pki.key["app.test"])]:
        conf = os.path.join(tmpdir(), "mismatch.ini")
        with open(conf, "w") as f:
            f.write(f"[listener web]\nbind = 127.0.0.1:1\nmode = http\n"
                    f"backend = 127.0.0.1:2\ntls = on\n"
                    f"tls_cert = {cert}\ntls_key = {key}\n")
        proc = run_portier("-t", "-c", conf)
        check(proc.returncode != 0, f"{what}: -t fails")
        check(f"the key in {key} does not belong to the certificate in "
              f"{cert}" in proc.stderr, "   and names both files",
              proc.stderr)


def test_bad_sni(s):
    step("an SNI name with a newline and an escape byte: an alert, and "
         "the name never reaches the log")
    with open(os.path.join(srcdir(), "tests", "fixtures", "clienthello",
                           "openssl-tls13.bin"), "rb") as f:
        hello = f.read()
    check(hello.count(b"app.test") == 1, "the fixture names app.test once")
    sock = connect("127.0.0.1", s.web)
    sock.sendall(hello.replace(b"app.test", b"a\nFAKE\x1b["))
    sock.settimeout(5)
    got = b""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                break
            got += data
    except (ConnectionResetError, socket.timeout):
        pass
    sock.close()
    check_equal(got[:1], b"\x15", "the client gets an alert")
    check(wait_log_line(s.p, re.escape("TLS handshake failed: the server "
                                       "name (SNI) is not a host name"))
          is not None,
          "   logged with why, not OpenSSL's \"callback failed\"")
    time.sleep(0.2)
    check(not any(line.startswith("FAKE") or "\x1b" in line
                  for line in s.p.log().splitlines()),
          "   no forged line, no escape byte in the log")


def test_renegotiation(s):
    step("a client that asks to renegotiate (TLS 1.2): refused, and the "
         "close is logged at info with OpenSSL's reason")
    status, out = s_client(s.web, "-CAfile", s.pki.ca, "-tls1_2",
                           sni="app.test", stdin=b"R\n")
    check("RENEGOTIATING" in out, "s_client asked to renegotiate",
          out[-2000:])
    check("no renegotiation" in out, "   and was refused", out[-2000:])
    line = wait_log_line(s.p, r"^\S+ info\b.*closed: TLS error: ")
    check(line is not None, "portier logs the close at info with the "
          "TLS reason", s.p.log()[-2000:])
    info(f"log: {line}")


def main():
    s = Setup()
    test_key_mismatch(s)
    test_certificates(s)
    test_versions(s)
    test_alpn(s)
    test_resumption(s)
    test_ticket_with_response(s)
    test_close_notify(s)
    test_client_gone(s)
    test_421(s)
    test_headers(s)
    test_curl(s)
    test_handshake_failures(s)
    test_bad_sni(s)
    test_renegotiation(s)


run(main)
