"""`dlproxyctl watch` and `dlproxyctl doctor` against a real dlproxy (issue 17).

watch: --json prints one status document per line from GET /events (the snapshot first, then
updates) and follows a paced download's progress; the text view draws a progress bar and the
download's state in plain words; an unreachable daemon is exit 3, a missing token exit 2.
doctor: with the shell set up (proxy variables, the CA bundle in REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE
and SSL_CERT_FILE) the checks pass except the system store, whose fix is printed; without proxy
variables the fix says what to export; a budget larger than the disk fails with a fix; --json
carries the same verdicts; the exit status says whether everything passed.
"""

import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")


class WatchDoctorTest(ProxyTestCase):
    proxy_args = ("--retry-base-delay", "0.2")

    def config(self, **extra):
        conf = os.path.join(self.work, "ctl.toml")
        keys = {"listen": f"127.0.0.1:{self.proxy.port}",
                "admin_listen": f"127.0.0.1:{self.proxy.admin_port}",
                "cache_dir": self.proxy.cache_dir, "cache_size": "1GiB", **extra}
        with open(conf, "w") as f:
            f.writelines(f'{k} = "{v}"\n' for k, v in keys.items())
        return conf

    def ctl(self, *args, env=None, timeout=60, **config):
        return subprocess.run([CTL, "--config", self.config(**config), *args],
                              capture_output=True, text=True, timeout=timeout,
                              env=env or clean_env(), stdin=subprocess.DEVNULL)

    def paced_download(self, name):
        url = self.origin.url(f"/bytes/{3 * MiB}/{name}?rate=1000000")
        t = threading.Thread(target=curl_cli, args=(self.proxy.port, url), kwargs={"timeout": 60})
        t.start()
        return url, t

    def test_watch_json_follows_a_download(self):
        url, t = self.paced_download("cw-json")
        try:
            r = self.ctl("--json", "watch", "--count", "4", timeout=30)
        finally:
            t.join(60)
        self.assertEqual(r.returncode, 0, r.stderr)
        docs = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(docs), 4)
        self.assertIn("totals", docs[0])
        done = [f["bytes_done"] for d in docs for f in d["fills"] if f["url"] == url]
        self.assertGreaterEqual(len(set(done)), 2, done)
        self.assertEqual(done, sorted(done))

    def test_watch_text_view(self):
        url, t = self.paced_download("cw-text")
        try:
            r = self.ctl("watch", "--count", "3", timeout=30)
        finally:
            t.join(60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\x1b[", r.stdout)  # not a terminal: no escape codes
        self.assertIn("DOWNLOADING NOW", r.stdout)
        self.assertIn("cw-text", r.stdout)
        self.assertRegex(r.stdout, r"\[#*\.*\] +\d+\.\d%")
        self.assertIn("downloading", r.stdout)

    def test_watch_errors(self):
        r = subprocess.run([CTL, "--admin", "http://127.0.0.1:9", "watch", "--count", "1"],
                           capture_output=True, text=True, timeout=30, env=clean_env())
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("cannot watch", r.stderr)

    def test_doctor(self):
        ca_dir = os.path.join(self.work, "ca")
        r = self.ctl("--ca-dir", ca_dir, "ca", "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        bundle = os.path.join(ca_dir, "bundle.pem")
        proxy = f"http://127.0.0.1:{self.proxy.port}"
        good = dict(clean_env(), HTTP_PROXY=proxy, HTTPS_PROXY=proxy,
                    NO_PROXY="localhost,127.0.0.1,::1", REQUESTS_CA_BUNDLE=bundle,
                    CURL_CA_BUNDLE=bundle, SSL_CERT_FILE=bundle)

        r = self.ctl("--ca-dir", ca_dir, "doctor", env=good)
        lines = {line.split(":")[0]: line for line in r.stdout.splitlines() if ":" in line}
        for check in ("ok    dlproxy reachable", "ok    proxy variables",
                      "ok    CA trusted by Python requests", "ok    CA trusted by curl",
                      "ok    CA trusted by OpenSSL (SSL_CERT_FILE)",
                      "ok    request through the proxy", "ok    clock",
                      "ok    free disk for the cache"):
            self.assertIn(check, lines, r.stdout)
        # The system store does not hold a CA made a second ago: failed, with the fix.
        self.assertIn("FAIL  CA in the system store", lines, r.stdout)
        self.assertIn("update-ca-certificates", r.stdout)
        self.assertEqual(r.returncode, 1, r.stdout)

        # No CA (interception unused): the trust checks are skipped and everything passes.
        r = self.ctl("--ca-dir", os.path.join(self.work, "no-ca"), "doctor", env=good)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("skip  CA trust", r.stdout)
        self.assertIn("All checks passed.", r.stdout)

        # A bare shell: the fix says what to export.
        r = self.ctl("--ca-dir", os.path.join(self.work, "no-ca"), "doctor")
        self.assertEqual(r.returncode, 1)
        self.assertIn("FAIL  proxy variables: HTTP_PROXY is not set", r.stdout)
        self.assertIn(f"fix: export HTTP_PROXY={proxy} HTTPS_PROXY={proxy}", r.stdout)

        # --json, a budget no disk has, and a daemon that is not there.
        r = self.ctl("--ca-dir", os.path.join(self.work, "no-ca"), "--json", "doctor", env=good,
                     cache_size="500TiB")
        doc = json.loads(r.stdout)
        self.assertFalse(doc["passed"])
        verdicts = {c["check"]: c for c in doc["checks"]}
        self.assertEqual(verdicts["free disk for the cache"]["result"], "FAIL")
        self.assertIn("lower cache_size", verdicts["free disk for the cache"]["fix"])
        self.assertEqual(verdicts["request through the proxy"]["result"], "ok")
        self.assertIsNone(verdicts["request through the proxy"]["fix"])
        r = self.ctl("--ca-dir", os.path.join(self.work, "no-ca"), "doctor", env=good,
                     admin_listen="127.0.0.1:9")
        self.assertEqual(r.returncode, 1)
        self.assertIn("FAIL  dlproxy reachable: nothing answers at http://127.0.0.1:9", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
