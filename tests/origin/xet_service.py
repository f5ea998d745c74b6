#!/usr/bin/env python3
"""An imitation of the Xet download path at its real host names, over TLS.

Usage:
    python3 tests/origin/xet_service.py --host 127.0.0.1 --port 0 --log FILE
                                        --tls-cert PEM --tls-key PEM

Prints `origin listening on 127.0.0.1:PORT` once it accepts connections (as origin.py does, so
tests/pylib/dltest's Origin can start it). One listener answers every name; the Host
header picks the service. Tests reach it at the real names with dlproxy's --connect-to.

huggingface.co (the part of the Hub the Xet path needs; the hosts imitation in model_hosts.py
is the fuller one)
  GET|HEAD /<org>/<repo>/resolve/<rev>/<name>-<N>.bin
      With `Accept: application/vnd.xet-fileinfo+json`: 200, that content type, a JSON body and
      the headers huggingface.js and hf_xet read: X-Xet-Hash, X-Linked-Size, X-Linked-ETag,
      ETag, `Link: <…/xet-read-token/<rev>>; rel="xet-auth", <https://cas-server…/v1/
      reconstructions/<hash>>; rel="xet-reconstruction-info"`, Vary: Accept. Without it: the
      whole file, 200 (standing in for the cas-bridge redirect). The file is about N bytes,
      laid out by xet_layout.FileLayout(seed="<org>/<repo>/<name>", size=N).
  GET /api/models/<org>/<repo>/xet-read-token/<rev>
      {"casUrl", "accessToken", "exp"}: a fresh token each time.
cas-server.xethub.hf.co
  GET /v1/reconstructions/<hash>, /v2/reconstructions/<hash>   (Authorization: Bearer <token>)
      Optional `Range: bytes=a-b` of the file. V1: terms + fetch_info (one URL per term range,
      `url_range` inclusive). V2: terms + xorbs {hash: [{url, ranges: [{chunks, bytes}]}]}, one
      URL per xorb signed for the exact Range value listing all its ranges. 401 without a valid
      token, 404 for an unknown hash, 416 past the end.
transfer.xethub.hf.co
  GET /xorb/default/<xorb-hash>?X-Xet-Expires=<t>&X-Xet-Signature=<hmac>
      The signature covers the xorb, the expiry and the exact Range header: any other Range
      (or none) gets 403, as does an expired URL. One range: 206 + Content-Range. Several:
      206 multipart/byteranges with a random boundary.

Token and reconstruction answers carry `Cache-Control: public, max-age=3600` on purpose: a cache
that stored them would be caught (each token is new, and the origin log counts requests).

Faults (control endpoint, any host): GET /_xet/control?cut=<b>&cuts=<K> makes the next K transfer
answers close the connection after b body bytes; GET /_xet/control?expire=1 makes every URL
signed so far expire (403 on use; the client refreshes the reconstruction).

Request log (--log): one JSON object per line when a response ends: time, method, host, target,
headers (Range, Authorization present?, Via, Accept), status, bytes_sent, outcome.
"""

import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loopback_server  # noqa: E402  (the server class, command line and serve loop)
from xet_layout import FileLayout, term_json  # noqa: E402

HUB = "https://huggingface.co"
CAS = "https://cas-server.xethub.hf.co"
TRANSFER = "https://transfer.xethub.hf.co"
SECRET = secrets.token_bytes(16)
XET_ACCEPT = "application/vnd.xet-fileinfo+json"
RESOLVE = re.compile(r"^/(?:(?:datasets|spaces)/)?([^/]+)/([^/]+)/resolve/([^/]+)/(.+-(\d+)\.bin)$")
TOKEN = re.compile(r"^/api/(models|datasets|spaces)/([^/]+)/([^/]+)/xet-read-token/([^/]+)$")
RECON = re.compile(r"^/v([12])/reconstructions/([0-9a-f]{64})$")
XORB = re.compile(r"^/xorb/default/([0-9a-f]{64})$")
RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.files = {}  # file hash -> FileLayout
        self.by_name = {}  # (seed, size) -> FileLayout
        self.xorbs = {}  # xorb hash -> Xorb
        self.tokens = set()
        self.cuts = []  # pending cut sizes, one per transfer answer
        self.expired_before = 0.0  # URLs signed before this time are expired

    def layout(self, seed, size):
        with self.lock:
            f = self.by_name.get((seed, size))
        if f is None:
            f = FileLayout(seed, size)
            with self.lock:
                self.by_name[(seed, size)] = f
                self.files[f.hash] = f
                self.xorbs.update(f.xorbs)
        return f


def sign(xorb_hash, range_value, expires):
    msg = f"{xorb_hash}|{range_value}|{expires}".encode()
    return hmac.new(SECRET, msg, hashlib.sha256).hexdigest()


def signed_url(xorb_hash, spans):
    """A URL for xorb bytes `spans` (inclusive pairs) and the Range value it is signed for."""
    value = "bytes=" + ",".join(f"{a}-{b}" for a, b in spans)
    expires = int(time.time()) + 3600
    query = urllib.parse.urlencode({"X-Xet-Expires": expires,
                                    "X-Xet-Signed": f"{time.time():.6f}",
                                    "X-Xet-Signature": sign(xorb_hash, value, expires)})
    return f"{TRANSFER}/xorb/default/{xorb_hash}?{query}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "xet-imitation"

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        self.sent = 0
        self.outcome = "complete"
        self.status = 0
        super().handle_one_request()
        if getattr(self, "command", None) and self.status:
            self.write_log()

    def write_log(self):
        h = self.headers
        rec = {"time": time.time(), "method": self.command, "host": self.host(),
               "target": self.path, "status": self.status, "bytes_sent": self.sent,
               "outcome": self.outcome,
               "headers": {k: h[k] for k in ("Range", "Via", "Accept") if h.get(k) is not None},
               "authorization": h.get("Authorization") is not None}
        self.server.write_log(rec)

    def host(self):
        return (self.headers.get("Host") or "").split(":")[0].lower()

    def send_response(self, code, message=None):
        self.status = code
        super().send_response(code, message)

    def reply(self, status, body=b"", headers=(), ctype="text/plain"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.send_body(body)

    def send_body(self, body, cut=None):
        view = memoryview(body)
        limit = len(view) if cut is None else min(cut, len(view))
        pos = 0
        try:
            while pos < limit:
                n = min(256 * 1024, limit - pos)
                self.wfile.write(view[pos:pos + n])
                pos += n
                self.sent += n
            self.wfile.flush()
        except OSError:
            self.outcome = "client_gone"
            self.close_connection = True
            return
        if cut is not None and cut < len(view):
            self.outcome = "cut"
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        host = self.host()
        if path == "/_xet/control":
            return self.control()
        if host == "huggingface.co":
            if m := RESOLVE.match(path):
                return self.resolve(m)
            if m := TOKEN.match(path):
                return self.read_token()
        elif host == "cas-server.xethub.hf.co":
            if m := RECON.match(path):
                return self.reconstruction(int(m.group(1)), m.group(2))
        elif host == "transfer.xethub.hf.co":
            if m := XORB.match(path):
                return self.transfer(m.group(1))
        self.reply(404, f"no such path on {host}\n")

    # --- huggingface.co -------------------------------------------------------------------

    def resolve(self, m):
        org, repo, rev, name, size = m.groups()
        f = self.server.state.layout(f"{org}/{repo}/{name}", int(size))
        if XET_ACCEPT not in (self.headers.get("Accept") or ""):
            return self.reply(200, f.content, [("ETag", f'"{f.hash}"'), ("Vary", "Accept")],
                              "application/octet-stream")
        links = (f'<{HUB}/api/models/{org}/{repo}/xet-read-token/{rev}>; rel="xet-auth", '
                 f'<{CAS}/v1/reconstructions/{f.hash}>; rel="xet-reconstruction-info"')
        body = json.dumps({"hash": f.hash, "size": f.size, "etag": f.hash})
        self.reply(200, body, [("X-Xet-Hash", f.hash), ("X-Linked-Size", str(f.size)),
                               ("X-Linked-ETag", f'"{f.hash}"'), ("ETag", f'"{f.hash}"'),
                               ("Link", links), ("Vary", "Accept")], XET_ACCEPT)

    def read_token(self):
        token = secrets.token_hex(16)
        with self.server.state.lock:
            self.server.state.tokens.add(token)
        body = json.dumps({"casUrl": CAS, "accessToken": token, "exp": int(time.time()) + 3600})
        self.reply(200, body, [("Cache-Control", "public, max-age=3600")], "application/json")

    # --- cas-server -----------------------------------------------------------------------

    def reconstruction(self, version, file_hash):
        state = self.server.state
        auth = self.headers.get("Authorization") or ""
        with state.lock:
            ok = auth.startswith("Bearer ") and auth[7:] in state.tokens
            f = state.files.get(file_hash)
        if not ok:
            return self.reply(401, "missing or unknown bearer token\n")
        if f is None:
            return self.reply(404, "unknown file\n")
        first, last = 0, f.size - 1
        if rng := self.headers.get("Range"):
            m = RANGE.match(rng.strip())
            if not m:
                return self.reply(400, "bad Range\n")
            first, last = int(m.group(1)), min(int(m.group(2)), f.size - 1)
            if first >= f.size:
                return self.reply(416, "", [("Content-Range", f"bytes */{f.size}")])
        terms, offset = f.select(first, last)
        per = f.xorb_ranges(terms)
        doc = {"offset_into_first_range": offset, "terms": [term_json(t) for t in terms]}
        if version == 1:
            info = {}
            for h, spans in per.items():
                x = f.xorbs[h]
                info[h] = [{"range": {"start": b, "end": e},
                            "url": signed_url(h, [x.byte_range(b, e)]),
                            "url_range": dict(zip(("start", "end"), x.byte_range(b, e)))}
                           for b, e in spans]
            doc["fetch_info"] = info
        else:
            xorbs = {}
            for h, spans in per.items():
                x = f.xorbs[h]
                byte_spans = [x.byte_range(b, e) for b, e in spans]
                xorbs[h] = [{"url": signed_url(h, byte_spans),
                             "ranges": [{"chunks": {"start": b, "end": e},
                                         "bytes": {"start": bs[0], "end": bs[1]}}
                                        for (b, e), bs in zip(spans, byte_spans)]}]
            doc["xorbs"] = xorbs
        self.reply(200, json.dumps(doc), [("Cache-Control", "public, max-age=3600")],
                   "application/json")

    # --- transfer -------------------------------------------------------------------------

    def transfer(self, xorb_hash):
        state = self.server.state
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        expires = (q.get("X-Xet-Expires") or ["0"])[0]
        signed_at = float((q.get("X-Xet-Signed") or ["0"])[0])
        got = (q.get("X-Xet-Signature") or [""])[0]
        range_value = self.headers.get("Range") or ""
        with state.lock:
            x = state.xorbs.get(xorb_hash)
            expired = signed_at < state.expired_before or int(expires) < time.time()
        if x is None:
            return self.reply(404, "unknown xorb\n")
        if expired or not hmac.compare_digest(got, sign(xorb_hash, range_value, expires)):
            return self.reply(403, "signature does not match (URL, expiry and exact Range)\n")
        spans = []
        for part in range_value[len("bytes="):].split(","):
            a, _, b = part.strip().partition("-")
            spans.append((int(a), min(int(b), len(x.data) - 1)))
        with state.lock:
            cut = state.cuts.pop(0) if state.cuts else None
        if len(spans) == 1:
            a, b = spans[0]
            body = x.data[a:b + 1]
            headers = [("Content-Range", f"bytes {a}-{b}/{len(x.data)}"), ("ETag", f'"{xorb_hash}"')]
            ctype = "application/octet-stream"
        else:
            boundary = secrets.token_hex(12)
            parts = []
            for a, b in spans:
                parts.append(f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                             f"Content-Range: bytes {a}-{b}/{len(x.data)}\r\n\r\n".encode())
                parts.append(x.data[a:b + 1])
            parts.append(f"\r\n--{boundary}--\r\n".encode())
            body = b"".join(parts)
            headers = [("ETag", f'"{xorb_hash}"')]
            ctype = f"multipart/byteranges; boundary={boundary}"
        self.send_response(206)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.send_body(body, cut)

    def control(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        state = self.server.state
        with state.lock:
            if "cut" in q:
                state.cuts.extend([int(q["cut"][0])] * int((q.get("cuts") or ["1"])[0]))
            if "expire" in q:
                state.expired_before = time.time()
        self.reply(200, "ok\n")


class XetServer(loopback_server.LoopbackServer):
    request_queue_size = 256

    def __init__(self, addr, log_path, tls_context):
        self.state = State()
        super().__init__(addr, log_path, tls_context, Handler)


def main():
    # --state-dir is accepted (dltest's Origin passes it); the state is in memory.
    args, ctx = loopback_server.parse_origin_arguments(loopback_server.origin_arguments(__doc__))
    return loopback_server.serve(XetServer((args.host, args.port), args.log, ctx))


if __name__ == "__main__":
    sys.exit(main())
