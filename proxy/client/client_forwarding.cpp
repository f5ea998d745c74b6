// ClientConnection: forwarding a request upstream, relaying the response, CONNECT tunnels.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "policy/cache_key.h"
#include "policy/exact_forward.h"
#include "policy/intercept.h"
#include "policy/invalidation.h"
#include "policy/mirror.h"
#include "policy/request_target.h"
#include "proxy/client/client_connection.h"
#include "proxy/client/request_checks.h"
#include "proxy/client/tunnel.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/http1/response_head.h"
#include "proxy/server.h"
#include "proxy/upstream/host_health.h"

namespace proxy {

namespace {

constexpr std::string_view kVia = "dlproxy";

// Headers the proxy regenerates itself or that must not travel upstream as the client sent them.
void strip_request_framing(policy::HeaderList& headers) {
    policy::remove_header(headers, "host");
    policy::remove_header(headers, "content-length");
    policy::remove_header(headers, "expect");
}

}  // namespace

// The request's target as an absolute URL; nullopt once a 400 has been answered.
std::optional<policy::RequestTarget> ClientConnection::resolve_target() {
    std::string_view error;
    if (connect_.tls) {
        // Inside an intercepted tunnel: origin-form, aimed at the CONNECT target over https.
        auto target = policy::tunnel_target(connect_.intercepted, exchange_.url);
        if (target) {
            exchange_.url = target->url();  // logs show the https URL
            return std::move(*target);
        }
        error = policy::to_string(target.error());
    } else {
        bool answered = false;
        if (auto mirrored = resolve_mirror_target(answered)) return mirrored;
        if (answered) return std::nullopt;
        auto target = policy::parse_absolute_target(exchange_.url);
        if (target) return std::move(*target);
        error = policy::to_string(target.error());
    }
    send_error(400, "dlproxy: " + std::string(error));
    return std::nullopt;
}

// Mirror mode: an origin-form request on the plain listener whose Host names this proxy. Any
// other origin-form request is left to resolve_target's 400 (a client that takes us for some
// other origin is misconfigured; a page of another site that reaches us by DNS rebinding names
// its own host).
std::optional<policy::RequestTarget> ClientConnection::resolve_mirror_target(bool& answered) {
    const Config& config = server_.config();
    if (config.mirror.origin.empty() || exchange_.url.empty() || exchange_.url.front() != '/')
        return std::nullopt;
    auto host = policy::find_header(request_headers(), "host");
    auto base = host ? policy::mirror_base(*host) : std::nullopt;
    if (!base || !(targets_listener(base->host, base->port, server_.bound_listen()) ||
                   policy::should_intercept(config.mirror_names, base->host)))
        return std::nullopt;
    auto mirrored = policy::mirror_target(config.mirror, exchange_.url);
    if (!mirrored) {
        answered = true;
        const bool refused = mirrored.error() == policy::MirrorErrc::HostNotMirrored;
        if (refused)
            spdlog::info("client {}: {} {} refused: host not mirrored", socket_.peer,
                         exchange_.method, exchange_.url);
        send_error(refused ? 403 : 400,
                   "dlproxy: " + std::string(policy::to_string(mirrored.error())));
        return std::nullopt;
    }
    // Xet's token and reconstruction answers name the CAS and transfer hosts in their JSON.
    auto exact = policy::decide_exact_forward(config.signed_range_hosts, mirrored->target).reason;
    const bool json_body = exact == policy::ExactForwardReason::XetToken ||
                           exact == policy::ExactForwardReason::XetReconstruction;
    if (policy::mirror_drops_authorization(*mirrored) &&
        policy::find_header(request_headers(), "authorization")) {
        spdlog::debug("{} {}: mirror: Authorization dropped (the URL is signed)", exchange_.method,
                      exchange_.url);
        exchange_.mirror_drops_authorization = true;
    }
    exchange_.mirror = std::make_unique<MirrorAnswer>(
        policy::MirrorLinks(config.mirror, std::move(base->url), std::move(mirrored->prefix)),
        json_body);
    exchange_.url =
        mirrored->target.url();  // logs show the https URL, as for an intercepted request
    return std::move(mirrored->target);
}

void ClientConnection::send_mirrored_answer() {
    MirrorAnswer::Released answer = exchange_.mirror->release();
    exchange_.head_sent = true;
    response_.send_relayed_head(answer.status, answer.reason, answer.headers);
    exchange_.body_bytes += answer.body.size();
    response_.send_body(answer.body.data(), answer.body.size());
}

void ClientConnection::start_forwarding() {
    // Before the target: a loop through a name that resolves to us arrives in origin-form.
    if (refuse_loop(via_names(request_headers(), kVia), "it already went through dlproxy (Via)"))
        return;
    auto target = resolve_target();
    if (!target) return;
    if (refuse_loop(targets_listener(target->host, target->port, server_.bound_listen()),
                    "it is addressed to this proxy"))
        return;
    if (server_.draining()) response_.end_connection();

    UpstreamRequest req;
    req.method = exchange_.method;
    req.url = target->url();
    req.headers = policy::end_to_end(request_headers());
    strip_request_framing(req.headers);
    if (exchange_.mirror_drops_authorization) policy::remove_header(req.headers, "authorization");
    policy::add_via(req.headers, parser_.head().http10() ? "1.0" : "1.1", kVia);
    req.connect_timeout = server_.config().connect_timeout;
    req.ca_bundle = server_.upstream_ca_bundle();
    req.route = server_.upstream_route();
    const http1::RequestHead& head = parser_.head();
    const bool has_length = head.has_content_length;
    req.has_body = head.chunked ||
                   (has_length && exchange_.method != "GET" && exchange_.method != "HEAD") ||
                   (has_length && head.content_length > 0);
    req.body_length = head.chunked ? -1 : static_cast<int64_t>(head.content_length);
    exchange_.upstream_address = target->host_header();
    if (exchange_.mirror && exchange_.mirror->json_body()) {
        // The answer is parsed and rewritten: ask for it unencoded (mirror_answer.h).
        policy::remove_header(req.headers, "accept-encoding");
    }
    exchange_.upstream_request = std::move(req);

    if (start_xorb(*target)) return;
    if (cacheable_request(*target)) {
        CacheAccess access;
        access.signed_url = policy::key_drops_params(*target, server_.key_rules());
        // A signed URL gets no bytes the origin has not confirmed for it, stale or not.
        if (!access.signed_url) {
            access.stale.on_error =
                policy::should_intercept(server_.config().stale_if_error, target->host);
            access.stale.on_no_answer =
                policy::should_intercept(server_.config().stale_if_disconnected, target->host);
        }
        // A signed URL a redirect announced the content of is stored under that content
        // (`sha256:<hex>`): the same file from another repo, revision or host is one object.
        // Only signed URLs (those the key rules strip): their hits are authorised by the
        // origin first, and a URL the rules keep whole is a name the operator wants kept.
        std::string key = policy::cache_key(*target, server_.key_rules());
        if (access.signed_url) key = server_.fetches()->redirects().storage_key(key);
        exchange_.cached =
            std::make_unique<CachedResponse>(*this, *server_.fetches(), std::move(key),
                                             exchange_.upstream_request, request_headers(), access);
        arm_deadline(Deadline::UpstreamHead, server_.config().upstream_header_timeout);
        // Started once the parser has returned (on_parsed): a hit may complete the response
        // synchronously, and the next pipelined request must not be parsed re-entrantly.
        exchange_.cached_start_pending = true;
        return;
    }
    start_pass_through();
}

bool ClientConnection::cacheable_request(const policy::RequestTarget& target) const {
    if (!server_.fetches() || exchange_.method != "GET") return false;
    if (parser_.head().chunked || parser_.head().content_length > 0) return false;
    if (!exchange_.mirror_drops_authorization &&
        policy::find_header(request_headers(), "authorization"))
        return false;
    if (policy::has_token(request_headers(), "cache-control", "no-store")) return false;
    // A signature over the Range (Xet's xorb URLs) forbids the cache path's changes to the
    // request; tokens and reconstruction answers must never be stored.
    auto exact = policy::decide_exact_forward(server_.config().signed_range_hosts, target);
    if (exact.forward_exactly) {
        spdlog::debug("{} {}: forwarded exactly: {}", exchange_.method, exchange_.url,
                      policy::to_string(exact.reason));
        return false;
    }
    if (policy::is_xet_file_info_request(target, request_headers())) {
        spdlog::debug("{} {}: forwarded exactly: a Xet file-info request", exchange_.method,
                      exchange_.url);
        return false;
    }
    return true;
}

void ClientConnection::start_pass_through() {
    if (server_.curl().in_action()) {  // inside a curl callback: start from the timer
        exchange_.pass_through_due = true;
        defer();
        return;
    }
    const UpstreamRequest& req = exchange_.upstream_request;
    if (HostVerdict verdict = host_health().admit(req.url); verdict.refused) {
        spdlog::warn("{} {}: refused: {}", exchange_.method, exchange_.url, verdict.reason);
        send_error(503, "dlproxy: " + verdict.reason, verdict.retry_after_s);
        return;
    }
    pass_.transfer =
        std::make_unique<UpstreamTransfer>(server_.curl(), *this, server_.config().high_water_mark);
    if (!pass_.transfer->start(req)) {
        pass_.transfer.reset();
        send_error(502, "dlproxy: could not start the upstream request");
        return;
    }
    arm_deadline(Deadline::UpstreamHead, server_.config().upstream_header_timeout);
    if (req.has_body && policy::has_token(request_headers(), "expect", "100-continue"))
        write("HTTP/1.1 100 Continue\r\n\r\n");
}

// RFC 9111 §4.4: a non-error response to an unsafe method invalidates what the cache holds for
// the target and for the same-origin Location / Content-Location it names.
void ClientConnection::invalidate_after(int status, const policy::HeaderList& upstream_headers) {
    if (!server_.fetches() || policy::is_safe_method(exchange_.method)) return;
    auto target = policy::parse_absolute_target(exchange_.upstream_request.url, true);
    if (!target) return;
    for (const auto& t :
         policy::invalidated_targets(exchange_.method, status, *target, upstream_headers))
        server_.fetches()->invalidate(policy::cache_key(t, server_.key_rules()));
}

void ClientConnection::on_upstream_head(int status, std::string_view reason,
                                        const policy::HeaderList& upstream_headers) {
    if (socket_.closed) return;
    deadline_.stop();
    exchange_.status = status;
    invalidate_after(status, upstream_headers);
    // A redirect to a signed URL: remember what it announced and the request that caused it.
    if (server_.fetches())
        server_.fetches()->redirects().remember(exchange_.upstream_request, status,
                                                upstream_headers);
    if (pass_.transfer) exchange_.upstream_address = pass_.transfer->primary_address();
    if (exchange_.mirror &&
        exchange_.mirror->hold(exchange_.method, status, reason, upstream_headers)) {
        // Sent whole once complete; a body that does not complete in this time is a 504.
        arm_deadline(Deadline::UpstreamHead, server_.config().upstream_header_timeout);
        return;
    }
    exchange_.head_sent = true;
    if (pass_.xorb_capture) pass_.xorb_capture->on_head(status, upstream_headers);
    if (exchange_.mirror)
        response_.send_relayed_head(status, reason,
                                    exchange_.mirror->rewrite_head(upstream_headers));
    else
        response_.send_relayed_head(status, reason, upstream_headers);
    if (exchange_.method == "GET" && status == 200 && response_.framing() == http1::Framing::Length)
        maybe_enable_resume(upstream_headers);  // the engine watches for stalls
    if (pass_.resume) return;
    // Not resumable: a body that stops coming is cut after stall_timeout instead of holding the
    // client (and its connection) forever.
    exchange_.last_upstream_byte_ms = uv_now(server_.loop());
    arm_deadline(Deadline::OriginSilent, server_.config().stall_timeout);
}

void ClientConnection::check_pass_through_stall() {
    const uint64_t now = uv_now(server_.loop());
    const auto stall_ms = static_cast<uint64_t>(server_.config().stall_timeout * 1000);
    // Over half the high-water mark the download is (or may be) paused for a slow client: the
    // silence is the client's, not the origin's.
    const bool client_slow = queued() >= server_.config().high_water_mark / 2;
    const uint64_t idle = now - exchange_.last_upstream_byte_ms;
    if (client_slow || idle < stall_ms) {
        if (client_slow) exchange_.last_upstream_byte_ms = now;
        arm_deadline(Deadline::OriginSilent,
                     static_cast<double>(client_slow ? stall_ms : stall_ms - idle) / 1000);
        return;
    }
    spdlog::warn(
        "{} {}: origin sent no body bytes for {} s after {} bytes; closing the client short",
        exchange_.method, exchange_.url, server_.config().stall_timeout, exchange_.body_bytes);
    log_access(RequestResult::Aborted);
    close("origin stalled");
}

UpstreamSink::BodyAction ClientConnection::on_upstream_body(const char* data, size_t size) {
    if (socket_.closed || state_ == State::Closing) return BodyAction::Abort;
    if (exchange_.mirror && exchange_.mirror->holding()) {
        if (exchange_.mirror->append(data, size)) return BodyAction::Accept;
        spdlog::warn("{} {}: mirror mode: JSON answer over {} bytes, not rewritten",
                     exchange_.method, exchange_.url, MirrorAnswer::kMaxBody);
        send_error(502, "dlproxy: mirror mode: the origin's JSON answer is over " +
                            std::to_string(MirrorAnswer::kMaxBody >> 20) +
                            " MiB, too large to rewrite");
        return BodyAction::Abort;
    }
    if (queued() >= server_.config().high_water_mark) return BodyAction::Pause;
    exchange_.body_bytes += size;
    exchange_.last_upstream_byte_ms = uv_now(server_.loop());
    if (pass_.xorb_capture) pass_.xorb_capture->on_body(data, size);
    response_.send_body(data, size);
    return BodyAction::Accept;
}

bool ClientConnection::flush_deferrable() {
    return server_.curl().in_action();
}

void ClientConnection::schedule_flush() {
    server_.curl().after_action(this);
}

void ClientConnection::on_upstream_body_drained() {
    if (socket_.read_blocked && !parser_.message_complete()) {
        socket_.read_blocked = false;
        start_reading();
    }
}

void ClientConnection::on_upstream_done(const UpstreamResult& result) {
    finish_xorb_capture();  // what arrived is stored, also when the client has gone
    if (socket_.closed) return;
    deadline_.stop();
    if (pass_.transfer) exchange_.upstream_address = pass_.transfer->primary_address();
    if (result.ok()) {
        if (exchange_.mirror && exchange_.mirror->holding()) send_mirrored_answer();
        response_.finish_body();
        finish_response();
        return;
    }
    if (!exchange_.head_sent) {
        int status = result.error == UpstreamError::Timeout ? 504 : 502;
        spdlog::warn("{} {}: {}: {}", exchange_.method, exchange_.url, to_string(result.error),
                     result.message);
        send_error(status, std::string("dlproxy: ") + std::string(to_string(result.error)) + ": " +
                               result.message);
        return;
    }
    // The head has gone out: the status cannot change. Close short so the client sees a
    // truncated transfer, never a complete-looking one.
    spdlog::warn("{} {}: {} after {} body bytes: {}", exchange_.method, exchange_.url,
                 to_string(result.error), exchange_.body_bytes, result.message);
    log_access(RequestResult::Aborted);
    socket_.close_after_flush = true;
    state_ = State::Closing;
    if (socket_.queued_bytes == 0) close("upstream failed mid-body");
    // else: closed from on_write_done after the queued bytes are flushed (on_flushed_for_close
    // sends FIN: the body is still short of its announced length or lacks its last chunk).
}

void ClientConnection::finish_response() {
    log_access(exchange_.completed_result());
    if (!response_.keep_alive() || drain_requested_ || !parser_.message_complete()) {
        close_after_flush();
        return;
    }
    reset_for_next_request();
}

void ClientConnection::reset_for_next_request() {
    pass_.xorb_capture.reset();
    pass_.resume.reset();
    retire_cached();
    pass_.transfer.reset();
    exchange_ = Exchange{};  // its clock starts now
    state_ = State::Idle;
    arm_deadline(Deadline::NextRequest, server_.config().keepalive_timeout);
    socket_.read_blocked = false;
    on_parsed(parser_.resume());  // a pipelined request may be waiting
    if (!socket_.read_blocked && state_ != State::Closing) start_reading();
}

void ClientConnection::send_error(int status, std::string_view message, uint32_t retry_after_s) {
    if (socket_.closed) return;
    if (exchange_.head_sent) {
        close(message);
        return;
    }
    policy::HeaderList extra;
    if (retry_after_s > 0) extra.push_back({"Retry-After", std::to_string(retry_after_s)});
    send_error_with(status, message, extra);
}

void ClientConnection::send_error_with(int status, std::string_view message,
                                       const policy::HeaderList& extra) {
    if (socket_.closed) return;
    if (exchange_.head_sent) {
        close(message);
        return;
    }
    // A request refused mid-body may have a transfer under way: its answer must not follow ours.
    if (pass_.transfer) pass_.transfer->detach();
    exchange_.status = status;
    exchange_.head_sent = true;
    write(http1::format_error_response(status, message, false, exchange_.method == "HEAD", extra));
    log_access(RequestResult::Error);
    close_after_flush();
}

// RFC 8586 / RFC 5842 §7.2: 508 Loop Detected; nothing is forwarded.
bool ClientConnection::refuse_loop(bool loop, std::string_view why) {
    if (!loop) return false;
    spdlog::warn("client {}: {} {} refused: forwarding loop: {}", socket_.peer, exchange_.method,
                 exchange_.url, why);
    send_error(508, std::string("dlproxy: forwarding loop refused: ") + std::string(why));
    return true;
}

// --- CONNECT -------------------------------------------------------------------------------

void ClientConnection::start_tunnel_with(std::string early_data) {
    if (connect_.tls) {
        send_error(400, "dlproxy: CONNECT inside an intercepted TLS tunnel");
        return;
    }
    auto target = policy::parse_host_port(exchange_.url);
    if (!target) {
        send_error(400, std::string("dlproxy: CONNECT target: ") +
                            std::string(policy::to_string(target.error())));
        return;
    }
    if (refuse_loop(via_names(request_headers(), kVia) ||
                        targets_listener(target->host, target->port, server_.bound_listen()),
                    "it is addressed to this proxy"))
        return;
    const auto& ports = server_.config().connect_ports;
    if (std::find(ports.begin(), ports.end(), target->port) == ports.end()) {
        spdlog::info("client {}: CONNECT {} refused: port not in connect-ports", socket_.peer,
                     target->to_string());
        send_error(403, "dlproxy: CONNECT to port " + std::to_string(target->port) +
                            " is not allowed (see connect-ports)");
        return;
    }
    if (server_.tls() && policy::should_intercept(server_.config().intercept, target->host)) {
        start_intercept(*target, std::move(early_data));
        return;
    }
    state_ = State::Tunnel;
    deadline_.stop();
    exchange_.upstream_address = target->to_string();
    stop_reading();  // until the upstream connection is up
    connect_.tunnel = new Tunnel(*this, server_.loop(), *target, server_.config().high_water_mark,
                                 server_.config().connect_timeout, server_.upstream_route().get());
    connect_.tunnel->start(std::move(early_data));
}

void ClientConnection::on_tunnel_established() {
    exchange_.status = 200;
    exchange_.head_sent = true;
    write("HTTP/1.1 200 Connection Established\r\nVia: 1.1 dlproxy\r\n\r\n");
    if (connect_.tunnel) exchange_.upstream_address = connect_.tunnel->peer();
    start_reading();
}

void ClientConnection::on_tunnel_failed(int status, std::string_view message) {
    connect_.tunnel = nullptr;
    state_ = State::WaitingResponse;
    send_error(status, std::string("dlproxy: ") + std::string(message));
}

bool ClientConnection::tunnel_write(const char* data, size_t size) {
    exchange_.body_bytes += size;
    write(std::string(data, size));
    return socket_.queued_bytes < server_.config().high_water_mark;
}

void ClientConnection::on_tunnel_upstream_eof() {
    // Half-close towards the client once everything queued has been written.
    auto* req = new uv_shutdown_t{};
    req->data = this;
    if (uv_shutdown(req, stream(), [](uv_shutdown_t* r, int) { delete r; }) != 0) delete req;
}

void ClientConnection::resume_client_reading() {
    if (state_ == State::Tunnel) start_reading();
}

void ClientConnection::on_tunnel_closed(uint64_t) {
    connect_.tunnel = nullptr;
    log_access(RequestResult::Tunnel);
    close("tunnel closed");
}

}  // namespace proxy
