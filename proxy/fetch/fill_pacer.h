// FillPacer: why a Fetch's main upstream transfer is paused, and the times that decide when it
// runs again (policy/fill_pace.h decides; docs/many-clients.md "Each client at its own pace").
//
// A fill pauses for one of two reasons: the disk is behind (sealed chunks wait in memory past
// the fill's share of the memory budget), or the fill ran a window ahead of its furthest client
// and is held for its readers. The pacer records which, when the hold began, when a reader last
// sent body bytes and when a held fill last breathed; Fetch asks it for a decision with the
// positions only it knows (fill position, run start, lead reader, window) and resumes the
// transfer itself.
//
// A value with no handles: times are uv_now milliseconds passed in. Thread: the loop thread.
// Owned by its Fetch.
#pragma once

#include <cstdint>
#include <optional>

#include "policy/fill_pace.h"

namespace proxy {

class FillPacer {
  public:
    // The disk is behind: the transfer pauses until the writes catch up.
    void pause_for_disk() { paused_for_disk_ = true; }
    // The fill is a window ahead of its furthest client: the transfer pauses from `now_ms`.
    void hold_for_readers(uint64_t now_ms) {
        held_for_readers_ = true;
        held_since_ms_ = now_ms;
    }
    bool paused_for_disk() const { return paused_for_disk_; }
    bool held_for_readers() const { return held_for_readers_; }
    bool paused() const { return paused_for_disk_ || held_for_readers_; }

    // The transfer runs again (resumed, replaced or stopped): neither pause holds any more.
    void clear() { paused_for_disk_ = held_for_readers_ = false; }
    // A new transfer starts: it is not held for readers (a disk pause is judged on its bytes).
    void clear_hold() { held_for_readers_ = false; }

    // A listener sent body bytes at `now_ms`.
    void reader_progressed(uint64_t now_ms) { reader_progress_ms_ = now_ms; }
    // A held fill runs for a breath (policy::FillPace::Breathe) at `now_ms`.
    void breathed(uint64_t now_ms) { breath_since_ms_ = now_ms; }

    // policy::decide_fill_pace, `in` holding the fill's positions and window; the pacer adds
    // the times it keeps.
    policy::FillPace decide(policy::FillPaceInput in, uint64_t now_ms) const {
        in.ms_since_progress = now_ms - reader_progress_ms_;
        in.held = held_for_readers_;
        in.ms_held = held_for_readers_ ? now_ms - held_since_ms_ : 0;
        if (breath_since_ms_) in.ms_since_breath = now_ms - *breath_since_ms_;
        return policy::decide_fill_pace(in);
    }

  private:
    bool paused_for_disk_ = false;
    bool held_for_readers_ = false;            // held a window ahead of its furthest client
    uint64_t reader_progress_ms_ = 0;          // when a listener last sent body bytes
    uint64_t held_since_ms_ = 0;               // when held_for_readers_ was set
    std::optional<uint64_t> breath_since_ms_;  // when a held fill last ran after max_hold_ms
};

}  // namespace proxy
