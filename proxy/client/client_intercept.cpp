// ClientConnection: intercepted CONNECT tunnels (docs/https.md).
//
// After `200 Connection Established` the connection becomes a TLS server for the CONNECT
// target. The TLS session runs over memory BIOs: ciphertext read from the socket goes in,
// plaintext comes out into feed() (the same parser as plain requests), and write_raw()
// encrypts every response byte before write_wire() queues it. socket_.queued_bytes counts
// ciphertext, so the high-water mark and every pause/resume decision work unchanged.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "proxy/client/client_connection.h"
#include "proxy/server.h"
#include "proxy/tls/tls_session.h"

namespace proxy {

namespace {

// At most this many bytes wait unsent in the kernel's send queue of an intercepted socket
// (TCP_NOTSENT_LOWAT; the window for bytes in flight still grows as usual). Without it the
// queue fills with megabytes that the client's own ACKs then transmit from its context: curl
// spent a third more kernel time per byte and warm HTTPS ran at 0.87x direct instead of
// 0.99x (docs/https.md, "Throughput").
constexpr int kUnsentLimit = 128 * 1024;

void limit_unsent_bytes(uv_tcp_t& tcp, std::string_view peer) {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp), &fd) != 0) return;
    int value = kUnsentLimit;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &value, sizeof value) != 0)
        spdlog::debug("client {}: TCP_NOTSENT_LOWAT: {}", peer, std::strerror(errno));
}

}  // namespace

void ClientConnection::start_intercept(const policy::HostPort& target, std::string early_data) {
    std::string error;
    auto session = server_.tls()->new_session(target.host, error);
    if (!session) {
        spdlog::error("CONNECT {}: {}", target.to_string(), error);
        send_error(502, "dlproxy: cannot intercept " + target.to_string() + ": " + error);
        return;
    }
    exchange_.status = 200;
    exchange_.head_sent = true;
    exchange_.upstream_address = target.to_string();
    write("HTTP/1.1 200 Connection Established\r\nVia: 1.1 dlproxy\r\n\r\n");
    log_access(RequestResult::Intercept);
    connect_.tls = std::move(session);
    connect_.intercepted = target;
    limit_unsent_bytes(socket_.tcp, socket_.peer);
    // The parser stopped at the CONNECT (ParseStatus::Upgrade); the tunnel's requests start a
    // fresh HTTP/1.1 stream.
    parser_.reset();
    reset_for_next_request();
    // The handshake counts as part of the first request's header time.
    arm_deadline(Deadline::NextRequest, server_.config().client_header_timeout);
    if (!early_data.empty()) on_tls_input(early_data.data(), early_data.size());
}

void ClientConnection::on_tls_input(const char* data, size_t len) {
    std::string plain, wire;
    const bool was_done = connect_.tls->handshake_done();
    const auto status = connect_.tls->on_ciphertext(data, len, plain, wire);
    write_wire(std::move(wire));  // handshake flight, tickets, or the alert before closing
    if (status == tls::TlsSession::Status::Failed) {
        // Logged once, here; the connection ends with it.
        spdlog::info("client {}: TLS for {} failed: {}", socket_.peer,
                     connect_.intercepted.to_string(), connect_.tls->error());
        socket_.close_after_flush = true;
        state_ = State::Closing;
        if (socket_.queued_bytes == 0) close("TLS error");
        return;
    }
    if (!was_done && connect_.tls->handshake_done())
        spdlog::debug("client {}: TLS established for {}", socket_.peer,
                      connect_.intercepted.to_string());
    if (!plain.empty()) feed(plain.data(), plain.size());
    if (status == tls::TlsSession::Status::Closed && !socket_.closed) on_client_eof(UV_EOF);
}

// Our close_notify ends a response framed by the connection's end (HTTP/1.0 or no length)
// cleanly: without it a client cannot tell a complete body from a truncation attack.
void ClientConnection::send_tls_close_notify() {
    if (!connect_.tls || socket_.closed) return;
    std::string wire;
    connect_.tls->shutdown(wire);
    write_wire(std::move(wire));
}

}  // namespace proxy
