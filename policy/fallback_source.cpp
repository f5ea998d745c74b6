#include "policy/fallback_source.h"

#include "policy/byte_range.h"
#include "policy/content_digest.h"
#include "policy/header_list.h"
#include "policy/text.h"

namespace policy {

tl::expected<FallbackSource, std::string> parse_fallback_source(std::string_view text) {
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos)
        return tl::unexpected(
            std::string("expected HOST = URL, e.g. huggingface.co = "
                        "https://hf-mirror.example"));
    const std::string host = detail::ascii_lower(trim_ows(text.substr(0, eq)));
    const std::string_view url = trim_ows(text.substr(eq + 1));
    if (host.empty() || host.find_first_of("/:@ ") != std::string::npos)
        return tl::unexpected("'" + host + "' is not a host name");
    auto base = parse_absolute_target(url, true);
    if (!base) return tl::unexpected("'" + std::string(url) + "' is not an http(s) URL");
    if (url.find_first_of("?#") != std::string_view::npos)
        return tl::unexpected("'" + std::string(url) + "': a source URL has no query");
    if (base->host == host)
        return tl::unexpected("'" + host + "' cannot be its own fallback source");
    while (base->path.size() > 1 && base->path.back() == '/')
        base->path.pop_back();
    return FallbackSource{host, std::move(*base)};
}

std::vector<RequestTarget> fallback_targets(const RequestTarget& original,
                                            std::span<const FallbackSource> sources) {
    std::vector<RequestTarget> out;
    for (const FallbackSource& s : sources)
        if (s.base.host == original.host) return {};  // already on a source: no chains
    for (const FallbackSource& s : sources) {
        if (s.host != original.host) continue;
        RequestTarget t = s.base;
        t.path = (s.base.path == "/" ? std::string() : s.base.path) + original.path;
        out.push_back(std::move(t));
    }
    return out;
}

SameContent same_content(const ContentFacts& stored, const ContentFacts& source) {
    if (stored.length && source.length && *stored.length != *source.length) return SameContent::No;
    if (!stored.sha256.empty() && !source.sha256.empty())
        return stored.sha256 == source.sha256 ? SameContent::Yes : SameContent::No;
    if (stored.length && source.length && stored.validator && source.validator &&
        *stored.validator == *source.validator)
        return SameContent::Yes;
    return SameContent::Unknown;
}

ContentFacts source_facts(int status, const HeaderList& response) {
    ContentFacts facts;
    if (status == 206) {
        if (auto value = find_header(response, "content-range"))
            if (auto cr = parse_content_range(*value); cr && cr->range)
                facts.length = cr->complete_length;
    } else if (status == 200 && !find_header(response, "transfer-encoding")) {
        facts.length = content_length(response);
    }
    if (auto sha = announced_sha256(response)) facts.sha256 = std::move(*sha);
    if (auto v = strong_validator(response); v && v->kind == Validator::Kind::ETag)
        facts.validator = std::move(*v);
    return facts;
}

HeaderList fallback_request_headers(const HeaderList& request) {
    HeaderList out = end_to_end(request);
    for (auto name : {"host", "authorization", "cookie", "range", "if-range", "if-match",
                      "if-none-match", "if-modified-since", "if-unmodified-since"})
        remove_header(out, name);
    return out;
}

}  // namespace policy
