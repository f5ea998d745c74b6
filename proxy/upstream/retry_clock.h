// RetryClock: the times and the count a ResumableTransfer's retry decisions read
// (docs/recovery.md): the attempt (retries in the current outage), when the current series of
// requests began, when the current outage began, and when the origin was last heard (a request
// sent, a body byte, a paused download resumed).
//
// An outage begins with the first failure after bytes flowed and ends when bytes flow again
// (recovered); its attempts and its deadline (policy::classify) count from its first failure, so
// a long download that recovers from many separate faults is never given up for their total. A
// series is what the owner's patience is measured against (RetryPlan::since_start_ms): it begins
// with a start that is not a retry, an adopted transfer, a recovery, or the owner's reset.
//
// A value with no handles: times are uv_now milliseconds passed in. Thread: the loop thread.
// Owned by its ResumableTransfer.
#pragma once

#include <cstdint>

namespace proxy {

class RetryClock {
  public:
    uint32_t attempt() const { return attempt_; }  // retries in the current outage (0: none)
    bool in_outage() const { return attempt_ > 0; }

    // A start at `now_ms`: a new series unless an outage is going on (its retries count on).
    void start(uint64_t now_ms) {
        if (attempt_ == 0) series_start_ms_ = now_ms;
    }
    // The owner asked for a new series: attempts and the deadline count from `now_ms`.
    void reset(uint64_t now_ms) {
        attempt_ = 0;
        series_start_ms_ = now_ms;
    }
    // A running transfer was adopted at `now_ms`: its series and its last byte are now.
    void adopt(uint64_t now_ms) { series_start_ms_ = last_heard_ms_ = now_ms; }
    // The origin was heard from at `now_ms` (a request sent, body bytes, a resumed download).
    void heard(uint64_t now_ms) { last_heard_ms_ = now_ms; }

    // An attempt failed at `now_ms`: the outage begins with the first failure.
    void failed(uint64_t now_ms) {
        if (attempt_ == 0) outage_start_ms_ = now_ms;
    }
    // A retry is scheduled.
    void retry() { ++attempt_; }
    // Bytes flow again at `now_ms` after an outage: returns how long it lasted; a new series
    // begins and the attempts count from 0.
    uint64_t recovered(uint64_t now_ms) {
        const uint64_t outage_ms = now_ms - outage_start_ms_;
        attempt_ = 0;
        series_start_ms_ = now_ms;
        return outage_ms;
    }

    uint64_t outage_ms(uint64_t now_ms) const { return now_ms - outage_start_ms_; }
    uint64_t series_ms(uint64_t now_ms) const { return now_ms - series_start_ms_; }
    uint64_t silent_ms(uint64_t now_ms) const { return now_ms - last_heard_ms_; }

  private:
    uint32_t attempt_ = 0;
    uint64_t series_start_ms_ = 0;  // the first request of the current series
    uint64_t outage_start_ms_ = 0;  // the first failure of the current outage
    uint64_t last_heard_ms_ = 0;
};

}  // namespace proxy
