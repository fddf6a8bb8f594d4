# SPDX-License-Identifier: MIT
"""`make install`: the files land where the binary and the unit expect them.

From the build directory of the portier under test (the directory of
$PORTIER; skipped without a Makefile there), into a temporary DESTDIR:
- the binary in bindir runs and prints its version; its help names
  SYSCONFDIR/portier/portier.ini as the default configuration, which is
  exactly where the installed portier.ini is, and that file passes
  `portier -t`;
- the examples are in docdir/examples and pass `portier -t` too;
- the manual pages portier(8) and portier.ini(5) are in man8 and man5,
  with every path written in, and groff renders them without a warning
  (when groff is there);
- the systemd unit (unless configured out) runs bindir/portier with the
  installed file, checks it first with -t, reloads with SIGHUP and may
  bind low ports (CAP_NET_BIND_SERVICE);
- a second install keeps a portier.ini that was changed, and uninstall
  removes every file but that one.
"""

import os
import re
import shutil
import subprocess

from lib import check, check_equal, info, portier_path, run, skip, step, \
    tmpdir

# Variables of the build's Makefile the test needs, fully expanded.
DIRS = ("bindir", "sysconfdir", "mandir", "docdir", "systemdsystemunitdir")


def make_env():
    """The environment for a make of our own: none of the parent's flags
    (a `make -j check` passes a jobserver this child cannot use)."""
    env = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                 "DESTDIR"):
        env.pop(name, None)
    return env


def make(builddir, *args):
    """Run make in the build directory; fail with its output if it
    fails."""
    cmd = ["make", "-s", "-C", builddir, *args]
    info("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=40,
                       env=make_env())
    check(p.returncode == 0, "make " + " ".join(args) + " succeeds",
          p.stdout[-2000:] + p.stderr[-2000:])
    return p.stdout


def build_dirs(builddir):
    """The installation directories of the build, as make expands them."""
    extra = os.path.join(tmpdir(), "dirs.mk")
    with open(extra, "w") as f:
        f.write("portier-test-dirs:\n")
        for name in DIRS:
            f.write(f"\t@echo '{name}=$({name})'\n")
    out = make(builddir, "-f", "Makefile", "-f", extra,
               "portier-test-dirs")
    dirs = dict(line.split("=", 1) for line in out.splitlines()
                if "=" in line)
    info(f"{dirs}")
    for name, path in dirs.items():
        check(path == "" or os.path.isabs(path),
              f"{name} is an absolute path", path)
    return dirs


def under(destdir, path):
    """path inside DESTDIR."""
    return os.path.join(destdir, path.lstrip("/"))


def check_config(binary, path, what):
    """`portier -t -c path` accepts the file."""
    p = subprocess.run([binary, "-t", "-c", path], capture_output=True,
                       text=True, timeout=10)
    check(p.returncode == 0 and "configuration OK" in p.stdout,
          f"{what} passes portier -t", p.stdout + p.stderr)


def check_man(path, section):
    """The page is there, has no @VARIABLE@ left, and renders cleanly."""
    check(os.path.isfile(path), f"{os.path.basename(path)} is in man"
          f"{section}")
    with open(path) as f:
        text = f.read()
    check(not re.search(r"@[A-Za-z_]+@", text),
          f"{os.path.basename(path)} has every path written in")
    if shutil.which("groff") is None:
        info("groff not found: rendering not checked")
        return
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 0 and p.stderr.strip() == "",
          f"groff renders {os.path.basename(path)} without a warning",
          p.stderr[-2000:])


def check_unit(path, bindir, config):
    """The unit runs the installed binary with the installed file."""
    with open(path) as f:
        text = f.read()
    keys = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).append(value.strip())
    binary = os.path.join(bindir, "portier")
    check_equal(keys.get("ExecStart"), [f"{binary} -c {config}"],
                "ExecStart runs the installed portier with the installed "
                "file")
    check(any(v.startswith(f"{binary} -t") and v.endswith(config)
              for v in keys.get("ExecStartPre", [])),
          "ExecStartPre checks the file with -t")
    check(any("-HUP" in v and "$MAINPID" in v
              for v in keys.get("ExecReload", [])),
          "ExecReload sends SIGHUP to the main process")
    for key in ("AmbientCapabilities", "CapabilityBoundingSet"):
        check_equal(keys.get(key), ["CAP_NET_BIND_SERVICE"],
                    f"{key} is CAP_NET_BIND_SERVICE alone")
    check(keys.get("Type") == ["simple"],
          "Type=simple: portier stays in the foreground")
    check(not re.search(r"@[A-Za-z_]+@", text),
          "the unit has every path written in")


def installed_files(destdir):
    """Every file (or link) under destdir, relative to it."""
    found = []
    for root, _, files in os.walk(destdir):
        found += [os.path.relpath(os.path.join(root, f), destdir)
                  for f in files]
    return sorted(found)


def main():
    builddir = os.path.dirname(os.path.abspath(portier_path()))
    if not os.path.isfile(os.path.join(builddir, "Makefile")):
        skip(f"no Makefile in {builddir}: not a build directory")
    if shutil.which("make") is None:
        skip("make not found")

    step("make install DESTDIR=...")
    destdir = os.path.join(tmpdir(), "root")
    dirs = build_dirs(builddir)
    make(builddir, f"DESTDIR={destdir}", "install")
    for path in installed_files(destdir):
        info(path)

    step("the binary, and the configuration where it looks for one")
    binary = under(destdir, os.path.join(dirs["bindir"], "portier"))
    check(os.access(binary, os.X_OK), "portier is in bindir")
    p = subprocess.run([binary, "-V"], capture_output=True, text=True,
                       timeout=10)
    check(p.returncode == 0 and p.stdout.startswith("portier "),
          "the installed portier -V prints its version", p.stdout)
    config = os.path.join(dirs["sysconfdir"], "portier", "portier.ini")
    p = subprocess.run([binary, "-h"], capture_output=True, text=True,
                       timeout=10)
    check(config in p.stdout,
          f"its default configuration is {config}", p.stdout)
    installed_config = under(destdir, config)
    check(os.path.isfile(installed_config), "portier.ini is installed there")
    check_config(binary, installed_config, "the installed portier.ini")
    with open(installed_config) as f:
        binds = re.findall(r"^\s*bind\s*=\s*(.*?)\s*(?:[;#].*)?$", f.read(),
                           re.M)
    check(binds and all(re.fullmatch(r"(127\.0\.0\.1|\[::1\]):\d+",
                                     b.strip())
                        for line in binds for b in line.split(",")),
          "it binds loopback addresses only", f"{binds}")

    step("the examples")
    examples = under(destdir, os.path.join(dirs["docdir"], "examples"))
    names = sorted(os.listdir(examples)) if os.path.isdir(examples) else []
    check(len(names) >= 5 and all(n.endswith(".ini") for n in names),
          f"{len(names)} examples in docdir/examples", f"{names}")
    for name in names:
        check_config(binary, os.path.join(examples, name), name)

    step("the manual pages")
    mandir = under(destdir, dirs["mandir"])
    check_man(os.path.join(mandir, "man8", "portier.8"), 8)
    check_man(os.path.join(mandir, "man5", "portier.ini.5"), 5)
    with open(os.path.join(mandir, "man8", "portier.8")) as f:
        check(config in f.read(), "portier(8) names the default file")

    step("the systemd unit")
    unitdir = dirs.get("systemdsystemunitdir", "")
    if unitdir:
        unit = under(destdir, os.path.join(unitdir, "portier.service"))
        check(os.path.isfile(unit), "portier.service is in the unit "
              "directory")
        check_unit(unit, dirs["bindir"], config)
    else:
        info("configured --without-systemdsystemunitdir: no unit")

    step("a changed portier.ini survives install and uninstall")
    with open(installed_config, "a") as f:
        f.write("; changed by the administrator\n")
    make(builddir, f"DESTDIR={destdir}", "install")
    with open(installed_config) as f:
        check(f.read().endswith("; changed by the administrator\n"),
              "a second install leaves the changed file alone")
    make(builddir, f"DESTDIR={destdir}", "uninstall")
    left = installed_files(destdir)
    check_equal(left, [os.path.relpath(installed_config, destdir)],
                "uninstall removes every file but the changed "
                "portier.ini")


run(main)
