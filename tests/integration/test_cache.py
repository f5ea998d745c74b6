"""The chunk cache with real processes: hits without the origin, ranges and conditionals answered
from the cache, partial objects completed with only the missing chunks, revalidation, a flipped
byte on disk, SIGKILL at random moments, and what must never be cached.

Every body is checked with sha256 against tests/origin/content.py, and the origin's request log
says what the origin was asked: a hit is proved by the absence of a request, a partial fill by the
Range header and the body bytes the origin sent.

Sizes (chosen so the whole file runs in well under 3 minutes on 2 cores):
    hit            20 MiB
    ranges, conds  5 MiB + 123 bytes (not a multiple of the 1 MiB chunk)
    partial        32 MiB at 8 MiB/s, client gone after 10 MiB, dlproxy SIGKILLed mid-fill
    revalidation   3,000,000 bytes, Cache-Control: max-age=1
    integrity      5 MiB + 77 bytes, one byte flipped in chunk 2
    crash safety   256 MiB at 40 MiB/s; 10 SIGKILLs, each 0.05-0.6 s into a download, so at
                   most ~240 MiB can arrive before the last kill and the object is still partial
    not cached     1 MiB (no-store, private, Authorization, 404) and 1 MiB + 5 chunked
"""

import email.utils
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import LOCALHOST, MiB, dlproxy_bin  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.processes import clean_env, stop_process  # noqa: E402
from dltest.pyclient import pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")
CHUNK = MiB

ACCESS_RE = re.compile(r'result=(\S+) status=(\d+) bytes=(\d+) method=(\S+) url="([^"]*)"')


# ---------------------------------------------------------------------------------------------
# helpers


def ctl(cache_dir, *args, timeout=60):
    """dlproxyctl on `cache_dir`, never asking a daemon."""
    return subprocess.run([CTL, "--cache-dir", cache_dir, "--no-admin", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=clean_env(),
                          stdin=subprocess.DEVNULL)


def show(cache_dir, url):
    """`dlproxyctl show --json URL` as a dict, or None when the object is not cached."""
    if not os.path.exists(os.path.join(cache_dir, "index", "data.mdb")):
        return None  # no dlproxy has opened this cache yet
    r = ctl(cache_dir, "--json", "show", url)
    if r.returncode == 1:
        return None
    if r.returncode != 0:
        raise AssertionError(f"dlproxyctl show {url}: exit {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def wait_complete(cache_dir, url, timeout=30.0):
    """The object's record once it is complete in the index (the proxy commits the last chunks
    a moment after the client has its last byte)."""
    deadline = time.monotonic() + timeout
    while True:
        s = show(cache_dir, url)
        if s and s["state"] == "complete":
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} not complete in the cache after {timeout} s: {s}")
        time.sleep(0.05)


def access_log(proxy, since=0):
    """dlproxy's access-log lines (stdout, captured with stderr) after byte offset `since`, as
    dicts with result, status, bytes, method, url."""
    out = []
    for line in proxy.stderr_text(since).splitlines():
        m = ACCESS_RE.search(line)
        if m:
            out.append({"result": m.group(1), "status": int(m.group(2)),
                        "bytes": int(m.group(3)), "method": m.group(4), "url": m.group(5)})
    return out


def wait_access(proxy, since, url, count=1, timeout=10.0):
    """The access-log records for `url` after `since` once `count` of them exist."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [r for r in access_log(proxy, since) if r["url"] == url]
        if len(recs) >= count or time.monotonic() > deadline:
            return recs
        time.sleep(0.02)


def path_only(path):
    """The object's path for tests/origin/content.py: without the query."""
    return path.split("?", 1)[0]


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def get(port, url, headers=(), timeout=60):
    return pycurl_request(port, url, headers=list(headers), keep_body=True, timeout=timeout)


class RawDownload:
    """A raw-socket GET through the proxy that reads the response head and then body bytes until
    `stop_after` bytes (None: until EOF or the announced length), then closes. Runs in a thread
    (start()) or inline (run()). Records status, content_length, received, sha256 of what was
    received, the bytes themselves when `keep`, and the socket error that ended it, if any."""

    def __init__(self, proxy_port, url, stop_after=None, keep=False, timeout=60.0):
        self.proxy_port = proxy_port
        self.url = url
        self.stop_after = stop_after
        self.keep = keep
        self.timeout = timeout
        self.status = None
        self.content_length = None
        self.received = 0
        self.hash = hashlib.sha256()
        self.data = bytearray()
        self.error = None
        self.thread = None

    def run(self):
        try:
            self._run()
        except (OSError, ValueError) as e:
            self.error = e
        return self

    def _run(self):
        host = self.url.split("/")[2]
        with socket.create_connection((LOCALHOST, self.proxy_port), timeout=self.timeout) as s:
            s.sendall(f"GET {self.url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                      .encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                piece = s.recv(65536)
                if not piece:
                    return
                buf += piece
            head, body = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("iso-8859-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    self.content_length = int(value.strip())
            want = self.stop_after if self.stop_after is not None else self.content_length
            self._take(body, want)
            while want is None or self.received < want:
                piece = s.recv(256 * 1024)
                if not piece:
                    return
                self._take(piece, want)

    def _take(self, piece, want):
        if want is not None:
            piece = piece[:want - self.received]
        self.hash.update(piece)
        if self.keep:
            self.data += piece
        self.received += len(piece)

    def start(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def join(self, timeout=30.0):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"download of {self.url} still running after {timeout} s")
        return self


class CacheAssertions:
    """Assertions shared by the test classes (self.origin, self.proxy_of())."""

    def assert_body(self, resp, path, begin=0, length=None, version="0"):
        """The response body is exactly the object's bytes [begin, begin+length)."""
        n = len(resp.body) if length is None else length
        self.assertEqual(len(resp.body), n, f"{path}: body length")
        expected = content.content(path_only(path), begin, n, version)
        if resp.body != expected:
            bad = content.find_mismatch(path_only(path), resp.body, begin, version)
            self.fail(f"{path} [{begin}, {begin + n}) version {version}: wrong byte at {bad}")
        self.assertEqual(resp.sha256, sha256_bytes(expected))

    def assert_no_origin_request(self, target, since, settle=0.3):
        """The origin logged no request for `target` after `since` (waiting `settle` seconds for
        a response that might still be ending)."""
        time.sleep(settle)
        recs = self.origin.requests_for(target, since)
        self.assertEqual(recs, [], f"the origin was asked for {target}")


# ---------------------------------------------------------------------------------------------
# one dlproxy, one origin: hits, ranges, conditionals, revalidation, integrity, not cached


class CacheTest(CacheAssertions, ProxyTestCase):

    @property
    def cache_dir(self):
        return type(self).proxy.cache_dir

    def fill(self, path, n):
        """A first GET of `path` (n bytes): MISS, one plain origin request, then complete in the
        cache. Returns the object's `show --json` record."""
        url = self.url(path)
        mark = self.origin.mark()
        amark = self.proxy.stderr_size()
        r = get(self.pport, url)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("Content-Length"), str(n))
        self.assert_body(r, path, 0, n)
        recs = self.origin.requests_for(path, mark, count=1)
        self.assertEqual(len(recs), 1, recs)
        self.assertNotIn("Range", recs[0]["headers"])
        self.assertEqual(recs[0]["bytes_sent"], n)
        logged = wait_access(self.proxy, amark, url)
        self.assertEqual([a["result"] for a in logged], ["MISS"])
        return wait_complete(self.cache_dir, url)

    # 1 -------------------------------------------------------------------------------------
    def test_second_get_is_a_hit_without_the_origin(self):
        path = "/bytes/20971520/hit.bin"
        n = 20 * MiB
        url = self.url(path)
        stored = self.fill(path, n)
        self.assertEqual((stored["size"], stored["bytes_present"]), (n, n))
        self.assertEqual(stored["validator"]["etag"], content.etag_of(path))

        mark = self.origin.mark()
        amark = self.proxy.stderr_size()
        r = get(self.pport, url)
        self.assertEqual(r.status, 200)
        self.assert_body(r, path, 0, n)
        self.assertEqual(r.headers.get("ETag"), content.etag_of(path))
        age = r.headers.get("Age")
        self.assertIsNotNone(age, f"no Age on a hit: {r.headers}")
        self.assertRegex(age, r"^\d+$")
        self.assertEqual([a["result"] for a in wait_access(self.proxy, amark, url)], ["HIT"])
        self.assert_no_origin_request(path, mark)
        self.assertGreaterEqual(show(self.cache_dir, url)["hits"], 1)

    def test_zero_length_object_is_a_hit(self):
        # An empty body has no chunks: nothing but the record says it is complete.
        path = "/bytes/0/empty.bin"
        url = self.url(path)
        self.fill(path, 0)
        mark = self.origin.mark()
        amark = self.proxy.stderr_size()
        for _ in range(2):
            r = get(self.pport, url, timeout=10)
            self.assertEqual((r.status, r.body, r.headers.get("Content-Length")), (200, b"", "0"))
            self.assertEqual(r.sha256, sha256_bytes(b""))
        self.assertEqual([a["result"] for a in wait_access(self.proxy, amark, url, 2)],
                         ["HIT", "HIT"])
        self.assert_no_origin_request(path, mark)

    # 2 -------------------------------------------------------------------------------------
    def test_ranges_are_answered_from_the_cache(self):
        n = 5 * MiB + 123
        path = f"/bytes/{n}/ranges.bin"
        url = self.url(path)
        self.fill(path, n)
        mark = self.origin.mark()
        amark = self.proxy.stderr_size()
        cases = [  # (Range value, begin, end) -- half-open
            ("bytes=100-199", 100, 200),
            ("bytes=0-0", 0, 1),
            (f"bytes={n - 1000}-", n - 1000, n),
            ("bytes=-1000", n - 1000, n),
            (f"bytes=-{n + 50}", 0, n),  # a suffix longer than the object is all of it
            # across two chunk boundaries (1 MiB and 2 MiB)
            (f"bytes={CHUNK - 7}-{2 * CHUNK + 9}", CHUNK - 7, 2 * CHUNK + 10),
            (f"bytes={2 * CHUNK}-{3 * CHUNK - 1}", 2 * CHUNK, 3 * CHUNK),  # exactly one chunk
            (f"bytes={3 * CHUNK}-{n + 1000}", 3 * CHUNK, n),  # last clipped to the length
        ]
        for value, begin, end in cases:
            with self.subTest(range=value):
                r = get(self.pport, url, [f"Range: {value}"])
                self.assertEqual(r.status, 206, r.status_line)
                self.assertEqual(r.headers.get("Content-Range"), f"bytes {begin}-{end - 1}/{n}")
                self.assertEqual(r.headers.get("Content-Length"), str(end - begin))
                self.assert_body(r, path, begin, end - begin)

        with self.subTest(range="unsatisfiable"):
            r = get(self.pport, url, [f"Range: bytes={n}-"])
            self.assertEqual(r.status, 416, r.status_line)
            self.assertEqual(r.headers.get("Content-Range"), f"bytes */{n}")
        with self.subTest(range="multi"):
            r = get(self.pport, url, ["Range: bytes=0-10,2000000-2000010"])
            self.assertEqual(r.status, 200, r.status_line)
            self.assertIsNone(r.headers.get("Content-Range"))
            self.assert_body(r, path, 0, n)

        self.assert_no_origin_request(path, mark)
        results = [a["result"] for a in wait_access(self.proxy, amark, url, len(cases) + 2)]
        self.assertEqual(results, ["HIT"] * (len(cases) + 2))

    # 3 -------------------------------------------------------------------------------------
    def test_conditionals_are_answered_from_the_cache(self):
        n = 5 * MiB + 123
        path = f"/bytes/{n}/conditionals.bin"
        url = self.url(path)
        stored = self.fill(path, n)
        etag = content.etag_of(path)
        lm = content.last_modified_of(path)
        self.assertEqual(stored["validator"]["etag"], etag)
        mark = self.origin.mark()

        with self.subTest("If-None-Match"):
            r = get(self.pport, url, [f"If-None-Match: {etag}"])
            self.assertEqual(r.status, 304, r.status_line)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.headers.get("ETag"), etag)
        with self.subTest("If-None-Match, another ETag"):
            r = get(self.pport, url, ['If-None-Match: "not-this-one"'])
            self.assertEqual(r.status, 200, r.status_line)
            self.assert_body(r, path, 0, n)
        with self.subTest("If-Modified-Since"):
            r = get(self.pport, url, [f"If-Modified-Since: {http_date(lm)}"])
            self.assertEqual(r.status, 304, r.status_line)
            self.assertEqual(r.body, b"")
        with self.subTest("If-Modified-Since, before Last-Modified"):
            r = get(self.pport, url, [f"If-Modified-Since: {http_date(lm - 3600)}"])
            self.assertEqual(r.status, 200, r.status_line)
            self.assert_body(r, path, 0, n)
        with self.subTest("If-Range, matching ETag"):
            r = get(self.pport, url, [f"If-Range: {etag}", f"Range: bytes={CHUNK}-{CHUNK + 99}"])
            self.assertEqual(r.status, 206, r.status_line)
            self.assertEqual(r.headers.get("Content-Range"), f"bytes {CHUNK}-{CHUNK + 99}/{n}")
            self.assert_body(r, path, CHUNK, 100)
        with self.subTest("If-Range, another ETag"):
            r = get(self.pport, url, ['If-Range: "older"', f"Range: bytes={CHUNK}-{CHUNK + 99}"])
            self.assertEqual(r.status, 200, r.status_line)
            self.assertIsNone(r.headers.get("Content-Range"))
            self.assert_body(r, path, 0, n)

        self.assert_no_origin_request(path, mark)

    # 5 -------------------------------------------------------------------------------------
    def test_stale_object_is_revalidated_with_if_none_match(self):
        n = 3000000
        path = f"/bytes/{n}/reval.bin?cc=max-age=1"
        url = self.url(path)
        self.fill(path, n)
        time.sleep(2.1)  # max-age=1 has passed: stale
        mark = self.origin.mark()
        amark = self.proxy.stderr_size()
        r = get(self.pport, url)
        self.assertEqual(r.status, 200)
        self.assert_body(r, path, 0, n)
        recs = self.origin.requests_for(path, mark, count=1)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["headers"].get("If-None-Match"), content.etag_of(path_only(path)))
        self.assertEqual((recs[0]["status"], recs[0]["bytes_sent"]), (304, 0))
        self.assertEqual([a["result"] for a in wait_access(self.proxy, amark, url)],
                         ["REVALIDATED"])

    def test_changed_object_replaces_the_stale_copy(self):
        # The origin serves version "0.c1" (new ETag, Last-Modified and bytes) from its request
        # index 1 on: the first revalidation finds the object changed.
        n = 3000000
        path = f"/bytes/{n}/changing.bin?cc=max-age=1&change_etag_after=1"
        url = self.url(path)
        old_etag = content.etag_of(path_only(path))
        new_etag = content.etag_of(path_only(path), "0.c1")
        self.fill(path, n)
        time.sleep(2.1)
        mark = self.origin.mark()
        amark = self.proxy.stderr_size()
        r = get(self.pport, url)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("ETag"), new_etag)
        self.assert_body(r, path, 0, n, version="0.c1")
        recs = self.origin.requests_for(path, mark, count=1)
        self.assertEqual(recs[0]["headers"].get("If-None-Match"), old_etag)
        self.assertEqual((recs[0]["status"], recs[0]["version"]), (200, "0.c1"))
        self.assertEqual([a["result"] for a in wait_access(self.proxy, amark, url)], ["MISS"])
        stored = wait_complete(self.cache_dir, url)
        self.assertEqual(stored["validator"]["etag"], new_etag)
        # Fresh or stale, from now on only the new version is served.
        for pause in (0, 2.1):
            time.sleep(pause)
            r = get(self.pport, url)
            self.assertEqual((r.status, r.headers.get("ETag")), (200, new_etag))
            self.assert_body(r, path, 0, n, version="0.c1")
            r = get(self.pport, url, [f"Range: bytes={CHUNK}-{CHUNK + 9}"])
            self.assertEqual(r.status, 206)
            self.assert_body(r, path, CHUNK, 10, version="0.c1")

    # 6 -------------------------------------------------------------------------------------
    def test_flipped_byte_is_refetched_for_that_chunk_only(self):
        n = 5 * MiB + 77
        path = f"/bytes/{n}/flip.bin"
        url = self.url(path)
        stored = self.fill(path, n)
        flip_at = 2 * CHUNK + 4321  # chunk 2
        with open(stored["body_file"], "r+b") as f:
            f.seek(flip_at)
            b = f.read(1)
            f.seek(flip_at)
            f.write(bytes([b[0] ^ 0x40]))
        mark = self.origin.mark()
        emark = self.proxy.stderr_size()
        r = get(self.pport, url)
        self.assertEqual(r.status, 200)
        self.assert_body(r, path, 0, n)
        recs = self.origin.requests_for(path, mark, count=1)
        self.assertEqual([x["headers"].get("Range") for x in recs],
                         [f"bytes={2 * CHUNK}-{3 * CHUNK - 1}"])
        self.assertEqual(recs[0]["headers"].get("If-Range"), content.etag_of(path))
        self.assertEqual((recs[0]["status"], recs[0]["bytes_sent"]), (206, CHUNK))
        warnings = [line for line in self.proxy.stderr_text(emark).splitlines()
                    if re.search(r"\bchunk 2\b", line) and "warn" in line.lower()]
        self.assertTrue(warnings, "no warning naming chunk 2 on dlproxy's stderr")
        self.assertTrue(any("checksum" in w for w in warnings), warnings)
        # The repaired object is complete and verified again, and served without the origin.
        stored = wait_complete(self.cache_dir, url)
        self.assertEqual(stored["bytes_present"], n)
        v = ctl(self.cache_dir, "verify", url)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        mark = self.origin.mark()
        r = get(self.pport, url)
        self.assert_body(r, path, 0, n)
        self.assert_no_origin_request(path, mark)

    # 8 -------------------------------------------------------------------------------------
    def check_not_cached(self, path, n, headers=(), status=200, version="0"):
        url = self.url(path)
        amark = self.proxy.stderr_size()
        for i in range(2):
            mark = self.origin.mark()
            r = get(self.pport, url, headers)
            self.assertEqual(r.status, status, r.status_line)
            if status == 200:
                self.assert_body(r, path, 0, n, version)
            recs = self.origin.requests_for(path, mark, count=1)
            self.assertEqual(len(recs), 1, f"request {i + 1} did not reach the origin")
            self.assertEqual(recs[0]["status"], status)
        logged = wait_access(self.proxy, amark, url, 2)
        self.assertEqual([(a["result"], a["status"]) for a in logged], [("PASS", status)] * 2)
        time.sleep(0.2)
        self.assertIsNone(show(self.cache_dir, url), f"{path} was stored")

    def test_not_cached_no_store(self):
        self.check_not_cached(f"/bytes/{MiB}/nostore.bin?cc=no-store", MiB)

    def test_not_cached_private(self):
        self.check_not_cached(f"/bytes/{MiB}/private.bin?cc=private", MiB)

    def test_not_cached_with_authorization(self):
        self.check_not_cached(f"/bytes/{MiB}/auth.bin", MiB,
                              headers=["Authorization: Bearer secret-token"])

    def test_not_cached_chunked_without_length(self):
        self.check_not_cached(f"/bytes/{MiB + 5}/chunked.bin?chunked=1", MiB + 5)

    def test_not_cached_404(self):
        self.check_not_cached("/status/404", 0, status=404)


# ---------------------------------------------------------------------------------------------
# restarts: dlproxy SIGKILLed mid-fill, started again on the same cache directory


class RestartTest(CacheAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dlproxy-it-cache-restart-")
        cls.origin = Origin(cls.work).start()

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.proxies = []
        self.cache_dir = os.path.join(self.work, f"cache-{self.id().rsplit('.', 1)[-1]}")

    def tearDown(self):
        for p in self.proxies:
            if p.proc is not None and p.proc.poll() is None:
                p.stop()

    def start_proxy(self):
        p = Dlproxy(self.work, cache_dir=self.cache_dir).start()
        self.proxies.append(p)
        return p

    def kill9(self, proxy):
        stop_process(proxy.proc, signal.SIGKILL)

    def check_ranges_missing_only(self, recs, before):
        """Each origin request in `recs` asks, with If-Range, for a Range that starts on a chunk
        boundary in a part that `before` (a show --json record, or None: nothing stored) did not
        have. Without a record, a plain GET is allowed too."""
        present = before["present_ranges"] if before else []
        etag = content.etag_of(path_only(recs[0]["target"])) if recs else None
        for rec in recs:
            rng = rec["headers"].get("Range")
            if before is None and rng is None:
                continue
            self.assertIsNotNone(rng, f"a request without Range after {present} was stored: {rec}")
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
            self.assertIsNotNone(m, rng)
            begin = int(m.group(1))
            self.assertEqual(begin % CHUNK, 0, f"{rng} does not start on a chunk boundary")
            self.assertFalse(any(b <= begin < e for b, e in present),
                             f"{rng} asks for bytes already present {present}")
            self.assertEqual(rec["headers"].get("If-Range"), etag)
            self.assertEqual(rec["status"], 206)

    # 4 -------------------------------------------------------------------------------------
    def test_partial_object_is_completed_with_the_missing_ranges_only(self):
        n = 32 * MiB
        path = f"/bytes/{n}/partial.bin?rate={8 * MiB}"
        url = self.origin.url(path)
        proxy = self.start_proxy()
        mark = self.origin.mark()
        d = RawDownload(proxy.port, url, stop_after=10 * MiB, keep=True).run()
        self.assertIsNone(d.error)
        self.assertEqual((d.status, d.content_length, d.received), (200, n, 10 * MiB))
        self.assertEqual(bytes(d.data), content.content(path_only(path), 0, 10 * MiB))
        # The client has gone; the fill goes on in the background (about 2.75 s still to go at
        # 8 MiB/s). Kill dlproxy mid-fill, once the bytes the client saw are on disk.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            s = show(self.cache_dir, url)
            if s and s["bytes_present"] >= 8 * MiB:
                break
            time.sleep(0.05)
        self.kill9(proxy)
        first = self.origin.requests_for(path, mark, count=1)
        self.assertEqual(len(first), 1)
        self.assertLess(first[0]["bytes_sent"], n, "the fill finished before the kill")

        before = show(self.cache_dir, url)
        self.assertIsNotNone(before, "nothing stored before the kill")
        self.assertEqual(before["state"], "partial")
        self.assertGreaterEqual(before["bytes_present"], 8 * MiB)
        self.assertLess(before["bytes_present"], n)
        self.assertEqual(before["present_ranges"], [[0, before["bytes_present"]]])
        missing = n - before["bytes_present"]

        proxy = self.start_proxy()
        mark = self.origin.mark()
        amark = proxy.stderr_size()
        r = get(proxy.port, url)
        self.assertEqual(r.status, 200)
        self.assert_body(r, path, 0, n)
        recs = self.origin.requests_for(path, mark, count=1)
        self.assertEqual([x["headers"].get("Range") for x in recs],
                         [f"bytes={before['bytes_present']}-{n - 1}"])
        self.check_ranges_missing_only(recs, before)
        self.assertEqual(sum(x["bytes_sent"] for x in recs), missing)
        self.assertEqual([a["result"] for a in wait_access(proxy, amark, url)], ["PARTIAL_HIT"])
        self.assertEqual(wait_complete(self.cache_dir, url)["bytes_present"], n)

    # 7 -------------------------------------------------------------------------------------
    def test_sigkill_at_random_moments_then_one_complete_download(self):
        n = 256 * MiB
        rate = 40 * MiB
        path = f"/bytes/{n}/crash.bin?rate={rate}"
        url = self.origin.url(path)
        seed = int(os.environ.get("DLPROXY_TEST_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        note = f"(DLPROXY_TEST_SEED={seed})"
        # Origin requests are told apart by their arrival time (a killed transfer may be logged
        # late): each attempt's requests must ask only for what was missing when it started.
        attempts = []  # (wall-clock start, show --json before it)
        for kill in range(10):
            attempts.append((time.time(), show(self.cache_dir, url)))
            proxy = self.start_proxy()
            d = RawDownload(proxy.port, url, timeout=30).start()
            time.sleep(rng.uniform(0.05, 0.6))
            self.kill9(proxy)
            d.join()
            if d.status is not None:
                self.assertEqual(d.status, 200, note)
                # whatever arrived before the kill is a correct prefix
                self.assertEqual(d.hash.hexdigest(),
                                 content.sha256_of(path_only(path), d.received),
                                 f"kill {kill}: wrong bytes before the kill {note}")

        before = show(self.cache_dir, url)
        present = before["bytes_present"] if before else 0
        self.assertLess(present, n, f"complete before the last kill: the test proved nothing {note}")
        if before:
            v = ctl(self.cache_dir, "verify", "--all")
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        missing = n - present

        final_start = time.time()
        attempts.append((final_start, before))
        proxy = self.start_proxy()
        r = pycurl_request(proxy.port, url, keep_body=False, timeout=90)
        self.assertEqual((r.status, r.length), (200, n), note)
        self.assertEqual(r.sha256, content.sha256_of(path_only(path), n), note)
        self.origin.records(0, lambda x: x["target"] == path and x["time"] >= final_start and
                            x["outcome"] == "complete", count=1, timeout=10)
        time.sleep(0.3)  # killed transfers still being logged
        recs = self.origin.requests_for(path)
        for k, (t0, state) in enumerate(attempts):
            t1 = attempts[k + 1][0] if k + 1 < len(attempts) else float("inf")
            with self.subTest(attempt=k):
                self.check_ranges_missing_only([x for x in recs if t0 <= x["time"] < t1], state)
        sent = sum(x["bytes_sent"] for x in recs if x["time"] >= final_start)
        self.assertGreaterEqual(sent, missing, note)
        self.assertLessEqual(sent, missing + 3 * CHUNK,
                             f"the last download fetched {sent} bytes, {missing} were missing {note}")
        self.assertEqual(wait_complete(self.cache_dir, url)["bytes_present"], n)
        proxy.stop()
        v = ctl(self.cache_dir, "verify", "--all")
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        sys.stderr.write(f"\ncrash test: {note}, {present} of {n} bytes present before the "
                         f"last download, which fetched {sent}\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
