// Small lexical helpers shared by the policy parsers (RFC 9110 §5.6 tokens, lists, digits).
//
// Internal to policy/: the functions live in policy::detail so that tests and fuzzers can reach
// them, but other modules should call the parsers built on them instead. None of them allocates
// except where a std::string is returned, and none of them throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace policy::detail {

inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

inline char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ascii_lower(std::string_view s);

// True when `s` starts with `prefix`, compared case-insensitively.
bool istarts_with(std::string_view s, std::string_view prefix);

// Parses 1*DIGIT exactly: nullopt when `s` is empty, holds anything but ASCII digits, or names a
// value above UINT64_MAX. Leading zeros are allowed ("007" is 7).
std::optional<uint64_t> parse_digits(std::string_view s);

// Like parse_digits, but a value above `max` (however many digits) yields `max`. For fields whose
// RFC says "a larger number means as much as you can represent", e.g. delta-seconds
// (RFC 9111 §1.2.2) and last-pos in a Range (RFC 9110 §14.1.1).
std::optional<uint64_t> parse_digits_saturating(std::string_view s, uint64_t max = UINT64_MAX);

// Splits a comma-separated list field value (RFC 9110 §5.6.1) into its elements, trimmed of
// optional whitespace. Commas inside a quoted-string (with backslash escapes) do not split.
// Empty elements are skipped, as the RFC asks of recipients. nullopt when a quoted-string is
// left unterminated.
std::optional<std::vector<std::string_view>> split_list(std::string_view value);

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c);
bool is_token(std::string_view s);

// Removes the quotes and backslash escapes of a quoted-string (RFC 9110 §5.6.4). A value that is
// not quoted is returned as is. nullopt for a quoted-string that is unterminated or has bytes
// after its closing quote.
std::optional<std::string> unquote(std::string_view s);

}  // namespace policy::detail
