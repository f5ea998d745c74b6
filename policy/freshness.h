// Freshness (RFC 9111 §4.2): how long a stored response may be served without asking the origin,
// how old it is, and whether this request may be served from it as it is.
//
// All times are int64_t seconds since the Unix epoch, passed in: `request_time` and
// `response_time` are when dlproxy sent the upstream request and received the response headers
// (§4.2.3), `now` is the time of the decision. Nothing here reads a clock.
//
// The stored headers are expected to carry a Date field; RFC 9110 §6.6.1 has a caching recipient
// add one when the origin did not (add_date_if_missing). Without a Date, Expires and the
// heuristic cannot be computed and the response counts as already expired.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/header_list.h"

namespace policy {

// Longest heuristic freshness lifetime (one day), as most caches cap it.
inline constexpr int64_t kHeuristicLifetimeCap = 86400;

// RFC 9111 §4.2.1, for a shared cache: s-maxage, else max-age, else Expires − Date. With none of
// these, the §4.2.2 heuristic: 10% of (Date − Last-Modified), capped at kHeuristicLifetimeCap.
// Else 0. Invalid freshness information (malformed or conflicting directives, an Expires that is
// not an HTTP-date such as "0", several different Expires) yields 0: stale (§4.2.1, §5.3).
// Never negative.
int64_t freshness_lifetime(const HeaderList& response);

// The Age field's value (RFC 9111 §5.1): the first member of the first Age line, saturated at
// kDeltaSecondsMax; nullopt without an Age field or when that member is not a non-negative
// integer (then the field is ignored, as §5.1 says).
std::optional<int64_t> age_field(const HeaderList& response);

// RFC 9111 §4.2.3 current_age, from the stored Age (age_field) and Date fields. Never negative.
int64_t current_age(const HeaderList& stored, int64_t request_time, int64_t response_time,
                    int64_t now);

// Appends "Date: <IMF-fixdate of response_time>" when `response` has no Date field.
void add_date_if_missing(HeaderList& response, int64_t response_time);

struct ResponseTimes {
    int64_t request_time = 0;
    int64_t response_time = 0;
};

enum class Freshness {
    Fresh,                // serve the stored response without contacting the origin
    Stale,                // validate with the origin first; if it cannot be reached, the stored
                          // response may still be served (RFC 9111 §4.2.4, disconnected)
    StaleMustRevalidate,  // validate with the origin first; if it cannot be reached, answer 504,
                          // never the stored response (§5.2.2.2, §5.2.2.4, §5.2.2.8, §5.2.2.10)
};

enum class FreshnessReason {
    Fresh,            // age < lifetime
    ImmutableFresh,   // fresh and immutable (RFC 8246): the request's reload directives are
                      // not worth a round trip for an object that cannot change
    WithinMaxStale,   // stale, but the request's max-stale accepts it (§5.2.1.2)
    Expired,          // age >= lifetime
    ResponseNoCache,  // stored response has no-cache: validate every time (§5.2.2.4)
    RequestNoCache,   // request no-cache, or Pragma: no-cache without Cache-Control (§5.4)
    RequestMaxAge,    // older than the request's max-age (§5.2.1.1)
    RequestMinFresh,  // not fresh for the request's min-fresh more seconds (§5.2.1.3)
    RequestInvalid,   // a malformed freshness directive in the request: validate to be safe
};

std::string_view to_string(FreshnessReason r);

struct FreshnessDecision {
    Freshness state = Freshness::Stale;
    FreshnessReason reason = FreshnessReason::Expired;
    int64_t age = 0;       // current_age, for the Age header of a hit
    int64_t lifetime = 0;  // freshness_lifetime
};

// Decides whether `request` may be answered from the stored response. Qualified no-cache
// (no-cache="field") is treated as unqualified: stricter than §5.2.2.4 requires, never wrong.
FreshnessDecision evaluate_freshness(const HeaderList& stored, const HeaderList& request,
                                     ResponseTimes times, int64_t now);

}  // namespace policy
