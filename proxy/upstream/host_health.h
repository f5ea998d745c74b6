// HostHealth: a circuit breaker per origin (policy/circuit_breaker.h), fed by every upstream
// transfer and asked before a request the cache cannot serve goes upstream
// (docs/operations.md, "Host health").
//
// An origin is "scheme://host[:port]" of the request URL (not the address it resolves to, nor
// a --connect-to target). What counts:
//   failure  a request's first attempt could not reach the host (DNS, connect, TLS handshake,
//            timeout before the head) or was answered 502, 503 or 504; the retries of one
//            request count once, with its first attempt (UpstreamRequest::counts_for_breaker);
//   success  any other response head.
// A transfer cut mid-body is not counted: the host answered, and resume handles the cut.
//
// Who asks (admit): a fill's first request and its retries before any byte reached a client,
// and pass-through requests. A refusal becomes 503 with Retry-After and a one-line reason.
// Running fills keep their own backoff and are not refused; their answers still count, so a
// fill that gets through closes the breaker.
//
// Only hosts that failed are kept (at most kMaxHosts; closed ones are forgotten first).
// Transitions are logged once, at warning (open) or info (half-open, closed) level, and counted
// in the metrics (dlproxy_breaker_*). Thread: the loop thread. One per process (host_health()).
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/circuit_breaker.h"
#include "proxy/config/config.h"

namespace proxy {

// One origin as GET /status shows it ("hosts").
struct HostStatus {
    std::string origin;
    std::string state;  // closed | open | half_open
    uint32_t recent_failures = 0;
    uint64_t failures = 0;  // since start
    uint64_t refused = 0;   // requests refused while open or half-open
    std::optional<double> retry_in_s;
    std::string last_error;
};

struct HostVerdict {
    bool refused = false;
    uint32_t retry_after_s = 0;  // meaningful when refused
    std::string reason;          // one line, for the client and the access log
};

class HostHealth {
  public:
    static constexpr size_t kMaxHosts = 1024;

    // `loop` gives the clock; the config takes effect for new state (a reload keeps the hosts).
    void configure(uv_loop_t* loop, const policy::BreakerConfig& config);

    HostVerdict admit(std::string_view url);
    // A response head; 502, 503 and 504 are failures when `counts` (a first attempt), else
    // ignored; any other status is a success.
    void on_answer(std::string_view url, int status, bool counts = true);
    void on_unreachable(std::string_view url, std::string_view what);

    std::vector<HostStatus> hosts() const;

  private:
    struct Entry {
        policy::CircuitBreaker breaker;
        uint64_t failures = 0;
        uint64_t refused = 0;
        std::string last_error;
    };
    uint64_t now() const;
    void on_failure(std::string_view url, std::string_view what);
    void make_room();

    uv_loop_t* loop_ = nullptr;
    policy::BreakerConfig config_;
    std::map<std::string, Entry, std::less<>> hosts_;
};

HostHealth& host_health();

// The breaker knobs of a Config (breaker_failures, breaker_window, breaker_open).
policy::BreakerConfig breaker_config_from(const Config& config);

// "scheme://host[:port]" of an absolute URL (the URL itself when it has no path).
std::string_view origin_of(std::string_view url);

}  // namespace proxy
