#!/usr/bin/env python3
"""Many clients on distinct URLs through 1, 2 and 3 dlproxy instances behind HAProxy, as
scripts/dlproxy-cluster starts them (configs/haproxy.cfg; docs/operations.md#sizing).

Each round starts a fresh cluster of K instances (empty caches), then C concurrent curls fetch C
distinct cold URLs (/u/<tag>-<i>/body.bin from nginx) through HAProxy -- the cold leg, every
object filled by the instance its URL hashes to -- and then the same C URLs again -- the warm leg,
all hits. For comparison the same C curls fetch C other URLs straight from nginx (direct) and, in
the K=1 rounds, through the single instance without HAProxy (no-haproxy). Reports medians over the
rounds: aggregate throughput (all clients' bytes over wall time, MB/s = 10^6 B/s), the ratio to
K=1, origin bytes per leg in objects per URL (1.00 = each object once), the warm leg's hit ratio (from the
instances' access logs), CPU seconds per GiB delivered (all instances together, and HAProxy) and
the instances' total RSS. Ends with one `BENCH_JSON {...}` line.

    python3 tests/bench/bench_cluster.py [--size 128MiB] [--runs 3] [--clients 8] [--instances 1,2,3]
    python3 tests/bench/bench_cluster.py --smoke   # CI: 2 instances, 4 x 8 MiB, sha256 of each body
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import (  # noqa: E402
    Bench, bench_parser, BenchError, emit_json, fmt, fmt_mib, machine_info, median,
    parse_bench_args, print_table, ratio, run_main, which)
from dltest.const import GiB, LOCALHOST, MiB  # noqa: E402
from dltest.curl import curl_concurrent  # noqa: E402
from dltest.hashing import sha256_file, write_body  # noqa: E402
from dltest.ports import free_port  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.procfs import cpu_seconds, rss_bytes, settle_cpu  # noqa: E402
from dltest.webservers import Nginx  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "scripts" / "dlproxy-cluster"


def parse_args():
    p = bench_parser(__doc__, size="128MiB", runs=3,
                     smoke_help="2 instances, 4 clients x 8 MiB, 1 round; sha256 of every body")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (distinct URLs)")
    p.add_argument("--instances", default="1,2,3", help="comma-separated instance counts")
    args = parse_bench_args(p)
    if args.smoke:
        args.clients, args.instances = 4, "2"
        args.size_bytes = 8 * MiB
    args.counts = [int(k) for k in args.instances.split(",")]
    return args


class Cluster:
    """dlproxy-cluster start/stop in bench.dir/cluster-<tag>; stopped by the PIDs it recorded."""

    def __init__(self, bench: Bench, exe: Path, n: int, tag: str):
        self.dir = bench.dir / f"cluster-{tag}"
        self.exe, self.n = exe, n
        self.port = 0
        self.pids: list[int] = []
        self.haproxy_pid = 0
        self.instance_ports: list[int] = []

    def start(self) -> "Cluster":
        for _ in range(3):
            self.port = free_port()
            p = subprocess.run([str(CLUSTER), "start", "--dir", str(self.dir), "-n", str(self.n),
                                "--base-port", "0", "--listen", f"{LOCALHOST}:{self.port}",
                                "--dlproxy", str(self.exe), "--", "--log-level", "info"],
                               capture_output=True, text=True, timeout=60, env=clean_env())
            if p.returncode == 0:
                for line in p.stdout.splitlines():
                    f = line.split()
                    if f[0] == "frontend":
                        self.haproxy_pid = int(f[3])
                    else:
                        self.pids.append(int(f[2]))
                        self.instance_ports.append(int(f[3].rsplit(":", 1)[1]))
                return self
            self.stop()
        raise BenchError(f"dlproxy-cluster start failed: {p.stdout}{p.stderr}")

    @property
    def proxy_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def cpu(self) -> tuple[float, float]:
        return sum(cpu_seconds(p) for p in self.pids), cpu_seconds(self.haproxy_pid)

    def rss(self) -> int:
        return sum(rss_bytes(p) for p in self.pids)

    def results(self, needle: str) -> list[str]:
        """Access-log results (HIT, MISS, ...) of requests whose URL contains `needle`."""
        out = []
        for k in range(1, self.n + 1):
            text = (self.dir / f"i{k}" / "dlproxy.log").read_text(errors="replace")
            out += re.findall(rf'result=(\S+) .*?url="[^"]*{re.escape(needle)}', text)
        return out

    def stop(self) -> None:
        subprocess.run([str(CLUSTER), "stop", "--dir", str(self.dir)], capture_output=True,
                       timeout=60)
        for pid in self.pids + [self.haproxy_pid]:
            try:
                exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            except OSError:
                continue
            if exe in ("dlproxy", "haproxy"):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)  # the caches: up to clients x size each


def leg(name: str, urls: list[str], proxy: str | None, nginx: Nginx, tag: str, args,
        bench: Bench, sha: str, cluster: Cluster | None = None) -> dict:
    outputs = [str(bench.dir / f"{tag}-{i}.bin") if args.smoke else "/dev/null"
               for i in range(len(urls))]
    cpu0 = cluster.cpu() if cluster else (0.0, 0.0)
    before = cluster.results(f"/u/{tag}-") if cluster else []
    res = curl_concurrent([(u, proxy, o) for u, o in zip(urls, outputs)])
    for r in res.results:
        r.check(args.size_bytes)
    if args.smoke:
        for o in outputs:
            if sha256_file(Path(o)) != sha:
                raise BenchError(f"{name} {tag}: a body's sha256 differs")
            Path(o).unlink()
    gib = res.total_bytes / GiB
    row = {"leg": name, "tag": tag, "aggregate_mb_per_s": res.aggregate_mb_per_s,
           "slowest_client_mb_per_s": min(r.mb_per_s for r in res.results),
           "origin_objects": sum(e.bytes_sent for e in nginx.entries_matching(f"/u/{tag}-"))
           / (args.size_bytes * len(urls))}
    if cluster:
        for pid in cluster.pids + [cluster.haproxy_pid]:
            settle_cpu(pid)
        cpu1 = cluster.cpu()
        row["dlproxy_cpu_s_per_gib"] = (cpu1[0] - cpu0[0]) / gib
        row["haproxy_cpu_s_per_gib"] = (cpu1[1] - cpu0[1]) / gib
        after = cluster.results(f"/u/{tag}-")  # this leg's lines: the counts' difference
        total = len(after) - len(before)
        hits = after.count("HIT") - before.count("HIT")
        row["hit_ratio"] = hits / total if total else None
    return row


def one_round(n_round: int, k: int, args, nginx: Nginx, bench: Bench, sha: str) -> list[dict]:
    urls = lambda tag: [nginx.url(f"/u/{tag}-{i}/body.bin") for i in range(args.clients)]  # noqa: E731
    rows = []
    cluster = Cluster(bench, args.dlproxy, k, f"r{n_round}-k{k}").start()
    try:
        tag = f"r{n_round}-k{k}"
        rows.append(leg("cold", urls(tag), cluster.proxy_url, nginx, tag, args, bench, sha, cluster))
        rows.append(leg("warm", urls(tag), cluster.proxy_url, nginx, tag, args, bench, sha, cluster))
        rows[-1]["origin_objects"] -= rows[0]["origin_objects"]  # the warm leg's own bytes
        rows[-1]["rss_mib"] = cluster.rss() / MiB
        if k == 1 and not args.smoke:
            tag = f"r{n_round}-nohap"
            first = f"http://{LOCALHOST}:{cluster.instance_ports[0]}"
            rows.append(leg("no-haproxy", urls(tag), first, nginx, tag, args, bench, sha))
    except BenchError as e:
        log = (cluster.dir / "haproxy.log").read_text(errors="replace").splitlines()[-20:]
        raise BenchError(f"{e}\nHAProxy log (last 20 lines):\n" + "\n".join(log)) from e
    finally:
        cluster.stop()
    for r in rows:
        r.update(instances=k, round=n_round)
    return rows


def run(args) -> int:
    for tool in ("curl", "nginx", "haproxy"):
        which(tool)
    info = machine_info(REPO)
    with Bench("bench-cluster", keep=args.keep) as bench:
        www = bench.dir / "www"
        www.mkdir()
        sha = write_body(www / "body.bin", args.size_bytes)
        nginx = Nginx(bench, www).start()
        runs = []
        for n in range(args.runs):
            counts = args.counts if n % 2 == 0 else args.counts[::-1]
            for k in counts:
                rows = one_round(n, k, args, nginx, bench, sha)
                tag = f"r{n}-k{k}-direct"
                rows.append(leg("direct", [nginx.url(f"/u/{tag}-{i}/body.bin")
                                           for i in range(args.clients)], None, nginx, tag, args,
                                bench, sha))
                rows[-1].update(instances=k, round=n)
                runs += rows
                print(f"round {n} k={k}: " + ", ".join(
                    f"{r['leg']} {r['aggregate_mb_per_s']:.0f} MB/s" for r in rows), flush=True)
        if args.smoke:
            for r in runs:
                want = 0.0 if r["leg"] == "warm" else 1.0
                if abs(r["origin_objects"] - want) > 0.01:
                    raise BenchError(f"{r['leg']}: origin sent {r['origin_objects']:.2f} objects"
                                     f" per URL, expected {want:.0f}")
                if r["leg"] == "warm" and r["hit_ratio"] != 1.0:
                    raise BenchError(f"warm leg hit ratio {r['hit_ratio']}")
            print("smoke ok: every body's sha256, origin bytes once per object, warm leg all hits")
        summary = summarize(runs, args)
        print_report(summary, args, info)
        emit_json("bench_cluster", {"args": {"size": args.size_bytes, "clients": args.clients,
                                             "runs": args.runs, "instances": args.counts},
                                       "machine": info, "summary": summary, "runs": runs})
    return 0


def summarize(runs: list[dict], args) -> list[dict]:
    rows = []
    base = {}
    for k in args.counts:
        row = {"instances": k}
        for name in ("cold", "warm", "no-haproxy", "direct"):
            sel = [r for r in runs if r["instances"] == k and r["leg"] == name]
            if not sel:
                continue
            row[name] = {key: median(r[key] for r in sel if r.get(key) is not None)
                         for key in sel[0] if isinstance(sel[0][key], float)}
        rows.append(row)
        if k == args.counts[0]:
            base = row
    for row in rows:
        for name in ("cold", "warm"):
            row[name]["ratio_to_first"] = ratio(row[name]["aggregate_mb_per_s"],
                                                base[name]["aggregate_mb_per_s"])
    return rows


def print_report(rows: list[dict], args, info: dict) -> None:
    print()
    print(f"{args.clients} clients on distinct {fmt_mib(args.size_bytes)} MiB objects, "
          f"{args.runs} rounds, {info['cpus']} CPUs, load {info['loadavg_1m_at_start']} at start "
          f"(medians; MB/s = 10^6 B/s; ratio = to {args.counts[0]} instance(s))")
    g = lambda row, leg, key, spec=".0f": fmt(row.get(leg, {}).get(key), spec)  # noqa: E731
    print_table(
        ["instances", "cold MB/s", "ratio", "warm MB/s", "ratio", "direct MB/s",
         "origin objs/URL cold/warm", "warm hit ratio", "dlproxy CPU s/GiB cold", "haproxy CPU s/GiB",
         "RSS MiB"],
        [[r["instances"], g(r, "cold", "aggregate_mb_per_s"), g(r, "cold", "ratio_to_first", ".2f"),
          g(r, "warm", "aggregate_mb_per_s"), g(r, "warm", "ratio_to_first", ".2f"),
          g(r, "direct", "aggregate_mb_per_s"),
          f"{g(r, 'cold', 'origin_objects', '.2f')}/{g(r, 'warm', 'origin_objects', '.2f')}",
          g(r, "warm", "hit_ratio", ".2f"), g(r, "cold", "dlproxy_cpu_s_per_gib", ".2f"),
          g(r, "cold", "haproxy_cpu_s_per_gib", ".2f"), g(r, "warm", "rss_mib", ".0f")]
         for r in rows])
    for r in rows:
        if "no-haproxy" in r:
            print(f"one instance without HAProxy (cold): "
                  f"{r['no-haproxy']['aggregate_mb_per_s']:.0f} MB/s")
    print()


if __name__ == "__main__":
    sys.exit(run_main("bench_cluster", parse_args, run))
