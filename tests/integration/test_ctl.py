"""dlproxyctl against real cache directories, with and without a running dlproxy: exit codes,
--json shapes, verify finding a flipped byte, export byte-exact, evict/purge/gc through the admin
API, /metrics checked by the exposition-format checker, ls on 10,000 objects in under a second.

Caches are seeded with `dlproxyctl import` (a file from the origin plus the origin's HEAD) and,
where dlproxy caches what it proxies, with proxied GETs and `dlproxyctl prefetch`.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.ports import free_port  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")
PROM_CHECK = os.path.join(BUILD, "tests", "unit", "proxy", "prometheus_check")
FILL_CACHE = os.path.join(BUILD, "tests", "unit", "proxy", "fill_cache")


def run_ctl(*args, timeout=60):
    return subprocess.run([CTL, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=clean_env(), stdin=subprocess.DEVNULL)


class CtlMixin:
    """Runs dlproxyctl on self.cache_dir, talking to self.admin_url (a dead port by default, so a
    dlproxy some other test left on 127.0.0.1:3129 is never asked)."""

    def ctl(self, *args, expect=0, timeout=60):
        r = run_ctl("--cache-dir", self.cache_dir, "--admin", self.admin_url, *args,
                    timeout=timeout)
        if expect is not None:
            self.assertEqual(r.returncode, expect,
                             f"dlproxyctl {' '.join(map(str, args))}: exit {r.returncode}\n"
                             f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def ctl_json(self, *args, expect=0):
        return json.loads(self.ctl("--json", *args, expect=expect).stdout)

    def seed(self, path, n, expect=0):
        """Download `path` (n bytes) from the origin into a file, then import it."""
        url = self.origin.url(path)
        body = os.path.join(self.work, "seed.bin")
        with open(body, "wb") as f:
            f.write(content.content(path.split("?")[0], 0, n))
        r = self.ctl("import", url, body, expect=expect)
        os.unlink(body)
        return url, r

    def objects(self):
        return {o["url"]: o for o in self.ctl_json("ls")}


class OfflineTest(CtlMixin, unittest.TestCase):
    """No dlproxy: everything happens on the store directly."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dlproxy-it-ctl-")
        cls.origin = Origin(cls.work).start()
        cls.admin_url = f"http://127.0.0.1:{free_port()}"

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        self.cache_dir = tempfile.mkdtemp(prefix="cache-", dir=self.work)

    def test_import_ls_show_json_shapes(self):
        url, r = self.seed("/bytes/3000000/model.bin", 3000000)
        self.assertIn("imported", r.stdout)
        small, _ = self.seed("/bytes/10/tiny.txt", 10)
        objs = self.objects()
        self.assertEqual(set(objs), {url, small})
        o = objs[url]
        self.assertEqual(set(o), {"id", "url", "status", "size", "bytes_present", "state", "hits",
                                  "created", "last_access", "content", "sha256"})
        self.assertEqual((o["size"], o["bytes_present"], o["state"], o["status"]),
                         (3000000, 3000000, "complete", 200))
        self.assertRegex(o["id"], r"^[0-9a-f]{32}$")

        text = self.ctl("ls").stdout.splitlines()
        self.assertTrue(text[0].startswith("SIZE"))
        self.assertIn("2.9MiB", text[2])  # sorted by URL: /bytes/10/... comes first
        self.assertTrue(text[-1].startswith("2 objects"))

        for target in (url, o["id"]):
            s = self.ctl_json("show", target)
            self.assertEqual(s["url"], url)
            self.assertEqual(s["present_ranges"], [[0, 3000000]])
            self.assertEqual(s["chunk_count"], s["chunks_present"])
            self.assertEqual(s["validator"]["etag"], content.etag_of("/bytes/3000000/model.bin"))
            self.assertTrue(os.path.isfile(s["body_file"]))
            self.assertIn(["Content-Length", "3000000"], s["headers"])
        shown = self.ctl("show", url).stdout
        for word in ("validator", "ETag", "body file", "present", "chunks"):
            self.assertIn(word, shown)

    def test_import_refusals(self):
        path = "/bytes/1000/refuse.bin"
        body = os.path.join(self.work, "wrong-size.bin")
        with open(body, "wb") as f:
            f.write(content.content(path, 0, 999))
        r = self.ctl("import", self.origin.url(path), body, expect=1)
        self.assertIn("size differs", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        r = self.ctl("import", self.origin.url("/status/404"), body, expect=1)
        self.assertIn("404", r.stderr)
        r = self.ctl("import", self.origin.url("/bytes/999/nostore?cc=no-store"), body, expect=1)
        self.assertIn("not storable", r.stderr)
        self.ctl("import", "not-a-url", body, expect=2)
        self.ctl("import", self.origin.url(path), os.path.join(self.work, "missing"), expect=1)
        # every refusal came before the store was opened: there is still no cache at all
        self.assertIn("no cache there", self.ctl("ls", expect=3).stderr)

    def test_verify_finds_a_flipped_byte_and_repair_drops_the_chunk(self):
        url, _ = self.seed("/bytes/3000000/flip.bin", 3000000)
        self.ctl("verify", url)
        self.ctl("verify", "--all")
        body_file = self.ctl_json("show", url)["body_file"]
        with open(body_file, "r+b") as f:  # chunk 1 of 1 MiB chunks
            f.seek(1500000)
            b = f.read(1)
            f.seek(1500000)
            f.write(bytes([b[0] ^ 0x01]))
        r = self.ctl("verify", url, expect=1)
        self.assertIn("checksum mismatch", r.stdout)
        report = self.ctl_json("verify", "--all", expect=1)
        self.assertEqual(len(report["bad_chunks"]), 1)
        bad = report["bad_chunks"][0]
        self.assertEqual((bad["url"], bad["error"]), (url, "checksum mismatch"))
        self.assertLessEqual(bad["begin"], 1500000)
        self.assertLess(1500000, bad["end"])
        self.assertFalse(report["repaired"])
        self.assertEqual(self.objects()[url]["state"], "complete")  # read-only: left alone
        # export refuses the corrupt body and leaves no file behind
        out = os.path.join(self.work, "corrupt.out")
        self.ctl("export", url, out, expect=1)
        self.assertFalse(os.path.exists(out))

        self.assertTrue(self.ctl_json("verify", url, "--repair", expect=1)["repaired"])
        o = self.objects()[url]
        self.assertEqual((o["state"], o["bytes_present"]), ("partial", 3000000 - (bad["end"] - bad["begin"])))
        self.ctl("verify", url)  # only good chunks remain
        self.assertEqual(self.ctl_json("show", url)["present_ranges"],
                         [[0, bad["begin"]], [bad["end"], 3000000]])

    def test_export_is_byte_exact_and_partial_needs_a_flag(self):
        path = "/bytes/5000000/export.bin"
        url, _ = self.seed(path, 5000000)
        out = os.path.join(self.work, "export.out")
        self.assertEqual(self.ctl_json("export", url, out)["bytes"], 5000000)
        self.assertEqual(sha256_file(out), content.sha256_of(path, 5000000))
        # make it partial: drop chunk 2 by corrupting it and repairing
        with open(self.ctl_json("show", url)["body_file"], "r+b") as f:
            f.seek(2 * MiB + 5)
            f.write(b"\xff\x00\xff")
        self.ctl("verify", "--repair", url, expect=1)
        r = self.ctl("export", url, out, expect=1)
        self.assertIn("not complete", r.stderr)
        r = self.ctl_json("export", url, out, "--partial")
        self.assertEqual((r["bytes"], r["complete"]), (2 * MiB, False))
        self.assertEqual(sha256_file(out), content.sha256_of(path, 2 * MiB))

    def test_evict_purge_gc_on_the_store(self):
        a, _ = self.seed("/bytes/100/a", 100)
        b, _ = self.seed("/bytes/200/b", 200)
        c, _ = self.seed("/bytes/300/c", 300)
        r = self.ctl_json("evict", a)
        self.assertEqual(r, {"evicted": 1, "bytes_freed": 100, "via": "store"})
        self.ctl("evict", a, expect=1)
        self.assertEqual(set(self.objects()), {b, c})
        self.assertEqual(self.ctl_json("purge", "--older-than", "1d")["purged"], 0)
        self.assertEqual(self.ctl_json("purge", "--partial")["purged"], 0)
        self.ctl("purge", expect=2)
        self.ctl("purge", "--older-than", "soon", expect=2)
        self.ctl("purge", "--all", "--partial", expect=2)
        g = self.ctl_json("gc")
        self.assertEqual(g["via"], "store")
        self.assertEqual(g["bytes_present"], 500)
        # gc with a budget below the contents evicts (b and c were last used in the same second,
        # so either may go first)
        g = self.ctl_json("--cache-size", "300", "gc")
        self.assertEqual((g["objects_removed"], g["bytes_present"] <= 300), (1, True))
        left = self.objects()
        self.assertEqual(len(left), 1)
        r = self.ctl_json("purge", "--all")
        self.assertEqual((r["purged"], r["bytes_freed"]), (1, g["bytes_present"]))
        self.assertEqual(self.objects(), {})

    def test_ls_filters_and_sorting(self):
        small, _ = self.seed("/bytes/100/z-small", 100)
        big, _ = self.seed("/bytes/3000000/a-big", 3000000)
        with open(self.ctl_json("show", big)["body_file"], "r+b") as f:
            f.write(b"\x00\x01\x02")
        self.ctl("verify", "--repair", big, expect=1)
        self.assertEqual([o["url"] for o in self.ctl_json("ls", "--sort", "size")], [big, small])
        self.assertEqual([o["url"] for o in self.ctl_json("ls", "--state", "partial")], [big])
        self.assertEqual([o["url"] for o in self.ctl_json("ls", "--grep", "z-small")], [small])
        self.ctl("ls", "--sort", "colour", expect=2)

    def test_stats_without_a_daemon(self):
        self.seed("/bytes/1000/s", 1000)
        s = self.ctl_json("stats")
        self.assertIsNone(s["daemon"])
        self.assertEqual((s["cache"]["objects"], s["cache"]["bytes_present"]), (1, 1000))
        self.assertIn("not answering", self.ctl("stats").stdout)

    def test_exit_codes_and_help(self):
        for cmd in ("ls", "show", "verify", "evict", "purge", "gc", "stats", "export", "import",
                    "prefetch"):
            r = self.ctl(cmd, "--help")
            self.assertIn("Usage", r.stdout)
        self.ctl(expect=2)
        self.ctl("frobnicate", expect=2)
        self.ctl("ls", "--no-such-flag", expect=2)
        self.seed("/bytes/10/exit-codes", 10)
        self.ctl("verify", expect=2)
        self.ctl("show", expect=2)
        self.ctl("show", "http://nowhere.test/x", expect=1)
        r = run_ctl("--cache-dir", os.path.join(self.work, "no-cache-here"), "ls")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("cannot open the cache", r.stderr)
        self.assertEqual(run_ctl("--version").returncode, 0)

    def test_config_file_supplies_cache_dir_and_admin(self):
        url, _ = self.seed("/bytes/100/conf", 100)
        conf = os.path.join(self.work, "dlproxy.toml")
        with open(conf, "w") as f:
            f.write(f'cache_dir = "{self.cache_dir}"\nadmin_listen = "127.0.0.1:1"\n'
                    'cache_size = "1GiB"\nlog_level = "debug"\n')
        r = run_ctl("--config", conf, "--json", "stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = json.loads(r.stdout)
        self.assertEqual((s["cache"]["objects"], s["cache"]["budget"]), (1, 1 << 30))
        self.assertIsNone(s["daemon"])
        with open(conf, "w") as f:
            f.write("cache_dir = [\n")
        self.assertEqual(run_ctl("--config", conf, "ls").returncode, 2)

    def test_prefetch_without_a_proxy_is_unavailable(self):
        r = self.ctl("prefetch", "--proxy", self.admin_url, self.origin.url("/bytes/10/p"),
                     expect=3)
        self.assertIn("cannot connect to the proxy", r.stderr)


class LsScaleTest(CtlMixin, unittest.TestCase):
    """`ls` must stay interactive on a cache of 10,000 objects."""

    def test_ls_10000_objects_under_a_second(self):
        work = tempfile.mkdtemp(prefix="dlproxy-it-ctl-scale-")
        try:
            self.cache_dir = os.path.join(work, "cache")
            self.admin_url = f"http://127.0.0.1:{free_port()}"
            subprocess.run([FILL_CACHE, self.cache_dir, "10000"], check=True, timeout=240)
            best = None
            for _ in range(3):  # the machine is shared: take the best of three
                t0 = time.monotonic()
                r = self.ctl("ls")
                elapsed = time.monotonic() - t0
                best = elapsed if best is None else min(best, elapsed)
            self.assertEqual(len(r.stdout.splitlines()), 10002)  # header + objects + total
            self.assertLess(best, 1.0, f"ls took {best:.2f} s")
            t0 = time.monotonic()
            self.assertEqual(len(self.ctl_json("ls", "--sort", "size")), 10000)
            self.assertLess(time.monotonic() - t0, 2.0)
        finally:
            shutil.rmtree(work, ignore_errors=True)


class DaemonTest(CtlMixin, ProxyTestCase):
    """A running dlproxy on the same cache: read-only commands beside it, mutations through it."""

    @property
    def cache_dir(self):
        return type(self).proxy.cache_dir

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{type(self).proxy.admin_port}"

    def admin_get(self, path):
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                self.admin_url + path, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()

    def check_metrics(self):
        status, ctype, text = self.admin_get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        r = subprocess.run([PROM_CHECK], input=text, capture_output=True, text=True, timeout=10)
        page = json.loads(r.stdout)
        self.assertEqual((r.returncode, page["errors"]), (0, []), text)
        return {(s["name"], tuple(sorted(s["labels"].items()))): s["value"]
                for s in page["samples"]}

    def test_admin_line_and_metrics_page(self):
        self.assertIsNotNone(type(self).proxy.admin_port)
        self.assertRegex(type(self).proxy.stderr_text(), r"admin endpoint on 127\.0\.0\.1:\d+")
        samples = self.check_metrics()
        for result in ("HIT", "MISS", "PARTIAL_HIT", "REVALIDATED", "PASS", "TUNNEL", "ERROR",
                       "ABORTED", "DENIED", "INTERCEPT"):
            self.assertIn(("dlproxy_requests_total", (("result", result),)), samples)
        self.assertIn(("dlproxy_recovery_seconds_bucket", (("le", "+Inf"),)), samples)
        self.assertIn(("dlproxy_cache_bytes", ()), samples)
        self.assertIn(("dlproxy_memory_budget_bytes", ()), samples)
        self.assertIn(("dlproxy_memory_pressure", ()), samples)

    def test_status_json(self):
        status, ctype, text = self.admin_get("/status")
        self.assertEqual((status, ctype), (200, "application/json"))
        s = json.loads(text)
        self.assertEqual(set(s), {"version", "uptime_seconds", "config", "cache", "memory",
                                  "inflight_fills", "hosts"})
        self.assertEqual(s["hosts"], [])  # no origin has failed yet (host health, operations.md)
        self.assertEqual(s["memory"]["budget"], 256 << 20)  # the default --memory-budget
        self.assertEqual(s["memory"]["in_use"], s["memory"]["fills"] + s["memory"]["reads"])
        self.assertFalse(s["memory"]["pressure"])
        self.assertEqual(s["config"]["listen"], f"127.0.0.1:{self.pport}")
        self.assertEqual(s["config"]["admin_listen"], f"127.0.0.1:{type(self).proxy.admin_port}")
        self.assertIsInstance(s["inflight_fills"], list)
        self.assertGreaterEqual(s["uptime_seconds"], 0)

    def test_read_only_commands_beside_the_daemon(self):
        url, _ = self.seed("/bytes/2000000/beside", 2000000)
        self.assertEqual(self.objects()[url]["state"], "complete")
        self.ctl("verify", "--all")
        out = os.path.join(self.work, "beside.out")
        self.ctl("export", url, out)
        self.assertEqual(sha256_file(out), content.sha256_of("/bytes/2000000/beside", 2000000))
        self.assertEqual(self.ctl_json("show", url)["size"], 2000000)

    def test_evict_purge_gc_through_the_admin_api(self):
        a, _ = self.seed("/bytes/100/adm-a", 100)
        b, _ = self.seed("/bytes/200/adm-b", 200)
        mark = type(self).proxy.stderr_size()
        self.assertEqual(self.ctl_json("evict", a), {"evicted": 1, "bytes_freed": 100,
                                                     "via": "admin"})
        self.assertIn("admin: POST /cache/evict", type(self).proxy.stderr_text(mark))
        r = self.ctl("evict", a, expect=1)
        self.assertIn("not cached", r.stderr)
        self.assertNotIn(a, self.objects())
        self.assertEqual(self.ctl_json("gc")["via"], "admin")
        self.assertEqual(self.ctl_json("purge", "--partial")["purged"], 0)
        r = self.ctl_json("purge", "--all")
        self.assertEqual((r["via"], r["bytes_freed"] >= 200), ("admin", True))
        self.assertNotIn(b, self.objects())
        self.assertEqual(self.check_metrics()[("dlproxy_cache_objects", ())], 0)

    def test_stats_with_the_daemon(self):
        self.seed("/bytes/100/stats", 100)
        s = self.ctl_json("stats")
        d = s["daemon"]
        self.assertIsNotNone(d)
        self.assertEqual(d["admin_url"], self.admin_url)
        for key in ("requests", "hit_ratio", "bytes_from_cache", "bytes_from_upstream",
                    "resumes"):
            self.assertIn(key, d)
        text = self.ctl("stats").stdout
        for word in ("hit ratio", "bytes from cache", "bytes from upstream", "resumes"):
            self.assertIn(word, text)

    def test_an_object_being_filled_is_shown_filling_and_not_evicted(self):
        # 16 MiB paced at 4 MiB/s: a fill of about 4 s to look at while it runs.
        path = "/bytes/16777216/filling.bin?rate=4194304"
        url = self.origin.url(path)
        out = os.path.join(self.work, "filling.out")
        import threading
        done = {}
        t = threading.Thread(target=lambda: done.setdefault(
            "r", curl_cli(type(self).proxy.port, url, out, timeout=60)))
        t.start()
        try:
            obj = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                obj = {o["url"]: o for o in self.ctl_json("ls")}.get(url)
                if obj and obj["bytes_present"] > 0:
                    break
                time.sleep(0.1)
            self.assertIsNotNone(obj, "the fill never appeared in ls")
            self.assertEqual(obj["state"], "filling")
            self.assertIn(url, self.ctl("ls", "--state", "filling").stdout)
            r = self.ctl("evict", url, expect=1)
            self.assertIn("in use", r.stderr)
            self.assertEqual(self.ctl_json("purge", "--all")["purged"] >= 0, True)
            self.assertIn(url, self.objects(), "purge --all removed an object being filled")
        finally:
            t.join(60)
        self.assertEqual(done["r"].rc, 0)
        self.assertEqual(sha256_file(out), content.sha256_of("/bytes/16777216/filling.bin",
                                                             16777216))
        self.assertEqual(self.wait_cached(url)["state"], "complete")

    def wait_cached(self, url, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            o = self.objects().get(url)
            if o and o["state"] == "complete":
                return o
            time.sleep(0.1)
        return self.objects().get(url)

    def test_proxied_get_and_prefetch_fill_the_cache(self):
        path = "/bytes/3000000/proxied.bin"
        url = self.url(path)
        res = curl_cli(self.pport, url, os.path.join(self.work, "proxied.out"))
        self.assertEqual((res.rc, res.status), (0, 200), res.stderr)
        if self.wait_cached(url, timeout=5) is None:
            self.skipTest("dlproxy does not cache proxied GETs yet")
        out = os.path.join(self.work, "proxied.export")
        self.ctl("verify", url)
        self.ctl("export", url, out)
        self.assertEqual(sha256_file(out), content.sha256_of(path, 3000000))

        pf = "/bytes/4000000/prefetched.bin"
        r = self.ctl("prefetch", "--proxy", type(self).proxy.proxy_url, self.url(pf),
                     self.url("/bytes/10/prefetched-small"))
        self.assertIn("done: " + self.url(pf), r.stderr)  # plain lines: stderr is no TTY
        self.assertNotIn("\r", r.stderr)
        self.assertEqual(self.wait_cached(self.url(pf))["size"], 4000000)
        self.ctl("export", self.url(pf), out)
        self.assertEqual(sha256_file(out), content.sha256_of(pf, 4000000))
        results = self.ctl_json("prefetch", "--proxy", type(self).proxy.proxy_url, self.url(pf))
        self.assertEqual((results[0]["status"], results[0]["bytes"], results[0]["cached"]),
                         (200, 4000000, True))
        # a response the proxy must not store: the body arrives, but prefetch reports failure
        r = self.ctl("prefetch", "--wait", "1", "--proxy", type(self).proxy.proxy_url,
                     self.url("/bytes/1000/nostore?cc=no-store"), expect=1)
        self.assertIn("not cached", r.stderr)
        r = self.ctl("prefetch", "--proxy", type(self).proxy.proxy_url,
                     self.url("/status/404"), expect=1)
        self.assertIn("HTTP 404", r.stderr)


class StartupTest(unittest.TestCase):
    def test_dlproxy_refuses_to_start_without_its_cache(self):
        work = tempfile.mkdtemp(prefix="dlproxy-it-ctl-start-")
        try:
            not_a_dir = os.path.join(work, "file")
            with open(not_a_dir, "w") as f:
                f.write("x")
            r = subprocess.run([dlproxy_bin(), "--listen", "127.0.0.1:0",
                                "--admin-listen", "127.0.0.1:0", "--cache-dir", not_a_dir],
                               capture_output=True, text=True, timeout=30, env=clean_env(),
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 1, r.stderr)
            # the cache module logs what failed; dlproxy's own last word is one clear line
            self.assertRegex(r.stderr.strip().splitlines()[-1],
                             r"^dlproxy: cannot open the cache in '.*': .*Not a directory")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
