// ClientConnection: resuming a pass-through response (docs/recovery.md, "Without the cache").
//
// Responses that are not cached (Authorization, no-store, private — a gated model download) go
// straight from the origin to the client. When such a GET was answered 200 with a
// Content-Length and a strong validator, its transfer is handed to the resume engine
// (proxy/upstream/resumable_transfer.h), the same one the cache fill uses: a transfer that
// breaks or stalls mid-body is continued with Range + If-Range, the overlap byte checked, and
// the client keeps its one response, seeing nothing but a pause. What is specific to a client
// stays here: when a response is resumable at all, that the client's silence must stay within
// the gap budget (clients give up on silence; closed short, their own retry comes back), that a
// slow client's silence is not the origin's, and closing the client short when the engine ends
// without the whole body.
#include <spdlog/spdlog.h>

#include <charconv>

#include "policy/cacheability.h"
#include "proxy/admin/metrics.h"
#include "proxy/client/client_connection.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/server.h"
#include "proxy/upstream/resumable_transfer.h"

namespace proxy {

void ClientConnection::maybe_enable_resume(const policy::HeaderList& upstream_headers) {
    auto validator = policy::strong_validator(upstream_headers);
    auto length_header = policy::find_header(upstream_headers, "content-length");
    uint64_t length = 0;
    if ((!validator && !server_.config().resume_without_validator) || !length_header ||
        std::from_chars(length_header->data(), length_header->data() + length_header->size(),
                        length)
                .ec != std::errc() ||
        length == 0 || !pass_.transfer) {
        return;
    }
    const Config& config = server_.config();
    ResumeSettings settings;
    settings.retry = retry_config_from(config);
    settings.stall = stall_config_from(config);
    settings.high_water_mark = config.high_water_mark;
    settings.resume_without_validator = config.resume_without_validator;
    UpstreamRequest request = exchange_.upstream_request;
    request.counts_for_breaker = false;  // resumes are retries of the same request
    pass_.resume = std::make_unique<ResumableTransfer>(server_.curl(), server_.loop(),
                                                       static_cast<ResumeOwner&>(*this), settings,
                                                       exchange_.method + " " + exchange_.url);
    pass_.resume->adopt(std::move(pass_.transfer), std::move(request),
                        ResumeRun{0, length, std::move(validator), length});
}

HeadAnswer ClientConnection::on_resume_head(const ResumeHead& head) {
    // Every request the engine sends here is a resume: it must continue the body.
    if (!head.partial || head.partial->action == policy::PartialAction::Reject)
        return HeadAnswer::Refuse;
    return HeadAnswer::Accept;
}

UpstreamSink::BodyAction ClientConnection::on_resume_body(const char* data, size_t size) {
    if (socket_.closed || state_ == State::Closing) return BodyAction::Abort;
    if (queued() >= server_.config().high_water_mark) return BodyAction::Pause;
    exchange_.body_bytes += size;
    if (pass_.xorb_capture) pass_.xorb_capture->on_body(data, size);
    response_.send_body(data, size);
    return BodyAction::Accept;
}

void ClientConnection::on_resume_end(const ResumeOutcome& outcome) {
    finish_xorb_capture();  // as on_upstream_done: what arrived is stored
    if (socket_.closed) return;
    if (outcome.end == ResumeEnd::Complete) {
        response_.finish_body();
        finish_response();  // may free the engine: nothing after
        return;
    }
    give_up_resume(std::string(to_string(outcome.end)) + ": " + outcome.detail);
}

bool ClientConnection::may_retry(const RetryPlan& plan) {
    // The client hears nothing while we wait: past the gap budget, it is better closed short so
    // its own retry (with Range) comes back.
    return !policy::gap_exceeded(plan.silent_ms, plan.delay_ms,
                                 retry_config_from(server_.config()));
}

bool ClientConnection::consumer_slow() const {
    // Over half the high-water mark the transfer is (or may be) paused for a slow client: that
    // silence is the client's, and the stall watch counts from when it ends.
    return queued() >= server_.config().high_water_mark / 2;
}

void ClientConnection::give_up_resume(std::string_view why) {
    spdlog::warn("{} {}: {} after {} body bytes; closing the client short", exchange_.method,
                 exchange_.url, why, exchange_.body_bytes);
    log_access(RequestResult::Aborted);
    socket_.close_after_flush = true;
    state_ = State::Closing;
    if (socket_.queued_bytes == 0) close("upstream failed mid-body");
}

}  // namespace proxy
