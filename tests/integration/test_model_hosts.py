"""The model host imitation (tests/origin/model_hosts.py) behaves as the real hosts do.

Asked directly (curl --connect-to, trusting the imitation's CA) for what the hosts promise on
their own -- fresh signatures, the headers of the 302, the CDN's 400/403 rules -- and through
dlproxy for the flows a client follows end to end (Xet bridge, legacy cdn-lfs, small files, gated
repos, Civitai to R2 and to B2), each checked by sha256.
"""

import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.modelhosts import ModelHostsCase  # noqa: E402
import model_hosts  # noqa: E402  (tests/origin)


class ModelHostsImitation(ModelHostsCase):
    def direct(self, url, args=(), out=None):
        """curl straight to the imitation by its real name (no proxy)."""
        return curl_cli(None, url, out, ("--connect-to", f"::127.0.0.1:{self.hosts.port}",
                                         "--cacert", self.pki["oca.pem"]) + tuple(args), 30)

    def resolve(self, path, repo="org/model", args=()):
        r = self.direct(self.hf_url(path, repo), ("-I",) + tuple(args))
        self.assertIn(r.status, (302, 307, 401), r.stderr)
        return r

    def test_resolve_announces_the_file(self):
        f = model_hosts.hf_file("announce-3M.safetensors")
        a = self.resolve(f.name)
        b = self.resolve(f.name)
        self.assertEqual(a.status, 302)
        self.assertEqual(a.headers.get("X-Linked-Etag"), f'"{f.sha256}"')
        self.assertEqual(a.headers.get("X-Linked-Size"), str(3 * MiB))
        self.assertEqual(len(a.headers.get("X-Repo-Commit")), 40)
        self.assertEqual(a.headers.get("X-Xet-Hash"), f.xet_hash)
        self.assertTrue(a.headers.get("ETag").startswith('W/"'))
        self.assertIn('rel="xet-auth"', a.headers.get("Link"))
        self.assertIn(f"https://cas-server.xethub.hf.co/v1/reconstructions/{f.xet_hash}",
                      a.headers.get("Link"))
        loc_a, loc_b = a.headers.get("Location"), b.headers.get("Location")
        self.assertNotEqual(loc_a, loc_b, "every resolve signs anew")
        u = urllib.parse.urlsplit(loc_a)
        self.assertEqual(u.hostname, "cas-bridge.xethub.hf.co")
        self.assertEqual(u.path, urllib.parse.urlsplit(loc_b).path)
        self.assertTrue(u.path.endswith("/" + f.xet_hash))
        q = dict(urllib.parse.parse_qsl(u.query))
        for name in ("X-Amz-Signature", "X-Amz-Expires", "X-Xet-Cas-Uid", "Expires", "Policy",
                     "Signature", "Key-Pair-Id"):
            self.assertIn(name, q)
        self.assertEqual(q["X-Amz-Expires"], "3600")

    def test_cdn_refuses_what_the_real_one_refuses(self):
        f = model_hosts.hf_file("refuse-1M.safetensors")
        loc = self.resolve(f.name).headers.get("Location")
        ok = self.direct(loc, ("-r", "0-9"))
        self.assertEqual(ok.status, 206)
        forged = loc.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        self.assertEqual(self.direct(forged).status, 403)
        other = self.resolve("other-1M.safetensors").headers.get("Location")
        swapped = loc.split("?")[0] + "?" + other.split("?")[1]  # another file's signature
        self.assertEqual(self.direct(swapped).status, 403)
        both = self.direct(loc, ("-H", "Authorization: Bearer hf_testtoken"))
        self.assertEqual(both.status, 400)
        self.control("config", url_lifetime=2)
        short = self.resolve(f.name).headers.get("Location")
        self.assertEqual(self.direct(short, ("-r", "0-0")).status, 206)
        time.sleep(3.1)
        self.assertEqual(self.direct(short, ("-r", "0-0")).status, 403)
        recs = self.records(match=lambda r: r.get("why") == "expired")
        self.assertTrue(recs)

    @staticmethod
    def responses(r):
        """curl's header blocks without the proxy's CONNECT answer."""
        return [b for b in r.blocks if "connection established" not in b[0].lower()]

    def fetch(self, url, sha256, args=()):
        out = os.path.join(self.work, "out.bin")
        r = self.curl(url, out, args)
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(out), sha256)
        return r

    def test_xet_bridge_flow_through_dlproxy(self):
        f = model_hosts.hf_file("xet-flow-4M.safetensors")
        self.fetch(self.hf_url(f.name), f.sha256)

    def test_legacy_cdn_lfs_flow(self):
        f = model_hosts.hf_file("legacy-2M.bin")
        r = self.fetch(self.hf_url(f.name, repo="org/lfs-model"), f.sha256)
        hosts = [b[1] for b in self.responses(r)]
        self.assertTrue(any(("Location", "https://cdn-lfs.hf.co") == (k, v[:21])
                            for block in hosts for k, v in block), r.blocks)

    def test_small_file_relative_redirect(self):
        f = model_hosts.hf_file("config.json")
        r = self.fetch(self.hf_url(f.name), f.sha256)
        self.assertEqual([b[0].split()[1] for b in self.responses(r)], ["307", "200"])
        self.assertEqual(r.headers.get("ETag"), f'"{f.git_sha1}"')

    def test_gated_repo(self):
        f = model_hosts.hf_file("gated-1M.safetensors")
        url = self.hf_url(f.name, repo="org/gated-model")
        r = self.curl(url)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers.get("X-Error-Code"), "GatedRepo")
        r = self.curl(url, args=("-H", "Authorization: Bearer wrong"))
        self.assertEqual(r.status, 401)
        # curl drops Authorization on the cross-host redirect, as huggingface_hub does.
        self.fetch(url, f.sha256, ("-H", "Authorization: Bearer hf_testtoken"))

    def test_civitai_r2_and_b2(self):
        for version, host in ((2002, model_hosts.R2_HOST), (3002, model_hosts.B2_HOST)):
            f = model_hosts.civitai_file(version)
            r = self.fetch(self.civitai_url(version), f.sha256)
            first = self.responses(r)[0]
            self.assertEqual(first[0].split()[1], "307")
            loc = dict(first[1])["Location"]
            self.assertTrue(loc.startswith(f"https://{host}/"), loc)
            if host == model_hosts.R2_HOST:
                self.assertIn("X-Amz-Expires=86400", loc)
                self.assertIn("response-content-disposition=", loc)
            else:
                self.assertIn("?Authorization=3_", loc)
            self.assertIn("attachment", r.headers.get("Content-Disposition"))

    def test_civitai_login_required(self):
        f = model_hosts.civitai_file(500001)
        self.assertEqual(self.curl(self.civitai_url(500001)).status, 401)
        self.fetch(self.civitai_url(500001, token="civitai-test-key"), f.sha256)
        # requests-style: Bearer on civitai.com, dropped on the storage host.
        self.fetch(self.civitai_url(500001), f.sha256,
                   ("-H", "Authorization: Bearer civitai-test-key"))

    def test_faults_follow_the_object_across_signatures(self):
        f = model_hosts.hf_file("faulty-2M.safetensors")
        self.faults(f.object_id, status=500, times=2)
        for _ in range(2):
            loc = self.resolve(f.name).headers.get("Location")
            self.assertEqual(self.direct(loc).status, 500)
        loc = self.resolve(f.name).headers.get("Location")
        self.assertEqual(self.direct(loc, ("-r", "0-0")).status, 206)


if __name__ == "__main__":
    unittest.main(verbosity=2)
