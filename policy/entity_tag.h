// Entity tags (RFC 9110 §8.8.3) and their comparison (§8.8.3.2).
//
// An EntityTag borrows from the text it was parsed from: the opaque part is a view into that
// string, which must outlive the tag.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace policy {

struct EntityTag {
    bool weak = false;        // "W/" prefix
    std::string_view opaque;  // between the quotes, quotes excluded
};

// Parses exactly one entity-tag, e.g. "\"xyzzy\"" or "W/\"xyzzy\"", after trimming optional
// whitespace. Unquoted values (a common origin mistake) and bytes outside etagc are rejected.
std::optional<EntityTag> parse_entity_tag(std::string_view text);

// Strong comparison: both strong and the opaque tags identical (§8.8.3.2).
bool strong_match(const EntityTag& a, const EntityTag& b);

// Weak comparison: opaque tags identical, weakness ignored (§8.8.3.2).
bool weak_match(const EntityTag& a, const EntityTag& b);

// The value of If-Match / If-None-Match: "*" or a comma-separated list of entity-tags. Commas
// inside a tag do not split it. nullopt when the value is neither; validation.h then treats it as
// a list that matches nothing.
struct EntityTagList {
    bool any = false;  // "*"
    std::vector<EntityTag> tags;
};
std::optional<EntityTagList> parse_entity_tag_list(std::string_view text);

}  // namespace policy
