#include "proxy/admin/status_snapshot.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "proxy/admin/admin_api.h"
#include "proxy/upstream/host_health.h"

namespace proxy {

namespace {

using nlohmann::json;

double milli_round(double v) {
    return std::round(v * 1000) / 1000;
}

json totals(const Metrics& m) {
    auto count = [&](RequestResult r) { return m.requests(r).value(); };
    return {{"hits", count(RequestResult::Hit)},
            {"misses", count(RequestResult::Miss)},
            {"partial_hits", count(RequestResult::PartialHit)},
            {"revalidated", count(RequestResult::Revalidated)},
            {"errors", count(RequestResult::Error)},
            {"aborted", count(RequestResult::Aborted)},
            {"bytes_to_clients", m.bytes_to_clients.value()},
            {"bytes_from_cache", m.bytes_from_cache.value()},
            {"bytes_from_upstream", m.bytes_from_upstream.value()},
            {"retries", m.retries.value()},
            {"resumes", m.resumes.value()},
            {"give_ups", m.give_ups.value()},
            {"sha256_verified", m.sha256_verified.value()},
            {"sha256_unverified", m.sha256_unverified.value()},
            {"sha256_mismatches", m.sha256_mismatches.value()},
            {"url_refreshes", m.url_refreshes.value()},
            {"offline_answers", m.offline_answers.value()},
            {"fallback_fills", m.fallback_fills.value()},
            {"fallback_bytes", m.fallback_bytes.value()}};
}

json fill_json(const FillStatus& f) {
    return {{"url", f.url},
            {"key", f.key},
            {"bytes_done", f.bytes_done},
            {"total", f.total ? json(*f.total) : json(nullptr)},
            {"rate_bytes_per_s", std::round(f.rate_bytes_per_s)},
            {"attempts", f.attempts},
            {"state", f.state},
            {"clients", f.clients},
            {"retry_in_ms", f.retry_in_ms ? json(*f.retry_in_ms) : json(nullptr)},
            {"content", f.content},
            {"announced_sha256", f.announced_sha256},
            {"fallback_source", f.fallback_source}};
}

json event_json(const RecoveryEvent& e) {
    return {{"seq", e.seq},
            {"time", milli_round(e.time)},
            {"kind", to_string(e.kind)},
            {"url", e.url},
            {"offset", e.offset},
            {"attempt", e.attempt},
            {"delay_ms", e.delay_ms},
            {"outage_seconds", milli_round(e.outage_seconds)},
            {"bytes_lost", e.bytes_lost},
            {"detail", e.detail}};
}

json download_json(const FinishedDownload& d) {
    return {{"seq", d.seq},
            {"time", milli_round(d.time)},
            {"url", d.url},
            {"method", d.method},
            {"result", d.result},
            {"status", d.status},
            {"bytes", d.bytes},
            {"duration_ms", std::round(d.duration_ms)},
            {"recovered", d.recovered}};
}

}  // namespace

static json host_json(const HostStatus& h) {
    return {{"origin", h.origin},
            {"state", h.state},
            {"recent_failures", h.recent_failures},
            {"failures", h.failures},
            {"refused", h.refused},
            {"retry_in_s", h.retry_in_s ? json(milli_round(*h.retry_in_s)) : json(nullptr)},
            {"last_error", h.last_error}};
}

StatusSnapshot::StatusSnapshot(const Metrics& metrics, const CacheAdmin* cache,
                               const StatusProvider& fills, const StatusEvents& events,
                               uint64_t cache_budget, double start_time)
    : metrics_(metrics),
      cache_(cache),
      fills_(fills),
      events_(events),
      cache_budget_(cache_budget),
      start_time_(start_time) {}

std::string StatusSnapshot::render(uint64_t after_seq, double now) const {
    json cache = nullptr;
    if (cache_ != nullptr) {
        if (auto s = cache_->stats()) {
            cache = {{"bytes_present", s->bytes_present},
                     {"budget", cache_budget_},
                     {"objects", s->objects},
                     {"complete_objects", s->complete_objects}};
        }
    }
    json fills = json::array();
    for (const auto& f : fills_.inflight_fills())
        fills.push_back(fill_json(f));
    json hosts = json::array();
    for (const auto& h : host_health().hosts())
        hosts.push_back(host_json(h));
    json events = json::array();
    for (const auto& e : events_.events())
        if (e.seq > after_seq) events.push_back(event_json(e));
    json downloads = json::array();
    for (const auto& d : events_.downloads())
        if (d.seq > after_seq) downloads.push_back(download_json(d));
    json doc = {{"time", milli_round(now)},
                {"version", dlproxy_version()},
                {"uptime_seconds", milli_round(std::max(0.0, now - start_time_))},
                {"cache", cache},
                {"totals", totals(metrics_)},
                {"fills", fills},
                {"hosts", hosts},
                {"events", events},
                {"downloads", downloads},
                {"last_seq", events_.last_seq()}};
    // One line: SSE carries it in a single data: field. Invalid UTF-8 in a URL is replaced.
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace proxy
