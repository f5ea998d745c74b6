"""Memory stays bounded whatever the clients do (issue 19, policy/memory_budget.h,
docs/many-clients.md "Memory budget"). Real processes: the dlproxy binary, tests/origin/origin.py
(plain and TLS), and many slow clients on raw sockets, each checking its body with sha256.

    distinct      60 clients at 2 MiB/s on 60 distinct cold 16 MiB objects (60 fills at once):
                  dlproxy's peak RSS stays under the budget plus BASELINE_MIB, every body is exact
    one_object    200 clients on one cold 16 MiB object
    stopped       20 clients on 20 cold objects read 1 MiB and then nothing: the fills still
                  complete (to disk), memory stays bounded, and the objects are hits afterwards
    pressure      a small budget (12 MiB) with 8 intercepted HTTPS clients on 8 cold objects:
                  pressure starts (log line, /status, metrics), every body is exact, and it ends

Before the budget, 60 clients on 60 distinct cold 48 MiB objects held 782 MiB (issue 19).
DLPROXY_MEMORY_REPORT=1 prints the RSS samples for the note.
"""

import hashlib
import json
import os
import re
import ssl
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import LOCALHOST, MiB  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402
from test_https import connect_tunnel, make_test_pki  # noqa: E402

BUDGET_MIB = 256  # the default --memory-budget
# What dlproxy holds besides chunk buffers with these clients connected: its code and heap at
# start (about 12 MiB), libcurl's and the sockets' buffers, the queued live copies and the
# write queues' bookkeeping of up to 200 connections, and the allocator's slack. Measured: see
# docs/many-clients.md "Memory budget". ASan's redzones and quarantine add to every figure.
BASELINE_MIB = 96 if os.environ.get("DLPROXY_SANITIZED") else 64
REPORT = os.environ.get("DLPROXY_MEMORY_REPORT") == "1"


class SlowReader:
    """GET `url` through the proxy (or over an established socket) and read it at `rate` bytes/s
    in even steps on its own thread, hashing the body; `stop_after` stops reading (socket kept
    open) after that many body bytes."""

    def __init__(self, port, url, host, size, rate, stop_after=None, tls_host=None, cafile=None):
        self.port, self.url, self.host, self.size, self.rate = port, url, host, size, rate
        self.stop_after, self.tls_host, self.cafile = stop_after, tls_host, cafile
        self.received = 0
        self.status = self.sha256 = self.error = None
        self.stopped = threading.Event()  # set once a stop_after reader has stopped reading
        self.release = threading.Event()  # lets a stopped reader close its socket
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self):
        if self.tls_host is None:
            conn = RawConn(self.port, timeout=60, rcvbuf=128 * 1024)
            conn.send(f"GET {self.url} HTTP/1.1\r\nHost: {self.host}\r\n\r\n")
            return conn, conn.sock
        raw = connect_tunnel(self.port, *self.tls_host, timeout=60)
        ctx = ssl.create_default_context(cafile=self.cafile)
        tls = ctx.wrap_socket(raw, server_hostname=self.tls_host[0])
        tls.sendall(f"GET {self.url} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        return None, tls

    def _read_head(self, sock):
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise EOFError("closed before the response head")
            buf += data
        head, body = buf.split(b"\r\n\r\n", 1)
        return int(head.split(b" ", 2)[1]), body

    def _run(self):
        sock = None
        try:
            conn, sock = self._open()
            if conn is not None:
                head = conn.read_head()
                self.status, body, conn.buf = head[1], conn.buf, b""
            else:
                self.status, body = self._read_head(sock)
            h = hashlib.sha256()
            t0 = time.monotonic()
            while True:
                if body:
                    h.update(body)
                    self.received += len(body)
                if self.received >= self.size:
                    break
                if self.stop_after is not None and self.received >= self.stop_after:
                    self.stopped.set()
                    self.release.wait(120)
                    return
                ahead = self.received / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
                body = sock.recv(min(64 * 1024, self.size - self.received))
                if not body:
                    raise EOFError(f"closed after {self.received} body bytes")
            self.sha256 = h.hexdigest()
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            if sock is not None:
                sock.close()

    def start(self):
        self.thread.start()
        return self


class MemoryCase(ProxyTestCase):
    def run_readers(self, readers, timeout):
        """Starts the readers and samples dlproxy's RSS and /status until they end; returns
        (peak RSS MiB, peak chunk buffers MiB, whether pressure was seen)."""
        rss0 = self.proxy.rss_kb() / 1024
        for r in readers:
            r.start()
            self.addCleanup(r.thread.join, 5)
            self.addCleanup(r.release.set)
        peak_rss, peak_chunks, pressure, samples = 0.0, 0.0, False, []
        deadline = time.monotonic() + timeout
        while any(r.thread.is_alive() and not r.stopped.is_set() for r in readers):
            self.assertLess(time.monotonic(), deadline, "the readers did not finish in time")
            rss = self.proxy.rss_kb() / 1024
            memory = json.loads(self.proxy.admin("/status"))["memory"]
            peak_rss = max(peak_rss, rss)
            peak_chunks = max(peak_chunks, memory["in_use"] / MiB)
            pressure = pressure or memory["pressure"]
            samples.append((round(rss), round(memory["in_use"] / MiB)))
            time.sleep(0.25)
        peak_rss = max(peak_rss, self.proxy.hwm_kb() / 1024)
        if REPORT:
            print(f"\n{self.id()}: RSS at start {rss0:.0f} MiB, peak {peak_rss:.0f} MiB, chunk "
                  f"buffers peak {peak_chunks:.0f} MiB, pressure {pressure}; (RSS, chunks) MiB "
                  f"every 0.25 s: {samples}", file=sys.stderr)
        return peak_rss, peak_chunks, pressure

    def check_exact(self, readers, path_of):
        for i, r in enumerate(readers):
            self.assertIsNone(r.error, f"reader {i} failed: {r.error!r}")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.sha256, content.sha256_of(path_of(i), r.size), f"reader {i}")


class DistinctObjectsTest(MemoryCase):
    upstream_allowance = 64

    def test_sixty_slow_clients_on_sixty_cold_objects(self):
        size = 16 * MiB
        path_of = lambda i: f"/bytes/{size}/distinct-{i}"  # noqa: E731
        readers = [SlowReader(self.pport, self.url(path_of(i)), self.origin.hostport, size,
                              2 * MiB) for i in range(60)]
        peak_rss, peak_chunks, _ = self.run_readers(readers, timeout=120)
        self.check_exact(readers, path_of)
        self.assertLess(peak_rss, BUDGET_MIB + BASELINE_MIB,
                        f"peak RSS {peak_rss:.0f} MiB (chunk buffers {peak_chunks:.0f} MiB)")


class OneObjectTest(MemoryCase):
    def test_two_hundred_clients_on_one_cold_object(self):
        size = 16 * MiB
        path = f"/bytes/{size}/one"
        readers = [SlowReader(self.pport, self.url(path), self.origin.hostport, size, 2 * MiB)
                   for _ in range(200)]
        peak_rss, peak_chunks, _ = self.run_readers(readers, timeout=150)
        self.check_exact(readers, lambda i: path)
        self.assertLess(peak_rss, BUDGET_MIB + BASELINE_MIB,
                        f"peak RSS {peak_rss:.0f} MiB (chunk buffers {peak_chunks:.0f} MiB)")
        self.assertEqual(len(self.origin.requests_for(path)), 1, "one fill for 200 clients")


class StoppedClientsTest(MemoryCase):
    upstream_allowance = 32

    def test_clients_that_stop_reading_hold_neither_fills_nor_memory(self):
        size = 24 * MiB
        path_of = lambda i: f"/bytes/{size}/stopped-{i}"  # noqa: E731
        readers = [SlowReader(self.pport, self.url(path_of(i)), self.origin.hostport, size,
                              8 * MiB, stop_after=MiB) for i in range(20)]
        self.run_readers(readers, timeout=60)
        deadline = time.monotonic() + 45
        while json.loads(self.proxy.admin("/status"))["inflight_fills"]:
            self.assertLess(time.monotonic(), deadline, "fills waited for stopped clients")
            time.sleep(0.2)
        rss = self.proxy.rss_kb() / 1024
        self.assertLess(rss, BUDGET_MIB + BASELINE_MIB, f"RSS {rss:.0f} MiB")
        for r in readers:
            r.release.set()
        for r in readers:
            r.thread.join(10)
        for i in (0, 7, 19):
            self.assert_hit(path_of(i), content.sha256_of(path_of(i), size))


class PressureOverTlsTest(MemoryCase):
    """A budget small enough that 8 intercepted downloads put it under pressure."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.pki = make_test_pki(cls.work)
        cls.origin = Origin(cls.work, tls=(cls.pki["origin.pem"], cls.pki["origin.key"]))
        cls.proxy = None
        try:
            cls.origin.start()
            cls.proxy_args = ("--intercept", LOCALHOST, "--upstream-ca-file", cls.pki["oca.pem"],
                              "--connect-ports", str(cls.origin.port), "--memory-budget",
                              "12MiB")
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def warm_up(cls):
        cls.bundle = os.path.join(cls.proxy.cache_dir, "ca", "bundle.pem")
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()

    def test_pressure_starts_and_ends_and_every_body_is_exact(self):
        size = 16 * MiB
        path_of = lambda i: f"/bytes/{size}/tls-{i}"  # noqa: E731
        mark = self.proxy.stderr_size()
        # The origin at 8 MB/s per object: the 8 fills overlap and run ahead of their 4 MiB/s
        # readers, so their chunks exceed the budget whatever else a fill does (unthrottled, the
        # fills ended one after the other, and pressure came only while sha256 jobs held
        # batches, which objects without an announced digest no longer have).
        readers = [SlowReader(self.pport, path_of(i) + "?rate=8000000",
                              f"{LOCALHOST}:{self.origin.port}", size,
                              4 * MiB, tls_host=(LOCALHOST, self.origin.port), cafile=self.bundle)
                   for i in range(8)]
        peak_rss, _, pressure = self.run_readers(readers, timeout=90)
        self.check_exact(readers, path_of)
        # Sampled every 0.25 s, /status can miss a short episode; the episode counter cannot.
        episodes = re.search(r"dlproxy_memory_pressure_episodes (\d+)",
                             self.proxy.admin("/metrics"))
        self.assertTrue(pressure or (episodes and int(episodes.group(1)) > 0),
                        "no memory pressure with a 12 MiB budget (neither /status nor metrics)")
        log = self.proxy.stderr_text(mark)
        self.assertIn("memory: ", log)
        self.assertIn("budget 12MiB", log)
        deadline = time.monotonic() + 20
        while json.loads(self.proxy.admin("/status"))["memory"]["pressure"]:
            self.assertLess(time.monotonic(), deadline, "pressure did not end")
            time.sleep(0.2)
        self.assertIn("memory: pressure over", self.proxy.stderr_text(mark))
        metrics = self.proxy.admin("/metrics")
        self.assertIn("dlproxy_memory_budget_bytes 12582912", metrics)
        self.assertRegex(metrics, r"dlproxy_memory_pressure_episodes [1-9]")
        self.assertLess(peak_rss, 12 + BASELINE_MIB + 8 * 3, f"peak RSS {peak_rss:.0f} MiB")


if __name__ == "__main__":
    unittest.main(testRunner=unittest.TextTestRunner(verbosity=2))
