#include "policy/invalidation.h"

#include <optional>
#include <string>

#include "policy/text.h"

namespace policy {

namespace {

bool same_origin(const RequestTarget& a, const RequestTarget& b) {
    return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
}

// A URI reference from Location or Content-Location resolved against `base` (RFC 3986 §5.2,
// without dot-segment removal: a reference with "." or ".." segments keys as written, and at
// worst invalidates nothing). nullopt for what is not an http(s) URI.
std::optional<RequestTarget> resolve(std::string_view ref, const RequestTarget& base) {
    ref = trim_ows(ref);
    if (ref.empty()) return std::nullopt;
    if (auto hash = ref.find('#'); hash != std::string_view::npos) ref = ref.substr(0, hash);
    std::string absolute;
    if (ref.starts_with("//")) {
        absolute = base.scheme + ":" + std::string(ref);
    } else if (ref.find("://") != std::string_view::npos) {
        absolute = std::string(ref);
    } else if (ref.starts_with("/")) {
        absolute = base.scheme + "://" + base.host_header() + std::string(ref);
    } else {
        // The base path without its query; a relative path replaces its last segment, a
        // query-only reference ("?x") keeps it (§5.2.2).
        std::string_view path = std::string_view(base.path).substr(0, base.path.find('?'));
        if (!ref.starts_with("?")) path = path.substr(0, path.rfind('/') + 1);  // starts with '/'
        absolute = base.scheme + "://" + base.host_header() + std::string(path) + std::string(ref);
    }
    auto parsed = parse_absolute_target(absolute, true);
    if (!parsed) return std::nullopt;
    return *parsed;
}

}  // namespace

bool is_safe_method(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
}

std::vector<RequestTarget> invalidated_targets(std::string_view method, int status,
                                               const RequestTarget& target,
                                               const HeaderList& response) {
    std::vector<RequestTarget> out;
    if (is_safe_method(method) || status < 200 || status >= 400) return out;
    out.push_back(target);
    for (std::string_view name : {"location", "content-location"}) {
        auto value = find_header(response, name);
        if (!value) continue;
        auto resolved = resolve(*value, target);
        if (resolved && same_origin(*resolved, target)) out.push_back(std::move(*resolved));
    }
    return out;
}

}  // namespace policy
