#include "policy/circuit_breaker.h"

#include <algorithm>

namespace policy {

std::string_view to_string(BreakerState s) {
    switch (s) {
        case BreakerState::Closed:
            return "closed";
        case BreakerState::Open:
            return "open";
        case BreakerState::HalfOpen:
            return "half_open";
    }
    return "closed";
}

Admission CircuitBreaker::admit(uint64_t now) {
    switch (state_) {
        case BreakerState::Closed:
            return Admission::Allow;
        case BreakerState::Open:
            if (now < open_until_) return Admission::Refuse;
            state_ = BreakerState::HalfOpen;
            probe_out_ = false;
            [[fallthrough]];
        case BreakerState::HalfOpen:
            if (probe_out_ && now - probe_started_ < config_.probe_timeout_ms)
                return Admission::Refuse;
            probe_out_ = true;
            probe_started_ = now;
            return Admission::Probe;
    }
    return Admission::Allow;
}

bool CircuitBreaker::on_success(uint64_t) {
    failures_.clear();
    probe_out_ = false;
    open_ms_ = 0;
    if (state_ == BreakerState::Closed) return false;
    state_ = BreakerState::Closed;
    return true;
}

bool CircuitBreaker::on_failure(uint64_t now) {
    if (config_.failures == 0) return false;
    switch (state_) {
        case BreakerState::Open:
            return false;  // a transfer started before it opened
        case BreakerState::HalfOpen:
            open(now, std::min(config_.max_open_ms, std::max(config_.open_ms, open_ms_ * 2)));
            return true;
        case BreakerState::Closed:
            break;
    }
    failures_.push_back(now);
    while (failures_.size() > config_.failures)
        failures_.pop_front();
    if (recent_failures(now) < config_.failures) return false;
    open(now, config_.open_ms);
    return true;
}

void CircuitBreaker::open(uint64_t now, uint64_t cool_down_ms) {
    state_ = BreakerState::Open;
    open_ms_ = cool_down_ms;
    open_until_ = now + cool_down_ms;
    probe_out_ = false;
    failures_.clear();
}

uint64_t CircuitBreaker::retry_after_ms(uint64_t now) const {
    uint64_t wait = 0;
    if (state_ == BreakerState::Open && open_until_ > now) wait = open_until_ - now;
    // Half-open with a probe out: the probe's answer is due within its connect time; a second
    // is a fair guess, and the client's next try finds the breaker closed or open again.
    return std::max<uint64_t>(wait, 1000);
}

uint32_t CircuitBreaker::recent_failures(uint64_t now) const {
    return static_cast<uint32_t>(std::count_if(failures_.begin(), failures_.end(), [&](uint64_t t) {
        return now - t <= config_.window_ms;
    }));
}

}  // namespace policy
