// ClientConnection: proxy authentication (--auth-basic, proxy/client/proxy_auth.h). Every
// request, CONNECT included, carries Basic credentials in Proxy-Authorization; a request whose
// credentials are not yet known to be good is held — reading stopped, what the parser already
// delivered kept in an AuthHold — until the worker's verdict, then goes on as if it had just
// been read, or is answered 407.
#include <spdlog/spdlog.h>

#include "policy/header_list.h"
#include "proxy/client/client_connection.h"
#include "proxy/client/proxy_auth.h"
#include "proxy/server.h"

namespace proxy {

bool ClientConnection::authorize(const http1::RequestHead& head) {
    ProxyAuth& auth = *server_.proxy_auth();
    AuthHold hold;
    std::weak_ptr<void> alive = hold.alive;
    const ProxyAuth::Verdict verdict =
        auth.check(policy::find_header(head.headers, "proxy-authorization"), alive,
                   [this](bool allowed) { on_auth_verdict(allowed); });
    switch (verdict) {
        case ProxyAuth::Verdict::Allowed:
            return true;
        case ProxyAuth::Verdict::Denied:
            refuse_proxy_auth();
            return false;
        case ProxyAuth::Verdict::Checking:
            break;
    }
    auth_hold_ = std::move(hold);
    state_ = State::ReadingBody;
    stop_reading();
    socket_.read_blocked = true;
    arm_deadline(Deadline::Credentials, server_.config().client_header_timeout);
    return false;
}

void ClientConnection::on_auth_verdict(bool allowed) {
    if (socket_.closed || !auth_hold_) return;
    AuthHold hold = std::move(*auth_hold_);
    auth_hold_.reset();
    if (!allowed) {
        refuse_proxy_auth();
        return;
    }
    if (hold.upgrade) {
        start_tunnel_with(parser_.take_pending());
        return;
    }
    start_forwarding();
    if (socket_.closed || state_ == State::Closing) return;
    if (!hold.body.empty() && !on_request_body(hold.body.data(), hold.body.size())) {
        send_error(400, "dlproxy: request body refused");
        return;
    }
    if (hold.complete) {
        on_request_complete();
        // on_parsed(Complete) ran while the request was held: start what it would have started.
        if (exchange_.cached_start_pending && exchange_.cached) {
            exchange_.cached_start_pending = false;
            exchange_.cached->start();
        }
        return;
    }
    socket_.read_blocked = false;
    start_reading();
}

// RFC 9110 §15.5.8: 407 with the challenge. The connection closes after it (send_error), so a
// client that retries with credentials opens a new one.
void ClientConnection::refuse_proxy_auth() {
    spdlog::debug("client {}: {} {}: proxy authentication required", socket_.peer, exchange_.method,
                  exchange_.url);
    send_error_with(407, "dlproxy: proxy authentication required",
                    {{"Proxy-Authenticate", server_.proxy_auth()->challenge()}});
}

}  // namespace proxy
