#include "policy/validation.h"

#include <algorithm>

#include "policy/cacheability.h"
#include "policy/entity_tag.h"
#include "policy/http_date.h"

namespace policy {

namespace {

std::optional<int64_t> header_date(const HeaderList& h, std::string_view name) {
    auto value = find_header(h, name);
    if (!value) return std::nullopt;
    auto t = parse_http_date(*value);
    if (!t) return std::nullopt;
    return *t;
}

std::optional<EntityTag> stored_etag(const HeaderList& stored) {
    auto value = find_header(stored, "etag");
    if (!value) return std::nullopt;
    return parse_entity_tag(*value);
}

// Whether any tag of an If-Match / If-None-Match value matches the stored ETag.
template <class Match>
bool list_matches(std::string_view field_value, const std::optional<EntityTag>& current,
                  Match match) {
    auto list = parse_entity_tag_list(field_value);
    if (!list) return false;
    if (list->any) return true;  // the representation exists: we have it stored
    if (!current) return false;
    return std::any_of(list->tags.begin(), list->tags.end(),
                       [&](const EntityTag& t) { return match(t, *current); });
}

bool if_range_matches(std::string_view value, const HeaderList& stored) {
    value = trim_ows(value);
    if (value.starts_with("W/") || value.starts_with("\"")) {
        auto wanted = parse_entity_tag(value);
        auto current = stored_etag(stored);
        return wanted && current && strong_match(*wanted, *current);
    }
    auto wanted = parse_http_date(value);
    auto last_modified = header_date(stored, "last-modified");
    return wanted && last_modified && *wanted == *last_modified && has_strong_last_modified(stored);
}

// Content-Length and Content-Range describe the stored body, which a 304 does not replace. A
// Set-Cookie in a 304 answers the session of the one client whose request was revalidated;
// the stored Set-Cookie is the representation's own (RFC 9111 §3.2 lets a cache keep it).
bool excluded_from_304_update(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "content-range") ||
           iequals(name, "set-cookie") || iequals(name, "set-cookie2");
}

}  // namespace

std::string_view to_string(PreconditionOutcome o) {
    switch (o) {
        case PreconditionOutcome::Full:
            return "full";
        case PreconditionOutcome::NotModified:
            return "not modified";
        case PreconditionOutcome::PreconditionFailed:
            return "precondition failed";
        case PreconditionOutcome::RangeAllowed:
            return "range allowed";
    }
    return "full";
}

HeaderList conditional_headers(const HeaderList& stored) {
    HeaderList out;
    if (auto etag = find_header(stored, "etag"); etag && parse_entity_tag(*etag))
        out.push_back({"If-None-Match", std::string(trim_ows(*etag))});
    if (auto lm = find_header(stored, "last-modified"); lm && parse_http_date(*lm))
        out.push_back({"If-Modified-Since", std::string(trim_ows(*lm))});
    return out;
}

bool matches_304(const HeaderList& stored, const HeaderList& response_304) {
    if (auto etag = find_header(response_304, "etag")) {
        auto got = parse_entity_tag(*etag);
        if (got && !got->weak) {
            auto current = stored_etag(stored);
            return current && strong_match(*got, *current);
        }
    }
    if (find_header(response_304, "last-modified")) {
        auto got = header_date(response_304, "last-modified");
        auto current = header_date(stored, "last-modified");
        return got && current && *got == *current;
    }
    return true;
}

HeaderList merge_304(const HeaderList& stored, const HeaderList& response_304) {
    HeaderList updates = headers_to_store(response_304);
    std::erase_if(updates, [](const Header& h) { return excluded_from_304_update(h.name); });
    HeaderList out;
    out.reserve(stored.size() + updates.size());
    std::vector<bool> used(updates.size(), false);
    for (const auto& h : stored) {
        bool replaced = std::any_of(updates.begin(), updates.end(),
                                    [&](const Header& u) { return iequals(u.name, h.name); });
        if (!replaced) {
            out.push_back(h);
            continue;
        }
        // The first stored field of a replaced name is where all of the 304's fields of that
        // name go; later stored fields of the name are dropped.
        for (size_t i = 0; i < updates.size(); ++i) {
            if (used[i] || !iequals(updates[i].name, h.name)) continue;
            out.push_back(updates[i]);
            used[i] = true;
        }
    }
    for (size_t i = 0; i < updates.size(); ++i)
        if (!used[i]) out.push_back(updates[i]);
    return out;
}

PreconditionOutcome evaluate_preconditions(std::string_view method, const HeaderList& request,
                                           const HeaderList& stored) {
    const auto current_etag = stored_etag(stored);
    const auto if_match = find_header(request, "if-match");
    if (if_match) {  // §13.2.2 step 1
        if (!list_matches(*if_match, current_etag, strong_match))
            return PreconditionOutcome::PreconditionFailed;
    } else if (auto ius = header_date(request, "if-unmodified-since")) {  // step 2
        auto last_modified = header_date(stored, "last-modified");
        if (last_modified && *last_modified > *ius) return PreconditionOutcome::PreconditionFailed;
    }
    const bool get_or_head = method == "GET" || method == "HEAD";
    if (auto inm = find_header(request, "if-none-match")) {  // step 3
        if (list_matches(*inm, current_etag, weak_match))
            return get_or_head ? PreconditionOutcome::NotModified
                               : PreconditionOutcome::PreconditionFailed;
    } else if (auto ims = header_date(request, "if-modified-since"); ims && get_or_head) {  // 4
        auto modified = header_date(stored, "last-modified");
        if (!modified) modified = header_date(stored, "date");
        if (modified && *modified <= *ims) return PreconditionOutcome::NotModified;
    }
    if (method != "GET" || !find_header(request, "range")) return PreconditionOutcome::Full;
    if (auto if_range = find_header(request, "if-range"))  // step 5
        return if_range_matches(*if_range, stored) ? PreconditionOutcome::RangeAllowed
                                                   : PreconditionOutcome::Full;
    return PreconditionOutcome::RangeAllowed;
}

}  // namespace policy
