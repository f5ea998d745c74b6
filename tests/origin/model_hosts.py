#!/usr/bin/env python3
"""An imitation of the model hosts' download flows: one TLS server answering every host name.

Usage:
    python3 tests/origin/model_hosts.py --host 127.0.0.1 --port 0 --log FILE [--state-dir DIR]
                                        --tls-cert PEM --tls-key PEM [--url-lifetime S]

Same process contract as origin.py (whose Handler it extends): prints `origin listening on
127.0.0.1:PORT`, binds 127.0.0.1 only, SIGTERM stops it, one JSON log line per request (with
`host`, `object`, `auth` -- the scheme of an Authorization header or null -- and `why` for refusals).
The certificate must name the hosts below; the request's Host header picks the host.
Sources for the flows: /work/shared/reference/prior-art-and-model-hosts.md §2, model-hosts-2026.md §3-4.

huggingface.co (also hf.co)
  GET|HEAD /{org}/{repo}/resolve/{rev}/{path}
      LFS file (.safetensors .bin .gguf .ckpt .pt .pth .onnx .h5 .msgpack .zip .tar):
        302, Location to the Xet bridge, or for repos named `lfs-*` to the legacy CDN:
          https://cas-bridge.xethub.hf.co/xet-bridge-us/<24 hex of repo>/<xet hash>?X-Amz-*
              (SigV4: Algorithm, Content-Sha256, Credential, Date, Expires, Security-Token,
              SignedHeaders, Signature) &X-Xet-Cas-Uid &response-content-disposition &x-id
              &Expires &Policy &Signature &Key-Pair-Id (CloudFront)
          https://cdn-lfs.hf.co/repos/<2>/<2>/<64 hex of repo>/<sha256>?response-content-*
              &Expires&Policy&Signature&Key-Pair-Id
        with X-Linked-Etag: "<sha256>", X-Linked-Size, X-Repo-Commit, a weak ETag, and on the Xet
        form X-Xet-Hash and Link: <.../xet-read-token/<commit>>; rel="xet-auth",
        <https://cas-server.xethub.hf.co/v1/reconstructions/<xet hash>>; rel="xet-reconstruction-info".
        Every resolve signs anew (a random X-Amz-Security-Token / policy id), valid url_lifetime s.
      other files: 307 to the relative /api/resolve-cache/models/{org}/{repo}/{commit}/{path}?...
        &etag="<git blob sha1>", which answers 200 with the bytes (Range, ETag = git sha1).
      repos named `gated-*`: 401 (X-Error-Code: GatedRepo) unless `Authorization: Bearer
        <hf_token>`; a wrong token: 401 (X-Error-Code: InvalidCredentials).
  GET /api/models/{org}/{repo}/xet-read-token/{rev}: JSON {accessToken, exp, casUrl}.
civitai.com
  GET|HEAD /api/download/models/{version}[?fileId=..|type=..][&token=..] (or Bearer): 307 to R2
  (`civitai-delivery-worker-prod.<acct>.r2.cloudflarestorage.com/<version>/model/<name>`,
  SigV4 with X-Amz-Expires = url_lifetime (default 86400 here), response-content-disposition) when
  (version // 1000) is even, else to `b2.civitai.com/file/civitai-modelfiles/model/<version>/<name>
  ?Authorization=3_...&b2ContentDisposition=...`. version % 1000 is the size in MiB (0: 4 KiB).
  version >= 500000 requires login: 401 JSON without a valid token.
CDN hosts (cas-bridge.xethub.hf.co, cdn-lfs.hf.co, *.r2.cloudflarestorage.com, b2.civitai.com)
  GET|HEAD with Range/If-Range/If-None-Match as origin.py's /bytes (strong ETag, Last-Modified).
  400 when an Authorization header comes with a query signature (S3: "Only one auth mechanism
  allowed"). 403 when the signature is missing, does not match the host+path+parameters, or
  has expired (S3 AccessDenied "Request has expired"). An expiry is checked when a request starts:
  a transfer already running finishes, as on S3.

Files
  Content is a function of the object, not of the URL: Hugging Face file `path` (same path in two
  repos = the same file), Civitai version. Sizes come from the name: `-<N>[K|M|G]` before the
  extension (`model-64M.safetensors`: 64 MiB); without one, LFS files are 8 MiB and others 2345
  bytes. Object ids (for faults and tests): `hf:<path>`, `civitai:<version>`. Importable:
  hf_file(path, version="0") -> File(object_id, size, seed, sha256, git_sha1, ...),
  civitai_file(version, content_version="0") -> File.

Control (direct to https://127.0.0.1:PORT, not through a proxy; answers 200 JSON)
  POST /_imitation/config?url_lifetime=S&civitai_lifetime=S&hf_token=T&civitai_token=T
  POST /_imitation/faults?object=<id>&where=cdn|hub|all&<origin.py fault parameters>
       replaces that object's faults (cc, cut, cut_at, cuts, stall*, status, status_after, times,
       retry_after, rate, delay_headers, hdr_*; and announce_sha256=<hex> on the hub side: the
       X-Linked-Etag a resolve announces instead of the file's) and resets its counters. where=cdn (default): the
       byte-serving responses (CDN hosts and resolve-cache); hub: resolve and Civitai's download
       API; all: both. `version=V` changes the object's content everywhere (a re-upload).
  POST /_imitation/reset   no faults, default config.
"""

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import content  # noqa: E402
import loopback_server  # noqa: E402
import origin  # noqa: E402

XET_BRIDGE = "cas-bridge.xethub.hf.co"
LFS_CDN = "cdn-lfs.hf.co"
R2_HOST = "civitai-delivery-worker-prod.5ac0637cfd0766c97916cefa3764fbdf.r2.cloudflarestorage.com"
B2_HOST = "b2.civitai.com"
HUB_HOSTS = ("huggingface.co", "hf.co")
CIVITAI = "civitai.com"
CDN_HOSTS = (XET_BRIDGE, LFS_CDN, R2_HOST, B2_HOST)
HOSTS = HUB_HOSTS + (CIVITAI,) + CDN_HOSTS  # the names the certificate must carry

LFS_EXT = (".safetensors", ".bin", ".gguf", ".ckpt", ".pt", ".pth", ".onnx", ".h5", ".msgpack",
           ".zip", ".tar")
CF_PARAMS = ("Expires", "Policy", "Signature", "Key-Pair-Id")
KEY_PAIR_ID = "K3ESJI6DHPFC7"
SECRET = b"dlproxy model host imitation signing key"
DEFAULTS = {"url_lifetime": 3600, "civitai_lifetime": 86400, "hf_token": "hf_testtoken",
            "civitai_token": "civitai-test-key"}
FAULT_PARAMS = re.compile(r"(cc|cut|cut_at|cuts|cut_mode|stall|stall_at|stalls|stall_secs|status|"
                          r"status_after|times|retry_after|rate|delay_headers|hdr_.+|"
                          r"announce_sha256)$")


# --- the catalogue: deterministic files ----------------------------------------------------------

class File:
    def __init__(self, object_id, name, size, version, lfs):
        self.object_id, self.name, self.size, self.version, self.lfs = (
            object_id, name, size, version, lfs)
        self.seed = content.seed_of(object_id, version)

    @property
    def sha256(self):
        return _sha256(self.seed, self.size)

    @property
    def git_sha1(self):  # a git blob id, what HF sends as the ETag of a small file
        h = hashlib.sha1(b"blob %d\0" % self.size)
        for piece in content.iter_range(self.seed, 0, self.size):
            h.update(piece)
        return h.hexdigest()

    @property
    def xet_hash(self):
        return hashlib.sha256(b"xet\0" + bytes.fromhex(self.sha256)).hexdigest()

    @property
    def etag(self):  # the CDN's strong validator (S3 style: not the sha256)
        return '"' + hashlib.md5(self.seed).hexdigest() + '"'

    def etag_on(self, host):
        """The strong validator `host` sends: the legacy LFS CDN names an LFS object by its
        sha256, the other CDNs by an S3-style MD5, so one file has two ETags on two hosts."""
        return f'"{self.sha256}"' if host == "cdn-lfs.hf.co" else self.etag

    @property
    def last_modified(self):
        return content.last_modified_of(self.object_id, self.version)

    def bytes(self, begin=0, end=None):
        return content.content_by_seed(self.seed, begin, (self.size if end is None else end) - begin)


@functools.lru_cache(maxsize=256)
def _sha256(seed, size):
    h = hashlib.sha256()
    for piece in content.iter_range(seed, 0, size, 4 * 1024 * 1024):
        h.update(piece)
    return h.hexdigest()


def _size_from_name(name, default):
    m = re.search(r"-(\d+)([KMG]?)\.[A-Za-z0-9]+$", name)
    if not m:
        return default
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def hf_file(path, version="0"):
    lfs = path.lower().endswith(LFS_EXT)
    return File("hf:" + path, path.rsplit("/", 1)[-1],
                _size_from_name(path, 8 << 20 if lfs else 2345), version, lfs)


def civitai_file(version_id, content_version="0"):
    mib = int(version_id) % 1000
    return File(f"civitai:{int(version_id)}", f"model_{int(version_id)}.safetensors",
                mib << 20 if mib else 4096, content_version, True)


def commit_of(org, repo, rev):
    if re.fullmatch(r"[0-9a-f]{40}", rev):
        return rev
    return hashlib.sha1(f"{org}/{repo}@{rev}".encode()).hexdigest()


# --- signatures ------------------------------------------------------------------------------------

def _mac(*parts):
    return hmac.new(SECRET, "\n".join(str(p) for p in parts).encode(), hashlib.sha256).hexdigest()


def _cf_b64(data):  # CloudFront's URL-safe base64
    return base64.b64encode(data).decode().translate(str.maketrans("+=/", "-_~"))


def _cf_unb64(text):
    return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")))


def _amz_date(t):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def sigv4_params(host, path, lifetime, extra=(), region="us-east-1"):
    """Presigned-S3-style parameters: the signature covers host, path and every other one."""
    now = int(time.time())
    params = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
              ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"),
              ("X-Amz-Credential", f"cas/{time.strftime('%Y%m%d', time.gmtime(now))}/{region}"
                                   "/s3/aws4_request"),
              ("X-Amz-Date", _amz_date(now)), ("X-Amz-Expires", str(int(lifetime))),
              ("X-Amz-Security-Token", secrets.token_urlsafe(24)),
              ("X-Amz-SignedHeaders", "host")] + list(extra)
    return params + [("X-Amz-Signature", _mac("sigv4", host, path, _canonical(params)))]


def cloudfront_params(host, path, lifetime):
    exp = int(time.time() + lifetime)
    policy = json.dumps({"Statement": [{"Resource": f"https://{host}{path}*", "Condition": {
        "DateLessThan": {"AWS:EpochTime": exp}}}], "Id": secrets.token_hex(8)},
        separators=(",", ":")).encode()
    return [("Expires", str(exp)), ("Policy", _cf_b64(policy)),
            ("Signature", _cf_b64(bytes.fromhex(_mac("cf", policy.decode())))),
            ("Key-Pair-Id", KEY_PAIR_ID)]


def b2_params(path, lifetime, name):
    now = int(time.time())
    exp = now + int(lifetime)
    nonce = secrets.token_hex(12)
    token = f"3_{time.strftime('%Y%m%d%H%M%S', time.gmtime(now))}_{nonce}_{exp}_" \
            f"{_mac('b2', path, nonce, exp)[:48]}_acct_download"
    return [("Authorization", token),
            ("b2ContentDisposition", f'attachment; filename="{name}"')]


def _canonical(params):
    return "&".join(f"{k}={v}" for k, v in sorted(params))


def check_signature(host, path, query):
    """None when the query carries a valid, unexpired signature for host+path, else the reason."""
    now = time.time()
    q = dict(query)
    if host == B2_HOST:
        m = re.fullmatch(r"3_\d{14}_([0-9a-f]{24})_(\d+)_([0-9a-f]{48})_acct_download",
                         q.get("Authorization", ""))
        if not m:
            return "missing or malformed B2 authorization"
        if not hmac.compare_digest(m.group(3), _mac("b2", path, m.group(1), m.group(2))[:48]):
            return "bad signature"
        return "expired" if now >= int(m.group(2)) else None
    if host in (XET_BRIDGE, R2_HOST):
        if "X-Amz-Signature" not in q:
            return "missing signature"
        signed = [(k, v) for k, v in query if k != "X-Amz-Signature" and k not in CF_PARAMS]
        if not hmac.compare_digest(q["X-Amz-Signature"], _mac("sigv4", host, path,
                                                              _canonical(signed))):
            return "bad signature"
        try:
            start = time.mktime(time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
            if now >= start + int(q["X-Amz-Expires"]):
                return "expired"
        except (KeyError, ValueError):
            return "bad signature"
    if host in (XET_BRIDGE, LFS_CDN):
        try:
            policy = _cf_unb64(q["Policy"]).decode()
            ok = hmac.compare_digest(_cf_unb64(q["Signature"]).hex(), _mac("cf", policy))
            stmt = json.loads(policy)["Statement"][0]
        except (KeyError, ValueError, IndexError, UnicodeDecodeError):
            return "missing or malformed CloudFront signature"
        if not ok or not f"https://{host}{path}".startswith(stmt["Resource"].rstrip("*")):
            return "bad signature"
        if now >= stmt["Condition"]["DateLessThan"]["AWS:EpochTime"]:
            return "expired"
    return None


# --- the server ------------------------------------------------------------------------------------

class HostsHandler(origin.Handler):
    # Also what tests check dlproxy passes on or not (a client's own field, hop-by-hop ones).
    log_headers = origin.LOG_HEADERS + ("User-Agent", "X-Client-Header", "X-Hop", "Keep-Alive",
                                        "Proxy-Authorization", "TE")

    def prepare(self):
        self.host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower().rstrip(".")
        self.file, self.hub_side = self.locate()
        if self.file is None:
            return
        self.state_key = self.file.object_id + ("#hub" if self.hub_side else "#cdn")
        faults = self.server.faults.get(self.state_key, {})
        self.q = {**self.q, **faults}

    def locate(self):
        """(File, is a hub-side request) for the object this request is about, else (None, _)."""
        st = self.server
        p = self.upath
        if self.host in HUB_HOSTS:
            m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", p)
            if m:
                return hf_file(m.group(4), st.version_of("hf:" + m.group(4))), True
            m = re.fullmatch(r"/api/resolve-cache/models/[^/]+/[^/]+/[0-9a-f]{40}/(.+)", p)
            if m:
                return hf_file(m.group(1), st.version_of("hf:" + m.group(1))), False
        elif self.host == CIVITAI:
            m = re.fullmatch(r"/api/download/models/(\d+)", p)
            if m:
                return civitai_file(m.group(1), st.version_of("civitai:" + m.group(1))), True
        elif self.host in CDN_HOSTS:
            known = st.cdn_object(self.host, p)
            if known:
                return known, False
        return None, False

    def route(self):
        auth = self.headers.get("Authorization")
        self.rec.update(host=self.host, auth=auth.split(" ", 1)[0] if auth else None,
                        object=self.file.object_id if self.file else None)
        if self.upath.startswith("/_imitation/"):
            return self.control()
        if self.forced_by_query():
            return
        if self.host in HUB_HOSTS:
            return self.hub()
        if self.host == CIVITAI:
            return self.civitai()
        if self.host in CDN_HOSTS:
            return self.cdn()
        return self.simple(421, f"no such host here: {self.host}\n")

    def refuse(self, code, why, body, extra=(), ctype="text/plain"):
        self.rec["why"] = why
        self.simple(code, body, [("Content-Type", ctype)] + list(extra))

    # --- huggingface.co ----------------------------------------------------------------------------
    def hub(self):
        p = self.upath
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/xet-read-token/([^/]+)", p)
        if m:
            return self.xet_read_token(*m.groups())
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", p)
        if m:
            org, repo, rev, path = m.groups()
            if self.hub_auth_refused(repo):
                return
            return self.resolve(org, repo, rev, path)
        m = re.fullmatch(r"/api/resolve-cache/models/([^/]+)/([^/]+)/([0-9a-f]{40})/(.+)", p)
        if m:
            org, repo, commit, path = m.groups()
            if self.hub_auth_refused(repo):
                return
            return self.serve_file(self.file, [("X-Repo-Commit", commit)], etag=f'"{self.file.git_sha1}"')
        return self.refuse(404, "no such path", "Repository not found\n",
                           [("X-Error-Code", "RepoNotFound")])

    def hub_auth_refused(self, repo):
        if not repo.startswith("gated-"):
            return False
        auth = self.headers.get("Authorization")
        if auth is None:
            self.refuse(401, "gated, no token", "Access to this model is restricted.\n",
                        [("X-Error-Code", "GatedRepo"),
                         ("X-Error-Message", "Access to model is restricted. You must have "
                          "access to it and be authenticated to access it. Please log in.")])
            return True
        if auth != f"Bearer {self.server.config['hf_token']}":
            self.refuse(401, "gated, wrong token", "Invalid credentials in Authorization header\n",
                        [("X-Error-Code", "InvalidCredentials")])
            return True
        return False

    def resolve(self, org, repo, rev, path):
        f = self.file
        commit = commit_of(org, repo, rev)
        common = [("X-Repo-Commit", commit), ("Vary", "Origin, Accept"),
                  ("Access-Control-Expose-Headers", "X-Repo-Commit,X-Linked-Size,X-Linked-ETag,"
                   "X-Xet-Hash,Link,ETag")]
        if not f.lfs:
            q = urllib.parse.quote
            loc = (f"/api/resolve-cache/models/{org}/{repo}/{commit}/{q(path)}?"
                   f"{q('/' + org + '/' + repo + '/resolve/' + rev + '/' + path, safe='')}="
                   f"&etag={q(chr(34) + f.git_sha1 + chr(34))}")
            return self.simple(307, f"Temporary Redirect. Redirecting to {loc}\n",
                               [("Location", loc), ("ETag", f'"{f.git_sha1}"')] + common)
        lifetime = self.server.config["url_lifetime"]
        repo_hash = hashlib.sha256(f"{org}/{repo}".encode()).hexdigest()
        disposition = f"inline; filename*=UTF-8''{f.name}; filename=\"{f.name}\";"
        if repo.startswith("lfs-"):
            cdn_path = f"/repos/{repo_hash[:2]}/{repo_hash[2:4]}/{repo_hash}/{f.sha256}"
            params = [("response-content-disposition", disposition),
                      ("response-content-type", "application/octet-stream")]
            params += cloudfront_params(LFS_CDN, cdn_path, lifetime)
            host, extra = LFS_CDN, []
        else:
            cdn_path = f"/xet-bridge-us/{repo_hash[:24]}/{f.xet_hash}"
            params = sigv4_params(XET_BRIDGE, cdn_path, lifetime, [
                ("X-Xet-Cas-Uid", "public"), ("response-content-disposition", disposition),
                ("x-id", "GetObject")])
            params += cloudfront_params(XET_BRIDGE, cdn_path, lifetime)
            host = XET_BRIDGE
            extra = [("X-Xet-Hash", f.xet_hash),
                     ("Link", f"<https://huggingface.co/api/models/{org}/{repo}/xet-read-token/"
                              f"{commit}>; rel=\"xet-auth\", <https://cas-server.xethub.hf.co/v1/"
                              f"reconstructions/{f.xet_hash}>; rel=\"xet-reconstruction-info\"")]
        self.server.remember_cdn_path(host, cdn_path, f.object_id, f.version)
        # A hub that lies (a fault, where=hub): the digest it announces is not the file's.
        announced = self.q.get("announce_sha256", f.sha256)
        loc = f"https://{host}{cdn_path}?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}"
        weak = hashlib.sha1(loc.encode()).hexdigest()[:27]
        self.simple(302, f"Found. Redirecting to {loc}\n", [
            ("Location", loc), ("X-Linked-Etag", f'"{announced}"'), ("X-Linked-Size", str(f.size)),
            ("ETag", f'W/"{len(loc):x}-{weak}"')] + extra + common)

    def xet_read_token(self, org, repo, rev):
        if self.hub_auth_refused(repo):
            return
        exp = int(time.time() + self.server.config["url_lifetime"])
        token = "xet_" + _mac("xet-token", org, repo, exp)[:40]
        cas = "https://cas-server.xethub.hf.co"
        self.simple(200, json.dumps({"accessToken": token, "exp": exp, "casUrl": cas}) + "\n", [
            ("Content-Type", "application/json"), ("X-Xet-Cas-Url", cas),
            ("X-Xet-Access-Token", token), ("X-Xet-Token-Expiration", str(exp))])

    # --- civitai.com -------------------------------------------------------------------------------
    def civitai(self):
        if self.file is None:
            return self.refuse(404, "no such path", '{"error":"Not Found"}\n',
                               ctype="application/json")
        f = self.file
        version = int(f.object_id.split(":")[1])
        token = self.q.get("token")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:]
        if version >= 500000 and token != self.server.config["civitai_token"]:
            return self.refuse(401, "login required", json.dumps({
                "error": "Unauthorized", "message": "The creator of this asset requires you to "
                "be logged in to download it"}) + "\n", ctype="application/json")
        lifetime = self.server.config["civitai_lifetime"]
        if (version // 1000) % 2 == 0:
            host, path = R2_HOST, f"/{version}/model/{f.name}"
            params = sigv4_params(host, path, lifetime, [
                ("response-content-disposition", f'attachment; filename="{f.name}"'),
                ("x-id", "GetObject")], region="auto")
        else:
            host, path = B2_HOST, f"/file/civitai-modelfiles/model/{version}/{f.name}"
            params = b2_params(path, lifetime, f.name)
        self.server.remember_cdn_path(host, path, f.object_id, None)
        loc = f"https://{host}{path}?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}"
        self.simple(307, f"Redirecting to {loc}\n", [("Location", loc)])

    # --- the CDN hosts -----------------------------------------------------------------------------
    def cdn(self):
        _, _, query = self.target.partition("?")
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        has_query_sig = any(k in ("X-Amz-Signature", "Signature", "Authorization")
                            for k, _ in params)
        if has_query_sig and "Authorization" in self.headers:
            return self.refuse(400, "authorization header and query signature", (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code>"
                "<Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                "parameter, Signature query string parameter or the Authorization header should "
                "be specified</Message></Error>\n"), ctype="application/xml")
        why = check_signature(self.host, self.upath, params)
        if why is None and self.file is None:
            why = "unknown object"  # a valid signature for a path no resolve ever issued
        if why is not None:
            message = "Request has expired" if why == "expired" else "Access Denied"
            return self.refuse(403, why, (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                f"<Message>{message}</Message></Error>\n"), ctype="application/xml")
        q = dict(params)
        extra = []
        disposition = q.get("response-content-disposition") or q.get("b2ContentDisposition")
        if disposition:
            extra.append(("Content-Disposition", disposition))
        self.serve_file(self.file, extra, etag=self.file.etag_on(self.host),
                        ctype=q.get("response-content-type"))

    def serve_file(self, f, extra, etag=None, ctype=None):
        if ctype:
            self.q["ct"] = ctype
        self.rec["version"] = f.version
        self.serve_object(f.seed, f.size, etag or f.etag, f.last_modified, extra)

    # --- control -----------------------------------------------------------------------------------
    def control(self):
        st = self.server
        q = dict(urllib.parse.parse_qsl(self.target.partition("?")[2], keep_blank_values=True))
        what = self.upath[len("/_imitation/"):]
        with st.lock:
            if what == "reset":
                st.faults.clear()
                st.versions.clear()
                st.config = dict(DEFAULTS)
                st.config["url_lifetime"] = st.default_lifetime
            elif what == "config":
                for k, v in q.items():
                    if k not in DEFAULTS:
                        return self.simple(400, f"unknown setting {k}\n")
                    st.config[k] = float(v) if k.endswith("lifetime") else v
            elif what == "faults":
                obj = q.pop("object", "")
                where = q.pop("where", "cdn")
                if "version" in q:
                    st.versions[obj] = q.pop("version")
                bad = [k for k in q if not FAULT_PARAMS.match(k)]
                if not obj or where not in ("cdn", "hub", "all") or bad:
                    return self.simple(400, f"bad fault request {bad}\n")
                for side in (("cdn", "hub") if where == "all" else (where,)):
                    key = f"{obj}#{side}"
                    st.faults[key] = dict(q)
                    st.state.reset(key)
            else:
                return self.simple(404, "no such control\n")
            doc = {"config": st.config, "faults": st.faults, "versions": st.versions}
        self.simple(200, json.dumps(doc) + "\n", [("Content-Type", "application/json")])


class HostsServer(origin.OriginServer):
    def __init__(self, addr, log_path, state_dir, tls_context, lifetime):
        super().__init__(addr, log_path, state_dir, tls_context, HostsHandler)
        self.lock = threading.Lock()
        self.default_lifetime = lifetime
        self.config = dict(DEFAULTS, url_lifetime=lifetime)
        self.faults = {}     # "<object id>#cdn|hub" -> origin.py fault parameters
        self.versions = {}   # object id -> content version
        # "host path" -> [object id, content version or None (the current one)], learnt from
        # the redirects issued; kept in the state dir so that a restarted imitation still serves
        # the signed URLs it issued before (as the real CDN would).
        self.cdn_paths = {}
        self.cdn_file = os.path.join(state_dir, "cdn-paths.json") if state_dir else None
        if self.cdn_file and os.path.exists(self.cdn_file):
            with open(self.cdn_file) as f:
                self.cdn_paths = json.load(f)

    def version_of(self, object_id):
        return self.versions.get(object_id, "0")

    def remember_cdn_path(self, host, path, object_id, version):
        with self.lock:
            if self.cdn_paths.get(f"{host} {path}") == [object_id, version]:
                return
            self.cdn_paths[f"{host} {path}"] = [object_id, version]
            if self.cdn_file:
                tmp = self.cdn_file + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.cdn_paths, f)
                os.replace(tmp, self.cdn_file)

    def cdn_object(self, host, path):
        with self.lock:
            known = self.cdn_paths.get(f"{host} {path}")
        if not known:
            return None
        object_id, version = known
        kind, _, name = object_id.partition(":")
        version = version if version is not None else self.version_of(object_id)
        return hf_file(name, version) if kind == "hf" else civitai_file(name, version)


def main():
    ap = loopback_server.origin_arguments(__doc__, tls_required=True)
    ap.add_argument("--url-lifetime", type=float, default=3600)
    args, ctx = loopback_server.parse_origin_arguments(ap)
    threading.stack_size(512 * 1024)
    server = HostsServer((args.host, args.port), args.log, args.state_dir, ctx, args.url_lifetime)
    return loopback_server.serve(server)


if __name__ == "__main__":
    sys.exit(main())
