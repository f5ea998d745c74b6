"""Ranges during a fill (docs/many-clients.md, issue 5 item 3): a client Range that starts far
ahead of a running fill gets its own upstream range fetch, whose bytes are stored too; one
close behind the fill waits for it.

    far ahead    a 4 MiB range 40 MiB ahead of an 8 MiB/s fill arrives in well under the 5 s the
                 fill needs to get there; the origin sees one Range request starting at that
                 chunk with If-Range; the fill skips the region (origin bytes ~1x the object);
                 the object is complete and correct afterwards (a HIT, no origin request)
    near         a range 4 MiB ahead (< --range-wait-distance 16MiB) waits: one origin request
    open-ended   `Range: bytes=N-` ahead of the fill: the range fetch runs to the end, the fill
                 stops where it begins; origin bytes ~1x
    cut          the range fetch is cut mid-way: the client still gets correct bytes (the next
                 wake-up starts another range fetch or the fill gets there)
    resumed      the range fetch is cut mid-way and resumes itself (the resume engine): its next
                 request asks from one byte before the cut to the region's end, with If-Range
    changed      the object changed on the origin (If-Range fails, 200): the range fetch is not
                 used, the client gets the bytes of the version its 206 head announced
    off          --max-range-fetches 0: the far range waits for the fill, no Range request

Objects are 48 MiB paced at 8 MiB/s, sizes chosen so that each case runs a few seconds.
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.pyclient import new_pycurl, pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402
import pycurl  # noqa: E402

SIZE = 48 * MiB
RATE = 8 * MiB


class Background:
    """A whole-object download on its own thread (the client that starts the fill)."""

    def __init__(self, port, url):
        self.port, self.url = port, url
        self.result = self.error = None
        self.got_first = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.result = pycurl_request(self.port, self.url, keep_body=False, timeout=60,
                                         curl=self._curl())
        except pycurl.error as e:
            self.error = e

    def _curl(self):
        c = new_pycurl(self.port)
        c.setopt(pycurl.NOPROGRESS, 0)
        c.setopt(pycurl.XFERINFOFUNCTION,
                 lambda dt, dn, ut, un: self.got_first.set() if dn > 0 else None)
        return c

    def start(self):
        self.thread.start()
        assert self.got_first.wait(15), "the fill did not start"
        return self

    def join(self, timeout=60):
        self.thread.join(timeout)
        return not self.thread.is_alive()


class RangeFetchCase(ProxyTestCase):
    def start_fill(self, target):
        fill = Background(self.pport, self.url(target))
        self.addCleanup(fill.join)  # before the fd check, also when the test fails
        return fill.start()

    def get_range(self, target, begin, end=None):
        """GET bytes [begin, end) (end None: to the end); returns (response, seconds)."""
        spec = f"bytes={begin}-" if end is None else f"bytes={begin}-{end - 1}"
        t0 = time.monotonic()
        r = pycurl_request(self.pport, self.url(target), headers=[f"Range: {spec}"], timeout=60)
        return r, time.monotonic() - t0

    def check_range(self, r, path, begin, end, version="0"):
        self.assertEqual(r.status, 206, r.status_line)
        self.assertEqual(r.length, end - begin)
        self.assertTrue(r.body == content.content(path, begin, end - begin, version),
                        f"wrong bytes for {path} [{begin}, {end})")

    def check_whole(self, fill, path):
        self.assertTrue(fill.join(), "the whole-object client did not finish")
        self.assertIsNone(fill.error, f"whole-object client failed: {fill.error}")
        self.assertEqual(fill.result.status, 200)
        self.assertEqual(fill.result.sha256, content.sha256_of(path, SIZE))

    def origin_records(self, target, count, timeout=30):
        return self.origin.requests_for(target, self.mark, count=count, timeout=timeout)


class FarRangeTest(RangeFetchCase):
    def test_far_range_is_fetched_separately_and_stored(self):
        path = "/bytes/%d/far" % SIZE
        target = f"{path}?rate={RATE}"
        fill = self.start_fill(target)
        begin, end = 40 * MiB + 12345, 44 * MiB
        r, seconds = self.get_range(target, begin, end)
        self.check_range(r, path, begin, end)
        # The fill reaches 40 MiB after 5 s; a separate fetch of 4 MiB at 8 MiB/s takes 0.5 s.
        self.assertLess(seconds, 3.5, "the range waited for the fill")
        self.check_whole(fill, path)
        # The fill's request, the range fetch of chunks 40-43, and the fill's own Range
        # request for what follows the region (it stopped where the region began).
        recs = self.origin_records(target, 3)
        ranged = sorted((x for x in recs if x["headers"].get("Range")), key=lambda x: x["index"])
        self.assertEqual(len(ranged), 2, recs)
        self.assertEqual(ranged[0]["headers"]["Range"], f"bytes={40 * MiB}-{44 * MiB - 1}")
        self.assertTrue(ranged[0]["headers"].get("If-Range"), "no If-Range on the range fetch")
        self.assertEqual(ranged[1]["headers"]["Range"], f"bytes={44 * MiB}-{SIZE - 1}")
        sent = sum(x["bytes_sent"] for x in recs)
        self.assertLessEqual(sent, SIZE + 4 * MiB, f"origin sent {sent} bytes: {recs}")
        self.assert_hit(target, content.sha256_of(path, SIZE))

    def test_near_range_waits_for_the_fill(self):
        path = "/bytes/%d/near" % SIZE
        target = f"{path}?rate={RATE}"
        fill = self.start_fill(target)
        r, _ = self.get_range(target, 4 * MiB, 6 * MiB)
        self.check_range(r, path, 4 * MiB, 6 * MiB)
        self.check_whole(fill, path)
        recs = self.origin_records(target, 1)
        self.assertEqual(len(recs), 1, f"a near range started its own fetch: {recs}")

    def test_open_ended_range_runs_to_the_end(self):
        path = "/bytes/%d/open" % SIZE
        target = f"{path}?rate={RATE}"
        fill = self.start_fill(target)
        begin = 32 * MiB
        r, seconds = self.get_range(target, begin)
        self.check_range(r, path, begin, SIZE)
        self.assertLess(seconds, 5, "the range waited for the fill")
        self.check_whole(fill, path)
        recs = self.origin_records(target, 2)
        sent = sum(x["bytes_sent"] for x in recs)
        self.assertLessEqual(sent, SIZE + 4 * MiB, f"origin sent {sent} bytes: {recs}")
        self.assert_hit(target, content.sha256_of(path, SIZE))


class CutRangeFetchTest(RangeFetchCase):
    def test_a_cut_range_fetch_still_serves_correct_bytes(self):
        path = "/bytes/%d/cut" % SIZE
        # The first two responses spanning offset 42 MiB are cut there: the fill's (which stops
        # at 40 MiB, where the range fetch's region begins, and never gets there) and the range
        # fetch's. The next one, starting at 42 MiB, does not span it.
        target = f"{path}?rate={RATE}&cut_at={42 * MiB}&cuts=2"
        fill = self.start_fill(target)
        begin, end = 40 * MiB, 46 * MiB
        r, _ = self.get_range(target, begin, end)
        self.check_range(r, path, begin, end)
        self.check_whole(fill, path)
        recs = self.origin_records(target, 3)
        self.assertIn("cut", [x["outcome"] for x in recs], recs)
        self.assert_hit(target, content.sha256_of(path, SIZE))


class ResumedRangeFetchTest(RangeFetchCase):
    def test_a_cut_range_fetch_resumes_itself(self):
        path = "/bytes/%d/cut-resume" % SIZE
        # As above: the fill's response (stopped at 40 MiB) and the range fetch's are cut at
        # 42 MiB. The range fetch's retry asks from 42 MiB - 1 (the overlap byte) and is not cut.
        target = f"{path}?rate={RATE}&cut_at={42 * MiB}&cuts=2"
        err = self.proxy.stderr_size()
        fill = self.start_fill(target)
        begin, end = 40 * MiB, 46 * MiB
        r, seconds = self.get_range(target, begin, end)
        self.check_range(r, path, begin, end)
        self.assertLess(seconds, 3.5, "the range waited for the fill")
        self.check_whole(fill, path)
        recs = self.origin_records(target, 4)
        ranged = sorted((x for x in recs if x["headers"].get("Range")), key=lambda x: x["index"])
        self.assertGreaterEqual(len(ranged), 2, recs)
        first, resume = ranged[0], ranged[1]
        self.assertEqual(first["headers"]["Range"], f"bytes={40 * MiB}-{46 * MiB - 1}")
        self.assertEqual(first["outcome"], "cut", first)
        self.assertEqual(resume["headers"]["Range"], f"bytes={42 * MiB - 1}-{46 * MiB - 1}")
        self.assertTrue(resume["headers"].get("If-Range"), "no If-Range on the resume")
        self.assertEqual(resume["headers"]["If-Range"], first["headers"].get("If-Range"))
        self.assertEqual(resume["outcome"], "complete", resume)
        self.assertIn("separate range fetch done", self.proxy.stderr_text(err))
        self.assert_hit(target, content.sha256_of(path, SIZE))


class ChangedObjectTest(RangeFetchCase):
    def test_range_fetch_of_a_changed_object_is_not_spliced(self):
        path = "/bytes/%d/changed" % SIZE
        # Requests after the first see a new version: the range fetch's If-Range fails.
        target = f"{path}?rate={RATE}&change_etag_after=1"
        fill = self.start_fill(target)
        begin, end = 28 * MiB, 32 * MiB + 7  # beyond the wait distance, within the gap budget
        r, _ = self.get_range(target, begin, end)
        self.check_range(r, path, begin, end)  # version 0: what its 206 head announced
        self.check_whole(fill, path)
        recs = self.origin_records(target, 2)
        ranged = [x for x in recs if x["headers"].get("Range")]
        self.assertTrue(ranged, f"no range fetch was tried: {recs}")
        self.assertTrue(all(x["headers"].get("If-Range") for x in ranged), ranged)
        self.assertTrue(all(x["status"] == 200 for x in ranged), ranged)
        # A 200 answering a range fetch is dropped at once, not read to the end.
        self.assertTrue(all(x["bytes_sent"] < SIZE for x in ranged), ranged)


class RangeFetchesOffTest(RangeFetchCase):
    proxy_args = ("--max-range-fetches", "0")

    def test_far_range_waits_when_range_fetches_are_off(self):
        path = "/bytes/%d/off" % (16 * MiB)
        target = f"{path}?rate={RATE}"
        fill = self.start_fill(target)
        r, seconds = self.get_range(target, 12 * MiB, 13 * MiB)
        self.assertEqual(r.status, 206)
        self.assertTrue(r.body == content.content(path, 12 * MiB, MiB))
        self.assertGreater(seconds, 0.7, "the range did not wait for the fill")
        self.assertTrue(fill.join())
        self.assertEqual(fill.result.sha256, content.sha256_of(path, 16 * MiB))
        recs = self.origin_records(target, 1)
        self.assertEqual([x for x in recs if x["headers"].get("Range")], [], recs)


if __name__ == "__main__":
    unittest.main(verbosity=2)
