#include "policy/header_list.h"

#include <algorithm>
#include <array>

namespace policy {

namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

template <class F>
void for_each_token(std::string_view value, F&& f) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view item = trim_ows(value.substr(0, comma));
        if (!item.empty()) f(item);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::optional<std::string_view> find_header(const HeaderList& headers, std::string_view name) {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return std::string_view(h.value);
    return std::nullopt;
}

size_t count_header(const HeaderList& headers, std::string_view name) {
    return static_cast<size_t>(std::count_if(
        headers.begin(), headers.end(), [&](const Header& h) { return iequals(h.name, name); }));
}

bool has_token(const HeaderList& headers, std::string_view name, std::string_view token) {
    bool found = false;
    for (const auto& h : headers) {
        if (!iequals(h.name, name)) continue;
        for_each_token(h.value, [&](std::string_view t) { found = found || iequals(t, token); });
    }
    return found;
}

void remove_header(HeaderList& headers, std::string_view name) {
    std::erase_if(headers, [&](const Header& h) { return iequals(h.name, name); });
}

bool is_fixed_hop_by_hop(std::string_view name) {
    static constexpr std::array<std::string_view, 9> kHopByHop = {
        "connection", "proxy-connection",    "keep-alive",         "te",     "transfer-encoding",
        "upgrade",    "proxy-authorization", "proxy-authenticate", "trailer"};
    return std::any_of(kHopByHop.begin(), kHopByHop.end(),
                       [&](std::string_view h) { return iequals(h, name); });
}

HeaderList end_to_end(const HeaderList& headers) {
    std::vector<std::string_view> named;  // fields listed in Connection are hop-by-hop too
    for (const auto& h : headers)
        if (iequals(h.name, "connection") || iequals(h.name, "proxy-connection"))
            for_each_token(h.value, [&](std::string_view t) { named.push_back(t); });
    HeaderList out;
    out.reserve(headers.size());
    for (const auto& h : headers) {
        if (is_fixed_hop_by_hop(h.name)) continue;
        if (std::any_of(named.begin(), named.end(),
                        [&](std::string_view n) { return iequals(n, h.name); }))
            continue;
        out.push_back(h);
    }
    return out;
}

void add_via(HeaderList& headers, std::string_view protocol_version, std::string_view pseudonym) {
    std::string entry;
    entry.reserve(protocol_version.size() + pseudonym.size() + 1);
    entry.append(protocol_version).append(" ").append(pseudonym);
    for (auto& h : headers) {
        if (iequals(h.name, "via")) {  // RFC 9110 §7.6.3: append to the existing list
            h.value.append(", ").append(entry);
            return;
        }
    }
    headers.push_back({"Via", std::move(entry)});
}

}  // namespace policy
