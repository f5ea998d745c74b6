"""The proxy under test as a process.

    Dlproxy(workdir, extra_args=(), cache_dir=None, exe=None, log_level="debug")
        started as `EXE --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --cache-dir DIR
        --log-level LEVEL EXTRA...` (EXE: `exe`, else $DLPROXY_BIN, else build/proxy/dlproxy);
        stdout and stderr go to workdir/dlproxy-N.stderr. The ports come from the lines dlproxy
        prints whatever the log level: `listening on 127.0.0.1:PORT` and
        `admin endpoint on 127.0.0.1:PORT`.
        .start() .stop() .sigterm() .wait(timeout) -> exit status  .alive()  .pid
        .port .admin_port .proxy_url
        .stderr_text(since=0) .stderr_size()
        .admin(path) -> the admin endpoint's answer to GET path (/status, /metrics), as text
        .fd_count() .fd_breakdown() -> procfs.FdBreakdown  .rss_kb() .hwm_kb() .status_kb(field)
        .describe() -> which binary ran (path, --version, mtime, sha256 prefix), for bench reports

Benchmarks pass log_level="warn" (debug logging costs CPU per request) and their --dlproxy.
"""

import os
import re
import signal
import subprocess
import time
import urllib.request

from . import procfs
from .const import LOCALHOST, dlproxy_bin
from .hashing import sha256_file
from .processes import SetupError, clean_env, stop_process, track

_LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
_ADMIN_RE = re.compile(r"127\.0\.0\.1:(\d+)")
_ADMIN_GRACE = 2.0  # the admin line follows the proxy's; wait this long for it at most


class Dlproxy:
    _serial = 0

    def __init__(self, workdir, extra_args=(), cache_dir=None, exe=None, log_level="debug"):
        Dlproxy._serial += 1
        self.workdir = workdir
        self.exe = str(exe) if exe else dlproxy_bin()
        self.extra_args = [str(a) for a in extra_args]
        self.log_level = log_level
        self.cache_dir = str(cache_dir or os.path.join(workdir, f"cache-{Dlproxy._serial}"))
        self.err_path = os.path.join(workdir, f"dlproxy-{Dlproxy._serial}.stderr")
        self.proc = None
        self.port = None
        self.admin_port = None

    @property
    def cmd(self):
        return [self.exe, "--listen", f"{LOCALHOST}:0", "--admin-listen", f"{LOCALHOST}:0",
                "--cache-dir", self.cache_dir, "--log-level", self.log_level] + self.extra_args

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=15.0):
        if not os.path.exists(self.exe):
            raise SetupError(f"{self.exe} does not exist: build it with ninja -C build")
        os.makedirs(self.cache_dir, exist_ok=True)
        err = open(self.err_path, "ab")
        self._err_start = err.tell()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                     env=clean_env())
        err.close()
        track(self.proc)
        deadline = time.monotonic() + timeout
        admin_deadline = None
        while time.monotonic() < deadline:
            for line in self.stderr_text(self._err_start).splitlines():
                m = _LISTEN_RE.search(line)
                if "admin" in line.lower():
                    a = _ADMIN_RE.search(line)
                    if a:
                        self.admin_port = int(a.group(1))
                elif m:
                    self.port = int(m.group(1))
            if self.port:
                admin_deadline = admin_deadline or time.monotonic() + _ADMIN_GRACE
                if self.admin_port or time.monotonic() > admin_deadline:
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        status = self.proc.poll()
        if self.port and status is None:
            return self  # the admin line never came; the proxy itself is up
        stop_process(self.proc, signal.SIGKILL)
        raise SetupError(
            f"dlproxy did not report `listening on 127.0.0.1:PORT` "
            f"({'exited with ' + str(status) if status is not None else 'timeout'}); "
            f"command: {' '.join(self.cmd)}\nstderr:\n{self.stderr_text(self._err_start)[-4000:]}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            return stop_process(self.proc, timeout=10)

    def sigterm(self):
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        """Exit status within `timeout` seconds, or None if still running."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def proxy_url(self):
        return f"http://{LOCALHOST}:{self.port}"

    def stderr_size(self):
        try:
            return os.path.getsize(self.err_path)
        except OSError:
            return 0

    def stderr_text(self, since=0):
        try:
            with open(self.err_path, "rb") as f:
                f.seek(since)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def signal_and_wait(self, sig, expect, timeout=5.0):
        """Sends `sig` and waits for a log line containing `expect`: the log since the signal,
        or None when it did not come in time."""
        mark = self.stderr_size()
        os.kill(self.proc.pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stderr_text(mark)
            if expect in text:
                return text
            time.sleep(0.05)
        return None

    def admin(self, path, timeout=10):
        """GET `path` (/status, /metrics...) from the admin endpoint, directly (no proxy
        variables); the body as text. An HTTP error status raises urllib's HTTPError."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://{LOCALHOST}:{self.admin_port}{path}", timeout=timeout) as r:
            return r.read().decode()

    def describe(self):
        """Which binary ran: path, `--version`, mtime and a sha256 prefix (builds change under
        a running benchmark when others rebuild, so a copy is safer to benchmark)."""
        try:
            version = subprocess.run([self.exe, "--version"], capture_output=True,
                                     text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            version = None
        return {"path": self.exe, "version": version,
                "mtime": time.strftime("%Y-%m-%d %H:%M:%S %z",
                                       time.localtime(os.stat(self.exe).st_mtime)),
                "sha256_prefix": sha256_file(self.exe)[:16]}

    # --- /proc ------------------------------------------------------------------------------
    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def fd_breakdown(self):
        """Open fds by kind (procfs.fd_breakdown): client sockets are those on the proxy's or the
        admin endpoint's port."""
        return procfs.fd_breakdown(self.proc.pid, {self.port, self.admin_port})

    def status_kb(self, field):
        return procfs.status_kib(self.proc.pid, field)

    def rss_kb(self):
        return self.status_kb("VmRSS")

    def hwm_kb(self):
        return self.status_kb("VmHWM")
