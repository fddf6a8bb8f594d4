# SPDX-License-Identifier: MIT
"""The admin server: /metrics, /status.json and the status page.

- After known traffic (5 requests to vhost app.test answered 200 and 2
  for an unknown host answered 404 on an http listener; a tcp connection
  refused by deny and one that echoes 1000 bytes; a TLS handshake that
  succeeds and one that fails; a connect to a backend where nothing
  listens), every counter of /metrics is exactly what that traffic makes,
  in a well-formed Prometheus text format (HELP and TYPE for every
  family, cumulative histogram buckets).
- /status.json lists the listeners, vhosts and backends of the
  configuration with those counts, the backends up or down, and the live
  connections: a tcp and an http keep-alive connection held open appear
  with their client address, listener, vhost and bytes, and disappear
  once closed; the tcp one's bytes reach the counters within a second or
  two while it is open, and are not counted again at its close.
- Reloads are counted, refused ones apart; counters go on across them;
  a new admin address waits for the next start (with a warning).
- The server answers GET and HEAD only (405), / with the page (no
  address outside this server in it), 404 elsewhere, and 403 for a Host
  that does not name this machine. A client that is not on loopback gets
  403 too; that cannot be shown from loopback, where every test runs.
- An admin address already in use stops the start with status 2, as a
  listener's does.
- With several workers, the connections of each are listed and their
  counters summed.
"""

import json
import re
import signal
import socket

from httptest import EchoBackend, Conn, http_listener, request, vhost
from lib import (LOOPBACK4, Server, TestFailure, check, check_equal, connect,
                 echo, echo_ok, fmt_addr, free_port, info, run, run_portier,
                 section, start_portier, step, tcp_listener, wait_until,
                 write_file)
import tlstest

# A sample line of the text format: name{labels} value.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def http_get(port, path, host=None, method="GET", timeout=5.0):
    """One request to the admin server; (status, headers dict, body)."""
    with socket.create_connection((LOOPBACK4, port), timeout=timeout) as s:
        s.sendall(request(method, path, host or f"127.0.0.1:{port}"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def parse_metrics(text):
    """{(name, frozenset of labels)}: value, checking the format: every
    sample belongs to a family announced by HELP and TYPE before it."""
    families = {}
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) != 4:
                raise TestFailure(f"/metrics: malformed line {line!r}")
            families.setdefault(parts[2], {})[parts[1]] = parts[3]
            continue
        m = SAMPLE.match(line)
        if not m:
            raise TestFailure(f"/metrics: malformed line {line!r}")
        name, labels = m.group(1), {}
        if m.group(3):
            pos = 0
            while pos < len(m.group(3)):
                lm = LABEL.match(m.group(3), pos)
                if not lm:
                    raise TestFailure(f"/metrics: bad labels in {line!r}")
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in families and family not in families:
            raise TestFailure(f"/metrics: {name} has no HELP/TYPE")
        fam = families.get(name) or families[family]
        if "HELP" not in fam or "TYPE" not in fam:
            raise TestFailure(f"/metrics: {name} lacks HELP or TYPE")
        samples[(name, frozenset(labels.items()))] = float(m.group(4))
    for name, fam in families.items():
        if fam.get("TYPE") == "counter" and not name.endswith("_total"):
            raise TestFailure(f"/metrics: counter {name} does not end in "
                              "_total")
    return samples, families


def metric(samples, name, **labels):
    """The value of one sample, or None."""
    return samples.get((name, frozenset(labels.items())))


class Setup:
    """portier with an http, a tcp, a tls and a dead-end listener and the
    admin server, with their backends."""

    def __init__(self, pki):
        self.app = EchoBackend("app")
        self.echo = Server(echo)
        self.dead_port = free_port()
        self.pki = pki
        self.conf_text = None

        def config():
            self.admin = free_port()
            self.web = free_port()
            self.fwd = free_port()
            self.tls = free_port()
            self.dead = free_port()
            self.conf_text = (
                section("global", admin=fmt_addr(LOOPBACK4, self.admin))
                + http_listener("web", fmt_addr(LOOPBACK4, self.web))
                + tcp_listener("fwd", fmt_addr(LOOPBACK4, self.fwd),
                               self.echo.addr, deny="127.0.0.2")
                + tcp_listener("secure", fmt_addr(LOOPBACK4, self.tls),
                               self.echo.addr, tls="on",
                               tls_cert=pki.chain["secure.test"],
                               tls_key=pki.key["secure.test"])
                + tcp_listener("dead", fmt_addr(LOOPBACK4, self.dead),
                               fmt_addr(LOOPBACK4, self.dead_port))
                + vhost("app.test", backend=self.app.addr,
                        listener="web"))
            return self.conf_text

        self.portier = start_portier(config)

    def get(self, path, **kwargs):
        return http_get(self.admin, path, **kwargs)

    def metrics(self):
        status, headers, body = self.get("/metrics")
        check_equal(status, 200, "/metrics answers 200")
        return parse_metrics(body.decode())

    def status(self):
        status, headers, body = self.get("/status.json")
        if status != 200:
            raise TestFailure(f"/status.json answered {status}")
        return json.loads(body)


def make_traffic(p):
    step("known traffic")
    c = Conn(LOOPBACK4, p.web)
    for _ in range(3):
        check_equal(c.exchange(request("GET", "/", "app.test")).status, 200,
                    "app.test answers 200 (keep-alive connection)")
    c.close()
    for _ in range(2):
        c = Conn(LOOPBACK4, p.web)
        check_equal(c.exchange(request("GET", "/x", "app.test")).status,
                    200, "app.test answers 200 (a connection each)")
        c.close()
    for _ in range(2):
        c = Conn(LOOPBACK4, p.web)
        check_equal(c.exchange(request("GET", "/", "nope.test")).status,
                    404, "an unknown host answers 404")
        c.close()
    s = connect(LOOPBACK4, p.fwd, source="127.0.0.2")
    s.settimeout(3)
    check(s.recv(10) == b"", "a client in deny is closed at once")
    s.close()
    s = connect(LOOPBACK4, p.fwd)
    check(echo_ok(s, b"x" * 1000), "tcp listener echoes 1000 bytes")
    s.close()
    err = tlstest.handshake_error(p.tls, sni="secure.test", pki=p.pki)
    check(err is None, "a TLS handshake succeeds", repr(err))
    s = connect(LOOPBACK4, p.tls)
    s.sendall(b"GET / HTTP/1.1\r\nHost: secure.test\r\n\r\n")
    s.settimeout(3)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
    info("plain HTTP sent to the TLS listener: its handshake fails")
    s = connect(LOOPBACK4, p.dead)
    s.settimeout(3)
    try:
        check(s.recv(10) == b"", "a connection to a dead backend closes")
    except ConnectionResetError:
        pass
    s.close()


def test_metrics(p):
    step("/metrics after the traffic")
    expected = {
        ("portier_http_requests_total",
         (("listener", "web"), ("vhost", "app.test"), ("code", "2xx"))): 5,
        ("portier_http_requests_total",
         (("listener", "web"), ("vhost", ""), ("code", "4xx"))): 2,
        ("portier_http_requests_total",
         (("listener", "web"), ("vhost", "app.test"), ("code", "4xx"))): 0,
        ("portier_http_requests_total",
         (("listener", "web"), ("vhost", "app.test"), ("code", "5xx"))): 0,
        ("portier_connections_accepted_total", (("listener", "web"),)): 5,
        ("portier_connections_accepted_total", (("listener", "fwd"),)): 1,
        ("portier_connections_accepted_total", (("listener", "secure"),)):
            2,
        ("portier_connections_accepted_total", (("listener", "dead"),)): 1,
        ("portier_connections_refused_total",
         (("listener", "fwd"), ("reason", "acl"))): 1,
        ("portier_connections_refused_total",
         (("listener", "fwd"), ("reason", "limit"))): 0,
        ("portier_connections_active", (("listener", "fwd"),)): 0,
        ("portier_connections_active", (("listener", "web"),)): 0,
        ("portier_received_bytes_total", (("listener", "fwd"),)): 1000,
        ("portier_sent_bytes_total", (("listener", "fwd"),)): 1000,
        ("portier_tls_handshakes_total", (("listener", "secure"),)): 1,
        ("portier_tls_handshake_failures_total",
         (("listener", "secure"),)): 1,
        ("portier_http_request_duration_seconds_count",
         (("listener", "web"),)): 7,
        ("portier_http_request_duration_seconds_bucket",
         (("listener", "web"), ("le", "+Inf"))): 7,
        ("portier_backend_connect_failures_total",
         (("backend", fmt_addr(LOOPBACK4, p.dead_port)),)): 1,
        ("portier_backend_up",
         (("backend", fmt_addr(LOOPBACK4, p.dead_port)),)): 0,
        ("portier_backend_up", (("backend", p.app.addr),)): 1,
        ("portier_backend_up", (("backend", p.echo.addr),)): 1,
        ("portier_reloads_total", ()): 0,
    }

    def current():
        samples, _ = p.metrics()
        return {k: metric(samples, k[0], **dict(k[1])) for k in expected}

    # Counters of closed connections change as portier sees them close.
    values = wait_until(lambda: (lambda v: v if v == expected else None)(
        current()), 5.0) or current()
    for key, want in expected.items():
        labels = ",".join(f'{k}="{v}"' for k, v in key[1])
        check_equal(values[key], want, f"{key[0]}{{{labels}}} is {want}")
    samples, families = p.metrics()
    check_equal(families["portier_http_request_duration_seconds"]["TYPE"],
                "histogram", "the request duration is a histogram")
    buckets = sorted(
        (float("inf") if dict(k[1])["le"] == "+Inf" else
         float(dict(k[1])["le"]), v)
        for k, v in samples.items()
        if k[0] == "portier_http_request_duration_seconds_bucket"
        and dict(k[1]).get("listener") == "web")
    check(len(buckets) >= 10 and all(
        a[1] <= b[1] for a, b in zip(buckets, buckets[1:])),
        "histogram buckets are cumulative", repr(buckets))
    app_in = metric(samples, "portier_vhost_received_bytes_total",
                    listener="web", vhost="app.test")
    app_out = metric(samples, "portier_vhost_sent_bytes_total",
                     listener="web", vhost="app.test")
    check(app_in > 5 * 30 and app_out > 5 * 100,
          "bytes in and out of app.test are counted",
          f"in {app_in}, out {app_out}")
    web_in = metric(samples, "portier_received_bytes_total", listener="web")
    nope_in = metric(samples, "portier_vhost_received_bytes_total",
                     listener="web", vhost="")
    check_equal(web_in, app_in + nope_in,
                "the listener's bytes are the sum of its vhosts'")


def test_status(p):
    step("/status.json")
    s = p.status()
    names = [l["name"] for l in s["listeners"]]
    check_equal(names, ["web", "fwd", "secure", "dead"],
                "listeners in file order")
    web = s["listeners"][0]
    check_equal((web["mode"], web["requests"],
                 web["requests_by_class"]["2xx"],
                 web["requests_by_class"]["4xx"]), ("http", 7, 5, 2),
                "listener web: mode and requests by class")
    fwd = s["listeners"][1]
    check_equal((fwd["accepted"], fwd["refused_acl"], fwd["bytes_in"],
                 fwd["bytes_out"]), (1, 1, 1000, 1000),
                "listener fwd: accepted, refused, bytes")
    secure = s["listeners"][2]
    check_equal((secure["tls"], secure["tls_handshakes"],
                 secure["tls_failures"]), ("on", 1, 1),
                "listener secure: TLS handshakes and failures")
    check_equal([(v["name"], v["requests"], v["listeners"])
                 for v in s["vhosts"]], [("app.test", 5, ["web"])],
                "vhost app.test with its requests and listener")
    backends = {b["address"]: b for b in s["backends"]}
    dead = backends.get(fmt_addr(LOOPBACK4, p.dead_port))
    check(dead is not None and dead["up"] is False and
          dead["failures"] == 1 and dead["last_error"] != "",
          "the dead backend is down, with its error", repr(dead))
    app = backends.get(p.app.addr)
    check(app is not None and app["up"] is True and
          app["used_by"] == ["vhost app.test"],
          "app.test's backend is up", repr(app))
    echo_backend = backends.get(p.echo.addr)
    check(echo_backend is not None and echo_backend["used_by"] ==
          ["listener fwd", "listener secure"],
          "the echo backend is listed once, with both its listeners",
          repr(echo_backend))
    t = s["totals"]
    check_equal((t["requests"], t["refused_acl"], t["tls_failures"],
                 t["backend_failures"]), (7, 1, 1, 1),
                "totals: requests, refused, TLS failures, backend failures")


def find_conn(p, client, listener):
    for c in p.status()["connections"]:
        if c["client"] == client and c["listener"] == listener:
            return c
    return None


def test_live(p):
    step("live connections appear and disappear; the bytes of one held "
         "open are counted while it lasts")
    before = p.metrics()[0]
    s = connect(LOOPBACK4, p.fwd)
    check(echo_ok(s, b"y" * 300), "a tcp connection held open echoes")
    want = metric(before, "portier_received_bytes_total", listener="fwd") \
        + 300
    check(wait_until(lambda: metric(p.metrics()[0],
                                    "portier_received_bytes_total",
                                    listener="fwd") == want, 3.0),
          "   its 300 bytes are in the listener's counter before it "
          "closes")
    client = fmt_addr(*s.getsockname()[:2])
    c = wait_until(lambda: find_conn(p, client, "fwd"), 3.0)
    check(c is not None, f"{client} on listener fwd is listed")
    info(f"listed: {c}")
    check_equal((c["backend"], c["state"], c["bytes_in"], c["bytes_out"]),
                (p.echo.addr, "relaying", 300, 300),
                "its backend, state and bytes")
    check(0 <= c["age"] < 10, "its age is sensible", repr(c["age"]))
    h = Conn(LOOPBACK4, p.web)
    check_equal(h.exchange(request("GET", "/", "app.test")).status, 200,
                "an http keep-alive connection held open")
    hclient = fmt_addr(*h.sock.getsockname()[:2])
    hc = wait_until(lambda: find_conn(p, hclient, "web"), 3.0)
    check(hc is not None and hc["vhost"] == "app.test" and
          hc["backend"] == p.app.addr and hc["bytes_out"] > 0,
          f"{hclient} on listener web is listed with vhost app.test",
          repr(hc))
    st = p.status()
    check(st["connections_total"] >= 2 and
          st["connections_left_out"] == 0 and not st["connections_stale"],
          "the count of connections", repr({k: st[k] for k in st
                                            if k.startswith("conn")
                                            and k != "connections"}))
    s.close()
    h.close()
    gone = wait_until(lambda: find_conn(p, client, "fwd") is None and
                      find_conn(p, hclient, "web") is None, 3.0)
    check(gone, "both are gone from the list once closed")
    check_equal(metric(p.metrics()[0], "portier_received_bytes_total",
                       listener="fwd"), want,
                "   and counted once, not again at the close")


def test_server(p):
    step("the admin server's answers")
    status, headers, body = p.get("/")
    check_equal(status, 200, "/ answers 200")
    check(headers.get("content-type", "").startswith("text/html"),
          "/ is HTML")
    csp = headers.get("content-security-policy", "")
    check("default-src 'none'" in csp and "connect-src 'self'" in csp,
          "the page may load nothing from elsewhere (CSP)", csp)
    urls = re.findall(rb"(?:https?:)?//[a-zA-Z0-9.-]+", body)
    check_equal(urls, [], "the page names no other server")
    check_equal(headers.get("connection"), "close",
                "one response per connection")
    status, headers, body = p.get("/metrics", method="HEAD")
    check_equal((status, body), (200, b""), "HEAD /metrics: no body")
    check(headers.get("content-type", "").startswith(
        "text/plain; version=0.0.4"), "text format 0.0.4")
    status, headers, _ = p.get("/metrics", method="POST")
    check_equal((status, headers.get("allow")), (405, "GET, HEAD"),
                "POST answers 405 with Allow")
    check_equal(p.get("/nothing")[0], 404, "an unknown path answers 404")
    status, _, body = p.get("/status.json", host="attacker.example")
    check_equal(status, 403, "a Host that is not this machine: 403")
    info(body.decode().strip())
    check_equal(p.get("/status.json", host="localhost")[0], 200,
                "Host localhost is fine")


def test_reload(p):
    step("reloads are counted")
    p.portier.send_signal(signal.SIGHUP)
    check(p.portier.wait_log("configuration reloaded") is not None,
          "a reload of the same file took effect")
    with open(p.portier.conf, "w") as f:
        f.write(p.conf_text + "[listener broken]\nmode = nonsense\n")
    p.portier.send_signal(signal.SIGHUP)
    check(p.portier.wait_log("the running configuration stays")
          is not None, "a broken file is refused")
    moved = fmt_addr(LOOPBACK4, free_port())
    with open(p.portier.conf, "w") as f:
        f.write(p.conf_text.replace(fmt_addr(LOOPBACK4, p.admin), moved))
    p.portier.send_signal(signal.SIGHUP)
    check(p.portier.wait_log("admin changes at the next start")
          is not None, "a new admin address waits for the next start")
    check(wait_until(lambda: len(p.portier.log_lines(
        "configuration reloaded")) == 2, 3.0), "the rest took effect")
    samples, _ = p.metrics()
    check_equal((metric(samples, "portier_reloads_total"),
                 metric(samples, "portier_reload_failures_total")),
                (2.0, 1.0), "two reloads and one refusal counted, and the "
                "admin server still answers where it was")
    c = Conn(LOOPBACK4, p.web)
    check_equal(c.exchange(request("GET", "/", "app.test")).status, 200,
                "one more request after the reload")
    c.close()
    samples, _ = wait_until(lambda: (lambda m: m if metric(
        m[0], "portier_http_requests_total", listener="web",
        vhost="app.test", code="2xx") == 7 else None)(p.metrics()), 3.0) \
        or p.metrics()
    check_equal(metric(samples, "portier_http_requests_total",
                       listener="web", vhost="app.test", code="2xx"), 7,
                "counters go on across the reload (5 + 1 live + 1)")


def test_port_in_use():
    step("an admin address in use stops the start (status 2)")
    holder = socket.socket()
    holder.bind((LOOPBACK4, 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        conf = write_file("in-use.ini", section(
            "global", admin=fmt_addr(LOOPBACK4, port)) + tcp_listener(
            "x", fmt_addr(LOOPBACK4, free_port()), "127.0.0.1:9"))
        result = run_portier("-c", conf, timeout=10)
        check_equal(result.returncode, 2, "portier exits with status 2")
        check("(admin)" in result.stderr and "in use" in result.stderr,
              "it says the admin address is in use", result.stderr.strip())
    finally:
        holder.close()


def test_workers():
    step("workers = 3: every worker's connections are listed and counted")
    backend = Server(echo)
    ports = {}

    def config():
        ports["admin"], ports["fwd"] = free_port(), free_port()
        return (section("global", workers=3,
                        admin=fmt_addr(LOOPBACK4, ports["admin"]))
                + tcp_listener("fwd", fmt_addr(LOOPBACK4, ports["fwd"]),
                               backend.addr))

    start_portier(config)
    held = [connect(LOOPBACK4, ports["fwd"]) for _ in range(12)]
    check(all(echo_ok(s) for s in held), "12 connections echo")
    clients = {fmt_addr(*s.getsockname()[:2]) for s in held}

    def listed():
        status, _, body = http_get(ports["admin"], "/status.json")
        st = json.loads(body)
        return st if {c["client"] for c in st["connections"]} >= clients \
            else None

    st = wait_until(listed, 3.0)
    check(st is not None, "all 12 are listed")
    check(not st["connections_stale"], "every worker answered in time")
    for s in held:
        s.close()
    status, _, body = http_get(ports["admin"], "/metrics")
    samples, _ = parse_metrics(body.decode())
    check_equal(metric(samples, "portier_connections_accepted_total",
                       listener="fwd"), 12,
                "accepted connections summed over the workers")
    gone = wait_until(lambda: json.loads(http_get(
        ports["admin"], "/status.json")[2])["connections"] == [], 3.0)
    check(gone, "none is listed once all are closed")


def main():
    pki = tlstest.make_pki(["secure.test"])
    p = Setup(pki)
    make_traffic(p)
    test_metrics(p)
    test_status(p)
    test_live(p)
    test_server(p)
    test_reload(p)
    test_port_in_use()
    test_workers()


if __name__ == "__main__":
    run(main)
