// ClientConnection: Xet xorb requests served from the xorb cache or forwarded exactly and stored
// (issue 15 item 2, docs/huggingface.md "Xorb cache"). The hooks elsewhere are one line each:
// start_forwarding asks start_xorb first, and the pass-through callbacks hand the answer to
// pass_.xorb_capture when it is set.
#include <spdlog/spdlog.h>

#include "cache/store.h"
#include "policy/exact_forward.h"
#include "policy/xorb_request.h"
#include "proxy/client/client_connection.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/loop/clock.h"
#include "proxy/server.h"

namespace proxy {

bool ClientConnection::start_xorb(const policy::RequestTarget& target) {
    if (!server_.fetches() || exchange_.method != "GET") return false;
    if (parser_.head().chunked || parser_.head().content_length > 0) return false;
    auto xorb = policy::xorb_target(server_.config().xorb_cache_hosts, target);
    auto range = policy::find_header(request_headers(), "range");
    if (!xorb || !range) return false;
    // A miss is forwarded exactly: only for requests the exact-forward rule covers (a host left
    // out of signed_range_hosts takes the ordinary cache path, xorb or not).
    if (!policy::decide_exact_forward(server_.config().signed_range_hosts, target).forward_exactly)
        return false;
    // From here the request is a xorb request: if it is not answered from the cache, it is
    // forwarded exactly (signed_range_hosts) and its answer is stored.
    pass_.xorb_capture = std::make_unique<xet::XorbCapture>(*xorb, std::string(*range));
    const auto now = wall_seconds();
    // The signature cannot be checked here; an expiry can. An expired URL gets what the origin
    // says (a 403), never cached bytes (docs/huggingface.md "Who may read a cached xorb").
    if (auto expiry = policy::signed_url_expiry(target.path, now);
        expiry == policy::UrlExpiry::Expired) {
        spdlog::debug("{} {}: xorb URL {}: forwarded", exchange_.method, exchange_.url,
                      policy::to_string(expiry));
        return false;
    }
    std::weak_ptr<char> alive = alive_;
    const uint64_t seed = (static_cast<uint64_t>(now) << 20) ^ reinterpret_cast<uintptr_t>(this) ^
                          uv_now(server_.loop());
    const bool queued =
        xet::lookup_xorb(server_.loop(), server_.fetches()->store(), *xorb, std::string(*range),
                         seed, now, [this, alive](xet::XorbAnswer answer) {
                             if (!alive.expired()) on_xorb_answer(std::move(answer));
                         });
    if (queued) arm_deadline(Deadline::UpstreamHead, server_.config().upstream_header_timeout);
    return queued;
}

void ClientConnection::on_xorb_answer(xet::XorbAnswer answer) {
    if (socket_.closed || exchange_.head_sent || state_ == State::Closing) return;
    if (!answer.hit) {
        spdlog::debug("{} {}: xorb cache miss ({}): forwarded exactly", exchange_.method,
                      exchange_.url, answer.why);
        exchange_.cache_result = CacheResult::Miss;
        start_pass_through();
        return;
    }
    deadline_.stop();
    pass_.xorb_capture.reset();
    exchange_.cache_result = CacheResult::Hit;
    exchange_.status = 206;
    exchange_.head_sent = true;
    response_.send_stored_head(206, answer.headers);
    exchange_.body_bytes += answer.body.size();
    response_.send_body(answer.body.data(), answer.body.size());
    response_.finish_body();
    finish_response();
}

void ClientConnection::finish_xorb_capture() {
    if (!pass_.xorb_capture || !server_.fetches()) return;
    pass_.xorb_capture->finish(server_.loop(), server_.fetches()->store(), wall_seconds());
    pass_.xorb_capture.reset();
}

}  // namespace proxy
