# SPDX-License-Identifier: MIT
"""A port held by another process.

A python3 server holds 127.0.0.1:P. portier configured to bind it exits
with status 2 and says who holds the port (pid, program, user);
`portier ports` lists the port with that pid; `portier ports -c FILE`
reports the conflict and exits 1 (and 0 for a file with no conflict).
A holder that bound as root and then became uid 65534 is named with that
user, in the error and in `portier ports` (root only).
A holder that set SO_REUSEPORT, which the kernel lets another process of
its user join, stops portier all the same (tcp and udp, two workers), and
so does a second portier started with the same file. `ports -c` finds no
conflict with the file a running portier (two workers) serves, and one,
said once, with another file that wants its port.

With IPv6: a [::]:P socket with IPV6_V6ONLY leaves 127.0.0.1:P free (the
kernel's socket diagnostics tell, /proc/net does not), a dual-stack one
takes it; with [::1]:P held, `bind = *:P` names that holder, not
portier's own 0.0.0.0:P socket (tcp, udp).
"""

import os
import pwd
import re
import shutil
import socket
import sys

from lib import (LOOPBACK4, check, check_equal, free_port, have_ipv6, info,
                 run, run_portier, section, spawn, start_portier, step,
                 tcp_listener, write_file)

HOLDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, int(sys.argv[1]))
if sys.argv[2] == "reuseport":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 0))
if s.type == socket.SOCK_STREAM:
    s.listen()
if sys.argv[2] == "drop":
    import os
    os.setgid(65534)
    os.setuid(65534)
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""


def start_holder(kind=socket.SOCK_STREAM, reuseport=False, drop=False):
    """A python3 process listening on a port (bound, for UDP), with
    SO_REUSEPORT if asked, that runs as uid 65534 after it bound if asked
    (root only); returns (pid, program, port), program as the kernel names
    it."""
    proc = spawn([shutil.which("python3") or sys.executable, "-c", HOLDER,
                  str(int(kind)), "reuseport" if reuseport else
                  "drop" if drop else "-"])
    port = int(proc.stdout.readline())
    with open(f"/proc/{proc.pid}/comm") as f:
        program = f.read().strip()
    info(f"{program} pid {proc.pid} holds {LOOPBACK4}:{port}")
    return proc.pid, program, port


HOLDER6 = """
import socket, sys, time
s = socket.socket(socket.AF_INET6, int(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(sys.argv[2]))
s.bind((sys.argv[3], 0))
if s.type == socket.SOCK_STREAM:
    s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""


def start_holder6(host, v6only, kind=socket.SOCK_STREAM):
    """A python3 process on [host]:PORT (IPv6) with IPV6_V6ONLY as
    given; returns (pid, port)."""
    proc = spawn([shutil.which("python3") or sys.executable, "-c", HOLDER6,
                  str(int(kind)), str(int(v6only)), host])
    port = int(proc.stdout.readline())
    info(f"pid {proc.pid} holds [{host}]:{port}, v6only {v6only}")
    return proc.pid, port


def ipv6_holders():
    """Sockets of the other family: what IPV6_V6ONLY changes, and who is
    named when a wildcard's second socket cannot be bound."""
    step("an IPv6-only [::]:P held: 127.0.0.1:P is free for portier, and "
         "`ports -c` says so")
    _, port = start_holder6("::", True)
    text = tcp_listener("v4", f"{LOOPBACK4}:{port}",
                        f"{LOOPBACK4}:{free_port()}")
    r = run_portier("ports", "-c", write_file("v6only.ini", text))
    check_equal(r.returncode, 0, "`ports -c`: exit status 0, no conflict")
    p = start_portier(text)
    check(p.running(), "portier runs on the port")
    p.stop()

    step("a dual-stack [::]:P held: 127.0.0.1:P is taken, and its holder "
         "named")
    pid, port = start_holder6("::", False)
    text = tcp_listener("v4", f"{LOOPBACK4}:{port}",
                        f"{LOOPBACK4}:{free_port()}")
    p = start_portier(text, ready=False)
    check_equal(p.wait_exit(10), 2, "exit status 2")
    check(f"already in use by pid {pid} " in p.log() and
          f"on [::]:{port}" in p.log(), f"   naming pid {pid} on [::]",
          p.log())
    r = run_portier("ports", "-c", write_file("dual.ini", text))
    check_equal(r.returncode, 1, "`ports -c`: exit status 1, a conflict")

    for kind, proto in ((socket.SOCK_STREAM, "tcp"),
                        (socket.SOCK_DGRAM, "udp")):
        step(f"{proto}: [::1]:P held, bind = *:P: the holder is named, "
             "not portier's own 0.0.0.0 socket")
        pid, port = start_holder6("::1", True, kind)
        p = start_portier(section("listener all", bind=f"*:{port}",
                                  mode=proto,
                                  backend=f"{LOOPBACK4}:{free_port()}"),
                          ready=False)
        check_equal(p.wait_exit(10), 2, "exit status 2")
        check(f"cannot bind [::]:{port}" in p.log() and
              f"already in use by pid {pid} " in p.log(),
              f"   naming pid {pid}", p.log())


def has_line(text, *patterns):
    """True when one line of text matches every regex in `patterns`."""
    return any(all(re.search(p, line) for p in patterns)
               for line in text.splitlines())


def main():
    pid, program, port = start_holder()
    user = pwd.getpwuid(os.getuid()).pw_name
    config = tcp_listener("taken", f"{LOOPBACK4}:{port}",
                          f"{LOOPBACK4}:{free_port()}")

    step("portier exits with status 2 and names the holder")
    p = start_portier(config, ready=False)
    status = p.wait_exit(10)
    check_equal(status, 2, "exit status")
    log = p.log()
    for text in (f"cannot bind {LOOPBACK4}:{port}",
                 f"already in use by pid {pid} ({program}",
                 f"user {user}"):
        check(text in log, f"stderr says {text!r}")
    check("portier ready" not in log, "portier never said it was ready")

    step("`portier ports` lists the port and its holder")
    r = run_portier("ports")
    print(r.stdout, end="")
    check_equal(r.returncode, 0, "exit status")
    check(has_line(r.stdout, rf"[:\s]{port}\b", rf"\b{pid}\b"),
          f"a line shows port {port} with pid {pid}")
    check(has_line(r.stdout, rf"[:\s]{port}\b", re.escape(program)),
          f"a line shows port {port} with the program {program}")

    if os.geteuid() == 0:
        step("a holder that bound as root, then became uid 65534 (as "
             "servers drop privileges): named with the user it runs as")
        pid2, program2, port2 = start_holder(drop=True)
        user2 = pwd.getpwuid(65534).pw_name
        p = start_portier(tcp_listener("dropped", f"{LOOPBACK4}:{port2}",
                                       f"{LOOPBACK4}:{free_port()}"),
                          ready=False)
        check_equal(p.wait_exit(10), 2, "exit status")
        check(f"already in use by pid {pid2} ({program2}, user {user2})"
              in p.log(), f"stderr names user {user2}, not root", p.log())
        r = run_portier("ports")
        check(has_line(r.stdout, rf"[:\s]{port2}\b", rf"\b{pid2}\b",
                       rf"\b{user2}\b"),
              f"`portier ports` shows port {port2} held by {user2}",
              r.stdout)
    else:
        info("skipped: a holder that dropped root (not root)")

    step("`portier ports -c FILE` reports the conflict with the file")
    conf = write_file("conflict.ini", config)
    r = run_portier("ports", "-c", conf)
    print(r.stdout, end="")
    print(r.stderr, end="")
    check_equal(r.returncode, 1, "exit status")
    check(has_line(r.stdout + r.stderr, "conflict", rf"[:\s]{port}\b"),
          f"a line says 'conflict' for port {port}")

    step("a holder with SO_REUSEPORT, which the kernel would let portier "
         "share: portier exits with status 2 and names it (tcp, udp)")
    for kind, proto in ((socket.SOCK_STREAM, "tcp"),
                        (socket.SOCK_DGRAM, "udp")):
        pid, program, port = start_holder(kind, reuseport=True)
        text = (section("global", workers="2") +
                section("listener shared", bind=f"{LOOPBACK4}:{port}",
                        mode=proto, backend=f"{LOOPBACK4}:{free_port()}"))
        p = start_portier(text, ready=False)
        status = p.wait_exit(10)
        check_equal(status, 2, f"{proto}: exit status")
        log = p.log()
        check(f"cannot bind {LOOPBACK4}:{port}" in log and
              f"already in use by pid {pid} ({program}" in log,
              f"{proto}: stderr names pid {pid} ({program})", log)

    step("a second portier with the same file: status 2, naming the "
         "first")
    port = free_port()
    text = (section("global", workers="2") +
            tcp_listener("twice", f"{LOOPBACK4}:{port}",
                         f"{LOOPBACK4}:{free_port()}"))
    first = start_portier(text)
    second = start_portier(text, ready=False)
    check_equal(second.wait_exit(10), 2, "the second exits with status 2")
    check(f"already in use by pid {first.pid} (portier" in second.log(),
          f"   and names pid {first.pid} (portier)", second.log())

    step("`portier ports -c FILE` and a running portier: no conflict with "
         "the file it runs, a conflict with another file")
    r = run_portier("ports", "-c", first.conf)
    check_equal(r.returncode, 0, "the file it runs: exit status 0")
    other = write_file("other.ini", text)
    r = run_portier("ports", "-c", other)
    print(r.stdout, end="")
    check_equal(r.returncode, 1, "another file: exit status 1")
    check(has_line(r.stdout, "conflict", rf"\b{first.pid}\b",
                   re.escape(f"running {first.conf}")),
          "   the conflict names the portier and the file it runs",
          r.stdout[-600:])
    check_equal(r.stdout.count("conflict:"), 1, "   once, for the sockets "
                "of its two workers")
    first.stop()

    step("`portier ports -c FILE` without a conflict")
    conf = write_file("free.ini", tcp_listener(
        "free", f"{LOOPBACK4}:{free_port()}", f"{LOOPBACK4}:{free_port()}"))
    r = run_portier("ports", "-c", conf)
    print(r.stdout, end="")
    check_equal(r.returncode, 0, "exit status")
    check(not has_line(r.stdout + r.stderr, r"^(?!.*\bno conflict).*conflict"),
          "no conflict reported")

    if have_ipv6():
        ipv6_holders()
    else:
        info("no IPv6 on loopback: the IPv6 holders are not tested")


run(main)
