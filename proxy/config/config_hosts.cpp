#include "proxy/config/config_hosts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace proxy {

namespace {

using Error = tl::unexpected<std::string>;

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_ip_literal(const std::string& text) {
    unsigned char buf[16];
    return inet_pton(AF_INET, text.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

// A DNS name (letters, digits, '-', '_', '.') or an IP literal.
bool is_host(const std::string& host) {
    if (host.empty() || host.size() > 253) return false;
    if (is_ip_literal(host)) return true;
    return std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

// Splits "a:b:[::1]:d" at the colons outside brackets; brackets are removed from a field that
// is wholly bracketed (an IPv6 literal). nullopt-like empty vector on an unclosed bracket.
std::vector<std::string> split_fields(std::string_view text, bool& ok) {
    std::vector<std::string> fields;
    ok = true;
    size_t i = 0;
    while (true) {
        std::string field;
        if (i < text.size() && text[i] == '[') {
            size_t close = text.find(']', i);
            if (close == std::string_view::npos) {
                ok = false;
                return fields;
            }
            field = std::string(text.substr(i + 1, close - i - 1));
            i = close + 1;
            if (i < text.size() && text[i] != ':') {
                ok = false;
                return fields;
            }
        } else {
            size_t colon = text.find(':', i);
            size_t end = colon == std::string_view::npos ? text.size() : colon;
            field = std::string(text.substr(i, end - i));
            i = end;
        }
        fields.push_back(std::move(field));
        if (i >= text.size()) return fields;
        ++i;  // the colon
        if (i == text.size()) {
            fields.emplace_back();
            return fields;
        }
    }
}

bool parse_port(const std::string& text, uint16_t& port) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    int value = std::stoi(text);
    if (value < 1 || value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

}  // namespace

policy::Result<ResolveEntry, std::string> parse_resolve_entry(std::string_view text) {
    // ADDR lists may hold bracketed IPv6 literals separated by commas: split HOST:PORT: first.
    const std::string usage =
        "expected HOST:PORT:ADDR[,ADDR...] (e.g. huggingface.co:443:127.0.0.1)";
    size_t first = text.find(':');
    size_t second = first == std::string_view::npos ? first : text.find(':', first + 1);
    if (second == std::string_view::npos) return Error(usage);
    ResolveEntry entry;
    entry.host = lower(text.substr(0, first));
    if (!is_host(entry.host)) return Error("'" + entry.host + "' is not a host name; " + usage);
    if (!parse_port(std::string(text.substr(first + 1, second - first - 1)), entry.port))
        return Error("the port must be 1..65535; " + usage);
    std::string_view rest = text.substr(second + 1);
    while (true) {
        size_t comma = rest.find(',');
        std::string address(rest.substr(0, comma));
        if (address.size() >= 2 && address.front() == '[' && address.back() == ']')
            address = address.substr(1, address.size() - 2);
        if (!is_ip_literal(address))
            return Error("'" + address + "' is not an IP address; " + usage);
        entry.addresses.push_back(address);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
    }
    return entry;
}

policy::Result<ConnectToEntry, std::string> parse_connect_to_entry(std::string_view text) {
    const std::string usage =
        "expected HOST:PORT:CONNECT-HOST:CONNECT-PORT (e.g. huggingface.co:443:127.0.0.1:8443)";
    bool ok = false;
    auto fields = split_fields(text, ok);
    if (!ok || fields.size() != 4) return Error(usage);
    ConnectToEntry entry;
    entry.host = lower(fields[0]);
    entry.to_host = lower(fields[2]);
    if (!entry.host.empty() && !is_host(entry.host))
        return Error("'" + entry.host + "' is not a host name; " + usage);
    if (!entry.to_host.empty() && !is_host(entry.to_host))
        return Error("'" + entry.to_host + "' is not a host name; " + usage);
    if (!fields[1].empty() && !parse_port(fields[1], entry.port))
        return Error("the port must be 1..65535; " + usage);
    if (!fields[3].empty() && !parse_port(fields[3], entry.to_port))
        return Error("the connect port must be 1..65535; " + usage);
    if (entry.to_host.empty() && entry.to_port == 0)
        return Error("names neither a host nor a port to connect to; " + usage);
    return entry;
}

policy::Result<ProxyUrl, std::string> parse_proxy_url(std::string_view text) {
    const std::string usage =
        "expected SCHEME://HOST[:PORT] with scheme http, https, socks5 or socks5h";
    size_t sep = text.find("://");
    if (sep == std::string_view::npos) return Error(usage);
    ProxyUrl url;
    url.scheme = lower(text.substr(0, sep));
    uint16_t default_port = 0;
    if (url.scheme == "http")
        default_port = 80;
    else if (url.scheme == "https")
        default_port = 443;
    else if (url.scheme == "socks5" || url.scheme == "socks5h")
        default_port = 1080;
    else
        return Error("scheme '" + url.scheme + "' is not supported; " + usage);
    std::string_view authority = text.substr(sep + 3);
    if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
    if (authority.find_first_of("/?# \t") != std::string_view::npos)
        return Error("a proxy URL has no path; " + usage);
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
        url.userinfo = std::string(authority.substr(0, at));
        authority = authority.substr(at + 1);
    }
    bool ok = false;
    auto fields = split_fields(authority, ok);
    if (!ok || fields.empty() || fields.size() > 2) return Error(usage);
    url.host = lower(fields[0]);
    if (!is_host(url.host)) return Error("'" + url.host + "' is not a host name; " + usage);
    url.port = default_port;
    if (fields.size() == 2 && !parse_port(fields[1], url.port))
        return Error("the port must be 1..65535; " + usage);
    return url;
}

policy::Result<std::vector<std::string>, std::string> parse_no_proxy(std::string_view text) {
    std::vector<std::string> entries;
    size_t i = 0;
    while (i <= text.size()) {
        size_t comma = text.find(',', i);
        size_t end = comma == std::string_view::npos ? text.size() : comma;
        std::string_view item = text.substr(i, end - i);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
            item.remove_suffix(1);
        if (!item.empty() && item.front() == '.') item.remove_prefix(1);
        if (!item.empty()) {
            std::string entry = lower(item);
            bool cidr = entry.find('/') != std::string::npos;
            if (entry != "*" && !cidr && !is_host(entry) &&
                !(entry.size() > 2 && entry.front() == '[' && entry.back() == ']'))
                return Error("'" + entry + "' is not a host name, domain, IP address or '*'");
            entries.push_back(std::move(entry));
        }
        if (comma == std::string_view::npos) break;
        i = comma + 1;
    }
    return entries;
}

bool no_proxy_matches(const std::vector<std::string>& entries, std::string_view host_in) {
    const std::string host = lower(host_in);
    for (std::string entry : entries) {
        if (entry == "*") return true;
        if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']')
            entry = entry.substr(1, entry.size() - 2);
        if (host == entry) return true;
        if (host.size() > entry.size() && host.ends_with(entry) &&
            host[host.size() - entry.size() - 1] == '.')
            return true;
    }
    return false;
}

}  // namespace proxy
