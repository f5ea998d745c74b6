#!/usr/bin/env python3
"""Pass-through throughput: one large download directly from nginx, through dlproxy (forward
proxy, absolute URL) and through HAProxy (reverse proxy, the reference), alternated in every
round. Prints median MB/s (10^6 bytes/s) per kind, the ratios, dlproxy's CPU seconds per GiB
delivered and its peak RSS, then one `BENCH_JSON {...}` line with every run.

    python3 tests/bench/bench_passthrough.py [--size 1GiB] [--runs 5] [--dlproxy build/proxy/dlproxy]
    python3 tests/bench/bench_passthrough.py --smoke    # CI: 16 MiB, 1 run, correctness only

The URL is /nostore/<tag>/body.bin: nginx answers it with `Cache-Control: no-store`, so a proxy
that follows RFC 9111 §5.2.2.5 passes it through without storing, and <tag> differs in every run,
so no run can be a cache hit even if it did store. `--cacheable` uses /u/<tag>/body.bin instead
(a cold miss that the proxy may store). Before the timed rounds, one untimed run per kind
downloads to a file and compares its sha256 with the body's.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import (  # noqa: E402
    Bench, bench_parser, BenchError, dir_bytes, emit_json, fmt, fmt_mib, have, machine_info,
    median, parse_bench_args, print_table, ratio, run_main, which)
from dltest.const import GiB, MiB  # noqa: E402
from dltest.curl import curl_fetch, fetch_sha256  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import write_body  # noqa: E402
from dltest.procfs import cpu_seconds, peak_rss_bytes, settle_cpu  # noqa: E402
from dltest.webservers import HAProxy, Nginx  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KINDS = ("direct", "dlproxy", "haproxy")


def parse_args() -> argparse.Namespace:
    p = bench_parser(__doc__, size="1GiB", runs=5)
    p.add_argument("--cacheable", action="store_true",
                   help="request /u/<tag>/ (cacheable) instead of /nostore/<tag>/")
    p.add_argument("--no-haproxy", action="store_true", help="skip the HAProxy reference leg")
    p.add_argument("--haproxy-stock", action="store_true",
                   help="HAProxy with stock 16 KiB buffers instead of tune.bufsize 65536")
    args = parse_bench_args(p)
    return args


class Legs:
    """The three ways to download; `fetch(kind, tag)` does one timed download and returns the
    curl result plus the CPU seconds the serving proxy spent on it."""

    def __init__(self, nginx: Nginx, dlproxy: Dlproxy, haproxy: HAProxy | None,
                 prefix: str):
        self.nginx, self.dlproxy, self.haproxy, self.prefix = nginx, dlproxy, haproxy, prefix

    def kinds(self) -> list[str]:
        return [k for k in KINDS if k != "haproxy" or self.haproxy]

    def request(self, kind: str, tag: str) -> tuple[str, str | None]:
        path = f"/{self.prefix}/{tag}/body.bin"
        if kind == "direct":
            return self.nginx.url(path), None
        if kind == "dlproxy":
            return self.nginx.url(path), self.dlproxy.proxy_url
        return self.haproxy.url(path), None

    def server_pid(self, kind: str) -> int | None:
        return {"dlproxy": self.dlproxy.proc.pid,
                "haproxy": self.haproxy.proc.pid if self.haproxy else None}.get(kind)

    def fetch(self, kind: str, tag: str, size: int) -> dict:
        url, proxy = self.request(kind, tag)
        pid = self.server_pid(kind)
        cpu0 = cpu_seconds(pid) if pid else None
        ngx0 = cpu_seconds(self.nginx.proc.pid)
        r = curl_fetch(url, proxy)
        r.check(size)
        cpu = settle_cpu(pid) - cpu0 if pid else None
        ngx = cpu_seconds(self.nginx.proc.pid) - ngx0
        return {"kind": kind, "tag": tag, "bytes": r.size, "seconds": r.seconds,
                "mb_per_s": r.mb_per_s, "proxy_cpu_s": cpu, "nginx_cpu_s": ngx}


def check_bodies(legs: Legs, bench: Bench, size: int, sha: str) -> dict:
    """One untimed download per kind into a file; sizes and sha256 must equal the body's."""
    checked = {}
    for kind in legs.kinds():
        url, proxy = legs.request(kind, f"check-{kind}")
        got = fetch_sha256(url, proxy, bench.dir / "scratch" / f"{kind}.bin", size)
        if got != sha:
            raise BenchError(f"{kind}: sha256 {got} != body {sha}")
        checked[kind] = got
        print(f"check {kind:8s} {size} bytes sha256 ok", flush=True)
    return checked


def summarize(runs: list[dict], kinds: list[str], size: int, peak_rss: int) -> dict:
    by_kind = {k: [r for r in runs if r["kind"] == k] for k in kinds}
    med = {k: median(r["mb_per_s"] for r in by_kind[k]) for k in kinds}

    def paired(a: str, b: str) -> float | None:
        """Median over rounds of a/b within the round: robust to slow drift of a noisy host."""
        rounds = sorted({r["round"] for r in runs})
        vals = []
        for n in rounds:
            x = [r["mb_per_s"] for r in by_kind.get(a, []) if r["round"] == n]
            y = [r["mb_per_s"] for r in by_kind.get(b, []) if r["round"] == n]
            if x and y:
                vals.append(x[0] / y[0])
        return median(vals)

    def cpu_per_gib(kind: str) -> float | None:
        return median(r["proxy_cpu_s"] / (r["bytes"] / GiB) for r in by_kind.get(kind, [])
                      if r["proxy_cpu_s"] is not None)

    ratios = {}
    for a, b in (("dlproxy", "direct"), ("haproxy", "direct"), ("dlproxy", "haproxy")):
        if a in kinds and b in kinds:
            ratios[f"{a}/{b}"] = {"of_medians": ratio(med[a], med[b]),
                                  "paired_median": paired(a, b)}
    return {
        "median_mb_per_s": med,
        "min_mb_per_s": {k: min(r["mb_per_s"] for r in by_kind[k]) for k in kinds},
        "max_mb_per_s": {k: max(r["mb_per_s"] for r in by_kind[k]) for k in kinds},
        "ratios": ratios,
        "dlproxy_cpu_s_per_gib": cpu_per_gib("dlproxy"),
        "haproxy_cpu_s_per_gib": cpu_per_gib("haproxy"),
        "nginx_cpu_s_per_gib": median(r["nginx_cpu_s"] / (r["bytes"] / GiB) for r in runs),
        "dlproxy_peak_rss_mib": peak_rss / MiB,
    }


def print_report(s: dict, kinds: list[str], args, info: dict, extra: dict) -> None:
    print()
    print(f"pass-through, {fmt_mib(args.size_bytes)} MiB body, {args.runs} rounds, "
          f"{info['cpus']} CPUs, load {info['loadavg_1m_at_start']} at start, {info['date']}")
    print_table(["kind", "median MB/s", "min", "max"],
                [[k, fmt(s["median_mb_per_s"][k], ".0f"), fmt(s["min_mb_per_s"][k], ".0f"),
                  fmt(s["max_mb_per_s"][k], ".0f")] for k in kinds])
    print()
    print_table(["ratio", "of medians", "paired median"],
                [[name, fmt(v["of_medians"], ".3f"), fmt(v["paired_median"], ".3f")]
                 for name, v in s["ratios"].items()])
    print()
    print_table(["resource", "value"], [
        ["dlproxy CPU s/GiB", fmt(s["dlproxy_cpu_s_per_gib"], ".3f")],
        ["haproxy CPU s/GiB", fmt(s["haproxy_cpu_s_per_gib"], ".3f")],
        ["nginx CPU s/GiB (origin)", fmt(s["nginx_cpu_s_per_gib"], ".3f")],
        ["dlproxy peak RSS MiB", fmt(s["dlproxy_peak_rss_mib"], ".1f")],
        ["dlproxy cache dir MiB after", fmt(extra["cache_dir_bytes"] / MiB, ".1f")],
    ])
    print()


def run(args) -> int:
    for tool in ("curl", "nginx"):
        which(tool)  # raises, naming the apt-get install line, when missing
    info = machine_info(REPO)
    with Bench("bench-passthrough", keep=args.keep) as bench:
        www = bench.dir / "www"
        www.mkdir()
        sha = write_body(www / "body.bin", args.size_bytes)
        nginx = Nginx(bench, www).start()
        haproxy = None
        if args.smoke and not args.no_haproxy and not have("haproxy"):
            # HAProxy is the reference, not the code under test: a smoke without it still checks
            # dlproxy's bytes, and says so.
            print("note: haproxy not installed; smoke runs without the HAProxy leg")
            args.no_haproxy = True
        if not args.no_haproxy:
            haproxy = HAProxy(bench, nginx.port,
                              bufsize=None if args.haproxy_stock else 65536).start()
        dlproxy = bench.adopt(Dlproxy(bench.dir, exe=args.dlproxy, log_level="warn").start())
        print(f"workdir {bench.dir}: nginx :{nginx.port}, dlproxy :{dlproxy.port}"
              + (f", haproxy :{haproxy.port}" if haproxy else ""), flush=True)
        legs = Legs(nginx, dlproxy, haproxy, "u" if args.cacheable else "nostore")
        kinds = legs.kinds()

        check_bodies(legs, bench, args.size_bytes, sha)
        if args.smoke:
            print("smoke: sizes and sha256 equal for " + ", ".join(kinds))
            return 0

        runs = []
        for n in range(args.runs):
            # Rotate the order each round so no kind always runs first (cold CPU caches,
            # frequency ramps) or always right after another one's cleanup.
            order = kinds[n % len(kinds):] + kinds[:n % len(kinds)]
            for kind in order:
                r = legs.fetch(kind, f"r{n}-{kind}", args.size_bytes)
                r["round"] = n
                runs.append(r)
                print(f"round {n} {kind:8s} {r['mb_per_s']:8.0f} MB/s  "
                      f"proxy CPU {fmt(r['proxy_cpu_s'], '.2f')} s", flush=True)

        peak_rss = peak_rss_bytes(dlproxy.proc.pid)
        extra = {"cache_dir_bytes": dir_bytes(dlproxy.cache_dir),
                 "dlproxy_binary": dlproxy.describe(),
                 "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
                 "log_level": dlproxy.log_level,
                 "haproxy_bufsize": haproxy.bufsize if haproxy else None}
        s = summarize(runs, kinds, args.size_bytes, peak_rss)
        print_report(s, kinds, args, info, extra)
        emit_json("passthrough", {"size": args.size_bytes, "rounds": args.runs,
                                  "path": legs.prefix, "machine": info, **s, **extra,
                                  "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_passthrough", parse_args, run))
