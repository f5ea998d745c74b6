// A per-host circuit breaker (issue 16 item 2, docs/operations.md "Host health").
//
// When an origin host is down, every new request for it would wait through its own connect
// timeout and backoff before failing. After `failures` failures to reach the host within
// `window_ms` (with no success in between) the breaker opens: requests the cache cannot serve
// are refused at once (503 with Retry-After) for `open_ms`. Then it is half-open: the next
// request is let through as the probe, and the others are still refused until the probe has
// an answer. A success closes the breaker; a failed probe opens it again for twice as long (up
// to `max_open_ms`). A probe that never reports (its client went away) is replaced after
// `probe_timeout_ms`.
//
// What counts as a failure or a success is the caller's choice (proxy/upstream/host_health.h: a
// host that cannot be reached, or answers 502/503/504, fails; any other answer succeeds).
//
// Units: milliseconds on the caller's monotonic clock. Pure: the caller passes `now`.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>

namespace policy {

struct BreakerConfig {
    uint32_t failures = 5;  // 0: the breaker never opens
    uint64_t window_ms = 30000;
    uint64_t open_ms = 10000;
    uint64_t max_open_ms = 120000;
    uint64_t probe_timeout_ms = 30000;
};

enum class BreakerState { Closed, Open, HalfOpen };
std::string_view to_string(BreakerState s);

enum class Admission {
    Allow,   // closed: go ahead
    Probe,   // half-open: go ahead, this request decides
    Refuse,  // open, or a probe is out: fail fast
};

class CircuitBreaker {
  public:
    CircuitBreaker() = default;
    explicit CircuitBreaker(BreakerConfig config) : config_(config) {}

    // May a new request go to the host now? Moves Open to HalfOpen when the cool-down is over.
    Admission admit(uint64_t now);
    // Outcomes of requests to the host (any request: probes and the retries of running fills).
    // Each returns true when it changed the state.
    bool on_success(uint64_t now);
    bool on_failure(uint64_t now);

    BreakerState state() const { return state_; }
    // How long a refused client should wait before trying again (Retry-After), at least 1 s.
    uint64_t retry_after_ms(uint64_t now) const;
    // Failures counted towards opening (within the window, as of `now`).
    uint32_t recent_failures(uint64_t now) const;
    uint64_t open_ms() const { return open_ms_; }  // the current cool-down
    const BreakerConfig& config() const { return config_; }

  private:
    void open(uint64_t now, uint64_t cool_down_ms);

    BreakerConfig config_;
    BreakerState state_ = BreakerState::Closed;
    std::deque<uint64_t> failures_;  // times of recent failures, oldest first, at most `failures`
    uint64_t open_until_ = 0;
    uint64_t open_ms_ = 0;
    uint64_t probe_started_ = 0;
    bool probe_out_ = false;
};

}  // namespace policy
