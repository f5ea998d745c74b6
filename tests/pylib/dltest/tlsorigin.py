"""An HTTPS origin under a real-looking model-host name, for benchmarks of intercepted downloads.

    o = NamedTlsOrigin(workdir)            # a throwaway CA and a certificate for o.host
    Nginx(bench, www, tls=o.tls)           # the origin presents that certificate
    o.url(https_port, path)                -> https://<host>:<port><path>
    o.direct_curl_args(https_port)         curl straight to nginx: --resolve to 127.0.0.1 and
                                           --cacert the test CA (the client's own name lookup)
    o.dlproxy_args(https_port)             what dlproxy needs to fetch it itself: --resolve the
                                           name to 127.0.0.1, --upstream-ca-file the test CA,
                                           --connect-ports the ephemeral port (default 443 only)
    proxied_curl_args(cache_dir)           curl through dlproxy: trust its CA bundle

The name is one of dlproxy's default interception patterns (*.huggingface.co), so dlproxy runs
with its default interception list: what a user gets. Nothing leaves 127.0.0.1: dlproxy and curl
both connect by --resolve, and curl through the proxy sends the name in CONNECT unresolved.
"""

from __future__ import annotations

from pathlib import Path

from .const import LOCALHOST
from .pki import make_named_pki

DEFAULT_HOST = "cdn-lfs.huggingface.co"


class NamedTlsOrigin:
    def __init__(self, workdir: Path, host: str = DEFAULT_HOST):
        self.host = host
        self.dir = Path(workdir) / "tls-origin"
        self.dir.mkdir(exist_ok=True)
        made = make_named_pki(str(self.dir), [host])
        self.ca = Path(made["oca.pem"])
        self.tls = (Path(made["origin.pem"]), Path(made["origin.key"]))

    def url(self, https_port: int, path: str) -> str:
        return f"https://{self.host}:{https_port}{path}"

    def direct_curl_args(self, https_port: int) -> list[str]:
        return ["--cacert", str(self.ca), "--resolve", f"{self.host}:{https_port}:{LOCALHOST}"]

    def dlproxy_args(self, https_port: int) -> list[str]:
        return ["--upstream-ca-file", str(self.ca),
                "--resolve", f"{self.host}:{https_port}:{LOCALHOST}",
                "--connect-ports", str(https_port)]


def proxied_curl_args(cache_dir) -> list[str]:
    """curl through dlproxy trusts the bundle it writes at start (system CAs + its own CA)."""
    return ["--cacert", str(Path(cache_dir) / "ca" / "bundle.pem")]
