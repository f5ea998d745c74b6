// Which CONNECT targets dlproxy decrypts (TLS interception, docs/https.md), and how a request
// read from inside such a tunnel becomes an ordinary https target.
//
// Pure: no I/O. Patterns use host_matches' syntax (policy/cache_key.h): an exact host name or IP
// literal, or "*.suffix" for every name strictly below suffix.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/request_target.h"
#include "policy/result.h"

namespace policy {

// The model hosts (issue 6): Hugging Face, its CDNs, Civitai and the storage it redirects to.
std::vector<std::string> default_intercept_patterns();

// A pattern is a host name, an IP literal or "*.name"; "" when valid, else why not.
std::string intercept_pattern_error(std::string_view pattern);

// True when a CONNECT to `host` is to be intercepted under `patterns` (empty: none is).
bool should_intercept(const std::vector<std::string>& patterns, std::string_view host);

enum class TunnelTargetErrc {
    Malformed,    // neither origin-form nor a valid absolute https target
    OtherOrigin,  // absolute-form naming a host or port other than the CONNECT target
    NotHttps,     // absolute-form with a scheme other than https
};

std::string_view to_string(TunnelTargetErrc e);

// The target of a request decrypted from a tunnel opened with CONNECT `authority`: origin-form
// "/path?q" becomes https://authority/path?q (the port dropped when 443). An absolute-form
// https target is accepted only when it names the same host and port (RFC 9112 §3.2.2 lets a
// client send it; anything else would let one tunnel speak for another origin).
Result<RequestTarget, TunnelTargetErrc> tunnel_target(const HostPort& authority,
                                                      std::string_view request_target);

}  // namespace policy
