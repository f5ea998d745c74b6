"""Python HTTP clients through the proxy: pycurl (Debian's python3-pycurl) and requests.

    pycurl_request(proxy_port, url, ...) -> Response (body kept or only hashed)
    new_pycurl(proxy_port)          a handle to reuse a connection across pycurl_request calls
    requests_session(proxy_port)    a requests.Session through the proxy, ignoring *_proxy
"""

import collections
import hashlib
import io

import pycurl
import requests

from .const import LOCALHOST
from .rawhttp import Headers


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

