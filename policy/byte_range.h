// Byte ranges: the `Range` request header (RFC 9110 §14.2), the `Content-Range` response header
// (RFC 9110 §14.4), and the arithmetic between them.
//
// Inside dlproxy every range is half-open, [begin, end), in bytes. HTTP's inclusive
// "first-last" form exists only inside the parsers and formatters below.
//
// Everything here is pure and total: hostile input (huge digit strings, uint64 limits, garbage)
// yields an error value, never an exception or undefined behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace policy {

struct ByteRange {
    uint64_t begin = 0;
    uint64_t end = 0;  // one past the last byte; end >= begin

    uint64_t length() const { return end >= begin ? end - begin : 0; }
    bool empty() const { return end <= begin; }
    bool contains(uint64_t offset) const { return offset >= begin && offset < end; }
    friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// The overlap of two ranges; an empty range (begin == end) when they are disjoint.
ByteRange intersect(ByteRange a, ByteRange b);

enum class RangeErrc {
    Empty,
    UnknownUnit,     // a range unit other than "bytes": RFC 9110 §14.2 says ignore the field
    BadSyntax,       // not a valid range-set / Content-Range
    Inverted,        // last-pos before first-pos
    TooManyRanges,   // more than kMaxRanges range-specs
    Overflow,        // a number in Content-Range does not fit in uint64 (or last-pos is UINT64_MAX)
    BeyondComplete,  // Content-Range whose last-pos is not below its complete length
};

std::string_view to_string(RangeErrc e);

// One range-spec of a Range header, before it is resolved against a length.
struct RangeSpec {
    enum class Kind {
        Closed,  // "first-last": first..last inclusive
        Open,    // "first-": first to the end
        Suffix,  // "-n": the last n bytes
    };
    Kind kind = Kind::Open;
    uint64_t first = 0;  // Closed, Open: first-pos
    uint64_t last = 0;   // Closed: last-pos (inclusive); Suffix: suffix-length
    friend bool operator==(const RangeSpec&, const RangeSpec&) = default;
};

// More range-specs than this in one Range header are not worth honouring (RFC 9110 §14.2 lets a
// server ignore "many small ranges"); the parser reports TooManyRanges.
inline constexpr size_t kMaxRanges = 64;

// Parses a Range field value, e.g. "bytes=0-499", "bytes=500-", "bytes=-500",
// "bytes=0-0, -1". The unit is case-insensitive; optional whitespace is tolerated around "=",
// ",", "-" and at both ends; empty list elements are skipped (RFC 9110 §5.6.1).
// Positions larger than UINT64_MAX saturate to UINT64_MAX: they still mean "to the end" (last-pos,
// suffix-length) or "past the end" (first-pos), which is what the client asked for.
Result<std::vector<RangeSpec>, RangeErrc> parse_range_header(std::string_view value);

enum class RangeOutcome {
    Satisfiable,    // serve 206 with `ranges` (the caller may still choose 200 for several)
    Unsatisfiable,  // 416 with "Content-Range: bytes */<complete length>"
    Ignore,         // invalid or unknown unit: serve the whole representation with 200
};

struct RangeResolution {
    RangeOutcome outcome = RangeOutcome::Ignore;
    std::vector<ByteRange> ranges;  // non-empty, within [0, complete_length), in request order
    RangeErrc ignored_because = RangeErrc::Empty;  // meaningful when outcome == Ignore
};

// Resolves parsed specs against the representation's complete length (RFC 9110 §14.1.2): closed
// ranges are clamped to the end, suffix ranges longer than the representation take all of it,
// unsatisfiable specs are dropped. No satisfiable spec left → Unsatisfiable. A zero-length
// representation satisfies no range (nothing can be expressed in a Content-Range), as in nginx.
RangeResolution resolve_ranges(std::span<const RangeSpec> specs, uint64_t complete_length);

// parse_range_header + resolve_ranges; a parse error becomes Ignore.
RangeResolution resolve_range_header(std::string_view value, uint64_t complete_length);

// A parsed Content-Range field value.
struct ContentRange {
    std::optional<ByteRange> range;           // absent for the unsatisfied form "bytes */LEN"
    std::optional<uint64_t> complete_length;  // absent for "bytes A-B/*"
    friend bool operator==(const ContentRange&, const ContentRange&) = default;
};

// Parses "bytes A-B/LEN", "bytes A-B/*" and "bytes */LEN" as found in 206 and 416 responses.
// Strict: the unit must be "bytes" (any case), exactly one space follows it, A <= B, B < LEN when
// LEN is known, and every number must fit in uint64 with B < UINT64_MAX.
Result<ContentRange, RangeErrc> parse_content_range(std::string_view value);

// "bytes <begin>-<end-1>/<complete_length>". Requires a non-empty range with
// range.end <= complete_length (asserted).
std::string format_content_range(ByteRange range, uint64_t complete_length);

// "bytes */<complete_length>", for a 416.
std::string format_unsatisfied_range(uint64_t complete_length);

// "bytes=<begin>-", the Range request header value asking for everything from `begin` on.
std::string format_range_header(uint64_t begin);

// "bytes=<begin>-<end-1>". Requires a non-empty range (asserted).
std::string format_range_header(ByteRange range);

}  // namespace policy
