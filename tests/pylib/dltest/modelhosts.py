"""The model hosts at their real names over TLS, behind a dlproxy: a base class for tests.

ModelHostsCase (a ProxyTestCase) starts, once per class:
  - tests/origin/model_hosts.py: one TLS process answering huggingface.co, hf.co, civitai.com,
    cas-bridge.xethub.hf.co, cdn-lfs.hf.co, the Civitai R2 bucket host and b2.civitai.com, with a
    certificate for all of them from a throwaway CA (oca.pem);
  - dlproxy with `--connect-to NAME:443:127.0.0.1:PORT` for every name, `--upstream-ca-file
    oca.pem` and the default interception list (it covers every one of these hosts), plus the
    subclass's `proxy_args`.
Clients go through dlproxy as the launcher does (HTTPS_PROXY) and trust dlproxy's CA: `cls.ca`
(<cache-dir>/ca/bundle.pem). Every test starts with the imitation reset (no faults, defaults).

  cls.hosts                    the imitation (an origin.Origin): .log() records carry host,
                               object, auth, why, status, bytes_sent, served
  self.control(what, **params) POST /_imitation/<what> (config, faults, reset) directly
  self.faults(object_id, where="cdn", **params)
  self.hf_url(path, repo="org/model", rev="main")  civitai_url(version, token=None)
  self.curl(url, out=None, args=())        curl -L through dlproxy with its CA
  self.launcher_get(url, dest, sha256, headers=None)  the launcher's own loop (below)
  self.cdn_bytes(object_id, since)         body bytes the CDN side sent for an object
model_hosts (the imitation's module) gives hf_file(path) / civitai_file(version) with .sha256.
"""

import hashlib
import json
import os
import ssl
import tempfile
import time
import urllib.parse
import urllib.request

import model_hosts  # tests/origin is on sys.path through the package
import requests

from .const import MODEL_HOSTS_PY
from .curl import curl_cli
from .origin import Origin
from .pki import make_named_pki
from .pyclient import requests_session
from .testcase import ProxyTestCase


class ModelHostsCase(ProxyTestCase):
    proxy_args = ()

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.pki = make_named_pki(cls.work, list(model_hosts.HOSTS))
        cls.hosts = cls.origin = Origin(cls.work, tls=(cls.pki["origin.pem"], cls.pki["origin.key"]),
                                        name="hosts", script=MODEL_HOSTS_PY)
        cls.proxy = None
        try:
            cls.hosts.start()
            args = ["--upstream-ca-file", cls.pki["oca.pem"]]
            for name in model_hosts.HOSTS:
                args += ["--connect-to", f"{name}:443:127.0.0.1:{cls.hosts.port}"]
            cls.proxy_args = tuple(args) + tuple(cls.proxy_args)
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def warm_up(cls):
        cls.ca = os.path.join(cls.proxy.cache_dir, "ca", "bundle.pem")
        curl_cli(cls.proxy.port, "https://huggingface.co/org/warmup/resolve/main/warmup.json",
                 args=("-L", "--cacert", cls.ca), timeout=10)
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()

    def setUp(self):
        super().setUp()
        self.control("reset")

    # --- the imitation -------------------------------------------------------------------------------
    @classmethod
    def control(cls, what, **params):
        ctx = ssl.create_default_context(cafile=cls.pki["oca.pem"])
        url = f"https://127.0.0.1:{cls.hosts.port}/_imitation/{what}?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, method="POST", headers={"Host": "huggingface.co"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=ctx))
        with opener.open(req, timeout=10) as r:
            return json.loads(r.read())

    def faults(self, object_id, where="cdn", **params):
        return self.control("faults", object=object_id, where=where, **params)

    @staticmethod
    def hf_url(path, repo="org/model", rev="main"):
        return f"https://huggingface.co/{repo}/resolve/{rev}/{path}"

    @staticmethod
    def civitai_url(version, token=None):
        return f"https://civitai.com/api/download/models/{version}" + (
            f"?token={token}" if token else "")

    def records(self, since=0, match=None, count=None, timeout=5.0):
        return self.hosts.records(since, match, count, timeout)

    def cdn_bytes(self, object_id, since=0):
        """Body bytes sent for `object_id` by the byte-serving side (CDN hosts, resolve-cache)."""
        return sum(r["bytes_sent"] for r in self.hosts.log_since(since)
                   if r.get("object") == object_id and r.get("host") in model_hosts.CDN_HOSTS + (
                       "huggingface.co",) and r["status"] in (200, 206))

    # --- clients -------------------------------------------------------------------------------------
    def curl(self, url, out=None, args=(), timeout=120):
        """curl -L through dlproxy, trusting its CA."""
        return curl_cli(self.pport, url, out, ("-L", "--cacert", self.ca) + tuple(args), timeout)

    def session(self):
        s = requests_session(self.pport)
        s.verify = self.ca
        return s

    def launcher_get(self, url, dest, sha256, headers=None, attempts=3, timeout=60):
        """ComfyUI-Launcher's download loop (server/utils.py): up to 3 attempts, each from byte 0,
        requests.get(allow_redirects=True, stream=True), iter_content(10 KiB), sha256 checked at
        the end. Returns (attempts used, ok)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as s, s.get(url, headers=headers or {}, allow_redirects=True,
                                                stream=True, timeout=timeout) as r:
                    r.raise_for_status()
                    h = hashlib.sha256()
                    with open(dest, "wb") as f:
                        for chunk in r.iter_content(chunk_size=10 * 1024):
                            f.write(chunk)
                            h.update(chunk)
                if h.hexdigest() == sha256:
                    return attempt, True
            except (requests.RequestException, OSError):
                pass
        return attempts, False
