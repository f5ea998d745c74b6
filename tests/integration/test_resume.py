"""Upstream faults during GET bodies (docs/recovery.md): dlproxy resumes with
`Range: bytes=<next-1>-<end>` + `If-Range`, and a client either gets the complete, correct body
or a SHORT one -- never a complete-length body with wrong bytes.

Real processes: tests/origin/origin.py (faults chosen by query parameters, per-URL counters in a
state dir so they survive an origin restart), the dlproxy binary, and the clients curl (CLI),
pycurl and requests (streaming, iter_content). The one exception is ScriptedOrigin below, a tiny
origin in this process for the single answer the test origin cannot give (a 416 to a resume).

What is checked, besides the client's view, comes from the origin's request log: every retry
asked only for what was missing -- its Range starts one byte before the first byte dlproxy did not
have (the overlap byte), ends at the object's last byte, and carries If-Range with the ETag.

Sizes: 16 MiB objects unless a test says otherwise (large enough for several 1 MiB chunks and
cuts at unaligned offsets, small enough that the whole file runs in about a minute on 2 cores).
Every URL is used by one test only: the cache would otherwise answer it.
"""

import collections
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import LOCALHOST, MiB, dlproxy_bin  # noqa: E402
from dltest.curl import curl_cli  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.pyclient import new_pycurl, requests_session  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402
import content  # noqa: E402

import pycurl  # noqa: E402  (dltest made sure Debian's python3 with pycurl runs this)

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(dlproxy_bin())))
CTL = os.environ.get("DLPROXYCTL_BIN") or os.path.join(BUILD, "proxy", "ctl", "dlproxyctl")

SIZE = 16 * MiB  # 16 MiB: 16 chunks; the cut offsets below are deliberately not chunk-aligned

# Short retry knobs so faults cost milliseconds: backoff ceilings 50, 100, 200, 400, 500, 500...
# ms (full jitter below them); a silent origin is noticed after 2-3 s (the stall watch ticks
# once a second).
FAST_RETRY = ("--retry-base-delay", "0.05", "--retry-max-delay", "0.5", "--stall-timeout", "2")

RETRY_LINE = re.compile(r"fetch (\S+): (.*) at offset (\d+); retry (\d+) in (\d+) ms")

Got = collections.namedtuple("Got", "status data error seconds")


def ranged_start(rec):
    """The first byte a logged request asked for (None without Range)."""
    value = rec["headers"].get("Range")
    if value is None:
        return None
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", value)
    assert m, f"unexpected Range {value!r}"
    return int(m.group(1))


class ResumeCase(ProxyTestCase):
    """Clients, the never-wrong-bytes check and the resume-request checks shared by the tests."""

    proxy_args = FAST_RETRY

    # --- clients ---------------------------------------------------------------------------------
    def get(self, client, target, timeout=90, args=()):
        """GET origin `target` through dlproxy with one client. Never raises for a transfer that
        breaks: returns Got(status, body bytes received, error text or None, seconds)."""
        url = self.url(target)
        t0 = time.monotonic()
        if client == "curl":
            out = os.path.join(self.work, "curl-body.bin")
            if os.path.exists(out) and "-C" not in args:
                os.unlink(out)
            r = curl_cli(self.pport, url, out, args, timeout=timeout)
            data = b""
            if os.path.exists(out):
                with open(out, "rb") as f:
                    data = f.read()
                os.unlink(out)
            err = None if r.rc == 0 else f"curl exit {r.rc}: {r.stderr.strip()}"
            return Got(r.status, data, err, time.monotonic() - t0)
        if client == "pycurl":
            c = new_pycurl(self.pport)
            parts = []
            c.setopt(pycurl.URL, url)
            c.setopt(pycurl.WRITEFUNCTION, parts.append)
            c.setopt(pycurl.TIMEOUT, timeout)
            err = None
            try:
                c.perform()
            except pycurl.error as e:
                err = f"pycurl error {e.args}"
            status = c.getinfo(pycurl.RESPONSE_CODE)
            c.close()
            return Got(status, b"".join(parts), err, time.monotonic() - t0)
        if client == "requests":
            parts = []
            status, err = 0, None
            with requests_session(self.pport) as s:
                try:
                    with s.get(url, stream=True, timeout=timeout) as r:
                        status = r.status_code
                        for piece in r.iter_content(chunk_size=256 * 1024):
                            parts.append(piece)
                except Exception as e:  # noqa: BLE001 -- any error is a finding, reported below
                    err = f"requests raised {type(e).__name__}: {e}"
            return Got(status, b"".join(parts), err, time.monotonic() - t0)
        raise ValueError(client)

    # --- what a client may receive -------------------------------------------------------------
    def assert_not_wrong(self, path, size, got, version="0"):
        """The rule every test checks: a body of the complete length is the right one; a shorter
        body is a correct prefix; nothing is longer."""
        n = len(got.data)
        self.assertLessEqual(n, size, f"{path}: {n} bytes, more than the object's {size}")
        if n == size:
            self.assertEqual(sha256_bytes(got.data), content.sha256_of(path, size, version),
                             f"{path}: a COMPLETE-LENGTH body with WRONG bytes (first wrong offset "
                             f"{content.find_mismatch(path, got.data, 0, version)})")
        else:
            self.assertIsNone(content.find_mismatch(path, got.data, 0, version),
                              f"{path}: the short body ({n} bytes) has wrong bytes")

    def assert_complete(self, path, size, got, client=""):
        self.assert_not_wrong(path, size, got)
        self.assertIsNone(got.error, f"{client}: the client saw an error")
        self.assertEqual(got.status, 200, client)
        self.assertEqual(len(got.data), size, f"{client}: short body ({got.error})")

    def assert_short(self, path, size, got, version="0"):
        self.assert_not_wrong(path, size, got, version)
        self.assertEqual(got.status, 200)
        self.assertLess(len(got.data), size, "the body should have been cut short")

    # --- what dlproxy asked the origin ---------------------------------------------------------
    def origin_requests(self, target, count, timeout=10):
        recs = self.origin.requests_for(target, self.mark, count=count, timeout=timeout)
        return sorted(recs, key=lambda r: r["index"])

    def retry_lines(self, target, err_mark):
        """(cause, offset, attempt, delay_ms) of each `retry N in M ms` line dlproxy logged for
        this target since err_mark."""
        url = self.url(target)
        out = []
        for line in self.proxy.stderr_text(err_mark).splitlines():
            m = RETRY_LINE.search(line)
            if m and m.group(1) == url:
                out.append((m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5))))
        return out

    def assert_resume_request(self, rec, path, size, start):
        """A resume asked for bytes=<start>-<size-1> with If-Range: the object's ETag."""
        self.assertEqual(rec["headers"].get("Range"), f"bytes={start}-{size - 1}", rec)
        self.assertEqual(rec["headers"].get("If-Range"), content.etag_of(path), rec)

    def assert_exact_resumes(self, target, path, size, recs):
        """Responses cut with a FIN: dlproxy received every byte the origin sent, so each retry
        must start exactly one byte before the first byte the previous response did not send."""
        self.assertIsNone(ranged_start(recs[0]), f"the first request had a Range: {recs[0]}")
        for prev, rec in zip(recs, recs[1:]):
            self.assertEqual(prev["outcome"], "cut", prev)
            begin = prev["served"][0]
            self.assert_resume_request(rec, path, size, begin + prev["bytes_sent"] - 1)
        self.assertEqual(recs[-1]["outcome"], "complete", recs[-1])
        self.assertEqual(recs[-1]["served"][1], size)
        # Only the overlap byte of each resume is sent twice.
        sent = sum(r["bytes_sent"] for r in recs)
        self.assertEqual(sent, size + len(recs) - 1, f"origin sent {sent} body bytes in total")

    def assert_resumes_match_log(self, target, path, size, recs, err_mark):
        """Any fault: each resume starts at the offset dlproxy logged for that retry, minus one."""
        lines = self.retry_lines(target, err_mark)
        self.assertIsNone(ranged_start(recs[0]), f"the first request had a Range: {recs[0]}")
        self.assertEqual(len(lines), len(recs) - 1, f"retries logged: {lines}; requests: {recs}")
        for (_, offset, _, _), rec in zip(lines, recs[1:]):
            if offset == 0:
                # A reset can reach dlproxy before any byte the origin wrote (SO_LINGER 0 drops
                # the unsent ones): nothing is held, so the retry asks for the whole object.
                self.assertIsNone(ranged_start(rec), rec)
                continue
            self.assert_resume_request(rec, path, size, offset - 1)
        return lines

    def cached_urls(self):
        r = subprocess.run([CTL, "--cache-dir", self.proxy.cache_dir, "ls", "--json"],
                           capture_output=True, text=True, timeout=30, env=clean_env(),
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [o["url"] for o in json.loads(r.stdout)]

    def assert_dropped(self, url, timeout=10):
        """`url` leaves the cache: its drop runs on a worker after the fill's pending write and
        commit, which take longer than a fixed pause on a loaded machine."""
        deadline = time.monotonic() + timeout
        while url in self.cached_urls():
            self.assertLess(time.monotonic(), deadline, f"{url} is still cached after {timeout} s")
            time.sleep(0.1)


class CutTest(ResumeCase):
    """The origin closes the connection after N body bytes of each of the first K responses."""

    def cut_download(self, client, tag, cut, cuts, mode=""):
        path = f"/bytes/{SIZE}/cut-{tag}-{client}"
        target = f"{path}?cut={cut}&cuts={cuts}{mode}"
        err_mark = self.proxy.stderr_size()
        got = self.get(client, target)
        self.assert_complete(path, SIZE, got, client)
        recs = self.origin_requests(target, cuts + 1)
        self.assertEqual(len(recs), cuts + 1, recs)
        return path, target, recs, err_mark

    def check_fin_cuts(self, cut, cuts):
        for client in ("curl", "pycurl", "requests"):
            with self.subTest(client=client):
                path, target, recs, _ = self.cut_download(client, f"k{cuts}", cut, cuts)
                self.assert_exact_resumes(target, path, SIZE, recs)

    def test_one_cut(self):
        self.check_fin_cuts(5_000_001, 1)

    def test_three_cuts(self):
        self.check_fin_cuts(3_000_017, 3)

    def test_ten_cuts(self):
        # ten cuts of 1.5 MB each: 15 MB of the 16.8 MB body arrive in cut responses
        self.check_fin_cuts(1_500_007, 10)

    def test_three_cuts_with_reset(self):
        # cut_mode=rst: SO_LINGER 0, the kernel drops unsent data and answers with RST, so dlproxy
        # may receive less than the origin's log says it sent; the resume must start where
        # dlproxy's own byte count ended (logged with each retry), never past what was sent.
        for client in ("curl", "pycurl", "requests"):
            with self.subTest(client=client):
                path, target, recs, err_mark = self.cut_download(client, "rst", 3_000_017, 3,
                                                                 "&cut_mode=rst")
                self.assert_resumes_match_log(target, path, SIZE, recs, err_mark)
                for prev, rec in zip(recs, recs[1:]):
                    start = ranged_start(rec) or 0  # none: reset before any byte arrived
                    self.assertGreaterEqual(start, prev["served"][0], (prev, rec))
                    self.assertLessEqual(start, prev["served"][0] + prev["bytes_sent"] - 1,
                                         (prev, rec))


class StallTest(ResumeCase):
    """The origin stops sending mid-body for longer than --stall-timeout (2 s)."""

    def check_stall(self, client, stalls):
        path = f"/bytes/{SIZE}/stall-{client}-{stalls}"
        target = f"{path}?stall=3000017&stall_secs=5&stalls={stalls}"
        err_mark = self.proxy.stderr_size()
        got = self.get(client, target)
        self.assert_complete(path, SIZE, got, client)
        # a stalled response is logged when the origin gives up on it, after its 5 s pause
        recs = self.origin_requests(target, stalls + 1, timeout=15)
        self.assertEqual(len(recs), stalls + 1, recs)
        lines = self.assert_resumes_match_log(target, path, SIZE, recs, err_mark)
        for (cause, offset, _, _), prev in zip(lines, recs):
            self.assertEqual(cause, "no bytes from origin")
            # the stall began exactly 3000017 body bytes into the previous response
            self.assertEqual(offset, prev["served"][0] + 3000017)
        # dlproxy noticed each stall after 2-3 s, not the origin's 5 s
        self.assertLess(got.seconds, stalls * 4.0 + 2, f"took {got.seconds:.1f} s")

    def test_stall_curl(self):
        self.check_stall("curl", 1)

    def test_two_stalls_requests(self):
        self.check_stall("requests", 2)


class StatusBeforeBodyTest(ResumeCase):
    """503 before the first byte: retried while it fits the client's patience."""

    def test_503_burst_with_retry_after(self):
        # two 503s with Retry-After: 1, then the object: two retries of 1 s each
        path = f"/bytes/{SIZE}/burst"
        target = f"{path}?status=503&times=2&retry_after=1"
        err_mark = self.proxy.stderr_size()
        for client in ("curl",):
            got = self.get(client, target)
            self.assert_complete(path, SIZE, got, client)
        self.assertGreaterEqual(got.seconds, 1.9, "Retry-After: 1 was not honoured")
        self.assertLess(got.seconds, 10)
        recs = self.origin_requests(target, 3)
        self.assertEqual([r["status"] for r in recs], [503, 503, 200])
        self.assertTrue(all(ranged_start(r) is None for r in recs), recs)
        self.assertEqual([d for _, _, _, d in self.retry_lines(target, err_mark)], [1000, 1000])

    def test_503_burst_pycurl_and_requests(self):
        for client in ("pycurl", "requests"):
            with self.subTest(client=client):
                path = f"/bytes/{SIZE}/burst-{client}"
                got = self.get(client, f"{path}?status=503&times=1&retry_after=1")
                self.assert_complete(path, SIZE, got, client)

    def test_permanent_503(self):
        path = f"/bytes/{SIZE}/perm503"
        target = f"{path}?status=503&times=always&retry_after=1"
        got = self.get("curl", target)
        self.assertIn(got.status, (502, 503), got)
        self.assertNotEqual(len(got.data), SIZE, "an error answer the length of the object")
        # the patience before a head: min(gap budget 8 s, upstream header timeout 60 s / 2),
        # at most 3 retries of 1 s each here
        self.assertLess(got.seconds, 9, f"the client waited {got.seconds:.1f} s")
        lines = got.data.decode(errors="replace").strip().splitlines()
        self.assertEqual(len(lines), 1, f"want a one-line reason, got {got.data[:300]!r}")
        self.assertTrue(lines[0].strip(), "empty reason")
        self.assertFalse([u for u in self.cached_urls() if path in u], "an error was cached")


class OriginRestartTest(ResumeCase):
    """The origin process is killed (SIGKILL) mid-download and a new one starts on the same port
    2 s later; per-URL state survives in its state dir.

    --gap-budget 30: each outage leaves the client without a byte for the 2 s the port is
    closed, plus the new origin's start-up (a Python interpreter: 0.2-1 s on a loaded 2-core
    machine), plus up to --retry-max-delay of backoff before the next attempt. That is near
    the default 8 s budget with no margin, and past it dlproxy would close the client short --
    the gap-budget path, tested in GapBudgetTest. This test is about the fill surviving restarts
    on a single client connection, so the budget is set far out of the way. (Before 0d51267 the
    gap-budget timer was not re-armed while bytes flowed, see
    GapBudgetTest.test_steady_slow_origin_is_not_closed, and the budget then bounded this whole
    paced download, about 10 s.)
    --retry-max-attempts 100: attempts count per fill, not per outage; at these short delays each
    2 s outage costs about ten refused connects, so three outages would exhaust the default 20."""

    proxy_args = FAST_RETRY + ("--gap-budget", "30", "--retry-max-attempts", "100")

    def download_with_restarts(self, tag, size, rate, kill_fractions):
        path = f"/bytes/{size}/restart-{tag}"
        target = f"{path}?rate={rate}"
        out = os.path.join(self.work, f"restart-{tag}.bin")
        err_mark = self.proxy.stderr_size()
        result = {}

        def client():
            result["res"] = curl_cli(self.pport, self.url(target), out, timeout=90)

        th = threading.Thread(target=client, daemon=True)
        t0 = time.monotonic()
        th.start()
        killed_at = []
        for frac in kill_fractions:
            deadline = time.monotonic() + 30
            while th.is_alive() and time.monotonic() < deadline:
                if os.path.exists(out) and os.path.getsize(out) >= frac * size:
                    break
                time.sleep(0.01)
            self.assertTrue(th.is_alive(), "the download ended before the origin was killed")
            killed_at.append(os.path.getsize(out))
            self.origin.kill9()
            time.sleep(2)
            self.origin.start()
        th.join(100)
        self.assertFalse(th.is_alive(), "the client did not finish")
        res = result["res"]
        with open(out, "rb") as f:
            got = Got(res.status, f.read(), None if res.rc == 0 else res.stderr, 0)
        os.unlink(out)
        self.assert_complete(path, size, got, "curl")
        self.assertEqual(res.rc, 0)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 10 + 4 * len(kill_fractions), f"took {elapsed:.1f} s")

        # The killed origins never logged the responses they were serving; the retry lines say
        # where each break happened, and the last origin's log shows the final resume.
        lines = self.retry_lines(target, err_mark)
        offsets = sorted({off for _, off, _, _ in lines})
        self.assertEqual(len(offsets), len(kill_fractions), f"break offsets {offsets}")
        for off, seen in zip(offsets, killed_at):
            self.assertGreaterEqual(off, seen, "dlproxy had at least what the client had")
        recs = self.origin_requests(target, 1)
        final = recs[-1]
        self.assertEqual(final["outcome"], "complete", final)
        self.assert_resume_request(final, path, size, offsets[-1] - 1)
        self.assertEqual(final["bytes_sent"], size - offsets[-1] + 1)
        for rec in recs:
            start = ranged_start(rec)
            if start is not None:
                self.assertIn(start + 1, offsets, rec)
                self.assertEqual(rec["headers"].get("If-Range"), content.etag_of(path))

    def test_origin_killed_once(self):
        # 24 MiB paced at 12 MB/s (about 2 s without faults), killed at 40 %
        self.download_with_restarts("once", 24 * MiB, 12_000_000, [0.4])

    def test_origin_killed_three_times(self):
        # 32 MiB paced at 16 MB/s (about 2 s without faults), killed at 25, 50 and 75 %
        self.download_with_restarts("thrice", 32 * MiB, 16_000_000, [0.25, 0.5, 0.75])


class ChangedObjectTest(ResumeCase):
    """The object changes between a cut and the resume: the client gets a short body and the
    cached copy is dropped."""

    def check_changed(self, client, path, target):
        got = self.get(client, target)
        self.assert_short(path, SIZE, got)
        if client != "requests":  # urllib3 1.x does not enforce Content-Length when streaming
            self.assertIsNotNone(got.error, f"{client}: a short body without an error")
        if client == "curl":
            self.assertTrue(got.error.startswith("curl exit 18"), got.error)
        return got

    def test_etag_changes_mid_download(self):
        for client in ("curl", "pycurl", "requests"):
            with self.subTest(client=client):
                path = f"/bytes/{SIZE}/etag-{client}"
                target = f"{path}?change_etag_after=1&cut=3000017"
                got = self.check_changed(client, path, target)
                self.assertLessEqual(len(got.data), 3000017)
                recs = self.origin_requests(target, 2)
                self.assert_resume_request(recs[1], path, SIZE, 3000016)
                self.assertEqual(recs[1]["version"], "0.c1")  # If-Range failed: a full 200
                self.assertEqual(recs[1]["status"], 200)
                time.sleep(0.3)  # worker-thread commits of the first chunks settle
                self.assertNotIn(self.url(target), self.cached_urls(),
                                 "the changed object is still in the cache")
                # the next request gets the new object, whole
                again = self.get(client, target)
                self.assert_not_wrong(path, SIZE, again, version="0.c1")
                self.assertEqual((again.error, len(again.data)), (None, SIZE))

    def test_same_etag_different_bytes_caught_by_overlap_byte(self):
        # etag=fixed keeps the ETag while the content changes (a broken origin): If-Range passes,
        # the 206 carries bytes of the new version; the overlapping byte must catch it.
        path = f"/bytes/{SIZE}/sametag"
        target = f"{path}?change_etag_after=1&cut=3000017&etag=fixed"
        self.assertNotEqual(content.content(path, 3000016, 1),
                            content.content(path, 3000016, 1, "0.c1"), "pick another cut")
        self.check_changed("curl", path, target)
        recs = self.origin_requests(target, 2)
        self.assertEqual(recs[1]["status"], 206)
        self.assertEqual(recs[1]["headers"].get("Range"), f"bytes=3000016-{SIZE - 1}")
        time.sleep(0.3)
        self.assertNotIn(self.url(target), self.cached_urls())


class NoRangeTest(ResumeCase):
    """The origin ignores Range (norange=1) and is cut: the resume gets a 200 with the same
    validators, and dlproxy drops the prefix it already had."""

    def test_origin_ignores_range(self):
        for client in ("curl", "pycurl"):
            with self.subTest(client=client):
                path = f"/bytes/{SIZE}/norange-{client}"
                target = f"{path}?norange=1&cut=5000011"
                got = self.get(client, target)
                self.assert_complete(path, SIZE, got, client)
                recs = self.origin_requests(target, 2)
                self.assertEqual(len(recs), 2, recs)
                self.assertIsNone(ranged_start(recs[0]))
                self.assert_resume_request(recs[1], path, SIZE, 5000010)
                self.assertEqual((recs[1]["status"], recs[1]["served"]), (200, [0, SIZE]))
                self.assertEqual(recs[1]["version"], "0")  # same object: same ETag, same bytes
                self.assertEqual(recs[1]["outcome"], "complete")


class ScriptedOrigin:
    """A minimal HTTP/1.1 origin in this process, on 127.0.0.1, for an answer the test origin
    cannot give: a GET without Range gets `200` (strong ETag, Content-Length `size`) that is cut
    after `cut` body bytes; a GET with Range gets `416` with `Content-Range: bytes */<shrunk>`,
    as if the object had been replaced by a shorter one. One request per connection."""

    def __init__(self, path, size, cut, shrunk):
        self.path, self.size, self.cut, self.shrunk = path, size, cut, shrunk
        self.etag = '"scripted-v1"'
        self.requests = []  # (request line, {lower-case header: value})
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOCALHOST, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(10)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
            lines = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            hdrs = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            self.requests.append((lines[0], hdrs))
            if "range" in hdrs:
                body = b"range not satisfiable\n"
                c.sendall(f"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */"
                          f"{self.shrunk}\r\nETag: \"scripted-v2\"\r\nContent-Type: text/plain\r\n"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                          + body)
            else:
                c.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          f"Content-Length: {self.size}\r\nETag: {self.etag}\r\n"
                          f"Accept-Ranges: bytes\r\nConnection: close\r\n\r\n".encode())
                c.sendall(content.content(self.path, 0, self.cut))
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            c.close()

    def url(self, target):
        return f"http://{LOCALHOST}:{self.port}{target}"

    def stop(self):
        self.lsock.close()


class UnsatisfiableResumeTest(ResumeCase):
    """416 to a resume: the object is now shorter than what was received. Short body, never
    wrong bytes, cached copy gone."""

    def test_416_on_resume(self):
        path = f"/bytes/{SIZE}/shrunk"
        origin = ScriptedOrigin(path, SIZE, cut=3000017, shrunk=1000)
        try:
            url = origin.url(path)
            out = os.path.join(self.work, "shrunk.bin")
            res = curl_cli(self.pport, url, out, timeout=60)
            with open(out, "rb") as f:
                got = Got(res.status, f.read(), res.stderr, 0)
            os.unlink(out)
            self.assert_short(path, SIZE, got)
            self.assertEqual(res.rc, 18, res.stderr)
            reqs = list(origin.requests)
            self.assertEqual(len(reqs), 2, reqs)
            self.assertNotIn("range", reqs[0][1])
            self.assertEqual(reqs[1][1].get("range"), f"bytes=3000016-{SIZE - 1}")
            self.assertEqual(reqs[1][1].get("if-range"), origin.etag)
            self.assert_dropped(url)
        finally:
            origin.stop()


class GapBudgetTest(ResumeCase):
    """--gap-budget 2: a client left without bytes for 2 s is closed short, and its own retry is
    served from the cache while the fill continues in the background."""

    proxy_args = FAST_RETRY + ("--gap-budget", "2")

    def test_stalled_client_closed_short_then_resumed_with_range(self):
        # the origin pauses 6 s after 4 MB; the stall watch reconnects after 2-3 s, later than
        # the client's 2 s budget, so the client is closed first; its `curl -C -` retry arrives
        # while the fill is still stalled or already resuming, and completes
        path = f"/bytes/{SIZE}/gap"
        target = f"{path}?stall=4000037&stall_secs=6"
        out = os.path.join(self.work, "gap.bin")
        t0 = time.monotonic()
        first = curl_cli(self.pport, self.url(target), out, timeout=30)
        closed_after = time.monotonic() - t0
        with open(out, "rb") as f:
            data = f.read()
        self.assert_short(path, SIZE, Got(first.status, data, first.stderr, closed_after))
        self.assertEqual(first.rc, 18, first.stderr)
        self.assertEqual(len(data), 4000037)
        self.assertGreaterEqual(closed_after, 1.5)
        self.assertLess(closed_after, 4.0, "the gap budget did not close the client in time")

        second = curl_cli(self.pport, self.url(target), out, ["-C", "-"], timeout=30)
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        got = Got(second.status, data, None if second.rc == 0 else second.stderr, 0)
        self.assert_not_wrong(path, SIZE, got)
        self.assertEqual((second.rc, second.status), (0, 206), second.stderr)
        self.assertEqual(second.headers.get("Content-Range"), f"bytes 4000037-{SIZE - 1}/{SIZE}")
        self.assertEqual(len(data), SIZE)
        # one fill served both clients: the stalled response and one resume from 4000036
        recs = self.origin_requests(target, 2, timeout=10)
        self.assertEqual(len(recs), 2, recs)
        self.assert_resume_request(recs[1], path, SIZE, 4000036)

    def test_steady_slow_origin_is_not_closed(self):
        # 8 MiB paced at 2 MB/s: about 4.2 s, bytes every few milliseconds, never a silent gap
        # anywhere near the 2 s budget. The budget is about silence, not about total time.
        path = f"/bytes/{8 * MiB}/gap-steady"
        target = f"{path}?rate=2000000"
        for client in ("curl",):
            got = self.get(client, target)
            self.assert_complete(path, 8 * MiB, got, client)


if __name__ == "__main__":
    unittest.main(verbosity=2)
