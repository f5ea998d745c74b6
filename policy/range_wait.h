// Ranges during a fill: whether a client whose Range starts in a region not yet fetched waits
// for the running fill to get there, or has that region fetched by a separate upstream range
// request (issue 5, item 3; docs/many-clients.md "Ranges during a fill").
//
// Waiting costs the client time (the fill must first fetch everything before its range);
// fetching separately costs one more upstream connection, and the bytes it fetches are stored
// like the fill's, so the origin still sends each byte once. A region the fill reaches within
// `wait_distance` bytes is waited for; anything further, or a region the fill is not heading
// for, gets its own fetch — up to `max_fetches` of them per object, beyond which clients wait.
//
// Units: byte offsets in the object. Pure: the caller knows where its fill is.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace policy {

struct RangeWaitInput {
    uint64_t wanted = 0;  // the first byte the client needs that nobody holds
    // Where the running fill is, when the region it is filling now contains `wanted`
    // (nullopt: no fill is heading there).
    std::optional<uint64_t> fill_position;
    uint64_t wait_distance = 16ull << 20;
    uint32_t fetches_running = 0;  // separate range fetches already running for this object
    uint32_t max_fetches = 4;
};

enum class RangeWaitReason {
    FillArrivesSoon,  // wait: the fill is at most wait_distance before it
    TooManyFetches,   // wait: max_fetches already run (or 0: separate fetches are off)
    FarAhead,         // fetch: the fill is more than wait_distance before it
    FillNotHeading,   // fetch: no fill is going to reach it in its current run
};

std::string_view to_string(RangeWaitReason r);

struct RangeWaitDecision {
    bool fetch_separately = false;
    RangeWaitReason reason = RangeWaitReason::FillArrivesSoon;
};

RangeWaitDecision decide_range_wait(const RangeWaitInput& in);

}  // namespace policy
