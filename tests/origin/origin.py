#!/usr/bin/env python3
"""dlproxy test origin: a real HTTP/1.1 server that misbehaves on purpose.

Usage:
    python3 tests/origin/origin.py --host 127.0.0.1 --port 0 --log FILE [--state-dir DIR]
                                   [--tls-cert PEM --tls-key PEM]

Prints exactly one line, `origin listening on 127.0.0.1:PORT`, on stdout once it accepts
connections. Binds 127.0.0.1 only. SO_REUSEADDR is set, so a killed origin can be restarted on the
same port. SIGTERM (or SIGINT) stops it cleanly with exit status 0. Each connection gets its own
thread; connections are keep-alive (HTTP/1.1) and idle ones are dropped after 120 s.
With --tls-cert/--tls-key the listener speaks TLS (handshake done in the connection's thread).

Paths
-----
GET|HEAD /bytes/<N>[/<anything>]   N bytes of deterministic content (tests/origin/content.py), a
                                   function of the path without the query and of the version.
                                   Strong ETag, Last-Modified, Accept-Ranges: bytes, Date.
                                   Range: one range -> 206 + Content-Range; unsatisfiable -> 416
                                   with `Content-Range: bytes */N`; several ranges -> 200 full;
                                   bad syntax -> ignored. HEAD ignores Range.
                                   If-Range: strong ETag or exact Last-Modified date, else 200 full.
                                   If-None-Match (weak comparison, `*`) / If-Modified-Since -> 304.
GET /endless                       chunked body that never ends (until the client goes away).
GET /badlength[?announce=N&send=M] Content-Length: N (default 1 MiB), sends M bytes (default N/2)
                                   of content("/badlength", ...), then closes.
GET /redirect?to=<url>&code=<c>    redirect (default 302) with Location: <url>; never followed here.
ANY /status/<code>[?reason=<text>] that status (200..599) with a short text body (none for 204/304
                                   or HEAD); `reason` sets the reason phrase.
POST|PUT|PATCH /echo               echoes the request body (Content-Length or chunked) with the
                                   same Content-Type; headers X-Request-Body-Sha256,
                                   X-Request-Body-Length, X-Request-Transfer-Encoding (chunked or
                                   length). `Expect: 100-continue` is answered with 100.
ANY /headers                       JSON {method, target, version, request_line, headers: [[name,
                                   value], ...] in received order, client_port}; a request body is
                                   read and discarded.

Query parameters (any path unless noted; numbers are decimal)
-------------------------------------------------------------
version=<k>          object version: changes content, default ETag and default Last-Modified.
etag=<v>             ETag override (quoted for you unless it starts with `"` or `W/`).
noetag=1             no ETag.          lm=<unix time>   Last-Modified override.   nolm=1  none.
cc=<value>           Cache-Control: <value>.            ct=<type>  Content-Type (default
                                                                   application/octet-stream).
setcookies=<n>       n separate `Set-Cookie: c<i>=v<i>; Path=/` fields.
hdr_<Name>=<value>   one more response field `Name: value` (any name: Age, Expires, Location...).
early_hints=<n>      n interim `103 Early Hints` responses (each with `Link: </hint<i>.css>;
                     rel=preload` and `X-Hint: <i>`) before the final response.
resp_hop=1           the response also carries hop-by-hop fields a proxy must drop:
                     `Connection: X-Hop-Resp`, `X-Hop-Resp: secret`, `Keep-Alive: timeout=30`,
                     `Proxy-Authenticate: Basic realm="origin"`.
close=1              `Connection: close`, and the origin closes after the response.
chunked=1            Transfer-Encoding: chunked, no Content-Length (also on 206).
norange=1            ignore Range and If-Range, always 200 full; Accept-Ranges: none.
rate=<bytes/s>       pace the body at about that rate.
delay_headers=<s>    sleep s seconds (float) before sending anything.
status=<code>&times=<K>&retry_after=<v>
                     the first K requests (default 1; `always` = every one) to this URL are
                     answered with <code>, a short text body and `Retry-After: <v>` when given.
                     With status_after=<N> the first N requests are served normally and the
                     status applies from the request with per-URL index N on (e.g. to a resume).
cut=<b>&cuts=<K>     the first K responses (default 1; `always`) whose body is longer than b bytes
                     close the connection right after sending b body bytes (b counted from the
                     start of that response's body, whatever its range).
cut_at=<off>&cuts=<K>  the same, but the cut happens on reaching absolute object offset off: only a
                     response whose range [begin, end) has begin < off < end is cut, after off-begin
                     body bytes.
cut_mode=rst         close with a TCP RST (SO_LINGER 0) instead of a FIN.
stall=<b>&stall_secs=<S>&stalls=<K>   (or stall_at=<off>)  like cut, but stop sending for S seconds
                     (float, default 5) and then continue normally.
change_etag_after=<K>  requests with index >= K (0-based, counted per URL) see version
                     `<version>.c1`: new content, new default ETag and Last-Modified, as if the
                     object had been re-uploaded.

"Per URL" state is keyed by the request target's path+query exactly as received (absolute-form is
reduced to path+query). Counters: requests (every request), status, cut, stall -- the last three
count the times the behaviour was applied, decided when the response headers are sent. They live
in memory and, with --state-dir, in one JSON file per URL there, so they survive a restart.

Request log: with --log FILE, one JSON object per line, written when the response ends:
  time, method, target, headers (those of Range, If-Range, If-None-Match, If-Modified-Since, Via,
  Connection, Host, Transfer-Encoding, Content-Length present), status, bytes_sent (body bytes),
  served ([begin, end) of the object for /bytes), outcome (complete | cut | client_gone),
  client_port, conn (connection serial number), conn_req (request index on that connection),
  index (the per-URL request index).
"""

import email.utils
import hashlib
import http.server
import itertools
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import content  # noqa: E402  (sibling module; the path insert above makes it importable)
from loopback_server import (  # noqa: E402
    LoopbackServer, origin_arguments, parse_origin_arguments, serve)

PIECE = 1024 * 1024
STATEFUL = {"status", "cut", "cut_at", "stall", "stall_at", "change_etag_after"}
LOG_HEADERS = ("Range", "If-Range", "If-None-Match", "If-Modified-Since", "Via", "Connection",
               "Host", "Transfer-Encoding", "Content-Length")


class Abort(Exception):
    """Raised after the origin closed a connection on purpose (cut) to unwind the handler."""


class ClientGone(Exception):
    """The peer went away while we were sending."""


class UrlState:
    """Per-URL counters, optionally persisted to one small JSON file per URL."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.lock = threading.Lock()
        self.counters = {}
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)

    def _file(self, key):
        return os.path.join(self.state_dir, hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def _get(self, key):
        c = self.counters.get(key)
        if c is None:
            c = {}
            if self.state_dir:
                try:
                    with open(self._file(key)) as f:
                        c = json.load(f)["counters"]
                except (OSError, ValueError, KeyError):
                    c = {}
            self.counters[key] = c
        return c

    def _save(self, key, c):
        if not self.state_dir:
            return
        path = self._file(key)
        tmp = f"{path}.{threading.get_ident()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"key": key, "counters": c}, f)
        os.replace(tmp, path)

    def next_index(self, key, persist):
        """Index of this request among all requests to `key` (0-based); counts it. Only URLs
        whose behaviour depends on counts are written to the state dir (`persist`), so plain
        traffic costs no file writes."""
        with self.lock:
            c = self._get(key)
            n = c.get("requests", 0)
            c["requests"] = n + 1
            if persist:
                self._save(key, c)
            return n

    def reset(self, key):
        """Forget every counter of `key`."""
        with self.lock:
            self.counters[key] = {}
            self._save(key, {})

    def take(self, key, name, limit):
        """Count one application of behaviour `name` if fewer than `limit` happened so far."""
        with self.lock:
            c = self._get(key)
            n = c.get(name, 0)
            if limit is not None and n >= limit:
                return False
            c[name] = n + 1
            self._save(key, c)
            return True


def _limit(q, name, default=1):
    v = q.get(name)
    if v is None:
        return default
    if v == "always":
        return None
    return int(v)


def parse_range(value, size):
    """One `Range` header against a representation of `size` bytes.
    Returns None (ignore the header), "multi", "unsat" or a half-open (begin, end)."""
    unit, sep, specs = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in specs.split(",") if p.strip()]
    if not parts:
        return None
    ranges = []
    for p in parts:
        first, dash, last = p.partition("-")
        if not dash:
            return None
        try:
            if first == "":
                n = int(last)
                if n < 0 or not last.isdigit():
                    return None
                ranges.append(None if n == 0 else (max(0, size - n), size))
            else:
                if not first.isdigit() or (last and not last.isdigit()):
                    return None
                a = int(first)
                b = int(last) if last else None
                if b is not None and b < a:
                    return None
                ranges.append(None if a >= size else (a, size if b is None else min(b + 1, size)))
        except ValueError:
            return None
    if len(ranges) > 1:
        return "multi"
    return "unsat" if ranges[0] is None else ranges[0]


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


class Handler(http.server.BaseHTTPRequestHandler):
    log_headers = LOG_HEADERS
    protocol_version = "HTTP/1.1"
    server_version = "dlproxy-test-origin/1"
    sys_version = ""
    timeout = 120
    disable_nagle_algorithm = True

    # --- connection lifetime -------------------------------------------------------------------
    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()
        self.conn_id = next(self.server.conn_ids)
        self.conn_req = 0

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # the JSON request log replaces http.server's stderr log
        pass

    def log_request(self, code="-", size="-"):
        pass

    def send_response(self, code, message=None):
        if getattr(self, "rec", None) is not None:
            self.rec["status"] = code
        super().send_response(code, message)

    # --- dispatch --------------------------------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def dispatch(self):
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form: keep path+query
            u = urllib.parse.urlsplit(target)
            target = (u.path or "/") + (("?" + u.query) if u.query else "")
        self.target = target
        path, _, query = target.partition("?")
        self.upath = urllib.parse.unquote(path)
        self.q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        self.state_key = target
        self.prepare()
        self.rec = {"time": time.time(), "method": self.command, "target": target,
                    "headers": {h: self.headers[h] for h in self.log_headers if h in self.headers},
                    "status": None, "bytes_sent": 0, "outcome": "complete",
                    "client_port": self.client_address[1], "conn": self.conn_id,
                    "conn_req": self.conn_req}
        self.conn_req += 1
        try:
            stateful = not STATEFUL.isdisjoint(self.q)
            self.rec["index"] = self.index = self.server.state.next_index(self.state_key, stateful)
            self.send_early_hints(int(self.q.get("early_hints", 0)))
            self.route()
        except Abort:
            self.rec["outcome"] = "cut"
            self.close_connection = True
        except (ClientGone, OSError, ssl.SSLError):
            self.rec["outcome"] = "client_gone"
            self.close_connection = True
        finally:
            self.server.write_log(self.rec)

    def send_early_hints(self, count):
        """RFC 8297: interim 103 responses, written before the final response's status line."""
        for i in range(count):
            self.send(f"HTTP/1.1 103 Early Hints\r\nLink: </hint{i}.css>; rel=preload\r\n"
                      f"X-Hint: {i}\r\n\r\n".encode())
        self.rec["bytes_sent"] = 0  # the body count is the final response's

    def prepare(self):
        """Hook run once the request is parsed (self.target, self.upath, self.q), before it is
        counted: a subclass may set self.state_key (the name its per-URL counters are kept
        under, default the target) and add fault parameters to self.q."""

    def forced_by_query(self):
        """delay_headers= and status=: True when the request has been answered here."""
        q = self.q
        if "delay_headers" in q:
            time.sleep(float(q["delay_headers"]))
        if ("status" in q and self.index >= int(q.get("status_after", 0))
                and self.server.state.take(self.state_key, "status", _limit(q, "times"))):
            self.forced_status(int(q["status"]))
            return True
        return False

    def route(self):
        if self.forced_by_query():
            return
        p = self.upath
        if p.startswith("/bytes/"):
            return self.serve_bytes()
        if p == "/endless":
            return self.serve_endless()
        if p == "/badlength":
            return self.serve_badlength()
        if p == "/redirect":
            return self.serve_redirect()
        if p.startswith("/status/"):
            return self.serve_status()
        if p == "/echo":
            return self.serve_echo()
        if p == "/headers":
            return self.serve_headers()
        return self.simple(404, "not found\n")

    # --- helpers ---------------------------------------------------------------------------------
    def read_request_body(self):
        """The request body (Content-Length or chunked), and which framing was used."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ClientGone()
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while True:  # trailer section
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return b"".join(parts), "chunked"
                data = self.rfile.read(size)
                if len(data) != size:
                    raise ClientGone()
                parts.append(data)
                self.rfile.readline(3)
        n = int(self.headers.get("Content-Length", "0") or 0)
        data = self.rfile.read(n) if n else b""
        if len(data) != n:
            raise ClientGone()
        return data, "length"

    def common_headers(self):
        q = self.q
        for i in range(int(q.get("setcookies", 0))):
            self.send_header("Set-Cookie", f"c{i}=v{i}; Path=/")
        for key, value in q.items():
            if key.startswith("hdr_") and len(key) > 4:
                self.send_header(key[4:], value)
        if q.get("resp_hop") == "1":
            self.send_header("Connection", "X-Hop-Resp")
            self.send_header("X-Hop-Resp", "secret")
            self.send_header("Keep-Alive", "timeout=30")
            self.send_header("Proxy-Authenticate", 'Basic realm="origin"')
        if q.get("close") == "1":
            self.send_header("Connection", "close")
            self.close_connection = True

    def simple(self, code, text, extra=(), reason=None):
        body = text.encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", "text/plain")
        for k, v in extra:
            self.send_header(k, v)
        self.common_headers()
        no_body = code in (204, 304) or self.command == "HEAD"
        if code != 204:
            self.send_header("Content-Length", "0" if code == 304 else str(len(body)))
        self.end_headers()
        if not no_body:
            self.send(body)

    def send(self, data):
        try:
            self.connection.sendall(data)
        except (OSError, ssl.SSLError) as e:
            raise ClientGone() from e
        self.rec["bytes_sent"] += len(data)

    def abort(self):
        sock = self.connection
        try:
            if self.q.get("cut_mode") == "rst":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.rfile.close()
                sock.close()
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Abort()

    def forced_status(self, code):
        extra = []
        if "retry_after" in self.q:
            extra.append(("Retry-After", self.q["retry_after"]))
        self.simple(code, f"origin: forced status {code}\n", extra)

    def stream(self, seed, begin, end, chunked, cut_after=None, stall_after=None, stall_secs=0.0):
        """Send object bytes [begin, end) (end may be None: forever), applying cut/stall/rate.
        `cut_after` / `stall_after` are body-relative byte counts."""
        rate = float(self.q["rate"]) if "rate" in self.q else None
        piece = PIECE if rate is None else max(1, min(PIECE, int(rate / 20)))
        start_time = time.monotonic()
        pos = 0
        total = None if end is None else end - begin
        stalled = False
        while total is None or pos < total:
            n = piece if total is None else min(piece, total - pos)
            for mark in (cut_after, None if stalled else stall_after):
                if mark is not None and mark > pos:
                    n = min(n, mark - pos)
            data = content.content_by_seed(seed, begin + pos, n)
            if chunked:
                data = b"%x\r\n" % n + data + b"\r\n"
            self.send(data)
            pos += n
            if not stalled and stall_after is not None and pos == stall_after:
                stalled = True
                time.sleep(stall_secs)
                start_time += stall_secs
            if cut_after is not None and pos == cut_after:
                self.abort()
            if rate is not None:
                ahead = start_time + pos / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        if chunked:
            self.send(b"0\r\n\r\n")

    # --- /bytes ----------------------------------------------------------------------------------
    def serve_bytes(self):
        q = self.q
        parts = self.upath.split("/")
        try:
            size = int(parts[2])
            if size < 0:
                raise ValueError
        except ValueError:
            return self.simple(404, "bad size\n")
        objpath = self.upath
        version = q.get("version", "0")
        if "change_etag_after" in q and self.index >= int(q["change_etag_after"]):
            version += ".c1"
        self.rec["version"] = version
        etag = None
        if q.get("noetag") != "1":
            etag = q.get("etag") or content.etag_of(objpath, version)
            if not (etag.startswith('"') or etag.startswith("W/")):
                etag = f'"{etag}"'
        lm = None
        if q.get("nolm") != "1":
            lm = int(q["lm"]) if "lm" in q else content.last_modified_of(objpath, version)
        self.serve_object(content.seed_of(objpath, version), size, etag, lm)

    def serve_object(self, seed, size, etag, lm, extra=()):
        """GET|HEAD of a `size`-byte object whose bytes are content_by_seed(seed, ...): 304,
        Range/If-Range, 206/416, and the cut/stall/rate/chunked/norange/cc parameters of self.q.
        `etag` (quoted, or None), `lm` (unix time, or None), `extra` more (name, value) fields."""
        q = self.q
        lm_str = http_date(lm) if lm is not None else None
        chunked = q.get("chunked") == "1"
        norange = q.get("norange") == "1"

        def validators():
            if etag:
                self.send_header("ETag", etag)
            if lm_str:
                self.send_header("Last-Modified", lm_str)
            if "cc" in q:
                self.send_header("Cache-Control", q["cc"])

        # RFC 9110 §13.2.2: If-None-Match, else If-Modified-Since; then Range with If-Range.
        if self.command in ("GET", "HEAD") and self.not_modified(etag, lm):
            self.send_response(304)
            validators()
            for k, v in extra:
                self.send_header(k, v)
            self.common_headers()
            self.end_headers()
            return

        rng = None
        if self.command == "GET" and not norange and "Range" in self.headers:
            if self.if_range_ok(etag, lm_str):
                rng = parse_range(self.headers["Range"], size)
        if rng == "unsat":
            return self.simple(416, "range not satisfiable\n", [("Content-Range", f"bytes */{size}")])
        if rng is None or rng == "multi":
            begin, end, status = 0, size, 200
        else:
            (begin, end), status = rng, 206
        self.rec["served"] = [begin, end]

        self.send_response(status)
        self.send_header("Content-Type", q.get("ct", "application/octet-stream"))
        self.send_header("Accept-Ranges", "none" if norange else "bytes")
        validators()
        self.send_header("X-Origin-Index", str(self.index))
        for k, v in extra:
            self.send_header(k, v)
        if status == 206:
            self.send_header("Content-Range", f"bytes {begin}-{end - 1}/{size}")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(end - begin))
        self.common_headers()
        self.end_headers()
        if self.command == "HEAD":
            return

        cut_after = self.plan_mark("cut", "cut_at", "cuts", begin, end)
        stall_after = self.plan_mark("stall", "stall_at", "stalls", begin, end)
        self.stream(seed, begin, end, chunked, cut_after, stall_after,
                    float(q.get("stall_secs", 5)))

    def plan_mark(self, rel, absolute, count, begin, end):
        """Body-relative offset where behaviour `rel` fires on this response, or None."""
        q = self.q
        if rel in q:
            mark = int(q[rel])
        elif absolute in q:
            off = int(q[absolute])
            if not begin < off < end:
                return None
            mark = off - begin
        else:
            return None
        if not 0 <= mark < end - begin:
            return None
        if not self.server.state.take(self.state_key, rel, _limit(q, count)):
            return None
        return mark

    def not_modified(self, etag, lm):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            if etag is None:
                return False
            if inm.strip() == "*":
                return True
            ours = etag[2:] if etag.startswith("W/") else etag
            for tag in inm.split(","):
                tag = tag.strip()
                if (tag[2:] if tag.startswith("W/") else tag) == ours:
                    return True
            return False
        ims = self.headers.get("If-Modified-Since")
        if ims is not None and lm is not None:
            try:
                t = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                return False
            return lm <= t
        return False

    def if_range_ok(self, etag, lm_str):
        ir = self.headers.get("If-Range")
        if ir is None:
            return True
        ir = ir.strip()
        if ir.startswith('"') or ir.startswith("W/"):
            return etag is not None and not etag.startswith("W/") and ir == etag
        return lm_str is not None and ir == lm_str

    # --- other paths -----------------------------------------------------------------------------
    def serve_endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.common_headers()
        self.end_headers()
        if self.command == "HEAD":
            return
        if "rate" not in self.q:
            self.q["rate"] = str(64 * 1024 * 1024)
        self.stream(content.seed_of("/endless"), 0, None, True)

    def serve_badlength(self):
        announce = int(self.q.get("announce", 1024 * 1024))
        send = int(self.q.get("send", announce // 2))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(announce))
        self.common_headers()
        self.end_headers()
        if self.command == "HEAD":
            return
        self.send(content.content("/badlength", 0, send))
        self.abort()

    def serve_redirect(self):
        to = self.q.get("to", "/")
        code = int(self.q.get("code", 302))
        self.simple(code, f"redirecting to {to}\n", [("Location", to)])

    def serve_status(self):
        try:
            code = int(self.upath.split("/")[2])
            if not 200 <= code <= 599:
                raise ValueError
        except (ValueError, IndexError):
            return self.simple(404, "bad status\n")
        if self.command in ("POST", "PUT", "PATCH"):
            self.read_request_body()
        self.simple(code, f"status {code}\n", reason=self.q.get("reason"))

    def serve_echo(self):
        if self.command not in ("POST", "PUT", "PATCH"):
            return self.simple(405, "echo wants POST, PUT or PATCH\n", [("Allow", "POST, PUT, PATCH")])
        body, framing = self.read_request_body()
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type", "application/octet-stream"))
        self.send_header("X-Request-Body-Sha256", hashlib.sha256(body).hexdigest())
        self.send_header("X-Request-Body-Length", str(len(body)))
        self.send_header("X-Request-Transfer-Encoding", framing)
        self.send_header("Content-Length", str(len(body)))
        self.common_headers()
        self.end_headers()
        self.send(body)

    def serve_headers(self):
        if self.command in ("POST", "PUT", "PATCH"):
            self.read_request_body()
        doc = {"method": self.command, "target": self.path, "version": self.request_version,
               "request_line": self.requestline, "headers": [[k, v] for k, v in self.headers.items()],
               "client_port": self.client_address[1]}
        self.simple(200, json.dumps(doc) + "\n", [("Content-Type", "application/json")])

    def send_header(self, keyword, value):
        # simple() sends a default Content-Type; a later explicit one replaces it.
        if keyword == "Content-Type" and getattr(self, "_headers_buffer", None):
            self._headers_buffer = [h for h in self._headers_buffer
                                    if not h.lower().startswith(b"content-type:")]
        super().send_header(keyword, value)


class OriginServer(LoopbackServer):
    def __init__(self, addr, log_path, state_dir, tls_context=None, handler=None):
        self.state = UrlState(state_dir)
        self.conn_ids = itertools.count(1)
        super().__init__(addr, log_path, tls_context, handler or Handler)


def main():
    args, ctx = parse_origin_arguments(origin_arguments(__doc__))
    threading.stack_size(512 * 1024)
    return serve(OriginServer((args.host, args.port), args.log, args.state_dir, ctx))


if __name__ == "__main__":
    sys.exit(main())
