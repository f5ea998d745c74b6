"""Hostile clients (issue 8): slowloris, idle keep-alive, the connection cap, request smuggling,
request-target tricks and forwarding loops. Raw sockets on 127.0.0.1 against the real binary;
every wait is bounded. test_errors.py covers the plain malformed requests, 431 and the allow
list, test_connect.py CONNECT to a port not allowed; this file does not repeat them.

After each test the harness checks that dlproxy is alive and its fds are back to the baseline."""

import os
import select
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.ports import free_port  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402


def read_all(conn, timeout=6.0):
    """Every byte the proxy sends until it closes, within `timeout` (None if it never closes)."""
    conn.sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not conn._fill():
                break
        except socket.timeout:
            continue
    conn.sock.settimeout(15.0)
    if not conn.eof:
        return None
    data, conn.buf = conn.buf, b""
    return data


def status_lines(data):
    return [line for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.")]


class TimeoutsTest(ProxyTestCase):
    """Short client timeouts so that the slow clients below are cut within seconds."""

    HEADER_TIMEOUT = 2
    KEEPALIVE_TIMEOUT = 2
    proxy_args = ["--client-header-timeout", str(HEADER_TIMEOUT),
                  "--keepalive-timeout", str(KEEPALIVE_TIMEOUT)]

    def test_slowloris_drip_fed_headers_get_408_and_close(self):
        t = time.monotonic()
        with RawConn(self.pport) as c:
            c.send(f"GET {self.url('/bytes/10/slowloris')} HTTP/1.1\r\n")
            # One more header line every 0.3 s: never finishing, always "active".
            for i in range(40):
                r, _, _ = select.select([c.sock], [], [], 0.3)
                if r:
                    break
                try:
                    c.send(f"X-Drip-{i}: x\r\n")
                except OSError:
                    break
            data = read_all(c)
        elapsed = time.monotonic() - t
        self.assertIsNotNone(data, "connection not closed after the 408")
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:200])
        self.assertEqual(len(status_lines(data)), 1, data[:400])
        self.assertGreater(elapsed, self.HEADER_TIMEOUT - 0.5)
        self.assertLess(elapsed, self.HEADER_TIMEOUT + 3, "the header timeout is not re-armed by "
                        "each header line: a drip feed must not extend it")
        self.assertEqual(self.origin.requests_for("/bytes/10/slowloris", self.mark), [])

    def test_partial_request_line_gets_408(self):
        with RawConn(self.pport) as c:
            c.send("GET http://127.0.0.1")
            data = read_all(c, timeout=self.HEADER_TIMEOUT + 4)
        self.assertIsNotNone(data)
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:200])

    def test_silent_connection_is_closed_at_the_header_timeout(self):
        t = time.monotonic()
        with RawConn(self.pport) as c:
            data = read_all(c, timeout=self.HEADER_TIMEOUT + 4)
        self.assertEqual(data, b"", "a connection that never sent a byte is closed without a word")
        self.assertLess(time.monotonic() - t, self.HEADER_TIMEOUT + 3)

    def test_idle_keepalive_connection_is_closed(self):
        with RawConn(self.pport) as c:
            r = c.request("GET", self.url("/bytes/100/keepalive"), [("Host", self.origin.hostport)])
            self.assertEqual(r.status, 200)
            t = time.monotonic()
            data = read_all(c, timeout=self.KEEPALIVE_TIMEOUT + 4)
            elapsed = time.monotonic() - t
        self.assertEqual(data, b"")
        self.assertGreater(elapsed, self.KEEPALIVE_TIMEOUT - 0.5)
        self.assertLess(elapsed, self.KEEPALIVE_TIMEOUT + 3)

    def test_proxy_serves_others_while_slow_clients_hang(self):
        slow = [RawConn(self.pport) for _ in range(50)]
        try:
            for i, c in enumerate(slow):
                c.send(f"GET {self.url('/bytes/10/slow-' + str(i))} HTTP/1.1\r\nX-A: ")
            t = time.monotonic()
            with RawConn(self.pport) as c:
                r = c.request("GET", self.url("/bytes/1000/served"), [("Host", self.origin.hostport)])
            self.assertEqual(r.status, 200)
            # Served while the slow clients still hang: before their header timeout cuts them.
            self.assertLess(time.monotonic() - t, self.HEADER_TIMEOUT)
            for c in slow:
                data = read_all(c, timeout=self.HEADER_TIMEOUT + 4)
                self.assertIsNotNone(data)
                self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:100])
        finally:
            for c in slow:
                c.close()


class ConnectionCapTest(ProxyTestCase):
    CAP = 20
    proxy_args = ["--max-connections", str(CAP)]

    def test_excess_connections_get_503_and_the_proxy_keeps_serving(self):
        held = []
        try:
            for _ in range(self.CAP):
                held.append(RawConn(self.pport))
            time.sleep(0.3)  # accepted, in order, before the excess ones arrive
            refused = [RawConn(self.pport) for _ in range(30)]
            for c in refused:
                data = read_all(c)
                self.assertIsNotNone(data, "refused connection not closed")
                self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data[:200])
                c.close()
            # The held connections still work.
            r = held[0].request("GET", self.url("/bytes/100/held"), [("Host", self.origin.hostport)])
            self.assertEqual(r.status, 200)
        finally:
            for c in held:
                c.close()
        # Once they are gone there is room again.
        deadline = time.monotonic() + 5
        while True:
            with RawConn(self.pport) as c:
                c.send(f"GET {self.url('/bytes/100/after-cap')} HTTP/1.1\r\n"
                       f"Host: {self.origin.hostport}\r\n\r\n")
                r = c.read_response()
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(r.status, 200)


class SmugglingTest(ProxyTestCase):
    """Each attempt is answered with one 400 and the connection closed; the smuggled second
    request never reaches the origin."""

    def attempt(self, head, body=b""):
        smuggled = f"GET {self.url('/bytes/10/smuggled')} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n\r\n"
        with RawConn(self.pport) as c:
            c.send(head.encode() + body + smuggled.encode())
            data = read_all(c)
        self.assertIsNotNone(data, "connection not closed")
        lines = status_lines(data)
        self.assertEqual(len(lines), 1, data[:600])
        self.assertTrue(lines[0].startswith(b"HTTP/1.1 400 "), data[:300])
        self.assertEqual(self.origin.requests_for("/bytes/10/smuggled", self.mark, timeout=0.5), [])

    def post(self, headers):
        return (f"POST {self.url('/echo')} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n"
                + "".join(h + "\r\n" for h in headers) + "\r\n")

    def test_content_length_and_transfer_encoding(self):
        self.attempt(self.post(["Content-Length: 6", "Transfer-Encoding: chunked"]), b"0\r\n\r\n")
        self.attempt(self.post(["Transfer-Encoding: chunked", "Content-Length: 6"]), b"0\r\n\r\n")

    def test_conflicting_duplicate_content_length(self):
        self.attempt(self.post(["Content-Length: 5", "Content-Length: 6"]), b"hello!")
        self.attempt(self.post(["Content-Length: 5, 6"]), b"hello!")

    def test_obs_fold(self):
        self.attempt(self.post(["Transfer-Encoding:", " chunked"]), b"0\r\n\r\n")
        self.attempt(self.post(["X-Folded: first", "\tsecond", "Content-Length: 0"]))
        self.attempt(f"GET {self.url('/bytes/10/fold')} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n"
                     "X-A: 1\r\n  X-B: 2\r\n\r\n")

    def test_obs_fold_split_across_reads(self):
        # The fold arrives in a separate TCP segment: detected from the previous bytes.
        with RawConn(self.pport) as c:
            c.send(self.post(["X-Folded: first"])[:-2])
            time.sleep(0.2)
            c.send(" second\r\nContent-Length: 0\r\n\r\n")
            data = read_all(c)
        self.assertIsNotNone(data)
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:200])

    def test_bad_chunk_sizes(self):
        for chunk in (b"zz\r\nhello\r\n0\r\n\r\n", b"fffffffffffffffffff\r\nx\r\n0\r\n\r\n",
                      b"-5\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n"):
            with self.subTest(chunk=chunk):
                self.attempt(self.post(["Transfer-Encoding: chunked"]), chunk)

    def test_invalid_transfer_encodings(self):
        for te in ("chunked, identity", "gzip", "chunked\x0b", "identity"):
            with self.subTest(te=te):
                self.attempt(self.post([f"Transfer-Encoding: {te}", "Content-Length: 0"]))

    def test_whitespace_before_colon(self):
        self.attempt(self.post(["Content-Length : 5"]), b"hello")

    def test_folded_header_does_not_break_a_clean_request_after_it(self):
        # A control: the same connection setup without tricks works (keeps the test honest).
        with RawConn(self.pport) as c:
            r = c.request("POST", self.url("/echo"), [("Host", self.origin.hostport)], b"hello")
        self.assertEqual((r.status, r.body), (200, b"hello"))


class RequestTargetTest(ProxyTestCase):
    def get(self, target, host=None):
        with RawConn(self.pport) as c:
            c.send(f"GET {target} HTTP/1.1\r\nHost: {host or self.origin.hostport}\r\n\r\n")
            r = c.read_response()
            closed = c.closed_by_peer(3) if r.status >= 400 else None
        return r, closed

    def test_userinfo_is_400(self):
        for target in (f"http://user:secret@{self.origin.hostport}/bytes/10/userinfo",
                       f"http://@{self.origin.hostport}/bytes/10/userinfo",
                       f"http://evil.example@{self.origin.hostport}/bytes/10/userinfo"):
            with self.subTest(target=target):
                r, closed = self.get(target)
                self.assertEqual(r.status, 400, r.head)
                self.assertTrue(closed)
        self.assertEqual(self.origin.requests_for("/bytes/10/userinfo", self.mark, timeout=0.3), [])

    def test_ipv6_literals(self):
        for target in ("http://[::1/x", "http://::1/x", "http://[1.2.3.4]/x", "http://[::1]x/",
                       "http://[fe80::1%25eth0]/x", "http://[::1]:99999/x", "http://[]/x"):
            with self.subTest(target=target):
                r, closed = self.get(target, host="x")
                self.assertEqual(r.status, 400, r.head)
                self.assertTrue(closed)
        # A well-formed literal is forwarded: nothing listens there, so 502, not 400.
        r, _ = self.get(f"http://[::1]:{free_port()}/x", host="x")
        self.assertIn(r.status, (502, 504), r.head)

    def test_percent_encoding_is_forwarded_as_sent(self):
        path = "/bytes/10/a%2Fb%00c%zz%%41%0d%0aX-Injected:%20yes"
        r, _ = self.get(self.url(path))
        self.assertEqual(r.status, 200, r.head)
        rec = self.origin.requests_for(path, self.mark, count=1)
        self.assertEqual(len(rec), 1, self.new_requests())
        self.assertNotIn("X-Injected", rec[0]["headers"])

    def test_percent_encoded_or_odd_hosts_are_400(self):
        port = self.origin.port
        for target in (f"http://%31%32%37.0.0.1:{port}/x", f"http://127.0.0.1%00.evil:{port}/x",
                       f"http://127.0.0.1:{port}@evil/x", f"http://127.0.0.1:+{port}/x",
                       "http:///x", "http://a b/x"):
            with self.subTest(target=target):
                r, _ = self.get(target, host="x")
                self.assertEqual(r.status, 400, r.head)

    def test_over_long_url_is_414_and_close(self):
        long_path = "/bytes/10/" + "a" * 17000
        r, closed = self.get(self.url(long_path))
        self.assertEqual(r.status, 414, r.head)
        self.assertTrue(closed)
        # Below the limit (signed CDN URLs are some KiB) it is served.
        r, _ = self.get(self.url("/bytes/10/" + "b" * 8000))
        self.assertEqual(r.status, 200, r.head)


class LoopTest(ProxyTestCase):
    """Requests addressed to the proxy itself are refused with 508, not forwarded to itself."""

    def assert_loop_refused(self, head):
        with RawConn(self.pport) as c:
            c.send(head)
            data = read_all(c)
        self.assertIsNotNone(data)
        self.assertTrue(data.startswith(b"HTTP/1.1 508 "), data[:300])
        self.assertEqual(len(status_lines(data)), 1, data[:400])

    def test_absolute_url_naming_the_proxy(self):
        p = self.pport
        for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"LOCALHOST.:{p}", f"0.0.0.0:{p}",
                     f"[::ffff:127.0.0.1]:{p}"):
            with self.subTest(host=host):
                self.assert_loop_refused(f"GET http://{host}/x HTTP/1.1\r\nHost: {host}\r\n\r\n")

    def test_via_with_our_pseudonym(self):
        self.assert_loop_refused(f"GET {self.url('/bytes/10/via-loop')} HTTP/1.1\r\n"
                                 f"Host: {self.origin.hostport}\r\nVia: 1.0 fred, 1.1 dlproxy\r\n\r\n")
        self.assertEqual(self.origin.requests_for("/bytes/10/via-loop", self.mark, timeout=0.3), [])

    def test_connect_to_the_proxy(self):
        p = self.pport
        self.assert_loop_refused(f"CONNECT 127.0.0.1:{p} HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n\r\n")

    def test_other_via_entries_and_ports_are_fine(self):
        with RawConn(self.pport) as c:
            r = c.request("GET", self.url("/bytes/10/via-ok"),
                          [("Host", self.origin.hostport), ("Via", "1.1 squid, 1.1 dlproxy-edge")])
        self.assertEqual(r.status, 200, r.head)


if __name__ == "__main__":
    unittest.main(verbosity=2)
