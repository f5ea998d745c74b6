// Invalidation after unsafe requests (RFC 9111 §4.4): a response to POST, PUT, DELETE, PATCH or
// any method not known to be safe says the resource may have changed, so what the cache holds
// for it (and for the URIs the response names as changed) must not be served again unvalidated.
#pragma once

#include <string_view>
#include <vector>

#include "policy/header_list.h"
#include "policy/request_target.h"

namespace policy {

// RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe. Method names are case-sensitive
// (§9.1), so "get" is an unknown method, and unknown methods count as unsafe (RFC 9111 §4.4).
bool is_safe_method(std::string_view method);

// The targets whose stored responses are invalidated by a response with `status` to a
// `method` request for `target`: none for a safe method or an error status (only 2xx and 3xx
// invalidate, §4.4); else `target` itself, then the Location and Content-Location references
// that resolve (absolute, network-path, absolute-path or relative, RFC 3986 §5.2) to the same
// origin — scheme, host and port — as `target`. Other origins are never invalidated: a response
// must not be able to evict another site's entries (§4.4).
std::vector<RequestTarget> invalidated_targets(std::string_view method, int status,
                                               const RequestTarget& target,
                                               const HeaderList& response);

}  // namespace policy
