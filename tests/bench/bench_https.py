#!/usr/bin/env python3
"""HTTPS throughput (issue 6): one large download from an nginx TLS origin directly, through
dlproxy intercepting it on a cold cache (two TLS legs: client-dlproxy and dlproxy-origin, plus
the cache fill), through dlproxy again on the now warm cache (one TLS leg; the first hit reads
the body back from the device, since the fill wrote it with O_DIRECT), and once more (`rehit`:
the body is now in the page cache, as nginx's file is for `direct`). Every round runs all four;
prints median MB/s (10^6 bytes/s) per kind, the paired ratios to direct, dlproxy's CPU seconds
per GiB, then one `BENCH_JSON {...}` line.

    python3 tests/bench/bench_https.py [--size 1GiB] [--runs 5] [--dlproxy build/proxy/dlproxy]
    python3 tests/bench/bench_https.py --smoke    # CI: 16 MiB, 1 round, correctness only

The origin's certificate is a throwaway self-signed one (make_self_signed_cert) that
dlproxy trusts through --upstream-ca-file and the direct curl through --cacert; the proxied curls
trust dlproxy's CA (its ca.pem). Every round uses a fresh URL /u/r<N>/body.bin, so `cold` is
always a miss and `warm` (the same URL right after) always a hit. Targets (docs/https.md):
cold >= 0.40 x direct, warm >= 0.9 x direct.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import (  # noqa: E402
    Bench, bench_parser, BenchError, emit_json, fmt, fmt_mib, machine_info, median,
    parse_bench_args, print_table, ratio, run_main, which)
from dltest.const import GiB, LOCALHOST, MiB  # noqa: E402
from dltest.curl import curl_fetch, fetch_sha256  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import write_body  # noqa: E402
from dltest.pki import make_self_signed_cert  # noqa: E402
from dltest.procfs import cpu_seconds, peak_rss_bytes, settle_cpu  # noqa: E402
from dltest.webservers import Nginx  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KINDS = ("direct", "cold", "warm", "rehit")
PROXIED = ("cold", "warm", "rehit")


def parse_args() -> argparse.Namespace:
    p = bench_parser(__doc__, size="1GiB", runs=5)
    args = parse_bench_args(p)
    return args


class Legs:
    def __init__(self, nginx: Nginx, dlproxy: Dlproxy, origin_cert: Path, proxy_ca: Path):
        self.nginx, self.dlproxy = nginx, dlproxy
        self.origin_cert, self.proxy_ca = origin_cert, proxy_ca

    def request(self, kind: str, tag: str) -> tuple[str, str | None, list[str]]:
        url = self.nginx.url(f"/u/{tag}/body.bin", https=True)
        if kind == "direct":
            return url, None, ["--cacert", str(self.origin_cert)]
        return url, self.dlproxy.proxy_url, ["--cacert", str(self.proxy_ca)]

    def fetch(self, kind: str, tag: str, size: int) -> dict:
        url, proxy, extra = self.request(kind, tag)
        pid = self.dlproxy.proc.pid
        cpu0 = cpu_seconds(pid)
        r = curl_fetch(url, proxy, extra=extra)
        r.check(size)
        cpu = settle_cpu(pid) - cpu0
        return {"kind": kind, "tag": tag, "bytes": r.size, "seconds": r.seconds,
                "mb_per_s": r.mb_per_s, "proxy_cpu_s": cpu if proxy else None}


def check_bodies(legs: Legs, bench: Bench, size: int, sha: str) -> None:
    """Untimed: direct, then the same new URL cold and warm through dlproxy; sha256 each."""
    for kind in ("direct", "cold", "warm"):
        url, proxy, extra = legs.request(kind, "check")
        got = fetch_sha256(url, proxy, bench.dir / "scratch" / f"{kind}.bin", size, extra)
        if got != sha:
            raise BenchError(f"{kind}: sha256 {got} != body {sha}")
        print(f"check {kind:6s} {size} bytes sha256 ok", flush=True)
    hits = [e for e in legs.nginx.entries_matching("/u/check/") if e.status in (200, 206)]
    if len(hits) != 2:  # direct + cold; warm must not reach the origin
        raise BenchError(f"the origin served /u/check/ {len(hits)} times, expected 2 "
                         "(direct and cold): the warm download was not a cache hit")


def summarize(runs: list[dict]) -> dict:
    by_kind = {k: [r for r in runs if r["kind"] == k] for k in KINDS}
    med = {k: median(r["mb_per_s"] for r in by_kind[k]) for k in KINDS}

    def paired(a: str) -> float | None:
        vals = []
        for n in sorted({r["round"] for r in runs}):
            x = [r["mb_per_s"] for r in by_kind[a] if r["round"] == n]
            y = [r["mb_per_s"] for r in by_kind["direct"] if r["round"] == n]
            if x and y:
                vals.append(x[0] / y[0])
        return median(vals)

    return {
        "median_mb_per_s": med,
        "min_mb_per_s": {k: min(r["mb_per_s"] for r in by_kind[k]) for k in KINDS},
        "max_mb_per_s": {k: max(r["mb_per_s"] for r in by_kind[k]) for k in KINDS},
        "ratios": {f"{k}/direct": {"of_medians": ratio(med[k], med["direct"]),
                                   "paired_median": paired(k)} for k in PROXIED},
        "dlproxy_cpu_s_per_gib": {k: median(r["proxy_cpu_s"] / (r["bytes"] / GiB)
                                            for r in by_kind[k]) for k in PROXIED},
    }


def run(args) -> int:
    for tool in ("curl", "nginx", "openssl"):
        which(tool)
    info = machine_info(REPO)
    with Bench("bench-https", keep=args.keep) as bench:
        www = bench.dir / "www"
        www.mkdir()
        sha = write_body(www / "body.bin", args.size_bytes)
        cert, key = make_self_signed_cert(bench.dir)
        nginx = Nginx(bench, www, tls=(cert, key)).start()
        dlproxy = bench.adopt(Dlproxy(bench.dir, exe=args.dlproxy, log_level="warn", extra_args=[
            "--intercept", LOCALHOST, "--upstream-ca-file", str(cert),
            "--connect-ports", str(nginx.https_port)]).start())
        legs = Legs(nginx, dlproxy, cert, Path(dlproxy.cache_dir) / "ca" / "ca.pem")
        print(f"workdir {bench.dir}: nginx https :{nginx.https_port}, dlproxy :{dlproxy.port}",
              flush=True)
        check_bodies(legs, bench, args.size_bytes, sha)
        if args.smoke:
            print("smoke: sizes and sha256 equal for direct, cold and warm; warm was a hit")
            return 0

        runs = []
        for n in range(args.runs):
            # direct before or after the proxied legs, alternating (in order: cold, warm, rehit).
            order = ["direct", *PROXIED] if n % 2 == 0 else [*PROXIED, "direct"]
            for kind in order:
                r = legs.fetch(kind, f"r{n}", args.size_bytes)
                r["round"] = n
                runs.append(r)
                print(f"round {n} {kind:6s} {r['mb_per_s']:8.0f} MB/s  "
                      f"dlproxy CPU {fmt(r['proxy_cpu_s'], '.2f')} s", flush=True)

        s = summarize(runs)
        extra = {"loadavg_1m_at_end": round(os.getloadavg()[0], 2),
                 "dlproxy_binary": dlproxy.describe(),
                 "dlproxy_peak_rss_mib": peak_rss_bytes(dlproxy.proc.pid) / MiB}
        print()
        print(f"https, {fmt_mib(args.size_bytes)} MiB body, {args.runs} rounds, "
              f"{info['cpus']} CPUs, load {info['loadavg_1m_at_start']} at start, "
              f"{extra['loadavg_1m_at_end']} at end, {info['date']}")
        print_table(["kind", "median MB/s", "min", "max", "dlproxy CPU s/GiB"],
                    [[k, fmt(s["median_mb_per_s"][k], ".0f"),
                      fmt(s["min_mb_per_s"][k], ".0f"), fmt(s["max_mb_per_s"][k], ".0f"),
                      fmt(s["dlproxy_cpu_s_per_gib"].get(k), ".2f")] for k in KINDS])
        print()
        print_table(["ratio", "of medians", "paired median", "target"],
                    [["cold/direct", fmt(s["ratios"]["cold/direct"]["of_medians"], ".3f"),
                      fmt(s["ratios"]["cold/direct"]["paired_median"], ".3f"), ">= 0.40"],
                        ["warm/direct", fmt(s["ratios"]["warm/direct"]["of_medians"], ".3f"),
                         fmt(s["ratios"]["warm/direct"]["paired_median"], ".3f"), ">= 0.90"],
                        ["rehit/direct", fmt(s["ratios"]["rehit/direct"]["of_medians"], ".3f"),
                         fmt(s["ratios"]["rehit/direct"]["paired_median"], ".3f"), ">= 0.90"]])
        print()
        emit_json("https", {"size": args.size_bytes, "rounds": args.runs, "machine": info,
                            **s, **extra, "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_https", parse_args, run))
