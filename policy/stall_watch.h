// When a running transfer has stalled: no body byte for longer than its own rate makes normal
// (docs/recovery.md, "Stalls").
//
// A stall costs the client silence, and clients have limited patience (the gap budget, 8 s by
// default): detection, the backoff and the reconnect up to the first byte must all fit in it.
// A fixed timeout long enough for a slow link wastes most of that budget on a fast one, so the
// threshold follows the transfer: `factor` times its typical gap between arrivals (an
// exponentially weighted mean), never below `floor_ms` (what a healthy fast transfer may show:
// scheduling, TCP loss recovery) and never above `ceiling_ms` (the configured stall_timeout).
// Until the transfer has delivered `warmup` arrivals the threshold is the ceiling, and so it is
// for the first byte after `begin_request` (connect, TLS and the origin's own latency are not
// the body's rate).
//
// A check from a loop that was late by more than `late_ms` (the process was descheduled, the
// loop blocked) says "not yet": bytes may be waiting in the socket, unread because the loop did
// not run; the next check, after the loop has polled, decides.
//
// Units: milliseconds on the caller's monotonic clock. Pure: the caller passes `now`.
#pragma once

#include <cstdint>

namespace policy {

struct StallConfig {
    uint64_t floor_ms = 2000;
    uint64_t ceiling_ms = 4000;
    double factor = 10.0;
    uint32_t warmup = 16;     // arrivals before the learned gap is trusted
    uint64_t late_ms = 1000;  // a check this much later than planned is not trusted
};

class StallWatch {
  public:
    StallWatch() = default;
    explicit StallWatch(StallConfig config) : config_(config) {}

    // A new request: the first byte may take up to the ceiling. The learned gap is kept (a
    // resume continues the same body at the same rate).
    void begin_request(uint64_t now);
    // The transfer runs again after a pause of our own (a slow client, the disk): count from
    // now, with the learned threshold (the connection is up, its bytes are buffered).
    void resume_after_pause(uint64_t now);
    // Body bytes arrived.
    void on_bytes(uint64_t now);

    // The silence that counts as a stall now.
    uint64_t threshold_ms() const;
    // True when the transfer has been silent past the threshold. `planned_check` is when the
    // caller meant this check to run (0: unknown); a check much later than planned is refused.
    bool stalled(uint64_t now, uint64_t planned_check = 0) const;
    // How long until stalled() could first be true, from `now` (0: already).
    uint64_t due_in_ms(uint64_t now) const;

    uint64_t last_ms() const { return last_ms_; }
    double typical_gap_ms() const { return typical_gap_ms_; }
    const StallConfig& config() const { return config_; }

  private:
    StallConfig config_;
    uint64_t last_ms_ = 0;
    double typical_gap_ms_ = 0;
    uint32_t arrivals_ = 0;   // gaps learned so far (saturates at warmup)
    bool first_byte_ = true;  // waiting for a request's first byte: its gap is not learned
};

}  // namespace policy
