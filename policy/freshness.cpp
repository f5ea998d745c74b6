#include "policy/freshness.h"

#include <algorithm>
#include <limits>

#include "policy/cache_control.h"
#include "policy/http_date.h"
#include "policy/text.h"

namespace policy {

namespace {

// Saturating arithmetic: times come from headers and callers; none of them may overflow.
int64_t sat_add(int64_t a, int64_t b) {
    int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    return r;
}

int64_t sat_sub(int64_t a, int64_t b) {
    int64_t r = 0;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    return r;
}

std::optional<int64_t> header_date(const HeaderList& h, std::string_view name) {
    auto value = find_header(h, name);
    if (!value) return std::nullopt;
    auto t = parse_http_date(*value);
    if (!t) return std::nullopt;
    return *t;
}

// Expires − Date, or nullopt without an Expires field. 0 for anything invalid (RFC 9111 §5.3).
std::optional<int64_t> expires_lifetime(const HeaderList& response) {
    std::optional<std::string_view> first;
    for (const auto& h : response) {
        if (!iequals(h.name, "expires")) continue;
        if (first && trim_ows(*first) != trim_ows(h.value)) return 0;  // conflicting: §4.2.1
        if (!first) first = h.value;
    }
    if (!first) return std::nullopt;
    auto expires = parse_http_date(*first);
    auto date = header_date(response, "date");
    if (!expires || !date) return 0;
    return std::max<int64_t>(0, sat_sub(*expires, *date));
}

}  // namespace

std::string_view to_string(FreshnessReason r) {
    switch (r) {
        case FreshnessReason::Fresh:
            return "fresh";
        case FreshnessReason::ImmutableFresh:
            return "fresh and immutable";
        case FreshnessReason::WithinMaxStale:
            return "stale within the request's max-stale";
        case FreshnessReason::Expired:
            return "expired";
        case FreshnessReason::ResponseNoCache:
            return "response no-cache";
        case FreshnessReason::RequestNoCache:
            return "request no-cache";
        case FreshnessReason::RequestMaxAge:
            return "older than the request's max-age";
        case FreshnessReason::RequestMinFresh:
            return "not fresh enough for the request's min-fresh";
        case FreshnessReason::RequestInvalid:
            return "malformed request Cache-Control";
    }
    return "stale";
}

std::optional<int64_t> age_field(const HeaderList& response) {
    // RFC 9111 §5.1: a list-valued Age (several lines, or "0, 7200") counts by its first member;
    // an invalid first member (not 1*DIGIT: "-5", "7.0", "abc") means the field is ignored.
    auto age = find_header(response, "age");
    if (!age) return std::nullopt;
    std::string_view first = *age;
    if (auto comma = first.find(','); comma != std::string_view::npos)
        first = first.substr(0, comma);
    auto parsed = detail::parse_digits_saturating(trim_ows(first), kDeltaSecondsMax);
    if (!parsed) return std::nullopt;
    return static_cast<int64_t>(*parsed);
}

int64_t freshness_lifetime(const HeaderList& response) {
    CacheControl cc = parse_cache_control(response);
    if (cc.invalid_freshness) return 0;
    if (cc.s_maxage) return static_cast<int64_t>(*cc.s_maxage);  // ≤ kDeltaSecondsMax
    if (cc.max_age) return static_cast<int64_t>(*cc.max_age);
    if (auto lifetime = expires_lifetime(response)) return *lifetime;
    // RFC 9111 §4.2.2: a heuristic only without explicit expiry; 10% of the time since the last
    // change, the figure the RFC mentions and most caches use.
    auto last_modified = header_date(response, "last-modified");
    auto date = header_date(response, "date");
    if (!last_modified || !date || *date <= *last_modified) return 0;
    return std::min(sat_sub(*date, *last_modified) / 10, kHeuristicLifetimeCap);
}

int64_t current_age(const HeaderList& stored, int64_t request_time, int64_t response_time,
                    int64_t now) {
    int64_t age_value = age_field(stored).value_or(0);
    int64_t date_value = header_date(stored, "date").value_or(response_time);
    int64_t apparent_age = std::max<int64_t>(0, sat_sub(response_time, date_value));
    int64_t response_delay = std::max<int64_t>(0, sat_sub(response_time, request_time));
    int64_t corrected_age_value = sat_add(age_value, response_delay);
    int64_t corrected_initial_age = std::max(apparent_age, corrected_age_value);
    int64_t resident_time = std::max<int64_t>(0, sat_sub(now, response_time));
    return sat_add(corrected_initial_age, resident_time);
}

void add_date_if_missing(HeaderList& response, int64_t response_time) {
    if (!find_header(response, "date"))
        response.push_back({"Date", format_http_date(response_time)});
}

FreshnessDecision evaluate_freshness(const HeaderList& stored, const HeaderList& request,
                                     ResponseTimes times, int64_t now) {
    CacheControl response_cc = parse_cache_control(stored);
    CacheControl request_cc = parse_cache_control(request);
    FreshnessDecision d;
    d.lifetime = freshness_lifetime(stored);
    d.age = current_age(stored, times.request_time, times.response_time, now);
    const bool fresh = d.age < d.lifetime;
    // s-maxage implies proxy-revalidate for a shared cache (§5.2.2.10).
    const bool no_stale = response_cc.must_revalidate || response_cc.proxy_revalidate ||
                          response_cc.s_maxage.has_value();
    auto decide = [&](Freshness state, FreshnessReason reason) {
        d.state = state;
        d.reason = reason;
        return d;
    };
    // Validation the request asks for. Serving the stored response when the origin is down stays
    // allowed unless it is stale and the response forbids that.
    auto validate = [&](FreshnessReason reason) {
        return decide(!fresh && no_stale ? Freshness::StaleMustRevalidate : Freshness::Stale,
                      reason);
    };

    if (response_cc.no_cache)
        return decide(Freshness::StaleMustRevalidate, FreshnessReason::ResponseNoCache);
    if (fresh && response_cc.immutable)
        return decide(Freshness::Fresh, FreshnessReason::ImmutableFresh);
    const bool pragma_no_cache =
        !find_header(request, "cache-control") && has_token(request, "pragma", "no-cache");
    if (request_cc.no_cache || pragma_no_cache) return validate(FreshnessReason::RequestNoCache);
    if (request_cc.invalid_freshness) return validate(FreshnessReason::RequestInvalid);
    if (request_cc.max_age && d.age > static_cast<int64_t>(*request_cc.max_age))
        return validate(FreshnessReason::RequestMaxAge);
    if (request_cc.min_fresh &&
        sat_sub(d.lifetime, d.age) < static_cast<int64_t>(*request_cc.min_fresh))
        return validate(FreshnessReason::RequestMinFresh);
    if (fresh) return decide(Freshness::Fresh, FreshnessReason::Fresh);
    if (no_stale) return decide(Freshness::StaleMustRevalidate, FreshnessReason::Expired);
    const int64_t staleness = sat_sub(d.age, d.lifetime);
    if (request_cc.max_stale_any ||
        (request_cc.max_stale && staleness <= static_cast<int64_t>(*request_cc.max_stale)))
        return decide(Freshness::Fresh, FreshnessReason::WithinMaxStale);
    return decide(Freshness::Stale, FreshnessReason::Expired);
}

}  // namespace policy
