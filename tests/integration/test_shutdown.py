"""SIGTERM: in-flight transfers finish within the grace period, then dlproxy exits 0."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.processes import clean_env, track  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
import content  # noqa: E402


class ShutdownTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dlproxy-it-shutdown-")
        cls.origin = Origin(cls.work).start()

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.proxy = None

    def tearDown(self):
        if self.proxy is not None:
            self.proxy.stop()

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before and getattr(self, "proxy", None):
            sys.stderr.write(f"\n----- dlproxy stderr ({self.id()}) -----\n"
                             + "\n".join(self.proxy.stderr_text().splitlines()[-150:])
                             + "\n----- end -----\n")
        return result

    def start_proxy(self, grace):
        self.proxy = Dlproxy(self.work, ["--grace-period", str(grace)]).start()
        return self.proxy

    def start_download(self, path, out):
        cmd = ["curl", "-sS", "--proxy", self.proxy.proxy_url, "--noproxy", "", "-o", out,
               "-w", "%{http_code}", "--max-time", "60", self.origin.url(path)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=clean_env())
        track(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(out) and os.path.getsize(out) > 0:
                return p
            if p.poll() is not None:
                break
            time.sleep(0.02)
        self.fail(f"download did not start: {p.communicate()}")

    def test_sigterm_lets_inflight_transfer_finish_then_exits_0(self):
        proxy = self.start_proxy(10)
        p = "/bytes/4194304/grace"
        out = os.path.join(self.work, "grace.bin")
        curl = self.start_download(p + "?rate=2097152", out)  # about 2 s
        t = time.monotonic()
        proxy.sigterm()
        stdout, stderr = curl.communicate(timeout=30)
        self.assertEqual((curl.returncode, stdout), (0, b"200"), stderr)
        self.assertEqual(sha256_file(out), content.sha256_of(p, 4194304))
        status = proxy.wait(12)
        elapsed = time.monotonic() - t
        self.assertEqual(status, 0, f"dlproxy exit status after SIGTERM: {status}")
        self.assertLess(elapsed, 10.5, "dlproxy outlived its grace period")

    def test_sigterm_idle_exits_promptly(self):
        proxy = self.start_proxy(10)
        with RawConn(proxy.port) as c:  # an idle keep-alive client must not hold the exit
            r = c.request("GET", self.origin.url("/bytes/10/idle"), [("Host", self.origin.hostport)])
            self.assertEqual(r.status, 200)
            t = time.monotonic()
            proxy.sigterm()
            status = proxy.wait(12)
            self.assertEqual(status, 0)
            self.assertLess(time.monotonic() - t, 3.0, "an idle proxy should not wait out the grace")

    def test_grace_period_expiry_cuts_long_transfer(self):
        proxy = self.start_proxy(2)
        p = "/bytes/20000000/too-long"
        out = os.path.join(self.work, "too-long.bin")
        curl = self.start_download(p + "?rate=2000000", out)  # about 10 s
        t = time.monotonic()
        proxy.sigterm()
        status = proxy.wait(8)
        elapsed = time.monotonic() - t
        self.assertIsNotNone(status, "dlproxy still running 8 s after SIGTERM with --grace-period 2")
        self.assertLess(elapsed, 4.0)
        curl.communicate(timeout=30)
        self.assertNotEqual(curl.returncode, 0, "a transfer cut by shutdown must look truncated")
        self.assertLess(os.path.getsize(out), 20000000)
        with open(out, "rb") as f:
            got = f.read()
        self.assertIsNone(content.find_mismatch(p, got))


if __name__ == "__main__":
    unittest.main(verbosity=2)
