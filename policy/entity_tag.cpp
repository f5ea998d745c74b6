#include "policy/entity_tag.h"

#include "policy/header_list.h"

namespace policy {

namespace {

// etagc = %x21 / %x23-7E / obs-text
bool is_etagc(char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

// Reads one entity-tag from the front of `s` and removes it. nullopt when `s` does not start
// with one.
std::optional<EntityTag> take_entity_tag(std::string_view& s) {
    EntityTag tag;
    if (s.substr(0, 2) == "W/") {
        tag.weak = true;
        s.remove_prefix(2);
    }
    if (s.empty() || s.front() != '"') return std::nullopt;
    size_t close = s.find('"', 1);
    if (close == std::string_view::npos) return std::nullopt;
    tag.opaque = s.substr(1, close - 1);
    for (char c : tag.opaque)
        if (!is_etagc(c)) return std::nullopt;
    s.remove_prefix(close + 1);
    return tag;
}

}  // namespace

std::optional<EntityTag> parse_entity_tag(std::string_view text) {
    text = trim_ows(text);
    auto tag = take_entity_tag(text);
    if (!tag || !text.empty()) return std::nullopt;
    return tag;
}

bool strong_match(const EntityTag& a, const EntityTag& b) {
    return !a.weak && !b.weak && a.opaque == b.opaque;
}

bool weak_match(const EntityTag& a, const EntityTag& b) {
    return a.opaque == b.opaque;
}

std::optional<EntityTagList> parse_entity_tag_list(std::string_view text) {
    text = trim_ows(text);
    EntityTagList out;
    if (text == "*") {
        out.any = true;
        return out;
    }
    // 1#entity-tag, with empty elements tolerated (RFC 9110 §5.6.1).
    while (true) {
        while (!text.empty() &&
               (text.front() == ',' || text.front() == ' ' || text.front() == '\t'))
            text.remove_prefix(1);
        if (text.empty()) break;
        auto tag = take_entity_tag(text);
        if (!tag) return std::nullopt;
        out.tags.push_back(*tag);
        text = trim_ows(text);
        if (!text.empty() && text.front() != ',') return std::nullopt;
    }
    if (out.tags.empty()) return std::nullopt;
    return out;
}

}  // namespace policy
