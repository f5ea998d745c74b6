#include "policy/byte_range.h"

#include <algorithm>
#include <cassert>

#include "policy/header_list.h"
#include "policy/text.h"

namespace policy {

namespace {

// A Content-Range number: 1*DIGIT that must fit in uint64 (no saturation: an origin that sends a
// number we cannot hold has sent something we must not trust).
Result<uint64_t, RangeErrc> parse_position(std::string_view s) {
    if (s.empty()) return fail(RangeErrc::BadSyntax);
    for (char c : s)
        if (!detail::is_digit(c)) return fail(RangeErrc::BadSyntax);
    auto value = detail::parse_digits(s);
    if (!value) return fail(RangeErrc::Overflow);
    return *value;
}

Result<RangeSpec, RangeErrc> parse_range_spec(std::string_view item) {
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) return fail(RangeErrc::BadSyntax);
    std::string_view left = trim_ows(item.substr(0, dash));
    std::string_view right = trim_ows(item.substr(dash + 1));
    RangeSpec spec;
    if (left.empty()) {  // suffix-range = "-" suffix-length
        auto n = detail::parse_digits_saturating(right);
        if (!n) return fail(RangeErrc::BadSyntax);
        spec.kind = RangeSpec::Kind::Suffix;
        spec.last = *n;
        return spec;
    }
    auto first = detail::parse_digits_saturating(left);
    if (!first) return fail(RangeErrc::BadSyntax);
    spec.first = *first;
    if (right.empty()) {
        spec.kind = RangeSpec::Kind::Open;
        return spec;
    }
    auto last = detail::parse_digits_saturating(right);
    if (!last) return fail(RangeErrc::BadSyntax);
    if (*last < *first) return fail(RangeErrc::Inverted);  // RFC 9110 §14.1.1: invalid
    spec.kind = RangeSpec::Kind::Closed;
    spec.last = *last;
    return spec;
}

std::optional<ByteRange> resolve_spec(const RangeSpec& spec, uint64_t complete_length) {
    if (complete_length == 0) return std::nullopt;
    switch (spec.kind) {
        case RangeSpec::Kind::Closed:
            if (spec.first >= complete_length) return std::nullopt;
            // last >= complete_length - 1 also covers last == UINT64_MAX, so last + 1 is safe.
            if (spec.last >= complete_length - 1) return ByteRange{spec.first, complete_length};
            return ByteRange{spec.first, spec.last + 1};
        case RangeSpec::Kind::Open:
            if (spec.first >= complete_length) return std::nullopt;
            return ByteRange{spec.first, complete_length};
        case RangeSpec::Kind::Suffix:
            if (spec.last == 0) return std::nullopt;  // RFC 9110 §14.1.2: "-0" is unsatisfiable
            if (spec.last >= complete_length) return ByteRange{0, complete_length};
            return ByteRange{complete_length - spec.last, complete_length};
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(RangeErrc e) {
    switch (e) {
        case RangeErrc::Empty:
            return "empty range field";
        case RangeErrc::UnknownUnit:
            return "range unit is not bytes";
        case RangeErrc::BadSyntax:
            return "malformed range";
        case RangeErrc::Inverted:
            return "range last-pos before first-pos";
        case RangeErrc::TooManyRanges:
            return "too many ranges";
        case RangeErrc::Overflow:
            return "range position too large";
        case RangeErrc::BeyondComplete:
            return "range ends beyond the complete length";
    }
    return "bad range";
}

ByteRange intersect(ByteRange a, ByteRange b) {
    uint64_t begin = std::max(a.begin, b.begin);
    uint64_t end = std::min(a.end, b.end);
    if (end <= begin) return ByteRange{begin, begin};
    return ByteRange{begin, end};
}

Result<std::vector<RangeSpec>, RangeErrc> parse_range_header(std::string_view value) {
    value = trim_ows(value);
    if (value.empty()) return fail(RangeErrc::Empty);
    size_t eq = value.find('=');
    if (eq == std::string_view::npos) return fail(RangeErrc::BadSyntax);
    std::string_view unit = trim_ows(value.substr(0, eq));
    if (!detail::is_token(unit)) return fail(RangeErrc::BadSyntax);
    if (!iequals(unit, "bytes")) return fail(RangeErrc::UnknownUnit);
    auto items = detail::split_list(value.substr(eq + 1));
    if (!items || items->empty()) return fail(RangeErrc::BadSyntax);
    if (items->size() > kMaxRanges) return fail(RangeErrc::TooManyRanges);
    std::vector<RangeSpec> specs;
    specs.reserve(items->size());
    for (std::string_view item : *items) {
        auto spec = parse_range_spec(item);
        if (!spec) return fail(spec.error());
        specs.push_back(*spec);
    }
    return specs;
}

RangeResolution resolve_ranges(std::span<const RangeSpec> specs, uint64_t complete_length) {
    RangeResolution out;
    if (specs.empty()) return out;  // Ignore: nothing was asked
    for (const auto& spec : specs)
        if (auto r = resolve_spec(spec, complete_length)) out.ranges.push_back(*r);
    out.outcome = out.ranges.empty() ? RangeOutcome::Unsatisfiable : RangeOutcome::Satisfiable;
    return out;
}

RangeResolution resolve_range_header(std::string_view value, uint64_t complete_length) {
    auto specs = parse_range_header(value);
    if (!specs) {
        RangeResolution out;
        out.ignored_because = specs.error();
        return out;
    }
    return resolve_ranges(*specs, complete_length);
}

Result<ContentRange, RangeErrc> parse_content_range(std::string_view value) {
    value = trim_ows(value);
    if (value.empty()) return fail(RangeErrc::Empty);
    size_t sp = value.find(' ');
    if (sp == std::string_view::npos) return fail(RangeErrc::BadSyntax);
    std::string_view unit = value.substr(0, sp);
    if (!detail::is_token(unit)) return fail(RangeErrc::BadSyntax);
    if (!iequals(unit, "bytes")) return fail(RangeErrc::UnknownUnit);
    std::string_view rest = value.substr(sp + 1);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return fail(RangeErrc::BadSyntax);
    std::string_view incl = rest.substr(0, slash);
    std::string_view length = rest.substr(slash + 1);

    ContentRange out;
    if (incl == "*") {  // unsatisfied-range = "*/" complete-length
        auto len = parse_position(length);
        if (!len) return fail(len.error());
        out.complete_length = *len;
        return out;
    }
    size_t dash = incl.find('-');
    if (dash == std::string_view::npos) return fail(RangeErrc::BadSyntax);
    auto first = parse_position(incl.substr(0, dash));
    if (!first) return fail(first.error());
    auto last = parse_position(incl.substr(dash + 1));
    if (!last) return fail(last.error());
    if (*last < *first) return fail(RangeErrc::Inverted);
    if (*last == UINT64_MAX) return fail(RangeErrc::Overflow);  // end would not fit
    out.range = ByteRange{*first, *last + 1};
    if (length != "*") {
        auto len = parse_position(length);
        if (!len) return fail(len.error());
        if (*last >= *len) return fail(RangeErrc::BeyondComplete);  // RFC 9110 §14.4
        out.complete_length = *len;
    }
    return out;
}

std::string format_content_range(ByteRange range, uint64_t complete_length) {
    assert(!range.empty() && range.end <= complete_length);
    std::string out = "bytes ";
    out.append(std::to_string(range.begin))
        .append("-")
        .append(std::to_string(range.end - 1))
        .append("/")
        .append(std::to_string(complete_length));
    return out;
}

std::string format_unsatisfied_range(uint64_t complete_length) {
    std::string out = "bytes */";
    out.append(std::to_string(complete_length));
    return out;
}

std::string format_range_header(uint64_t begin) {
    std::string out = "bytes=";
    out.append(std::to_string(begin)).append("-");
    return out;
}

std::string format_range_header(ByteRange range) {
    assert(!range.empty());
    std::string out = "bytes=";
    out.append(std::to_string(range.begin)).append("-").append(std::to_string(range.end - 1));
    return out;
}

}  // namespace policy
