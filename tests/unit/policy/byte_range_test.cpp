#include "policy/byte_range.h"

#include <doctest/doctest.h>

using namespace policy;

namespace {

using Kind = RangeSpec::Kind;
using Specs = std::vector<RangeSpec>;
using Ranges = std::vector<ByteRange>;
constexpr uint64_t kMax = UINT64_MAX;

}  // namespace

TEST_CASE("policy/byte_range: ByteRange helpers") {
    ByteRange r{10, 20};
    CHECK(r.length() == 10);
    CHECK_FALSE(r.empty());
    CHECK(r.contains(10));
    CHECK(r.contains(19));
    CHECK_FALSE(r.contains(20));
    CHECK(ByteRange{5, 5}.empty());
    CHECK(ByteRange{6, 5}.length() == 0);
    CHECK(intersect({0, 10}, {5, 15}) == ByteRange{5, 10});
    CHECK(intersect({0, 10}, {10, 15}).empty());
    CHECK(intersect({20, 30}, {0, 10}).empty());
    CHECK(intersect({0, kMax}, {kMax - 1, kMax}) == ByteRange{kMax - 1, kMax});
}

TEST_CASE("policy/byte_range: parse Range header") {
    struct Row {
        const char* in;
        Specs expected;
    };
    const Row rows[] = {
        {"bytes=0-499", {{Kind::Closed, 0, 499}}},
        {"bytes=500-", {{Kind::Open, 500, 0}}},
        {"bytes=-500", {{Kind::Suffix, 0, 500}}},
        {"BYTES=1-1", {{Kind::Closed, 1, 1}}},
        {"  bytes = 0 - 1 ,  5-  ,, -3  ",
         {{Kind::Closed, 0, 1}, {Kind::Open, 5, 0}, {Kind::Suffix, 0, 3}}},
        {"bytes=-0", {{Kind::Suffix, 0, 0}}},
        {"bytes=0-18446744073709551615", {{Kind::Closed, 0, kMax}}},
        {"bytes=0-99999999999999999999999999", {{Kind::Closed, 0, kMax}}},
        {"bytes=99999999999999999999999999-", {{Kind::Open, kMax, 0}}},
        {"bytes=-99999999999999999999999999", {{Kind::Suffix, 0, kMax}}},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto specs = parse_range_header(row.in);
        REQUIRE(specs);
        CHECK(*specs == row.expected);
    }
}

TEST_CASE("policy/byte_range: malformed Range headers are errors") {
    std::string many = "bytes=";
    for (size_t i = 0; i <= kMaxRanges; ++i)
        many.append("0-0,");
    struct Row {
        std::string in;
        RangeErrc expected;
    };
    const Row rows[] = {
        {"", RangeErrc::Empty},
        {"   ", RangeErrc::Empty},
        {"bytes", RangeErrc::BadSyntax},
        {"bytes=", RangeErrc::BadSyntax},
        {"bytes= , ", RangeErrc::BadSyntax},
        {"=0-1", RangeErrc::BadSyntax},
        {"items=0-1", RangeErrc::UnknownUnit},
        {"by tes=0-1", RangeErrc::BadSyntax},
        {"bytes=5", RangeErrc::BadSyntax},
        {"bytes=-", RangeErrc::BadSyntax},
        {"bytes=--5", RangeErrc::BadSyntax},
        {"bytes=1-2-3", RangeErrc::BadSyntax},
        {"bytes=a-b", RangeErrc::BadSyntax},
        {"bytes=0x10-", RangeErrc::BadSyntax},
        {"bytes=+1-2", RangeErrc::BadSyntax},
        {"bytes=0-1,x", RangeErrc::BadSyntax},
        {"bytes=\"0-1", RangeErrc::BadSyntax},
        {"bytes=5-4", RangeErrc::Inverted},
        {many, RangeErrc::TooManyRanges},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto specs = parse_range_header(row.in);
        REQUIRE_FALSE(specs);
        CHECK(specs.error() == row.expected);
        CHECK_FALSE(to_string(specs.error()).empty());
    }
}

TEST_CASE("policy/byte_range: resolve against a complete length") {
    struct Row {
        const char* in;
        uint64_t length;
        RangeOutcome outcome;
        Ranges ranges;
    };
    const Row rows[] = {
        {"bytes=0-499", 1000, RangeOutcome::Satisfiable, {{0, 500}}},
        {"bytes=0-0", 1000, RangeOutcome::Satisfiable, {{0, 1}}},
        {"bytes=500-", 1000, RangeOutcome::Satisfiable, {{500, 1000}}},
        {"bytes=999-", 1000, RangeOutcome::Satisfiable, {{999, 1000}}},
        {"bytes=-500", 1000, RangeOutcome::Satisfiable, {{500, 1000}}},
        {"bytes=-1000", 1000, RangeOutcome::Satisfiable, {{0, 1000}}},
        {"bytes=-5000", 1000, RangeOutcome::Satisfiable, {{0, 1000}}},
        {"bytes=900-5000", 1000, RangeOutcome::Satisfiable, {{900, 1000}}},
        {"bytes=0-99999999999999999999", 1000, RangeOutcome::Satisfiable, {{0, 1000}}},
        {"bytes=0-1,5-9,-2", 1000, RangeOutcome::Satisfiable, {{0, 2}, {5, 10}, {998, 1000}}},
        {"bytes=2000-,0-0", 1000, RangeOutcome::Satisfiable, {{0, 1}}},
        {"bytes=1000-", 1000, RangeOutcome::Unsatisfiable, {}},
        {"bytes=1000-2000", 1000, RangeOutcome::Unsatisfiable, {}},
        {"bytes=-0", 1000, RangeOutcome::Unsatisfiable, {}},
        {"bytes=0-", 0, RangeOutcome::Unsatisfiable, {}},
        {"bytes=-5", 0, RangeOutcome::Unsatisfiable, {}},
        {"bytes=99999999999999999999-", kMax, RangeOutcome::Unsatisfiable, {}},
        {"bytes=0-", kMax, RangeOutcome::Satisfiable, {{0, kMax}}},
        {"bytes=-1", kMax, RangeOutcome::Satisfiable, {{kMax - 1, kMax}}},
        {"bytes=5-4", 1000, RangeOutcome::Ignore, {}},
        {"bytes=garbage", 1000, RangeOutcome::Ignore, {}},
        {"pages=1-2", 1000, RangeOutcome::Ignore, {}},
        {"", 1000, RangeOutcome::Ignore, {}},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        CAPTURE(row.length);
        auto res = resolve_range_header(row.in, row.length);
        CHECK(res.outcome == row.outcome);
        CHECK(res.ranges == row.ranges);
    }
    CHECK(resolve_range_header("pages=1-2", 10).ignored_because == RangeErrc::UnknownUnit);
    CHECK(resolve_ranges({}, 10).outcome == RangeOutcome::Ignore);
}

TEST_CASE("policy/byte_range: parse Content-Range") {
    struct Row {
        const char* in;
        ContentRange expected;
    };
    const Row rows[] = {
        {"bytes 0-499/1234", {ByteRange{0, 500}, 1234}},
        {"bytes 42-42/43", {ByteRange{42, 43}, 43}},
        {"Bytes 0-9/*", {ByteRange{0, 10}, std::nullopt}},
        {"bytes */1234", {std::nullopt, 1234}},
        {"bytes */0", {std::nullopt, 0}},
        {" bytes 1-2/3 ", {ByteRange{1, 3}, 3}},
        {"bytes 0-18446744073709551614/18446744073709551615", {ByteRange{0, kMax}, kMax}},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto cr = parse_content_range(row.in);
        REQUIRE(cr);
        CHECK(*cr == row.expected);
    }
}

TEST_CASE("policy/byte_range: malformed Content-Range is an error") {
    struct Row {
        const char* in;
        RangeErrc expected;
    };
    const Row rows[] = {
        {"", RangeErrc::Empty},
        {"bytes", RangeErrc::BadSyntax},
        {"bytes=0-1/2", RangeErrc::BadSyntax},
        {"items 0-1/2", RangeErrc::UnknownUnit},
        {"bytes 0-1", RangeErrc::BadSyntax},
        {"bytes  0-1/2", RangeErrc::BadSyntax},
        {"bytes 0-1/", RangeErrc::BadSyntax},
        {"bytes -1/2", RangeErrc::BadSyntax},
        {"bytes 0-/2", RangeErrc::BadSyntax},
        {"bytes 01/2", RangeErrc::BadSyntax},
        {"bytes */*", RangeErrc::BadSyntax},
        {"bytes */", RangeErrc::BadSyntax},
        {"bytes 0-1/2x", RangeErrc::BadSyntax},
        {"bytes 0 -1/2", RangeErrc::BadSyntax},
        {"bytes 5-4/10", RangeErrc::Inverted},
        {"bytes 0-9/9", RangeErrc::BeyondComplete},
        {"bytes 0-10/5", RangeErrc::BeyondComplete},
        {"bytes 0-18446744073709551616/*", RangeErrc::Overflow},
        {"bytes 0-18446744073709551615/*", RangeErrc::Overflow},
        {"bytes */99999999999999999999999", RangeErrc::Overflow},
        {"bytes 0-1/99999999999999999999999", RangeErrc::Overflow},
    };
    for (const auto& row : rows) {
        INFO(std::string(row.in));
        auto cr = parse_content_range(row.in);
        REQUIRE_FALSE(cr);
        CHECK(cr.error() == row.expected);
    }
}

TEST_CASE("policy/byte_range: formatters round-trip through the parsers") {
    CHECK(format_content_range({0, 500}, 1234) == "bytes 0-499/1234");
    CHECK(format_content_range({kMax - 1, kMax}, kMax) ==
          "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
    CHECK(format_unsatisfied_range(1234) == "bytes */1234");
    CHECK(format_range_header(0) == "bytes=0-");
    CHECK(format_range_header(uint64_t{1048576}) == "bytes=1048576-");
    CHECK(format_range_header(ByteRange{10, 20}) == "bytes=10-19");
    CHECK(format_range_header(ByteRange{0, 1}) == "bytes=0-0");

    const ByteRange samples[] = {{0, 1}, {0, 1000}, {999, 1000}, {kMax - 10, kMax}};
    for (const auto& r : samples) {
        auto cr = parse_content_range(format_content_range(r, kMax));
        REQUIRE(cr);
        CHECK(cr->range == r);
        auto specs = parse_range_header(format_range_header(r));
        REQUIRE(specs);
        CHECK(resolve_ranges(*specs, kMax).ranges == Ranges{r});
    }
}
