#include "policy/request_target.h"

#include <arpa/inet.h>

#include <charconv>

namespace policy {

namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = lower(c);
    return out;
}

bool is_reg_name_char(char c) {
    // RFC 3986 reg-name: unreserved / pct-encoded / sub-delims. We admit the unreserved set only:
    // sub-delims in a DNS name are never legitimate and only help smuggling tricks, and
    // pct-encoded names are decoded by libcurl, so "%31%32%37.0.0.1" would reach 127.0.0.1
    // under another cache key and past the loop check, and "%00" would cut a name short.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

bool is_ipv6_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

bool has_bad_byte(std::string_view s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f) return true;
    return false;
}

Result<uint16_t, TargetErrc> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return fail(TargetErrc::BadPort);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || ptr != s.data() + s.size() || value > 65535)
        return fail(TargetErrc::BadPort);
    return static_cast<uint16_t>(value);
}

// Parses "host" or "host:port" or "[v6]" or "[v6]:port". `port` stays 0 when absent.
Result<HostPort, TargetErrc> parse_authority(std::string_view authority) {
    if (authority.find('@') != std::string_view::npos) return fail(TargetErrc::Userinfo);
    HostPort out;
    std::string_view port_part;
    if (!authority.empty() && authority.front() == '[') {
        size_t close = authority.find(']');
        if (close == std::string_view::npos) return fail(TargetErrc::BadHost);
        std::string_view literal = authority.substr(1, close - 1);
        if (literal.empty() || literal.size() > 45) return fail(TargetErrc::BadHost);
        for (char c : literal)
            if (!is_ipv6_char(c)) return fail(TargetErrc::BadHost);
        // The character set alone admits "1.2.3.4" or "::1.": only a real IPv6 address is one.
        unsigned char addr[16];
        if (inet_pton(AF_INET6, std::string(literal).c_str(), addr) != 1)
            return fail(TargetErrc::BadHost);
        out.host = to_lower(literal);
        out.ipv6_literal = true;
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return fail(TargetErrc::BadHost);
            port_part = rest.substr(1);
            if (port_part.empty()) return fail(TargetErrc::BadPort);
        }
    } else {
        size_t colon = authority.rfind(':');
        std::string_view host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_part = authority.substr(colon + 1);
            if (port_part.empty()) return fail(TargetErrc::BadPort);
        }
        if (host.empty() || host.size() > 253) return fail(TargetErrc::BadHost);
        // An empty label (".", "..a", "a..b") names no host; only the root label may end it.
        if (host.front() == '.' || host.find("..") != std::string_view::npos)
            return fail(TargetErrc::BadHost);
        for (char c : host)
            if (!is_reg_name_char(c)) return fail(TargetErrc::BadHost);
        out.host = to_lower(host);
    }
    if (!port_part.empty()) {
        auto port = parse_port(port_part);
        if (!port) return fail(port.error());
        out.port = *port;
    }
    return out;
}

}  // namespace

std::string_view to_string(TargetErrc e) {
    switch (e) {
        case TargetErrc::Empty:
            return "empty request target";
        case TargetErrc::OriginForm:
            return "origin-form request target: this is a proxy, send the absolute URL "
                   "(GET http://host/path)";
        case TargetErrc::NotAbsolute:
            return "request target is not an absolute URL";
        case TargetErrc::UnsupportedScheme:
            return "unsupported URL scheme (only http://)";
        case TargetErrc::Userinfo:
            return "userinfo (user@host) in the URL is not allowed";
        case TargetErrc::BadHost:
            return "invalid host in request target";
        case TargetErrc::BadPort:
            return "invalid port in request target";
        case TargetErrc::BadCharacter:
            return "invalid character in request target";
    }
    return "invalid request target";
}

namespace {

// Appends host, bracketed when it is an IPv6 literal. (Built with append rather than operator+:
// GCC 12 reports a false -Wrestrict on chained string concatenation.)
void append_host(std::string& out, const std::string& host, bool ipv6_literal) {
    if (ipv6_literal) out.push_back('[');
    out.append(host);
    if (ipv6_literal) out.push_back(']');
}

}  // namespace

std::string RequestTarget::host_header() const {
    std::string out;
    append_host(out, host, ipv6_literal);
    if (port != default_port()) out.append(":").append(std::to_string(port));
    return out;
}

std::string RequestTarget::url() const {
    std::string out = scheme;
    out.append("://").append(host_header()).append(path);
    return out;
}

std::string HostPort::to_string() const {
    std::string out;
    append_host(out, host, ipv6_literal);
    out.append(":").append(std::to_string(port));
    return out;
}

Result<RequestTarget, TargetErrc> parse_absolute_target(std::string_view target, bool allow_https) {
    if (target.empty()) return fail(TargetErrc::Empty);
    if (target.front() == '/') return fail(TargetErrc::OriginForm);
    if (has_bad_byte(target)) return fail(TargetErrc::BadCharacter);
    size_t sep = target.find("://");
    if (sep == std::string_view::npos) return fail(TargetErrc::NotAbsolute);
    RequestTarget out;
    out.scheme = to_lower(target.substr(0, sep));
    if (out.scheme != "http" && !(allow_https && out.scheme == "https"))
        return fail(TargetErrc::UnsupportedScheme);
    std::string_view rest = target.substr(sep + 3);
    size_t fragment = rest.find('#');
    if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
    size_t path_start = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, path_start);
    std::string_view path =
        path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    auto hp = parse_authority(authority);
    if (!hp) return fail(hp.error());
    out.host = std::move(hp->host);
    out.ipv6_literal = hp->ipv6_literal;
    out.port = hp->port != 0 ? hp->port : out.default_port();
    if (path.empty())
        out.path = "/";
    else if (path.front() == '?')
        out.path.append("/").append(path);
    else
        out.path = std::string(path);
    return out;
}

Result<HostPort, TargetErrc> parse_host_port(std::string_view authority) {
    if (authority.empty()) return fail(TargetErrc::Empty);
    if (has_bad_byte(authority)) return fail(TargetErrc::BadCharacter);
    auto hp = parse_authority(authority);
    if (!hp) return fail(hp.error());
    bool has_port = authority.back() != ']' && authority.find(':') != std::string_view::npos;
    if (!has_port) return fail(TargetErrc::BadPort);
    return hp;
}

}  // namespace policy
