#include "policy/background_fill.h"

#include <doctest/doctest.h>

#include <string>

using namespace policy;

namespace {

using M = BackgroundFillMode;
using R = BackgroundFillReason;
constexpr uint64_t MiB = 1 << 20;
constexpr uint64_t GiB = 1ull << 30;

}  // namespace

TEST_CASE("policy/background_fill: decisions by mode, bytes and running fills") {
    struct Row {
        M mode;
        uint64_t present;
        uint64_t length;
        uint32_t running;
        bool keep;
        R reason;
    };
    // min_percent 50, max_remaining 64 MiB, max_fills 4.
    const Row rows[] = {
        {M::Always, 0, GiB, 0, true, R::ModeAlways},
        {M::Always, 0, GiB, 3, true, R::ModeAlways},
        {M::Always, 0, GiB, 4, false, R::TooManyFills},  // the bound holds in every mode
        {M::Always, GiB - 1, GiB, 9, false, R::TooManyFills},
        {M::Never, GiB - 1, GiB, 0, false, R::ModeNever},
        {M::Never, 0, 0, 0, false, R::ModeNever},
        {M::Threshold, 0, GiB, 0, false, R::TooMuchRemains},
        {M::Threshold, GiB / 2 - 1, GiB, 0, false, R::TooMuchRemains},
        {M::Threshold, GiB / 2, GiB, 0, true, R::MostlyPresent},  // exactly 50 %
        {M::Threshold, GiB - 64 * MiB, GiB, 0, true, R::FewBytesRemain},
        {M::Threshold, GiB - 64 * MiB - 1, GiB, 0, true, R::MostlyPresent},
        {M::Threshold, 0, 64 * MiB, 0, true, R::FewBytesRemain},  // a small object: finish it
        {M::Threshold, 0, 64 * MiB + 1, 0, false, R::TooMuchRemains},
        {M::Threshold, 2 * GiB, GiB, 0, true, R::FewBytesRemain},  // present clamped to length
        {M::Threshold, GiB, GiB, 4, false, R::TooManyFills},
        {M::Threshold, 0, 0, 0, true, R::FewBytesRemain},
    };
    BackgroundFillConfig config;
    config.min_percent = 50;
    config.max_remaining = 64 * MiB;
    config.max_fills = 4;
    for (const auto& row : rows) {
        config.mode = row.mode;
        auto d = decide_background_fill(config, row.present, row.length, row.running);
        CAPTURE(std::string(to_string(row.mode)));
        CAPTURE(row.present);
        CAPTURE(row.length);
        CAPTURE(row.running);
        CHECK(d.keep_filling == row.keep);
        CHECK(d.reason == row.reason);
    }
}

TEST_CASE("policy/background_fill: zero fills allowed stops every orphaned fill") {
    BackgroundFillConfig config;
    config.max_fills = 0;
    CHECK_FALSE(decide_background_fill(config, 0, GiB, 0).keep_filling);
}

TEST_CASE("policy/background_fill: threshold percentages at the edges") {
    BackgroundFillConfig config;
    config.mode = M::Threshold;
    config.max_remaining = 0;
    config.min_percent = 0;  // any progress at all is enough
    CHECK(decide_background_fill(config, 0, GiB, 0).keep_filling);
    config.min_percent = 100;  // only a complete object (which needs no fill)
    CHECK_FALSE(decide_background_fill(config, GiB - 1, GiB, 0).keep_filling);
    CHECK(decide_background_fill(config, GiB, GiB, 0).keep_filling);
}

TEST_CASE("policy/background_fill: mode names round-trip") {
    for (auto m : {M::Always, M::Never, M::Threshold})
        CHECK(parse_background_fill_mode(to_string(m)) == m);
    CHECK_FALSE(parse_background_fill_mode("sometimes"));
    CHECK_FALSE(parse_background_fill_mode("Always"));
    CHECK_FALSE(parse_background_fill_mode(""));
}

TEST_CASE("policy/background_fill: a fill started by a cold range follows the thresholds") {
    using policy::FillOrigin;
    policy::BackgroundFillConfig config;  // Always, 50 %, 64 MiB
    constexpr uint64_t MiB = 1ull << 20;
    // 64 MiB of a 1.125 GiB object: stop, though the mode is Always.
    auto d = decide_background_fill(config, 64 * MiB, 1152 * MiB, 0, FillOrigin::ColdRange);
    CHECK_FALSE(d.keep_filling);
    CHECK(d.reason == BackgroundFillReason::OnlyARangeWanted);
    // Few bytes remain, or most is present: continue.
    CHECK(decide_background_fill(config, 8 * MiB, 48 * MiB, 0, FillOrigin::ColdRange).reason ==
          BackgroundFillReason::FewBytesRemain);
    CHECK(decide_background_fill(config, 600 * MiB, 1000 * MiB, 0, FillOrigin::ColdRange).reason ==
          BackgroundFillReason::MostlyPresent);
    // A whole-object fill in Always mode is unchanged.
    CHECK(decide_background_fill(config, 64 * MiB, 1152 * MiB, 0).reason ==
          BackgroundFillReason::ModeAlways);
    config.mode = policy::BackgroundFillMode::Never;
    CHECK(decide_background_fill(config, 8 * MiB, 48 * MiB, 0, FillOrigin::ColdRange).reason ==
          BackgroundFillReason::ModeNever);
}
