# SPDX-License-Identifier: MIT
"""Certificate and key files that cannot be used, as `portier -t`, a start,
a reload (SIGHUP) and `portier doctor` report them: the same message, at
the same FILE:LINE, from the same code.

A test CA signs leaves for a.test (the listener's certificate) and b.test
(a vhost's).

- a key of another certificate is a configuration error written as
  FILE:LINE at the line of its tls_key: "listener NAME: ..." for the
  listener's own files, "vhost NAME: ..." for a vhost's; -t and a start
  exit with status 1 and open no port; doctor prints it on a ✗ line and
  exits 1; a reload is refused with the same message, and the running
  configuration goes on answering;
- tls_cert or tls_key naming a directory: "... is a directory" (not
  OpenSSL's "PEM lib"), the same configuration error; naming a FIFO:
  "... is not a regular file", at once (reading it would wait for a
  writer for good); so is a tls_key
  with no key in it, and one encrypted with a passphrase, which a start
  on a terminal does not ask for;
- a certificate or key file that is not there, or that portier may not
  read (run as nobody when the test runs as root), is a runtime error: a
  start exits with status 2, saying so at FILE:LINE, and opens no port;
  doctor prints it on a ✗ line; -t only notes a file that is not there
  (exit 0: it may be put in place after the check);
- the same for a vhost's files on a tls = auto listener, without -t
  making the local CA;
- good files: doctor says on a ✓ line that they load, and exits 0;
- a tls_cert that holds the server's certificate alone, where clients
  need the intermediate that signed it (a certificate naming its
  issuer's URL, as public CAs' do, whose issuer this machine does not
  trust): a start warns and says to write the full chain; the same
  certificate followed by the intermediate, and a private CA's leaf
  alone (no such URL), start without that warning;
- a certificate whose key is too small for OpenSSL's security level (RSA
  1024) is refused saying so, not as "not a PEM certificate chain";
- a vhost's certificate that expires within two weeks: a start warns at
  the FILE:LINE of its tls_cert, naming the vhost.
"""

import os
import shutil
import signal
import socket
import subprocess

from lib import (LOOPBACK4, SANITIZER_REPORT, Server, check, check_equal,
                 check_log, echo, fmt_addr, free_port, info, portier_path,
                 run, run_portier, section, start_portier, step, tmpdir,
                 unprivileged_user, write_file)
from tlstest import client_context, make_pki, openssl, peer_name


def config(pki, port, listener=None, vhost=None):
    """An https listener on 127.0.0.1:port with a.test's files, and vhost
    b.test with b.test's; `listener` and `vhost` replace some of their
    keys. Returns (text, {(section, key): line})."""
    own = {"bind": fmt_addr(LOOPBACK4, port), "mode": "http",
           "backend": "127.0.0.1:9", "tls": "on",
           "tls_cert": pki.chain["a.test"], "tls_key": pki.key["a.test"],
           **(listener or {})}
    other = {"backend": "127.0.0.1:9", "tls_cert": pki.chain["b.test"],
             "tls_key": pki.key["b.test"], **(vhost or {})}
    text = section("listener web", **own) + section("vhost b.test", **other)
    lines, current = {}, None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("["):
            current = line.strip("[]").split()[0]
        elif "=" in line:
            lines[(current, line.split("=")[0].strip())] = number
    return text, lines


OK, BAD = "\u2713", "\u2717"


def where(path, lines, sect, key):
    """The "FILE:LINE:" a message about `key` of `sect` starts with."""
    return f"{path}:{lines[(sect, key)]}:"


def bad_file(pki, port, sect, key, value, name):
    """A configuration whose listener web or vhost b.test (`sect`) has
    `key` = value, written to file `name`: (its path, the start of every
    message about that key, "FILE:LINE: SECTION NAME: ", its text)."""
    text, lines = config(pki, port, **{sect: {key: value}})
    path = write_file(name, text)
    who = "web" if sect == "listener" else "b.test"
    return path, f"{where(path, lines, sect, key)} {sect} {who}: ", text


def portier_as(user, *args):
    """Run portier ARGS to completion, as `user` (a password entry) when
    given; return the CompletedProcess."""
    if user is None:
        return run_portier(*args)
    cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
           "--clear-groups", portier_path(), *args]
    info("$ " + " ".join(cmd))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20,
                          start_new_session=True)


def check_start(path, status, message, user=None):
    """portier -c path (as `user`, a password entry, if given): exits with
    `status`, logs `message`, opens no port."""
    r = portier_as(user, "-c", path)
    for line in r.stderr.splitlines():
        info(f"| {line}")
    check_equal(r.returncode, status, "a start: exit status")
    check(message in r.stderr, f"a start logs '{message}'", r.stderr)
    check("portier ready" not in r.stderr, "a start opens no port")


def check_t(path, status, message):
    """portier -t -c path: exits with `status`, `message` on stderr;
    returns that line."""
    r = run_portier("-t", "-c", path)
    for line in r.stderr.splitlines():
        info(f"| {line}")
    check_equal(r.returncode, status, "-t: exit status")
    found = [line for line in r.stderr.splitlines() if message in line]
    check(found, f"-t says '{message}'", r.stderr)
    return found[0]


def doctor_lines(done, mark):
    """The lines of doctor's report that start with `mark`."""
    return [line.strip() for line in done.stdout.splitlines()
            if line.strip().startswith(mark + " ")]


def check_doctor(path, message, user=None):
    """portier doctor -c path: a ✗ line that is `message` (a start's),
    exit status 1."""
    done = portier_as(user, "doctor", "-c", path)
    for line in (done.stdout + done.stderr).splitlines():
        info(f"| {line}")
    check(not SANITIZER_REPORT.search(done.stderr), "no sanitizer report",
          done.stderr)
    check_equal(done.returncode, 1, "doctor: exit status")
    check([line for line in doctor_lines(done, BAD)
           if line.startswith(f"{BAD} {message}")],
          f"doctor has a line '{BAD} {message}...'", done.stdout)


def check_refused(path, message):
    """-t and a start exit 1 with `message`, and doctor has it as a ✗."""
    check_t(path, 1, message)
    check_start(path, 1, message)
    check_doctor(path, message)


def test_mismatch(pki):
    port = free_port()
    # (section, its name, its own certificate's name, the other key's)
    for kind, name, own, other in (("listener", "web", "a.test", "b.test"),
                                   ("vhost", "b.test", "b.test", "a.test")):
        step(f"the {kind}'s key belongs to another certificate: "
             f"FILE:LINE: {kind} {name}: ..., exit 1")
        path, start, text = bad_file(pki, port, kind, "tls_key",
                                     pki.key[other], f"{kind}-mismatch.ini")
        message = (f"{start}the key in {pki.key[other]} does not belong "
                   f"to the certificate in {pki.chain[own]}")
        check_refused(path, message)

    step("the same vhost on two tls listeners: -t says it once")
    path = write_file("vhost-mismatch-twice.ini", text + section(
        "listener web2", bind=fmt_addr(LOOPBACK4, free_port()), mode="http",
        backend="127.0.0.1:9", tls="on", tls_cert=pki.chain["a.test"],
        tls_key=pki.key["a.test"]))
    r = run_portier("-t", "-c", path)
    check_equal(r.returncode, 1, "-t: exit status")
    check_equal(r.stderr.count("vhost b.test: the key in"), 1,
                "-t: the vhost's error is said once")


def test_auto_vhost(pki):
    step("a vhost's key of another certificate on a tls = auto listener: "
         "-t, a start and doctor say so; -t makes no CA")
    state = os.path.join(tmpdir(), "auto-state")
    vhost = {"backend": "127.0.0.1:9", "tls_cert": pki.chain["b.test"],
             "tls_key": pki.key["a.test"]}
    text = (section("global", state_dir=state) +
            section("listener web", bind=fmt_addr(LOOPBACK4, free_port()),
                    mode="http", backend="127.0.0.1:9", tls="auto") +
            section("vhost b.test", **vhost))
    path = write_file("auto-vhost-mismatch.ini", text)
    line = text.splitlines().index(f"tls_key = {pki.key['a.test']}") + 1
    message = (f"{path}:{line}: vhost b.test: the key in {pki.key['a.test']}"
               f" does not belong to the certificate in "
               f"{pki.chain['b.test']}")
    check_t(path, 1, message)
    check(not os.path.exists(state), "-t made no local CA")
    check_doctor(path, message)
    check_start(path, 1, message)


def test_directory(pki):
    port = free_port()
    folder = os.path.dirname(pki.chain["a.test"])
    step("the listener's tls_cert is a directory: '... is a directory', "
         "exit 1")
    path, start, _ = bad_file(pki, port, "listener", "tls_cert", folder,
                              "listener-directory.ini")
    check_refused(path, f"{start}tls_cert {folder} is a directory")

    step("a vhost's tls_key is a directory: the same, at its line")
    path, start, _ = bad_file(pki, port, "vhost", "tls_key", folder,
                              "vhost-directory.ini")
    check_refused(path, f"{start}tls_key {folder} is a directory")

    step("the listener's tls_cert is a FIFO: '... is not a regular file', "
         "exit 1, without waiting for a writer")
    fifo = os.path.join(os.path.dirname(folder), "cert-fifo.pem")
    os.mkfifo(fifo)
    path, start, _ = bad_file(pki, port, "listener", "tls_cert", fifo,
                              "listener-fifo.ini")
    check_refused(path, f"{start}tls_cert {fifo} is not a regular file")


def test_not_a_key(pki):
    port = free_port()
    step("tls_key holds a certificate, not a key: said plainly, exit 1")
    path, start, _ = bad_file(pki, port, "listener", "tls_key",
                              pki.chain["a.test"], "cert-as-key.ini")
    check_refused(path, f"{start}tls_key {pki.chain['a.test']}: not a PEM "
                  "private key (no -----BEGIN PRIVATE KEY----- line)")

    step("a key encrypted with a passphrase: said, exit 1, and no prompt "
         "on a terminal")
    encrypted = os.path.join(tmpdir(), "encrypted-key.pem")
    subprocess.run(["openssl", "pkey", "-in", pki.key["a.test"], "-aes256",
                    "-passout", "pass:secret", "-out", encrypted],
                   check=True, capture_output=True)
    path, start, _ = bad_file(pki, port, "listener", "tls_key", encrypted,
                              "encrypted-key.ini")
    message = (f"{start}tls_key {encrypted}: the key is encrypted with a "
               "passphrase, which portier does not ask for")
    check_refused(path, message)
    if shutil.which("script") is None:
        info("skipped: a start on a terminal (no script(1))")
        return
    # script(1) gives portier a terminal, where OpenSSL's default would
    # ask for the passphrase and wait.
    try:
        done = subprocess.run(
            ["script", "-qec", f"{portier_path()} -c {path}", "/dev/null"],
            capture_output=True, text=True, timeout=15, stdin=subprocess.PIPE,
            start_new_session=True)
        out, status = done.stdout, done.returncode
    except subprocess.TimeoutExpired as e:
        out, status = str(e.stdout or ""), None
    check("pass phrase" not in out.lower() and status == 1,
          "a start on a terminal asks for nothing and exits 1",
          f"status {status}: {out[-500:]}")
    check(message in out, "   with the same message", out[-500:])


def copy_file(source, name, mode):
    """A copy of file `source` in the temp dir, with `mode`; its path."""
    with open(source) as f:
        path = write_file(name, f.read())
    os.chmod(path, mode)
    return path


def test_unreadable(pki):
    port = free_port()
    missing = os.path.join(tmpdir(), "absent.pem")
    step("the listener's tls_cert is not there: a start exits with "
         "status 2, doctor says ✗, -t only notes it")
    path, start, _ = bad_file(pki, port, "listener", "tls_cert", missing,
                              "listener-missing.ini")
    message = f"{start}tls_cert {missing}: No such file or directory"
    check_start(path, 2, message)
    check_doctor(path, message)
    line = check_t(path, 0, message)
    check("a note" in line, "   and says it is a note", line)

    step("a vhost's tls_key is not there: the same, at its line")
    path, start, _ = bad_file(pki, port, "vhost", "tls_key", missing,
                              "vhost-missing.ini")
    message = f"{start}tls_key {missing}: No such file or directory"
    check_start(path, 2, message)
    check_doctor(path, message)
    check_t(path, 0, message)

    step("a vhost's tls_key that portier may not read: status 2")
    user, possible = unprivileged_user()
    if not possible:
        info("skipped: the test runs as root and cannot run portier as "
             "another user (setpriv or nobody missing)")
        return
    # Every file readable but the locked key; as root, portier runs as
    # nobody, who must reach the files.
    readable = copy_file(pki.key["a.test"], "a.test-key.pem", 0o644)
    locked = copy_file(pki.key["b.test"], "locked-key.pem",
                       0o000 if user is None else 0o600)
    if user is not None:
        os.chmod(tmpdir(), 0o711)
        os.chmod(os.path.dirname(pki.chain["a.test"]), 0o755)
    text, lines = config(pki, port, listener={"tls_key": readable},
                         vhost={"tls_key": locked})
    path = write_file("vhost-locked.ini", text)
    os.chmod(path, 0o644)
    message = (f"{where(path, lines, 'vhost', 'tls_key')} vhost b.test: "
               f"tls_key {locked}: Permission denied")
    check_start(path, 2, message, user=user)
    check_doctor(path, message, user=user)


def test_good(pki):
    step("good files: doctor says they load (✓), exit 0")
    backend = Server(echo)
    text, _ = config(pki, free_port(), listener={"backend": backend.addr},
                     vhost={"backend": backend.addr})
    path = write_file("good.ini", text)
    done = run_portier("doctor", "-c", path)
    for line in done.stdout.splitlines():
        info(f"| {line}")
    check_equal(done.returncode, 0, "doctor: exit status")
    check(f"{OK} tls_cert and tls_key load and belong together, and those "
          "of 1 vhost" in doctor_lines(done, OK),
          "a ✓ line says the listener's files and the vhost's load",
          done.stdout)
    check(not doctor_lines(done, BAD), "no ✗ line", done.stdout)


def start_config(pki, env=None, **keys):
    """portier started with config(pki, a free port, **keys): (the
    Portier, the {(section, key): line} of its file)."""
    lines = {}

    def text():
        body, where_is = config(pki, free_port(), **keys)
        lines.update(where_is)
        return body

    return start_portier(text, env=env), lines


def leaf_under_intermediate(pki):
    """An intermediate CA signed by the test CA and a leaf for c.test that
    it signs, naming where its issuer's certificate is published (as the
    certificates of public CAs do). Returns the paths of the leaf alone,
    of the leaf followed by the intermediate, and of the key."""
    d = pki.dir
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ext = write_file("intermediate.ext", "basicConstraints=critical,CA:TRUE\n"
                     "keyUsage=critical,keyCertSign,cRLSign\n")
    openssl("req", "-new", *ec, "-keyout", f"{d}/int-key.pem",
            "-out", f"{d}/int.csr", "-subj", "/CN=portier test intermediate")
    openssl("x509", "-req", "-in", f"{d}/int.csr", "-CA", pki.ca,
            "-CAkey", pki.ca_key, "-days", "30", "-set_serial", "77",
            "-extfile", ext, "-out", f"{d}/int.pem")
    ext = write_file("c.ext", "basicConstraints=critical,CA:FALSE\n"
                     "subjectAltName=DNS:c.test\n"
                     "authorityInfoAccess=caIssuers;"
                     "URI:http://ca.invalid/int.der\n")
    openssl("req", "-new", *ec, "-keyout", f"{d}/c-key.pem",
            "-out", f"{d}/c.csr", "-subj", "/CN=c.test")
    openssl("x509", "-req", "-in", f"{d}/c.csr", "-CA", f"{d}/int.pem",
            "-CAkey", f"{d}/int-key.pem", "-days", "30", "-set_serial",
            "78", "-extfile", ext, "-out", f"{d}/c-leaf.pem")
    with open(f"{d}/c-leaf.pem") as leaf, open(f"{d}/int.pem") as mid:
        full = write_file("c-full.pem", leaf.read() + mid.read())
    return f"{d}/c-leaf.pem", full, f"{d}/c-key.pem"


def test_leaf_alone(pki):
    step("a tls_cert with the certificate alone, whose intermediate "
         "clients need: a start warns; the full chain, or a private "
         "CA's leaf alone, starts without that warning")
    leaf, full, key = leaf_under_intermediate(pki)
    backend = Server(echo)
    private_leaf = pki.chain["a.test"].replace(".pem", "-leaf.pem")
    # A directory of trusted CAs, as OpenSSL looks them up (by the hash
    # of their name), that holds the intermediate.
    trusted = os.path.join(pki.dir, "trusted")
    os.makedirs(trusted, exist_ok=True)
    shutil.copy(os.path.join(pki.dir, "int.pem"), trusted)
    openssl("rehash", trusted)
    cases = ((leaf, key, None, True, "the leaf alone"),
             (full, key, None, False, "the leaf and its intermediate"),
             (private_leaf, pki.key["a.test"], None, False,
              "a private CA's leaf alone, no caIssuers URL"),
             (leaf, key, trusted, False,
              "the leaf alone, its issuer trusted here (SSL_CERT_DIR)"))
    for cert, cert_key, cert_dir, warned, what in cases:
        env = {"SSL_CERT_DIR": cert_dir} if cert_dir else None
        p, lines = start_config(
            pki, env=env,
            listener={"backend": backend.addr, "tls_cert": cert,
                      "tls_key": cert_key},
            vhost={"backend": backend.addr})
        if warned:
            line = check_log(p, f"{p.conf}:{lines[('listener', 'tls_cert')]}"
                             f": listener web: tls_cert {cert} holds the "
                             "server's certificate alone", "portier test "
                             "intermediate", "full chain")
            check(" warn " in line, "it is a warning", line)
        else:
            check(not p.log_lines("certificate alone"),
                  f"{what}: no warning about the chain", p.log())
        p.stop()


def signed_leaf(pki, name, newkey, days):
    """A leaf for `name` signed by the test CA, its key made with openssl
    req's -newkey `newkey` (a list), valid for `days` days: (certificate
    path, key path)."""
    base = os.path.join(pki.dir, name)
    ext = write_file(name + ".ext", f"subjectAltName=DNS:{name}\n")
    openssl("req", "-new", *newkey, "-nodes", "-keyout", base + "-key.pem",
            "-out", base + ".csr", "-subj", f"/CN={name}")
    openssl("x509", "-req", "-in", base + ".csr", "-CA", pki.ca, "-CAkey",
            pki.ca_key, "-days", str(days), "-set_serial", "79",
            "-extfile", ext, "-out", base + ".pem")
    return base + ".pem", base + "-key.pem"


def test_weak_key(pki):
    step("a vhost's certificate with an RSA 1024 key: refused, saying the "
         "key is too small")
    cert, key = signed_leaf(pki, "weak.test", ["-newkey", "rsa:1024"], 30)
    text, lines = config(pki, free_port(),
                         vhost={"tls_cert": cert, "tls_key": key})
    path = write_file("weak.ini", text)
    check_refused(path, f"{where(path, lines, 'vhost', 'tls_cert')} vhost "
                  f"b.test: tls_cert {cert}: the certificate's key is too "
                  "small for OpenSSL's security level")


def test_expiring(pki):
    step("a vhost's certificate that expires in 5 days: a start warns at "
         "its tls_cert's FILE:LINE, naming the vhost")
    cert, key = signed_leaf(pki, "soon.test",
                            ["-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:P-256"], 5)
    p, lines = start_config(pki, vhost={"tls_cert": cert, "tls_key": key})
    line = check_log(p, f"{where(p.conf, lines, 'vhost', 'tls_cert')} "
                     f"vhost b.test: tls_cert {cert}: the certificate "
                     "expires in ")
    check(" 4 days" in line or " 5 days" in line, "in 4 or 5 days (the "
          "seconds since it was signed)", line)
    p.stop()


def https_name(pki, port, sni):
    """The common name of the certificate portier sends for `sni`."""
    with socket.create_connection((LOOPBACK4, port), timeout=5) as raw:
        ctx = client_context(pki)
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            return peer_name(tls)


def test_reload(pki):
    step("a reload with a vhost's key of another certificate: refused "
         "with FILE:LINE: vhost b.test, the running configuration stays")
    ports = []

    def good():
        ports.append(free_port())
        return config(pki, ports[-1])[0]

    p = start_portier(good)
    port = ports[-1]
    check_equal(https_name(pki, port, "b.test"), "b.test",
                "before: b.test gets its own certificate")
    text, lines = config(pki, port, vhost={"tls_key": pki.key["a.test"]})
    with open(p.conf, "w") as f:
        f.write(text)
    p.send_signal(signal.SIGHUP)
    line = check_log(p, "SIGHUP:", "the running configuration stays",
                     timeout=5)
    check(f"SIGHUP: {where(p.conf, lines, 'vhost', 'tls_key')} vhost "
          f"b.test: the key in {pki.key['a.test']} does not belong" in line,
          "the log line says FILE:LINE: vhost b.test: ...", line)
    check_equal(https_name(pki, port, "b.test"), "b.test",
                "after: b.test still gets its own certificate")


def main():
    step("certificates")
    pki = make_pki(["a.test", "b.test"])
    test_good(pki)
    test_auto_vhost(pki)
    test_not_a_key(pki)
    test_mismatch(pki)
    test_directory(pki)
    test_unreadable(pki)
    test_reload(pki)
    test_leaf_alone(pki)
    test_weak_key(pki)
    test_expiring(pki)


run(main)
