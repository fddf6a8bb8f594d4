# SPDX-License-Identifier: MIT
"""Headless Chromium for the functional tests that need a real browser.

`start_chromium()` runs Chromium headless with a fresh profile and its
DevTools port open; `Chromium.page()` connects to its page through the
DevTools protocol: a websocket (RFC 6455) spoken by the small client
`DevTools`, with python's standard library only. The client sends
commands and returns their results; the events that arrive meanwhile are
kept, for `wait_event()`.

With netlog=True the browser also writes its NetLog (what its network
stack did: TLS handshakes with their version and ALPN protocol...), read
with `Chromium.netlog()` once `Chromium.close()` has closed the browser.

The browser and every process it starts (its process group) are stopped
at the end of the test. `find_chromium()` returns None when there is no
browser, so that a test can skip (Debian: apt-get install chromium; or
set $PORTIER_CHROMIUM to a Chromium or Chrome binary).
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request

from lib import TestFailure, at_cleanup, check, info, tmpdir, wait_until

# The switches of a quiet headless browser that talks to nobody but the
# test: no first-run pages, no component or safe-browsing updates, no sync.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu",
    "--disable-dev-shm-usage", "--no-first-run",
    "--no-default-browser-check", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-breakpad",
    "--metrics-recording-only", "--password-store=basic",
    "--use-mock-keychain",
]


def find_chromium():
    """The browser binary, or None."""
    env = os.environ.get("PORTIER_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome",
                 "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class DevTools:
    """A DevTools protocol client over one websocket (RFC 6455): sends
    commands and returns their results; keeps the events received
    meanwhile in .events, as (method, params)."""

    def __init__(self, url, timeout=10.0):
        rest = url[len("ws://"):]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout)
        at_cleanup(self.sock.close)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise TestFailure("DevTools closed the websocket handshake")
            self.buf += data
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise TestFailure(f"DevTools refused the websocket: {head!r}")
        self.next_id = 0
        self.events = []

    def _recv_exactly(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise TestFailure("DevTools closed the websocket")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_text(self, text):
        payload = text.encode()
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _recv_message(self):
        """The next whole text message (fragments joined)."""
        parts = []
        while True:
            b0, b1 = self._recv_exactly(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._recv_exactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._recv_exactly(8))[0]
            mask = self._recv_exactly(4) if b1 & 0x80 else None
            data = self._recv_exactly(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0f
            if opcode == 0x8:
                raise TestFailure("DevTools closed the websocket")
            if opcode in (0x9, 0xa):
                continue  # ping, pong
            parts.append(data)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def send(self, method, **params):
        """Send a command without waiting for its result (one that may
        end the connection, such as Browser.close)."""
        self.next_id += 1
        self._send_text(json.dumps({"id": self.next_id, "method": method,
                                    "params": params}))

    def call(self, method, **params):
        """Run a command; return its result (raise on its error)."""
        self.send(method, **params)
        while True:
            msg = json.loads(self._recv_message())
            if "method" in msg and "id" not in msg:
                self.events.append((msg["method"], msg.get("params", {})))
                continue
            if msg.get("id") != self.next_id:
                continue
            if "error" in msg:
                raise TestFailure(f"DevTools {method}: {msg['error']}")
            return msg.get("result", {})

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise TestFailure(f"the page threw evaluating {expression!r}: "
                              f"{result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout, what):
        """Wait until the expression is truthy in the page."""
        value = wait_until(lambda: self.evaluate(expression), timeout,
                           interval=0.1)
        check(value, what, f"{expression} still false after {timeout} s")
        return value

    def find_events(self, method, predicate=None):
        """The params of the events `method` received so far (those for
        which predicate(params) is true, when given)."""
        return [p for m, p in self.events
                if m == method and (predicate is None or predicate(p))]

    def wait_event(self, method, predicate=None, timeout=10.0):
        """The params of the first event `method` (that satisfies
        predicate) received so far or within `timeout` s; None if none
        came. Events arrive while a command waits for its result, so this
        polls with a command that does nothing."""
        def found():
            seen = self.find_events(method, predicate)
            if not seen:
                self.call("Runtime.evaluate", expression="0")
                seen = self.find_events(method, predicate)
            return seen[0] if seen else None
        return wait_until(found, timeout, interval=0.05)


def group_alive(pgid):
    """True while a process of group pgid runs (zombies aside)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Chromium:
    """A headless Chromium with a fresh profile in the test's temp dir and
    its DevTools port open (.port). `env` is added to its environment
    (HOME, for instance), `args` to its command line. Its process group is
    killed by stop(), and at the end of the test."""

    _count = 0

    def __init__(self, binary, env=None, args=(), netlog=False):
        Chromium._count += 1
        name = f"chromium{Chromium._count}"
        profile = os.path.join(tmpdir(), f"{name}-profile")
        os.makedirs(profile)
        self.log_path = os.path.join(tmpdir(), f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.netlog_path = os.path.join(tmpdir(), f"{name}-netlog.json")
        if netlog:
            args = [*args, f"--log-net-log={self.netlog_path}"]
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               "--remote-debugging-port=0", *args, "about:blank"]
        info("$ " + " ".join(cmd))
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=self._log, start_new_session=True,
            env=dict(os.environ, **(env or {})))
        at_cleanup(self.stop)
        port_file = os.path.join(profile, "DevToolsActivePort")

        def active_port():
            if self.proc.poll() is not None:
                raise TestFailure(f"chromium exited with status "
                                  f"{self.proc.returncode}; see "
                                  f"{self.log_path}")
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                return int(first) if first else None
            except (OSError, ValueError):
                return None

        self.port = wait_until(active_port, 20.0, interval=0.1)
        if not self.port:
            raise TestFailure("chromium opened no DevTools port in 20 s")

    def _json(self, path):
        """A JSON document of the DevTools HTTP server, or None."""
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return json.load(r)
        except OSError:
            return None

    def page(self):
        """A DevTools client connected to the browser's page."""
        def page_url():
            for t in self._json("/json/list") or []:
                if t.get("type") == "page":
                    return t["webSocketDebuggerUrl"]
            return None

        url = wait_until(page_url, 10.0, interval=0.1)
        if not url:
            raise TestFailure("chromium shows no page target")
        return DevTools(url)

    def close(self):
        """Close the browser as a user would (Browser.close), so that it
        finishes its files (the NetLog), then stop() what is left."""
        version = self._json("/json/version")
        if version is None:
            raise TestFailure("chromium's DevTools server does not answer")
        browser = DevTools(version["webSocketDebuggerUrl"])
        browser.send("Browser.close")
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            info("chromium still runs 10 s after Browser.close")
        self.stop()

    def netlog(self, event_type):
        """The params of the events `event_type` (such as "SSL_CONNECT")
        in the NetLog of a browser started with netlog=True and closed.
        The file has the constants on its first line, then one event a
        line."""
        with open(self.netlog_path) as f:
            lines = f.read().splitlines()
        if not lines or not lines[0].startswith('{"constants":'):
            raise TestFailure(f"{self.netlog_path} is no NetLog")
        constants = json.loads(lines[0].rstrip(",") + "}")["constants"]
        wanted = constants["logEventTypes"].get(event_type)
        found = []
        for line in lines[1:]:
            line = line.rstrip().rstrip(",")
            if line.endswith("}]"):
                line = line[:-1]  # the last event closes the list
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut short by a browser that was killed
            if event.get("type") == wanted and "params" in event:
                found.append(event["params"])
        return found

    def stop(self):
        """Stop the browser and every process of its group; again is a
        no-op."""
        if self._log.closed:
            return
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Its helpers (zygote, renderers) are in the same group: wait
        # until the last of them is gone (or a zombie).
        deadline = time.monotonic() + 5
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            info(f"chromium {self.proc.pid} did not exit after SIGKILL")
        self._log.close()


def start_chromium(binary, env=None, args=(), netlog=False):
    """A started Chromium (see `Chromium`)."""
    return Chromium(binary, env=env, args=args, netlog=netlog)
