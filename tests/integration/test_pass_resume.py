"""Resume without the cache (docs/recovery.md, "Without the cache"): responses dlproxy does not
store -- `Cache-Control: no-store` from the origin, or a request with `Authorization` (a gated
model download) -- are continued with Range + If-Range after a cut or a stall, exactly like a
fill, as long as they carry a strong validator and a length. Without a validator, or when the
object changes, the client gets a short body, never a complete-length body with wrong bytes.

Same origin, clients and checks as test_resume.py (ResumeCase); 16 MiB objects.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_resume import FAST_RETRY, SIZE, ResumeCase, ranged_start  # noqa: E402


class PassThroughResumeTest(ResumeCase):

    def test_no_store_cuts_are_resumed(self):
        for client in ("curl", "pycurl", "requests"):
            with self.subTest(client=client):
                path = f"/bytes/{SIZE}/ps-cut-{client}"
                target = f"{path}?cc=no-store&cut=3000017&cuts=3"
                got = self.get(client, target)
                self.assert_complete(path, SIZE, got, client)
                recs = self.origin_requests(target, 4)
                self.assertEqual(len(recs), 4, recs)
                self.assert_exact_resumes(target, path, SIZE, recs)
                self.assertNotIn(self.url(target), self.cached_urls())

    def test_authorization_request_is_resumed(self):
        path = f"/bytes/{SIZE}/ps-auth"
        target = f"{path}?cut=5000011&cuts=2"
        got = self.get("curl", target, args=("-H", "Authorization: Bearer hf_test_token"))
        self.assert_complete(path, SIZE, got, "curl")
        recs = self.origin_requests(target, 3)
        self.assertEqual(len(recs), 3, recs)
        self.assert_exact_resumes(target, path, SIZE, recs)
        self.assertNotIn(self.url(target), self.cached_urls())

    def test_stall_is_resumed(self):
        path = f"/bytes/{SIZE}/ps-stall"
        target = f"{path}?cc=no-store&stall=3000017&stall_secs=5&stalls=1"
        err_mark = self.proxy.stderr_size()
        got = self.get("curl", target)
        self.assert_complete(path, SIZE, got, "curl")
        self.assertLess(got.seconds, 8, "the stall should be noticed after 2-3 s")
        recs = self.origin_requests(target, 2, timeout=15)
        self.assertEqual(len(recs), 2, recs)
        self.assertIn("no bytes from origin", self.proxy.stderr_text(err_mark))
        self.assertEqual(ranged_start(recs[1]), 3000016)

    def test_origin_ignoring_range_restarts_and_drops_the_prefix(self):
        path = f"/bytes/{SIZE}/ps-norange"
        target = f"{path}?cc=no-store&norange=1&cut=5000011"
        got = self.get("pycurl", target)
        self.assert_complete(path, SIZE, got, "pycurl")
        recs = self.origin_requests(target, 2)
        self.assertEqual((recs[1]["status"], recs[1]["served"]), (200, [0, SIZE]))

    def test_without_validator_the_client_is_cut_short(self):
        path = f"/bytes/{SIZE}/ps-novalidator"
        target = f"{path}?cc=no-store&noetag=1&nolm=1&cut=3000017"
        got = self.get("curl", target)
        self.assert_short(path, SIZE, got)
        self.assertTrue(got.error.startswith("curl exit 18"), got.error)
        recs = self.origin_requests(target, 1)
        self.assertEqual(len(recs), 1, recs)

    def test_changed_object_cuts_the_client_short(self):
        path = f"/bytes/{SIZE}/ps-changed"
        target = f"{path}?cc=no-store&change_etag_after=1&cut=3000017"
        got = self.get("curl", target)
        self.assert_short(path, SIZE, got)
        self.assertLessEqual(len(got.data), 3000017)
        recs = self.origin_requests(target, 2)
        self.assert_resume_request(recs[1], path, SIZE, 3000016)
        self.assertEqual(recs[1]["status"], 200)  # If-Range failed: the new object, whole
        self.assertEqual(recs[1]["version"], "0.c1")


class NoValidatorTest(ResumeCase):
    """Without a strong validator nothing proves a resumed answer is the same object: by default
    neither a fill nor a pass-through response is resumed (the client is cut short);
    --resume-without-validator trusts the complete length and the overlap byte instead."""

    def test_cached_fill_without_validator_is_not_resumed(self):
        path = f"/bytes/{SIZE}/nv-fill"
        target = f"{path}?noetag=1&nolm=1&cut=3000017"
        err_mark = self.proxy.stderr_size()
        got = self.get("curl", target)
        self.assert_short(path, SIZE, got)
        self.assertIn("resume_without_validator is off", self.proxy.stderr_text(err_mark))
        self.assertEqual(len(self.origin_requests(target, 1)), 1)


class NoValidatorOptInTest(ResumeCase):
    proxy_args = FAST_RETRY + ("--resume-without-validator",)

    def test_fill_and_pass_through_resume_without_validator(self):
        for name, extra in (("fill", ""), ("pass", "&cc=no-store")):
            with self.subTest(kind=name):
                path = f"/bytes/{SIZE}/nv-optin-{name}"
                target = f"{path}?noetag=1&nolm=1&cut=3000017{extra}"
                got = self.get("curl", target)
                self.assert_complete(path, SIZE, got, "curl")
                recs = self.origin_requests(target, 2)
                self.assertEqual(len(recs), 2, recs)
                self.assertEqual(recs[1]["headers"].get("Range"), f"bytes=3000016-{SIZE - 1}")
                self.assertIsNone(recs[1]["headers"].get("If-Range"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
