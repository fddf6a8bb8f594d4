# SPDX-License-Identifier: MIT
"""The status page in a real browser: headless Chromium.

The page is loaded from the admin server and watched through the DevTools
protocol (a websocket to Chromium's --remote-debugging-port, spoken by a
small client here, with python's standard library only):

- the page draws itself from /status.json (its state says "live") and
  shows the backend of a tcp listener as up;
- a connection held open to that listener appears in the page's table of
  live connections, with its client address, without the page being
  reloaded; once closed, it disappears;
- everything the page loaded came from the admin server itself.

Skipped (77) when no Chromium is installed (Debian: apt-get install
chromium; or set $PORTIER_CHROMIUM to a Chromium or Chrome binary).
Chromium and every process it starts are stopped at the end.
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

from lib import (LOOPBACK4, Server, TestFailure, at_cleanup, check,
                 check_equal, connect, echo, echo_ok, fmt_addr, free_port,
                 info, run, section, skip, start_portier, step,
                 tcp_listener, tmpdir, wait_until)


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
    commands, returns their results, and ignores events."""

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

    def call(self, method, **params):
        """Run a command; return its result (raise on its error)."""
        self.next_id += 1
        self._send_text(json.dumps({"id": self.next_id, "method": method,
                                    "params": params}))
        while True:
            msg = json.loads(self._recv_message())
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


def start_chromium(binary):
    """Headless Chromium with its DevTools port open; its process group is
    killed at the end. Returns the DevTools HTTP port."""
    profile = os.path.join(tmpdir(), "chromium-profile")
    os.makedirs(profile)
    log = open(os.path.join(tmpdir(), "chromium.log"), "wb")
    cmd = [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--no-first-run",
           "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-default-apps",
           "--disable-breakpad", "--metrics-recording-only",
           "--password-store=basic", "--use-mock-keychain",
           f"--user-data-dir={profile}", "--remote-debugging-port=0",
           "about:blank"]
    info("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, start_new_session=True)

    def stop():
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Its helpers (zygote, renderers) are in the same group: wait
        # until the last of them is gone (or a zombie).
        deadline = time.monotonic() + 5
        while group_alive(proc.pid) and time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        log.close()

    at_cleanup(stop)
    port_file = os.path.join(profile, "DevToolsActivePort")

    def active_port():
        if proc.poll() is not None:
            raise TestFailure(f"chromium exited with status "
                              f"{proc.returncode}; see {log.name}")
        try:
            with open(port_file) as f:
                first = f.readline().strip()
            return int(first) if first else None
        except (OSError, ValueError):
            return None

    port = wait_until(active_port, 20.0, interval=0.1)
    if not port:
        raise TestFailure("chromium opened no DevTools port in 20 s")
    return port


def page_websocket(port):
    """The DevTools websocket URL of the browser's page."""
    def page():
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
        except OSError:
            return None
        for t in targets:
            if t.get("type") == "page":
                return t["webSocketDebuggerUrl"]
        return None

    url = wait_until(page, 10.0, interval=0.1)
    if not url:
        raise TestFailure("chromium shows no page target")
    return url


def main():
    binary = find_chromium()
    if binary is None:
        skip("no Chromium found: install it (Debian: apt-get install "
             "chromium) or set PORTIER_CHROMIUM")
    backend = Server(echo)
    ports = {}

    def config():
        ports["admin"], ports["fwd"] = free_port(), free_port()
        return (section("global", admin=fmt_addr(LOOPBACK4, ports["admin"]))
                + tcp_listener("fwd", fmt_addr(LOOPBACK4, ports["fwd"]),
                               backend.addr))

    step("portier with the admin page, and headless Chromium")
    start_portier(config)
    origin = f"http://127.0.0.1:{ports['admin']}"
    # A first connection makes the backend known to be up.
    s = connect(LOOPBACK4, ports["fwd"])
    check(echo_ok(s), "a first connection echoes")
    s.close()
    devtools = DevTools(page_websocket(start_chromium(binary)))
    devtools.call("Page.enable")
    devtools.call("Page.navigate", url=origin + "/")
    devtools.wait_for("document.readyState === 'complete' && "
                      "location.href.startsWith('" + origin + "')", 10.0,
                      "the page loaded")

    step("the page draws itself from /status.json")
    devtools.wait_for("!!document.querySelector('#state.live')", 10.0,
                      "the page says it is live")
    devtools.wait_for(
        "!!document.querySelector('#backends tr[data-backend=\""
        + backend.addr + "\"][data-up=\"true\"]')", 5.0,
        f"the backend {backend.addr} is shown up")
    check_equal(devtools.evaluate(
        "document.querySelector('#listeners tr[data-listener=\"fwd\"]')"
        " !== null"), True, "listener fwd is shown")

    step("a live connection appears, then disappears")
    s = connect(LOOPBACK4, ports["fwd"])
    check(echo_ok(s, b"z" * 2048), "a connection held open echoes")
    client = fmt_addr(*s.getsockname()[:2])
    row = "document.querySelector('#connections tr[data-client=\"" + \
        client + "\"]')"
    started = time.monotonic()
    devtools.wait_for(row + " !== null", 8.0,
                      f"{client} appears in the live connections")
    info(f"after {time.monotonic() - started:.1f} s: " +
         devtools.evaluate(row + ".innerText").replace("\t", " | "))
    check("fwd" in devtools.evaluate(row + ".innerText"),
          "its row names listener fwd")
    loads = devtools.evaluate("performance.getEntriesByType('navigation')"
                              ".length")
    s.close()
    started = time.monotonic()
    devtools.wait_for(row + " === null", 8.0,
                      f"{client} disappears once closed")
    info(f"after {time.monotonic() - started:.1f} s")
    check_equal(devtools.evaluate(
        "performance.getEntriesByType('navigation').length"), loads,
        "the page was not reloaded meanwhile")

    step("the page needs nothing but the admin server")
    urls = devtools.evaluate(
        "[location.href].concat(performance.getEntriesByType('resource')"
        ".map(function (e) { return e.name; }))")
    others = [u for u in urls if not u.startswith(origin + "/")]
    check_equal(others, [], "every resource came from " + origin)
    info(f"{len(urls)} loads, all from the admin server")


if __name__ == "__main__":
    run(main)
