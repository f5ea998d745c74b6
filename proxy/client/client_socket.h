// ClientSocket: the client's TCP stream as a ClientConnection drives it — whether it is being
// read, how many bytes wait to be written, and how far its end has come (FIN sent, lingering,
// closed). The peer's address is kept here for the log lines that name the client.
//
// A value inside its ClientConnection: the connection makes every uv call (its callbacks need
// the connection), this only records what the socket is doing, so each flag has one place.
// The read side: `reading` while uv_read_start is in effect; `read_blocked` while reading waits
// for the current response (backpressure from the upstream side, a pipelined request, a
// credentials check); `eof` once the client's end of the stream (or a read error) was seen.
// The write side: `queued_bytes` were handed to uv_write and are not yet written (ciphertext
// inside an intercepted tunnel), the number every backpressure decision compares with the
// high-water mark. The end: close_after_flush → (queue empty) FIN and lingering → closed.
//
// Thread: the loop thread. Not movable: libuv holds the handle's address.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

namespace proxy {

struct ClientSocket {
    ClientSocket() = default;
    ClientSocket(const ClientSocket&) = delete;
    ClientSocket& operator=(const ClientSocket&) = delete;

    uv_tcp_t tcp{};          // tcp.data is the ClientConnection
    std::string peer = "-";  // the client's address, as logged

    bool reading = false;
    bool read_blocked = false;  // paused by backpressure, pipelining or a credentials check
    bool eof = false;           // the client's end of the stream, or a read error

    uint64_t queued_bytes = 0;  // written to libuv, not yet on the wire

    bool close_after_flush = false;  // once queued_bytes is 0: FIN, then linger
    bool lingering = false;          // FIN sent; discarding input until EOF or a short timeout
    bool closed = false;             // close() ran: handles closing, nothing more sent or read

    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp); }
};

}  // namespace proxy
