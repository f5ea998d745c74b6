// UpstreamTransfer: one HTTP request to an origin through libcurl, streaming both ways.
//
// The request body is pushed in by the owner (push_body / end_body) and handed to curl from its
// read callback; the response arrives through an UpstreamSink. Backpressure: the sink answers
// each body piece with Accept, Pause (curl keeps the bytes and stops reading the socket until
// resume_download()) or Abort. The transfer never follows redirects and never decodes content
// codings: bytes reach the sink as the origin sent them (only chunked framing is removed).
//
// Thread: the loop thread. Lifetime: owned by its creator; may be destroyed at any time except
// from inside one of the sink callbacks (the destructor removes the easy handle from the multi).
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "policy/header_list.h"
#include "policy/retry.h"
#include "proxy/loop/curl_multi.h"

namespace proxy {

class UpstreamRoute;

struct UpstreamRequest {
    std::string method;
    std::string url;
    policy::HeaderList headers;  // end-to-end request headers to send (Host is set by curl)
    bool has_body = false;
    int64_t body_length = -1;  // -1: unknown length, sent chunked
    double connect_timeout = 30;
    // CAs to verify an https origin against (PEM); null = libcurl's default store. Shared:
    // every request carries the same bundle.
    std::shared_ptr<const std::string> ca_bundle;
    // --resolve, --connect-to and the parent proxy (proxy/upstream/upstream_route.h); null =
    // direct.
    std::shared_ptr<const UpstreamRoute> route;
    // Whether a failure to reach the origin counts against its breaker
    // (proxy/upstream/host_health.h): a request's first attempt does, its retries do not -- one
    // request waiting through its own backoff is one failure, "repeated failures" are those of
    // distinct requests.
    bool counts_for_breaker = true;
};

enum class UpstreamError {
    None,
    DnsFailed,
    ConnectFailed,
    TlsFailed,
    Timeout,
    ReceiveFailed,  // reset / early EOF / bad framing after the head
    SendFailed,     // request body could not be delivered
    BadResponse,    // unparseable status line or headers
    Aborted,        // the sink asked to stop
    Other,
};

std::string_view to_string(UpstreamError e);

struct UpstreamResult {
    UpstreamError error = UpstreamError::None;
    CURLcode curl_code = CURLE_OK;
    std::string message;  // curl's error buffer, for logs and one-line client errors
    bool ok() const { return error == UpstreamError::None; }
};

// The retry policy's name for a failed transfer (a cut is EarlyEof or Reset, and so on).
policy::FailureKind failure_kind(const UpstreamResult& result);

class UpstreamSink {
  public:
    enum class BodyAction { Accept, Pause, Abort };
    // The final (non-1xx) response head, raw: hop-by-hop filtering is the sink's job.
    virtual void on_upstream_head(int status, std::string_view reason,
                                  const policy::HeaderList& headers) = 0;
    // An interim (1xx) response head, raw, before the final one (RFC 9110 §15.2); 100 Continue
    // included (the sink decides what to forward: policy/interim.h).
    virtual void on_upstream_interim(int /*status*/, std::string_view /*reason*/,
                                     const policy::HeaderList& /*headers*/) {}
    virtual BodyAction on_upstream_body(const char* data, size_t size) = 0;
    // The request body queue dropped below the high-water mark: the sink may read more.
    virtual void on_upstream_body_drained() {}
    // The transfer is over (the easy handle is out of the multi). May destroy the transfer.
    virtual void on_upstream_done(const UpstreamResult& result) = 0;

  protected:
    ~UpstreamSink() = default;
};

class UpstreamTransfer final : public CurlTransfer {
  public:
    UpstreamTransfer(CurlMulti& multi, UpstreamSink& sink, uint64_t high_water_mark);
    ~UpstreamTransfer();
    UpstreamTransfer(const UpstreamTransfer&) = delete;
    UpstreamTransfer& operator=(const UpstreamTransfer&) = delete;

    // Starts the transfer; on failure to start, on_upstream_done is NOT called and false returned.
    bool start(const UpstreamRequest& request);

    // Request body (only when request.has_body).
    void push_body(const char* data, size_t size);
    void end_body();
    uint64_t body_queued() const { return body_queued_; }

    void pause_download();
    void resume_download();

    // Stops delivering anything to the sink (the owner is going away); curl callbacks abort.
    void detach() { sink_ = nullptr; }
    // Hands the transfer to a new owner (a Fetch passing a non-cacheable answer to a client).
    void set_sink(UpstreamSink& sink) { sink_ = &sink; }

    bool active() const { return active_; }
    uint64_t bytes_received() const { return bytes_received_; }
    std::string primary_address() const;

    void on_transfer_done(CURLcode result) override;

  private:
    static size_t header_cb(char* data, size_t size, size_t n, void* userp) noexcept;
    static size_t write_cb(char* data, size_t size, size_t n, void* userp) noexcept;
    static size_t read_cb(char* data, size_t size, size_t n, void* userp) noexcept;

    size_t on_header_line(std::string_view line);
    size_t on_body(const char* data, size_t size);
    size_t on_read(char* buffer, size_t max);
    void update_pause();

    CurlMulti& multi_;
    UpstreamSink* sink_;
    uint64_t high_water_mark_;
    CURL* easy_ = nullptr;
    std::string url_;  // for the origin's breaker (proxy/upstream/host_health.h)
    bool counts_for_breaker_ = true;
    std::shared_ptr<const std::string> ca_bundle_;  // CURLOPT_CAINFO_BLOB borrows it
    std::shared_ptr<const UpstreamRoute> route_;    // its curl lists are borrowed too
    curl_slist* header_list_ = nullptr;
    char error_buffer_[CURL_ERROR_SIZE] = {};
    bool active_ = false;

    // Response head being collected.
    int status_ = 0;
    std::string reason_;
    policy::HeaderList headers_;
    bool head_done_ = false;
    bool bad_head_ = false;
    uint64_t head_bytes_ = 0;  // status lines and fields so far, interim (1xx) responses included

    // Request body queue.
    std::deque<std::string> body_;
    size_t body_front_offset_ = 0;
    uint64_t body_queued_ = 0;
    bool body_ended_ = false;

    bool recv_paused_ = false;
    bool send_paused_ = false;
    uint64_t bytes_received_ = 0;
};

}  // namespace proxy
