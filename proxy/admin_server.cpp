#include "proxy/admin_server.h"

#include <llhttp.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "proxy/admin_api.h"

namespace proxy {

// One admin connection: read one request, answer it, shut down the write side, wait for the
// client's EOF (so unread request bytes never turn our close into a reset that eats the answer),
// close. Heap-allocated; deletes itself once both of its handles have closed.
//
// close() is reached from: a read error or EOF (on_read), a parse error (on_read), the deadline
// timer (on_timeout), a failed write or shutdown, and AdminServer::stop().
class AdminConnection {
  public:
    explicit AdminConnection(AdminServer& server);
    bool accept(uv_stream_t* listener);
    void close();

  private:
    static constexpr size_t kMaxHead = 16 << 10;
    static constexpr size_t kMaxBody = 64 << 10;
    static constexpr uint64_t kDeadlineMs = 10'000;
    static constexpr uint64_t kLingerMs = 2'000;

    static AdminConnection* self(llhttp_t* p) { return static_cast<AdminConnection*>(p->data); }
    static const llhttp_settings_t& settings();
    static void alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept;
    static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
    static void write_cb(uv_write_t* req, int status) noexcept;
    static void shutdown_cb(uv_shutdown_t* req, int status) noexcept;
    static void timeout_cb(uv_timer_t* t) noexcept;
    static void close_cb(uv_handle_t* h) noexcept;

    void on_read(ssize_t n, const uv_buf_t* buf);
    int on_head_bytes(size_t n);
    int on_message_complete();
    void respond(const AdminResponse& response, bool head_only);

    AdminServer& server_;
    uv_tcp_t tcp_{};
    uv_timer_t timer_{};
    uv_write_t write_req_{};
    uv_shutdown_t shutdown_req_{};
    llhttp_t parser_{};
    std::array<char, 16 << 10> read_buf_{};
    size_t head_bytes_ = 0;
    std::string field_, value_, target_, authorization_, body_, out_;
    bool responded_ = false;
    bool closing_ = false;
    int open_handles_ = 0;
};

namespace {

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Content Too Large";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Unknown";
    }
}

std::string sockaddr_text(const sockaddr_storage& ss) {
    char host[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        uv_ip4_name(in, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(in6, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
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

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

// --- AdminServer ---------------------------------------------------------------------------------

AdminServer::AdminServer(uv_loop_t* loop, const policy::HostPort& listen, AdminApi& api)
    : loop_(loop), listen_(listen), api_(api) {
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
}

AdminServer::~AdminServer() = default;

void AdminServer::start() {
    sockaddr_storage addr{};
    int rc = listen_.ipv6_literal ? uv_ip6_addr(listen_.host.c_str(), listen_.port,
                                                reinterpret_cast<sockaddr_in6*>(&addr))
                                  : uv_ip4_addr(listen_.host.c_str(), listen_.port,
                                                reinterpret_cast<sockaddr_in*>(&addr));
    if (rc == 0) rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, &on_connection_cb);
    if (rc != 0) {
        throw std::runtime_error("cannot listen on " + listen_.to_string() +
                                 " (admin endpoint): " + uv_strerror(rc));
    }
    listening_ = true;
    // Like the proxy's own `listening on` line: fixed, parseable, printed whatever the log level.
    if (spdlog::should_log(spdlog::level::info))
        spdlog::info("admin endpoint on {}", listen_address());
    else
        std::fprintf(stderr, "admin endpoint on %s\n", listen_address().c_str());
}

std::string AdminServer::listen_address() const {
    sockaddr_storage ss{};
    int len = sizeof ss;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&ss), &len);
    return sockaddr_text(ss);
}

void AdminServer::stop() {
    if (stopped_) return;
    stopped_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    // Copy: close() erases from the set when its handles close, which is later, but be safe.
    std::vector<AdminConnection*> open(connections_.begin(), connections_.end());
    for (auto* c : open)
        c->close();
}

void AdminServer::on_connection_cb(uv_stream_t* listener, int status) noexcept {
    static_cast<AdminServer*>(listener->data)->on_connection(status);
}

void AdminServer::on_connection(int status) {
    if (status < 0) {
        spdlog::warn("admin accept: {}", uv_strerror(status));
        return;
    }
    if (stopped_) return;
    auto* conn = new AdminConnection(*this);
    connections_.insert(conn);
    conn->accept(reinterpret_cast<uv_stream_t*>(&listener_));
}

// --- AdminConnection: accept and read ----------------------------------------------------------

AdminConnection::AdminConnection(AdminServer& server) : server_(server) {
    uv_tcp_init(server_.loop(), &tcp_);
    uv_timer_init(server_.loop(), &timer_);
    tcp_.data = timer_.data = write_req_.data = shutdown_req_.data = this;
    open_handles_ = 2;
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
}

const llhttp_settings_t& AdminConnection::settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_url = [](llhttp_t* p, const char* at, size_t n) {
            self(p)->target_.append(at, n);
            return self(p)->on_head_bytes(n);
        };
        st.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
            self(p)->field_.append(at, n);
            return self(p)->on_head_bytes(n);
        };
        st.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
            self(p)->value_.append(at, n);
            return self(p)->on_head_bytes(n);
        };
        st.on_header_value_complete = [](llhttp_t* p) {
            auto* c = self(p);
            if (policy::iequals(c->field_, "Authorization")) c->authorization_ = c->value_;
            c->field_.clear();
            c->value_.clear();
            return 0;
        };
        st.on_headers_complete = [](llhttp_t* p) {
            auto* c = self(p);
            if ((p->flags & F_CONTENT_LENGTH) && p->content_length > kMaxBody) {
                c->respond(AdminResponse::error(413, "request body too large"), false);
                return -1;
            }
            return 0;
        };
        st.on_body = [](llhttp_t* p, const char* at, size_t n) {
            auto* c = self(p);
            if (c->body_.size() + n > kMaxBody) {
                c->respond(AdminResponse::error(413, "request body too large"), false);
                return -1;
            }
            c->body_.append(at, n);
            return 0;
        };
        st.on_message_complete = [](llhttp_t* p) { return self(p)->on_message_complete(); };
        return st;
    }();
    return s;
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
        // EOF after our answer is the normal end; before it, the client gave up.
        close();
        return;
    }
    if (responded_) return;  // bytes after the request (or after a 413): read and dropped
    llhttp_errno_t err = llhttp_execute(&parser_, buf->base, static_cast<size_t>(n));
    if (err == HPE_OK || err == HPE_PAUSED || responded_) return;
    spdlog::debug("admin: malformed request: {}", llhttp_get_error_reason(&parser_));
    respond(AdminResponse::error(
                400, std::string("malformed request: ") + llhttp_get_error_reason(&parser_)),
            false);
}

int AdminConnection::on_head_bytes(size_t n) {
    head_bytes_ += n;
    if (head_bytes_ <= kMaxHead) return 0;
    respond(AdminResponse::error(413, "request head too large"), false);
    return -1;
}

int AdminConnection::on_message_complete() {
    AdminRequest request;
    request.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
    request.target = std::move(target_);
    request.authorization = std::move(authorization_);
    request.body = std::move(body_);
    sockaddr_storage peer{};
    int len = sizeof peer;
    if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer), &len) == 0)
        request.peer = address_bytes(peer);
    AdminResponse response;
    try {
        response = server_.api().handle(request, now_seconds());
    } catch (const std::exception& e) {  // no exception may cross into libuv
        response = AdminResponse::error(500, std::string("internal error: ") + e.what());
    }
    auto level = request.method == "POST" ? spdlog::level::info : spdlog::level::debug;
    spdlog::log(level, "admin: {} {} from {}: {}", request.method, request.target,
                sockaddr_text(peer), response.status);
    respond(response, request.method == "HEAD");
    return HPE_PAUSED;  // one request per connection: ignore anything after it
}

// --- AdminConnection: answer and close -----------------------------------------------------------

void AdminConnection::respond(const AdminResponse& response, bool head_only) {
    if (responded_ || closing_) return;
    responded_ = true;
    out_ = "HTTP/1.1 " + std::to_string(response.status) + " " +
           std::string(reason_phrase(response.status)) + "\r\n";
    out_ += "Content-Type: " + response.content_type + "\r\n";
    out_ += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    out_ += "Cache-Control: no-store\r\nConnection: close\r\n";
    for (const auto& h : response.headers)
        out_ += h.name + ": " + h.value + "\r\n";
    out_ += "\r\n";
    if (!head_only) out_ += response.body;
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, &write_cb);
    if (rc != 0) close();
}

void AdminConnection::write_cb(uv_write_t* req, int status) noexcept {
    auto* c = static_cast<AdminConnection*>(req->data);
    if (status < 0 || c->closing_) {
        c->close();
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
