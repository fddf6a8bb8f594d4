# SPDX-License-Identifier: MIT
"""UDP forwarding (mode = udp).

- 50 clients at once, each with its own payloads: every reply reaches the
  client whose datagram caused it, from the address it wrote to;
- a zero-length datagram and a 65507-byte one (the IPv4 maximum) go
  through both ways;
- a burst of 300 datagrams of one length (which portier sends on as GSO
  batches) reaches the backend as 300 datagrams, each whole and in order;
  so do 300 answers to one request, at the client;
- a DNS-style exchange: a query built byte by byte, a tiny resolver
  backend answers A 127.0.0.1, the client checks the ID and the answer;
- bind [::1]:P with backend [::1]:B; bind *:P serves 127.0.0.1 and ::1,
  and a client that writes to 127.0.0.2 hears back from 127.0.0.2;
- backend localhost:B with the service on 127.0.0.1 only: the flow moves
  from [::1] to 127.0.0.1 and the first datagram still arrives;
- deny: a denied client gets no answer, the backend sees nothing, the log
  says why;
- max_connections = 3: a fourth and fifth client evict the least recently
  used flows, the log counts the evictions, and an evicted client that
  comes back gets a new flow (a new source port at the backend);
- proxy_protocol = v2: every datagram reaches the backend behind a v2
  header for UDP (DGRAM) with the client's and the listener's address,
  in a burst too;
- workers = 2: flows work whichever worker the kernel picks;
- timeout_idle = 1s: after a quiet second the backend sees a new source
  port, and the log says the flow closed as idle;
- a backend that is not running (ICMP port unreachable) is logged at the
  default level;
- a reload (SIGHUP) keeps a client's flow: the backend sees it from the
  same port before and after;
- SIGTERM stops at once even while flows are open.
"""

import signal
import socket
import struct
import threading
import time

from lib import (LOOPBACK4, LOOPBACK6, at_cleanup, check, check_equal,
                 check_log, fmt_addr, free_port, have_ipv6, info, run,
                 section, start_portier, step, wait_until)

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
MAX_V4 = 65507


class UdpServer:
    """A UDP backend on a thread: every datagram is recorded with its
    source address in .seen, and answered with handler(data): a datagram,
    a list of them, or None for no answer."""

    def __init__(self, handler=lambda data: data, host=LOOPBACK4):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.seen = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._loop, daemon=True).start()
        at_cleanup(self.close)

    @property
    def addr(self):
        return fmt_addr(self.host, self.port)

    def _loop(self):
        while not self._closed:
            try:
                data, peer = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.seen.append((data, peer))
            reply = self.handler(data)
            for r in reply if isinstance(reply, list) else [reply]:
                if r is None:
                    continue
                try:
                    self.sock.sendto(r, peer)
                except OSError:
                    pass

    def sources(self):
        """The source ports the backend saw, in order."""
        with self._lock:
            return [peer[1] for _, peer in self.seen]

    def count(self):
        with self._lock:
            return len(self.seen)

    def close(self):
        self._closed = True
        self.sock.close()


def udp_listener(name, bind, backend, **keys):
    return section(f"listener {name}", bind=bind, mode="udp",
                   backend=backend, **keys)


class Setup:
    """Listeners of one portier, each on a free UDP port of its host."""

    def __init__(self, global_keys=None):
        self.listeners = []
        self.ports = {}
        self.global_keys = global_keys or {}

    def add(self, name, backend, host=LOOPBACK4, **keys):
        self.listeners.append((name, backend, host, keys))

    def config(self):
        text = section("global", **self.global_keys)
        for name, backend, host, keys in self.listeners:
            port = free_port(host, socket.SOCK_DGRAM)
            self.ports[name] = port
            text += udp_listener(name, fmt_addr(host, port), backend, **keys)
        return text

    def start(self):
        return start_portier(self.config)


def client(host=LOOPBACK4, source=None, timeout=3.0):
    """A UDP client socket, closed at the end of the test."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    at_cleanup(s.close)
    s.settimeout(timeout)
    s.bind((source or host, 0))
    return s


def exchange(sock, data, dest):
    """Send data to dest and return (reply, from) or (None, None) when
    nothing comes back in time."""
    sock.sendto(data, dest)
    try:
        return sock.recvfrom(70000)
    except socket.timeout:
        return None, None


def check_echo(host, port, what, payload=b"ping", source=None):
    c = client(host, source)
    reply, sender = exchange(c, payload, (host, port))
    check(reply == payload and sender[:2] == (host, port), what,
          f"reply {reply!r} from {sender}")
    return c


# --- DNS ---------------------------------------------------------------


def dns_name(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(qid, name):
    """A standard query for an A record, recursion desired."""
    return (struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name)
            + struct.pack("!HH", 1, 1))


def dns_resolver(data):
    """A one-record resolver: every A question is answered 127.0.0.1."""
    if len(data) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", data[:6])
    end = 12
    while data[end] != 0:
        end += data[end] + 1
    question = data[12:end + 5]
    answer = (struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4)
              + socket.inet_aton("127.0.0.1"))
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question
            + answer)


def dns_parse_a(reply, qid):
    """(id, flags, ancount, address) of a reply with one A answer."""
    rid, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    end = 12
    while reply[end] != 0:
        end += reply[end] + 1
    answer = reply[end + 5:]
    ptr, rtype, rclass, ttl, rdlen = struct.unpack("!HHHIH", answer[:12])
    address = socket.inet_ntoa(answer[12:12 + rdlen])
    return rid, flags, an, rtype, address


# --- the tests ----------------------------------------------------------


def many_clients(port, backend, n=50, rounds=3):
    """n clients send at once, `rounds` datagrams each; every reply must
    carry the client's own payload."""
    socks = [client() for _ in range(n)]
    for r in range(rounds):
        for i, s in enumerate(socks):
            s.sendto(f"client {i} round {r} ".encode() * (i + 1),
                     (LOOPBACK4, port))
    wrong = []
    missing = 0
    for i, s in enumerate(socks):
        for r in range(rounds):
            try:
                data, sender = s.recvfrom(70000)
            except socket.timeout:
                missing += 1
                continue
            if not data.startswith(f"client {i} round ".encode()) or \
                    sender[:2] != (LOOPBACK4, port):
                wrong.append((i, data[:30], sender))
    check(missing == 0, f"all {n * rounds} replies arrived",
          f"{missing} missing")
    check(not wrong, "each reply reached the client that sent its "
          "datagram, from the listener's address", f"wrong: {wrong[:5]}")
    ports = set(backend.sources()[-n * rounds:])
    check_equal(len(ports), n, "the backend saw one source port per client")


def burst(port, backend, n=300, size=1000, header=None):
    """Send n datagrams of `size` bytes at once; the backend must get each
    one whole, in order, behind header(client socket) if given."""
    c = client()
    header = header(c) if header else b""
    before = backend.count()
    payloads = [(b"%05d" % i) * (size // 5) for i in range(n)]
    for p in payloads:
        c.sendto(p, (LOOPBACK4, port))
    wait = time.monotonic() + 5
    while backend.count() < before + n and time.monotonic() < wait:
        time.sleep(0.02)
    got = [data for data, _ in backend.seen[before:]]
    check_equal(len(got), n, f"the backend got {n} datagrams")
    if header:
        check(all(g.startswith(header) for g in got), "each behind the "
              "PROXY header")
        got = [g[len(header):] for g in got]
    diff = [i for i, (a, b) in enumerate(zip(got, payloads)) if a != b]
    check(not diff, f"each of {size} bytes, whole and in order",
          f"first difference at datagram {diff[:1]}")


def fan_out(data):
    """A backend that answers "N" with N datagrams of 1000 bytes."""
    return [(b"%05d" % i) * 200 for i in range(int(data))]


def proxy_v2_header(family, client, listener):
    fam, size = (0x22, 36) if family == socket.AF_INET6 else (0x12, 12)
    return (PROXY_V2_SIGNATURE + bytes([0x21, fam]) + struct.pack("!H", size)
            + socket.inet_pton(family, client[0])
            + socket.inet_pton(family, listener[0])
            + struct.pack("!HH", client[1], listener[1]))


def check_proxy_v2(port, backend, host):
    c = client(host)
    payload = b"datagram behind a header"
    reply, _ = exchange(c, payload, (host, port))
    check(reply is not None, f"{host}: the datagram went through")
    got = backend.seen[-1][0]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    want = proxy_v2_header(family, (host, c.getsockname()[1]),
                           (host, port)) + payload
    check_equal(got, want, f"{host}: the backend got a PROXY v2 header for "
                "UDP with the client and the listener, then the datagram")


def main():
    ipv6 = have_ipv6()
    if not ipv6:
        info("SKIP part: no IPv6 loopback on this machine; the ::1 cases "
             "are not tested")
    setup = Setup({"log_level": "debug"})
    echo = UdpServer()
    setup.add("echo", echo.addr)
    dns = UdpServer(dns_resolver)
    setup.add("dns", dns.addr)
    sink = UdpServer(lambda data: None)
    setup.add("sink", sink.addr)
    fan = UdpServer(fan_out)
    setup.add("fan", fan.addr)
    any_backend = UdpServer()
    setup.add("any", any_backend.addr, host="*")
    if ipv6:
        v6_backend = UdpServer(host=LOOPBACK6)
        setup.add("v6", v6_backend.addr, host=LOOPBACK6)
    v4_only = UdpServer()
    setup.add("local4", f"localhost:{v4_only.port}")
    denied = UdpServer()
    setup.add("deny", denied.addr, deny="127.0.0.2")
    allowed = UdpServer()
    setup.add("allow", allowed.addr, allow="127.0.0.1/32")
    limited = UdpServer()
    setup.add("limited", limited.addr, max_connections=3)
    proxied = UdpServer()
    setup.add("pp", proxied.addr, proxy_protocol="v2")
    if ipv6:
        setup.add("pp6", proxied.addr, host=LOOPBACK6, proxy_protocol="v2")
    portier = setup.start()
    ports = setup.ports

    step("50 clients at once, 3 datagrams each")
    many_clients(ports["echo"], echo)

    step("zero-length and 65507-byte datagrams")
    c = client()
    reply, _ = exchange(c, b"", (LOOPBACK4, ports["echo"]))
    check_equal(reply, b"", "a zero-length datagram comes back empty")
    check_equal(echo.seen[-1][0], b"", "the backend got it empty")
    big = bytes(range(256)) * (MAX_V4 // 256) + b"!" * (MAX_V4 % 256)
    reply, _ = exchange(c, big, (LOOPBACK4, ports["echo"]))
    check(reply == big, f"a {MAX_V4}-byte datagram comes back whole",
          f"got {None if reply is None else len(reply)} bytes")

    step("a burst of 300 datagrams of 1000 bytes")
    burst(ports["sink"], sink)
    step("300 answers of 1000 bytes to one request")
    c = client()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    c.sendto(b"300", (LOOPBACK4, ports["fan"]))
    got = []
    try:
        while len(got) < 300:
            got.append(c.recv(70000))
    except socket.timeout:
        pass
    check_equal(len(got), 300, "the client got 300 datagrams")
    check(got == fan_out(b"300"), "each of 1000 bytes, whole and in order")

    step("a DNS query through the listener")
    c = client()
    qid = 0x5A17
    reply, sender = exchange(c, dns_query(qid, "portier.test"),
                             (LOOPBACK4, ports["dns"]))
    check(reply is not None, "the resolver answered")
    rid, flags, ancount, rtype, address = dns_parse_a(reply, qid)
    check_equal(rid, qid, "the answer carries the query's ID")
    check(flags & 0x8000, "the answer is a response (QR set)")
    check_equal((ancount, rtype, address), (1, 1, "127.0.0.1"),
                "one A record: 127.0.0.1")

    step(f"bind *:{ports['any']}")
    check_echo(LOOPBACK4, ports["any"], "a client on 127.0.0.1 is answered "
               "from 127.0.0.1")
    if ipv6:
        check_echo(LOOPBACK6, ports["any"], "a client on ::1 is answered "
                   "from ::1")
    c = client(source=LOOPBACK4)
    c.connect(("127.0.0.2", ports["any"]))
    c.send(b"to another address")
    try:
        reply = c.recv(100)
    except socket.timeout:
        reply = None
    check_equal(reply, b"to another address", "a client that writes to "
                "127.0.0.2 hears back from 127.0.0.2 (its connected socket "
                "takes nothing else)")

    if ipv6:
        step("bind [::1]:P, backend [::1]:B")
        check_echo(LOOPBACK6, ports["v6"], "a client on ::1 is answered")
        check_equal(v6_backend.seen[-1][1][0], LOOPBACK6,
                    "the backend got it on ::1")

    step("backend localhost:B with the service on 127.0.0.1 only")
    check_echo(LOOPBACK4, ports["local4"], "the first datagram is answered "
               "(refused on [::1], sent again on 127.0.0.1)")
    check_echo(LOOPBACK4, ports["local4"], "a second client is answered")
    if ipv6:
        check_log(portier, "listener=local4", "refused")
        check_log(portier, "listener=local4", "trying 127.0.0.1:")

    step("deny = 127.0.0.2")
    c = client(source="127.0.0.2", timeout=0.5)
    reply, _ = exchange(c, b"let me in", (LOOPBACK4, ports["deny"]))
    check(reply is None, "a client on 127.0.0.2 gets no answer")
    check_equal(denied.count(), 0, "the backend saw nothing")
    check_log(portier, "client=127.0.0.2:", "listener=deny",
              "denied by the deny list")
    check_echo(LOOPBACK4, ports["deny"], "a client on 127.0.0.1 is answered")
    step("allow = 127.0.0.1/32")
    c = client(source="127.0.0.3", timeout=0.5)
    reply, _ = exchange(c, b"let me in", (LOOPBACK4, ports["allow"]))
    check(reply is None, "a client on 127.0.0.3 gets no answer")
    check_equal(allowed.count(), 0, "the backend saw nothing")
    check_log(portier, "client=127.0.0.3:", "listener=allow",
              "denied by the allow list")

    step("max_connections = 3: the least recently used flow is evicted")
    clients = [client() for _ in range(5)]
    for i, c in enumerate(clients):
        reply, _ = exchange(c, b"hello %d" % i, (LOOPBACK4, ports["limited"]))
        check_equal(reply, b"hello %d" % i, f"client {i + 1} is answered")
    first_port = limited.sources()[0]
    check_log(portier, "listener=limited", "listener connection limit (3)",
              "evicted the least recently used flow (client "
              f"127.0.0.1:{clients[0].getsockname()[1]}")
    check_log(portier, "listener=limited", "2 evicted so far")
    reply, _ = exchange(clients[0], b"back again", (LOOPBACK4,
                                                    ports["limited"]))
    check_equal(reply, b"back again", "the evicted first client is answered "
                "again")
    check(limited.sources()[-1] != first_port, "through a new flow (a new "
          "source port at the backend)")
    check_log(portier, "listener=limited", "3 evicted so far")

    step("proxy_protocol = v2")
    check_proxy_v2(ports["pp"], proxied, LOOPBACK4)
    burst(ports["pp"], proxied, n=100, header=lambda c: proxy_v2_header(
        socket.AF_INET, c.getsockname(), (LOOPBACK4, ports["pp"])))
    if ipv6:
        check_proxy_v2(ports["pp6"], proxied, LOOPBACK6)

    step("SIGTERM with flows open: portier stops at once")
    started = time.monotonic()
    portier.stop()
    took = time.monotonic() - started
    check_equal(portier.stop_status, 0, "exit status 0")
    check(took < 2, f"stopped in {took:.2f} s: flows are not waited for")

    step("workers = 2: 20 clients")
    setup = Setup({"workers": 2})
    workers_echo = UdpServer()
    setup.add("w", workers_echo.addr)
    setup.start()
    many_clients(setup.ports["w"], workers_echo, n=20, rounds=2)

    step("timeout_idle = 1s: a quiet flow is forgotten")
    setup = Setup({"timeout_idle": "1s", "log_level": "debug"})
    idle_backend = UdpServer()
    setup.add("idle", idle_backend.addr)
    portier = setup.start()
    c = client()
    dest = (LOOPBACK4, setup.ports["idle"])
    for i in range(3):
        reply, _ = exchange(c, b"busy %d" % i, dest)
        check_equal(reply, b"busy %d" % i, f"datagram {i + 1} answered")
        time.sleep(0.4)
    sources = idle_backend.sources()
    check_equal(len(set(sources)), 1, "datagrams 0.4 s apart keep one flow "
                "(one source port at the backend)")
    check_log(portier, "listener=idle", "flow closed: idle", timeout=3)
    reply, _ = exchange(c, b"after a pause", dest)
    check_equal(reply, b"after a pause", "after the pause the client is "
                "answered")
    check(idle_backend.sources()[-1] != sources[0], "through a new flow (a "
          "new source port at the backend)")

    step("a backend that is not running: said at the default log level")
    setup = Setup()
    setup.add("dead", f"{LOOPBACK4}:{free_port(LOOPBACK4, socket.SOCK_DGRAM)}")
    portier = setup.start()
    c = client(timeout=0.3)
    dest = (LOOPBACK4, setup.ports["dead"])
    for _ in range(2):
        exchange(c, b"anyone?", dest)
    check_log(portier, "listener dead: backend", "refused a datagram",
              "is it running?", timeout=3)

    step("a reload keeps a client's flow: the backend sees the same port")
    setup = Setup({"log_level": "debug"})
    kept_backend = UdpServer()
    setup.add("kept", kept_backend.addr)
    portier = setup.start()
    c = client()
    dest = (LOOPBACK4, setup.ports["kept"])
    check_equal(exchange(c, b"before", dest)[0], b"before",
                "answered before the reload")
    before = portier.log().count("SIGHUP: configuration reloaded")
    portier.send_signal(signal.SIGHUP)
    check(wait_until(lambda: portier.log().count(
        "SIGHUP: configuration reloaded") > before, 5), "reloaded")
    check_equal(exchange(c, b"after", dest)[0], b"after",
                "answered after the reload")
    sources = kept_backend.sources()
    check_equal(len(set(sources)), 1, "one source port at the backend "
                f"before and after ({sources})")
    check(not portier.log_lines("listener=kept", "new flow")[1:],
          "the log shows one flow", "\n".join(
              portier.log_lines("listener=kept", "new flow")))


run(main)
