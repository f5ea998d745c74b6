"""Content identity, end-to-end sha256, expired signed URLs, offline resolve URLs (issue 14
items 4, 5, 7 and the resolve half of 8; docs/model-hosts.md).

The flows of a model host, reached at their real names (huggingface.co, cdn-lfs.hf.co,
cas-bridge.xethub.hf.co) through `--connect-to NAME:80:127.0.0.1:PORT` to tests/origin/origin.py:
the resolve URL is origin.py's /redirect (302, Location, and X-Linked-Etag / X-Linked-Size given
with hdr_ parameters), the CDN is /bytes (content a function of the path only, so one path under
two hosts is the same file). Checked with real clients (curl, requests in the launcher's loop),
bytes by sha256, origin traffic from the origin's own log, verdicts from dlproxyctl and /metrics.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (MiB, Dlproxy, Origin, clean_env, content, curl_cli,  # noqa: E402
                     requests_session, sha256_bytes)

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(harness.dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")

SIZE = 16 * MiB
HOSTS = ("huggingface.co", "cdn-lfs.hf.co", "cas-bridge.xethub.hf.co")


def resolve_url(cdn_url, sha, size, extra=""):
    q = urllib.parse.urlencode({"to": cdn_url, "hdr_X-Linked-Etag": f'"{sha}"',
                                "hdr_X-Linked-Size": str(size),
                                "hdr_X-Repo-Commit": "c0ffee" * 6 + "c0ff"})
    return f"http://huggingface.co/redirect?{q}{extra}"


def launcher_download(port, url, attempts=3):
    """The launcher's loop: up to 3 attempts from byte 0, 10 KiB iter_content, sha256 at the
    end. Returns (sha256 hex, length) of the last attempt, or (None, 0)."""
    for _ in range(attempts):
        try:
            s = requests_session(port)
            h = hashlib.sha256()
            n = 0
            with s.get(url, stream=True, timeout=30) as r:
                if r.status_code != 200:
                    continue
                for piece in r.iter_content(10 * 1024):
                    h.update(piece)
                    n += len(piece)
            return h.hexdigest(), n
        except Exception:  # noqa: BLE001  (the launcher retries on anything)
            continue
    return None, 0


class IdentityBase(unittest.TestCase):
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.work = harness.tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.origin = Origin(cls.work).start()
        cls.proxy = cls.new_proxy()

    @classmethod
    def new_proxy(cls, cache_dir=None):
        args = ["--retry-base-delay", "0.05", "--retry-max-delay", "0.2", "--stall-timeout", "3"]
        for h in HOSTS:
            args += ["--connect-to", f"{h}:80:127.0.0.1:{cls.origin.port}"]
        return Dlproxy(cls.work, args + list(cls.extra_args), cache_dir=cache_dir).start()

    @classmethod
    def tearDownClass(cls):
        if cls.proxy:
            cls.proxy.stop()
        cls.origin.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            harness.shutil.rmtree(cls.work, ignore_errors=True)

    def metrics(self):
        import requests
        r = requests.get(f"http://127.0.0.1:{self.proxy.admin_port}/metrics", timeout=5,
                         proxies={"http": None})
        out = {}
        for line in r.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def wait_metric(self, name, want, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            v = self.metrics().get(name, 0)
            if v >= want or time.monotonic() > deadline:
                return v
            time.sleep(0.1)

    def ls(self):
        r = subprocess.run([CTL, "--cache-dir", self.proxy.cache_dir, "ls", "--json"],
                           capture_output=True, text=True, timeout=30, env=clean_env(),
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def cdn_requests(self, path, since=0):
        return [r for r in self.origin.log_since(since) if r["target"].startswith(path)]


class ContentIdentityTest(IdentityBase):
    def test_same_file_in_two_repos_is_one_object(self):
        path = f"/bytes/{SIZE}/model-two-repos.safetensors"
        sha = content.sha256_of(path, SIZE)
        mark = self.origin.mark()
        # Repo A through the legacy CDN, repo B through the Xet bridge: two URLs, one file.
        a = resolve_url(f"http://cdn-lfs.hf.co{path}?X-Amz-Signature=A", sha, SIZE)
        b = resolve_url(f"http://cas-bridge.xethub.hf.co{path}?X-Amz-Signature=B", sha, SIZE)
        self.assertEqual(launcher_download(self.proxy.port, a), (sha, SIZE))
        self.assertEqual(self.wait_metric('dlproxy_sha256_objects_total{verdict="verified"}', 1), 1)
        self.assertEqual(launcher_download(self.proxy.port, b), (sha, SIZE))
        # Once with the body; then only the authorisation check of repo B's signed URL (304,
        # no body: the imitation's ETag is the same on both hosts).
        fetched = [(r["status"], r["bytes_sent"]) for r in self.cdn_requests(path, mark)]
        self.assertEqual(fetched, [(200, SIZE), (304, 0)], fetched)
        objs = [o for o in self.ls() if o["url"] == f"sha256:{sha}"]
        self.assertEqual(len(objs), 1, self.ls())
        self.assertEqual(objs[0]["content"], "verified")
        # The status page hears of it: a "checked" event with the verdict (status-page.md).
        from test_status_page import SseReader
        reader = SseReader(self.proxy.admin_port)
        try:
            frame = reader.next_frame(time.monotonic() + 10)
        finally:
            reader.close()
        self.assertIsNotNone(frame)
        events = json.loads(frame[1])["events"]
        self.assertIn(("checked", f"verified {sha}"),
                      [(e["kind"], e["detail"]) for e in events], events)
        self.assertEqual(objs[0]["sha256"], sha)
        m = self.metrics()
        self.assertGreater(m["dlproxy_sha256_bytes_total"], 0)
        print(f"\n[figure] sha256 CPU {m['dlproxy_sha256_cpu_seconds_total']:.3f} s for "
              f"{m['dlproxy_sha256_bytes_total'] / 2**30:.4f} GiB = "
              f"{m['dlproxy_sha256_cpu_seconds_total'] / (m['dlproxy_sha256_bytes_total'] / 2**30):.2f}"
              " CPU s/GiB", file=sys.stderr)

    def test_mismatch_is_quarantined_refetched_and_logged(self):
        path = f"/bytes/{SIZE}/model-lies.safetensors"
        lie = "0123456789abcdef" * 4  # the imitation announces a digest the bytes do not have
        before = self.metrics().get('dlproxy_sha256_objects_total{verdict="mismatch"}', 0)
        err_mark = self.proxy.stderr_size()
        mark = self.origin.mark()
        url = resolve_url(f"http://cdn-lfs.hf.co{path}?X-Amz-Signature=L", lie, SIZE)
        got, n = launcher_download(self.proxy.port, url, attempts=1)
        self.assertEqual((got, n), (content.sha256_of(path, SIZE), SIZE))  # bytes as sent
        # The one refetch also mismatches: two verdicts, two full GETs, then no more.
        self.assertEqual(
            self.wait_metric('dlproxy_sha256_objects_total{verdict="mismatch"}', before + 2),
            before + 2)
        log = self.proxy.stderr_text(err_mark)
        self.assertRegex(log, r"SHA256 MISMATCH .* announced " + lie)
        self.assertIn("fetching it once more", log)
        self.assertIn("already fetched again once, giving up", log)
        objs = [o for o in self.ls() if o["url"] == f"sha256:{lie}"]
        self.assertEqual([o["content"] for o in objs], ["mismatch"])
        self.assertEqual(len(self.cdn_requests(path, mark)), 2)
        # Quarantined: never a hit -- the next download goes to the origin again.
        launcher_download(self.proxy.port, url, attempts=1)
        self.assertEqual(len(self.cdn_requests(path, mark)), 3)


class ExpiredUrlTest(IdentityBase):
    def expiry_during_fill(self, name, client):
        path = f"/bytes/{SIZE}/{name}"
        sha = content.sha256_of(path, SIZE)
        # The first response is cut at 9 MB; the resume to the same signed URL is refused 403
        # (expired); the URL the refresh gets is served (times=1).
        cdn = f"http://cdn-lfs.hf.co{path}?X-Amz-Expires=1&cut_at=9000000&status=403&status_after=1"
        url = resolve_url(cdn, sha, SIZE)
        mark = self.origin.mark()
        before = self.metrics().get("dlproxy_url_refreshes_total", 0)
        err_mark = self.proxy.stderr_size()
        t0 = time.monotonic()
        got = client(url)
        took = time.monotonic() - t0
        self.assertEqual(got, sha)
        self.assertEqual(self.metrics()["dlproxy_url_refreshes_total"], before + 1)
        resolves = [r for r in self.origin.log_since(mark) if r["target"].startswith("/redirect")]
        self.assertEqual(len(resolves), 2, "the client's resolve and dlproxy's refresh")
        # The cut 200, the refused resume, then the resume to the fresh URL (under load a stall
        # may add another resume: 206s only, never a new 200 from byte 0).
        statuses = [r["status"] for r in self.cdn_requests(path, mark)]
        self.assertEqual(statuses[:3], [200, 403, 206], statuses)
        self.assertEqual(set(statuses[3:]) - {206}, set(), statuses)
        ms = re.search(r"fresh signed URL in (\d+) ms", self.proxy.stderr_text(err_mark))
        self.assertIsNotNone(ms)
        print(f"\n[figure] {name}: refresh {ms.group(1)} ms, download {took:.2f} s",
              file=sys.stderr)

    def test_expiry_mid_download_curl(self):
        def client(url):
            out = os.path.join(self.work, "curl.bin")
            r = curl_cli(self.proxy.port, url, out, args=["-L"], timeout=60)
            self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
            with open(out, "rb") as f:
                return sha256_bytes(f.read())
        self.expiry_during_fill("expiry-curl.bin", client)

    def test_expiry_mid_download_requests(self):
        def client(url):
            got, n = launcher_download(self.proxy.port, url, attempts=1)  # no retry allowed
            return got
        self.expiry_during_fill("expiry-requests.bin", client)


class OfflineTest(IdentityBase):
    extra_args = ("--retry-max-attempts", "2")

    def test_hosts_down_after_first_download(self):
        path = f"/bytes/{SIZE}/offline.safetensors"
        sha = content.sha256_of(path, SIZE)
        url = resolve_url(f"http://cdn-lfs.hf.co{path}?X-Amz-Signature=O", sha, SIZE)
        self.assertEqual(launcher_download(self.proxy.port, url), (sha, SIZE))
        self.wait_metric('dlproxy_sha256_objects_total{verdict="verified"}', 1)
        self.origin.stop()  # huggingface.co and the CDN: connection refused
        try:
            self.assertEqual(launcher_download(self.proxy.port, url), (sha, SIZE))
            self.assertEqual(self.metrics()["dlproxy_offline_answers_total"], 1)
            # After a restart too: the resolve URL's facts are in the index.
            cache_dir = self.proxy.cache_dir
            self.proxy.stop()
            type(self).proxy = self.new_proxy(cache_dir=cache_dir)
            self.assertEqual(launcher_download(self.proxy.port, url), (sha, SIZE))
            # A resolve URL never downloaded is still an error, not some other file.
            other = resolve_url(f"http://cdn-lfs.hf.co/bytes/{SIZE}/never?x=1", "a" * 64, SIZE)
            r = requests_session(self.proxy.port).get(other, timeout=30)
            self.assertGreaterEqual(r.status_code, 500)
        finally:
            self.origin.start()


if __name__ == "__main__":
    unittest.main()
