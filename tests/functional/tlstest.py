# SPDX-License-Identifier: MIT
"""Helpers shared by the functional tests of portier's TLS termination.

- `make_pki()` makes a test CA (ECDSA P-256) and leaf certificates with the
  `openssl` command in the test's temp dir; each leaf's certificate file is
  the full chain (leaf, then CA) that `tls_cert` expects, and its common
  name is the vhost name it is for, so `peer_name()` tells which one a
  server sent.
- `client_context()` and `tls_connect()` make python `ssl` clients that
  trust the test CA, with a chosen SNI (or none), protocol versions,
  ciphers and ALPN offer; `TlsConn` is httptest's `Conn` over TLS.
- `s_client()` runs `openssl s_client` (session resumption is checked the
  way an administrator would check it) and `tls_reason()` names the
  OpenSSL error of a failed handshake.
- `TlsPortier` starts portier with listeners of any mode on ephemeral
  ports, and says so plainly when this portier cannot terminate TLS.
- WebSocket framing (`ws_frame`, `ws_read_frame`) and `ws_echo_backend`,
  from httptest.
"""

import base64
import hashlib
import os
import random
import re
import shutil
import socket
import ssl
import struct
import subprocess
import warnings

from httptest import Conn, Reader  # noqa: F401 (Reader: for the tests)
# The WebSocket helpers live in httptest; the TLS tests take them from here.
from httptest import (WS_BINARY, WS_CLOSE, WS_TEXT,  # noqa: F401
                      ws_accept_key, ws_echo_backend, ws_frame,
                      ws_read_frame)
from lib import (KIB, LOOPBACK4, TestFailure, at_cleanup, fmt_addr,
                 free_port, info, section, skip, start_portier, tmpdir,
                 wait_until)
import lib

# TLS 1.0 and 1.1 clients are made on purpose: python warns about them.
warnings.filterwarnings("ignore", category=DeprecationWarning,
                        message=".*TLSv1.*")

# The TLS 1.3 cipher suites (all AEAD).
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                "TLS_AES_128_CCM_8_SHA256")


# --- certificates --------------------------------------------------------


class Pki:
    """A test CA and its leaves: .ca is the CA certificate's path;
    .chain[name] and .key[name] the full-chain PEM and key of leaf
    `name`."""

    def __init__(self, directory):
        self.dir = directory
        self.ca = os.path.join(directory, "ca.pem")
        self.ca_key = os.path.join(directory, "ca-key.pem")
        self.chain = {}
        self.key = {}


def openssl(*args):
    """Run the openssl command; fail with its output if it fails."""
    cmd = ["openssl", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise TestFailure(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return proc.stdout


def _file_name(name):
    return name.replace("*", "star")


def make_pki(leaves):
    """A CA and one leaf per entry of `leaves`: a name (its subject
    alternative names: the name itself), or (name, [more names]) or
    (name, [more names], "rsa") for an RSA 2048 key instead of ECDSA
    P-256. Returns a Pki."""
    if shutil.which("openssl") is None:
        skip("the openssl command is not installed")
    pki = Pki(os.path.join(tmpdir(), "pki"))
    os.makedirs(pki.dir, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl("req", "-x509", "-new", *ec, "-nodes", "-keyout", pki.ca_key,
             "-out", pki.ca, "-days", "30", "-subj", "/CN=portier test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for leaf in leaves:
        if isinstance(leaf, str):
            leaf = (leaf, [])
        name, more = leaf[0], leaf[1]
        kind = leaf[2] if len(leaf) > 2 else "ec"
        base = os.path.join(pki.dir, _file_name(name))
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature"
                    + (",keyEncipherment" if kind == "rsa" else "") + "\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=" +
                    ",".join(f"DNS:{n}" for n in [name, *more]) + "\n")
        newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else ec
        openssl("req", "-new", *newkey, "-nodes", "-keyout",
                 base + "-key.pem", "-out", base + ".csr",
                 "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", base + ".csr", "-CA", pki.ca,
                 "-CAkey", pki.ca_key, "-days", "30",
                 "-set_serial", str(random.getrandbits(63)),
                 "-extfile", ext, "-out", base + "-leaf.pem")
        with open(base + ".pem", "w") as out:
            for part in (base + "-leaf.pem", pki.ca):
                with open(part) as f:
                    out.write(f.read())
        pki.chain[name] = base + ".pem"
        pki.key[name] = base + "-key.pem"
    info(f"certificates: CA and {', '.join(pki.chain)} in {pki.dir}")
    return pki


# --- clients ---------------------------------------------------------------


def client_context(pki, version=None, ciphers=None, alpn=None):
    """A client context that verifies the server's chain against the test
    CA (names are checked by the tests, from peer_name()). `version` pins
    one protocol version (ssl.TLSVersion); `ciphers` is an OpenSSL
    cipher list for TLS 1.2 and below; `alpn` the protocols offered."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(pki.ca)
    if version is not None:
        if version < ssl.TLSVersion.TLSv1_2:
            # What a legacy client offers; the default security level
            # would not let this client send such a hello at all.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = version
        ctx.maximum_version = version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, sni=None, ctx=None, pki=None, timeout=10.0,
                host=LOOPBACK4):
    """A TLS connection to (host, port), handshake done; SNI `sni` (none
    when None). Closed at the end of the test. Raises ssl.SSLError (or
    OSError) when the handshake fails."""
    if ctx is None:
        ctx = client_context(pki)
    raw = socket.create_connection((host, port), timeout=timeout)
    at_cleanup(raw.close)
    sock = ctx.wrap_socket(raw, server_hostname=sni)
    at_cleanup(sock.close)
    return sock


def handshake_error(port, sni=None, ctx=None, pki=None):
    """Try a handshake; None if it succeeds (the connection is closed
    again), else the exception."""
    try:
        sock = tls_connect(port, sni, ctx, pki)
    except (ssl.SSLError, OSError) as e:
        return e
    sock.close()
    return None


def tls_reason(error):
    """The OpenSSL reason of an ssl.SSLError (e.g.
    'TLSV1_ALERT_PROTOCOL_VERSION'), or the error's text."""
    return getattr(error, "reason", None) or repr(error)


def peer_name(sock):
    """The common name of the certificate the server sent."""
    cert = sock.getpeercert()
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class TlsConn(Conn):
    """httptest's Conn over TLS: send bytes, read responses."""

    def __init__(self, port, sni=None, ctx=None, pki=None, timeout=10.0):
        self.sock = tls_connect(port, sni, ctx, pki, timeout)
        self.reader = Reader(self.sock)

    def closed(self, within=5.0):
        """True when the server closes the connection within `within` s
        without sending anything more (with or without close_notify)."""
        self.sock.settimeout(within)
        try:
            data = self.reader.rest()
        except socket.timeout:
            return False
        except (ssl.SSLError, ConnectionResetError):
            return True
        return data == b""


def s_client(port, *args, sni=None, stdin=b"", timeout=10):
    """Run `openssl s_client` against 127.0.0.1:port with `args`; SNI
    `sni` or none. Returns (exit status, stdout and stderr as text)."""
    cmd = ["openssl", "s_client", "-connect", fmt_addr(LOOPBACK4, port),
           *(["-servername", sni] if sni else ["-noservername"]), *args]
    info("$ " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True,
                              timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"openssl s_client still running after "
                          f"{timeout} s")
    out = proc.stdout.decode("latin-1") + proc.stderr.decode("latin-1")
    return proc.returncode, out


def handshake_line(output):
    """The 'New, TLSv1.3, Cipher is ...' or 'Reused, ...' line of an
    s_client output (the first one: the handshake's own)."""
    m = re.search(r"^(New|Reused), .*$", output, re.M)
    return m.group(0) if m else None


# --- portier ---------------------------------------------------------------


class TlsPortier:
    """portier with listeners on 127.0.0.1 ephemeral ports (another
    address of the host with the listener key "bind_host").

    `listeners` maps a listener name to its keys (mode included);
    `vhosts` is a list of (name, keys) in file order.
    """

    def __init__(self, listeners, vhosts=(), global_keys=None):
        self.ports = {}

        def config():
            text = section("global", **global_keys) if global_keys else ""
            for name, keys in listeners.items():
                keys = dict(keys)
                host = keys.pop("bind_host", LOOPBACK4)
                self.ports[name] = free_port()
                text += section(f"listener {name}",
                                bind=fmt_addr(host, self.ports[name]),
                                **keys)
            for name, keys in vhosts:
                text += section(f"vhost {name}", **keys)
            return text

        try:
            self.portier = start_portier(config)
        except TestFailure as e:
            raise TestFailure(f"{e}{_unsupported(lib._portiers[-1])}")
        notes = _unsupported(self.portier)
        if notes:
            raise TestFailure("portier runs, but not with this "
                              "configuration" + notes)

    def port(self, listener):
        return self.ports[listener]

    def log(self):
        return self.portier.log()


def _unsupported(portier):
    """portier's complaints about configuration it cannot run yet (such as
    `tls = on`), as text to add to a failure; empty when none."""
    lines = [line for line in portier.log().splitlines()
             if "not supported" in line]
    if not lines:
        return ""
    return ("\n   portier says it does not support this yet:\n   " +
            "\n   ".join(lines))


def wait_log_line(portier, pattern, timeout=5.0):
    """The first line of portier's stderr that matches the regular
    expression `pattern`, waiting up to `timeout` s; None if none."""
    regex = re.compile(pattern)
    found = []

    def seen():
        found[:] = [line for line in portier.log().splitlines()
                    if regex.search(line)]
        return bool(found)

    wait_until(seen, timeout)
    return found[0] if found else None


# Bytes a reader of bulk data asks for at once.
BULK_READ = 256 * KIB
