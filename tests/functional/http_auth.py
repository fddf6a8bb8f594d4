# SPDX-License-Identifier: MIT
"""HTTP mode: basic authentication per vhost, and `portier hash`.

- `portier hash` reads a password from standard input and prints a
  crypt(3) hash that `auth = USER:HASH` accepts;
- a request without credentials, with an unknown user or with a wrong
  password gets 401 with WWW-Authenticate naming the vhost as realm, and
  never reaches the backend;
- the right password is let through, and the Authorization field is not
  forwarded;
- the log names the user of a refused request, never the password;
- a vhost without auth on the same listener is not affected.
"""

import base64

from httptest import EchoBackend, HttpPortier, request
from lib import check, check_equal, check_log, run, run_portier, step

PASSWORD = "correct horse 42"


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}"


def make_hash():
    step("portier hash: a hash from a password on standard input")
    import subprocess
    from lib import portier_path
    done = subprocess.run([portier_path(), "hash"], input=PASSWORD + "\n",
                          capture_output=True, text=True, timeout=30)
    check_equal(done.returncode, 0, "portier hash exits 0")
    hashed = done.stdout.strip()
    check(hashed.startswith("$") and len(hashed) > 20,
          "it prints one crypt(3) hash", repr(done.stdout))
    check(PASSWORD not in done.stdout + done.stderr,
          "the password is not printed")
    bad = run_portier("hash", "extra")
    check(bad.returncode != 0, "a password argument is refused")
    return hashed


def test_auth(hashed):
    step("auth: 401 without the right credentials, 200 with them")
    secret = EchoBackend("secret")
    public = EchoBackend("public")
    p = HttpPortier({"web": {}}, [
        ("private.test", {"backend": secret.addr,
                          "auth": f"alice:{hashed}"}),
        ("public.test", {"backend": public.addr}),
    ])
    cases = [
        ("no credentials", []),
        ("unknown user", [basic("mallory", PASSWORD)]),
        ("wrong password", [basic("alice", "wrong-password-77")]),
        ("not basic", ["Authorization: Bearer abc"]),
        ("bad base64", ["Authorization: Basic !!!!"]),
        ("a user name made to forge a log line",
         [basic('ev"il\nFORGED LINE\x1b[31m', PASSWORD)]),
    ]
    for what, headers in cases:
        c = p.conn()
        resp = c.exchange(request("GET", "/", "private.test", headers))
        c.close()
        check_equal(resp.status, 401, f"{what}: 401")
        check_equal(resp.headers.get("www-authenticate"),
                    'Basic realm="private.test", charset="UTF-8"',
                    f"{what}: WWW-Authenticate with the vhost as realm")
    check_equal(len(secret.requests), 0, "the backend saw none of them")
    check_log(p.portier, "wrong password", "alice")
    check_log(p.portier, "unknown user", "mallory")
    check_log(p.portier, "unknown user",
              '"ev\\x22il\\x0aFORGED LINE\\x1b[31m"')
    check(not any(line.startswith("FORGED") or "\x1b" in line
                  for line in p.portier.log().splitlines()),
          "   written escaped: no forged line, no escape sequence")
    check("wrong-password-77" not in p.portier.log(),
          "the wrong password is not in the log")
    check(PASSWORD not in p.portier.log(), "nor the right one")

    c = p.conn()
    for i in range(3):
        resp = c.exchange(request("GET", f"/in{i}", "private.test",
                                  [basic("alice", PASSWORD)]))
        check_equal(resp.status, 200, f"right password, request {i}: 200")
        got = resp.json()
        check_equal(got["name"], "secret", "   it reached the backend")
        names = [n.lower() for n, _ in got["headers"]]
        check("authorization" not in names,
              "   the Authorization field was not forwarded", repr(names))
    c.close()

    resp = p.get("public.test")
    check_equal(resp.status, 200, "a vhost without auth answers without "
                "credentials")


def main():
    hashed = make_hash()
    test_auth(hashed)


run(main)
