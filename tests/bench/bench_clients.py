#!/usr/bin/env python3
"""Many clients on one cold object: N concurrent curls (default 1, 4, 16) fetch the same URL
through dlproxy, and, for comparison, the same N curls fetch it directly from nginx. Every
round uses a fresh URL (/u/<tag>/body.bin, the same bytes under a new path), so dlproxy starts
each round with a cold object. Reports, per N, the aggregate client throughput (all clients'
bytes over wall time, first spawn to last exit, in MB/s = 10^6 bytes/s), the slowest client,
the bytes nginx sent for the round (from its access log's $bytes_sent; 1.00 objects means one
origin fetch served all N clients) and dlproxy's CPU seconds per GiB delivered to clients.
Ends with one `BENCH_JSON {...}` line with every run.

    python3 tests/bench/bench_clients.py [--size 256MiB] [--runs 3] [--clients 1,4,16]
                                         [--dlproxy build/proxy/dlproxy]
    python3 tests/bench/bench_clients.py --smoke   # CI: 16 MiB, 1 round, sha256 of every client
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
from dltest.const import GiB, MiB  # noqa: E402
from dltest.curl import curl_concurrent  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_file, write_body  # noqa: E402
from dltest.procfs import cpu_seconds, peak_rss_bytes, settle_cpu  # noqa: E402
from dltest.webservers import Nginx  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KINDS = ("direct", "dlproxy")


def parse_args() -> argparse.Namespace:
    p = bench_parser(__doc__, size="256MiB", runs=3,
                     smoke_help="16 MiB, 1 round; every client's body is hashed; exit 1 on a mismatch")
    p.add_argument("--clients", default="1,4,16", help="comma-separated client counts")
    args = parse_bench_args(p)
    try:
        args.client_counts = [int(c) for c in args.clients.split(",")]
    except ValueError:
        p.error("--clients takes comma-separated integers, e.g. 1,4,16")
    if min(args.client_counts) < 1:
        p.error("--clients must be positive")
    return args


def one_round(kind: str, n_clients: int, tag: str, nginx: Nginx, dlproxy: Dlproxy,
              bench: Bench, args, sha: str) -> dict:
    url = nginx.url(f"/u/{tag}/body.bin")
    proxy = dlproxy.proxy_url if kind == "dlproxy" else None
    scratch = bench.dir / "scratch"
    scratch.mkdir(exist_ok=True)
    outputs = [str(scratch / f"{tag}-{i}.bin") if args.smoke else "/dev/null"
               for i in range(n_clients)]

    pid = dlproxy.proc.pid
    cpu0 = cpu_seconds(pid)
    res = curl_concurrent([(url, proxy, out) for out in outputs])
    for r in res.results:
        r.check(args.size_bytes)
    cpu = settle_cpu(pid) - cpu0
    if args.smoke:
        for out in outputs:
            got = sha256_file(Path(out))
            Path(out).unlink()
            if got != sha:
                raise BenchError(f"{kind} x{n_clients}: sha256 {got} != body {sha}")

    origin = nginx.entries_matching(f"/u/{tag}/")
    origin_bytes = sum(e.bytes_sent for e in origin)
    delivered_gib = res.total_bytes / GiB
    speeds = [r.mb_per_s for r in res.results]
    return {
        "kind": kind, "clients": n_clients, "tag": tag,
        "wall_s": res.wall_seconds, "bytes_delivered": res.total_bytes,
        "aggregate_mb_per_s": res.aggregate_mb_per_s,
        "slowest_client_mb_per_s": min(speeds), "client_mb_per_s": speeds,
        "origin_requests": len(origin), "origin_bytes": origin_bytes,
        "origin_objects": origin_bytes / args.size_bytes,
        "dlproxy_cpu_s": cpu,
        "dlproxy_cpu_s_per_gib": cpu / delivered_gib if kind == "dlproxy" else None,
    }


def summarize(runs: list[dict], counts: list[int]) -> list[dict]:
    rows = []
    for n in counts:
        d = [r for r in runs if r["clients"] == n and r["kind"] == "direct"]
        p = [r for r in runs if r["clients"] == n and r["kind"] == "dlproxy"]
        direct = median(r["aggregate_mb_per_s"] for r in d)
        proxied = median(r["aggregate_mb_per_s"] for r in p)
        rows.append({
            "clients": n,
            "direct_aggregate_mb_per_s": direct,
            "dlproxy_aggregate_mb_per_s": proxied,
            "dlproxy_over_direct": ratio(proxied, direct),
            "dlproxy_slowest_client_mb_per_s": median(r["slowest_client_mb_per_s"] for r in p),
            "dlproxy_origin_objects": median(r["origin_objects"] for r in p),
            "dlproxy_origin_requests": median(r["origin_requests"] for r in p),
            "dlproxy_cpu_s_per_gib": median(r["dlproxy_cpu_s_per_gib"] for r in p),
        })
    return rows


def print_report(rows: list[dict], args, info: dict, peak_rss: int) -> None:
    print()
    print(f"{len(rows)} client counts on one cold {fmt_mib(args.size_bytes)} MiB object, "
          f"{args.runs} rounds, {info['cpus']} CPUs, load {info['loadavg_1m_at_start']} at start, "
          f"{info['date']} (medians; MB/s = 10^6 B/s)")
    print_table(
        ["clients", "direct MB/s", "dlproxy MB/s", "dlproxy/direct", "slowest client",
         "origin objects", "origin reqs", "dlproxy CPU s/GiB"],
        [[r["clients"], fmt(r["direct_aggregate_mb_per_s"], ".0f"),
          fmt(r["dlproxy_aggregate_mb_per_s"], ".0f"), fmt(r["dlproxy_over_direct"], ".3f"),
          fmt(r["dlproxy_slowest_client_mb_per_s"], ".0f"),
          fmt(r["dlproxy_origin_objects"], ".2f"), fmt(r["dlproxy_origin_requests"], ".0f"),
          fmt(r["dlproxy_cpu_s_per_gib"], ".3f")] for r in rows])
    print(f"dlproxy peak RSS {peak_rss / MiB:.1f} MiB")
    print("origin objects = nginx $bytes_sent for the round / object size (1.00: one fetch for all)")
    print()


def run(args) -> int:
    for tool in ("curl", "nginx"):
        which(tool)  # raises, naming the apt-get install line, when missing
    info = machine_info(REPO)
    with Bench("bench-clients", keep=args.keep) as bench:
        www = bench.dir / "www"
        www.mkdir()
        sha = write_body(www / "body.bin", args.size_bytes)
        nginx = Nginx(bench, www).start()
        dlproxy = bench.adopt(Dlproxy(bench.dir, exe=args.dlproxy, log_level="warn").start())
        print(f"workdir {bench.dir}: nginx :{nginx.port}, dlproxy :{dlproxy.port}", flush=True)

        if not args.smoke:
            # One untimed download per kind so neither side's first-request costs (page cache,
            # lazy initialisation) land in a timed round.
            for kind in KINDS:
                one_round(kind, 1, f"warmup-{kind}", nginx, dlproxy, bench, args, sha)

        runs = []
        for n in range(args.runs):
            for i, clients in enumerate(args.client_counts):
                order = KINDS if (n + i) % 2 == 0 else KINDS[::-1]
                for kind in order:
                    r = one_round(kind, clients, f"r{n}-c{clients}-{kind}", nginx, dlproxy,
                                  bench, args, sha)
                    r["round"] = n
                    runs.append(r)
                    print(f"round {n} {kind:8s} x{clients:<3d} {r['aggregate_mb_per_s']:8.0f} MB/s"
                          f"  origin {r['origin_objects']:.2f} objects in "
                          f"{r['origin_requests']} requests", flush=True)
        if args.smoke:
            print("smoke: every client got the full body with the right sha256")

        peak_rss = peak_rss_bytes(dlproxy.proc.pid)
        rows = summarize(runs, args.client_counts)
        print_report(rows, args, info, peak_rss)
        emit_json("clients", {"size": args.size_bytes, "rounds": args.runs,
                              "machine": info, "summary": rows,
                              "dlproxy_peak_rss_mib": peak_rss / MiB,
                              "dlproxy_binary": dlproxy.describe(),
                              "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
                              "log_level": dlproxy.log_level,
                              "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_clients", parse_args, run))
