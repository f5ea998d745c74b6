// ClientConnection: resuming a pass-through response (docs/recovery.md, "Without the cache").
//
// Responses that are not cached (Authorization, no-store, private — a gated model download) go
// straight from the origin to the client. When such a GET was answered 200 with a
// Content-Length and a strong validator, a transfer that breaks or stalls mid-body is continued
// exactly as a fill is: after a backoff, `Range: bytes=<sent-1>-` with `If-Range`, the answer
// judged by policy::accept_partial (a 206 that continues, or a 200 of the same object whose
// first bytes are dropped), and the overlap byte compared with the last byte the client got.
// The client keeps its one response and sees nothing but a pause. Everything else closes it
// short, as before: a changed object, a response without a validator, or an outage longer than
// the gap budget (the client is silent meanwhile, and clients give up on silence).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <random>

#include "policy/byte_range.h"
#include "policy/cacheability.h"
#include "proxy/admin/metrics.h"
#include "proxy/client/client_connection.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/server.h"

namespace proxy {

namespace {

// While a resumable response streams, the timer ticks this often to watch for a stall: a stall
// is noticed at most this late.
constexpr uint64_t kStallTickMs = 250;

uint64_t random_u64() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
}

int64_t now_seconds() {
    return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace

void ClientConnection::maybe_enable_resume(const policy::HeaderList& upstream_headers) {
    auto validator = policy::strong_validator(upstream_headers);
    auto length_header = policy::find_header(upstream_headers, "content-length");
    uint64_t length = 0;
    if ((!validator && !server_.config().resume_without_validator) || !length_header ||
        std::from_chars(length_header->data(), length_header->data() + length_header->size(),
                        length)
                .ec != std::errc() ||
        length == 0) {
        return;
    }
    resume_.emplace();
    resume_->validator = std::move(validator);
    resume_->length = length;
    resume_->last_byte_ms = uv_now(server_.loop());
    resume_->stall = policy::StallWatch(stall_config_from(server_.config()));
    resume_->stall.begin_request(resume_->last_byte_ms);
    resume_->last_tick_ms = resume_->last_byte_ms;
    uv_timer_start(&timer_, &ClientConnection::timer_cb, kStallTickMs, 0);
}

std::optional<size_t> ClientConnection::resume_skip(const char* data, size_t size) {
    PassResume& r = *resume_;
    r.last_byte_ms = uv_now(server_.loop());
    r.stall.on_bytes(r.last_byte_ms);
    auto step =
        policy::drop_held_prefix(r.prefix, reinterpret_cast<const unsigned char*>(data), size);
    if (step.mismatch) {
        give_up_resume("the object changed on the origin: the overlapping byte differs");
        return std::nullopt;
    }
    size_t n = step.dropped;
    metrics().discarded_bytes.add(n);
    if (r.attempt > 0 && size > n) {  // bytes flow again: the outage is over
        metrics().recovery_seconds.observe(static_cast<double>(r.last_byte_ms - r.outage_start_ms) /
                                           1000.0);
        spdlog::info("{} {}: resumed at byte {} after {} attempt(s)", exchange_.method,
                     exchange_.url, exchange_.body_bytes, r.attempt);
        r.attempt = 0;
    }
    return n;
}

bool ClientConnection::try_resume(policy::FailureKind kind, int status,
                                  std::optional<std::string_view> retry_after,
                                  std::string_view cause) {
    PassResume& r = *resume_;
    if (exchange_.body_bytes >= r.length) return false;
    const uint64_t now = uv_now(server_.loop());
    if (r.attempt == 0) r.outage_start_ms = now;
    const policy::RetryConfig retry = retry_config_from(server_.config());
    auto decision = policy::classify(kind, status, retry_after, r.attempt, now - r.outage_start_ms,
                                     retry, random_u64(), now_seconds());
    // The client hears nothing while we wait: past the gap budget, it is better closed short so
    // its own retry (with Range) comes back.
    const uint64_t silent = now - r.last_byte_ms;
    if (!decision.retry || policy::gap_exceeded(silent, decision.delay_ms, retry)) {
        metrics().give_ups.inc();
        spdlog::warn("{} {}: {} at byte {}; not resuming ({})", exchange_.method, exchange_.url,
                     cause, exchange_.body_bytes,
                     decision.retry ? "the client's gap budget would run out"
                                    : policy::to_string(decision.reason));
        return false;
    }
    ++r.attempt;
    r.retry_pending = true;
    r.awaiting_head = false;
    metrics().retries.inc();
    spdlog::warn("{} {}: {} at byte {}; retry {} in {} ms ({})", exchange_.method, exchange_.url,
                 cause, exchange_.body_bytes, r.attempt, decision.delay_ms,
                 policy::to_string(decision.reason));
    if (transfer_) {
        transfer_->detach();
        retired_transfer_ = std::move(transfer_);  // may be inside its callback: free later
    }
    uv_timer_start(&timer_, &ClientConnection::timer_cb, std::max<uint64_t>(decision.delay_ms, 1),
                   0);
    return true;
}

void ClientConnection::on_resume_timer() {
    PassResume& r = *resume_;
    if (r.retry_pending) {
        r.retry_pending = false;
        start_resumed_transfer();
        return;
    }
    // Stall watch (policy/stall_watch.h): the origin sent nothing for longer than this
    // transfer's rate makes normal, or no head and first byte within stall_timeout of a resumed
    // request. Over half the high-water mark the transfer is (or may be) paused for a slow
    // client: that silence is the client's, and the watch counts from when it ends.
    const uint64_t now = uv_now(server_.loop());
    const uint64_t planned = r.last_tick_ms + kStallTickMs;
    r.last_tick_ms = now;
    if (queued() >= server_.config().high_water_mark / 2) {
        r.stall.resume_after_pause(now);
    } else if (transfer_ && r.stall.stalled(now, planned)) {
        metrics().stalls.inc();
        spdlog::info(
            "{} {}: stalled: no body byte for {} ms (threshold {} ms, typical gap {:.1f} ms)",
            exchange_.method, exchange_.url, now - r.stall.last_ms(), r.stall.threshold_ms(),
            r.stall.typical_gap_ms());
        if (!try_resume(policy::FailureKind::Stall, 0, std::nullopt, "no bytes from origin"))
            give_up_resume("origin stalled");
        return;
    }
    uv_timer_start(&timer_, &ClientConnection::timer_cb, kStallTickMs, 0);
}

void ClientConnection::start_resumed_transfer() {
    PassResume& r = *resume_;
    r.plan = policy::plan_resume(exchange_.body_bytes, r.validator);
    UpstreamRequest req = exchange_.upstream_request;
    req.counts_for_breaker = false;  // a retry of the same request
    policy::remove_header(req.headers, "range");
    policy::remove_header(req.headers, "if-range");
    req.headers.push_back(
        {"Range", policy::format_range_header(policy::ByteRange{r.plan.request_from, r.length})});
    if (r.validator) req.headers.push_back({"If-Range", r.validator->value});
    r.awaiting_head = true;
    r.stall.begin_request(uv_now(server_.loop()));
    r.last_tick_ms = uv_now(server_.loop());
    transfer_ =
        std::make_unique<UpstreamTransfer>(server_.curl(), *this, server_.config().high_water_mark);
    metrics().resumes.inc();
    spdlog::debug("{} {}: resume from byte {} (attempt {})", exchange_.method, exchange_.url,
                  r.plan.request_from, r.attempt + 1);
    if (!transfer_->start(req)) {
        transfer_.reset();
        give_up_resume("could not start the upstream request");
        return;
    }
    uv_timer_start(&timer_, &ClientConnection::timer_cb, kStallTickMs, 0);
}

void ClientConnection::on_resumed_head(int status, const policy::HeaderList& headers) {
    PassResume& r = *resume_;
    r.awaiting_head = false;
    r.last_byte_ms = uv_now(server_.loop());
    if (policy::retryable_status(status)) {
        if (!try_resume(policy::FailureKind::HttpStatus, status,
                        policy::find_header(headers, "retry-after"),
                        "status " + std::to_string(status)))
            give_up_resume("status " + std::to_string(status));
        return;
    }
    auto decision = policy::accept_partial(r.plan, status, headers, r.length);
    if (decision.action == policy::PartialAction::Reject) {
        give_up_resume(std::string("the answer to the resume does not continue the body: ") +
                       std::string(policy::to_string(decision.reason)));
        return;
    }
    r.prefix.skip = decision.skip_bytes;
    r.prefix.check_overlap = decision.action == policy::PartialAction::Append && r.prefix.skip > 0;
    if (decision.action == policy::PartialAction::Restart)
        spdlog::info("{} {}: origin ignored Range; discarding the first {} bytes", exchange_.method,
                     exchange_.url, r.prefix.skip);
}

void ClientConnection::give_up_resume(std::string_view why) {
    spdlog::warn("{} {}: {} after {} body bytes; closing the client short", exchange_.method,
                 exchange_.url, why, exchange_.body_bytes);
    if (transfer_) {
        transfer_->detach();
        retired_transfer_ = std::move(transfer_);
        arm_timer(0);  // frees it
    }
    resume_.reset();
    log_access(RequestResult::Aborted);
    close_after_flush_ = true;
    state_ = State::Closing;
    if (queued_bytes_ == 0) close("upstream failed mid-body");
}

}  // namespace proxy
