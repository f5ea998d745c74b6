"""Integration-test harness: real processes on 127.0.0.1, bounded waits, nothing left behind.

Processes
    Origin(workdir, port=0, state_dir=True, tls=None, name="origin", script=None)
                                                         tests/origin/origin.py (or `script`,
                                                         e.g. model_hosts.py) as a process
        .start() .stop() .kill9() .restart()  (restart reuses the port)
        .port .url(path) .hostport
        .log() -> list of request records; .mark() -> position; .log_since(mark)
        .wait_log(count, since=0, timeout=5) -> records once `count` have arrived
        .records(since, match, count) / .requests_for(target, since, count): filtered, waiting
        .ranges_requested(target, since) -> the Range header of each request for target
    Dlproxy(workdir, extra_args=(), cache_dir=None)     the proxy under test ($DLPROXY_BIN, else
        build/proxy/dlproxy), started as `dlproxy --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0
        --cache-dir DIR --log-level debug EXTRA...`; stderr captured to workdir/dlproxy-N.stderr.
        .start() .stop() .sigterm() .wait(timeout) -> exit status  .alive()
        .port .admin_port .proxy_url
        .fd_count() .fd_breakdown() -> FdBreakdown(client, upstream, listen, other, total, detail)
        .rss_kb() .hwm_kb() .status_kb(field)  (from /proc/<pid>/status)
        .stderr_text(since=0) .stderr_size()
    EchoServer()                                         in-process TCP echo server (CONNECT tests)

Helpers: free_port(), clean_env() (no *_proxy variables), stop_process(proc), kill_all().

Every process started here is tracked by PID and killed (SIGTERM, then SIGKILL) when it is stopped,
when the test process exits (atexit) and when the test process gets SIGTERM (meson's timeout).

Clients (all of them ignore *_proxy environment variables)
    curl_cli(proxy_port, url, out=None, args=(), timeout=120) -> CurlResult (curl CLI)
    pycurl_request(proxy_port, url, ...) -> Response (pycurl; body kept or only hashed)
    requests_session(proxy_port) -> requests.Session
    RawConn(port) -- raw socket HTTP/1.1 with a response reader (keep-alive, pipelining, errors)
    sha256_file(path), sha256_bytes(data)

Test base
    ProxyTestCase -- one origin and one dlproxy per class; on failure prints the proxy's stderr
    written during that test; after each test waits for dlproxy's fds to return to the baseline.
"""

import atexit
import collections
import hashlib
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest


def _reexec_with_debian_python():
    """The tests depend on Debian's python3-pycurl and python3-requests only. If the python3 on
    PATH is another interpreter (pyenv, a venv) without them, run again under /usr/bin/python3."""
    try:
        import pycurl  # noqa: F401
        import requests  # noqa: F401
        return
    except ImportError:
        pass
    debian = "/usr/bin/python3"
    if os.environ.get("DLPROXY_TEST_REEXEC") or not os.path.exists(debian) or \
            os.path.realpath(sys.executable) == os.path.realpath(debian):
        return
    os.environ["DLPROXY_TEST_REEXEC"] = "1"
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        argv = [debian, "-m", spec.name.removesuffix(".__main__")] + sys.argv[1:]
    else:
        argv = [debian] + sys.argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(debian, argv)


_reexec_with_debian_python()

import pycurl  # noqa: E402
import requests  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ORIGIN_DIR = os.path.join(REPO, "tests", "origin")
ORIGIN_PY = os.path.join(ORIGIN_DIR, "origin.py")
sys.path.insert(0, ORIGIN_DIR)
import content  # noqa: E402,F401  (re-exported for tests: harness.content.sha256_of(...))

LOCALHOST = "127.0.0.1"
MiB = 1024 * 1024

# ---------------------------------------------------------------------------------------------
# process tracking


_tracked = {}
_tracked_lock = threading.Lock()


def _track(proc):
    with _tracked_lock:
        _tracked[proc.pid] = proc


def stop_process(proc, sig=signal.SIGTERM, timeout=5.0):
    """Signal `proc`, wait up to `timeout`, then SIGKILL. Returns its exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        except ProcessLookupError:
            pass
    with _tracked_lock:
        _tracked.pop(proc.pid, None)
    if proc.stdout:
        proc.stdout.close()
    return proc.returncode


def kill_all():
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


def _on_sigterm(signum, frame):
    kill_all()
    sys.stderr.write("integration test: terminated (SIGTERM), children stopped\n")
    os._exit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)


def clean_env():
    """Environment for child processes: no proxy variables leak into curl or the proxy."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _read_line(stream, timeout, proc):
    """One line from a child's stdout pipe within `timeout` seconds, or None."""
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


def free_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind((LOCALHOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------------------------
# the origin


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
            cmd += ["--state-dir", self.state_dir]
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        for attempt in range(20):  # a restart on a fixed port may race the old socket's close
            err = open(self.err_path, "ab")
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=clean_env())
            err.close()
            _track(self.proc)
            line = _read_line(self.proc.stdout, timeout, self.proc)
            m = re.fullmatch(r"origin listening on 127\.0\.0\.1:(\d+)", line or "")
            if m:
                self.port = int(m.group(1))
                return self
            stop_process(self.proc, signal.SIGKILL)
            if self.port == 0 or attempt == 19:
                break
            time.sleep(0.1)
        raise RuntimeError(f"origin did not start (line {line!r}); stderr:\n{self.stderr_text()}")

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
            if self.proc.stdout:
                self.proc.stdout.close()

    def kill9(self):
        if self.proc is not None:
            stop_process(self.proc, signal.SIGKILL)
            if self.proc.stdout:
                self.proc.stdout.close()

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


# ---------------------------------------------------------------------------------------------
# the proxy


FdBreakdown = collections.namedtuple("FdBreakdown", "client upstream listen other total detail")


def _tcp_table():
    """inode -> (local_port, remote_port, state) for every TCP socket in our network namespace."""
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
                    table[inode] = (int(local.rsplit(":", 1)[1], 16),
                                    int(remote.rsplit(":", 1)[1], 16), state)
        except FileNotFoundError:
            pass
    return table


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "06": "TIME_WAIT", "07": "CLOSE",
              "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
              "04": "FIN_WAIT1", "05": "FIN_WAIT2"}


def dlproxy_bin():
    return os.environ.get("DLPROXY_BIN") or os.path.join(REPO, "build", "proxy", "dlproxy")


class Dlproxy:
    _serial = 0

    def __init__(self, workdir, extra_args=(), cache_dir=None):
        Dlproxy._serial += 1
        self.workdir = workdir
        self.extra_args = list(extra_args)
        self.cache_dir = cache_dir or os.path.join(workdir, f"cache-{Dlproxy._serial}")
        self.err_path = os.path.join(workdir, f"dlproxy-{Dlproxy._serial}.stderr")
        self.proc = None
        self.port = None
        self.admin_port = None

    @property
    def cmd(self):
        return [dlproxy_bin(), "--listen", f"{LOCALHOST}:0", "--admin-listen", f"{LOCALHOST}:0",
                "--cache-dir", self.cache_dir, "--log-level", "debug"] + self.extra_args

    def start(self, timeout=15.0):
        os.makedirs(self.cache_dir, exist_ok=True)
        err = open(self.err_path, "ab")
        self._err_start = err.tell()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                     env=clean_env())
        err.close()
        _track(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stderr_text(self._err_start)
            for line in text.splitlines():
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if "admin" in line.lower():
                    a = re.search(r"127\.0\.0\.1:(\d+)", line)
                    if a:
                        self.admin_port = int(a.group(1))
                elif m:
                    self.port = int(m.group(1))
            if self.port:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        status = self.proc.poll()
        stop_process(self.proc, signal.SIGKILL)
        raise RuntimeError(
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

    # --- /proc ------------------------------------------------------------------------------
    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def fd_breakdown(self):
        """Classify open fds: client (TCP on the proxy's or admin's port), listen, upstream (other
        TCP), other (files, pipes, eventfds, unix sockets...)."""
        fd_dir = f"/proc/{self.proc.pid}/fd"
        links = []
        for fd in os.listdir(fd_dir):
            try:
                links.append(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                pass
        table = _tcp_table()
        client = upstream = listen = other = 0
        detail = collections.Counter()
        own_ports = {self.port, self.admin_port}
        for link in links:
            m = re.fullmatch(r"socket:\[(\d+)\]", link)
            tcp = table.get(m.group(1)) if m else None
            if tcp is None:
                other += 1
                kind = "socket" if m else re.sub(r"\d+", "N", link)
                if link.startswith("/"):
                    kind = "file:" + os.path.basename(os.path.dirname(link)) + "/" + os.path.basename(link)
                detail[kind] += 1
                continue
            lport, rport, state = tcp
            st = TCP_STATES.get(state, state)
            if st == "LISTEN":
                listen += 1
            elif lport in own_ports:
                client += 1
                detail[f"client:{st}"] += 1
            else:
                upstream += 1
                detail[f"upstream:{rport}:{st}"] += 1
        return FdBreakdown(client, upstream, listen, other, len(links), dict(detail))

    def status_kb(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def rss_kb(self):
        return self.status_kb("VmRSS")

    def hwm_kb(self):
        return self.status_kb("VmHWM")


# ---------------------------------------------------------------------------------------------
# clients


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                return h.hexdigest()
            h.update(b)


def parse_header_blocks(raw):
    """Header blocks of a curl -D dump / raw response heads: [(status_line, [(name, value)])]."""
    blocks = []
    for block in re.split(r"\r?\n\r?\n", raw.strip()):
        lines = block.splitlines()
        if not lines or not lines[0].startswith("HTTP/"):
            continue
        hdrs = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                hdrs.append((name.strip(), value.strip()))
        blocks.append((lines[0], hdrs))
    return blocks


class Headers:
    """Ordered, repeatable, case-insensitive header list."""

    def __init__(self, items):
        self.items = list(items)

    def get(self, name, default=None):
        vals = self.get_all(name)
        return vals[0] if vals else default

    def get_all(self, name):
        n = name.lower()
        return [v for k, v in self.items if k.lower() == n]

    def __contains__(self, name):
        return bool(self.get_all(name))

    def __repr__(self):
        return f"Headers({self.items!r})"


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


Response = collections.namedtuple(
    "Response", "status headers body sha256 length num_connects local_port status_line")


def new_pycurl(proxy_port):
    c = pycurl.Curl()
    c.setopt(pycurl.PROXY, f"http://{LOCALHOST}:{proxy_port}")
    c.setopt(pycurl.NOPROXY, "")
    c.setopt(pycurl.BUFFERSIZE, 256 * 1024)
    return c


def pycurl_request(proxy_port, url, method="GET", headers=(), body=None, keep_body=True,
                   curl=None, timeout=120):
    """One request with pycurl through the proxy. Pass `curl` (from new_pycurl) to reuse its
    connection. The body is kept (keep_body) and always hashed."""
    c = curl or new_pycurl(proxy_port)
    h = hashlib.sha256()
    chunks = []
    length = [0]
    head_lines = []

    def on_write(data):
        h.update(data)
        length[0] += len(data)
        if keep_body:
            chunks.append(data)

    def on_header(line):
        line = line.decode("iso-8859-1").rstrip("\r\n")
        if line.startswith("HTTP/"):
            head_lines.clear()
        if line:
            head_lines.append(line)

    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.WRITEFUNCTION, on_write)
    c.setopt(pycurl.HEADERFUNCTION, on_header)
    c.setopt(pycurl.HTTPHEADER, list(headers))
    c.setopt(pycurl.TIMEOUT, timeout)
    c.setopt(pycurl.HTTPGET, 1)  # resets any upload/post state of a reused handle
    c.unsetopt(pycurl.CUSTOMREQUEST)
    if method == "HEAD":
        c.setopt(pycurl.NOBODY, 1)
    elif body is not None and method == "PUT":
        c.setopt(pycurl.UPLOAD, 1)
        c.setopt(pycurl.INFILESIZE_LARGE, len(body))
        c.setopt(pycurl.READFUNCTION, io.BytesIO(body).read)
    elif body is not None:
        c.setopt(pycurl.POST, 1)
        c.setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))
        c.setopt(pycurl.READFUNCTION, io.BytesIO(body).read)
    if method not in ("GET", "HEAD", "POST", "PUT"):
        c.setopt(pycurl.CUSTOMREQUEST, method)
    c.perform()
    status = c.getinfo(pycurl.RESPONSE_CODE)
    hdrs = [tuple(s.strip() for s in line.split(":", 1)) for line in head_lines[1:] if ":" in line]
    resp = Response(status, Headers(hdrs), b"".join(chunks) if keep_body else None, h.hexdigest(),
                    length[0], c.getinfo(pycurl.NUM_CONNECTS), c.getinfo(pycurl.LOCAL_PORT),
                    head_lines[0] if head_lines else "")
    if curl is None:
        c.close()
    return resp


def requests_session(proxy_port):
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": f"http://{LOCALHOST}:{proxy_port}", "https": f"http://{LOCALHOST}:{proxy_port}"}
    return s


RawResponse = collections.namedtuple("RawResponse", "version status reason headers body head")


class RawConn:
    """A raw client socket speaking HTTP/1.1 by hand: for keep-alive, pipelining and bad input."""

    def __init__(self, port, timeout=15.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((LOCALHOST, port))
        self.buf = b""
        self.eof = False

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(256 * 1024)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, sep):
        while sep not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed before {sep!r}; have {self.buf[:200]!r}")
        out, self.buf = self.buf.split(sep, 1)
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"connection closed after {len(self.buf)} of {n} body bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        head = self._read_until(b"\r\n\r\n").decode("iso-8859-1")
        lines = head.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        hdrs = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs.append((name.strip(), value.strip()))
        return version, int(code), reason, Headers(hdrs), head

    def read_response(self, method="GET"):
        """The next final response (1xx skipped). Body framing per RFC 9112 §6.3."""
        while True:
            version, status, reason, hdrs, head = self.read_head()
            if status >= 200 or status == 101:
                break
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in (hdrs.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while self._read_until(b"\r\n"):
                        pass
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(parts)
        elif hdrs.get("Content-Length") is not None:
            body = self._read_exact(int(hdrs.get("Content-Length")))
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return RawResponse(version, status, reason, hdrs, body, head)

    def request(self, method, url, headers=(), body=b""):
        lines = [f"{method} {url} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.send("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        return self.read_response(method)

    def closed_by_peer(self, timeout=5.0):
        """True when the peer closes (EOF or reset) within `timeout` with no further bytes."""
        self.sock.settimeout(timeout)
        try:
            while not self.eof:
                if not self._fill():
                    break
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(15.0)
        return self.eof

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------
# an echo server for CONNECT


class EchoServer:
    """Threaded TCP echo server on 127.0.0.1:0. Records connections and when each one saw EOF."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOCALHOST, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.eof_seen = threading.Event()
        self.accepted = threading.Event()
        self.bytes_echoed = 0
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            self.accepted.set()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            while True:
                data = c.recv(256 * 1024)
                if not data:
                    break
                c.sendall(data)
                with self.lock:
                    self.bytes_echoed += len(data)
        except OSError:
            pass
        self.eof_seen.set()
        with self.lock:
            if c in self.conns:
                self.conns.remove(c)
        c.close()  # like any echo server: the peer is done, so are we

    def close_connections(self):
        """Close every accepted connection from the server side."""
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def stop(self):
        self.running = False
        self.close_connections()
        self.lsock.close()


# ---------------------------------------------------------------------------------------------
# test base


class ProxyTestCase(unittest.TestCase):
    """One origin and one dlproxy for the class. Subclasses set `proxy_args` / `origin_kwargs`.

    After each test, dlproxy must be alive and its fds must return to the baseline taken after a
    warm-up request: no client-side sockets, no more non-TCP fds (files, pipes...) than at the
    baseline, and at most `upstream_allowance` idle upstream connections (a connection pool)."""

    proxy_args = ()
    origin_kwargs = {}
    upstream_allowance = 16
    fd_settle_timeout = 5.0
    check_fds = True

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.origin = Origin(cls.work, **cls.origin_kwargs)
        cls.proxy = None
        try:
            cls.origin.start()
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()  # unittest skips tearDownClass when setUpClass fails
            raise

    @classmethod
    def start_proxy(cls):
        cls.proxy = Dlproxy(cls.work, cls.proxy_args).start()
        cls.warm_up()

    @classmethod
    def warm_up(cls):
        try:
            pycurl_request(cls.proxy.port, cls.origin.url("/bytes/1024/warmup"), timeout=10)
        except pycurl.error:
            pass  # the tests will say what is wrong
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()

    @classmethod
    def tearDownClass(cls):
        if cls.proxy and cls.proxy.proc:
            cls.proxy.stop()
        cls.origin.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        proxy = type(self).proxy
        err_mark = proxy.stderr_size() if proxy else 0
        err_file = proxy.err_path if proxy else None
        super().run(result)
        if len(result.failures) + len(result.errors) > before and err_file:
            try:
                with open(err_file, "rb") as f:
                    f.seek(err_mark)
                    text = f.read().decode(errors="replace")
            except OSError:
                text = ""
            lines = text.splitlines()
            sys.stderr.write(f"\n----- dlproxy stderr during {self.id()} "
                             f"({len(lines)} lines, last 150 shown) -----\n")
            sys.stderr.write("\n".join(lines[-150:]) + "\n----- end of dlproxy stderr -----\n")
        return result

    def setUp(self):
        cls = type(self)
        if cls.proxy is None or not cls.proxy.alive():
            cls.start_proxy()  # an earlier test killed it; that test has already failed
        self.mark = self.origin.mark()

    def tearDown(self):
        cls = type(self)
        if not cls.proxy.alive():
            self.fail(f"dlproxy died during the test (exit status {cls.proxy.proc.returncode})")
        if self.check_fds:
            self.assert_fds_settle()

    def assert_fds_settle(self, upstream_allowance=None, timeout=None):
        proxy = type(self).proxy
        allowance = self.upstream_allowance if upstream_allowance is None else upstream_allowance
        deadline = time.monotonic() + (timeout or self.fd_settle_timeout)
        base = type(self).fd_base
        while True:
            b = proxy.fd_breakdown()
            if b.client == 0 and b.other <= base.other and b.upstream <= allowance:
                return b
            if time.monotonic() > deadline:
                self.fail(f"dlproxy fds did not return to the baseline: now {b}, baseline {base}, "
                          f"allowed idle upstream connections {allowance}")
            time.sleep(0.05)

    # --- conveniences ----------------------------------------------------------------------------
    @property
    def pport(self):
        return type(self).proxy.port

    def url(self, path):
        return self.origin.url(path)

    def new_requests(self):
        return self.origin.log_since(self.mark)

    def assert_hit(self, target, sha256):
        """GET `target` again: the body must hash to `sha256` and the origin must not see it."""
        mark = self.origin.mark()
        r = pycurl_request(self.pport, self.url(target), keep_body=False, timeout=30)
        self.assertEqual(r.sha256, sha256)
        self.assertEqual([x for x in self.origin.log_since(mark) if x["target"] == target], [],
                         "the object was not complete in the cache")
