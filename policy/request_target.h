// Request-target parsing for a forward proxy (RFC 9112 §3.2).
//
// A proxy receives absolute-form targets (`http://host:port/path?q`) for ordinary requests and
// authority-form targets (`host:port`) for CONNECT. Anything else — origin-form `/path`,
// asterisk-form, userinfo, an unknown scheme — is rejected with a reason the proxy turns into a
// 400 with a one-line explanation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/result.h"

namespace policy {

enum class TargetErrc {
    Empty,
    OriginForm,         // "/path": the client talks to us as if we were the origin
    NotAbsolute,        // neither absolute-form nor authority-form
    UnsupportedScheme,  // only http (and https inside intercepted tunnels)
    Userinfo,           // "user@host" — RFC 9110 §4.2.4 says treat as an error
    BadHost,
    BadPort,
    BadCharacter,  // control characters, spaces or a non-ASCII byte in the target
};

std::string_view to_string(TargetErrc e);

struct RequestTarget {
    std::string scheme;  // lower case: "http" or "https"
    std::string host;    // lower case; an IPv6 literal without its brackets
    uint16_t port = 0;
    std::string path;  // origin-form path and query, never empty ("/" at least); no fragment
    bool ipv6_literal = false;

    uint16_t default_port() const { return scheme == "https" ? 443 : 80; }
    // "host[:port]" as it belongs in a Host header: brackets around IPv6, the port omitted when
    // it is the scheme's default.
    std::string host_header() const;
    // scheme://host_header()path
    std::string url() const;
};

// Parses `http://host[:port][/path][?query][#fragment]`. `allow_https` admits the https scheme
// (used for requests decrypted from an intercepted tunnel).
Result<RequestTarget, TargetErrc> parse_absolute_target(std::string_view target,
                                                        bool allow_https = false);

struct HostPort {
    std::string host;  // lower case; IPv6 without brackets
    uint16_t port = 0;
    bool ipv6_literal = false;
    std::string to_string() const;  // host:port with brackets around IPv6
};

// Parses an authority `host:port` (the port is required), as in CONNECT targets and listen
// addresses such as `127.0.0.1:3128` or `[::1]:0`.
Result<HostPort, TargetErrc> parse_host_port(std::string_view authority);

}  // namespace policy
