// RequestParser: HTTP/1 requests from a byte stream, over llhttp (built in strict mode by the
// top-level meson.build). The one request parser of dlproxy: ClientConnection, AdminConnection
// and fuzz/request_fuzzer.cpp all use it, so the fuzzer tests the code that runs.
//
// It adds to llhttp what the proxy needs from every request:
//   - the head as values: method, URL, header fields (names as sent, values with OWS trimmed);
//   - a limit on the head (URL plus field names and values) and on the URL alone;
//   - obs-fold refused (RFC 9112 §5.2 allows a 400) where llhttp 8.1 would unfold it;
//   - one message at a time: after a message ends, parsing pauses and later bytes (pipelined
//     requests, or a CONNECT tunnel's first bytes) are kept until the owner asks for them;
//   - failures as a RequestError with the status to answer.
//
// Thread and lifetime: not thread-safe; lives as long as its owner (ClientConnection holds one
// per connection). The handler outlives the parser. Callbacks run synchronously inside feed()
// and resume(); a handler must not call feed() or resume() from a callback.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/header_list.h"

namespace proxy::http1 {

// Why a request was refused. Each maps to the status the proxy answers (status_code()).
enum class RequestError : uint8_t {
    None,
    Malformed,       // 400: llhttp refused the bytes (error_message() has its reason)
    ObsFold,         // 400: a folded header line
    HeaderTooLarge,  // 431: URL plus header fields over Limits::max_head_bytes
    UriTooLong,      // 414: URL over Limits::max_url_length
    Refused,         // 400: a handler callback returned false without answering itself
};

int status_code(RequestError error);

// The request head. `url`, `headers` and the byte count grow while the head is parsed; the
// other fields are set when it is complete (method stays empty until then).
struct RequestHead {
    std::string method;  // "GET", "CONNECT", ...
    std::string url;     // the request target as sent
    policy::HeaderList headers;
    uint8_t http_major = 1;
    uint8_t http_minor = 1;
    bool keep_alive = true;  // llhttp_should_keep_alive: version and Connection
    bool chunked = false;    // Transfer-Encoding: chunked
    bool has_content_length = false;
    uint64_t content_length = 0;

    bool http10() const { return http_major == 1 && http_minor == 0; }
};

// What the parser tells its owner. Each callback returns false to stop parsing: feed() then
// reports ParseStatus::Error with RequestError::Refused (the owner usually has answered).
class RequestHandler {
  public:
    virtual void on_request_begin() {}
    // The head is complete (values trimmed). A CONNECT's bytes after its head are the tunnel's.
    virtual bool on_request_head(const RequestHead& head) = 0;
    // Body bytes, de-chunked; valid only during the call.
    virtual bool on_request_body(const char* data, size_t size) = 0;
    virtual bool on_request_complete() = 0;

  protected:
    ~RequestHandler() = default;
};

enum class ParseStatus : uint8_t {
    NeedMore,  // every byte consumed; feed the next read
    Complete,  // a message ended: paused, later bytes kept until resume()
    Upgrade,   // a CONNECT ended: paused for good, take_pending() holds the tunnel's first bytes
    Error,     // error() says why; the parser takes no more input
};

class RequestParser {
  public:
    struct Limits {
        size_t max_head_bytes = 64 << 10;  // Config::max_header_size
        size_t max_url_length = 16 << 10;  // signed CDN URLs are ~2 KiB
    };

    RequestParser(RequestHandler& handler, Limits limits);
    // llhttp holds a pointer to this parser.
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    // Parses `data`. While paused (after Complete or Upgrade) the bytes are only kept.
    ParseStatus feed(const char* data, size_t size);
    // After Complete, once the response is done: forgets the request and parses the kept bytes.
    ParseStatus resume();
    // Starts a fresh stream (an intercepted tunnel's first request): forgets everything.
    void reset();

    // The bytes kept while paused, handed over (the tunnel's after Upgrade).
    std::string take_pending();

    const RequestHead& head() const { return head_; }
    size_t head_bytes() const { return head_bytes_; }    // 0: nothing of a request read yet
    bool message_complete() const { return complete_; }  // the current request's end was read
    RequestError error() const { return error_; }
    // One line for the error response and the log, e.g. "malformed request: Invalid method".
    std::string error_message() const;

  private:
    friend struct ParserCallbacks;

    ParseStatus execute(const char* data, size_t size);
    bool count_head_bytes(size_t size);
    int fail(RequestError error);
    int on_message_begin();
    int on_url(const char* at, size_t size);
    int on_header_field(const char* at, size_t size);
    int on_header_value(const char* at, size_t size);
    int on_headers_complete();
    int on_body(const char* at, size_t size);
    int on_message_complete();

    RequestHandler& handler_;
    Limits limits_;
    llhttp_t parser_{};
    RequestHead head_;
    size_t head_bytes_ = 0;
    bool last_was_value_ = false;
    bool complete_ = false;
    bool paused_ = false;
    RequestError error_ = RequestError::None;
    std::string pending_;                 // bytes after a paused message
    const char* buffer_begin_ = nullptr;  // the buffer llhttp is parsing (obs-fold detection)
    char previous_non_ws_ = '\0';         // last non-SP/HT byte of the buffers parsed before
};

namespace detail {

// llhttp 8.1 reports an obs-fold continuation as a further piece of the same value; this tells
// such a piece from a value split by a read boundary by looking at the bytes before it. `at` is
// where llhttp's value span starts inside the buffer [buffer_begin, ...) being parsed;
// `previous_non_ws` is the last byte that was neither SP nor HT in the buffers parsed before it
// ('\0' if none). True when the whitespace before `at` follows a line break.
bool value_starts_folded_line(const char* at, const char* buffer_begin, char previous_non_ws);

// The last byte of `data` that is neither SP nor HT, or `previous` when there is none.
char last_non_whitespace(std::string_view data, char previous);

}  // namespace detail

}  // namespace proxy::http1
