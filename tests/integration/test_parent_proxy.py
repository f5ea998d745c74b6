"""A parent proxy: dlproxy → Squid → origin (docs/operations.md "Parent proxy").

Real processes: tests/origin/origin.py, Squid (Debian package `squid`) with a minimal
configuration written here (http_port on an ephemeral loopback port, no cache, localhost only,
pid file and logs in the temporary directory, `squid -N` in the foreground, stopped by PID), and
dlproxy with --upstream-proxy http://127.0.0.1:SQUID --upstream-no-proxy localhost.

Checked: a download goes through Squid (its access log shows the URL) and is byte-exact, the
second is a hit; a response cut mid-body by the origin is resumed through Squid (Range) and
completes byte-exact; `localhost` bypasses Squid (no-proxy); a CONNECT that is not intercepted is
tunnelled through Squid with CONNECT, and a no-proxy CONNECT goes direct; a CONNECT Squid refuses
is a 502 with its status line in the log; intercepted HTTPS to
https://huggingface.co/ (a TLS origin with a test certificate for that name, reached through
--connect-to) goes through Squid's CONNECT and is cached.
"""

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import LOCALHOST, MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_bytes, sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.ports import free_port  # noqa: E402
from dltest.processes import clean_env, stop_process, track  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402
from dltest.pki import make_named_pki  # noqa: E402

SIZE = 8 * MiB
SQUID = shutil.which("squid") or "/usr/sbin/squid"

SQUID_CONF = """\
http_port 127.0.0.1:{port}
pid_filename {dir}/squid.pid
access_log stdio:{dir}/access.log
cache_log {dir}/cache.log
cache_store_log none
coredump_dir {dir}
cache deny all
cache_mem 8 MB
acl from_localhost src 127.0.0.1/32
http_access allow from_localhost
http_access deny all
visible_hostname dlproxy-test-parent
shutdown_lifetime 1 seconds
dns_nameservers 127.0.0.1
"""


class Squid:
    """Squid in the foreground (-N) on an ephemeral loopback port, in its own directory."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "squid")
        os.makedirs(self.dir)
        # Squid started as root runs as its cache_effective_user (Debian: proxy), which must
        # write the logs and the pid file here.
        try:
            user = pwd.getpwnam("proxy")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        except (KeyError, PermissionError):
            os.chmod(self.dir, 0o777)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "squid.conf")
        with open(self.conf, "w") as f:
            f.write(SQUID_CONF.format(port=self.port, dir=self.dir))
        self.proc = None

    def start(self, timeout=20.0):
        self.proc = subprocess.Popen([SQUID, "-N", "-f", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=clean_env())
        track(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"squid exited {self.proc.returncode}: {self.cache_log()}")
            try:
                socket.create_connection((LOCALHOST, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"squid did not listen within {timeout} s: {self.cache_log()}")

    def stop(self):
        if self.proc:
            stop_process(self.proc, timeout=10)

    def cache_log(self):
        try:
            with open(os.path.join(self.dir, "cache.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def access_lines(self):
        try:
            with open(os.path.join(self.dir, "access.log"), errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def wait_lines(self, needle, count, timeout=10.0):
        """Access-log lines containing `needle`, once there are `count` of them (Squid logs a
        transaction when it ends)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [ln for ln in self.access_lines() if needle in ln]
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)


class ParentProxyCase(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        os.chmod(cls.work, 0o755)  # Squid's user reaches its directory inside
        cls.origin = Origin(cls.work)
        cls.squid = Squid(cls.work)
        cls.pki = make_named_pki(cls.work, ["huggingface.co"])
        cls.tls_origin = Origin(cls.work, tls=(cls.pki["origin.pem"], cls.pki["origin.key"]),
                                name="tls-origin")
        cls.proxy = None
        try:
            cls.origin.start()
            cls.tls_origin.start()
            cls.squid.start()
            cls.dead_port = free_port()  # nothing listens there
            cls.proxy_args = ("--upstream-proxy", f"http://{LOCALHOST}:{cls.squid.port}",
                              "--upstream-no-proxy", "localhost",
                              "--connect-ports", f"443,{cls.origin.port},{cls.dead_port}",
                              "--connect-to", f"huggingface.co:443:127.0.0.1:{cls.tls_origin.port}",
                              "--upstream-ca-file", cls.pki["oca.pem"],
                              "--retry-base-delay", "0.05", "--retry-max-delay", "0.5")
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "squid", None):
            cls.squid.stop()
        if getattr(cls, "tls_origin", None):
            cls.tls_origin.stop()
        super().tearDownClass()

    def download(self, url):
        out = os.path.join(self.work, "out.bin")
        if os.path.exists(out):
            os.unlink(out)
        return curl_cli(self.proxy.port, url, out, timeout=60)

    def gets(self, target, since):
        return [r for r in self.origin.log_since(since)
                if r["target"] == target and r["method"] == "GET"]

    def test_download_through_squid_then_hit(self):
        path = f"/bytes/{SIZE}/via-squid"
        mark = self.origin.mark()
        r = self.download(self.origin.url(path))
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        lines = self.squid.wait_lines(path, 1)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(f"GET http://{LOCALHOST}:{self.origin.port}{path}", lines[0])
        got = self.gets(path, mark)
        self.assertEqual(len(got), 1)
        self.assertIn("dlproxy-test-parent", got[0]["headers"].get("Via", ""))  # Squid's Via
        r = self.download(self.origin.url(path))
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        time.sleep(0.3)
        self.assertEqual(len(self.squid.wait_lines(path, 2, timeout=0.5)), 1, "not a hit")
        self.assertEqual(len(self.gets(path, mark)), 1)

    def test_cut_mid_body_is_resumed_through_squid(self):
        path = f"/bytes/{SIZE}/cut-via-squid"
        target = f"{path}?cut={3 * MiB + 12345}"
        mark = self.origin.mark()
        r = self.download(self.origin.url(target))
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        got = self.gets(target, mark)
        self.assertEqual(len(got), 2, got)
        self.assertEqual(got[0]["outcome"], "cut")
        self.assertTrue(got[1]["headers"].get("Range", "").startswith("bytes="), got[1])
        lines = self.squid.wait_lines(path, 2)
        self.assertEqual(len(lines), 2, lines)

    def test_no_proxy_host_goes_direct(self):
        path = f"/bytes/{MiB}/direct"
        mark = self.origin.mark()
        r = self.download(f"http://localhost:{self.origin.port}{path}")
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, MiB))
        self.assertEqual(len(self.gets(path, mark)), 1)
        time.sleep(0.3)
        self.assertEqual(self.squid.wait_lines(path, 1, timeout=0.5), [])

    def tunnel_get(self, host, path):
        """A plain GET through a CONNECT tunnel (127.0.0.1 and localhost are not intercepted)."""
        s = socket.create_connection((LOCALHOST, self.proxy.port), timeout=15)
        try:
            authority = f"{host}:{self.origin.port}"
            s.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                data = s.recv(4096)
                self.assertTrue(data, f"proxy closed during CONNECT: {head!r}")
                head += data
            self.assertIn(b" 200 ", head.split(b"\r\n", 1)[0] + b" ")
        except BaseException:
            s.close()
            raise
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return head.split(b"\r\n", 1)[0], body

    def test_tunnel_through_squid_and_no_proxy_tunnel_direct(self):
        path = f"/bytes/{MiB}/tunnel"
        status, body = self.tunnel_get(LOCALHOST, path)
        self.assertIn(b" 200 ", status)
        self.assertEqual(sha256_bytes(body), content.sha256_of(path, MiB))
        lines = self.squid.wait_lines(f"CONNECT {LOCALHOST}:{self.origin.port}", 1)
        self.assertEqual(len(lines), 1, self.squid.access_lines())
        before = len(self.squid.access_lines())
        path = f"/bytes/{MiB}/tunnel-direct"
        status, body = self.tunnel_get("localhost", path)
        self.assertIn(b" 200 ", status)
        self.assertEqual(sha256_bytes(body), content.sha256_of(path, MiB))
        time.sleep(0.3)
        self.assertEqual(len(self.squid.access_lines()), before)

    def test_intercepted_https_through_squid(self):
        path = f"/bytes/{SIZE}/https-via-squid"
        bundle = os.path.join(self.proxy.cache_dir, "ca", "bundle.pem")
        out = os.path.join(self.work, "https.bin")
        for _ in range(2):  # the second is a hit
            r = curl_cli(self.proxy.port, f"https://huggingface.co{path}", out,
                         ("--cacert", bundle), timeout=60)
            self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
            self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        gets = [r for r in self.tls_origin.log() if r["target"] == path and r["method"] == "GET"]
        self.assertEqual(len(gets), 1, gets)
        self.assertEqual(gets[0]["headers"].get("Host"), "huggingface.co")
        # Squid logs a CONNECT when the tunnel ends; dlproxy keeps it open for reuse, so end it
        # from the origin's side (no other test uses this origin).
        self.tls_origin.stop()
        lines = self.squid.wait_lines(f"CONNECT 127.0.0.1:{self.tls_origin.port}", 1)
        self.assertEqual(len(lines), 1, self.squid.access_lines())

    def test_parent_refusing_connect_is_a_502(self):
        # Squid cannot reach the dead port and answers the CONNECT with an error status.
        mark = self.proxy.stderr_size()
        s = socket.create_connection((LOCALHOST, self.proxy.port), timeout=15)
        try:
            authority = f"{LOCALHOST}:{self.dead_port}"
            s.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                data = s.recv(4096)
                if not data:
                    break
                head += data
        finally:
            s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 502 "), head)
        deadline = time.monotonic() + 5
        while "refused CONNECT" not in self.proxy.stderr_text(mark) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIn(f"refused CONNECT {LOCALHOST}:{self.dead_port}", self.proxy.stderr_text(mark))


if __name__ == "__main__":
    unittest.main(verbosity=2)
