"""The status page in a real browser (issue 17): headless Chromium (Debian's `chromium`, driven
over the DevTools protocol by tests/pylib/dltest/cdp.py, isolated from the network) opens the
admin endpoint's page with `?token=`; while a paced download runs through dlproxy the page shows
its progress advancing, a cut in the origin's connection appears as a recovery in its timeline,
and the finished download is listed as complete (a resumed miss) — all read from the rendered
DOM, not from the feed.

With DLPROXY_SCREENSHOT=PATH the page is also captured as a PNG during the download
(docs/status-page.png is made that way).

Registered only when `chromium` is installed (scripts/bootstrap installs it).
"""

import os
import urllib.parse
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_file  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402
from dltest import cdp  # noqa: E402

TOKEN = "page-token"

# What the page shows, read from the DOM: every fill card and every row of the recent list.
READ_PAGE = """JSON.stringify({
  fills: [...document.querySelectorAll('.fill')].map(e => ({url: e.dataset.url,
    done: Number(e.dataset.done), state: e.dataset.state, text: e.innerText,
    timeline: [...e.querySelectorAll('ol.timeline li')].map(li => li.dataset.kind)})),
  downloads: [...document.querySelectorAll('#downloads tr[data-url]')].map(e => ({
    url: e.dataset.url, result: e.dataset.result, recovered: e.dataset.recovered,
    verified: e.dataset.verified, text: e.innerText})),
  live: (document.getElementById('live') || {}).className,
  saved: (document.getElementById('saved') || {}).innerText})"""


class StatusBrowserTest(ProxyTestCase):
    proxy_args = ("--retry-base-delay", "0.5", "--retry-max-delay", "1", "--admin-token", TOKEN)

    def read_page(self, page):
        import json
        return json.loads(page.evaluate(READ_PAGE))

    def test_page_follows_a_download_through_a_cut(self):
        # Something in the recent list and the savings before the interesting part: a miss
        # then a hit of a small object.
        # It is reached through a redirect that announces its sha256, as Hugging Face's resolve
        # URLs do (X-Linked-Etag), so the finished download shows as verified.
        small = self.origin.url("/bytes/200000/sb-small")
        small_sha = content.sha256_of("/bytes/200000/sb-small", 200000)
        resolve = self.origin.url("/redirect?" + urllib.parse.urlencode(
            {"to": small, "hdr_X-Linked-Etag": f'"{small_sha}"', "hdr_X-Linked-Size": "200000"}))
        for _ in range(2):
            r = curl_cli(self.proxy.port, resolve, os.path.join(self.work, "small.bin"),
                         args=("-L",))
            self.assertEqual((r.rc, r.status), (0, 200), r.stderr)

        size = 6 * MiB
        path = f"/bytes/{size}/sb-model.safetensors"
        url = self.origin.url(f"{path}?rate=1000000&cut_at=2500000")
        other = self.origin.url(f"/bytes/{size}/sb-vae.safetensors?rate=700000")
        out = os.path.join(self.work, "model.bin")
        results = {}
        threads = [threading.Thread(target=lambda: results.update(
                       main=curl_cli(self.proxy.port, url, out, timeout=90))),
                   threading.Thread(target=lambda: results.update(
                       other=curl_cli(self.proxy.port, other, os.devnull, timeout=90)))]
        shot = os.environ.get("DLPROXY_SCREENSHOT")
        with cdp.Browser(self.work) as browser:
            page = browser.page()
            page.call("Page.enable")
            page.navigate(f"http://127.0.0.1:{self.proxy.admin_port}/?token={TOKEN}")
            deadline = time.monotonic() + 30
            while self.read_page(page).get("live") != "on":
                self.assertLess(time.monotonic(), deadline, "the page never connected")
                time.sleep(0.1)
            for t in threads:
                t.start()
            progress, kinds, finished, shot_taken = [], set(), None, False
            deadline = time.monotonic() + 90
            try:
                while time.monotonic() < deadline:
                    view = self.read_page(page)
                    mine = [f for f in view["fills"] if f["url"] == url]
                    if mine:
                        progress.append(mine[0]["done"])
                        kinds.update(mine[0]["timeline"])
                    if shot and not shot_taken and "resumed" in kinds and mine:
                        with open(shot, "wb") as f:
                            f.write(page.screenshot())
                        shot_taken = True
                    done = [d for d in view["downloads"] if d["url"] == url]
                    if done and not threads[0].is_alive():
                        finished = done[0]
                        break
                    time.sleep(0.25)
            finally:
                for t in threads:
                    t.join(90)
            final = self.read_page(page)
            page.close()
        r = results["main"]
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(sha256_file(out), content.sha256_of(path, size))
        # Progress advanced on the page, several distinct values, never backwards.
        self.assertGreaterEqual(len(set(progress)), 3, progress)
        self.assertEqual(progress, sorted(progress))
        # The cut showed as a recovery: "cut at ... -> resumed after ..." in the timeline.
        self.assertIn("resumed", kinds, kinds)
        # The finished download is listed: a miss that was resumed, complete in size.
        self.assertIsNotNone(finished, final)
        self.assertEqual(finished["result"], "MISS")
        self.assertEqual(finished["recovered"], "true")
        self.assertIn("resumed after a cut", finished["text"])
        self.assertIn("6.29 MB", finished["text"])
        small_rows = [d for d in final["downloads"] if d["url"] == small]
        self.assertEqual(sorted(d["result"] for d in small_rows), ["HIT", "MISS"])
        # The end-to-end check against the announced sha256 shows on the finished download.
        self.assertTrue(all(d["verified"] == "verified" for d in small_rows), small_rows)
        self.assertIn("sha256 verified", [d for d in small_rows if d["result"] == "MISS"][0]["text"])
        self.assertNotEqual(final["saved"], "0 B")
        if shot:
            self.assertTrue(shot_taken, "no screenshot: the recovery never showed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
