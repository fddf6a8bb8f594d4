# SPDX-License-Identifier: MIT
"""HTTP mode: the header fields portier adds, removes and logs.

- X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded are
  added, once each;
- copies a client sends are removed, unless the client is in the
  listener's trusted_proxies: then X-Forwarded-For and Forwarded get the
  client appended, and its X-Forwarded-Proto and -Host are kept; any other
  X-Forwarded-* field (-Port, -Prefix...), X-Real-IP and True-Client-IP
  are removed or kept alike; Proxy (httpoxy) is removed from anyone;
- hop-by-hop fields (Connection and the fields it names, Keep-Alive, TE,
  Trailer, Proxy-*, Upgrade without an upgrade) are not forwarded, in
  either direction;
- access_log = PATH writes one line per request, combined or JSON, with
  the status, vhost, backend and byte counts; a client's strings are
  escaped.
"""

import json
import os
import re

from httptest import EchoBackend, HttpPortier, request
from lib import (check, check_equal, info, run, step, tmpdir, wait_until)

SPOOFED = ["X-Forwarded-For: 1.2.3.4", "x-forwarded-for: 5.6.7.8",
           "X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example",
           "Forwarded: for=1.2.3.4;proto=https"]
# Other X-Forwarded-* fields that frameworks believe (scheme, port, path
# prefix): removed like the others, kept from a trusted proxy.
SPOOFED_OTHER = ["X-Forwarded-Port: 443", "x-forwarded-prefix: /admin",
                 "X-Forwarded-Ssl: on", "X-FORWARDED-SERVER: evil",
                 "X-Forwarded-Ab: 14", "X-Real-IP: 1.2.3.4",
                 "true-client-ip: 1.2.3.4", "X_Real_IP: 5.6.7.8"]


def fields_of(got, name):
    """The values of the fields `name` the backend received."""
    return [v for n, v in got["headers"] if n.lower() == name]


def sent(p, listener, host="app.test", headers=(), source=None):
    """What the echo backend received for one GET."""
    c = p.conn(listener, source=source)
    resp = c.exchange(request("GET", "/h", host, headers))
    c.close()
    check(resp.status == 200, f"GET via {listener}: 200", repr(resp))
    return resp.json()


def check_forwarding(got, client, host, xff=None, proto=None, xhost=None,
                     forwarded=None):
    """One X-Forwarded-For, -Proto, -Host and Forwarded, with the values
    given (defaults: portier's own for this client and host)."""
    want = {
        "x-forwarded-for": xff or client,
        "x-forwarded-proto": proto or "http",
        "x-forwarded-host": xhost or host,
        "forwarded": forwarded or f'for={client};host="{host}";proto=http',
    }
    for name, value in want.items():
        check_equal(fields_of(got, name), [value], f"   {name}: {value}")


def test_forwarding():
    step("X-Forwarded-* and Forwarded: added; client copies removed "
         "unless the client is a trusted proxy")
    echo = EchoBackend("echo")
    p = HttpPortier({"web": {"backend": echo.addr},
                     "trust": {"backend": echo.addr,
                               "trusted_proxies": "127.0.0.1"}})

    info("plain request from 127.0.0.1")
    check_forwarding(sent(p, "web"), "127.0.0.1", "app.test")
    info("plain request from 127.0.0.2, Host with a port")
    check_forwarding(sent(p, "web", "app.test:8080", source="127.0.0.2"),
                     "127.0.0.2", "app.test:8080")
    info("untrusted client sends its own copies: removed")
    got = sent(p, "web", headers=SPOOFED + SPOOFED_OTHER)
    check_forwarding(got, "127.0.0.1", "app.test")
    for name in ("x-forwarded-port", "x-forwarded-prefix",
                 "x-forwarded-ssl", "x-forwarded-server", "x-forwarded-ab",
                 "x-real-ip", "true-client-ip", "x_real_ip"):
        check_equal(fields_of(got, name), [], f"   no {name}")
    info("Proxy (httpoxy): removed, from anyone")
    check_equal(fields_of(sent(p, "web", headers=["Proxy: http://evil:1"]),
                          "proxy"), [], "   untrusted client: no proxy")
    check_equal(fields_of(sent(p, "trust", headers=["Proxy: http://e:1"]),
                          "proxy"), [], "   trusted client: no proxy")
    check_equal(fields_of(sent(p, "web", headers=["X-Forwarded-: x",
                                                   "X-Forwardedx: y"]),
                          "x-forwarded-"), ["x"],
                "   X-Forwarded- with nothing after it is another field")
    info("trusted listener, client 127.0.0.2 not in trusted_proxies: "
         "removed")
    check_forwarding(sent(p, "trust", headers=SPOOFED, source="127.0.0.2"),
                     "127.0.0.2", "app.test")
    info("trusted client (127.0.0.1): kept, the client appended")
    got = sent(p, "trust", headers=SPOOFED + SPOOFED_OTHER)
    check_equal(fields_of(got, "x-forwarded-port"), ["443"],
                "   x-forwarded-port kept")
    check_equal(fields_of(got, "x-forwarded-prefix"), ["/admin"],
                "   x-forwarded-prefix kept")
    check_equal(fields_of(got, "x-real-ip"), ["1.2.3.4"],
                "   x-real-ip kept")
    check_forwarding(
        got, "127.0.0.1", "app.test",
        xff="1.2.3.4, 5.6.7.8, 127.0.0.1", proto="https",
        xhost="evil.example",
        forwarded='for=1.2.3.4;proto=https, for=127.0.0.1;'
                  'host="app.test";proto=http')
    info("trusted client without copies: portier's own")
    check_forwarding(sent(p, "trust"), "127.0.0.1", "app.test")


HOP_REQUEST = [
    "Connection: keep-alive, X-Secret, x-other",
    "X-Secret: 1",
    "X-Other: 2",
    "Keep-Alive: timeout=5",
    "TE: trailers",
    "Trailer: X-Checksum",
    "Proxy-Connection: keep-alive",
    "Proxy-Authorization: Basic dXNlcjpwYXNz",
    "Upgrade: websocket",
    "X-Normal: yes",
]

HOP_RESPONSE = [
    "X-Test-Response-Header: Connection: X-Backend-Hop",
    "X-Test-Response-Header: X-Backend-Hop: 1",
    "X-Test-Response-Header: Keep-Alive: timeout=99",
    "X-Test-Response-Header: Proxy-Connection: keep-alive",
    "X-Test-Response-Header: Upgrade: h2c",
    "X-Test-Response-Header: X-Backend-Normal: yes",
]


def test_hop_by_hop():
    step("hop-by-hop fields are not forwarded")
    echo = EchoBackend("echo")
    p = HttpPortier({"web": {"backend": echo.addr}})
    c = p.conn("web")
    resp = c.exchange(request("GET", "/hop", "app.test",
                              HOP_REQUEST + HOP_RESPONSE))
    got = resp.json()
    names = [n.lower() for n, _ in got["headers"]]
    info("backend received: " + ", ".join(names))
    for name in ("x-secret", "x-other", "keep-alive", "te", "trailer",
                 "proxy-connection", "proxy-authorization", "upgrade"):
        check(name not in names, f"request: {name} not forwarded",
              str(got["headers"]))
    for value in fields_of(got, "connection"):
        check("x-secret" not in value.lower(),
              "request: the client's Connection field is not forwarded",
              value)
    check_equal(fields_of(got, "x-normal"), ["yes"],
                "request: X-Normal forwarded")
    names = resp.headers.names()
    info("client received: " + ", ".join(names))
    for name in ("x-backend-hop", "proxy-connection", "upgrade"):
        check(name not in names, f"response: {name} not forwarded",
              str(resp.headers.list))
    check("timeout=99" not in resp.headers.get("keep-alive", ""),
          "response: the backend's Keep-Alive not forwarded",
          str(resp.headers.list))
    for value in resp.headers.all("connection"):
        check("x-backend-hop" not in value.lower(),
              "response: the backend's Connection field not forwarded",
              value)
    check_equal(resp.headers.all("x-backend-normal"), ["yes"],
                "response: X-Backend-Normal forwarded")
    resp = c.exchange(request("GET", "/again", "app.test"))
    check_equal(resp.json()["target"], "/again",
                "the connection goes on")
    c.close()


COMBINED = re.compile(
    r'^(?P<client>\S+) - - \[[^]]+\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>(?:[^"\\]|\\.)*)" '
    r'"(?P<agent>(?:[^"\\]|\\.)*)" vhost=(?P<vhost>\S+) '
    r'backend=(?P<backend>\S+) in=(?P<bytes_in>\d+) ms=(?P<ms>\d+)$')


def log_run(fmt):
    """Start portier with access_log = PATH in format `fmt`, send the
    requests of the log tests; return (lines, what was sent)."""
    path = os.path.join(tmpdir(), f"access-{fmt}.log")
    echo = EchoBackend("echo")
    # A backend whose path holds a quote, escaped in the line as well.
    odd = EchoBackend("odd", unix_path=os.path.join(tmpdir(),
                                                    f'o"d-{fmt}.sock'))
    p = HttpPortier(
        {"web": {"backend": echo.addr}, "bare": {},
         "odd": {"backend": odd.addr}},
        [("app.test", {"listener": "web", "backend": echo.addr})],
        global_keys={"access_log": path, "access_log_format": fmt})
    reqs = [
        ("web", request("GET", "/logme?x=1", "app.test",
                        ["User-Agent: test-agent/1.0",
                         "Referer: http://ref.example/"])),
        ("web", request("POST", "/post", "other.example",
                        body=b"b" * 1000)),
        ("bare", request("GET", "/nothing", "nothing.example")),
        ("web", request("GET", '/q"uote', "app.test",
                        ['User-Agent: a "quoted" \\ agent'])),
        # UTF-8 (é) and a byte that is not UTF-8, sent as bytes.
        ("web", request("GET", "/utf8", "app.test",
                        ["User-Agent: caf\u00c3\u00a9 \u00ff"])),
        ("odd", request("GET", "/odd", "odd.example")),
        # Refused before its head could be parsed: its bytes still
        # count, its request line and protocol are "-".
        ("web", b"GET /bad HTTP/1.1\r\nHost: app.test\r\n"
                b"Bad Header: x\r\n\r\n"),
    ]
    answers = []
    for listener, data in reqs:
        c = p.conn(listener)
        answers.append(c.exchange(data))
        c.close()
    have = wait_until(lambda: os.path.exists(path) and
                      open(path).read().count("\n") >= len(reqs), 5.0)
    check(have, f"{len(reqs)} lines in the access log")
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    for line in lines:
        info("log: " + line)
    check_equal(len(lines), len(reqs), "one line per request")
    return lines, reqs, answers, echo, odd


def bytes_ok(logged, resp):
    """The logged response size is the response's (whole, or its body)."""
    return logged in (resp.wire_len, len(resp.body))


def test_log_combined():
    step("access_log_format = combined")
    lines, reqs, answers, echo, odd = log_run("combined")
    m = [COMBINED.match(line) for line in lines]
    check(all(m), "every line has the combined format, vhost, backend, "
          "in and ms", "\n".join(lines))
    want = [("GET /logme?x=1 HTTP/1.1", "200", "app.test", echo.addr,
             "http://ref.example/", "test-agent/1.0"),
            ("POST /post HTTP/1.1", "200", "-", echo.addr, "-", "-"),
            ("GET /nothing HTTP/1.1", "404", "-", "-", "-", "-"),
            ('GET /q\\"uote HTTP/1.1', "200", "app.test", echo.addr, "-",
             'a \\"quoted\\" \\\\ agent'),
            ("GET /utf8 HTTP/1.1", "200", "app.test", echo.addr, "-",
             "caf\\xC3\\xA9 \\xFF"),
            ("GET /odd HTTP/1.1", "200", "-",
             odd.addr.replace('"', '\\"'), "-", "-"),
            ("- - -", "400", "-", "-", "-", "-")]
    for i, (w, match) in enumerate(zip(want, m)):
        got = (match["request"], match["status"], match["vhost"],
               match["backend"], match["referer"], match["agent"])
        check_equal(got, w, f"line {i + 1}: request, status, vhost, "
                    "backend, referer, agent")
        check_equal(match["client"], "127.0.0.1", "   client 127.0.0.1")
        check_equal(int(match["bytes_in"]), len(reqs[i][1]),
                    "   in = the request's size")
        check(bytes_ok(int(match["bytes"]), answers[i]),
              f"   bytes = the response's size ({answers[i].wire_len}, "
              f"body {len(answers[i].body)})",
              f"logged {match['bytes']}")


def test_log_json():
    step("access_log_format = json")
    lines, reqs, answers, echo, odd = log_run("json")
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            check(False, "every line is JSON", line)
    check(True, "every line is JSON")
    want = [("GET", "/logme?x=1", "app.test", 200, "app.test", echo.addr,
             "http://ref.example/", "test-agent/1.0"),
            ("POST", "/post", "other.example", 200, None, echo.addr, "",
             ""),
            ("GET", "/nothing", "nothing.example", 404, None, None, "", ""),
            ("GET", '/q"uote', "app.test", 200, "app.test", echo.addr, "",
             'a "quoted" \\ agent'),
            ("GET", "/utf8", "app.test", 200, "app.test", echo.addr, "",
             "caf\u00e9 \ufffd"),
            ("GET", "/odd", "odd.example", 200, None, odd.addr, "", ""),
            ("-", "-", "", 400, None, None, "", "")]
    for i, (w, e) in enumerate(zip(want, entries)):
        got = (e.get("method"), e.get("target"), e.get("host"),
               e.get("status"), e.get("vhost"), e.get("backend"),
               e.get("referer"), e.get("user_agent"))
        check_equal(got, w, f"line {i + 1}: method, target, host, status, "
                    "vhost, backend, referer, user_agent")
        check_equal((e.get("client"), e.get("protocol")),
                    ("127.0.0.1", "HTTP/1.1" if w[3] != 400 else "-"),
                    "   client and protocol")
        check_equal(e.get("bytes_in"), len(reqs[i][1]),
                    "   bytes_in = the request's size")
        check(bytes_ok(e.get("bytes_out"), answers[i]),
              f"   bytes_out = the response's size ({answers[i].wire_len}, "
              f"body {len(answers[i].body)})",
              f"logged {e.get('bytes_out')}")
        check(isinstance(e.get("duration_ms"), int), "   duration_ms")


def main():
    test_forwarding()
    test_hop_by_hop()
    test_log_combined()
    test_log_json()


run(main)
