// RangeFill: one separate upstream range request that fills a region of an object ahead of its
// Fetch's main fill, for a client whose Range starts there (issue 5 item 3; policy/range_wait.h
// decides when). Its chunks go into the Fetch's memory and write pipeline exactly like the main
// fill's, so readers and the cache cannot tell them apart.
//
// It asks for `Range: bytes=<first chunk>-<end>` with `If-Range: <strong validator>` through the
// resume engine (proxy/upstream/resumable_transfer.h) and uses the answer only when it is a 206
// continuing exactly there (policy::accept_partial). A cut, an early end or a retryable status is
// retried and resumed like the main fill's, while its clients' silence stays within the gap
// budget. A stall, a refusal or a give-up ends it: its unfilled chunks are no longer claimed and
// the main fill, which stopped where they begin, fetches them in its turn.
//
// Thread: the loop thread. Lifetime: owned by its Fetch, freed from the Fetch's deferred call.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "cache/aligned_bytes.h"
#include "proxy/upstream/resumable_transfer.h"

namespace proxy {

class Fetch;

// Why a range fill ended. The failures (Refused, TransferFailed, Stalled, StartFailed) make the
// fetch wait before it starts another one; the others do not.
enum class RangeFillEnd {
    Done,            // every claimed chunk filled
    Overtaken,       // the main fill reached the region first
    Stopped,         // the fetch ended it (failed, closing, no clients left)
    Refused,         // the answer was not a 206 continuing exactly where asked
    TransferFailed,  // the connection kept failing past the retries
    Stalled,         // no bytes for the stall timeout
    StartFailed,     // the request could not be started
};
std::string_view to_string(RangeFillEnd e);
bool is_failure(RangeFillEnd e);

class RangeFill final : private ResumeOwner {
  public:
    // Chunks [first, end) of the fetch's object.
    RangeFill(Fetch& fetch, uint32_t first, uint32_t end);
    ~RangeFill();
    RangeFill(const RangeFill&) = delete;
    RangeFill& operator=(const RangeFill&) = delete;

    // Sends the request (not from inside a curl callback). False: it could not start.
    bool start(UpstreamRequest request, const policy::Validator& validator);
    // Ends the fill and tells the fetch why (Fetch::range_fill_over); `detail` is for the log.
    // Safe inside curl callbacks.
    void end(RangeFillEnd why, std::string_view detail = {});
    // The same without telling the fetch (it is closing).
    void stop();

    bool running() const { return !over_; }
    bool started() const { return engine_ != nullptr; }
    // Chunks it is still going to fill.
    bool claims(uint32_t index) const { return !over_ && index >= fill_index_ && index < end_; }
    uint32_t position() const { return fill_index_; }
    std::span<const std::byte> live_bytes(uint32_t index) const;
    bool paused() const { return paused_; }
    void resume();

  private:
    // ResumeOwner
    HeadAnswer on_resume_head(const ResumeHead& head) override;
    UpstreamSink::BodyAction on_resume_body(const char* data, size_t size) override;
    void on_resume_end(const ResumeOutcome& outcome) override;
    bool may_retry(const RetryPlan& plan) override;

    Fetch& fetch_;
    std::unique_ptr<ResumableTransfer> engine_;
    uint32_t fill_index_;  // the chunk being filled
    uint32_t end_;
    uint64_t next_ = 0;      // next byte offset expected
    uint64_t end_byte_ = 0;  // offset of the end of chunk end_ - 1
    cache::AlignedBytes fill_;
    bool stalled_ = false;  // the last failure was a stall
    bool paused_ = false;
    bool over_ = false;
};

}  // namespace proxy
