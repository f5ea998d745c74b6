#!/usr/bin/env python3
"""Three dlproxy instances behind HAProxy, as scripts/dlproxy-cluster starts them with
configs/haproxy.cfg (docs/operations.md): each URL lives on one instance, so the second download
of every URL is a hit and the origin sends each object once, as with a single dlproxy; CONNECT
tunnels are balanced by host:port; an instance killed mid-download costs the client one retry,
which lands on another instance and completes byte-exact.

The cluster's processes run in their own sessions (setsid), so dltest.processes does not track them:
this file stops them with `dlproxy-cluster stop` and then, by the PIDs the script recorded, kills
whatever is left -- also on SIGTERM (meson's timeout) and at exit.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import LOCALHOST, MiB, REPO, dlproxy_bin  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.ports import free_port  # noqa: E402
from dltest.processes import clean_env  # noqa: E402
from dltest.pyclient import pycurl_request, requests_session  # noqa: E402
from dltest.rawhttp import EchoServer, RawConn  # noqa: E402
import content  # noqa: E402
import requests  # noqa: E402

CLUSTER = os.path.join(REPO, "scripts", "dlproxy-cluster")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


class Cluster:
    """scripts/dlproxy-cluster start/status/stop in a temp dir, with ephemeral instance ports."""

    def __init__(self, workdir, n, extra_args=()):
        self.dir = os.path.join(workdir, "cluster")
        self.n = n
        self.extra_args = list(extra_args)
        self.frontend_port = None
        self.haproxy_pid = None
        self.instances = []  # dicts: k, pid, port, admin_port, cache, log

    def _run(self, command, *args, timeout=60):
        return subprocess.run([CLUSTER, command, "--dir", self.dir, *args], capture_output=True,
                              text=True, timeout=timeout, env=clean_env())

    def start(self):
        for _ in range(3):  # the frontend port is chosen free, then bound: another may take it
            self.frontend_port = free_port()
            p = self._run("start", "-n", str(self.n), "--base-port", "0",
                          "--listen", f"{LOCALHOST}:{self.frontend_port}",
                          "--dlproxy", dlproxy_bin(), "--", "--log-level", "debug",
                          *self.extra_args)
            self._record_pids()
            if p.returncode == 0:
                self._parse_status(p.stdout)
                return self
        raise RuntimeError(f"dlproxy-cluster start failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")

    def _parse_status(self, text):
        self.instances = []
        for line in text.splitlines():
            f = line.split()
            if f[0] == "frontend":
                self.haproxy_pid = int(f[3])
            elif f[0] == "instance":
                k = int(f[1])
                self.instances.append({
                    "k": k, "pid": int(f[2]), "port": int(f[3].rsplit(":", 1)[1]),
                    "admin_port": int(f[4].rsplit(":", 1)[1]), "cache": f[5],
                    "log": os.path.join(self.dir, f"i{k}", "dlproxy.log")})
        assert len(self.instances) == self.n, text

    def _record_pids(self):
        for name in ["haproxy.pid"] + [f"i{k}/pid" for k in range(1, self.n + 1)]:
            try:
                with open(os.path.join(self.dir, name)) as f:
                    _started_pids.add(int(f.read().strip()))
            except (OSError, ValueError):
                pass

    def status(self):
        return self._run("status").stdout

    def stop(self):
        p = self._run("stop", timeout=60)
        kill_started()
        return p

    def access_lines(self, k):
        """(result, url) of each access-log line of instance k."""
        with open(self.instances[k - 1]["log"], errors="replace") as f:
            return re.findall(r'result=(\S+) .*?url="([^"]*)"', f.read())

    def served_by(self, url, result=None):
        """Instance numbers whose access log has `url` (with that result, when given)."""
        return sorted({i["k"] for i in self.instances for r, u in self.access_lines(i["k"])
                       if u == url and (result is None or r == result)})


_started_pids = set()


def _runs_ours(pid):
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return False
    return exe in ("dlproxy", "haproxy")


def kill_started():
    """SIGKILL every PID the cluster script recorded that still runs dlproxy or haproxy."""
    for pid in list(_started_pids):
        if _runs_ours(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _started_pids.discard(pid)


atexit.register(kill_started)
_harness_sigterm = signal.getsignal(signal.SIGTERM)


def _on_sigterm(signum, frame):
    kill_started()
    if callable(_harness_sigterm):
        _harness_sigterm(signum, frame)
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


@unittest.skipUnless(os.path.exists(HAPROXY), "haproxy is not installed (scripts/bootstrap)")
class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="dlproxy-it-cluster-")
        cls.origin = Origin(cls.work).start()
        cls.echo = EchoServer()
        cls.cluster = Cluster(cls.work, 3, ["--connect-ports", str(cls.echo.port)])
        try:
            cls.cluster.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.origin.stop()
        cls.echo.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            sys.stderr.write(f"\n----- cluster status during {self.id()}\n{self.cluster.status()}")
            with open(os.path.join(self.cluster.dir, "haproxy.log"), errors="replace") as f:
                tail = f.read().splitlines()[-30:]
            sys.stderr.write("----- HAProxy log (last 30 lines)\n" + "\n".join(tail) + "\n")
            for i in self.cluster.instances:
                with open(i["log"], errors="replace") as f:
                    tail = f.read().splitlines()[-40:]
                sys.stderr.write(f"----- instance {i['k']} log (last 40 lines)\n" + "\n".join(tail) + "\n")

    def fetch(self, port, url):
        r = pycurl_request(port, url, keep_body=False, timeout=60)
        self.assertEqual(r.status, 200, url)
        return r

    def download_twice(self, port, urls, sizes):
        """Each URL twice through `port`; returns (origin bytes, hits on the second pass)."""
        mark = self.origin.mark()
        for url, size in zip(urls, sizes):
            r = self.fetch(port, url)
            path = url.split(str(self.origin.port), 1)[1]
            self.assertEqual((r.length, r.sha256), (size, content.sha256_of(path, size)))
        first = self.origin.records(mark, count=len(urls))
        mark = self.origin.mark()
        for url, size in zip(urls, sizes):
            r = self.fetch(port, url)
            self.assertEqual(r.length, size)
        time.sleep(0.3)
        second = self.origin.log_since(mark)
        self.assertEqual(second, [], "a second download reached the origin")
        return sum(rec["bytes_sent"] for rec in first)

    def test_1_each_url_lives_on_one_instance(self):
        sizes = [(2 + i % 3) * MiB for i in range(9)]
        via_haproxy = [self.origin.url(f"/bytes/{s}/hit-{i}") for i, s in enumerate(sizes)]
        one_instance = [self.origin.url(f"/bytes/{s}/single-{i}") for i, s in enumerate(sizes)]

        cluster_origin_bytes = self.download_twice(self.cluster.frontend_port, via_haproxy, sizes)
        # The same downloads through one dlproxy alone: the cluster must cost the origin no more.
        single = self.cluster.instances[0]["port"]
        single_origin_bytes = self.download_twice(single, one_instance, sizes)
        self.assertEqual(cluster_origin_bytes, sum(sizes))
        self.assertEqual(single_origin_bytes, sum(sizes))

        time.sleep(0.3)  # access-log lines are written as each response ends
        used = set()
        for url in via_haproxy:
            missed, hit = self.cluster.served_by(url, "MISS"), self.cluster.served_by(url, "HIT")
            self.assertEqual(len(missed), 1, f"{url} filled by {missed}")
            self.assertEqual(hit, missed, f"{url}: filled on {missed}, second download on {hit}")
            used.update(missed)
        self.assertGreaterEqual(len(used), 2, "HAProxy sent every URL to one instance")

    def test_2_connect_is_balanced_by_host(self):
        target = f"{LOCALHOST}:{self.echo.port}"
        for n in range(3):
            with RawConn(self.cluster.frontend_port) as c:
                c.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n")
                _, status, _, _, _ = c.read_head()
                self.assertEqual(status, 200)
                payload = os.urandom(64 * 1024)
                c.send(payload)
                got = b""
                while len(got) < len(payload):
                    data = c.sock.recv(65536)
                    self.assertTrue(data, "tunnel closed early")
                    got += data
                self.assertEqual(got, payload)
        time.sleep(0.3)
        self.assertEqual(len(self.cluster.served_by(target)), 1,
                         "CONNECTs to one host:port went to different instances")

    def test_3_killed_instance_retry_lands_elsewhere(self):
        size = 48 * MiB
        path = f"/bytes/{size}/kill"
        url = self.origin.url(path + "?rate=12000000")
        session = requests_session(self.cluster.frontend_port)
        self.addCleanup(session.close)
        body = bytearray()
        killed = None
        attempts = 0
        while len(body) < size and attempts < 4:  # the launcher's retry: a new request, 4 attempts
            attempts += 1
            headers = {"Range": f"bytes={len(body)}-"} if body else {}
            try:
                with session.get(url, headers=headers, stream=True, timeout=30) as r:
                    if body and r.status_code == 502:
                        # HAProxy's own answer when the retry reached the dying instance's
                        # socket before its health check marked it down (seen under load): the
                        # launcher retries a 5xx, after a pause.
                        time.sleep(0.5)
                        continue
                    self.assertEqual(r.status_code, 206 if body else 200)
                    if body:
                        self.assertEqual(r.headers["Content-Range"],
                                         f"bytes {len(body)}-{size - 1}/{size}")
                    for piece in r.iter_content(256 * 1024):
                        body += piece
                        if killed is None and len(body) >= 8 * MiB:
                            killed = self.kill_serving_instance(url)
            except requests.exceptions.RequestException:
                pass  # the killed instance's response ends short: retry from what we have
        self.assertIsNotNone(killed, "the download ended before an instance could be killed")
        self.assertGreaterEqual(attempts, 2, "the kill did not interrupt the download")
        self.assertEqual(len(body), size)
        self.assertEqual(sha256_bytes(bytes(body)), content.sha256_of(path, size))
        time.sleep(0.3)
        finished_on = self.cluster.served_by(url)
        self.assertTrue(finished_on and killed not in finished_on,
                        f"killed instance {killed}, retry served by {finished_on}")

    def kill_serving_instance(self, url):
        """SIGKILL the instance whose fill of `url` is running (its debug log says `fetch URL:`
        when the fill starts); its number."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for i in self.cluster.instances:
                with open(i["log"], errors="replace") as f:
                    if f"fetch {url}: fetch" in f.read():
                        os.kill(i["pid"], signal.SIGKILL)
                        return i["k"]
            time.sleep(0.05)
        self.fail(f"no instance logged a fill of {url}")

if __name__ == "__main__":
    unittest.main(verbosity=2)
