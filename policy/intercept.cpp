#include "policy/intercept.h"

#include "policy/cache_key.h"
#include "policy/header_list.h"

namespace policy {

std::vector<std::string> default_intercept_patterns() {
    return {"huggingface.co", "*.huggingface.co",           "*.hf.co",       "civitai.com",
            "*.civitai.com",  "*.r2.cloudflarestorage.com", "b2.civitai.com"};
}

std::string intercept_pattern_error(std::string_view pattern) {
    if (pattern.empty()) return "empty pattern";
    std::string_view name = pattern;
    if (name.starts_with("*.")) name.remove_prefix(2);
    if (name.empty()) return "'*.' needs a domain after it";
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
        if (!ok)
            return std::string("'") + c +
                   "' is not allowed (a host name, an IP address or *.domain)";
    }
    if (name.front() == '.' || name.find("..") != std::string_view::npos)
        return "empty label in the host name";
    return "";
}

bool should_intercept(const std::vector<std::string>& patterns, std::string_view host) {
    for (const auto& p : patterns)
        if (host_matches(p, host)) return true;
    return false;
}

std::string_view to_string(TunnelTargetErrc e) {
    switch (e) {
        case TunnelTargetErrc::Malformed:
            return "malformed request target inside the TLS tunnel";
        case TunnelTargetErrc::OtherOrigin:
            return "request target names another origin than the CONNECT target";
        case TunnelTargetErrc::NotHttps:
            return "only https targets are allowed inside the TLS tunnel";
    }
    return "bad request target";
}

Result<RequestTarget, TunnelTargetErrc> tunnel_target(const HostPort& authority,
                                                      std::string_view request_target) {
    if (request_target.starts_with("/")) {
        std::string host = authority.ipv6_literal ? "[" + authority.host + "]" : authority.host;
        std::string url = "https://" + host;
        if (authority.port != 443) url += ":" + std::to_string(authority.port);
        url.append(request_target);
        auto target = parse_absolute_target(url, true);
        if (!target) return fail(TunnelTargetErrc::Malformed);
        return *target;
    }
    auto target = parse_absolute_target(request_target, true);
    if (!target) {
        if (target.error() == TargetErrc::UnsupportedScheme)
            return fail(TunnelTargetErrc::NotHttps);
        return fail(TunnelTargetErrc::Malformed);
    }
    if (target->scheme != "https") return fail(TunnelTargetErrc::NotHttps);
    if (!iequals(target->host, authority.host) || target->port != authority.port)
        return fail(TunnelTargetErrc::OtherOrigin);
    return *target;
}

}  // namespace policy
