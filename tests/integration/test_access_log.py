"""Access-log formats (issue 17): `--access-log-format squid` writes Squid's native access.log
format, which Debian's `calamaris` (a real Squid log analyser) reads without an invalid line and
counts as the transactions were (a miss, a hit, a miss resumed after a cut, a pass, an error);
`--access-log-format json` writes one JSON object per line with the same facts; an unknown format
is refused at start-up.

Real processes: tests/origin/origin.py and dlproxy writing its access log to a file.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

# %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
SQUID_LINE = re.compile(r"^(\d+)\.(\d{3}) +(\d+) (\S+) ([A-Z_]+)/(\d{3}) (\d+) (\S+) (\S+) - "
                        r"(HIER_[A-Z]+)/(\S+) -$")


def wait_lines(path, count, timeout=15, skip=0):
    """The lines of `path` after the first `skip`, once there are `count` (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = open(path).read().splitlines()[skip:] if os.path.exists(path) else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


class Traffic:
    """The same five transactions for each format; returns the URLs by name."""

    def traffic(self):
        # The harness's warm-up request has a line already: count from after it.
        self.base = len(wait_lines(self.log, 1))
        o = self.origin
        urls = {"miss": o.url("/bytes/300000/al-a"),
                "resumed": o.url(f"/bytes/{2 * MiB}/al-cut?cut_at=900000&rate=4000000"),
                "pass": o.url("/bytes/1000/al-pass?cc=no-store"),
                "error": "http://127.0.0.1:9/al-refused"}
        for name in ("miss", "miss", "resumed", "pass", "error"):
            out = os.path.join(self.work, "body.bin")
            r = curl_cli(self.proxy.port, urls[name], out)
            self.assertEqual(r.rc, 0, r.stderr)
            if name != "error":
                self.assertEqual(r.status, 200)
        path = f"/bytes/{2 * MiB}/al-cut"
        r = curl_cli(self.proxy.port, urls["resumed"], out)
        self.assertEqual(sha256_file(out), content.sha256_of(path, 2 * MiB))
        return urls


class SquidFormatTest(ProxyTestCase, Traffic):
    proxy_args = ("--retry-base-delay", "0.05", "--access-log-format", "squid")

    @classmethod
    def start_proxy(cls):
        cls.log = os.path.join(cls.work, "access-squid.log")
        cls.proxy_args = cls.proxy_args + ("--access-log", cls.log)
        super().start_proxy()

    def test_calamaris_reads_the_log(self):
        urls = self.traffic()
        lines = wait_lines(self.log, 6, skip=self.base)
        self.assertEqual(len(lines), 6, lines)
        parsed = [SQUID_LINE.match(line) for line in lines]
        self.assertTrue(all(parsed), lines)
        codes = [(m.group(5), m.group(9)) for m in parsed]
        self.assertEqual(codes[0], ("TCP_MISS", urls["miss"]))
        self.assertEqual(codes[1], ("TCP_HIT", urls["miss"]))
        self.assertEqual(codes[2], ("TCP_MISS_RESUMED", urls["resumed"]))
        self.assertEqual(codes[3], ("TCP_MISS", urls["pass"]))
        self.assertEqual(codes[4], ("TCP_MISS", urls["error"]))
        self.assertEqual(codes[5], ("TCP_HIT", urls["resumed"]))
        m = parsed[2]
        self.assertEqual((m.group(4), m.group(6), m.group(7), m.group(8)),
                         ("127.0.0.1", "200", str(2 * MiB), "GET"))
        self.assertEqual(m.group(10), "HIER_DIRECT")
        self.assertEqual(parsed[1].group(10) + "/" + parsed[1].group(11), "HIER_NONE/-")
        self.assertEqual(parsed[4].group(6), "502")
        self.assertLessEqual(abs(int(m.group(1)) - time.time()), 120)

        p = subprocess.run([shutil.which("calamaris"), "-f", "squid", "-a"],
                           input="\n".join(lines) + "\n", capture_output=True, text=True,
                           timeout=60, env=clean_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        report = p.stdout

        def figure(label):
            m = re.search(r"^" + re.escape(label) + r"\s+\S+\s+([\d.]+)\s*$", report, re.M)
            self.assertIsNotNone(m, f"{label!r} not in the report:\n{report}")
            return float(m.group(1))

        def row(label):
            """The request count of the first row `label` of "Incoming TCP-requests by status"."""
            section = report.split("# Incoming TCP-requests by status", 1)[1]
            m = re.search(r"^" + label + r"\s+(\d+)\s", section, re.M)
            return int(m.group(1)) if m else 0

        self.assertEqual(figure("lines parsed:"), 6)
        self.assertEqual(figure("invalid lines:"), 0)
        self.assertEqual(figure("Total amount cached:"), 2)
        # Hits: the two TCP_HITs. Misses: two TCP_MISS (the first fetch and the pass) and the
        # resumed one. The 502 (TCP_MISS, no origin asked: HIER_NONE) is an ERROR to calamaris.
        self.assertEqual(row("HIT"), 2)
        self.assertEqual(row(" TCP_HIT"), 2)
        self.assertEqual(row("MISS"), 3)
        self.assertEqual(row(" TCP_MISS"), 2)
        self.assertEqual(row(" TCP_MISS_RESUMED"), 1)
        self.assertEqual(row("ERROR"), 1)


class JsonFormatTest(ProxyTestCase, Traffic):
    proxy_args = ("--retry-base-delay", "0.05", "--access-log-format", "json")

    @classmethod
    def start_proxy(cls):
        cls.log = os.path.join(cls.work, "access.jsonl")
        cls.proxy_args = cls.proxy_args + ("--access-log", cls.log)
        super().start_proxy()

    def test_one_object_per_line(self):
        urls = self.traffic()
        lines = wait_lines(self.log, 6, skip=self.base)
        records = [json.loads(line) for line in lines]
        self.assertEqual([(r["result"], r["url"]) for r in records],
                         [("MISS", urls["miss"]), ("HIT", urls["miss"]),
                          ("MISS", urls["resumed"]), ("PASS", urls["pass"]),
                          ("ERROR", urls["error"]), ("HIT", urls["resumed"])])
        self.assertEqual([r["recovered"] for r in records],
                         [False, False, True, False, False, False])
        self.assertEqual(records[2]["squid_code"], "TCP_MISS_RESUMED")
        self.assertEqual(records[2]["bytes"], 2 * MiB)
        self.assertEqual(records[2]["status"], 200)
        self.assertEqual(records[4]["status"], 502)
        self.assertGreater(records[2]["duration_ms"], 0)
        for r in records:
            self.assertEqual(set(r), {"time", "duration_ms", "client", "result", "squid_code",
                                      "status", "bytes", "method", "url", "upstream",
                                      "recovered"})

    def test_unknown_format_is_refused(self):
        p = subprocess.run([dlproxy_bin(), "--access-log-format", "apache",
                            "--print-config"], capture_output=True, text=True, timeout=30,
                           env=clean_env())
        self.assertNotEqual(p.returncode, 0)
        # The key table names the flag or the key, depending on where the value came from.
        self.assertRegex(p.stderr, r"access[-_]log[-_]format.*apache.*native, squid, json")


if __name__ == "__main__":
    unittest.main(verbosity=2)
