// ClientConnection: its timers, one purpose each.
//
// - deadline_ (phase_deadline.h): the deadline of the phase the connection is in, armed with
//   that purpose and replaced when the phase changes; one phase at a time, so one deadline.
//     NextRequest   armed on accept, when a request begins (client_header_timeout), after each
//                   response (keepalive_timeout) and when an intercepted CONNECT starts its
//                   handshake. Fires: an idle connection is closed, a partial head gets 408.
//     UpstreamHead  armed when a request goes upstream (cached, passed through, xorb lookup) and
//                   while a mirror answer is held whole; stopped by the head. Fires: 504.
//     OriginSilent  armed by a pass-through head that the resume engine did not take, re-armed
//                   by check_pass_through_stall while bytes come or the client is the slow one.
//                   Fires: the client is closed short.
//     GapBudget     armed while a cached response waits for bytes (on_cached_waiting), stopped
//                   when they flow. Fires: the client is closed short (before any head: 504).
//     Linger        armed after our FIN. Fires: the socket closes.
//     Credentials   armed while ProxyAuth checks a request's credentials. Fires: 503.
//   A tunnel stops it: the Tunnel has its own connect timeout (tunnel.h).
// - deferred_ (proxy/loop/deferred_call.h): the next loop iteration, for work that must not run
// inside the callback that asks
//   for it (freeing finished cached responses, starting a pass-through from a curl callback).
// A pass-through response being resumed has no timer here: its resume engine
// (proxy/upstream/resumable_transfer.h) keeps its own, for a deferred start or the backoff and
// for the stall watch.
#include <spdlog/spdlog.h>

#include "proxy/client/client_connection.h"
#include "proxy/server.h"

namespace proxy {

void ClientConnection::arm_deadline(Deadline deadline, double seconds) {
    if (socket_.closed) return;
    deadline_.arm(deadline, seconds);
}

void ClientConnection::on_deadline() {
    if (socket_.closed) return;
    switch (deadline_.purpose()) {
        case Deadline::NextRequest:
            if (state_ == State::Idle) {
                close("keep-alive timeout");
            } else if (state_ == State::ReadingHead) {
                spdlog::info("client {}: request headers not complete within {} s", socket_.peer,
                             server_.config().client_header_timeout);
                send_error(408, "dlproxy: request headers not received in time");
            }
            return;
        case Deadline::UpstreamHead:
            on_upstream_late();
            return;
        case Deadline::OriginSilent:
            if (pass_.transfer && exchange_.head_sent && !connect_.tunnel)
                check_pass_through_stall();
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
                spdlog::warn("client {}: credentials not checked within {} s", socket_.peer,
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
    if (pass_.transfer) pass_.transfer->detach();
    pass_.transfer.reset();
    send_error(504, "dlproxy: origin sent no response headers in time");
}

void ClientConnection::defer() {
    if (!socket_.closed) deferred_.post();
}

void ClientConnection::on_deferred() {
    finished_cached_.clear();
    if (socket_.closed) return;
    if (exchange_.pass_through_due) {
        exchange_.pass_through_due = false;
        start_pass_through();
    }
}

}  // namespace proxy
