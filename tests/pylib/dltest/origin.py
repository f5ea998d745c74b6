"""The test origins as processes: tests/origin/origin.py, or another server with its command
line and contract (model_hosts.py, xet_service.py: pass `script`).

    Origin(workdir, port=0, state_dir=True, tls=None, name="origin", script=None)
        .start() .stop() .kill9() .restart()  (restart reuses the port)  .alive()
        .port .url(path) .hostport
        .log() -> list of request records; .mark() -> position; .log_since(mark)
        .wait_log(count, since=0, timeout=5) -> records once `count` have arrived
        .records(since, match, count) / .requests_for(target, since, count): filtered, waiting
        .ranges_requested(target, since) -> the Range header of each request for target

It announces `origin listening on 127.0.0.1:PORT` on stdout; its request log (<name>.log in
workdir) is JSON lines with target, headers, status, bytes_sent and outcome
(complete | cut | client_gone); its stderr goes to <name>.stderr.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

from .const import LOCALHOST, ORIGIN_PY
from .processes import SetupError, clean_env, read_line, stop_process, track


class Origin:
    script = ORIGIN_PY  # a subclass may start another origin with the same command line

    def __init__(self, workdir, port=0, state_dir=True, tls=None, name="origin", script=None):
        self.workdir = workdir
        if script:  # another server with origin.py's contract
            self.script = script
        self.port = port
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.err_path = os.path.join(workdir, f"{name}.stderr")
        self.state_dir = os.path.join(workdir, f"{name}-state") if state_dir is True else state_dir
        self.tls = tls  # (cert_path, key_path) or None
        self.proc = None

    def start(self, timeout=10.0):
        cmd = [sys.executable, self.script, "--host", LOCALHOST, "--port", str(self.port),
               "--log", self.log_path]
        if self.state_dir:
            cmd += ["--state-dir", str(self.state_dir)]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        for attempt in range(20):  # a restart on a fixed port may race the old socket's close
            err = open(self.err_path, "ab")
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=clean_env())
            err.close()
            track(self.proc)
            line = read_line(self.proc.stdout, timeout, self.proc)
            m = re.fullmatch(r"origin listening on 127\.0\.0\.1:(\d+)", line or "")
            if m:
                self.port = int(m.group(1))
                return self
            stop_process(self.proc, signal.SIGKILL)
            if self.port == 0 or attempt == 19:
                break
            time.sleep(0.1)
        raise SetupError(f"origin did not start (line {line!r}); stderr:\n{self.stderr_text()}")

    def stderr_text(self):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)

    def kill9(self):
        if self.proc is not None:
            stop_process(self.proc, signal.SIGKILL)

    def restart(self):
        """kill -9, then start again on the same port (state survives with a state dir)."""
        self.kill9()
        return self.start()

    @property
    def hostport(self):
        return f"{LOCALHOST}:{self.port}"

    def url(self, path):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.hostport}{path}"

    def log(self):
        try:
            with open(self.log_path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written right now
        return out

    def mark(self):
        return len(self.log())

    def log_since(self, mark):
        return self.log()[mark:]

    def wait_log(self, count, since=0, timeout=5.0):
        """Records after `since` once at least `count` exist (or whatever is there at timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            recs = self.log_since(since)
            if len(recs) >= count or time.monotonic() > deadline:
                return recs
            time.sleep(0.02)

    def records(self, since=0, match=None, count=None, timeout=5.0):
        """Records after `since` for which match(record) holds; with `count`, wait (bounded) until
        at least that many have been logged -- the origin logs when a response ends, which can be
        a moment after the client has seen its last byte."""
        deadline = time.monotonic() + timeout
        while True:
            recs = [r for r in self.log_since(since) if match is None or match(r)]
            if count is None or len(recs) >= count or time.monotonic() > deadline:
                return recs
            time.sleep(0.02)

    def requests_for(self, target, since=0, count=None, timeout=5.0):
        """Records for exactly this request target (path+query); see records()."""
        return self.records(since, lambda r: r["target"] == target, count, timeout)

    def ranges_requested(self, target, since=0):
        """The Range header (None when absent) of each request for `target`, in order: what a
        resume asked the origin for."""
        return [r["headers"].get("Range") for r in self.requests_for(target, since)]
