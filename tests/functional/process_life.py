# SPDX-License-Identifier: MIT
"""The pid file, the privilege drop and SIGUSR1.

- pidfile: written once the ports are bound, holding portier's pid, and
  removed when it stops;
- user and group (as root): the process runs as that user and group once
  the ports are bound, while a port below 1024 was still bound as root;
  started as another user, a different user is a configuration it cannot
  honour: exit status 2 with a clear message; a user that does not exist
  is a configuration error: exit status 1 before any port is opened;
- root without user: a warning that says how to drop privileges;
- SIGUSR1 after the access log was renamed: new lines go to a new file at
  the configured path, the lines before stay in the renamed one.
"""

import os
import pwd
import signal
import socket

from httptest import Conn, EchoBackend, request
from lib import (LOOPBACK4, check, check_equal, check_log, fmt_addr,
                 free_port, info, run, section, start_portier, step,
                 tmpdir, wait_until)


def ids(pid):
    """(real uid, real gid) of a process."""
    uid = gid = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
    return uid, gid


def config(backend, port, **global_keys):
    return (section("global", **global_keys) +
            section("listener web", bind=fmt_addr(LOOPBACK4, port),
                    mode="http", backend=backend.addr))


def main():
    backend = EchoBackend("app")
    work = tmpdir()
    os.chmod(work, 0o777)  # the unprivileged user writes its files here

    step("pidfile: written after binding, removed at the stop")
    pidfile = os.path.join(work, "portier.pid")
    portier = start_portier(lambda: config(backend, free_port(),
                                           pidfile=pidfile))
    with open(pidfile) as f:
        check_equal(f.read(), f"{portier.pid}\n", "the file holds the pid")
    portier.send_signal(signal.SIGTERM)
    check_equal(portier.wait_exit(10), 0, "portier stops")
    check(not os.path.exists(pidfile), "the pid file is gone")

    step("SIGUSR1 reopens the access log")
    log = os.path.join(work, "access.log")
    port = free_port()
    portier = start_portier(lambda: config(backend, port, access_log=log))
    conn = Conn(LOOPBACK4, port)
    check_equal(conn.exchange(request("GET", "/before", "a.test")).status,
                200, "a request before the rotation")
    check(wait_until(lambda: os.path.exists(log) and
                     "/before" in open(log).read(), 3),
          "   is logged")
    os.rename(log, log + ".1")
    portier.send_signal(signal.SIGUSR1)
    check_log(portier, "SIGUSR1: log files reopened")
    check_equal(conn.exchange(request("GET", "/after", "a.test")).status,
                200, "a request after SIGUSR1, on the same connection")
    check(wait_until(lambda: os.path.exists(log) and
                     "/after" in open(log).read(), 3),
          "   is logged in a new file at the configured path")
    old = open(log + ".1").read()
    check("/before" in old and "/after" not in old,
          "the renamed file keeps the lines before, and only them")
    conn.close()
    portier.send_signal(signal.SIGTERM)
    portier.wait_exit(10)

    if os.geteuid() != 0:
        info("not root: the privilege drop is not tested")
        return

    step("as root without user: a warning says how to drop privileges")
    portier = start_portier(lambda: config(backend, free_port()))
    check_log(portier, "running as root: set user")
    portier.send_signal(signal.SIGTERM)
    portier.wait_exit(10)

    step("user = nobody: the ports are bound as root, then root is gone")
    nobody = pwd.getpwnam("nobody")
    low = None
    for candidate in range(900, 1000):
        try:
            s = socket.socket()
            s.bind((LOOPBACK4, candidate))
            s.close()
            low = candidate
            break
        except OSError:
            continue
    check(low is not None, "a free port below 1024 for the test")
    pidfile = os.path.join(work, "nobody.pid")
    portier = start_portier(config(backend, low, user="nobody",
                                   pidfile=pidfile))
    uid, gid = ids(portier.pid)
    check_equal(uid, nobody.pw_uid, "the process runs as nobody")
    check_equal(gid, nobody.pw_gid, "   with nobody's group")
    conn = Conn(LOOPBACK4, low)
    check_equal(conn.exchange(request("GET", "/", "a.test")).status, 200,
                f"port {low} (bound as root) serves")
    conn.close()
    check_log(portier, "running as nobody")
    portier.send_signal(signal.SIGTERM)
    check_equal(portier.wait_exit(10), 0, "and stops cleanly")
    # The pidfile's directory belongs to root: nobody may not remove it.
    check(not os.path.exists(pidfile) or
          f"cannot remove the pidfile {pidfile}: Permission denied"
          in portier.log(),
          "the pidfile is gone, or the log says why it stays",
          portier.log()[-600:])

    step("a user that does not exist: a configuration error (exit status "
         "1) before any port is opened, saying so")
    portier = start_portier(config(backend, free_port(),
                                   user="no-such-user-here"), ready=False)
    check_equal(portier.wait_exit(10), 1, "exit status 1")
    check("user no-such-user-here: no such user" in portier.log(),
          "the message names the user")
    check("listening on" not in portier.log(), "no port was opened",
          portier.log())


if __name__ == "__main__":
    run(main)
