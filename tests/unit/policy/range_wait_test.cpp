#include "policy/range_wait.h"

#include <doctest/doctest.h>

using policy::decide_range_wait;
using policy::RangeWaitInput;
using policy::RangeWaitReason;

namespace {
constexpr uint64_t MiB = 1ull << 20;
}

TEST_CASE("policy/range_wait: the distance to the fill decides between waiting and fetching") {
    struct Row {
        uint64_t wanted;
        std::optional<uint64_t> fill;
        uint64_t distance;
        uint32_t running, max;
        bool fetch;
        RangeWaitReason reason;
    };
    const Row rows[] = {
        {10 * MiB, 0, 16 * MiB, 0, 4, false, RangeWaitReason::FillArrivesSoon},
        {16 * MiB, 0, 16 * MiB, 0, 4, false, RangeWaitReason::FillArrivesSoon},  // exactly at
        {16 * MiB + 1, 0, 16 * MiB, 0, 4, true, RangeWaitReason::FarAhead},
        {900 * MiB, 100 * MiB, 16 * MiB, 3, 4, true, RangeWaitReason::FarAhead},
        {900 * MiB, 100 * MiB, 16 * MiB, 4, 4, false, RangeWaitReason::TooManyFetches},
        {900 * MiB, std::nullopt, 16 * MiB, 0, 4, true, RangeWaitReason::FillNotHeading},
        {900 * MiB, std::nullopt, 16 * MiB, 0, 0, false, RangeWaitReason::TooManyFetches},
        {5 * MiB, 6 * MiB, 16 * MiB, 0, 4, true, RangeWaitReason::FillNotHeading},  // fill past
        {5 * MiB, 5 * MiB, 0, 0, 4, false, RangeWaitReason::FillArrivesSoon},       // fill is there
        {5 * MiB, 4 * MiB, 0, 0, 4, true, RangeWaitReason::FarAhead},      // distance 0: never wait
        {~0ull, 0, ~0ull, 0, 4, false, RangeWaitReason::FillArrivesSoon},  // no overflow
    };
    for (const auto& r : rows) {
        CAPTURE(r.wanted);
        CAPTURE(r.running);
        RangeWaitInput in;
        in.wanted = r.wanted;
        in.fill_position = r.fill;
        in.wait_distance = r.distance;
        in.fetches_running = r.running;
        in.max_fetches = r.max;
        auto d = decide_range_wait(in);
        CHECK(d.fetch_separately == r.fetch);
        CHECK(d.reason == r.reason);
        CHECK_FALSE(policy::to_string(d.reason).empty());
    }
}
