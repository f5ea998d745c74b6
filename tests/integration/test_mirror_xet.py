"""Mirror mode for the Xet path (issue 15 item 4): @huggingface/hub's downloadFile with hubUrl
pointed at dlproxy's plain listener -- Node's own fetch, no proxy agent, no CA -- downloads a Xet
file from tests/origin/xet_service.py (huggingface.co, cas-server and transfer at their real names
over TLS, reached by dlproxy with --connect-to and --upstream-ca-file).

dlproxy rewrites the resolve's Link headers (xet-auth, xet-reconstruction-info), the casUrl of
the xet-read-token answer and the xorb URLs of the reconstruction onto mirror URLs, so every
request of the Xet path comes back through it; upstream, each keeps its original host, path and
query and its exact Range, so the imitation's signatures (which cover the Range) still verify.
Checked: byte-exact; every request the imitation saw came through dlproxy (Via) on all three
hosts; every transfer request 206 with the Range it was signed for (multi-range included), no
403. Printed: the download time through the mirror and directly against the imitation, dlproxy's
CPU time, and the xorb bytes the second download asks of the origin (0 with the xorb cache,
docs/huggingface.md "Xorb cache"; test_xorb_cache.py and test_xet_js.py assert it).
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.procfs import cpu_seconds  # noqa: E402
from test_mirror import mirror_js_dir, node_mirror_download  # noqa: E402
from test_xet import HOSTS, XetServiceCase  # noqa: E402
from xet_layout import FileLayout  # noqa: E402

REPO = "xet-org/mirror-model"
SIZE = 16 * MiB


class MirrorXetTest(XetServiceCase):
    @classmethod
    def setUpClass(cls):
        cls.js = mirror_js_dir()
        super().setUpClass()

    def direct(self, name):
        """The same client straight at the imitation (test_xet_js's driver): the baseline."""
        args = json.dumps({"repo": REPO, "path": name, "direct": self.origin.port,
                           "ca": self.pki["oca.pem"]})
        p = subprocess.run(["node", os.path.join(self.js, "xet_download.mjs"), args], cwd=self.js,
                           capture_output=True, timeout=60, env=clean_env())
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace")[-3000:])
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    def test_xet_file_through_the_mirror(self):
        name = f"mirror-{SIZE}.bin"
        layout = FileLayout(f"{REPO}/{name}", SIZE)
        hub = f"http://127.0.0.1:{self.proxy.port}"
        direct = self.direct(name)  # first: the first Node process pays a cold start
        self.assertEqual(direct["sha256"], layout.hash)
        mark = self.origin.mark()
        cpu = cpu_seconds(self.proxy.proc.pid)
        got = node_mirror_download(self.js, hub, REPO, name)
        cpu = cpu_seconds(self.proxy.proc.pid) - cpu
        self.assertEqual(got["type"], "XetBlob", "downloadFile took the Xet path")
        self.assertEqual((got["bytes"], got["sha256"]), (layout.size, layout.hash))
        recs = self.origin.log_since(mark)
        self.assertEqual({r["host"] for r in recs}, set(HOSTS), recs)
        for r in recs:
            self.assertIn("dlproxy", r["headers"].get("Via", ""), r)
        kinds = [r["target"].split("/")[1] for r in recs if r["host"] == "huggingface.co"]
        self.assertIn("api", kinds, "the token was asked through the mirror")
        transfer = [r for r in recs if r["host"] == "transfer.xethub.hf.co"]
        self.assertTrue(transfer)
        self.assertTrue(all(r["status"] == 206 for r in transfer), transfer)
        self.assertTrue(any("," in r["headers"]["Range"] for r in transfer), "multi-range")
        xorb_bytes = sum(r["bytes_sent"] for r in transfer)

        mark = self.origin.mark()
        again = node_mirror_download(self.js, hub, REPO, name)
        self.assertEqual(again["sha256"], layout.hash)
        second = sum(r["bytes_sent"] for r in self.origin.log_since(mark)
                     if r["host"] == "transfer.xethub.hf.co")
        print(f"\nxet through the mirror {layout.size / MiB:.1f} MiB: {got['seconds']:.2f} s, "
              f"second run {again['seconds']:.2f} s, direct {direct['seconds']:.2f} s; xorb bytes "
              f"from the origin {xorb_bytes} then {second}; dlproxy CPU {cpu:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
