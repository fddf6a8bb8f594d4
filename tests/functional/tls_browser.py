# SPDX-License-Identifier: MIT
"""tls = auto in a real browser: headless Chromium trusts the local CA.

The story of a web developer: portier serves app.test over HTTPS with a
certificate of its local CA (`tls = auto`), `portier ca trust` puts the
root in the browser's NSS database, and the browser then opens the app,
WebSocket included, with no warning. Here the browser is headless
Chromium, driven through the DevTools protocol (devtools.py), with HOME
in the temp dir: its NSS database is $HOME/.pki/nssdb, made empty with
certutil. --host-resolver-rules maps app.test to 127.0.0.1 and every
other name to nothing, so the browser talks to loopback only; no switch
that relaxes certificate checks is given.

- before the root is trusted, Chromium refuses https://app.test:PORT/
  with net::ERR_CERT_AUTHORITY_INVALID and the backend gets no request:
  the checks below cannot pass with a browser that accepts anything;
- `portier ca trust` with that HOME adds the root to the NSS database.
  Run as root, it would also install the root in the machine's system
  store: as in ca_cli.py, it then runs as an unprivileged user (nobody,
  through setpriv), who owns the state directory and the NSS database, so
  that the system store is left alone (portier says it needs root). When
  no such user can run portier, the test imports the root with certutil
  itself, as `portier ca trust` would (nickname portier-FINGERPRINT,
  trust C,,);
- a new Chromium with the same HOME loads the backend's page: its title
  and text, no certificate error, the connection secure, TLS 1.3, a
  certificate for app.test issued by the local CA's root (DevTools'
  securityDetails);
- the page's own JavaScript opens wss://app.test:PORT/echo, sends a random
  token and shows what comes back: the token, echoed by the backend
  through portier, which saw the upgrade for Host app.test:PORT;
- every TLS handshake of that browser (its NetLog) was TLS 1.3 and chose
  http/1.1 by ALPN: portier never selects h2, which it does not speak;
- `portier ca untrust` (or certutil, as above) removes the root from the
  NSS database again, and a third Chromium is refused again.

Skipped (77) when Chromium or certutil (Debian: libnss3-tools) is
missing. Chromium and every process it starts are stopped at the end.
"""

import hashlib
import os
import re
import secrets
import shutil
import ssl
import subprocess

from devtools import find_chromium, start_chromium
from httptest import Reader, read_request, response_bytes, ws_echo_upgrade
from lib import (SANITIZER_REPORT, Server, at_cleanup, check, check_equal,
                 info, portier_path, run, skip, step, tmpdir,
                 unprivileged_user, wait_until)
from tlstest import TlsPortier

NAME = "app.test"
TITLE = "app.test through portier"

# The backend's page. Its script echoes TOKEN over a WebSocket to the
# same origin and writes what happened into #ws: data-state is
# "connecting", then "echoed" (the text is the message that came back),
# "error" or "closed CODE".
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="data:,"></head>
<body>
<h1 id="greeting">Hello from the app.test backend</h1>
<p id="ws" data-state="connecting"></p>
<script>
var out = document.getElementById("ws");
var ws = new WebSocket("wss://" + location.host + "/echo");
ws.onopen = function () {{ ws.send("{token}"); }};
ws.onmessage = function (e) {{
  out.textContent = e.data;
  out.dataset.state = "echoed";
  ws.close(1000);
}};
ws.onerror = function () {{
  if (out.dataset.state === "connecting") out.dataset.state = "error";
}};
ws.onclose = function (e) {{
  if (out.dataset.state === "connecting")
    out.dataset.state = "closed " + e.code;
}};
</script>
</body></html>
"""


class AppBackend(Server):
    """app.test's backend: GET / answers the page, a WebSocket upgrade
    is echoed (httptest.ws_echo_upgrade), anything else is a 404.
    .pages and .upgrades list the requests; a WebSocket connection's
    result is the number of frames it echoed."""

    def __init__(self, token):
        self.page = PAGE.format(title=TITLE, token=token).encode()
        self.pages = []
        self.upgrades = []
        super().__init__(self._handle)

    def _handle(self, conn, server):
        reader = Reader(conn)
        try:
            while True:
                req = read_request(reader)
                if req is None:
                    return "closed"
                if req.headers.get("upgrade", "").lower() == "websocket":
                    self.upgrades.append(req)
                    return ws_echo_upgrade(conn, reader, req)
                self.pages.append(req)
                if req.target == "/":
                    conn.sendall(response_bytes(200, "OK", [
                        "Content-Type: text/html; charset=utf-8",
                        "Cache-Control: no-store"], self.page))
                else:
                    conn.sendall(response_bytes(404, "Not Found", [
                        "Content-Type: text/plain"], b"not found\n"))
        finally:
            conn.close()

    def echoed(self):
        """How many frames the WebSocket connections that ended echoed."""
        with self._lock:
            return sum(r for r in self.results
                       if isinstance(r, int) and not isinstance(r, bool))


class CaUser:
    """Runs `portier ca` with HOME in the temp dir: as the test's user,
    or, when the test is root, as an unprivileged one (None when there
    is none that can run portier: then .possible is False)."""

    def __init__(self, home, state):
        self.home = home
        self.state = state
        self.user, self.possible = unprivileged_user()

    def give(self):
        """Make HOME and the state directory the user's (as root)."""
        if self.user is None:
            return
        os.chmod(tmpdir(), 0o711)
        for top in (self.home, self.state):
            for root, dirs, files in os.walk(top):
                for name in [root] + [os.path.join(root, n) for n in files]:
                    os.chown(name, self.user.pw_uid, self.user.pw_gid)

    def ca(self, *args):
        """Run `portier ca -d STATE ARGS`; return CompletedProcess."""
        self.give()
        env = dict(os.environ, HOME=self.home)
        env.pop("XDG_STATE_HOME", None)
        cmd = [portier_path(), "ca", "-d", self.state, *args]
        if self.user is not None:
            cmd = ["setpriv", f"--reuid={self.user.pw_uid}",
                   f"--regid={self.user.pw_gid}", "--clear-groups", *cmd]
        info("$ HOME=" + self.home + " " + " ".join(cmd))
        done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=30, start_new_session=True)
        if SANITIZER_REPORT.search(done.stderr):
            check(False, f"portier ca {' '.join(args)}: no sanitizer "
                  "report", done.stderr)
        return done


def certutil(*args):
    """Run certutil; return CompletedProcess."""
    return subprocess.run(["certutil", *args], capture_output=True,
                          text=True, timeout=30)


def nss_holds(db, nick):
    """True when the NSS database db holds a certificate named nick."""
    return certutil("-L", "-d", f"sql:{db}", "-n", nick).returncode == 0


def root_fingerprint_and_cn(pem):
    """(SHA-256 in lower-case hex, common name) of a CA certificate
    file."""
    with open(pem) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pem)
    certs = ctx.get_ca_certs()
    check_equal(len(certs), 1, f"{pem} holds one CA certificate")
    subject = dict(rdn[0] for rdn in certs[0]["subject"])
    check("commonName" in subject, "   with a common name", str(subject))
    return hashlib.sha256(der).hexdigest(), subject["commonName"]


class Browser:
    """One headless Chromium with HOME set, its page, and what it saw
    when it opened a URL."""

    def __init__(self, binary, home, netlog=False):
        self.chromium = start_chromium(binary, env={"HOME": home}, args=[
            f"--host-resolver-rules=MAP {NAME} 127.0.0.1, MAP * ~NOTFOUND"],
            netlog=netlog)
        self.devtools = self.chromium.page()
        self.devtools.call("Page.enable")
        self.devtools.call("Network.enable")

    def open(self, url):
        """Navigate to url; return Page.navigate's result and, once the
        load ended, the document's Network.responseReceived or
        Network.loadingFailed params: (result, response, failure)."""
        result = self.devtools.call("Page.navigate", url=url)
        info(f"Page.navigate: {result}")
        request = self.devtools.wait_event(
            "Network.requestWillBeSent",
            lambda p: p.get("request", {}).get("url") == url
            and p.get("type") == "Document", timeout=10.0)
        check(request is not None, f"the browser requested {url}")
        rid = request["requestId"]

        def ended():
            for method in ("Network.loadingFinished",
                           "Network.loadingFailed"):
                if self.devtools.wait_event(
                        method, lambda p: p.get("requestId") == rid,
                        timeout=0):
                    return True
            return False

        check(wait_until(ended, 15.0, interval=0.05),
              "the load of the document ended")
        of_request = lambda p: p.get("requestId") == rid  # noqa: E731
        responses = self.devtools.find_events("Network.responseReceived",
                                              of_request)
        failures = self.devtools.find_events("Network.loadingFailed",
                                             of_request)
        return (result, responses[0] if responses else None,
                failures[0] if failures else None)

    def stop(self):
        self.chromium.stop()


def refused(browser, url, backend, what):
    """Check that the browser refuses url for its certificate."""
    result, response, failure = browser.open(url)
    error = (failure or {}).get("errorText")
    info(f"Network.loadingFailed: {error}")
    check_equal(result.get("errorText"), "net::ERR_CERT_AUTHORITY_INVALID",
                f"{what}: the navigation fails with "
                "net::ERR_CERT_AUTHORITY_INVALID")
    check_equal(error, "net::ERR_CERT_AUTHORITY_INVALID",
                "   and so does the document's load")
    check(response is None, "   no response was received", str(response))
    check_equal(len(backend.pages) + len(backend.upgrades), 0,
                "   the backend got no request")


def main():
    binary = find_chromium()
    if binary is None:
        skip("no Chromium found: install it (Debian: apt-get install "
             "chromium) or set PORTIER_CHROMIUM")
    if shutil.which("certutil") is None:
        skip("no certutil: install it (Debian: apt-get install "
             "libnss3-tools)")

    step("a HOME with an empty NSS database, and the local CA")
    home = os.path.join(tmpdir(), "home")
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb)
    done = certutil("-N", "-d", f"sql:{nssdb}", "--empty-password")
    check_equal(done.returncode, 0, f"certutil -N makes {nssdb}")
    state = os.path.join(tmpdir(), "state")
    os.mkdir(state, 0o700)
    ca = CaUser(home, state)
    if ca.possible:
        done = ca.ca("path")
        check(done.returncode == 0, "portier ca path makes the CA",
              f"status {done.returncode}: {done.stderr}")
    root = os.path.join(state, "ca.pem")

    step("portier: app.test on an https listener with tls = auto")
    token = "ping " + secrets.token_hex(8)
    backend = AppBackend(token)
    portier = TlsPortier({"web": {"mode": "http", "tls": "auto"}},
                         [(NAME, {"listener": "web",
                                  "backend": backend.addr})],
                         global_keys={"state_dir": state})
    check(os.path.isfile(root), f"the local CA's root is {root}")
    fingerprint, root_cn = root_fingerprint_and_cn(root)
    nick = f"portier-{fingerprint[:8]}"
    info(f"root: {root_cn}, SHA-256 {fingerprint[:16]}...")
    url = f"https://{NAME}:{portier.port('web')}/"

    step("before the root is trusted, Chromium refuses the page")
    browser = Browser(binary, home)
    refused(browser, url, backend, "untrusted")
    browser.stop()

    step("the root goes into the NSS database")
    if ca.possible:
        at_cleanup(lambda: nss_holds(nssdb, nick) and ca.ca("untrust"))
        done = ca.ca("trust")
        info("portier ca trust printed:\n      " +
             done.stdout.strip().replace("\n", "\n      "))
        check_equal(done.returncode, 0, "portier ca trust exits 0")
        check(f"\u2713 Chromium NSS database {nssdb}: added {nick}"
              in done.stdout, f"it added {nick} to {nssdb}", done.stdout)
        check("\u2717 system store: needs root" in done.stdout,
              "it left the system store alone (not run as root)",
              done.stdout)
    else:
        info("no unprivileged user can run portier here: importing the "
             "root with certutil, as portier ca trust does")
        at_cleanup(lambda: nss_holds(nssdb, nick) and certutil(
            "-D", "-d", f"sql:{nssdb}", "-n", nick))
        done = certutil("-A", "-d", f"sql:{nssdb}", "-t", "C,,", "-n",
                        nick, "-i", root)
        check_equal(done.returncode, 0, f"certutil -A adds {nick}")
    listing = certutil("-L", "-d", f"sql:{nssdb}")
    check(re.search(rf"^{re.escape(nick)}\s+C,,\s*$", listing.stdout, re.M),
          f"{nssdb} holds {nick}, trusted for TLS servers (C,,)",
          listing.stdout)

    step("a new Chromium with that HOME loads the page")
    browser = Browser(binary, home, netlog=True)
    devtools = browser.devtools
    result, response, failure = browser.open(url)
    check("errorText" not in result, "the navigation has no error",
          str(result))
    check(failure is None, "the document's load did not fail",
          str(failure))
    check(response is not None, "the document has a response")
    resp = response["response"]
    check_equal(resp.get("status"), 200, "status 200")
    devtools.wait_for("document.readyState === 'complete'", 10.0,
                      "the page loaded")
    check_equal(devtools.evaluate("location.href"), url,
                "the page is at " + url)
    check_equal(devtools.evaluate("document.title"), TITLE,
                f"its title is {TITLE!r}")
    check_equal(devtools.evaluate(
        "document.getElementById('greeting').textContent"),
        "Hello from the app.test backend", "its text is the backend's")
    check(len(backend.pages) >= 1 and backend.pages[0].target == "/",
          "the backend served GET /")

    step("what the browser saw of the connection")
    details = resp.get("securityDetails") or {}
    info(f"securityState {resp.get('securityState')}, protocol "
         f"{resp.get('protocol')}, {details.get('protocol')}, "
         f"{details.get('cipher')}, key exchange group "
         f"{details.get('keyExchangeGroup')}")
    info(f"certificate: subject {details.get('subjectName')!r}, SAN "
         f"{details.get('sanList')}, issuer {details.get('issuer')!r}")
    check_equal(resp.get("securityState"), "secure",
                "the connection is secure")
    check_equal(details.get("protocol"), "TLS 1.3", "TLS 1.3")
    check(NAME in (details.get("sanList") or []),
          f"the certificate's names include {NAME}",
          str(details.get("sanList")))
    check_equal(details.get("issuer"), root_cn,
                "its issuer is the local CA's root")
    check_equal(resp.get("protocol"), "http/1.1",
                "the response came over HTTP/1.1")

    step("the page's WebSocket echoes through portier")
    state_js = "document.getElementById('ws').dataset.state"
    devtools.wait_for(f"{state_js} !== 'connecting'", 10.0,
                      "the page's WebSocket finished")
    check_equal(devtools.evaluate(state_js), "echoed",
                "the page got an answer")
    check_equal(devtools.evaluate(
        "document.getElementById('ws').textContent"), token,
        "the answer is the page's random token")
    handshake = devtools.wait_event(
        "Network.webSocketHandshakeResponseReceived", timeout=5.0)
    check(handshake is not None, "DevTools saw the WebSocket handshake")
    check_equal(handshake["response"].get("status"), 101,
                "   answered with 101")
    created = devtools.find_events("Network.webSocketCreated")
    check_equal([c.get("url") for c in created],
                [f"wss://{NAME}:{portier.port('web')}/echo"],
                "   for wss://app.test:PORT/echo")
    check_equal(len(backend.upgrades), 1, "the backend got one upgrade")
    upgrade = backend.upgrades[0]
    check_equal(upgrade.target, "/echo", "   for /echo")
    check_equal(upgrade.headers.get("host"),
                f"{NAME}:{portier.port('web')}", "   with Host app.test:PORT")
    check_equal(upgrade.headers.get("origin"),
                f"https://{NAME}:{portier.port('web')}",
                "   from the page's origin")
    check(wait_until(lambda: backend.echoed() >= 1, 5.0),
          "the backend echoed the frame, then the page closed the socket")

    step("the browser's NetLog: every TLS handshake chose http/1.1 (ALPN)")
    # DevTools says "http/1.1" with or without ALPN; the NetLog tells
    # them apart ("unknown" when the server chose no protocol).
    browser.chromium.close()
    handshakes = browser.chromium.netlog("SSL_CONNECT")
    info("SSL_CONNECT: " + ", ".join(
        f"{h.get('version')} {h.get('next_proto')}"
        f"{' resumed' if h.get('is_resumed') else ''}" for h in handshakes))
    check(len(handshakes) >= 2, "at least two handshakes (the page and "
          "the WebSocket)", str(handshakes))
    check_equal({(h.get("version"), h.get("next_proto"))
                 for h in handshakes}, {("TLS 1.3", "http/1.1")},
                "each was TLS 1.3 with ALPN http/1.1")

    step("the root leaves the NSS database, and the browser refuses again")
    if ca.possible:
        done = ca.ca("untrust")
        info("portier ca untrust printed:\n      " +
             done.stdout.strip().replace("\n", "\n      "))
        check_equal(done.returncode, 0, "portier ca untrust exits 0")
        check(f"\u2713 Chromium NSS database {nssdb}: removed {nick}"
              in done.stdout, f"it removed {nick} from {nssdb}",
              done.stdout)
    else:
        done = certutil("-D", "-d", f"sql:{nssdb}", "-n", nick)
        check_equal(done.returncode, 0, f"certutil -D removes {nick}")
    check(not nss_holds(nssdb, nick), f"{nssdb} no longer holds {nick}")
    served = len(backend.pages)
    browser = Browser(binary, home)
    result, response, failure = browser.open(url)
    check_equal(result.get("errorText"), "net::ERR_CERT_AUTHORITY_INVALID",
                "a new Chromium refuses the page again")
    check_equal(len(backend.pages), served, "   the backend got no request")
    browser.stop()


if __name__ == "__main__":
    run(main)
