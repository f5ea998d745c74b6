"""Broken origins (issue 8): a raw-socket origin that breaks HTTP on purpose. Each failure must be
bounded in time, logged by dlproxy, end cleanly for the client (an error status before the head,
a visibly truncated body after it) and leave nothing wrong in the cache (checked with a second
request and with `dlproxyctl ls --json` on the cache directory).

tests/origin/origin.py misbehaves within HTTP (cuts, stalls, wrong ETags); this origin breaks the
framing itself, which a well-behaved server library would not let it do."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import dlproxy_bin  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")


def body_bytes(n, seed=0):
    return bytes((i * 7 + seed) % 251 for i in range(n))


class BrokenOrigin:
    """Threaded TCP server on 127.0.0.1:0. The first path segment picks the misbehaviour."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.requests = []  # (path, request head)
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def hostport(self):
        return f"127.0.0.1:{self.port}"

    def url(self, path):
        return f"http://{self.hostport}{path}"

    def count(self, path):
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)

    def stop(self):
        self.running = False
        self.lsock.close()

    def _accept(self):
        while self.running:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(30)
        try:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                path = head.split(b"\r\n")[0].split(b" ")[1].decode()
                with self.lock:
                    self.requests.append((path, head.decode(errors="replace")))
                kind = path.split("/")[1]
                if not getattr(self, "do_" + kind.replace("-", "_"))(c, path):
                    return
        except OSError:
            pass
        finally:
            c.close()

    # Each handler answers one request; it returns True to keep the connection for another.
    @staticmethod
    def head(status="200 OK", fields=()):
        return (f"HTTP/1.1 {status}\r\n" + "".join(f"{f}\r\n" for f in fields) + "\r\n").encode()

    CACHEABLE = ('ETag: "v1"', "Cache-Control: max-age=3600", "Accept-Ranges: bytes")

    def do_ok(self, c, path):
        c.sendall(self.head(fields=("Content-Length: 5",) + self.CACHEABLE) + b"hello")
        return True

    def do_short(self, c, path):
        # Announces 100000 bytes, sends 30000, closes: every time, ranges ignored.
        c.sendall(self.head(fields=("Content-Length: 100000",) + self.CACHEABLE)
                  + body_bytes(30000))
        return False

    def do_long(self, c, path):
        # Announces 100 bytes and sends 300: the 200 extra bytes must not become a "response".
        c.sendall(self.head(fields=("Content-Length: 100",) + self.CACHEABLE) + body_bytes(300))
        time.sleep(0.5)
        return False

    def do_badchunk(self, c, path):
        c.sendall(self.head(fields=("Transfer-Encoding: chunked",) + self.CACHEABLE)
                  + b"5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n")
        return False

    def do_bighead(self, c, path):
        fields = tuple(f"X-Filler-{i}: {'f' * 90}" for i in range(3500))  # ~350 KB
        c.sendall(self.head(fields=fields + ("Content-Length: 5",)) + b"hello")
        return False

    def do_endlesshead(self, c, path):
        c.sendall(b"HTTP/1.1 200 OK\r\n")
        for i in range(10_000_000):
            c.sendall(f"X-Endless-{i}: {'e' * 50}\r\n".encode())
        return False

    def do_storm(self, c, path):
        while True:
            c.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                      b"HTTP/1.1 100 Continue\r\n\r\n")

    def _stall(self, c):
        c.settimeout(60)
        try:
            while c.recv(65536):  # until dlproxy gives up and closes
                pass
        except OSError:
            pass

    def do_stall(self, c, path):
        c.sendall(self.head(fields=("Content-Length: 1000000",) + self.CACHEABLE)
                  + body_bytes(65536))
        self._stall(c)
        return False

    def do_stallchunked(self, c, path):
        c.sendall(self.head(fields=("Transfer-Encoding: chunked",)) + b"4000\r\n"
                  + body_bytes(0x4000) + b"\r\n")
        self._stall(c)
        return False


class BrokenOriginTest(ProxyTestCase):
    # Quick give-up so every scenario ends within seconds: stall detection, the client's gap
    # budget, the retry limits of a fill (docs/recovery.md).
    proxy_args = ["--stall-timeout", "2", "--gap-budget", "3", "--retry-max-attempts", "3",
                  "--retry-deadline", "8", "--retry-base-delay", "0.1", "--retry-max-delay", "0.5",
                  "--upstream-header-timeout", "8"]

    @classmethod
    def setUpClass(cls):
        cls.broken = BrokenOrigin()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.broken.stop()

    def setUp(self):
        super().setUp()
        self.err_mark = self.proxy.stderr_size()

    # --- helpers -------------------------------------------------------------------------------
    def get(self, path, timeout=20):
        """(status, headers, body, truncated, seconds) of one GET through the proxy."""
        t = time.monotonic()
        with RawConn(self.pport, timeout=timeout) as c:
            c.send(f"GET {self.broken.url(path)} HTTP/1.1\r\nHost: {self.broken.hostport}\r\n\r\n")
            version, status, reason, hdrs, head = c.read_head()
            while 100 <= status < 200:  # interim responses are forwarded (RFC 9110 §15.2)
                version, status, reason, hdrs, head = c.read_head()
            truncated = False
            body = b""
            try:
                c.buf = head.encode("iso-8859-1") + b"\r\n\r\n" + c.buf
                body = c.read_response().body
            except EOFError:
                truncated = True
        return status, hdrs, body, truncated, time.monotonic() - t

    def objects(self):
        r = subprocess.run([CTL, "--cache-dir", self.proxy.cache_dir, "--admin", "http://127.0.0.1:1",
                            "--json", "ls"], capture_output=True, text=True, timeout=30,
                           env=clean_env(), stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {o["url"]: o for o in json.loads(r.stdout)}

    def assert_not_complete_in_cache(self, path):
        o = self.objects().get(self.broken.url(path))
        if o is not None:
            self.assertNotEqual(o["state"], "complete", o)
            self.assertLess(o["bytes_present"], o["size"] or 1 << 62, o)

    def assert_logged(self, path):
        text = self.proxy.stderr_text(self.err_mark)
        lines = [ln for ln in text.splitlines() if path in ln and "[warning]" in ln]
        self.assertTrue(lines, f"no warning logged for {path}")

    def wait_fill_over(self, path, seconds=12):
        """Until the background fill stopped asking the origin (bounded)."""
        deadline = time.monotonic() + seconds
        last, since = self.broken.count(path), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            n = self.broken.count(path)
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > 3:
                return n
        self.fail(f"{path}: the origin is still being asked ({last} requests)")

    # --- scenarios -----------------------------------------------------------------------------
    def test_short_body_then_close(self):
        path = "/short/a"
        status, hdrs, body, truncated, secs = self.get(path)
        self.assertEqual(status, 200)
        self.assertTrue(truncated, "a body shorter than Content-Length must reach the client short")
        self.assertLess(secs, 12)
        self.assertEqual(body, b"")
        requests = self.wait_fill_over(path)
        self.assertLessEqual(requests, 3, "retry_max_attempts bounds the fill")
        self.assert_not_complete_in_cache(path)
        # Asked again: short again, never a complete-looking response.
        status, _, _, truncated, _ = self.get(path)
        self.assertTrue(status != 200 or truncated)
        self.wait_fill_over(path)
        self.assert_logged(path)

    def test_body_longer_than_content_length(self):
        path = "/long/a"
        status, hdrs, body, truncated, _ = self.get(path)
        self.assertEqual((status, truncated, body), (200, False, body_bytes(100)))
        # The excess never becomes a response: the next request on a new connection is fine,
        # and the cached copy (if any) is the announced 100 bytes.
        status, _, body, truncated, _ = self.get(path)
        self.assertEqual((status, truncated, body), (200, False, body_bytes(100)))
        # Stored (chunk writes complete off the loop, shortly after the response): exactly the
        # announced 100 bytes, and a hit returns them without asking the origin.
        deadline = time.monotonic() + 5
        while True:
            o = self.objects().get(self.broken.url(path))
            if (o and o["state"] == "complete") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual((o["size"], o["bytes_present"], o["state"]), (100, 100, "complete"), o)
        asked = self.broken.count(path)
        status, _, body, truncated, _ = self.get(path)
        self.assertEqual((status, truncated, body), (200, False, body_bytes(100)))
        self.assertEqual(self.broken.count(path), asked, "the third request should be a hit")
        self.assertEqual(self.get("/ok/after-long")[2], b"hello")

    def test_invalid_chunked_encoding(self):
        path = "/badchunk/a"
        status, hdrs, body, truncated, secs = self.get(path)
        self.assertTrue(status == 502 or (status == 200 and truncated), (status, body))
        self.assertLess(secs, 10)
        self.assert_not_complete_in_cache(path)
        self.assert_logged(path)

    def assert_502_fast(self, path, limit=6):
        status, hdrs, body, truncated, secs = self.get(path)
        self.assertEqual(status, 502, body)
        self.assertLess(secs, limit)
        self.assertEqual(len(body.decode().strip().splitlines()), 1, body)
        self.assertNotIn(self.broken.url(path), self.objects())
        self.assert_logged(path)
        return body

    def test_headers_over_the_limit(self):
        body = self.assert_502_fast("/bighead/a")
        self.assertIn(b"header", body)

    def test_endless_headers(self):
        self.assert_502_fast("/endlesshead/a")

    def test_storm_of_1xx_responses(self):
        self.assert_502_fast("/storm/a")

    def test_body_that_stops_cacheable(self):
        # Stored with its length: the fill's stall watch and the client's gap budget apply.
        path = "/stall/a"
        status, hdrs, body, truncated, secs = self.get(path)
        self.assertEqual(status, 200)
        self.assertTrue(truncated)
        self.assertLess(secs, 12)
        self.wait_fill_over(path, seconds=20)
        self.assert_not_complete_in_cache(path)
        self.assert_logged(path)

    def test_body_that_stops_pass_through(self):
        # Chunked without a length: not stored, passed through, cut after stall_timeout.
        path = "/stallchunked/a"
        status, hdrs, body, truncated, secs = self.get(path)
        self.assertEqual(status, 200)
        self.assertTrue(truncated)
        self.assertGreater(secs, 1.5)
        self.assertLess(secs, 8, "the pass-through stall is cut after stall_timeout (2 s)")
        self.assertNotIn(self.broken.url(path), self.objects())
        self.assert_logged(path)

    def test_proxy_still_serves_after_all_that(self):
        status, _, body, truncated, _ = self.get("/ok/finally")
        self.assertEqual((status, body, truncated), (200, b"hello", False))


if __name__ == "__main__":
    unittest.main(verbosity=2)
