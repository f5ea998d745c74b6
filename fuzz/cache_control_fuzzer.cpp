// Cache-Control (policy/cache_control.h) and HTTP-date (policy/http_date.h), the two parsers that
// decide freshness.
//
// Input: lines. Each line is a Cache-Control field value and an HTTP-date; a line of digits
// (optionally signed) is also a time to format. All lines together are one field list.
//
// Properties:
//   - parse_cache_control never fails and keeps its invariants: delta-seconds at most
//     kDeltaSecondsMax, qualified field names lower case and non-empty, `malformed` implies
//     `invalid_freshness`, empty() exactly when nothing was recognised;
//   - rendering a parsed CacheControl as a directive list and parsing that gives the same value;
//   - several fields parse as their comma-joined value (RFC 9110 §5.3) unless one is malformed;
//   - a parsed HTTP-date formats to an IMF-fixdate that parses back to it (clamped to the years
//     0000-9999 the format can hold); every formatted time is 29 bytes and parses back.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "policy/cache_control.h"
#include "policy/http_date.h"
#include "policy/text.h"

namespace {

using policy::CacheControl;

constexpr int64_t kMinDate = -62167219200;  // 0000-01-01T00:00:00Z
constexpr int64_t kMaxDate = 253402300799;  // 9999-12-31T23:59:59Z

bool same(const CacheControl& a, const CacheControl& b) {
    return a.max_age == b.max_age && a.s_maxage == b.s_maxage && a.min_fresh == b.min_fresh &&
           a.max_stale == b.max_stale && a.max_stale_any == b.max_stale_any &&
           a.no_cache == b.no_cache && a.no_cache_fields == b.no_cache_fields &&
           a.no_store == b.no_store && a.is_private == b.is_private &&
           a.private_fields == b.private_fields && a.is_public == b.is_public &&
           a.must_revalidate == b.must_revalidate && a.proxy_revalidate == b.proxy_revalidate &&
           a.only_if_cached == b.only_if_cached && a.immutable == b.immutable &&
           a.no_transform == b.no_transform && a.invalid_freshness == b.invalid_freshness &&
           a.malformed == b.malformed;
}

std::string quoted(const std::vector<std::string>& fields) {
    std::string out = "\"";
    for (size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ", ";
        for (char c : fields[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
    }
    return out + "\"";
}

// A directive list that means `cc`; the two flags are reproduced by directives that raise them.
std::string render(const CacheControl& cc) {
    std::string out;
    auto add = [&](std::string d) { out += (out.empty() ? "" : ", ") + d; };
    auto delta = [&](const char* name, const std::optional<uint64_t>& v) {
        if (v) add(std::string(name) + "=" + std::to_string(*v));
    };
    delta("max-age", cc.max_age);
    delta("s-maxage", cc.s_maxage);
    delta("min-fresh", cc.min_fresh);
    delta("max-stale", cc.max_stale);
    if (cc.max_stale_any) add("max-stale");
    auto qualified = [&](const char* name, const std::vector<std::string>& fields) {
        add(fields.empty() ? std::string(name) : std::string(name) + "=" + quoted(fields));
    };
    if (cc.no_cache) qualified("no-cache", cc.no_cache_fields);
    if (cc.is_private) qualified("private", cc.private_fields);
    if (cc.no_store) add("no-store");
    if (cc.is_public) add("public");
    if (cc.must_revalidate) add("must-revalidate");
    if (cc.proxy_revalidate) add("proxy-revalidate");
    if (cc.only_if_cached) add("only-if-cached");
    if (cc.immutable) add("immutable");
    if (cc.no_transform) add("no-transform");
    if (cc.invalid_freshness) add("min-fresh=invalid");
    if (cc.malformed) add("x=\"quoted\"trailer");
    return out;
}

void check_cache_control(std::string_view value) {
    CacheControl cc = policy::parse_cache_control(value);
    for (const auto& v : {cc.max_age, cc.s_maxage, cc.min_fresh, cc.max_stale})
        FUZZ_CHECK(!v || *v <= policy::kDeltaSecondsMax);
    for (const auto* fields : {&cc.no_cache_fields, &cc.private_fields})
        for (const auto& f : *fields)
            FUZZ_CHECK(!f.empty() && f == policy::detail::ascii_lower(f));
    FUZZ_CHECK(!cc.malformed || cc.invalid_freshness);
    FUZZ_CHECK(cc.empty() == same(cc, CacheControl{}));
    CacheControl again = policy::parse_cache_control(render(cc));
    FUZZ_CHECK(same(cc, again));
}

void check_date(std::string_view text) {
    auto t = policy::parse_http_date(text);
    if (!t) return;
    FUZZ_CHECK(*t >= kMinDate && *t <= kMaxDate + 1);  // + 1: a leap second on 9999-12-31
    std::string formatted = policy::format_http_date(*t);
    auto again = policy::parse_http_date(formatted);
    FUZZ_CHECK(again && *again == std::min(*t, kMaxDate));
}

void check_format(std::string_view line) {
    bool negative = !line.empty() && line.front() == '-';
    auto digits = policy::detail::parse_digits(negative ? line.substr(1) : line);
    if (!digits || *digits > uint64_t{INT64_MAX}) return;
    int64_t t = negative ? -static_cast<int64_t>(*digits) : static_cast<int64_t>(*digits);
    std::string formatted = policy::format_http_date(t);
    FUZZ_CHECK(formatted.size() == 29);
    auto again = policy::parse_http_date(formatted);
    FUZZ_CHECK(again && *again == std::clamp(t, kMinDate, kMaxDate));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto all = fuzz::lines(std::string_view(reinterpret_cast<const char*>(data), size));
    policy::HeaderList fields;
    std::string joined;
    bool any_malformed = false;
    for (auto line : all) {
        check_cache_control(line);
        check_date(line);
        check_format(line);
        fields.push_back({"Cache-Control", std::string(line)});
        joined += (joined.empty() ? "" : ", ") + std::string(line);
        any_malformed = any_malformed || policy::parse_cache_control(line).malformed;
    }
    if (!any_malformed)
        FUZZ_CHECK(same(policy::parse_cache_control(fields), policy::parse_cache_control(joined)));
    return 0;
}
