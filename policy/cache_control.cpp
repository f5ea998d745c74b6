#include "policy/cache_control.h"

#include "policy/text.h"

namespace policy {

namespace {

// Records a delta-seconds directive. A second occurrence with a different value, or an argument
// that is not 1*DIGIT, marks the freshness information invalid (RFC 9111 §4.2.1).
void set_delta(std::optional<uint64_t>& slot, const std::optional<std::string>& arg,
               CacheControl& cc) {
    std::optional<uint64_t> value;
    if (arg) value = detail::parse_digits_saturating(*arg, kDeltaSecondsMax);
    if (!value) {
        cc.invalid_freshness = true;
        return;
    }
    if (slot && *slot != *value) cc.invalid_freshness = true;
    if (!slot) slot = value;  // the first occurrence stands, as RFC 9111 §4.2.1 allows
}

// RFC 5861: an extension directive; a bad or missing argument drops it (RFC 9111 §5.2.3 has
// caches ignore what they do not understand), the first valid occurrence stands.
void set_extension_delta(std::optional<uint64_t>& slot, const std::optional<std::string>& arg) {
    if (slot || !arg) return;
    slot = detail::parse_digits_saturating(*arg, kDeltaSecondsMax);
}

// The field names of a qualified no-cache or private ("A, B"), lower-cased.
void add_fields(std::vector<std::string>& out, const std::optional<std::string>& arg) {
    if (!arg) return;
    auto names = detail::split_list(*arg);
    if (!names) return;
    for (std::string_view n : *names)
        out.push_back(detail::ascii_lower(n));
}

void apply(CacheControl& cc, std::string_view name, const std::optional<std::string>& arg) {
    if (iequals(name, "max-age")) return set_delta(cc.max_age, arg, cc);
    if (iequals(name, "s-maxage")) return set_delta(cc.s_maxage, arg, cc);
    if (iequals(name, "min-fresh")) return set_delta(cc.min_fresh, arg, cc);
    if (iequals(name, "max-stale")) {
        if (!arg) {
            cc.max_stale_any = true;
            return;
        }
        return set_delta(cc.max_stale, arg, cc);
    }
    if (iequals(name, "stale-while-revalidate"))
        return set_extension_delta(cc.stale_while_revalidate, arg);
    if (iequals(name, "stale-if-error")) return set_extension_delta(cc.stale_if_error, arg);
    if (iequals(name, "no-cache")) {
        cc.no_cache = true;
        return add_fields(cc.no_cache_fields, arg);
    }
    if (iequals(name, "private")) {
        cc.is_private = true;
        return add_fields(cc.private_fields, arg);
    }
    if (iequals(name, "no-store")) cc.no_store = true;
    if (iequals(name, "public")) cc.is_public = true;
    if (iequals(name, "must-revalidate")) cc.must_revalidate = true;
    if (iequals(name, "proxy-revalidate")) cc.proxy_revalidate = true;
    if (iequals(name, "only-if-cached")) cc.only_if_cached = true;
    if (iequals(name, "immutable")) cc.immutable = true;
    if (iequals(name, "no-transform")) cc.no_transform = true;
}

void parse_into(CacheControl& cc, std::string_view value) {
    auto items = detail::split_list(value);
    if (!items) {
        cc.malformed = true;
        cc.invalid_freshness = true;
        return;
    }
    for (std::string_view item : *items) {
        // cache-directive = token [ "=" ( token / quoted-string ) ]
        size_t eq = item.find('=');
        std::string_view name = trim_ows(item.substr(0, eq));
        if (!detail::is_token(name)) continue;  // not a directive; ignore like an unknown one
        std::optional<std::string> arg;
        if (eq != std::string_view::npos) {
            arg = detail::unquote(trim_ows(item.substr(eq + 1)));
            if (!arg) {
                cc.malformed = true;
                cc.invalid_freshness = true;
                continue;
            }
        }
        apply(cc, name, arg);
    }
}

}  // namespace

bool CacheControl::empty() const {
    return !max_age && !s_maxage && !min_fresh && !max_stale && !max_stale_any &&
           !stale_while_revalidate && !stale_if_error && !no_cache && !no_store && !is_private &&
           !is_public && !must_revalidate && !proxy_revalidate && !only_if_cached && !immutable &&
           !no_transform && !invalid_freshness && !malformed;
}

CacheControl parse_cache_control(std::string_view value) {
    CacheControl cc;
    parse_into(cc, value);
    return cc;
}

CacheControl parse_cache_control(const HeaderList& headers) {
    CacheControl cc;
    for (const auto& h : headers)
        if (iequals(h.name, "cache-control")) parse_into(cc, h.value);
    return cc;
}

}  // namespace policy
