#!/usr/bin/env python3
"""Which complete objects get a sha256 (content_sha256; docs/model-hosts.md "Verification").

By default ("announced") an object is hashed only when a digest was announced to check it
against; every other object is served and hit byte-exact without one (each read still checks
every chunk's XXH3), and no CPU is spent on a hash nobody could compare. With
`--content-sha256 all` every complete object gets dlproxy's own hash, as before.

  (a) default, nothing announced: no sha256 line, no byte hashed, `dlproxyctl show` says none
      was computed; the hit after it is byte-exact and hashes nothing either;
  (b) default, a correct Repr-Digest: hashed while filling and verified;
  (c) default, a wrong Repr-Digest: SHA256 MISMATCH, quarantined (the check is not weakened);
  (d) `--content-sha256 all`: the object without an announcement gets its own sha256, right.
"""

import base64
import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.pyclient import pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin()))), "proxy", "ctl",
    "dlproxyctl")
SIZE = 6 * MiB + 123  # several chunks and a short last one


def repr_digest(sha256_hex):
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


class ContentSha256Test(ProxyTestCase):
    """The default: only announced digests are hashed."""

    def setUp(self):
        super().setUp()
        self.err_mark = self.proxy.stderr_size()

    def log(self):
        return self.proxy.stderr_text(self.err_mark)

    def metric(self, name, labels=""):
        text = self.proxy.admin("/metrics")
        m = re.search(rf"^dlproxy_{re.escape(name + labels)} (\d+)", text, re.M)
        return int(m.group(1)) if m else None

    def wait_for(self, pattern, what, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m
            time.sleep(0.05)
        self.fail(f"{what}: no /{pattern}/ in the log within {timeout} s")

    def download(self, target):
        r = pycurl_request(self.pport, self.url(target), keep_body=False, timeout=60)
        self.assertEqual(r.status, 200)
        return r

    def show(self, target):
        out = subprocess.run([CTL, "--cache-dir", self.proxy.cache_dir, "--admin",
                              f"http://127.0.0.1:{self.proxy.admin_port}", "--json", "show",
                              self.url(target)], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_a_unannounced_object_is_not_hashed(self):
        path = f"/bytes/{SIZE}/plain-a.bin"
        hashed_before = self.metric("sha256_bytes_total")
        r = self.download(path)
        self.assertEqual(r.sha256, content.sha256_of(path, SIZE))
        self.wait_for(r"fetch \S+plain-a\.bin: complete", "the fill")
        self.assert_hit(path, content.sha256_of(path, SIZE))
        time.sleep(0.3)  # a verdict would follow the completion within milliseconds
        self.assertNotRegex(self.log(), r"plain-a\.bin: sha256 ")
        self.assertEqual(self.metric("sha256_bytes_total"), hashed_before)
        shown = self.show(path)
        self.assertEqual(shown.get("sha256", ""), "")
        self.assertEqual(shown.get("content"), "unverified")

    def test_b_announced_object_is_verified_while_filling(self):
        path = f"/bytes/{SIZE}/announced-b.bin"
        sha = content.sha256_of(path, SIZE)
        target = f"{path}?{urllib.parse.urlencode({'hdr_Repr-Digest': repr_digest(sha)})}"
        r = self.download(target)
        self.assertEqual(r.sha256, sha)
        m = self.wait_for(r"announced-b\.bin\S*: sha256 verified: ([0-9a-f]{64}) \((\d+) bytes, "
                          r"hashed while filling", "the verdict")
        self.assertEqual(m.group(1), sha)
        self.assertEqual(int(m.group(2)), SIZE)
        self.assertEqual(self.show(target).get("sha256"), sha)

    def test_c_wrong_announcement_is_still_caught(self):
        path = f"/bytes/{SIZE}/wrong-c.bin"
        wrong = "ab" * 32
        target = f"{path}?{urllib.parse.urlencode({'hdr_Repr-Digest': repr_digest(wrong)})}"
        pycurl_request(self.pport, self.url(target), keep_body=False, timeout=60)
        self.wait_for(r"wrong-c\.bin\S*: SHA256 MISMATCH", "the mismatch")


class ContentSha256AllTest(ContentSha256Test):
    """content_sha256 = all: every object gets dlproxy's own sha256."""

    proxy_args = ("--content-sha256", "all")

    def test_a_unannounced_object_is_not_hashed(self):
        pass  # the default's case; (d) below is its counterpart

    def test_d_unannounced_object_gets_its_own_sha256(self):
        path = f"/bytes/{SIZE}/plain-d.bin"
        r = self.download(path)
        sha = content.sha256_of(path, SIZE)
        self.assertEqual(r.sha256, sha)
        m = self.wait_for(r"plain-d\.bin: sha256 ([0-9a-f]{64}) \(no digest announced",
                          "the hash")
        self.assertEqual(m.group(1), sha)
        self.assertEqual(self.show(path).get("sha256"), sha)


if __name__ == "__main__":
    unittest.main(verbosity=2)
