"""The test origin itself, tested directly (no proxy): if these fail, every other result is moot."""

import email.utils
import json
import os
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
from dltest.const import MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_bytes, sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.processes import kill_all  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
import content  # noqa: E402


class OriginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dlproxy-origin-")
        cls.origin = Origin(cls.work).start()

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def get(self, path, headers=(), method="GET"):
        c = RawConn(self.origin.port)
        try:
            return c.request(method, path, [("Host", self.origin.hostport)] + list(headers))
        finally:
            c.close()

    # --- content -------------------------------------------------------------------------------
    def test_content_layout_detects_misplacement(self):
        p = "/bytes/1000000/x"
        data = content.content(p, 0, 1000000)
        self.assertEqual(len(data), 1000000)
        self.assertEqual(data, content.content(p, 0, 1000000))
        self.assertEqual(data[70000:80000], content.content(p, 70000, 10000))
        blocks = {data[i:i + 64] for i in range(0, len(data), content.BLOCK)}
        self.assertEqual(len(blocks), (1000000 + content.BLOCK - 1) // content.BLOCK)
        self.assertNotEqual(data[:100], content.content("/bytes/1000000/y", 0, 100))
        self.assertNotEqual(data[:100], content.content(p, 0, 100, version="1"))
        self.assertIsNone(content.find_mismatch(p, data))
        shifted = data[:5000] + data[5001:] + b"x"
        self.assertEqual(content.find_mismatch(p, shifted), 5000)
        swapped = data[content.BLOCK:2 * content.BLOCK] + data[:content.BLOCK]
        self.assertEqual(content.find_mismatch(p, swapped), 15)  # the block index in the header
        self.assertEqual(content.sha256_of(p, 1000000), sha256_bytes(data))

    # --- GET, HEAD, validators -----------------------------------------------------------------
    def test_full_get_and_head(self):
        p = "/bytes/3000000/full"
        r = self.get(p)
        self.assertEqual(r.status, 200)
        self.assertEqual(sha256_bytes(r.body), content.sha256_of(p, 3000000))
        self.assertEqual(r.headers.get("Content-Length"), "3000000")
        self.assertEqual(r.headers.get("ETag"), content.etag_of(p))
        self.assertEqual(r.headers.get("Last-Modified"),
                         email.utils.formatdate(content.last_modified_of(p), usegmt=True))
        self.assertEqual(r.headers.get("Accept-Ranges"), "bytes")
        self.assertIn("Date", r.headers)
        h = self.get(p, method="HEAD")
        self.assertEqual((h.status, h.body), (200, b""))
        self.assertEqual(h.headers.get("Content-Length"), "3000000")
        self.assertEqual(h.headers.get("ETag"), r.headers.get("ETag"))

    def test_zero_and_one_byte(self):
        self.assertEqual(self.get("/bytes/0").body, b"")
        self.assertEqual(self.get("/bytes/1").body, content.content("/bytes/1", 0, 1))

    def test_ranges(self):
        p = "/bytes/1000/r"
        whole = content.content(p, 0, 1000)
        for spec, begin, end in (("10-19", 10, 20), ("990-", 990, 1000), ("-5", 995, 1000),
                                 ("900-5000", 900, 1000), ("0-0", 0, 1), ("-5000", 0, 1000)):
            r = self.get(p, [("Range", f"bytes={spec}")])
            self.assertEqual(r.status, 206, spec)
            self.assertEqual(r.headers.get("Content-Range"), f"bytes {begin}-{end - 1}/1000", spec)
            self.assertEqual(r.body, whole[begin:end], spec)
        for spec in ("1000-", "5000-6000", "-0"):
            r = self.get(p, [("Range", f"bytes={spec}")])
            self.assertEqual(r.status, 416, spec)
            self.assertEqual(r.headers.get("Content-Range"), "bytes */1000")
        for spec in ("bytes=0-1,5-6", "bytes=5-1", "items=0-1", "bytes=x-"):
            r = self.get(p, [("Range", spec)])
            self.assertEqual((r.status, r.body), (200, whole), spec)
        self.assertEqual(self.get("/bytes/0/z", [("Range", "bytes=0-")]).status, 416)
        h = self.get(p, [("Range", "bytes=0-9")], method="HEAD")
        self.assertEqual((h.status, h.headers.get("Content-Length")), (200, "1000"))

    def test_if_range(self):
        p = "/bytes/1000/ir"
        first = self.get(p)
        etag, lm = first.headers.get("ETag"), first.headers.get("Last-Modified")
        cases = ((etag, 206), ('"other"', 200), ("W/" + etag, 200), (lm, 206),
                 ("Mon, 01 Jan 2001 00:00:00 GMT", 200))
        for validator, status in cases:
            r = self.get(p, [("Range", "bytes=100-"), ("If-Range", validator)])
            self.assertEqual(r.status, status, validator)
            self.assertEqual(len(r.body), 900 if status == 206 else 1000)

    def test_conditionals(self):
        p = "/bytes/1000/cond"
        first = self.get(p)
        etag, lm = first.headers.get("ETag"), first.headers.get("Last-Modified")
        r = self.get(p, [("If-None-Match", etag)])
        self.assertEqual((r.status, r.body, r.headers.get("ETag")), (304, b"", etag))
        self.assertEqual(self.get(p, [("If-None-Match", f'"x", W/{etag}')]).status, 304)
        self.assertEqual(self.get(p, [("If-None-Match", '"x"')]).status, 200)
        self.assertEqual(self.get(p, [("If-None-Match", "*")]).status, 304)
        self.assertEqual(self.get(p, [("If-Modified-Since", lm)]).status, 304)
        self.assertEqual(self.get(p, [("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")]).status,
                         200)
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        self.assertEqual(self.get(p, [("If-None-Match", '"x"'), ("If-Modified-Since", lm)]).status, 200)
        self.assertEqual(self.get(p + "?noetag=1", [("If-None-Match", etag)]).status, 200)

    def test_header_overrides(self):
        p = "/bytes/100/o"
        r = self.get(p + "?etag=abc&lm=1600000000&cc=max-age%3D60&ct=text/x-test&setcookies=3")
        self.assertEqual(r.headers.get("ETag"), '"abc"')
        self.assertEqual(r.headers.get("Last-Modified"), "Sun, 13 Sep 2020 12:26:40 GMT")
        self.assertEqual(r.headers.get("Cache-Control"), "max-age=60")
        self.assertEqual(r.headers.get("Content-Type"), "text/x-test")
        self.assertEqual(r.headers.get_all("Set-Cookie"), [f"c{i}=v{i}; Path=/" for i in range(3)])
        self.assertEqual(r.body, content.content(p, 0, 100))
        r = self.get(p + "?noetag=1&nolm=1")
        self.assertNotIn("ETag", r.headers)
        self.assertNotIn("Last-Modified", r.headers)
        r = self.get(p + "?version=2")
        self.assertEqual(r.body, content.content(p, 0, 100, version="2"))
        self.assertEqual(r.headers.get("ETag"), content.etag_of(p, "2"))
        self.assertNotEqual(content.etag_of(p, "2"), content.etag_of(p))
        r = self.get(p + "?resp_hop=1")
        self.assertEqual(r.headers.get("X-Hop-Resp"), "secret")
        self.assertIn("Proxy-Authenticate", r.headers)

    def test_chunked(self):
        p = "/bytes/2500000/ch"
        r = self.get(p + "?chunked=1")
        self.assertEqual(r.headers.get("Transfer-Encoding"), "chunked")
        self.assertNotIn("Content-Length", r.headers)
        self.assertEqual(sha256_bytes(r.body), content.sha256_of(p, 2500000))
        r = self.get(p + "?chunked=1", [("Range", "bytes=1000-1999")])
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, content.content(p, 1000, 1000))

    # --- misbehaviour ----------------------------------------------------------------------------
    def test_cut_first_k_responses(self):
        p = "/bytes/200000/cut"
        target = p + "?cut=1000&cuts=2"
        for i in range(2):
            c = RawConn(self.origin.port)
            c.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n")
            with self.assertRaises(EOFError):
                c.read_response()
            self.assertEqual(c.buf, content.content(p, 0, 1000), f"response {i}")
            c.close()
        self.assertEqual(len(self.get(target).body), 200000)
        recs = self.origin.requests_for(target, count=3)
        self.assertEqual([r["outcome"] for r in recs], ["cut", "cut", "complete"])
        self.assertEqual([r["bytes_sent"] for r in recs], [1000, 1000, 200000])

    def test_cut_is_relative_to_response_body(self):
        p = "/bytes/200000/cutrel"
        target = p + "?cut=1000"
        c = RawConn(self.origin.port)
        c.send(f"GET {target} HTTP/1.1\r\nHost: x\r\nRange: bytes=5000-\r\n\r\n")
        with self.assertRaises(EOFError):
            c.read_response()
        self.assertEqual(c.buf, content.content(p, 5000, 1000))
        c.close()

    def test_cut_at_absolute_offset(self):
        p = "/bytes/500000/cutat"
        target = p + "?cut_at=300000&cuts=2"
        # a range starting at the cut offset is not cut (and does not use up a cut)
        r = self.get(target, [("Range", "bytes=300000-")])
        self.assertEqual((r.status, len(r.body)), (206, 200000))
        for begin in (0, 100000):
            c = RawConn(self.origin.port)
            c.send(f"GET {target} HTTP/1.1\r\nHost: x\r\nRange: bytes={begin}-\r\n\r\n")
            with self.assertRaises(EOFError):
                c.read_response()
            self.assertEqual(c.buf, content.content(p, begin, 300000 - begin))
            c.close()
        self.assertEqual(len(self.get(target).body), 500000)

    def test_cut_rst(self):
        target = "/bytes/3000000/rst?cut=100000&cut_mode=rst"
        c = RawConn(self.origin.port)
        c.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n")
        with self.assertRaises(EOFError):
            c.read_response()
        self.assertLessEqual(len(c.buf), 100000)
        c.close()

    def test_stall(self):
        p = "/bytes/100000/stall"
        target = p + "?stall=5000&stall_secs=1"
        t = time.monotonic()
        r = self.get(target)
        self.assertGreaterEqual(time.monotonic() - t, 0.95)
        self.assertEqual(r.body, content.content(p, 0, 100000))
        t = time.monotonic()
        self.get(target)
        self.assertLess(time.monotonic() - t, 0.5)

    def test_forced_status(self):
        target = "/bytes/1000/st?status=503&times=2&retry_after=3"
        for _ in range(2):
            r = self.get(target)
            self.assertEqual((r.status, r.headers.get("Retry-After")), (503, "3"))
        self.assertEqual(self.get(target).status, 200)
        self.assertEqual(self.get("/bytes/10/st2?status=500&times=always").status, 500)
        self.assertEqual(self.get("/bytes/10/st2?status=500&times=always").status, 500)

    def test_norange(self):
        p = "/bytes/1000/nr"
        r = self.get(p + "?norange=1", [("Range", "bytes=10-")])
        self.assertEqual((r.status, len(r.body), r.headers.get("Accept-Ranges")), (200, 1000, "none"))

    def test_rate(self):
        t = time.monotonic()
        r = self.get("/bytes/500000/rate?rate=1000000")
        self.assertEqual(len(r.body), 500000)
        self.assertGreater(time.monotonic() - t, 0.4)

    def test_change_etag_after(self):
        p = "/bytes/100000/chg"
        target = p + "?change_etag_after=1"
        a = self.get(target)
        b = self.get(target)
        self.assertEqual(a.headers.get("ETag"), content.etag_of(p))
        self.assertEqual(b.headers.get("ETag"), content.etag_of(p, "0.c1"))
        self.assertEqual(b.body, content.content(p, 0, 100000, "0.c1"))
        r = self.get(target, [("Range", "bytes=50000-"), ("If-Range", a.headers.get("ETag"))])
        self.assertEqual((r.status, r.body), (200, b.body))

    def test_delay_headers(self):
        t = time.monotonic()
        r = self.get("/bytes/10/d?delay_headers=1")
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.95)

    def test_redirect_and_status(self):
        r = self.get("/redirect?to=http://127.0.0.1:1/x&code=307")
        self.assertEqual((r.status, r.headers.get("Location")), (307, "http://127.0.0.1:1/x"))
        r = self.get("/status/418")
        self.assertEqual(r.status, 418)
        r = self.get("/status/299?reason=Custom+Thing")
        self.assertEqual((r.status, r.reason), (299, "Custom Thing"))
        r = self.get("/status/204")
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertEqual(self.get("/nope").status, 404)

    def test_echo(self):
        body = os.urandom(3 * MiB + 17)
        c = RawConn(self.origin.port)
        r = c.request("POST", "/echo", [("Host", "x"), ("Content-Type", "x/y")], body)
        self.assertEqual((r.status, r.body, r.headers.get("Content-Type")), (200, body, "x/y"))
        self.assertEqual(r.headers.get("X-Request-Body-Sha256"), sha256_bytes(body))
        self.assertEqual(r.headers.get("X-Request-Transfer-Encoding"), "length")
        c.close()
        path = os.path.join(self.work, "upload.bin")
        with open(path, "wb") as f:
            f.write(body)
        out = os.path.join(self.work, "echo.out")
        res = curl_cli(None, self.origin.url("/echo"), out,
                       ["-T", path, "-H", "Transfer-Encoding: chunked"])
        self.assertEqual(res.status, 200)
        self.assertEqual(res.headers.get("X-Request-Transfer-Encoding"), "chunked")
        self.assertEqual(sha256_file(out), sha256_bytes(body))
        self.assertEqual(self.get("/echo").status, 405)

    def test_headers_endpoint(self):
        r = self.get("/headers", [("X-A", "1"), ("X-A", "2"), ("Via", "1.1 test")])
        doc = json.loads(r.body)
        self.assertEqual(doc["method"], "GET")
        self.assertEqual(doc["request_line"], "GET /headers HTTP/1.1")
        self.assertIn(["X-A", "1"], doc["headers"])
        self.assertIn(["X-A", "2"], doc["headers"])
        self.assertIn(["Via", "1.1 test"], doc["headers"])

    def test_endless_and_badlength(self):
        c = RawConn(self.origin.port)
        c.send("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        c.read_head()
        while len(c.buf) < 2 * MiB:
            self.assertTrue(c._fill())
        c.close()
        c = RawConn(self.origin.port)
        c.send("GET /badlength?announce=100000&send=40000 HTTP/1.1\r\nHost: x\r\n\r\n")
        with self.assertRaises(EOFError):
            c.read_response()
        self.assertEqual(c.buf, content.content("/badlength", 0, 40000))
        c.close()

    def test_keepalive_and_request_log(self):
        mark = self.origin.mark()
        c = RawConn(self.origin.port)
        for i in range(3):
            r = c.request("GET", f"/bytes/100/ka{i}", [("Host", "h"), ("Range", "bytes=0-9"),
                                                        ("If-Range", '"zz"'), ("Via", "1.1 v")])
            self.assertEqual(r.status, 200)
        c.close()
        recs = self.origin.records(mark, lambda r: "/ka" in r["target"], count=3)
        self.assertEqual(len({r["client_port"] for r in recs}), 1)
        self.assertEqual(len({r["conn"] for r in recs}), 1)
        self.assertEqual([r["conn_req"] for r in recs], [0, 1, 2])
        self.assertEqual(recs[0]["headers"], {"Host": "h", "Range": "bytes=0-9", "If-Range": '"zz"',
                                              "Via": "1.1 v"})
        self.assertEqual((recs[0]["status"], recs[0]["bytes_sent"]), (200, 100))

    def test_absolute_form_target(self):
        r = self.get(f"http://{self.origin.hostport}/bytes/10/abs")
        self.assertEqual(r.body, content.content("/bytes/10/abs", 0, 10))

    def test_many_concurrent_keepalive_connections(self):
        n = 500
        conns = [RawConn(self.origin.port) for _ in range(n)]
        for round_ in range(2):
            for i, c in enumerate(conns):
                c.send(f"GET /bytes/65536/many{i % 10} HTTP/1.1\r\nHost: x\r\n\r\n")
            for i, c in enumerate(conns):
                r = c.read_response()
                self.assertEqual(r.body, content.content(f"/bytes/65536/many{i % 10}", 0, 65536))
        for c in conns:
            c.close()

    def test_streams_256_mib_fast(self):
        p = "/bytes/268435456/fast"
        out = os.path.join(self.work, "fast.bin")
        t = time.monotonic()
        res = curl_cli(None, self.origin.url(p), out)
        elapsed = time.monotonic() - t
        self.assertEqual(res.rc, 0, res.stderr)
        self.assertEqual(sha256_file(out), content.sha256_of(p, 268435456))
        os.unlink(out)
        self.assertLess(elapsed, 15)


class OriginLifecycleTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="dlproxy-origin-life-")

    def tearDown(self):
        kill_all()
        shutil.rmtree(self.work, ignore_errors=True)

    def test_state_survives_restart_on_same_port(self):
        o = Origin(self.work).start()
        port = o.port
        p = "/bytes/100000/persist"
        target = p + "?cut=100&cuts=2"

        def fetch():
            c = RawConn(o.port)
            c.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                return len(c.read_response().body)
            except EOFError:
                return len(c.buf)
            finally:
                c.close()

        self.assertEqual(fetch(), 100)
        o.restart()
        self.assertEqual(o.port, port)
        self.assertEqual(fetch(), 100)
        o.kill9()
        o.start()
        self.assertEqual(fetch(), 100000)
        o.stop()

    def test_sigterm_exits_zero(self):
        o = Origin(self.work, state_dir=None).start()
        c = RawConn(o.port)  # an idle keep-alive connection must not block the exit
        c.request("GET", "/bytes/10", [("Host", "x")])
        o.proc.send_signal(signal.SIGTERM)
        self.assertEqual(o.proc.wait(5), 0)
        c.close()

    def test_tls(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl CLI not available")
        cert, key = os.path.join(self.work, "cert.pem"), os.path.join(self.work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        o = Origin(self.work, tls=(cert, key)).start()
        p = "/bytes/2000000/tls"
        out = os.path.join(self.work, "tls.bin")
        res = curl_cli(None, o.url(p), out, ["--cacert", cert])
        self.assertEqual((res.rc, res.status), (0, 200), res.stderr)
        self.assertEqual(sha256_file(out), content.sha256_of(p, 2000000))
        res = curl_cli(None, o.url(p), out, ["--cacert", cert, "-r", "1000-1999"])
        self.assertEqual(res.status, 206)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content.content(p, 1000, 1000))
        o.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
