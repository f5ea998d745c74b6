#!/usr/bin/env python3
"""dlproxy's memory with many slow clients on distinct cold objects, with and without the memory
budget (issue 19, docs/many-clients.md "Memory budget"). For each setting, a fresh dlproxy and
cache: N raw-socket clients (default 60) each read their own cold object (default 48 MiB) at
RATE (default 2 MiB/s), hashing the body; dlproxy's RSS is sampled every 0.5 s. Prints, per
setting, peak RSS (VmHWM), RSS at 4 s intervals, the chunk buffers /status reports, the wall
time, and whether every body was exact. The origin is tests/origin/origin.py.

    python3 tests/bench/bench_memory.py [--clients 60] [--size 48MiB] [--rate 2MiB]
                                        [--budgets 0,256MiB]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pylib"))
import dltest  # noqa: E402,F401  (first: it may re-run us under Debian's python3 for pycurl)
from dltest.benchkit import (  # noqa: E402
    BenchError, emit_json, machine_info, parse_size, print_table)
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.origin import Origin  # noqa: E402
import content  # noqa: E402  (tests/origin, on sys.path through dltest)

sys.path.insert(0, str(HERE.parent / "integration"))
from test_memory_budget import SlowReader  # noqa: E402


def status_memory(proxy) -> dict:
    return json.loads(proxy.admin("/status")).get("memory", {})


def one_setting(budget: str, args, work: Path, origin: Origin) -> dict:
    proxy = Dlproxy(str(work / f"p-{budget}"), ("--memory-budget", budget)).start()
    try:
        paths = [f"/bytes/{args.size_bytes}/mem-{budget}-{i}" for i in range(args.clients)]
        readers = [SlowReader(proxy.port, origin.url(p), origin.hostport, args.size_bytes,
                              args.rate_bytes) for p in paths]
        t0 = time.monotonic()
        for r in readers:
            r.start()
        samples, peak_chunks = [], 0
        while any(r.thread.is_alive() for r in readers):
            if time.monotonic() - t0 > args.timeout:
                raise BenchError(f"budget {budget}: clients did not finish in {args.timeout} s")
            samples.append((round(time.monotonic() - t0, 1), proxy.rss_kb() / 1024))
            peak_chunks = max(peak_chunks, status_memory(proxy).get("in_use", 0) / 2**20)
            time.sleep(0.5)
        wall = time.monotonic() - t0
        exact = all(r.error is None and r.sha256 == content.sha256_of(p, args.size_bytes)
                    for r, p in zip(readers, paths))
        return {"budget": budget, "peak_rss_mib": proxy.hwm_kb() / 1024,
                "peak_chunk_mib": peak_chunks, "wall_s": wall, "exact": exact,
                "rss_every_4s": [round(m) for t, m in samples[::8]]}
    finally:
        proxy.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=60)
    p.add_argument("--size", default="48MiB")
    p.add_argument("--rate", default="2MiB")
    p.add_argument("--budgets", default="0,256MiB")
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()
    args.size_bytes, args.rate_bytes = parse_size(args.size), parse_size(args.rate)
    work = Path(tempfile.mkdtemp(prefix="dlproxy-bench-memory-"))
    origin = Origin(str(work)).start()
    rows = []
    try:
        for budget in args.budgets.split(","):
            rows.append(one_setting(budget, args, work, origin))
    finally:
        origin.stop()
    print_table(("budget", "peak RSS MiB", "peak chunk buffers MiB", "wall s", "exact",
                 "RSS every 4 s (MiB)"),
                   [(r["budget"], f"{r['peak_rss_mib']:.0f}", f"{r['peak_chunk_mib']:.0f}",
                     f"{r['wall_s']:.1f}", r["exact"], " ".join(map(str, r["rss_every_4s"])))
                    for r in rows])
    emit_json("bench_memory", {"clients": args.clients, "size": args.size_bytes,
                               "rate": args.rate_bytes, "runs": rows,
                               "machine": machine_info()})
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
