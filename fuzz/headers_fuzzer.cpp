// The other header-field parsers of policy/: entity tags, byte sizes, CIDR blocks, cache keys, and
// the decisions built on stored response headers (freshness, validation, cacheability).
//
// Input: lines. Every line is tried as an entity tag, an If-Match list, a byte size, a CIDR block
// and an absolute URL. Lines of the form "Name: value" up to the first empty line are a stored
// response's header fields, those after it a request's (or a 304's) header fields.
//
// Properties:
//   - entity tags and tag lists render to text that parses back to them;
//   - a parsed byte size formats to text that parses back within the format's 5% and formats
//     to the same text again; a CIDR block renders to a block that parses back equal and
//     contains its own address;
//   - a cache key is a URL that parses, keys to itself (normalisation is idempotent), carries no
//     fragment and none of the signed-URL parameters its host's rules drop;
//   - freshness lifetime and age are never negative; headers_to_store and merge_304 never keep
//     hop-by-hop fields, merge_304 takes no Set-Cookie from a 304, and a 304 never changes
//     Content-Length;
//     conditional_headers emits only well-formed validators; a strong validator is found again.
#include <cctype>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "policy/address_list.h"
#include "policy/byte_size.h"
#include "policy/cache_key.h"
#include "policy/cacheability.h"
#include "policy/entity_tag.h"
#include "policy/freshness.h"
#include "policy/http_date.h"
#include "policy/text.h"
#include "policy/validation.h"

namespace {

using policy::HeaderList;

std::string render(const policy::EntityTag& t) {
    return (t.weak ? "W/\"" : "\"") + std::string(t.opaque) + "\"";
}

void check_entity_tags(std::string_view line) {
    if (auto tag = policy::parse_entity_tag(line)) {
        std::string text = render(*tag);
        auto again = policy::parse_entity_tag(text);
        FUZZ_CHECK(again && again->weak == tag->weak && again->opaque == tag->opaque);
        FUZZ_CHECK(policy::weak_match(*tag, *again));
        FUZZ_CHECK(policy::strong_match(*tag, *again) == !tag->weak);
    }
    if (auto list = policy::parse_entity_tag_list(line)) {
        FUZZ_CHECK(list->any || !list->tags.empty());
        if (list->any) return;
        std::string text;
        for (const auto& t : list->tags)
            text += (text.empty() ? "" : ", ") + render(t);
        auto again = policy::parse_entity_tag_list(text);
        FUZZ_CHECK(again && !again->any && again->tags.size() == list->tags.size());
        for (size_t i = 0; i < list->tags.size(); ++i)
            FUZZ_CHECK(again->tags[i].weak == list->tags[i].weak &&
                       again->tags[i].opaque == list->tags[i].opaque);
    }
}

void check_byte_size(std::string_view line) {
    auto size = policy::parse_byte_size(line);
    if (!size) return;
    std::string text = policy::format_byte_size(*size);
    auto again = policy::parse_byte_size(text);
    FUZZ_CHECK(again.has_value());
    uint64_t diff = *again > *size ? *again - *size : *size - *again;
    FUZZ_CHECK(diff <= *size / 20 + 1);
    FUZZ_CHECK(policy::format_byte_size(*again) == text);
}

void check_cidr(std::string_view line) {
    auto block = policy::parse_cidr(line);
    if (!block) return;
    FUZZ_CHECK(block->prefix >= 0 && block->prefix <= (block->v6 ? 128 : 32));
    auto again = policy::parse_cidr(block->to_string());
    FUZZ_CHECK(again && again->v6 == block->v6 && again->addr == block->addr &&
               again->prefix == block->prefix);
    std::span<const uint8_t> own(block->addr.data(), block->v6 ? 16 : 4);
    FUZZ_CHECK(policy::cidr_contains(*block, own));
}

// The bytes a path means: pct-encodings decoded, every other byte (a stray '%' too) literal.
std::string decoded(std::string_view s) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) && hex(s[i + 2])) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// A '%' not followed by two hex digits. Finding 4 (docs/fuzzing.md, fixed): the key of
// "/%%415" was "/%A5", which is the key of "/%A5", a different URL. A key holds none.
bool has_stray_percent(std::string_view s) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    for (size_t i = s.find('%'); i != std::string_view::npos; i = s.find('%', i + 1))
        if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return true;
    return false;
}

void check_cache_key(std::string_view line) {
    auto target = policy::parse_absolute_target(line, true);
    if (!target) return;
    std::string key = policy::cache_key(*target);
    FUZZ_CHECK(key.find('#') == std::string::npos);
    auto reparsed = policy::parse_absolute_target(key, true);
    FUZZ_CHECK(reparsed.has_value());
    // The path and query are in normal form; the host is only lower-cased (a '%' in a host is
    // left as it is: such names do not resolve, so they never share an object).
    FUZZ_CHECK(policy::detail::normalize_percent_encoding(reparsed->path) == reparsed->path);
    // Normalisation keeps the meaning of the path: the same bytes once decoded.
    std::string_view path = std::string_view(target->path).substr(0, target->path.find('?'));
    std::string_view key_path =
        std::string_view(reparsed->path).substr(0, reparsed->path.find('?'));
    FUZZ_CHECK(decoded(key_path) == decoded(path));
    FUZZ_CHECK(!has_stray_percent(reparsed->path));
    FUZZ_CHECK(policy::cache_key(*reparsed) == key);
    size_t question = key.find('?');
    if (question == std::string::npos) return;
    for (const auto& rule : policy::default_key_rules()) {
        if (!policy::host_matches(rule.host_pattern, reparsed->host)) continue;
        std::string_view query = std::string_view(key).substr(question + 1);
        for (size_t start = 0; start <= query.size();) {
            size_t amp = query.find('&', start);
            std::string_view param = query.substr(start, amp - start);
            std::string_view name = param.substr(0, param.find('='));
            for (const auto& drop : rule.drop_params) {
                std::string_view d = drop;
                bool prefix = !d.empty() && d.back() == '*';
                if (prefix) d.remove_suffix(1);
                bool hit =
                    prefix ? policy::detail::istarts_with(name, d) : policy::iequals(name, d);
                FUZZ_CHECK(!hit);
            }
            if (amp == std::string_view::npos) break;
            start = amp + 1;
        }
    }
}

bool from_response(const policy::Header& h, const HeaderList& stored, const HeaderList& r304) {
    auto in = [&](const HeaderList& l) {
        for (const auto& x : l)
            if (x.name == h.name && x.value == h.value) return true;
        return false;
    };
    return in(stored) || in(policy::headers_to_store(r304));
}

void check_response(const HeaderList& stored, const HeaderList& other) {
    constexpr int64_t kNow = 1700000000;
    FUZZ_CHECK(policy::freshness_lifetime(stored) >= 0);
    FUZZ_CHECK(policy::current_age(stored, kNow - 10, kNow - 5, kNow) >= 0);
    auto d = policy::evaluate_freshness(stored, other, {kNow - 10, kNow - 5}, kNow);
    FUZZ_CHECK(d.age >= 0 && d.lifetime >= 0);

    for (const auto& h : policy::headers_to_store(stored))
        FUZZ_CHECK(!policy::is_fixed_hop_by_hop(h.name));
    HeaderList merged = policy::merge_304(stored, other);
    std::vector<std::string> before, after;
    for (const auto& h : stored)
        if (policy::iequals(h.name, "content-length")) before.push_back(h.value);
    for (const auto& h : merged) {
        if (policy::iequals(h.name, "content-length")) after.push_back(h.value);
        FUZZ_CHECK(from_response(h, stored, other));
        if (policy::iequals(h.name, "set-cookie")) FUZZ_CHECK(from_response(h, stored, {}));
    }
    FUZZ_CHECK(before == after);

    for (const auto& h : policy::conditional_headers(stored)) {
        if (policy::iequals(h.name, "if-none-match"))
            FUZZ_CHECK(policy::parse_entity_tag(h.value).has_value());
        else
            FUZZ_CHECK(policy::iequals(h.name, "if-modified-since") &&
                       policy::parse_http_date(h.value).has_value());
    }
    if (auto v = policy::strong_validator(stored)) {
        FUZZ_CHECK(v->kind != policy::Validator::Kind::ETag || policy::is_strong_etag(v->value));
        FUZZ_CHECK(policy::has_validator(stored, *v));
    }
    auto decision = policy::decide_storable("GET", other, 200, stored);
    if (decision.store) FUZZ_CHECK(policy::has_known_length(stored));
    policy::evaluate_preconditions("GET", other, stored);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    HeaderList blocks[2];
    int block = 0;
    for (std::string_view line :
         fuzz::lines(std::string_view(reinterpret_cast<const char*>(data), size))) {
        check_entity_tags(line);
        check_byte_size(line);
        check_cidr(line);
        check_cache_key(line);
        if (line.empty()) block = 1;
        size_t colon = line.find(':');
        if (colon != std::string_view::npos && colon > 0)
            blocks[block].push_back({std::string(line.substr(0, colon)),
                                     std::string(policy::trim_ows(line.substr(colon + 1)))});
    }
    check_response(blocks[0], blocks[1]);
    return 0;
}
