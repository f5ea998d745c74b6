// Authorising a hit (docs/model-hosts.md "Authorisation"): a signed URL is a permission, and a
// cache key that drops the signature (cache_key.h) lets one URL reach an object another URL
// filled. Such a hit is served only after the origin has accepted the client's own URL, with one
// conditional request that costs no body: If-None-Match with the stored ETag (304), else a
// one-byte Range with If-Range (206). The origin then checks the signature and its expiry as it
// would for a download; any refusal is the client's answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/cacheability.h"
#include "policy/header_list.h"

namespace policy {

// The fields that make the client's request the authorisation check for a stored object with
// `validator` (its strong validator, if any):
//   ETag           If-None-Match: <etag>                    expect 304
//   Last-Modified  Range: bytes=0-0, If-Range: <date>       expect 206
//   none           Range: bytes=0-0                         expect 206 with the same length
// The client's own Range and conditional fields must be removed from the request first.
HeaderList authorization_headers(const std::optional<Validator>& validator);

enum class Authorization {
    Serve,     // the origin accepted the URL for the stored object: serve the hit
    HandOver,  // the origin answered otherwise (401, 403, 404, 5xx, a full 200): that answer,
               // as received, is the client's
    Refetch,   // accepted, but for another representation (a 304 or 206 whose validator or
               // length differs): the stored copy must not be served; the client's request
               // goes upstream as sent
};

enum class AuthorizationReason {
    NotModified,        // 304 with the stored validator (or with none, answering ours)
    SameRange,          // 206 for byte 0 with the same validator and complete length
    Refused,            // not 2xx/304: the URL was refused (or the origin failed)
    FullResponse,       // 200: the origin ignored the condition or the object changed
    ValidatorMismatch,  // 304/206 about another validator
    LengthMismatch,     // 206 with another complete length or an unusable Content-Range
};
std::string_view to_string(AuthorizationReason r);

struct AuthorizationVerdict {
    Authorization action;
    AuthorizationReason reason;
};

// Judges the origin's answer to authorization_headers(validator) for a stored object of
// `complete_length` bytes.
AuthorizationVerdict judge_authorization(const std::optional<Validator>& validator,
                                         uint64_t complete_length, int status,
                                         const HeaderList& response);

}  // namespace policy
