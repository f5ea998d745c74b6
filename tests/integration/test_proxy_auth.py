"""Proxy authentication: `--auth-basic FILE` (issue 16 item 6, docs/operations.md "A LAN with
authentication"). The htpasswd file is made by the real `htpasswd` (Debian's apache2-utils) with
bcrypt and SHA-512-crypt entries.

    challenge   no credentials, a wrong password, an unknown user, another scheme: 407 with
                `Proxy-Authenticate: Basic realm="dlproxy"`, and the origin sees nothing
    allowed     curl --proxy-user and Python requests (credentials in the proxy URL, as the
                launcher would set HTTPS_PROXY) download exact bytes; the origin never sees
                Proxy-Authorization
    body        a POST whose credentials are checked while its body is held: the body reaches
                the origin whole (sha256)
    connect     a CONNECT tunnel needs credentials too
    many        12 parallel requests with one new credential: all succeed (one hash, shared;
                fewer than the 16 idle upstream connections the fd check allows)
    secrets     no password and no Proxy-Authorization value appears in dlproxy's output
    reload      SIGHUP reads the file again: a new user is allowed, a removed one refused; a
                broken file keeps the running users and says why
    startup     an htpasswd entry dlproxy refuses ($apr1$, plain text) stops it at startup with
                the file and line named
"""

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_bytes, sha256_file  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

ALICE = ("alice", "correct horse battery")
BOB = ("bob", "s3cret:with:colons")


def htpasswd(path, user, password, scheme="-B"):
    """Adds or replaces `user` in `path` with the real htpasswd (bcrypt cost 5 keeps it quick)."""
    args = ["htpasswd", "-b", scheme] + (["-C", "5"] if scheme == "-B" else [])
    if not os.path.exists(path):
        args.append("-c")
    subprocess.run(args + [path, user, password], check=True, capture_output=True)


def basic(user, password):
    import base64
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class ProxyAuthTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.auth_dir = tempfile.mkdtemp(prefix="dlproxy-auth-")
        cls.htpasswd = os.path.join(cls.auth_dir, "htpasswd")
        htpasswd(cls.htpasswd, *ALICE)             # bcrypt
        htpasswd(cls.htpasswd, *BOB, scheme="-5")  # SHA-512-crypt
        super().setUpClass()

    @classmethod
    def start_proxy(cls):
        # CONNECT may reach the origin's port (test_connect_needs_credentials).
        cls.proxy_args = ("--auth-basic", cls.htpasswd, "--connect-ports",
                          str(cls.origin.hostport.rsplit(":", 1)[1]))
        super().start_proxy()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        import shutil
        shutil.rmtree(cls.auth_dir, ignore_errors=True)

    def raw_get(self, target, auth=None):
        headers = [("Host", self.origin.hostport)]
        if auth:
            headers.append(("Proxy-Authorization", auth))
        with RawConn(self.pport) as c:
            return c.request("GET", self.url(target), headers)

    def test_challenge_without_good_credentials(self):
        cases = [
            None,
            basic(ALICE[0], "wrong password"),
            basic("mallory", ALICE[1]),
            "Bearer abc",
            "Basic !!!not-base64",
        ]
        mark = self.origin.mark()
        for auth in cases:
            with self.subTest(auth=auth):
                r = self.raw_get("/bytes/1000/challenge", auth)
                self.assertEqual(r.status, 407)
                self.assertEqual(r.headers.get("Proxy-Authenticate"),
                                 'Basic realm="dlproxy", charset="UTF-8"')
        self.assertEqual(self.origin.log_since(mark), [], "a refused request reached the origin")

    def test_curl_and_requests_download_exact_bytes(self):
        size = 3 * 1024 * 1024
        want = content.sha256_of(f"/bytes/{size}/curl-auth", size)
        out = os.path.join(self.work, "curl-auth.bin")
        r = curl_cli(self.pport, self.url(f"/bytes/{size}/curl-auth"), out=out,
                     args=["--proxy-user", f"{ALICE[0]}:{ALICE[1]}"])
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        got = sha256_file(out)
        self.assertEqual(got, want)
        # The launcher's way: the credentials in the proxy URL (HTTP_PROXY=http://u:p@host:port).
        import requests
        from urllib.parse import quote
        proxy = f"http://{quote(BOB[0])}:{quote(BOB[1], safe='')}@127.0.0.1:{self.pport}"
        s = requests.Session()
        s.trust_env = False
        resp = s.get(self.url(f"/bytes/{size}/curl-auth"), proxies={"http": proxy}, timeout=30)
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(sha256_bytes(resp.content), want)
        # The origin never sees the proxy's credentials.
        r = curl_cli(self.pport, self.url("/headers"), out=os.path.join(self.work, "h.json"),
                     args=["--proxy-user", f"{ALICE[0]}:{ALICE[1]}", "-H", "Cache-Control: no-store"])
        with open(os.path.join(self.work, "h.json")) as f:
            names = [n.lower() for n, _ in json.load(f)["headers"]]
        self.assertNotIn("proxy-authorization", names)

    def test_post_body_held_during_the_check(self):
        # A fresh credential each time (a new password for a new user) so the check is not
        # remembered and the body really waits for the worker's verdict.
        user, password = "poster", "pw-for-post"
        htpasswd(self.htpasswd, user, password)
        self.reload("user(s) from")
        body = os.urandom(200_000)
        r = curl_cli(self.pport, self.url("/echo"), out=os.path.join(self.work, "echo.bin"),
                     args=["--proxy-user", f"{user}:{password}", "--data-binary",
                           "@" + self.write_file("post.bin", body),
                           "-H", "Content-Type: application/octet-stream"])
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(r.headers.get("X-Request-Body-Sha256"), sha256_bytes(body))
        self.assertEqual(sha256_file(os.path.join(self.work, "echo.bin")),
                         sha256_bytes(body))

    def test_connect_needs_credentials(self):
        target = self.origin.hostport
        with RawConn(self.pport) as c:
            c.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            self.assertEqual(c.read_head()[1], 407)
        with RawConn(self.pport) as c:
            c.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                   f"Proxy-Authorization: {basic(*ALICE)}\r\n\r\n".encode())
            self.assertEqual(c.read_head()[1], 200)
            # Through the tunnel, an origin-form request to the origin itself.
            c.send(f"GET /bytes/100/tunnelled HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(len(resp.body), 100)

    def test_many_parallel_requests_with_one_new_credential(self):
        user, password = "crowd", "crowd-password"
        htpasswd(self.htpasswd, user, password)
        self.reload("user(s) from")
        auth = basic(user, password)

        def one(i):
            return self.raw_get(f"/bytes/5000/crowd-{i}", auth).status

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(one, range(12)))
        self.assertEqual(statuses, [200] * 12)

    def test_no_secret_in_the_output(self):
        self.raw_get("/bytes/10/secret-a", basic(ALICE[0], "hunter2-wrong"))
        self.raw_get("/bytes/10/secret-b", basic(*BOB))
        text = self.proxy.stderr_text()
        for secret in ("hunter2-wrong", BOB[1], basic(*BOB).split()[1],
                       basic(ALICE[0], "hunter2-wrong").split()[1]):
            self.assertNotIn(secret, text)
        self.assertIn("proxy authentication failed for user 'alice'", text)

    def test_reload_adds_and_removes_users(self):
        self.assertEqual(self.raw_get("/bytes/10/reload-1", basic("carol", "pw-c")).status, 407)
        htpasswd(self.htpasswd, "carol", "pw-c")
        self.reload("user(s) from")
        self.assertEqual(self.raw_get("/bytes/10/reload-2", basic("carol", "pw-c")).status, 200)
        subprocess.run(["htpasswd", "-D", self.htpasswd, "carol"], check=True,
                       capture_output=True)
        self.reload("user(s) from")
        self.assertEqual(self.raw_get("/bytes/10/reload-3", basic("carol", "pw-c")).status, 407)
        # A broken file: the running users stay, and the log says why.
        with open(self.htpasswd) as f:
            good = f.read()
        try:
            with open(self.htpasswd, "a") as f:
                f.write("dave:plaintext\n")
            text = self.reload("keeping the running proxy authentication")
            self.assertIn("user 'dave'", text)
            self.assertEqual(self.raw_get("/bytes/10/reload-4", basic(*ALICE)).status, 200)
        finally:
            with open(self.htpasswd, "w") as f:
                f.write(good)
            self.reload("user(s) from")

    # --- helpers -----------------------------------------------------------------------------
    def reload(self, expect, timeout=5.0):
        text = self.proxy.signal_and_wait(signal.SIGHUP, expect, timeout)
        if text is None:
            self.fail(f"no {expect!r} after SIGHUP")
        return text

    def write_file(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


class StartupTest(unittest.TestCase):
    def test_refused_entries_stop_dlproxy_with_the_line_named(self):
        import tempfile
        with tempfile.TemporaryDirectory(prefix="dlproxy-auth-start-") as d:
            path = os.path.join(d, "htpasswd")
            for line, why in (("erin:$apr1$abc$def", "Apache MD5"), ("erin:secret", "plain text")):
                with open(path, "w") as f:
                    f.write("# team\n" + line + "\n")
                p = subprocess.run([dlproxy_bin(), "--listen", "127.0.0.1:0", "--auth-basic", path,
                                    "--cache-dir", d], capture_output=True, timeout=20,
                                   env=clean_env())
                err = p.stderr.decode(errors="replace")
                self.assertNotEqual(p.returncode, 0, err)
                self.assertIn(path, err)
                self.assertIn("line 2", err)
                self.assertIn(why, err)


if __name__ == "__main__":
    unittest.main()
