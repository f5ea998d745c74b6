"""A fill runs at most --fill-ahead-window ahead of its furthest client (policy/fill_pace.h,
docs/many-clients.md "A fill and its clients"), with those bytes kept in memory, so a client slower
than the origin is served from memory rather than from disk.

    held         a client reading at 8 MiB/s from a fast origin: while it reads, the fill is
                 never more than the window (plus what sits in socket buffers) ahead of it, GET
                 /status shows it `waiting_for_clients`; the body is correct and the object is
                 complete afterwards (a HIT, no origin request)
    stopped      a client that stops reading after 1 MiB does not hold the fill: it completes
                 within seconds all the same (pacing gives up on a client silent for 5 s)
    off          --fill-ahead-window 0: the fill runs at the origin's pace, far ahead of the
                 slow client
"""

import hashlib
import json
import os
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

SIZE = 40 * MiB
CLIENT_RATE = 8 * MiB
WINDOW = 4 * MiB
# Bytes dlproxy has sent that the client has not yet counted: its queue (up to the high-water
# mark plus one chunk), its socket's send buffer (autotuned up to 4 MiB) and the client's receive
# buffer (fixed at CLIENT_RCVBUF: autotuned it grows to tcp_rmem's maximum, 32 MiB here). Without
# pacing the fill is 25+ MiB ahead within the first seconds.
CLIENT_RCVBUF = 256 * 1024
IN_TRANSIT = 10 * MiB


class SlowClient:
    """A whole-object GET through the proxy read at CLIENT_RATE in small, even steps on its own
    thread (libcurl's own rate limit reads in bursts and then sleeps for seconds, which the
    fill rightly stops waiting for); `received` counts body bytes as they arrive."""

    def __init__(self, port, url, host):
        self.port, self.url, self.host = port, url, host
        self.received = 0
        self.status = self.sha256 = self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            with RawConn(self.port, timeout=30, rcvbuf=CLIENT_RCVBUF) as conn:
                conn.send(f"GET {self.url} HTTP/1.1\r\nHost: {self.host}\r\n\r\n")
                head = conn.read_head()
                self.status = head[1]
                h = hashlib.sha256()
                body, conn.buf = conn.buf, b""
                t0 = time.monotonic()
                while True:
                    if body:
                        h.update(body)
                        self.received += len(body)
                    if self.received >= SIZE:
                        break
                    ahead = self.received / CLIENT_RATE - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
                    body = conn.sock.recv(min(64 * 1024, SIZE - self.received))
                    if not body:
                        raise EOFError(f"closed after {self.received} body bytes")
                self.sha256 = h.hexdigest()
        except Exception as e:  # reported by check_slow_download
            self.error = e

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout=60):
        self.thread.join(timeout)
        return not self.thread.is_alive()


class PaceCase(ProxyTestCase):
    def status_fill(self, path):
        """The /status entry of the fill for `path`, or None when none runs."""
        url = f"http://127.0.0.1:{self.proxy.admin_port}/status"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=10) as r:
            fills = json.loads(r.read().decode())["inflight_fills"]
        return next((f for f in fills if f["url"].endswith(path)), None)

    def slow_download(self, path):
        client = SlowClient(self.pport, self.url(path), self.origin.hostport).start()
        self.addCleanup(client.join)  # before the fd check, also when the test fails
        return client

    def check_slow_download(self, client, path):
        self.assertTrue(client.join(), "the slow client did not finish")
        self.assertIsNone(client.error, f"the slow client failed: {client.error!r}")
        self.assertEqual(client.status, 200)
        self.assertEqual(client.sha256, content.sha256_of(path, SIZE))


class HeldFillTest(PaceCase):
    proxy_args = ("--fill-ahead-window", "4MiB")

    def test_fill_stays_a_window_ahead_of_a_slow_client(self):
        path = "/bytes/%d/held" % SIZE
        client = self.slow_download(path)
        deadline = time.monotonic() + 30
        while client.received == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        states, worst = set(), 0
        while client.thread.is_alive() and time.monotonic() < deadline:
            fill = self.status_fill(path)
            if fill is None:
                break  # the fill has finished
            received = client.received  # after /status: never more behind than it was
            states.add(fill["state"])
            if received < SIZE - WINDOW - IN_TRANSIT:
                worst = max(worst, fill["bytes_done"] - received)
            time.sleep(0.1)
        self.check_slow_download(client, path)
        self.assertIn("waiting_for_clients", states, f"the fill was never held: {states}")
        self.assertLessEqual(worst, WINDOW + IN_TRANSIT,
                             f"the fill ran {worst} bytes ahead of the client")
        self.assert_hit(path, content.sha256_of(path, SIZE))


class StoppedClientTest(PaceCase):
    proxy_args = ("--fill-ahead-window", "4MiB")

    def test_a_client_that_stops_reading_does_not_hold_the_fill(self):
        path = "/bytes/%d/stopped" % SIZE
        with RawConn(self.pport, rcvbuf=64 * 1024) as conn:
            conn.send(f"GET {self.url(path)} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n\r\n")
            conn.read_head()
            conn._read_exact(MiB)  # then read nothing more
            t0 = time.monotonic()
            while self.status_fill(path) is not None and time.monotonic() - t0 < 15:
                time.sleep(0.1)
            self.assertIsNone(self.status_fill(path), "the fill waited for a client that stopped")
        self.assert_hit(path, content.sha256_of(path, SIZE))


class PacingOffTest(PaceCase):
    proxy_args = ("--fill-ahead-window", "0")

    def test_without_a_window_the_fill_runs_at_the_origins_pace(self):
        path = "/bytes/%d/off" % SIZE
        client = self.slow_download(path)
        t0 = time.monotonic()
        while self.status_fill(path) is not None and time.monotonic() - t0 < 15:
            time.sleep(0.05)
        received = client.received
        self.assertLess(received, SIZE / 2,
                        f"the fill finished only when the client had {received} bytes")
        self.check_slow_download(client, path)


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(verbosity=2))
