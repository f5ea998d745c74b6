// ColdRangeStart: the state of a fill that a cold range began (issue 18 item 3,
// policy/cold_range.h; the flow is in fetch_cold_range.cpp).
//
// Life of one: before the first request, remember() keeps the first client's Range aligned
// out to whole chunks (the plan). When the origin's 206 starts the object with that run, the
// plan becomes the cold run: the fill behind it (the rest of the object) waits while a client
// still reads inside the run, so the range's clients get the origin link first. Once nobody
// reads there (or nobody is left), the fill behind starts and the run is forgotten. A fill a
// cold range began stays marked for the background-fill decision (policy::FillOrigin).
//
// Holds no handles and starts nothing: Fetch asks, then plans the fill itself. Thread: the loop
// thread. Owned by its Fetch.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "policy/byte_range.h"
#include "policy/cold_range.h"

namespace proxy {

class FetchListener;

class ColdRangeStart {
  public:
    // The first client's Range (absent: none); `enabled` is false with --max-range-fetches 0,
    // which means "always wait for the fill": no range of its own, cold or not.
    void remember(std::optional<std::string_view> range, uint64_t chunk_size, bool enabled);
    // The range to ask the origin for first, while it may still be asked for.
    const std::optional<policy::ColdRange>& plan() const { return plan_; }
    // The plan is not used (the origin ignored it, or the object starts another way).
    void drop_plan() { plan_.reset(); }
    // The origin's 206 started the object with `run`: the fill behind it waits for its readers.
    void started_object(policy::ByteRange run);
    bool started_by_range() const { return started_by_range_; }
    // The first client's Range aligned out to whole chunks, whether or not it may be asked for
    // (remember's `enabled`): what serve_stored looks for in the store.
    const std::optional<policy::ColdRange>& wanted() const { return wanted_; }
    // `run` (a client's range, aligned) is all stored: the client reads it from the store and,
    // as after a cold range, the fill behind waits while a reader is inside it; once nobody
    // is, the background-fill thresholds for a range decide (policy::FillOrigin::ColdRange).
    void serve_stored(policy::ByteRange run);
    // A client's range began a fill of a partial object: without clients it follows the
    // thresholds for a range too, instead of bringing the rest of the object.
    void began_with_range() { started_by_range_ = true; }

    // The cold run is in: true (the fill behind waits) while a listener reads inside it.
    bool hold_behind(const std::vector<FetchListener*>& listeners);
    // A reader moved on or left: true when the fill behind may start now (nobody reads inside
    // the run any more, and someone is still attached).
    bool release_behind(const std::vector<FetchListener*>& listeners);
    // The last listener left: true when the fill behind was waiting for it (it is no longer).
    bool abandon_behind();

  private:
    bool reader_inside(const std::vector<FetchListener*>& listeners) const;

    std::optional<policy::ColdRange> plan_;
    std::optional<policy::ColdRange> wanted_;  // the first client's range, aligned
    std::optional<policy::ByteRange> run_;     // what the cold-range request brought
    bool behind_waiting_ = false;              // the fill behind waits for its readers
    bool started_by_range_ = false;  // a cold range began it (policy::FillOrigin::ColdRange)
};

}  // namespace proxy
