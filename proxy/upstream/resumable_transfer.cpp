// ResumableTransfer: its life, the calls its owner makes, sending a request and the timers.
// The retry decision is in resumable_transfer_retry.cpp, the Range request and the judgement of
// an answer's head in resumable_transfer_head.cpp, the body's held prefix, overlap byte and
// recovery accounting in resumable_transfer_body.cpp.
#include "proxy/upstream/resumable_transfer.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "proxy/loop/curl_multi.h"
#include "proxy/upstream/resumable_transfer_timers.h"

namespace proxy {

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
    uv_timer_init(loop_, &timers_->reap);
    timers_->wake.data = timers_;
    timers_->watch.data = timers_;
    timers_->reap.data = timers_;
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
    uv_close(reinterpret_cast<uv_handle_t*>(&timers_->reap), closed);
}

void ResumableTransfer::start(UpstreamRequest request, std::optional<ResumeRun> run) {
    stop();
    request_ = std::move(request);
    progress_.run = std::move(run);
    clock_.start(uv_now(loop_));
    progress_.have_last_byte = false;
    progress_.position = progress_.run ? progress_.run->next : 0;
    if (progress_.run) {
        prepare_ranged(true);
    } else {
        sent_ = request_;
        answer_.ranged = false;
        answer_.plan = {};
    }
    send();
}

void ResumableTransfer::adopt(std::unique_ptr<UpstreamTransfer> transfer, UpstreamRequest request,
                              ResumeRun run) {
    stop();
    request_ = std::move(request);
    sent_ = request_;
    progress_.run = std::move(run);
    progress_.position = progress_.run->next;
    progress_.have_last_byte = false;
    answer_.ranged = false;
    head_accepted_ = true;
    transfer_ = std::move(transfer);
    transfer_->set_sink(static_cast<UpstreamSink&>(*this));
    ++generation_;
    ++requests_;
    const uint64_t now = uv_now(loop_);
    clock_.adopt(now);
    last_tick_ms_ = now;
    stall_.begin_request(now);
    uv_timer_start(&timers_->watch, &watch_cb, settings_.tick_ms, settings_.tick_ms);
}

void ResumableTransfer::set_run(ResumeRun run) {
    progress_.run = std::move(run);
    progress_.position = progress_.run->next;
    progress_.have_last_byte = false;
    progress_.set_in_head = true;
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
    const uint64_t now = uv_now(loop_);
    clock_.heard(now);
    stall_.resume_after_pause(now);  // the watch counts from the resumption
    transfer_->resume_download();    // may deliver bytes at once
}

void ResumableTransfer::reset_outage() {
    clock_.reset(uv_now(loop_));
}

uint64_t ResumableTransfer::retry_due_in_ms() const {
    return pending_ == Pending::Retry ? uv_timer_get_due_in(&timers_->wake) : 0;
}

std::string ResumableTransfer::primary_address() const {
    return transfer_ ? transfer_->primary_address() : "-";
}

void ResumableTransfer::send() {
    if (multi_.in_action()) {  // libcurl refuses curl_multi_add_handle inside its callbacks
        pending_ = Pending::Start;
        wake_in(0);
        return;
    }
    pending_ = Pending::None;
    sent_.counts_for_breaker = request_.counts_for_breaker && clock_.attempt() == 0;
    transfer_ = std::make_unique<UpstreamTransfer>(multi_, static_cast<UpstreamSink&>(*this),
                                                   settings_.high_water_mark);
    ++generation_;
    ++requests_;
    paused_ = false;
    answer_.prefix.skip = 0;
    answer_.resent = 0;
    answer_.prefix.check_overlap = false;
    const uint64_t now = uv_now(loop_);
    clock_.heard(now);
    last_tick_ms_ = now;
    stall_.begin_request(now);
    spdlog::debug("{}: request {} (attempt {})", label_, requests_, clock_.attempt() + 1);
    if (!transfer_->start(sent_)) {
        transfer_.reset();
        end(ResumeEnd::StartFailed, 0, "could not start the upstream request");
        return;
    }
    uv_timer_start(&timers_->watch, &watch_cb, settings_.tick_ms, settings_.tick_ms);
}

void ResumableTransfer::retire() {
    ++generation_;
    paused_ = false;
    if (!transfer_) return;
    transfer_->detach();
    retired_.push_back(std::move(transfer_));  // may be inside its callback: freed later
    uv_timer_start(&timers_->reap, &reap_cb, 0, 0);
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

void ResumableTransfer::reap_cb(uv_timer_t* timer) noexcept {
    auto* timers = static_cast<Timers*>(timer->data);
    if (timers->engine) timers->engine->retired_.clear();  // no curl callback is on the stack
}

void ResumableTransfer::end(ResumeEnd end, int status, std::string detail) {
    pending_ = Pending::None;
    uv_timer_stop(&timers_->wake);
    owner_.on_resume_end(ResumeOutcome{end, status, std::move(detail)});  // may destroy this
}

}  // namespace proxy
