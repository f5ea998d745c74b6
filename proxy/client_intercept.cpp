// ClientConnection: intercepted CONNECT tunnels (docs/https.md).
//
// After `200 Connection Established` the connection becomes a TLS server for the CONNECT
// target. The TLS session runs over memory BIOs: ciphertext read from the socket goes in,
// plaintext comes out into feed() (the same llhttp path as plain requests), and write_raw()
// encrypts every response byte before write_wire() queues it. queued_bytes_ counts ciphertext,
// so the high-water mark and every pause/resume decision work unchanged.
#include <spdlog/spdlog.h>

#include "proxy/client_connection.h"
#include "proxy/server.h"
#include "proxy/tls/tls_session.h"

namespace proxy {

void ClientConnection::start_intercept(const policy::HostPort& target, std::string early_data) {
    std::string error;
    auto session = server_.tls()->new_session(target.host, error);
    if (!session) {
        spdlog::error("CONNECT {}: {}", target.to_string(), error);
        send_error(502, "dlproxy: cannot intercept " + target.to_string() + ": " + error);
        return;
    }
    status_ = 200;
    head_sent_ = true;
    upstream_address_ = target.to_string();
    write("HTTP/1.1 200 Connection Established\r\nVia: 1.1 dlproxy\r\n\r\n");
    log_access("INTERCEPT");
    tls_ = std::move(session);
    intercepted_ = target;
    // The parser stopped at the CONNECT (HPE_PAUSED_UPGRADE); the tunnel's requests start a
    // fresh HTTP/1.1 stream.
    reset_parser();
    reset_for_next_request();
    // The handshake counts as part of the first request's header time.
    arm_timer(server_.config().client_header_timeout);
    if (!early_data.empty()) on_tls_input(early_data.data(), early_data.size());
}

void ClientConnection::on_tls_input(const char* data, size_t len) {
    std::string plain, wire;
    const bool was_done = tls_->handshake_done();
    const auto status = tls_->on_ciphertext(data, len, plain, wire);
    write_wire(std::move(wire));  // handshake flight, tickets, or the alert before closing
    if (status == tls::TlsSession::Status::Failed) {
        // Logged once, here; the connection ends with it.
        spdlog::info("client {}: TLS for {} failed: {}", client_address_, intercepted_.to_string(),
                     tls_->error());
        close_after_flush_ = true;
        state_ = State::Closing;
        if (queued_bytes_ == 0) close("TLS error");
        return;
    }
    if (!was_done && tls_->handshake_done())
        spdlog::debug("client {}: TLS established for {}", client_address_,
                      intercepted_.to_string());
    if (!plain.empty()) feed(plain.data(), plain.size());
    if (status == tls::TlsSession::Status::Closed && !closed_) on_client_eof(UV_EOF);
}

// Our close_notify ends a response framed by the connection's end (HTTP/1.0 or no length)
// cleanly: without it a client cannot tell a complete body from a truncation attack.
void ClientConnection::send_tls_close_notify() {
    if (!tls_ || closed_) return;
    std::string wire;
    tls_->shutdown(wire);
    write_wire(std::move(wire));
}

}  // namespace proxy
