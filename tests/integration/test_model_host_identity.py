"""Content identity, end-to-end sha256, expired signed URLs and offline resolve URLs against the
model hosts at their real names over TLS (issue 14 items 4, 5, 7, 8; docs/model-hosts.md).

The hosts are tests/origin/model_hosts.py (huggingface.co, cas-bridge.xethub.hf.co, cdn-lfs.hf.co
with their real redirects, signatures and expiry) behind dlproxy's interception; the client is
the launcher's own loop (ModelHostsCase.launcher_get) or curl. Bytes are checked by sha256,
CDN traffic from the imitation's log, verdicts from dlproxyctl, /metrics and the status feed.

    two repos   one file in a Xet repo and a legacy-LFS repo: stored once as `sha256:<hex>`,
                verified, and the second repo's download takes no body byte from a CDN
    mismatch    a hub announcing a digest the bytes do not have: quarantined, fetched once
                more, loud log, never served as a hit
    inline      a cold download is hashed while it is written: no byte is read back for the
                verdict; a fill completed after a restart of dlproxy is read back instead
    expiry      the signed URL expires while the body is cut mid-way: the resume's real 403
                "Request has expired" makes dlproxy resolve again and continue at the same
                byte; curl and the launcher never notice
    offline     the hosts go down after a first download: the resolve URL is answered from the
                cache, also after a dlproxy restart; a file never downloaded is still an error
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.modelhosts import ModelHostsCase  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
import model_hosts  # noqa: E402  (tests/origin)

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")


class IdentityCase(ModelHostsCase):
    proxy_args = ("--retry-base-delay", "0.05", "--retry-max-delay", "0.2", "--stall-timeout", "3")

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

    def download(self, url, f, attempts=3):
        dest = os.path.join(self.work, "download.bin")
        used, ok = self.launcher_get(url, dest, f.sha256, attempts=attempts)
        self.assertTrue(ok, f"the launcher's loop failed {used} time(s) for {url}")
        return used


class ContentIdentityTest(IdentityCase):
    def test_same_file_in_two_repos_is_one_object(self):
        f = model_hosts.hf_file("identity-two-repos-16M.safetensors")
        verified = 'dlproxy_sha256_objects_total{verdict="verified"}'
        before = self.metrics().get(verified, 0)
        mark = self.hosts.mark()
        # Repo A through the Xet bridge, repo B through the legacy CDN: two URLs, one file, two
        # hosts with two ETags for it (the imitation's cdn-lfs names it by its sha256).
        self.download(self.hf_url(f.name, repo="org/repo-a"), f)
        self.assertEqual(self.wait_metric(verified, before + 1), before + 1)
        self.download(self.hf_url(f.name, repo="org/lfs-repo-b"), f)
        # The hit's authorisation on the other host reads one byte, without a validator.
        self.assertEqual(self.cdn_bytes(f.object_id, mark), f.size + 1,
                         "the second repo's download took body bytes from a CDN")
        hosts = {r["host"] for r in self.hosts.log_since(mark) if r.get("object") == f.object_id}
        self.assertIn("cdn-lfs.hf.co", hosts, "repo B's signed URL was not checked by its CDN")
        objs = [o for o in self.ls() if o["url"] == f"sha256:{f.sha256}"]
        self.assertEqual(len(objs), 1, self.ls())
        self.assertEqual(objs[0]["content"], "verified")
        self.assertEqual(objs[0]["sha256"], f.sha256)
        # The status page hears of it: a "checked" event with the verdict (status-page.md).
        from test_status_page import SseReader
        reader = SseReader(self.proxy.admin_port)
        try:
            frame = reader.next_frame(time.monotonic() + 10)
        finally:
            reader.close()
        self.assertIsNotNone(frame)
        events = json.loads(frame[1])["events"]
        self.assertIn(("checked", f"verified {f.sha256}"),
                      [(e["kind"], e["detail"]) for e in events], events)
        m = self.metrics()
        print(f"\n[figure] sha256 CPU {m['dlproxy_sha256_cpu_seconds_total']:.3f} s for "
              f"{m['dlproxy_sha256_bytes_total'] / 2**30:.4f} GiB", file=sys.stderr)

    def test_mismatch_is_quarantined_refetched_and_logged(self):
        f = model_hosts.hf_file("identity-lies-8M.safetensors")
        lie = "0123456789abcdef" * 4
        self.faults(f.object_id, where="hub", announce_sha256=lie)
        mismatch = 'dlproxy_sha256_objects_total{verdict="mismatch"}'
        before = self.metrics().get(mismatch, 0)
        err_mark = self.proxy.stderr_size()
        mark = self.hosts.mark()
        # The launcher checks the file's real sha256: the bytes it gets are the CDN's, exact.
        # Its first attempt is closed short if it is still reading at the first verdict (the
        # bytes might be a corrupt transfer); the refetch sends the same bytes, and those reach
        # it whole (the announcement is what is wrong): at most two attempts.
        used = self.download(self.hf_url(f.name), f, attempts=2)
        # The one refetch also mismatches: two verdicts, two full bodies -- and a third when the
        # launcher's retry came after the refetch had ended (a new fill, as for any request of a
        # quarantined object).
        self.wait_metric(mismatch, before + 2)
        time.sleep(0.5)  # a third fill's verdict, if there is one
        verdicts = self.metrics().get(mismatch, 0) - before
        self.assertIn(verdicts, (2, 3) if used == 2 else (2,))
        log = self.proxy.stderr_text(err_mark)
        self.assertRegex(log, r"SHA256 MISMATCH .* announced " + lie)
        self.assertIn("fetching it once more", log)
        self.assertIn("sent the same 8388608 bytes hashing to " + f.sha256 + " twice", log)
        objs = [o for o in self.ls() if o["url"] == f"sha256:{lie}"]
        self.assertEqual([o["content"] for o in objs], ["mismatch"])
        self.assertEqual(self.cdn_bytes(f.object_id, mark), verdicts * f.size)
        # Quarantined: never a hit -- the next download takes the body from the CDN again, and
        # gets it whole however slowly it reads (the same bytes as the quarantined copy).
        self.download(self.hf_url(f.name), f, attempts=1)
        self.assertEqual(self.cdn_bytes(f.object_id, mark), (verdicts + 1) * f.size)


INLINE = "dlproxy_sha256_inline_bytes_total"
READBACK = "dlproxy_sha256_readback_bytes_total"
VERIFIED = 'dlproxy_sha256_objects_total{verdict="verified"}'


class InlineHashTest(IdentityCase):
    """Where the verdict's sha256 comes from: the fill's write jobs, or a read-back."""
    check_fds = False  # the restart test starts a second dlproxy process

    def counters(self):
        m = self.metrics()
        return m.get(INLINE, 0), m.get(READBACK, 0), m.get(VERIFIED, 0)

    def stored(self, f):
        return next((o for o in self.ls() if o["url"] == f"sha256:{f.sha256}"), None)

    def test_cold_fill_is_hashed_while_filling(self):
        f = model_hosts.hf_file("identity-inline-24M.safetensors")
        inline, readback, verified = self.counters()
        err_mark = self.proxy.stderr_size()
        self.download(self.hf_url(f.name), f)
        self.assertEqual(self.wait_metric(VERIFIED, verified + 1), verified + 1)
        m = self.metrics()
        # Every byte hashed once, by the jobs that wrote it; none read back for the verdict.
        self.assertEqual(m.get(INLINE, 0) - inline, f.size)
        self.assertEqual(m.get(READBACK, 0) - readback, 0)
        self.assertRegex(self.proxy.stderr_text(err_mark),
                         rf"sha256 verified: {f.sha256} \({f.size} bytes, hashed while filling")
        self.assertEqual(self.stored(f)["content"], "verified")

    def test_fill_finished_after_a_restart_is_read_back(self):
        f = model_hosts.hf_file("identity-restart-24M.safetensors")
        url = self.hf_url(f.name)
        # 1. A slow first download, dlproxy killed once a few chunks are recorded (a crash:
        # nothing is flushed at exit, the recorded chunks are what survives).
        self.faults(f.object_id, rate=4_000_000)
        first_mark = self.hosts.mark()
        out = os.path.join(self.work, "restart-first.bin")
        first = threading.Thread(target=self.curl, args=(url, out), kwargs={"timeout": 30})
        first.start()
        try:
            deadline = time.monotonic() + 20
            while True:
                obj = self.stored(f)
                if obj and obj["bytes_present"] >= 4 * MiB:
                    break
                self.assertLess(time.monotonic(), deadline, "no chunk recorded in 20 s")
                time.sleep(0.05)
            self.proxy.proc.send_signal(signal.SIGKILL)
            self.proxy.wait(10)
        finally:
            first.join(30)
        # The imitation logs a transfer when it ends: wait for the killed one's record, so that
        # its bytes are not counted as the second process's below.
        deadline = time.monotonic() + 10
        while not self.cdn_bytes(f.object_id, first_mark):
            self.assertLess(time.monotonic(), deadline, "the first transfer was never logged")
            time.sleep(0.05)
        obj = self.stored(f)
        self.assertLess(obj["bytes_present"], f.size, "the object was complete before the kill")
        self.assertNotEqual(obj["content"], "verified")
        # 2. A new dlproxy on the same cache completes it from where it stopped: the hash
        # cannot have covered the chunks written by the first process, so it reads them back.
        self.faults(f.object_id)
        cache_dir = self.proxy.cache_dir
        self.proxy.stop()
        type(self).proxy = Dlproxy(self.work, self.proxy_args, cache_dir=cache_dir).start()
        err_mark = self.proxy.stderr_size()
        mark = self.hosts.mark()
        self.download(url, f, attempts=1)
        self.assertEqual(self.wait_metric(VERIFIED, 1), 1)
        self.assertLess(self.cdn_bytes(f.object_id, mark), f.size, "not resumed: refetched")
        m = self.metrics()
        self.assertEqual(m.get(INLINE, 0), 0)
        self.assertEqual(m.get(READBACK, 0), f.size)
        self.assertRegex(self.proxy.stderr_text(err_mark),
                         rf"sha256 verified: {f.sha256} \({f.size} bytes, read back")
        self.assertEqual(self.stored(f)["content"], "verified")


class ExpiredUrlTest(IdentityCase):
    def expiry_during_fill(self, name, client):
        f = model_hosts.hf_file(name)
        # Signed URLs live 2 s; the body runs at 4 MB/s and is cut at 9 MB (after ~2.2 s), so
        # the resume to the same URL meets the CDN's own expiry check.
        self.control("config", url_lifetime=2)
        self.faults(f.object_id, cut_at=9_000_000, rate=4_000_000)
        before = self.metrics().get("dlproxy_url_refreshes_total", 0)
        err_mark = self.proxy.stderr_size()
        mark = self.hosts.mark()
        t0 = time.monotonic()
        client(self.hf_url(f.name), f)
        took = time.monotonic() - t0
        self.assertEqual(self.metrics()["dlproxy_url_refreshes_total"], before + 1)
        # The imitation logs a response once it has sent it: wait for the resume's record.
        deadline = time.monotonic() + 5
        while True:
            records = [r for r in self.hosts.log_since(mark) if r.get("object") == f.object_id]
            if any(r["status"] == 206 for r in records) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        resolves = [r for r in records if r["host"] == "huggingface.co"]
        self.assertEqual(len(resolves), 2, "the client's resolve and dlproxy's refresh")
        cdn = [(r["status"], r.get("why")) for r in records if r["host"] != "huggingface.co"]
        self.assertEqual(cdn[:3], [(200, None), (403, "expired"), (206, None)], cdn)
        self.assertEqual({s for s, _ in cdn[3:]} - {206}, set(), cdn)
        self.assertLessEqual(self.cdn_bytes(f.object_id, mark), f.size + 2 * MiB)
        ms = re.search(r"fresh signed URL in (\d+) ms", self.proxy.stderr_text(err_mark))
        self.assertIsNotNone(ms)
        print(f"\n[figure] {name}: refresh {ms.group(1)} ms, download {took:.2f} s",
              file=sys.stderr)

    def test_expiry_mid_download_curl(self):
        def client(url, f):
            out = os.path.join(self.work, "curl.bin")
            r = self.curl(url, out, timeout=60)
            self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
            self.assertEqual(sha256_file(out), f.sha256)
        self.expiry_during_fill("expiry-curl-16M.safetensors", client)

    def test_expiry_mid_download_launcher(self):
        def client(url, f):
            self.download(url, f, attempts=1)  # no retry of its own allowed
        self.expiry_during_fill("expiry-launcher-16M.safetensors", client)


class OfflineTest(IdentityCase):
    proxy_args = IdentityCase.proxy_args + ("--retry-max-attempts", "2")
    check_fds = False  # a second dlproxy process: the first one's fd baseline does not apply

    def test_hosts_down_after_first_download(self):
        f = model_hosts.hf_file("offline-8M.safetensors")
        url = self.hf_url(f.name)
        self.download(url, f)
        self.wait_metric('dlproxy_sha256_objects_total{verdict="verified"}', 1)
        before = self.metrics().get("dlproxy_offline_answers_total", 0)
        self.hosts.stop()  # huggingface.co and every CDN: connection refused
        try:
            self.download(url, f, attempts=1)
            self.assertEqual(self.metrics()["dlproxy_offline_answers_total"], before + 1)
            # After a restart too: the resolve URL's facts are in the index.
            cache_dir = self.proxy.cache_dir
            self.proxy.stop()
            type(self).proxy = Dlproxy(self.work, self.proxy_args,
                                       cache_dir=cache_dir).start()
            self.download(url, f, attempts=1)
            # A resolve URL never downloaded is still an error, not some other file.
            r = self.session().get(self.hf_url("never-downloaded-8M.safetensors"), timeout=30)
            self.assertGreaterEqual(r.status_code, 500)
        finally:
            self.hosts.start()


if __name__ == "__main__":
    unittest.main()
