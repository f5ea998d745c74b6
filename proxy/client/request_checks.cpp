#include "proxy/client/request_checks.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>

#include "policy/text.h"

namespace proxy {

namespace {

// An IP address as 16 bytes (IPv4 as IPv4-mapped IPv6), or nullopt for anything else.
std::optional<std::array<unsigned char, 16>> ip_bytes(std::string_view host) {
    std::string text(host);
    std::array<unsigned char, 16> out{};
    unsigned char v4[4];
    if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
        out[10] = out[11] = 0xff;
        std::memcpy(out.data() + 12, v4, 4);
        return out;
    }
    if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return out;
    return std::nullopt;
}

bool is_v4_mapped(const std::array<unsigned char, 16>& a) {
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a.data(), prefix, 12) == 0;
}

bool is_unspecified(const std::array<unsigned char, 16>& a) {
    static const std::array<unsigned char, 16> zero{};
    return a == zero || (is_v4_mapped(a) && a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 0);
}

bool is_loopback(const std::array<unsigned char, 16>& a) {
    static const std::array<unsigned char, 16> v6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return a == v6 || (is_v4_mapped(a) && a[12] == 127);
}

bool is_localhost_name(std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    // RFC 6761 §6.3: localhost and every name below it resolve to loopback.
    return host == "localhost" || host.ends_with(".localhost");
}

}  // namespace

bool via_names(const policy::HeaderList& headers, std::string_view pseudonym) {
    for (const auto& h : headers) {
        if (!policy::iequals(h.name, "via")) continue;
        auto elements = policy::detail::split_list(h.value);
        if (!elements) continue;
        for (std::string_view e : *elements) {
            // received-protocol RWS received-by [ RWS comment ]
            size_t sp = e.find_first_of(" \t");
            if (sp == std::string_view::npos) continue;
            std::string_view by = policy::trim_ows(e.substr(sp));
            by = by.substr(0, by.find_first_of(" \t"));
            std::string_view name =
                by.substr(0, by.rfind(':') == std::string_view::npos ? by.size() : by.rfind(':'));
            if (policy::iequals(by, pseudonym) || policy::iequals(name, pseudonym)) return true;
        }
    }
    return false;
}

bool targets_listener(std::string_view host, uint16_t port, const policy::HostPort& bound) {
    if (port != bound.port) return false;
    auto listener = ip_bytes(bound.host);
    if (!listener) return false;
    if (is_localhost_name(host)) return is_loopback(*listener) || is_unspecified(*listener);
    auto target = ip_bytes(host);
    if (!target) return false;
    if (is_unspecified(*target)) return true;
    if (is_unspecified(*listener)) return is_loopback(*target);
    return *target == *listener;
}

}  // namespace proxy
