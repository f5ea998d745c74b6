#include "policy/content_digest.h"

#include <charconv>

namespace policy {

namespace {

constexpr std::string_view kContentPrefix = "sha256:";
constexpr size_t kSha256Bytes = 32;

std::string to_hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 15]);
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// A base64 sha256 → hex, when it decodes to exactly 32 bytes.
std::optional<std::string> sha256_from_base64(std::string_view b64) {
    auto raw = detail::decode_base64(b64);
    if (!raw || raw->size() != kSha256Bytes) return std::nullopt;
    return to_hex(*raw);
}

// Each comma-separated member "name=value" of a field (RFC 9530's dictionary or RFC 3230's
// list); the value of the first member named `algorithm` (case-insensitive).
std::optional<std::string_view> member(std::string_view field, std::string_view algorithm) {
    while (!field.empty()) {
        size_t comma = field.find(',');
        std::string_view item = trim(field.substr(0, comma));
        field = comma == std::string_view::npos ? std::string_view() : field.substr(comma + 1);
        size_t eq = item.find('=');
        if (eq == std::string_view::npos) continue;
        if (iequals(trim(item.substr(0, eq)), algorithm)) return trim(item.substr(eq + 1));
    }
    return std::nullopt;
}

}  // namespace

namespace detail {

std::optional<std::string> decode_base64(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    while (!text.empty() && text.back() == '=')
        text.remove_suffix(1);
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return out;
}

}  // namespace detail

std::optional<std::string> normalise_sha256_hex(std::string_view text) {
    if (text.size() != 2 * kSha256Bytes) return std::nullopt;
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    }
    return out;
}

std::optional<std::string> announced_sha256(const HeaderList& headers) {
    // RFC 9530 §3: sha-256=:<base64>: (a byte sequence item).
    if (auto repr = find_header(headers, "repr-digest")) {
        if (auto v = member(*repr, "sha-256");
            v && v->size() >= 2 && v->front() == ':' && v->back() == ':')
            if (auto hex = sha256_from_base64(v->substr(1, v->size() - 2))) return hex;
    }
    if (auto digest = find_header(headers, "digest")) {
        if (auto v = member(*digest, "sha-256"))
            if (auto hex = sha256_from_base64(*v)) return hex;
    }
    if (auto linked = find_header(headers, "x-linked-etag")) {
        std::string_view v = trim(*linked);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        if (auto hex = normalise_sha256_hex(v)) return hex;
    }
    return std::nullopt;
}

std::optional<uint64_t> announced_size(const HeaderList& headers) {
    auto v = find_header(headers, "x-linked-size");
    if (!v) return std::nullopt;
    std::string_view s = trim(*v);
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
}

std::string content_key(std::string_view sha256_hex) {
    return std::string(kContentPrefix) + std::string(sha256_hex);
}

std::optional<std::string> sha256_of_content_key(std::string_view key) {
    if (!key.starts_with(kContentPrefix)) return std::nullopt;
    return normalise_sha256_hex(key.substr(kContentPrefix.size()));
}

}  // namespace policy
