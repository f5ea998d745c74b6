"""The integration tests' base class.

ProxyTestCase: one origin and one dlproxy per class; subclasses set `proxy_args` and
`origin_kwargs`. On a failure it prints what dlproxy wrote to stderr during that test. After each
test dlproxy must be alive and its fds must return to the baseline taken after a warm-up request:
no client-side sockets, no more non-TCP fds (files, pipes...) than at the baseline, and at most
`upstream_allowance` idle upstream connections (a connection pool).
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

import pycurl

from .dlproxy import Dlproxy
from .origin import Origin
from .pyclient import pycurl_request


class ProxyTestCase(unittest.TestCase):
    """One origin and one dlproxy for the class. Subclasses set `proxy_args` / `origin_kwargs`.

    After each test, dlproxy must be alive and its fds must return to the baseline taken after a
    warm-up request: no client-side sockets, no more non-TCP fds (files, pipes...) than at the
    baseline, and at most `upstream_allowance` idle upstream connections (a connection pool)."""

    proxy_args = ()
    origin_kwargs = {}
    upstream_allowance = 16
    fd_settle_timeout = 5.0
    check_fds = True

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix=f"dlproxy-it-{cls.__name__}-")
        cls.origin = Origin(cls.work, **cls.origin_kwargs)
        cls.proxy = None
        try:
            cls.origin.start()
            cls.start_proxy()
        except BaseException:
            cls.tearDownClass()  # unittest skips tearDownClass when setUpClass fails
            raise

    @classmethod
    def start_proxy(cls):
        cls.proxy = Dlproxy(cls.work, cls.proxy_args).start()
        cls.warm_up()

    @classmethod
    def warm_up(cls):
        try:
            pycurl_request(cls.proxy.port, cls.origin.url("/bytes/1024/warmup"), timeout=10)
        except pycurl.error:
            pass  # the tests will say what is wrong
        time.sleep(0.2)
        cls.fd_base = cls.proxy.fd_breakdown()

    @classmethod
    def tearDownClass(cls):
        if cls.proxy and cls.proxy.proc:
            cls.proxy.stop()
        cls.origin.stop()
        if not os.environ.get("DLPROXY_KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        proxy = type(self).proxy
        err_mark = proxy.stderr_size() if proxy else 0
        err_file = proxy.err_path if proxy else None
        super().run(result)
        if len(result.failures) + len(result.errors) > before and err_file:
            try:
                with open(err_file, "rb") as f:
                    f.seek(err_mark)
                    text = f.read().decode(errors="replace")
            except OSError:
                text = ""
            lines = text.splitlines()
            sys.stderr.write(f"\n----- dlproxy stderr during {self.id()} "
                             f"({len(lines)} lines, last 150 shown) -----\n")
            sys.stderr.write("\n".join(lines[-150:]) + "\n----- end of dlproxy stderr -----\n")
        return result

    def setUp(self):
        cls = type(self)
        if cls.proxy is None or not cls.proxy.alive():
            cls.start_proxy()  # an earlier test killed it; that test has already failed
        self.mark = self.origin.mark()

    def tearDown(self):
        cls = type(self)
        if not cls.proxy.alive():
            self.fail(f"dlproxy died during the test (exit status {cls.proxy.proc.returncode})")
        if self.check_fds:
            self.assert_fds_settle()

    def assert_fds_settle(self, upstream_allowance=None, timeout=None):
        proxy = type(self).proxy
        allowance = self.upstream_allowance if upstream_allowance is None else upstream_allowance
        deadline = time.monotonic() + (timeout or self.fd_settle_timeout)
        base = type(self).fd_base
        while True:
            b = proxy.fd_breakdown()
            if b.client == 0 and b.other <= base.other and b.upstream <= allowance:
                return b
            if time.monotonic() > deadline:
                self.fail(f"dlproxy fds did not return to the baseline: now {b}, baseline {base}, "
                          f"allowed idle upstream connections {allowance}")
            time.sleep(0.05)

    # --- conveniences ----------------------------------------------------------------------------
    @property
    def pport(self):
        return type(self).proxy.port

    def url(self, path):
        return self.origin.url(path)

    def new_requests(self):
        return self.origin.log_since(self.mark)

    def assert_hit(self, target, sha256):
        """GET `target` again: the body must hash to `sha256` and the origin must not see it."""
        mark = self.origin.mark()
        r = pycurl_request(self.pport, self.url(target), keep_body=False, timeout=30)
        self.assertEqual(r.sha256, sha256)
        self.assertEqual([x for x in self.origin.log_since(mark) if x["target"] == target], [],
                         "the object was not complete in the cache")
