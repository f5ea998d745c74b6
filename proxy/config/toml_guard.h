// Works around undefined behaviour in toml++ 3.3.0 (the Debian 12 package) that a config file
// can reach. Pure functions; proxy/config/config.cpp calls them before and while reading a
// document.
//
// docs/fuzzing.md findings 5 and 6 (config_fuzzer):
//   5. toml++'s is_non_ascii_horizontal_whitespace() reaches TOML_UNREACHABLE
//      (__builtin_unreachable) for some non-ASCII code points, e.g. U+02DA in "a = \xcb\x9a"
//      (fixed upstream after 3.3.0, marzer/tomlplusplus #190, #295). The parser asks it about
//      characters in keys, values and multi-line strings, so which contexts are safe depends on
//      parser internals; the guard refuses those code points anywhere in the text instead.
//   6. node::value<int64_t>() on a floating-point node converts with static_cast before its
//      range check: "cache_size = 1e300" is undefined behaviour. integer_value() checks first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <toml++/toml.h>

namespace proxy {

// Whether toml++ 3.3.0's is_non_ascii_horizontal_whitespace(c) is undefined for `c`: the same
// arithmetic as that function, answering true where it would fall through to TOML_UNREACHABLE.
bool toml_whitespace_check_undefined(char32_t c);

// Describes the first code point of `text` for which toml_whitespace_check_undefined() holds
// ("line 3: U+02DA ..."), or nullopt when there is none. Bytes are decoded leniently (overlong
// forms are not rejected), so every code point toml++'s stricter decoder could see is examined;
// a byte that does not start a well-formed sequence is skipped, as toml++ stops there anyway.
std::optional<std::string> toml_unsupported_character(std::string_view text);

// `text` as a TOML basic string ("..."), with every character outside printable ASCII written
// as an escape (\t, \n, \uXXXX, \UXXXXXXXX): --print-config output must parse again, and
// toml_unsupported_character() refuses some raw non-ASCII characters (finding 9, docs/fuzzing.md)
// that are fine escaped. A byte that is not part of well-formed UTF-8 (possible in a command-line
// flag) is written as U+FFFD: TOML strings cannot carry it.
std::string toml_basic_string(std::string_view text);

// The node's value as an integer: an integer node, or a float with an integral value that fits
// int64_t. nullopt for anything else. Never asks toml++ to convert an out-of-range float.
std::optional<int64_t> integer_value(const toml::node& node);

}  // namespace proxy
