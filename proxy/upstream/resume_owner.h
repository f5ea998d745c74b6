// ResumeOwner and the values it exchanges with the resume engine (ResumableTransfer,
// resumable_transfer.h): the run of bytes wanted, the head of each answer and the owner's verdict
// on it, a retry the engine plans (for the owner to veto), and why the download ended.
//
// An owner (Fetch, RangeFill, ClientConnection) implements the three events and overrides the
// hooks whose default does not fit it; docs/architecture.md "Resume: one engine" lists who
// overrides what. Thread: the loop thread; every call comes from the engine, on the loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/header_list.h"
#include "policy/resume.h"
#include "policy/retry.h"
#include "proxy/upstream/upstream_transfer.h"

namespace proxy {

// The bytes a resumable download carries: [next, end) of one representation.
struct ResumeRun {
    uint64_t next = 0;                           // the first byte the owner still needs
    uint64_t end = 0;                            // one past the last byte wanted
    std::optional<policy::Validator> validator;  // sent as If-Range, expected of answers
    std::optional<uint64_t> complete_length;     // expected of answers (Content-Range)
};

// Why a download ended. Strings only in logs (to_string).
enum class ResumeEnd {
    Complete,          // the run is delivered (or, with no run, the response ended cleanly)
    ObjectChanged,     // evidence the object changed: validator, length, 416, overlap byte
    ResumeRefused,     // the answer to a resume was an error or an unusable 2xx/416
    RetriesExhausted,  // the failures went on past the retry policy or the owner's patience
    NoValidator,       // a resume was due, and nothing proves the object unchanged
    StartFailed,       // curl refused the request
};
std::string_view to_string(ResumeEnd e);

struct ResumeOutcome {
    ResumeEnd end = ResumeEnd::Complete;
    int status = 0;      // the refused answer's status (ObjectChanged, ResumeRefused), else 0
    std::string detail;  // for logs: the last failure, or why the answer was refused
};

// A failed attempt the engine means to retry, for the owner to veto (may_retry) and log.
struct RetryPlan {
    policy::FailureKind kind = policy::FailureKind::Reset;
    int status = 0;  // HttpStatus: the status
    std::string_view cause;
    uint32_t retry = 0;           // 1 for the first retry of this outage
    uint64_t delay_ms = 0;        // the backoff or the origin's Retry-After
    uint64_t since_start_ms = 0;  // since the first request of this series was sent
    uint64_t silent_ms = 0;       // since the last body byte (or the request) arrived
    policy::RetryReason reason = policy::RetryReason::Transient;
    uint64_t position = 0;  // the next byte the owner needs
};

// The answer to a request, before its body.
struct ResumeHead {
    int status = 0;
    std::string_view reason;
    const policy::HeaderList& headers;
    // The request asked for a run (a resume, or a run started with one): accept_partial's verdict.
    // nullopt for a request without a run: the owner judges it (and calls set_run to resume it).
    std::optional<policy::PartialDecision> partial;
};

enum class HeadAnswer {
    Accept,  // use the body: from the run's next byte (the engine drops what is held)
    Refuse,  // end: ObjectChanged or ResumeRefused, as policy::judge_held_bytes says
    Taken,   // the owner has dealt with it (stopped, restarted, released the transfer)
};

class ResumeOwner {
  public:
    virtual HeadAnswer on_resume_head(const ResumeHead& head) = 0;
    // Body bytes in order, each byte once. Pause: the engine holds them (resume_download()).
    virtual UpstreamSink::BodyAction on_resume_body(const char* data, size_t size) = 0;
    // The download is over; nothing more comes. The owner may destroy the engine here.
    virtual void on_resume_end(const ResumeOutcome& outcome) = 0;

    // An interim (1xx) response before a head (RFC 9110 §15.2), raw, 100 Continue included.
    virtual void on_resume_interim(int /*status*/, std::string_view /*reason*/,
                                   const policy::HeaderList& /*headers*/) {}
    // A retry is planned: false gives up instead (the owner's clients cannot wait that long).
    virtual bool may_retry(const RetryPlan&) { return true; }
    // A retry was scheduled (after the engine's log line and metrics).
    virtual void on_retry_scheduled(const RetryPlan&) {}
    // A retry is due for a request without a run: true when the owner started its own (it
    // re-plans from scratch); false sends the same request again.
    virtual bool restart_without_run() { return false; }
    // Bytes flow again from `offset` after `outage_ms` of retries; `resent` bytes were sent
    // twice (the overlap byte not counted).
    virtual void on_recovered(uint64_t /*offset*/, uint64_t /*outage_ms*/, uint64_t /*resent*/) {}
    // The owner's reader is slow (its silence is not the origin's): the stall watch waits.
    virtual bool consumer_slow() const { return false; }

  protected:
    ~ResumeOwner() = default;
};

}  // namespace proxy
