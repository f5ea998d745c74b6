"""dltest: the helpers dlproxy's integration tests (tests/integration/) and benchmarks
(tests/bench/) share. One stack: every process is started on 127.0.0.1, tracked by PID and
stopped (SIGTERM, then SIGKILL), every wait has a deadline, bytes are checked with sha256.

A test or bench script puts tests/pylib on sys.path and imports the modules it needs:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
    from dltest.testcase import ProxyTestCase

Importing the package also
  - puts tests/origin on sys.path, so `import content` (the origins' deterministic bodies),
    `import model_hosts` and `import xet_layout` work;
  - re-runs the script under Debian's /usr/bin/python3 when the python3 running it lacks
    python3-pycurl or python3-requests (a pyenv or venv python on PATH): see debian_python.

Modules, by concern:
  const        repository paths, LOCALHOST, MiB/GiB, dlproxy_bin()
  processes    PID registry (stopped at exit and on SIGTERM), stop_process, Managed (a process
               whose output is pumped to a log and can be waited on), clean_env, SetupError
  ports        free_port, wait_port
  procfs       /proc readers: cpu_seconds, status_kib, rss/peak rss, settle_cpu, fd_breakdown
  hashing      sha256_file, sha256_bytes, write_body (deterministic incompressible files)
  origin       Origin: tests/origin/origin.py (or model_hosts.py, xet_service.py) as a process
  dlproxy      Dlproxy: the binary under test, its ports, stderr, fds and memory
  pki          throwaway certificates: make_named_pki, make_self_signed_cert
  tlsorigin    NamedTlsOrigin: an HTTPS origin at a model-host name, for intercepted benches
  webservers   Nginx (static origin with an access log), HAProxy, start_squid
  peers        the caches bench_peers.py compares dlproxy with (nginx slice, Varnish, Squid)
  curl         the curl CLI: curl_cli (status and headers), curl_fetch / curl_concurrent (timed)
  pyclient     pycurl_request, new_pycurl, requests_session
  rawhttp      RawConn (hand-written HTTP/1.1), Headers, parse_header_blocks, EchoServer
  testcase     ProxyTestCase (one origin and one dlproxy per class, fd checks after each test)
  modelhosts   ModelHostsCase (the model hosts' imitation at their real names, over TLS)
  cdp          a Chrome DevTools Protocol driver for headless Chromium (the status page test)
  benchkit     Bench (workspace + process registry), bench options, statistics, tables, JSON
"""

import sys as _sys

from . import debian_python as _debian_python
from .const import ORIGIN_DIR as _ORIGIN_DIR

_debian_python.reexec_if_needed()

if _ORIGIN_DIR not in _sys.path:
    _sys.path.insert(0, _ORIGIN_DIR)
