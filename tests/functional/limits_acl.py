# SPDX-License-Identifier: MIT
"""Connection limits and access control.

- max_connections on a listener, and in [global] across listeners: beyond
  the limit a connection is accepted and closed at once, never reaches the
  backend, and "connection limit" is logged; when one closes, a new one
  works again; a reload keeps counting the connections begun before it.
- allow / deny: a client outside allow, or inside deny (checked first), is
  closed at once without data, the backend never sees it, and the log says
  "denied" with the client's address. The whole of 127.0.0.0/8 is loopback,
  so clients bind 127.0.0.2 or 127.0.0.3 to come from another address. On
  a *:P listener, IPv4 clients still match IPv4 blocks.
"""

import signal
import time

from lib import (LOOPBACK4, LOOPBACK6, Server, check,
                 check_closed_without_data, check_equal, check_log, connect,
                 echo, echo_ok, fmt_addr, free_port, have_ipv6, info, run,
                 section, start_portier, step, tcp_listener, wait_until)


class Listeners:
    """One portier with named tcp listeners, each to its own echo
    backend."""

    def __init__(self, listeners, global_keys=None, host=LOOPBACK4):
        self.ports = {}
        self.backends = {name: Server(echo) for name in listeners}

        def config():
            text = section("global", **global_keys) if global_keys else ""
            for name, keys in listeners.items():
                self.ports[name] = free_port(host)
                text += tcp_listener(name, fmt_addr(host, self.ports[name]),
                                     self.backends[name].addr, **keys)
            return text

        self.portier = start_portier(config)

    def connect(self, name, source=None):
        """Connect from `source` (default 127.0.0.1), to ::1 when source
        is an IPv6 address, else to 127.0.0.1."""
        dest = LOOPBACK6 if source and ":" in source else LOOPBACK4
        return connect(dest, self.ports[name], source=source)

    def established(self, name, source=None):
        """A connection whose echo works, or None."""
        c = self.connect(name, source)
        if echo_ok(c):
            return c
        c.close()
        return None

    def check_refused(self, name, why, source=None):
        """A new connection is closed at once and never reaches the
        backend."""
        before = self.backends[name].accepted
        c = self.connect(name, source)
        check_closed_without_data(c, f"{name}: connection {why} is closed "
                                  "at once without data")
        c.close()
        time.sleep(0.3)
        check_equal(self.backends[name].accepted, before,
                    f"{name}: backend saw no connection")

    def check_works(self, name, why, source=None):
        c = self.established(name, source)
        check(c is not None, f"{name}: connection {why} relays data")
        return c

    def check_works_again(self, name, why):
        """A new connection works within 5 s (the freed slot may take a
        moment to be released)."""
        deadline = time.monotonic() + 5.0
        c = self.established(name)
        while c is None and time.monotonic() < deadline:
            time.sleep(0.1)
            c = self.established(name)
        check(c is not None, f"{name}: connection {why} relays data")
        return c

    def check_denied_logged(self, client, count_before):
        """A new log line says "denied" and names the client."""
        logged = wait_until(
            lambda: len(self.portier.log_lines("denied", client))
            > count_before, 3.0)
        check(logged, f"log has a new 'denied' line naming {client}")
        line = self.portier.log_lines("denied", client)[-1]
        info("log: " + line)
        if ":" not in client:
            check("::ffff:" not in line, "the client's IPv4 address is "
                  "shown as IPv4", line)


def test_listener_limit():
    step("listener max_connections = 2")
    p = Listeners({"lim": {"max_connections": 2}})
    c1 = p.check_works("lim", "1")
    c2 = p.check_works("lim", "2")
    p.check_refused("lim", "3 (over the limit)")
    check_log(p.portier, "connection limit")
    check(echo_ok(c2), "lim: connection 2 still works")
    c1.close()
    c3 = p.check_works_again("lim", "3 after connection 1 closed")
    p.check_refused("lim", "4 (limit reached again)")

    step("a reload keeps counting the connections begun before it")
    before = p.portier.log().count("SIGHUP: configuration reloaded")
    p.portier.send_signal(signal.SIGHUP)
    check(wait_until(lambda: p.portier.log().count(
        "SIGHUP: configuration reloaded") > before, 5), "reloaded")
    check(echo_ok(c2) and echo_ok(c3), "lim: the two connections go on")
    p.check_refused("lim", "5 (still over the limit after the reload)")
    c2.close()
    c4 = p.check_works_again("lim", "6 after connection 2 closed")
    c3.close()
    c4.close()


def test_global_limit():
    step("[global] max_connections = 2 across two listeners")
    p = Listeners({"one": {}, "two": {}}, {"max_connections": 2})
    c1 = p.check_works("one", "1")
    c2 = p.check_works("two", "2")
    p.check_refused("one", "3 (over the global limit)")
    p.check_refused("two", "4 (over the global limit)")
    check_log(p.portier, "connection limit")
    c2.close()
    p.check_works_again("one", "5 after connection 2 closed")
    c1.close()


def test_acl():
    p = Listeners({
        "only10": {"allow": "10.0.0.0/8"},
        "deny2": {"allow": "127.0.0.0/8", "deny": "127.0.0.2"},
        "only3": {"allow": "127.0.0.3/32"},
    })

    step("allow = 10.0.0.0/8: a client from 127.0.0.1 is denied")
    denied = len(p.portier.log_lines("denied", "127.0.0.1"))
    p.check_refused("only10", "from 127.0.0.1")
    p.check_denied_logged("127.0.0.1", denied)

    step("allow = 127.0.0.0/8, deny = 127.0.0.2: deny wins")
    denied = len(p.portier.log_lines("denied", "127.0.0.2"))
    p.check_refused("deny2", "from 127.0.0.2", source="127.0.0.2")
    p.check_denied_logged("127.0.0.2", denied)
    p.check_works("deny2", "from 127.0.0.1").close()
    p.check_works("deny2", "from 127.0.0.3", source="127.0.0.3").close()

    step("allow = 127.0.0.3/32: only that client gets through")
    p.check_works("only3", "from 127.0.0.3", source="127.0.0.3").close()
    denied = len(p.portier.log_lines("denied", "127.0.0.1"))
    p.check_refused("only3", "from 127.0.0.1")
    p.check_denied_logged("127.0.0.1", denied)


def test_acl_dual_stack():
    step("bind *:P, allow = 127.0.0.0/8, deny = 127.0.0.2: IPv4 clients "
         "match IPv4 blocks on a dual-stack listener")
    p = Listeners({"any": {"allow": "127.0.0.0/8", "deny": "127.0.0.2"}},
                  host="*")
    p.check_works("any", "from 127.0.0.1").close()
    denied = len(p.portier.log_lines("denied", "127.0.0.2"))
    p.check_refused("any", "from 127.0.0.2", source="127.0.0.2")
    p.check_denied_logged("127.0.0.2", denied)
    if have_ipv6():
        denied = len(p.portier.log_lines("denied", "::1"))
        p.check_refused("any", "from ::1 (not in allow)", source=LOOPBACK6)
        p.check_denied_logged("::1", denied)
    else:
        info("no IPv6 loopback: the ::1 client case is not tested")


def main():
    test_listener_limit()
    test_global_limit()
    test_acl()
    test_acl_dual_stack()


run(main)
