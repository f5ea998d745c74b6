#include "proxy/upstream/resumable_transfer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <utility>

#include "policy/byte_range.h"
#include "proxy/admin/metrics.h"
#include "proxy/loop/curl_multi.h"

namespace proxy {

namespace {

uint64_t random_u64() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
}

int64_t now_seconds() {
    return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace

// The engine's timers and, when it is destroyed inside a curl callback, the transfers it can
// only free later. Outlives the engine: deleted once both timers are closed.
struct ResumableTransfer::Timers {
    uv_timer_t wake{};   // the pending start or retry (one-shot)
    uv_timer_t watch{};  // the stall watch, and freeing retired transfers (repeating)
    ResumableTransfer* engine = nullptr;
    std::vector<std::unique_ptr<UpstreamTransfer>> doomed;
    int open = 2;
};

std::string_view to_string(ResumeEnd e) {
    switch (e) {
        case ResumeEnd::Complete:
            return "complete";
        case ResumeEnd::ObjectChanged:
            return "object changed on the origin";
        case ResumeEnd::ResumeRefused:
            return "the origin refused the resume";
        case ResumeEnd::RetriesExhausted:
            return "retries exhausted";
        case ResumeEnd::NoValidator:
            return "cannot resume without a validator";
        case ResumeEnd::StartFailed:
            return "could not start the upstream request";
    }
    return "ended";
}

ResumableTransfer::ResumableTransfer(CurlMulti& multi, uv_loop_t* loop, ResumeOwner& owner,
                                     ResumeSettings settings, std::string label)
    : multi_(multi),
      loop_(loop),
      owner_(owner),
      settings_(settings),
      label_(std::move(label)),
      timers_(new Timers),
      stall_(settings.stall) {
    timers_->engine = this;
    uv_timer_init(loop_, &timers_->wake);
    uv_timer_init(loop_, &timers_->watch);
    timers_->wake.data = timers_;
    timers_->watch.data = timers_;
}

ResumableTransfer::~ResumableTransfer() {
    timers_->engine = nullptr;
    if (transfer_) transfer_->detach();
    // Curl on the stack: free them from the close callbacks. (The multi is asked only when there
    // is something to free: at shutdown it may be gone before an idle owner is.)
    if ((transfer_ || !retired_.empty()) && multi_.in_action()) {
        if (transfer_) timers_->doomed.push_back(std::move(transfer_));
        for (auto& t : retired_)
            timers_->doomed.push_back(std::move(t));
    }
    transfer_.reset();
    retired_.clear();
    auto closed = [](uv_handle_t* h) {
        auto* timers = static_cast<Timers*>(h->data);
        if (--timers->open == 0) delete timers;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&timers_->wake), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timers_->watch), closed);
}

void ResumableTransfer::start(UpstreamRequest request, std::optional<ResumeRun> run) {
    stop();
    request_ = std::move(request);
    run_ = std::move(run);
    if (attempt_ == 0) series_start_ms_ = uv_now(loop_);
    have_last_byte_ = false;
    position_ = run_ ? run_->next : 0;
    if (run_) {
        prepare_ranged(true);
    } else {
        sent_ = request_;
        ranged_ = false;
        plan_ = {};
    }
    send();
}

void ResumableTransfer::adopt(std::unique_ptr<UpstreamTransfer> transfer, UpstreamRequest request,
                              ResumeRun run) {
    stop();
    request_ = std::move(request);
    sent_ = request_;
    run_ = std::move(run);
    position_ = run_->next;
    have_last_byte_ = false;
    ranged_ = false;
    head_accepted_ = true;
    transfer_ = std::move(transfer);
    transfer_->set_sink(static_cast<UpstreamSink&>(*this));
    ++generation_;
    ++requests_;
    const uint64_t now = uv_now(loop_);
    series_start_ms_ = last_byte_ms_ = last_tick_ms_ = now;
    stall_.begin_request(now);
    uv_timer_start(&timers_->watch, &watch_cb, settings_.tick_ms, settings_.tick_ms);
}

void ResumableTransfer::set_run(ResumeRun run) {
    run_ = std::move(run);
    position_ = run_->next;
    have_last_byte_ = false;
    run_set_in_head_ = true;
}

void ResumableTransfer::resume_now() {
    stop();
    pending_ = Pending::Retry;
    wake_in(0);  // never from inside a curl callback
}

void ResumableTransfer::stop() {
    retire();
    pending_ = Pending::None;
    uv_timer_stop(&timers_->wake);
}

std::unique_ptr<UpstreamTransfer> ResumableTransfer::release() {
    ++generation_;
    paused_ = false;
    return std::move(transfer_);
}

void ResumableTransfer::resume_download() {
    if (!paused_ || !transfer_) return;
    paused_ = false;
    last_byte_ms_ = uv_now(loop_);
    stall_.resume_after_pause(last_byte_ms_);  // the watch counts from the resumption
    transfer_->resume_download();              // may deliver bytes at once
}

void ResumableTransfer::reset_outage() {
    attempt_ = 0;
    series_start_ms_ = uv_now(loop_);
}

uint64_t ResumableTransfer::retry_due_in_ms() const {
    return pending_ == Pending::Retry ? uv_timer_get_due_in(&timers_->wake) : 0;
}

std::string ResumableTransfer::primary_address() const {
    return transfer_ ? transfer_->primary_address() : "-";
}

// The request for the run from position_: one byte early when the byte before is held (the
// overlap check), the range up to the run's end, If-Range with the validator. `always_range`:
// a run the owner asked for (it may start at 0 and end before the object does); a resume from
// byte 0 asks for the object plainly.
void ResumableTransfer::prepare_ranged(bool always_range) {
    plan_ = policy::plan_resume(position_, run_->validator);
    if (!have_last_byte_) plan_.request_from = position_;
    plan_.headers.clear();
    if (always_range || position_ > 0) {
        plan_.headers.push_back({"Range", policy::format_range_header(
                                              policy::ByteRange{plan_.request_from, run_->end})});
        if (run_->validator) plan_.headers.push_back({"If-Range", run_->validator->value});
    }
    sent_ = request_;
    policy::remove_header(sent_.headers, "range");
    policy::remove_header(sent_.headers, "if-range");
    for (const auto& h : plan_.headers)
        sent_.headers.push_back(h);
    ranged_ = true;
}

void ResumableTransfer::send() {
    if (multi_.in_action()) {  // libcurl refuses curl_multi_add_handle inside its callbacks
        pending_ = Pending::Start;
        wake_in(0);
        return;
    }
    pending_ = Pending::None;
    sent_.counts_for_breaker = request_.counts_for_breaker && attempt_ == 0;
    transfer_ = std::make_unique<UpstreamTransfer>(multi_, static_cast<UpstreamSink&>(*this),
                                                   settings_.high_water_mark);
    ++generation_;
    ++requests_;
    paused_ = false;
    prefix_.skip = 0;
    answer_resent_ = 0;
    prefix_.check_overlap = false;
    const uint64_t now = uv_now(loop_);
    last_byte_ms_ = last_tick_ms_ = now;
    stall_.begin_request(now);
    spdlog::debug("{}: request {} (attempt {})", label_, requests_, attempt_ + 1);
    if (!transfer_->start(sent_)) {
        transfer_.reset();
        end(ResumeEnd::StartFailed, 0, "could not start the upstream request");
        return;
    }
    uv_timer_start(&timers_->watch, &watch_cb, settings_.tick_ms, settings_.tick_ms);
}

void ResumableTransfer::send_resume() {
    if (position_ > 0 && !run_->validator && !settings_.resume_without_validator) {
        end(ResumeEnd::NoValidator, 0,
            "the origin sent no ETag or Last-Modified to check the object against "
            "(resume_without_validator is off)");
        return;
    }
    prepare_ranged(false);
    if (position_ > 0) metrics().resumes.inc();
    spdlog::debug("{}: resume from byte {}", label_, plan_.request_from);
    send();
}

void ResumableTransfer::retire() {
    ++generation_;
    paused_ = false;
    if (!transfer_) return;
    transfer_->detach();
    retired_.push_back(std::move(transfer_));  // may be inside its callback: freed later
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timers_->watch)))
        uv_timer_start(&timers_->watch, &watch_cb, 0, settings_.tick_ms);
}

void ResumableTransfer::wake_in(uint64_t ms) {
    uv_timer_start(&timers_->wake, &wake_cb, ms, 0);
}

void ResumableTransfer::wake_cb(uv_timer_t* timer) noexcept {
    auto* timers = static_cast<Timers*>(timer->data);
    if (timers->engine) timers->engine->on_wake();
}

void ResumableTransfer::watch_cb(uv_timer_t* timer) noexcept {
    auto* timers = static_cast<Timers*>(timer->data);
    if (timers->engine) timers->engine->on_watch();
}

void ResumableTransfer::on_wake() {
    retired_.clear();  // a timer callback: no curl callback is on the stack
    const Pending pending = std::exchange(pending_, Pending::None);
    if (pending == Pending::Start) {
        send();
    } else if (pending == Pending::Retry) {
        if (run_)
            send_resume();
        else if (!owner_.restart_without_run()) {
            sent_ = request_;
            send();
        }
    }
}

bool ResumableTransfer::watching() const {
    return head_accepted_ || settings_.watch_first_head;
}

void ResumableTransfer::on_watch() {
    retired_.clear();
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

bool ResumableTransfer::plan_retry(policy::FailureKind kind, int status,
                                   std::optional<std::string_view> retry_after,
                                   std::string_view cause, std::string* why_not) {
    const uint64_t now = uv_now(loop_);
    if (attempt_ == 0) outage_start_ms_ = now;
    // Attempts and the deadline count per outage: a long download that recovers from many
    // separate faults is never given up for their total.
    auto decision = policy::classify(kind, status, retry_after, attempt_, now - outage_start_ms_,
                                     settings_.retry, random_u64(), now_seconds());
    RetryPlan plan{kind,
                   status,
                   cause,
                   attempt_ + 1,
                   decision.delay_ms,
                   now - series_start_ms_,
                   now - last_byte_ms_,
                   decision.reason,
                   position_};
    if (!decision.retry || !owner_.may_retry(plan)) {
        std::string reason = decision.retry ? "no time left for another"
                                            : std::string(policy::to_string(decision.reason));
        metrics().give_ups.inc();
        spdlog::warn("{}: {} at offset {} after {} attempt(s); giving up ({})", label_, cause,
                     position_, attempt_ + 1, reason);
        if (why_not) *why_not = decision.retry ? std::string() : " (" + reason + ")";
        return false;
    }
    ++attempt_;
    metrics().retries.inc();
    spdlog::warn("{}: {} at offset {}; retry {} in {} ms ({})", label_, cause, position_, attempt_,
                 decision.delay_ms, policy::to_string(decision.reason));
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

void ResumableTransfer::refuse(int status, const policy::HeaderList& headers,
                               policy::PartialReason why) {
    retire();
    policy::HeldBytesVerdict verdict;
    if (ranged_ && run_)
        verdict = policy::judge_held_bytes(plan_, status, headers, run_->complete_length);
    end(verdict.action == policy::HeldBytes::Invalidate ? ResumeEnd::ObjectChanged
                                                        : ResumeEnd::ResumeRefused,
        status,
        "status " + std::to_string(status) + ", " + std::string(policy::to_string(why)) + "; " +
            std::string(policy::to_string(verdict.evidence)));
}

void ResumableTransfer::end(ResumeEnd end, int status, std::string detail) {
    pending_ = Pending::None;
    uv_timer_stop(&timers_->wake);
    owner_.on_resume_end(ResumeOutcome{end, status, std::move(detail)});  // may destroy this
}

void ResumableTransfer::on_upstream_head(int status, std::string_view reason,
                                         const policy::HeaderList& headers) {
    const uint64_t gen = generation_;
    if (policy::retryable_status(status)) {
        if (plan_retry(policy::FailureKind::HttpStatus, status,
                       policy::find_header(headers, "retry-after"),
                       "status " + std::to_string(status), nullptr))
            return;  // its body is dropped
    }
    std::optional<policy::PartialDecision> partial;
    if (ranged_) partial = policy::accept_partial(plan_, status, headers, run_->complete_length);
    run_set_in_head_ = false;
    const HeadAnswer answer = owner_.on_resume_head({status, reason, headers, partial});
    if (gen != generation_) return;  // the owner stopped, restarted or took the transfer
    const bool rejected = partial && partial->action == policy::PartialAction::Reject;
    if (answer == HeadAnswer::Taken) {
        retire();
        return;
    }
    if (answer == HeadAnswer::Refuse || (rejected && !run_set_in_head_)) {
        refuse(status, headers,
               partial ? partial->reason : policy::PartialReason::UnexpectedStatus);
        return;
    }
    head_accepted_ = true;
    if (run_set_in_head_ || !partial) return;  // the body starts the run: nothing held
    prefix_.skip = partial->skip_bytes;
    prefix_.check_overlap = partial->action == policy::PartialAction::Append && prefix_.skip > 0;
    answer_resent_ = prefix_.skip - (prefix_.check_overlap ? 1 : 0);
    if (partial->action == policy::PartialAction::Restart && prefix_.skip > 0)
        spdlog::info("{}: origin ignored Range; discarding the first {} bytes", label_,
                     prefix_.skip);
}

UpstreamSink::BodyAction ResumableTransfer::on_upstream_body(const char* data, size_t size) {
    // The bytes of the answer the owner already has; the last of them must equal its last one.
    // On a copy: a Pause leaves them all to be delivered again.
    policy::HeldPrefix prefix = prefix_;
    auto step =
        policy::drop_held_prefix(prefix, reinterpret_cast<const unsigned char*>(data), size);
    if (step.mismatch) {
        retire();
        end(ResumeEnd::ObjectChanged, 0,
            std::string(policy::to_string(policy::overlap_differs().evidence)));
        return BodyAction::Accept;
    }
    const char* rest = data + step.dropped;
    const size_t left = size - step.dropped;
    const uint64_t gen = generation_;
    BodyAction action = BodyAction::Accept;
    if (left > 0) action = owner_.on_resume_body(rest, left);
    if (action == BodyAction::Pause) {
        if (gen == generation_) paused_ = true;
        return action;
    }
    if (action == BodyAction::Abort) return action;
    prefix_ = prefix;
    metrics().discarded_bytes.add(step.dropped);
    const uint64_t now = uv_now(loop_);
    bytes_received_ += size;
    if (gen != generation_) return action;  // the owner stopped or restarted it
    last_byte_ms_ = now;
    stall_.on_bytes(now);
    if (left == 0) return action;
    position_ += left;
    prefix_.overlap_byte = static_cast<unsigned char>(rest[left - 1]);
    have_last_byte_ = true;
    if (attempt_ > 0) {  // bytes flow again: the outage is over
        const uint64_t outage_ms = now - outage_start_ms_;
        metrics().recovery_seconds.observe(static_cast<double>(outage_ms) / 1000.0);
        spdlog::info("{}: resumed at offset {} after {} attempt(s)", label_, position_ - left,
                     attempt_);
        attempt_ = 0;
        series_start_ms_ = now;
        owner_.on_recovered(position_ - left, outage_ms, answer_resent_);
    }
    return action;
}

void ResumableTransfer::on_upstream_done(const UpstreamResult& result) {
    retire();  // out of the multi; freed from a timer
    if (result.ok()) {
        if (run_ && position_ < run_->end) {
            fail(policy::FailureKind::EarlyEof, "response ended early");
            return;
        }
        end(ResumeEnd::Complete, 0, {});
        return;
    }
    fail(failure_kind(result), result.message);
}

}  // namespace proxy
