#!/usr/bin/env python3
"""dlproxy against the caches users would pick instead, in one run, on the same origin.

Peers (Debian packages, each configured as a large-object cache; docs/benchmarks.md says how):
  dlproxy   forward proxy, the binary under test, default settings
  nginx     reverse proxy: proxy_cache + slice 8m (each 8 MiB slice a cached 206)
  varnish   reverse proxy: file storage, do_stream, ttl 1h (varnishd; `apt-get install varnish`)
  squid     forward proxy: aufs cache_dir, maximum_object_size 64 GB, cache_mem 256 MB
and `direct`: curl straight from the origin (nginx serving a file with sendfile).

Legs, every round, the peers in rotating order, each on objects of its own (unique URLs):
  cold         the whole body, not yet cached
  hit1         the same URL right after the fill (what a launcher retry or a second client reads)
  hit2         once more (a later hit)
  range_cold   --range bytes at the middle of a cold object; `origin MiB` is what the origin
               sent for that object (read from its access log once the peer's fetch has ended)
  range_hit    the same range again
  faulty_clean the body from tests/origin/origin.py through the peer, no faults
  faulty_cuts  the same size from origin.py whose first three responses longer than 5 MiB are
               cut after 5 MiB of body; plain curl, no client retries: `ok` says whether the
               client got the complete, correct body, and cuts/clean is the recovery cost
and, for dlproxy only (the peers do not intercept TLS; --no-https skips them), HTTPS legs on the
same nginx, which also listens with TLS under the name cdn-lfs.huggingface.co (a throwaway CA,
dltest.tlsorigin; dlproxy reaches it with --resolve and --upstream-ca-file, its default
interception list covering the name; curl through dlproxy trusts dlproxy's bundle.pem):
  https        direct: curl straight from nginx over TLS (its ratio base), every round
  https_cold   through dlproxy intercepting: two TLS legs and the cache fill
  https_hit1   the same URL right after the fill; it must not reach the origin
Per leg: MB/s (10^6 bytes/s, curl's own timing), the peer's CPU seconds per GiB (all processes
of its tree) and at the end each peer's peak RSS (sum of VmHWM over its processes). Prints
medians, the ratio to direct, and dlproxy's ratio to the best peer. Ends with BENCH_JSON.

    python3 tests/bench/bench_peers.py [--size 1GiB] [--runs 3] [--range 64MiB]
                                       [--peers dlproxy,nginx,varnish,squid]
                                       [--no-https] [--dlproxy-arg=--flag=value ...]
    python3 tests/bench/bench_peers.py --smoke   # 24 MiB, 1 round, the peers installed, sha256
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import (  # noqa: E402
    Bench, BenchError, emit_json, fmt, fmt_mib, machine_info, median, parse_size, print_table,
    ratio, REPO_DIR, run_main)
from dltest.const import GiB, MiB  # noqa: E402
from dltest.curl import curl_fetch, CurlTiming  # noqa: E402
from dltest.hashing import sha256_file, write_body  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.webservers import Nginx  # noqa: E402
from dltest import peers  # noqa: E402
from dltest.tlsorigin import NamedTlsOrigin, proxied_curl_args  # noqa: E402
import content  # noqa: E402  (tests/origin, on sys.path through dltest)

LEGS = ("cold", "hit1", "hit2", "range_cold", "range_hit", "faulty_clean", "faulty_cuts")
HTTPS_LEGS = ("https_cold", "https_hit1")
CUT_AFTER = 5 * MiB


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", default="1GiB")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--range", default="64MiB", help="range leg length (default 64MiB)")
    p.add_argument("--peers", default="dlproxy,nginx,varnish,squid")
    p.add_argument("--dlproxy", default=str(REPO_DIR / "build" / "proxy" / "dlproxy"))
    p.add_argument("--dlproxy-arg", action="append", default=[], metavar="FLAG",
                   help="an extra dlproxy flag, repeatable "
                        "(e.g. --dlproxy-arg=--cache-durability=nosync)")
    p.add_argument("--no-https", action="store_true", help="skip the intercepted HTTPS legs")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args()
    if a.smoke:
        a.size, a.runs, a.range = "24MiB", 1, "4MiB"
    a.size_bytes, a.range_bytes = parse_size(a.size), parse_size(a.range)
    if a.range_bytes * 2 > a.size_bytes or a.size_bytes < 4 * CUT_AFTER:
        p.error("--size must be at least 20MiB and twice --range")
    a.peer_names = [n.strip() for n in a.peers.split(",") if n.strip()]
    unknown = set(a.peer_names) - set(peers.PEERS)
    if unknown:
        p.error(f"unknown peers: {', '.join(sorted(unknown))}")
    return a


class Run:
    def __init__(self, args, bench: Bench, www: Path, nginx: Nginx, faulty: Origin,
                 tls: NamedTlsOrigin | None = None):
        self.args, self.bench, self.www, self.nginx, self.faulty = args, bench, www, nginx, faulty
        self.tls = tls
        self.size = args.size_bytes
        self.sha = sha256_file(www / "body.bin")
        self.scratch = bench.dir / "scratch.bin"
        self.results: dict[str, dict[str, list]] = {}

    def add(self, peer: str, leg: str, value) -> None:
        self.results.setdefault(peer, {}).setdefault(leg, []).append(value)

    def fetch(self, url: str, proxy: str | None, expect: str, size: int,
              extra=()) -> CurlTiming:
        """A timed download to a file (the bytes must be checked: a cache may answer wrong)."""
        self.scratch.unlink(missing_ok=True)
        r = curl_fetch(url, proxy, output=str(self.scratch), max_time=900, extra=extra)
        ok = r.exit_code == 0 and r.size == size and sha256_file(self.scratch) == expect
        r.ok = ok  # type: ignore[attr-defined]
        self.scratch.unlink(missing_ok=True)
        return r

    def range_sha(self, begin: int, length: int) -> str:
        import hashlib
        with open(self.www / "body.bin", "rb") as f:
            f.seek(begin)
            return hashlib.sha256(f.read(length)).hexdigest()

    def direct(self, n: int) -> None:
        r = self.fetch(self.nginx.url(f"/u/direct-{n}/body.bin"), None, self.sha, self.size)
        self.check(r, "direct")
        self.add("direct", "cold", r.mb_per_s)
        begin, length = self.size // 2, self.args.range_bytes
        r = self.fetch(self.nginx.url(f"/u/direct-{n}/body.bin"), None,
                       self.range_sha(begin, length), length,
                       ["-r", f"{begin}-{begin + length - 1}"])
        self.check(r, "direct range")
        self.add("direct", "range_cold", r.mb_per_s)

    def https_round(self, dlproxy: peers.Peer, n: int) -> None:
        """Direct HTTPS, then cold and first hit through dlproxy intercepting (direct last in
        odd rounds, so neither side always runs first)."""
        port = self.nginx.https_port
        tag = f"/u/https-{n}/"
        proxied = proxied_curl_args(dlproxy.cache_dir)

        def direct() -> None:
            r = self.fetch(self.tls.url(port, f"/u/https-direct-{n}/body.bin"), None, self.sha,
                           self.size, self.tls.direct_curl_args(port))
            self.check(r, "direct https")
            self.add("direct", "https", r.mb_per_s)

        if n % 2 == 0:
            direct()
        self.timed(dlproxy, "https_cold", self.tls.url(port, tag + "body.bin"), self.sha,
                   self.size, proxied)
        filled = len(self.nginx.entries_matching(tag, settle=0.3))
        self.timed(dlproxy, "https_hit1", self.tls.url(port, tag + "body.bin"), self.sha,
                   self.size, proxied)
        if len(self.nginx.entries_matching(tag, settle=0.3)) != filled:
            raise BenchError(f"round {n}: the HTTPS first hit reached the origin")
        if n % 2 == 1:
            direct()
        got = self.results["dlproxy"]
        print(f"  https    round {n}: direct {fmt(self.results['direct']['https'][-1], '.0f')}"
              f"  cold {fmt(got['https_cold'][-1], '.0f')}"
              f"  hit1 {fmt(got['https_hit1'][-1], '.0f')}", flush=True)

    @staticmethod
    def check(r: CurlTiming, what: str) -> None:
        if not r.ok:
            raise BenchError(f"{what}: curl exit {r.exit_code}, HTTP {r.http_code}, "
                             f"{r.size} bytes, wrong or short body {r.stderr.strip()}")

    def timed(self, peer: peers.Peer, leg: str, url: str, expect: str, size: int,
              extra=(), must_succeed: bool = True) -> CurlTiming:
        cpu0 = peer.cpu_seconds()
        r = self.fetch(url, peer.proxy, expect, size, extra)
        cpu = peer.cpu_seconds(settle=True) - cpu0
        if must_succeed:
            self.check(r, f"{peer.name} {leg}")
        self.add(peer.name, leg, r.mb_per_s)
        self.add(peer.name, leg + "_cpu_s_per_gib", cpu / (size / GiB))
        return r

    def peer_round(self, peer: peers.Peer, n: int) -> None:
        tag = f"{peer.name}-{n}"
        url = peer.url(self.nginx.port, f"/u/{tag}/body.bin")
        for leg in ("cold", "hit1", "hit2"):
            self.timed(peer, leg, url, self.sha, self.size)
        begin, length = self.size // 2, self.args.range_bytes
        rng = ["-r", f"{begin}-{begin + length - 1}"]
        rurl = peer.url(self.nginx.port, f"/u/{tag}-r/body.bin")
        rsha = self.range_sha(begin, length)
        self.timed(peer, "range_cold", rurl, rsha, length, rng)
        self.add(peer.name, "range_cold_origin_mib", self.origin_mib(f"/u/{tag}-r/"))
        self.timed(peer, "range_hit", rurl, rsha, length, rng)
        # origin.py: a clean body, then the same size with three cuts (different URLs).
        path = f"/bytes/{self.size}/{tag}"
        sha = content.sha256_of(path, self.size)
        self.timed(peer, "faulty_clean", peer.url(self.faulty.port, path, faulty=True), sha,
                   self.size)
        cpath = f"/bytes/{self.size}/{tag}-cuts"
        q = f"?cut={CUT_AFTER}&cuts=3"
        r = self.timed(peer, "faulty_cuts", peer.url(self.faulty.port, cpath + q, faulty=True),
                       content.sha256_of(cpath, self.size), self.size, must_succeed=False)
        self.add(peer.name, "faulty_cuts_ok", bool(r.ok))
        if not r.ok:
            self.results[peer.name]["faulty_cuts"][-1] = None
        print(f"  {peer.name:8s} round {n}: " + "  ".join(
            f"{leg} {fmt(self.results[peer.name][leg][-1], '.0f')}" for leg in LEGS),
            flush=True)

    def origin_mib(self, needle: str) -> float:
        """What the origin sent for one object, once the peer's upstream fetches have ended (a
        peer may keep filling after the client got its range; nginx logs a request at its end)."""
        deadline = time.monotonic() + 600
        entries = self.nginx.entries_matching(needle, settle=0.5, max_wait=10)
        while time.monotonic() < deadline:
            time.sleep(1.0)
            again = self.nginx.entries_matching(needle, settle=0.5, max_wait=10)
            if len(again) == len(entries) and sum(e.body_bytes_sent for e in again) == \
                    sum(e.body_bytes_sent for e in entries):
                break
            entries = again
        return sum(e.body_bytes_sent for e in entries) / MiB


def report(run: Run, names: list[str], rss: dict[str, int], args) -> None:
    med = {p: {k: median([x for x in v if x is not None and not isinstance(x, bool)])
               for k, v in legs.items()} for p, legs in run.results.items()}
    direct = med["direct"]
    print(f"\n{fmt_mib(args.size_bytes)} MiB body, {args.runs} rounds, medians; "
          f"MB/s (ratio to direct)")
    rows = []
    for leg in LEGS:
        base = direct.get("range_cold" if leg.startswith("range") else "cold")
        row = [leg, fmt(base, ".0f") if leg in ("cold", "range_cold") else ""]
        for p in names:
            v = med[p].get(leg)
            row.append(f"{fmt(v, '.0f')} ({fmt(ratio(v, base))})" if v else "failed")
        rows.append(row)
    for leg in ("cold", "hit1", "range_cold"):
        rows.append([f"{leg} CPU s/GiB", ""] +
                    [fmt(med[p].get(f"{leg}_cpu_s_per_gib")) for p in names])
    rows.append(["range_cold origin MiB", f"{fmt_mib(args.range_bytes)}"] +
                [fmt(med[p].get("range_cold_origin_mib"), ".0f") for p in names])
    rows.append(["cuts completed", ""] +
                [f"{sum(run.results[p]['faulty_cuts_ok'])}/{args.runs}" for p in names])
    rows.append(["cuts/clean time", ""] +
                [fmt(ratio(med[p].get("faulty_clean"), med[p].get("faulty_cuts")))
                 for p in names])
    rows.append(["peak RSS MiB", ""] + [f"{rss[p] / MiB:.0f}" for p in names])
    print_table(["leg", "direct"] + names, rows)
    if "https" in direct:
        base = direct["https"]
        print(f"\nHTTPS, dlproxy intercepting (nginx TLS origin), medians; "
              f"MB/s (ratio to direct HTTPS), dlproxy CPU s/GiB")
        print_table(["leg", "MB/s (ratio)", "CPU s/GiB"],
                    [["direct https", fmt(base, ".0f"), ""]] +
                    [[leg, f"{fmt(med['dlproxy'].get(leg), '.0f')} "
                           f"({fmt(ratio(med['dlproxy'].get(leg), base))})",
                      fmt(med["dlproxy"].get(f"{leg}_cpu_s_per_gib"))] for leg in HTTPS_LEGS])
    print(f"\nload average (1 min): {args.load_at_start:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")
    others = [p for p in names if p != "dlproxy"]
    if "dlproxy" in names and others:
        print("\ndlproxy / best peer (MB/s; > 1 is ahead):")
        for leg in LEGS[:5]:
            best = max((med[p].get(leg) or 0 for p in others), default=0)
            print(f"  {leg:12s} {fmt(ratio(med['dlproxy'].get(leg), best or None))}")
    emit_json("peers", {"args": {"size": args.size_bytes, "runs": args.runs,
                                 "range": args.range_bytes, "peers": names,
                                 "dlproxy_args": args.dlproxy_arg, "https": not args.no_https},
                           "loadavg_1m": [args.load_at_start, os.getloadavg()[0]],
                           "results": run.results, "peak_rss": rss,
                           "machine": machine_info(REPO_DIR)})


def run(args) -> int:
    names = [n for n in args.peer_names if not args.smoke or peers.PEERS[n].available()]
    for n in names:
        if not peers.PEERS[n].available():
            raise BenchError(f"{n} is not installed: {peers.PEERS[n].INSTALL}")
    args.load_at_start = os.getloadavg()[0]
    with Bench("peers", keep=args.keep) as bench:
        www = bench.dir / "www"
        www.mkdir()
        write_body(www / "body.bin", args.size_bytes)
        tls = None if args.no_https or "dlproxy" not in names else NamedTlsOrigin(bench.dir)
        nginx = Nginx(bench, www, tls=tls.tls if tls else None).start()
        faulty = bench.adopt(Origin(bench.dir).start())
        started = {n: peers.PEERS[n](bench, nginx.port, faulty.port, args) for n in names}
        if "dlproxy" in started:
            started["dlproxy"].extra_args = \
                (tls.dlproxy_args(nginx.https_port) if tls else []) + args.dlproxy_arg
        for p in started.values():
            p.start()
        r = Run(args, bench, www, nginx, faulty, tls)
        for n in range(args.runs):
            r.direct(n)
            order = names[n % len(names):] + names[:n % len(names)]
            for name in order:
                r.peer_round(started[name], n)
            if tls:
                r.https_round(started["dlproxy"], n)
        rss = {n: p.peak_rss() for n, p in started.items()}
        report(r, names, rss, args)
        if args.smoke:
            for n in names:
                if n == "dlproxy" and not all(r.results[n]["faulty_cuts_ok"]):
                    raise BenchError("dlproxy did not complete the download with cuts")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_peers", parse_args, run))
