"""The curl CLI, through a proxy or directly (never through a *_proxy variable).

For tests:
    curl_cli(proxy_port, url, out=None, args=(), timeout=120) -> CurlResult
        (rc, status, status_line, headers of the final response, stderr, out, all blocks)
For benchmarks (timed by curl itself):
    curl_fetch(url, proxy=None, output="/dev/null", max_time=300, extra=()) -> CurlTiming
    curl_concurrent([(url, proxy, output)...]) -> ConcurrentResult (aggregate throughput)
    fetch_sha256(url, proxy, scratch, size) -> sha256 of the body (untimed check run)
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .const import LOCALHOST
from .hashing import sha256_file
from .benchkit import BenchError
from .processes import clean_env
from .rawhttp import Headers, parse_header_blocks

CurlResult = collections.namedtuple("CurlResult", "rc status status_line headers stderr out blocks")


def curl_cli(proxy_port, url, out=None, args=(), timeout=120):
    """Run the curl CLI through the proxy (proxy_port None: directly). `out` is a file path
    (None: /dev/null). Returns
    CurlResult(rc, status, status_line, headers of the final response, stderr, out, all blocks)."""
    fd, hdr_path = tempfile.mkstemp(prefix="curl-hdr-")
    os.close(fd)
    via = (["--proxy", f"http://{LOCALHOST}:{proxy_port}", "--noproxy", ""] if proxy_port
           else ["--noproxy", "*"])
    cmd = ["curl", "-sS"] + via + ["-D", hdr_path, "-o", out or "/dev/null", "-w", "%{http_code}",
           "--max-time", str(timeout)] + list(args) + [url]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout + 10, env=clean_env())
        with open(hdr_path, errors="replace") as f:
            raw = f.read()
    finally:
        os.unlink(hdr_path)
    blocks = parse_header_blocks(raw)
    final = [b for b in blocks if not re.match(r"HTTP/\S+ 1\d\d", b[0])]
    status_line, hdrs = final[-1] if final else ("", [])
    code = p.stdout.decode().strip()
    return CurlResult(p.returncode, int(code) if code.isdigit() else 0, status_line, Headers(hdrs),
                      p.stderr.decode(errors="replace"), out, blocks)


CURL_WRITE_OUT = "%{size_download} %{speed_download} %{time_total} %{http_code}"


@dataclasses.dataclass
class CurlTiming:
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


def _parse_curl(url: str, proxy: str | None, rc: int, out: str, err: str) -> CurlTiming:
    parts = out.split()
    if len(parts) != 4:
        return CurlTiming(url, proxy, 0, 0.0, 0.0, 0, rc if rc else -1, err + out)
    return CurlTiming(url, proxy, int(parts[0]), float(parts[1]), float(parts[2]),
                      int(parts[3]), rc, err)


def curl_fetch(url: str, proxy: str | None = None, output: str = "/dev/null",
               max_time: float = 300, extra: Sequence[str] = ()) -> CurlTiming:
    """One download, timed by curl itself (%{speed_download}, %{time_total})."""
    cmd = curl_command(url, proxy, output, max_time, extra)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(),
                           timeout=max_time + 10)
    except subprocess.TimeoutExpired:
        return CurlTiming(url, proxy, 0, 0.0, 0.0, 0, -1, "timed out")
    return _parse_curl(url, proxy, r.returncode, r.stdout, r.stderr)


@dataclasses.dataclass
class ConcurrentResult:
    results: list[CurlTiming]
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
    env = clean_env()
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

