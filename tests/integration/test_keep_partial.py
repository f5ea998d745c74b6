"""Never lose a partial (issue 14 item 6, docs/recovery.md "What invalidates a partial").

A 64 MiB download is cut at 40,000,000 bytes and the resume dlproxy sends is answered with an
error status instead of a 206: a 403 (what an expired signed URL answers), a 404, a 500 (final at
once) or 503s until the retries run out. None of these says the object changed, so:
- the client is closed short (a correct prefix, never wrong bytes), as before;
- every chunk verified before the cut stays in the cache (dlproxyctl ls shows the 38 whole
  chunks below the cut);
- the next download completes byte-exact (sha256), and the origin's log shows it asked only for
  the missing bytes: one request, `Range: bytes=<38 MiB>-<end>` with If-Range, 26 MiB sent.
Before the fix the partial was deleted and the second download fetched all 64 MiB again.

Real processes: tests/origin/origin.py (cut_at, and status=<code>&status_after=1 so that the
status answers the resume, not the first request), the dlproxy binary, dlproxyctl and curl.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")

SIZE = 64 * MiB
CUT = 40_000_000
CHUNK = MiB  # the store's default chunk size
HELD = CUT // CHUNK * CHUNK  # whole chunks received before the cut: 38 MiB

# Fast retries, and few of them, so that "503 until the retries run out" takes milliseconds:
# the cut is attempt 1, two 503s are attempts 2 and 3, and there is no fourth.
PROXY_ARGS = ("--retry-base-delay", "0.05", "--retry-max-delay", "0.2", "--stall-timeout", "2",
              "--retry-max-attempts", "3")


class KeepPartialTest(ProxyTestCase):
    proxy_args = PROXY_ARGS

    def download(self, target):
        out = os.path.join(self.work, "keep-partial.bin")
        if os.path.exists(out):
            os.unlink(out)
        r = curl_cli(self.pport, self.url(target), out, timeout=120)
        data = b""
        if os.path.exists(out):
            with open(out, "rb") as f:
                data = f.read()
            os.unlink(out)
        return r, data

    def cached(self, url):
        r = subprocess.run([CTL, "--cache-dir", self.proxy.cache_dir, "ls", "--json"],
                           capture_output=True, text=True, timeout=30, env=clean_env(),
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        return next((o for o in json.loads(r.stdout) if o["url"] == url), None)

    def wait_held(self, url, want, timeout=10.0):
        """The object's bytes_present once it reaches `want` (the worker commits the last
        chunks after the client was closed), or what it is at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            obj = self.cached(url)
            held = obj["bytes_present"] if obj else 0
            if held >= want or time.monotonic() > deadline:
                return held
            time.sleep(0.1)

    def check_refused_resume(self, tag, fault, resume_statuses, refused_later=None):
        path = f"/bytes/{SIZE}/keep-{tag}"
        target = f"{path}?cut_at={CUT}&{fault}"
        url = self.url(target)

        # 1. cut at 40 MB, the resume refused: closed short with a correct prefix
        r, data = self.download(target)
        self.assertEqual(r.status, 200, r.stderr)
        self.assertEqual(r.rc, 18, f"curl should report a short body: {r.stderr}")
        self.assertLessEqual(len(data), CUT)
        self.assertIsNone(content.find_mismatch(path, data, 0), "the short body has wrong bytes")
        first = self.origin.requests_for(target, self.mark, count=1 + len(resume_statuses))
        first = sorted(first, key=lambda rec: rec["index"])
        self.assertEqual([rec["status"] for rec in first], [200] + resume_statuses, first)
        self.assertEqual(first[0]["outcome"], "cut", first[0])
        for rec in first[1:]:
            self.assertEqual(rec["headers"].get("Range"), f"bytes={CUT - 1}-{SIZE - 1}", rec)
            self.assertEqual(rec["headers"].get("If-Range"), content.etag_of(path), rec)

        # 2. every whole chunk below the cut is still in the cache
        held = self.wait_held(url, HELD)
        self.assertEqual(held, HELD, "the verified chunks below the cut were not all kept")

        # 2b. a later download refused too: the client gets the origin's answer, chunks stay
        if refused_later is not None:
            mark = self.origin.mark()
            r, data = self.download(target)
            self.assertEqual(r.status, refused_later, r.stderr)
            self.assertLess(len(data), 1000, "an error answer, not the object")
            recs = self.origin.requests_for(target, mark, count=1)
            self.assertEqual(recs[0]["headers"].get("Range"), f"bytes={HELD}-{SIZE - 1}", recs)
            self.assertEqual(recs[0]["status"], refused_later, recs)
            time.sleep(0.3)
            self.assertEqual(self.wait_held(url, HELD), HELD, "a refused request dropped chunks")

        # 3. the next download completes and asks the origin only for what is missing
        mark = self.origin.mark()
        r, data = self.download(target)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(len(data), SIZE)
        self.assertEqual(sha256_bytes(data), content.sha256_of(path, SIZE))
        recs = self.origin.requests_for(target, mark, count=1)
        self.assertEqual(len(recs), 1, recs)
        rec = recs[0]
        self.assertEqual(rec["headers"].get("Range"), f"bytes={HELD}-{SIZE - 1}", rec)
        self.assertEqual(rec["headers"].get("If-Range"), content.etag_of(path), rec)
        self.assertEqual((rec["status"], rec["outcome"]), (206, "complete"), rec)
        self.assertEqual(rec["bytes_sent"], SIZE - HELD, "origin bytes for the second download")
        print(f"\n{tag}: second download took {rec['bytes_sent']} origin bytes "
              f"({rec['bytes_sent'] / MiB:.1f} MiB of {SIZE // MiB} MiB)", file=sys.stderr)

    def test_403_on_resume_keeps_the_partial(self):
        self.check_refused_resume("403", "status=403&status_after=1", [403])

    def test_403_on_resume_and_on_the_next_request_keeps_the_partial(self):
        # the second download's Range request is refused as well: its client gets the 403
        self.check_refused_resume("403x2", "status=403&status_after=1&times=2", [403],
                                  refused_later=403)

    def test_404_on_resume_keeps_the_partial(self):
        self.check_refused_resume("404", "status=404&status_after=1", [404])

    def test_500_on_resume_keeps_the_partial(self):
        # 500 is final at once (policy::retryable_status)
        self.check_refused_resume("500", "status=500&status_after=1", [500])

    def test_503_past_retries_keeps_the_partial(self):
        # 503 is retried: two 503s exhaust --retry-max-attempts 3 (the cut was the first)
        self.check_refused_resume("503", "status=503&status_after=1&times=2&retry_after=0",
                                  [503, 503])


if __name__ == "__main__":
    unittest.main(verbosity=2)
