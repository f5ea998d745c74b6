"""SIGHUP and SIGUSR1 on a running dlproxy (issue 16 item 6, docs/operations.md "Signals").

    reload      the config file is read again on SIGHUP: a live key (allow) takes effect at
                once -- a loopback client is refused, then allowed again -- and the process is the
                same one (systemd's ExecReload sends SIGHUP; before, it killed dlproxy)
    refused     a file that does not load keeps the running configuration, and says why
    restart     a key that needs a restart (cache_size) is reported and keeps its running value
    logrotate   the access log, renamed away, is reopened by its path on SIGUSR1 (and SIGHUP):
                later lines go to the new file, earlier ones stay in the renamed one
"""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.pyclient import pycurl_request  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402

BASE = """\
allow = ["127.0.0.0/8", "::1/128"]
cache_size = "1GiB"
gap_budget = 8
access_log = "{access_log}"
"""


class ReloadTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.conf_dir = tempfile.mkdtemp(prefix="dlproxy-reload-")
        cls.conf = os.path.join(cls.conf_dir, "dlproxy.toml")
        cls.access_log = os.path.join(cls.conf_dir, "access.log")
        cls.write_conf()
        cls.proxy_args = ("--config", cls.conf)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        import shutil
        shutil.rmtree(cls.conf_dir, ignore_errors=True)

    @classmethod
    def write_conf(cls, **changes):
        text = BASE.format(access_log=cls.access_log)
        for key, value in changes.items():
            text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        with open(cls.conf, "w") as f:
            f.write(text)

    def tearDown(self):
        type(self).write_conf()
        self.signal(signal.SIGHUP, "reload: ")
        super().tearDown()

    def signal(self, sig, expect, timeout=5.0):
        """Sends `sig` and waits for a log line containing `expect`; returns the log since."""
        text = self.proxy.signal_and_wait(sig, expect, timeout)
        if text is None:
            self.fail(f"no {expect!r} in the log after the signal")
        return text

    def get_status(self, path):
        with RawConn(self.pport) as c:
            return c.request("GET", self.url(path), [("Host", self.origin.hostport)]).status

    def test_sighup_applies_the_allow_list_in_the_same_process(self):
        pid = self.proxy.proc.pid
        self.assertEqual(self.get_status("/bytes/10/reload-a"), 200)
        self.write_conf(allow='["10.0.0.0/8"]')
        log = self.signal(signal.SIGHUP, "reload: allow:")
        self.assertIn('reload: allow: ["127.0.0.0/8", "::1/128"] -> ["10.0.0.0/8"]', log)
        self.assertEqual(self.get_status("/bytes/10/reload-b"), 403)
        self.write_conf()
        self.signal(signal.SIGHUP, "reload: allow:")
        self.assertEqual(self.get_status("/bytes/10/reload-c"), 200)
        self.assertTrue(self.proxy.alive())
        self.assertEqual(self.proxy.proc.pid, pid)

    def test_a_bad_file_keeps_the_running_configuration(self):
        with open(self.conf, "w") as f:
            f.write('allow = ["10.0.0.0/8"]\ngap_budget = "soon"\n')
        log = self.signal(signal.SIGHUP, "reload refused")
        self.assertRegex(log, r"reload refused: .*gap_budget.*; keeping the running configuration")
        self.assertEqual(self.get_status("/bytes/10/reload-bad"), 200)  # allow unchanged
        with open(self.conf, "w") as f:
            f.write("allow = [\n")  # not TOML
        self.signal(signal.SIGHUP, "reload refused")
        self.assertEqual(self.get_status("/bytes/10/reload-bad2"), 200)

    def test_a_restart_key_is_reported_and_kept(self):
        self.write_conf(cache_size='"2GiB"', gap_budget="6")
        log = self.signal(signal.SIGHUP, "needs a restart")
        self.assertIn('reload: cache_size: "1GiB" -> "2GiB" needs a restart; keeping the running '
                      "value", log)
        self.assertIn("reload: gap_budget: 8 -> 6", log)

    def wait_for_line(self, path, text, timeout=5.0):
        """The access-log line is written when the transaction ends, which may be just after
        the client has its response."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    if text in f.read():
                        return
            time.sleep(0.05)
        self.fail(f"{text!r} not in {path}")

    def test_access_log_reopens_after_logrotate(self):
        pycurl_request(self.pport, self.url("/bytes/10/rotate-before"), keep_body=False)
        self.wait_for_line(self.access_log, "rotate-before")
        rotated = self.access_log + ".1"
        self.addCleanup(lambda: os.path.exists(rotated) and os.unlink(rotated))
        os.rename(self.access_log, rotated)
        self.signal(signal.SIGUSR1, "access log: reopened")
        pycurl_request(self.pport, self.url("/bytes/10/rotate-after"), keep_body=False)
        self.wait_for_line(self.access_log, "rotate-after")
        with open(rotated) as f:
            old = f.read()
        with open(self.access_log) as f:
            new = f.read()
        self.assertIn("rotate-before", old)
        self.assertNotIn("rotate-after", old)
        self.assertIn("rotate-after", new)
        # SIGHUP reopens it too.
        os.rename(self.access_log, rotated)
        self.signal(signal.SIGHUP, "access log: reopened")
        self.assertTrue(os.path.exists(self.access_log))


if __name__ == "__main__":
    unittest.main()
