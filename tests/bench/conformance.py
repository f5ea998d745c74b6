#!/usr/bin/env python3
"""HTTP caching conformance: http-tests/cache-tests run against dlproxy and, in the same run,
against Squid, each a forward proxy behind tests/bench/cache_tests_shim.py (docs/conformance.md).

Manual benchmark (CI has no copy of the suite). Needs a checkout of the suite outside the repo
with its npm dependencies installed (`npm i --omit=dev` in it), Node 20, and Debian's squid for
the comparison:

    python3 tests/bench/conformance.py --suite /work/cache-tests [--dlproxy build/proxy/dlproxy]
        [--no-squid] [--id TEST_ID] [--failures FILE] [--dlproxy-arg ARG ...]

For each proxy it starts the suite's own server (the origin; bound to 127.0.0.1 by a preloaded
listen override), the proxy with a fresh cache, and the shim, runs the suite's CLI client, and
prints `<proxy>: required passed N of M` (the suite's own result rules, dependencies honoured),
then the ids of the required tests that did not pass. Every process is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.benchkit import Bench, BenchError, REPO_DIR  # noqa: E402
from dltest.const import LOCALHOST  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.ports import wait_port  # noqa: E402
from dltest.webservers import start_squid  # noqa: E402

HERE = Path(__file__).resolve().parent
SHIM = HERE / "cache_tests_shim.py"

# Preloaded into the suite's server: it calls server.listen(port) on every interface.
LOOPBACK_PRELOAD = """
const net = require('net')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (port, ...rest) {
  if (typeof port === 'number' || typeof port === 'string') {
    return listen.call(this, Number(port), '127.0.0.1', ...rest.filter(a => typeof a === 'function'))
  }
  return listen.call(this, port, ...rest)
}
"""

# Scores the CLI's JSON results with the suite's own rules (test-engine/lib/results.mjs).
SCORE_SCRIPT = """
import fs from 'fs'
import tests from './tests/index.mjs'
import { determineTestResult, resultTypes } from './test-engine/lib/results.mjs'
const results = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'))
let passed = 0; let total = 0; const failed = []
for (const suite of tests) {
  for (const test of suite.tests) {
    if (test.browser_only === true) continue
    if (test.kind !== undefined && test.kind !== 'required') continue
    total++
    if (determineTestResult(tests, test.id, results) === resultTypes.pass) passed++
    else failed.push(test.id + '  ' + JSON.stringify(results[test.id] ?? 'untested'))
  }
}
console.log(JSON.stringify({ passed, total, failed }))
"""


def start_origin(bench: Bench, suite: Path) -> int:
    preload = bench.dir / "loopback.cjs"
    preload.write_text(LOOPBACK_PRELOAD)
    env = dict(os.environ, npm_config_protocol="http", npm_config_port="0",
               npm_config_pidfile=str(bench.dir / "cache-tests-server.pid"))
    proc = bench.start("cache-tests-server",
                       ["node", "-r", str(preload), "test-engine/server/server.mjs"],
                       cwd=suite, env=env)
    m = proc.wait_line(re.compile(r"Listening on http://127\.0\.0\.1:(\d+)/"), 15)
    port = int(m.group(1))
    wait_port(port, 10, proc.alive)
    return port


def start_shim(bench: Bench, proxy_port: int, origin_port: int) -> int:
    proc = bench.start("shim", [sys.executable, str(SHIM), "--proxy", f"{LOCALHOST}:{proxy_port}",
                                "--origin", f"{LOCALHOST}:{origin_port}"])
    m = proc.wait_line(re.compile(r"shim listening on 127\.0\.0\.1:(\d+)"), 10)
    return int(m.group(1))


class Squid:
    """Debian's squid as a caching forward proxy: its own config, cache and logs in the bench
    directory, 127.0.0.1 on an ephemeral port, run in the foreground (-N) and stopped by PID."""

    def __init__(self, bench: Bench):
        self.bench = bench
        self.dir = bench.dir / "squid"
        self.port = 0

    def start(self) -> "Squid":
        _, self.port = start_squid(self.bench, self.dir, f"""\
cache_mem 64 MB
maximum_object_size_in_memory 1 MB
cache_dir ufs {self.dir}/cache 64 16 256""")
        return self


def run_suite(bench: Bench, suite: Path, shim_port: int, test_id: str, name: str) -> dict:
    env = dict(os.environ, npm_config_base=f"http://{LOCALHOST}:{shim_port}",
               npm_config_id=test_id, npm_package_config_id=test_id)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        env.pop(var, None)
    out = subprocess.run(["node", "--no-warnings", "test-engine/cli.mjs"], cwd=suite, env=env,
                         capture_output=True, text=True, timeout=900)
    if test_id:
        print(out.stdout)
        print(out.stderr, file=sys.stderr)
        return {}
    results_file = bench.dir / f"results-{name}.json"
    results_file.write_text(out.stdout)
    score = subprocess.run(["node", "--input-type=module", "-e", SCORE_SCRIPT, str(results_file)],
                           cwd=suite, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(score.stdout)


def measure(suite: Path, name: str, start_proxy, test_id: str) -> dict:
    with Bench(f"conformance-{name}-") as bench:
        origin_port = start_origin(bench, suite)
        proxy_port = start_proxy(bench)
        shim_port = start_shim(bench, proxy_port, origin_port)
        return run_suite(bench, suite, shim_port, test_id, name)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", type=Path, required=True, help="checkout of http-tests/cache-tests")
    p.add_argument("--dlproxy", type=Path, default=REPO_DIR / "build/proxy/dlproxy")
    p.add_argument("--no-squid", action="store_true", help="measure dlproxy only")
    p.add_argument("--dlproxy-arg", action="append", default=[], metavar="ARG",
                   help="one more dlproxy argument (repeat), e.g. --dlproxy-arg=--stale-if-error"
                        " --dlproxy-arg='*'")
    p.add_argument("--no-dlproxy", action="store_true", help="measure squid only")
    p.add_argument("--id", default="", help="run one test, verbosely (the suite's --id)")
    p.add_argument("--failures", type=Path, help="write the failing required test ids here")
    args = p.parse_args()
    suite = args.suite.resolve()
    if not (suite / "node_modules").is_dir():
        raise BenchError(f"{suite}/node_modules missing: run `npm i --omit=dev` there")

    def dlproxy(bench: Bench) -> int:
        # Every test shares one origin (host:port), and a dozen tests answer 502/503/504 on
        # purpose: the host's circuit breaker (docs/operations.md) would open for 10 s and refuse
        # whichever unrelated tests run next, so scores would depend on test order and load.
        # The suite measures per-request semantics; the breaker is off for it.
        proxy = Dlproxy(bench.dir, exe=args.dlproxy.resolve(), log_level="warn",
                        extra_args=["--breaker-failures", "0", *args.dlproxy_arg])
        return bench.adopt(proxy.start()).port

    proxies = []
    if not args.no_dlproxy:
        proxies.append(("dlproxy", dlproxy))
    if not args.no_squid:
        proxies.append(("squid", lambda bench: Squid(bench).start().port))
    failures = []
    for name, start in proxies:
        score = measure(suite, name, start, args.id)
        if not score:
            continue
        print(f"{name}: required passed {score['passed']} of {score['total']}", flush=True)
        failures += [f"{name} {line}" for line in score["failed"]]
    if failures:
        text = "\n".join(failures) + "\n"
        if args.failures:
            args.failures.write_text(text)
        else:
            print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
