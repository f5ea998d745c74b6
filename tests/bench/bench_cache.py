#!/usr/bin/env python3
"""The cost of caching: one large body downloaded, in every round and in rotating order,
  direct     from nginx (no proxy),
  pass       through dlproxy, not cacheable (/nostore/<tag>/: Cache-Control: no-store),
  cold       through dlproxy, cacheable and not yet cached (/u/<tag>/: a miss that fills the cache),
  warm       through dlproxy again for the same /u/<tag>/ URL (a hit served from the cache),
and `nginx` again for the warm comparison: nginx serving the same bytes from a file is what a
warm hit competes with. A fifth leg, `disk`, measures what a cold miss can at best reach here:
the same number of bytes written into the cache's file system the way dlproxy writes them
(O_DIRECT, 16 MiB `pwritev`s of page-aligned buffers, one `fdatasync` per 32 MiB as the Sync
durability mode's commits do), no network involved; `cold/disk` says how much of the disk's
rate the cold miss uses. With --durability-ab a second dlproxy runs with `--cache-durability
nosync` beside the default (sync) one, adding `cold_nosync` (a cold miss through it, on its own
URL) to every round, so both durability modes are measured against the same pass-through in one
run (docs/cache-format.md, "Durability"). Prints medians (MB/s = 10^6 bytes/s), the ratios the cache issue sets
(cold/pass >= 0.95, warm/direct >= 1.0), dlproxy's CPU s per GiB per leg and its peak RSS.

After each round the round's object is evicted through the admin API (--evict, the default), so
every cold miss writes into a cache the size of one object, as a cold miss on a machine in
steady state does. Without it, each round grows the page cache into memory this VM has never
touched, and first-touch faults of fresh guest memory (not dlproxy's work) dominate: see
docs/benchmarks.md. Ends with one `BENCH_JSON {...}` line with every run.

    python3 tests/bench/bench_cache.py [--size 1GiB] [--runs 5] [--no-evict] [--durability-ab]
    python3 tests/bench/bench_cache.py --smoke   # CI: 16 MiB, 1 round, sha256 of every leg
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import time
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import (  # noqa: E402
    Bench, bench_parser, BenchError, dir_bytes, emit_json, fmt, fmt_mib, machine_info, median,
    parse_bench_args, print_table, ratio, run_main, which)
from dltest.const import GiB, MiB  # noqa: E402
from dltest.curl import curl_fetch, fetch_sha256  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import write_body  # noqa: E402
from dltest.procfs import cpu_seconds, peak_rss_bytes, settle_cpu  # noqa: E402
from dltest.webservers import Nginx  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KINDS = ("direct", "pass", "cold", "warm", "disk", "cold_nosync")


def parse_args() -> argparse.Namespace:
    p = bench_parser(__doc__, size="1GiB", runs=5)
    p.add_argument("--nosync", action="store_true",
                   help="run dlproxy with --cache-durability nosync (no fdatasync before records)")
    p.add_argument("--durability-ab", action="store_true",
                   help="also run a second dlproxy with --cache-durability nosync: cold_nosync")
    p.add_argument("--no-evict", action="store_true",
                   help="keep every round's object (the page cache grows each round)")
    p.add_argument("--dlproxy-arg", action="append", default=[], metavar="FLAG",
                   help="an extra dlproxy flag, repeatable (e.g. --dlproxy-arg=--memory-budget=0)")
    args = parse_bench_args(p)
    return args


class Legs:
    def __init__(self, nginx: Nginx, dlproxy: Dlproxy, admin_port: int,
                 nosync: Dlproxy | None = None):
        self.nginx, self.dlproxy, self.admin_port = nginx, dlproxy, admin_port
        self.nosync = nosync  # --durability-ab: the second instance, for cold_nosync

    def proxy_for(self, kind: str) -> Dlproxy:
        return self.nosync if kind == "cold_nosync" else self.dlproxy

    def request(self, kind: str, tag: str) -> tuple[str, str | None]:
        if kind == "direct":
            return self.nginx.url(f"/u/{tag}/body.bin"), None
        if kind == "cold_nosync":  # its own URL: a miss in its own cache
            return self.nginx.url(f"/u/{tag}-nosync/body.bin"), self.nosync.proxy_url
        prefix = "nostore" if kind == "pass" else "u"
        return self.nginx.url(f"/{prefix}/{tag}/body.bin"), self.dlproxy.proxy_url

    def fetch(self, kind: str, tag: str, size: int, output: str = "/dev/null") -> dict:
        url, proxy = self.request(kind, tag)
        pid = self.proxy_for(kind).proc.pid
        cpu0 = cpu_seconds(pid)
        needle = f"/{url.split('/')[-2]}/"  # the URL's own tag (cold_nosync has its own)
        log0 = sum(needle in e.uri for e in self.nginx.read_access_log())
        r = curl_fetch(url, proxy, output=output)
        r.check(size)
        cpu = settle_cpu(pid) - cpu0 if proxy else None
        origin = len(self.nginx.entries_matching(needle, settle=0.1)) - log0
        return {"kind": kind, "tag": tag, "bytes": r.size, "seconds": r.seconds,
                "mb_per_s": r.mb_per_s, "proxy_cpu_s": cpu, "origin_requests": origin}

    def evict(self, tag: str, kind: str = "cold") -> dict:
        url, _ = self.request(kind, tag)
        port = self.proxy_for(kind).admin_port
        req = urllib.request.Request(f"http://127.0.0.1:{port}/cache/evict",
                                     data=json.dumps({"url": url}).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())


def disk_write(directory: Path, size: int, tag: str) -> dict:
    """Writes `size` bytes as a cold miss's chunk writes do, without the network: the ceiling."""
    batch, sync_every = 16 << 20, 32 << 20
    bufs = [mmap.mmap(-1, 1 << 20) for _ in range(batch >> 20)]  # page-aligned
    for b in bufs:  # incompressible bytes (a zero or repeated page may be elided)
        b.write(os.urandom(1 << 20))
    path = Path(directory) / f"bench-disk-{tag}.tmp"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)
    try:
        t0, off, unsynced = time.monotonic(), 0, 0
        while off < size:
            n = min(batch, size - off)
            views = bufs[:(n + (1 << 20) - 1) >> 20]
            off += os.pwritev(fd, views, off)
            unsynced += n
            if unsynced >= sync_every:
                os.fdatasync(fd)
                unsynced = 0
        os.fdatasync(fd)
        seconds = time.monotonic() - t0
    finally:
        os.close(fd)
        path.unlink()
    return {"kind": "disk", "tag": tag, "bytes": off, "seconds": seconds,
            "mb_per_s": off / seconds / 1e6, "proxy_cpu_s": None, "origin_requests": 0}


def run_round(legs: Legs, n: int, size: int) -> list[dict]:
    tag = f"r{n}"
    order = ["direct", "pass", "cold", "disk"] + (["cold_nosync"] if legs.nosync else [])
    order = order[n % len(order):] + order[:n % len(order)]
    # warm must follow cold; it goes right after it so both see the same page-cache state.
    order.insert(order.index("cold") + 1, "warm")
    out = []
    for kind in order:
        if kind == "disk":
            r = disk_write(legs.dlproxy.cache_dir, size, tag)
        else:
            r = legs.fetch(kind, tag, size)
        r["round"] = n
        out.append(r)
        print(f"round {n} {kind:11s} {r['mb_per_s']:8.0f} MB/s  dlproxy CPU "
              f"{fmt(r['proxy_cpu_s'], '.2f')} s  origin requests {r['origin_requests']}",
              flush=True)
    if [r for r in out if r["kind"] == "warm"][0]["origin_requests"] != 0:
        raise BenchError(f"round {n}: the warm download reached the origin")
    return out


def summarize(runs: list[dict], peak_rss: int) -> dict:
    by = {k: [r for r in runs if r["kind"] == k] for k in KINDS}
    med = {k: median(r["mb_per_s"] for r in by[k]) for k in KINDS}
    pairs = [("cold", "pass"), ("cold", "direct"), ("pass", "direct"), ("warm", "direct"),
             ("cold", "disk"), ("disk", "pass")]
    if by["cold_nosync"]:
        pairs += [("cold_nosync", "pass"), ("cold", "cold_nosync")]

    def paired(a: str, b: str) -> float | None:
        vals = []
        for n in sorted({r["round"] for r in runs}):
            x = [r["mb_per_s"] for r in by[a] if r["round"] == n]
            y = [r["mb_per_s"] for r in by[b] if r["round"] == n]
            if x and y:
                vals.append(x[0] / y[0])
        return median(vals)

    ratios = {f"{a}/{b}": {"of_medians": ratio(med[a], med[b]), "paired_median": paired(a, b)}
              for a, b in pairs}
    cpu = {k: median(r["proxy_cpu_s"] / (r["bytes"] / GiB) for r in by[k] if r["proxy_cpu_s"])
           for k in ("pass", "cold", "warm", "cold_nosync")}
    return {"median_mb_per_s": med, "ratios": ratios, "dlproxy_cpu_s_per_gib": cpu,
            "dlproxy_peak_rss_mib": peak_rss / MiB}


def run(args) -> int:
    for tool in ("curl", "nginx"):
        which(tool)
    info = machine_info(REPO)
    with Bench("bench-cache", keep=args.keep) as bench:
        www = bench.dir / "www"
        www.mkdir()
        sha = write_body(www / "body.bin", args.size_bytes)
        nginx = Nginx(bench, www).start()
        dlproxy = bench.adopt(Dlproxy(bench.dir, exe=args.dlproxy, log_level="info", extra_args=(
            ["--cache-durability", "nosync"] if args.nosync else []) + args.dlproxy_arg).start())
        nosync = None
        if args.durability_ab:
            nosync = bench.adopt(Dlproxy(bench.dir, exe=args.dlproxy, log_level="info",
                                         extra_args=["--cache-durability", "nosync",
                                                     *args.dlproxy_arg]).start())
        legs = Legs(nginx, dlproxy, dlproxy.admin_port, nosync)
        print(f"workdir {bench.dir}: nginx :{nginx.port}, dlproxy :{dlproxy.port}", flush=True)

        if args.smoke:
            for kind in ("direct", "pass", "cold", "warm"):
                url, proxy = legs.request(kind, "smoke")
                got = fetch_sha256(url, proxy, bench.dir / "scratch" / f"{kind}.bin",
                                   args.size_bytes)
                if got != sha:
                    raise BenchError(f"{kind}: sha256 {got} != body {sha}")
                print(f"check {kind:6s} {args.size_bytes} bytes sha256 ok", flush=True)
            hits = nginx.entries_matching("/u/smoke/")
            if len(hits) != 2:  # direct + cold; warm must not reach nginx
                raise BenchError(f"nginx saw {len(hits)} requests for /u/smoke/, expected 2")
            print(f"evict: {legs.evict('smoke')}")
            print("smoke: sizes and sha256 equal for every leg; the warm leg was a hit")
            return 0

        runs = []
        for n in range(args.runs):
            runs += run_round(legs, n, args.size_bytes)
            if not args.no_evict:
                legs.evict(f"r{n}")
                if nosync:
                    legs.evict(f"r{n}", "cold_nosync")
        s = summarize(runs, peak_rss_bytes(dlproxy.proc.pid))
        extra = {"cache_dir_bytes": dir_bytes(dlproxy.cache_dir), "evict": not args.no_evict,
                 "durability": "nosync" if args.nosync else "sync",
                 "durability_ab": args.durability_ab,
                 "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
                 "dlproxy_binary": dlproxy.describe()}
        print()
        print(f"cache cost, {fmt_mib(args.size_bytes)} MiB body, {args.runs} rounds, "
              f"{info['cpus']} CPUs, load {info['loadavg_1m_at_start']} at start / "
              f"{extra['loadavg_1m_at_end']} at end, evict between rounds: {extra['evict']}, "
              f"durability {extra['durability']}"
              f"{' (cold_nosync: a second dlproxy, nosync)' if args.durability_ab else ''}")
        print_table(["kind", "median MB/s", "dlproxy CPU s/GiB"],
                    [[k, fmt(s["median_mb_per_s"][k], ".0f"),
                      fmt(s["dlproxy_cpu_s_per_gib"].get(k), ".3f")] for k in KINDS
                     if s["median_mb_per_s"][k] is not None])
        print()
        print_table(["ratio", "of medians", "paired median"],
                    [[name, fmt(v["of_medians"], ".3f"), fmt(v["paired_median"], ".3f")]
                     for name, v in s["ratios"].items()])
        print(f"\ndlproxy peak RSS {s['dlproxy_peak_rss_mib']:.1f} MiB")
        emit_json("cache", {"size": args.size_bytes, "rounds": args.runs, "machine": info,
                            **s, **extra, "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_cache", parse_args, run))
