// ClientConnection: lifecycle, reading and parsing, writing, timers.
// Forwarding, responses and tunnels are in client_forwarding.cpp.
#include "proxy/client_connection.h"

#include <spdlog/spdlog.h>

#include "policy/address_list.h"
#include "proxy/http_message.h"
#include "proxy/metrics.h"
#include "proxy/request_checks.h"
#include "proxy/server.h"
#include "proxy/socket_address.h"
#include "proxy/tls/tls_session.h"
#include "proxy/tunnel.h"

namespace proxy {

namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
// Request targets longer than this are refused with 414 (signed CDN URLs are ~2 KiB).
constexpr size_t kMaxUrlLength = 16 * 1024;
// After a final response on a closing connection, how long unread input is drained so the
// client sees our response instead of a reset.
constexpr double kLingerSeconds = 2.0;

}  // namespace

// llhttp callbacks: C trampolines that recover the connection and forward.
struct ParserCallbacks {
    static ClientConnection* self(llhttp_t* p) { return static_cast<ClientConnection*>(p->data); }
    static int message_begin(llhttp_t* p) { return self(p)->on_message_begin(); }
    static int url(llhttp_t* p, const char* at, size_t n) { return self(p)->on_url(at, n); }
    static int field(llhttp_t* p, const char* at, size_t n) {
        return self(p)->on_header_field(at, n);
    }
    static int value(llhttp_t* p, const char* at, size_t n) {
        return self(p)->on_header_value(at, n);
    }
    static int headers_complete(llhttp_t* p) { return self(p)->on_headers_complete(); }
    static int body(llhttp_t* p, const char* at, size_t n) { return self(p)->on_body(at, n); }
    static int message_complete(llhttp_t* p) { return self(p)->on_message_complete(); }

    static const llhttp_settings_t& settings() {
        static const llhttp_settings_t s = [] {
            llhttp_settings_t st;
            llhttp_settings_init(&st);
            st.on_message_begin = message_begin;
            st.on_url = url;
            st.on_header_field = field;
            st.on_header_value = value;
            st.on_headers_complete = headers_complete;
            st.on_body = body;
            st.on_message_complete = message_complete;
            return st;
        }();
        return s;
    }
};

struct WriteReq {
    uv_write_t req;
    std::string data;
    ClientConnection* conn;
};

ClientConnection::ClientConnection(Server& server) : server_(server) {
    reset_parser();
}

void ClientConnection::reset_parser() {
    llhttp_init(&parser_, HTTP_REQUEST, &ParserCallbacks::settings());
    parser_.data = this;
}

ClientConnection::~ClientConnection() {
    transfer_.reset();  // removes the easy handle from the multi
    server_.on_connection_closed(this);
}

bool ClientConnection::accept(uv_stream_t* listener) {
    uv_tcp_init(server_.loop(), &tcp_);
    uv_timer_init(server_.loop(), &timer_);
    tcp_.data = this;
    timer_.data = this;
    open_handles_ = 2;
    if (uv_accept(listener, stream()) != 0) {
        close("accept failed");
        return false;
    }
    uv_tcp_nodelay(&tcp_, 1);
    sockaddr_storage ss{};
    int len = sizeof ss;
    std::vector<uint8_t> raw;
    if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        client_address_ = format_socket_address(reinterpret_cast<const sockaddr*>(&ss));
        raw = address_bytes(reinterpret_cast<const sockaddr*>(&ss));
    }
    started_ = std::chrono::steady_clock::now();
    if (!policy::address_allowed(server_.config().allow, raw)) {
        spdlog::warn("client {} refused: not in the allow list", client_address_);
        status_ = 403;
        write(format_error_response(403, "dlproxy: your address is not allowed to use this proxy",
                                    false));
        log_access("DENIED");
        close_after_flush();
        start_reading();  // to linger and drain
        return true;
    }
    arm_timer(server_.config().client_header_timeout);
    start_reading();
    return true;
}

void ClientConnection::start_reading() {
    if (reading_ || closed_ || client_eof_) return;
    reading_ = true;
    uv_read_start(stream(), &ClientConnection::alloc_cb, &ClientConnection::read_cb);
}

void ClientConnection::stop_reading() {
    if (!reading_) return;
    reading_ = false;
    uv_read_stop(stream());
}

// All connections share one read buffer: libuv calls read_cb right after alloc_cb on the loop
// thread, and everything kept past read_cb is copied out. An idle connection so costs no
// buffer memory (1,000 idle keep-alive clients would otherwise pin 64 MiB).
void ClientConnection::alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) noexcept {
    static char shared[kReadBufferSize];
    *buf = uv_buf_init(shared, sizeof shared);
}

void ClientConnection::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
    static_cast<ClientConnection*>(stream->data)->on_read(nread, buf);
}

void ClientConnection::on_read(ssize_t nread, const uv_buf_t* buf) {
    finished_cached_.clear();
    if (closed_) return;
    if (nread < 0) {
        on_client_eof(nread);
        return;
    }
    if (nread == 0) return;
    if (lingering_) return;  // discarding input after our final response
    if (tls_) {
        on_tls_input(buf->base, static_cast<size_t>(nread));
        return;
    }
    feed(buf->base, static_cast<size_t>(nread));
}

// The client's end of the stream: a socket EOF or error, or a TLS close_notify (UV_EOF).
void ClientConnection::on_client_eof(ssize_t nread) {
    client_eof_ = true;
    stop_reading();
    if (state_ == State::Tunnel && tunnel_ && nread == UV_EOF) {
        tunnel_->client_eof();
        return;
    }
    if (lingering_ || state_ == State::Idle || state_ == State::ReadingHead || nread != UV_EOF) {
        close(nread == UV_EOF ? "client closed" : uv_strerror(static_cast<int>(nread)));
        return;
    }
    // EOF after a complete request: answer it, then close.
    if (request_complete_) {
        keep_alive_ = false;
    } else {
        close("client closed mid-request");
    }
}

void ClientConnection::feed(const char* data, size_t len) {
    if (state_ == State::Tunnel) {
        if (tunnel_) {
            tunnel_->send(data, len);
            if (tunnel_->queued() >= server_.config().high_water_mark) stop_reading();
        }
        return;
    }
    if (state_ == State::Closing) return;
    feed_begin_ = data;
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    previous_non_ws_ = last_non_whitespace(std::string_view(data, len), previous_non_ws_);
    if (err == HPE_OK) return;
    const char* stop = llhttp_get_error_pos(&parser_);
    size_t consumed = stop ? static_cast<size_t>(stop - data) : len;
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        // The request is complete: hold what follows until the response is done.
        std::string rest(data + consumed, len - consumed);
        if (err == HPE_PAUSED_UPGRADE && method_ == "CONNECT" && state_ != State::Closing) {
            start_tunnel_with(std::move(rest));
            return;
        }
        pending_input_.insert(0, rest);
        stop_reading();
        read_blocked_ = true;
        if (cached_start_pending_ && cached_) {
            cached_start_pending_ = false;
            cached_->start();  // may answer at once (a hit) and move on to the next request
        }
        return;
    }
    if (state_ == State::Closing || closed_) return;  // we already answered and stopped parsing
    if (header_too_large_) {
        send_error(431, "dlproxy: request header section exceeds max-header-size");
    } else if (obs_fold_) {
        spdlog::info("client {}: obs-fold in the request header section", client_address_);
        send_error(400, "dlproxy: malformed request: folded header line (obs-fold)");
    } else if (err == HPE_USER && url_.size() > kMaxUrlLength) {
        send_error(414, "dlproxy: request target too long");
    } else {
        spdlog::debug("client {}: malformed request: {} ({})", client_address_,
                      llhttp_errno_name(err), llhttp_get_error_reason(&parser_));
        send_error(400,
                   std::string("dlproxy: malformed request: ") + llhttp_get_error_reason(&parser_));
    }
}

bool ClientConnection::count_header_bytes(size_t len) {
    header_bytes_ += len;
    if (header_bytes_ > server_.config().max_header_size) {
        header_too_large_ = true;
        return false;
    }
    return true;
}

int ClientConnection::on_message_begin() {
    state_ = State::ReadingHead;
    started_ = std::chrono::steady_clock::now();
    arm_timer(server_.config().client_header_timeout);
    return 0;
}

int ClientConnection::on_url(const char* at, size_t len) {
    if (!count_header_bytes(len)) return -1;
    url_.append(at, len);
    return url_.size() > kMaxUrlLength ? -1 : 0;
}

int ClientConnection::on_header_field(const char* at, size_t len) {
    if (!count_header_bytes(len)) return -1;
    if (last_was_value_ || headers_.empty()) headers_.push_back({});
    headers_.back().name.append(at, len);
    last_was_value_ = false;
    return 0;
}

int ClientConnection::on_header_value(const char* at, size_t len) {
    if (!count_header_bytes(len)) return -1;
    // RFC 9112 §5.2: a server may reject obs-fold with 400; llhttp would unfold it.
    if (value_starts_folded_line(at, feed_begin_, previous_non_ws_)) {
        obs_fold_ = true;
        return -1;
    }
    headers_.back().value.append(at, len);
    last_was_value_ = true;
    return 0;
}

int ClientConnection::on_headers_complete() {
    method_ = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
    http10_ = parser_.http_major == 1 && parser_.http_minor == 0;
    keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
    for (auto& h : headers_)
        h.value = std::string(policy::trim_ows(h.value));
    if (method_ == "CONNECT") return 0;  // llhttp pauses with HPE_PAUSED_UPGRADE after this
    state_ = State::ReadingBody;
    start_forwarding();
    return state_ == State::Closing ? -1 : 0;
}

int ClientConnection::on_body(const char* at, size_t len) {
    if (state_ == State::Closing || !transfer_) return -1;
    transfer_->push_body(at, len);
    if (transfer_->body_queued() >= server_.config().high_water_mark) {
        stop_reading();
        read_blocked_ = true;
    }
    return 0;
}

int ClientConnection::on_message_complete() {
    request_complete_ = true;
    if (state_ == State::Closing) return -1;
    if (transfer_) transfer_->end_body();
    if (state_ == State::ReadingBody) state_ = State::WaitingResponse;
    if (method_ == "CONNECT") return 0;
    return HPE_PAUSED;  // hold pipelined requests until this response is complete
}

void ClientConnection::write(std::string data) {
    flush_body();  // keep the byte order: batched body bytes first
    write_raw(std::move(data));
}

void ClientConnection::write_raw(std::string data) {
    if (closed_ || data.empty()) return;
    if (tls_) {
        write_encrypted(data);
        return;
    }
    write_wire(std::move(data));
}

// One TLS record per socket write, as TLS servers usually write (nginx, OpenSSL's socket BIO).
// Together with the unsent-bytes limit set on intercepted sockets (client_intercept.cpp) this
// keeps the client's kernel from doing our transmit work: see docs/https.md, "Throughput".
void ClientConnection::write_encrypted(std::string_view plain) {
    while (!closed_ && !plain.empty()) {
        const std::string_view record = plain.substr(0, tls::TlsSession::kMaxRecordPlain);
        plain.remove_prefix(record.size());
        std::string wire;
        if (!tls_->encrypt(record, wire)) {
            spdlog::info("client {}: TLS {}", client_address_, tls_->error());
            close("TLS write failed");
            return;
        }
        write_wire(std::move(wire));
    }
}

void ClientConnection::write_wire(std::string data) {
    if (closed_ || data.empty()) return;
    auto* w = new WriteReq{{}, std::move(data), this};
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    queued_bytes_ += w->data.size();
    int rc = uv_write(&w->req, stream(), &buf, 1, [](uv_write_t* req, int status) {
        auto* w = static_cast<WriteReq*>(req->data);
        ClientConnection* self = w->conn;
        size_t size = w->data.size();
        delete w;
        self->on_write_done(size, status);
    });
    if (rc != 0) {
        queued_bytes_ -= w->data.size();
        delete w;
        close(uv_strerror(rc));
    }
}

void ClientConnection::on_write_done(size_t size, int status) {
    queued_bytes_ -= size;
    finished_cached_.clear();
    if (closed_) return;
    if (status != 0) {
        close(std::string("write failed: ") + uv_strerror(status));
        return;
    }
    const uint64_t low_water = server_.config().high_water_mark / 2;
    if (queued_bytes_ < low_water) {
        if (transfer_) {
            transfer_->resume_download();  // may deliver body bytes synchronously
            flush_body();
        }
        if (tunnel_) tunnel_->resume_reading();
        if (cached_) cached_->pump();
    }
    if (close_after_flush_ && queued_bytes_ == 0) on_flushed_for_close();
}

void ClientConnection::close_after_flush() {
    state_ = State::Closing;
    close_after_flush_ = true;
    send_tls_close_notify();
    if (queued_bytes_ == 0) on_flushed_for_close();
}

void ClientConnection::on_flushed_for_close() {
    if (lingering_ || closed_) return;
    lingering_ = true;
    // FIN first, then drain the client's unread input briefly: closing with unread data would
    // send a reset that can destroy our response in flight.
    auto* req = new uv_shutdown_t{};
    req->data = this;
    if (uv_shutdown(req, stream(), [](uv_shutdown_t* r, int) { delete r; }) != 0) {
        delete req;
        close("shutdown failed");
        return;
    }
    if (client_eof_) {
        close("response sent");
        return;
    }
    arm_timer(kLingerSeconds);
    start_reading();
}

void ClientConnection::close(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    state_ = State::Closing;
    spdlog::debug("client {}: closing: {}", client_address_, reason);
    if (!logged_ && !method_.empty()) log_access("ABORTED");
    if (transfer_) transfer_->detach();  // freed in the destructor, outside curl callbacks
    retire_cached();
    if (tunnel_) {
        tunnel_->abandon();
        tunnel_ = nullptr;
    }
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &ClientConnection::close_cb);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &ClientConnection::close_cb);
}

void ClientConnection::close_cb(uv_handle_t* handle) noexcept {
    auto* self = static_cast<ClientConnection*>(handle->data);
    if (--self->open_handles_ == 0) delete self;
}

void ClientConnection::drain() {
    drain_requested_ = true;
    keep_alive_ = false;
    if (state_ == State::Idle || (state_ == State::ReadingHead && header_bytes_ == 0))
        close("shutting down");
}

void ClientConnection::refuse_overloaded() {
    if (closed_ || close_after_flush_) return;
    status_ = 503;
    head_sent_ = true;
    write(format_error_response(503, "dlproxy: too many connections, try again later", false));
    log_access("DENIED");
    close_after_flush();
}

void ClientConnection::log_access(std::string_view result) {
    if (logged_) return;
    logged_ = true;
    AccessRecord r;
    r.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    r.client = client_address_;
    r.result = result;
    r.status = status_;
    r.bytes = body_bytes_;
    r.method = method_;
    r.url = url_;
    r.upstream = upstream_address_;
    server_.access_log().write(r);
    if (auto result = request_result_from_string(r.result)) metrics().requests(*result).inc();
    metrics().bytes_to_clients.add(r.bytes);
}

}  // namespace proxy
