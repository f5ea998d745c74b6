"""HTTP/1.1 by hand, for what a client library would hide: keep-alive, pipelining, bad input.

    RawConn(port, timeout=15, rcvbuf=None)   .send(data) .request(method, url, headers, body)
        .read_head() .read_response(method) -> RawResponse  .closed_by_peer(timeout)
    Headers(items)     ordered, repeatable, case-insensitive: .get(name) .get_all(name) `in`
    parse_header_blocks(raw) -> [(status_line, [(name, value)])]  (curl -D dumps, raw heads)
    EchoServer()       threaded TCP echo server on 127.0.0.1:0 (CONNECT tests)
"""

import collections
import re
import socket
import threading

from .const import LOCALHOST


def parse_header_blocks(raw):
    """Header blocks of a curl -D dump / raw response heads: [(status_line, [(name, value)])]."""
    blocks = []
    for block in re.split(r"\r?\n\r?\n", raw.strip()):
        lines = block.splitlines()
        if not lines or not lines[0].startswith("HTTP/"):
            continue
        hdrs = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                hdrs.append((name.strip(), value.strip()))
        blocks.append((lines[0], hdrs))
    return blocks


class Headers:
    """Ordered, repeatable, case-insensitive header list."""

    def __init__(self, items):
        self.items = list(items)

    def get(self, name, default=None):
        vals = self.get_all(name)
        return vals[0] if vals else default

    def get_all(self, name):
        n = name.lower()
        return [v for k, v in self.items if k.lower() == n]

    def __contains__(self, name):
        return bool(self.get_all(name))

    def __repr__(self):
        return f"Headers({self.items!r})"



RawResponse = collections.namedtuple("RawResponse", "version status reason headers body head")


class RawConn:
    """A raw client socket speaking HTTP/1.1 by hand: for keep-alive, pipelining and bad input."""

    def __init__(self, port, timeout=15.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((LOCALHOST, port))
        self.buf = b""
        self.eof = False

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(256 * 1024)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, sep):
        while sep not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed before {sep!r}; have {self.buf[:200]!r}")
        out, self.buf = self.buf.split(sep, 1)
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"connection closed after {len(self.buf)} of {n} body bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        head = self._read_until(b"\r\n\r\n").decode("iso-8859-1")
        lines = head.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        hdrs = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs.append((name.strip(), value.strip()))
        return version, int(code), reason, Headers(hdrs), head

    def read_response(self, method="GET"):
        """The next final response (1xx skipped). Body framing per RFC 9112 §6.3."""
        while True:
            version, status, reason, hdrs, head = self.read_head()
            if status >= 200 or status == 101:
                break
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in (hdrs.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while self._read_until(b"\r\n"):
                        pass
                    break
                parts.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(parts)
        elif hdrs.get("Content-Length") is not None:
            body = self._read_exact(int(hdrs.get("Content-Length")))
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return RawResponse(version, status, reason, hdrs, body, head)

    def request(self, method, url, headers=(), body=b""):
        lines = [f"{method} {url} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.send("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        return self.read_response(method)

    def closed_by_peer(self, timeout=5.0):
        """True when the peer closes (EOF or reset) within `timeout` with no further bytes."""
        self.sock.settimeout(timeout)
        try:
            while not self.eof:
                if not self._fill():
                    break
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(15.0)
        return self.eof

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()



class EchoServer:
    """Threaded TCP echo server on 127.0.0.1:0. Records connections and when each one saw EOF."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOCALHOST, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.eof_seen = threading.Event()
        self.accepted = threading.Event()
        self.bytes_echoed = 0
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            self.accepted.set()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            while True:
                data = c.recv(256 * 1024)
                if not data:
                    break
                c.sendall(data)
                with self.lock:
                    self.bytes_echoed += len(data)
        except OSError:
            pass
        self.eof_seen.set()
        with self.lock:
            if c in self.conns:
                self.conns.remove(c)
        c.close()  # like any echo server: the peer is done, so are we

    def close_connections(self):
        """Close every accepted connection from the server side."""
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def stop(self):
        self.running = False
        self.close_connections()
        self.lsock.close()


