#include "proxy/admin/admin_server.h"

#include "proxy/loop/socket_address.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "proxy/admin/admin_connection.h"
#include "proxy/admin/event_stream.h"

namespace proxy {

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
    return format_socket_address(reinterpret_cast<const sockaddr*>(&ss));
}

void AdminServer::stop() {
    if (stopped_) return;
    stopped_ = true;
    if (events_ != nullptr) events_->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    // Copy: close() erases from the set when its handles close, which is later, but be safe.
    std::vector<AdminConnection*> open(connections_.begin(), connections_.end());
    for (auto* c : open)
        c->close();
}

bool AdminServer::start_event_stream(uv_tcp_t& tcp) {
    uv_os_fd_t fd;
    if (events_ == nullptr || uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp), &fd) != 0)
        return false;
    return events_->adopt(fd);
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

}  // namespace proxy
