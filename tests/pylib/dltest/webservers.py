"""Reference servers the benchmarks start in their Bench's directory, on 127.0.0.1 ephemeral
ports, in the foreground, stopped by PID:

    Nginx(bench, root, tls=None)     a static origin with a parseable access log (AccessEntry)
    HAProxy(bench, backend_port)     the reference reverse proxy (pass-through benchmark)
    start_squid(bench, dir, cache_lines) -> (Managed, port)   Debian's squid as a forward cache
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from pathlib import Path

from .benchkit import Bench, BenchError, which
from .const import LOCALHOST
from .ports import free_port, wait_port
from .processes import Managed, SetupError

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
            tls_listen = (f"        listen {LOCALHOST}:{self.https_port} ssl;\n"
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
        listen {LOCALHOST}:{self.port};
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
            except SetupError:
                self.bench.stop(proc)
                if attempt == attempts - 1:
                    err = (self.workdir / "error.log").read_text(errors="replace")[-500:]
                    raise BenchError(f"nginx did not start: {err.strip()}")
        raise AssertionError("unreachable")

    def url(self, path: str, https: bool = False) -> str:
        if https:
            return f"https://{LOCALHOST}:{self.https_port}{path}"
        return f"http://{LOCALHOST}:{self.port}{path}"

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
http_port {LOCALHOST}:{port}
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
    bind {LOCALHOST}:{self.port}{ssl}
    default_backend origin

backend origin
    server origin {LOCALHOST}:{self.backend_port}
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
            except SetupError:
                self.bench.stop(proc)
                if attempt == attempts - 1:
                    raise BenchError(f"haproxy did not start: {proc.tail()}")
        raise AssertionError("unreachable")

    def url(self, path: str) -> str:
        scheme = "https" if self.tls_pem else "http"
        return f"{scheme}://{LOCALHOST}:{self.port}{path}"

