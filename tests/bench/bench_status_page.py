"""What the status page costs (docs/status-page.md "Bounds and cost"): dlproxy's CPU time while
N paced downloads run (default 20) with no page open, then with K readers of GET /events (default
1; each reads like a browser tab), and the size of the SSE updates meanwhile.

    python3 tests/bench/bench_status_page.py [--downloads 20] [--readers 1] [--seconds 12]

Manual, not part of CI. Real processes on 127.0.0.1 (tests/origin/origin.py paces the bodies,
dlproxy from $DLPROXY_BIN or build/); CPU is utime+stime of the dlproxy process from /proc over
the window of the downloads, so the load of other processes does not count (it does slow the
run, which is why the downloads are paced). Prints one JSON object.
"""

import argparse
import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "pylib"))
import dltest  # noqa: E402,F401
from dltest.curl import curl_cli  # noqa: E402
from dltest.dlproxy import Dlproxy  # noqa: E402
from dltest.origin import Origin  # noqa: E402
from dltest.procfs import cpu_seconds  # noqa: E402


class Reader(threading.Thread):
    """Reads /events until stopped, counting update frames and their bytes."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        self.frames, self.bytes, self.stop = [], 0, False

    def run(self):
        buf = b""
        while not self.stop:
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not chunk:
                return
            buf += chunk
            while b"\n\n" in buf:
                frame, _, buf = buf.partition(b"\n\n")
                if b"event: update" in frame:
                    self.frames.append(len(frame) + 2)


def run_round(work, downloads, readers, seconds, tag):
    origin = Origin(work).start()
    proxy = Dlproxy(work, ("--access-log", "off")).start()
    try:
        size = int(seconds * 1_000_000)
        urls = [origin.url(f"/bytes/{size}/cost-{tag}-{i}?rate=1000000") for i in range(downloads)]
        rs = [Reader(proxy.admin_port) for _ in range(readers)]
        for r in rs:
            r.start()
        threads = [threading.Thread(target=curl_cli, args=(proxy.port, u), kwargs={"timeout": 120})
                   for u in urls]
        before = cpu_seconds(proxy.proc.pid)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(proxy.proc.pid) - before
        for r in rs:
            r.stop = True
        frames = [f for r in rs for f in r.frames]
        return {"readers": readers, "wall_s": round(elapsed, 2), "cpu_s": round(cpu, 3),
                "cpu_percent": round(100 * cpu / elapsed, 2),
                "updates": len(frames),
                "update_bytes_mean": round(sum(frames) / len(frames)) if frames else None,
                "update_bytes_max": max(frames) if frames else None}
    finally:
        proxy.stop()
        origin.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--downloads", type=int, default=20)
    ap.add_argument("--readers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=12)
    a = ap.parse_args()
    import tempfile
    with tempfile.TemporaryDirectory(prefix="bench-status-") as work:
        without = run_round(work, a.downloads, 0, a.seconds, "a")
        with_page = run_round(work, a.downloads, a.readers, a.seconds, "b")
    print(json.dumps({"downloads": a.downloads, "without_page": without,
                      "with_page": with_page}, indent=2))


if __name__ == "__main__":
    main()
