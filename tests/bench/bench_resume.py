#!/usr/bin/env python3
"""Resume under upstream faults: what cuts, stalls and 503s cost a download through dlproxy.

The origin is tests/origin/origin.py (faults chosen by query parameters; its body for a path is
deterministic, so every download is checked against the expected sha256). The client is the curl
CLI through dlproxy (forward proxy), one download at a time, each on a new URL (a cold object).

Part 1, one large object: a fault-free download of --size (default 1 GiB) through dlproxy, and
the same bytes on another URL whose origin cuts the connection --cuts times (default 3, at about
1/4, 1/2 and 3/4); --runs rounds (default 3), the order alternating. Reports both times (medians),
the overhead in %, the sum of the backoff delays dlproxy chose (its `retry N in M ms` lines) and
the body bytes the origin sent (its request log) against the object size.

Part 2, randomized: --downloads (default 50) downloads of --random-size (default 256 MiB), each
with 0-5 faults drawn at random (seeded, --seed): up to two 503s before the body (half of them with
`Retry-After: 1`), and cuts and stalls at random offsets. Reports how many downloads delivered the
complete, correct body -- in one request, or after the client resumed a body cut short with
`curl -C -` (dlproxy's gap budget closes a client left without bytes for 8 s; download tools
resume then) -- the time overhead (wall clock, resumes included) over --baseline (default 5)
fault-free downloads of the same size (median), and the faults dlproxy actually saw.

dlproxy runs with its default retry knobs (backoff base 0.25 s, cap 30 s, 20 attempts, gap budget
8 s) except --stall-timeout 2 (default 10): a stalled origin here pauses 5 s, and at the default
a stall would cost 10-11 s, which says more about the knob than about resuming.

    python3 tests/bench/bench_resume.py [--size 1GiB] [--cuts 3] [--runs 3] [--random-size 256MiB]
        [--downloads 50] [--baseline 5] [--seed 1] [--dlproxy build/proxy/dlproxy] [--keep]
    python3 tests/bench/bench_resume.py --smoke   # CI: 32 MiB, 3 random downloads, sha256 checked
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import (  # noqa: E402
    Bench, BenchError, emit_json, fmt_mib, machine_info, median, parse_size, print_table,
    run_main, which)
from dltest.curl import curl_fetch  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "origin"))
import content  # noqa: E402  (the test origin's deterministic bodies)

RETRY_RE = re.compile(r"fetch (\S+): (.*) at offset (\d+); retry (\d+) in (\d+) ms")
STALL_SECS = 5.0
STALL_TIMEOUT = 2.0
CLIENT_RETRIES = 3  # `curl -C -` after a body cut short, as download tools resume


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="1GiB", help="part 1 object size (default 1GiB)")
    p.add_argument("--cuts", type=int, default=3, help="part 1 cuts (default 3)")
    p.add_argument("--runs", type=int, default=3,
                   help="part 1 rounds, fault-free and cut alternating (default 3; 1 smoke)")
    p.add_argument("--random-size", default="256MiB", help="part 2 object size (default 256MiB)")
    p.add_argument("--downloads", type=int, default=50, help="part 2 downloads (default 50)")
    p.add_argument("--baseline", type=int, default=5,
                   help="part 2 fault-free downloads for the baseline (default 5)")
    p.add_argument("--seed", type=int, default=1, help="random seed for part 2 (default 1)")
    p.add_argument("--dlproxy", type=Path, default=REPO / "build/proxy/dlproxy")
    p.add_argument("--smoke", action="store_true",
                   help="32 MiB, 3 random downloads, 1 baseline; exit 1 on any wrong or short body")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = p.parse_args()
    if args.smoke:
        args.size, args.random_size, args.downloads, args.baseline = "32MiB", "32MiB", 3, 1
        args.runs = 1
    args.size_bytes = parse_size(args.size)
    args.random_bytes = parse_size(args.random_size)
    if min(args.size_bytes, args.random_bytes) < 1 << 20 or args.cuts < 0 or args.downloads < 0 \
            or args.baseline < 1 or args.runs < 1:
        p.error("sizes must be at least 1MiB, --cuts and --downloads >= 0, --baseline and "
                "--runs >= 1")
    return args


# --------------------------------------------------------------------------------------------
# What the origin will do: a replay of origin.py's plan_mark() for cut/stall parameters
# --------------------------------------------------------------------------------------------

def simulate_body_faults(size: int, q: dict) -> list[tuple[str, int]]:
    """The (kind, absolute offset) of each body fault the origin will inject for query `q`,
    assuming the proxy resumes each time from the byte before the first one it lacks. The
    origin decides every fault a response could hit when it sends the head (and counts it then,
    even if another fault ends that response first), so the count is not simply cuts + stalls."""
    taken = {"cut": 0, "stall": 0}
    faults = []
    begin = 0
    for _ in range(64):
        marks = []
        for rel, absolute, count in (("cut", "cut_at", "cuts"), ("stall", "stall_at", "stalls")):
            if rel in q:
                mark = int(q[rel])
            elif absolute in q:
                off = int(q[absolute])
                if not begin < off < size:
                    continue
                mark = off - begin
            else:
                continue
            if not 0 <= mark < size - begin:
                continue
            limit = int(q.get(count, 1))
            if taken[rel] >= limit:
                continue
            taken[rel] += 1
            marks.append((mark, rel))
        if not marks:
            return faults
        mark, kind = min(marks)
        faults.append((kind, begin + mark))
        begin = begin + mark - 1 if begin + mark > 0 else 0
    raise BenchError(f"fault plan does not terminate: {q}")


def random_plan(rng: random.Random, size: int) -> tuple[dict, dict]:
    """Query parameters for one download with 0-5 faults, and the faults planned by kind."""
    total = rng.randint(0, 5)
    n503 = rng.randint(0, min(2, total))
    want_body = total - n503
    q: dict = {}
    if n503:
        q.update(status="503", times=str(n503))
        if rng.random() < 0.5:
            q["retry_after"] = "1"
    for _ in range(10000):
        body: dict = {}
        kinds = [rng.choice(("cut", "stall")) for _ in range(want_body)]
        for kind, plural in (("cut", "cuts"), ("stall", "stalls")):
            k = kinds.count(kind)
            if not k:
                continue
            if k == 1 or rng.random() < 0.3:  # one absolute offset (hit again by each resume)
                body[f"{kind}_at"] = str(rng.randrange(1 << 20, size - (1 << 20)))
            else:  # every k-th of the body, measured from the start of each response
                body[kind] = str(rng.randrange(size // (k + 2), size // (k + 1)))
            body[plural] = str(k)
        if "stall" in body or "stall_at" in body:
            body["stall_secs"] = str(STALL_SECS)
        if len(simulate_body_faults(size, body)) == want_body:
            q.update(body)
            break
    else:
        raise BenchError(f"no parameter set gives {want_body} body faults")
    planned = {"503": n503}
    for kind, _ in simulate_body_faults(size, q):
        planned[kind] = planned.get(kind, 0) + 1
    return q, planned


# --------------------------------------------------------------------------------------------
# One download
# --------------------------------------------------------------------------------------------

class Runner:
    def __init__(self, bench: Bench, origin: Origin, dlproxy: Dlproxy):
        self.bench = bench
        self.origin = origin
        self.dlproxy = dlproxy
        self.scratch = bench.dir / "scratch.bin"
        self._expected: dict[tuple[str, int], str] = {}

    def expected_sha(self, path: str, size: int) -> str:
        if (path, size) not in self._expected:
            self._expected[(path, size)] = content.sha256_of(path, size)
        return self._expected[(path, size)]

    def download(self, path: str, size: int, query: dict, max_time: float = 600,
                 client_retries: int = CLIENT_RETRIES) -> dict:
        """One download with curl through dlproxy to a file. A body cut short (dlproxy's gap
        budget closes a client left without bytes for 8 s) is resumed the way download tools
        do, with `curl -C -` (a Range request for the rest), up to `client_retries` times.
        Timed by the wall clock across all of it; the body is hashed afterwards (untimed)."""
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        target = f"{path}?{qs}"
        url = self.origin.url(target)
        stderr_mark = self.dlproxy.stderr_size()
        self.scratch.unlink(missing_ok=True)
        attempts = []
        t0 = time.monotonic()
        while True:
            extra = ["-C", "-"] if attempts else []
            r = curl_fetch(url, self.dlproxy.proxy_url, output=str(self.scratch),
                           max_time=max_time, extra=extra)
            got = self.scratch.stat().st_size if self.scratch.exists() else 0
            attempts.append({"curl_exit": r.exit_code, "http_code": r.http_code,
                             "seconds": r.seconds, "bytes_after": got,
                             "error": r.stderr.strip() or None})
            short = r.exit_code == 18 and r.http_code in (200, 206) and 0 < got < size
            if not short or len(attempts) > client_retries:
                break
        seconds = time.monotonic() - t0
        ok_sha = False
        if got == size:
            ok_sha = sha256_file(self.scratch) == self.expected_sha(path, size)
            if not ok_sha:
                raise BenchError(f"{target}: a COMPLETE-LENGTH body with WRONG bytes")
        elif got:
            with open(self.scratch, "rb") as f:
                head = f.read()
            if content.find_mismatch(path, head) is not None:
                raise BenchError(f"{target}: a short body ({got} bytes) with wrong bytes")
        self.scratch.unlink(missing_ok=True)
        last = attempts[-1]
        success = last["curl_exit"] == 0 and last["http_code"] in (200, 206) and ok_sha
        first = attempts[0]
        retries = self.retries(url, stderr_mark)
        return {
            "target": target, "size": size, "seconds": seconds, "bytes": got,
            "success": success,
            "success_first_try": first["curl_exit"] == 0 and first["http_code"] == 200 and ok_sha,
            "client_retries": len(attempts) - 1, "attempts": attempts,
            "error": None if success else (last["error"] or f"HTTP {last['http_code']}"),
            "first_error": None if first["curl_exit"] == 0 else first["error"],
            "retries": len(retries), "backoff_ms": sum(d for _, _, d in retries),
            "faults_seen": fault_kinds(retries),
        }

    def retries(self, url: str, since: int) -> list[tuple[str, int, int]]:
        """(cause, offset, delay ms) of each retry line dlproxy logged for this URL."""
        out = []
        for line in self.dlproxy.stderr_text(since).splitlines():
            m = RETRY_RE.search(line)
            if m and m.group(1) == url:
                out.append((m.group(2), int(m.group(3)), int(m.group(5))))
        return out

    def add_origin_stats(self, results: list[dict]) -> None:
        """Origin requests and body bytes (200/206 responses) per download, from the origin's
        request log. A stalled response is logged only when the origin wakes up and finds the
        proxy gone, STALL_SECS after it stalled: call this once, at the end."""
        by_target: dict = {}
        for rec in self.origin.log():
            by_target.setdefault(rec["target"], []).append(rec)
        for r in results:
            recs = by_target.get(r["target"], [])
            r["origin_requests"] = len(recs)
            r["origin_body_bytes"] = sum(x["bytes_sent"] for x in recs
                                         if x.get("status") in (200, 206))


def fault_kinds(retries: list[tuple[str, int, int]]) -> dict:
    kinds: dict = {}
    for cause, _, _ in retries:
        if cause.startswith("status "):
            k = cause.split()[1]
        elif cause.startswith("no bytes from origin"):
            k = "stall"
        else:
            k = "cut"
        kinds[k] = kinds.get(k, 0) + 1
    return kinds


# --------------------------------------------------------------------------------------------
# The two parts
# --------------------------------------------------------------------------------------------

def part_large(runner: Runner, args) -> dict:
    """--runs rounds of one fault-free and one cut download of a new object each. The order
    alternates between rounds: the second of two back-to-back 1 GiB fills is measurably slower
    (the first one's dirty pages are still being written back), which would otherwise be
    charged to the cuts."""
    size = args.size_bytes
    path = f"/bytes/{size}/bench-large"
    print(f"part 1: {fmt_mib(size)} MiB, fault-free vs {args.cuts} cuts, {args.runs} rounds",
          flush=True)
    runner.expected_sha(path, size)  # computed before the timed downloads
    cut = (size // (args.cuts + 1)) - 12345 if args.cuts else 0
    clean, faulty = [], []
    for n in range(args.runs):
        kinds = ["clean", "cuts"] if n % 2 == 0 else ["cuts", "clean"]
        for kind in kinds:
            if kind == "clean":
                r = runner.download(path, size, {"run": f"clean{n}"})
                clean.append(r)
                print(f"  round {n} fault-free  {r['seconds']:7.2f} s  success={r['success']}",
                      flush=True)
            else:
                q = {"run": f"cuts{n}", "cut": str(cut), "cuts": str(args.cuts)} if args.cuts \
                    else {"run": f"cuts{n}"}
                r = runner.download(path, size, q)
                faulty.append(r)
                print(f"  round {n} {args.cuts} cuts      {r['seconds']:7.2f} s  "
                      f"success={r['success']}  retries={r['retries']}  "
                      f"backoff={r['backoff_ms']} ms", flush=True)
    paired = [(f["seconds"] - c["seconds"]) / c["seconds"] * 100 for c, f in zip(clean, faulty)]
    clean_s = median(r["seconds"] for r in clean)
    faulty_s = median(r["seconds"] for r in faulty)
    return {"size": size, "cuts": args.cuts, "rounds": args.runs, "clean": clean,
            "faulty": faulty, "clean_median_s": clean_s, "faulty_median_s": faulty_s,
            "overhead_pct": (faulty_s - clean_s) / clean_s * 100,
            "overhead_pct_paired_median": median(paired),
            "backoff_median_s": median(r["backoff_ms"] / 1000 for r in faulty)}


def part_random(runner: Runner, args) -> dict:
    size = args.random_bytes
    path = f"/bytes/{size}/bench-random"
    rng = random.Random(args.seed)
    print(f"part 2: {args.downloads} downloads of {fmt_mib(size)} MiB with 0-5 random faults "
          f"(seed {args.seed}); baseline {args.baseline} fault-free", flush=True)
    runner.expected_sha(path, size)
    base = []
    for i in range(args.baseline):
        b = runner.download(path, size, {"run": f"base{i}"})
        if not b["success"]:
            raise BenchError(f"fault-free download failed: {b['error']}")
        base.append(b["seconds"])
    base_median = median(base)
    print(f"  fault-free median {base_median:.2f} s over {len(base)}", flush=True)
    runs = []
    for i in range(args.downloads):
        q, planned = random_plan(rng, size)
        r = runner.download(path, size, {"run": f"r{i}", **q})
        r["planned"] = planned
        runs.append(r)
        status = "ok  " if r["success_first_try"] else "ok*" if r["success"] else "FAIL"
        print(f"  {i:3d} {r['seconds']:7.2f} s  {status} planned {fmt_kinds(planned)} seen "
              f"{fmt_kinds(r['faults_seen'])} backoff {r['backoff_ms']} ms"
              + (f"  (client closed short, resumed with -C - {r['client_retries']}x: "
                 f"{r['first_error']})" if r["client_retries"] else "")
              + ("" if r["success"] else f"  FAILED: {r['error']}"), flush=True)
    time.sleep(STALL_SECS + 1)  # stalled responses reach the origin's log
    runner.add_origin_stats(runs)
    total = sum(r["seconds"] for r in runs)
    ideal = base_median * len(runs)
    planned_totals: dict = {}
    seen_totals: dict = {}
    for r in runs:
        for k, v in r["planned"].items():
            planned_totals[k] = planned_totals.get(k, 0) + v
        for k, v in r["faults_seen"].items():
            seen_totals[k] = seen_totals.get(k, 0) + v
    return {
        "size": size, "downloads": len(runs), "seed": args.seed,
        "successes": sum(r["success"] for r in runs),
        "successes_first_try": sum(r["success_first_try"] for r in runs),
        "client_retries": sum(r["client_retries"] for r in runs),
        "baseline_seconds": base, "baseline_median_s": base_median,
        "total_s": total, "fault_free_equivalent_s": ideal,
        "overhead_pct": (total - ideal) / ideal * 100 if ideal else None,
        "backoff_total_s": sum(r["backoff_ms"] for r in runs) / 1000,
        "faults_planned": planned_totals, "faults_seen": seen_totals,
        "origin_bytes_over_size": sum(r["origin_body_bytes"] for r in runs) / (size * len(runs))
        if runs else None,
        "runs": runs,
    }


def fmt_kinds(d: dict) -> str:
    return ",".join(f"{k}x{v}" for k, v in sorted(d.items()) if v) or "none"


def print_report(large: dict, rnd: dict, info: dict) -> None:
    print()
    print(f"resume benchmark, {info['cpus']} CPUs, load {info['loadavg_1m_at_start']} at start, "
          f"{info['date']}")
    rows = []
    for label, runs in (("fault-free", large["clean"]), (f"{large['cuts']} cuts", large["faulty"])):
        secs = [r["seconds"] for r in runs]
        extra = [r["origin_body_bytes"] - r["size"] for r in runs]
        rows.append([label, f"{median(secs):.2f}", f"{min(secs):.2f}-{max(secs):.2f}",
                     f"{large['size'] / median(secs) / 1e6:.0f}",
                     f"{median(r['retries'] for r in runs):.0f}",
                     f"{median(r['backoff_ms'] for r in runs) / 1000:.2f}",
                     f"{median(r['origin_body_bytes'] for r in runs) / large['size']:.6f} "
                     f"(+{min(extra)}..{max(extra)} B)"])
    print(f"part 1: {fmt_mib(large['size'])} MiB, {large['rounds']} rounds (medians)")
    print_table(["", "seconds", "min-max", "MB/s", "retries", "backoff s",
                 "origin body bytes / size"], rows)
    print(f"overhead of the cuts: {large['overhead_pct']:+.1f} % (of medians), "
          f"{large['overhead_pct_paired_median']:+.1f} % (median of paired rounds)")
    if rnd["downloads"]:
        print()
        print(f"part 2: {rnd['successes']}/{rnd['downloads']} complete and correct, "
              f"{rnd['successes_first_try']} of them in one request ({rnd['client_retries']} "
              f"curl -C - resumes after a body cut short); "
              f"{rnd['total_s']:.1f} s vs {rnd['fault_free_equivalent_s']:.1f} s fault-free "
              f"({rnd['downloads']} x median {rnd['baseline_median_s']:.2f} s): overhead "
              f"{rnd['overhead_pct']:+.1f} %")
        print(f"faults planned {fmt_kinds(rnd['faults_planned'])}, seen by dlproxy "
              f"{fmt_kinds(rnd['faults_seen'])}; backoff {rnd['backoff_total_s']:.1f} s in all; "
              f"origin body bytes / delivered {rnd['origin_bytes_over_size']:.4f}")
    print()


def run(args) -> int:
    which("curl")
    info = machine_info(REPO)
    with Bench("bench-resume", keep=args.keep) as bench:
        origin = bench.adopt(Origin(bench.dir).start())
        budget = max(2 * max(args.size_bytes, args.random_bytes), 1 << 30)
        dlproxy = bench.adopt(Dlproxy(bench.dir, exe=args.dlproxy, log_level="warn", extra_args=[
            "--stall-timeout", str(STALL_TIMEOUT), "--cache-size", str(budget)]).start())
        print(f"workdir {bench.dir}: origin :{origin.port}, dlproxy :{dlproxy.port}", flush=True)
        runner = Runner(bench, origin, dlproxy)
        large = part_large(runner, args)
        rnd = part_random(runner, args)
        runner.add_origin_stats(large["clean"] + large["faulty"])
        print_report(large, rnd, info)
        emit_json("resume", {"machine": info, "dlproxy_binary": dlproxy.describe(),
                             "dlproxy_args": dlproxy.extra_args, "stall_secs": STALL_SECS,
                             "large": large,
                             "random": {k: v for k, v in rnd.items() if k != "runs"},
                             "random_runs": rnd["runs"],
                             "loadavg_1m_at_end": round(os.getloadavg()[0], 2)})
        failures = [r for r in large["clean"] + large["faulty"] + rnd["runs"] if not r["success"]]
        if args.smoke:
            if failures:
                raise BenchError(f"{len(failures)} download(s) did not complete: "
                                 + "; ".join(f"{r['target']}: {r['error']}" for r in failures))
            print("smoke: every download delivered the complete body with the right sha256")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("bench_resume", parse_args, run))
