#include "policy/fill_pace.h"

#include <doctest/doctest.h>

using policy::decide_fill_pace;
using policy::FillPace;
using policy::FillPaceInput;
using policy::within_lead_window;

namespace {
constexpr uint64_t MiB = 1ull << 20;

bool hold_fill(const FillPaceInput& in) {
    return decide_fill_pace(in) == FillPace::Hold;
}
}  // namespace

TEST_CASE(
    "policy/fill_pace: a fill is held only while it is a window ahead of a following client") {
    struct Row {
        uint64_t fill, run_begin;
        std::optional<uint64_t> lead;
        uint64_t window, quiet_ms;
        bool held, hold;
    };
    const Row rows[] = {
        {100 * MiB, 0, 90 * MiB, 16 * MiB, 0, false, false},          // 10 MiB ahead
        {106 * MiB, 0, 90 * MiB, 16 * MiB, 0, false, false},          // exactly the window
        {106 * MiB + 1, 0, 90 * MiB, 16 * MiB, 0, false, true},       // past it
        {106 * MiB + 1, 0, 90 * MiB, 0, 0, false, false},             // pacing off
        {106 * MiB + 1, 0, std::nullopt, 16 * MiB, 0, false, false},  // no client reading
        {50 * MiB, 0, 60 * MiB, 16 * MiB, 0, false, false},           // client ahead (range)
        {500 * MiB, 400 * MiB, 10 * MiB, 16 * MiB, 0, false, false},  // client reads stored bytes
        {500 * MiB, 400 * MiB, 400 * MiB, 16 * MiB, 0, false, true},  // ...and now follows
        {106 * MiB + 1, 0, 90 * MiB, 16 * MiB, 1999, false, true},
        {106 * MiB + 1, 0, 90 * MiB, 16 * MiB, 2000, false, false},  // client stopped reading
        // Held: runs again only within half the window.
        {100 * MiB, 0, 90 * MiB, 16 * MiB, 0, true, true},
        {98 * MiB, 0, 90 * MiB, 16 * MiB, 0, true, false},
        {98 * MiB + 1, 0, 90 * MiB, 16 * MiB, 0, true, true},
        {120 * MiB, 0, 90 * MiB, 16 * MiB, 2500, true, false},  // gave up on a silent client
    };
    for (const auto& r : rows) {
        FillPaceInput in;
        in.fill_position = r.fill;
        in.run_begin = r.run_begin;
        in.lead = r.lead;
        in.window = r.window;
        in.ms_since_progress = r.quiet_ms;
        in.give_up_ms = 2000;
        in.held = r.held;
        CAPTURE(r.fill);
        CAPTURE(r.quiet_ms);
        CAPTURE(r.held);
        CHECK(hold_fill(in) == r.hold);
    }
}

TEST_CASE("policy/fill_pace: a fill held for max_hold_ms runs for breathe_ms") {
    FillPaceInput in;
    in.fill_position = 200 * MiB;
    in.lead = 100 * MiB;
    in.held = true;
    in.max_hold_ms = 10000;
    in.breathe_ms = 250;
    in.ms_held = 9999;
    CHECK(decide_fill_pace(in) == FillPace::Hold);
    in.ms_held = 10000;
    CHECK(decide_fill_pace(in) == FillPace::Breathe);
    in.held = false;  // running: not held again until the breath is over
    in.ms_held = 0;
    in.ms_since_breath = 0;
    CHECK(decide_fill_pace(in) == FillPace::Run);
    in.ms_since_breath = 249;
    CHECK(decide_fill_pace(in) == FillPace::Run);
    in.ms_since_breath = 250;
    CHECK(decide_fill_pace(in) == FillPace::Hold);
    in.lead = std::nullopt;  // the client left while held: plain Run, no breath needed
    in.held = true;
    in.ms_held = 20000;
    CHECK(decide_fill_pace(in) == FillPace::Run);
}

TEST_CASE("policy/fill_pace: chunks within the window ahead of the client stay in memory") {
    CHECK(within_lead_window(10 * MiB, 11 * MiB, 10 * MiB, 16 * MiB));
    CHECK(within_lead_window(9 * MiB, 10 * MiB + 1, 10 * MiB, 16 * MiB));    // client inside it
    CHECK_FALSE(within_lead_window(9 * MiB, 10 * MiB, 10 * MiB, 16 * MiB));  // already sent
    CHECK(within_lead_window(25 * MiB, 26 * MiB, 10 * MiB, 16 * MiB));
    CHECK_FALSE(within_lead_window(26 * MiB, 27 * MiB, 10 * MiB, 16 * MiB));  // beyond
    CHECK_FALSE(within_lead_window(10 * MiB, 11 * MiB, std::nullopt, 16 * MiB));
    CHECK_FALSE(within_lead_window(10 * MiB, 11 * MiB, 10 * MiB, 0));
}
