"""Background fill (docs/many-clients.md): what a fill does once its last client has gone.

    default     the fill completes: the origin log shows the whole body sent
    never       the fill stops soon after the client goes: the origin's transfer is cut short,
                and the cache keeps the partial object (the next request asks only for the rest)
    threshold   a fill past --background-fill-min-percent completes, one short of it stops
    bound       --max-background-fills 1: the second orphaned fill stops, the first completes

Objects are 32 MiB at 8 MiB/s (4 s), so a client that leaves after 2-6 MiB leaves a fill with
seconds to go.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.pyclient import new_pycurl, pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402
import pycurl  # noqa: E402

SIZE = 32 * MiB
RATE = 8 * MiB


class BackgroundFillCase(ProxyTestCase):
    def leave_after(self, target, nbytes):
        """GET `target` and hang up once `nbytes` of the body have arrived."""
        c = new_pycurl(self.pport)
        got = [0]

        def on_write(data):
            got[0] += len(data)
            return None if got[0] < nbytes else 0  # 0: abort the transfer

        c.setopt(pycurl.URL, self.url(target))
        c.setopt(pycurl.WRITEFUNCTION, on_write)
        c.setopt(pycurl.TIMEOUT, 30)
        try:
            c.perform()
        except pycurl.error:
            pass
        c.close()
        self.assertGreaterEqual(got[0], nbytes)

    def origin_record(self, target, timeout):
        recs = self.origin.requests_for(target, self.mark, count=1, timeout=timeout)
        self.assertEqual(len(recs), 1, f"one origin request expected: {recs}")
        return recs[0]

    def assert_completed(self, target):
        # The origin logs a response when it ends: at the origin's pace when the box is idle,
        # much later when the disk is busy with other tests' syncs and the fill waits for it.
        rec = self.origin_record(target, SIZE / RATE + 40)
        self.assertEqual(rec["outcome"], "complete", rec)
        self.assertEqual(rec["bytes_sent"], SIZE, rec)

    def assert_stopped(self, path, target):
        rec = self.origin_record(target, 5)
        self.assertEqual(rec["outcome"], "client_gone", rec)
        self.assertLess(rec["bytes_sent"], 0.6 * SIZE, rec)
        # The cache kept what arrived: the next client's fill asks only for the rest.
        mark = self.origin.mark()
        r = pycurl_request(self.pport, self.url(target), keep_body=False, timeout=30)
        self.assertEqual(r.sha256, content.sha256_of(path, SIZE))
        ranges = [x["headers"].get("Range") for x in self.origin.log_since(mark)
                  if x["target"] == target]
        self.assertTrue(ranges and ranges[0] and not ranges[0].startswith("bytes=0-"),
                        f"the partial object was not used: {ranges}")


class DefaultBackgroundFillTest(BackgroundFillCase):
    def test_fill_completes_without_clients(self):
        target = f"/bytes/{SIZE}/bg-default?rate={RATE}"
        self.leave_after(target, 4 * MiB)
        self.assert_completed(target)


class NeverBackgroundFillTest(BackgroundFillCase):
    proxy_args = ["--background-fill", "never"]

    def test_fill_stops_when_the_client_goes(self):
        path = f"/bytes/{SIZE}/bg-never"
        target = f"{path}?rate={RATE}"
        self.leave_after(target, 6 * MiB)
        self.assert_stopped(path, target)


class ThresholdBackgroundFillTest(BackgroundFillCase):
    proxy_args = ["--background-fill", "threshold", "--background-fill-min-percent", "40",
                  "--background-fill-max-remaining", "1MiB"]

    def test_far_enough_completes(self):
        target = f"/bytes/{SIZE}/bg-threshold-far?rate={RATE}"
        self.leave_after(target, int(0.55 * SIZE))
        self.assert_completed(target)

    def test_not_far_enough_stops(self):
        path = f"/bytes/{SIZE}/bg-threshold-near"
        target = f"{path}?rate={RATE}"
        self.leave_after(target, 4 * MiB)
        self.assert_stopped(path, target)


class BoundedBackgroundFillsTest(BackgroundFillCase):
    proxy_args = ["--max-background-fills", "1"]

    def test_newest_orphaned_fill_stops(self):
        first = f"/bytes/{SIZE}/bg-bound-1?rate={RATE}"
        path2 = f"/bytes/{SIZE}/bg-bound-2"
        second = f"{path2}?rate={RATE}"
        self.leave_after(first, 2 * MiB)
        self.leave_after(second, 2 * MiB)
        self.assert_completed(first)
        self.assert_stopped(path2, second)


if __name__ == "__main__":
    unittest.main(verbosity=2)
