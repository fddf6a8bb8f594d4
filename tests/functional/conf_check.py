# SPDX-License-Identifier: MIT
"""Configuration checking, and the command-line options.

- every example in conf/ passes `portier -t -c FILE`: exit 0 and
  "FILE: configuration OK" on stdout;
- broken files give exit 1 and "FILE:LINE: message" on stderr, both with -t
  and when run for real, and portier opens no port: the file's listener
  port is held by the test, so a portier that tried to bind it would fail
  with "cannot bind" and status 2 instead of reporting the configuration
  error;
- the command line: -V and -h answer and exit 0; -q logs only warnings
  and errors, -v adds debug lines; every command refuses an argument it
  does not take, with exit 1 and a message;
- every spelling of a boolean "no" turns off the keys that can be off,
  and access_log = no writes no file named "no";
- access_log and pidfile, which a start writes before it drops
  privileges: a directory that is not there, a file where the directory
  should be, or a directory at the file's path is an error at the key's
  line, with -t and at a start (exit 1, no port opened), and -t makes no
  file; as root, with a directory only root may write, -t run as nobody
  says nobody may not make files there, unless the file names a user
  only root can become (the start that opens them then runs as root);
- a very long key is reported at its line, shortened, not dropped;
- what a valid file will not do as it reads is a note, FILE:LINE on
  stderr with -t (exit 0) and in the log of a start: an http listener
  with no backend that no vhost serves answers every request with 404;
  redirect_https to a port where no listener of the file serves TLS
  (said at a reload too);
- a file with CR-only line ends (old Mac) is read line by line.
"""

import glob
import os
import re
import signal
import socket
import subprocess

from lib import (LOOPBACK4, Server, at_cleanup, check, check_equal,
                 check_log, connect, echo, echo_ok, free_port, info,
                 portier_path, run, run_portier, srcdir, start_portier, step,
                 tmpdir, unprivileged_user, wait_port, wait_until,
                 write_file)

EXAMPLES = ("tcp-forward.ini", "lan-dev-server.ini", "vhosts.ini", "tls.ini",
            "udp-forward.ini")


def tcp_section(port, backend_port, extra=""):
    """Lines 1-4 of most broken files: one valid tcp listener."""
    return (f"[listener db]\nbind = 127.0.0.1:{port}\nmode = tcp\n"
            f"backend = 127.0.0.1:{backend_port}\n{extra}")


def broken_files(port, backend):
    """(name, text, line of the error or None when any line will do)."""
    return [
        ("unknown-key", tcp_section(port, backend, "colour = blue\n"), 5),
        ("bad-mode", f"[listener db]\nbind = 127.0.0.1:{port}\n"
         f"mode = carrier-pigeon\nbackend = 127.0.0.1:{backend}\n", 3),
        ("bad-backend-port", f"[listener db]\nbind = 127.0.0.1:{port}\n"
         "mode = tcp\nbackend = 127.0.0.1:99999\n", 4),
        ("unknown-section",
         tcp_section(port, backend, "\n[frontend web]\nbind = 8080\n"), 6),
        ("bad-duration",
         "[global]\ntimeout_idle = soon\n\n" + tcp_section(port, backend), 2),
        ("cidr-host-bits",
         tcp_section(port, backend, "allow = 10.0.0.1/8\n"), 5),
        ("bad-log-level",
         "[global]\nlog_level = chatty\n" + tcp_section(port, backend), 2),
        ("tcp-without-backend",
         f"[listener db]\nbind = 127.0.0.1:{port}\nmode = tcp\n", None),
        ("same-address-twice",
         tcp_section(port, backend, f"\n[listener db2]\n"
                     f"bind = 127.0.0.1:{port}\nmode = tcp\n"
                     f"backend = {backend}\n"), None),
        ("vhost-without-listener",
         tcp_section(port, backend, "\n[vhost app.test]\n"
                     "listener = nosuch\nbackend = 5173\n"), None),
    ]


def hold_port(port):
    """Listen on 127.0.0.1:port until the test ends."""
    s = socket.socket()
    at_cleanup(s.close)
    s.bind((LOOPBACK4, port))
    s.listen()
    return s


def test_examples():
    step("every conf/*.ini passes portier -t")
    confdir = os.path.join(srcdir(), "conf")
    files = sorted(glob.glob(os.path.join(confdir, "*.ini")))
    names = [os.path.basename(f) for f in files]
    for name in EXAMPLES:
        check(name in names, f"conf/{name} exists")
    for path in files:
        r = run_portier("-t", "-c", path)
        for line in (r.stdout + r.stderr).splitlines():
            info(f"| {line}")
        check_equal(r.returncode, 0, f"{os.path.basename(path)}: exit status")
        check(f"{path}: configuration OK" in r.stdout,
              f"{os.path.basename(path)}: stdout says "
              f"'{path}: configuration OK'")


def test_good_inline():
    step("a minimal tcp forward passes -t")
    path = write_file("good.ini", tcp_section(free_port(), free_port()))
    r = run_portier("-t", "-c", path)
    check_equal(r.returncode, 0, "exit status")
    check_equal(r.stdout.strip(), f"{path}: configuration OK", "stdout")


def test_broken():
    port, backend = free_port(), free_port()
    hold_port(port)
    info(f"the test holds 127.0.0.1:{port}, the port every broken file "
         "binds")
    for name, text, line in broken_files(port, backend):
        path = write_file(f"{name}.ini", text)
        where = re.escape(path) + ":" + (str(line) if line else r"\d+") + ":"
        step(f"broken file {name}: exit 1, '{path}:"
             f"{line or 'LINE'}: ...' on stderr, no port opened")
        for args, mode in ((["-t", "-c", path], "-t"),
                           (["-c", path], "run")):
            r = run_portier(*args)
            for out in r.stderr.splitlines():
                info(f"| {out}")
            check_equal(r.returncode, 1, f"{mode}: exit status")
            check(re.search(rf"^{where} \S", r.stderr, re.M),
                  f"{mode}: stderr has a '{path}:"
                  f"{line or 'LINE'}: message' line")
            check("configuration OK" not in r.stdout,
                  f"{mode}: stdout does not say configuration OK")
            check("cannot bind" not in r.stderr and
                  "portier ready" not in r.stderr,
                  f"{mode}: portier did not try to bind any port")


def test_log_dirs():
    port, backend = free_port(), free_port()
    hold_port(port)
    plain = write_file("plain-file", "not a directory\n")
    logs = os.path.join(tmpdir(), "logs")
    os.mkdir(logs)
    missing = "the directory /no/such/dir does not exist"
    for key, path, message in (
            ("access_log", "/no/such/dir/access.log",
             f"access_log /no/such/dir/access.log: {missing}"),
            ("pidfile", "/no/such/dir/portier.pid",
             f"pidfile /no/such/dir/portier.pid: {missing}"),
            ("access_log", f"{plain}/access.log",
             f"access_log {plain}/access.log: {plain} is not a directory"),
            ("pidfile", logs, f"pidfile {logs} is a directory")):
        step(f"{key} = {path}: -t and a start say so at its line, exit 1, "
             "no port opened")
        conf = write_file("log-dir.ini", f"[global]\n{key} = {path}\n" +
                          tcp_section(port, backend))
        for args, mode in ((["-t", "-c", conf], "-t"), (["-c", conf], "run")):
            r = run_portier(*args)
            for out in r.stderr.splitlines():
                info(f"| {out}")
            check_equal(r.returncode, 1, f"{mode}: exit status")
            check(f"{conf}:2: {message}" in r.stderr,
                  f"{mode}: stderr says '{conf}:2: {message}'", r.stderr)
            check("cannot bind" not in r.stderr and
                  "portier ready" not in r.stderr,
                  f"{mode}: portier did not try to bind any port")

    step("access_log and pidfile in a directory that is there: -t passes "
         "and makes neither file")
    log, pid = os.path.join(logs, "access.log"), os.path.join(logs, "p.pid")
    conf = write_file("log-dir-ok.ini",
                      f"[global]\naccess_log = {log}\npidfile = {pid}\n" +
                      tcp_section(free_port(), backend))
    r = run_portier("-t", "-c", conf)
    check_equal(r.returncode, 0, "-t: exit status")
    check_equal(os.listdir(logs), [], "files in the directory")

    user, possible = unprivileged_user()
    if user is None or not possible:
        info("not root (or no setpriv and nobody): -t as another user is "
             "not tested")
        return
    step("as root, a directory only root may write: -t as nobody says "
         "nobody may not make files there; with user = root in the file "
         "(a start as root, then a drop) it passes")
    os.chmod(tmpdir(), 0o755)
    rootonly = os.path.join(tmpdir(), "rootonly")
    os.mkdir(rootonly, 0o755)
    log = os.path.join(rootonly, "access.log")
    for extra, status in (("", 1), ("user = root\n", 0)):
        conf = write_file("root-dir.ini",
                          f"[global]\naccess_log = {log}\n{extra}" +
                          tcp_section(free_port(), backend))
        os.chmod(conf, 0o644)
        cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
               "--clear-groups", portier_path(), "-t", "-c", conf]
        info("$ " + " ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        for out in (r.stdout + r.stderr).splitlines():
            info(f"| {out}")
        check_equal(r.returncode, status,
                    f"{extra.strip() or 'no user'}: exit status")
        if status:
            check(f"{conf}:2: access_log {log}: cannot make files in "
                  f"{rootonly} as user {user.pw_name}: Permission denied"
                  in r.stderr, "   stderr says why", r.stderr)


def test_missing_file():
    step("a file that does not exist: exit 1, its name on stderr")
    path = os.path.join(tmpdir(), "absent.ini")
    r = run_portier("-t", "-c", path)
    check_equal(r.returncode, 1, "exit status")
    check(path in r.stderr, "stderr names the file", r.stderr)


def test_version_help():
    step("-V prints the version, -h the usage; both exit 0")
    r = run_portier("-V")
    info(f"| {r.stdout.strip()}")
    check_equal(r.returncode, 0, "-V: exit status")
    check(re.search(r"portier\D*\d+\.\d+", r.stdout),
          "-V: stdout has 'portier' and a version number")
    r = run_portier("-h")
    check_equal(r.returncode, 0, "-h: exit status")
    check("-c" in r.stdout and "-t" in r.stdout,
          "-h: stdout lists the -c and -t options")
    step("--version and --help are -V and -h, for the commands too")
    r = run_portier("--version")
    check(r.returncode == 0 and re.search(r"portier\D*\d+\.\d+", r.stdout),
          "--version: exit 0 and the version", r.stdout + r.stderr)
    for args in (["--help"], ["ports", "--help"], ["doctor", "--help"],
                 ["ca", "--help"], ["expose", "--help"]):
        r = run_portier(*args)
        check(r.returncode == 0 and "usage: portier" in r.stdout,
              f"{' '.join(args)}: exit 0 and the usage",
              r.stdout + r.stderr)


def test_extra_arguments():
    step("an argument a command does not take: exit 1 and a message")
    path = write_file("extra.ini", tcp_section(free_port(), free_port()))
    for args, word in ((["ports", "extra", "junk"], "extra"),
                       (["ports", "-c", path, "extra"], "extra"),
                       (["doctor", "-c", path, "extra"], "extra"),
                       (["-t", "-c", path, "extra"], "extra"),
                       (["ca", "-d", tmpdir(), "path", "extra"], "extra"),
                       (["ca", "-d", tmpdir(), "path", "extra", "junk"],
                        "'extra'"),
                       (["ca", "-d", tmpdir(), "export", "d", "extra",
                         "junk"], "'extra'"),
                       (["hash", "extra"], "usage: portier hash")):
        r = run_portier(*args)
        for line in r.stderr.splitlines():
            info(f"| {line}")
        check_equal(r.returncode, 1, f"{' '.join(args)}: exit status")
        check(word in r.stderr, f"{' '.join(args)}: stderr names "
              f"'{word}'", r.stderr)


def test_off_spellings():
    for word in ("off", "no", "false", "0", "No", "FALSE"):
        step(f"'{word}' turns off access_log, admin, tls, proxy_protocol "
             "and redirect_https")
        path = write_file(f"off-{word}.ini",
                          f"[global]\naccess_log = {word}\n"
                          f"admin = {word}\n"
                          f"[listener web]\nbind = {free_port()}\n"
                          f"mode = http\nbackend = {free_port()}\n"
                          f"tls = {word}\nproxy_protocol = {word}\n"
                          f"redirect_https = {word}\n")
        r = run_portier("-t", "-c", path)
        for line in r.stderr.splitlines():
            info(f"| {line}")
        check_equal(r.returncode, 0, "-t: exit status")
    step("access_log = no, false or 0: portier runs and writes no file of "
         "that name in its working directory")
    workdir = os.path.join(tmpdir(), "workdir")
    os.mkdir(workdir)
    here = os.getcwd()
    os.chdir(workdir)
    try:
        for word in ("no", "false", "0"):
            def config():
                return ("[global]\naccess_log = " + word + "\n" +
                        tcp_section(free_port(), free_port()))
            p = start_portier(config)
            p.stop()
    finally:
        os.chdir(here)
    check_equal(sorted(os.listdir(workdir)), [],
                "files in portier's working directory")


def test_long_key():
    step("a key of 20,000 characters: FILE:LINE and the key shortened")
    path = write_file("long-key.ini",
                      tcp_section(free_port(), free_port(),
                                  "k" * 20000 + " = 1\n"))
    r = run_portier("-t", "-c", path)
    info(f"| {r.stderr.strip()}")
    check_equal(r.returncode, 1, "exit status")
    check(r.stderr.startswith(f"{path}:5: unknown key 'kkk"),
          "stderr starts with FILE:5: unknown key", r.stderr[:200])
    check(re.search(r"'k+\.\.\.k+' in \[listener db\]$", r.stderr, re.M)
          and len(r.stderr) < 300,
          "the key is shortened around '...'", f"{len(r.stderr)} bytes")


def test_cr_line_ends():
    port, backend = free_port(), free_port()
    step("a file with CR-only line ends (old Mac) passes -t")
    path = write_file("mac.ini", tcp_section(port, backend)
                      .replace("\n", "\r"))
    r = run_portier("-t", "-c", path)
    for line in (r.stdout + r.stderr).splitlines():
        info(f"| {line}")
    check_equal(r.returncode, 0, "exit status")
    check(f"{path}: configuration OK" in r.stdout, "stdout says OK")
    step("a broken one: each CR ends a line, for the line number too")
    path = write_file("mac-bad.ini", tcp_section(port, backend,
                                                 "\ncolour = blue\n")
                      .replace("\n", "\r"))
    r = run_portier("-t", "-c", path)
    info(f"| {r.stderr.strip()}")
    check_equal(r.returncode, 1, "exit status")
    check_equal(r.stderr, f"{path}:6: unknown key 'colour' in "
                "[listener db]\n", "stderr")


def test_notes():
    step("an http listener with no backend that no vhost serves: -t "
         "accepts the file with a note, a start logs it")
    note = "listener web: every request gets 404"

    def config():
        return (f"[listener web]\nbind = 127.0.0.1:{free_port()}\n"
                "mode = http\n")

    path = write_file("unserved.ini", config())
    r = run_portier("-t", "-c", path)
    for line in (r.stdout + r.stderr).splitlines():
        info(f"| {line}")
    check_equal(r.returncode, 0, "-t: exit status")
    check(f"{path}: configuration OK" in r.stdout, "-t: stdout says OK")
    check(f"{path}:1: {note}" in r.stderr, f"-t: stderr has '{path}:1: "
          f"{note}'", r.stderr)
    p = start_portier(config)
    check_log(p, f"{p.conf}:1: {note}")
    p.stop()


def test_redirect_note():
    step("redirect_https to a port where no listener of the file serves "
         "TLS: -t accepts the file with a note, a start and a reload log "
         "it")
    https = free_port()

    def redirect(port):
        return (f"[listener plain]\nbind = 127.0.0.1:{free_port()}\n"
                f"mode = http\nredirect_https = {port}\n")

    def redirect_note(path, port):
        return (f"{path}:4: listener plain: redirect_https = {port}, but "
                f"no listener of this file serves TLS on port {port}")

    path = write_file("redirect.ini", redirect(https))
    r = run_portier("-t", "-c", path)
    for line in (r.stdout + r.stderr).splitlines():
        info(f"| {line}")
    check_equal(r.returncode, 0, "-t: exit status")
    check(f"{path}: configuration OK" in r.stdout, "-t: stdout says OK")
    check(redirect_note(path, https) in r.stderr,
          "-t: stderr has the note", r.stderr)
    p = start_portier(lambda: redirect(https))
    check_log(p, redirect_note(p.conf, https))
    other = free_port()
    with open(p.conf, "w") as f:
        f.write(redirect(other))
    p.send_signal(signal.SIGHUP)
    check_log(p, "SIGHUP: configuration reloaded")
    check_log(p, redirect_note(p.conf, other))
    p.stop()


def log_levels(text):
    """The level word (second field) of every log line."""
    return {line.split()[1] for line in text.splitlines()
            if len(line.split()) > 1}


def test_log_options():
    refused = free_port()
    port = free_port()
    config = tcp_section(port, refused)

    step("-q: only warnings and errors are logged")
    p = start_portier(config, ready=False, args=["-q"])
    check(wait_port(LOOPBACK4, port), "portier listens")
    check_log(p, f"127.0.0.1:{refused}", "Connection refused")
    levels = log_levels(p.log())
    check(levels <= {"warn", "error"}, "no info or debug line",
          f"levels seen: {sorted(levels)}")
    p.stop()

    step("-v: debug lines are logged")
    backend = Server(echo)
    ports = []

    def config():
        ports.append(free_port())
        return tcp_section(ports[-1], backend.port)

    p = start_portier(config, args=["-v"])
    c = connect(LOOPBACK4, ports[-1])
    check(echo_ok(c), "a connection is relayed")
    c.close()
    check(wait_until(lambda: "debug" in log_levels(p.log()), 3.0),
          "the log has debug lines")


def main():
    test_examples()
    test_good_inline()
    test_broken()
    test_log_dirs()
    test_missing_file()
    test_version_help()
    test_extra_arguments()
    test_off_spellings()
    test_long_key()
    test_cr_line_ends()
    test_notes()
    test_redirect_note()
    test_log_options()


run(main)
