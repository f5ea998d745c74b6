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
    : fetch_(fetch),
      fill_index_(first),
      end_(end),
      stall_(stall_config_from(fetch.registry_.config())) {}

RangeFill::~RangeFill() {
    if (transfer_) transfer_->detach();
}

bool RangeFill::start(UpstreamRequest request, const policy::Validator& validator) {
    const cache::ObjectInfo& obj = fetch_.object();
    next_ = obj.chunk_begin(fill_index_);
    end_byte_ = std::min<uint64_t>(obj.chunk_begin(end_), obj.complete_length);
    plan_.next_offset = next_;
    plan_.request_from = next_;
    plan_.validator = validator;
    plan_.headers = {{"Range", policy::format_range_header(policy::ByteRange{next_, end_byte_})},
                     {"If-Range", validator.value}};
    for (const auto& h : plan_.headers)
        request.headers.push_back(h);
    FetchRegistry& registry = fetch_.registry_;
    transfer_ = std::make_unique<UpstreamTransfer>(registry.curl(), *this,
                                                   registry.config().high_water_mark);
    stall_.begin_request(uv_now(fetch_.loop()));
    if (!transfer_->start(request)) {
        transfer_.reset();
        over_ = true;
        return false;
    }
    metrics().range_fetches.inc();
    spdlog::info("fetch {}: separate range fetch of bytes {}-{} (chunks {}..{})", fetch_.key(),
                 next_, end_byte_ - 1, fill_index_, end_ - 1);
    return true;
}

void RangeFill::stop() {
    over_ = true;
    paused_ = false;
    if (transfer_) transfer_->detach();  // freed with this object, from the fetch's timer
    fill_ = {};
}

void RangeFill::end(RangeFillEnd why, std::string_view detail) {
    if (over_) return;
    stop();
    fetch_.range_fill_over(*this, why, detail);
}

std::span<const std::byte> RangeFill::live_bytes(uint32_t index) const {
    if (over_ || !accepted_ || index != fill_index_) return {};
    return {fill_.data(), fill_.size()};
}

void RangeFill::resume() {
    if (!paused_ || over_) return;
    paused_ = false;
    stall_.resume_after_pause(uv_now(fetch_.loop()));
    transfer_->resume_download();
}

void RangeFill::on_upstream_head(int status, std::string_view, const policy::HeaderList& headers) {
    if (over_) return;
    auto decision = policy::accept_partial(plan_, status, headers, fetch_.object().complete_length);
    if (decision.action != policy::PartialAction::Append || decision.skip_bytes != 0) {
        // A 200 (the validator no longer matches, or Range is ignored), an error status, or a
        // 206 of something else: the main fill will find out what the origin has now.
        end(RangeFillEnd::Refused, "status " + std::to_string(status) + ", " +
                                       std::string(policy::to_string(decision.reason)));
        return;
    }
    accepted_ = true;
}

UpstreamSink::BodyAction RangeFill::on_upstream_body(const char* data, size_t size) {
    if (over_ || !accepted_) return BodyAction::Abort;
    if (fetch_.pipeline_.caching() && fetch_.disk_behind()) {
        paused_ = true;
        return BodyAction::Pause;
    }
    stall_.on_bytes(uv_now(fetch_.loop()));
    const cache::ObjectInfo& obj = fetch_.object();
    auto* bytes = reinterpret_cast<const std::byte*>(data);
    size_t used = 0;
    while (used < size && next_ < end_byte_) {
        if (fill_.empty() && fetch_.held(fill_index_)) {
            // Nothing more of this region is needed.
            end(RangeFillEnd::Overtaken);
            return BodyAction::Accept;
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
            if (over_) return BodyAction::Accept;
        }
    }
    fetch_.notify_progress();  // readers may use the live bytes
    return BodyAction::Accept;
}

void RangeFill::on_upstream_done(const UpstreamResult& result) {
    if (over_) return;
    if (result.ok() && next_ >= end_byte_) {
        end(RangeFillEnd::Done);
        return;
    }
    end(RangeFillEnd::TransferFailed, result.ok() ? "response ended early" : result.message);
}

}  // namespace proxy
