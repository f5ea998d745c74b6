#include "policy/text.h"

namespace policy::detail {

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = ascii_lower(c);
    return out;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
        if (ascii_lower(s[i]) != ascii_lower(prefix[i])) return false;
    return true;
}

std::optional<uint64_t> parse_digits(std::string_view s) {
    if (s.empty()) return std::nullopt;
    uint64_t value = 0;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        auto digit = static_cast<uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

std::optional<uint64_t> parse_digits_saturating(std::string_view s, uint64_t max) {
    if (s.empty()) return std::nullopt;
    uint64_t value = 0;
    bool saturated = false;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        if (saturated) continue;  // keep scanning: a non-digit later still makes it invalid
        auto digit = static_cast<uint64_t>(c - '0');
        if (max < digit || value > (max - digit) / 10) {
            saturated = true;
            value = max;
            continue;
        }
        value = value * 10 + digit;
    }
    return value;
}

std::optional<std::vector<std::string_view>> split_list(std::string_view value) {
    std::vector<std::string_view> out;
    size_t start = 0;
    bool quoted = false;
    for (size_t i = 0; i <= value.size(); ++i) {
        if (i == value.size() || (!quoted && value[i] == ',')) {
            std::string_view item = value.substr(start, i - start);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
                item.remove_prefix(1);
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
                item.remove_suffix(1);
            if (!item.empty()) out.push_back(item);
            start = i + 1;
        } else if (value[i] == '"') {
            quoted = !quoted;
        } else if (quoted && value[i] == '\\') {
            ++i;  // quoted-pair: the next byte is literal, even a quote
        }
    }
    if (quoted) return std::nullopt;
    return out;
}

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

std::optional<std::string> unquote(std::string_view s) {
    if (s.empty() || s.front() != '"') return std::string(s);
    std::string out;
    for (size_t i = 1; i < s.size(); ++i) {
        char c = s[i];
        if (c == '"') {
            if (i + 1 != s.size()) return std::nullopt;
            return out;
        }
        if (c == '\\') {
            if (++i == s.size()) return std::nullopt;
            c = s[i];
        }
        out.push_back(c);
    }
    return std::nullopt;
}

}  // namespace policy::detail
