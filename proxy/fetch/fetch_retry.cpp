// Fetch: its part in retries (the engine, proxy/upstream/resumable_transfer.h, does them) and
// serving the stored copy when a revalidation fails.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"
#include "proxy/loop/clock.h"

namespace proxy {

namespace {

// The most this outage can have cost the fill's clients so far: the backoff ceilings of the
// retries before this one (their jittered delays were no longer, unless a Retry-After asked for
// more), the failed attempt's own time, and the delay now planned. An upper bound that needs no
// state: the engine keeps the outage's start to itself.
uint64_t outage_bound_ms(const RetryPlan& plan, const policy::RetryConfig& retry) {
    uint64_t ms = plan.silent_ms + plan.delay_ms;
    for (uint32_t i = 0; i + 1 < plan.retry; ++i)
        ms += policy::backoff_ceiling_ms(i, retry);
    return ms;
}

}  // namespace

bool Fetch::may_retry(const RetryPlan& plan) {
    // RFC 5861 §4: the origin or the client said a stale answer beats an error: no retries; the
    // engine ends at once and on_resume_end serves the stored copy.
    if (stale_.at_once() && can_serve_stale(policy::RevalidationFailure::NoAnswer)) return false;
    // Behind a stale-while-revalidate hit: nobody waits, the next request past the window asks.
    if (cursor_.purpose() == Purpose::RevalidateBehind) return false;
    // With a fallback source for the host, the origin keeps the retries that fit half the
    // clients' gap budget; the other half is the source's (fetch_fallback.cpp). Without one it
    // keeps them all: a fill may wait out a long outage in the background.
    const Config& c = registry_.config();
    if (outcome_.state() == State::Ready && !fallback_.active() &&
        outage_bound_ms(plan, registry_.retry()) > static_cast<uint64_t>(c.gap_budget * 500) &&
        !FallbackFill::targets_for(request_.url, c.fallback_source).empty())
        return false;
    return outcome_.state() == State::Ready || retry_fits_before_head(plan);
}

bool Fetch::retry_fits_before_head(const RetryPlan& plan) const {
    const Config& c = registry_.config();
    uint64_t budget_ms =
        static_cast<uint64_t>(std::min(c.gap_budget, c.upstream_header_timeout / 2) * 1000);
    return plan.retry <= 3 && plan.since_start_ms + plan.delay_ms <= budget_ms;
}

void Fetch::on_retry_scheduled(const RetryPlan& plan) {
    status_events().cut(request_.url, cursor_.next(), plan.retry, plan.delay_ms, plan.cause);
}

// A retry before any answer was used: plan again from what the store has.
bool Fetch::restart_without_run() {
    start(wall_seconds());
    return true;
}

void Fetch::on_recovered(uint64_t offset, uint64_t outage_ms, uint64_t resent) {
    status_events().resumed(request_.url, offset, static_cast<double>(outage_ms) / 1000.0, resent);
}

// A revalidation that failed (no answer, or 5xx after the retries) serves the stored copy when
// a stale-if-error directive, the stale_if_error setting or (no answer) the
// stale_if_disconnected setting allows it (policy/stale_on_error.h, docs/model-hosts.md).
bool Fetch::can_serve_stale(policy::RevalidationFailure failure) const {
    return cursor_.purpose() == Purpose::Revalidate && outcome_.state() == State::Starting &&
           stale_.allows(failure) && complete();
}

bool Fetch::serve_stale(policy::RevalidationFailure failure, std::string_view cause) {
    if (!can_serve_stale(failure)) return false;
    // RFC 9111 §4.2.4 allows this without a Warning (RFC 9111 dropped Warning); the log says it.
    spdlog::warn("fetch {}: revalidation failed ({}); serving the stored copy stale ({})", key_,
                 cause, policy::to_string(stale_.reason()));
    retire_transfer();
    become_ready(CacheResult::Hit);
    return true;
}

}  // namespace proxy
