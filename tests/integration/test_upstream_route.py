"""Real host names over TLS: --resolve and --connect-to (docs/operations.md "Pinning a host").

dlproxy reaches an imitation of huggingface.co on an ephemeral loopback port by its real name:
the TLS origin (tests/origin/origin.py --tls-cert) carries a certificate for huggingface.co and
mirror.example from a throwaway test CA that dlproxy trusts through --upstream-ca-file, and
  --resolve huggingface.co:PORT:127.0.0.1     pins the name for URLs with that port;
  --connect-to huggingface.co:443:127.0.0.1:PORT  sends https://huggingface.co/ (port 443, what
                                              the launcher uses) to the ephemeral port; TLS still
                                              checks the certificate for huggingface.co.
huggingface.co is intercepted (the default list), so its downloads are cached: byte-exact, the
second one a hit. mirror.example is not intercepted: its CONNECT is tunnelled, and the tunnel
honours the same pins (the client, curl with the test CA, checks the origin's certificate end to
end). A name with no pin fails to resolve (no network here): the control that shows the pins are
what makes the others work.
"""

import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.pki import make_named_pki  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

SIZE = 4 * MiB


class UpstreamRouteCase(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.pki = make_named_pki(cls.work, ["huggingface.co", "mirror.example"])
        cls.origin = Origin(cls.work, tls=(cls.pki["origin.pem"], cls.pki["origin.key"]))
        cls.proxy = None
        try:
            cls.origin.start()
            p = cls.origin.port
            cls.proxy_args = (
                "--resolve", f"huggingface.co:{p}:127.0.0.1",
                "--connect-to", f"huggingface.co:443:127.0.0.1:{p}",
                "--resolve", f"mirror.example:{p}:127.0.0.1",
                "--connect-to", f"mirror.example:443:127.0.0.1:{p}",
                "--upstream-ca-file", cls.pki["oca.pem"],
                "--connect-ports", f"443,{p}")
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def warm_up(cls):
        cls.bundle = os.path.join(cls.proxy.cache_dir, "ca", "bundle.pem")
        curl_cli(cls.proxy.port, f"https://huggingface.co:{cls.origin.port}/bytes/1024/warmup",
                 args=("--cacert", cls.bundle), timeout=10)
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()

    def download(self, url, cacert):
        out = os.path.join(self.work, "out.bin")
        if os.path.exists(out):
            os.unlink(out)
        return curl_cli(self.proxy.port, url, out, ("--cacert", cacert), timeout=60)

    def gets(self, path, since):
        return [r for r in self.origin.log_since(since)
                if r["target"] == path and r["method"] == "GET"]

    def check_cached(self, url, path, host_header):
        """Two downloads through interception: exact; the first reaches the origin by its real
        name (Host as the client wrote it), the second is a hit."""
        mark = self.origin.mark()
        r = self.download(url, self.bundle)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        got = self.gets(path, mark)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["headers"].get("Host"), host_header)
        mark = self.origin.mark()
        r = self.download(url, self.bundle)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
        time.sleep(0.3)
        self.assertEqual(self.gets(path, mark), [], "the second download reached the origin")

    def check_tunnelled(self, url, path):
        """Not intercepted: the client verifies the origin's own certificate for the name, and
        every download reaches the origin."""
        mark = self.origin.mark()
        for _ in range(2):
            r = self.download(url, self.pki["oca.pem"])
            self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
            self.assertEqual(sha256_file(r.out), content.sha256_of(path, SIZE))
            self.assertNotIn("dlproxy", r.headers.get("Via", ""))
        self.assertEqual(len(self.gets(path, mark)), 2)

    def test_resolve_pins_an_intercepted_host(self):
        path = f"/bytes/{SIZE}/resolve"
        port = self.origin.port
        self.check_cached(f"https://huggingface.co:{port}{path}", path, f"huggingface.co:{port}")

    def test_connect_to_maps_port_443(self):
        path = f"/bytes/{SIZE}/connect-to"
        self.check_cached(f"https://huggingface.co{path}", path, "huggingface.co")

    def test_tunnel_honours_resolve(self):
        path = f"/bytes/{SIZE}/tunnel-resolve"
        self.check_tunnelled(f"https://mirror.example:{self.origin.port}{path}", path)

    def test_tunnel_honours_connect_to(self):
        path = f"/bytes/{SIZE}/tunnel-connect-to"
        self.check_tunnelled(f"https://mirror.example{path}", path)

    def test_unpinned_name_does_not_resolve(self):
        # The control: without a pin the same origin is out of reach by name.
        # unpinned.example is tunnelled, cas-bridge.xethub.hf.co intercepted (*.hf.co).
        for host in ("unpinned.example", "cas-bridge.xethub.hf.co"):
            r = self.download(f"https://{host}:{self.origin.port}/bytes/1024/x", self.bundle)
            self.assertNotEqual((r.rc, r.status), (0, 200), host)


if __name__ == "__main__":
    unittest.main(verbosity=2)
