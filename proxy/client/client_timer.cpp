// ClientConnection: its one timer, re-armed per phase (header, keep-alive and upstream timeouts,
// the gap budget, the pass-through stall watch, deferred starts).
#include <spdlog/spdlog.h>

#include "proxy/client/client_connection.h"
#include "proxy/server.h"

namespace proxy {

void ClientConnection::arm_timer(double seconds) {
    if (closed_) return;
    uv_timer_start(&timer_, &ClientConnection::timer_cb, static_cast<uint64_t>(seconds * 1000), 0);
}

void ClientConnection::timer_cb(uv_timer_t* timer) noexcept {
    static_cast<ClientConnection*>(timer->data)->on_timer();
}

void ClientConnection::on_timer() {
    finished_cached_.clear();
    if (closed_) return;
    if (restart_pass_through_) {
        restart_pass_through_ = false;
        start_pass_through();
        return;
    }
    if (auth_hold_) {
        spdlog::warn("client {}: credentials not checked within {} s", client_address_,
                     server_.config().client_header_timeout);
        auth_hold_.reset();
        send_error(503, "dlproxy: credentials could not be checked in time");
        return;
    }
    if (cached_ && head_sent_) {
        // Gap budget (docs/recovery.md): the client has had no byte for gap_budget seconds.
        // Close short so its own retry comes back and is served from what is cached.
        spdlog::warn("{} {}: no bytes for {} s (gap budget); closing the client short", method_,
                     url_, server_.config().gap_budget);
        log_access("ABORTED");
        close("gap budget exceeded");
        return;
    }
    if (lingering_) {
        close("linger timeout");
        return;
    }
    if (transfer_ && head_sent_ && !tunnel_) {
        check_pass_through_stall();
        return;
    }
    switch (state_) {
        case State::Idle:
            close("keep-alive timeout");
            break;
        case State::ReadingHead:
            spdlog::info("client {}: request headers not complete within {} s", client_address_,
                         server_.config().client_header_timeout);
            send_error(408, "dlproxy: request headers not received in time");
            break;
        case State::ReadingBody:
        case State::WaitingResponse:
            if (!head_sent_) {
                spdlog::warn("{} {}: no response headers from origin within {} s", method_, url_,
                             server_.config().upstream_header_timeout);
                retire_cached();
                if (transfer_) transfer_->detach();
                transfer_.reset();
                send_error(504, "dlproxy: origin sent no response headers in time");
            }
            break;
        default:
            break;
    }
}

}  // namespace proxy
