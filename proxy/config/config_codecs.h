// The value types of configuration keys (proxy/config/config_key.h): how each kind of value is read
// from a TOML node and from a flag's text, rendered back as a TOML literal, and checked.
//
// A codec is a struct of static functions over its value type T:
//   arity                                   ConfigKey::Arity of its flag
//   from_toml(T&, const toml::node&, what)  reads and checks a TOML value
//   from_flag(T&, values, what)             reads and checks a flag's values
//   render(const T&) -> std::string         the TOML literal (--print-config); render(from(x))
//                                           reads back to the same rendering
//   check(const T&, what)                   optional: checked once every source is applied
//                                           (parse_args), for limits an embedded default or a
//                                           value in a file may not yet meet
// Every failure throws ConfigError("<what>: <why>"). Start-up code only.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/address_list.h"
#include "policy/background_fill.h"
#include "policy/request_target.h"
#include "proxy/config/config.h"
#include "proxy/config/config_key.h"

namespace proxy::codec {

using Arity = ConfigKey::Arity;
using Values = std::vector<std::string>;

// Helpers the codecs share; also used by tests.
std::string quoted(const std::string& text);  // a TOML basic string
std::string toml_string(const toml::node& node, const std::string& what);
std::vector<std::string> toml_strings(const toml::node& node, const std::string& what,
                                      const char* item);
double parse_number(const std::string& text, const std::string& what);
std::string render_number(double value);  // -0 as 0: "-0" reads back as the integer 0
std::string render_strings(const std::vector<std::string>& items);
uint64_t size_from_text(const std::string& text, const std::string& what, uint64_t max);
uint64_t size_from_toml(const toml::node& node, const std::string& what, uint64_t max);
std::string render_size(uint64_t bytes);
void check_min_size(uint64_t bytes, const std::string& what, uint64_t min);
uint32_t count_from_text(const std::string& text, const std::string& what, int64_t lo, int64_t hi);
uint32_t count_from_toml(const toml::node& node, const std::string& what, int64_t lo, int64_t hi);

struct Text {
    using T = std::string;
    static constexpr Arity arity = Arity::One;
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = toml_string(n, w);
    }
    static void from_flag(T& v, const Values& in, const std::string&) { v = in.back(); }
    static std::string render(const T& v) { return quoted(v); }
};

// An IP literal and a port ("127.0.0.1:3128", "[::1]:0").
struct Address {
    using T = policy::HostPort;
    static constexpr Arity arity = Arity::One;
    static T parse(const std::string& text, const std::string& what);
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = parse(toml_string(n, w), w);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) { v = parse(in.back(), w); }
    static std::string render(const T& v) { return quoted(v.to_string()); }
};

struct LogLevel : Text {
    static void check(const T& v, const std::string& what);
};

// native | squid | json (proxy/admin/access_log.h).
// mirror_origin: a host name (no port, no pattern), or "" for mirror mode off.
struct MirrorOrigin : Text {
    static void check(const T& v, const std::string& what);
};

struct AccessLogFormatName : Text {
    static void check(const T& v, const std::string& what);
};

// A byte size: "64KiB", "50GiB", or a byte count. At least Min (checked once all sources are
// applied) and at most Max (checked on reading).
template <uint64_t Min, uint64_t Max>
struct Size {
    using T = uint64_t;
    static constexpr Arity arity = Arity::One;
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = size_from_toml(n, w, Max);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) {
        v = size_from_text(in.back(), w, Max);
    }
    static std::string render(const T& v) { return render_size(v); }
    static void check(const T& v, const std::string& w) { check_min_size(v, w, Min); }
};

// Seconds, > 0 and at most a week (checked once all sources are applied).
struct Seconds {
    using T = double;
    static constexpr Arity arity = Arity::One;
    static void from_toml(T& v, const toml::node& n, const std::string& w);
    static void from_flag(T& v, const Values& in, const std::string& w) {
        v = parse_number(in.back(), w) + 0.0;
    }
    static std::string render(const T& v) { return render_number(v); }
    static void check(const T& v, const std::string& what);
};

struct Percent {
    using T = double;
    static constexpr Arity arity = Arity::One;
    static T bounded(double v, const std::string& what);
    static void from_toml(T& v, const toml::node& n, const std::string& w);
    static void from_flag(T& v, const Values& in, const std::string& w) {
        v = bounded(parse_number(in.back(), w), w);
    }
    static std::string render(const T& v) { return render_number(v); }
};

// A whole number in Lo..Hi; a flag's text is checked before any conversion (a cast of NaN or
// 1e300 to an integer is undefined), a TOML float only when integral (toml_guard.h finding 6).
template <int64_t Lo, int64_t Hi>
struct Count {
    using T = uint32_t;
    static constexpr Arity arity = Arity::One;
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = count_from_toml(n, w, Lo, Hi);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) {
        v = count_from_text(in.back(), w, Lo, Hi);
    }
    static std::string render(const T& v) { return std::to_string(v); }
};

struct Switch {
    using T = bool;
    static constexpr Arity arity = Arity::Switch;
    static void from_toml(T& v, const toml::node& n, const std::string& w);
    static void from_flag(T& v, const Values&, const std::string&) { v = true; }
    static std::string render(const T& v) { return v ? "true" : "false"; }
};

// A word usable as a template argument (TwoWords).
template <size_t N>
struct Word {
    constexpr Word(const char (&text)[N]) { std::copy_n(text, N, chars); }  // NOLINT: implicit
    char chars[N]{};
    std::string_view view() const { return {chars, N - 1}; }
};

// A bool written as one of two words: `Yes` for true, `No` for false.
template <Word Yes, Word No>
struct TwoWords {
    using T = bool;
    static constexpr Arity arity = Arity::One;
    static T parse(const std::string& text, const std::string& what) {
        if (text == Yes.view()) return true;
        if (text == No.view()) return false;
        throw ConfigError(what + ": '" + text + "' is not one of " + std::string(Yes.view()) +
                          ", " + std::string(No.view()));
    }
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = parse(toml_string(n, w), w);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) { v = parse(in.back(), w); }
    static std::string render(const T& v) {
        return quoted(std::string(v ? Yes.view() : No.view()));
    }
};

// cache_durability: "sync" | "nosync" onto Config::cache_sync.
using Durability = TwoWords<"sync", "nosync">;
// content_sha256: "all" | "announced" onto Config::content_sha256_all.
using ContentSha256 = TwoWords<"all", "announced">;

// offline_answers: "off" | "model-hosts" | "all".
struct Offline {
    using T = OfflineAnswers;
    static constexpr Arity arity = Arity::One;
    static T parse(const std::string& text, const std::string& what);
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = parse(toml_string(n, w), w);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) { v = parse(in.back(), w); }
    static std::string render(const T& v);
};

struct FillMode {
    using T = policy::BackgroundFillMode;
    static constexpr Arity arity = Arity::One;
    static T parse(const std::string& text, const std::string& what);
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = parse(toml_string(n, w), w);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) { v = parse(in.back(), w); }
    static std::string render(const T& v);
};

// connect_ports: a TOML array of ports, or "443,8443" (also the flag's form).
struct Ports {
    using T = std::vector<uint16_t>;
    static constexpr Arity arity = Arity::One;
    static T parse(const std::string& text, const std::string& what);
    static void from_toml(T& v, const toml::node& n, const std::string& w);
    static void from_flag(T& v, const Values& in, const std::string& w) { v = parse(in.back(), w); }
    static std::string render(const T& v);
};

// allow: client CIDR blocks; the flag is repeatable and replaces the list.
struct CidrList {
    using T = std::vector<policy::Cidr>;
    static constexpr Arity arity = Arity::Many;
    static T parse(const Values& items, const std::string& what);
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = parse(toml_strings(n, w, "CIDR strings"), w);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) { v = parse(in, w); }
    static std::string render(const T& v);
};

// A list of strings each checked by Item::check(text, what); the flag is repeatable and
// replaces the list.
template <class Item>
struct List {
    using T = std::vector<std::string>;
    static constexpr Arity arity = Arity::Many;
    static T parse(const Values& items, const std::string& what) {
        for (const auto& item : items)
            Item::check(item, what);
        return items;
    }
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = parse(toml_strings(n, w, Item::kWhat), w);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) { v = parse(in, w); }
    static std::string render(const T& v) { return render_strings(v); }
};

// One string checked by Item::check (an empty string is always accepted: "not set").
template <class Item>
struct Checked : Text {
    static void from_toml(T& v, const toml::node& n, const std::string& w) {
        v = toml_string(n, w);
        if (!v.empty()) Item::check(v, w);
    }
    static void from_flag(T& v, const Values& in, const std::string& w) {
        v = in.back();
        if (!v.empty()) Item::check(v, w);
    }
};

// Items: each check(text, what) throws ConfigError when `text` is not one.
struct InterceptPattern {
    static constexpr const char* kWhat = "host patterns";
    static void check(const std::string& text, const std::string& what);
};
struct ResolveItem {
    static constexpr const char* kWhat = "HOST:PORT:ADDR strings";
    static void check(const std::string& text, const std::string& what);
};
struct ConnectToItem {
    static constexpr const char* kWhat = "HOST:PORT:CONNECT-HOST:CONNECT-PORT strings";
    static void check(const std::string& text, const std::string& what);
};
// A host pattern as for intercept, or "*" (every host).
struct HostPatternItem {
    static constexpr const char* kWhat = "host patterns";
    static void check(const std::string& text, const std::string& what);
};
// "HOST = URL": a fallback source (policy/fallback_source.h).
struct FallbackSourceItem {
    static constexpr const char* kWhat = "\"HOST = URL\" strings";
    static void check(const std::string& text, const std::string& what);
};
struct KeyRuleItem {
    static constexpr const char* kWhat = "\"PATTERN = NAME, NAME\" strings";
    static void check(const std::string& text, const std::string& what);
};
struct ProxyUrlItem {
    static void check(const std::string& text, const std::string& what);
};
struct NoProxyItem {
    static void check(const std::string& text, const std::string& what);
};

// no_intercept = true / --no-intercept: empties the intercept list. Not rendered (the empty
// list is).
struct NoIntercept {
    using T = std::vector<std::string>;
    static constexpr Arity arity = Arity::Switch;
    static void from_toml(T& v, const toml::node& n, const std::string& w);
    static void from_flag(T& v, const Values&, const std::string&) { v.clear(); }
};

}  // namespace proxy::codec
