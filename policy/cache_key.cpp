#include "policy/cache_key.h"

#include <algorithm>

#include "policy/header_list.h"
#include "policy/text.h"

namespace policy {

namespace {

std::string_view strip_trailing_dot(std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    return host;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_unreserved(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || detail::is_digit(c) || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

bool param_matches(std::string_view name, std::string_view rule) {
    if (!rule.empty() && rule.back() == '*')
        return detail::istarts_with(name, rule.substr(0, rule.size() - 1));
    return iequals(name, rule);
}

// Drops the parameters named by `drop` from a query (without its '?'), keeping the rest in order.
std::string filter_query(std::string_view query, const std::vector<std::string_view>& drop) {
    std::string out;
    while (true) {
        size_t amp = query.find('&');
        std::string_view param = query.substr(0, amp);
        std::string_view name = param.substr(0, param.find('='));
        bool dropped = std::any_of(drop.begin(), drop.end(),
                                   [&](std::string_view r) { return param_matches(name, r); });
        if (!dropped && !param.empty()) {
            if (!out.empty()) out.push_back('&');
            out.append(param);
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

}  // namespace

bool host_matches(std::string_view pattern, std::string_view host) {
    pattern = strip_trailing_dot(pattern);
    host = strip_trailing_dot(host);
    if (pattern.empty() || host.empty()) return false;
    if (pattern == "*") return true;
    if (pattern.starts_with("*.")) {
        std::string_view suffix = pattern.substr(1);  // ".example.com"
        return host.size() > suffix.size() &&
               iequals(host.substr(host.size() - suffix.size()), suffix);
    }
    return iequals(pattern, host);
}

std::vector<KeyRule> default_key_rules() {
    const std::vector<std::string> signed_url_params = {
        "X-Amz-*",       "Expires",           "Policy", "Signature", "Key-Pair-Id",
        "X-Xet-Cas-Uid", "response-content-*"};
    std::vector<KeyRule> rules;
    for (const char* host : {"*.hf.co", "*.huggingface.co", "*.r2.cloudflarestorage.com"})
        rules.push_back({host, signed_url_params});
    std::vector<std::string> b2 = signed_url_params;
    b2.insert(b2.end(), {"Authorization", "b2ContentDisposition"});
    rules.push_back({"b2.civitai.com", b2});
    return rules;
}

tl::expected<KeyRule, std::string> parse_key_rule(std::string_view text) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos)
        return tl::make_unexpected(std::string("expected PATTERN = NAME, NAME, ..."));
    KeyRule rule;
    rule.host_pattern = std::string(trim_ows(text.substr(0, eq)));
    if (rule.host_pattern.empty()) return tl::make_unexpected(std::string("no host pattern"));
    if (rule.host_pattern != "*") {
        std::string_view name = rule.host_pattern;
        if (name.starts_with("*.")) name.remove_prefix(2);
        const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || detail::is_digit(c) ||
                   c == '-' || c == '.' || c == ':';
        });
        if (!ok)
            return tl::make_unexpected("'" + rule.host_pattern + "' is not a host, *.domain or *");
    }
    std::string_view rest = text.substr(eq + 1);
    while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view name = trim_ows(rest.substr(0, comma));
        if (!name.empty()) {
            std::string_view stem = name.back() == '*' ? name.substr(0, name.size() - 1) : name;
            if (stem.empty() || !std::all_of(stem.begin(), stem.end(), [](char c) {
                    return c != '&' && c != '=' && c != '*' && c > ' ' && c < 127;
                }))
                return tl::make_unexpected("'" + std::string(name) +
                                           "' is not a query parameter name (or prefix*)");
            rule.drop_params.emplace_back(name);
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (rule.drop_params.empty())
        return tl::make_unexpected(std::string("no parameter names after '='"));
    return rule;
}

std::string format_key_rule(const KeyRule& rule) {
    std::string out = rule.host_pattern + " =";
    for (size_t i = 0; i < rule.drop_params.size(); ++i)
        out.append(i == 0 ? " " : ", ").append(rule.drop_params[i]);
    return out;
}

bool key_drops_params(const RequestTarget& target, std::span<const KeyRule> rules) {
    std::string_view path = target.path;
    path = path.substr(0, path.find('#'));
    size_t question = path.find('?');
    if (question == std::string_view::npos) return false;
    std::string normalized = detail::normalize_percent_encoding(path.substr(question + 1));
    std::vector<std::string_view> drop;
    for (const auto& rule : rules)
        if (host_matches(rule.host_pattern, target.host))
            drop.insert(drop.end(), rule.drop_params.begin(), rule.drop_params.end());
    if (drop.empty()) return false;
    std::string_view query = normalized;
    while (true) {
        size_t amp = query.find('&');
        std::string_view name = query.substr(0, amp);
        name = name.substr(0, name.find('='));
        if (!name.empty() && std::any_of(drop.begin(), drop.end(), [&](std::string_view r) {
                return param_matches(name, r);
            }))
            return true;
        if (amp == std::string_view::npos) return false;
        query.remove_prefix(amp + 1);
    }
}

std::string cache_key(const RequestTarget& target) {
    return cache_key(target, default_key_rules());
}

std::string cache_key(const RequestTarget& target, std::span<const KeyRule> rules) {
    std::string host = detail::ascii_lower(strip_trailing_dot(target.host));
    std::string scheme = detail::ascii_lower(target.scheme);
    uint16_t default_port = scheme == "https" ? 443 : 80;

    std::string key = scheme;
    key.append("://");
    if (target.ipv6_literal) key.push_back('[');
    key.append(host);
    if (target.ipv6_literal) key.push_back(']');
    if (target.port != 0 && target.port != default_port)
        key.append(":").append(std::to_string(target.port));

    std::string_view path_and_query = target.path;
    path_and_query = path_and_query.substr(0, path_and_query.find('#'));
    std::string normalized = detail::normalize_percent_encoding(path_and_query);
    std::string_view rest = normalized;
    size_t question = rest.find('?');
    std::string_view path = rest.substr(0, question);
    key.append(path.empty() ? "/" : path);
    if (question == std::string_view::npos) return key;

    std::vector<std::string_view> drop;
    for (const auto& rule : rules)
        if (host_matches(rule.host_pattern, host))
            drop.insert(drop.end(), rule.drop_params.begin(), rule.drop_params.end());
    std::string_view query = rest.substr(question + 1);
    if (drop.empty()) {
        key.append("?").append(query);  // "?" with an empty query stays: it may matter
        return key;
    }
    std::string kept = filter_query(query, drop);
    if (!kept.empty()) key.append("?").append(kept);
    return key;
}

namespace detail {

std::string normalize_percent_encoding(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]);
            int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                char decoded = static_cast<char>(hi * 16 + lo);
                if (is_unreserved(decoded)) {
                    out.push_back(decoded);
                } else {
                    out.push_back('%');
                    out.push_back(kHex[hi]);
                    out.push_back(kHex[lo]);
                }
                i += 2;
                continue;
            }
        }
        if (s[i] == '%') {
            // A stray '%' is written as %25: kept as it is, it could pair with the two characters
            // that follow once they are decoded ("%%415" would become "%A5", the key of byte
            // 0xA5), and two different URLs would share a key (docs/fuzzing.md, finding 4).
            out.append("%25");
            continue;
        }
        out.push_back(s[i]);
    }
    return out;
}

}  // namespace detail

}  // namespace policy
