// Range (RFC 9110 §14.2) and Content-Range (§14.4) parsing and the arithmetic of
// policy/byte_range.h.
//
// Input: the first line is a complete length (decimal; saturating, so any digits will do); each
// further line is tried as a Range value and as a Content-Range value.
//
// Properties:
//   - a parsed Range has 1..kMaxRanges specs, closed ones with first <= last;
//   - resolved ranges are non-empty and lie within [0, complete length), in the order and
//     number of the specs at most; Unsatisfiable exactly when none is left;
//   - each resolved range formats to a Range and a Content-Range that parse back to it;
//   - a parsed Content-Range has begin < end <= complete length, and formats to itself;
//   - intersect() stays inside both operands.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "policy/byte_range.h"
#include "policy/text.h"

namespace {

using policy::ByteRange;

void check_round_trip(ByteRange r, uint64_t complete_length) {
    auto specs = policy::parse_range_header(policy::format_range_header(r));
    FUZZ_CHECK(specs && specs->size() == 1);
    auto again = policy::resolve_ranges(*specs, complete_length);
    FUZZ_CHECK(again.outcome == policy::RangeOutcome::Satisfiable);
    FUZZ_CHECK(again.ranges.size() == 1 && again.ranges[0] == r);

    auto open = policy::parse_range_header(policy::format_range_header(r.begin));
    FUZZ_CHECK(open && open->size() == 1);
    FUZZ_CHECK((*open)[0].kind == policy::RangeSpec::Kind::Open && (*open)[0].first == r.begin);

    auto cr = policy::parse_content_range(policy::format_content_range(r, complete_length));
    FUZZ_CHECK(cr && cr->range == r && cr->complete_length == complete_length);
}

void check_range_header(std::string_view value, uint64_t complete_length) {
    auto specs = policy::parse_range_header(value);
    auto resolution = policy::resolve_range_header(value, complete_length);
    if (!specs) {
        FUZZ_CHECK(resolution.outcome == policy::RangeOutcome::Ignore);
        FUZZ_CHECK(resolution.ignored_because == specs.error());
        return;
    }
    FUZZ_CHECK(!specs->empty() && specs->size() <= policy::kMaxRanges);
    for (const auto& s : *specs)
        if (s.kind == policy::RangeSpec::Kind::Closed) FUZZ_CHECK(s.first <= s.last);
    FUZZ_CHECK(resolution.ranges.size() <= specs->size());
    FUZZ_CHECK((resolution.outcome == policy::RangeOutcome::Unsatisfiable) ==
               resolution.ranges.empty());
    FUZZ_CHECK(resolution.outcome != policy::RangeOutcome::Ignore);
    for (const auto& r : resolution.ranges) {
        FUZZ_CHECK(r.begin < r.end && r.end <= complete_length);
        check_round_trip(r, complete_length);
        for (const auto& other : resolution.ranges) {
            ByteRange both = policy::intersect(r, other);
            FUZZ_CHECK(both.begin <= both.end);
            if (!both.empty())
                FUZZ_CHECK(both.begin >= r.begin && both.end <= r.end &&
                           both.begin >= other.begin && both.end <= other.end);
        }
    }
}

void check_content_range(std::string_view value) {
    auto cr = policy::parse_content_range(value);
    if (!cr) return;
    FUZZ_CHECK(cr->range || cr->complete_length);
    if (!cr->range) {
        auto again =
            policy::parse_content_range(policy::format_unsatisfied_range(*cr->complete_length));
        FUZZ_CHECK(again && *again == *cr);
        return;
    }
    FUZZ_CHECK(cr->range->begin < cr->range->end);
    if (cr->complete_length) {
        FUZZ_CHECK(cr->range->end <= *cr->complete_length);
        check_round_trip(*cr->range, *cr->complete_length);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto all = fuzz::lines(std::string_view(reinterpret_cast<const char*>(data), size));
    if (all.empty()) return 0;
    uint64_t complete_length = policy::detail::parse_digits_saturating(all[0]).value_or(0);
    for (size_t i = 1; i < all.size(); ++i) {
        check_range_header(all[i], complete_length);
        check_content_range(all[i]);
    }
    return 0;
}
