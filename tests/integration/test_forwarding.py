"""Forwarding through dlproxy: bodies arrive byte-exact, headers follow RFC 9110 proxy rules,
connections are kept alive on both sides."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_bytes, sha256_file  # noqa: E402
from dltest.pyclient import new_pycurl, pycurl_request, requests_session  # noqa: E402
from dltest.rawhttp import Headers, RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

HOP_BY_HOP_REQUEST = [
    ("Connection", "keep-alive, X-Foo"),
    ("X-Foo", "must-not-arrive"),
    ("Keep-Alive", "timeout=5, max=100"),
    ("Proxy-Connection", "keep-alive"),
    ("TE", "trailers, deflate"),
    ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
]


class BodiesTest(ProxyTestCase):
    """GET bodies of every size arrive sha256-exact."""

    def check_curl(self, path, n, args=()):
        out = os.path.join(self.work, "body.bin")
        res = curl_cli(self.pport, self.url(path), out, args)
        self.assertEqual((res.rc, res.status), (0, 200), res.stderr)
        self.assertEqual(os.path.getsize(out), n)
        self.assertEqual(sha256_file(out), content.sha256_of(path.split("?")[0], n))
        os.unlink(out)
        return res

    def check_pycurl(self, path, n):
        r = pycurl_request(self.pport, self.url(path), keep_body=False)
        self.assertEqual((r.status, r.length), (200, n))
        self.assertEqual(r.sha256, content.sha256_of(path.split("?")[0], n))
        return r

    def test_small_bodies_curl(self):
        for n in (0, 1, MiB):
            with self.subTest(n=n):
                res = self.check_curl(f"/bytes/{n}/curl", n)
                self.assertEqual(res.headers.get("Content-Length"), str(n))

    def test_small_bodies_pycurl(self):
        for n in (0, 1, MiB):
            with self.subTest(n=n):
                self.check_pycurl(f"/bytes/{n}/pycurl", n)

    def test_256_mib_curl_cli(self):
        self.check_curl("/bytes/268435456/big-curl", 268435456)

    def test_256_mib_pycurl(self):
        self.check_pycurl("/bytes/268435456/big-pycurl", 268435456)

    def test_chunked_origin_response(self):
        for n in (0, 1, 3 * MiB + 5):
            with self.subTest(n=n):
                self.check_curl(f"/bytes/{n}/chunked?chunked=1", n)
                self.check_pycurl(f"/bytes/{n}/chunked-py?chunked=1", n)

    def test_requests_library(self):
        p = "/bytes/2000000/requests"
        with requests_session(self.pport) as s:
            r = s.get(self.url(p), timeout=60)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(sha256_bytes(r.content), content.sha256_of(p, 2000000))


class ShortBodyTest(ProxyTestCase):
    """An origin that closes before the announced length, with nothing to resume from (no
    validators, no ranges): the client must see a truncated transfer, never a complete one."""

    def test_origin_short_body_reaches_client_truncated(self):
        target = "/badlength?announce=1000000&send=400000"
        out = os.path.join(self.work, "short.bin")
        res = curl_cli(self.pport, self.url(target), out, timeout=60)
        self.assertEqual(res.status, 200, res.stderr)
        self.assertNotEqual(res.rc, 0, "a short origin body was delivered as if complete")
        size = os.path.getsize(out) if os.path.exists(out) else 0
        self.assertLess(size, 1000000)
        with open(out, "rb") as f:
            got = f.read()
        self.assertEqual(got, content.content("/badlength", 0, len(got)))


class UploadTest(ProxyTestCase):
    """Request bodies (POST/PUT, Content-Length or chunked) reach the origin intact."""

    def upload_file(self, n, name):
        data = os.urandom(n)
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return data, path

    def check_echo(self, res, out, data):
        self.assertEqual((res.rc, res.status), (0, 200), res.stderr)
        self.assertEqual(res.headers.get("X-Request-Body-Sha256"), sha256_bytes(data))
        self.assertEqual(res.headers.get("X-Request-Body-Length"), str(len(data)))
        self.assertEqual(sha256_file(out), sha256_bytes(data))

    def test_post_content_length(self):
        data, path = self.upload_file(3 * MiB + 123, "post.bin")
        out = os.path.join(self.work, "post.out")
        res = curl_cli(self.pport, self.url("/echo"), out,
                       ["--data-binary", "@" + path, "-H", "Content-Type: application/x-test"])
        self.check_echo(res, out, data)
        self.assertEqual(res.headers.get("Content-Type"), "application/x-test")

    def test_put_content_length(self):
        data, path = self.upload_file(2 * MiB + 7, "put.bin")
        out = os.path.join(self.work, "put.out")
        res = curl_cli(self.pport, self.url("/echo"), out, ["-T", path])
        self.check_echo(res, out, data)

    def test_post_chunked_request_body(self):
        data, path = self.upload_file(3 * MiB + 1, "chunked.bin")
        out = os.path.join(self.work, "chunked.out")
        res = curl_cli(self.pport, self.url("/echo"), out,
                       ["--data-binary", "@" + path, "-H", "Transfer-Encoding: chunked"])
        self.check_echo(res, out, data)

    def test_put_chunked_request_body(self):
        data, path = self.upload_file(MiB + 3, "chunked-put.bin")
        out = os.path.join(self.work, "chunked-put.out")
        res = curl_cli(self.pport, self.url("/echo"), out,
                       ["-T", path, "-H", "Transfer-Encoding: chunked"])
        self.check_echo(res, out, data)

    def test_post_pycurl_and_requests(self):
        data = os.urandom(MiB + 11)
        r = pycurl_request(self.pport, self.url("/echo"), method="POST", body=data,
                           headers=["Content-Type: application/x-py", "Expect:"])
        self.assertEqual((r.status, r.sha256), (200, sha256_bytes(data)))
        with requests_session(self.pport) as s:
            r = s.put(self.url("/echo"), data=data, timeout=60)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["X-Request-Body-Sha256"], sha256_bytes(data))
        self.assertEqual(r.content, data)

    def test_empty_post(self):
        res = curl_cli(self.pport, self.url("/echo"), None, ["-X", "POST", "-H", "Content-Length: 0"])
        self.assertEqual(res.status, 200, res.stderr)
        self.assertEqual(res.headers.get("X-Request-Body-Length"), "0")


class HeadersTest(ProxyTestCase):
    """Status line and end-to-end headers pass unchanged; hop-by-hop ones do not; Via is added."""

    def test_head_has_headers_and_no_body(self):
        p = "/bytes/5000000/head"
        with RawConn(self.pport) as c:
            r = c.request("HEAD", self.url(p), [("Host", self.origin.hostport)])
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("Content-Length"), "5000000")
            self.assertEqual(r.headers.get("ETag"), content.etag_of(p))
            # the next response on the connection must start right after the HEAD's head:
            # any body bytes sent for the HEAD would corrupt it
            r2 = c.request("GET", self.url("/bytes/100/after-head"), [("Host", self.origin.hostport)])
            self.assertEqual((r2.status, r2.body), (200, content.content("/bytes/100/after-head", 0, 100)))
        res = curl_cli(self.pport, self.url(p), None, ["-I"])
        self.assertEqual((res.rc, res.status), (0, 200), res.stderr)

    def test_end_to_end_headers_forwarded(self):
        p = "/bytes/1000/e2e"
        q = "?cc=public%2C%20max-age%3D60&ct=application/x-e2e&lm=1600000000&etag=e2e-tag"
        direct = curl_cli(None, self.url(p + q), None)
        via = curl_cli(self.pport, self.url(p + q), None)
        self.assertEqual(via.status, 200, via.stderr)
        for name in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges",
                     "Cache-Control"):
            self.assertEqual(via.headers.get(name), direct.headers.get(name), name)
        self.assertTrue(via.status_line.startswith("HTTP/1.1 200"), via.status_line)

    def test_status_codes_forwarded(self):
        for code in (200, 201, 204, 301, 400, 403, 404, 410, 418, 500, 502, 503, 599):
            with self.subTest(code=code):
                res = curl_cli(self.pport, self.url(f"/status/{code}"), None)
                self.assertEqual((res.rc, res.status), (0, code), res.stderr)

    def test_reason_phrase_forwarded(self):
        with RawConn(self.pport) as c:
            r = c.request("GET", self.url("/status/299?reason=Custom+Reason"),
                          [("Host", self.origin.hostport)])
        self.assertEqual((r.status, r.reason), (299, "Custom Reason"))

    def test_repeated_set_cookie_kept_separate(self):
        res = curl_cli(self.pport, self.url("/bytes/10/cookies?setcookies=3"), None)
        self.assertEqual(res.status, 200, res.stderr)
        self.assertEqual(res.headers.get_all("Set-Cookie"), [f"c{i}=v{i}; Path=/" for i in range(3)])

    def test_hop_by_hop_request_headers_removed_and_via_added(self):
        args = []
        for k, v in HOP_BY_HOP_REQUEST + [("X-End-To-End", "kept")]:
            args += ["-H", f"{k}: {v}"]
        out = os.path.join(self.work, "headers.json")
        res = curl_cli(self.pport, self.url("/headers"), out, args)
        self.assertEqual(res.status, 200, res.stderr)
        with open(out) as f:
            doc = json.load(f)
        got = Headers(doc["headers"])
        self.assertEqual(got.get("X-End-To-End"), "kept")
        for name in ("X-Foo", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization"):
            self.assertNotIn(name, got, f"{name} reached the origin: {doc['headers']}")
        self.assertNotIn("trailers, deflate", got.get_all("TE"), doc["headers"])
        for value in got.get_all("Connection"):
            self.assertNotIn("x-foo", value.lower(), doc["headers"])
        self.assertTrue(got.get_all("Via"), f"no Via at the origin: {doc['headers']}")
        self.assertEqual(got.get("Host"), self.origin.hostport)
        self.assertTrue(doc["request_line"].startswith("GET /headers HTTP/1.1"), doc["request_line"])
        self.assertTrue(res.headers.get_all("Via"), f"no Via on the response: {res.headers}")

    def test_host_taken_from_absolute_uri(self):
        # RFC 9112 §3.2.2: a proxy replaces a Host that disagrees with the absolute-form target
        with RawConn(self.pport) as c:
            r = c.request("GET", self.url("/headers"), [("Host", "bogus.example")])
        self.assertEqual(r.status, 200, r.head)
        got = Headers(json.loads(r.body)["headers"])
        self.assertEqual(got.get_all("Host"), [self.origin.hostport])

    def test_via_appended_to_existing(self):
        out = os.path.join(self.work, "via.json")
        res = curl_cli(self.pport, self.url("/headers"), out, ["-H", "Via: 1.0 upstream-hop"])
        self.assertEqual(res.status, 200, res.stderr)
        with open(out) as f:
            vias = ", ".join(Headers(json.load(f)["headers"]).get_all("Via"))
        self.assertIn("1.0 upstream-hop", vias)
        self.assertNotEqual(vias.strip(), "1.0 upstream-hop", "dlproxy did not add itself to Via")

    def test_hop_by_hop_response_headers_removed(self):
        res = curl_cli(self.pport, self.url("/bytes/10/resp-hop?resp_hop=1"), None)
        self.assertEqual(res.status, 200, res.stderr)
        for name in ("X-Hop-Resp", "Keep-Alive", "Proxy-Authenticate"):
            self.assertNotIn(name, res.headers, f"{name} reached the client: {res.headers}")
        for value in res.headers.get_all("Connection"):
            self.assertNotIn("x-hop-resp", value.lower())

    def test_redirect_passed_through_not_followed(self):
        target = f"/redirect?to=http://{self.origin.hostport}/bytes/10/redirected&code=302"
        res = curl_cli(self.pport, self.url(target), None)
        self.assertEqual(res.status, 302, res.stderr)
        self.assertEqual(res.headers.get("Location"), f"http://{self.origin.hostport}/bytes/10/redirected")
        self.origin.requests_for(target, self.mark, count=1)
        self.assertEqual([r["target"] for r in self.new_requests()], [target],
                         "the proxy must not follow the redirect itself")
        for code in (301, 303, 307, 308):
            res = curl_cli(self.pport, self.url(f"/redirect?to=/elsewhere&code={code}"), None)
            self.assertEqual((res.status, res.headers.get("Location")), (code, "/elsewhere"))


class KeepAliveTest(ProxyTestCase):
    """Several requests per client connection; upstream connections are reused."""

    def test_raw_keepalive_and_upstream_reuse(self):
        paths = [f"/bytes/{100000 + i}/ka{i}" for i in range(5)]
        with RawConn(self.pport) as c:
            for p in paths:
                r = c.request("GET", self.url(p), [("Host", self.origin.hostport)])
                self.assertEqual(r.status, 200)
                self.assertEqual(sha256_bytes(r.body), content.sha256_of(p, len(r.body)))
                self.assertEqual(len(r.body), int(p.split("/")[2]))
        recs = self.origin.records(self.mark, lambda r: "/ka" in r["target"], count=5)
        self.assertEqual(len(recs), 5, recs)
        ports = [r["client_port"] for r in recs]
        reused = sum(1 for a, b in zip(ports, ports[1:]) if a == b)
        self.assertGreaterEqual(reused, 1, f"no upstream connection reuse: origin saw ports {ports}")

    def test_pycurl_reuses_client_connection(self):
        c = new_pycurl(self.pport)
        try:
            for i in range(4):
                p = f"/bytes/{50000 + i}/pyka{i}"
                r = pycurl_request(self.pport, self.url(p), curl=c)
                self.assertEqual(r.sha256, content.sha256_of(p, 50000 + i))
                if i > 0:
                    self.assertEqual(r.num_connects, 0, f"request {i} opened a new connection")
        finally:
            c.close()

    def test_pipelined_requests(self):
        paths = [f"/bytes/{3000 + i}/pipe{i}" for i in range(3)]
        with RawConn(self.pport) as c:
            c.send("".join(f"GET {self.url(p)} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n\r\n"
                           for p in paths))
            for p in paths:
                r = c.read_response()
                self.assertEqual(r.body, content.content(p, 0, int(p.split("/")[2])), p)

    def test_connection_close_from_client(self):
        with RawConn(self.pport) as c:
            r = c.request("GET", self.url("/bytes/10/close"), [("Host", self.origin.hostport),
                                                              ("Connection", "close")])
            self.assertEqual(r.status, 200)
            self.assertTrue(c.closed_by_peer(5), "dlproxy kept the connection after Connection: close")

    def test_http10_client(self):
        with RawConn(self.pport) as c:
            c.send(f"GET {self.url('/bytes/1000/h10')} HTTP/1.0\r\nHost: {self.origin.hostport}\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, content.content("/bytes/1000/h10", 0, 1000)))

    def test_upgrade_request_then_pipelined_request(self):
        # Upgrade is hop-by-hop: the proxy forwards a plain GET and stays in HTTP/1, so the request
        # after it is answered too (llhttp pauses once more after such a request; the parser must
        # not wait there for a response that never comes).
        paths = ["/bytes/700/upg0", "/bytes/800/upg1"]
        with RawConn(self.pport) as c:
            c.send(f"GET {self.url(paths[0])} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n"
                   "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"
                   f"GET {self.url(paths[1])} HTTP/1.1\r\nHost: {self.origin.hostport}\r\n\r\n")
            for p in paths:
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, content.content(p, 0, int(p.split("/")[2]))), p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
