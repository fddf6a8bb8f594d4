# SPDX-License-Identifier: MIT
"""The admin server and clients that are not on loopback.

The admin page answers loopback clients only. A client from another
address gets a 403 page that says why; such clients cannot fill the
admin's connection slots and keep a local scrape out, and their refusals
are logged within the usual budget of lines per second.

Needs an address that is not loopback on this machine: as root, with
`unshare --net` working, the test runs itself again inside a new network
namespace (flag PORTIER_TEST_ADMIN_NETNS) and gives `lo` the address
10.9.9.1 as well; nothing it does can reach a real network. Otherwise it
is skipped.

- 80 idle connections from 10.9.9.1 (more than the 64 the admin serves at
  once): a GET /metrics from 127.0.0.1 still answers 200;
- once they are closed, a GET from 10.9.9.1 answers 403 with the reason;
- 300 requests from 10.9.9.1 in a burst write a few lines, not 300, and
  one that counts the others.
"""

import os
import socket
import subprocess
import time

from httptest import Conn, request
from lib import (LOOPBACK4, TestSkip, check, check_equal, fmt_addr,
                 free_port, info, run, section, start_portier, step,
                 wait_until)
import lib

NETNS_FLAG = "PORTIER_TEST_ADMIN_NETNS"
REMOTE = "10.9.9.1"


def setup():
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "addr", "add", f"{REMOTE}/32", "dev", "lo"]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        check_equal(done.returncode, 0, " ".join(cmd) + " " +
                    done.stderr.strip())


def remote_conn(port):
    s = socket.socket()
    s.bind((REMOTE, 0))
    s.settimeout(5)
    s.connect((REMOTE, port))
    return s


def main():
    if NETNS_FLAG not in os.environ:
        raise TestSkip(f"no private network namespace ({WHY_NO_NETNS})")
    step("a private network namespace where lo also holds " + REMOTE)
    setup()
    port = free_port()
    portier = start_portier(section("global", admin=f"*:{port}") +
                            section("listener web",
                                    bind=fmt_addr(LOOPBACK4, free_port()),
                                    mode="tcp", backend="127.0.0.1:9"))

    step("80 idle connections from " + REMOTE + ": a local scrape still "
         "answers")
    held = [remote_conn(port) for _ in range(80)]
    local = Conn(LOOPBACK4, port)
    r = local.exchange(request("GET", "/metrics", "localhost"))
    check_equal(r.status, 200, "GET /metrics from 127.0.0.1")
    local.close()
    for s in held:
        s.close()

    step("a request from " + REMOTE + ": 403 with the reason")

    def answered():
        c = socket.socket()
        c.bind((REMOTE, 0))
        c.settimeout(5)
        try:
            c.connect((REMOTE, port))
            c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    return data
                data += chunk
        except OSError:
            return b""
        finally:
            c.close()

    # The idle ones just closed may still hold their slots for a moment.
    text = b""
    check(wait_until(lambda: (text := answered()).startswith(b"HTTP/1.1 "),
                     5), "an answer once the idle connections are gone")
    text = answered()
    check(text.startswith(b"HTTP/1.1 403"), "status 403", text[:200])
    check(b"loopback" in text, "the page says why", text[-300:])

    step("300 requests from " + REMOTE + " in a burst: a few log lines")
    before = portier.log().count("refused: not a loopback address")
    for _ in range(300):
        answered()
    # The count of the lines left out comes with the next refusal in a
    # later second.
    time.sleep(1.1)
    answered()
    check(portier.wait_log("admin: ", "more such messages were not "
                           "logged") is not None,
          "the rest are counted in one line")
    after = portier.log().count("refused: not a loopback address")
    info(f"{after - before} refusal lines for 300 requests")
    check(0 < after - before <= 40, "the refusals are logged, within the "
          "budget", f"{after - before} lines")
    r = Conn(LOOPBACK4, port).exchange(request("GET", "/status.json",
                                               "localhost"))
    check_equal(r.status, 200, "the page still answers loopback clients")


WHY_NO_NETNS = lib.enter_netns(NETNS_FLAG)
run(main)
