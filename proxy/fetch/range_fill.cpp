#include "proxy/fetch/range_fill.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "policy/byte_range.h"
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

std::string_view to_string(RangeFillEnd e) {
    switch (e) {
        case RangeFillEnd::Done:
            return "done";
        case RangeFillEnd::Overtaken:
            return "the main fill reached the region";
        case RangeFillEnd::Stopped:
            return "stopped";
        case RangeFillEnd::Refused:
            return "answer not usable";
        case RangeFillEnd::TransferFailed:
            return "transfer failed";
        case RangeFillEnd::Stalled:
            return "no bytes from origin";
        case RangeFillEnd::StartFailed:
            return "could not start the upstream request";
    }
    return "ended";
}

bool is_failure(RangeFillEnd e) {
    switch (e) {
        case RangeFillEnd::Done:
        case RangeFillEnd::Overtaken:
        case RangeFillEnd::Stopped:
            return false;
        case RangeFillEnd::Refused:
        case RangeFillEnd::TransferFailed:
        case RangeFillEnd::Stalled:
        case RangeFillEnd::StartFailed:
            return true;
    }
    return true;
}

RangeFill::RangeFill(Fetch& fetch, uint32_t first, uint32_t end)
    : fetch_(fetch), fill_index_(first), end_(end) {}

RangeFill::~RangeFill() = default;

bool RangeFill::start(UpstreamRequest request, const policy::Validator& validator) {
    const cache::ObjectInfo& obj = fetch_.object();
    next_ = obj.chunk_begin(fill_index_);
    end_byte_ = std::min<uint64_t>(obj.chunk_begin(end_), obj.complete_length);
    FetchRegistry& registry = fetch_.registry_;
    const Config& config = registry.config();
    ResumeSettings settings;
    settings.retry = registry.retry();
    settings.stall = stall_config_from(config);
    settings.high_water_mark = config.high_water_mark;
    settings.watch_first_head = true;  // a range fill's client waits for its first byte
    engine_ = std::make_unique<ResumableTransfer>(registry.curl(), fetch_.loop(),
                                                  static_cast<ResumeOwner&>(*this), settings,
                                                  "fetch " + fetch_.key() + " (range)");
    metrics().range_fetches.inc();
    spdlog::info("fetch {}: separate range fetch of bytes {}-{} (chunks {}..{})", fetch_.key(),
                 next_, end_byte_ - 1, fill_index_, end_ - 1);
    engine_->start(std::move(request), ResumeRun{next_, end_byte_, validator, obj.complete_length});
    return !over_;  // a start curl refused has ended it
}

void RangeFill::stop() {
    over_ = true;
    paused_ = false;
    if (engine_) engine_->stop();  // freed with this object, from the fetch's deferred call
    fill_ = {};
}

void RangeFill::end(RangeFillEnd why, std::string_view detail) {
    if (over_) return;
    stop();
    fetch_.range_fill_over(*this, why, detail);
}

std::span<const std::byte> RangeFill::live_bytes(uint32_t index) const {
    if (over_ || index != fill_index_) return {};
    return {fill_.data(), fill_.size()};
}

void RangeFill::resume() {
    if (!paused_ || over_) return;
    paused_ = false;
    engine_->resume_download();
}

HeadAnswer RangeFill::on_resume_head(const ResumeHead& head) {
    if (over_) return HeadAnswer::Taken;
    // Only a 206 continuing the region: a 200 (the validator no longer matches, or Range is
    // ignored), an error status or a 206 of something else ends it, and the main fill finds
    // out what the origin has now.
    if (head.partial && head.partial->action == policy::PartialAction::Append)
        return HeadAnswer::Accept;
    return HeadAnswer::Refuse;
}

bool RangeFill::may_retry(const RetryPlan& plan) {
    stalled_ = plan.kind == policy::FailureKind::Stall;
    // A stalled origin is left to the main fill, which stopped where this region begins and
    // picks it up at once; other faults are retried while the clients can wait.
    return !stalled_ &&
           !policy::gap_exceeded(plan.silent_ms, plan.delay_ms, fetch_.registry_.retry());
}

UpstreamSink::BodyAction RangeFill::on_resume_body(const char* data, size_t size) {
    if (over_) return UpstreamSink::BodyAction::Abort;
    if (fetch_.pipeline_.caching() && fetch_.disk_behind()) {
        if (!paused_) metrics().fill_disk_pauses.inc();
        paused_ = true;
        return UpstreamSink::BodyAction::Pause;
    }
    const cache::ObjectInfo& obj = fetch_.object();
    auto* bytes = reinterpret_cast<const std::byte*>(data);
    size_t used = 0;
    while (used < size && next_ < end_byte_) {
        if (fill_.empty() && fetch_.held(fill_index_)) {
            // Nothing more of this region is needed.
            end(RangeFillEnd::Overtaken);
            return UpstreamSink::BodyAction::Accept;
        }
        auto chunk_len = static_cast<size_t>(obj.chunk_length(fill_index_));
        size_t n =
            fill_.fill_to(chunk_len, bytes + used,
                          static_cast<size_t>(std::min<uint64_t>(size - used, end_byte_ - next_)));
        used += n;
        next_ += n;
        if (fill_.size() == chunk_len) {
            auto chunk = std::make_shared<Chunk>();
            chunk->index = fill_index_;
            chunk->bytes = std::move(fill_);
            fill_ = {};
            ++fill_index_;
            fetch_.accept_range_chunk(std::move(chunk));
            if (over_) return UpstreamSink::BodyAction::Accept;
        }
    }
    fetch_.notify_progress();  // readers may use the live bytes
    return UpstreamSink::BodyAction::Accept;
}

void RangeFill::on_resume_end(const ResumeOutcome& outcome) {
    if (over_) return;
    switch (outcome.end) {
        case ResumeEnd::Complete:
            if (next_ >= end_byte_) {
                end(RangeFillEnd::Done);
                return;
            }
            end(RangeFillEnd::TransferFailed, "response ended early");
            return;
        case ResumeEnd::RetriesExhausted:
            end(stalled_ ? RangeFillEnd::Stalled : RangeFillEnd::TransferFailed, outcome.detail);
            return;
        case ResumeEnd::StartFailed:
            end(RangeFillEnd::StartFailed, outcome.detail);
            return;
        case ResumeEnd::ObjectChanged:
        case ResumeEnd::ResumeRefused:
        case ResumeEnd::NoValidator:
            end(RangeFillEnd::Refused, outcome.detail);
            return;
    }
}

}  // namespace proxy
