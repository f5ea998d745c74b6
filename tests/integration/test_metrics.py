"""The admin endpoint's counters follow what the request path does (issues 4 and 7): retries,
resumes, recovery times, discarded and give-up counts after real upstream faults; bytes from the
cache vs from upstream on a miss and a hit; GET /status listing a fill while it runs; and
`dlproxyctl stats` showing the daemon's hit ratio and resumes.

Real processes: tests/origin/origin.py (cuts, stalls and 503s by query parameter) and dlproxy with
short retry knobs. Every URL is used by one test only.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")
SIZE = 8 * MiB
SAMPLE = re.compile(r"^(dlproxy_[a-z_]+)(\{[^}]*\})? (\S+)$")


class MetricsTest(ProxyTestCase):
    proxy_args = ("--retry-base-delay", "0.05", "--retry-max-delay", "0.5", "--stall-timeout",
                  "2", "--retry-max-attempts", "3")

    def metrics(self):
        out = {}
        for line in self.proxy.admin("/metrics").splitlines():
            m = SAMPLE.match(line)
            if m:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return out

    def delta(self, before, after, name):
        return after.get(name, 0) - before.get(name, 0)

    def download(self, target, size, path=None):
        out = os.path.join(self.work, "body.bin")
        r = curl_cli(self.proxy.port, self.origin.url(target), out, timeout=60)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(out), content.sha256_of(path or target, size))
        os.unlink(out)

    def test_cuts_count_retries_resumes_and_recovery(self):
        path = f"/bytes/{SIZE}/m-cuts"
        before = self.metrics()
        self.download(f"{path}?cut=1000003&cuts=3", SIZE, path)
        after = self.metrics()
        self.assertEqual(self.delta(before, after, "dlproxy_retries_total"), 3)
        self.assertEqual(self.delta(before, after, "dlproxy_resumes_total"), 3)
        self.assertEqual(self.delta(before, after, "dlproxy_recovery_seconds_count"), 3)
        self.assertGreater(self.delta(before, after, "dlproxy_recovery_seconds_sum"), 0)
        # Each resume asks from one byte early and checks it: one discarded byte per resume.
        self.assertEqual(self.delta(before, after, "dlproxy_discarded_bytes_total"), 3)
        self.assertEqual(self.delta(before, after, "dlproxy_give_ups_total"), 0)
        self.assertEqual(self.delta(before, after, "dlproxy_bytes_from_upstream_total"),
                         SIZE + 3)
        self.assertEqual(self.delta(before, after, 'dlproxy_requests_total{result="MISS"}'), 1)

    def test_miss_then_hit_bytes_from_upstream_and_cache(self):
        path = f"/bytes/{SIZE}/m-hit"
        before = self.metrics()
        self.download(path, SIZE)
        mid = self.metrics()
        self.assertEqual(self.delta(before, mid, "dlproxy_bytes_from_upstream_total"), SIZE)
        self.download(path, SIZE)
        after = self.metrics()
        self.assertEqual(self.delta(mid, after, "dlproxy_bytes_from_upstream_total"), 0)
        self.assertEqual(self.delta(mid, after, "dlproxy_bytes_from_cache_total"), SIZE)
        self.assertEqual(self.delta(mid, after, 'dlproxy_requests_total{result="HIT"}'), 1)
        self.assertEqual(self.delta(before, after, "dlproxy_bytes_to_clients_total"), 2 * SIZE)
        self.assertGreaterEqual(after["dlproxy_cache_objects"], 1)
        self.assertGreaterEqual(after["dlproxy_cache_bytes"], SIZE)

        r = subprocess.run([CTL, "--cache-dir", self.proxy.cache_dir, "--admin",
                            f"http://127.0.0.1:{self.proxy.admin_port}", "stats", "--json"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)["daemon"]
        self.assertGreater(d["hit_ratio"], 0)
        self.assertGreaterEqual(d["bytes_from_cache"], SIZE)

    def test_give_up_is_counted(self):
        before = self.metrics()
        r = curl_cli(self.proxy.port, self.origin.url("/status/503?m-giveup"), timeout=60)
        self.assertEqual(r.status, 503)
        after = self.metrics()
        self.assertEqual(self.delta(before, after, "dlproxy_give_ups_total"), 1)
        self.assertGreaterEqual(self.delta(before, after, "dlproxy_retries_total"), 1)

    def test_status_lists_a_running_fill(self):
        path = f"/bytes/{SIZE}/m-status"
        target = f"{path}?stall_at=3000000&stall_secs=3&stalls=1"
        t = threading.Thread(target=self.download, args=(target, SIZE, path))
        t.start()
        seen = []
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline and t.is_alive():
                fills = json.loads(self.proxy.admin("/status"))["inflight_fills"]
                seen += [f for f in fills if f["url"].endswith(target)]
                if any(f["state"] == "waiting_retry" or f["bytes_done"] >= 3000000
                       for f in seen):
                    break
                time.sleep(0.05)
        finally:
            t.join(60)
        self.assertTrue(seen, "the fill never appeared in /status")
        f = seen[-1]
        self.assertEqual(f["total"], SIZE)
        self.assertLessEqual(f["bytes_done"], SIZE)
        self.assertGreaterEqual(f["attempts"], 1)
        self.assertIn(f["state"], ("starting", "transferring", "waiting_retry",
                                   "waiting_for_disk", "writing"))
        self.assertGreaterEqual(f["rate_bytes_per_s"], 0)
        m = self.metrics()
        self.assertIn("dlproxy_inflight_fills", m)
        self.assertGreaterEqual(m["dlproxy_client_connections"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
