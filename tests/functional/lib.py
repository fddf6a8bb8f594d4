# SPDX-License-Identifier: MIT
"""Helpers shared by portier's functional tests.

Every test is a plain python3 script that runs the real `portier` binary
(path in $PORTIER) against clients and backends on loopback, on ephemeral
ports. A test calls `run(main)`: it prints what each step checks, turns a
failed check into exit status 1, a missing facility into 77 (skip), and
stops every process and server it started, whatever happened.

Backends are small threaded servers (`Server`) with a handler per
connection: `echo`, `sink`, `collect` or `source(total, seed)`. Bulk data is
a deterministic stream (`send_stream` / `recv_stream`) whose SHA-256 both
ends compute, so a lost, duplicated or reordered byte shows.
"""

import collections
import hashlib
import os
import pwd
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77
LOOPBACK4 = "127.0.0.1"
LOOPBACK6 = "::1"
KIB = 1024
MIB = 1024 * KIB

# Longest a single test file may run before it is stopped as hung.
TEST_TIME_LIMIT = 55

# What AddressSanitizer, LeakSanitizer and UBSan print when they find a bug.
SANITIZER_REPORT = re.compile(r"ERROR: \w+Sanitizer|runtime error:")


class TestFailure(Exception):
    """A check failed: the test exits 1."""


class TestSkip(Exception):
    """A facility the test needs is missing: the test exits 77."""


# --- reporting ---------------------------------------------------------


def step(text):
    """Announce what the next checks are about."""
    print(f"\n== {text}", flush=True)


def info(text):
    """Print a detail that helps a reader of the log."""
    print(f"   {text}", flush=True)


def check(condition, what, detail=""):
    """Fail the test unless `condition`; print `what` either way."""
    if not condition:
        raise TestFailure(f"{what}" + (f"\n   {detail}" if detail else ""))
    print(f"   ok: {what}", flush=True)


def check_equal(actual, expected, what):
    """Fail unless actual == expected, showing both."""
    check(actual == expected, what,
          f"expected {expected!r}\n   got      {actual!r}")


def skip(reason):
    """Stop the test as skipped (exit 77) for `reason`."""
    raise TestSkip(reason)


# --- running a test ----------------------------------------------------

_cleanups = []
_portiers = []
_tmpdir = None


def at_cleanup(func):
    """Run func() when the test ends (last registered runs first)."""
    _cleanups.append(func)
    return func


def enter_netns(flag):
    """Run this test again inside a new network namespace, with the
    environment variable `flag` set (this process becomes it, so its exit
    status is the test's); return why not when that cannot be done.
    Returns None inside the namespace, where only `lo` exists, down."""
    if os.environ.get(flag):
        return None
    if os.geteuid() != 0:
        return "not running as root"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"no {tool} command"
    try:
        probe = subprocess.run(["unshare", "--net", "true"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare --net failed: {e}"
    if probe.returncode != 0:
        return f"unshare --net failed: {probe.stderr.strip()}"
    sys.stdout.flush()
    os.execvpe("unshare", ["unshare", "--net", "--", sys.executable,
                           os.path.abspath(sys.argv[0]), *sys.argv[1:]],
               dict(os.environ, **{flag: "1"}))
    return "exec of unshare failed"


def tmpdir():
    """A private temporary directory, removed when the test ends."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="portier-test-")
    return _tmpdir


def _clean_up():
    """Run the cleanups, last registered first."""
    for func in reversed(_cleanups):
        try:
            func()
        except Exception:
            traceback.print_exc(file=sys.stdout)
    _cleanups.clear()


def _on_alarm(signum, frame):
    raise TestFailure(f"test still running after {TEST_TIME_LIMIT} s: hung")


def run(main):
    """Run main() as a test and exit with the automake status."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(TEST_TIME_LIMIT)
    started = time.monotonic()
    status = 1
    try:
        main()
        status = 0
    except TestSkip as e:
        print(f"\nSKIP: {e}", flush=True)
        status = SKIP
    except TestFailure as e:
        print(f"\nFAIL: {e}", flush=True)
    except socket.timeout:
        print("\nFAIL: a socket operation timed out; the traceback shows "
              "which one", flush=True)
        traceback.print_exc(file=sys.stdout)
    except Exception:
        print("\nFAIL: unexpected error in the test", flush=True)
        traceback.print_exc(file=sys.stdout)
    finally:
        signal.alarm(0)
        _clean_up()
    if status == 0:
        problems = [p.exit_problem() for p in _portiers]
        for problem in filter(None, problems):
            print(f"\nFAIL: {problem}", flush=True)
            status = 1
    if status == 1:
        for p in _portiers:
            p.dump_log()
    if _tmpdir:
        shutil.rmtree(_tmpdir, ignore_errors=True)
    if status == 0:
        print(f"\nPASS ({time.monotonic() - started:.1f} s)", flush=True)
    sys.stdout.flush()
    os._exit(status)


# --- the binary --------------------------------------------------------


def portier_path():
    """The binary under test, from $PORTIER (or ./portier)."""
    path = os.environ.get("PORTIER") or os.path.abspath("portier")
    if not os.access(path, os.X_OK):
        raise TestFailure(f"no portier binary at {path} (set PORTIER)")
    return path


def unprivileged_user():
    """(user, possible): the password entry of a user to run portier as
    when the test runs as root (None when the test is not root), and
    whether portier can run without root at all."""
    if os.geteuid() != 0:
        return None, True
    if shutil.which("setpriv") is None:
        return None, False
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        return None, False
    probe = subprocess.run(["setpriv", f"--reuid={user.pw_uid}",
                            f"--regid={user.pw_gid}", "--clear-groups",
                            portier_path(), "-V"],
                           capture_output=True, text=True)
    return user, probe.returncode == 0



def srcdir():
    """The source tree, from $PORTIER_SRCDIR or this file's location."""
    env = os.environ.get("PORTIER_SRCDIR")
    if env:
        return env
    return os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))


def write_file(name, text):
    """Write text to a file of the test's temp dir; return its path."""
    path = os.path.join(tmpdir(), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run_portier(*args, timeout=10):
    """Run portier to completion (e.g. -t, ports); return CompletedProcess."""
    cmd = [portier_path(), *args]
    info("$ " + " ".join(cmd))
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{' '.join(cmd)} still running after {timeout} s")


class Portier:
    """A portier daemon started with a configuration text.

    stderr and stdout go to files of the temp dir, so log() can be read at
    any time without a reader thread and a chatty daemon never blocks.
    """

    _count = 0
    stop_status = None  # exit status after stop()'s SIGTERM

    def __init__(self, config, args=(), env=None):
        Portier._count += 1
        n = Portier._count
        self.conf = write_file(f"portier{n}.ini", config)
        self.stderr_path = os.path.join(tmpdir(), f"portier{n}.stderr")
        self.stdout_path = os.path.join(tmpdir(), f"portier{n}.stdout")
        cmd = [portier_path(), *args, "-c", self.conf]
        info("$ " + " ".join(cmd))
        with open(self.stderr_path, "wb") as err, \
                open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,
                env=dict(os.environ, **(env or {})))
        _portiers.append(self)
        at_cleanup(self.stop)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        """Everything portier wrote to stderr so far."""
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stdout(self):
        """Everything portier wrote to stdout so far."""
        with open(self.stdout_path, errors="replace") as f:
            return f.read()

    def log_lines(self, *words):
        """Lines of the log that contain every one of `words`."""
        return [line for line in self.log().splitlines()
                if all(w in line for w in words)]

    def wait_log(self, *words, timeout=5.0):
        """Wait for a log line containing every one of `words`; return it
        (or None on timeout)."""
        found = []

        def seen():
            found[:] = self.log_lines(*words)
            return bool(found)

        wait_until(seen, timeout)
        return found[0] if found else None

    def running(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=10.0):
        """Wait for "portier ready"; fail if portier exits instead."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "portier ready" in self.log():
                return
            if not self.running():
                raise TestFailure(
                    f"portier exited with status {self.proc.returncode} "
                    f"before logging 'portier ready'")
            time.sleep(0.02)
        raise TestFailure(f"no 'portier ready' in the log after {timeout} s")

    def wait_exit(self, timeout):
        """Wait for portier to exit; return its status or None if it still
        runs after `timeout` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def rss_kib(self):
        return rss_kib(self.pid)

    def stop(self):
        """Stop portier and anything it started (its process group)."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            self.stop_status = self.wait_exit(3)
            if self.stop_status is None:
                info(f"portier {self.pid} still runs 3 s after SIGTERM "
                     "(draining connections?): killing it")
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def exit_problem(self):
        """After stop(): what was wrong with the way portier ended (a
        sanitizer report, or a status other than 0 after our SIGTERM), or
        None."""
        if SANITIZER_REPORT.search(self.log()):
            return f"portier (pid {self.pid}): sanitizer report on stderr"
        if self.stop_status not in (None, 0):
            return (f"portier (pid {self.pid}) exited with status "
                    f"{self.stop_status} after SIGTERM")
        return None

    def dump_log(self):
        """Print portier's stderr so that a failure can be understood."""
        print(f"\n-- stderr of portier (pid {self.pid}, {self.conf}) --")
        print(self.log().rstrip())
        print("-- end of stderr --", flush=True)


def check_log(portier, *words, timeout=3.0):
    """Fail unless portier logs a line containing every one of `words`."""
    line = portier.wait_log(*words, timeout=timeout)
    check(line is not None, "log has a line with " +
          " and ".join(repr(w) for w in words),
          "no such line in portier's stderr")
    info(f"log: {line}")
    return line


def start_portier(config, ready=True, **kwargs):
    """Start portier with `config` and, by default, wait until it is ready.

    `config` is the text, or a function that returns it after picking free
    ports. Between free_port() and portier's bind, another process (a test
    running in parallel) may take a port; with a function, portier is then
    started again on new ports.
    """
    for attempt in range(1, 4):
        p = Portier(config() if callable(config) else config, **kwargs)
        if not ready:
            return p
        try:
            p.wait_ready()
            return p
        except TestFailure:
            taken = p.wait_exit(0) == 2 and "already in use" in p.log()
            if not (callable(config) and taken and attempt < 3):
                raise
            info("a port picked for the test was taken meanwhile; "
                 "starting portier again on new ports")


def spawn(cmd):
    """Start a helper process in its own process group, killed at the
    end of the test; stdout is a pipe."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, text=True,
                            start_new_session=True)

    def kill():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    at_cleanup(kill)
    return proc


# --- configurations ----------------------------------------------------


def section(header, **keys):
    """An INI section: `header` in brackets, then `key = value` lines (a
    list value repeats its key)."""
    lines = [f"[{header}]"]
    for key, value in keys.items():
        for v in value if isinstance(value, list) else [value]:
            lines.append(f"{key} = {v}")
    return "\n".join(lines) + "\n\n"


def tcp_listener(name, bind, backend, **keys):
    """A `[listener NAME]` section in tcp mode."""
    return section(f"listener {name}", bind=bind, mode="tcp",
                   backend=backend, **keys)


# --- addresses ---------------------------------------------------------


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def fmt_addr(host, port):
    """host, port as portier's configuration writes it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# The addresses behind the names `*` and `localhost` of a bind address.
_NAMED_HOSTS = {"*": ("0.0.0.0", "::"), "localhost": (LOOPBACK4, LOOPBACK6)}


_handed_ports = set()


def free_port(host=LOOPBACK4, kind=socket.SOCK_STREAM):
    """A port that was free on host (or, for `*` and `localhost`, on every
    address they stand for) a moment ago, and that this test was not given
    before: the kernel may pick a port it just gave again, and two
    listeners of one configuration would then collide."""
    if host not in _NAMED_HOSTS:
        for _ in range(50):
            with socket.socket(family_of(host), kind) as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
            if port not in _handed_ports:
                _handed_ports.add(port)
                return port
        raise TestFailure(f"found no new free port on {host}")
    hosts = [h for h in _NAMED_HOSTS[host]
             if family_of(h) == socket.AF_INET or have_ipv6()]
    for _ in range(50):
        port = free_port(LOOPBACK4, kind)
        if all(port_is_free(h, port, kind) for h in hosts):
            return port
    raise TestFailure(f"found no port free on every address of {host}")


def port_is_free(host, port, kind=socket.SOCK_STREAM):
    """True when (host, port) can be bound now."""
    with socket.socket(family_of(host), kind) as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def have_ipv6():
    """True when the machine has an IPv6 loopback."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK6, 0))
        return True
    except OSError:
        return False


# --- clients -----------------------------------------------------------


def wait_until(predicate, timeout, interval=0.02):
    """Poll predicate() until true or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def connect(host, port, source=None, timeout=5.0):
    """A connected TCP socket to (host, port), optionally from source
    address `source`; closed at the end of the test."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    at_cleanup(s.close)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def wait_port(host, port, timeout=5.0):
    """True once a TCP connection to (host, port) is accepted."""
    def accepts():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False
    return wait_until(accepts, timeout, interval=0.05)


def recv_exactly(sock, n):
    """Read exactly n bytes, or fewer if the peer closes first."""
    parts = []
    while n > 0:
        data = sock.recv(min(n, 256 * KIB))
        if not data:
            break
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def recv_until_eof(sock):
    """Read until the peer's EOF (socket timeout applies)."""
    parts = []
    while True:
        data = sock.recv(256 * KIB)
        if not data:
            return b"".join(parts)
        parts.append(data)


def read_to_eof(sock, what, timeout=10.0):
    """Read until EOF; fail, saying `what` did not happen, when no EOF
    comes within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        return recv_until_eof(sock)
    except socket.timeout:
        raise TestFailure(f"{what}: no EOF after {timeout} s")


def echo_ok(sock, data=b"ping\n"):
    """Send data and check that the same bytes come back (False on any
    socket error)."""
    try:
        sock.sendall(data)
        return recv_exactly(sock, len(data)) == data
    except OSError:
        return False


def closed_without_data(sock, within=3.0):
    """How the connection ended ("EOF" or "reset") if the peer closed it
    within `within` seconds without sending a byte; otherwise a string
    that says what happened instead (starts with "not")."""
    sock.settimeout(within)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return f"not closed: still open after {within} s"
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return f"not a clean close: {e}"
    if data:
        return f"not closed: received {data[:60]!r}"
    return "EOF"


def check_closed_without_data(sock, what, within=3.0):
    """Fail unless the peer closes sock within `within` s with no data."""
    how = closed_without_data(sock, within)
    check(not how.startswith("not"), f"{what} ({how})", how)


# --- bulk data ---------------------------------------------------------

# A transfer as seen by one end: how many bytes and their SHA-256.
Transfer = collections.namedtuple("Transfer", "nbytes sha256")

# The pattern repeats with a period that is no power of two, so that a
# block lost or duplicated at any buffer boundary changes the checksum.
_PERIOD = MIB + 13
_CHUNK = 128 * KIB
_patterns = {}
_patterns_lock = threading.Lock()


def _pattern(seed):
    with _patterns_lock:
        if seed not in _patterns:
            block = random.Random(seed).randbytes(_PERIOD)
            _patterns[seed] = memoryview(block + block[:_CHUNK])
        return _patterns[seed]


def stream_chunks(total, seed, chunk=_CHUNK):
    """The deterministic stream `seed` of `total` bytes, in chunks."""
    pattern = _pattern(seed)
    offset = 0
    while total > 0:
        n = min(chunk, total)
        yield pattern[offset:offset + n]
        offset = (offset + n) % _PERIOD
        total -= n


def stream_digest(total, seed):
    """The Transfer that stream `seed` of `total` bytes should produce."""
    h = hashlib.sha256()
    for c in stream_chunks(total, seed):
        h.update(c)
    return Transfer(total, h.hexdigest())


class Counter:
    """A thread-safe byte counter for watching a transfer's progress."""

    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def add(self, n):
        with self._lock:
            self.value += n


def send_stream(sock, total, seed, counter=None, shut=True):
    """Send stream `seed` of `total` bytes, then (by default) SHUT_WR.
    Returns the Transfer sent."""
    h = hashlib.sha256()
    for c in stream_chunks(total, seed):
        sock.sendall(c)
        h.update(c)
        if counter:
            counter.add(len(c))
    if shut:
        sock.shutdown(socket.SHUT_WR)
    return Transfer(total, h.hexdigest())


class Receiver:
    """Reads a stream in as many steps as wanted, keeping its length and
    SHA-256."""

    def __init__(self, sock, counter=None):
        self.sock = sock
        self.counter = counter
        self.nbytes = 0
        self.eof = False
        self._hash = hashlib.sha256()
        self._buf = memoryview(bytearray(256 * KIB))

    def read(self, limit=None):
        """Read until EOF or `limit` more bytes; return how many came."""
        got = 0
        while not self.eof and (limit is None or got < limit):
            want = len(self._buf) if limit is None else \
                min(len(self._buf), limit - got)
            n = self.sock.recv_into(self._buf[:want])
            if n == 0:
                self.eof = True
                break
            self._hash.update(self._buf[:n])
            got += n
            if self.counter:
                self.counter.add(n)
        self.nbytes += got
        return got

    def transfer(self):
        """The Transfer received so far."""
        return Transfer(self.nbytes, self._hash.hexdigest())


def recv_stream(sock, counter=None):
    """Read until EOF; return the Transfer received."""
    r = Receiver(sock, counter)
    r.read()
    return r.transfer()


def reset(sock):
    """Close sock with a TCP reset (RST) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


def sha256(data):
    return Transfer(len(data), hashlib.sha256(data).hexdigest())


class Worker(threading.Thread):
    """A thread that keeps its function's result or exception."""

    def __init__(self, func, *args):
        super().__init__(daemon=True)
        self.func, self.args = func, args
        self.result = self.error = None

    def run(self):
        try:
            self.result = self.func(*self.args)
        except BaseException as e:
            self.error = e

    def outcome(self, timeout):
        """Join; return the result, or raise TestFailure if it failed or
        is still running."""
        self.join(timeout)
        if self.is_alive():
            raise TestFailure(f"{self.func.__name__} still running after "
                              f"{timeout} s")
        if self.error is not None:
            raise TestFailure(f"{self.func.__name__} failed: "
                              f"{self.error!r}")
        return self.result


# --- backends ----------------------------------------------------------


class Unreachable:
    """A backend address whose connects never complete: a listening socket
    with backlog 0 whose accept queue is already full (Linux then drops
    new SYNs)."""

    def __init__(self):
        self.sock = socket.socket()
        at_cleanup(self.sock.close)
        self.sock.bind((LOOPBACK4, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.addr = f"{LOOPBACK4}:{self.port}"
        for _ in range(2):
            filler = socket.socket()
            at_cleanup(filler.close)
            filler.setblocking(False)
            filler.connect_ex((LOOPBACK4, self.port))
        time.sleep(0.1)

    def really_hangs(self):
        """True when a connect to it does not complete in 1.5 s."""
        probe = socket.socket()
        probe.settimeout(1.5)
        try:
            probe.connect((LOOPBACK4, self.port))
            return False
        except socket.timeout:
            return True
        finally:
            probe.close()


class Server:
    """A stream server on a thread: each connection runs
    handler(conn, server) on its own thread; whatever the handler returns
    is appended to .results (an exception, as the exception).

    Listens on (host, port 0) or on a unix socket path. `v6only` keeps an
    IPv6 server off IPv4, so that "only on ::1" means only on ::1.
    """

    def __init__(self, handler, host=LOOPBACK4, port=0, unix_path=None,
                 backlog=128, accept=True):
        self.handler = handler
        self.unix_path = unix_path
        self.host = host
        self.accepted = 0
        self.results = []
        self.conns = []
        self._lock = threading.Lock()
        self._closed = False
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
        else:
            self.sock = socket.socket(family_of(host), socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family_of(host) == socket.AF_INET6:
                self.sock.setsockopt(socket.IPPROTO_IPV6,
                                     socket.IPV6_V6ONLY, 1)
            self.sock.bind((host, port))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(backlog)
        at_cleanup(self.close)
        if accept:
            self.sock.settimeout(0.1)
            threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def addr(self):
        """The address as a portier backend value."""
        if self.unix_path:
            return f"unix:{self.unix_path}"
        return fmt_addr(self.host, self.port)

    def _accept_loop(self):
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(20)
            with self._lock:
                self.accepted += 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            result = self.handler(conn, self)
        except Exception as e:
            result = e
        with self._lock:
            self.results.append(result)

    def wait_results(self, n, timeout=10.0):
        """Wait until n connections finished; return their results."""
        wait_until(lambda: len(self.results) >= n, timeout)
        with self._lock:
            return list(self.results)

    def close(self):
        self._closed = True
        self.sock.close()
        with self._lock:
            for c in self.conns:
                c.close()


def echo(conn, server):
    """Send back every byte; on EOF shut down the write side too.
    Returns the number of bytes echoed."""
    total = 0
    while True:
        data = conn.recv(64 * KIB)
        if not data:
            break
        conn.sendall(data)
        total += len(data)
    conn.shutdown(socket.SHUT_WR)
    conn.close()
    return total


def sink(conn, server):
    """Read until EOF; return the Transfer received."""
    result = recv_stream(conn)
    conn.close()
    return result


def collect(conn, server):
    """Read until EOF or 2 s of silence; return the bytes received."""
    conn.settimeout(2)
    parts = []
    try:
        while True:
            data = conn.recv(64 * KIB)
            if not data:
                break
            parts.append(data)
    except socket.timeout:
        pass
    conn.close()
    return b"".join(parts)


def source(total, seed):
    """A handler that sends stream `seed` of `total` bytes, shuts down its
    write side, then reads until EOF. Returns the Transfer sent."""
    def handler(conn, server):
        sent = send_stream(conn, total, seed)
        recv_until_eof(conn)
        conn.close()
        return sent
    return handler


class Forward:
    """portier forwarding 127.0.0.1:port to one backend: a new Server
    running `handler` (echo by default), a given Server, or an address
    string."""

    def __init__(self, handler=None, backend=None, global_keys=None,
                 env=None, **listener_keys):
        self.backend = backend or Server(handler or echo)
        backend_addr = backend if isinstance(backend, str) else \
            self.backend.addr

        def config():
            self.port = free_port()
            text = section("global", **global_keys) if global_keys else ""
            return text + tcp_listener("fwd", fmt_addr(LOOPBACK4, self.port),
                                       backend_addr, **listener_keys)

        self.portier = start_portier(config, env=env)

    def connect(self, **kwargs):
        return connect(LOOPBACK4, self.port, **kwargs)


# --- processes ---------------------------------------------------------


def rss_kib(pid):
    """Resident set size of pid in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure(f"no VmRSS in /proc/{pid}/status")
