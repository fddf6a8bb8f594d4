# SPDX-License-Identifier: MIT
"""The pid file, the privilege drop and SIGUSR1.

- pidfile: a second portier given the file of one that runs does not
  start (status 2) and leaves it alone; a file left by a process that is
  gone is taken over;
- pidfile: written once the ports are bound, holding portier's pid, and
  removed when it stops; a symbolic link planted at the name of its
  temporary file is not written through;
- user and group (as root): the process runs as that user and group once
  the ports are bound, while a port below 1024 was still bound as root;
  started as another user, a different user is a configuration it cannot
  honour: exit status 2 with a clear message; a user that does not exist
  is a configuration error: exit status 1 before any port is opened;
- root without user: a warning that says how to drop privileges; with
  user, a SIGUSR1 that cannot make the log anew (a directory of root's)
  says why; a reload after the drop takes an access_log in another
  directory of root's (the next start, as root, can write there) and
  refuses one in a directory that is not there;
- SIGUSR1 after the access log was renamed: new lines go to a new file at
  the configured path, the lines before stay in the renamed one; after a
  reload that names another path, SIGUSR1 still reopens the first one;
- an access log on a full file system (root: a 64 KiB tmpfs): the first lost line is said with why, the count once lines
  can be written again, and no line is glued to a piece of another.
"""

import os
import pwd
import signal
import socket
import subprocess

from httptest import Conn, EchoBackend, request
from lib import (LOOPBACK4, at_cleanup, check, check_equal, check_log,
                 fmt_addr, free_port, info, portier_path, run, section,
                 start_portier, step, tmpdir, wait_until)


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


def dead_pid():
    """The pid of a process that has exited (and been waited for)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


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

    step("pidfile: a second portier on other ports with the same pidfile "
         "does not start, and leaves the first one's file alone")
    second = start_portier(config(backend, free_port(), pidfile=pidfile),
                           ready=False)
    check_equal(second.wait_exit(10), 2, "the second one exits with 2")
    check(f"pidfile {pidfile}: portier pid {portier.pid} runs with it"
          in second.log(), "it names the portier that runs with it",
          second.log())
    with open(pidfile) as f:
        check_equal(f.read(), f"{portier.pid}\n",
                    "the file still holds the first one's pid")

    portier.send_signal(signal.SIGTERM)
    check_equal(portier.wait_exit(10), 0, "portier stops")
    check(not os.path.exists(pidfile), "the pid file is gone")

    step("pidfile: one left by a process that is gone is taken over")
    with open(pidfile, "w") as f:
        f.write(f"{dead_pid()}\n")
    portier = start_portier(config(backend, free_port(), pidfile=pidfile))
    with open(pidfile) as f:
        check_equal(f.read(), f"{portier.pid}\n", "the file holds the pid")
    portier.send_signal(signal.SIGTERM)
    check_equal(portier.wait_exit(10), 0, "portier stops")

    step("pidfile: a link planted at its temporary name is not followed")
    victim = os.path.join(work, "victim")
    with open(victim, "w") as f:
        f.write("important\n")
    pidfile = os.path.join(work, "planted.pid")
    conf = os.path.join(work, "planted.ini")
    with open(conf, "w") as f:
        f.write(config(backend, free_port(), pidfile=pidfile))
    # The shell's pid is portier's after exec: the link is where portier
    # writes its temporary file.
    proc = subprocess.Popen(
        ["sh", "-c", f'ln -s "$1" "$2.$$" && exec "$3" -q -c "$4"', "sh",
         victim, pidfile, portier_path(), conf],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    at_cleanup(lambda: proc.poll() is None and proc.kill())
    check(wait_until(lambda: os.path.exists(pidfile), 10),
          "the pidfile is written")
    with open(victim) as f:
        check_equal(f.read(), "important\n", "the link's target is "
                    "untouched")
    check(not os.path.islink(pidfile), "the pidfile is a file, not the "
          "link")
    with open(pidfile) as f:
        check_equal(f.read(), f"{proc.pid}\n", "   holding the pid")
    proc.send_signal(signal.SIGTERM)
    check_equal(proc.wait(10), 0, "portier stops")

    step("SIGUSR1 reopens the access log")
    log = os.path.join(work, "access.log")
    port = free_port()
    portier = start_portier(lambda: config(backend, port, access_log=log))
    conn = Conn(LOOPBACK4, port)
    logged_request(conn, log, "/before", "a request before the rotation",
                   "   is logged")
    os.rename(log, log + ".1")
    portier.send_signal(signal.SIGUSR1)
    check_log(portier, "SIGUSR1: log files reopened")
    logged_request(conn, log, "/after",
                   "a request after SIGUSR1, on the same connection",
                   "   is logged in a new file at the configured path")
    old = open(log + ".1").read()
    check("/before" in old and "/after" not in old,
          "the renamed file keeps the lines before, and only them")

    step("SIGUSR1 after a reload that names another access_log: the file "
         "of the start is reopened (the new value waits for a restart)")
    other = os.path.join(work, "other.log")
    with open(portier.conf, "w") as f:
        f.write(config(backend, port, access_log=other,
                       access_log_format="json",
                       pidfile=os.path.join(work, "later.pid"),
                       user="nobody"))
    conn.close()
    portier.send_signal(signal.SIGHUP)
    check_log(portier, "SIGHUP: configuration reloaded")
    for key in ("access_log", "access_log_format", "pidfile",
                "user and group"):
        check_log(portier, f"SIGHUP: {key} change")
    check(not os.path.exists(os.path.join(work, "later.pid")),
          "   the new pidfile is not written")
    os.rename(log, log + ".2")
    portier.send_signal(signal.SIGUSR1)
    check(wait_until(lambda: portier.log().count(
        "SIGUSR1: log files reopened") == 2, 3), "the second SIGUSR1 is "
        "taken", portier.log()[-600:])
    conn = Conn(LOOPBACK4, port)
    logged_request(conn, log, "/third",
                   "a request after the reload and SIGUSR1",
                   "   is logged at the path of the start")
    check(not os.path.exists(other), "   and no file appeared at the new "
          "path")
    conn.close()
    portier.send_signal(signal.SIGTERM)
    portier.wait_exit(10)

    full_disk(backend)

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
    # A log directory of root's, as /var/log is: nobody may not make a
    # new file there.
    logdir = os.path.join(work, "rootlogs")
    os.mkdir(logdir, 0o755)
    rootlog = os.path.join(logdir, "access.log")
    portier = start_portier(config(backend, low, user="nobody",
                                   pidfile=pidfile, access_log=rootlog))
    uid, gid = ids(portier.pid)
    check_equal(uid, nobody.pw_uid, "the process runs as nobody")
    check_equal(gid, nobody.pw_gid, "   with nobody's group")
    conn = Conn(LOOPBACK4, low)
    check_equal(conn.exchange(request("GET", "/", "a.test")).status, 200,
                f"port {low} (bound as root) serves")
    conn.close()
    check_log(portier, "running as nobody")
    os.rename(rootlog, rootlog + ".1")
    portier.send_signal(signal.SIGUSR1)
    check_log(portier, f"cannot open the access log {rootlog}",
              "Permission denied", "must let its user make files")

    step("after the drop, a reload naming an access_log in another "
         "directory of root's is taken (the next start opens it as root); "
         "one in a directory that is not there is refused")
    logdir2 = os.path.join(work, "rootlogs2")
    os.mkdir(logdir2, 0o755)
    with open(portier.conf, "w") as f:
        f.write(config(backend, low, user="nobody", pidfile=pidfile,
                       access_log=os.path.join(logdir2, "access.log")))
    portier.send_signal(signal.SIGHUP)
    check_log(portier, "SIGHUP: configuration reloaded")
    check_log(portier, "SIGHUP: access_log changes at the next start")
    with open(portier.conf, "w") as f:
        f.write(config(backend, low, access_log="/no/such/dir/access.log",
                       user="nobody", pidfile=pidfile))
    portier.send_signal(signal.SIGHUP)
    check_log(portier, "SIGHUP: the running configuration stays")
    check_log(portier, f"SIGHUP: {portier.conf}:2: access_log "
              "/no/such/dir/access.log: the directory /no/such/dir does "
              "not exist")
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


def logged_request(conn, log, target, what, logged):
    """A GET of `target` on conn answers 200 and reaches the file log."""
    check_equal(conn.exchange(request("GET", target, "a.test")).status, 200,
                what)
    check(wait_until(lambda: os.path.exists(log) and
                     target in open(log).read(), 3), logged)


def full_disk(backend):
    """An access log on a full file system: the first lost line is said
    on standard error with why, the count once writing works again, and a
    line cut short is not glued to the next one."""
    if os.geteuid() != 0:
        info("not root: the full-disk case is skipped")
        return
    step("an access log on a full disk: lost lines are said, whole lines "
         "only")
    mnt = os.path.join(tmpdir(), "small")
    os.mkdir(mnt)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k",
                              "portier-test", mnt], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        info("no tmpfs could be mounted here: the full-disk case is "
             "skipped (" + mounted.stderr.strip() + ")")
        return
    at_cleanup(lambda: subprocess.run(["umount", "-l", mnt]))
    log = os.path.join(mnt, "access.log")
    port = free_port()
    portier = start_portier(lambda: config(backend, port, access_log=log))
    conn = Conn(LOOPBACK4, port)
    check_equal(conn.exchange(request("GET", "/first", "a.test")).status,
                200, "a request before the disk is full")
    # Fill what is left, to the last block.
    fd = os.open(os.path.join(mnt, "fill"), os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 512) > 0:
            pass
    except OSError:
        pass
    os.close(fd)
    for i in range(20):
        conn.exchange(request("GET", f"/lost{i:02}" + "x" * 300, "a.test"))
    check_log(portier, f"access log: cannot write to {log}",
              "No space left on device")
    os.unlink(os.path.join(mnt, "fill"))
    check_equal(conn.exchange(request("GET", "/after", "a.test")).status,
                200, "a request once there is room again")
    check_log(portier, "access log: writing again;", "could not be written")
    with open(log) as f:
        text = f.read()
    lines = text.splitlines()
    check(any("/first" in x for x in lines) and "/after" in lines[-1],
          "the file holds the first and the last request", text[-400:])
    check(all(x.count(" - - [") <= 1 for x in lines),
          "no line holds two entries (none glued to a piece)", text[-600:])
    conn.close()
    portier.send_signal(signal.SIGTERM)
    portier.wait_exit(10)


if __name__ == "__main__":
    run(main)
