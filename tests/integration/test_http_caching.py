"""HTTP caching semantics on the request path (RFC 9111), with the real dlproxy and
tests/origin/origin.py: what a hit must carry (Age, Set-Cookie), what must not be served without
asking the origin (no-cache, invalidation after an unsafe method), and which non-200 responses are
stored. The origin's request log proves what reached it; docs/conformance.md has the suite-wide
picture (http-tests/cache-tests).

Small bodies only (1000 bytes, a few status texts): the file runs in a few seconds.
"""

import os
import re
import socket
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.pyclient import pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

ACCESS_RE = re.compile(r'result=(\S+) status=(\d+) bytes=(\d+) method=(\S+) url="([^"]*)"')
FRESH = "cc=" + urllib.parse.quote("max-age=3600")


def results(proxy, since, url, count, timeout=10.0):
    """The access-log results for `url` after `since`, once `count` of them are logged."""
    deadline = time.monotonic() + timeout
    while True:
        found = [(m.group(1), int(m.group(2))) for m in ACCESS_RE.finditer(proxy.stderr_text(since))
                 if m.group(5) == url]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


class HttpCachingTest(ProxyTestCase):

    def get(self, target, headers=()):
        return pycurl_request(self.pport, self.url(target), headers=list(headers), timeout=30)

    def assert_origin_requests(self, target, mark, expected):
        time.sleep(0.3)  # the origin logs when its response ends
        got = self.origin.requests_for(target, mark)
        self.assertEqual(len(got), expected, f"origin requests for {target}: {got}")
        return got

    def assert_bytes(self, r, path):
        self.assertEqual(r.status, 200, r.status_line)
        self.assertEqual(r.sha256, sha256_bytes(content.content(path_of(path), 0, 1000)))

    # RFC 9111 §5.1 / §4.2.3 -------------------------------------------------------------------
    def test_origin_age_passes_on_a_miss_and_grows_on_a_hit(self):
        target = f"/bytes/1000/age.bin?{FRESH}&hdr_Age=100"
        r1 = self.get(target)
        self.assert_bytes(r1, target)
        self.assertEqual(r1.headers.get("Age"), "100", r1.headers)
        mark = self.origin.mark()
        r2 = self.get(target)
        self.assert_bytes(r2, target)
        self.assertGreaterEqual(int(r2.headers.get("Age")), 100, r2.headers)
        self.assert_origin_requests(target, mark, 0)

    def test_invalid_age_is_ignored(self):
        # §5.1: "-5" is not a valid Age; ignored, the response is fresh for its max-age.
        target = f"/bytes/1000/bad-age.bin?{FRESH}&hdr_Age=-5"
        self.assert_bytes(self.get(target), target)
        time.sleep(0.3)
        mark = self.origin.mark()
        self.assert_bytes(self.get(target), target)
        self.assert_origin_requests(target, mark, 0)

    # RFC 9111 §5.2.2.4 ------------------------------------------------------------------------
    def test_response_no_cache_is_revalidated_every_time(self):
        cc = urllib.parse.quote("max-age=3600, no-cache")
        target = f"/bytes/1000/no-cache.bin?cc={cc}"
        mark = self.origin.mark()
        amark = self.proxy.stderr_size()
        for _ in range(3):
            self.assert_bytes(self.get(target), target)
            time.sleep(0.3)  # recorded: the next request revalidates the stored response
        got = self.assert_origin_requests(target, mark, 3)
        etag = content.etag_of(path_of(target))
        self.assertEqual([r["headers"].get("If-None-Match") for r in got], [None, etag, etag])
        self.assertEqual([res for res, _ in results(self.proxy, amark, self.url(target), 3)],
                         ["MISS", "REVALIDATED", "REVALIDATED"])

    # RFC 9111 §3.1 ----------------------------------------------------------------------------
    def test_no_cache_response_is_not_reused_back_to_back(self):
        # The second request arrives while the first fill is still being recorded.
        cc = urllib.parse.quote("max-age=3600, no-cache")
        target = f"/bytes/1000/no-cache-fast.bin?cc={cc}"
        mark = self.origin.mark()
        for _ in range(3):
            self.assert_bytes(self.get(target), target)
        self.assert_origin_requests(target, mark, 3)

    def test_set_cookie_is_stored_and_served_with_hits(self):
        target = f"/bytes/1000/cookies.bin?{FRESH}&setcookies=2"
        self.assert_bytes(self.get(target), target)
        time.sleep(0.3)
        mark = self.origin.mark()
        r = self.get(target)
        self.assert_bytes(r, target)
        self.assertEqual(r.headers.get_all("Set-Cookie"), ["c0=v0; Path=/", "c1=v1; Path=/"])
        self.assert_origin_requests(target, mark, 0)

    def test_set_cookie_named_by_no_cache_is_not_stored(self):
        cc = urllib.parse.quote('max-age=3600, no-cache="Set-Cookie"')
        target = f"/bytes/1000/cookie-guard.bin?cc={cc}&setcookies=1"
        self.assert_bytes(self.get(target), target)
        time.sleep(0.3)
        r = self.get(target)  # revalidated (qualified no-cache counts as no-cache here)
        self.assert_bytes(r, target)
        self.assertEqual(r.headers.get_all("Set-Cookie"), [])

    # RFC 9111 §4.4 ----------------------------------------------------------------------------
    def check_invalidated(self, target, method, unsafe_target, body=b"x"):
        self.assertEqual(self.get(target).status, 200)
        time.sleep(0.3)
        mark = self.origin.mark()
        self.assertEqual(self.get(target).status, 200)
        self.assert_origin_requests(target, mark, 0)  # a hit
        r = pycurl_request(self.pport, self.url(unsafe_target), method=method, body=body,
                           timeout=30)
        self.assertLess(r.status, 400, r.status_line)
        time.sleep(0.3)  # the origin logs the unsafe request when its response ends
        mark = self.origin.mark()
        self.assertEqual(self.get(target).status, 200)
        self.assert_origin_requests(target, mark, 1)

    def test_post_invalidates_the_target(self):
        target = "/status/200?hdr_Cache-Control=max-age%3D3600&k=post"
        self.check_invalidated(target, "POST", target)

    def test_delete_invalidates_the_target(self):
        target = "/status/200?hdr_Cache-Control=max-age%3D3600&k=delete"
        self.check_invalidated(target, "DELETE", target, body=None)

    def test_location_of_the_same_origin_is_invalidated(self):
        target = "/status/200?hdr_Cache-Control=max-age%3D3600&k=location"
        post = "/status/201?hdr_Location=" + urllib.parse.quote(target, safe="")
        self.check_invalidated(target, "POST", post)

    def test_error_response_does_not_invalidate(self):
        target = "/status/200?hdr_Cache-Control=max-age%3D3600&k=error"
        self.assertEqual(self.get(target).status, 200)
        time.sleep(0.3)
        post = "/status/500?hdr_Content-Location=" + urllib.parse.quote(target, safe="")
        r = pycurl_request(self.pport, self.url(post), method="POST", body=b"x", timeout=30)
        self.assertEqual(r.status, 500)
        mark = self.origin.mark()
        self.assertEqual(self.get(target).status, 200)
        self.assert_origin_requests(target, mark, 0)

    # RFC 9111 §3, §4.2.2 -----------------------------------------------------------------------
    def test_404_with_explicit_freshness_is_a_hit(self):
        target = "/status/404?hdr_Cache-Control=max-age%3D3600"
        amark = self.proxy.stderr_size()
        r1 = self.get(target)
        self.assertEqual((r1.status, r1.body), (404, b"status 404\n"))
        time.sleep(0.3)
        mark = self.origin.mark()
        r2 = self.get(target, ["Range: bytes=0-1"])  # Range applies to 200s only
        self.assertEqual((r2.status, r2.body), (404, b"status 404\n"))
        self.assertIsNotNone(r2.headers.get("Age"))
        self.assert_origin_requests(target, mark, 0)
        self.assertEqual(results(self.proxy, amark, self.url(target), 2),
                         [("MISS", 404), ("HIT", 404)])

    def test_204_with_explicit_freshness_is_a_hit(self):
        # No Content-Length on a 204 (RFC 9110 §8.6): its length is 0 all the same.
        target = "/status/204?hdr_Cache-Control=max-age%3D3600"
        self.assertEqual(self.get(target).status, 204)
        time.sleep(0.3)
        mark = self.origin.mark()
        r = self.get(target)
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertIsNone(r.headers.get("Content-Length"))
        self.assert_origin_requests(target, mark, 0)

    def test_stale_301_is_not_served(self):
        # Heuristically cacheable, but Expires before Date: no lifetime, so not reused.
        target = ("/redirect?code=301&to=/x&hdr_Expires=" +
                  urllib.parse.quote("Thu, 01 Jan 1970 00:00:00 GMT"))
        mark = self.origin.mark()
        for _ in range(2):
            self.assertEqual(self.get(target).status, 301)
        self.assert_origin_requests(target, mark, 2)

    # RFC 9111 §4.1 ----------------------------------------------------------------------------
    def test_vary_stores_one_variant_per_selecting_value(self):
        target = f"/bytes/1000/vary.bin?{FRESH}&hdr_Vary=Foo"
        amark = self.proxy.stderr_size()
        mark = self.origin.mark()
        for foo in ("1", "2"):  # two variants, each fetched once
            self.assert_bytes(self.get(target, [f"Foo: {foo}"]), target)
            time.sleep(0.3)
        self.assert_origin_requests(target, mark, 2)
        mark = self.origin.mark()
        for foo in ("1", "2", " 1 "):  # both served from storage; whitespace is normalised
            r = self.get(target, [f"Foo: {foo}"])
            self.assert_bytes(r, target)
            self.assertEqual(r.headers.get("Vary"), "Foo")
        self.assert_origin_requests(target, mark, 0)
        self.assert_bytes(self.get(target), target)  # no Foo at all: a third variant
        self.assertEqual([res for res, _ in results(self.proxy, amark, self.url(target), 6)],
                         ["MISS", "MISS", "HIT", "HIT", "HIT", "MISS"])

    def test_vary_star_is_never_reused(self):
        target = f"/bytes/1000/vary-star.bin?{FRESH}&hdr_Vary=*"
        mark = self.origin.mark()
        for _ in range(2):
            self.assert_bytes(self.get(target), target)
            time.sleep(0.3)
        self.assert_origin_requests(target, mark, 2)

    def test_post_invalidates_every_variant(self):
        target = "/status/200?hdr_Cache-Control=max-age%3D3600&hdr_Vary=Foo&k=vary-post"
        for foo in ("1", "2"):
            self.assertEqual(self.get(target, [f"Foo: {foo}"]).status, 200)
            time.sleep(0.3)
        r = pycurl_request(self.pport, self.url(target), method="POST", body=b"x", timeout=30)
        self.assertEqual(r.status, 200, r.status_line)
        time.sleep(0.3)  # the origin logs the POST after answering it: keep it before the mark
        mark = self.origin.mark()
        for foo in ("1", "2"):
            self.assertEqual(self.get(target, [f"Foo: {foo}"]).status, 200)
        self.assert_origin_requests(target, mark, 2)

    def test_large_variant_resumes_and_is_a_hit(self):
        # A variant is an object like any other: a cut fill resumes with Range + If-Range (the
        # selecting field goes along), and the complete variant is then a verified hit.
        size = 6 * 1024 * 1024
        path = "/bytes/6291456/vary-large.bin"
        target = f"{path}?{FRESH}&hdr_Vary=Accept&cut=2000000&cuts=1"
        mark = self.origin.mark()
        r = pycurl_request(self.pport, self.url(target), headers=["Accept: text/a"], timeout=60)
        self.assertEqual(r.status, 200, r.status_line)
        self.assertEqual(r.sha256, sha256_bytes(content.content(path, 0, size)))
        got = self.assert_origin_requests(target, mark, 2)
        self.assertIsNone(got[0]["headers"].get("Range"))
        self.assertTrue(got[1]["headers"].get("Range", "").startswith("bytes="), got[1])
        time.sleep(0.3)
        mark = self.origin.mark()
        r = pycurl_request(self.pport, self.url(target), headers=["Accept: text/a"], timeout=60)
        self.assertEqual(r.sha256, sha256_bytes(content.content(path, 0, size)))
        self.assert_origin_requests(target, mark, 0)

    # RFC 5861 §4 (the host is not in the stale_if_error setting: only directives apply) -------
    def stale_target(self, name, cc):
        # The origin answers 200 once, then 503 to every request for this target.
        return (f"/bytes/1000/{name}.bin?cc={urllib.parse.quote(cc)}"
                "&status=503&status_after=1&times=always")

    def fill_then_stale(self, target, seconds=1.3):
        self.assert_bytes(self.get(target), target)
        time.sleep(seconds)  # max-age=1: stale now

    def test_response_stale_if_error_serves_stale_at_once(self):
        target = self.stale_target("sie-response", "max-age=1, stale-if-error=60")
        self.fill_then_stale(target)
        err = self.proxy.stderr_size()
        mark = self.origin.mark()
        self.assert_bytes(self.get(target), target)
        got = self.assert_origin_requests(target, mark, 1)  # no retry of the 503
        self.assertEqual(got[0]["status"], 503)
        self.assertIn("serving the stored copy stale (response stale-if-error)",
                      self.proxy.stderr_text(err))

    def test_request_stale_if_error_serves_stale(self):
        target = self.stale_target("sie-request", "max-age=1")
        self.fill_then_stale(target)
        self.assert_bytes(self.get(target, ["Cache-Control: stale-if-error=60"]), target)

    def test_stale_past_the_stale_if_error_window_gets_the_error(self):
        target = self.stale_target("sie-window", "max-age=1, stale-if-error=1")
        # Ages count whole seconds: after 3.5 s the age is at least 3, stale by at least 2.
        self.fill_then_stale(target, 3.5)
        self.assertEqual(self.get(target).status, 503)

    def test_must_revalidate_beats_stale_if_error(self):
        target = self.stale_target("sie-must", "max-age=1, must-revalidate, stale-if-error=60")
        self.fill_then_stale(target)
        self.assertEqual(self.get(target, ["Cache-Control: stale-if-error=60"]).status, 503)

    # RFC 5861 §3 ------------------------------------------------------------------------------
    def test_stale_while_revalidate_serves_at_once_and_revalidates_behind(self):
        # max-age=2: after the 304 the copy stays fresh for the third request even when ages,
        # counted in whole seconds, round up (max-age=1 made that a race).
        cc = urllib.parse.quote("max-age=2, stale-while-revalidate=60")
        target = f"/bytes/1000/swr.bin?cc={cc}"
        self.fill_then_stale(target, 3.2)
        err = self.proxy.stderr_size()
        mark = self.origin.mark()
        t = time.monotonic()
        self.assert_bytes(self.get(target), target)
        self.assertIn("while it revalidates (stale-while-revalidate)",
                      self.proxy.stderr_text(err))
        got = self.assert_origin_requests(target, mark, 1)
        self.assertEqual(got[0]["status"], 304, got)
        self.assertTrue(got[0]["headers"].get("If-None-Match"), got)
        self.assertLess(time.monotonic() - t, 5)
        # The 304 refreshed the stored copy: fresh again, no origin request.
        mark = self.origin.mark()
        self.assert_bytes(self.get(target), target)
        self.assert_origin_requests(target, mark, 0)

    def test_stale_while_revalidate_keeps_the_copy_when_the_origin_fails_behind(self):
        cc = urllib.parse.quote("max-age=1, stale-while-revalidate=60")
        target = f"/bytes/1000/swr-503.bin?cc={cc}&status=503&status_after=1&times=always"
        self.fill_then_stale(target)
        mark = self.origin.mark()
        self.assert_bytes(self.get(target), target)  # a 503 behind it changes nothing
        got = self.assert_origin_requests(target, mark, 1)  # no retries behind a hit
        self.assertEqual(got[0]["status"], 503)
        self.assert_bytes(self.get(target), target)

    def test_past_the_stale_while_revalidate_window_revalidates_first(self):
        cc = urllib.parse.quote("max-age=1, stale-while-revalidate=1")
        target = f"/bytes/1000/swr-past.bin?cc={cc}&status=503&status_after=1&times=always"
        # Ages count whole seconds: after 3.5 s the age is at least 3, stale by at least 2.
        self.fill_then_stale(target, 3.5)
        self.assertEqual(self.get(target).status, 503)

    # RFC 9110 §15.2 ---------------------------------------------------------------------------
    def raw_get(self, target, headers=(), version="1.1"):
        """The proxy's answer as bytes: interim responses are visible here, not through curl."""
        lines = [f"GET {self.url(target)} HTTP/{version}", f"Host: {self.origin.hostport}",
                 "Connection: close", *headers, "", ""]
        with socket.create_connection(("127.0.0.1", self.pport), timeout=30) as s:
            s.sendall("\r\n".join(lines).encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data

    def split_final(self, data):
        """(interim heads, final head, body) of a raw answer."""
        interim = []
        while data.startswith(b"HTTP/1.1 1"):
            head, _, data = data.partition(b"\r\n\r\n")
            interim.append(head.decode())
        head, _, body = data.partition(b"\r\n\r\n")
        return interim, head.decode(), body

    def check_final(self, head, body, target):
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)
        self.assertEqual(sha256_bytes(body), sha256_bytes(content.content(path_of(target), 0, 1000)))

    def test_early_hints_reach_the_client_on_a_miss_never_from_storage(self):
        target = f"/bytes/1000/hints.bin?{FRESH}&early_hints=2"
        interim, head, body = self.split_final(self.raw_get(target))
        self.assertEqual(interim, [
            "HTTP/1.1 103 Early Hints\r\nLink: </hint0.css>; rel=preload\r\nX-Hint: 0",
            "HTTP/1.1 103 Early Hints\r\nLink: </hint1.css>; rel=preload\r\nX-Hint: 1"])
        self.check_final(head, body, target)
        self.assertNotIn("X-Hint", head)
        time.sleep(0.3)
        mark = self.origin.mark()
        interim, head, body = self.split_final(self.raw_get(target))  # a hit: no interim
        self.assertEqual(interim, [])
        self.check_final(head, body, target)
        self.assertNotIn("X-Hint", head)  # RFC 9111 §3: interim headers are not stored
        self.assert_origin_requests(target, mark, 0)

    def test_early_hints_reach_the_client_on_pass_through(self):
        target = "/bytes/1000/hints-pass.bin?early_hints=1"
        interim, head, body = self.split_final(
            self.raw_get(target, ["Cache-Control: no-store"]))
        self.assertEqual(len(interim), 1, interim)
        self.assertTrue(interim[0].startswith("HTTP/1.1 103 Early Hints\r\n"), interim)
        self.check_final(head, body, target)

    def test_no_interim_response_to_an_http10_client(self):
        target = "/bytes/1000/hints-10.bin?early_hints=1"
        data = self.raw_get(target, ["Cache-Control: no-store"], version="1.0")
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertNotIn(b" 103 ", data)


def path_of(target):
    return target.split("?", 1)[0]


if __name__ == "__main__":
    unittest.main()
