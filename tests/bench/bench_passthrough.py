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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KINDS = ("direct", "dlproxy", "haproxy")


def parse_args() -> argparse.Namespace:
    p = bl.bench_parser(__doc__, size="1GiB", runs=5)
    p.add_argument("--cacheable", action="store_true",
                   help="request /u/<tag>/ (cacheable) instead of /nostore/<tag>/")
    p.add_argument("--no-haproxy", action="store_true", help="skip the HAProxy reference leg")
    p.add_argument("--haproxy-stock", action="store_true",
                   help="HAProxy with stock 16 KiB buffers instead of tune.bufsize 65536")
    args = bl.parse_bench_args(p)
    return args


class Legs:
    """The three ways to download; `fetch(kind, tag)` does one timed download and returns the
    curl result plus the CPU seconds the serving proxy spent on it."""

    def __init__(self, nginx: bl.Nginx, dlproxy: bl.DlProxy, haproxy: bl.HAProxy | None,
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
        cpu0 = bl.cpu_seconds(pid) if pid else None
        ngx0 = bl.cpu_seconds(self.nginx.proc.pid)
        r = bl.curl_fetch(url, proxy)
        r.check(size)
        cpu = bl.settle_cpu(pid) - cpu0 if pid else None
        ngx = bl.cpu_seconds(self.nginx.proc.pid) - ngx0
        return {"kind": kind, "tag": tag, "bytes": r.size, "seconds": r.seconds,
                "mb_per_s": r.mb_per_s, "proxy_cpu_s": cpu, "nginx_cpu_s": ngx}


def check_bodies(legs: Legs, bench: bl.Bench, size: int, sha: str) -> dict:
    """One untimed download per kind into a file; sizes and sha256 must equal the body's."""
    checked = {}
    for kind in legs.kinds():
        url, proxy = legs.request(kind, f"check-{kind}")
        got = bl.fetch_sha256(url, proxy, bench.dir / "scratch" / f"{kind}.bin", size)
        if got != sha:
            raise bl.BenchError(f"{kind}: sha256 {got} != body {sha}")
        checked[kind] = got
        print(f"check {kind:8s} {size} bytes sha256 ok", flush=True)
    return checked


def summarize(runs: list[dict], kinds: list[str], size: int, peak_rss: int) -> dict:
    by_kind = {k: [r for r in runs if r["kind"] == k] for k in kinds}
    med = {k: bl.median(r["mb_per_s"] for r in by_kind[k]) for k in kinds}

    def paired(a: str, b: str) -> float | None:
        """Median over rounds of a/b within the round: robust to slow drift of a noisy host."""
        rounds = sorted({r["round"] for r in runs})
        vals = []
        for n in rounds:
            x = [r["mb_per_s"] for r in by_kind.get(a, []) if r["round"] == n]
            y = [r["mb_per_s"] for r in by_kind.get(b, []) if r["round"] == n]
            if x and y:
                vals.append(x[0] / y[0])
        return bl.median(vals)

    def cpu_per_gib(kind: str) -> float | None:
        return bl.median(r["proxy_cpu_s"] / (r["bytes"] / bl.GiB) for r in by_kind.get(kind, [])
                         if r["proxy_cpu_s"] is not None)

    ratios = {}
    for a, b in (("dlproxy", "direct"), ("haproxy", "direct"), ("dlproxy", "haproxy")):
        if a in kinds and b in kinds:
            ratios[f"{a}/{b}"] = {"of_medians": bl.ratio(med[a], med[b]),
                                  "paired_median": paired(a, b)}
    return {
        "median_mb_per_s": med,
        "min_mb_per_s": {k: min(r["mb_per_s"] for r in by_kind[k]) for k in kinds},
        "max_mb_per_s": {k: max(r["mb_per_s"] for r in by_kind[k]) for k in kinds},
        "ratios": ratios,
        "dlproxy_cpu_s_per_gib": cpu_per_gib("dlproxy"),
        "haproxy_cpu_s_per_gib": cpu_per_gib("haproxy"),
        "nginx_cpu_s_per_gib": bl.median(r["nginx_cpu_s"] / (r["bytes"] / bl.GiB) for r in runs),
        "dlproxy_peak_rss_mib": peak_rss / bl.MiB,
    }


def print_report(s: dict, kinds: list[str], args, info: dict, extra: dict) -> None:
    print()
    print(f"pass-through, {bl.fmt_mib(args.size_bytes)} MiB body, {args.runs} rounds, "
          f"{info['cpus']} CPUs, load {info['loadavg_1m_at_start']} at start, {info['date']}")
    bl.print_table(["kind", "median MB/s", "min", "max"],
                   [[k, bl.fmt(s["median_mb_per_s"][k], ".0f"), bl.fmt(s["min_mb_per_s"][k], ".0f"),
                     bl.fmt(s["max_mb_per_s"][k], ".0f")] for k in kinds])
    print()
    bl.print_table(["ratio", "of medians", "paired median"],
                   [[name, bl.fmt(v["of_medians"], ".3f"), bl.fmt(v["paired_median"], ".3f")]
                    for name, v in s["ratios"].items()])
    print()
    bl.print_table(["resource", "value"], [
        ["dlproxy CPU s/GiB", bl.fmt(s["dlproxy_cpu_s_per_gib"], ".3f")],
        ["haproxy CPU s/GiB", bl.fmt(s["haproxy_cpu_s_per_gib"], ".3f")],
        ["nginx CPU s/GiB (origin)", bl.fmt(s["nginx_cpu_s_per_gib"], ".3f")],
        ["dlproxy peak RSS MiB", bl.fmt(s["dlproxy_peak_rss_mib"], ".1f")],
        ["dlproxy cache dir MiB after", bl.fmt(extra["cache_dir_bytes"] / bl.MiB, ".1f")],
    ])
    for note in extra["notes"]:
        print(f"note: {note}")
    print()


def run(args) -> int:
    for tool in ("curl", "nginx"):
        bl.which(tool)  # raises, naming the apt-get install line, when missing
    info = bl.machine_info(REPO)
    with bl.Bench("bench-passthrough", keep=args.keep) as bench:
        www = bench.dir / "www"
        www.mkdir()
        sha = bl.write_body(www / "body.bin", args.size_bytes)
        nginx = bl.Nginx(bench, www).start()
        haproxy = None
        if args.smoke and not args.no_haproxy and not bl.have("haproxy"):
            # HAProxy is the reference, not the code under test: a smoke without it still checks
            # dlproxy's bytes, and says so.
            print("note: haproxy not installed; smoke runs without the HAProxy leg")
            args.no_haproxy = True
        if not args.no_haproxy:
            haproxy = bl.HAProxy(bench, nginx.port,
                                 bufsize=None if args.haproxy_stock else 65536).start()
        dlproxy = bl.DlProxy(bench, args.dlproxy).start()
        print(f"workdir {bench.dir}: nginx :{nginx.port}, dlproxy :{dlproxy.port}"
              + (f", haproxy :{haproxy.port}" if haproxy else ""), flush=True)
        legs = Legs(nginx, dlproxy, haproxy, "u" if args.cacheable else "nostore")
        kinds = legs.kinds()

        check_bodies(legs, bench, args.size_bytes, sha)
        if args.smoke:
            for note in dlproxy.notes():
                print(f"note: {note}")
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
                      f"proxy CPU {bl.fmt(r['proxy_cpu_s'], '.2f')} s", flush=True)

        peak_rss = bl.peak_rss_bytes(dlproxy.proc.pid)
        extra = {"cache_dir_bytes": bl.dir_bytes(dlproxy.cache_dir),
                 "dlproxy_binary": dlproxy.describe(),
                 "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
                 "flags_dropped": dlproxy.flags_dropped,
                 "log_level": dlproxy.log_level_used, "notes": dlproxy.notes(),
                 "haproxy_bufsize": haproxy.bufsize if haproxy else None}
        s = summarize(runs, kinds, args.size_bytes, peak_rss)
        print_report(s, kinds, args, info, extra)
        bl.emit_json("passthrough", {"size": args.size_bytes, "rounds": args.runs,
                                     "path": legs.prefix, "machine": info, **s, **extra,
                                     "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(bl.run_main("bench_passthrough", parse_args, run))
