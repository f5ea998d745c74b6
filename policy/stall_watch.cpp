#include "policy/stall_watch.h"

#include <algorithm>
#include <cmath>

namespace policy {

namespace {

// Weight of a new gap in the running mean: about the last 16 arrivals count.
constexpr double kAlpha = 1.0 / 16;

}  // namespace

void StallWatch::begin_request(uint64_t now) {
    last_ms_ = now;
    first_byte_ = true;
}

void StallWatch::resume_after_pause(uint64_t now) {
    last_ms_ = now;
}

void StallWatch::on_bytes(uint64_t now) {
    const uint64_t gap = now > last_ms_ ? now - last_ms_ : 0;
    last_ms_ = now;
    if (first_byte_) {
        first_byte_ = false;
        return;
    }
    if (arrivals_ == 0)
        typical_gap_ms_ = static_cast<double>(gap);
    else
        typical_gap_ms_ += kAlpha * (static_cast<double>(gap) - typical_gap_ms_);
    if (arrivals_ < config_.warmup) ++arrivals_;
}

uint64_t StallWatch::threshold_ms() const {
    const uint64_t ceiling = config_.ceiling_ms;
    if (first_byte_ || arrivals_ < config_.warmup) return ceiling;
    const double learned = config_.factor * typical_gap_ms_;
    const double floor = static_cast<double>(std::min(config_.floor_ms, ceiling));
    const double t = std::clamp(learned, floor, static_cast<double>(ceiling));
    return static_cast<uint64_t>(std::llround(t));
}

bool StallWatch::stalled(uint64_t now, uint64_t planned_check) const {
    if (planned_check != 0 && now > planned_check && now - planned_check > config_.late_ms)
        return false;
    return now > last_ms_ && now - last_ms_ > threshold_ms();
}

uint64_t StallWatch::due_in_ms(uint64_t now) const {
    const uint64_t due = last_ms_ + threshold_ms() + 1;
    return due > now ? due - now : 0;
}

}  // namespace policy
