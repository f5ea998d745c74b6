#include "policy/cacheability.h"

#include "policy/cache_control.h"
#include "policy/entity_tag.h"
#include "policy/freshness.h"
#include "policy/http_date.h"
#include "policy/text.h"
#include "policy/vary.h"

namespace policy {

namespace {

bool any_of_fields(const std::vector<std::string>& fields, std::string_view name) {
    for (const auto& f : fields)
        if (iequals(f, name)) return true;
    return false;
}

// RFC 9111 §4.1: a response that varies is stored as a variant (policy/vary.h), except one with
// "Vary: *", which no later request can match, or a Vary that is not a list of field names.
StoreReason check_vary(const HeaderList& response) {
    VaryFields fields = vary_fields(response);
    return fields.star || fields.malformed ? StoreReason::Vary : StoreReason::Storable;
}

// RFC 9111 §3: a final status, and either heuristically cacheable or with explicit freshness
// (max-age, s-maxage, Expires) or public. 206 and 304 are never stored whole: dlproxy assembles
// ranges itself and a 304 only updates a stored response (§4.3.4).
bool storable_status(int status, const CacheControl& cc, const HeaderList& response) {
    if (status < 200 || status > 599 || status == 206 || status == 304) return false;
    if (is_heuristically_cacheable(status)) return true;
    return cc.max_age || cc.s_maxage || cc.is_public || find_header(response, "expires");
}

}  // namespace

bool is_heuristically_cacheable(int status) {
    switch (status) {
        case 200:
        case 203:
        case 204:
        case 206:
        case 300:
        case 301:
        case 308:
        case 404:
        case 405:
        case 410:
        case 414:
        case 501:
            return true;
        default:
            return false;
    }
}

std::string_view to_string(StoreReason r) {
    switch (r) {
        case StoreReason::Storable:
            return "storable";
        case StoreReason::NeverFresh:
            return "non-200 response without a freshness lifetime";
        case StoreReason::MethodNotGet:
            return "method is not GET";
        case StoreReason::StatusNotStorable:
            return "status not cacheable without explicit freshness";
        case StoreReason::RequestNoStore:
            return "request Cache-Control: no-store";
        case StoreReason::MalformedCacheControl:
            return "malformed response Cache-Control";
        case StoreReason::ResponseNoStore:
            return "response Cache-Control: no-store";
        case StoreReason::Private:
            return "response Cache-Control: private";
        case StoreReason::Authorization:
            return "authorized request without public/s-maxage";
        case StoreReason::Vary:
            return "response Vary: * (or not a list of field names)";
        case StoreReason::ContentRangeIn200:
            return "Content-Range in a 200 response";
        case StoreReason::LengthUnknown:
            return "response length unknown";
    }
    return "not storable";
}

StoreDecision decide_storable(std::string_view method, const HeaderList& request, int status,
                              const HeaderList& response, bool length_known) {
    auto no = [](StoreReason r) { return StoreDecision{false, r}; };
    if (method != "GET") return no(StoreReason::MethodNotGet);
    if (parse_cache_control(request).no_store) return no(StoreReason::RequestNoStore);
    CacheControl cc = parse_cache_control(response);
    if (cc.malformed) return no(StoreReason::MalformedCacheControl);
    if (!storable_status(status, cc, response)) return no(StoreReason::StatusNotStorable);
    // A 200 is stored even when stale at once: its bytes serve resumes and revalidations. Any
    // other status is only worth storing when it can be reused as it is.
    if (status != 200 && freshness_lifetime(response) <= 0) return no(StoreReason::NeverFresh);
    if (cc.no_store) return no(StoreReason::ResponseNoStore);
    if (cc.is_private) return no(StoreReason::Private);
    // RFC 9111 §3.5: a shared cache reuses an authenticated response only when told it may.
    if (find_header(request, "authorization") && !cc.is_public && !cc.s_maxage &&
        !cc.must_revalidate)
        return no(StoreReason::Authorization);
    if (StoreReason vary = check_vary(response); vary != StoreReason::Storable) return no(vary);
    if (find_header(response, "content-range")) return no(StoreReason::ContentRangeIn200);
    if (!length_known) return no(StoreReason::LengthUnknown);
    return StoreDecision{true, StoreReason::Storable};
}

StoreDecision decide_storable(std::string_view method, const HeaderList& request, int status,
                              const HeaderList& response) {
    return decide_storable(method, request, status, response,
                           body_length(status, response).has_value());
}

std::optional<uint64_t> content_length(const HeaderList& response) {
    std::optional<uint64_t> length;
    for (const auto& h : response) {
        if (!iequals(h.name, "content-length")) continue;
        auto items = detail::split_list(h.value);
        if (!items || items->empty()) return std::nullopt;
        for (std::string_view item : *items) {
            auto n = detail::parse_digits(item);
            if (!n || (length && *length != *n)) return std::nullopt;  // RFC 9110 §8.6
            length = n;
        }
    }
    return length;
}

bool has_known_length(const HeaderList& response) {
    return !find_header(response, "transfer-encoding") && content_length(response).has_value();
}

std::optional<uint64_t> body_length(int status, const HeaderList& response) {
    if (status == 204) return 0;
    if (!has_known_length(response)) return std::nullopt;
    return content_length(response);
}

HeaderList headers_to_store(const HeaderList& response) {
    CacheControl cc = parse_cache_control(response);
    HeaderList out = end_to_end(response);
    std::erase_if(out, [&](const Header& h) {
        return any_of_fields(cc.no_cache_fields, h.name) ||
               any_of_fields(cc.private_fields, h.name);
    });
    return out;
}

bool is_strong_etag(std::string_view etag) {
    auto tag = parse_entity_tag(etag);
    return tag && !tag->weak;
}

std::optional<Validator> strong_validator(const HeaderList& response) {
    if (auto etag = find_header(response, "etag"); etag && is_strong_etag(*etag))
        return Validator{Validator::Kind::ETag, std::string(trim_ows(*etag))};
    if (!has_strong_last_modified(response)) return std::nullopt;
    auto last_modified = find_header(response, "last-modified");
    return Validator{Validator::Kind::LastModified, std::string(trim_ows(*last_modified))};
}

bool has_strong_last_modified(const HeaderList& response) {
    auto last_modified = find_header(response, "last-modified");
    auto date = find_header(response, "date");
    if (!last_modified || !date) return false;
    auto lm = parse_http_date(*last_modified);
    auto d = parse_http_date(*date);
    // RFC 9110 §8.8.2.2: a Last-Modified is strong when the Date shows that at least 60 s passed
    // after it, so two changes within one second cannot have shared it.
    return lm && d && *d - *lm >= 60;
}

bool has_validator(const HeaderList& response, const Validator& expected) {
    if (expected.kind == Validator::Kind::ETag) {
        auto got = find_header(response, "etag");
        if (!got) return false;
        auto a = parse_entity_tag(*got);
        auto b = parse_entity_tag(expected.value);
        return a && b && strong_match(*a, *b);
    }
    auto got = find_header(response, "last-modified");
    if (!got) return false;
    auto a = parse_http_date(*got);
    auto b = parse_http_date(expected.value);
    return a && b && *a == *b;
}

}  // namespace policy
