// ClientConnection: its timers, one purpose each.
//
// - deadline_: the current phase's deadline, armed with its purpose (Deadline) and replaced
//   when the phase changes: the next request head (keep-alive and header timeouts), the origin's
//   response head, a pass-through body's silence, the gap budget of a cached response, the
//   linger after our FIN, the check of its credentials. A connection is in one phase at a time,
//   so it holds one deadline.
// - deferred_: the next loop iteration, for work that must not run inside the callback that asks
//   for it (freeing finished cached responses, starting a pass-through from a curl callback).
// A pass-through response being resumed has no timer here: its resume engine
// (proxy/upstream/resumable_transfer.h) keeps its own for backoff and the stall watch.
#include <spdlog/spdlog.h>

#include "proxy/client/client_connection.h"
#include "proxy/server.h"

namespace proxy {

void ClientConnection::arm_deadline(Deadline deadline, double seconds) {
    if (closed_) return;
    deadline_purpose_ = deadline;
    deadline_.start_seconds(seconds);
}

void ClientConnection::on_deadline() {
    if (closed_) return;
    switch (deadline_purpose_) {
        case Deadline::NextRequest:
            if (state_ == State::Idle) {
                close("keep-alive timeout");
            } else if (state_ == State::ReadingHead) {
                spdlog::info("client {}: request headers not complete within {} s", client_address_,
                             server_.config().client_header_timeout);
                send_error(408, "dlproxy: request headers not received in time");
            }
            return;
        case Deadline::UpstreamHead:
            on_upstream_late();
            return;
        case Deadline::OriginSilent:
            if (transfer_ && exchange_.head_sent && !connect_.tunnel) check_pass_through_stall();
            return;
        case Deadline::GapBudget:
            if (exchange_.cached && exchange_.head_sent) {
                // Gap budget (docs/recovery.md): the client has had no byte for gap_budget
                // seconds. Close short so its own retry comes back and is served from what is
                // cached.
                spdlog::warn("{} {}: no bytes for {} s (gap budget); closing the client short",
                             exchange_.method, exchange_.url, server_.config().gap_budget);
                log_access(RequestResult::Aborted);
                close("gap budget exceeded");
                return;
            }
            on_upstream_late();  // still waiting for the head
            return;
        case Deadline::Linger:
            close("linger timeout");
            return;
        case Deadline::Credentials:
            if (auth_hold_) {
                spdlog::warn("client {}: credentials not checked within {} s", client_address_,
                             server_.config().client_header_timeout);
                auth_hold_.reset();
                send_error(503, "dlproxy: credentials could not be checked in time");
            }
            return;
    }
}

void ClientConnection::on_upstream_late() {
    if (exchange_.head_sent || (state_ != State::ReadingBody && state_ != State::WaitingResponse))
        return;
    spdlog::warn("{} {}: no response headers from origin within {} s", exchange_.method,
                 exchange_.url, server_.config().upstream_header_timeout);
    retire_cached();
    if (transfer_) transfer_->detach();
    transfer_.reset();
    send_error(504, "dlproxy: origin sent no response headers in time");
}

void ClientConnection::defer() {
    if (!closed_) deferred_.start(0);
}

void ClientConnection::on_deferred() {
    finished_cached_.clear();
    if (closed_) return;
    if (exchange_.pass_through_due) {
        exchange_.pass_through_due = false;
        start_pass_through();
    }
}

}  // namespace proxy
