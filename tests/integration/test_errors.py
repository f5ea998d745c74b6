"""Errors dlproxy answers itself: bad requests, unreachable origins, slow origins, strangers.
Each is a text/plain one-line body with the right status."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.ports import free_port  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402


class ErrorResponseMixin:
    def assert_one_line_text(self, r):
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip()
        self.assertEqual(ctype, "text/plain", r.head)
        text = r.body.decode(errors="replace")
        self.assertTrue(text.strip(), f"empty error body: {r.head!r}")
        self.assertEqual(len(text.strip().splitlines()), 1, f"not one line: {text!r}")


class ClientErrorsTest(ErrorResponseMixin, ProxyTestCase):
    def test_malformed_request_line_is_400_and_close(self):
        for bad in ("GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET http://127.0.0.1/ HTTP/9.Z\r\n\r\n",
                    "G\x01T http://127.0.0.1/ HTTP/1.1\r\n\r\n"):
            with self.subTest(bad=bad), RawConn(self.pport) as c:
                c.send(bad)
                r = c.read_response()
                self.assertEqual(r.status, 400, r.head)
                self.assertTrue(c.closed_by_peer(5), "connection left open after a 400")

    def test_header_section_over_64_kib_is_431(self):
        headers = "".join(f"X-Filler-{i}: {'a' * 1000}\r\n" for i in range(70))
        with RawConn(self.pport) as c:
            c.send(f"GET {self.url('/bytes/10/big-head')} HTTP/1.1\r\n"
                   f"Host: {self.origin.hostport}\r\n{headers}\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 431, r.head)
        self.assertEqual(self.origin.requests_for("/bytes/10/big-head", self.mark), [])

    def test_single_huge_header_is_431(self):
        with RawConn(self.pport) as c:
            c.send(f"GET {self.url('/bytes/10/huge-head')} HTTP/1.1\r\n"
                   f"Host: {self.origin.hostport}\r\nX-Huge: {'b' * 70000}\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 431, r.head)

    def test_header_section_under_limit_is_fine(self):
        headers = "".join(f"X-Filler-{i}: {'a' * 1000}\r\n" for i in range(40))
        with RawConn(self.pport) as c:
            c.send(f"GET {self.url('/bytes/10/ok-head')} HTTP/1.1\r\n"
                   f"Host: {self.origin.hostport}\r\n{headers}\r\n")
            self.assertEqual(c.read_response().status, 200)

    def test_origin_form_is_400_with_explanation(self):
        with RawConn(self.pport) as c:
            c.send(f"GET / HTTP/1.1\r\nHost: {self.origin.hostport}\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 400, r.head)
            self.assert_one_line_text(r)

    def test_dns_failure_is_502(self):
        res = curl_cli(self.pport, "http://nonexistent.invalid/bytes/10", None, timeout=30)
        self.assertEqual(res.status, 502, res.stderr)
        with RawConn(self.pport) as c:
            r = c.request("GET", "http://nonexistent.invalid/x", [("Host", "nonexistent.invalid")])
            self.assertEqual(r.status, 502)
            self.assert_one_line_text(r)

    def test_connection_refused_is_502(self):
        port = free_port()
        with RawConn(self.pport) as c:
            r = c.request("GET", f"http://127.0.0.1:{port}/x", [("Host", f"127.0.0.1:{port}")])
            self.assertEqual(r.status, 502, r.head)
            self.assert_one_line_text(r)
            # after an error it answered itself, dlproxy either says it closes (and does) or
            # keeps the connection usable (RFC 9112 §9.6)
            if "close" in (r.headers.get("Connection") or "").lower():
                self.assertTrue(c.closed_by_peer(5), "Connection: close sent but not closed")
            else:
                r = c.request("GET", self.url("/bytes/10/after-502"), [("Host", self.origin.hostport)])
                self.assertEqual(r.status, 200)


class UpstreamTimeoutTest(ErrorResponseMixin, ProxyTestCase):
    proxy_args = ["--upstream-header-timeout", "2"]

    def test_slow_origin_headers_is_504(self):
        t = time.monotonic()
        with RawConn(self.pport, timeout=20) as c:
            r = c.request("GET", self.url("/bytes/10/slow?delay_headers=6"),
                          [("Host", self.origin.hostport)])
        elapsed = time.monotonic() - t
        self.assertEqual(r.status, 504, r.head)
        self.assert_one_line_text(r)
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 5.0, "504 should come at the 2 s header timeout")

    def test_slow_body_after_headers_is_not_504(self):
        # the header timeout bounds the wait for headers only, not a slow body
        p = "/bytes/300000/slow-body"
        res = curl_cli(self.pport, self.url(p + "?rate=100000"), os.path.join(self.work, "slow"))
        self.assertEqual((res.rc, res.status), (0, 200), res.stderr)
        self.assertEqual(sha256_file(os.path.join(self.work, "slow")),
                         content.sha256_of(p, 300000))


class AllowListTest(ErrorResponseMixin, ProxyTestCase):
    proxy_args = ["--allow", "10.0.0.0/8"]

    @classmethod
    def warm_up(cls):  # nothing from 127.0.0.1 is served here, so no warm-up request
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()

    def test_client_outside_allow_list_is_403(self):
        with RawConn(self.pport) as c:
            r = c.request("GET", self.url("/bytes/10/denied"), [("Host", self.origin.hostport)])
            self.assertEqual(r.status, 403, r.head)
            self.assert_one_line_text(r)
        self.assertEqual(self.origin.requests_for("/bytes/10/denied", self.mark), [])

    def test_connect_outside_allow_list_is_403(self):
        with RawConn(self.pport) as c:
            c.send(f"CONNECT {self.origin.hostport} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n\r\n")
            self.assertEqual(c.read_head()[1], 403)


if __name__ == "__main__":
    unittest.main(verbosity=2)
