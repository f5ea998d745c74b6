// Tunnel: the upstream half of a CONNECT request — resolve, connect, then relay bytes both ways
// with backpressure (RFC 9110 §9.3.6).
//
// The route (proxy/upstream/upstream_route.h) may pin the target to an address (--resolve),
// redirect it
// (--connect-to) or send it through an HTTP parent proxy, to which the tunnel first says
// "CONNECT target" and waits for a 2xx before reporting itself established.
//
// The client half stays with ClientConnection, which feeds client bytes in (send) and receives
// upstream bytes through its write queue. Each direction is paused when the receiving side has
// more than the high-water mark queued, and resumed when it drains below half of it. EOF on one
// side half-closes the other; the tunnel ends when both directions are done or on any error.
//
// Thread: the loop thread. Lifetime: heap-allocated; frees itself once its handle and pending
// requests are finished. After abandon() it never calls the connection again.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "policy/request_target.h"
#include "proxy/upstream/upstream_route.h"

namespace proxy {

class ClientConnection;

class Tunnel {
  public:
    // `route` (may be null: direct) must outlive the tunnel.
    Tunnel(ClientConnection& conn, uv_loop_t* loop, policy::HostPort target,
           uint64_t high_water_mark, double connect_timeout, const UpstreamRoute* route);
    Tunnel(const Tunnel&) = delete;
    Tunnel& operator=(const Tunnel&) = delete;

    // Resolves and connects; `early_data` (bytes the client sent after the CONNECT head) is
    // relayed first. Reports through on_tunnel_established / on_tunnel_failed.
    void start(std::string early_data);

    // Client → upstream.
    void send(const char* data, size_t size);
    void client_eof();
    uint64_t queued() const { return queued_; }

    // Upstream → client: the client's write queue drained; read upstream again.
    void resume_reading();
    // The client's write queue is full; stop reading upstream.
    void pause_reading();

    // The connection is going away: close without calling it again.
    void abandon();

    uint64_t bytes_up() const { return bytes_up_; }
    uint64_t bytes_down() const { return bytes_down_; }
    const std::string& peer() const { return peer_; }

  private:
    ~Tunnel() = default;

    static void on_resolved_cb(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;
    static void on_connect_cb(uv_connect_t* req, int status) noexcept;
    static void on_timeout_cb(uv_timer_t* timer) noexcept;
    static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
    static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
    static void on_closed_cb(uv_handle_t* handle) noexcept;

    void on_resolved(int status, addrinfo* res);
    void connect_next();
    void on_connect(int status);
    void on_established();
    void on_parent_answer(const char* data, size_t size);
    void write_upstream(std::string data);
    void on_read(ssize_t nread, const uv_buf_t* buf);
    void on_write_done(size_t size, int status);
    void fail(int status, std::string message);
    void finish();
    void maybe_free();
    friend struct TunnelWrite;

    ClientConnection* conn_;
    uv_loop_t* loop_;
    policy::HostPort target_;
    uint64_t high_water_mark_;
    double connect_timeout_;
    UpstreamRoute::TunnelHop hop_;
    const UpstreamRoute* route_;
    std::string parent_answer_;  // the parent's CONNECT response head so far
    bool awaiting_parent_ = false;
    std::string early_data_;
    std::string peer_ = "-";

    uv_getaddrinfo_t resolve_req_{};
    uv_connect_t connect_req_{};
    uv_tcp_t tcp_{};
    uv_timer_t timer_{};  // the connect timeout (on_timeout_cb), stopped once established
    addrinfo* addresses_ = nullptr;
    addrinfo* next_address_ = nullptr;
    int last_error_ = 0;
    int pending_ = 0;  // outstanding requests and open handles; freed at zero once closed
    bool tcp_open_ = false;
    bool connected_ = false;
    bool closed_ = false;
    bool reading_ = false;
    bool client_eof_ = false;
    bool upstream_eof_ = false;
    uint64_t queued_ = 0;
    uint64_t bytes_up_ = 0;
    uint64_t bytes_down_ = 0;
    std::string read_buffer_;
};

}  // namespace proxy
