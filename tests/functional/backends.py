# SPDX-License-Identifier: MIT
"""Backend and bind address forms, and the PROXY protocol.

- backend localhost:P reaches a service on [::1] only and one on 127.0.0.1
  only;
- backend unix:/path reaches a unix socket service;
- bind [::1]:P accepts on ::1; bind *:P and bind localhost:P accept on
  127.0.0.1 and on ::1; bind takes a list and can repeat; a backend can be
  a bare port;
- proxy_protocol v1 and v2: the backend receives exactly the expected
  header (client and listener addresses and ports), then the client's bytes;
  on a *:P bind an IPv4 client is still announced as IPv4.
"""

import os
import socket
import struct

from lib import (LOOPBACK4, LOOPBACK6, Server, check, check_equal, collect,
                 connect, echo, echo_ok, fmt_addr, free_port, have_ipv6,
                 info, run, start_portier, step, tcp_listener,
                 tmpdir)

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PAYLOAD = b"hello from the client"


class Setup:
    """Collects listeners for one portier: each gets `nbinds` free ports on
    `host` (picked when portier starts) and a backend."""

    def __init__(self):
        self.listeners = []
        self.ports = {}

    def add(self, name, backend, host=LOOPBACK4, nbinds=1, **keys):
        self.listeners.append((name, backend, host, nbinds, keys))

    def config(self):
        """The configuration, on newly picked ports."""
        text = ""
        for name, backend, host, nbinds, keys in self.listeners:
            ports = [free_port(host) for _ in range(nbinds)]
            binds = [fmt_addr(host, port) for port in ports]
            if nbinds > 1:  # a list, then the key repeated
                binds = [", ".join(binds[:-1]), binds[-1]]
            self.ports[name] = ports if nbinds > 1 else ports[0]
            text += tcp_listener(name, binds, backend, **keys)
        return text

    def start(self):
        return start_portier(self.config)


def expected_v1(family, client, listener):
    proto = "TCP6" if family == socket.AF_INET6 else "TCP4"
    return (f"PROXY {proto} {client[0]} {listener[0]} {client[1]} "
            f"{listener[1]}\r\n").encode()


def expected_v2(family, client, listener):
    """The v2 header without TLVs: PROXY command, TCP over the family."""
    if family == socket.AF_INET6:
        fam, size = 0x21, 36
    else:
        fam, size = 0x11, 12
    return (PROXY_V2_SIGNATURE + bytes([0x21, fam]) + struct.pack("!H", size)
            + socket.inet_pton(family, client[0])
            + socket.inet_pton(family, listener[0])
            + struct.pack("!HH", client[1], listener[1]))


def check_echo(host, port, what):
    c = connect(host, port)
    check(echo_ok(c, b"first\n") and echo_ok(c, b"second\n"), what)
    c.close()


def check_proxy_header(version, host, port, backend):
    """A client sends PAYLOAD; the backend must get header + PAYLOAD."""
    before = len(backend.results)
    c = connect(host, port)
    family = c.family
    client, listener = c.getsockname()[:2], c.getpeername()[:2]
    c.sendall(PAYLOAD)
    c.shutdown(socket.SHUT_WR)
    results = backend.wait_results(before + 1, timeout=5)
    c.close()
    check(len(results) > before, f"v{version} {host}: backend got a "
          "connection")
    got = results[before]
    build = expected_v1 if version == 1 else expected_v2
    want = build(family, client, listener) + PAYLOAD
    if version == 2 and got[:16] == want[:16] and got != want:
        info("note: v2 header differs from the TLV-free form; showing it "
             f"in full: {got[:-len(PAYLOAD)].hex()}")
    check_equal(got, want, f"v{version} from {fmt_addr(*client)} to "
                f"{fmt_addr(*listener)}: backend receives the header, then "
                "the client's bytes")


def main():
    ipv6 = have_ipv6()
    if not ipv6:
        info("SKIP part: no IPv6 loopback on this machine; the ::1 cases "
             "are not tested")
    setup = Setup()
    v4_only = Server(echo, LOOPBACK4)
    setup.add("local4", f"localhost:{v4_only.port}")
    if ipv6:
        v6_only = Server(echo, LOOPBACK6)
        setup.add("local6", f"localhost:{v6_only.port}")
        setup.add("bind6", Server(echo).addr, host=LOOPBACK6)
    sock_path = os.path.join(tmpdir(), "backend.sock")
    unix = Server(echo, unix_path=sock_path)
    setup.add("unix", unix.addr)
    setup.add("any", Server(echo).addr, host="*")
    setup.add("localhost", Server(echo).addr, host="localhost")
    multi = Server(echo)
    setup.add("multi", str(multi.port), nbinds=3)
    proxy_backend = Server(collect)
    for version in (1, 2):
        setup.add(f"pp{version}", proxy_backend.addr,
                  proxy_protocol=f"v{version}")
        setup.add(f"pp{version}any", proxy_backend.addr, host="*",
                  proxy_protocol=f"v{version}")
        if ipv6:
            setup.add(f"pp{version}v6", proxy_backend.addr, host=LOOPBACK6,
                      proxy_protocol=f"v{version}")
    setup.start()
    ports = setup.ports

    step("backend localhost:P with the service on 127.0.0.1 only")
    check_echo(LOOPBACK4, ports["local4"], "relayed, twice")
    check_echo(LOOPBACK4, ports["local4"], "a second connection too")
    check_equal(v4_only.accepted, 2, "the 127.0.0.1 service got both")
    if ipv6:
        step("backend localhost:P with the service on [::1] only")
        check_echo(LOOPBACK4, ports["local6"], "relayed, twice")
        check_echo(LOOPBACK4, ports["local6"], "a second connection too")
        check_equal(v6_only.accepted, 2, "the [::1] service got both")

    step(f"backend unix:{sock_path}")
    check_echo(LOOPBACK4, ports["unix"], "relayed, twice")
    check_equal(unix.accepted, 1, "the unix socket service got it")

    if ipv6:
        step("bind [::1]:P")
        check_echo(LOOPBACK6, ports["bind6"], "a client on ::1 is relayed")

    for name, host in (("any", "*"), ("localhost", "localhost")):
        step(f"bind {host}:{ports[name]}")
        check_echo(LOOPBACK4, ports[name], "a client on 127.0.0.1 is relayed")
        if ipv6:
            check_echo(LOOPBACK6, ports[name], "a client on ::1 is relayed")

    step("bind given as a list and repeated; backend as a bare port")
    for port in ports["multi"]:
        check_echo(LOOPBACK4, port, f"a client on port {port} is relayed")
    check_equal(multi.accepted, 3, "the backend got all three")

    for version in (1, 2):
        step(f"proxy_protocol = v{version}")
        check_proxy_header(version, LOOPBACK4, ports[f"pp{version}"],
                           proxy_backend)
        info("bind *:P: an IPv4 client is announced as IPv4 (not as a "
             "v4-mapped IPv6 address)")
        check_proxy_header(version, LOOPBACK4, ports[f"pp{version}any"],
                           proxy_backend)
        if ipv6:
            check_proxy_header(version, LOOPBACK6, ports[f"pp{version}v6"],
                               proxy_backend)


run(main)
