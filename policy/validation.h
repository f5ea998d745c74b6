// Validation (RFC 9111 §4.3, RFC 9110 §13): revalidating a stored response with the origin, and
// answering a client's own conditional request from a stored response.
//
// Upstream: conditional_headers() builds the conditional request; a 304 answer is checked with
// matches_304() and folded into the stored headers with merge_304().
// Downstream: evaluate_preconditions() says whether a hit is answered 304, 412, the full
// representation, or the requested range.
#pragma once

#include <string_view>

#include "policy/header_list.h"

namespace policy {

// The header fields that turn a request for the stored response into a conditional one
// (RFC 9111 §4.3.1): If-None-Match with the stored ETag (weak or strong) and If-Modified-Since
// with the stored Last-Modified, each only when the stored value is well-formed. Empty when the
// stored response has no validator (then only a full request can refresh it).
HeaderList conditional_headers(const HeaderList& stored);

// Whether a 304 is about this stored response (RFC 9111 §4.3.4): when the 304 carries a strong
// ETag, the stored ETag must match it strongly; else when it carries a Last-Modified, the stored
// one must be the same date; a 304 without validators matches. A mismatch means the origin
// validated some other representation: the stored response must not be updated from it.
bool matches_304(const HeaderList& stored, const HeaderList& response_304);

// The stored header fields updated from a 304 (RFC 9111 §3.2): each field in the 304 replaces
// every stored field of that name (in the position of the first), new names are appended.
// Excepted: hop-by-hop fields and those named by Connection, Content-Length and Content-Range
// (they describe the stored body, which the 304 does not replace), and what headers_to_store()
// would not have stored (fields of a qualified no-cache or private), and Set-Cookie: a 304
// carries the session of the one client whose request was revalidated.
HeaderList merge_304(const HeaderList& stored, const HeaderList& response_304);

enum class PreconditionOutcome {
    Full,                // 200 with the whole representation (no condition applies, or If-Range
                         // failed: RFC 9110 §13.1.5 says ignore the Range then)
    NotModified,         // 304
    PreconditionFailed,  // 412
    RangeAllowed,        // the request has a Range that may be honoured: resolve it (byte_range.h)
};

std::string_view to_string(PreconditionOutcome o);

// Evaluates the client's preconditions against a stored (fresh or revalidated) response, in the
// order of RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since,
// If-Range. For GET and HEAD (the only methods served from the cache); Range and If-Range are
// considered for GET only.
//
// Choices where the RFC leaves room or needs what a cache does not know:
//   - an unparseable If-Match / If-None-Match list matches nothing (If-Match then fails: 412);
//   - If-Modified-Since / If-Unmodified-Since that are not valid HTTP-dates are ignored
//     (§13.1.3, §13.1.4), as is If-Unmodified-Since when the stored response has no
//     Last-Modified;
//   - If-Modified-Since compares against Last-Modified, else Date (RFC 9111 §4.3.2);
//   - If-Range with a date matches only an exactly equal, strong Last-Modified (§13.1.5).
PreconditionOutcome evaluate_preconditions(std::string_view method, const HeaderList& request,
                                           const HeaderList& stored);

}  // namespace policy
