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
"""

import os
import sys
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


if __name__ == "__main__":
    unittest.main()
