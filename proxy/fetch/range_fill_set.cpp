// RangeFillSet: owning, tending and backing off a fetch's separate range fills.
#include "proxy/fetch/range_fill_set.h"

#include <algorithm>

namespace proxy {

RangeFill& RangeFillSet::add(Fetch& fetch, uint32_t first, uint32_t end) {
    fills_.push_back(std::make_unique<RangeFill>(fetch, first, end));
    return *fills_.back();
}

void RangeFillSet::start(RangeFill& fill, const UpstreamRequest& request,
                         const std::optional<policy::Validator>& validator) {
    if (!validator || !fill.start(request, *validator)) fill.end(RangeFillEnd::StartFailed);
}

bool RangeFillSet::claims(uint32_t index) const {
    for (const auto& f : fills_)
        if (f->claims(index)) return true;
    return false;
}

uint32_t RangeFillSet::running() const {
    uint32_t n = 0;
    for (const auto& f : fills_)
        if (f->running()) ++n;
    return n;
}

bool RangeFillSet::running_near(uint32_t index, uint32_t distance) const {
    for (const auto& f : fills_)
        if (f->running() && index < f->position() && index + distance >= f->position()) return true;
    return false;
}

std::span<const std::byte> RangeFillSet::live_bytes(uint32_t index) const {
    for (const auto& f : fills_)
        if (auto live = f->live_bytes(index); !live.empty()) return live;
    return {};
}

void RangeFillSet::failed(uint64_t now_ms) {
    failures_ = std::min<uint32_t>(failures_ + 1, 6);
    blocked_until_ms_ = now_ms + (1000ull << (failures_ - 1));
}

// By index: a resumed transfer may deliver bytes at once, waking readers that start new range
// fills (push_back) before this loop ends.
void RangeFillSet::resume_all() {
    for (size_t i = 0; i < fills_.size(); ++i)
        fills_[i]->resume();
}

void RangeFillSet::end_all(std::string_view why) {
    for (size_t i = 0; i < fills_.size(); ++i)
        fills_[i]->end(RangeFillEnd::Stopped, why);
}

void RangeFillSet::stop_all() {
    for (auto& f : fills_)
        f->stop();
}

void RangeFillSet::tend(const UpstreamRequest& request,
                        const std::optional<policy::Validator>& validator) {
    std::erase_if(fills_, [](const auto& f) { return !f->running(); });
    for (size_t i = 0; i < fills_.size(); ++i) {
        RangeFill& f = *fills_[i];
        if (!f.started()) start(f, request, validator);
    }
}

}  // namespace proxy
