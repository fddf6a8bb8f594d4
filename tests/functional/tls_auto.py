# SPDX-License-Identifier: MIT
"""tls = auto and redirect_https.

- tls = auto makes the local CA in state_dir on first start (root key
  mode 0600) and serves a leaf that verifies, with the host name checked,
  against the root that `portier ca export` writes: for each vhost name,
  a name under a wildcard vhost, localhost, 127.0.0.1 and ::1, and the
  address a listener is bound to (127.0.0.2); the leaf is valid for at
  most 90 days;
- the first start says so in the log, with how to trust the root; a
  second start keeps the same root;
- a state_dir that may not be written, or a root key other users may
  read, stops the start with the file and the fix; a state_dir that
  cannot be made (a file on its path) stops it with status 2;
- redirect_https answers every request with 301 to the same host and path
  on the https port (no port in Location for 443), also without Host and
  for requests with a body;
- except /portier-ca: a page that offers the local CA's root to phones
  over plain HTTP, with the root as PEM, DER and an iOS profile.
"""

import datetime
import os
import plistlib
import socket
import ssl
import stat

from httptest import Conn, EchoBackend, request
from lib import (LOOPBACK4, check, check_equal, run, run_portier, step,
                 tmpdir, write_file)
from tlstest import TlsPortier


def verified_get(port, pki_file, name, host=LOOPBACK4):
    """A GET over TLS to host:port that verifies the server's certificate
    against pki_file for `name` (a host name, or an IP address checked
    against the IP entries). Returns (status, certificate dict)."""
    ctx = ssl.create_default_context(cafile=pki_file)
    raw = socket.create_connection((host, port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname=name) as sock:
        cert = sock.getpeercert()
        sock.sendall(request("GET", "/", name if ":" not in name
                             else f"[{name}]",
                             ["Connection: close"]))
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b" ", 2)[1].decode(), cert


def main():
    state = os.path.join(tmpdir(), "state")
    backend = EchoBackend("app")
    listeners = {
        "web": {"mode": "http", "tls": "auto", "backend": backend.addr},
        "other": {"mode": "http", "tls": "auto", "backend": backend.addr,
                  "bind_host": "127.0.0.2"},
        "plain": {"mode": "http", "redirect_https": "8443"},
        "plain443": {"mode": "http", "redirect_https": "443"},
    }
    vhosts = [("app.test", {"listener": "web", "backend": backend.addr,
                            "alias": "*.app.test"})]
    glob = {"state_dir": state}

    step("first start: the local CA is made")
    portier = TlsPortier(listeners, vhosts, global_keys=glob)
    key = os.path.join(state, "ca-key.pem")
    check(os.path.exists(key), "the root key is in state_dir")
    check_equal(stat.S_IMODE(os.stat(key).st_mode), 0o600,
                "   with mode 0600")
    made = [line for line in portier.log().splitlines()
            if "made a new local CA" in line]
    check(len(made) == 1 and os.path.join(state, "ca.pem") in made[0] and
          "portier ca trust" in made[0] and "portier ca export" in made[0],
          "the log says a new CA was made, where, and how to trust it",
          portier.log())

    step("the leaf verifies against the exported root")
    out = os.path.join(tmpdir(), "export")
    os.makedirs(out)
    conf = write_file("ca.ini", f"[global]\nstate_dir = {state}\n"
                      "[listener x]\nbind = 1\nmode = tcp\nbackend = 2\n")
    r = run_portier("ca", "-c", conf, "export", out)
    check_equal(r.returncode, 0, "portier ca export succeeds")
    root = os.path.join(out, "portier-ca.pem")
    port = portier.port("web")
    names = ["app.test", "x.app.test", "localhost", "127.0.0.1"]
    for name in names:
        status, cert = verified_get(port, root, name)
        check_equal(status, "200", f"https://{name}: verified, 200")
    sans = {v for k, v in cert.get("subjectAltName", ())}
    check("0:0:0:0:0:0:0:1" in sans or "::1" in sans,
          "the leaf names ::1 too")
    not_after = datetime.datetime.strptime(cert["notAfter"],
                                           "%b %d %H:%M:%S %Y %Z")
    days = (not_after - datetime.datetime.utcnow()).days
    check(0 < days <= 90, f"the leaf is valid for at most 90 days ({days})")
    first_root = open(os.path.join(state, "ca.pem")).read()

    step("a listener bound to 127.0.0.2: its leaf names that address")
    status, cert = verified_get(portier.port("other"), root, "127.0.0.2",
                                host="127.0.0.2")
    check_equal(status, "200", "https://127.0.0.2: verified, 200")
    _, cert = verified_get(port, root, "127.0.0.1")
    sans = {v for k, v in cert.get("subjectAltName", ())}
    check("127.0.0.2" not in sans, "the leaf of the listener on 127.0.0.1 "
          "does not name 127.0.0.2", sans)

    step("a state_dir that cannot be made (a file on its path): the start "
         "fails with status 2, a runtime error, naming the listener")
    blocker = write_file("not-a-dir", "")
    conf = write_file("blocked.ini", f"[global]\nstate_dir = {blocker}/sub\n"
                      "[listener a]\nbind = 1\nmode = http\nbackend = 2\n"
                      "tls = auto\n")
    r = run_portier("-c", conf)
    check_equal(r.returncode, 2, "exit status 2")
    check("blocked.ini:3: listener a: tls = auto" in r.stderr,
          "   the error names the file, line and listener", r.stderr)

    step("a name the CA did not certify fails verification")
    try:
        verified_get(port, root, "other.example")
        check(False, "other.example: verification fails")
    except ssl.SSLCertVerificationError:
        check(True, "other.example: verification fails")

    step("second start: the same root")
    portier.portier.stop()
    portier = TlsPortier(listeners, vhosts, global_keys=glob)
    check_equal(open(os.path.join(state, "ca.pem")).read(), first_root,
                "the root certificate did not change")
    check("made a new local CA" not in portier.log(),
          "and the log does not call it new")
    status, _ = verified_get(portier.port("web"), root, "app.test")
    check_equal(status, "200", "and its leaf still verifies")

    step("redirect_https: 301 to the https port, same host and path")
    served = len(backend.requests)
    plain = portier.port("plain")
    cases = [
        (request("GET", "/a/b?c=d", "app.test"),
         "https://app.test:8443/a/b?c=d"),
        (request("GET", "/x", f"app.test:{plain}"),
         "https://app.test:8443/x"),
        (request("POST", "/form", "app.test", body=b"a=1"),
         "https://app.test:8443/form"),
        (request("GET", "/old", None, version="1.0"),
         "https://127.0.0.1:8443/old"),
    ]
    for req, location in cases:
        conn = Conn(LOOPBACK4, plain)
        resp = conn.exchange(req)
        check_equal(resp.status, 301, f"{req.splitlines()[0].decode()}: "
                    "301")
        check_equal(resp.headers.get("location"), location,
                    f"   Location: {location}")
        conn.close()
    step("the local CA's page on the redirect listener")
    conn = Conn(LOOPBACK4, plain)
    page = conn.exchange(request("GET", "/portier-ca", "app.test"))
    check_equal(page.status, 200, "/portier-ca: 200")
    text = page.body.decode()
    check("https://app.test:8443/" in text, "   it links to the https site")
    check("iPhone" in text and "Android" in text,
          "   it has the steps for iOS and Android")
    with open(os.path.join(state, "ca.pem"), "rb") as f:
        pem = f.read()
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    got = conn.exchange(request("GET", "/portier-ca.pem", "app.test"))
    check_equal(ssl.PEM_cert_to_DER_cert(got.body.decode()), der,
                "/portier-ca.pem is the root")
    got = conn.exchange(request("GET", "/portier-ca.der", "app.test"))
    check_equal(got.body, der, "/portier-ca.der is the root, DER")
    got = conn.exchange(request("GET", "/portier-ca.mobileconfig",
                                "app.test"))
    profile = plistlib.loads(got.body)
    check_equal(profile["PayloadContent"][0]["PayloadContent"], der,
                "/portier-ca.mobileconfig holds the root")
    check_equal(got.headers.get("content-type"),
                "application/x-apple-aspen-config",
                "   with the type iOS installs")
    conn.close()

    conn = Conn(LOOPBACK4, portier.port("plain443"))
    resp = conn.exchange(request("GET", "/p", "app.test"))
    check_equal(resp.headers.get("location"), "https://app.test/p",
                "to port 443: no port in Location")
    check_equal(len(backend.requests), served,
                "no redirected request reached the backend")


if __name__ == "__main__":
    run(main)
