"""Shared helpers for dlproxy's benchmarks (Python 3 standard library only).

Every benchmark in tests/bench/ follows the same rules (docs/benchmarks.md):
  - every server binds 127.0.0.1 on an ephemeral port; every client targets 127.0.0.1;
  - every process this module starts is recorded and stopped by its PID (SIGTERM, then SIGKILL
    after a grace period) when the `Bench` context exits, also on an exception or SIGTERM/SIGINT;
  - every wait has a deadline, every curl has --max-time;
  - a proxy is always compared with a direct download from the same origin in the same run, and
    figures are medians of several runs.

What is here, by concern:
  sizes and statistics   parse_size, fmt_mib, median, ratio, print_table, emit_json
  workspace, processes   Bench (temp dir + process registry), Managed, free_port, wait_port
  /proc readers          cpu_seconds, peak_rss_bytes, rss_bytes, settle_cpu
  body files             write_body (deterministic, incompressible, returns sha256)
  origins                Nginx (static origin with a parseable access log), TestOrigin
                         (tests/origin/origin.py, misbehaves on request), make_self_signed_cert
  proxies                HAProxy (reference reverse proxy), DlProxy (the binary under test)
  clients                curl_fetch (one timed download), curl_concurrent (N at once, aggregate)
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

LOOPBACK = "127.0.0.1"
MiB = 1 << 20
GiB = 1 << 30

# --------------------------------------------------------------------------------------------
# Sizes and statistics
# --------------------------------------------------------------------------------------------

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1 << 10,
    "m": 1000 ** 2, "mb": 1000 ** 2, "mib": 1 << 20,
    "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1 << 30,
}


REPO_DIR = Path(__file__).resolve().parents[2]


def bench_parser(doc: str, size: str = "1GiB", runs: int = 5,
                 smoke_help: str = "16 MiB, 1 round, fail (exit 1) on any size or sha256 mismatch"
                 ) -> argparse.ArgumentParser:
    """The options every benchmark shares: --size, --runs, --dlproxy, --smoke, --keep."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--size", default=size, help=f"body size (default {size}; 16MiB with --smoke)")
    p.add_argument("--runs", type=int, default=runs,
                   help=f"timed rounds (default {runs}; 1 with --smoke)")
    p.add_argument("--dlproxy", type=Path, default=REPO_DIR / "build/proxy/dlproxy")
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


# --------------------------------------------------------------------------------------------
# Workspace and processes
# --------------------------------------------------------------------------------------------

class BenchError(RuntimeError):
    """A benchmark could not run or a correctness check failed; main() prints it as one line."""


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago (callers retry on a bind race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    """Until 127.0.0.1:port accepts a TCP connection; raises if `alive()` turns false first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise BenchError(f"process exited before 127.0.0.1:{port} accepted connections")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"127.0.0.1:{port} did not accept connections within {timeout:.0f} s")


class Managed:
    """A started process. Its stdout and stderr are copied line by line to `<log_dir>/<name>.log`
    and kept in memory so a caller can wait for a line (a port announcement) with a deadline.
    stop() signals exactly this PID; it is idempotent."""

    def __init__(self, name: str, cmd: list[str], log_dir: Path, cwd: Path | None = None,
                 env: dict | None = None):
        self.name = name
        self.cmd = cmd
        self.log_path = log_dir / f"{name}.log"
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log = open(self.log_path, "a", buffering=1, encoding="utf-8", errors="replace")
        self._log.write(f"# {' '.join(cmd)}\n")
        self.popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.popen.pid
        self._readers = [threading.Thread(target=self._pump, args=(stream, tag), daemon=True)
                         for stream, tag in ((self.popen.stdout, "out"), (self.popen.stderr, "err"))]
        for t in self._readers:
            t.start()

    def _pump(self, stream, tag: str) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._log.write(f"[{tag}] {line}\n")
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_line(self, pattern: re.Pattern, timeout: float,
                  reject: Callable[[str], bool] | None = None) -> re.Match:
        """First output line matching `pattern` (and not rejected); raises on exit or deadline."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    m = pattern.search(line)
                    if m and not (reject and reject(line)):
                        return m
                seen = len(self.lines)
                if not self.alive():
                    # Let the pumps drain what the process wrote before it exited.
                    self._cond.wait(0.2)
                    if len(self.lines) == seen:
                        raise BenchError(f"{self.name} exited with status {self.popen.returncode}"
                                         f" before printing '{pattern.pattern}': "
                                         f"{self.tail()}")
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"{self.name} did not print '{pattern.pattern}' within "
                                     f"{timeout:.0f} s: {self.tail()}")
                self._cond.wait(min(left, 0.2))

    def tail(self, n: int = 5) -> str:
        with self._cond:
            return " | ".join(self.lines[-n:]) or "(no output)"

    def stop(self, grace: float = 5.0) -> int | None:
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=grace)
            except ProcessLookupError:
                pass
        for t in self._readers:
            t.join(timeout=2)
        self._log.close()
        return self.popen.returncode


class Bench:
    """A benchmark's workspace: a fresh temp dir (removed at the end unless keep=True) and the
    registry of processes it started, stopped in reverse order on exit. SIGTERM and SIGINT become
    exceptions while it is active so that cleanup runs when meson's timeout or Ctrl-C strikes."""

    def __init__(self, prefix: str, keep: bool = False):
        self.dir = Path(tempfile.mkdtemp(prefix=f"dlproxy-{prefix}-"))
        self.keep = keep
        self.procs: list[Managed] = []
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


# --------------------------------------------------------------------------------------------
# /proc readers (Linux)
# --------------------------------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all its threads), in seconds; /proc/<pid>/stat
    fields 14 and 15, counted after the ')' that ends the command name."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {key}")


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the resident-set high-water mark since the process started."""
    return _status_kib(pid, "VmHWM") * 1024


def rss_bytes(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


def settle_cpu(pid: int, quiet: float = 0.1, max_wait: float = 3.0) -> float:
    """CPU seconds once the process has stopped accumulating CPU (a clock tick is 10 ms), so
    work that finishes after the client's last byte (closing files, cache commits) is counted."""
    last = cpu_seconds(pid)
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.5 / _CLK_TCK:
            return now
        last = now
    return last


# --------------------------------------------------------------------------------------------
# Body files
# --------------------------------------------------------------------------------------------

def write_body(path: Path, size: int, seed: int = 1) -> str:
    """Write `size` deterministic, incompressible bytes and return their sha256 hex digest.
    Each MiB is one pseudo-random MiB (from `seed`) whose first 16 bytes are replaced by the MiB
    index and the seed, so no two MiB are equal and no byte range is all zeros."""
    block = bytearray(random.Random(seed).randbytes(MiB))
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        index = 0
        left = size
        while left > 0:
            block[0:16] = index.to_bytes(8, "little") + seed.to_bytes(8, "little")
            chunk = block if left >= MiB else block[:left]
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
            index += 1
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


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


# --------------------------------------------------------------------------------------------
# Origins
# --------------------------------------------------------------------------------------------

def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for CN/SAN 127.0.0.1, made with the openssl CLI; for HTTPS benches."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    return cert, key


@dataclasses.dataclass
class AccessEntry:
    msec: float
    status: int
    bytes_sent: int        # header + body bytes nginx wrote, partial if the client went away
    body_bytes_sent: int
    request_time: float
    method: str
    uri: str               # $request_uri: path and query as the client sent them
    range: str
    connection: int        # nginx's connection serial number


class Nginx:
    """A static origin: nginx in the foreground, one worker (master_process off), sendfile on,
    every file it writes inside `workdir`. URLs it serves, for a file <name> under `root`:
      /<name>                    plain static file (ETag, Last-Modified, ranges)
      /u/<tag>/<name>            the same bytes under a unique URL: a cold object per <tag>
      /nostore/<tag>/<name>      the same, answered with `Cache-Control: no-store` (pass-through)
    With tls=(cert, key) it also listens with TLS on `https_port`.
    The access log has one tab-separated line per request with $bytes_sent (read_access_log)."""

    LOG_FORMAT = ("$msec\\t$status\\t$bytes_sent\\t$body_bytes_sent\\t$request_time\\t"
                  "$request_method\\t$request_uri\\t$http_range\\t$connection")

    def __init__(self, bench: Bench, root: Path, tls: tuple[Path, Path] | None = None,
                 name: str = "nginx"):
        self.bench = bench
        self.root = root
        self.tls = tls
        self.name = name
        self.workdir = bench.dir / name
        self.workdir.mkdir()
        self.access_log = self.workdir / "access.log"
        self.port = 0
        self.https_port = 0
        self.proc: Managed | None = None

    def config(self) -> str:
        w = self.workdir
        tls_listen = ""
        if self.tls:
            tls_listen = (f"        listen {LOOPBACK}:{self.https_port} ssl;\n"
                          f"        ssl_certificate {self.tls[0]};\n"
                          f"        ssl_certificate_key {self.tls[1]};\n")
        return f"""\
daemon off;
master_process off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 10000;
    server_tokens off;
    log_format bench escape=json '{self.LOG_FORMAT}';
    access_log {self.access_log} bench;
    client_body_temp_path {w}/client_body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    server {{
        listen {LOOPBACK}:{self.port};
{tls_listen}        root {self.root};
        location / {{ }}
        # /u/<tag>/: cacheable and fresh for an hour, so a repeat is a hit without a 304.
        location ~ ^/u/[^/]+/(?<name>[^/]+)$ {{
            alias {self.root}/$name;
            add_header Cache-Control "max-age=3600" always;
        }}
        location ~ ^/nostore/[^/]+/(?<name>[^/]+)$ {{
            alias {self.root}/$name;
            add_header Cache-Control "no-store" always;
        }}
    }}
}}
"""

    def start(self, attempts: int = 3) -> "Nginx":
        exe = which("nginx")
        for attempt in range(attempts):
            self.port = free_port()
            self.https_port = free_port() if self.tls else 0
            conf = self.workdir / "nginx.conf"
            conf.write_text(self.config())
            proc = self.bench.start(self.name, [exe, "-p", str(self.workdir), "-c", str(conf),
                                                "-e", str(self.workdir / "error.log")])
            try:
                wait_port(self.port, 10, proc.alive)
                if self.tls:
                    wait_port(self.https_port, 10, proc.alive)
                self.proc = proc
                return self
            except BenchError:
                self.bench.stop(proc)
                if attempt == attempts - 1:
                    err = (self.workdir / "error.log").read_text(errors="replace")[-500:]
                    raise BenchError(f"nginx did not start: {err.strip()}")
        raise AssertionError("unreachable")

    def url(self, path: str, https: bool = False) -> str:
        if https:
            return f"https://{LOOPBACK}:{self.https_port}{path}"
        return f"http://{LOOPBACK}:{self.port}{path}"

    def read_access_log(self) -> list[AccessEntry]:
        entries = []
        if not self.access_log.exists():
            return entries
        for line in self.access_log.read_text(errors="replace").splitlines():
            f = line.split("\t")
            if len(f) != 9:
                continue
            entries.append(AccessEntry(float(f[0]), int(f[1]), int(f[2]), int(f[3]), float(f[4]),
                                       f[5], f[6], f[7], int(f[8])))
        return entries

    def entries_matching(self, needle: str, settle: float = 0.2,
                         max_wait: float = 3.0) -> list[AccessEntry]:
        """Access-log entries whose URI contains `needle`, once their count has stopped changing
        for `settle` s: nginx writes a line when a request ends, which can trail the client."""
        deadline = time.monotonic() + max_wait
        last: list[AccessEntry] | None = None
        while True:
            now = [e for e in self.read_access_log() if needle in e.uri]
            if last is not None and len(now) == len(last) and now:
                return now
            if time.monotonic() > deadline:
                return now
            last = now
            time.sleep(settle)


class TestOrigin:
    """tests/origin/origin.py, the origin that misbehaves on purpose (cuts, stalls, changed
    ETags, chosen by query parameters), for the resume benchmark. It announces
    `origin listening on 127.0.0.1:PORT` on stdout; its request log is JSON lines
    (read_log) with bytes_sent (body bytes) and outcome (complete | cut | client_gone)."""

    SCRIPT = Path(__file__).resolve().parents[1] / "origin" / "origin.py"
    LISTEN_RE = re.compile(r"origin listening on 127\.0\.0\.1:(\d+)")

    def __init__(self, bench: Bench, tls: tuple[Path, Path] | None = None, name: str = "origin"):
        self.bench = bench
        self.tls = tls
        self.name = name
        self.log = bench.dir / f"{name}.requests.jsonl"
        self.state_dir = bench.dir / f"{name}.state"
        self.port = 0
        self.proc: Managed | None = None

    def start(self, timeout: float = 15.0) -> "TestOrigin":
        self.state_dir.mkdir(exist_ok=True)
        cmd = [sys.executable, str(self.SCRIPT), "--host", LOOPBACK, "--port", "0",
               "--log", str(self.log), "--state-dir", str(self.state_dir)]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        self.proc = self.bench.start(self.name, cmd)
        self.port = int(self.proc.wait_line(self.LISTEN_RE, timeout).group(1))
        return self

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}{path}"

    def read_log(self) -> list[dict]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line being written right now
        return out


# --------------------------------------------------------------------------------------------
# Proxies
# --------------------------------------------------------------------------------------------

def start_squid(bench: "Bench", directory: Path, cache_lines: str,
                name: str = "squid") -> tuple["Managed", int]:
    """Debian's squid as a caching forward proxy in `directory` (created here): 127.0.0.1 on an
    ephemeral port, localhost clients only, its own pid file, cache and logs, in the foreground
    (-N), stopped by PID. `cache_lines` are the squid.conf lines that size its caches."""
    exe = which("squid")
    directory.mkdir()
    port = free_port()
    conf = directory / "squid.conf"
    conf.write_text(f"""
http_port {LOOPBACK}:{port}
pid_filename {directory}/squid.pid
acl localnet src 127.0.0.1/32
http_access allow localnet
http_access deny all
{cache_lines}
coredump_dir {directory}
access_log stdio:{directory}/access.log
cache_log {directory}/cache.log
cache_store_log none
netdb_filename none
dns_nameservers 127.0.0.1
shutdown_lifetime 1 seconds
""")
    if os.getuid() == 0:  # squid drops to `proxy`: it must reach its own directory
        bench.dir.chmod(0o755)
        subprocess.run(["chown", "-R", "proxy:proxy", str(directory)], check=True)
    made = subprocess.run([exe, "-N", "-z", "-f", str(conf)], timeout=120,
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise BenchError(f"squid -z failed: {made.stderr.strip()[-400:]}")
    proc = bench.start(name, [exe, "-N", "-f", str(conf)])
    wait_port(port, 30, proc.alive)
    return proc, port


class HAProxy:
    """The reference proxy: HAProxy in plain reverse-proxy `mode http`, foreground (-db), no
    logging, default threads (one per CPU), keep-alive on both sides. Clients use
    `http://127.0.0.1:<port>/<path>` (reverse-proxy URL, no proxy setting).

    One tuning departs from the stock defaults: `tune.bufsize 65536` (stock 16384). On this
    kind of host the stock buffer caps HAProxy near half of a direct download on a single large
    transfer, which would make it a strawman; 64 KiB buffers roughly double that. Kernel splicing
    (`option splice-response`) is left off on purpose: it is about as fast as 64 KiB buffers here
    but never copies through user space, which a caching proxy has to do. bufsize=None gives the
    stock configuration. With tls_pem (cert + key in one file) the frontend terminates TLS."""

    def __init__(self, bench: Bench, backend_port: int, tls_pem: Path | None = None,
                 bufsize: int | None = 65536, name: str = "haproxy"):
        self.bench = bench
        self.backend_port = backend_port
        self.tls_pem = tls_pem
        self.bufsize = bufsize
        self.name = name
        self.port = 0
        self.proc: Managed | None = None

    def config(self) -> str:
        ssl = f" ssl crt {self.tls_pem}" if self.tls_pem else ""
        tune = f"    tune.bufsize {self.bufsize}\n" if self.bufsize else ""
        return f"""\
global
    maxconn 1000
{tune}
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s

frontend fe
    bind {LOOPBACK}:{self.port}{ssl}
    default_backend origin

backend origin
    server origin {LOOPBACK}:{self.backend_port}
"""

    def start(self, attempts: int = 3) -> "HAProxy":
        exe = which("haproxy")
        for attempt in range(attempts):
            self.port = free_port()
            conf = self.bench.dir / f"{self.name}.cfg"
            conf.write_text(self.config())
            proc = self.bench.start(self.name, [exe, "-db", "-f", str(conf)])
            try:
                wait_port(self.port, 10, proc.alive)
                self.proc = proc
                return self
            except BenchError:
                self.bench.stop(proc)
                if attempt == attempts - 1:
                    raise BenchError(f"haproxy did not start: {proc.tail()}")
        raise AssertionError("unreachable")

    def url(self, path: str) -> str:
        scheme = "https" if self.tls_pem else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}{path}"


class DlProxy:
    """The binary under test, started as
        dlproxy --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --cache-dir <dir> --log-level warn
    Its port comes from the output line matching `listening on 127.0.0.1:<port>` (the admin
    listener's `admin endpoint on ...` line is ignored). Two fallbacks while the proxy is young,
    each recorded so reports can say what ran:
      - a start that exits before that line is retried without --admin-listen (`flags_dropped`);
      - if the line does not appear within `quiet_timeout` s while the process runs, the line is
        taken to be below the log level and the start is retried with --log-level info
        (`log_level_used`). dlproxy logs at info only at start, stop and on rare events, so this
        does not change per-request work."""

    LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")

    def __init__(self, bench: Bench, exe: Path, cache_dir: Path | None = None,
                 extra_args: Sequence[str] = (), log_level: str = "warn", name: str = "dlproxy"):
        self.bench = bench
        self.exe = Path(exe)
        self.cache_dir = cache_dir or bench.dir / "cache"
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.name = name
        self.port = 0
        self.proc: Managed | None = None
        self.flags_dropped: list[str] = []
        self.log_level_used = log_level

    def command(self, admin: bool, log_level: str) -> list[str]:
        cmd = [str(self.exe), "--listen", f"{LOOPBACK}:0"]
        if admin:
            cmd += ["--admin-listen", f"{LOOPBACK}:0"]
        return cmd + ["--cache-dir", str(self.cache_dir), "--log-level", log_level,
                      *self.extra_args]

    def start(self, timeout: float = 15.0, quiet_timeout: float = 3.0) -> "DlProxy":
        if not self.exe.exists():
            raise BenchError(f"{self.exe} does not exist: build it with ninja -C build")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        errors = []
        for admin in (True, False):
            for level in dict.fromkeys([self.log_level, "info"]):
                proc = self.bench.start(self.name, self.command(admin, level))
                wait = timeout if level == "info" else quiet_timeout
                try:
                    m = proc.wait_line(self.LISTEN_RE, wait,
                                       reject=lambda line: "admin" in line.lower())
                except BenchError as e:
                    errors.append(str(e))
                    exited = not proc.alive()
                    self.bench.stop(proc)
                    if exited:
                        break  # flags rejected or a crash: try the next flag set
                    continue   # running but silent: try a more verbose log level
                self.port = int(m.group(1))
                self.proc = proc
                self.flags_dropped = [] if admin else ["--admin-listen"]
                self.log_level_used = level
                wait_port(self.port, timeout, proc.alive)
                return self
        raise BenchError("dlproxy did not start: " + " / ".join(errors))

    def describe(self) -> dict:
        """Which binary ran: path, `--version`, mtime and a sha256 prefix (builds change under
        a running benchmark when others rebuild, so a copy is safer to benchmark)."""
        try:
            version = subprocess.run([str(self.exe), "--version"], capture_output=True,
                                     text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            version = None
        return {"path": str(self.exe), "version": version,
                "mtime": time.strftime("%Y-%m-%d %H:%M:%S %z",
                                       time.localtime(self.exe.stat().st_mtime)),
                "sha256_prefix": sha256_file(self.exe)[:16]}

    def notes(self) -> list[str]:
        out = []
        if self.flags_dropped:
            out.append(f"dlproxy rejected {' '.join(self.flags_dropped)}; ran without it")
        if self.log_level_used != self.log_level:
            out.append(f"dlproxy printed no listening line at --log-level {self.log_level}; "
                       f"ran with --log-level {self.log_level_used}")
        return out

    @property
    def proxy_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------

_PROXY_ENV = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}


def curl_env() -> dict:
    """The environment without proxy variables: the only proxy a curl uses is the one we pass."""
    return {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_ENV}


CURL_WRITE_OUT = "%{size_download} %{speed_download} %{time_total} %{http_code}"


@dataclasses.dataclass
class CurlResult:
    url: str
    via: str | None        # proxy URL, or None for a direct request
    size: int              # %{size_download}: body bytes received
    speed: float           # %{speed_download}: bytes per second over the transfer
    seconds: float         # %{time_total}
    http_code: int
    exit_code: int
    stderr: str

    @property
    def mb_per_s(self) -> float:
        return self.speed / 1e6

    def check(self, size: int) -> None:
        if self.exit_code != 0 or self.http_code != 200 or self.size != size:
            via = f" via {self.via}" if self.via else ""
            raise BenchError(f"GET {self.url}{via}: curl exit {self.exit_code}, HTTP "
                             f"{self.http_code}, {self.size} of {size} bytes "
                             f"{self.stderr.strip()}")


def curl_command(url: str, proxy: str | None = None, output: str = "/dev/null",
                 max_time: float = 300, extra: Sequence[str] = ()) -> list[str]:
    cmd = ["curl", "-sS", "-o", output, "-w", CURL_WRITE_OUT, "--max-time", str(int(max_time))]
    if proxy:
        cmd += ["--proxy", proxy]
    else:
        cmd += ["--noproxy", "*"]
    return cmd + list(extra) + [url]


def _parse_curl(url: str, proxy: str | None, rc: int, out: str, err: str) -> CurlResult:
    parts = out.split()
    if len(parts) != 4:
        return CurlResult(url, proxy, 0, 0.0, 0.0, 0, rc if rc else -1, err + out)
    return CurlResult(url, proxy, int(parts[0]), float(parts[1]), float(parts[2]),
                      int(parts[3]), rc, err)


def curl_fetch(url: str, proxy: str | None = None, output: str = "/dev/null",
               max_time: float = 300, extra: Sequence[str] = ()) -> CurlResult:
    """One download, timed by curl itself (%{speed_download}, %{time_total})."""
    cmd = curl_command(url, proxy, output, max_time, extra)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=curl_env(),
                           timeout=max_time + 10)
    except subprocess.TimeoutExpired:
        return CurlResult(url, proxy, 0, 0.0, 0.0, 0, -1, "timed out")
    return _parse_curl(url, proxy, r.returncode, r.stdout, r.stderr)


@dataclasses.dataclass
class ConcurrentResult:
    results: list[CurlResult]
    wall_seconds: float    # from the first spawn to the last exit

    @property
    def total_bytes(self) -> int:
        return sum(r.size for r in self.results)

    @property
    def aggregate_mb_per_s(self) -> float:
        return self.total_bytes / self.wall_seconds / 1e6 if self.wall_seconds > 0 else 0.0


def curl_concurrent(requests: Sequence[tuple[str, str | None, str]], max_time: float = 300,
                    extra: Sequence[str] = ()) -> ConcurrentResult:
    """Start one curl per (url, proxy, output) at once and wait for all; aggregate throughput is
    total bytes over wall time, spawn to last exit (process start-up is a few ms, noise here)."""
    env = curl_env()
    procs = []
    start = time.monotonic()
    try:
        for url, proxy, output in requests:
            procs.append(subprocess.Popen(curl_command(url, proxy, output, max_time, extra),
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          stdin=subprocess.DEVNULL, env=env, text=True))
        outputs = []
        deadline = start + max_time + 10
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outputs.append((p.returncode, out, err))
        wall = time.monotonic() - start
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    results = [_parse_curl(url, proxy, rc, out, err)
               for (url, proxy, _), (rc, out, err) in zip(requests, outputs)]
    return ConcurrentResult(results, wall)


def fetch_sha256(url: str, proxy: str | None, scratch: Path, size: int,
                 extra: Sequence[str] = ()) -> str:
    """An untimed check run: download to a file, verify the size, return the body's sha256."""
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        r = curl_fetch(url, proxy, output=str(scratch), extra=extra)
        r.check(size)
        return sha256_file(scratch)
    finally:
        scratch.unlink(missing_ok=True)


def run_main(name, parse_args, run) -> int:
    """The shared entry point of the bench scripts: parse, run, and turn a BenchError or ^C into
    one line on stderr and an exit status (1, 130)."""
    args = parse_args()
    try:
        return run(args)
    except BenchError as e:
        print(f"{name}: FAIL: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"{name}: interrupted ({e})", file=sys.stderr)
        return 130
