"""HTTPS through dlproxy (issue 6, docs/https.md): intercepted CONNECTs are decrypted, cached and
resumed like plain http; every other CONNECT is tunnelled byte for byte.

Real processes: two TLS test origins (tests/origin/origin.py --tls-cert), one with a certificate
from a throwaway test CA that dlproxy trusts through --upstream-ca-file, one self-signed that
nobody trusts; the dlproxy binary with `--intercept 127.0.0.1`; and the clients curl (CLI),
Python requests in a child process configured only by HTTPS_PROXY and REQUESTS_CA_BUNDLE (as the
ComfyUI launcher is), pycurl and Python's ssl module over a hand-made CONNECT.

The test CA and certificates are made here with the openssl CLI in the temporary work directory;
no key is checked in. Hosts: `127.0.0.1` is intercepted, `localhost` (the same origin) is not,
so one origin serves both the intercepted and the tunnelled cases.
"""

import hashlib
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import shutil
import textwrap
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import LOCALHOST, MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.hashing import sha256_bytes, sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.ports import free_port  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.pyclient import pycurl_request, requests_session  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

import pycurl  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")

SIZE = 8 * MiB
FAST_RETRY = ("--retry-base-delay", "0.05", "--retry-max-delay", "0.5", "--stall-timeout", "2")

# A plain streaming download with requests, configured by the environment only.
DOWNLOAD_PY = textwrap.dedent("""
    import hashlib, sys, requests
    h = hashlib.sha256(); n = 0
    with requests.get(sys.argv[1], stream=True, timeout=60) as r:
        r.raise_for_status()
        for chunk in r.iter_content(chunk_size=1 << 16):
            h.update(chunk); n += len(chunk)
    print(r.status_code, n, h.hexdigest())
""")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_test_pki(work):
    """A test CA, an origin certificate it signs (IP 127.0.0.1 and DNS localhost) and a
    self-signed certificate no one trusts. Returns a dict of paths."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "oca.key", "-out", "oca.pem", "-days", "2",
            "-subj", "/CN=dlproxy test origin CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=work)
    with open(os.path.join(work, "origin.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    openssl("req", *ec, "-keyout", "origin.key", "-out", "origin.csr", "-subj", "/CN=localhost",
            cwd=work)
    openssl("x509", "-req", "-in", "origin.csr", "-CA", "oca.pem", "-CAkey", "oca.key",
            "-CAcreateserial", "-days", "2", "-out", "origin.pem", "-extfile", "origin.ext",
            cwd=work)
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=work)
    return {name: os.path.join(work, name) for name in
            ("oca.pem", "origin.pem", "origin.key", "rogue.pem", "rogue.key")}


def connect_tunnel(proxy_port, host, port, timeout=15):
    """A socket through dlproxy's CONNECT to host:port, after the 200."""
    s = socket.create_connection((LOCALHOST, proxy_port), timeout=timeout)
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(4096)
        if not data:
            raise AssertionError(f"proxy closed during CONNECT: {head!r}")
        head += data
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise AssertionError(f"CONNECT refused: {status!r}")
    return s


def https_get(tls, host, path):
    """One GET over an established TLS socket; returns (status, body) (Content-Length bodies)."""
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += tls.recv(65536)
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    length = next(int(v) for k, _, v in (ln.partition(": ") for ln in lines[1:])
                  if k.lower() == "content-length")
    while len(body) < length:
        body += tls.recv(65536)
    return int(lines[0].split()[1]), body


class HttpsCase(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.pki = make_test_pki(cls.work)
        cls.origin = Origin(cls.work, tls=(cls.pki["origin.pem"], cls.pki["origin.key"]))
        cls.rogue = Origin(cls.work, tls=(cls.pki["rogue.pem"], cls.pki["rogue.key"]),
                           name="rogue")
        cls.proxy = None
        try:
            cls.origin.start()
            cls.rogue.start()
            cls.dead_port = free_port()  # nothing listens there
            ports = f"{cls.origin.port},{cls.rogue.port},{cls.dead_port}"
            cls.proxy_args = ("--intercept", LOCALHOST, "--upstream-ca-file", cls.pki["oca.pem"],
                              "--connect-ports", ports) + FAST_RETRY
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "rogue", None):
            cls.rogue.stop()
        super().tearDownClass()

    @classmethod
    def warm_up(cls):
        cls.bundle = os.path.join(cls.proxy.cache_dir, "ca", "bundle.pem")
        cls.ca_pem = os.path.join(cls.proxy.cache_dir, "ca", "ca.pem")
        curl_cli(cls.proxy.port, cls.origin.url("/bytes/1024/warmup"),
                 args=("--cacert", cls.bundle), timeout=10)
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()

    # --- helpers ---------------------------------------------------------------------------------
    def curl(self, path, out=None, args=()):
        out = out or os.path.join(self.work, "curl.bin")
        if os.path.exists(out):
            os.unlink(out)
        return curl_cli(self.proxy.port, self.origin.url(path), out,
                        ("--cacert", self.bundle) + tuple(args), timeout=60)

    def requests_download(self, url, bundle=None):
        """DOWNLOAD_PY in a child process: HTTPS_PROXY and REQUESTS_CA_BUNDLE, nothing else."""
        env = clean_env()
        env["HTTPS_PROXY"] = self.proxy.proxy_url
        env["REQUESTS_CA_BUNDLE"] = bundle or self.bundle
        env["NO_PROXY"] = ""
        p = subprocess.run([sys.executable, "-c", DOWNLOAD_PY, url], capture_output=True,
                           env=env, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace")[-2000:])
        status, length, digest = p.stdout.decode().split()
        return int(status), int(length), digest

    def gets_for(self, target, since):
        return [r for r in self.origin.log_since(since)
                if r["target"] == target and r["method"] == "GET"]

    # --- tests -----------------------------------------------------------------------------------
    def test_curl_cacert_download_then_hit(self):
        path = f"/bytes/{SIZE}/curl"
        mark = self.origin.mark()
        r = self.curl(path)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        self.assertEqual(len(self.gets_for(path, mark)), 1)
        mark = self.origin.mark()
        r = self.curl(path)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        time.sleep(0.3)
        self.assertEqual(self.gets_for(path, mark), [], "the second download reached the origin")
        self.assertIn("dlproxy", r.headers.get("Via", ""))

    def intercept_count(self):
        url = f"http://{LOCALHOST}:{type(self).proxy.admin_port}/metrics"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith('dlproxy_requests_total{result="INTERCEPT"} '):
                    return float(line.split()[-1])
        self.fail("no INTERCEPT sample on /metrics")

    def test_intercepted_connects_are_counted(self):
        before = self.intercept_count()
        path = f"/bytes/{MiB}/counted"
        r = self.curl(path)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        deadline = time.monotonic() + 5  # counted when the tunnel closes
        while self.intercept_count() < before + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.intercept_count(), before + 1)

    def test_requests_with_bundle_env_then_hit(self):
        path = f"/bytes/{SIZE}/requests"
        mark = self.origin.mark()
        got = self.requests_download(self.origin.url(path))
        self.assertEqual(got, (200, SIZE, content.sha256_of(path, SIZE)))
        mark = self.origin.mark()
        got = self.requests_download(self.origin.url(path))
        self.assertEqual(got, (200, SIZE, content.sha256_of(path, SIZE)))
        time.sleep(0.3)
        self.assertEqual(self.gets_for(path, mark), [], "the second download reached the origin")

    def test_download_with_cuts_is_resumed_over_tls(self):
        path = f"/bytes/{SIZE}/cuts"
        target = f"{path}?cut=3000000&cuts=2"
        mark = self.origin.mark()
        got = self.requests_download(self.origin.url(target))
        self.assertEqual(got, (200, SIZE, content.sha256_of(path, SIZE)))
        gets = self.gets_for(target, mark)
        self.assertGreaterEqual(len(gets), 3, gets)
        self.assertEqual([g["outcome"] for g in gets[:2]], ["cut", "cut"])
        for g in gets[1:]:
            self.assertTrue(g["headers"].get("Range", "").startswith("bytes="), g)
            self.assertIn("If-Range", g["headers"])

    def test_concurrent_clients_share_one_origin_transfer(self):
        # Collapsed forwarding over TLS: four clients, each in its own intercepted tunnel, ask
        # for one URL at once; the origin (paced so they overlap) sends the body once.
        size = 4 * MiB
        path = f"/bytes/{size}/collapsed"
        target = f"{path}?rate={8 * MiB}"
        mark = self.origin.mark()
        results = [None] * 4

        def fetch(i):
            s = requests_session(self.proxy.port)
            try:
                r = s.get(self.origin.url(target), verify=self.bundle, timeout=60)
                results[i] = (r.status_code, sha256_bytes(r.content))
            finally:
                s.close()

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertEqual(results, [(200, content.sha256_of(path, size))] * 4)
        time.sleep(0.3)
        gets = self.gets_for(target, mark)
        self.assertEqual(len(gets), 1, gets)

    def test_keep_alive_inside_the_tunnel(self):
        c = pycurl.Curl()
        c.setopt(pycurl.PROXY, self.proxy.proxy_url)
        c.setopt(pycurl.NOPROXY, "")
        c.setopt(pycurl.CAINFO, self.bundle)
        try:
            for i, size in enumerate((1000, 200000, 3)):
                path = f"/bytes/{size}/keepalive"
                r = pycurl_request(self.proxy.port, self.origin.url(path), curl=c)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.sha256, content.sha256_of(path, size))
                if i:
                    self.assertEqual(r.num_connects, 0, "a new connection for a later request")
        finally:
            c.close()

    def test_upload_and_uncacheable_requests_pass_through_the_tunnel(self):
        body = os.urandom(3 * MiB)
        s = requests_session(self.proxy.port)
        r = s.post(self.origin.url("/echo"), data=body, verify=self.bundle, timeout=60)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["X-Request-Body-Sha256"], sha256_bytes(body))
        self.assertEqual(r.content, body)
        # Authorization: never served from or stored in the cache, so both reach the origin.
        path = "/bytes/2000/authorized"
        mark = self.origin.mark()
        for _ in range(2):
            r = s.get(self.origin.url(path), headers={"Authorization": "Bearer t"},
                      verify=self.bundle, timeout=60)
            self.assertEqual(r.content, content.content(path, 0, 2000))
        self.assertEqual(len(self.origin.requests_for(path, mark, count=2)), 2)
        s.close()

    def test_slow_reader_is_bounded_by_the_high_water_mark(self):
        size = 64 * MiB
        path = f"/bytes/{size}/slow-reader"
        s = connect_tunnel(self.proxy.port, LOCALHOST, self.origin.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        with ctx.wrap_socket(s, server_hostname=LOCALHOST) as tls:
            rss_before = self.proxy.rss_kb()
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            time.sleep(3)  # the fill goes on to disk; this client is not reading
            grown_mib = (self.proxy.rss_kb() - rss_before) / 1024
            self.assertLess(grown_mib, 24, "ciphertext piled up in memory for a slow client")
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += tls.recv(65536)
            head, body = buf.split(b"\r\n\r\n", 1)
            self.assertIn(b" 200 ", head.split(b"\r\n")[0] + b" ")
            h = hashlib.sha256(body)
            n = len(body)
            while n < size:
                data = tls.recv(1 << 20)
                self.assertTrue(data, f"closed after {n} bytes")
                h.update(data)
                n += len(data)
            self.assertEqual(h.hexdigest(), content.sha256_of(path, size))

    def test_leaf_certificate_minted_for_the_connect_target(self):
        s = connect_tunnel(self.proxy.port, LOCALHOST, self.origin.port)
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with ctx.wrap_socket(s, server_hostname=LOCALHOST) as tls:
            cert = tls.getpeercert()
            self.assertEqual(tls.selected_alpn_protocol(), "http/1.1")
            self.assertIn(("IP Address", LOCALHOST), cert["subjectAltName"])
            issuer = dict(x[0] for x in cert["issuer"])
            self.assertTrue(issuer["commonName"].startswith("dlproxy CA"), issuer)
            lifetime = (ssl.cert_time_to_seconds(cert["notAfter"])
                        - ssl.cert_time_to_seconds(cert["notBefore"]))
            self.assertLessEqual(lifetime, 7 * 86400 + 3600)
            self.assertLess(ssl.cert_time_to_seconds(cert["notBefore"]), time.time())
            path = "/bytes/5000/leaf"
            status, body = https_get(tls, f"{LOCALHOST}:{self.origin.port}", path)
            self.assertEqual(status, 200)
            self.assertEqual(body, content.content(path, 0, 5000))

    def test_sni_naming_another_host_is_refused(self):
        s = connect_tunnel(self.proxy.port, LOCALHOST, self.origin.port)
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        ctx.check_hostname = False
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with ctx.wrap_socket(s, server_hostname="evil.example") as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
                tls.recv(100)
        s.close()

    def test_host_outside_the_rules_is_tunnelled_untouched(self):
        # `localhost` is the same origin, but only 127.0.0.1 is intercepted.
        s = connect_tunnel(self.proxy.port, "localhost", self.origin.port)
        ctx = ssl.create_default_context(cafile=self.pki["oca.pem"])
        with ctx.wrap_socket(s, server_hostname="localhost") as tls:
            issuer = dict(x[0] for x in tls.getpeercert()["issuer"])
            self.assertEqual(issuer["commonName"], "dlproxy test origin CA")
            path = "/bytes/300000/tunnel"
            status, body = https_get(tls, f"localhost:{self.origin.port}", path)
            self.assertEqual(status, 200)
            self.assertEqual(body, content.content(path, 0, 300000))
        # curl with only the origin's CA works too: it sees the origin's own certificate.
        url = f"https://localhost:{self.origin.port}/bytes/4096/tunnel-curl"
        out = os.path.join(self.work, "tunnel.bin")
        r = curl_cli(self.proxy.port, url, out, ("--cacert", self.pki["oca.pem"]))
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(out), content.sha256_of("/bytes/4096/tunnel-curl", 4096))

    def test_unreachable_origin_is_a_502_inside_the_tunnel(self):
        # An intercepted CONNECT is answered before the origin is contacted: the failure comes
        # back as the answer to the request inside the tunnel, with its reason.
        url = f"https://{LOCALHOST}:{self.dead_port}/bytes/1000/dead"
        r = curl_cli(self.proxy.port, url, os.path.join(self.work, "dead.bin"),
                     ("--cacert", self.bundle))
        self.assertEqual(r.status, 502, r)
        with open(r.out, errors="replace") as f:
            self.assertIn("dlproxy", f.read())

    def test_untrusted_origin_certificate_is_a_502(self):
        mark = self.rogue.mark()
        url = f"https://{LOCALHOST}:{self.rogue.port}/bytes/1000/rogue"
        r = curl_cli(self.proxy.port, url, os.path.join(self.work, "rogue.bin"),
                     ("--cacert", self.bundle))
        self.assertEqual(r.status, 502, r)
        with open(os.path.join(self.work, "rogue.bin"), "rb") as f:
            body = f.read().decode(errors="replace")
        self.assertIn("certificate", body.lower())
        # Never downgraded: the origin never saw a request.
        time.sleep(0.3)
        self.assertEqual(self.rogue.log_since(mark), [])


class CaFilesCase(unittest.TestCase):
    """The CA on disk: created with 0600, refused when others can read the key, dlproxyctl."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="dlproxy-it-ca-")

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def ctl(self, *args):
        return subprocess.run([CTL, "--cache-dir", os.path.join(self.work, "cache")] + list(args),
                              capture_output=True, text=True, timeout=30, env=clean_env())

    def test_dlproxy_creates_the_ca_and_refuses_a_readable_key(self):
        cache = os.path.join(self.work, "cache")
        proxy = Dlproxy(self.work, ("--intercept", LOCALHOST), cache_dir=cache).start()
        proxy.stop()
        key = os.path.join(cache, "ca", "ca.key")
        for name in ("ca.key", "ca.pem"):
            mode = stat.S_IMODE(os.stat(os.path.join(cache, "ca", name)).st_mode)
            self.assertEqual(mode, 0o600, name)
        with open(os.path.join(cache, "ca", "bundle.pem")) as f:
            bundle = f.read()
        with open(os.path.join(cache, "ca", "ca.pem")) as f:
            self.assertIn(f.read().strip(), bundle)
        self.assertGreater(bundle.count("BEGIN CERTIFICATE"), 1, "no system CAs in the bundle")
        self.assertNotIn("PRIVATE KEY", proxy.stderr_text())

        os.chmod(key, 0o644)
        p = subprocess.run([dlproxy_bin(), "--listen", f"{LOCALHOST}:0", "--admin-listen",
                            f"{LOCALHOST}:0", "--cache-dir", cache, "--intercept", LOCALHOST],
                           capture_output=True, text=True, timeout=30, env=clean_env())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("readable by group or others", p.stderr)
        # With interception off the CA is not needed at all.
        p = subprocess.run([dlproxy_bin(), "--no-intercept", "--print-config"],
                           capture_output=True, text=True, timeout=30, env=clean_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("intercept = []", p.stdout)

    def test_ctl_ca_init_and_show(self):
        r = self.ctl("ca", "show")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ca init", r.stderr)
        r = self.ctl("ca", "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        ca_dir = os.path.join(self.work, "cache", "ca")
        for name in ("ca.key", "ca.pem"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(ca_dir, name)).st_mode), 0o600)
        for needle in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "--cacert", "SSL_CERT_FILE",
                       "wget --ca-certificate", "update-ca-certificates",
                       os.path.join(ca_dir, "bundle.pem")):
            self.assertIn(needle, r.stdout)
        self.assertNotIn("PRIVATE KEY", r.stdout + r.stderr)
        fingerprint = json.loads(self.ctl("--json", "ca", "show").stdout)["sha256_fingerprint"]
        r = self.ctl("ca", "init")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--force", r.stderr)
        r = self.ctl("--json", "ca", "init", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(json.loads(r.stdout)["sha256_fingerprint"], fingerprint)
        other = os.path.join(self.work, "elsewhere")
        r = self.ctl("--ca-dir", other, "ca", "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(other, "ca.pem")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
