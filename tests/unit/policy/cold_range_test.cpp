#include "policy/cold_range.h"

#include <doctest/doctest.h>

using policy::accept_cold_range;
using policy::ColdRange;
using policy::ColdRangeReason;
using policy::plan_cold_range;

namespace {
constexpr uint64_t MiB = 1ull << 20;
}

TEST_CASE("policy/cold_range: which client ranges are asked for, aligned to chunks") {
    struct Row {
        const char* range;
        std::optional<ColdRange> plan;
    };
    const Row rows[] = {
        {"bytes=1073741824-1140850687", ColdRange{1024 * MiB, 1088 * MiB}},  // 64 MiB at 1 GiB
        {"bytes=1500000-1600000", ColdRange{1 * MiB, 2 * MiB}},
        {"bytes=1048576-2097152", ColdRange{1 * MiB, 3 * MiB}},  // last byte opens chunk 2
        {"bytes=5000000-", ColdRange{4 * MiB, std::nullopt}},
        {"bytes=0-99", ColdRange{0, 1 * MiB}},
        {"bytes=0-", std::nullopt},          // the whole object: a plain GET
        {"bytes=-500", std::nullopt},        // suffix: needs the length
        {"bytes=0-10,20-30", std::nullopt},  // several: answered whole
        {"items=1-2", std::nullopt},         // unknown unit: ignored
        {"bytes=5-18446744073709551615", ColdRange{0, std::nullopt}},  // "to the end"
    };
    for (const auto& row : rows) {
        CAPTURE(row.range);
        CHECK(plan_cold_range(row.range, MiB) == row.plan);
    }
    CHECK(policy::format_cold_range({MiB, 3 * MiB}) == "bytes=1048576-3145727");
    CHECK(policy::format_cold_range({MiB, std::nullopt}) == "bytes=1048576-");
}

TEST_CASE("policy/cold_range: only the asked range with a length and a validator is usable") {
    const ColdRange asked{MiB, 3 * MiB};
    const policy::HeaderList good = {{"Content-Range", "bytes 1048576-3145727/10485760"},
                                     {"ETag", "\"v1\""}};
    auto ok = accept_cold_range(asked, 206, good);
    CHECK(ok.usable());
    CHECK(ok.complete_length == 10 * MiB);
    CHECK(ok.range == policy::ByteRange{MiB, 3 * MiB});

    CHECK(accept_cold_range(asked, 200, {{"ETag", "\"v1\""}}).reason ==
          ColdRangeReason::NotPartial);
    CHECK(accept_cold_range(asked, 206, {{"ETag", "\"v1\""}}).reason ==
          ColdRangeReason::BadContentRange);
    CHECK(accept_cold_range(asked, 206,
                            {{"Content-Range", "bytes 1048576-3145727/*"}, {"ETag", "\"v1\""}})
              .reason == ColdRangeReason::BadContentRange);
    CHECK(accept_cold_range(asked, 206,
                            {{"Content-Range", "bytes 0-3145727/10485760"}, {"ETag", "\"v1\""}})
              .reason == ColdRangeReason::NotAsked);
    CHECK(accept_cold_range(
              asked, 206,
              {{"Content-Range", "bytes 1048576-3145727/10485760"}, {"ETag", "W/\"weak\""}})
              .reason == ColdRangeReason::NoStrongValidator);
    // The object ends inside the asked range: the origin clips it.
    auto clipped = accept_cold_range(
        asked, 206, {{"Content-Range", "bytes 1048576-1999999/2000000"}, {"ETag", "\"v1\""}});
    CHECK(clipped.usable());
    // Open-ended: to the complete length.
    CHECK(
        accept_cold_range({MiB, std::nullopt}, 206,
                          {{"Content-Range", "bytes 1048576-9999999/10000000"}, {"ETag", "\"v1\""}})
            .usable());
}

TEST_CASE("policy/cold_range: the stored head is the whole object's") {
    auto head = policy::whole_object_head(
        {{"Content-Range", "bytes 1-2/10"}, {"Content-Length", "2"}, {"ETag", "\"v\""}}, 10);
    CHECK_FALSE(policy::find_header(head, "content-range"));
    CHECK(policy::find_header(head, "content-length") == "10");
    CHECK(policy::find_header(head, "etag") == "\"v\"");
}
