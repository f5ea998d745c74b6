"""CONNECT tunnels: relayed both ways, closed together, restricted to the allowed ports."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import dltest  # noqa: E402,F401  (first: tests/origin on sys.path; Debian's python3)
from dltest.const import MiB  # noqa: E402
from dltest.hashing import sha256_bytes  # noqa: E402
from dltest.ports import free_port  # noqa: E402
from dltest.rawhttp import EchoServer, RawConn  # noqa: E402
from dltest.testcase import ProxyTestCase  # noqa: E402

ECHO = EchoServer()


class ConnectTest(ProxyTestCase):
    proxy_args = ["--connect-ports", str(ECHO.port)]

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        ECHO.stop()

    def open_tunnel(self, port=None):
        c = RawConn(self.pport)
        port = port or ECHO.port
        c.send(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
        version, status, reason, headers, head = c.read_head()
        return c, status, head

    def echo_sockets(self):
        b = type(self).proxy.fd_breakdown()
        return sum(n for k, n in b.detail.items() if k.startswith(f"upstream:{ECHO.port}:"))

    def test_relay_1_mib_both_ways(self):
        c, status, head = self.open_tunnel()
        with c:
            self.assertEqual(status, 200, head)
            self.assertTrue(head.startswith("HTTP/1.1 200"), head)
            data = os.urandom(MiB)
            received = bytearray(c.buf)
            c.buf = b""
            sender = threading.Thread(target=c.sock.sendall, args=(data,))
            sender.start()
            while len(received) < len(data):
                chunk = c.sock.recv(256 * 1024)
                self.assertTrue(chunk, f"tunnel closed after {len(received)} echoed bytes")
                received += chunk
            sender.join(10)
            self.assertEqual(sha256_bytes(bytes(received)), sha256_bytes(data))

    def test_client_close_closes_origin_side(self):
        ECHO.eof_seen.clear()
        c, status, head = self.open_tunnel()
        self.assertEqual(status, 200, head)
        c.send(b"ping")
        self.assertEqual(c.sock.recv(4), b"ping")
        c.close()
        self.assertTrue(ECHO.eof_seen.wait(5), "the origin side did not see the client's close")
        deadline = time.monotonic() + 5
        while self.echo_sockets() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.echo_sockets(), 0, "dlproxy kept the tunnel's upstream socket open")

    def test_origin_close_closes_client_side(self):
        ECHO.accepted.clear()
        c, status, head = self.open_tunnel()
        with c:
            self.assertEqual(status, 200, head)
            c.send(b"ping")
            self.assertEqual(c.sock.recv(4), b"ping")
            self.assertTrue(ECHO.accepted.wait(5))
            ECHO.close_connections()
            self.assertTrue(c.closed_by_peer(5), "the client side stayed open after the origin closed")

    def test_port_not_allowed_is_403(self):
        other = free_port()
        c, status, head = self.open_tunnel(other)
        with c:
            self.assertEqual(status, 403, head)

    def test_connect_443_not_in_list_is_403(self):
        c, status, head = self.open_tunnel(443)
        with c:
            self.assertEqual(status, 403, head)


if __name__ == "__main__":
    unittest.main(verbosity=2)
