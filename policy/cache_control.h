// Cache-Control (RFC 9111 §5.2): the request and response directives a shared cache acts on.
//
// parse_cache_control never fails. What it cannot make sense of it reports in two flags, and the
// callers turn those into the conservative choice:
//   - `invalid_freshness`: a freshness directive (max-age, s-maxage, min-fresh, max-stale) had a
//     malformed argument or appeared twice with different values. RFC 9111 §4.2.1 encourages
//     treating such a response as stale; freshness.h does.
//   - `malformed`: the field could not be split into directives at all (an unterminated
//     quoted-string). Nothing in it can be trusted, not even the absence of no-store, so
//     cacheability.h does not store such a response.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/header_list.h"

namespace policy {

// delta-seconds larger than this are read as this (RFC 9111 §1.2.2).
inline constexpr uint64_t kDeltaSecondsMax = 2147483648u;

struct CacheControl {
    // Arguments are delta-seconds, saturated at kDeltaSecondsMax. Both token ("max-age=5") and
    // quoted-string ("max-age=\"5\"") forms are accepted (RFC 9111 §5.2).
    std::optional<uint64_t> max_age;    // request and response
    std::optional<uint64_t> s_maxage;   // response
    std::optional<uint64_t> min_fresh;  // request
    std::optional<uint64_t> max_stale;  // request, with an argument
    bool max_stale_any = false;         // request "max-stale" without an argument: any staleness
    // RFC 5861 §3, §4 (request and response). Not freshness directives: an invalid argument only
    // drops the directive, it never makes the freshness information invalid.
    std::optional<uint64_t> stale_while_revalidate;
    std::optional<uint64_t> stale_if_error;

    bool no_cache = false;                     // request and response
    std::vector<std::string> no_cache_fields;  // response no-cache="A, B" (lower case)
    bool no_store = false;
    bool is_private = false;                  // response
    std::vector<std::string> private_fields;  // response private="A, B" (lower case)
    bool is_public = false;                   // response
    bool must_revalidate = false;             // response
    bool proxy_revalidate = false;            // response
    bool only_if_cached = false;              // request
    bool immutable = false;                   // response (RFC 8246)
    bool no_transform = false;

    bool invalid_freshness = false;
    bool malformed = false;

    bool empty() const;  // no directive recognised and no flag set
};

// Parses one field value. Directive names are case-insensitive; unknown directives are ignored
// (RFC 9111 §5.2.3); an argument on a directive that takes none is ignored.
CacheControl parse_cache_control(std::string_view value);

// Parses every Cache-Control field in `headers` as one list (RFC 9110 §5.3).
CacheControl parse_cache_control(const HeaderList& headers);

}  // namespace policy
