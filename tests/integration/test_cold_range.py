"""Ranges on a cold object (issue 18 item 3, docs/recovery.md "Ranges on a cold object").

The first request for an object nobody holds asks the origin for the client's own range,
aligned out to whole chunks, instead of the whole object from byte 0 (as Traffic Server and
nginx's slice module do); the fill continues behind it.

    far range     64 MiB at 1 GiB of a 1.125 GiB object, default settings: the origin sends at
                  most 1.1x the range (it used to send everything before it first), the client
                  gets exact bytes; the fill behind does not run on without the client (a fill
                  started by a range follows background_fill's thresholds: 1.06 GiB remain); the
                  time against a direct download of the same range is printed
    fill behind   a range in the middle of a 48 MiB object: what remains (40 MiB) is within
                  --background-fill-max-remaining, so after the client the fill brings the rest
                  with Range + If-Range; a whole GET is then a HIT (no origin request),
                  byte-exact, and the origin sent each byte about once
    cut           the origin cuts the range's answer half-way: the fill resumes inside it with
                  Range + If-Range; the client sees one 206 with exact bytes
    no validator  the origin's 206 has no ETag and no Last-Modified: the object cannot be tied
                  together later, so dlproxy asks for the whole object as before; still exact
    ignored       an origin that ignores Range (200): used as the whole object; exact
    stored range  the same range again, on the object still partial (the fill behind stopped):
                  served from the stored chunks with no origin request, at once (the stopped
                  fetch still writing) and once a new fetch reads the partial object from the
                  store; a range not stored, or a client's no-cache, still asks the origin
"""

import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.pyclient import pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import pycurl  # noqa: E402
from content import content  # noqa: E402

GiB = 1024 * MiB


def range_header(begin, length):
    return f"Range: bytes={begin}-{begin + length - 1}"


class ColdRangeCase(ProxyTestCase):
    def sent(self, path, since):
        """Body bytes the origin sent for `path` (every request, once all have ended)."""
        time.sleep(0.5)  # responses cut by dlproxy are logged when the origin notices
        return sum(r["bytes_sent"] for r in self.origin.log_since(since)
                   if r["target"].split("?")[0] == path)

    def get_range(self, url, path, begin, length, port):
        direct = None
        if port is None:  # straight to the origin
            direct = pycurl.Curl()
            direct.setopt(pycurl.PROXY, "")
        t = time.monotonic()
        r = pycurl_request(port, url, headers=[range_header(begin, length)], keep_body=True,
                           curl=direct)
        elapsed = time.monotonic() - t
        self.assertEqual(r.status, 206, r.status_line)
        self.assertEqual(r.length, length)
        self.assertEqual(r.body, content(path, begin, length))
        return r, elapsed


class FarRangeTest(ColdRangeCase):
    def test_64mib_at_1gib(self):
        size, begin, length = GiB + 128 * MiB, GiB, 64 * MiB
        path = f"/bytes/{size}/cold-far"
        mark = self.origin.mark()
        r, through = self.get_range(self.origin.url(path), path, begin, length, self.proxy.port)
        self.assertEqual(r.headers.get("Content-Range"),
                         f"bytes {begin}-{begin + length - 1}/{size}")
        sent = self.sent(path, mark)
        first = self.origin.log_since(mark)[0]
        self.assertEqual(first["headers"].get("Range"), f"bytes={begin}-{begin + length - 1}")
        self.assertLessEqual(sent, 1.1 * length, f"origin sent {sent / MiB:.1f} MiB")
        # The same range directly from the origin (a fresh path: same size, other content).
        direct_path = f"/bytes/{size}/cold-far-direct"
        _, direct = self.get_range(self.origin.url(direct_path), direct_path, begin, length, None)
        print(f"\ncold 64 MiB range at 1 GiB: origin sent {sent / MiB:.1f} MiB; through dlproxy "
              f"{length / MiB / through:.0f} MiB/s, direct {length / MiB / direct:.0f} MiB/s",
              file=sys.stderr)


class FillBehindTest(ColdRangeCase):
    def test_fill_continues_behind(self):
        size, begin, length = 48 * MiB, 20 * MiB + 12345, 8 * MiB
        path = f"/bytes/{size}/cold-behind"
        url = self.origin.url(path)
        mark = self.origin.mark()
        self.get_range(url, path, begin, length, self.proxy.port)
        # The background fill completes the object: wait until the origin has served it all.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.sent(path, mark) < size:
            time.sleep(0.2)
        time.sleep(0.5)  # the last commit
        ranges = [r["headers"].get("Range") for r in self.origin.log_since(mark)]
        self.assertTrue(ranges and all(ranges), f"every request was a range: {ranges}")
        self.assertEqual(ranges[0], f"bytes={20 * MiB}-{29 * MiB - 1}", "aligned to chunks")
        self.assertLessEqual(self.sent(path, mark), size + 4 * MiB, "each byte about once")
        later = self.origin.mark()
        r = pycurl_request(self.proxy.port, url, keep_body=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.sha256, sha256_bytes(content(path, 0, size)))
        self.assertEqual(self.origin.log_since(later), [], "a hit: no origin request")


class CutTest(ColdRangeCase):
    proxy_args = ("--background-fill", "never")

    def test_cut_inside_the_range_resumes(self):
        size, begin, length = 32 * MiB, 20 * MiB, 6 * MiB
        path = f"/bytes/{size}/cold-cut"
        mark = self.origin.mark()
        self.get_range(self.origin.url(path + f"?cut_at={23 * MiB}"), path, begin, length,
                       self.proxy.port)
        recs = self.origin.log_since(mark)
        self.assertEqual(recs[0]["outcome"], "cut")
        self.assertEqual(recs[1]["headers"].get("Range"), f"bytes={23 * MiB - 1}-{26 * MiB - 1}")
        self.assertTrue(recs[1]["headers"].get("If-Range"))


class FallbackTest(ColdRangeCase):
    def test_no_validator_fetches_whole(self):
        size, begin, length = 8 * MiB, 5 * MiB, MiB
        path = f"/bytes/{size}/cold-noval"
        mark = self.origin.mark()
        self.get_range(self.origin.url(path + "?noetag=1&nolm=1"), path, begin, length,
                       self.proxy.port)
        ranges = [r["headers"].get("Range") for r in self.origin.log_since(mark)]
        self.assertEqual(ranges[0], f"bytes={5 * MiB}-{6 * MiB - 1}")
        self.assertIn(None, ranges[1:], "then the whole object, as before")

    def test_origin_ignoring_range(self):
        size, begin, length = 8 * MiB, 3 * MiB, MiB
        path = f"/bytes/{size}/cold-norange"
        self.get_range(self.origin.url(path + "?norange=1"), path, begin, length,
                       self.proxy.port)


class StoredRangeTest(ColdRangeCase):
    def fills_idle(self, path, timeout=20):
        """Waits until /status lists no fill of `path` (its fetch stopped and wrote all)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fills = json.loads(self.proxy.admin("/status"))["inflight_fills"]
            if not any(path in f["url"] for f in fills):
                return
            time.sleep(0.1)
        self.fail(f"the fill of {path} is still listed after {timeout} s")

    def ranges_since(self, mark):
        return [r["headers"].get("Range") for r in self.origin.log_since(mark)]

    def test_stored_range_of_a_partial_object(self):
        # 248 MiB remain after the range: the fill behind stops when the client leaves
        # (policy::FillOrigin::ColdRange), so the object stays partial.
        size, begin, length = 256 * MiB, 128 * MiB + 4321, 8 * MiB
        path = f"/bytes/{size}/stored-range"
        url = self.origin.url(path + "?cc=max-age%3D3600")
        mark = self.origin.mark()
        self.get_range(url, path, begin, length, self.proxy.port)
        self.assertEqual(len(self.ranges_since(mark)), 1, "the cold range: one request")
        # At once (the stopped fetch may still be writing: the client joins it), then from a
        # new fetch that finds the partial object in the store, then a range inside it.
        self.get_range(url, path, begin, length, self.proxy.port)
        self.fills_idle(path)
        self.get_range(url, path, begin, length, self.proxy.port)
        self.get_range(url, path, begin + MiB, 3 * MiB, self.proxy.port)
        time.sleep(0.5)
        self.assertEqual(len(self.ranges_since(mark)), 1,
                         f"stored ranges must not reach the origin: {self.ranges_since(mark)}")
        self.assertLess(self.sent(path, mark), 16 * MiB, "the object stays partial")
        # The access log says what each read: the cold range a MISS, every stored one a HIT
        # (also the one that joined the first range's fetch while it still wrote).
        results = re.findall(r"result=(\S+) .*url=\"[^\"]*" + re.escape(path),
                             self.proxy.stderr_text(0))
        self.assertEqual(results, ["MISS", "HIT", "HIT", "HIT"], results)

    def test_the_last_chunk_of_a_cold_range_is_finished_after_its_client_left(self):
        # The range ends 4321 bytes into a chunk, and the origin is slow (4 MB/s): the client
        # has its last byte about a quarter of a second before that chunk is complete. The fill
        # stops once the client left, but finishes the chunk first, so the same range again is
        # read from the store instead of asking the origin for the chunk once more.
        # 250 MiB remain after it: the fill behind stops when the client leaves.
        size, begin, length = 256 * MiB, 128 * MiB + 4321, 2 * MiB
        path = f"/bytes/{size}/last-chunk"
        url = self.origin.url(path + "?rate=4000000&cc=max-age%3D3600")
        mark = self.origin.mark()
        err_mark = self.proxy.stderr_size()
        self.get_range(url, path, begin, length, self.proxy.port)
        self.fills_idle(path)
        self.assertRegex(self.proxy.stderr_text(err_mark),
                         r"last-chunk\S*: no clients left; finishing chunk 130 \(\d+ of 1048576 bytes\)")
        self.get_range(url, path, begin, length, self.proxy.port)
        time.sleep(0.3)
        self.assertEqual(len(self.ranges_since(mark)), 1,
                         f"the stored range reached the origin: {self.ranges_since(mark)}")
        # One chunk more than the client's range, no more: the fill stopped after it.
        self.assertLessEqual(self.sent(path, mark), 3 * MiB)

    def test_a_client_joining_a_fill_reads_held_bytes_as_a_hit(self):
        # A full download paced at 16 MB/s; a second client asks for a range the fill has
        # already brought (a HIT: nothing of it comes from the origin for it), and a third for
        # one it has not reached yet (a MISS: it waits for the fill).
        size = 64 * MiB
        path = f"/bytes/{size}/joiner-held"
        url = self.origin.url(path + "?rate=16000000&cc=max-age%3D3600")
        full = {}

        def download():
            full["r"] = pycurl_request(self.proxy.port, url, keep_body=True)
        t = threading.Thread(target=download)
        t.start()
        try:
            deadline = time.monotonic() + 20
            while True:
                fills = json.loads(self.proxy.admin("/status"))["inflight_fills"]
                done = [f["bytes_done"] for f in fills if path in f["url"]]
                if done and done[0] >= 16 * MiB:
                    break
                self.assertLess(time.monotonic(), deadline, "the fill never reached 16 MiB")
                time.sleep(0.05)
            self.get_range(url, path, 2 * MiB, 4 * MiB, self.proxy.port)
            self.get_range(url, path, 56 * MiB, 4 * MiB, self.proxy.port)
        finally:
            t.join(30)
        self.assertEqual(full["r"].status, 200)
        self.assertEqual(sha256_bytes(full["r"].body), sha256_bytes(content(path, 0, size)))
        results = re.findall(r"result=(\S+) .*url=\"[^\"]*" + re.escape(path),
                             self.proxy.stderr_text(0))
        # In the order they ended: the two ranges, then the download they joined.
        self.assertEqual(results, ["HIT", "MISS", "MISS"], results)

    def test_what_is_not_stored_still_asks_the_origin(self):
        size, begin, length = 256 * MiB, 64 * MiB, 4 * MiB
        path = f"/bytes/{size}/stored-range-not"
        url = self.origin.url(path + "?cc=max-age%3D3600")
        self.get_range(url, path, begin, length, self.proxy.port)
        self.fills_idle(path)
        # A range that is not all stored fills what it misses.
        mark = self.origin.mark()
        self.get_range(url, path, begin + 2 * MiB, 4 * MiB, self.proxy.port)
        recs = self.origin.wait_log(1, since=mark)
        self.assertTrue(recs, "a range not all stored asks the origin")
        self.assertTrue(recs[0]["headers"].get("Range", "").startswith(f"bytes={68 * MiB}-"),
                        f"from its first missing chunk, not byte 0: {self.ranges_since(mark)}")
        self.fills_idle(path)
        # A stored range that the client wants revalidated (no-cache) is not served on the
        # stored copy alone.
        mark = self.origin.mark()
        r = pycurl_request(self.proxy.port, url, keep_body=True,
                           headers=[range_header(begin, MiB), "Cache-Control: no-cache"])
        self.assertEqual(r.status, 206, r.status_line)
        self.assertEqual(r.body, content(path, begin, MiB))
        self.assertTrue(self.origin.wait_log(1, since=mark), "no-cache: the origin is asked")
        # Both fills began with a client's range: they stop when it leaves instead of bringing
        # the rest of the object (256 MiB) in the background.
        self.fills_idle(path)
        self.assertLess(self.sent(path, 0), 128 * MiB)


if __name__ == "__main__":
    unittest.main()
