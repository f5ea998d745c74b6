#include "policy/vary.h"

#include <algorithm>

#include "policy/text.h"

namespace policy {

namespace {

// RFC 9110 §12.4.2: members of these lists are case-insensitive and their order carries no
// preference (the q parameter does), so sorting them keeps their meaning.
bool unordered_field(std::string_view name) {
    return name == "accept" || name == "accept-charset" || name == "accept-encoding" ||
           name == "accept-language";
}

bool content_coded(const HeaderList& response) {
    for (const auto& h : response) {
        if (!iequals(h.name, "content-encoding")) continue;
        auto codings = detail::split_list(h.value);
        if (!codings) return true;
        for (std::string_view coding : *codings)
            if (!iequals(coding, "identity")) return true;
    }
    return false;
}

std::string without_whitespace(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != ' ' && c != '\t') out.push_back(detail::ascii_lower(c));
    return out;
}

// ';' separates fields and '!' marks an absent one in variant keys: escape them (and the escape).
void append_escaped(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\' || c == ';' || c == '!' || c == kVariantSeparator) out.push_back('\\');
        out.push_back(c == kVariantSeparator ? 'n' : c);
    }
}

}  // namespace

VaryFields vary_fields(const HeaderList& response) {
    VaryFields out;
    for (const auto& h : response) {
        if (!iequals(h.name, "vary")) continue;
        auto members = detail::split_list(h.value);
        if (!members) {
            out.malformed = true;
            continue;
        }
        for (std::string_view m : *members) {
            if (m == "*") {
                out.star = true;
            } else if (!detail::is_token(m)) {
                out.malformed = true;
            } else {
                out.names.push_back(detail::ascii_lower(m));
            }
        }
    }
    if (!content_coded(response)) std::erase(out.names, "accept-encoding");
    std::sort(out.names.begin(), out.names.end());
    out.names.erase(std::unique(out.names.begin(), out.names.end()), out.names.end());
    return out;
}

std::optional<std::string> normalised_field(const HeaderList& request, std::string_view name) {
    const std::string lower = detail::ascii_lower(name);
    const bool unordered = unordered_field(lower);
    bool present = false;
    std::vector<std::string> members;
    for (const auto& h : request) {
        if (!iequals(h.name, lower)) continue;
        present = true;
        auto split = detail::split_list(h.value);
        if (!split) {  // an unterminated quoted-string: keep the line as it is
            members.emplace_back(trim_ows(h.value));
            continue;
        }
        for (std::string_view m : *split)
            members.push_back(unordered ? without_whitespace(m) : std::string(m));
    }
    if (!present) return std::nullopt;
    if (unordered) std::sort(members.begin(), members.end());
    std::string out;
    for (const auto& m : members) {
        if (!out.empty()) out.push_back(',');
        out += m;
    }
    return out;
}

std::string variant_key(std::string_view primary, const std::vector<std::string>& fields,
                        const HeaderList& request) {
    std::string key(primary);
    key.push_back(kVariantSeparator);
    key += "vary:";
    for (const auto& name : fields) {
        key.push_back(' ');
        key += name;
        if (auto value = normalised_field(request, name)) {
            key.push_back('=');
            append_escaped(key, *value);
        } else {
            key.push_back('!');
        }
        key.push_back(';');
    }
    return key;
}

std::string_view primary_key(std::string_view key) {
    return key.substr(0, key.find(kVariantSeparator));
}

bool vary_matches(const HeaderList& stored_response, const HeaderList& stored_request,
                  const HeaderList& request) {
    VaryFields fields = vary_fields(stored_response);
    if (fields.star || fields.malformed) return false;
    for (const auto& name : fields.names)
        if (normalised_field(stored_request, name) != normalised_field(request, name)) return false;
    return true;
}

}  // namespace policy
