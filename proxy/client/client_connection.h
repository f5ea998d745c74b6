// ClientConnection: one TCP connection from a client, parsed by http1::RequestParser.
//
// Each request is validated (allow list already checked at accept), then either answered by
// dlproxy itself (errors), forwarded through an UpstreamTransfer (streaming both ways with
// backpressure), or turned into a CONNECT tunnel. A CONNECT to an intercepted host instead
// turns this connection into a TLS server (client_intercept.cpp): from then on bytes read are
// decrypted before the parser sees them, every write is encrypted, and the requests read are
// https requests to the CONNECT target, handled like any other. Requests are handled one at a time;
// a pipelined next request waits in the input buffer until the current response is complete.
//
// Thread: the loop thread. Lifetime: created by Server on accept; deletes itself after close()
// once its uv handles are closed. Paths that reach close(): client EOF or read/write error,
// timeouts, a response that ends the connection, Server shutdown, a failed tunnel.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "policy/header_list.h"
#include "policy/request_target.h"
#include "proxy/admin/access_log.h"
#include "proxy/client/cached_response.h"
#include "proxy/client/client_socket.h"
#include "proxy/client/connect_state.h"
#include "proxy/client/exchange.h"
#include "proxy/client/mirror_answer.h"
#include "proxy/client/pass_through.h"
#include "proxy/client/phase_deadline.h"
#include "proxy/http1/request_parser.h"
#include "proxy/http1/response_writer.h"
#include "proxy/loop/deferred_call.h"
#include "proxy/upstream/resumable_transfer.h"
#include "proxy/upstream/upstream_transfer.h"
#include "proxy/xet/xorb_hit.h"

namespace proxy {

class Server;

// A request held while ProxyAuth checks its credentials on a worker (client_auth.cpp): what the
// parser delivered meanwhile. Reading stops at once, so `body` is at most one read's bytes.
struct AuthHold {
    std::string body;
    bool complete = false;  // the request's end was read
    bool upgrade = false;   // a CONNECT: its tunnel starts once allowed
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);  // expires with the connection
};

class ClientConnection final : public UpstreamSink,
                               public AfterActionHook,
                               private ResumeOwner,
                               private http1::RequestHandler,
                               private http1::ResponseOutput {
  public:
    explicit ClientConnection(Server& server);
    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

    // Accepts from the listening stream; returns false (and closes) on failure.
    bool accept(uv_stream_t* listener);

    // Idempotent. `reason` is logged at debug level.
    void close(std::string_view reason);

    // Server shutdown: close now if idle, otherwise after the current response.
    void drain();

    // Over the connection cap: answer 503 and close.
    void refuse_overloaded();

    bool busy() const { return state_ != State::Idle && state_ != State::ReadingHead; }

    // Tunnel callbacks.
    void on_tunnel_established();
    void on_tunnel_failed(int status, std::string_view message);
    void on_tunnel_closed(uint64_t bytes);
    void on_tunnel_upstream_eof();
    // Upstream bytes for the client; false when the client's queue is over the high-water mark.
    bool tunnel_write(const char* data, size_t size);
    // The tunnel's upstream queue drained: read from the client again.
    void resume_client_reading();

    // UpstreamSink
    void on_upstream_head(int status, std::string_view reason,
                          const policy::HeaderList& headers) override;
    void on_upstream_interim(int status, std::string_view reason,
                             const policy::HeaderList& headers) override;
    BodyAction on_upstream_body(const char* data, size_t size) override;
    void on_upstream_body_drained() override;
    void on_upstream_done(const UpstreamResult& result) override;

    // Writes an interim (1xx) response before the final head when policy/interim.h says so
    // (client_interim.cpp).
    void send_interim(int status, std::string_view reason, const policy::HeaderList& headers);
    // CachedResponse callbacks (responses served through a Fetch).
    void send_cached_head(int status, const policy::HeaderList& headers);
    void send_cached_error(int status, std::string_view message,
                           const std::string& content_range = "");
    void send_cached_body(const char* data, size_t size);
    // Sends `size` bytes of `chunk` from `offset` without copying them: the write holds the
    // chunk, so clients reading the same chunk share one buffer (client_cached.cpp).
    void send_cached_chunk(ChunkPtr chunk, size_t offset, size_t size);
    uint64_t queued() const { return socket_.queued_bytes + response_.batched(); }
    void finish_cached();
    void on_cached_waiting(bool waiting);
    // `retry_after_s` > 0: the origin's breaker is open; the client gets 503 with Retry-After.
    void on_cached_failed(std::string_view why, uint32_t retry_after_s = 0);
    void on_cache_bypass(std::unique_ptr<UpstreamTransfer> transfer, int status,
                         std::string_view reason, const policy::HeaderList& headers);

    // AfterActionHook: sends the body bytes batched during one curl socket action.
    void on_after_curl_action() override { response_.flush(); }

  private:
    enum class State { Idle, ReadingHead, ReadingBody, WaitingResponse, Tunnel, Closing };

    ~ClientConnection();

    // http1::RequestHandler: the request being read.
    void on_request_begin() override;
    bool on_request_head(const http1::RequestHead& head) override;
    bool on_request_body(const char* data, size_t size) override;
    bool on_request_complete() override;

    void on_read(ssize_t nread, const uv_buf_t* buf);
    void on_client_eof(ssize_t nread);
    void feed(const char* data, size_t len);
    // What feed() or the parser's resume() ended with: pipelining, a tunnel, or an error.
    void on_parsed(http1::ParseStatus status);
    const policy::HeaderList& request_headers() const { return parser_.head().headers; }
    std::optional<policy::RequestTarget> resolve_target();
    // Mirror mode (policy/mirror.h): the upstream target of an origin-form request addressed to
    // this proxy, setting the exchange's mirror; nullopt when the request is not one (`answered` is
    // set when an error has been sent).
    std::optional<policy::RequestTarget> resolve_mirror_target(bool& answered);
    void send_mirrored_answer();  // a held answer (MirrorAnswer) rewritten, whole
    void start_forwarding();
    bool refuse_loop(bool loop, std::string_view why);  // answers 508 when `loop`
    void check_pass_through_stall();                    // timer: the origin went silent?
    // `target` may go through the cache: a GET without body or credentials, not no-store, and
    // not one that must be forwarded exactly (policy/exact_forward.h).
    bool cacheable_request(const policy::RequestTarget& target) const;
    void start_pass_through();
    // Xet xorb requests (client_xorb.cpp, docs/huggingface.md "Xorb cache"): true when the
    // request was taken (a cache lookup is under way); otherwise it is forwarded exactly, and
    // pass_.xorb_capture stores its answer.
    bool start_xorb(const policy::RequestTarget& target);
    void on_xorb_answer(xet::XorbAnswer answer);
    void finish_xorb_capture();
    void invalidate_after(int status, const policy::HeaderList& upstream_headers);
    void retire_cached();
    void start_tunnel_with(std::string early_data);
    // Intercepted CONNECT (client_intercept.cpp).
    void start_intercept(const policy::HostPort& target, std::string early_data);
    void on_tls_input(const char* data, size_t len);
    void send_tls_close_notify();
    void finish_response();
    void reset_for_next_request();

    // Pass-through resume (client_pass_resume.cpp): a GET answered 200 with a length and a strong
    // validator goes on through the resume engine, which continues it with Range + If-Range
    // when its upstream breaks or stalls mid-body.
    void maybe_enable_resume(const policy::HeaderList& upstream_headers);
    void give_up_resume(std::string_view why);  // closes the client short
    // ResumeOwner
    HeadAnswer on_resume_head(const ResumeHead& head) override;
    BodyAction on_resume_body(const char* data, size_t size) override;
    void on_resume_end(const ResumeOutcome& outcome) override;
    bool may_retry(const RetryPlan& plan) override;
    bool consumer_slow() const override;

    // Proxy authentication (client_auth.cpp, --auth-basic): true to go on with the request;
    // false when it was refused (answered 407) or is held until the verdict.
    bool authorize(const http1::RequestHead& head);
    void on_auth_verdict(bool allowed);
    void refuse_proxy_auth();

    // Responding.
    // dlproxy's own one-line answer; `retry_after_s` > 0 adds Retry-After (a 503).
    void send_error(int status, std::string_view message, uint32_t retry_after_s = 0);
    void send_error_with(int status, std::string_view message, const policy::HeaderList& extra);
    void write(std::string data);
    void write_raw(std::string data);              // encrypted first inside an intercepted tunnel
    void write_encrypted(std::string_view plain);  // inside an intercepted tunnel: no copy first
    void write_wire(std::string data);             // bytes as they go on the socket
    // http1::ResponseOutput: the response writer's bytes go out through write_raw(); body bytes
    // wait for the end of a curl socket action (on_after_curl_action).
    void write_out(std::string bytes) override { write_raw(std::move(bytes)); }
    bool flush_deferrable() override;
    void schedule_flush() override;
    void on_write_done(size_t size, int status);
    void close_after_flush();
    void on_flushed_for_close();
    void start_reading();
    void stop_reading();
    // Writes the access-log line of the current request (once) and counts it in the metrics.
    void log_access(RequestResult result);

    // Timers, one purpose each (client_timer.cpp): deadline_ is the current phase's deadline,
    // armed with its purpose (phase_deadline.h); deferred_ is the next loop iteration.
    void arm_deadline(Deadline deadline, double seconds);
    void on_deadline();
    void on_upstream_late();  // no response head in time: 504
    // Work that must not run inside a callback (a curl callback, CachedResponse::pump) runs
    // from the next loop iteration: frees finished cached responses, starts a pass-through.
    void defer();
    void on_deferred();

    uv_stream_t* stream() { return socket_.stream(); }

    static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
    static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
    static void close_cb(uv_handle_t* handle) noexcept;
    static void chunk_write_cb(uv_write_t* req, int status) noexcept;
    friend struct WriteReq;

    // Fields, grouped: the socket and its end (client_socket.h), the two timers, the parser and
    // writer, the current request (exchange.h) and its upstream side (pass_through.h), what a
    // CONNECT made of the connection (connect_state.h).
    Server& server_;
    ClientSocket socket_;
    PhaseDeadline deadline_;       // the current phase's deadline (on_deadline)
    DeferredCall deferred_;        // the next loop iteration (on_deferred)
    int open_handles_ = 0;         // uv handles not yet closed (socket, both timers): 0 frees this
    http1::RequestParser parser_;  // also holds a paused message's pipelined successors
    http1::ResponseWriter response_{*this};  // framing, Via/Connection, body batching
    State state_ = State::Idle;
    bool drain_requested_ = false;  // Server shutdown: close after the current response

    // The current request (its head is parser_.head()) and what answers it (exchange.h).
    Exchange exchange_;
    PassThrough pass_;                   // its upstream side when passed through (pass_through.h)
    std::optional<AuthHold> auth_hold_;  // its credentials being checked (client_auth.cpp)
    // Finished CachedResponses are freed at the next loop callback (deferred_), never while one
    // is on the call stack (finish_cached is reached from inside CachedResponse::pump).
    std::vector<std::unique_ptr<CachedResponse>> finished_cached_;
    // Expires with this object: worker completions (the xorb lookup) check it first.
    std::shared_ptr<char> alive_ = std::make_shared<char>();

    ConnectState connect_;  // a relayed tunnel, or the intercepted TLS session (connect_state.h)
};

}  // namespace proxy
