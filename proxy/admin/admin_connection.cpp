#include "proxy/admin/admin_connection.h"

#include "proxy/loop/socket_address.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <utility>

#include "proxy/admin/admin_api.h"
#include "proxy/admin/admin_server.h"
#include "proxy/http1/response_head.h"
#include "proxy/loop/clock.h"
#include "proxy/loop/worker.h"

namespace proxy {

namespace {

AdminResponse internal_error(const std::exception& e) {
    return AdminResponse::error(500, std::string("internal error: ") + e.what());
}

std::vector<uint8_t> address_bytes(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        auto* p = reinterpret_cast<const uint8_t*>(&in->sin_addr);
        return {p, p + 4};
    }
    if (ss.ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        auto* p = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
        return {p, p + 16};
    }
    return {};
}

}  // namespace

// --- AdminConnection: accept and read ----------------------------------------------------------

// The URL counts towards the head; it has no limit of its own.
AdminConnection::AdminConnection(AdminServer& server)
    : server_(server), parser_(*this, {.max_head_bytes = kMaxHead, .max_url_length = kMaxHead}) {
    uv_tcp_init(server_.loop(), &tcp_);
    uv_timer_init(server_.loop(), &timer_);
    tcp_.data = timer_.data = write_req_.data = shutdown_req_.data = this;
    open_handles_ = 2;
}

bool AdminConnection::accept(uv_stream_t* listener) {
    int rc = uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_));
    if (rc == 0) rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &alloc_cb, &read_cb);
    if (rc != 0) {
        spdlog::warn("admin accept: {}", uv_strerror(rc));
        close();
        return false;
    }
    uv_timer_start(&timer_, &timeout_cb, kDeadlineMs, 0);
    return true;
}

void AdminConnection::alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* c = static_cast<AdminConnection*>(h->data);
    *buf = uv_buf_init(c->read_buf_.data(), static_cast<unsigned>(c->read_buf_.size()));
}

void AdminConnection::read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept {
    static_cast<AdminConnection*>(s->data)->on_read(n, buf);
}

void AdminConnection::on_read(ssize_t n, const uv_buf_t* buf) {
    if (n == 0 || closing_) return;
    if (n < 0) {
        // A client may half-close right after its request (shutdown(SHUT_WR)): closing now would
        // cancel the answer still being written, so write_cb closes instead. Otherwise EOF after
        // our answer is the normal end, and before it the client gave up. The same while a
        // worker prepares the answer (working_).
        if (n == UV_EOF && (working_ || (responded_ && !written_))) {
            peer_eof_ = true;
            return;
        }
        close();
        return;
    }
    if (responded_) return;  // bytes after the request (or after a 413): read and dropped
    if (parser_.feed(buf->base, static_cast<size_t>(n)) != http1::ParseStatus::Error || responded_)
        return;
    if (parser_.error() == http1::RequestError::HeaderTooLarge) {
        respond(AdminResponse::error(413, "request head too large"), false);
        return;
    }
    spdlog::debug("admin: {}", parser_.error_message());
    respond(AdminResponse::error(400, parser_.error_message()), false);
}

bool AdminConnection::on_request_head(const http1::RequestHead& head) {
    if (head.content_length > kMaxBody) {
        respond(AdminResponse::error(413, "request body too large"), false);
        return false;
    }
    return true;
}

bool AdminConnection::on_request_body(const char* data, size_t size) {
    if (body_.size() + size > kMaxBody) {
        respond(AdminResponse::error(413, "request body too large"), false);
        return false;
    }
    body_.append(data, size);
    return true;
}

// One request per connection: the parser pauses after it, and anything later is ignored.
bool AdminConnection::on_request_complete() {
    const http1::RequestHead& head = parser_.head();
    AdminRequest request;
    request.method = head.method;
    request.target = head.url;
    for (const auto& h : head.headers)  // the last one, should a client send several
        if (policy::iequals(h.name, "Authorization")) request.authorization = h.value;
    request.body = std::move(body_);
    sockaddr_storage peer{};
    int len = sizeof peer;
    if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer), &len) == 0)
        request.peer = address_bytes(peer);
    std::string from = format_socket_address(reinterpret_cast<const sockaddr*>(&peer));
    AdminReply reply{AdminResponse{}};
    try {
        reply = server_.api().route(request, wall_seconds_f());
    } catch (const std::exception& e) {  // no exception may cross into libuv
        reply = internal_error(e);
    }
    if (reply.blocking) {
        run_blocking(std::move(reply.blocking), request, from);
        return true;
    }
    AdminResponse& response = reply.response;
    if (response.event_stream) {  // GET /events: the socket becomes an EventStream's
        spdlog::debug("admin: {} {} from {}: {}", request.method, request.target, from,
                      response.status);
        if (server_.start_event_stream(tcp_)) {
            close();
            return true;
        }
        response = AdminResponse::error(503, "too many event streams; try again later");
    }
    answer(request, from, response);
    return true;
}

void AdminConnection::run_blocking(std::function<AdminResponse()> work, const AdminRequest& request,
                                   const std::string& from) {
    // The request deadline covers reading it, not the work: a purge of a large cache may take
    // longer, and was never cut short while it ran on the loop either.
    uv_timer_stop(&timer_);
    working_ = true;
    auto response = std::make_shared<AdminResponse>();
    std::weak_ptr<bool> alive = alive_;
    bool queued = run_on_worker(
        server_.loop(),
        [work = std::move(work), response] {
            try {
                *response = work();
            } catch (const std::exception& e) {
                *response = internal_error(e);
            }
        },
        [this, alive, response, request, from] {
            if (alive.expired()) return;  // the connection closed (shutdown) meanwhile
            working_ = false;
            answer(request, from, *response);
        });
    if (!queued) {
        working_ = false;
        answer(request, from, AdminResponse::error(503, "cannot queue the cache work"));
    }
}

void AdminConnection::answer(const AdminRequest& request, const std::string& from,
                             const AdminResponse& response) {
    auto level = request.method == "POST" ? spdlog::level::info : spdlog::level::debug;
    spdlog::log(level, "admin: {} {} from {}: {}", request.method, request.target, from,
                response.status);
    respond(response, request.method == "HEAD");
}

// --- AdminConnection: answer and close -----------------------------------------------------------

void AdminConnection::respond(const AdminResponse& response, bool head_only) {
    if (responded_ || closing_) return;
    responded_ = true;
    policy::HeaderList headers = {{"Content-Type", response.content_type},
                                  {"Content-Length", std::to_string(response.body.size())},
                                  {"Cache-Control", "no-store"},
                                  {"Connection", "close"}};
    headers.insert(headers.end(), response.headers.begin(), response.headers.end());
    out_ = http1::format_response_head(response.status, "", headers);
    if (!head_only) out_ += response.body;
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, &write_cb);
    if (rc != 0) close();
}

void AdminConnection::write_cb(uv_write_t* req, int status) noexcept {
    auto* c = static_cast<AdminConnection*>(req->data);
    c->written_ = true;
    if (status < 0 || c->closing_ || c->peer_eof_) {
        c->close();  // the answer is with the kernel, which sends it before the FIN
        return;
    }
    int rc = uv_shutdown(&c->shutdown_req_, reinterpret_cast<uv_stream_t*>(&c->tcp_), &shutdown_cb);
    if (rc != 0) {
        c->close();
        return;
    }
    // Wait for the client's EOF, but not for long.
    uv_timer_start(&c->timer_, &timeout_cb, kLingerMs, 0);
}

void AdminConnection::shutdown_cb(uv_shutdown_t* req, int status) noexcept {
    if (status < 0) static_cast<AdminConnection*>(req->data)->close();
}

void AdminConnection::timeout_cb(uv_timer_t* t) noexcept {
    static_cast<AdminConnection*>(t->data)->close();
}

void AdminConnection::close() {
    if (closing_) return;
    closing_ = true;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &close_cb);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &close_cb);
}

void AdminConnection::close_cb(uv_handle_t* h) noexcept {
    auto* c = static_cast<AdminConnection*>(h->data);
    if (--c->open_handles_ > 0) return;
    c->server_.on_connection_closed(c);
    delete c;
}

}  // namespace proxy
