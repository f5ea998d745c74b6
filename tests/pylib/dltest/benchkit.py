"""What a benchmark script shares with the others (docs/benchmarks.md): its workspace and the
processes it started, its options, statistics, tables and the BENCH_JSON line.

Rules every benchmark follows: every server binds 127.0.0.1 on an ephemeral port and every
client targets it; every process is stopped by its PID when the Bench context exits, also on an
exception or SIGTERM/SIGINT; every wait has a deadline, every curl has --max-time; a proxy is
always compared with a direct download from the same origin in the same run, and figures are
medians of several runs.

    Bench(prefix, keep)   temp dir + process registry: .start(name, cmd) -> Managed,
                          .adopt(obj) (an Origin or Dlproxy: anything with stop()), .stop(proc)
    BenchError            a correctness check failed (a SetupError: run_main reports both)
    bench_parser, parse_bench_args, run_main      --size --runs --dlproxy --smoke --keep
    parse_size, fmt_mib, fmt, median, ratio, print_table, emit_json, machine_info
    have(tool), which(tool), dir_bytes(path)
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

from .const import REPO, MiB, dlproxy_bin
from .processes import Managed, SetupError

REPO_DIR = Path(REPO)


class BenchError(SetupError):
    """A benchmark could not run or a correctness check failed; run_main prints it as one line."""


_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1 << 10,
    "m": 1000 ** 2, "mb": 1000 ** 2, "mib": 1 << 20,
    "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1 << 30,
}

def bench_parser(doc: str, size: str = "1GiB", runs: int = 5,
                 smoke_help: str = "16 MiB, 1 round, fail (exit 1) on any size or sha256 mismatch"
                 ) -> argparse.ArgumentParser:
    """The options every benchmark shares: --size, --runs, --dlproxy, --smoke, --keep."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--size", default=size, help=f"body size (default {size}; 16MiB with --smoke)")
    p.add_argument("--runs", type=int, default=runs,
                   help=f"timed rounds (default {runs}; 1 with --smoke)")
    p.add_argument("--dlproxy", type=Path, default=Path(dlproxy_bin()))
    p.add_argument("--smoke", action="store_true", help=smoke_help)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs)")
    return p


def parse_bench_args(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Parses; --smoke means 16 MiB and 1 round; sets size_bytes; --runs and --size positive."""
    args = p.parse_args()
    if args.smoke:
        args.size, args.runs = "16MiB", 1
    try:
        args.size_bytes = parse_size(args.size)
    except ValueError as e:
        p.error(str(e))
    if args.runs < 1 or args.size_bytes < 1:
        p.error("--runs and --size must be positive")
    return args


def parse_size(text: str) -> int:
    """'1GiB' -> 1073741824, '16MiB', '500MB', '4096'. Binary units are *iB, decimal the rest."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 16MiB, 1GiB, 500MB)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def fmt_mib(n: float) -> str:
    return f"{n / MiB:.1f}"


def median(values: Iterable[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]], out=sys.stdout) -> None:
    """Left-aligned first column, right-aligned others; None prints as n/a."""
    cells = [[str(h) for h in header]]
    cells += [["n/a" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(row))
        print(line.rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def emit_json(tag: str, payload: dict, out=sys.stdout) -> None:
    """One machine-readable line, `BENCH_JSON {...}`, that docs/benchmarks.md quotes from."""
    print("BENCH_JSON " + json.dumps({"bench": tag, **payload}, sort_keys=True), file=out)
    out.flush()


def machine_info(repo_dir: Path | None = None) -> dict:
    """What a reader needs to judge a figure: CPUs, kernel, tool versions, source revision."""
    def first_line(cmd: list[str]) -> str | None:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        text = (r.stdout + r.stderr).strip()
        return text.splitlines()[0] if text else None

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        "nginx": first_line([shutil.which("nginx") or "nginx", "-v"]),
        "haproxy": first_line([shutil.which("haproxy") or "haproxy", "-v"]),
        "curl": first_line(["curl", "--version"]),
    }
    if repo_dir is not None:
        info["git"] = first_line(["git", "-C", str(repo_dir), "describe", "--always", "--dirty"])
    return info



class Bench:
    """A benchmark's workspace: a fresh temp dir (removed at the end unless keep=True) and the
    registry of processes it started, stopped in reverse order on exit. SIGTERM and SIGINT become
    exceptions while it is active so that cleanup runs when meson's timeout or Ctrl-C strikes."""

    def __init__(self, prefix: str, keep: bool = False):
        self.dir = Path(tempfile.mkdtemp(prefix=f"dlproxy-{prefix}-"))
        self.keep = keep
        self.procs: list = []  # Managed, or adopted objects with stop()
        self._old_handlers: dict[int, object] = {}

    def __enter__(self) -> "Bench":
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        atexit.register(self.close)
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)

    @staticmethod
    def _on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def start(self, name: str, cmd: list[str], **kw) -> Managed:
        proc = Managed(name, cmd, self.dir, **kw)
        self.procs.append(proc)
        return proc

    def adopt(self, obj):
        """Stop `obj` (an Origin, a Dlproxy: anything with stop()) with the others; returns it."""
        self.procs.append(obj)
        return obj

    def stop(self, proc: Managed) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        while self.procs:
            self.procs.pop().stop()
        if not self.keep and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)


def have(name: str) -> bool:
    return bool(shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin"))


def which(name: str) -> str:
    """Path of a tool, also finding /usr/sbin ones when PATH lacks it."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if found is None:
        raise BenchError(f"{name} not found: apt-get install -y nginx-light haproxy curl")
    return found



def dir_bytes(path: Path) -> int:
    """Allocated bytes under path (st_blocks, so sparse cache bodies count what they hold)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total



def run_main(name, parse_args, run) -> int:
    """The shared entry point of the bench scripts: parse, run, and turn a BenchError (or a
    SetupError: something did not start) or ^C into one line on stderr and an exit status (1,
    130)."""
    args = parse_args()
    try:
        return run(args)
    except SetupError as e:
        print(f"{name}: FAIL: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"{name}: interrupted ({e})", file=sys.stderr)
        return 130
