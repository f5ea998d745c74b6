"""The status page and its live feed (issue 17): GET / serves one self-contained HTML page;
GET /events is a Server-Sent Events stream whose updates follow a real paced download through a
cut (a `cut` then a `resumed` recovery event, progress advancing, the object `stored`, the
download listed as a resumed MISS); the admin token is honoured as a bearer token or `?token=`
on the two read-only views only; the number of streams is bounded.

Real processes: tests/origin/origin.py (rate= paces the body, cut_at= cuts the connection once)
and dlproxy. /events is read with a raw socket, frame by frame.
"""

import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402


def admin_request(port, target, method="GET", headers=(), timeout=10):
    """One request on a fresh connection; returns (status, head text, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head.decode("latin-1"), body


class SseReader:
    """GET /events on a raw socket; frames() yields (event, data) as they arrive."""

    def __init__(self, port, target="/events"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("the stream closed before its head")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode("latin-1")
        self.bytes_read = 0

    def next_frame(self, deadline):
        """The next dispatched event (a frame with data; `retry:` alone is not one)."""
        while True:
            while b"\n\n" not in self.buf:
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    return None
                self.bytes_read += len(chunk)
                self.buf += chunk
            frame, _, self.buf = self.buf.partition(b"\n\n")
            event, data = "message", []
            for line in frame.decode().split("\n"):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
            if data:
                return event, "\n".join(data)

    def close(self):
        self.sock.close()


class StatusPageTest(ProxyTestCase):
    proxy_args = ("--retry-base-delay", "0.2", "--retry-max-delay", "0.5")

    def test_page_is_self_contained_html(self):
        status, head, body = admin_request(self.proxy.admin_port, "/")
        self.assertEqual(status, 200)
        self.assertIn("Content-Type: text/html", head)
        self.assertIn("Content-Security-Policy: default-src 'none'", head)
        page = body.decode()
        self.assertIn("new EventSource(", page)
        # No external assets: nothing is loaded from another origin.
        for attr in ("src=\"http", "href=\"http", "url(http", "@import"):
            self.assertNotIn(attr, page)
        status, head, body = admin_request(self.proxy.admin_port, "/events", method="HEAD")
        self.assertEqual(status, 200)
        self.assertIn("text/event-stream", head)
        self.assertEqual(body, b"")

    def test_events_follow_a_paced_download_through_a_cut(self):
        size = 3 * MiB
        path = f"/bytes/{size}/sp-cut"
        target = f"{path}?rate=1500000&cut_at=1200000"
        url = self.origin.url(target)
        reader = SseReader(self.proxy.admin_port)
        self.assertIn("200 OK", reader.head)
        self.assertIn("text/event-stream", reader.head)
        out = os.path.join(self.work, "sp-cut.bin")
        result = {}
        t = threading.Thread(target=lambda: result.update(r=curl_cli(
            self.proxy.port, url, out, timeout=60)))
        progress, kinds, downloads, frames = [], [], [], 0
        deadline = time.monotonic() + 40
        try:
            first = reader.next_frame(deadline)
            self.assertEqual(first[0], "snapshot")
            t.start()
            while time.monotonic() < deadline:
                frame = reader.next_frame(deadline)
                self.assertIsNotNone(frame, "the stream ended")
                event, data = frame
                self.assertEqual(event, "update")
                frames += 1
                doc = json.loads(data)
                progress += [f["bytes_done"] for f in doc["fills"] if f["url"] == url]
                kinds += [(e["kind"], e) for e in doc["events"] if e["url"] == url]
                downloads += [d for d in doc["downloads"] if d["url"] == url]
                if downloads:
                    break
        finally:
            if t.ident is not None:
                t.join(60)
            reader.close()
        r = result["r"]
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(out), content.sha256_of(path, size))
        # Progress advanced across several updates, never backwards.
        self.assertGreaterEqual(len(set(progress)), 2, progress)
        self.assertEqual(progress, sorted(progress))
        names = [k for k, _ in kinds]
        self.assertIn("cut", names)
        self.assertIn("resumed", names)
        self.assertIn("stored", names)
        self.assertLess(names.index("cut"), names.index("resumed"))
        cut = dict(kinds)["cut"]
        self.assertEqual(cut["attempt"], 1)
        self.assertLessEqual(cut["offset"], 1200000)
        resumed = dict(kinds)["resumed"]
        self.assertEqual(resumed["bytes_lost"], 0)
        self.assertGreater(resumed["outage_seconds"], 0)
        self.assertEqual(dict(kinds)["stored"]["offset"], size)
        self.assertEqual(downloads[-1]["result"], "MISS")
        self.assertTrue(downloads[-1]["recovered"])
        self.assertEqual(downloads[-1]["bytes"], size)

    def test_streams_are_bounded(self):
        readers = [SseReader(self.proxy.admin_port) for _ in range(16)]
        try:
            status, _, body = admin_request(self.proxy.admin_port, "/events")
            self.assertEqual(status, 503, body)
        finally:
            for rd in readers:
                rd.close()
        # Closed streams free their places.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            reader = SseReader(self.proxy.admin_port)
            ok = "200 OK" in reader.head
            reader.close()
            if ok:
                break
            time.sleep(0.1)
        self.assertTrue(ok)


class StatusPageTokenTest(ProxyTestCase):
    proxy_args = ("--admin-token", "s3cret+x")

    def test_token_in_query_only_for_the_read_only_views(self):
        port = self.proxy.admin_port
        self.assertEqual(admin_request(port, "/")[0], 401)
        self.assertEqual(admin_request(port, "/events")[0], 401)
        self.assertEqual(admin_request(port, "/events?token=wrong")[0], 401)
        self.assertEqual(admin_request(port, "/?token=s3cret%2Bx")[0], 200)
        reader = SseReader(port, "/events?token=s3cret%2Bx")
        try:
            self.assertIn("200 OK", reader.head)
            self.assertEqual(reader.next_frame(time.monotonic() + 10)[0], "snapshot")
        finally:
            reader.close()
        auth = (("Authorization", "Bearer s3cret+x"),)
        self.assertEqual(admin_request(port, "/events", method="HEAD", headers=auth)[0], 200)
        # Not for /status, nor for anything that changes the cache.
        self.assertEqual(admin_request(port, "/status?token=s3cret%2Bx")[0], 401)
        self.assertEqual(admin_request(port, "/cache/gc?token=s3cret%2Bx", method="POST")[0], 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
