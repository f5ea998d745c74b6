// Serving a stale stored response when its revalidation fails (RFC 9111 §4.2.4, RFC 5861 §4).
//
// A failure is no answer from the origin (refused, reset, timed out: the cache is disconnected) or
// a 5xx (RFC 5861 §4 names 500, 502, 503 and 504). The stored response may then answer the request
// when:
//   - the stored response says "stale-if-error=N" and it has been stale for at most N seconds;
//   - the request says "stale-if-error=N", likewise (the client accepts that much staleness);
//   - the operator allows it for the host (the stale_if_error setting), whatever the staleness;
//   - only when disconnected: the host matches the stale_if_disconnected setting (every host by
//     default), whatever the staleness. RFC 9111 §4.2.4 lets a disconnected cache serve stale
//     responses; a 5xx is an answer, and passing it on is what the origin asked for.
// Never when the stored response forbids serving it stale (must-revalidate, proxy-revalidate,
// no-cache, s-maxage: policy::Freshness::StaleMustRevalidate), whatever the directives: RFC 9111
// §5.2.2.2 says MUST NOT, and RFC 5861 §4 does not override it for a shared cache.
//
// A directive is the origin's or the client's own word that a stale answer is better than an
// error, so the fetch serves it on the first failure instead of retrying first (at_once).
#pragma once

#include <cstdint>
#include <string_view>

#include "policy/freshness.h"
#include "policy/header_list.h"

namespace policy {

enum class StaleOnErrorReason {
    ResponseDirective,  // the stored response's stale-if-error window covers it
    RequestDirective,   // the request's stale-if-error window covers it
    HostSetting,        // the operator's stale_if_error host list allows it
    Disconnected,       // only without an answer: the stale_if_disconnected host list allows it
    MustRevalidate,     // the stored response forbids serving it stale
    NotAllowed,         // no directive covers it and the host is not listed
};

std::string_view to_string(StaleOnErrorReason r);

// The two kinds of failed revalidation.
enum class RevalidationFailure {
    NoAnswer,     // refused, reset, timed out, the host's circuit breaker open
    ServerError,  // a 5xx answer (after the retries that fit)
};

struct StaleOnError {
    bool on_error = false;      // a 5xx may be answered with the stored copy
    bool on_no_answer = false;  // no answer may be
    bool at_once = false;       // a directive allowed it: serve on the first failure, no retries
    StaleOnErrorReason reason = StaleOnErrorReason::NotAllowed;

    bool allows(RevalidationFailure f) const {
        return f == RevalidationFailure::ServerError ? on_error : on_no_answer;
    }
};

// What the operator allows for the request's host (both false for a signed URL).
struct StaleHostSettings {
    bool on_error = false;      // the host matches stale_if_error
    bool on_no_answer = false;  // the host matches stale_if_disconnected
};

// RFC 5861 §3: a response that is stale by at most its stale-while-revalidate=N seconds may be
// served at once while the cache revalidates it in the background. Only when it is stale merely
// because it expired (FreshnessReason::Expired): never when the response forbids serving it
// stale (must-revalidate, proxy-revalidate, no-cache, s-maxage: StaleMustRevalidate) or the
// request asked for validation (no-cache, max-age, min-fresh).
bool serve_while_revalidating(const HeaderList& stored, const FreshnessDecision& freshness);

// Times as in evaluate_freshness.
StaleOnError stale_on_error(const HeaderList& stored, const HeaderList& request,
                            ResponseTimes times, int64_t now, StaleHostSettings host);

}  // namespace policy
