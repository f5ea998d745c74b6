#include "policy/memory_budget.h"

#include <doctest/doctest.h>

#include <cstdint>

using policy::fill_memory;
using policy::FillMemoryInput;
using policy::memory_pressure;

namespace {
constexpr uint64_t MiB = 1ull << 20;
}  // namespace

TEST_CASE("policy/memory_budget: pressure starts at 90 % and ends below 70 %") {
    struct Row {
        uint64_t budget, in_use;
        bool was, is;
    };
    const Row rows[] = {
        {0, 10'000 * MiB, false, false},  // no budget: never
        {100 * MiB, 89 * MiB, false, false},
        {100 * MiB, 90 * MiB, false, true},
        {100 * MiB, 200 * MiB, false, true},
        {100 * MiB, 89 * MiB, true, true},  // an episode goes on above 70 %
        {100 * MiB, 70 * MiB, true, true},
        {100 * MiB, 70 * MiB - 1, true, false},
        {100 * MiB, 0, true, false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.in_use);
        CAPTURE(r.was);
        CHECK(memory_pressure({r.budget, r.in_use, r.was}) == r.is);
    }
}

TEST_CASE("policy/memory_budget: without a budget the configured limits apply") {
    auto m = fill_memory({0, 500, true, MiB, 16 * MiB, 12 * MiB});
    CHECK(m.window == 16 * MiB);
    CHECK(m.max_unwritten == 12 * MiB);
    CHECK(m.keep_recent);
}

TEST_CASE("policy/memory_budget: fills share the budget evenly") {
    struct Row {
        uint32_t fills;
        uint64_t share, window, max_unwritten;
        bool keep_recent;
    };
    // 256 MiB budget, 1 MiB chunks, a 16 MiB window and 12 MiB of unwritten chunks configured.
    // Whatever the share, filling chunk + unwritten + max(window, 2 recent) fits in it.
    const Row rows[] = {
        // One fill: the configured limits fit in its share.
        {1, 256 * MiB, 16 * MiB, 12 * MiB, true},
        {8, 32 * MiB, 16 * MiB, 12 * MiB, true},
        // 16 fills of 16 MiB: 15 MiB after the filling chunk, half of it (whole chunks) may wait
        // for the disk, the rest is kept for the clients.
        {16, 16 * MiB, 8 * MiB, 7 * MiB, true},
        // 60 fills of 4.27 MiB (the integration test).
        {60, 256 * MiB / 60, 256 * MiB / 60 - 2 * MiB, MiB, true},
        // 64 fills of 4 MiB: one chunk for the disk, two kept.
        {64, 4 * MiB, 2 * MiB, MiB, true},
        // 100 fills of 2.56 MiB: one chunk for the disk, too little left for the recent ones.
        {100, 256 * MiB / 100, 256 * MiB / 100 - 2 * MiB, MiB, false},
        // 128 fills of 2 MiB: one chunk filling, one waiting for the disk, nothing kept.
        {128, 2 * MiB, 0, MiB, false},
        // 1,000 fills: the share is below two chunks, yet a fill still gets one chunk for the
        // disk (never starves); the budget is then exceeded by the documented floor.
        {1000, 256 * MiB / 1000, 0, MiB, false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.fills);
        auto m = fill_memory({256 * MiB, r.fills, false, MiB, 16 * MiB, 12 * MiB});
        CHECK(m.share == r.share);
        CHECK(m.window == r.window);
        CHECK(m.max_unwritten == r.max_unwritten);
        CHECK(m.keep_recent == r.keep_recent);
    }
}

TEST_CASE("policy/memory_budget: under pressure nothing optional is kept") {
    auto m = fill_memory({256 * MiB, 4, true, MiB, 16 * MiB, 12 * MiB});
    CHECK(m.window == 0);
    CHECK_FALSE(m.keep_recent);
    CHECK(m.max_unwritten == 12 * MiB);  // writing is not optional: the disk sets the pace
    CHECK_FALSE(policy::may_read_ahead(true));
    CHECK(policy::may_read_ahead(false));
}

TEST_CASE("policy/memory_budget: a window of 0 stays 0") {
    auto m = fill_memory({256 * MiB, 1, false, MiB, 0, 12 * MiB});
    CHECK(m.window == 0);
}
