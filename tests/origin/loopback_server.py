"""What the test origins share (origin.py, model_hosts.py, xet_service.py): the server class, the
command line and the serve loop, so that one launcher (tests/pylib/dltest/origin.py's Origin)
starts and stops them all the same way:

    python3 SCRIPT --host 127.0.0.1 --port 0 --log FILE [--state-dir DIR] [--tls-cert PEM
                   --tls-key PEM]

prints `origin listening on 127.0.0.1:PORT` once it accepts connections and stops on SIGTERM.
"""

import argparse
import http.server
import json
import signal
import socketserver
import ssl
import threading


class LoopbackServer(http.server.ThreadingHTTPServer):
    """What every test origin's server shares (origin.py, model_hosts.py, xet_service.py): a
    thread per connection, TLS wrapped per accepted socket (the handshake happens in the
    connection's thread), no reverse DNS lookup, a JSON-lines request log."""
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, addr, log_path, tls_context, handler):
        self.tls_context = tls_context
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None
        super().__init__(addr, handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's reverse DNS lookup
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls_context is not None:
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # a peer that vanished mid-request is ordinary here

    def write_log(self, rec):
        if self.log_file is None:
            return
        line = json.dumps(rec) + "\n"
        with self.log_lock:
            self.log_file.write(line)
            self.log_file.flush()


def origin_arguments(doc, tls_required=False):
    """The command line every test origin takes, so that one launcher (tests/pylib/dltest's
    Origin) starts them all: --host (127.0.0.1 only), --port (0: ephemeral), --log,
    --state-dir, --tls-cert, --tls-key. A script adds its own options before parse_args()."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--state-dir")
    ap.add_argument("--tls-cert", required=tls_required)
    ap.add_argument("--tls-key", required=tls_required)
    return ap


def parse_origin_arguments(ap):
    """(args, TLS server context or None); refuses any host but 127.0.0.1."""
    args = ap.parse_args()
    if args.host != "127.0.0.1":
        ap.error("a test origin binds 127.0.0.1 only")
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return args, ctx


def serve(server):
    """Announce `origin listening on 127.0.0.1:PORT` (the launcher waits for that line) and serve
    until SIGTERM or SIGINT. Returns the exit status."""
    def on_signal(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"origin listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0
