// RangeFillSet: a Fetch's separate range fills (proxy/fetch/range_fill.h) and the back-off that
// keeps an origin refusing them from being asked again on every reader wake-up.
//
// Division of labour with the Fetch (fetch_range.cpp): the fetch decides when a reader's region
// gets a range fill of its own (policy/range_wait.h) and plans the main fill around the chunks
// the set claims; the set owns the fills, starts, resumes, stops and frees them (each fill's own
// resume engine retries its cuts and watches it for stalls). After a failed range fill no new one
// starts for a while: 1 s, doubling with each failure up to 32 s. The back-off is a deadline,
// not a timer: want_range asks blocked() when a reader needs a region.
//
// Thread: the loop thread. Owned by its Fetch; fills are freed only from tend() (the fetch's
// deferred call), never inside a curl callback.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "policy/cacheability.h"
#include "proxy/fetch/range_fill.h"

namespace proxy {

class Fetch;

class RangeFillSet {
  public:
    // A new fill of chunks [first, end) for `fetch`, not started yet.
    RangeFill& add(Fetch& fetch, uint32_t first, uint32_t end);
    // Sends its request; a fill that cannot start (no validator, no handle) ends StartFailed.
    static void start(RangeFill& fill, const UpstreamRequest& request,
                      const std::optional<policy::Validator>& validator);

    // A running fill is going to fill chunk `index`.
    bool claims(uint32_t index) const;
    uint32_t running() const;
    // A running fill's position is just past `index`, within `distance` chunks.
    bool running_near(uint32_t index, uint32_t distance) const;
    // The bytes of chunk `index` a fill holds so far; empty when no fill is filling it.
    std::span<const std::byte> live_bytes(uint32_t index) const;

    // A fill ended with a failure at `now_ms`: none starts again for a while.
    void failed(uint64_t now_ms);
    bool blocked(uint64_t now_ms) const { return now_ms < blocked_until_ms_; }

    // The disk caught up: paused fills run again. Safe while fills are added meanwhile.
    void resume_all();
    // Ends every fill, telling the fetch (RangeFill::end).
    void end_all(std::string_view why);
    // The fetch is closing: stops every fill without telling it.
    void stop_all();
    // From the deferred call: frees ended fills, starts deferred ones (each fill's resume engine
    // watches it for stalls).
    void tend(const UpstreamRequest& request, const std::optional<policy::Validator>& validator);

  private:
    std::vector<std::unique_ptr<RangeFill>> fills_;
    uint32_t failures_ = 0;  // consecutive failures, for the back-off (at most 6)
    uint64_t blocked_until_ms_ = 0;
};

}  // namespace proxy
