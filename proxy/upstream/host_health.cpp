#include "proxy/upstream/host_health.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "proxy/admin/metrics.h"

namespace proxy {

HostHealth& host_health() {
    static HostHealth health;
    return health;
}

policy::BreakerConfig breaker_config_from(const Config& config) {
    policy::BreakerConfig b;
    b.failures = config.breaker_failures;
    b.window_ms = static_cast<uint64_t>(config.breaker_window * 1000);
    b.open_ms = static_cast<uint64_t>(config.breaker_open * 1000);
    b.max_open_ms = std::max<uint64_t>(b.open_ms, 120000);
    b.probe_timeout_ms =
        std::max<uint64_t>(static_cast<uint64_t>(config.connect_timeout * 1000), b.open_ms);
    return b;
}

std::string_view origin_of(std::string_view url) {
    size_t scheme_end = url.find("://");
    size_t from = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    size_t end = url.find_first_of("/?#", from);
    return end == std::string_view::npos ? url : url.substr(0, end);
}

void HostHealth::configure(uv_loop_t* loop, const policy::BreakerConfig& config) {
    loop_ = loop;
    config_ = config;
}

uint64_t HostHealth::now() const {
    return loop_ ? uv_now(loop_) : 0;
}

HostVerdict HostHealth::admit(std::string_view url) {
    auto it = hosts_.find(origin_of(url));
    if (it == hosts_.end()) return {};
    Entry& e = it->second;
    const uint64_t t = now();
    const policy::BreakerState before = e.breaker.state();
    const policy::Admission a = e.breaker.admit(t);
    if (a == policy::Admission::Probe && before == policy::BreakerState::Open)
        spdlog::info("host {}: circuit half-open: the next request probes the origin", it->first);
    if (a != policy::Admission::Refuse) return {};
    ++e.refused;
    metrics().breaker_refused.inc();
    HostVerdict v;
    v.refused = true;
    v.retry_after_s = static_cast<uint32_t>((e.breaker.retry_after_ms(t) + 999) / 1000);
    v.reason = "origin " + it->first + " is failing (" + e.last_error +
               "); not trying it again for " + std::to_string(v.retry_after_s) + " s";
    return v;
}

void HostHealth::on_answer(std::string_view url, int status, bool counts) {
    if (status == 502 || status == 503 || status == 504) {
        if (counts) on_failure(url, "status " + std::to_string(status));
        return;
    }
    auto it = hosts_.find(origin_of(url));
    if (it == hosts_.end()) return;
    if (it->second.breaker.on_success(now())) {
        metrics().hosts_failing.add(-1);
        spdlog::info("host {}: circuit closed: the origin answered (status {})", it->first, status);
    }
}

void HostHealth::on_unreachable(std::string_view url, std::string_view what) {
    on_failure(url, what);
}

void HostHealth::on_failure(std::string_view url, std::string_view what) {
    if (config_.failures == 0) return;
    const std::string_view origin = origin_of(url);
    auto it = hosts_.find(origin);
    if (it == hosts_.end()) {
        make_room();
        Entry entry;
        entry.breaker = policy::CircuitBreaker(config_);
        it = hosts_.emplace(std::string(origin), std::move(entry)).first;
    }
    Entry& e = it->second;
    ++e.failures;
    e.last_error = std::string(what);
    const policy::BreakerState before = e.breaker.state();
    if (!e.breaker.on_failure(now())) return;
    if (before == policy::BreakerState::Closed) {
        metrics().breaker_opened.inc();
        metrics().hosts_failing.add(1);
        spdlog::warn(
            "host {}: circuit open after {} failures within {} s (last: {}); new requests the "
            "cache cannot serve get 503 for {} s",
            it->first, config_.failures, config_.window_ms / 1000, what,
            e.breaker.open_ms() / 1000);
    } else {
        spdlog::warn("host {}: circuit open again: the probe failed ({}); next probe in {} s",
                     it->first, what, e.breaker.open_ms() / 1000);
    }
}

void HostHealth::make_room() {
    if (hosts_.size() < kMaxHosts) return;
    const uint64_t t = now();
    for (auto it = hosts_.begin(); it != hosts_.end();) {
        if (it->second.breaker.state() == policy::BreakerState::Closed &&
            it->second.breaker.recent_failures(t) == 0)
            it = hosts_.erase(it);
        else
            ++it;
    }
    // Still full (a thousand hosts failing at once): forget the first closed one, else refuse
    // to track more (the new host is simply not protected).
    for (auto it = hosts_.begin(); hosts_.size() >= kMaxHosts && it != hosts_.end(); ++it) {
        if (it->second.breaker.state() == policy::BreakerState::Closed) {
            hosts_.erase(it);
            break;
        }
    }
}

std::vector<HostStatus> HostHealth::hosts() const {
    std::vector<HostStatus> out;
    const uint64_t t = now();
    for (const auto& [origin, e] : hosts_) {
        HostStatus s;
        s.origin = origin;
        s.state = std::string(policy::to_string(e.breaker.state()));
        s.recent_failures = e.breaker.recent_failures(t);
        s.failures = e.failures;
        s.refused = e.refused;
        if (e.breaker.state() != policy::BreakerState::Closed)
            s.retry_in_s = static_cast<double>(e.breaker.retry_after_ms(t)) / 1000.0;
        s.last_error = e.last_error;
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace proxy
