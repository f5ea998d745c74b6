"""Per-origin circuit breaker (issue 16 item 2, docs/operations.md "Host health").

A real origin goes down (killed) and comes back on the same port. While it is down:

    closed     the first requests for uncached URLs each wait through their own retries before
               dlproxy answers 502 -- and count as failures of the origin
    open       after --breaker-failures failures, new requests the cache cannot serve (a fill,
               a pass-through with Authorization) get 503 at once, with a one-line reason and
               Retry-After; an object complete in the cache is still served
    reported   GET /status lists the origin under "hosts" as open; /metrics counts the opening
               and the refusals; the log says so once
    half-open  after --breaker-open the next request probes the origin: it is back, so the
               request succeeds and the breaker closes (the log, /status)

It prints the fail-fast time (a refused request, client's view) next to the time a request
took to fail while the breaker was closed -- the figures in docs/operations.md.
"""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.curl import curl_cli  # noqa: E402
from dltest.pyclient import pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

FAILURES = 4
OPEN_SECS = 3


class BreakerTest(ProxyTestCase):
    # Backoff as in production (0.25 s base), a short cool-down so the test is quick.
    proxy_args = ("--breaker-failures", str(FAILURES), "--breaker-window", "30",
                  "--breaker-open", str(OPEN_SECS))

    def metric(self, name):
        for line in self.proxy.admin("/metrics").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        self.fail(f"{name} not in /metrics")

    def host_entry(self):
        origin = f"http://{self.origin.hostport}"
        hosts = json.loads(self.proxy.admin("/status")).get("hosts")
        self.assertIsNotNone(hosts, "/status has no hosts section")
        return next((h for h in hosts if h["origin"] == origin), None)

    def timed(self, path, args=()):
        t0 = time.monotonic()
        r = curl_cli(self.pport, self.url(path), args=args, timeout=60)
        return r, time.monotonic() - t0

    def test_origin_down_then_back(self):
        cached = "/bytes/100000/breaker-cached?cc=max-age%3D3600"
        r = pycurl_request(self.pport, self.url(cached), keep_body=False)
        self.assertEqual(r.status, 200)
        err = self.proxy.stderr_size()
        self.origin.kill9()
        self.addCleanup(lambda: self.origin.alive() or self.origin.start())

        # Closed: each request fails on its own, after its retries.
        slow = []
        i = 0
        while self.host_entry() is None or self.host_entry()["state"] != "open":
            self.assertLess(i, FAILURES, "the breaker did not open")
            r, secs = self.timed(f"/bytes/1000/breaker-closed-{i}")
            # 502 after the request's own retries; the request whose first attempt opens the
            # breaker has its retries refused: 503.
            self.assertIn(r.status, (502, 503), r.stderr)
            slow.append(secs)
            i += 1

        self.assertEqual(i, FAILURES, "one failure per request, not per attempt")
        # Open: refused at once, with a reason and Retry-After.
        fast = []
        for j in range(5):
            r, secs = self.timed(f"/bytes/1000/breaker-open-{j}")
            self.assertEqual(r.status, 503)
            retry_after = int(r.headers.get("Retry-After", "0"))
            self.assertTrue(1 <= retry_after <= OPEN_SECS, r.headers)
            fast.append(secs)
        r, secs = self.timed("/bytes/1000/breaker-pass", args=("-H", "Authorization: Bearer x"))
        self.assertEqual(r.status, 503)
        fast.append(secs)
        body_path = os.path.join(self.work, "refused.txt")
        r = curl_cli(self.pport, self.url("/bytes/1000/breaker-body"), out=body_path)
        with open(body_path) as f:
            reason = f.read()
        self.assertEqual(len(reason.strip().splitlines()), 1, reason)
        self.assertIn(self.origin.hostport, reason)
        self.assertIn("connect", reason)
        self.assertLess(max(fast), 1.0, f"fail-fast times {fast}")
        # The cache still serves what it holds.
        r = pycurl_request(self.pport, self.url(cached), keep_body=False)
        self.assertEqual((r.status, r.sha256), (200, content.sha256_of(cached.split("?")[0], 100000)))

        entry = self.host_entry()
        self.assertEqual(entry["state"], "open")
        self.assertGreaterEqual(entry["refused"], 7)
        self.assertIsNotNone(entry["retry_in_s"])
        self.assertEqual(self.metric("dlproxy_breaker_opened_total"), 1)
        self.assertGreaterEqual(self.metric("dlproxy_breaker_refused_total"), 7)
        self.assertEqual(self.metric("dlproxy_hosts_failing"), 1)
        log = self.proxy.stderr_text(err)
        self.assertEqual(len(re.findall(r"circuit open after", log)), 1, log)

        # Back: after the cool-down the next request probes, succeeds and closes the breaker.
        self.origin.start()
        time.sleep(OPEN_SECS + 0.3)
        r, secs = self.timed("/bytes/1000/breaker-probe")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.host_entry()["state"], "closed")
        self.assertEqual(self.metric("dlproxy_hosts_failing"), 0)
        self.assertIn("circuit closed", self.proxy.stderr_text(err))
        r, _ = self.timed("/bytes/1000/breaker-after")
        self.assertEqual(r.status, 200)
        print(f"\n  failing while closed: {', '.join(f'{s:.2f}' for s in slow)} s per request; "
              f"refused while open: median {sorted(fast)[len(fast) // 2] * 1000:.0f} ms, "
              f"max {max(fast) * 1000:.0f} ms", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
