#include "policy/exact_forward.h"

#include "policy/cache_key.h"
#include "policy/header_list.h"

namespace policy {

std::string_view query_param(std::string_view path, std::string_view name) {
    auto q = path.find('?');
    if (q == std::string_view::npos) return {};
    std::string_view query = path.substr(q + 1);
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && iequals(pair.substr(0, eq), name))
            return pair.substr(eq + 1);
    }
    return {};
}

namespace {

// The path without its query.
std::string_view path_only(std::string_view path) {
    return path.substr(0, path.find('?'));
}

bool is_reconstruction_path(std::string_view path) {
    return path.starts_with("/v1/reconstructions/") || path.starts_with("/v2/reconstructions/") ||
           path.starts_with("/reconstructions/") || path.starts_with("/v1/reconstruction/");
}

}  // namespace

std::vector<std::string> default_signed_range_patterns() {
    return {"transfer.xethub.hf.co", "transfer.xethub-eu.hf.co"};
}

std::string_view to_string(ExactForwardReason r) {
    switch (r) {
        case ExactForwardReason::Cacheable:
            return "cacheable";
        case ExactForwardReason::SignedRangeHost:
            return "the host signs the Range (signed_range_hosts)";
        case ExactForwardReason::SignedRangeQuery:
            return "X-Amz-SignedHeaders covers the Range";
        case ExactForwardReason::XetToken:
            return "a Xet access token";
        case ExactForwardReason::XetReconstruction:
            return "a Xet reconstruction answer";
    }
    return "cacheable";
}

bool query_signs_range(std::string_view path) {
    std::string_view value = query_param(path, "X-Amz-SignedHeaders");
    while (!value.empty()) {
        size_t sep = value.find(';');
        size_t enc = value.find("%3");
        size_t skip = 1;
        // %3B / %3b is an encoded ';'.
        if (enc != std::string_view::npos && enc + 2 < value.size() &&
            (value[enc + 2] == 'B' || value[enc + 2] == 'b') && enc < sep) {
            sep = enc;
            skip = 3;
        }
        if (iequals(value.substr(0, sep), "range")) return true;
        value = sep == std::string_view::npos ? std::string_view{} : value.substr(sep + skip);
    }
    return false;
}

bool is_xet_file_info_request(const RequestTarget& target, const HeaderList& request) {
    const std::string_view path = path_only(target.path);
    if (path.find("/resolve/") == std::string_view::npos &&
        path.find("/resolve-cache/") == std::string_view::npos)
        return false;
    for (const auto& h : request) {
        if (!iequals(h.name, "accept")) continue;
        constexpr std::string_view kType = "application/vnd.xet-fileinfo+json";
        const std::string_view value = h.value;
        for (size_t i = 0; i + kType.size() <= value.size(); ++i)
            if (iequals(value.substr(i, kType.size()), kType)) return true;
    }
    return false;
}

ExactForwardDecision decide_exact_forward(const std::vector<std::string>& signed_range_patterns,
                                          const RequestTarget& target) {
    for (const auto& p : signed_range_patterns)
        if (host_matches(p, target.host)) return {true, ExactForwardReason::SignedRangeHost};
    if (query_signs_range(target.path)) return {true, ExactForwardReason::SignedRangeQuery};
    std::string_view path = path_only(target.path);
    if (path.find("/xet-read-token/") != std::string_view::npos ||
        path.find("/xet-write-token/") != std::string_view::npos)
        return {true, ExactForwardReason::XetToken};
    if (is_reconstruction_path(path)) return {true, ExactForwardReason::XetReconstruction};
    return {};
}

}  // namespace policy
