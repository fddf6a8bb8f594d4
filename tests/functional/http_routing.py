# SPDX-License-Identifier: MIT
"""HTTP mode: which backend a request goes to.

Every backend answers with its own name (EchoBackend), so each request
shows where portier sent it:

- vhosts by Host: an exact name (in any case, with a port, with a trailing
  dot), an alias, a "*.suffix" wildcard (the longest one wins, an exact
  name wins over any wildcard), the listener's default backend, and a 404
  page that lists the names a listener without default serves (whole
  names, and how many more when they do not all fit);
- routes: the longest path prefix wins, "/api" matches "/api/x" and
  "/api?q" but not "/apix", the target is forwarded unchanged;
- one keep-alive connection carries requests for several Hosts, each
  routed on its own, and backend connections are reused;
- an absolute-form target wins over the Host field;
- host_header = backend and = NAME replace the Host the backend sees.
"""

import re

from httptest import EchoBackend, HttpPortier, request
from lib import check, check_equal, info, run, step


def CROWD(backend):
    """80 vhosts on listener `crowd` (with everywhere.test, 81 names),
    more than its 404 page can list."""
    return [(f"service-number-{i:02d}.test",
             {"listener": "crowd", "backend": backend}) for i in range(80)]


class Setup:
    """One portier: listener `web` with a default backend, listener `bare`
    without one, and the vhosts below."""

    def __init__(self):
        names = ["default", "app", "wild-test", "wild-b-test", "api",
                 "api-r1", "api-r2", "static", "hosthdr", "bare-only",
                 "everywhere", "reuse"]
        self.b = {n: EchoBackend(n) for n in names}
        b = self.b
        self.p = HttpPortier(
            {"web": {"backend": b["default"].addr}, "bare": {},
             "crowd": {}},
            [("app.test", {"listener": "web", "backend": b["app"].addr,
                           "alias": "app.local, *.app.test"}),
             ("*.test", {"listener": "web",
                         "backend": b["wild-test"].addr}),
             ("*.b.test", {"listener": "web",
                           "backend": b["wild-b-test"].addr}),
             ("api.test", {"listener": "web", "backend": b["api"].addr,
                           "route": [f"/api {b['api-r1'].addr}",
                                     f"/api/v2 {b['api-r2'].addr}",
                                     f"/static/ {b['static'].addr}"]}),
             ("hb.test", {"listener": "web", "backend": b["hosthdr"].addr,
                          "host_header": "backend"}),
             ("hn.test", {"listener": "web", "backend": b["hosthdr"].addr,
                          "host_header": "internal.example"}),
             ("keep.test", {"listener": "web",
                            "backend": b["hosthdr"].addr,
                            "host_header": "keep"}),
             ("only.bare", {"listener": "bare",
                            "backend": b["bare-only"].addr}),
             ("everywhere.test", {"backend": b["everywhere"].addr}),
             ("reuse.test", {"listener": "web", "backend": b["reuse"].addr}),
             *CROWD(b["default"].addr)])

    def check_routed(self, host, target, name, listener="web",
                     seen_target=None):
        """A request for host/target lands on backend `name`, which sees
        the target unchanged (or `seen_target`)."""
        resp = self.p.get(host, target, listener)
        check(resp.status == 200, f"Host {host}, {target}: 200",
              repr(resp))
        got = resp.json()
        check_equal(got["name"], name, f"Host {host}, {target} -> {name}")
        check_equal(got["target"], seen_target or target,
                    f"   backend sees the target {seen_target or target}")
        return got


def test_vhosts(s):
    step("exact names, aliases, wildcards (longest wins), default backend")
    for host, name in [
            ("app.test", "app"),
            ("APP.Test", "app"),
            ("app.test:8080", "app"),
            ("app.test.", "app"),
            ("app.local", "app"),
            ("x.app.test", "app"),          # *.app.test beats *.test
            ("a.b.app.test", "app"),
            ("x.test", "wild-test"),
            ("b.test", "wild-test"),        # *.b.test does not match b.test
            ("y.b.test", "wild-b-test"),    # *.b.test beats *.test
            ("deep.y.b.test", "wild-b-test"),
            ("everywhere.test", "everywhere"),  # exact beats *.test
            ("unknown.example", "default"),
            ("test", "default"),
            ("127.0.0.1", "default"),
            ("only.bare", "default"),       # that vhost is not on web
    ]:
        s.check_routed(host, "/", name)


def test_404(s):
    step("listener without default backend: vhosts route, anything else "
         "is a 404 page that lists the names the listener serves")
    s.check_routed("only.bare", "/x", "bare-only", listener="bare")
    s.check_routed("everywhere.test", "/x", "everywhere", listener="bare")
    before = sum(len(b.requests) for b in s.b.values())
    resp = s.p.get("nothing.example", "/", "bare")
    check_equal(resp.status, 404, "Host nothing.example on bare: 404")
    text = resp.text()
    info("page: " + " | ".join(text.splitlines()))
    check("nothing.example" in text, "the page names the host asked for",
          text)
    check("only.bare" in text and "everywhere.test" in text,
          "the page lists only.bare and everywhere.test", text)
    check("app.test" not in text and "*.test" not in text,
          "the page does not list names of the other listener", text)
    check_equal(sum(len(b.requests) for b in s.b.values()), before,
                "no backend saw the request")
    resp = s.p.get(None, "/", "bare", version="1.0")
    check_equal(resp.status, 404, "HTTP/1.0 request without Host on bare: "
                "404")

    step("a 404 page with more names than it lists: whole names, and how "
         "many more")
    resp = s.p.get("nothing.example", "/", "crowd")
    check_equal(resp.status, 404, "Host nothing.example on crowd: 404")
    text = resp.text()
    line = [x for x in text.splitlines() if "serves:" in x][0]
    listed = line.split("serves: ", 1)[1].rstrip(".").split(", ")
    more = listed.pop() if listed[-1].startswith("and ") else ""
    info(f"{len(listed)} names listed, then '{more}'")
    check(listed and all(re.fullmatch(r"service-number-\d\d\.test", n)
                         or n == "everywhere.test" for n in listed),
          "every listed name is whole", line)
    check_equal(more, f"and {81 - len(listed)} more",
                "the page says how many of the 81 names it left out")


def test_routes(s):
    step("routes: the longest prefix wins, '/api' is no prefix of '/apix'")
    for target, name in [
            ("/", "api"),
            ("/api", "api-r1"),
            ("/api/", "api-r1"),
            ("/api/users?id=3", "api-r1"),
            ("/api?q=1", "api-r1"),
            ("/apix", "api"),
            ("/apix/y", "api"),
            ("/API", "api"),
            ("/api/v2", "api-r2"),
            ("/api/v2/items", "api-r2"),
            ("/api/v2?x=1", "api-r2"),
            ("/api/v2x", "api-r1"),
            ("/static/app.css", "static"),
            ("/static/", "static"),
            ("/static", "api"),
            ("/staticx", "api"),
    ]:
        s.check_routed("api.test", target, name)


def test_keep_alive(s):
    step("one keep-alive connection: each request routed on its own Host")
    c = s.p.conn("web")
    plan = [("app.test", "/1", "app"), ("x.test", "/2", "wild-test"),
            ("unknown.example", "/3", "default"),
            ("api.test", "/api/4", "api-r1"), ("app.test", "/5", "app"),
            ("y.b.test", "/6", "wild-b-test")]
    for host, target, name in plan:
        resp = c.exchange(request("GET", target, host))
        got = resp.json()
        check(resp.status == 200 and got["name"] == name and
              got["target"] == target,
              f"on the same connection: Host {host}, {target} -> {name}",
              repr(resp))
        check(resp.headers.get("connection", "").lower() != "close",
              "   the connection stays open",
              str(resp.headers.list))
    c.close()

    step("backend connections are reused: two client connections, one "
         "backend connection")
    reuse = s.b["reuse"]
    for i in (1, 2):
        s.check_routed("reuse.test", f"/r{i}", "reuse")
    check_equal(len(reuse.requests), 2, "backend got both requests")
    check_equal(reuse.accepted, 1, "backend accepted one connection for "
                "both")


def test_absolute_form(s):
    step("absolute-form target: its authority wins over Host")
    got = s.check_routed("x.test", "http://app.test/abs?q=1", "app",
                         seen_target="/abs?q=1")
    hosts = [v for n, v in got["headers"] if n.lower() == "host"]
    check_equal(hosts, ["app.test"], "backend sees one Host: app.test")
    got = s.check_routed("unknown.example", "http://y.b.test:8080/p",
                         "wild-b-test", seen_target="/p")
    hosts = [v for n, v in got["headers"] if n.lower() == "host"]
    check_equal(hosts, ["y.b.test:8080"], "backend sees one Host: "
                "y.b.test:8080")


def test_host_header(s):
    step("host_header = keep | backend | NAME")
    for host, want in [("hb.test", s.b["hosthdr"].addr),
                       ("hn.test", "internal.example"),
                       ("keep.test:9000", "keep.test:9000")]:
        got = s.check_routed(host, "/h", "hosthdr")
        hosts = [v for n, v in got["headers"] if n.lower() == "host"]
        check_equal(hosts, [want], f"Host {host}: backend sees one Host: "
                    f"{want}")


def main():
    s = Setup()
    test_vhosts(s)
    test_404(s)
    test_routes(s)
    test_keep_alive(s)
    test_absolute_form(s)
    test_host_header(s)


run(main)
