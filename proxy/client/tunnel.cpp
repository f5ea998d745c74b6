#include "proxy/client/tunnel.h"

#include <spdlog/spdlog.h>

#include "proxy/client/client_connection.h"
#include "proxy/loop/socket_address.h"

namespace proxy {

struct TunnelWrite {
    uv_write_t req;
    std::string data;
    Tunnel* tunnel;
};

Tunnel::Tunnel(ClientConnection& conn, uv_loop_t* loop, policy::HostPort target,
               uint64_t high_water_mark, double connect_timeout, const UpstreamRoute* route)
    : conn_(&conn),
      loop_(loop),
      target_(std::move(target)),
      high_water_mark_(high_water_mark),
      connect_timeout_(connect_timeout),
      route_(route) {
    resolve_req_.data = this;
    connect_req_.data = this;
    tcp_.data = this;
    timer_.data = this;
    uv_timer_init(loop_, &timer_);
    ++pending_;  // the timer handle
}

void Tunnel::start(std::string early_data) {
    early_data_ = std::move(early_data);
    uv_timer_start(&timer_, &Tunnel::on_timeout_cb, static_cast<uint64_t>(connect_timeout_ * 1000),
                   0);
    if (route_) {
        hop_ = route_->tunnel_hop(target_);
    } else {
        hop_.host = target_.host;
        hop_.port = target_.port;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (hop_.numeric) hints.ai_flags = AI_NUMERICHOST;  // pinned by --resolve: no DNS
    std::string port = std::to_string(hop_.port);
    int rc = uv_getaddrinfo(loop_, &resolve_req_, &Tunnel::on_resolved_cb, hop_.host.c_str(),
                            port.c_str(), &hints);
    if (rc != 0) {
        fail(502, "cannot resolve " + hop_.host + ": " + uv_strerror(rc));
        return;
    }
    ++pending_;
}

void Tunnel::on_resolved_cb(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    auto* self = static_cast<Tunnel*>(req->data);
    --self->pending_;
    self->on_resolved(status, res);
    self->maybe_free();
}

void Tunnel::on_resolved(int status, addrinfo* res) {
    if (closed_) {
        if (res) uv_freeaddrinfo(res);
        return;
    }
    if (status != 0) {
        fail(502, "cannot resolve " + hop_.host + ": " + uv_strerror(status));
        return;
    }
    addresses_ = res;
    next_address_ = res;
    connect_next();
}

void Tunnel::connect_next() {
    while (next_address_) {
        addrinfo* ai = next_address_;
        next_address_ = ai->ai_next;
        if (tcp_open_) {
            // A previous address failed: its handle must be closed before trying the next one.
            uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Tunnel::on_closed_cb);
            tcp_open_ = false;
            next_address_ = ai;  // retried from on_closed_cb
            return;
        }
        uv_tcp_init(loop_, &tcp_);
        tcp_.data = this;
        tcp_open_ = true;
        ++pending_;
        peer_ = format_socket_address(ai->ai_addr);
        if (uv_tcp_connect(&connect_req_, &tcp_, ai->ai_addr, &Tunnel::on_connect_cb) == 0) {
            ++pending_;
            return;
        }
    }
    std::string where = hop_.parent_connect.empty()
                            ? target_.to_string()
                            : "the parent proxy " + route_->parent_for_log();
    fail(502, "cannot connect to " + where + ": " +
                  (last_error_ ? uv_strerror(last_error_) : "no address"));
}

void Tunnel::on_connect_cb(uv_connect_t* req, int status) noexcept {
    auto* self = static_cast<Tunnel*>(req->data);
    --self->pending_;
    self->on_connect(status);
    self->maybe_free();
}

void Tunnel::on_connect(int status) {
    if (closed_) return;
    if (status != 0) {
        last_error_ = status;
        connect_next();
        return;
    }
    if (addresses_) {
        uv_freeaddrinfo(addresses_);
        addresses_ = next_address_ = nullptr;
    }
    uv_tcp_nodelay(&tcp_, 1);
    if (hop_.parent_connect.empty()) {
        on_established();
        return;
    }
    // RFC 9110 §9.3.6: ask the parent for a tunnel; the connect timer keeps running until it
    // answers.
    std::string request =
        "CONNECT " + hop_.parent_connect + " HTTP/1.1\r\nHost: " + hop_.parent_connect + "\r\n";
    if (!hop_.parent_authorization.empty())
        request += "Proxy-Authorization: " + hop_.parent_authorization + "\r\n";
    write_upstream(request + "\r\n");
    awaiting_parent_ = true;
    reading_ = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Tunnel::alloc_cb, &Tunnel::read_cb);
}

void Tunnel::on_established() {
    connected_ = true;
    uv_timer_stop(&timer_);
    spdlog::debug("tunnel to {} ({}{}) established", target_.to_string(), peer_,
                  hop_.parent_connect.empty() ? "" : ", parent proxy");
    if (!early_data_.empty()) {
        send(early_data_.data(), early_data_.size());
        early_data_.clear();
    }
    if (conn_) conn_->on_tunnel_established();
    resume_reading();
}

// The parent's answer to CONNECT: a 2xx head opens the tunnel (bytes after it are the target's);
// anything else fails it with the parent's status line.
void Tunnel::on_parent_answer(const char* data, size_t size) {
    parent_answer_.append(data, size);
    size_t end = parent_answer_.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (parent_answer_.size() > 16 * 1024)
            fail(502, "the parent proxy's answer to CONNECT is too long");
        return;
    }
    std::string status_line = parent_answer_.substr(0, parent_answer_.find("\r\n"));
    bool ok =
        status_line.size() >= 12 && status_line.starts_with("HTTP/1.") && status_line[9] == '2';
    if (!ok) {
        fail(502, "the parent proxy " + route_->parent_for_log() + " refused CONNECT " +
                      hop_.parent_connect + ": " + status_line);
        return;
    }
    std::string rest = parent_answer_.substr(end + 4);
    parent_answer_.clear();
    awaiting_parent_ = false;
    on_established();
    if (!rest.empty() && conn_) {
        bytes_down_ += rest.size();
        if (!conn_->tunnel_write(rest.data(), rest.size())) pause_reading();
    }
}

void Tunnel::send(const char* data, size_t size) {
    if (closed_ || !connected_) {
        if (!closed_) early_data_.append(data, size);
        return;
    }
    bytes_up_ += size;
    write_upstream(std::string(data, size));
}

void Tunnel::write_upstream(std::string data) {
    auto* w = new TunnelWrite{{}, std::move(data), this};
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    queued_ += w->data.size();
    ++pending_;
    uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
             [](uv_write_t* req, int status) {
                 auto* w = static_cast<TunnelWrite*>(req->data);
                 Tunnel* self = w->tunnel;
                 size_t n = w->data.size();
                 delete w;
                 --self->pending_;
                 self->on_write_done(n, status);
                 self->maybe_free();
             });
}

void Tunnel::on_write_done(size_t size, int status) {
    uint64_t before = queued_;
    queued_ -= size;
    if (closed_) return;
    if (status != 0) {
        finish();
        return;
    }
    if (before >= high_water_mark_ && queued_ < high_water_mark_ / 2 && conn_)
        conn_->resume_client_reading();
    if (connected_ && client_eof_ && queued_ == 0) {
        auto* req = new uv_shutdown_t{};
        req->data = this;
        ++pending_;
        uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&tcp_), [](uv_shutdown_t* r, int) {
            auto* self = static_cast<Tunnel*>(r->data);
            delete r;
            --self->pending_;
            self->maybe_free();
        });
    }
}

void Tunnel::client_eof() {
    client_eof_ = true;
    if (closed_) return;
    if (upstream_eof_) {
        finish();
        return;
    }
    if (connected_ && queued_ == 0) on_write_done(0, 0);  // triggers the half-close
}

void Tunnel::resume_reading() {
    if (closed_ || !connected_ || reading_ || upstream_eof_) return;
    reading_ = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Tunnel::alloc_cb, &Tunnel::read_cb);
}

void Tunnel::pause_reading() {
    if (!reading_ || closed_) return;
    reading_ = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void Tunnel::alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
    auto* self = static_cast<Tunnel*>(handle->data);
    self->read_buffer_.resize(64 * 1024);
    *buf = uv_buf_init(self->read_buffer_.data(), static_cast<unsigned>(self->read_buffer_.size()));
}

void Tunnel::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
    static_cast<Tunnel*>(stream->data)->on_read(nread, buf);
}

void Tunnel::on_read(ssize_t nread, const uv_buf_t* buf) {
    if (closed_ || !conn_) return;
    if (awaiting_parent_) {
        if (nread < 0)
            fail(502, "the parent proxy " + route_->parent_for_log() +
                          " closed the connection before answering CONNECT");
        else if (nread > 0)
            on_parent_answer(buf->base, static_cast<size_t>(nread));
        return;
    }
    if (nread == UV_EOF) {
        upstream_eof_ = true;
        pause_reading();
        conn_->on_tunnel_upstream_eof();
        if (client_eof_) finish();
        return;
    }
    if (nread < 0) {
        spdlog::debug("tunnel to {}: read error: {}", target_.to_string(),
                      uv_strerror(static_cast<int>(nread)));
        finish();
        return;
    }
    if (nread == 0) return;
    bytes_down_ += static_cast<uint64_t>(nread);
    if (!conn_->tunnel_write(buf->base, static_cast<size_t>(nread))) pause_reading();
}

void Tunnel::on_timeout_cb(uv_timer_t* timer) noexcept {
    auto* self = static_cast<Tunnel*>(timer->data);
    if (!self->connected_) self->fail(504, "timed out connecting to " + self->target_.to_string());
}

void Tunnel::fail(int status, std::string message) {
    if (closed_) return;
    spdlog::warn("CONNECT {}: {}", target_.to_string(), message);
    ClientConnection* conn = conn_;
    conn_ = nullptr;
    finish();
    if (conn) conn->on_tunnel_failed(status, message);
}

void Tunnel::finish() {
    if (closed_) return;
    closed_ = true;
    ClientConnection* conn = conn_;
    conn_ = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
    if (addresses_) {
        uv_freeaddrinfo(addresses_);
        addresses_ = next_address_ = nullptr;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Tunnel::on_closed_cb);
    if (tcp_open_) {
        tcp_open_ = false;
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Tunnel::on_closed_cb);
    }
    if (conn) conn->on_tunnel_closed(bytes_up_ + bytes_down_);
}

void Tunnel::abandon() {
    conn_ = nullptr;
    finish();
}

void Tunnel::on_closed_cb(uv_handle_t* handle) noexcept {
    auto* self = static_cast<Tunnel*>(handle->data);
    --self->pending_;
    if (!self->closed_ && handle == reinterpret_cast<uv_handle_t*>(&self->tcp_)) {
        self->connect_next();  // a failed address's handle is closed: try the next one
        return;
    }
    self->maybe_free();
}

void Tunnel::maybe_free() {
    if (closed_ && pending_ == 0) delete this;
}

}  // namespace proxy
