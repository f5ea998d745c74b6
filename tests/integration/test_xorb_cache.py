"""Xet xorbs cached by content (issue 15 item 2, docs/huggingface.md "Xorb cache").

tests/origin/xet_service.py imitates the Xet download path at its real names over TLS (see
test_xet.py); a small client (test_xet.XetClient) follows the protocol as hf_xet does. Each
transfer URL is signed for one exact Range, and every reconstruction signs fresh URLs, so a
second download asks dlproxy for URLs it has never seen: what it answers from the cache, it
answers by xorb hash and range.

Checked, with the origin's request log counting the xorb bytes it sent:
  * a first download fills the cache; a second one (fresh token, reconstruction and signed URLs;
    V2 multi-range, then V1 single ranges) gets every xorb byte from the cache: 0 bytes from the
    origin, the file byte-exact (sha256); both times are printed;
  * a transfer answer cut mid-xorb on the first run: the client's retry completes the file, and
    the second run is still served entirely from the cache;
  * a corrupted stored extent is detected by its checksum and refetched, never served: the
    second run asks the origin again for the xorbs whose bytes were damaged, and is byte-exact;
    the third is served from the cache again;
  * an expired URL is never answered from the cache (the origin refuses it, 403); a URL whose
    signature is forged but unexpired is -- the capability decision docs/huggingface.md explains.
"""

import json
import os
import re
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.pyclient import new_pycurl, pycurl_request  # noqa: E402
from test_xet import REPO, XetClient, XetServiceCase  # noqa: E402
from xet_layout import FileLayout  # noqa: E402

TRANSFER = "transfer.xethub.hf.co"


class RetryingClient(XetClient):
    """XetClient whose transfer requests are retried once after a network error, with the same
    URL and Range, as @huggingface/hub and hf_xet do."""

    def fetch(self, url, spans):
        import pycurl
        try:
            return super().fetch(url, spans)
        except pycurl.error:
            self.curl = new_pycurl(self.port)
            self.curl.setopt(pycurl.CAINFO, self.cacert)
            return super().fetch(url, spans)


def asked_bytes(client):
    """Xorb bytes a download asked for (the sum of its Range values)."""
    total = 0
    for _, _, value in client.answers:
        for part in value[len("bytes="):].split(","):
            a, b = part.split("-")
            total += int(b) - int(a) + 1
    return total


class XorbCacheTest(XetServiceCase):

    def metric(self, name):
        for line in self.proxy.admin("/metrics").splitlines():
            if line.startswith(f"dlproxy_{name} "):
                return float(line.split()[1])
        return 0.0

    def wait_stored(self, at_least, timeout=20.0):
        """The store writes happen on workers after each answer ends: wait for the bytes."""
        deadline = time.monotonic() + timeout
        while self.metric("cache_bytes") < at_least:
            self.assertLess(time.monotonic(), deadline, f"cache_bytes never reached {at_least}")
            time.sleep(0.05)

    def transfers(self, mark):
        return [r for r in self.origin.log_since(mark) if r["host"] == TRANSFER]

    def download(self, name, version=2, client_class=XetClient):
        layout = FileLayout(f"{REPO}/{name}", int(re.search(r"-(\d+)\.bin$", name).group(1)))
        client = client_class(self.proxy.port, self.bundle)
        started = time.monotonic()
        file_hash, size, data = client.download(name, version)
        seconds = time.monotonic() - started
        self.assertEqual((file_hash, size), (layout.hash, layout.size))
        self.assertEqual(sha256_bytes(data), layout.hash)
        return client, seconds

    def first_run(self, name, client_class=XetClient):
        before = self.metric("cache_bytes")
        mark = self.origin.mark()
        client, seconds = self.download(name, 2, client_class)
        self.origin.records(mark, lambda r: r["host"] == TRANSFER, count=len(client.answers))
        self.wait_stored(before + asked_bytes(client))
        return client, seconds, sum(r["bytes_sent"] for r in self.transfers(mark))

    def test_second_run_served_from_cache(self):
        name = f"cached-{8 * MiB}.bin"
        first, t1, sent = self.first_run(name)
        self.assertGreater(sent, 8 * MiB)
        mark = self.origin.mark()
        second, t2 = self.download(name, 2)
        self.assertEqual(asked_bytes(second), asked_bytes(first))
        self.assertTrue(all(a[0] == 206 for a in second.answers))
        self.assertTrue(any(a[1].startswith("multipart/byteranges") for a in second.answers))
        # V1 asks other URLs, one range each, inside the ranges V2 stored.
        third, t3 = self.download(name, 1)
        time.sleep(0.3)  # the origin logs when an answer ends: let a stray one show
        self.assertEqual(self.transfers(mark), [], "no xorb request reached the origin")
        recon = [r for r in self.origin.log_since(mark) if "/reconstructions/" in r["target"]]
        self.assertEqual(len(recon), 2, "reconstructions are still asked every time")
        print(f"\nxorb cache, {8 * MiB / MiB:.0f} MiB file ({len(first.answers)} xorb requests): "
              f"first run {t1:.2f} s ({sent} xorb bytes from the origin), second {t2:.2f} s and "
              f"V1 {t3:.2f} s (0 bytes from the origin)", file=sys.stderr)

    def test_cut_mid_xorb_then_served_from_cache(self):
        name = f"cutcache-{4 * MiB}.bin"
        ctl = new_pycurl(self.proxy.port)
        import pycurl
        ctl.setopt(pycurl.PROXY, "")
        ctl.setopt(pycurl.CAINFO, self.pki["oca.pem"])
        pycurl_request(None, f"https://127.0.0.1:{self.origin.port}/_xet/control?cut=70000",
                               curl=ctl)
        ctl.close()
        mark = self.origin.mark()
        first, _, _ = self.first_run(name, RetryingClient)
        cut = [r for r in self.transfers(mark) if r["outcome"] == "cut"]
        self.assertEqual(len(cut), 1)
        again = [r for r in self.transfers(mark) if r["target"] == cut[0]["target"]]
        self.assertEqual(len(again), 2, "the cut URL was forwarded again (its ranges were partial)")
        mark = self.origin.mark()
        self.download(name, 2)
        time.sleep(0.3)
        self.assertEqual(self.transfers(mark), [])

    def test_corrupt_extent_refetched_never_served(self):
        name = f"corrupt-{2 * MiB}.bin"
        started = time.time() - 1
        self.first_run(name)
        # Flip the first stored byte of every body file written by this download: each xorb's
        # first extent is damaged.
        data_dir = os.path.join(self.proxy.cache_dir, "data")
        damaged = 0
        for root, _, files in os.walk(data_dir):
            for f in files:
                path = os.path.join(root, f)
                if os.path.getmtime(path) < started:
                    continue
                fd = os.open(path, os.O_RDWR)
                try:
                    at = os.lseek(fd, 0, os.SEEK_DATA)
                    byte = os.pread(fd, 1, at)
                    os.pwrite(fd, bytes([byte[0] ^ 0xFF]), at)
                    damaged += 1
                finally:
                    os.close(fd)
        self.assertGreater(damaged, 0)
        err = self.proxy.stderr_size()
        mark = self.origin.mark()
        self.download(name, 2)  # byte-exact: no damaged byte reached the client
        refetched = self.origin.records(mark, lambda r: r["host"] == TRANSFER, count=damaged,
                                        timeout=10)
        self.assertEqual(len(refetched), damaged, "each damaged xorb was asked of the origin")
        self.assertIn("failed its xxh3", self.proxy.stderr_text(err))
        self.wait_stored(0)
        time.sleep(0.5)  # the refetched ranges are being stored
        mark = self.origin.mark()
        self.download(name, 2)
        time.sleep(0.3)
        self.assertEqual(self.transfers(mark), [], "the refetched bytes were stored again")

    def test_expired_url_forwarded_forged_unexpired_served(self):
        name = f"expiry-{MiB}.bin"
        first, _, _ = self.first_run(name)
        client = XetClient(self.proxy.port, self.bundle)
        _, _, links = client.resolve(name)
        tok = client.token(links["xet-auth"])
        doc = client.reconstruction(links["xet-reconstruction-info"], tok["accessToken"], 2)
        h, entries = next(iter(doc["xorbs"].items()))
        spans = [(r["bytes"]["start"], r["bytes"]["end"]) for r in entries[0]["ranges"]]
        value = "bytes=" + ",".join(f"{a}-{b}" for a, b in spans)
        url = urllib.parse.urlsplit(entries[0]["url"])
        q = dict(urllib.parse.parse_qsl(url.query))

        def with_query(**changes):
            return urllib.parse.urlunsplit(url._replace(
                query=urllib.parse.urlencode({**q, **changes})))

        mark = self.origin.mark()
        expired = client.get(with_query(**{"X-Xet-Expires": str(int(time.time()) - 10)}),
                             [f"Range: {value}"])
        self.assertEqual(expired.status, 403, "an expired URL gets the origin's answer")
        self.assertEqual(len(self.origin.records(mark, lambda r: r["host"] == TRANSFER, count=1)),
                         1)
        # A forged signature that has not expired: dlproxy cannot check signatures; a xorb hash
        # learned from a reconstruction is the capability (docs/huggingface.md).
        mark = self.origin.mark()
        forged = client.get(with_query(**{"X-Xet-Signature": "0" * 64}), [f"Range: {value}"])
        self.assertEqual(forged.status, 206)
        time.sleep(0.3)
        self.assertEqual(self.transfers(mark), [])


if __name__ == "__main__":
    unittest.main()
