"""Serving stale when revalidation fails (RFC 9111 §4.2.4; issue 14 item 8, the generic half).

A complete stored object that is stale must be revalidated. When the origin cannot answer --
connection refused, or a 5xx once the retries that fit the client's patience are spent -- dlproxy
serves the stored copy (a logged note, no Warning field) for the hosts listed in stale_if_error:
the model hosts by default, every host with `--stale-if-error '*'`. Without an answer at all (the
cache is disconnected) every host in stale_if_disconnected (all by default) is served stale too.
Otherwise, and whenever the stored response says must-revalidate, the client gets the error. Signed URLs are never served
stale (test_model_host_keys.py: an unreachable CDN refuses the hit).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.pyclient import pycurl_request  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402
from dltest.modelhosts import ModelHostsCase  # noqa: E402
import model_hosts  # noqa: E402  (tests/origin)

SIZE = MiB


class StaleCase(ProxyTestCase):
    def fill_then_stale(self, target):
        r = pycurl_request(self.pport, self.url(target), keep_body=False, timeout=30)
        self.assertEqual(r.status, 200)
        time.sleep(1.3)  # max-age=1: stale now

    def get(self, target):
        return pycurl_request(self.pport, self.url(target), keep_body=False, timeout=30)

    def with_origin_down(self, target):
        self.origin.kill9()
        try:
            return self.get(target)
        finally:
            self.origin.start()


class StaleForAllHosts(StaleCase):
    proxy_args = ("--stale-if-error", "*")

    def test_origin_refusing_connections(self):
        path = f"/bytes/{SIZE}/stale-down"
        target = path + "?cc=max-age=1"
        self.fill_then_stale(target)
        err = self.proxy.stderr_size()
        r = self.with_origin_down(target)
        self.assertEqual((r.status, r.sha256), (200, content.sha256_of(path, SIZE)))
        self.assertIsNone(r.headers.get("Warning"))
        self.assertIn("serving the stored copy stale", self.proxy.stderr_text(err))

    def test_origin_answering_503(self):
        path = f"/bytes/{SIZE}/stale-503"
        target = path + "?cc=max-age=1&status=503&status_after=1&times=always"
        self.fill_then_stale(target)
        r = self.get(target)
        self.assertEqual((r.status, r.sha256), (200, content.sha256_of(path, SIZE)))
        statuses = [x["status"] for x in self.origin.requests_for(target, self.mark)]
        self.assertEqual(statuses[0], 200)
        self.assertGreaterEqual(len(statuses), 2)
        self.assertTrue(all(s == 503 for s in statuses[1:]), statuses)

    def test_must_revalidate_is_honoured(self):
        path = f"/bytes/{SIZE}/stale-must"
        target = path + "?cc=max-age=1,must-revalidate"
        self.fill_then_stale(target)
        r = self.with_origin_down(target)
        self.assertIn(r.status, (502, 504))

    def test_a_reachable_origin_still_revalidates(self):
        path = f"/bytes/{SIZE}/stale-up"
        target = path + "?cc=max-age=1"
        self.fill_then_stale(target)
        r = self.get(target)
        self.assertEqual((r.status, r.sha256), (200, content.sha256_of(path, SIZE)))
        recs = self.origin.requests_for(target, self.mark)
        self.assertEqual([x["status"] for x in recs], [200, 304])


class DefaultsForOtherHosts(StaleCase):
    """Every host: stale when disconnected (stale_if_disconnected = ["*"]); a 5xx is passed on."""

    def test_disconnected_serves_stale(self):
        path = f"/bytes/{SIZE}/stale-default-down"
        target = path + "?cc=max-age=1"
        self.fill_then_stale(target)
        err = self.proxy.stderr_size()
        r = self.with_origin_down(target)
        self.assertEqual((r.status, r.sha256), (200, content.sha256_of(path, SIZE)))
        self.assertIn("stale_if_disconnected setting", self.proxy.stderr_text(err))

    def test_a_5xx_is_passed_on(self):
        path = f"/bytes/{SIZE}/stale-default-503"
        target = path + "?cc=max-age=1&status=503&status_after=1&times=always"
        self.fill_then_stale(target)
        r = self.get(target)
        self.assertEqual(r.status, 503)

    def test_must_revalidate_is_honoured_when_disconnected(self):
        path = f"/bytes/{SIZE}/stale-default-must"
        target = path + "?cc=max-age=1,proxy-revalidate"
        self.fill_then_stale(target)
        r = self.with_origin_down(target)
        self.assertIn(r.status, (502, 504))


class HostsOutsideBothLists(StaleCase):
    proxy_args = ("--stale-if-disconnected", "elsewhere.example")

    def test_other_hosts_get_the_error(self):
        path = f"/bytes/{SIZE}/stale-default"
        target = path + "?cc=max-age=1"
        self.fill_then_stale(target)
        r = self.with_origin_down(target)
        self.assertEqual(r.status, 502)


class StaleOnTheModelHosts(ModelHostsCase):
    def test_resolve_cache_file_served_stale_when_the_hub_is_down(self):
        f = model_hosts.hf_file("stale-config.json")
        self.faults(f.object_id, cc="max-age=1")
        out = os.path.join(self.work, "cfg.json")
        r = self.curl(self.hf_url(f.name), out)
        self.assertEqual(r.status, 200)
        location = [dict(b[1]).get("Location") for b in r.blocks if " 307" in b[0]][0]
        url = "https://huggingface.co" + location
        time.sleep(1.3)
        self.hosts.kill9()
        try:
            r = self.curl(url, out)
        finally:
            self.hosts.start()
        self.assertEqual(r.status, 200, r.stderr)
        from dltest.hashing import sha256_file
        self.assertEqual(sha256_file(out), f.sha256)


if __name__ == "__main__":
    unittest.main(verbosity=2)
