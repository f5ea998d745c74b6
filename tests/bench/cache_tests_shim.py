#!/usr/bin/env python3
"""A forward shim for http-tests/cache-tests: its client speaks origin-form HTTP/1.1 to a base URL
(as to a reverse proxy); a forward proxy wants absolute-form. The shim listens on 127.0.0.1,
rewrites each request line `GET /test/x HTTP/1.1` into `GET http://ORIGIN/test/x HTTP/1.1` (and
the Host field to ORIGIN), and sends it to the forward proxy on its own connection per client
connection. Everything else is copied byte for byte in both directions: request bodies
(Content-Length or chunked), and the whole response stream, so interim 1xx responses, repeated
fields and field order reach the client exactly as the proxy sent them.

    python3 tests/bench/cache_tests_shim.py --proxy 127.0.0.1:PORT --origin 127.0.0.1:8000

Prints `shim listening on 127.0.0.1:<port>` once it accepts connections. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

MAX_HEAD = 64 * 1024


class BadRequest(Exception):
    pass


def rewrite_head(head: bytes, origin: str) -> tuple[bytes, int | None, bool]:
    """The request head in absolute form, its Content-Length and whether it is chunked."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[1].startswith(b"/"):
        raise BadRequest(lines[0][:200])
    parts[1] = b"http://" + origin.encode() + parts[1]
    out = [b" ".join(parts)]
    length = None
    chunked = False
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"host":
            line = b"Host: " + origin.encode()
        elif lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        out.append(line)
    return b"\r\n".join(out) + b"\r\n\r\n", length, chunked


async def copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        writer.write(size_line)
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, then the empty line
                line = await reader.readuntil(b"\r\n")
                writer.write(line)
                if line == b"\r\n":
                    return
        writer.write(await reader.readexactly(size + 2))
        await writer.drain()


async def requests_up(client: asyncio.StreamReader, upstream: asyncio.StreamWriter,
                      origin: str) -> None:
    while True:
        try:
            head = await client.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        new_head, length, chunked = rewrite_head(head, origin)
        upstream.write(new_head)
        if chunked:
            await copy_chunked(client, upstream)
        elif length:
            remaining = length
            while remaining:
                data = await client.read(min(remaining, 65536))
                if not data:
                    return
                upstream.write(data)
                remaining -= len(data)
                await upstream.drain()
        await upstream.drain()


async def responses_down(upstream: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
    while True:
        data = await upstream.read(65536)
        if not data:
            return
        client.write(data)
        await client.drain()


async def handle(client_r, client_w, proxy_host: str, proxy_port: int, origin: str) -> None:
    try:
        up_r, up_w = await asyncio.open_connection(proxy_host, proxy_port, limit=MAX_HEAD)
    except OSError as e:
        print(f"shim: cannot reach the proxy: {e}", file=sys.stderr)
        client_w.close()
        return
    up = asyncio.create_task(requests_up(client_r, up_w, origin))
    down = asyncio.create_task(responses_down(up_r, client_w))
    try:
        # The response stream ends the exchange; a client that stops sending only half-closes.
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if up in done and up.exception() is None:
            up_w.write_eof() if up_w.can_write_eof() else None
            await down
    except (ConnectionError, asyncio.IncompleteReadError, BadRequest) as e:
        print(f"shim: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        for t in (up, down):
            t.cancel()
        for w in (up_w, client_w):
            w.close()


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--proxy", required=True, help="forward proxy host:port")
    p.add_argument("--origin", required=True, help="origin host:port written into the targets")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    proxy_host, _, proxy_port = args.proxy.rpartition(":")
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, proxy_host, int(proxy_port), args.origin),
        "127.0.0.1", args.port, limit=MAX_HEAD)
    port = server.sockets[0].getsockname()[1]
    print(f"shim listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
