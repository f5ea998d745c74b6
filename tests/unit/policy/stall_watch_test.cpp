#include "policy/stall_watch.h"

#include <doctest/doctest.h>

using policy::StallConfig;
using policy::StallWatch;

namespace {

// A watch that has seen `n` arrivals `gap` ms apart after a request started at 0.
StallWatch after_arrivals(uint32_t n, uint64_t gap, StallConfig c = {}) {
    StallWatch w(c);
    w.begin_request(0);
    uint64_t t = 500;  // the first byte: connect time, not learned
    w.on_bytes(t);
    for (uint32_t i = 0; i < n; ++i) {
        t += gap;
        w.on_bytes(t);
    }
    return w;
}

}  // namespace

TEST_CASE(
    "policy/stall_watch: the threshold follows the transfer's rate between floor and ceiling") {
    struct Row {
        uint32_t arrivals;
        uint64_t gap_ms;
        uint64_t threshold_ms;
    };
    const Row rows[] = {
        {0, 0, 4000},                         // nothing learned: the ceiling
        {15, 1, 4000},                        // still warming up
        {16, 1, 2000},                        // a fast transfer: the floor
        {100, 0, 2000},                       // loopback, 0 ms apart
        {100, 250, 2500},                     // 16 KiB every 250 ms (64 KB/s): 10 x 250
        {100, 350, 3500}, {100, 1000, 4000},  // slower than the ceiling allows: the ceiling
    };
    for (const Row& r : rows) {
        CAPTURE(r.arrivals);
        CAPTURE(r.gap_ms);
        CHECK(after_arrivals(r.arrivals, r.gap_ms).threshold_ms() == r.threshold_ms);
    }
}

TEST_CASE("policy/stall_watch: a silence is a stall only past the threshold") {
    StallWatch w = after_arrivals(100, 1);
    const uint64_t last = w.last_ms();
    CHECK_FALSE(w.stalled(last + 2000));
    CHECK(w.stalled(last + 2001));
    CHECK(w.due_in_ms(last) == 2001);
    CHECK(w.due_in_ms(last + 1500) == 501);
    CHECK(w.due_in_ms(last + 3000) == 0);
}

TEST_CASE("policy/stall_watch: a new request waits up to the ceiling for its first byte") {
    StallWatch w = after_arrivals(100, 1);
    w.begin_request(10000);
    CHECK(w.threshold_ms() == 4000);
    CHECK_FALSE(w.stalled(14000));
    CHECK(w.stalled(14001));
    // The first byte's delay (connect, TLS) is not learned; the rate before it is kept.
    w.on_bytes(13000);
    CHECK(w.threshold_ms() == 2000);
    CHECK(w.typical_gap_ms() == doctest::Approx(1.0));
}

TEST_CASE("policy/stall_watch: a resumption after our own pause counts from then") {
    StallWatch w = after_arrivals(100, 1);
    w.resume_after_pause(60000);  // paused a minute for a slow client
    CHECK_FALSE(w.stalled(61000));
    CHECK(w.threshold_ms() == 2000);
    CHECK(w.stalled(62001));
}

TEST_CASE("policy/stall_watch: a check from a late loop is not trusted") {
    StallWatch w = after_arrivals(100, 1);
    const uint64_t last = w.last_ms();
    // Planned 250 ms after the last byte, run 5 s later: the bytes may be waiting unread.
    CHECK_FALSE(w.stalled(last + 5000, last + 250));
    // Planned on time: a stall.
    CHECK(w.stalled(last + 5000, last + 4900));
    CHECK(w.stalled(last + 5000, 0));
}

TEST_CASE("policy/stall_watch: a floor above the ceiling is the ceiling") {
    StallConfig c;
    c.floor_ms = 60000;
    c.ceiling_ms = 2000;
    CHECK(after_arrivals(100, 1, c).threshold_ms() == 2000);
}

TEST_CASE("policy/stall_watch: one slow arrival moves the threshold a little, not all the way") {
    StallWatch w = after_arrivals(100, 10);  // 100 ms threshold by rate, floor 2000
    w.on_bytes(w.last_ms() + 3000);          // one 3 s gap (a loss recovery)
    // mean 10 + (3000 - 10) / 16 = 196.9 → 1969 ms, still the floor
    CHECK(w.threshold_ms() == 2000);
    CHECK(w.typical_gap_ms() == doctest::Approx(196.875));
}
