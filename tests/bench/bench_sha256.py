#!/usr/bin/env python3
"""What the end-to-end sha256 costs on a cold fill, and how long after the last byte its verdict
comes (docs/model-hosts.md "Verification"): one body per round, downloaded cold through each
dlproxy given from nginx serving one file (`/d/<tag>/body`, a unique URL per round), its sha256
announced by nginx (`Repr-Digest`), so every fill ends in a `verified` verdict. Per round and
binary:
  cpu        dlproxy's process CPU (utime + stime from /proc, all threads) over the whole fill and
             verdict, in s per GiB
  sha256     dlproxy_sha256_cpu_seconds_total over the round, s per GiB: the hashing alone (with
             the read-back: the read-back job's reads, XXH3 and sha256)
  verdict    ms from curl's last byte to the verdict showing in /metrics (polled every 5 ms)
  inline / read back   dlproxy_sha256_{inline,readback}_bytes_total over the round (a binary
             without inline hashing shows none of the first)
With --baseline a second binary (e.g. one built from main before inline hashing) runs the same
rounds against the same origin, in alternating order. Medians of --runs rounds.

    python3 tests/bench/bench_sha256.py [--size 1GiB] [--runs 3] [--baseline OLD_DLPROXY]
    python3 tests/bench/bench_sha256.py --smoke   # 16 MiB, 1 round, checks the verdict
"""

from __future__ import annotations

import base64
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import (  # noqa: E402
    Bench, BenchError, bench_parser, emit_json, fmt, median, parse_bench_args, print_table,
    run_main)
from dltest.const import GiB  # noqa: E402
from dltest.curl import curl_fetch  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import write_body  # noqa: E402
from dltest.procfs import settle_cpu  # noqa: E402
from dltest.webservers import Nginx  # noqa: E402

VERIFIED = 'dlproxy_sha256_objects_total{verdict="verified"}'


class DigestNginx(Nginx):
    """Nginx with one more location: /d/<tag>/<name> is the file with `Repr-Digest: sha-256=:..:`
    (the body's digest, RFC 9530) and an hour of freshness."""

    def __init__(self, bench: Bench, root: Path, sha256_hex: str):
        super().__init__(bench, root)
        self.digest = base64.b64encode(bytes.fromhex(sha256_hex)).decode()

    def config(self) -> str:
        digest_location = (
            f"        location ~ ^/d/[^/]+/(?<name>[^/]+)$ {{\n"
            f"            alias {self.root}/$name;\n"
            f"            add_header Cache-Control \"max-age=3600\" always;\n"
            f"            add_header Repr-Digest \"sha-256=:{self.digest}:\" always;\n"
            f"        }}\n")
        anchor = "        location ~ ^/nostore/"
        return super().config().replace(anchor, digest_location + anchor, 1)


def parse_args():
    p = bench_parser(__doc__, size="1GiB", runs=3)
    p.add_argument("--baseline", type=Path, help="a second dlproxy binary to compare with")
    return parse_bench_args(p)


def metrics(proxy: Dlproxy) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=5) as r:
        out = {}
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


def one_round(proxy: Dlproxy, origin: Nginx, size: int, tag: str) -> dict:
    url = origin.url(f"/d/{tag}/body")
    pid = proxy.proc.pid
    before = metrics(proxy)
    cpu0 = settle_cpu(pid)
    r = curl_fetch(url, proxy.proxy_url, max_time=600)
    last_byte = time.monotonic()
    r.check(size)
    deadline = last_byte + 120
    while True:
        after = metrics(proxy)
        if after.get(VERIFIED, 0) > before.get(VERIFIED, 0):
            verdict_ms = (time.monotonic() - last_byte) * 1000
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{proxy.exe}: no verified verdict within 120 s of the last byte")
        time.sleep(0.005)
    cpu1 = settle_cpu(pid)

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)

    gib = size / GiB
    return {"cpu_s_per_gib": (cpu1 - cpu0) / gib,
            "sha256_s_per_gib": delta("dlproxy_sha256_cpu_seconds_total") / gib,
            "verdict_ms": verdict_ms,
            "inline_bytes": delta("dlproxy_sha256_inline_bytes_total"),
            "readback_bytes": delta("dlproxy_sha256_readback_bytes_total"),
            "mb_s": r.speed / 1e6}


def run(args) -> int:
    binaries = {"new": args.dlproxy}
    if args.baseline:
        binaries["baseline"] = args.baseline
    results: dict[str, list[dict]] = {name: [] for name in binaries}
    with Bench("sha256", args.keep) as bench:
        root = bench.dir / "www"
        root.mkdir()
        sha256_hex = write_body(root / "body", args.size_bytes)
        origin = DigestNginx(bench, root, sha256_hex).start()
        proxies = {name: bench.adopt(Dlproxy(str(bench.dir), ("--cache-size", "64GiB"), exe=exe,
                                             log_level="info").start())
                   for name, exe in binaries.items()}
        for i in range(args.runs):
            order = list(proxies) if i % 2 == 0 else list(reversed(proxies))
            for name in order:
                results[name].append(one_round(proxies[name], origin, args.size_bytes,
                                               f"sha-{name}-{i}"))
    rows = []
    for name, runs in results.items():
        def med(key):
            return median(r[key] for r in runs)
        rows.append([name, fmt(med("cpu_s_per_gib")), fmt(med("sha256_s_per_gib")),
                     fmt(med("verdict_ms"), ".0f"), fmt(med("inline_bytes") / 2**20, ".0f"),
                     fmt(med("readback_bytes") / 2**20, ".0f"), fmt(med("mb_s"), ".0f")])
    print(f"{args.size} cold fills with an announced sha256, medians of {args.runs}:")
    print_table(["dlproxy", "cpu s/GiB", "sha256 s/GiB", "verdict ms", "inline MiB",
                 "read back MiB", "MB/s"], rows)
    emit_json("sha256", {"size": args.size_bytes, "runs": results})
    if args.smoke and results["new"][0]["inline_bytes"] != args.size_bytes:
        raise BenchError("the cold fill was not hashed while filling")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_sha256", parse_args, run))
