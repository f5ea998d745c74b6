"""Mirror mode (issue 15 item 4, docs/huggingface.md "Mirror mode"): HF_ENDPOINT pointed at
dlproxy's plain listener, no proxy settings and no CA on the client.

tests/origin/model_hosts.py imitates huggingface.co and its CDNs at their real names over TLS
(dltest.modelhosts: dlproxy reaches it with --connect-to and --upstream-ca-file). Clients here
talk plain HTTP to http://127.0.0.1:P/... as they would to https://huggingface.co:
  - Python requests fetches resolve URLs as ComfyUI-Launcher does (follow redirects, stream,
    sha256): the resolve's 302 to cas-bridge / cdn-lfs comes back as a mirror URL
    (/_mirror/<host>/...) and the 307 to a relative path stays relative;
  - @huggingface/hub's downloadFile with hubUrl = dlproxy (Node's own fetch, no agent).
Checked: byte-exact, every request through dlproxy (the imitation sees Via), the second download
a hit (the CDN side sends no body bytes), hits across the two ways in (HTTPS_PROXY and mirror share
cache keys), /_mirror/ refused for other hosts, loops still refused.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.rawhttp import RawConn  # noqa: E402
import requests  # noqa: E402
from dltest.modelhosts import ModelHostsCase  # noqa: E402
import model_hosts  # noqa: E402  (tests/origin)
from test_xet_js import JS_SRC, install_js_clients  # noqa: E402


def mirror_js_dir():
    """<build>/js with the pinned client (test_xet_js's npm ci) and this test's driver."""
    dest = install_js_clients()
    shutil.copyfile(os.path.join(JS_SRC, "mirror_download.mjs"),
                    os.path.join(dest, "mirror_download.mjs"))
    return dest


def node_mirror_download(js, hub_url, repo, path):
    """downloadFile(hubUrl=hub_url) in Node: {"sha256", "bytes", "seconds", "type"}."""
    args = json.dumps({"repo": repo, "path": path, "hubUrl": hub_url})
    p = subprocess.run(["node", os.path.join(js, "mirror_download.mjs"), args], cwd=js,
                       capture_output=True, timeout=60, env=clean_env())
    if p.returncode != 0:
        raise AssertionError(p.stderr.decode(errors="replace")[-3000:])
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def plain_session():
    """requests with no proxy and the system trust only: what HF_ENDPOINT=http://... gets."""
    s = requests.Session()
    s.trust_env = False
    s.proxies = {}
    return s


class MirrorModeTest(ModelHostsCase):
    @property
    def base(self):
        return f"http://127.0.0.1:{self.pport}"

    def mirror_get(self, path, sha256):
        """The launcher's download through the mirror: (response, redirect history)."""
        h = hashlib.sha256()
        with plain_session() as s, s.get(self.base + path, stream=True, timeout=60) as r:
            r.raise_for_status()
            for chunk in r.iter_content(chunk_size=10 * 1024):
                h.update(chunk)
            history = [(x.status_code, x.headers.get("Location")) for x in r.history]
        self.assertEqual(h.hexdigest(), sha256, path)
        return r, history

    def client_records(self, since):
        """The imitation's log without its control requests (the reset in setUp is logged
        asynchronously and may come after a mark)."""
        return [r for r in self.hosts.log_since(since)
                if not r["target"].startswith("/_imitation/")]

    def assert_through_dlproxy(self, since):
        recs = self.client_records(since)
        self.assertTrue(recs)
        for rec in recs:
            self.assertIn("dlproxy", (rec.get("headers") or {}).get("Via", ""), rec)

    def test_resolve_redirect_to_cdn_byte_exact_then_hit(self):
        for repo, cdn in (("org/model", model_hosts.XET_BRIDGE),
                          ("org/lfs-model", model_hosts.LFS_CDN)):
            with self.subTest(repo=repo):
                f = model_hosts.hf_file(f"mirror-{repo[4:]}-6M.safetensors")
                path = f"/{repo}/resolve/main/{f.name}"
                mark = self.hosts.mark()
                r, history = self.mirror_get(path, f.sha256)
                self.assertEqual(history[0][0], 302)
                self.assertTrue(history[0][1].startswith(f"{self.base}/_mirror/{cdn}/"), history)
                self.assertTrue(r.url.startswith(f"{self.base}/_mirror/{cdn}/"), r.url)
                first = self.cdn_bytes(f.object_id, mark)
                self.assertEqual(first, f.size)
                self.assert_through_dlproxy(mark)
                mark = self.hosts.mark()
                self.mirror_get(path, f.sha256)
                second = self.cdn_bytes(f.object_id, mark)
                # A hit of an object stored by its sha256 is authorised by reading its first
                # byte with the client's URL (docs/model-hosts.md "With authorisation").
                self.assertLessEqual(second, 1, "the second download is a hit")
                print(f"\nmirror {repo}: first download {first / MiB:.1f} MiB from the origin, "
                      f"second {second} bytes (hit ratio {1 - second / f.size:.3f})",
                      file=sys.stderr)

    def test_link_and_location_rewritten_signature_kept(self):
        f = model_hosts.hf_file("links-1M.safetensors")
        with plain_session() as s:
            r = s.get(f"{self.base}/org/model/resolve/main/{f.name}", allow_redirects=False,
                      timeout=30)
        self.assertEqual(r.status_code, 302)
        loc = r.headers["Location"]
        prefix = f"{self.base}/_mirror/{model_hosts.XET_BRIDGE}/"
        self.assertTrue(loc.startswith(prefix), loc)
        links = r.headers["Link"]
        self.assertIn(f"<{self.base}/api/models/org/model/xet-read-token/", links)
        self.assertIn(f"<{self.base}/_mirror/cas-server.xethub.hf.co/v1/reconstructions/", links)
        self.assertNotIn("https://", links)
        self.assertEqual(r.headers["X-Linked-Etag"], f'"{f.sha256}"')
        # The CDN saw the URL the origin signed, byte for byte (its signature check passed).
        mark = self.hosts.mark()
        with plain_session() as s:
            got = s.get(loc, timeout=30)
        self.assertEqual((got.status_code, hashlib.sha256(got.content).hexdigest()),
                         (200, f.sha256))
        recs = [x for x in self.hosts.log_since(mark) if x["host"] == model_hosts.XET_BRIDGE]
        self.assertTrue(recs)
        self.assertTrue(loc.endswith(recs[0]["target"]), (loc, recs[0]["target"]))

    def test_relative_redirect_stays_relative(self):
        f = model_hosts.hf_file("config.json")
        r, history = self.mirror_get(f"/org/model/resolve/main/{f.name}", f.sha256)
        self.assertEqual(history[0][0], 307)
        self.assertTrue(history[0][1].startswith("/api/resolve-cache/models/org/model/"), history)
        self.assertEqual(r.headers.get("ETag"), f'"{f.git_sha1}"')

    def test_hits_shared_with_https_proxy_both_ways(self):
        a = model_hosts.hf_file("shared-a-3M.safetensors")
        with self.session() as s:  # through HTTPS_PROXY with dlproxy's CA first
            r = s.get(self.hf_url(a.name), timeout=60)
            self.assertEqual(hashlib.sha256(r.content).hexdigest(), a.sha256)
        mark = self.hosts.mark()
        self.mirror_get(f"/org/model/resolve/main/{a.name}", a.sha256)
        # At most the one byte the hit's authorisation reads.
        self.assertLessEqual(self.cdn_bytes(a.object_id, mark), 1, "proxy first, mirror hit")

        b = model_hosts.hf_file("shared-b-3M.safetensors")
        self.mirror_get(f"/org/model/resolve/main/{b.name}", b.sha256)
        mark = self.hosts.mark()
        with self.session() as s:
            r = s.get(self.hf_url(b.name), timeout=60)
            self.assertEqual(hashlib.sha256(r.content).hexdigest(), b.sha256)
        self.assertLessEqual(self.cdn_bytes(b.object_id, mark), 1, "mirror first, proxy hit")

    def test_gated_repo_token_reaches_the_hub_only(self):
        # requests keeps Authorization across a redirect that stays on one host, and through the
        # mirror the redirect to the CDN does: dlproxy drops it from the signed CDN request, as
        # the client itself would on the real cross-host redirect.
        f = model_hosts.hf_file("gated-mirror-2M.safetensors")
        path = f"/org/gated-model/resolve/main/{f.name}"
        with plain_session() as s:
            r = s.get(self.base + path, timeout=30)
            self.assertEqual(r.status_code, 401)
        mark = self.hosts.mark()
        h = hashlib.sha256()
        with plain_session() as s, s.get(self.base + path, timeout=60, stream=True,
                                         headers={"Authorization": "Bearer hf_testtoken"}) as r:
            self.assertEqual(r.status_code, 200)
            for chunk in r.iter_content(chunk_size=64 * 1024):
                h.update(chunk)
        self.assertEqual(h.hexdigest(), f.sha256)
        recs = self.client_records(mark)
        self.assertEqual([x["auth"] for x in recs if x["host"] == "huggingface.co"], ["Bearer"])
        cdn = [x for x in recs if x["host"] in model_hosts.CDN_HOSTS]
        self.assertTrue(cdn)
        self.assertTrue(all(x["auth"] is None for x in cdn), cdn)

    def test_refusals(self):
        mark = self.hosts.mark()
        with RawConn(self.pport) as c:
            r = c.request("GET", "/_mirror/example.com/x", [("Host", f"127.0.0.1:{self.pport}")])
            self.assertEqual(r.status, 403, r.head)
        with RawConn(self.pport) as c:
            r = c.request("GET", "/_mirror/cdn-lfs.hf.co:8443/x",
                          [("Host", f"127.0.0.1:{self.pport}")])
            self.assertEqual(r.status, 400, r.head)
        # Origin-form with a Host that is not this proxy (a misdirected client, DNS rebinding).
        with RawConn(self.pport) as c:
            r = c.request("GET", "/org/model/resolve/main/config.json",
                          [("Host", f"evil.example:{self.pport}")])
            self.assertEqual(r.status, 400, r.head)
        # A request that already went through dlproxy is a loop, mirrored or not.
        with RawConn(self.pport) as c:
            r = c.request("GET", "/org/model/resolve/main/config.json",
                          [("Host", f"localhost:{self.pport}"), ("Via", "1.1 dlproxy")])
            self.assertEqual(r.status, 508, r.head)
        self.assertEqual(self.client_records(mark), [])

    def test_js_client_plain_file_byte_exact_then_hit(self):
        js = mirror_js_dir()
        f = model_hosts.hf_file("js-plain-5M.safetensors")
        mark = self.hosts.mark()
        got = node_mirror_download(js, self.base, "org/model", f.name)
        self.assertEqual((got["bytes"], got["sha256"]), (f.size, f.sha256))
        first = self.cdn_bytes(f.object_id, mark)
        self.assertGreaterEqual(first, f.size)
        self.assert_through_dlproxy(mark)
        mark = self.hosts.mark()
        again = node_mirror_download(js, self.base, "org/model", f.name)
        self.assertEqual(again["sha256"], f.sha256)
        second = self.cdn_bytes(f.object_id, mark)
        # The JS client asks twice (its first-byte probe, then the file): each hit is authorised
        # by reading one byte with the client's URL.
        self.assertLessEqual(second, 2, "the second download is a hit")
        print(f"\nmirror @huggingface/hub plain file {f.size / MiB:.1f} MiB: origin bytes "
              f"{first} then {second}; {got['seconds']:.2f} s then {again['seconds']:.2f} s",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
