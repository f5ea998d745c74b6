// ResumableTransfer: retrying (docs/recovery.md). Every retry is decided in plan_retry, from
// policy::classify (attempts, deadline, backoff with jitter, Retry-After) and the owner's veto
// (ResumeOwner::may_retry). What leads there:
//   - a transfer that ends with an error or before the run's end (on_upstream_done);
//   - a stall: no body byte for policy::StallWatch's threshold (on_watch, every tick);
//   - a retryable status (policy::retryable_status; on_upstream_head, resumable_transfer_head.cpp).
// When the wait is over, on_wake sends the retry: the rest of the run with Range + If-Range
// (send_resume), or, without a run, the same request again unless the owner re-plans.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <utility>

#include "proxy/admin/metrics.h"
#include "proxy/loop/clock.h"
#include "proxy/upstream/resumable_transfer.h"
#include "proxy/upstream/resumable_transfer_timers.h"

namespace proxy {

namespace {

uint64_t random_u64() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
}

}  // namespace

bool ResumableTransfer::plan_retry(policy::FailureKind kind, int status,
                                   std::optional<std::string_view> retry_after,
                                   std::string_view cause, std::string* why_not) {
    const uint64_t now = uv_now(loop_);
    clock_.failed(now);
    // Attempts and the deadline count per outage: a long download that recovers from many
    // separate faults is never given up for their total.
    auto decision =
        policy::classify(kind, status, retry_after, clock_.attempt(), clock_.outage_ms(now),
                         settings_.retry, random_u64(), wall_seconds());
    RetryPlan plan{kind,
                   status,
                   cause,
                   clock_.attempt() + 1,
                   decision.delay_ms,
                   clock_.series_ms(now),
                   clock_.silent_ms(now),
                   decision.reason,
                   progress_.position};
    if (!decision.retry || !owner_.may_retry(plan)) {
        std::string reason = decision.retry ? "no time left for another"
                                            : std::string(policy::to_string(decision.reason));
        metrics().give_ups.inc();
        spdlog::warn("{}: {} at offset {} after {} attempt(s); giving up ({})", label_, cause,
                     progress_.position, clock_.attempt() + 1, reason);
        if (why_not) *why_not = decision.retry ? std::string() : " (" + reason + ")";
        return false;
    }
    clock_.retry();
    metrics().retries.inc();
    spdlog::warn("{}: {} at offset {}; retry {} in {} ms ({})", label_, cause, progress_.position,
                 clock_.attempt(), decision.delay_ms, policy::to_string(decision.reason));
    retire();
    pending_ = Pending::Retry;
    wake_in(std::max<uint64_t>(decision.delay_ms, 1));
    owner_.on_retry_scheduled(plan);
    return true;
}

void ResumableTransfer::fail(policy::FailureKind kind, std::string_view cause) {
    std::string why_not;
    if (plan_retry(kind, 0, std::nullopt, cause, &why_not)) return;
    end(ResumeEnd::RetriesExhausted, 0, std::string(cause) + why_not);
}

void ResumableTransfer::on_upstream_done(const UpstreamResult& result) {
    retire();  // out of the multi; freed from a timer
    if (result.ok()) {
        if (progress_.run && progress_.position < progress_.run->end) {
            fail(policy::FailureKind::EarlyEof, "response ended early");
            return;
        }
        end(ResumeEnd::Complete, 0, {});
        return;
    }
    fail(failure_kind(result), result.message);
}

bool ResumableTransfer::watching() const {
    return head_accepted_ || settings_.watch_first_head;
}

void ResumableTransfer::on_watch() {
    const uint64_t now = uv_now(loop_);
    const uint64_t planned = last_tick_ms_ + settings_.tick_ms;
    last_tick_ms_ = now;
    if (!transfer_) {
        uv_timer_stop(&timers_->watch);
        return;
    }
    if (paused_ || !watching()) return;  // a pause of our own is no stall
    if (owner_.consumer_slow()) {        // the silence is the owner's reader's
        stall_.resume_after_pause(now);
        return;
    }
    if (!stall_.stalled(now, planned)) return;
    metrics().stalls.inc();
    spdlog::info("{}: stalled: no body byte for {} ms (threshold {} ms, typical gap {:.1f} ms)",
                 label_, now - stall_.last_ms(), stall_.threshold_ms(), stall_.typical_gap_ms());
    retire();
    fail(policy::FailureKind::Stall, "no bytes from origin");
}

void ResumableTransfer::on_wake() {
    const Pending pending = std::exchange(pending_, Pending::None);
    if (pending == Pending::Start) {
        send();
    } else if (pending == Pending::Retry) {
        if (progress_.run)
            send_resume();
        else if (!owner_.restart_without_run()) {
            sent_ = request_;
            send();
        }
    }
}

void ResumableTransfer::send_resume() {
    if (progress_.position > 0 && !progress_.run->validator &&
        !settings_.resume_without_validator) {
        end(ResumeEnd::NoValidator, 0,
            "the origin sent no ETag or Last-Modified to check the object against "
            "(resume_without_validator is off)");
        return;
    }
    prepare_ranged(false);
    if (progress_.position > 0) metrics().resumes.inc();
    spdlog::debug("{}: resume from byte {}", label_, answer_.plan.request_from);
    send();
}

}  // namespace proxy
