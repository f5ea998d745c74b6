"""Fallback sources (issue 16 item 3, docs/recovery.md "Fallback sources").

Two real origins (tests/origin/origin.py) serve the same deterministic content for the same path.
dlproxy knows them by name (--resolve NAME:PORT:127.0.0.1): the first, A, as origin-*.test;
the second, B, as mirror-b.test. A 32 MiB download from A, paced, is cut by killing A (SIGKILL,
by PID) once the client has 8 MiB; A's retries are few and fast, so they are spent in well under
a second, and then:
  (a) `origin-a.test = http://mirror-b.test:PORT`: B has the same content (same length, same strong
      ETag). The fill continues from B with `Range: bytes=<next>-` and no If-Range; the client's
      download completes and its sha256 is exact; the log names B; the metrics count one fallback
      fill and its bytes; the client-visible gap (the longest wait between two reads) is printed.
  (b) the source serves other content: a path prefix on the source's URL makes B serve another
      object -- another length (`/bytes/<2 x SIZE>`), or the same length with another ETag
      (`/bytes/<SIZE>`). No byte of it reaches the client (closed short, its prefix A's bytes) or
      the store: the chunks below the cut are kept, and once A is back a later download completes
      from them, asking A only for the rest.
  (c) a host without a fallback_source: the fill fails as before and B is never asked.
  (e) a lying source: same length, same ETag and the same announced sha256 (Repr-Digest) as A, but
      other bytes. Its answer is taken (it names the same content), so the object has bytes from
      two servers; its last byte waits for the sha256 verdict, which is a mismatch: the client
      is closed short (never a complete wrong copy), the object is quarantined, and once A is
      back a download is byte-exact.
In (a) the verdict is in the log before the client has its last byte: an object with bytes
from two servers is hashed before it counts as complete.
FallbackDefaultRetriesTest runs (a) again with the default retry settings: the origin keeps the
retries that fit half the gap budget, so the client still completes.
"""

import base64
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import LOCALHOST, MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

SIZE = 32 * MiB
KILL_AT = 8 * MiB
RATE = 16 * MiB  # bytes/s: the download takes about 2 s, the kill comes after about 0.5 s
CHUNK = MiB

# A's retries are spent fast (connection refused at once): the fallback starts well within the
# gap budget. The breaker stays out of the way (one killed origin is one failure).
FAST_RETRIES = ("--retry-base-delay", "0.05", "--retry-max-delay", "0.2",
                "--retry-max-attempts", "3", "--stall-timeout", "2")


class FallbackSourceTest(ProxyTestCase):
    retry_args = FAST_RETRIES

    @classmethod
    def setUpClass(cls):
        # Both origins start before the proxy: their ports go into its --resolve pins.
        cls.mirror_dir = tempfile.mkdtemp(prefix="dlproxy-it-fallback-mirror-")
        cls.mirror = Origin(cls.mirror_dir, name="mirror")
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.origin = Origin(cls.work)  # A
        cls.late = Origin(cls.mirror_dir, name="late")  # C: down until test (d) starts it
        cls.proxy = None
        try:
            cls.mirror.start()
            cls.late.start()
            cls.late.kill9()  # its port is known and refuses connections
            cls.origin.start()
            pa, pb, pc = cls.pa, cls.pb, cls.pc = cls.origin.port, cls.mirror.port, cls.late.port
            mirror = f"http://mirror-b.test:{pb}"
            cls.proxy_args = cls.retry_args + (
                "--resolve", f"origin-a.test:{pa}:127.0.0.1",
                "--resolve", f"origin-len.test:{pa}:127.0.0.1",
                "--resolve", f"origin-etag.test:{pa}:127.0.0.1",
                "--resolve", f"origin-none.test:{pa}:127.0.0.1",
                "--resolve", f"origin-late.test:{pa}:127.0.0.1",
                "--resolve", f"origin-lie.test:{pa}:127.0.0.1",
                "--resolve", f"mirror-b.test:{pb}:127.0.0.1",
                "--resolve", f"mirror-c.test:{pc}:127.0.0.1",
                "--fallback-source", f"origin-a.test = {mirror}",
                # A path prefix makes B serve another object: another length, or the same
                # length under another ETag.
                "--fallback-source", f"origin-len.test = {mirror}/bytes/{2 * SIZE}",
                "--fallback-source", f"origin-etag.test = {mirror}/bytes/{SIZE}",
                "--fallback-source", f"origin-late.test = http://mirror-c.test:{pc}",
                # The path prefix gives other bytes; the query (ETag, Repr-Digest) stays A's.
                "--fallback-source", f"origin-lie.test = {mirror}/bytes/{SIZE}",
            )
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()  # unittest skips tearDownClass when setUpClass fails
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.mirror.stop()
        cls.late.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(cls.mirror_dir, ignore_errors=True)

    def setUp(self):
        if not self.origin.alive():
            self.origin.start()  # same port: the proxy's --resolve pins still apply
        super().setUp()
        self.mirror_mark = self.mirror.mark()
        self.err_mark = self.proxy.stderr_size()

    def download_killing_a(self, host, path, probe=None):
        """GETs http://<host>:<A's port><path> through the proxy, reading as a client does, and
        kills A once KILL_AT bytes arrived; calls `probe` once 4 MiB later. Returns (status,
        body, longest gap between reads in seconds after the kill)."""
        conn = http.client.HTTPConnection(LOCALHOST, self.pport, timeout=30)
        conn.request("GET", f"http://{host}:{self.pa}{path}")
        resp = conn.getresponse()
        parts, got, killed_at, gap = [], 0, None, 0.0
        last = time.monotonic()
        try:
            while True:
                piece = resp.read1(256 * 1024)
                now = time.monotonic()
                if not piece:
                    break
                if killed_at is not None:
                    gap = max(gap, now - last)
                last = now
                parts.append(piece)
                got += len(piece)
                if killed_at is None and got >= KILL_AT:
                    self.origin.kill9()
                    killed_at = last = time.monotonic()
                elif probe and got >= KILL_AT + 4 * MiB:
                    probe()
                    probe = None
                    last = time.monotonic()  # the probe's time is not the proxy's gap
        except (http.client.IncompleteRead, ConnectionError, TimeoutError):
            pass
        finally:
            conn.close()
        self.assertIsNotNone(killed_at, f"the download ended before A was killed ({got} bytes)")
        return resp.status, b"".join(parts), gap

    def log_since_mark(self):
        return self.proxy.stderr_text(self.err_mark)

    def metric(self, name):
        text = self.proxy.admin("/metrics")
        m = re.search(rf"^dlproxy_{name} (\d+)", text, re.M)
        return int(m.group(1)) if m else None

    def test_a_origin_killed_fill_completes_from_the_fallback(self):
        path = f"/bytes/{SIZE}/fallback-a.bin"
        target = f"{path}?rate={RATE}"
        fills0, bytes0 = self.metric("fallback_fills_total"), self.metric("fallback_bytes_total")
        t0 = time.monotonic()
        fills = []

        def probe():
            fills.extend(json.loads(self.proxy.admin("/status"))["inflight_fills"])
        status, body, gap = self.download_killing_a("origin-a.test", target, probe)
        elapsed = time.monotonic() - t0
        # Bytes of two servers: the sha256 verdict came before the client's last byte.
        self.assertRegex(self.log_since_mark(),
                         r"fetch \S+: sha256 ([0-9a-f]{64} \(no digest announced|verified)",
                         "the client had the whole object before its sha256 verdict")
        self.assertEqual(status, 200)
        self.assertEqual(len(body), SIZE, "the client did not get the whole object")
        self.assertEqual(sha256_bytes(body), content.sha256_of(path, SIZE))
        print(f"\n  fallback: client-visible gap {gap * 1000:.0f} ms after the origin was killed "
              f"at {KILL_AT} bytes; download {elapsed:.2f} s", file=sys.stderr)
        # The origin keeps at most half the gap budget (8 s) of silence; the source the rest.
        self.assertLess(gap, 8.0, "the fallback took longer than the gap budget")

        # B was asked for the missing bytes only, without If-Range (the validator is A's).
        recs = self.mirror.requests_for(target, self.mirror_mark, count=1)
        self.assertEqual(len(recs), 1, recs)
        rng = recs[0]["headers"].get("Range") or ""
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng)
        self.assertIsNotNone(m, recs[0])
        self.assertGreaterEqual(int(m.group(1)), KILL_AT - 4 * CHUNK, recs[0])
        self.assertEqual(int(m.group(2)), SIZE - 1, recs[0])
        self.assertNotIn("If-Range", recs[0]["headers"], recs[0])
        # GET /status names the source while the fill runs from it.
        ours = [f for f in fills if f["url"].endswith(target)]
        self.assertEqual(len(ours), 1, fills)
        self.assertEqual(ours[0]["fallback_source"], f"http://mirror-b.test:{self.pb}{target}")
        self.assertEqual(recs[0]["status"], 206, recs[0])

        log = self.log_since_mark()
        self.assertIn(f"continuing from fallback source http://mirror-b.test:{self.pb}{target}",
                      log)
        self.assertEqual(self.metric("fallback_fills_total"), fills0 + 1)
        self.assertEqual(self.metric("fallback_bytes_total") - bytes0, SIZE - int(m.group(1)))

        # Complete in the cache: a hit, neither A (back again) nor B asked.
        deadline = time.monotonic() + 10
        done = re.compile(rf"complete \({SIZE} bytes, \d+ from fallback source http://mirror-b")
        while not done.search(self.log_since_mark()):
            self.assertLess(time.monotonic(), deadline, "the object was never complete")
            time.sleep(0.1)
        self.origin.start()
        mark_a, mark_b = self.origin.mark(), self.mirror.mark()
        out = os.path.join(self.work, "hit.bin")
        r = curl_cli(self.pport, f"http://origin-a.test:{self.pa}{target}", out, timeout=60)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(sha256_bytes(f.read()), content.sha256_of(path, SIZE))
        os.unlink(out)
        self.assertEqual(self.mirror.log_since(mark_b), [])
        self.assertEqual(self.origin.requests_for(target, mark_a), [])

    def check_other_content(self, host, tag):
        path = f"/bytes/{SIZE}/fallback-{tag}.bin"
        target = f"{path}?rate={RATE}"
        refusals0 = self.metric("fallback_refusals_total")
        status, body, _ = self.download_killing_a(host, target)
        self.assertEqual(status, 200)
        self.assertLess(len(body), SIZE, "closed short")
        self.assertIsNone(content.find_mismatch(path, body, 0),
                          "bytes other than the origin's reached the client")
        # B was asked (and answered) but nothing of its answer was used.
        recs = self.mirror.records(self.mirror_mark, count=1)
        self.assertEqual(len(recs), 1, recs)
        self.assertTrue(recs[0]["target"].endswith(target), recs[0])
        log = self.log_since_mark()
        self.assertIn("not used (0 bytes taken from it)", log)
        self.assertNotIn("continuing from fallback source", log)
        self.assertNotIn("dropping the cached copy", log)
        self.assertEqual(self.metric("fallback_refusals_total"), refusals0 + 1)

        # A is back: the next download completes from the stored chunks, asking A for the rest.
        self.origin.start()
        time.sleep(0.5)  # the last chunk commits of the failed fill
        mark = self.origin.mark()
        out = os.path.join(self.work, f"again-{tag}.bin")
        r = curl_cli(self.pport, f"http://{host}:{self.pa}{target}", out, timeout=60)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        self.assertEqual(len(data), SIZE)
        self.assertEqual(sha256_bytes(data), content.sha256_of(path, SIZE))
        ranges = self.origin.ranges_requested(target, mark)
        self.assertEqual(len(ranges), 1, ranges)
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", ranges[0] or "")
        self.assertIsNotNone(m, f"A was asked for the whole object again: {ranges}")
        self.assertGreaterEqual(int(m.group(1)), 4 * CHUNK, "the stored chunks were dropped")

    def test_b_other_length_is_never_used(self):
        self.check_other_content("origin-len.test", "len")

    def test_b_other_etag_is_never_used(self):
        self.check_other_content("origin-etag.test", "etag")

    def test_c_without_the_key_nothing_changes(self):
        path = f"/bytes/{SIZE}/fallback-none.bin"
        target = f"{path}?rate={RATE}"
        status, body, _ = self.download_killing_a("origin-none.test", target)
        self.assertEqual(status, 200)
        self.assertLess(len(body), SIZE, "closed short")
        self.assertIsNone(content.find_mismatch(path, body, 0))
        time.sleep(0.3)
        self.assertEqual(self.mirror.log_since(self.mirror_mark), [], "B was asked")
        self.assertNotIn("fallback source", self.log_since_mark())
        self.assertIn("giving up: retries exhausted", self.log_since_mark())

    def test_d_partial_continued_from_a_source_that_came_back(self):
        """The source is down too: the fill ends as before (closed short, chunks kept). Once it
        is up, a later download of the partial object, A still down, continues from it."""
        path = f"/bytes/{SIZE}/fallback-late.bin"
        target = f"{path}?rate={RATE}"
        status, body, _ = self.download_killing_a("origin-late.test", target)
        self.assertEqual(status, 200)
        self.assertLess(len(body), SIZE, "closed short")
        self.assertIsNone(content.find_mismatch(path, body, 0))
        log = self.log_since_mark()
        self.assertIn(f"asking fallback source http://mirror-c.test:{self.pc}", log)
        self.assertIn("no fallback source could continue it", log)
        self.assertNotIn("dropping the cached copy", log)

        self.late.start()  # same port
        try:
            time.sleep(0.5)  # the last chunk commits of the failed fill
            self.assertFalse(self.origin.alive())
            out = os.path.join(self.work, "late.bin")
            r = curl_cli(self.pport, f"http://origin-late.test:{self.pa}{target}", out,
                         timeout=60)
            self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
            with open(out, "rb") as f:
                data = f.read()
            os.unlink(out)
            self.assertEqual(len(data), SIZE)
            self.assertEqual(sha256_bytes(data), content.sha256_of(path, SIZE))
            # C was asked only for what the store lacked, from a chunk boundary.
            ranges = self.late.ranges_requested(target)
            self.assertEqual(len(ranges), 1, ranges)
            m = re.fullmatch(r"bytes=(\d+)-(\d+)", ranges[0] or "")
            self.assertIsNotNone(m, ranges)
            self.assertEqual(int(m.group(1)) % CHUNK, 0, ranges)
            self.assertGreaterEqual(int(m.group(1)), 4 * CHUNK, ranges)
        finally:
            self.late.kill9()


    def test_e_lying_source_never_completes_a_client(self):
        path = f"/bytes/{SIZE}/fallback-lie.bin"
        digest = base64.b64encode(bytes.fromhex(content.sha256_of(path, SIZE))).decode()
        query = urllib.parse.urlencode({"rate": RATE, "etag": "same-for-both",
                                        "hdr_Repr-Digest": f"sha-256=:{digest}:"})
        target = f"{path}?{query}"
        status, body, _ = self.download_killing_a("origin-lie.test", target)
        self.assertEqual(status, 200)
        self.assertLess(len(body), SIZE, "a client got a complete copy that fails its sha256")
        log = self.log_since_mark()
        self.assertIn("continuing from fallback source", log)  # it named the same content
        self.assertIn("SHA256 MISMATCH", log)
        # Every byte the client got before the source's is A's.
        self.assertIsNone(content.find_mismatch(path, body[:KILL_AT], 0))

        # A is back: the quarantined object is fetched again from A, byte-exact.
        self.origin.start()
        deadline = time.monotonic() + 15
        while True:
            out = os.path.join(self.work, "lie.bin")
            r = curl_cli(self.pport, f"http://origin-lie.test:{self.pa}{target}", out,
                         timeout=60)
            data = b""
            if os.path.exists(out):
                with open(out, "rb") as f:
                    data = f.read()
                os.unlink(out)
            if r.rc == 0 and len(data) == SIZE:
                break
            # The background refetch (started while A was down) may still be failing.
            self.assertLess(time.monotonic(), deadline, f"never byte-exact again: {r.stderr}")
            time.sleep(0.5)
        self.assertEqual(r.status, 200)
        self.assertEqual(sha256_bytes(data), content.sha256_of(path, SIZE))


class FallbackDefaultRetriesTest(FallbackSourceTest):
    """(a) with the default retry settings (20 attempts, 600 s): without the fallback's cut-off
    the origin's backoff alone would outlast the gap budget and close the client short."""
    retry_args = ()

    test_b_other_length_is_never_used = None
    test_b_other_etag_is_never_used = None
    test_c_without_the_key_nothing_changes = None
    test_d_partial_continued_from_a_source_that_came_back = None
    test_e_lying_source_never_completes_a_client = None


if __name__ == "__main__":
    unittest.main()
