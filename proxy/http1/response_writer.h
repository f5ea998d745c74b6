// ResponseWriter: the framing of one HTTP/1.1 response after another on a client connection.
//
// It decides how a body is delimited (RFC 9112 §6.3: Content-Length, chunked, or the connection's
// end for an HTTP/1.0 client), adds this proxy's Via entry and the Connection field the client
// needs, frames body bytes, and batches them: curl hands a body over in 16 KiB pieces, and one
// socket write per piece would cost a syscall (and inside an intercepted tunnel a TLS record)
// each. Bytes leave through a ResponseOutput in the order they were given.
//
// What it does not do: sockets, TLS, backpressure accounting, zero-copy sends. ClientConnection
// owns those; it calls flush() before any write of its own so that the byte order holds.
//
// Thread: the loop thread. Lifetime: one per connection; the output outlives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/header_list.h"

namespace proxy::http1 {

// How the current response's body is delimited.
enum class Framing : uint8_t {
    None,     // no body (HEAD, 1xx, 204, 304), or no head sent yet
    Length,   // Content-Length: body bytes go out as they are
    Chunked,  // re-framed as chunks (the origin's framing was not a length)
    Close,    // HTTP/1.0 client without a length: the connection's end ends the body
};

// Where a ResponseWriter's bytes go. ClientConnection: the socket, encrypted first inside an
// intercepted tunnel.
class ResponseOutput {
  public:
    // Bytes for the client, in order; `bytes` is never empty.
    virtual void write_out(std::string bytes) = 0;
    // True while a flush is sure to come soon (ClientConnection: inside a curl socket action,
    // whose end flushes); body bytes then wait to be sent in one write.
    virtual bool flush_deferrable() = 0;
    // Arranges for ResponseWriter::flush() at the end of that batch; called once per batch.
    virtual void schedule_flush() = 0;

  protected:
    ~ResponseOutput() = default;
};

class ResponseWriter {
  public:
    // Body bytes are sent in writes of up to about this size (one curl read's worth).
    static constexpr size_t kBatchSize = 256 * 1024;

    explicit ResponseWriter(ResponseOutput& output) : output_(output) {}
    ResponseWriter(const ResponseWriter&) = delete;
    ResponseWriter& operator=(const ResponseWriter&) = delete;

    // A new request: its method, version and whether the client asked to keep the connection.
    void start(std::string_view method, bool http10, bool keep_alive);
    // This response is the connection's last (shutdown, the client's EOF, ...).
    void end_connection() { keep_alive_ = false; }

    // An origin's response head, relayed: `origin_headers` as received (hop-by-hop fields are
    // dropped here). Chooses the framing, adds Via and Connection, sends the head.
    void send_relayed_head(int status, std::string_view reason,
                           const policy::HeaderList& origin_headers);
    // A stored response's head: `headers` are end-to-end and carry Content-Length (304: none).
    void send_stored_head(int status, const policy::HeaderList& headers);

    // Body bytes of the current response, batched and framed.
    void send_body(const char* data, size_t size);
    // Sends the batched body bytes now.
    void flush();
    // The body is complete: the last chunk when chunked.
    void finish_body();

    Framing framing() const { return framing_; }
    // Whether the connection stays open after this response.
    bool keep_alive() const { return keep_alive_ && framing_ != Framing::Close; }
    // The request was HTTP/1.0.
    bool http10() const { return http10_; }
    // Body bytes waiting in the batch (unframed).
    size_t batched() const { return batch_.size(); }

  private:
    // Via and Connection, then the head goes out (after any batched body bytes).
    void send_head(int status, std::string_view reason, policy::HeaderList headers);

    ResponseOutput& output_;
    std::string method_;
    bool http10_ = false;
    bool keep_alive_ = true;
    Framing framing_ = Framing::None;
    std::string batch_;  // body bytes not yet handed to the output (unframed)
    bool flush_scheduled_ = false;
};

namespace detail {

// "1a2b\r\n": the chunk-size line of a chunk of `size` bytes (RFC 9112 §7.1).
std::string chunk_header(size_t size);

}  // namespace detail

}  // namespace proxy::http1
