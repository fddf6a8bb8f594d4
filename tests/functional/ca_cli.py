# SPDX-License-Identifier: MIT
"""`portier ca`: the local certificate authority from the command line.

- `portier ca path` makes the CA on first use, says so on stderr, and
  prints the root certificate's path: in the state_dir of `-c FILE`
  (given before or after the command), in $XDG_STATE_HOME/portier, or in
  `-d DIR`, which wins; the key is mode 0600 in a 0700 directory;
- `export DIR` writes a PEM and a DER file that openssl reads as the same
  certificate, and an iOS profile (a property list) whose root payload
  holds that DER certificate; a second export writes the same bytes; a
  DIR that is not there is made with its parents (mode 0755), and one
  that cannot be made is named before any CA is made;
- `trust` and `untrust` for real, but only inside a private mount
  namespace with tmpfs over the system store (root and unshare needed),
  so that the machine's own store is never touched: the bundle holds the
  root after trust and not after untrust; fake NSS databases of Chromium
  and Firefox under a temporary HOME (the snap Chromium's among them)
  get the root and lose it (certutil needed);
- without root, `trust` says that the system store needs `sudo portier
  ca ... trust`, still does the NSS databases and exits 0; without root
  and without certutil it names libnss3-tools, holds the root in no
  store and exits 1 with a last line that says what to do (`untrust`
  too, when a database it cannot read may hold it; not when the root is
  in no store);
- the snap Chromium's database ($HOME/snap/chromium/current/.pki/nssdb)
  alone under HOME gets the root, on a line of its own, and loses it;
- an export that fails half-way says which files it wrote; a root key
  that other users may read stops a tls = auto start (status 2) with the
  fix; another user may show and export a root whose key only root may
  read; a state directory that may not be written is named with the
  file, by `ca path` and by a start (status 2);
- usage errors exit 1.
Every run has HOME in a temporary directory, so no real browser database
or state directory is used.
"""

import os
import plistlib
import re
import shutil
import stat
import subprocess

from lib import (LOOPBACK4, SANITIZER_REPORT, check, check_equal, free_port,
                 info, portier_path, run, step, tmpdir, unprivileged_user,
                 write_file)

SYSTEM_DIR = "/usr/local/share/ca-certificates"
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HOOKS_DIR = "/etc/ca-certificates/update.d"

# A configuration that portier accepts, with state_dir set.
CONFIG = """[global]
state_dir = {state}

[listener web]
bind = 127.0.0.1:8080
mode = tcp
backend = 127.0.0.1:3000
"""

skipped = []


def skipping(what):
    info(f"skipped: {what}")
    skipped.append(what)


def home():
    path = os.path.join(tmpdir(), "home")
    os.makedirs(path, exist_ok=True)
    return path


def ca(*args, env=None, user=None, bare=False, timeout=60):
    """Run `portier ca ARGS` with HOME in the temp dir and no
    XDG_STATE_HOME unless env gives them (bare: with env alone, as
    `env -i`); as `user` through setpriv."""
    full = {} if bare else dict(os.environ)
    full.pop("XDG_STATE_HOME", None)
    full["HOME"] = home()
    full.update(env or {})
    cmd = [portier_path(), "ca", *args]
    if user is not None:
        cmd = [shutil.which("setpriv"), f"--reuid={user.pw_uid}",
               f"--regid={user.pw_gid}", "--clear-groups", *cmd]
    info("$ " + " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, env=full,
                          timeout=timeout, start_new_session=True)
    no_sanitizer_report(done.stderr, " ".join(args))
    return done


def no_sanitizer_report(stderr, what):
    if SANITIZER_REPORT.search(stderr):
        check(False, f"portier ca {what}: no sanitizer report", stderr)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def fingerprint(path, form="PEM"):
    done = subprocess.run(["openssl", "x509", "-inform", form, "-in", path,
                           "-noout", "-fingerprint", "-sha256"],
                          capture_output=True, text=True)
    check_equal(done.returncode, 0, f"openssl x509 reads {path} ({form})")
    return done.stdout.strip().split("=", 1)[1].replace(":", "").lower()


def pem_body(path):
    """The base64 of a PEM certificate, without its lines' breaks."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE",
                  text, re.S)
    check(m is not None, f"{path} holds a PEM certificate")
    return "".join(m.group(1).split())


def in_bundle(body, bundle_text):
    return body in "".join(bundle_text.split())


def test_path():
    step("path: made on first use in the state_dir of -c FILE")
    state = os.path.join(tmpdir(), "from-config")
    conf = write_file("portier.ini", CONFIG.format(state=state))
    first = ca("-c", conf, "path")
    check_equal(first.returncode, 0, "portier ca -c FILE path exits 0")
    root = os.path.join(state, "ca.pem")
    check_equal(first.stdout.strip(), root, "it prints DIR/ca.pem")
    check("made a new local CA" in first.stderr,
          "it says on stderr that it made the CA", first.stderr)
    check(os.path.isfile(root), "the root certificate exists")
    check_equal(mode(state), 0o700, "the directory is mode 0700")
    check_equal(mode(os.path.join(state, "ca-key.pem")), 0o600,
                "the key is mode 0600")
    again = ca("path", "-c", conf)
    check_equal(again.returncode, 0, "-c after the command works too")
    check_equal(again.stdout.strip(), root, "the same path")
    check("made a new" not in again.stderr, "nothing new is made",
          again.stderr)

    step("path: $XDG_STATE_HOME/portier, and -d DIR over -c FILE")
    xdg = os.path.join(tmpdir(), "xdg")
    done = ca("path", env={"XDG_STATE_HOME": xdg})
    check_equal(done.returncode, 0, "portier ca path exits 0")
    check_equal(done.stdout.strip(), os.path.join(xdg, "portier", "ca.pem"),
                "the CA is under $XDG_STATE_HOME/portier")
    explicit = os.path.join(tmpdir(), "explicit")
    done = ca("-d", explicit, "-c", conf, "path")
    check_equal(done.stdout.strip(), os.path.join(explicit, "ca.pem"),
                "-d DIR wins over the state_dir of -c FILE")
    return state


def test_export(state):
    step("export: PEM, DER and an iOS profile of the same root")
    out = os.path.join(tmpdir(), "export")
    os.mkdir(out)
    done = ca("-d", state, "export", out)
    check_equal(done.returncode, 0, "portier ca export DIR exits 0")
    pem = os.path.join(out, "portier-ca.pem")
    der = os.path.join(out, "portier-ca.der")
    profile = os.path.join(out, "portier-ca.mobileconfig")
    for path in (pem, der, profile):
        check(f"wrote {path}" in done.stdout, f"it says it wrote {path}",
              done.stdout)
    check("iOS" in done.stdout and "Android" in done.stdout,
          "it says how to install on iOS and Android")
    root_fp = fingerprint(os.path.join(state, "ca.pem"))
    check_equal(fingerprint(pem), root_fp, "the PEM file is the root")
    check_equal(fingerprint(der, "DER"), root_fp, "the DER file is the root")
    with open(profile, "rb") as f:
        first_bytes = f.read()
    plist = plistlib.loads(first_bytes)
    check_equal(plist.get("PayloadType"), "Configuration",
                "the profile is a configuration property list")
    payloads = plist.get("PayloadContent", [])
    check_equal(len(payloads), 1, "with one payload")
    check_equal(payloads[0].get("PayloadType"), "com.apple.security.root",
                "a com.apple.security.root payload")
    with open(der, "rb") as f:
        check(payloads[0].get("PayloadContent") == f.read(),
              "whose content is the DER certificate")
    check(plist.get("PayloadUUID") != payloads[0].get("PayloadUUID"),
          "the profile and the payload have their own UUIDs")

    cwd = os.path.join(tmpdir(), "cwd")
    os.mkdir(cwd)
    full = dict(os.environ, HOME=home())
    again = subprocess.run([portier_path(), "ca", "-d", state, "export"],
                           cwd=cwd, capture_output=True, text=True,
                           env=full, timeout=30)
    check_equal(again.returncode, 0, "export without DIR exits 0")
    with open(os.path.join(cwd, "portier-ca.mobileconfig"), "rb") as f:
        check(f.read() == first_bytes,
              "writes into the current directory, the same profile bytes")
    check(os.path.isfile(os.path.join(cwd, "portier-ca.der")),
          "and the DER file")

    step("export into a directory that is not there makes it")
    fresh = os.path.join(tmpdir(), "export-state")
    out = os.path.join(tmpdir(), "new", "phone")
    done = ca("-d", fresh, "export", out)
    check(done.returncode == 0, "portier ca export NEW/DIR exits 0",
          f"status {done.returncode}: {done.stderr}")
    check(f"made the directory {out}" in done.stdout, "it says it made DIR",
          done.stdout)
    umask = os.umask(0)
    os.umask(umask)
    for path in (os.path.dirname(out), out):
        check(os.path.isdir(path), f"{path} is a directory")
        check_equal(mode(path), 0o755 & ~umask, f"{path} is mode 0755 "
                    "less the umask")
    check_equal(fingerprint(os.path.join(out, "portier-ca.der"), "DER"),
                fingerprint(os.path.join(fresh, "ca.pem")),
                "it holds the root of the CA made for it")
    blocker = write_file("blocker", "a file, not a directory\n")
    fresh = os.path.join(tmpdir(), "export-state2")
    for out in (os.path.join(blocker, "sub"), blocker):
        done = ca("-d", fresh, "export", out)
        check_equal(done.returncode, 1, f"export into {out} exits 1")
        check(f"portier: {out}: " in done.stderr, "the error names DIR",
              done.stderr)
        check("made a new local CA" not in done.stderr and
              not os.path.exists(fresh), "and no CA was made first",
              done.stderr)
    return root_fp


def make_nss_homes(base):
    """A HOME with the NSS databases of Chromium, of the snap Chromium and
    of one Firefox profile; returns their directories."""
    dbs = [os.path.join(base, ".pki", "nssdb"), snap_chromium_db(base),
           os.path.join(base, ".mozilla", "firefox", "t3st.default")]
    for db in dbs:
        os.makedirs(db, exist_ok=True)
        done = subprocess.run(["certutil", "-N", "-d", f"sql:{db}",
                               "--empty-password"],
                              capture_output=True, text=True)
        check_equal(done.returncode, 0, f"certutil -N makes {db}")
    return dbs


def snap_chromium_db(base):
    """The directory of the snap Chromium's NSS database under HOME base,
    made as snapd lays it out: `current` links to the revision."""
    snap = os.path.join(base, "snap", "chromium")
    os.makedirs(os.path.join(snap, "3126", ".pki", "nssdb"))
    os.symlink("3126", os.path.join(snap, "current"))
    return os.path.join(snap, "current", ".pki", "nssdb")


def hand_over(user, base):
    """Give base and what it holds to user (None: nobody else runs)."""
    if user is None:
        return
    os.chmod(tmpdir(), 0o711)
    for root, dirs, files in os.walk(base):
        for name in [root] + [os.path.join(root, n) for n in files]:
            os.chown(name, user.pw_uid, user.pw_gid)


def nss_has(db, nick):
    done = subprocess.run(["certutil", "-L", "-d", f"sql:{db}", "-n", nick],
                          capture_output=True, text=True)
    return done.returncode == 0


def nss_trust_flags(db, nick):
    done = subprocess.run(["certutil", "-L", "-d", f"sql:{db}"],
                          capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith(nick):
            return line.split()[-1]
    return None


def test_system_store(state, root_fp):
    step("trust and untrust as root, in a private mount namespace")
    if os.geteuid() != 0:
        skipping("trust/untrust of the system store (not root)")
        return
    if shutil.which("unshare") is None:
        skipping("trust/untrust of the system store (no unshare)")
        return
    if not os.path.isdir(SYSTEM_DIR) or not os.path.isdir("/etc/ssl/certs") \
            or shutil.which("update-ca-certificates",
                            path="/usr/sbin:/sbin:/usr/bin") is None:
        skipping("trust/untrust of the system store (no Debian "
                 "ca-certificates)")
        return
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private",
                            "sh", "-c", "mount -t tmpfs tmpfs "
                            f"{SYSTEM_DIR}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        skipping(f"trust/untrust of the system store (unshare --mount "
                 f"fails: {probe.stderr.strip()})")
        return
    nick = f"portier-{root_fp[:8]}"
    installed = os.path.join(SYSTEM_DIR, f"{nick}.crt")
    with open(BUNDLE) as f:
        real_bundle = f.read()
    body = pem_body(os.path.join(state, "ca.pem"))

    with_nss = shutil.which("certutil") is not None
    fake_home = os.path.join(tmpdir(), "nss-home")
    dbs = make_nss_homes(fake_home) if with_nss else []
    if not with_nss:
        skipping("NSS databases with certutil (certutil is not installed)")
        os.makedirs(fake_home)

    out = os.path.join(tmpdir(), "ns")
    os.mkdir(out)
    hooks = f"mount -t tmpfs tmpfs {HOOKS_DIR}\n" \
        if os.path.isdir(HOOKS_DIR) else ""
    listings = "n=0; for db in $DBS; do n=$((n + 1)); " \
        "certutil -L -d sql:$db >$OUT/trust.nss.$n; done" if with_nss else ""
    # set -e: nothing runs unless every tmpfs is mounted; no hook of
    # update-ca-certificates runs (its directory is empty).
    script = f"""set -e
mount -t tmpfs tmpfs {SYSTEM_DIR}
mount -t tmpfs tmpfs /etc/ssl/certs
{hooks}
run() {{
    status=0
    "$PORTIER" ca -d "$STATE" "$1" >"$OUT/$2.out" 2>"$OUT/$2.err" || status=$?
    echo $status >"$OUT/$2.status"
    cp {BUNDLE} "$OUT/$2.bundle" 2>/dev/null || : >"$OUT/$2.bundle"
    ls {SYSTEM_DIR} >"$OUT/$2.files"
    {{ find -L /etc/ssl/certs -type l -printf 'dangling %f\\n'
      ls /etc/ssl/certs | grep -F "$NICK" || :; }} >"$OUT/$2.links"
}}
run trust trust
{listings}
run trust trust2
run untrust untrust
run untrust untrust2
"""
    env = dict(os.environ, PORTIER=portier_path(), STATE=state, OUT=out,
               HOME=fake_home, DBS=" ".join(dbs), NICK=nick)
    env.pop("XDG_STATE_HOME", None)
    done = subprocess.run(["unshare", "--mount", "--propagation", "private",
                           "sh", "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    check(done.returncode == 0, "the namespace script ran",
          f"status {done.returncode}: {done.stderr}")

    def read(name):
        with open(os.path.join(out, name)) as f:
            return f.read()

    for name in ("trust", "trust2", "untrust", "untrust2"):
        no_sanitizer_report(read(f"{name}.err"), name)
    trust = read("trust.out")
    info("trust printed:\n      " + trust.strip().replace("\n", "\n      "))
    check_equal(read("trust.status").strip(), "0", "portier ca trust exits 0")
    check(f"\u2713 system store: installed {installed}" in trust,
          "it says it installed the root in the system store", trust)
    check_equal(read("trust.files").split(), [f"{nick}.crt"],
                f"{SYSTEM_DIR} holds {nick}.crt")
    check(in_bundle(body, read("trust.bundle")),
          "update-ca-certificates put the root in the bundle")
    check(f"{nick}.pem" in read("trust.links").split(),
          f"and linked /etc/ssl/certs/{nick}.pem to it", read("trust.links"))
    check_equal(read("trust2.status").strip(), "0",
                "a second trust exits 0 too")
    if with_nss:
        for n, db in enumerate(dbs, 1):
            check(f"\u2713 " in trust and f"NSS database {db}: added {nick}"
                  in trust, f"it says it added the root to {db}", trust)
            listing = read(f"trust.nss.{n}")
            check(nick in listing and "C,," in listing,
                  f"{db} held {nick}, trusted for TLS servers", listing)
    untrust = read("untrust.out")
    info("untrust printed:\n      " +
         untrust.strip().replace("\n", "\n      "))
    check_equal(read("untrust.status").strip(), "0",
                "portier ca untrust exits 0")
    check(f"\u2713 system store: removed {installed}" in untrust,
          "it says it removed the root from the system store", untrust)
    check_equal(read("untrust.files").split(), [],
                f"{SYSTEM_DIR} is empty again")
    check(not in_bundle(body, read("untrust.bundle")),
          "the bundle no longer holds the root")
    check_equal(read("untrust.links"), "",
                f"/etc/ssl/certs holds no link to {nick} and no dangling "
                "link (update-ca-certificates --fresh)")
    for db in dbs:
        check(f"NSS database {db}: removed {nick}" in untrust,
              f"it says it removed the root from {db}", untrust)
        check(not nss_has(db, nick), f"{db} no longer holds {nick}")
    again = read("untrust2.out")
    check_equal(read("untrust2.status").strip(), "0",
                "a second untrust exits 0")
    check("is not there (nothing to do)" in again,
          "and says there was nothing to do", again)
    check("\u2717" not in trust + untrust + again, "no step failed")

    check(not os.path.exists(installed),
          f"the machine's own {SYSTEM_DIR} was not touched")
    with open(BUNDLE) as f:
        check(f.read() == real_bundle,
              f"the machine's own {BUNDLE} was not touched")




def test_not_root():
    step("trust without root: what to run, and the NSS databases")
    user, possible = unprivileged_user()
    if not possible:
        skipping("trust without root (cannot run portier as another "
                 "user: setpriv or access to the binary missing)")
        return
    base = os.path.join(tmpdir(), "user")
    os.makedirs(base)
    with_nss = shutil.which("certutil") is not None
    user_home = os.path.join(base, "home")
    dbs = make_nss_homes(user_home) if with_nss else []
    if not with_nss:
        os.makedirs(os.path.join(user_home, ".pki", "nssdb"))
        open(os.path.join(user_home, ".pki", "nssdb", "cert9.db"),
             "w").close()
    state = os.path.join(base, "state")
    hand_over(user, base)
    env = {"HOME": user_home}
    done = ca("-d", state, "trust", env=env, user=user)
    info("trust printed:\n      " +
         done.stdout.strip().replace("\n", "\n      "))
    check_equal(done.returncode, 0,
                "exit 0: every step that could be taken was done")
    check(re.search(r"\u2717 system store: needs root; run: sudo portier "
                    rf"ca -d {re.escape(state)} trust", done.stdout),
          "it says the system store needs `sudo portier ca -d DIR trust`",
          done.stdout)
    with open(os.path.join(state, "ca.pem")) as f:
        check(f.read().startswith("-----BEGIN CERTIFICATE-----"),
              "the CA was made in the state directory")
    fp = fingerprint(os.path.join(state, "ca.pem"))
    nick = f"portier-{fp[:8]}"
    if with_nss:
        for db in dbs:
            check(f"\u2713 Chromium NSS database {db}: added" in done.stdout
                  or f"\u2713 Firefox NSS database {db}: added"
                  in done.stdout, f"it added the root to {db}", done.stdout)
            check(nss_has(db, nick), f"{db} holds {nick}")
        done = ca("-d", state, "untrust", env=env, user=user)
        check_equal(done.returncode, 0, "untrust exits 0")
        for db in dbs:
            check(not nss_has(db, nick), f"{db} no longer holds {nick}")
        check("- system store: " in done.stdout and "nothing to do"
              in done.stdout, "nothing to do in the system store",
              done.stdout)

    step("trust that leaves the root in no store exits 1 and says why")
    bare = {"HOME": user_home, "PATH": "/nonexistent"}
    done = ca("-d", state, "trust", user=user, env=bare, bare=True)
    info("trust printed:\n      " +
         done.stdout.strip().replace("\n", "\n      "))
    check_equal(done.returncode, 1, "exit 1: no store holds the root")
    check(re.search(r"\u2717 Chromium NSS database .*certutil not found.*"
                    r"libnss3-tools", done.stdout),
          "it says that Debian's libnss3-tools provides certutil",
          done.stdout)
    check("\u2713" not in done.stdout, "no step was done", done.stdout)
    last = done.stderr.strip().splitlines()[-1:]
    check_equal(last, [f"portier: no store trusts the root now: run `sudo "
                       f"portier ca -d {state} trust` for the system "
                       "store, or install certutil (Debian's libnss3-tools "
                       "package) for the browsers"],
                "its last line says so, and what to do")
    done = ca("-d", state, "untrust", user=user, env=bare, bare=True)
    check_equal(done.returncode, 1,
                "untrust that takes the root out of no store while a "
                "database it cannot read may hold it exits 1")
    check_equal(done.stderr.strip().splitlines()[-1:],
                ["portier: the root was taken out of no store, and one "
                 "may still hold it: install certutil (Debian's "
                 "libnss3-tools package) for the browsers"],
                "its last line says so, and what to do")
    empty_home = os.path.join(base, "empty")
    os.mkdir(empty_home)
    done = ca("-d", state, "untrust", user=user, bare=True,
              env={"HOME": empty_home, "PATH": "/nonexistent"})
    check_equal(done.returncode, 0,
                "untrust of a root that is in no store exits 0")
    check_equal(done.stderr, "", "with nothing on stderr")


def test_snap_chromium():
    step("trust and untrust: the NSS database of the snap Chromium")
    user, possible = unprivileged_user()
    if not possible or shutil.which("certutil") is None:
        skipping("the snap Chromium's NSS database (no certutil, or "
                 "portier cannot run as another user)")
        return
    base = os.path.join(tmpdir(), "snap-user")
    snap_home = os.path.join(base, "home")
    db = snap_chromium_db(snap_home)
    done = subprocess.run(["certutil", "-N", "-d", f"sql:{db}",
                           "--empty-password"], capture_output=True,
                          text=True)
    check_equal(done.returncode, 0, f"certutil -N makes {db}")
    state = os.path.join(base, "state")
    hand_over(user, base)
    env = {"HOME": snap_home}
    done = ca("-d", state, "trust", env=env, user=user)
    info("trust printed:\n      " +
         done.stdout.strip().replace("\n", "\n      "))
    check_equal(done.returncode, 0, "portier ca trust exits 0")
    nick = f"portier-{fingerprint(os.path.join(state, 'ca.pem'))[:8]}"
    check(f"\u2713 Chromium NSS database {db}: added {nick}" in done.stdout,
          "it says it added the root to the snap's database, by its path",
          done.stdout)
    check("- Chromium: no NSS database" not in done.stdout,
          "and not that Chromium has no database", done.stdout)
    check(nss_has(db, nick), f"{db} holds {nick}")
    check_equal(nss_trust_flags(db, nick), "C,,",
                "trusted for TLS servers")
    done = ca("-d", state, "untrust", env=env, user=user)
    check_equal(done.returncode, 0, "portier ca untrust exits 0")
    check(f"\u2713 Chromium NSS database {db}: removed {nick}"
          in done.stdout, "it says it removed the root from it",
          done.stdout)
    check(not nss_has(db, nick), f"{db} no longer holds {nick}")


def daemon(conf, user):
    """Start portier with conf as `user` (None: as is) and wait for it to
    stop: a start that fails."""
    cmd = [portier_path(), "-c", conf]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user.pw_uid}",
               f"--regid={user.pw_gid}", "--clear-groups", *cmd]
    info("$ " + " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          start_new_session=True)
    no_sanitizer_report(done.stderr, "daemon")
    return done


def auto_conf(name, state):
    return write_file(name, f"[global]\nstate_dir = {state}\n"
                      "[listener web]\n"
                      f"bind = {LOOPBACK4}:{free_port()}\n"
                      "tls = auto\nbackend = 1\n")


def test_files(state):
    step("export that fails half-way says what it wrote")
    out = os.path.join(tmpdir(), "half")
    os.makedirs(os.path.join(out, "portier-ca.der"))
    done = ca("-d", state, "export", out)
    check_equal(done.returncode, 1, "exit 1")
    check(f"wrote {out}/portier-ca.pem" in done.stdout,
          "it says it wrote the PEM file", done.stdout)
    check(f"{out}/portier-ca.der" in done.stderr,
          "and names the file it could not write", done.stderr)

    step("a root key that other users may read stops tls = auto")
    loose = os.path.join(tmpdir(), "loose")
    shutil.copytree(state, loose)
    key = os.path.join(loose, "ca-key.pem")
    os.chmod(key, 0o644)
    done = daemon(auto_conf("loose.ini", loose), None)
    check_equal(done.returncode, 2, "exit status 2, as for a key file "
                "that may not be read")
    check(f"{key}: other users may read or change it (mode 0644)" in
          done.stderr and f"chmod 600 {key}" in done.stderr,
          "it names the key, its mode and the fix", done.stderr)

    user, _ = unprivileged_user()
    if user is None:
        skipping("a CA owned by another user (not root)")
        return
    step("a CA that root made, used by another user")
    os.chmod(tmpdir(), 0o711)
    shared = os.path.join(tmpdir(), "shared")
    shutil.copytree(state, shared)
    os.chmod(shared, 0o755)
    os.chmod(os.path.join(shared, "ca.pem"), 0o644)
    done = ca("-d", shared, "path", user=user)
    check_equal(done.returncode, 0, "path exits 0 without reading the key")
    check_equal(done.stdout.strip(), os.path.join(shared, "ca.pem"),
                "and prints the root's path")
    out = os.path.join(tmpdir(), "user-export")
    os.mkdir(out)
    os.chown(out, user.pw_uid, user.pw_gid)
    done = ca("-d", shared, "export", out, user=user)
    check(done.returncode == 0, "export exits 0 without reading the key",
          done.stderr)
    check(os.path.isfile(os.path.join(out, "portier-ca.der")),
          "and writes the files")

    step("a state_dir the user may not write")
    empty = os.path.join(tmpdir(), "rootonly")
    os.mkdir(empty, 0o755)
    done = ca("-d", empty, "path", user=user)
    want = (f"cannot make the local CA in {empty}: cannot write "
            f"{empty}/ca-key.pem: Permission denied")
    check_equal(done.returncode, 1, "portier ca path exits 1")
    check(want in done.stderr and "ca-key.pem." not in done.stderr,
          "it names the directory and the file, not a temporary one",
          done.stderr)
    done = daemon(auto_conf("rootonly.ini", empty), user)
    check_equal(done.returncode, 2, "portier exits 2, as for a key file that "
                "may not be read")
    check(want in done.stderr, "with the same words", done.stderr)


def test_usage():
    step("usage errors")
    for args in (("bogus",), (), ("path", "extra"), ("export", "a", "b")):
        done = ca(*args)
        check_equal(done.returncode, 1, f"portier ca {' '.join(args)}: 1")
    done = ca("-h")
    check_equal(done.returncode, 0, "portier ca -h exits 0")
    for word in ("path", "export", "trust", "untrust", "-c FILE", "-d DIR"):
        check(word in done.stdout, f"its help names {word}")
    main_help = subprocess.run([portier_path(), "-h"], capture_output=True,
                               text=True)
    check("portier ca [-c FILE] [-d DIR]" in main_help.stdout,
          "portier -h lists portier ca")
    done = ca("untrust", env={"XDG_STATE_HOME":
                              os.path.join(tmpdir(), "none")})
    check_equal(done.returncode, 1, "untrust without a CA exits 1")
    check("no local CA" in done.stderr, "saying there is no local CA",
          done.stderr)


def main():
    state = test_path()
    root_fp = test_export(state)
    test_system_store(state, root_fp)
    test_not_root()
    test_snap_chromium()
    test_files(state)
    test_usage()
    if skipped:
        step("skipped")
        for what in skipped:
            info(what)


run(main)
