#include "proxy/xet/xorb_capture.h"

#include <spdlog/spdlog.h>

#include "cache/store.h"
#include "proxy/loop/worker.h"

namespace proxy::xet {

XorbCapture::XorbCapture(policy::XorbTarget xorb, std::string range_value)
    : xorb_(std::move(xorb)) {
    // The ranges asked for, before clamping: a part must lie inside one of them.
    if (auto specs = policy::parse_range_header(range_value)) {
        for (const policy::RangeSpec& s : *specs) {
            if (s.kind != policy::RangeSpec::Kind::Closed) return;
            asked_.push_back({s.first, s.last == UINT64_MAX ? UINT64_MAX : s.last + 1});
        }
    }
}

bool XorbCapture::asked_for(policy::ByteRange range) const {
    for (policy::ByteRange a : asked_)
        if (a.begin <= range.begin && range.end <= a.end) return true;
    return false;
}

void XorbCapture::on_head(int status, const policy::HeaderList& headers) {
    if (status != 206 || asked_.empty()) return;
    auto type = policy::find_header(headers, "content-type");
    if (auto boundary = type ? policy::byteranges_boundary(*type) : std::nullopt) {
        multipart_.emplace(std::move(*boundary));
        active_ = true;
        return;
    }
    auto value = policy::find_header(headers, "content-range");
    if (!value) return;
    auto range = policy::parse_content_range(*value);
    if (!range || !range->range || !range->complete_length) return;
    active_ = true;
    on_part(*range->range, *range->complete_length);
}

void XorbCapture::on_part(policy::ByteRange range, uint64_t complete_length) {
    in_part_ = false;
    if (!active_) return;
    if ((complete_length_ != 0 && complete_length != complete_length_) || !asked_for(range) ||
        captured_ + range.length() > kMaxCapture) {
        spdlog::debug("xorb {}: part {}-{} of {} not stored", xorb_.hash, range.begin, range.end,
                      complete_length);
        return stop();
    }
    complete_length_ = complete_length;
    parts_.push_back({range.begin, {}});
    parts_.back().bytes.reserve(range.length());
    part_left_ = range.length();
    in_part_ = true;
}

void XorbCapture::on_part_bytes(std::string_view bytes) {
    if (!active_ || !in_part_) return;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size(), part_left_));
    parts_.back().bytes.append(bytes.substr(0, n));
    part_left_ -= n;
    captured_ += n;
    if (n < bytes.size()) stop();  // a single-part body longer than its Content-Range
}

void XorbCapture::on_body(const char* data, size_t size) {
    if (!active_) return;
    if (!multipart_) return on_part_bytes({data, size});
    if (auto fed = multipart_->feed({data, size}, *this); !fed) {
        // Parts already complete are kept; the broken one is not (its end is unknown).
        spdlog::info("xorb {}: {}; storing the parts before it", xorb_.hash,
                     policy::to_string(fed.error()));
        if (in_part_ && !parts_.empty()) {
            captured_ -= parts_.back().bytes.size();
            parts_.pop_back();
        }
        stop();
    }
}

void XorbCapture::finish(uv_loop_t* loop, cache::Store& store, int64_t now) {
    std::erase_if(parts_, [](const Part& p) { return p.bytes.empty(); });
    active_ = false;
    if (parts_.empty() || complete_length_ == 0) return;
    struct Job {
        cache::ObjectHead head;
        std::vector<Part> parts;
        std::string hash;
    };
    auto job = std::make_shared<Job>();
    job->head.key = xorb_.key();
    job->head.status = 206;
    job->head.complete_length = complete_length_;
    job->head.request_time = job->head.response_time = now;
    job->head.headers = {{"Content-Type", "application/octet-stream"}};
    job->parts = std::move(parts_);
    job->hash = xorb_.hash;
    cache::Store* s = &store;
    run_on_worker(
        loop,
        [job, s, now] {
            std::vector<cache::ExtentWrite> writes;
            for (const Part& p : job->parts)
                writes.push_back({p.offset, std::as_bytes(std::span(p.bytes))});
            auto stored = s->put_extents(job->head, writes, now);
            if (!stored)
                spdlog::warn("xorb {}: not stored: {}", job->hash,
                             cache::to_string(stored.error()));
            else
                spdlog::debug("xorb {}: {} new bytes stored", job->hash, *stored);
        },
        [] {});
}

}  // namespace proxy::xet
