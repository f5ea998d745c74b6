// FillPacer: why a Fetch's main upstream transfer is paused or stopped, and the times that
// decide when it runs again (policy/fill_pace.h decides; docs/many-clients.md "Each client at
// its own pace").
//
// A fill pauses for one of two reasons: the disk is behind (sealed chunks wait in memory past
// the fill's share of the memory budget), or the fill ran a window ahead of its furthest client
// and is held for its readers. The pacer records which, when the hold began, when a reader last
// sent body bytes and when a held fill last breathed; Fetch asks it for a decision with the
// positions only it knows (fill position, run start, lead reader, window) and resumes the
// transfer itself. A fill stops when its last client left and background_fill said so (stop);
// a client attaching again restarts it (fetch_background.cpp).
//
// Its one timer, the hold re-check: armed by hold_for_readers(), every kRecheckMs while the fill
// is held for its readers; stopped when the hold ends (clear, clear_hold). Firing calls the
// owner's re-check (Fetch::recheck_held_fill): a held fill runs again when its readers caught
// up, left or stopped reading, or to breathe -- events no reader reports by itself. A disk pause
// needs no timer: the write jobs' completions resume the fill.
//
// Times are uv_now milliseconds passed in. Thread: the loop thread. Owned by its Fetch, which
// init()s it before use and close()s it like any uv handle. Not copyable or movable.
#pragma once

#include <uv.h>

#include <cstdint>
#include <optional>

#include "policy/fill_pace.h"
#include "proxy/loop/loop_timer.h"

namespace proxy {

class FillPacer {
  public:
    static constexpr uint64_t kRecheckMs = 250;

    // `Recheck` is called on `owner` by the hold re-check.
    template <class Owner, void (Owner::*Recheck)()>
    void init(uv_loop_t* loop, Owner* owner) {
        recheck_.init<Owner, Recheck>(loop, owner);
    }
    // As LoopTimer::close: `closed` receives the handle with `data` pointing at the owner.
    void close(uv_close_cb closed) { recheck_.close(closed); }

    // The disk is behind: the transfer pauses until the writes catch up. `now_ns`: uv_hrtime().
    // True when this starts a pause (not already paused for the disk).
    bool pause_for_disk(uint64_t now_ns) {
        if (paused_for_disk_) return false;
        disk_paused_since_ns_ = now_ns;
        paused_for_disk_ = true;
        return true;
    }
    // How long the current disk pause has lasted at `now_ns`; 0 when there is none.
    uint64_t disk_pause_ns(uint64_t now_ns) const {
        return paused_for_disk_ ? now_ns - disk_paused_since_ns_ : 0;
    }
    // The fill is a window ahead of its furthest client: the transfer pauses from `now_ms`.
    void hold_for_readers(uint64_t now_ms) {
        held_for_readers_ = true;
        held_since_ms_ = now_ms;
        if (!recheck_.active()) recheck_.start_every(kRecheckMs);
    }
    bool paused_for_disk() const { return paused_for_disk_; }
    bool held_for_readers() const { return held_for_readers_; }
    bool paused() const { return paused_for_disk_ || held_for_readers_; }

    // The transfer runs again (resumed, replaced or stopped): neither pause holds any more.
    void clear() {
        paused_for_disk_ = false;
        end_hold();
    }
    // A new transfer starts: it is not held for readers (a disk pause is judged on its bytes).
    void clear_hold() { end_hold(); }

    // The fill stopped without clients: no pause holds; the next client's attach restarts it.
    void stop() {
        clear();
        stopped_ = true;
        finishing_chunk_ = false;
    }
    bool stopped() const { return stopped_; }
    // The last client left while a chunk was partly received: the transfer runs until that
    // chunk is complete, then the fill stops (Fetch::stop_fill), so its bytes are not lost.
    void finish_chunk_then_stop() { finishing_chunk_ = true; }
    bool finishing_chunk() const { return finishing_chunk_; }
    // A client attached: the fill is no longer stopped, nor about to stop (restarted, or
    // waiting behind its range).
    void clear_stop() {
        stopped_ = false;
        finishing_chunk_ = false;
    }

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
    void end_hold() {
        held_for_readers_ = false;
        recheck_.stop();
    }

    bool paused_for_disk_ = false;
    uint64_t disk_paused_since_ns_ = 0;        // when paused_for_disk_ was set
    bool held_for_readers_ = false;            // held a window ahead of its furthest client
    uint64_t reader_progress_ms_ = 0;          // when a listener last sent body bytes
    uint64_t held_since_ms_ = 0;               // when held_for_readers_ was set
    std::optional<uint64_t> breath_since_ms_;  // when a held fill last ran after max_hold_ms
    bool stopped_ = false;                     // stopped without clients (stop)
    bool finishing_chunk_ = false;             // stops once the chunk being filled is complete
    LoopTimer recheck_;                        // the hold re-check, while held_for_readers_
};

}  // namespace proxy
