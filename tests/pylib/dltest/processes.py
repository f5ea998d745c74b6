"""Processes: every one a helper starts is tracked by PID and stopped (SIGTERM, then SIGKILL
after a grace period) when its owner stops it, when the script exits (atexit) and when the
script gets SIGTERM (meson's timeout). Waits are bounded.

    track(popen) / untrack(popen)    add to / remove from the registry
    stop_process(popen, sig, timeout) -> exit status (then SIGKILL; untracked)
    kill_all()                       stop everything still tracked
    read_line(stream, timeout, popen) one line from a child's stdout pipe, or None
    Managed(name, cmd, log_dir)      a child whose stdout and stderr are pumped line by line
                                     into <log_dir>/<name>.log and memory: wait_line(pattern)
    clean_env()                      the environment without *_proxy variables
    SetupError                       a helper could not start something or a wait ran out
"""

from __future__ import annotations

import atexit
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable


class SetupError(RuntimeError):
    """A process did not start, exited early, or did not answer within its deadline."""


_tracked: dict[int, subprocess.Popen] = {}
_tracked_lock = threading.Lock()


def track(proc: subprocess.Popen) -> None:
    with _tracked_lock:
        _tracked[proc.pid] = proc


def untrack(proc: subprocess.Popen) -> None:
    with _tracked_lock:
        _tracked.pop(proc.pid, None)


def stop_process(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 5.0):
    """Signal `proc` (this PID only), wait up to `timeout`, then SIGKILL. Returns its exit
    status; closes its stdout pipe if it has one."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        except ProcessLookupError:
            pass
    untrack(proc)
    if proc.stdout:
        proc.stdout.close()
    return proc.returncode


def kill_all() -> None:
    """SIGTERM every tracked process, SIGKILL the ones still there after 3 s."""
    with _tracked_lock:
        procs = list(_tracked.values())
    for p in procs:
        if p.poll() is None:
            try:
                p.terminate()
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 3
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        if p.stdout:
            p.stdout.close()
    with _tracked_lock:
        _tracked.clear()


atexit.register(kill_all)


def _on_sigterm(signum, _frame):
    kill_all()
    sys.stderr.write("test helper: terminated (SIGTERM), children stopped\n")
    os._exit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")


def clean_env() -> dict:
    """Environment for child processes: no proxy variables leak into curl or the proxy (the only
    proxy a client uses is the one it is given)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def read_line(stream, timeout: float, proc: subprocess.Popen) -> str | None:
    """One line from a child's stdout pipe within `timeout` seconds, or None (EOF, exit,
    deadline)."""
    fd = stream.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            buf += chunk
        elif proc.poll() is not None:
            return None
    return buf.split(b"\n", 1)[0].decode(errors="replace")


class Managed:
    """A started process. Its stdout and stderr are copied line by line to `<log_dir>/<name>.log`
    and kept in memory so a caller can wait for a line (a port announcement) with a deadline.
    stop() signals exactly this PID; it is idempotent."""

    def __init__(self, name: str, cmd: list[str], log_dir: Path, cwd: Path | None = None,
                 env: dict | None = None):
        self.name = name
        self.cmd = cmd
        self.log_path = Path(log_dir) / f"{name}.log"
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log = open(self.log_path, "a", buffering=1, encoding="utf-8", errors="replace")
        self._log.write(f"# {' '.join(cmd)}\n")
        self.popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.popen.pid
        track(self.popen)
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
                        raise SetupError(f"{self.name} exited with status {self.popen.returncode}"
                                         f" before printing '{pattern.pattern}': "
                                         f"{self.tail()}")
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SetupError(f"{self.name} did not print '{pattern.pattern}' within "
                                     f"{timeout:.0f} s: {self.tail()}")
                self._cond.wait(min(left, 0.2))

    def tail(self, n: int = 5) -> str:
        with self._cond:
            return " | ".join(self.lines[-n:]) or "(no output)"

    def stop(self, grace: float = 5.0) -> int | None:
        # The pipes are the pumps' to close: stop_process closes stdout only once they ended.
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=grace)
            except ProcessLookupError:
                pass
        untrack(self.popen)
        for t in self._readers:
            t.join(timeout=2)
        self._log.close()
        return self.popen.returncode
