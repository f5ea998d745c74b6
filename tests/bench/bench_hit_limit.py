#!/usr/bin/env python3
"""The first hit against its copy-and-verify limit (issue 18, docs/benchmarks.md).

dlproxy verifies every stored byte it serves: a hit reads each chunk from the device (O_DIRECT),
checks its XXH3 and copies it into the client's socket. tests/bench/hit_limit.cpp does exactly
that and nothing else (no event loop, no index, no HTTP beyond one answer head), reading ahead
on a second thread as dlproxy's workers do. Run on the very body file dlproxy stored, it is the
floor under dlproxy's hit on this machine: the issue asks the first hit to be within 20 % of it
where it cannot beat the peers' unverified hits.

Each round, in alternating order: a hit through dlproxy of a URL it filled just before (a new
URL per round, so every hit is a first hit right after its fill), and curl straight from
hit_limit serving that URL's body file. Reports MB/s (curl's own timing) and CPU s/GiB (dlproxy's
process; hit_limit's own rusage), medians, and the ratio dlproxy / limit.

--alternatives adds hit_limit's other modes to every round (the order rotates): `mapped` (verified
without copying into the socket: mmap + mlock, XXH3 in place, sendfile), `sendfile` (unverified,
from the page cache, after dropping it as a fill leaves it) and `sendfile-warm` (unverified, the
file left in the page cache: nginx's first hit, whose cache file was written buffered).

    python3 tests/bench/bench_hit_limit.py [--size 1GiB] [--runs 5] [--dlproxy BIN]
                                           [--hit-limit build/tests/bench/hit_limit]
                                           [--alternatives]
"""

from __future__ import annotations

import json
import subprocess
import sys
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
from dltest.processes import clean_env  # noqa: E402
from dltest.webservers import Nginx  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def parse_args():
    p = bench_parser(__doc__, size="1GiB", runs=5)
    p.add_argument("--hit-limit", type=Path, default=REPO / "build/tests/bench/hit_limit")
    p.add_argument("--alternatives", action="store_true",
                   help="also hit_limit's mapped, sendfile and sendfile-warm modes")
    return parse_bench_args(p)


def body_file(proxy: Dlproxy, url: str) -> Path:
    ctl = Path(proxy.exe).parent / "ctl" / "dlproxyctl"
    if not ctl.exists():  # a binary copied elsewhere (e.g. a baseline): the build's dlproxyctl
        ctl = REPO / "build" / "proxy" / "ctl" / "dlproxyctl"
    r = subprocess.run([str(ctl), "--cache-dir", proxy.cache_dir, "show", "--json", url],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    if r.returncode != 0:
        raise BenchError(f"dlproxyctl show {url}: {r.stderr.strip()}")
    shown = json.loads(r.stdout)
    path = shown.get("body_file") or shown.get("body file")
    if not path:
        raise BenchError(f"dlproxyctl show gave no body file: {shown}")
    return Path(path)


ALTERNATIVES = ("mapped", "sendfile", "sendfile-warm")


def limit_round(exe: Path, body: Path, size: int, mode: str = "direct") -> dict:
    p = subprocess.Popen([str(exe), str(body), str(size), mode], stdout=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline()
        if not line.startswith("listening on "):
            raise BenchError(f"hit_limit: {line!r}")
        port = int(line.rsplit(":", 1)[1])
        r = curl_fetch(f"http://127.0.0.1:{port}/body", None, max_time=300)
        r.check(size)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    cpu = float(out.split()[-1])
    return {"mb_s": r.speed / 1e6, "cpu_s_per_gib": cpu / (size / GiB)}


def dlproxy_round(proxy: Dlproxy, url: str, size: int) -> dict:
    pid = proxy.proc.pid
    cpu0 = settle_cpu(pid)
    r = curl_fetch(url, proxy.proxy_url, max_time=300)
    r.check(size)
    cpu1 = settle_cpu(pid)
    return {"mb_s": r.speed / 1e6, "cpu_s_per_gib": (cpu1 - cpu0) / (size / GiB)}


def run(args) -> int:
    if not args.hit_limit.exists():
        raise BenchError(f"{args.hit_limit} not built (ninja -C build tests/bench/hit_limit)")
    results: dict[str, list[dict]] = {"dlproxy": [], "limit": []}
    if args.alternatives:
        results.update({mode: [] for mode in ALTERNATIVES})
    with Bench("hit_limit", args.keep) as bench:
        root = bench.dir / "www"
        root.mkdir()
        write_body(root / "body", args.size_bytes)
        origin = Nginx(bench, root).start()
        proxy = bench.adopt(Dlproxy(str(bench.dir), ("--cache-size", "64GiB"),
                                    exe=args.dlproxy).start())
        for i in range(args.runs):
            url = origin.url(f"/u/hit-{i}/body")
            curl_fetch(url, proxy.proxy_url, max_time=600).check(args.size_bytes)  # the fill
            body = body_file(proxy, url)
            legs = [("dlproxy", lambda: dlproxy_round(proxy, url, args.size_bytes)),
                    ("limit", lambda: limit_round(args.hit_limit, body, args.size_bytes))]
            if args.alternatives:
                legs += [(mode, lambda mode=mode: limit_round(args.hit_limit, body,
                                                              args.size_bytes, mode))
                         for mode in ALTERNATIVES]
            # dlproxy's hit and the limit alternate; the alternatives come after both, since
            # they bring the file into the page cache (mapped and sendfile drop it first, and
            # sendfile-warm reads what sendfile left there).
            first = legs[:2] if i % 2 == 0 else legs[1::-1]
            for name, leg in first + legs[2:]:
                results[name].append(leg())
            print(f"  round {i}: " + ", ".join(f"{name} {results[name][-1]['mb_s']:.0f} MB/s"
                                               for name in results), flush=True)
    rows = []
    for name, runs in results.items():
        rows.append([name, fmt(median(r["mb_s"] for r in runs), ".0f"),
                     fmt(median(r["cpu_s_per_gib"] for r in runs))])
    print(f"{args.size} first hits right after the fill, medians of {args.runs}:")
    print_table(["server", "MB/s", "CPU s/GiB"], rows)
    ratios = [d["mb_s"] / l["mb_s"] for d, l in zip(results["dlproxy"], results["limit"])]
    print(f"dlproxy / copy-and-verify limit: {median(ratios):.2f} (median of paired rounds)")
    emit_json("hit_limit", {"size": args.size_bytes, "runs": results})
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_hit_limit", parse_args, run))
