// Whether a response may be stored by this shared cache (RFC 9111 §3), which of its header fields
// are stored, and the validator a later resume or revalidation will rely on.
//
// dlproxy stores less than RFC 9111 allows: only complete final responses to GET with a known
// length (200, statuses heuristically cacheable, others with explicit freshness), no Vary: *, no
// partial content. A response with Vary is stored as a variant (policy/vary.h). Each refusal names
// its reason, for the access log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/header_list.h"

namespace policy {

enum class StoreReason {
    Storable,
    MethodNotGet,           // only GET is cached (methods are case-sensitive, RFC 9110 §9.1)
    StatusNotStorable,      // 1xx, 206, 304, or a status neither heuristically cacheable nor
                            // with explicit freshness (RFC 9111 §3, §4.2.2)
    NeverFresh,             // a status other than 200 with no freshness lifetime (explicit or
                            // heuristic): it could never be reused, only revalidated in full
    RequestNoStore,         // request Cache-Control: no-store (RFC 9111 §5.2.1.5)
    MalformedCacheControl,  // unparseable response Cache-Control: it may hide a no-store
    ResponseNoStore,        // response Cache-Control: no-store (§5.2.2.5)
    Private,                // response Cache-Control: private, in any form (§5.2.2.7)
    Authorization,          // request had Authorization, response did not allow sharing (§3.5)
    Vary,                   // Vary: * (never matches, §4.1) or a Vary that is not a list of
                            // field names
    ContentRangeIn200,      // a 200 that claims to be partial is not trustworthy
    LengthUnknown,          // no valid Content-Length, or a Transfer-Encoding
};

std::string_view to_string(StoreReason r);

// RFC 9110 §15.1: the final statuses a cache may store without explicit freshness ("heuristically
// cacheable"): 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414 and 501.
bool is_heuristically_cacheable(int status);

struct StoreDecision {
    bool store = false;
    StoreReason reason = StoreReason::Storable;
};

// `request` and `response` are the header fields as received (before hop-by-hop removal).
// `length_known` says the body's length is known before it arrives; the overload without it
// derives that from the status and the response (body_length).
StoreDecision decide_storable(std::string_view method, const HeaderList& request, int status,
                              const HeaderList& response, bool length_known);
StoreDecision decide_storable(std::string_view method, const HeaderList& request, int status,
                              const HeaderList& response);

// The Content-Length value (RFC 9110 §8.6): 1*DIGIT fitting in uint64. Repeated fields or a list
// of identical values ("42, 42") collapse to one; differing values or garbage give nullopt.
std::optional<uint64_t> content_length(const HeaderList& response);

// True when the response has a valid Content-Length and no Transfer-Encoding (RFC 9112 §6.3: a
// Transfer-Encoding overrides Content-Length).
bool has_known_length(const HeaderList& response);

// The length of a response's body known before it arrives: 0 for a 204, which has no content
// and no Content-Length (RFC 9110 §15.3.5, §8.6); else the Content-Length when
// has_known_length(); else nullopt.
std::optional<uint64_t> body_length(int status, const HeaderList& response);

// The header fields to store with a response: the end-to-end ones (RFC 9111 §3.1), without the
// fields named by a qualified no-cache or private directive (§5.2.2.4, §5.2.2.7). Set-Cookie is
// stored and served with hits like any other field (§3.1, §7.3): an origin that does not want a
// cookie shared says private, no-cache="Set-Cookie" or no-store.
HeaderList headers_to_store(const HeaderList& response);

// True for a syntactically valid strong entity-tag, e.g. "\"abc\"" (not W/"abc", not abc).
bool is_strong_etag(std::string_view etag);

// A strong validator: what If-Range may carry and what proves a resumed or restarted transfer
// returns the same representation.
struct Validator {
    enum class Kind { ETag, LastModified };
    Kind kind = Kind::ETag;
    std::string value;  // the field value as received, trimmed: "\"abc\"" or an HTTP-date
    friend bool operator==(const Validator&, const Validator&) = default;
};

// The response's strong validator (RFC 9110 §8.8.2.2, §13.1.5): its ETag when that is strong;
// else its Last-Modified when a Date at least 60 seconds later shows it is strong; else nullopt.
std::optional<Validator> strong_validator(const HeaderList& response);

// True when the response's Last-Modified is strong: a Date at least 60 s later (§8.8.2.2).
bool has_strong_last_modified(const HeaderList& response);

// True when `response` carries the same validator: for an ETag, a strong match; for a
// Last-Modified, the same instant (compared as dates, so the format may differ).
bool has_validator(const HeaderList& response, const Validator& expected);

}  // namespace policy
