"""Real clients through dlproxy against the model host imitation (issue 14 item 10).

The launcher's own loop (ComfyUI-Launcher server/utils.py: python requests, 3 attempts each from
byte 0, iter_content(10 KiB), sha256 at the end), curl and aria2c, at the hosts' real names over
TLS, with the faults a download meets: cut responses, a 403 (an expired signature) or a 500 on a
resume, a forged signature, a gated repo, Civitai's redirect to R2 and B2.

The figure for the note (launcher loop, 10 downloads with 4 cut responses each, total origin
bytes) runs with 16 MiB files by default; DLPROXY_FIGURES=1 runs it with 64 MiB files.
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.modelhosts import ModelHostsCase  # noqa: E402
import model_hosts  # noqa: E402  (tests/origin)

FIGURE_MIB = 64 if os.environ.get("DLPROXY_FIGURES") else 16


class ModelHostClients(ModelHostsCase):
    def cdn_sent(self, f, since):
        return self.cdn_bytes(f.object_id, since)

    def dest(self, name="model.bin"):
        path = os.path.join(self.work, name)
        if os.path.exists(path):
            os.unlink(path)
        return path

    def test_launcher_loop_ten_downloads_with_four_cuts_each(self):
        mark = self.hosts.mark()
        files = []
        for i in range(10):
            f = model_hosts.hf_file(f"launcher-{i}-{FIGURE_MIB}M.safetensors")
            # Four responses cut, each at a different place of the object.
            self.faults(f.object_id, cut=f.size // 5, cuts=4)
            files.append(f)
        t0 = time.monotonic()
        results = [self.launcher_get(self.hf_url(f.name), self.dest(), f.sha256) for f in files]
        elapsed = time.monotonic() - t0
        self.assertEqual(results, [(1, True)] * 10)  # each in its first attempt
        total = sum(f.size for f in files)
        sent = sum(self.cdn_sent(f, mark) for f in files)
        cuts = [r for r in self.hosts.log_since(mark) if r["outcome"] == "cut"]
        self.assertEqual(len(cuts), 40)
        self.assertLessEqual(sent, 1.1 * total)
        print(f"\nFIGURE launcher loop: 10 downloads of {FIGURE_MIB} MiB, 4 cut responses each: "
              f"10/10 in the first attempt, origin bytes {sent / total:.4f}x of {total // MiB} MiB,"
              f" {elapsed:.1f} s", file=sys.stderr)

    def test_launcher_loop_403_on_a_resume(self):
        # The fill's resume meets an expired signature: the client is closed short, the partial
        # is kept, and the launcher's next attempt (a fresh resolve) is served from it.
        f = model_hosts.hf_file("launcher-403-16M.safetensors")
        self.faults(f.object_id, cut_at=6 * MiB, cuts=1, status=403, status_after=1, times=1)
        mark = self.hosts.mark()
        attempts, ok = self.launcher_get(self.hf_url(f.name), self.dest(), f.sha256)
        self.assertTrue(ok)
        self.assertLessEqual(attempts, 2)
        self.assertLessEqual(self.cdn_sent(f, mark), 1.1 * f.size)
        statuses = [r["status"] for r in self.hosts.log_since(mark) if r.get("object") ==
                    f.object_id and r["host"] in model_hosts.CDN_HOSTS]
        self.assertIn(403, statuses)

    def test_launcher_loop_500_on_a_resume(self):
        # 500 is not a status dlproxy retries (policy/retry.cpp: 408, 429, 502-504): the resume's
        # 500 closes the client short with the partial kept; its next attempt resumes from it.
        f = model_hosts.hf_file("launcher-500-16M.safetensors")
        self.faults(f.object_id, cut_at=6 * MiB, cuts=1, status=500, status_after=1, times=1)
        mark = self.hosts.mark()
        attempts, ok = self.launcher_get(self.hf_url(f.name), self.dest(), f.sha256)
        self.assertTrue(ok)
        self.assertLessEqual(attempts, 2)
        self.assertLessEqual(self.cdn_sent(f, mark), 1.1 * f.size)

    def test_launcher_loop_503_on_a_resume_is_retried_unnoticed(self):
        f = model_hosts.hf_file("launcher-503-16M.safetensors")
        self.faults(f.object_id, cut_at=6 * MiB, cuts=1, status=503, status_after=1, times=2)
        mark = self.hosts.mark()
        self.assertEqual(self.launcher_get(self.hf_url(f.name), self.dest(), f.sha256), (1, True))
        self.assertLessEqual(self.cdn_sent(f, mark), 1.1 * f.size)

    def test_launcher_loop_civitai_with_token(self):
        for version in (509016, 508016):  # login required; B2 then R2
            f = model_hosts.civitai_file(version)
            self.faults(f.object_id, cut=5 * MiB, cuts=2)
            mark = self.hosts.mark()
            got = self.launcher_get(self.civitai_url(version), self.dest(), f.sha256,
                                    headers={"Authorization": "Bearer civitai-test-key"})
            self.assertEqual(got, (1, True))
            self.assertLessEqual(self.cdn_sent(f, mark), 1.1 * f.size)
            storage = [r for r in self.hosts.log_since(mark) if r["host"] in model_hosts.CDN_HOSTS]
            self.assertTrue(all(r["auth"] is None for r in storage), storage)
        self.assertEqual(self.launcher_get(self.civitai_url(509016), self.dest(), "x",
                                           attempts=1), (1, False))  # no token: 401

    def test_gated_repo_token(self):
        f = model_hosts.hf_file("clients-gated-4M.safetensors")
        url = self.hf_url(f.name, repo="org/gated-clients")
        with self.session() as s:
            self.assertEqual(s.get(url, timeout=30).status_code, 401)
            r = s.get(url, headers={"Authorization": "Bearer hf_testtoken"}, timeout=30)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(model_hosts.hashlib.sha256(r.content).hexdigest(), f.sha256)

    def test_curl_with_cuts(self):
        f = model_hosts.hf_file("clients-curl-16M.safetensors")
        self.faults(f.object_id, cut=3 * MiB, cuts=3, cut_mode="rst")
        out = self.dest()
        r = self.curl(self.hf_url(f.name, repo="org/lfs-clients"), out)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(out), f.sha256)

    def aria2c(self, url, out, extra=()):
        cmd = ["aria2c", f"--all-proxy=http://127.0.0.1:{self.pport}", f"--ca-certificate={self.ca}",
               "--dir", os.path.dirname(out), "--out", os.path.basename(out), "--allow-overwrite",
               "--auto-file-renaming=false", "--console-log-level=warn", "--summary-interval=0",
               "--timeout=30", "--max-tries=3", "--retry-wait=1"] + list(extra) + [url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=clean_env())

    def test_aria2c_one_and_four_connections(self):
        for conns in ("1", "4"):
            f = model_hosts.hf_file(f"clients-aria2-x{conns}-16M.safetensors")
            self.faults(f.object_id, cut=4 * MiB, cuts=2)
            mark = self.hosts.mark()
            out = self.dest(f"aria2-{conns}.bin")
            p = self.aria2c(self.hf_url(f.name), out, (f"--max-connection-per-server={conns}",
                                                      f"--split={conns}", "--min-split-size=1M"))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(sha256_file(out), f.sha256)
            self.assertLessEqual(self.cdn_sent(f, mark), 1.1 * f.size)

    def test_aria2c_civitai(self):
        f = model_hosts.civitai_file(7008)
        out = self.dest("aria2-civitai.bin")
        p = self.aria2c(self.civitai_url(7008), out)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(sha256_file(out), f.sha256)


if __name__ == "__main__":
    unittest.main(verbosity=2)
