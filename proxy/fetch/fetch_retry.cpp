// Fetch: retries with backoff, and the once-a-second timer that runs them, restarts deferred
// transfers, tends range fills and watches for stalls.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "policy/byte_range.h"
#include "proxy/admin/metrics.h"
#include "proxy/fetch/fetch.h"
#include "proxy/fetch/fetch_registry.h"

namespace proxy {

namespace {

int64_t now_seconds() {
    return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace

void Fetch::schedule_retry(policy::FailureKind kind, int status,
                           std::optional<std::string_view> retry_after, std::string_view cause) {
    uint64_t elapsed = uv_now(loop()) - first_attempt_ms_;
    auto decision = policy::classify(kind, status, retry_after, attempt_, elapsed,
                                     registry_.retry(), registry_.random(), now_seconds());
    if (!decision.retry || (state_ != State::Ready && !retry_fits_before_head(decision.delay_ms))) {
        if (serve_stale(cause)) return;
        metrics().give_ups.inc();
        fail(FetchEnd::RetriesExhausted,
             std::string(cause) +
                 (decision.retry ? std::string()
                                 : " (" + std::string(policy::to_string(decision.reason)) + ")"));
        return;
    }
    if (attempt_ == 0) outage_start_ms_ = uv_now(loop());
    ++attempt_;
    retry_pending_ = true;
    metrics().retries.inc();
    spdlog::warn("fetch {}: {} at offset {}; retry {} in {} ms ({})", key_, cause, next_, attempt_,
                 decision.delay_ms, policy::to_string(decision.reason));
    status_events().cut(request_.url, next_, attempt_, decision.delay_ms, cause);
    uv_timer_start(&timer_, &Fetch::timer_cb, std::max<uint64_t>(decision.delay_ms, 1), kTickMs);
}

bool Fetch::retry_fits_before_head(uint64_t delay_ms) const {
    const Config& c = registry_.config();
    uint64_t budget_ms =
        static_cast<uint64_t>(std::min(c.gap_budget, c.upstream_header_timeout / 2) * 1000);
    uint64_t elapsed = uv_now(registry_.loop()) - first_attempt_ms_;
    return attempt_ < 3 && elapsed + delay_ms <= budget_ms;
}

void Fetch::timer_cb(uv_timer_t* timer) noexcept {
    static_cast<Fetch*>(timer->data)->on_timer();
}

void Fetch::on_timer() {
    if (closing_) return;
    const uint64_t planned_tick = last_tick_ms_ + kTickMs;
    last_tick_ms_ = uv_now(loop());
    retired_.clear();
    retired_refresh_.reset();
    if (host_refusal_) {
        std::string why = std::move(*host_refusal_);
        host_refusal_.reset();
        fail(FetchEnd::HostDown, std::move(why));
        return;
    }
    tend_range_fills();
    if (refresh_start_pending_) {
        refresh_start_pending_ = false;
        if (refresh_ && !refresh_->start()) {
            refresh_.reset();
            metrics().url_refresh_failures.inc();
            fail(FetchEnd::ResumeRefused, "could not start the request for a fresh signed URL");
        }
        return;
    }
    if (refresh_) return;  // the fill waits for a fresh URL
    if (deferred_start_) {
        auto [extra, what] = std::move(*deferred_start_);
        deferred_start_.reset();
        start_transfer(extra, what);
        return;
    }
    if (replan_) {
        replan_ = false;
        plan_fill();
        return;
    }
    if (retry_pending_) {
        retry_pending_ = false;
        if (state_ != State::Ready) {  // nothing accepted yet: the first request again
            start(now_seconds());
            return;
        }
        // Resume from the next byte needed, one byte early to check continuity.
        auto validator = this->validator();
        if (next_ > 0 && !validator && !registry_.config().resume_without_validator) {
            fail(FetchEnd::NoValidator,
                 "the origin sent no ETag or Last-Modified to check the object against "
                 "(resume_without_validator is off)");
            return;
        }
        plan_ = policy::plan_resume(next_, validator);
        plan_.headers.clear();
        if (next_ > 0) {
            plan_.headers.push_back({"Range", policy::format_range_header(policy::ByteRange{
                                                  plan_.request_from, run_end_})});
            if (validator) plan_.headers.push_back({"If-Range", validator->value});
        }
        prefix_.check_overlap = next_ > 0;
        purpose_ = Purpose::Range;
        if (next_ > 0) metrics().resumes.inc();
        start_transfer(plan_.headers, "resume");
        return;
    }
    // A fill held for its clients runs again when they catch up, leave or stop reading.
    if (paused_for_readers_) maybe_resume();
    // Stall watch (policy/stall_watch.h): no body bytes for longer than this transfer's rate
    // makes normal, while it runs unpaused.
    if (transfer_ && state_ == State::Ready && !paused_for_commits_ && !paused_for_readers_ &&
        stall_.stalled(last_tick_ms_, planned_tick)) {
        const uint64_t silent = last_tick_ms_ - stall_.last_ms();
        transfer_->detach();
        transfer_.reset();  // safe: timers never run inside curl callbacks
        metrics().stalls.inc();
        spdlog::info(
            "fetch {}: stalled: no body byte for {} ms (threshold {} ms, typical gap {:.1f} ms)",
            key_, silent, stall_.threshold_ms(), stall_.typical_gap_ms());
        schedule_retry(policy::FailureKind::Stall, 0, std::nullopt, "no bytes from origin");
    }
}

// A revalidation that failed (no answer, or 5xx after the retries) serves the stored copy when
// stale_if_error allows it for this host (issue 14 item 8, docs/model-hosts.md).
bool Fetch::serve_stale(std::string_view cause) {
    if (purpose_ != Purpose::Revalidate || state_ != State::Starting || !stale_if_error_ ||
        !may_serve_stale_ || !complete())
        return false;
    // RFC 9111 §4.2.4 allows this without a Warning (RFC 9111 dropped Warning); the log says it.
    spdlog::warn("fetch {}: revalidation failed ({}); serving the stored copy stale", key_, cause);
    retry_pending_ = false;
    retire_transfer();
    become_ready(CacheResult::Hit);
    return true;
}

void Fetch::retire_transfer() {
    if (!transfer_) return;
    transfer_->detach();
    retired_.push_back(std::move(transfer_));
    uv_timer_start(&timer_, &Fetch::timer_cb, 0, kTickMs);
}

void Fetch::schedule_replan() {
    replan_ = true;
    uv_timer_start(&timer_, &Fetch::timer_cb, 0, kTickMs);
}

}  // namespace proxy
