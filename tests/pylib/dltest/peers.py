"""The caches bench_peers.py compares dlproxy with, each started in the bench's work directory
on 127.0.0.1 ephemeral ports, in the foreground, stopped by PID (benchkit.Bench).

How each is configured for large objects (docs/benchmarks.md, "Against the peers"):
  nginx    proxy_cache on a cache path in the work dir, `slice 8m` with the slice range in the
           key and `proxy_set_header Range $slice_range` (nginx's documented large-object
           recipe: a miss fetches 8 MiB slices, a range fetches only the slices it covers),
           proxy_cache_valid 200 206 1h, HTTP/1.1 keep-alive upstream, use_temp_path=off.
  varnish  -s file storage sized for the run, beresp.do_stream (clients get bytes while the
           fill runs), ttl 1h; Varnish's default for a range miss is to fetch the whole object.
  squid    forward proxy, aufs cache_dir, maximum_object_size 64 GB, cache_mem 256 MB with
           objects up to 8 MB in memory, quick_abort_min -1 (a fill finishes when the client
           leaves), range_offset_limit 0 (default: a range miss is forwarded and not cached).
  dlproxy  default settings (--cache-dir in the work dir), plus the bench's `extra_args`
           (bench_peers: --dlproxy-arg, and the flags that reach its HTTPS origin).
Reverse proxies (nginx, varnish) serve the static origin at / and tests/origin/origin.py at
/faulty/; forward proxies (dlproxy, squid) take the origins' own URLs.
"""

from __future__ import annotations

import os
import time

from . import procfs
from .benchkit import Bench, have, which
from .const import LOCALHOST as LOOPBACK, GiB, MiB
from .dlproxy import Dlproxy as DlproxyProcess
from .ports import free_port, wait_port
from .processes import Managed, SetupError
from .webservers import start_squid


def tree_pids(root: int) -> list[int]:
    """root and all its descendants (nginx's workers, varnish's child, squid's kids)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class Peer:
    name = "?"
    EXE = "?"
    INSTALL = ""
    forward = False

    def __init__(self, bench: Bench, origin_port: int, faulty_port: int, args):
        self.bench, self.origin_port, self.faulty_port, self.args = \
            bench, origin_port, faulty_port, args
        self.dir = bench.dir / f"peer-{self.name}"
        self.dir.mkdir()
        self.port = 0
        self.proc: Managed | None = None
        self._hwm: dict[int, int] = {}

    @classmethod
    def available(cls) -> bool:
        return have(cls.EXE)

    @property
    def proxy(self) -> str | None:
        return f"http://{LOOPBACK}:{self.port}" if self.forward else None

    def url(self, origin_port: int, path: str, faulty: bool = False) -> str:
        if self.forward:
            return f"http://{LOOPBACK}:{origin_port}{path}"
        return f"http://{LOOPBACK}:{self.port}{'/faulty' if faulty else ''}{path}"

    def cpu_seconds(self, settle: bool = False) -> float:
        """CPU of the whole process tree; with settle, once it stops growing (work that ends
        after the client's last byte, such as a fill finishing or a commit, is counted)."""
        def total() -> float:
            s = 0.0
            for pid in tree_pids(self.proc.pid):
                try:
                    s += procfs.cpu_seconds(pid)
                    self._hwm[pid] = max(self._hwm.get(pid, 0), procfs.peak_rss_bytes(pid))
                except (OSError, SetupError):
                    pass
            return s
        last = total()
        if not settle:
            return last
        for _ in range(30):
            time.sleep(0.1)
            now = total()
            if now - last < 0.005:
                return now
            last = now
        return last

    def peak_rss(self) -> int:
        self.cpu_seconds()
        return sum(self._hwm.values())


class Dlproxy(Peer):
    name, EXE, forward = "dlproxy", "dlproxy", True
    extra_args: list[str] = []  # set before start()

    @classmethod
    def available(cls) -> bool:
        return True

    def start(self) -> None:
        d = DlproxyProcess(self.dir, cache_dir=self.dir / "cache", exe=self.args.dlproxy,
                           log_level="warn", extra_args=self.extra_args)
        self.proc, self.port = self.bench.adopt(d.start()).proc, d.port
        self.cache_dir = d.cache_dir


class NginxSlice(Peer):
    name, EXE, INSTALL = "nginx", "nginx", "apt-get install nginx-light"

    def config(self) -> str:
        w = self.dir
        proxy = """
            slice 8m;
            proxy_cache big;
            proxy_cache_key $uri$is_args$args$slice_range;
            proxy_set_header Range $slice_range;
            proxy_cache_valid 200 206 1h;
            proxy_http_version 1.1;
            proxy_set_header Connection "";"""
        return f"""\
daemon off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    sendfile on;
    tcp_nopush on;
    access_log off;
    client_body_temp_path {w}/client_body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    proxy_cache_path {w}/cache levels=1:2 keys_zone=big:16m max_size=200g inactive=1d
                     use_temp_path=off;
    server {{
        listen {LOOPBACK}:{self.port};
        location / {{ {proxy}
            proxy_pass http://{LOOPBACK}:{self.origin_port};
        }}
        location /faulty/ {{ {proxy}
            proxy_pass http://{LOOPBACK}:{self.faulty_port}/;
        }}
    }}
}}
"""

    def start(self) -> None:
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        self.proc = self.bench.start("nginx-slice", [which("nginx"), "-p", str(self.dir),
                                                     "-c", str(conf)])
        wait_port(self.port, 15, self.proc.alive)


class Varnish(Peer):
    name, EXE, INSTALL = "varnish", "varnishd", "apt-get install varnish"

    def start(self) -> None:
        self.port = free_port()
        vcl = self.dir / "bench.vcl"
        vcl.write_text(f"""vcl 4.1;
backend origin {{ .host = "{LOOPBACK}"; .port = "{self.origin_port}"; }}
backend faulty {{ .host = "{LOOPBACK}"; .port = "{self.faulty_port}"; }}
sub vcl_recv {{
    if (req.url ~ "^/faulty/") {{
        set req.backend_hint = faulty;
        set req.url = regsub(req.url, "^/faulty", "");
    }} else {{
        set req.backend_hint = origin;
    }}
}}
sub vcl_backend_response {{
    set beresp.ttl = 1h;
    set beresp.do_stream = true;
}}
""")
        storage = 4 * self.args.size_bytes * self.args.runs + GiB
        if os.getuid() == 0:  # varnishd drops privileges: its users must reach the work dir
            self.bench.dir.chmod(0o755)
            self.dir.chmod(0o777)
        self.proc = self.bench.start("varnish", [
            which("varnishd"), "-F", "-n", str(self.dir / "n"), "-a", f"{LOOPBACK}:{self.port}",
            "-f", str(vcl), "-s", f"file,{self.dir}/storage.bin,{storage}",
            "-p", "thread_pool_min=20", "-T", "none"])
        wait_port(self.port, 30, self.proc.alive)


class Squid(Peer):
    name, EXE, INSTALL, forward = "squid", "squid", "apt-get install squid", True

    def start(self) -> None:
        cache_mib = (4 * self.args.size_bytes * self.args.runs + GiB) // MiB
        self.dir.rmdir()  # start_squid makes it
        self.proc, self.port = start_squid(self.bench, self.dir, f"""\
cache_mem 256 MB
maximum_object_size_in_memory 8 MB
maximum_object_size 64 GB
cache_dir aufs {self.dir}/cache {cache_mib} 16 256
quick_abort_min -1 KB
range_offset_limit 0
read_ahead_gap 64 KB""")

PEERS = {p.name: p for p in (Dlproxy, NginxSlice, Varnish, Squid)}
