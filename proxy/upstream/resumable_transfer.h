// ResumableTransfer: THE retry/resume engine (docs/recovery.md). One logical download of a run
// of bytes, made of as many UpstreamTransfers as the origin's faults require.
//
// Its owner (a Fetch filling the cache, a RangeFill, a ClientConnection passing a response
// through) sees one continuous byte stream and a few typed events. The engine does the rest:
//   - it sends the request, and later the resumes: `Range: bytes=<next-1>-<end-1>` (one byte
//     early when it holds the byte before, for the continuity check) with `If-Range: <strong
//     validator>`, judged by policy::accept_partial;
//   - on a cut, an early end, a stall (policy::StallWatch) or a retryable status it waits a
//     jittered backoff or the origin's Retry-After (policy::classify), within the attempts and
//     the deadline of the current outage;
//   - it drops the leading bytes of an answer that the owner already has and checks the overlap
//     byte (policy::HeldPrefix): a mismatch ends with ObjectChanged;
//   - a start asked for inside a curl callback (libcurl refuses curl_multi_add_handle there)
//     waits for the next loop iteration, and transfers it stops using inside a callback are
//     freed later, outside any callback.
// Owner-specific policy stays with the owner through ResumeOwner's hooks: whether a wait fits
// its clients' patience, what an answer to a resume that is not a continuation means (a signed
// URL to refresh, an answer to hand to a client), the breaker, stale-if-error.
//
// Thread: the loop thread. Lifetime: owned by its owner. It may be destroyed anywhere except
// inside on_resume_head / on_resume_body; on_resume_end is always the last thing the engine
// does in a call, so the owner may destroy it there. Its timers close asynchronously: the loop
// must run once more after its destruction.
//
// Where to read it: the owner's side of the contract is resume_owner.h. resumable_transfer.cpp
// holds the calls below, sending and the timers; resumable_transfer_retry.cpp every retry
// decision (what fails, policy::classify, the owner's veto, the retry when due);
// resumable_transfer_head.cpp the Range request for a run and the judgement of each answer's
// head; resumable_transfer_body.cpp the held prefix, the overlap byte and recovery accounting.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/resume.h"
#include "policy/retry.h"
#include "policy/stall_watch.h"
#include "proxy/upstream/resume_owner.h"
#include "proxy/upstream/retry_clock.h"
#include "proxy/upstream/run_progress.h"
#include "proxy/upstream/upstream_transfer.h"

namespace proxy {

class CurlMulti;

struct ResumeSettings {
    policy::RetryConfig retry;
    policy::StallConfig stall;
    uint64_t high_water_mark = 1 << 20;
    // Resume an object that has no strong validator, on the evidence of its complete length and
    // the overlap byte alone (config resume_without_validator).
    bool resume_without_validator = false;
    // Watch the first request for a stall before its head arrives (a RangeFill). Otherwise the
    // watch starts with the first accepted head; a resume is always watched.
    bool watch_first_head = false;
    uint64_t tick_ms = 250;  // stall checks: a stall is noticed at most this late
};

class ResumableTransfer final : private UpstreamSink {
  public:
    // `label` prefixes the engine's log lines ("fetch <key>", "GET <url>").
    ResumableTransfer(CurlMulti& multi, uv_loop_t* loop, ResumeOwner& owner,
                      ResumeSettings settings, std::string label);
    ~ResumableTransfer();
    ResumableTransfer(const ResumableTransfer&) = delete;
    ResumableTransfer& operator=(const ResumableTransfer&) = delete;

    // Sends `request` (any transfer in use is dropped). With `run` it asks for the run with Range
    // + If-Range; without, the owner judges the head and may set_run. Inside a curl callback the
    // start waits for the next loop iteration. The outage counters carry on: a new request is
    // not a recovery.
    void start(UpstreamRequest request, std::optional<ResumeRun> run = std::nullopt);
    // Takes over a running transfer whose head the owner has used: its body is `run`, from
    // run.next. `request` is what it asked (resumes add Range and If-Range to it).
    void adopt(std::unique_ptr<UpstreamTransfer> transfer, UpstreamRequest request, ResumeRun run);
    // Inside on_resume_head: this answer's body is `run` (from run.next), whatever was asked.
    void set_run(ResumeRun run);
    // Sends the next request for the run now (after the owner fixed the request: a fresh URL).
    void resume_now();
    // No more events; the transfer is dropped (freed outside curl callbacks). Keeps the run.
    void stop();
    // Inside on_resume_head: the running transfer, for someone else (UpstreamTransfer::set_sink).
    std::unique_ptr<UpstreamTransfer> release();
    // The owner can take bytes again after answering Pause.
    void resume_download();
    // A new series: attempts and the deadline count from now (a fill restarted for a client).
    void reset_outage();

    UpstreamRequest& request() { return request_; }
    const UpstreamRequest& request() const { return request_; }
    bool running() const { return transfer_ != nullptr; }  // a transfer is under way
    bool retry_pending() const { return pending_ == Pending::Retry; }
    bool start_pending() const { return pending_ == Pending::Start; }
    bool active() const { return running() || pending_ != Pending::None; }
    bool paused() const { return paused_; }
    uint64_t retry_due_in_ms() const;
    uint64_t position() const { return progress_.position; }
    const std::optional<ResumeRun>& run() const { return progress_.run; }
    uint32_t attempt() const { return clock_.attempt(); }        // retries in the current outage
    uint32_t requests() const { return requests_; }              // requests sent, all attempts
    uint64_t bytes_received() const { return bytes_received_; }  // body bytes, all attempts
    const policy::StallWatch& stall() const { return stall_; }
    std::string primary_address() const;

  private:
    enum class Pending { None, Start, Retry };
    struct Timers;

    void on_upstream_head(int status, std::string_view reason,
                          const policy::HeaderList& headers) override;
    void on_upstream_interim(int status, std::string_view reason,
                             const policy::HeaderList& headers) override {
        owner_.on_resume_interim(status, reason, headers);
    }
    BodyAction on_upstream_body(const char* data, size_t size) override;
    void on_upstream_body_drained() override {}
    void on_upstream_done(const UpstreamResult& result) override;

    void prepare_ranged(bool always_range);  // sent_ and answer_ for the run from its position
    void send();                             // starts the pending request now
    void send_resume();                      // a retry with a run: Range + If-Range
    void retire();                           // drops transfer_ (safe inside curl callbacks)
    void wake_in(uint64_t ms);               // the pending start or retry
    static void wake_cb(uv_timer_t* timer) noexcept;
    static void watch_cb(uv_timer_t* timer) noexcept;
    static void reap_cb(uv_timer_t* timer) noexcept;
    void on_wake();
    void on_watch();
    // A failed attempt: a retry is scheduled (true), or not (false; logged and counted, and
    // `why_not` says why for the end's detail).
    bool plan_retry(policy::FailureKind kind, int status,
                    std::optional<std::string_view> retry_after, std::string_view cause,
                    std::string* why_not);
    void fail(policy::FailureKind kind, std::string_view cause);  // retry, or end
    void refuse(int status, const policy::HeaderList& headers, policy::PartialReason why);
    void end(ResumeEnd end, int status, std::string detail);  // tail: calls on_resume_end
    bool watching() const;

    CurlMulti& multi_;
    uv_loop_t* loop_;
    ResumeOwner& owner_;
    ResumeSettings settings_;
    std::string label_;
    Timers* timers_;  // closes asynchronously: outlives this object

    UpstreamRequest request_;     // without the engine's Range / If-Range
    UpstreamRequest sent_;        // what the current or pending request asks
    RunProgress progress_;        // the run, the next byte the owner needs (run_progress.h)
    AnswerCheck answer_;          // what the current request asked, what of its answer is held
    bool head_accepted_ = false;  // some answer's body was accepted: watch every request
    bool paused_ = false;

    std::unique_ptr<UpstreamTransfer> transfer_;
    std::vector<std::unique_ptr<UpstreamTransfer>> retired_;
    Pending pending_ = Pending::None;
    uint64_t generation_ = 0;  // changes whenever transfer_ is replaced or dropped

    policy::StallWatch stall_;
    uint64_t last_tick_ms_ = 0;
    RetryClock clock_;  // attempts, series, outage, last heard (retry_clock.h)
    uint32_t requests_ = 0;
    uint64_t bytes_received_ = 0;
};

}  // namespace proxy
