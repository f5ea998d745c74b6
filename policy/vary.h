// Vary (RFC 9111 §4.1): which stored response a request selects when the origin said its answer
// depends on request header fields.
//
// A response with Vary is stored under a *variant key*: the primary cache key (policy/cache_key.h)
// plus the normalised values, in the request that caused it, of the fields its Vary names. A
// later request computes the same key from its own values, so the secondary lookup is one more
// store lookup, and a variant is an object like any other (chunked store, resume, verification).
//
// Normalisation (§4.1 allows any that keeps the field's semantics): the field's lines are combined
// into one list (RFC 9110 §5.3), members trimmed, empty members dropped. The content-negotiation
// fields whose members are case-insensitive and whose order does not carry preference (Accept,
// Accept-Charset, Accept-Encoding, Accept-Language: preference is in the q parameter, RFC 9110
// §12.4.2) are lower-cased, stripped of whitespace inside members, and sorted. Other fields keep
// their members' case and order. A field absent from the request is distinct from an empty one.
//
// Accept-Encoding is not a selecting field when the response has no content coding: identity is
// acceptable to every client that does not refuse it outright (RFC 9110 §12.5.3), and large
// downloads that say "Vary: Accept-Encoding" keep one object for every client, as before.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/header_list.h"

namespace policy {

struct VaryFields {
    bool star = false;               // "*": the response never matches a later request (§4.1)
    bool malformed = false;          // a member is not a field name (token)
    std::vector<std::string> names;  // selecting fields, lower-case, deduplicated, sorted
    bool varies() const { return star || malformed || !names.empty(); }
    friend bool operator==(const VaryFields&, const VaryFields&) = default;
};

// The selecting fields of `response` (every Vary line, RFC 9110 §12.5.5), without Accept-Encoding
// when the response is not content-coded.
VaryFields vary_fields(const HeaderList& response);

// The normalised value of field `name` in `request`, or nullopt when the request lacks it.
std::optional<std::string> normalised_field(const HeaderList& request, std::string_view name);

// The separator between a primary key and its variant suffix. No cache key contains it (URLs
// cannot hold a raw line feed), so primary_key() can recover the primary key.
inline constexpr char kVariantSeparator = '\n';

// The key of the variant `request` selects among responses varying on `fields`:
// "<primary>\nvary: name=value; name!" ('!' marks an absent field; values are escaped so that
// ';' and '!' in them cannot alias another combination). `fields` must not be star/malformed.
std::string variant_key(std::string_view primary, const std::vector<std::string>& fields,
                        const HeaderList& request);

// The primary key of a key that may be a variant key.
std::string_view primary_key(std::string_view key);

// RFC 9111 §4.1: true when a response stored with `stored_response` headers, selected by
// `stored_request`, may answer `request`: every selecting field normalises to the same value in
// both requests (absent in both counts as equal); never with Vary: *.
bool vary_matches(const HeaderList& stored_response, const HeaderList& stored_request,
                  const HeaderList& request);

}  // namespace policy
