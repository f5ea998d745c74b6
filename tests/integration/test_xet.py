"""Xet through dlproxy: never broken (issue 15 item 1, docs/huggingface.md).

tests/origin/xet_service.py imitates huggingface.co (resolve with the Xet headers, xet-read-token),
cas-server.xethub.hf.co (reconstructions V1 and V2) and transfer.xethub.hf.co (xorb URLs signed
for one exact Range value, 403 for any other, multipart/byteranges for several ranges), over TLS
at those names; dlproxy reaches it with --connect-to and trusts its test CA with
--upstream-ca-file. All three names are intercepted (the default list has huggingface.co and
*.hf.co), so every request below is decrypted by dlproxy: the client trusts dlproxy's CA.

A small client here follows the protocol as hf_xet and huggingface.js do: resolve, token,
reconstruction, then each xorb URL with exactly the Range it was signed for, decoding the chunk
headers (single part) or the multipart parts; the file must come out byte-exact (sha256). The
origin's log proves what dlproxy sent: the exact Range on every transfer request, no 403, the
token and reconstruction asked every time (never cached). A second dlproxy whose
signed_range_hosts does not list the transfer host shows what happens without the rule: the
cache path drops the Range and the origin refuses the signature.
"""

import json
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import XET_SERVICE_PY, MiB  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.pki import make_named_pki  # noqa: E402
from dltest.pyclient import new_pycurl, pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
from xet_layout import FileLayout  # noqa: E402  (tests/origin, on sys.path through dltest)

HOSTS = ["huggingface.co", "cas-server.xethub.hf.co", "transfer.xethub.hf.co"]
REPO = "xet-org/xet-model"
SIZE = 12 * MiB
XET_ACCEPT = "application/vnd.xet-fileinfo+json"


class XetService(Origin):
    script = XET_SERVICE_PY


def xet_proxy_args(port, ca_file):
    args = ["--upstream-ca-file", ca_file]
    for h in HOSTS:
        args += ["--connect-to", f"{h}:443:127.0.0.1:{port}"]
    return args


def decode_chunks(data):
    """The bytes of the chunks in a run of serialised xorb chunks (scheme none)."""
    out, pos = [], 0
    while pos < len(data):
        assert data[pos] == 0, f"chunk version {data[pos]} at {pos}"
        clen = int.from_bytes(data[pos + 1:pos + 4], "little")
        assert data[pos + 4] == 0, "compression scheme none expected"
        out.append(data[pos + 8:pos + 8 + clen])
        pos += 8 + clen
    return out


def multipart_parts(content_type, body):
    m = re.search(r"boundary=([^;]+)", content_type)
    assert m, content_type
    delim = b"--" + m.group(1).strip('"').encode()
    parts = []
    for piece in body.split(delim)[1:]:
        if piece.startswith(b"--"):
            break
        head, _, data = piece.partition(b"\r\n\r\n")
        parts.append(data[:-2] if data.endswith(b"\r\n") else data)
    return parts


class XetClient:
    """hf_xet's download path in a few lines, through dlproxy (pycurl, dlproxy's CA)."""

    def __init__(self, proxy_port, cacert):
        self.port = proxy_port
        self.cacert = cacert
        self.curl = new_pycurl(proxy_port)
        import pycurl
        self.curl.setopt(pycurl.CAINFO, cacert)
        self.answers = []  # (status, content-type, range asked) of every transfer request

    def get(self, url, headers=()):
        return pycurl_request(self.port, url, headers=list(headers), curl=self.curl, timeout=60)

    def resolve(self, name):
        r = self.get(f"https://huggingface.co/{REPO}/resolve/main/{name}",
                     [f"Accept: {XET_ACCEPT}, */*", "Range: bytes=0-0"])
        assert r.status == 200, r.status_line
        links = dict((rel, url) for url, rel in
                     re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', r.headers.get("Link", "")))
        return r.headers.get("X-Xet-Hash"), int(r.headers.get("X-Linked-Size")), links

    def token(self, url):
        r = self.get(url)
        assert r.status == 200, r.status_line
        return json.loads(r.body)

    def reconstruction(self, url, token, version):
        url = url.replace("/v1/", f"/v{version}/")
        r = self.get(url, [f"Authorization: Bearer {token}"])
        assert r.status == 200, r.status_line
        return json.loads(r.body)

    def fetch(self, url, spans):
        value = "bytes=" + ",".join(f"{a}-{b}" for a, b in spans)
        r = self.get(url, [f"Range: {value}"])
        ctype = r.headers.get("Content-Type", "")
        self.answers.append((r.status, ctype, value))
        assert r.status == 206, f"{r.status_line} for Range {value}"
        if len(spans) == 1:
            assert r.length == spans[0][1] - spans[0][0] + 1
            return [r.body]
        assert ctype.startswith("multipart/byteranges"), ctype
        parts = multipart_parts(ctype, r.body)
        assert [len(p) for p in parts] == [b - a + 1 for a, b in spans]
        return parts

    def download(self, name, version=2):
        file_hash, size, links = self.resolve(name)
        tok = self.token(links["xet-auth"])
        doc = self.reconstruction(links["xet-reconstruction-info"], tok["accessToken"], version)
        chunks = {}  # (xorb, chunk index) -> bytes
        if version == 2:
            for h, entries in doc["xorbs"].items():
                for e in entries:
                    spans = [(r["bytes"]["start"], r["bytes"]["end"]) for r in e["ranges"]]
                    for r, part in zip(e["ranges"], self.fetch(e["url"], spans)):
                        for i, c in enumerate(decode_chunks(part)):
                            chunks[(h, r["chunks"]["start"] + i)] = c
        else:
            for h, entries in doc["fetch_info"].items():
                for e in entries:
                    span = (e["url_range"]["start"], e["url_range"]["end"])
                    for i, c in enumerate(decode_chunks(self.fetch(e["url"], [span])[0])):
                        chunks[(h, e["range"]["start"] + i)] = c
        out = b"".join(chunks[(t["hash"], i)] for t in doc["terms"]
                       for i in range(t["range"]["start"], t["range"]["end"]))
        return file_hash, size, out[doc["offset_into_first_range"]:][:size]


class XetServiceCase(ProxyTestCase):
    """One XetService at the real names (TLS, make_named_pki) and a dlproxy reaching it; no
    tests of its own. A subclass may set `cls.js` (the Node client directory) before."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.pki = make_named_pki(cls.work, HOSTS)
        cls.origin = XetService(cls.work, tls=(cls.pki["origin.pem"], cls.pki["origin.key"]))
        cls.proxy = None
        try:
            cls.origin.start()
            cls.proxy_args = xet_proxy_args(cls.origin.port, cls.pki["oca.pem"])
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def warm_up(cls):
        cls.bundle = os.path.join(cls.proxy.cache_dir, "ca", "bundle.pem")
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()


class XetExactTest(XetServiceCase):

    def transfers(self, since):
        return [r for r in self.origin.log_since(since) if r["host"] == "transfer.xethub.hf.co"]

    def check_download(self, name, version):
        layout = FileLayout(f"{REPO}/{name}", int(re.search(r"-(\d+)\.bin$", name).group(1)))
        mark = self.origin.mark()
        client = XetClient(self.proxy.port, self.bundle)
        file_hash, size, data = client.download(name, version)
        self.assertEqual(file_hash, layout.hash)
        self.assertEqual(size, layout.size)
        self.assertEqual(sha256_bytes(data), layout.hash)
        asked = [a[2] for a in client.answers]
        recs = self.origin.records(mark, lambda r: r["host"] == "transfer.xethub.hf.co",
                                   count=len(asked))
        # dlproxy sent each transfer request with exactly the client's Range, and the origin
        # accepted every signature.
        self.assertEqual(sorted(r["headers"].get("Range") for r in recs), sorted(asked))
        self.assertEqual({r["status"] for r in recs}, {206})
        return client

    def test_v2_multirange_exact(self):
        client = self.check_download(f"model-{SIZE}.bin", 2)
        multi = [a for a in client.answers if "," in a[2]]
        self.assertGreater(len(multi), 3, "the layout makes multi-range requests")
        self.assertTrue(all(a[1].startswith("multipart/byteranges") for a in multi))

    def test_v1_single_ranges_exact(self):
        client = self.check_download(f"model-v1-{4 * MiB}.bin", 1)
        self.assertTrue(all("," not in a[2] for a in client.answers))

    def test_tokens_and_reconstructions_never_cached(self):
        client = XetClient(self.proxy.port, self.bundle)
        file_hash, _, links = client.resolve(f"tok-{MiB}.bin")
        mark = self.origin.mark()
        a = client.token(links["xet-auth"])
        b = client.token(links["xet-auth"])
        self.assertNotEqual(a["accessToken"], b["accessToken"])
        for _ in range(2):
            client.reconstruction(links["xet-reconstruction-info"], b["accessToken"], 2)
        recs = self.origin.records(mark, count=4)
        self.assertEqual(len([r for r in recs if "xet-read-token" in r["target"]]), 2)
        self.assertEqual(len([r for r in recs if "/reconstructions/" in r["target"]]), 2)

    def test_cut_transfer_is_truncated_then_retry_completes(self):
        client = XetClient(self.proxy.port, self.bundle)
        _, _, links = client.resolve(f"cut-{2 * MiB}.bin")
        tok = client.token(links["xet-auth"])
        doc = client.reconstruction(links["xet-reconstruction-info"], tok["accessToken"], 2)
        h, entries = next(iter(doc["xorbs"].items()))
        e = entries[0]
        spans = [(r["bytes"]["start"], r["bytes"]["end"]) for r in e["ranges"]]
        pycurl_request(self.origin.port, "https://127.0.0.1:%d/_xet/control?cut=4000" %
                       self.origin.port, curl=self._direct())
        import pycurl
        with self.assertRaises(pycurl.error):  # never a complete-looking answer
            client.fetch(e["url"], spans)
        client.curl = new_pycurl(self.proxy.port)
        client.curl.setopt(pycurl.CAINFO, self.bundle)
        parts = client.fetch(e["url"], spans)  # the client's retry, same URL and Range
        self.assertEqual(len(parts), len(spans))

    def _direct(self):
        import pycurl
        c = pycurl.Curl()
        c.setopt(pycurl.PROXY, "")
        c.setopt(pycurl.CAINFO, self.pki["oca.pem"])
        return c


class XetWithoutRuleTest(unittest.TestCase):
    """The control: with the transfer host left out of signed_range_hosts, the request takes the
    cache path, which drops the Range; the origin refuses the signature (what issue 15 measured
    before the rule)."""

    def test_cache_path_breaks_signed_ranges(self):
        work = tempfile.mkdtemp(prefix="dlproxy-it-XetWithoutRule-")
        pki = make_named_pki(work, HOSTS)
        origin = XetService(work, tls=(pki["origin.pem"], pki["origin.key"])).start()
        proxy = None
        try:
            args = xet_proxy_args(origin.port, pki["oca.pem"]) + \
                ["--signed-range-hosts", "other.example"]
            proxy = Dlproxy(work, args).start()
            client = XetClient(proxy.port, os.path.join(proxy.cache_dir, "ca", "bundle.pem"))
            _, _, links = client.resolve(f"norule-{2 * MiB}.bin")
            tok = client.token(links["xet-auth"])
            doc = client.reconstruction(links["xet-reconstruction-info"], tok["accessToken"], 2)
            e = next(iter(doc["xorbs"].values()))[0]
            spans = [(r["bytes"]["start"], r["bytes"]["end"]) for r in e["ranges"]]
            with self.assertRaises(AssertionError):
                client.fetch(e["url"], spans)
            self.assertEqual(client.answers[-1][0], 403)
        finally:
            if proxy:
                proxy.stop()
            origin.stop()


if __name__ == "__main__":
    unittest.main()
