# SPDX-License-Identifier: MIT
"""portier expose: a backend opened to the LAN with no configuration file.

expose listens on *:8080 (*:8443 with --tls) and prints the LAN URLs of the
machine, so its LAN behaviour is checked in a private network namespace:
as root, with `unshare --net` working, the test runs itself again inside
one (flag PORTIER_TEST_EXPOSE_NETNS), brings up `lo` and an interface lan0
(a dummy, else one end of a veth pair) with 192.168.77.2/24 and
fd00:77::2/64: nothing it does can reach a real network, and the namespace
ends with the test's processes. Otherwise it runs the checks that loopback
allows, with --listen 127.0.0.1:PORT, and says which parts it skipped.

- every URL printed (localhost and, in the namespace, the LAN addresses of
  both families) answers 200 from the backend;
- the QR code decodes (zbarimg) to exactly the first LAN URL;
- a taken 8080 is reported with the address that could not be bound and
  the holder's program and pid, and expose moves to 8081, printing URLs
  with 8081; --listen on a taken port fails with status 2 and names the
  address and the holder;
- a backend that does not answer yet gives a warning, expose keeps
  running, and requests succeed once the backend is up;
- a bare port reaches a backend on [::1] only (it means localhost:PORT),
  with no warning; 127.0.0.1:PORT for that backend warns and says that
  [::1]:PORT answers;
- a wrong option or BACKEND exits with status 1 and a message that names
  the option as typed (--listen, BACKEND, --name, --allow), not a line of
  the configuration made from them;
- a --name given twice, or that expose adds as an alias itself
  (127.0.0.1, [::1]), starts all the same;
- as root, no advice about [global]'s user key, which expose does not
  have: its own warning says the port does not need root;
- --listen localhost:PORT prints its URL, which answers;
- --auth: 401 without credentials, 200 with them, also over LAN IPv6;
  a password with ':', ';', '#' and a space; a refused --auth does not
  print the password;
- --host-header backend: the backend sees its own address as Host;
- --tls, then a LAN address added and removed while it runs: within
  seconds expose says so and the certificate names the new address (then
  no longer);
- --tls: the https URLs verify against the local CA's root (made under
  $XDG_STATE_HOME), plain HTTP on 8080 redirects to them and serves the
  CA page and the root;
- a 403 from Vite's host check makes expose print one hint, also when
  its body comes in a later read than its head, or with the words that
  show the check split between two reads; the 403 reaches the client
  whole;
- SIGINT stops it with status 0.

HOME and XDG_STATE_HOME are in the test's temp dir, so the local CA is
never made in a real home.
"""

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

from httptest import (EchoBackend, RawBackend, Reader, read_response,
                      request, response_bytes)
from lib import (LOOPBACK4, LOOPBACK6, TestFailure, at_cleanup, check,
                 check_equal, free_port, info, portier_path, run,
                 run_portier, spawn, step, tmpdir, wait_until)
import lib
from qrtest import decode_terminal_qr

# Set in the environment of the run inside the network namespace.
NETNS_FLAG = "PORTIER_TEST_EXPOSE_NETNS"

# The namespace's LAN interface and its addresses.
LAN_IF = "lan0"
LAN4 = "192.168.77.2"
LAN6 = "fd00:77::2"
NEW_LAN4 = "192.168.77.9"

# expose's default ports.
HTTP_PORT = 8080
HTTPS_PORT = 8443

# What Vite's dev server answers a Host it does not allow (%s: the host).
VITE_BLOCKED = ('Blocked request. This host ("%s") is not allowed.\n'
                'To allow this host, add "%s" to `server.allowedHosts` in '
                'vite.config.js.')

# A process that holds a TCP port: argv host, port; prints "ready".
HOLDER = """
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if ":" in host:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((host, port))
s.listen()
print("ready", flush=True)
time.sleep(120)
"""


# --- the network namespace -------------------------------------------------


def ip(*args):
    """Run `ip ARGS`; None on success, else its error message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True,
                          timeout=10)
    if done.returncode == 0:
        return None
    return f"ip {' '.join(args)}: {done.stderr.strip()}"


def bindable(host):
    """True when an address of this namespace can be bound (and so is
    usable: an IPv6 address past duplicate detection)."""
    return lib.port_is_free(host, 0)


def setup_lan():
    """In the namespace: lo up, and lan0 with LAN4 and (when IPv6 works)
    LAN6. Returns (has IPv4 LAN, has IPv6 LAN, why the IPv4 or IPv6 part
    is missing, or None)."""
    why = ip("link", "set", "lo", "up")
    if why:
        raise TestFailure(f"cannot bring up lo in the namespace: {why}")
    if ip("link", "add", LAN_IF, "type", "dummy"):
        # No dummy driver: a veth pair, both ends up so that lan0 has a
        # carrier.
        why = (ip("link", "add", LAN_IF, "type", "veth", "peer", "name",
                  LAN_IF + "p") or ip("link", "set", LAN_IF + "p", "up"))
        if why:
            return False, False, why
    why = (ip("link", "set", LAN_IF, "up") or
           ip("addr", "add", LAN4 + "/24", "dev", LAN_IF))
    if why:
        return False, False, why
    if not wait_until(lambda: bindable(LAN4), 3):
        return False, False, f"{LAN4} cannot be bound"
    why = ip("addr", "add", LAN6 + "/64", "dev", LAN_IF, "nodad")
    if why:
        return True, False, why
    if not wait_until(lambda: bindable(LAN6), 3):
        return True, False, f"{LAN6} cannot be bound"
    return True, True, None


# --- portier expose --------------------------------------------------------


class Expose(lib.Portier):
    """`portier expose ARGS` running in the background, its stdout and
    stderr in files, stopped (with its process group) at the end."""

    def __init__(self, *args):
        lib.Portier._count += 1
        n = lib.Portier._count
        self.conf = "portier expose " + " ".join(args)
        self.stderr_path = os.path.join(tmpdir(), f"expose{n}.stderr")
        self.stdout_path = os.path.join(tmpdir(), f"expose{n}.stdout")
        cmd = [portier_path(), "expose", *args]
        info("$ " + " ".join(cmd))
        with open(self.stderr_path, "wb") as err, \
                open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, cwd=tmpdir())
        lib._portiers.append(self)
        at_cleanup(self.stop)

    def wait_banner(self, timeout=10.0):
        """Wait for the end of what expose prints when it runs; False when
        it exits instead."""
        def printed():
            return "Ctrl-C stops it." in self.stdout() or not self.running()
        wait_until(printed, timeout)
        if not self.running():
            return False
        if "Ctrl-C stops it." not in self.stdout():
            raise TestFailure(f"portier expose printed no banner in "
                              f"{timeout} s:\n{self.stdout()}")
        return True

    def urls(self):
        """The URLs of the banner, in order."""
        lines = self.stdout().split("\n")
        start = next(i for i, line in enumerate(lines)
                     if line.endswith(" is open at"))
        out = []
        for line in lines[start + 1:]:
            if not line.startswith("  "):
                break
            out.append(line.strip())
        return out

    def dump_log(self):
        """Print stdout and stderr, so that a failure can be understood."""
        print(f"\n-- stdout of {self.conf} (pid {self.pid}) --")
        print(self.stdout().rstrip())
        super().dump_log()


def start_expose(listen, *args):
    """Start `portier expose` with the options listen() returns, then
    args, and wait for its banner; returns it and those options. When a
    port it found free is taken before it binds it (by a test running in
    parallel), it is started again with new options."""
    for attempt in range(1, 4):
        options = listen()
        e = Expose(*options, *args)
        if e.wait_banner():
            return e, options
        taken = e.proc.returncode == 2 and "already in use" in e.log()
        if not taken or attempt == 3:
            raise TestFailure(f"portier expose exited with status "
                              f"{e.proc.returncode}:\n{e.log()}")
        info("a port it found free was taken meanwhile; starting it again")


def fetch(url, headers=(), ctx=None):
    """GET url on a new connection (over TLS with ctx, which checks the
    host name, for https); its Response."""
    u = urllib.parse.urlsplit(url)
    raw = socket.create_connection((u.hostname, u.port), timeout=10)
    at_cleanup(raw.close)
    sock = raw
    if u.scheme == "https":
        sock = ctx.wrap_socket(raw, server_hostname=u.hostname)
    target = u.path + ("?" + u.query if u.query else "")
    sock.sendall(request("GET", target or "/", u.netloc,
                         [*headers, "Connection: close"]))
    resp = read_response(Reader(sock))
    sock.close()
    if resp is None:
        raise TestFailure(f"{url}: the connection closed with no response")
    return resp


def basic(user, password):
    """An Authorization field for HTTP basic authentication."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}"


def hold_port(host, port):
    """A python process listening on (host, port); returns (its Popen,
    its program name as /proc shows it)."""
    proc = spawn([sys.executable, "-c", HOLDER, host, str(port)])
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise TestFailure(f"the process meant to hold port {port} did not "
                          "start")
    with open(f"/proc/{proc.pid}/comm") as f:
        comm = f.read().strip()
    info(f"pid {proc.pid} ({comm}) listens on {lib.fmt_addr(host, port)}")
    return proc, comm


def names_address(message, port):
    """True when `message` names an address with `port` before it says
    "already in use": the address that could not be bound, not only the
    holder's socket that may follow."""
    m = re.search(r"(\S+):(\d+): address already in use", message)
    return m is not None and int(m.group(2)) == port


def end(proc):
    """Kill a process that spawn() started, now."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# --- the checks ------------------------------------------------------------


class Test:
    """The checks, with what the environment allows: `lan4` and `lan6`
    when the LAN addresses of the namespace exist."""

    def __init__(self, lan4, lan6):
        self.lan4 = lan4
        self.lan6 = lan6
        self.skipped = []

    def listen(self):
        """The --listen options: none (the default *:8080) in the
        namespace, an ephemeral loopback port elsewhere."""
        if self.lan4:
            return []
        return ["--listen", f"{LOOPBACK4}:{free_port()}"]

    def expected_urls(self, port, scheme="http"):
        """The URLs expose should print for a site on `port`."""
        urls = [f"{scheme}://localhost:{port}/"]
        if self.lan4:
            urls.append(f"{scheme}://{LAN4}:{port}/")
        if self.lan6:
            urls.append(f"{scheme}://[{LAN6}]:{port}/")
        return urls

    def skipping(self, what):
        info(f"SKIPPED: {what}")
        self.skipped.append(what)

    def main_url(self, e):
        """The LAN IPv4 URL of e, or its localhost one outside the
        namespace."""
        return e.urls()[1 if self.lan4 else 0]

    def site_port(self, args):
        """The port of the site that `args` (from listen()) asks for."""
        return int(args[1].rsplit(":", 1)[1]) if args else HTTP_PORT

    def urls_answer(self):
        step("no configuration file: every URL printed answers 200 from "
             "the backend")
        app = EchoBackend("app")
        e, args = start_expose(self.listen, str(app.port))
        urls = e.urls()
        for url in urls:
            info(f"printed: {url}")
        check_equal(urls, self.expected_urls(self.site_port(args)),
                    "the URLs printed: localhost" +
                    (" and the LAN addresses" if self.lan4 else ""))
        if not self.lan4:
            check("Only this machine can open it (listening on loopback)."
                  in e.stdout(), "it says only this machine can open it")
        for url in urls:
            resp = fetch(url)
            check(resp.status == 200 and resp.json()["name"] == "app",
                  f"{url} answers 200 from the backend", repr(resp))
        e.stop()
        return e, urls

    def qr_code(self, e, urls):
        step("the QR code decodes to the first LAN URL")
        if not self.lan4:
            self.skipping("the QR code (no LAN address outside a network "
                          "namespace)")
            return
        check(f"Scan with a phone on the same network to open {urls[1]}:"
              in e.stdout(), f"the text above the QR code names {urls[1]}")
        check_equal(decode_terminal_qr(e.stdout()), urls[1],
                    "zbarimg reads exactly the first LAN URL")

    def port_taken(self):
        step("a taken port: expose says who holds it")
        app = EchoBackend("app")
        if self.lan4:
            holder, comm = hold_port("::", HTTP_PORT)
            pid = holder.pid
            e, _ = start_expose(lambda: [], str(app.port))
            line = e.wait_log("trying port 8081", timeout=0)
            check(line is not None, "expose says 8080 is taken and tries "
                  "8081", e.log())
            info(f"stderr: {line}")
            check(str(pid) in line and comm in line,
                  f"the line names the holder: pid {pid} ({comm})")
            check(names_address(line, HTTP_PORT),
                  f"the line names the address of port {HTTP_PORT} it "
                  "could not bind")
            check_equal(e.urls(), self.expected_urls(HTTP_PORT + 1),
                        "the URLs printed use 8081")
            resp = fetch(f"http://{LAN4}:{HTTP_PORT + 1}/")
            check_equal(resp.status, 200, "a LAN request on 8081 is "
                        "answered")
            e.stop()
            listen, port = f"*:{HTTP_PORT}", HTTP_PORT
        else:
            self.skipping("moving from a taken 8080 to 8081 (needs a "
                          "network namespace)")
            port = free_port()
            holder, comm = hold_port(LOOPBACK4, port)
            pid = holder.pid
            listen = f"{LOOPBACK4}:{port}"
        done = run_portier("expose", "--listen", listen, str(app.port))
        info(f"stderr: {done.stderr.strip()}")
        check_equal(done.returncode, 2, f"--listen {listen} (taken) exits "
                    "with status 2")
        check(str(pid) in done.stderr and comm in done.stderr,
              f"the message names the holder: pid {pid} ({comm})")
        check(names_address(done.stderr, port),
              f"the message names the address of port {port} it could "
              "not bind")
        end(holder)

    def backend_late(self):
        step("a backend not answering yet: a warning, then requests "
             "succeed once it is up")
        port = free_port()
        e, _ = start_expose(self.listen, str(port))
        line = e.wait_log("nothing answers", timeout=3)
        check(line is not None, "stderr warns that nothing answers on the "
              "backend", e.log())
        info(f"stderr: {line}")
        check(str(port) in line, "the warning names the backend's port")
        url = self.main_url(e)
        resp = fetch(url)
        info(f"before the backend starts: {resp.status_line}")
        check(e.running(), "expose keeps running")
        EchoBackend("late", port=port)

        def answered():
            r = fetch(url)
            return r if r.status == 200 else None
        resp = wait_until(answered, 5, interval=0.2)
        check(resp is not None and resp.json()["name"] == "late",
              f"once the backend is up, {url} answers 200 from it")
        e.stop()

    def backend_v6_only(self):
        step("a backend on [::1] only: a bare port reaches it, "
             "127.0.0.1:PORT says where it is")
        if not lib.have_ipv6():
            self.skipping("a backend on [::1] only (no IPv6 loopback)")
            return
        app = EchoBackend("v6", host=LOOPBACK6)
        e, _ = start_expose(self.listen, str(app.port))
        for line in e.log_lines("nothing answers"):
            info(f"stderr: {line}")
        check(not e.log_lines("nothing answers"), "no warning that nothing "
              "answers", e.log())
        url = self.main_url(e)
        resp = fetch(url)
        check(resp.status == 200 and resp.json()["name"] == "v6",
              f"{url} answers 200 from the backend on [::1]", repr(resp))
        e.stop()
        e, _ = start_expose(self.listen, f"{LOOPBACK4}:{app.port}")
        line = e.wait_log("nothing answers", timeout=3)
        check(line is not None, f"{LOOPBACK4}:{app.port}: a warning that "
              "nothing answers there", e.log())
        info(f"stderr: {line}")
        check(f"[::1]:{app.port}" in line and f"localhost:{app.port}" in
              line, f"it says [::1]:{app.port} answers and names "
              f"localhost:{app.port}")
        e.stop()

    def bad_options(self):
        step("a wrong option or BACKEND: status 1, and the message names "
             "the option as typed")
        cases = [
            (["--listen", "127.0.0.1:70000"], "--listen 127.0.0.1:70000"),
            (["--listen", "garbage"], "--listen garbage"),
            (["--listen", "0"], "--listen 0"),
            (["70000"], "BACKEND 70000"),
            (["-n", "a.test", "-n", "..b"], "--name ..b"),
            (["--allow", "junk"], "--allow junk"),
            (["--allow", "10.0.0.0/8,junk"], "--allow 10.0.0.0/8,junk"),
            (["--auth", "a;b:pw-never-shown"], "--auth"),
        ]
        for args, said in cases:
            if args != ["70000"]:
                args = [*args, "5173"]
            done = run_portier("expose", *args)
            err = done.stderr.strip()
            info(f"stderr: {err}")
            check(done.returncode == 1 and
                  err.startswith(f"portier expose: {said}: ") and
                  re.search(r"portier expose:\d+:", err) is None,
                  f"{' '.join(args)}: status 1, \"portier expose: {said}: "
                  f"...\"", f"status {done.returncode}")
        check("pw-never-shown" not in done.stderr,
              "an --auth that is refused does not print its password",
              done.stderr)

    def names_twice(self):
        step("--name given twice, or naming an address expose adds "
             "itself: it starts")
        app = EchoBackend("app")
        e, _ = start_expose(self.listen, "-n", "127.0.0.1", "-n", "[::1]",
                            "-n", "app.test", "-n", "APP.test",
                            str(app.port))
        url = self.main_url(e)
        resp = fetch(url)
        check(resp.status == 200 and resp.json()["name"] == "app",
              f"{url} answers 200 from the backend", repr(resp))
        check_equal(len([u for u in e.urls() if "app.test" in u.lower()]),
                    1, "app.test is printed once")
        e.stop()

    def root_advice(self, e):
        step("as root: advice that applies to expose")
        if os.geteuid() != 0:
            self.skipping("the advice to root (not running as root)")
            return
        for line in e.log_lines("root"):
            info(f"stderr: {line}")
        check(not e.log_lines("[global]"), "no advice about [global], "
              "which expose does not have", e.log())
        port = int(urllib.parse.urlsplit(e.urls()[0]).port)
        line = e.wait_log("running as root", timeout=0)
        check(line is not None and str(port) in line and "own user" in line,
              f"a warning that port {port} does not need root", e.log())

    def listen_localhost(self):
        step("--listen localhost:PORT: the banner prints its URL")
        app = EchoBackend("app")
        e, args = start_expose(
            lambda: ["--listen", f"localhost:{free_port('localhost')}"],
            str(app.port))
        url = f"http://localhost:{self.site_port(args)}/"
        check_equal(e.urls(), [url], "the URL printed")
        resp = fetch(url)
        check(resp.status == 200 and resp.json()["name"] == "app",
              f"{url} answers 200 from the backend", repr(resp))
        e.stop()

    def auth(self):
        step("--auth: 401 without credentials, 200 with them; the "
             "password may hold ':', ';', '#' and spaces (it is hashed)")
        app = EchoBackend("app")
        password = "s3:c;r#e t"
        e, _ = start_expose(self.listen, "--auth", "ada:" + password,
                            str(app.port))
        urls = e.urls()
        if not self.lan6:
            self.skipping("--auth over the LAN IPv6 URL")
        for url in urls:
            resp = fetch(url)
            check_equal(resp.status, 401, f"{url} without credentials: 401")
            check("basic" in resp.headers.get("www-authenticate", "").lower(),
                  "   with WWW-Authenticate: Basic")
            resp = fetch(url, [basic("ada", "wrong")])
            check_equal(resp.status, 401, f"{url} with a wrong password: "
                        "401")
            resp = fetch(url, [basic("ada", password)])
            check(resp.status == 200 and resp.json()["name"] == "app",
                  f"{url} with the credentials: 200 from the backend",
                  repr(resp))
        e.stop()

    def host_header(self):
        step("--host-header backend: the backend receives its own address "
             "as Host")
        app = EchoBackend("app")
        own = f"{LOOPBACK4}:{app.port}"
        e, _ = start_expose(self.listen, "--host-header", "backend", own)
        for url in e.urls():
            resp = fetch(url)
            check_equal(resp.status, 200, f"{url} answers 200")
            check_equal(app.requests[-1].headers.get("host"), own,
                        "   the backend received Host: " + own)
        e.stop()

    def tls(self):
        step("--tls: the https URLs verify against the local CA, plain "
             "HTTP redirects and offers the CA")
        app = EchoBackend("app")
        e, args = start_expose(self.listen, "--tls", str(app.port))
        https_port = self.site_port(args) if args else HTTPS_PORT
        urls = e.urls()
        check_equal(urls, self.expected_urls(https_port, "https"),
                    "the https URLs printed")
        root = os.path.join(os.environ["XDG_STATE_HOME"], "portier",
                            "ca.pem")
        check(os.path.exists(root), "the local CA is under "
              "$XDG_STATE_HOME/portier")
        ctx = ssl.create_default_context(cafile=root)
        check(ctx.check_hostname, "the client checks the host name")
        for url in urls:
            resp = fetch(url, ctx=ctx)
            check(resp.status == 200 and resp.json()["name"] == "app",
                  f"{url} verifies and answers 200 from the backend",
                  repr(resp))
        m = re.search(r"open (http://\S+)/portier-ca on it", e.stdout())
        check(m is not None, "the banner says where a phone gets the CA",
              e.stdout())
        plain = m.group(1)
        if self.lan4:
            check_equal(plain, f"http://{LAN4}:{HTTP_PORT}",
                        "the CA page is on the LAN IPv4 address, port 8080")
        host = urllib.parse.urlsplit(plain).netloc.rsplit(":", 1)[0]
        resp = fetch(plain + "/some/page?x=1")
        check_equal((resp.status, resp.headers.get("location")),
                    (301, f"https://{host}:{https_port}/some/page?x=1"),
                    f"{plain}/some/page?x=1 redirects (301) to https")
        with open(root) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        resp = fetch(plain + "/portier-ca")
        check_equal(resp.status, 200, f"{plain}/portier-ca answers 200")
        check(resp.headers.get("content-type", "").startswith("text/html")
              and b"<html" in resp.body, "   with an HTML page")
        fingerprint = ":".join(f"{b:02X}" for b in
                               hashlib.sha256(der).digest())
        check(fingerprint.encode() in resp.body,
              "   that shows the root's SHA-256 fingerprint")
        resp = fetch(plain + "/portier-ca.der")
        check(resp.status == 200 and resp.body == der,
              f"{plain}/portier-ca.der is the root (DER)", repr(resp))
        e.stop()

    def new_address(self):
        step("--tls, then a LAN address added while it runs (a laptop on "
             "another network): the certificate names it within seconds, "
             "and expose says so; a removed one goes")
        if not self.lan4:
            self.skipping("a LAN address added while expose runs (no LAN "
                          "namespace)")
            return
        app = EchoBackend("app")
        e, args = start_expose(self.listen, "--tls", str(app.port))
        https_port = self.site_port(args) if args else HTTPS_PORT
        root = os.path.join(os.environ["XDG_STATE_HOME"], "portier",
                            "ca.pem")
        ctx = ssl.create_default_context(cafile=root)
        url = f"https://{NEW_LAN4}:{https_port}/"
        why = ip("addr", "add", NEW_LAN4 + "/24", "dev", LAN_IF)
        check(why is None, f"{NEW_LAN4} added to {LAN_IF}", why)
        at_cleanup(lambda: ip("addr", "del", NEW_LAN4 + "/24", "dev",
                              LAN_IF))
        line = e.wait_log("addresses changed", timeout=12)
        check(line is not None and NEW_LAN4 in line,
              f"expose says the addresses changed, naming {NEW_LAN4}",
              e.log())
        resp = fetch(url, ctx=ctx)
        check(resp.status == 200 and resp.json()["name"] == "app",
              f"{url} verifies against the local CA and answers 200",
              repr(resp))
        ip("addr", "del", NEW_LAN4 + "/24", "dev", LAN_IF)
        check(wait_until(lambda: len(e.log_lines("addresses changed")) == 2,
                         12), "its removal is seen too", e.log())
        with socket.create_connection((LAN4, https_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=LAN4) as conn:
                cert = conn.getpeercert()
        names = [v for k, v in cert.get("subjectAltName", ())]
        check(LAN4 in names and NEW_LAN4 not in names,
              f"the new certificate names {LAN4}, no longer {NEW_LAN4}",
              repr(names))
        e.stop()

    def vite_hint(self):
        step("a 403 from Vite's host check: one hint about "
             "server.allowedHosts")

        def blocked(req, conn):
            host = req.headers.get("host", "").rsplit(":", 1)[0]
            body = (VITE_BLOCKED % (host, host)).encode()
            return response_bytes(403, "Forbidden",
                                  ["Content-Type: text/plain"], body)
        vite = RawBackend(blocked)
        e, _ = start_expose(self.listen, str(vite.port))
        url = self.main_url(e)
        for _ in range(3):
            resp = fetch(url)
            check(resp.status == 403 and b"server.allowedHosts" in
                  resp.body, f"{url}: Vite's 403 reaches the client")
        line = e.wait_log("server.allowedHosts", timeout=3)
        check(line is not None, "expose prints a hint that mentions "
              "server.allowedHosts", e.log())
        info(f"stderr: {line}")
        check_equal(len(e.log_lines("server.allowedHosts")), 1,
                    "the hint is printed once for three 403s")
        e.stop()

        def later(split, bodies):
            """Vite's 403 with its body from byte `split` on sent 0.1 s
            after the rest; the bodies sent go to `bodies`."""
            def respond(req, conn):
                host = req.headers.get("host", "").rsplit(":", 1)[0]
                body = (VITE_BLOCKED % (host, host)).encode()
                out = response_bytes(403, "Forbidden",
                                     ["Content-Type: text/plain"], body)
                cut = len(out) - len(body) + split
                bodies.append(body)
                conn.sendall(out[:cut])
                time.sleep(0.1)
                conn.sendall(out[cut:])
                return b""
            return respond

        for what, split in (("its body in a later read than its head", 0),
                            ("'Blocked re' and 'quest' in two reads",
                             len("Blocked re"))):
            step(f"Vite's 403, {what}: the hint all the same")
            bodies = []
            vite = RawBackend(later(split, bodies))
            e, _ = start_expose(self.listen, str(vite.port))
            url = self.main_url(e)
            resp = fetch(url)
            check(resp.status == 403 and resp.body == bodies[-1],
                  f"{url}: the 403 reaches the client whole", repr(resp))
            line = e.wait_log("server.allowedHosts", timeout=3)
            check(line is not None, "expose prints the hint about "
                  "server.allowedHosts", e.log())
            e.stop()

    def sigint(self):
        step("SIGINT stops expose with status 0")
        app = EchoBackend("app")
        e, _ = start_expose(self.listen, str(app.port))
        check_equal(fetch(e.urls()[0]).status, 200, "a request is answered "
                    "(its connection closed since)")
        sigint_exits(e, 5, "expose exits within 5 s of SIGINT")

        step("SIGINT with a request in flight: expose says it waits up to "
             "10 s and that a second Ctrl-C stops it; the second stops it")
        silent = socket.socket()
        silent.bind((LOOPBACK4, 0))
        silent.listen()
        at_cleanup(silent.close)
        e, _ = start_expose(self.listen, str(silent.getsockname()[1]))
        url = urllib.parse.urlsplit(e.urls()[0])
        client = socket.create_connection((url.hostname, url.port),
                                          timeout=5)
        at_cleanup(client.close)
        if url.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            client = ctx.wrap_socket(client, server_hostname=url.hostname)
        client.sendall(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
        check(wait_until(lambda: established(e) == 2, 5),
              "the request reached the backend, which does not answer "
              "(portier holds the client's connection and the backend's)")
        e.send_signal(signal.SIGINT)
        line = e.wait_log("waiting up to 10 s", timeout=3)
        check(line is not None and "1 connection to finish" in line and
              "Ctrl-C or SIGTERM again closes it now" in line,
              "expose says what it waits for and how to stop at once",
              e.log())
        check(e.running(), "and it is still running")
        sigint_exits(e, 3, "a second SIGINT: it exits within 3 s")


def sigint_exits(e, seconds, what):
    """Send expose `e` SIGINT; check that it exits with status 0 within
    `seconds`."""
    started = time.monotonic()
    e.send_signal(signal.SIGINT)
    status = e.wait_exit(seconds)
    check(status is not None, what)
    info(f"exited after {time.monotonic() - started:.2f} s")
    check_equal(status, 0, "exit status 0")


def established(e):
    """The established TCP connections of portier process `e`, counted in
    /proc (its sockets found by inode)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{e.pid}/fd"):
        try:
            target = os.readlink(f"/proc/{e.pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                if cols[9] in inodes and cols[3] == "01":
                    count += 1
    return count


def main():
    for name in ("home", "state"):
        os.makedirs(os.path.join(tmpdir(), name))
    os.environ["HOME"] = os.path.join(tmpdir(), "home")
    os.environ["XDG_STATE_HOME"] = os.path.join(tmpdir(), "state")
    lan4 = lan6 = False
    if NETNS_FLAG in os.environ:
        step("a private network namespace with a LAN interface")
        lan4, lan6, why = setup_lan()
        have = [a for a, ok in ((LAN4, lan4), (LAN6, lan6)) if ok]
        info(f"lo is up; {LAN_IF}: {', '.join(have) or 'no address'}")
        if why:
            info(f"not all of the LAN: {why}")
    else:
        why = WHY_NO_NETNS
    t = Test(lan4, lan6)
    if not lan4:
        t.skipping(f"every LAN URL and the default port ({why}); the "
                   "checks use --listen 127.0.0.1:PORT")
    e, urls = t.urls_answer()
    t.qr_code(e, urls)
    t.root_advice(e)
    t.port_taken()
    t.backend_late()
    t.backend_v6_only()
    t.bad_options()
    t.names_twice()
    t.listen_localhost()
    t.auth()
    t.host_header()
    t.tls()
    t.new_address()
    t.vite_hint()
    t.sigint()
    if t.skipped:
        step("skipped")
        for what in t.skipped:
            info(what)


WHY_NO_NETNS = lib.enter_netns(NETNS_FLAG)
run(main)
