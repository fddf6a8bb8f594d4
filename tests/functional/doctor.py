# SPDX-License-Identifier: MIT
"""`portier doctor`: one line per check, exit status 1 when one fails.

- a good configuration: each bind address free, the backend answers,
  exit 0 and "everything looks fine"; without -c, ./portier.ini is the
  file checked, as for `portier` itself;
- a refused backend: a line with ✗ and "connection refused", exit 1;
- a port held by another process: ✗ naming its pid and program, for a
  listener and for the admin address;
- the same port held by portier running this very file: ✓;
- a backend listening on ::1 only: with backend = localhost:PORT the ✓
  line says [::1] answered; with backend = 127.0.0.1:PORT the ✗ line says
  that [::1] answers and suggests localhost:PORT;
- UDP backends are never sent data: a bound socket is ✓, none is ✗; one
  bound on [::1] only but named as 127.0.0.1 is ✗ with localhost:PORT,
  one on a dual-stack [::] socket is ✓;
- a configuration with an error: ✗ FILE:LINE and exit 1; so is an
  access_log or pidfile in a directory that is not there, as -t says;
- an http listener with no backend that no vhost serves (every request
  gets 404): ✗ FILE:LINE naming it, under the listener; one a vhost
  serves, and one with redirect_https, are fine;
- redirect_https to a port where no listener of the file serves TLS: the
  note with FILE:LINE, under the listener, then what holds the port: ✗
  when nothing does, the holder's pid when a process does; to a plain
  listener of the file: ✗; to a tls-passthrough listener: fine;
- certificates that load but that clients refuse (expired, not covering
  a vhost's name): ✗ each with the FILE:LINE or the listener, exit 1; one
  that expires in days: a note;
- tls = auto with no CA in state_dir: a note with the command that makes
  one, and the directory is not created; a state_dir that cannot be made
  (a file in its path) is ✗ with why; once made, it is present (✓) and
  said to be trusted or not; with root, a private mount namespace puts it
  in the system bundle and doctor says it is trusted;
- the firewall (root, unshare and nft needed; skipped otherwise): in a
  private network namespace, nft rules that drop one port and a policy
  that drops another are reported with ✗, an accepted port with ✓, and
  without root the rules are said to be unreadable (not a problem).
Only loopback and namespaces the test creates are used.
"""

import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys

from lib import (LOOPBACK4, LOOPBACK6, SANITIZER_REPORT, Server, check,
                 check_equal, echo, fmt_addr, free_port, have_ipv6, info,
                 portier_path, run, section, spawn, start_portier, step,
                 tcp_listener, tmpdir, write_file)

OK, BAD, NOTE = "\u2713", "\u2717", "-"

HOLDER = """
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""

skipped = []


def skipping(what):
    info(f"skipped: {what}")
    skipped.append(what)


def doctor(*args, cwd=None, prefix=(), timeout=20):
    """Run `portier doctor ARGS` with HOME in the temp dir; print and
    return the CompletedProcess."""
    env = dict(os.environ, HOME=os.path.join(tmpdir(), "home"))
    env.pop("XDG_STATE_HOME", None)
    cmd = [*prefix, portier_path(), "doctor", *args]
    info("$ " + " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout, start_new_session=True)
    print(done.stdout, end="")
    print(done.stderr, end="")
    if SANITIZER_REPORT.search(done.stderr):
        check(False, "no sanitizer report", done.stderr)
    return done


def lines(done, mark, *words):
    """The report lines with `mark` that contain every one of `words`;
    done is a CompletedProcess or its output."""
    text = done if isinstance(done, str) else done.stdout
    return [line for line in text.splitlines()
            if line.strip().startswith(mark + " ")
            and all(w in line for w in words)]


def check_line(done, mark, *words):
    found = lines(done, mark, *words)
    check(found, f"a {mark} line with " +
          " and ".join(repr(w) for w in words),
          done if isinstance(done, str) else done.stdout)
    return found[0]


def heading_of(done, line):
    """The heading (an unindented line) that report line `line` is
    under, or "" for one at the top."""
    report = done.stdout.splitlines()
    above = report[:report.index(line)]
    headings = [h for h in above if h and not h.startswith(" ")
                and h.split(" ")[0] not in (OK, BAD, NOTE)]
    return headings[-1] if headings else ""


def last_line(done):
    out = done.stdout.strip().splitlines()
    return out[-1] if out else ""


def test_good():
    step("a good configuration: exit 0, everything looks fine")
    backend = Server(echo)
    port = free_port()
    conf = write_file("good.ini", tcp_listener(
        "good", fmt_addr(LOOPBACK4, port), backend.addr))
    done = doctor("-c", conf)
    check_equal(done.returncode, 0, "exit status")
    check_line(done, OK, conf, "configuration valid")
    check_line(done, OK, f"{LOOPBACK4}:{port} is free")
    check_line(done, OK, f"backend {backend.addr} answers")
    check(not lines(done, BAD), "no line with ✗")
    check(last_line(done).startswith("everything looks fine"),
          "the last line says everything looks fine")

    step("without -c: ./portier.ini, as `portier` itself would run")
    here = os.path.join(tmpdir(), "cwd")
    os.makedirs(here)
    shutil.copy(conf, os.path.join(here, "portier.ini"))
    done = doctor(cwd=here)
    check_equal(done.returncode, 0, "exit status")
    check_line(done, OK, "portier.ini: configuration valid")


def test_refused():
    step("a refused backend: ✗ and exit 1")
    dead = free_port()
    conf = write_file("refused.ini", tcp_listener(
        "dead", fmt_addr(LOOPBACK4, free_port()),
        fmt_addr(LOOPBACK4, dead)))
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"backend {LOOPBACK4}:{dead}",
               "connection refused")
    check_equal(last_line(done), "1 problem found", "the summary")


def test_port_held():
    step("a port held by another process: ✗ with its pid and program")
    proc = spawn([shutil.which("python3") or sys.executable, "-c", HOLDER])
    port = int(proc.stdout.readline())
    with open(f"/proc/{proc.pid}/comm") as f:
        program = f.read().strip()
    info(f"{program} pid {proc.pid} holds {LOOPBACK4}:{port}")
    backend = Server(echo)
    conf = write_file("held.ini", tcp_listener(
        "held", fmt_addr(LOOPBACK4, port), backend.addr))
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"{LOOPBACK4}:{port}", f"pid {proc.pid}",
               program)

    step("the admin address held by another process: ✗ with its pid")
    conf = write_file("admin-held.ini",
                      section("global", admin=fmt_addr(LOOPBACK4, port)) +
                      tcp_listener("free", fmt_addr(LOOPBACK4, free_port()),
                                   backend.addr))
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"{LOOPBACK4}:{port}", f"pid {proc.pid}",
               program)


def test_held_by_portier():
    step("the port held by portier running this file: ✓")
    backend = Server(echo)
    p = start_portier(lambda: tcp_listener(
        "mine", fmt_addr(LOOPBACK4, free_port()), backend.addr))
    done = doctor("-c", p.conf)
    check_equal(done.returncode, 0, "exit status")
    check_line(done, OK, f"held by portier (pid {p.pid})",
               "running this configuration")


def test_ipv6_only():
    step("a backend on ::1 only")
    if not have_ipv6():
        skipping("backends on ::1 only (no IPv6 loopback)")
        return
    backend = Server(echo, host=LOOPBACK6)
    port = backend.port
    conf = write_file("v6-localhost.ini", tcp_listener(
        "v6", fmt_addr(LOOPBACK4, free_port()), f"localhost:{port}"))
    done = doctor("-c", conf)
    check_equal(done.returncode, 0, "backend = localhost:PORT: exit 0")
    check_line(done, OK, f"backend localhost:{port}",
               f"[::1]:{port} only")

    conf = write_file("v6-v4.ini", tcp_listener(
        "v4", fmt_addr(LOOPBACK4, free_port()), f"{LOOPBACK4}:{port}"))
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "backend = 127.0.0.1:PORT: exit 1")
    check_line(done, BAD, f"backend {LOOPBACK4}:{port}",
               f"[::1]:{port} does", f"backend = localhost:{port}")


def test_udp():
    step("UDP backends: never sent data; the socket table tells")
    bound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bound.bind((LOOPBACK4, 0))
    port = bound.getsockname()[1]
    unbound = free_port(kind=socket.SOCK_DGRAM)
    listen1 = free_port(kind=socket.SOCK_DGRAM)
    listen2 = free_port(kind=socket.SOCK_DGRAM)
    conf = write_file("udp.ini",
                      section("listener up", bind=f"{LOOPBACK4}:{listen1}",
                              mode="udp", backend=f"{LOOPBACK4}:{port}") +
                      section("listener down",
                              bind=f"{LOOPBACK4}:{listen2}", mode="udp",
                              backend=f"{LOOPBACK4}:{unbound}"))
    try:
        done = doctor("-c", conf)
    finally:
        bound.close()
    check_equal(done.returncode, 1, "exit status")
    check_line(done, OK, f"udp {LOOPBACK4}:{listen1} is free")
    check_line(done, OK, f"udp backend {LOOPBACK4}:{port}",
               "a socket is bound there", f"pid {os.getpid()}")
    check_line(done, BAD, f"udp backend {LOOPBACK4}:{unbound}",
               "nothing is bound")

    if not have_ipv6():
        info("no IPv6 on loopback: the other-family case is skipped")
        return
    step("a UDP backend bound on [::1] only, named as 127.0.0.1")
    six = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    six.bind((LOOPBACK6, 0))
    done, port6 = doctor_udp_backend("udp6.ini", six)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"udp backend {LOOPBACK4}:{port6}",
               "nothing is bound there", f"[::1]:{port6} is",
               f"pid {os.getpid()}", f"backend = localhost:{port6}")

    step("a UDP backend on a dual-stack [::] socket, named as 127.0.0.1")
    dual = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    dual.bind(("::", 0))
    done, port_dual = doctor_udp_backend("udpdual.ini", dual)
    check_equal(done.returncode, 0, "exit status")
    check_line(done, OK, f"udp backend {LOOPBACK4}:{port_dual}",
               "a socket is bound there", f"pid {os.getpid()}")


def doctor_udp_backend(name, sock):
    """doctor on a udp listener whose backend is 127.0.0.1 and the port of
    the bound socket `sock`, which it closes; (the result, the port)."""
    port = sock.getsockname()[1]
    conf = write_file(name, section(
        "listener u", bind=f"{LOOPBACK4}:{free_port(kind=socket.SOCK_DGRAM)}",
        mode="udp", backend=f"{LOOPBACK4}:{port}"))
    try:
        return doctor("-c", conf), port
    finally:
        sock.close()

def test_config_error():
    step("a configuration with an error: ✗ FILE:LINE, exit 1")
    conf = write_file("broken.ini",
                      "[listener broken]\n"
                      "bind = 127.0.0.1:1\n"
                      "backend = 127.0.0.1:2\n"
                      "mode = tcp\n"
                      "colour = blue\n")
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"{conf}:5:", "colour")
    check(last_line(done).endswith("found"), "a summary line ends it")

    missing = os.path.join(tmpdir(), "missing.ini")
    done = doctor("-c", missing)
    check_equal(done.returncode, 1, "a missing file: exit status 1")
    check_line(done, BAD, missing)

    step("access_log and pidfile in a directory that is not there: ✗ "
         "FILE:LINE each, as -t says, exit 1")
    backend = Server(echo)
    conf = write_file("log-dir.ini", section(
        "global", access_log="/no/such/dir/access.log",
        pidfile="/no/such/dir/portier.pid") + tcp_listener(
            "db", fmt_addr(LOOPBACK4, free_port()), backend.addr))
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"{conf}:2: access_log /no/such/dir/access.log: "
               "the directory /no/such/dir does not exist")
    check_line(done, BAD, f"{conf}:3: pidfile /no/such/dir/portier.pid: "
               "the directory /no/such/dir does not exist")
    check_equal(last_line(done), "2 problems found", "the summary")


def test_unserved():
    step("an http listener with no backend that no vhost serves, and a "
         "tls-passthrough one: ✗ FILE:LINE, under the listener; one a "
         "vhost serves, and a redirect, are not problems")
    backend = Server(echo)
    https = free_port()
    conf = write_file("unserved.ini", "".join([
        section("listener web", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="http"),
        section("listener api", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="http"),
        section("vhost api.test", listener="api", backend=backend.addr),
        section("listener https", bind=fmt_addr(LOOPBACK4, https),
                mode="tls-passthrough", backend=backend.addr),
        section("listener plain", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="http", redirect_https=str(https)),
        section("listener pass", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="tls-passthrough")]))
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    bad = check_line(done, BAD, f"{conf}:1:", "listener web:",
                     "every request gets 404")
    check(heading_of(done, bad).startswith("listener web:"),
          "the line comes under the listener's heading", done.stdout)
    bad = check_line(done, BAD, "listener pass:",
                     "every connection is closed")
    check(heading_of(done, bad).startswith("listener pass:"),
          "the passthrough's line comes under its heading", done.stdout)
    check_equal(len(lines(done, BAD)), 2, "two problems: listener api is "
                "served by its vhost, listener plain redirects")
    check(not lines(done, NOTE, "every request gets 404"),
          "the finding is not repeated as a note of the file")


def test_redirect():
    step("redirect_https to a port where no listener of the file serves "
         "TLS: said under the listener, with what holds the port")
    backend = Server(echo)
    held = socket.socket()
    held.bind((LOOPBACK4, 0))
    held.listen()
    nothing = free_port()
    holder = held.getsockname()[1]
    api, https = free_port(), free_port()
    conf = write_file("redirect.ini", "".join([
        section("listener nothing", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="http", redirect_https=str(nothing)),
        section("listener holder", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="http", redirect_https=str(holder)),
        section("listener loop", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="http", redirect_https=str(api)),
        section("listener fine", bind=fmt_addr(LOOPBACK4, free_port()),
                mode="http", redirect_https=str(https)),
        section("listener api", bind=fmt_addr(LOOPBACK4, api), mode="http",
                backend=backend.addr),
        section("listener https", bind=fmt_addr(LOOPBACK4, https),
                mode="tls-passthrough", backend=backend.addr)]))
    try:
        done = doctor("-c", conf)
    finally:
        held.close()
    check_equal(done.returncode, 1, "exit status")
    for name, line, port in (("nothing", 4, nothing),
                             ("holder", 9, holder)):
        note = check_line(done, NOTE, f"{conf}:{line}:", f"listener {name}:",
                          f"redirect_https = {port}",
                          f"no listener of this file serves TLS on port "
                          f"{port}")
        check(heading_of(done, note).startswith(f"listener {name}:"),
              f"   under listener {name}", done.stdout)
    check_line(done, BAD, f"nothing listens on tcp port {nothing}")
    check_line(done, NOTE, f"tcp port {holder} is held by",
               f"pid {os.getpid()}")
    loop = check_line(done, BAD, f"{conf}:14:", "listener loop:",
                      f"listener api serves port {api} without TLS")
    check(heading_of(done, loop).startswith("listener loop:"),
          "   under listener loop", done.stdout)
    check(not lines(done, NOTE, "listener fine:") and
          not lines(done, BAD, "listener fine:"),
          "a redirect to a tls-passthrough listener's port is fine")
    check_equal(len(lines(done, BAD)), 2, "two problems")


def self_signed(name, days):
    """A self-signed ECDSA certificate for DNS name `name`, valid for `days`
    days (-1: it expired a day before it was made): (cert, key) paths."""
    base = os.path.join(tmpdir(), name)
    for args in (["req", "-new", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                  base + "-key.pem", "-out", base + ".csr", "-subj",
                  f"/CN={name}"],
                 ["x509", "-req", "-in", base + ".csr", "-signkey",
                  base + "-key.pem", "-days", str(days), "-extfile",
                  write_file(name + ".ext", f"subjectAltName=DNS:{name}\n"),
                  "-out", base + ".pem"]):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    return base + ".pem", base + "-key.pem"


def test_certificates():
    step("certificates that load but that clients refuse: an expired one, "
         "one that does not cover a vhost's name: ✗ each, exit 1")
    backend = Server(echo)
    old, old_key = self_signed("old.test", -1)
    soon, soon_key = self_signed("soon.test", 3)
    conf = write_file("certs.ini", "".join([
        section("listener old", bind=fmt_addr(LOOPBACK4, free_port()),
                tls="on", tls_cert=old, tls_key=old_key,
                backend=backend.addr),
        section("listener soon", bind=fmt_addr(LOOPBACK4, free_port()),
                tls="on", tls_cert=soon, tls_key=soon_key,
                backend=backend.addr),
        section("vhost api.test", listener="soon", backend=backend.addr)]))
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"{conf}:4:", f"tls_cert {old}",
               "has expired; clients will refuse it")
    check_line(done, BAD, "listener soon: the certificate for api.test does "
               "not cover that name")
    check_line(done, NOTE, f"{conf}:11:", f"tls_cert {soon}",
               "the certificate expires in ")
    check_equal(last_line(done), "2 problems found", "the summary")
    check("will refuse" not in done.stderr,
          "the warnings are findings, not log lines on stderr", done.stderr)


def test_tls_auto():
    step("tls = auto without a CA in state_dir yet: said, with the hint, "
         "and not a failure")
    state = os.path.join(tmpdir(), "state")
    backend = Server(echo)
    text = (section("global", state_dir=state) +
            section("listener web", bind=f"{LOOPBACK4}:{free_port()}",
                    mode="http", tls="auto", backend=backend.addr))
    conf = write_file("auto.ini", text)
    done = doctor("-c", conf)
    check_equal(done.returncode, 0, "exit status")
    check_line(done, NOTE, f"no local CA in {state}",
               f"portier ca -d {state} trust")
    check(not os.path.exists(state), "doctor did not create the directory")

    step("tls = auto with a state_dir that cannot be made: ✗ with why")
    blocker = write_file("not-a-dir", "a file where a directory should be")
    text_bad = (section("global", state_dir=os.path.join(blocker, "ca")) +
                section("listener web", bind=f"{LOOPBACK4}:{free_port()}",
                        mode="http", tls="auto", backend=backend.addr))
    done = doctor("-c", write_file("auto-bad.ini", text_bad))
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, "portier could not make one there",
               "Not a directory")

    step("once the CA exists: present, trusted or not")
    made = subprocess.run([portier_path(), "ca", "-d", state, "path"],
                          capture_output=True, text=True, timeout=30)
    check_equal(made.returncode, 0, "portier ca -d DIR path made the CA")
    root = made.stdout.strip()
    done = doctor("-c", conf)
    check_line(done, OK, f"local CA {root} is present")
    trust = lines(done, OK, "trusted by the system store") + \
        lines(done, BAD, "not trusted by the system store",
              f"portier ca -d {state} trust")
    check(trust, "a line says whether the system store trusts it",
          done.stdout)

    step("a CA key that other users may read: ✗ with the fix")
    key = os.path.join(state, "ca-key.pem")
    os.chmod(key, 0o644)
    done = doctor("-c", conf)
    check_equal(done.returncode, 1, "exit status")
    check_line(done, BAD, f"local CA: {key}: other users may read",
               f"chmod 600 {key}")
    os.chmod(key, 0o600)

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        skipping("a trusted CA (needs root and unshare for a private "
                 "mount namespace)")
        return
    bundle_dir = "/etc/ssl/certs"
    script = (f"mount -t tmpfs tmpfs {bundle_dir} && "
              f"cp {shlex.quote(root)} {bundle_dir}/ca-certificates.crt && "
              f"exec {shlex.quote(portier_path())} doctor -c "
              f"{shlex.quote(conf)}")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private",
                            "true"], capture_output=True)
    if probe.returncode != 0 or not os.path.isdir(bundle_dir):
        skipping("a trusted CA (unshare --mount does not work here)")
        return
    done = subprocess.run(["unshare", "--mount", "--propagation", "private",
                           "sh", "-c", script], capture_output=True,
                          text=True, timeout=30)
    print(done.stdout, end="")
    print(done.stderr, end="")
    check_line(done, OK, "trusted by the system store",
               f"{bundle_dir}/ca-certificates.crt")
    check_equal(done.returncode, 0, "a trusted CA: exit 0")


def firewall_skip_reason():
    if os.geteuid() != 0:
        return "not root"
    for tool in ("unshare", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["unshare", "-n", "nft", "list", "ruleset"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"nft in a new network namespace fails: {probe.stderr}"
    return None


def test_firewall():
    step("the firewall, in a private network namespace")
    reason = firewall_skip_reason()
    if reason:
        skipping(f"the firewall part ({reason})")
        return
    # The namespace is new: every port is free, and its rules are ours.
    dropped, policy, accepted = 8080, 8081, 8082
    rules = write_file("rules.nft", f"""
table inet doctor {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ct state established,related accept
        tcp dport {dropped} counter drop
    }}
}}
table ip doctor4 {{
    chain input {{
        type filter hook input priority 0; policy drop;
        iif "lo" accept
        tcp dport {{ 22, {accepted} }} accept
    }}
}}
""")
    sock = os.path.join(tmpdir(), "backend.sock")
    backend = Server(echo, unix_path=sock)
    text = "".join(
        tcp_listener(name, f"0.0.0.0:{port}", backend.addr)
        for name, port in (("dropped", dropped), ("policy", policy),
                           ("accepted", accepted)))
    conf = write_file("lan.ini", text)
    # Readable by the unprivileged run below.
    os.chmod(tmpdir(), 0o755)
    os.chmod(conf, 0o644)
    portier = shlex.quote(portier_path())
    script = (f"nft -f {shlex.quote(rules)} || exit 99\n"
              f"{portier} doctor -c {shlex.quote(conf)}\n"
              "echo \"status=$?\"\n")
    nobody = None
    if shutil.which("setpriv"):
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pass
    if nobody is not None:
        script += ("echo '== as nobody'\n"
                   f"setpriv --reuid={nobody.pw_uid} --regid={nobody.pw_gid}"
                   f" --clear-groups {portier} doctor -c "
                   f"{shlex.quote(conf)}\n"
                   "echo \"status=$?\"\n")
    info("$ unshare -n sh -c ...")
    done = subprocess.run(["unshare", "-n", "sh", "-c", script],
                          capture_output=True, text=True, timeout=40)
    print(done.stdout, end="")
    print(done.stderr, end="")
    check(done.returncode != 99, "nft loaded the rules", done.stderr)
    if SANITIZER_REPORT.search(done.stderr):
        check(False, "no sanitizer report", done.stderr)
    as_root, _, as_nobody = done.stdout.partition("== as nobody")
    check("status=1" in as_root, "exit status 1 as root", as_root)
    check_line(as_root, BAD, f"tcp port {dropped} is dropped by the rule",
               f"tcp dport {dropped}", "nft table inet doctor")
    check_line(as_root, BAD, f"tcp port {policy} is dropped by the policy",
               "nft table ip doctor4")
    check_line(as_root, OK, f"tcp port {accepted}", "no rule drops it")
    check_line(as_root, OK, f"0.0.0.0:{dropped} is free")
    check_equal(len(lines(as_root, BAD)), 2, "two problems")
    if nobody is None:
        skipping("the firewall without root (no setpriv or nobody)")
        return
    check_line(as_nobody, NOTE, "could not read the firewall rules",
               "needs root")
    check(not lines(as_nobody, BAD, "firewall"),
          "unreadable rules are not a problem")
    check(re.search(r"^status=\d+$", as_nobody, re.M) is not None,
          "doctor ran as nobody", as_nobody)


def test_usage():
    step("usage: -h, and what is not an option")
    done = doctor("-h")
    check_equal(done.returncode, 0, "-h: exit 0")
    check("usage: portier doctor" in done.stdout, "-h prints the usage")
    for args in (["-x"], ["extra"]):
        done = doctor(*args)
        check_equal(done.returncode, 1, f"{' '.join(args)}: exit 1")


def main():
    test_usage()
    test_good()
    test_refused()
    test_port_held()
    test_held_by_portier()
    test_ipv6_only()
    test_udp()
    test_config_error()
    test_unserved()
    test_redirect()
    test_certificates()
    test_tls_auto()
    test_firewall()
    if skipped:
        info("parts skipped: " + "; ".join(skipped))


run(main)
