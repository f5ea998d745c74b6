#!/usr/bin/env python3
"""The cache's file system fills up during a fill (docs/operations.md#full-disk).

The cache lives on a 48 MiB tmpfs mounted for this test (root only; skipped otherwise), a filler
file leaves about 20 MiB free, and a 40 MiB download goes through dlproxy. Expected:
  - both clients of the fill (one fast, one reading at 8 MB/s) get all 40 MiB, byte-exact (the
    fill stops caching, the transfer continues);
  - dlproxy says once, at warning level, that caching stopped and why (no space left);
  - nothing corrupt is recorded: `dlproxyctl verify --all` is clean, the object is partial and
    every recorded chunk verifies;
  - what was written before the disk filled is recorded (at least 6 MiB), and the body file
    holds no blocks beyond its recorded chunks (the failed write's bytes were given back);
  - once the filler is gone, the next download of the URL completes the object from where the
    recorded chunks end (a Range request to the origin) and the one after is a hit.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.pyclient import pycurl_request  # noqa: E402
import content  # noqa: E402

TMPFS_SIZE = 48 * MiB
OBJECT = 40 * MiB


def dlproxyctl_bin():
    return os.path.join(os.path.dirname(dlproxy_bin()), "ctl", "dlproxyctl")


def try_mount_tmpfs(path):
    """Mounts a TMPFS_SIZE tmpfs on `path`; None on success, else why not."""
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs"
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE // MiB}m,mode=0700",
                        "tmpfs", path], capture_output=True, text=True)
    return None if p.returncode == 0 else f"mount failed: {p.stderr.strip()}"


class FullDiskTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="dlproxy-it-fulldisk-")
        self.disk = os.path.join(self.work, "disk")
        os.mkdir(self.disk)
        why = try_mount_tmpfs(self.disk)
        if why:
            shutil.rmtree(self.work, ignore_errors=True)
            self.skipTest(why)
        self.addCleanup(self.cleanup)
        self.cache = os.path.join(self.disk, "cache")
        self.origin = Origin(self.work).start()
        self.proxy = Dlproxy(self.work, cache_dir=self.cache).start()

    def cleanup(self):
        if getattr(self, "proxy", None):
            self.proxy.stop()
        if getattr(self, "origin", None):
            self.origin.stop()
        subprocess.run(["umount", self.disk], check=False)
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(self.work, ignore_errors=True)

    def free_bytes(self):
        st = os.statvfs(self.disk)
        return st.f_bavail * st.f_frsize

    def ctl(self, *args):
        p = subprocess.run([dlproxyctl_bin(), "--cache-dir", self.cache, *args],
                           capture_output=True, text=True, timeout=60, env=clean_env())
        return p.returncode, p.stdout, p.stderr

    def download(self, url, path):
        r = pycurl_request(self.proxy.port, url, keep_body=False, timeout=120)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.length, OBJECT)
        self.assertEqual(r.sha256, content.sha256_of(path, OBJECT))

    def test_fill_stops_on_a_full_disk_and_the_client_is_served(self):
        path = f"/bytes/{OBJECT}/full-disk.bin"
        url = self.origin.url(path)
        # Leave about 20 MiB: the first half of the object fits, the rest does not.
        filler = os.path.join(self.disk, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (self.free_bytes() - 20 * MiB))
        err_mark = self.proxy.stderr_size()

        # Two clients on one fill, one reading at 8 MB/s (so the fill runs ahead of it and stops
        # caching while it is behind): both byte-exact although the disk filled up on the way.
        slow_out = os.path.join(self.work, "slow.bin")
        slow = threading.Thread(target=lambda: self.slow.append(curl_cli(
            self.proxy.port, url, out=slow_out, args=["--limit-rate", "8M"], timeout=60)))
        self.slow = []
        slow.start()
        self.download(url, path)
        slow.join(70)
        self.assertEqual((self.slow[0].rc, self.slow[0].status), (0, 200), self.slow[0].stderr)
        self.assertEqual(sha256_file(slow_out), content.sha256_of(path, OBJECT))

        log = self.proxy.stderr_text(err_mark)
        stopped = [line for line in log.splitlines() if "caching stopped" in line]
        self.assertEqual(len(stopped), 1, log[-3000:])
        self.assertIn("[warning]", stopped[0])
        self.assertIn("no space left", stopped[0])

        # Nothing corrupt recorded: every recorded chunk verifies, the object is partial.
        time.sleep(0.5)  # the last commits land on a worker after the response ends
        rc, out, err = self.ctl("verify", "--all", "--json")
        self.assertEqual(rc, 0, out + err)
        report = json.loads(out)
        self.assertEqual(report["bad_chunks"], [])
        rc, out, err = self.ctl("show", "--json", url)
        self.assertEqual(rc, 0, out + err)
        shown = json.loads(out)
        self.assertNotEqual(shown["state"], "complete")
        # What was written before the disk filled is recorded (all but the failed write batch),
        # not thrown away to be fetched again. A batch holds at most 12 MiB (the fill's bound on
        # unwritten bytes), so of the ~20 MiB free at least ~8 MiB less the index's growth are
        # recorded (14-17 MiB in practice; 2-3 MiB before the last commit was added).
        self.assertGreaterEqual(shown["bytes_present"], 6 * MiB)
        self.assertLess(shown["bytes_present"], OBJECT)
        self.assertEqual(report["chunks_ok"], shown["chunks_present"])
        present = shown["bytes_present"]
        allocated = os.stat(shown["body_file"]).st_blocks * 512
        # The failed write's bytes were given back: the body file holds only recorded chunks.
        self.assertLessEqual(allocated, present + 4096)

        # Space again: the next download completes the object from the recorded chunks on.
        os.unlink(filler)
        mark = self.origin.mark()
        self.download(url, path)
        ranges = [rec["headers"].get("Range") for rec in self.origin.records(mark, count=1)]
        self.assertEqual(len(ranges), 1, ranges)
        self.assertIsNotNone(ranges[0], "the recorded chunks were fetched again")
        begin = int(ranges[0].split("=")[1].split("-")[0])
        print(f"recorded {present} bytes (body file: {allocated} bytes allocated), resumed with "
              f"{ranges[0]}", file=sys.stderr)
        self.assertIn(begin, (present - 1, present), ranges)  # apt-style overlap byte allowed

        time.sleep(0.5)
        mark = self.origin.mark()
        self.download(url, path)
        time.sleep(0.3)
        self.assertEqual(self.origin.log_since(mark), [], "the third download reached the origin")
        rc, out, err = self.ctl("verify", "--all")
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
