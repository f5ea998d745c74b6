// ClientConnection: lifecycle, reading and parsing, writing, timers.
// Forwarding, responses and tunnels are in client_forwarding.cpp.
#include "proxy/client/client_connection.h"

#include <spdlog/spdlog.h>

#include "policy/address_list.h"
#include "proxy/admin/metrics.h"
#include "proxy/client/tunnel.h"
#include "proxy/http1/response_head.h"
#include "proxy/loop/socket_address.h"
#include "proxy/server.h"
#include "proxy/tls/tls_session.h"

namespace proxy {

namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
// After a final response on a closing connection, how long unread input is drained so the
// client sees our response instead of a reset.
constexpr double kLingerSeconds = 2.0;

}  // namespace

struct WriteReq {
    uv_write_t req;
    std::string data;
    ClientConnection* conn;
};

ClientConnection::ClientConnection(Server& server)
    : server_(server), parser_(*this, {.max_head_bytes = server.config().max_header_size}) {}

ClientConnection::~ClientConnection() {
    pass_.transfer.reset();  // removes the easy handle from the multi
}

bool ClientConnection::accept(uv_stream_t* listener) {
    uv_tcp_init(server_.loop(), &socket_.tcp);
    deadline_.init<ClientConnection, &ClientConnection::on_deadline>(server_.loop(), this);
    deferred_.init<ClientConnection, &ClientConnection::on_deferred>(server_.loop(), this);
    socket_.tcp.data = this;
    open_handles_ = 3;
    if (uv_accept(listener, stream()) != 0) {
        close("accept failed");
        return false;
    }
    uv_tcp_nodelay(&socket_.tcp, 1);
    sockaddr_storage ss{};
    int len = sizeof ss;
    std::vector<uint8_t> raw;
    if (uv_tcp_getpeername(&socket_.tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        socket_.peer = format_socket_address(reinterpret_cast<const sockaddr*>(&ss));
        raw = address_bytes(reinterpret_cast<const sockaddr*>(&ss));
    }
    exchange_.started = std::chrono::steady_clock::now();
    if (!policy::address_allowed(server_.config().allow, raw)) {
        spdlog::warn("client {} refused: not in the allow list", socket_.peer);
        exchange_.status = 403;
        write(http1::format_error_response(
            403, "dlproxy: your address is not allowed to use this proxy", false));
        log_access(RequestResult::Denied);
        close_after_flush();
        start_reading();  // to linger and drain
        return true;
    }
    arm_deadline(Deadline::NextRequest, server_.config().client_header_timeout);
    start_reading();
    return true;
}

void ClientConnection::start_reading() {
    if (socket_.reading || socket_.closed || socket_.eof) return;
    socket_.reading = true;
    uv_read_start(stream(), &ClientConnection::alloc_cb, &ClientConnection::read_cb);
}

void ClientConnection::stop_reading() {
    if (!socket_.reading) return;
    socket_.reading = false;
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
    if (socket_.closed) return;
    if (nread < 0) {
        on_client_eof(nread);
        return;
    }
    if (nread == 0) return;
    if (socket_.lingering) return;  // discarding input after our final response
    if (connect_.tls) {
        on_tls_input(buf->base, static_cast<size_t>(nread));
        return;
    }
    feed(buf->base, static_cast<size_t>(nread));
}

// The client's end of the stream: a socket EOF or error, or a TLS close_notify (UV_EOF).
void ClientConnection::on_client_eof(ssize_t nread) {
    socket_.eof = true;
    stop_reading();
    if (state_ == State::Tunnel && connect_.tunnel && nread == UV_EOF) {
        connect_.tunnel->client_eof();
        return;
    }
    if (socket_.lingering || state_ == State::Idle || state_ == State::ReadingHead ||
        nread != UV_EOF) {
        close(nread == UV_EOF ? "client closed" : uv_strerror(static_cast<int>(nread)));
        return;
    }
    // EOF after a complete request: answer it, then close.
    if (parser_.message_complete()) {
        response_.end_connection();
    } else {
        close("client closed mid-request");
    }
}

void ClientConnection::feed(const char* data, size_t len) {
    if (state_ == State::Tunnel) {
        if (connect_.tunnel) {
            connect_.tunnel->send(data, len);
            if (connect_.tunnel->queued() >= server_.config().high_water_mark) stop_reading();
        }
        return;
    }
    if (state_ == State::Closing) return;
    on_parsed(parser_.feed(data, len));
}

void ClientConnection::on_parsed(http1::ParseStatus status) {
    switch (status) {
        case http1::ParseStatus::NeedMore:
            return;
        case http1::ParseStatus::Upgrade:
            if (auth_hold_) {
                auth_hold_->upgrade = true;  // the tunnel starts once the client is allowed
                return;
            }
            if (state_ != State::Closing) start_tunnel_with(parser_.take_pending());
            return;
        case http1::ParseStatus::Complete:
            // Whatever follows waits in the parser until the response is done.
            stop_reading();
            socket_.read_blocked = true;
            if (exchange_.cached_start_pending && exchange_.cached) {
                exchange_.cached_start_pending = false;
                exchange_.cached
                    ->start();  // may answer at once (a hit) and move on to the next request
            }
            return;
        case http1::ParseStatus::Error:
            break;
    }
    if (state_ == State::Closing || socket_.closed)
        return;  // we already answered and stopped parsing
    const http1::RequestError error = parser_.error();
    if (exchange_.url.empty())
        exchange_.url = parser_.head().url;  // the access log shows what was read
    if (error == http1::RequestError::ObsFold)
        spdlog::info("client {}: obs-fold in the request header section", socket_.peer);
    else if (error == http1::RequestError::Malformed || error == http1::RequestError::Refused)
        spdlog::debug("client {}: {}", socket_.peer, parser_.error_message());
    send_error(http1::status_code(error), "dlproxy: " + parser_.error_message());
}

void ClientConnection::on_request_begin() {
    state_ = State::ReadingHead;
    exchange_.started = std::chrono::steady_clock::now();
    arm_deadline(Deadline::NextRequest, server_.config().client_header_timeout);
}

bool ClientConnection::on_request_head(const http1::RequestHead& head) {
    exchange_.method = head.method;
    exchange_.url = head.url;
    response_.start(head.method, head.http10(), head.keep_alive);
    if (server_.proxy_auth() && !authorize(head)) return state_ != State::Closing;
    if (exchange_.method == "CONNECT")
        return true;  // the parser stops after it: on_parsed(Upgrade)
    state_ = State::ReadingBody;
    start_forwarding();
    return state_ != State::Closing;
}

bool ClientConnection::on_request_body(const char* data, size_t size) {
    if (auth_hold_) {
        auth_hold_->body.append(data, size);
        return true;
    }
    if (state_ == State::Closing || !pass_.transfer) return false;
    pass_.transfer->push_body(data, size);
    if (pass_.transfer->body_queued() >= server_.config().high_water_mark) {
        stop_reading();
        socket_.read_blocked = true;
    }
    return true;
}

bool ClientConnection::on_request_complete() {
    if (auth_hold_) {
        auth_hold_->complete = true;
        return true;
    }
    if (state_ == State::Closing) return false;
    if (pass_.transfer) pass_.transfer->end_body();
    if (state_ == State::ReadingBody) state_ = State::WaitingResponse;
    return true;
}

void ClientConnection::write(std::string data) {
    response_.flush();  // keep the byte order: batched body bytes first
    write_raw(std::move(data));
}

void ClientConnection::write_raw(std::string data) {
    if (socket_.closed || data.empty()) return;
    if (connect_.tls) {
        write_encrypted(data);
        return;
    }
    write_wire(std::move(data));
}

// One TLS record per socket write, as TLS servers usually write (nginx, OpenSSL's socket BIO).
// Together with the unsent-bytes limit set on intercepted sockets (client_intercept.cpp) this
// keeps the client's kernel from doing our transmit work: see docs/https.md, "Throughput".
void ClientConnection::write_encrypted(std::string_view plain) {
    while (!socket_.closed && !plain.empty()) {
        const std::string_view record = plain.substr(0, tls::TlsSession::kMaxRecordPlain);
        plain.remove_prefix(record.size());
        std::string wire;
        if (!connect_.tls->encrypt(record, wire)) {
            spdlog::info("client {}: TLS {}", socket_.peer, connect_.tls->error());
            close("TLS write failed");
            return;
        }
        write_wire(std::move(wire));
    }
}

void ClientConnection::write_wire(std::string data) {
    if (socket_.closed || data.empty()) return;
    auto* w = new WriteReq{{}, std::move(data), this};
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    socket_.queued_bytes += w->data.size();
    int rc = uv_write(&w->req, stream(), &buf, 1, [](uv_write_t* req, int status) {
        auto* w = static_cast<WriteReq*>(req->data);
        ClientConnection* self = w->conn;
        size_t size = w->data.size();
        delete w;
        self->on_write_done(size, status);
    });
    if (rc != 0) {
        socket_.queued_bytes -= w->data.size();
        delete w;
        close(uv_strerror(rc));
    }
}

void ClientConnection::on_write_done(size_t size, int status) {
    socket_.queued_bytes -= size;
    finished_cached_.clear();
    if (socket_.closed) return;
    if (status != 0) {
        close(std::string("write failed: ") + uv_strerror(status));
        return;
    }
    const uint64_t low_water = server_.config().high_water_mark / 2;
    if (socket_.queued_bytes < low_water) {
        if (pass_.running()) {
            // May deliver body bytes synchronously.
            if (pass_.transfer) pass_.transfer->resume_download();
            if (pass_.resume) pass_.resume->resume_download();
            response_.flush();
        }
        if (connect_.tunnel) connect_.tunnel->resume_reading();
        if (exchange_.cached) exchange_.cached->pump();
    }
    if (socket_.close_after_flush && socket_.queued_bytes == 0) on_flushed_for_close();
}

void ClientConnection::close_after_flush() {
    state_ = State::Closing;
    socket_.close_after_flush = true;
    send_tls_close_notify();
    if (socket_.queued_bytes == 0) on_flushed_for_close();
}

void ClientConnection::on_flushed_for_close() {
    if (socket_.lingering || socket_.closed) return;
    socket_.lingering = true;
    // FIN first, then drain the client's unread input briefly: closing with unread data would
    // send a reset that can destroy our response in flight.
    auto* req = new uv_shutdown_t{};
    req->data = this;
    if (uv_shutdown(req, stream(), [](uv_shutdown_t* r, int) { delete r; }) != 0) {
        delete req;
        close("shutdown failed");
        return;
    }
    if (socket_.eof) {
        close("response sent");
        return;
    }
    arm_deadline(Deadline::Linger, kLingerSeconds);
    start_reading();
}

void ClientConnection::close(std::string_view reason) {
    if (socket_.closed) return;
    socket_.closed = true;
    state_ = State::Closing;
    spdlog::debug("client {}: closing: {}", socket_.peer, reason);
    if (!exchange_.logged && !exchange_.method.empty()) log_access(RequestResult::Aborted);
    if (pass_.transfer)
        pass_.transfer->detach();  // freed in the destructor, outside curl callbacks
    finish_xorb_capture();         // what arrived of a xorb answer is stored
    if (pass_.resume) pass_.resume->stop();
    retire_cached();
    if (connect_.tunnel) {
        connect_.tunnel->abandon();
        connect_.tunnel = nullptr;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&socket_.tcp), &ClientConnection::close_cb);
    deadline_.close(&ClientConnection::close_cb);
    deferred_.close(&ClientConnection::close_cb);
}

void ClientConnection::close_cb(uv_handle_t* handle) noexcept {
    auto* self = static_cast<ClientConnection*>(handle->data);
    if (--self->open_handles_ > 0) return;
    // The server hears of it only once every member is gone: the last connection's close may
    // end a shutdown, which closes the fetches that members (finished cached responses, a
    // resume) still detach from in their destructors.
    Server& server = self->server_;
    server.forget_connection(self);
    delete self;
    server.on_connection_gone();
}

void ClientConnection::drain() {
    drain_requested_ = true;
    response_.end_connection();
    if (state_ == State::Idle || (state_ == State::ReadingHead && parser_.head_bytes() == 0))
        close("shutting down");
}

void ClientConnection::refuse_overloaded() {
    if (socket_.closed || socket_.close_after_flush) return;
    exchange_.status = 503;
    exchange_.head_sent = true;
    write(
        http1::format_error_response(503, "dlproxy: too many connections, try again later", false));
    log_access(RequestResult::Denied);
    close_after_flush();
}

void ClientConnection::log_access(RequestResult result) {
    if (exchange_.logged) return;
    exchange_.logged = true;
    AccessRecord r;
    r.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              exchange_.started)
                        .count();
    r.client = socket_.peer;
    r.result = to_string(result);  // words only at the edge: the log line and its label
    r.status = exchange_.status;
    r.bytes = exchange_.body_bytes;
    r.method = exchange_.method;
    r.url = exchange_.url;
    r.upstream = exchange_.upstream_address;
    server_.access_log().write(r);
    metrics().requests(result).inc();
    metrics().bytes_to_clients.add(r.bytes);
}

}  // namespace proxy
