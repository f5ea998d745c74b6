// The table of configuration keys: each key of Config is declared once
// (proxy/config/config_keys.cpp) with its TOML name, how to read it from TOML and from its flag,
// how to render it for
// --print-config, and its help text. The TOML reader (apply_toml), the writer (to_toml), the
// command-line flags and their --help lines (parse_args) are generated from this table.
//
// Names: the TOML key is `name`; the flag is "--" + name with '-' for '_' (cache_size →
// --cache-size). A key reads its value, checks it, and stores it; an invalid value throws
// ConfigError naming the key as `what` ("dlproxy.toml: cache_size" or "--cache-size").
//
// Start-up code only: everything here may throw ConfigError.
#pragma once

#include <toml++/toml.h>

#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

namespace proxy {

struct ConfigKey {
    // One value (--listen ADDR), a repeatable one (--allow CIDR, given several times, each
    // adding to the list), or a switch without a value (--no-intercept).
    enum class Arity { One, Many, Switch };

    std::string_view name;
    Arity arity;
    std::string_view value_name;  // in --help: "ADDR:PORT", "SIZE", "SECONDS", ...
    std::string_view help;
    // Shown in --help as "(default ...)"; empty: the rendered default value is shown instead.
    std::string_view default_note;
    // Appended as a comment to the rendered line when the value is empty ("" or []).
    std::string_view empty_note;

    void (*from_toml)(Config&, const toml::node&, const std::string& what);
    // The flag's values in the order given (one for Arity::One; none for a switch).
    void (*from_flag)(Config&, const std::vector<std::string>& values, const std::string& what);
    // The value as a TOML literal ("\"50GiB\"", "[443]", "8"); null: not rendered. A secret
    // is rendered as a comment saying it is set (see `secret`).
    std::string (*render)(const Config&);
    // Checks the final value once every source is applied (parse_args); null: nothing to check.
    void (*check)(const Config&, const std::string& what);
    bool secret = false;  // rendered only as a comment saying it is set

    std::string flag() const;  // "--cache-size"
};

// Every key, in the order --print-config and --help show them.
std::span<const ConfigKey> config_keys();

}  // namespace proxy
