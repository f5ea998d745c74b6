#include "policy/xorb_request.h"

#include "policy/cache_key.h"
#include "policy/exact_forward.h"
#include "policy/http_date.h"
#include "policy/text.h"

namespace policy {

namespace {

bool is_lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// "YYYYMMDDTHHMMSSZ" (SigV4's X-Amz-Date) as Unix seconds.
std::optional<int64_t> parse_amz_date(std::string_view s) {
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return {};
    auto num = [&](size_t at, size_t n) { return detail::parse_digits(s.substr(at, n)); };
    auto y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2),
         se = num(13, 2);
    if (!y || !mo || !d || !h || !mi || !se) return {};
    if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *se > 60) return {};
    const int64_t days = detail::days_from_civil(
        static_cast<int64_t>(*y), static_cast<unsigned>(*mo), static_cast<unsigned>(*d));
    return days * 86400 + static_cast<int64_t>(*h * 3600 + *mi * 60 + *se);
}

std::optional<int64_t> seconds_param(std::string_view path, std::string_view name) {
    auto v = detail::parse_digits(query_param(path, name));
    if (!v || *v > static_cast<uint64_t>(INT64_MAX / 2)) return {};
    return static_cast<int64_t>(*v);
}

}  // namespace

std::optional<XorbTarget> xorb_target(const std::vector<std::string>& hosts,
                                      const RequestTarget& target) {
    if (target.scheme != "https") return {};
    bool listed = false;
    for (const auto& p : hosts)
        listed = listed || host_matches(p, target.host);
    if (!listed) return {};
    std::string_view path = std::string_view(target.path).substr(0, target.path.find('?'));
    constexpr std::string_view kPrefix = "/xorb/";
    if (!path.starts_with(kPrefix)) return {};
    path.remove_prefix(kPrefix.size());
    auto slash = path.find('/');
    if (slash == std::string_view::npos || slash == 0) return {};
    std::string_view ns = path.substr(0, slash);
    std::string_view hash = path.substr(slash + 1);
    if (hash.size() != 64 || !is_lower_hex(hash)) return {};
    for (char c : ns)
        if (!detail::is_tchar(c)) return {};
    return XorbTarget{std::string(ns), std::string(hash)};
}

std::optional<std::vector<ByteRange>> xorb_ranges(std::string_view range_value,
                                                  uint64_t complete_length) {
    auto specs = parse_range_header(range_value);
    if (!specs || specs->empty()) return {};
    std::vector<ByteRange> out;
    out.reserve(specs->size());
    for (const RangeSpec& s : *specs) {
        if (s.kind != RangeSpec::Kind::Closed || s.first >= complete_length) return {};
        // last < UINT64_MAX after saturation only when it fits; clamp to the xorb's end.
        const uint64_t end = s.last >= complete_length - 1 ? complete_length : s.last + 1;
        out.push_back({s.first, end});
    }
    return out;
}

std::string_view to_string(UrlExpiry e) {
    switch (e) {
        case UrlExpiry::Unknown:
            return "no known expiry";
        case UrlExpiry::Valid:
            return "not expired";
        case UrlExpiry::Expired:
            return "expired";
    }
    return "no known expiry";
}

UrlExpiry signed_url_expiry(std::string_view path, int64_t now) {
    std::optional<int64_t> expires = seconds_param(path, "X-Xet-Expires");
    if (!expires) expires = seconds_param(path, "Expires");
    if (!expires) {
        auto date = parse_amz_date(query_param(path, "X-Amz-Date"));
        auto lifetime = seconds_param(path, "X-Amz-Expires");
        if (date && lifetime) expires = *date + *lifetime;
    }
    if (!expires) return UrlExpiry::Unknown;
    return *expires <= now ? UrlExpiry::Expired : UrlExpiry::Valid;
}

}  // namespace policy
