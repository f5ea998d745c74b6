// The background-fill and range-fetch settings of Config (docs/many-clients.md): their command-line
// flags, TOML keys and --print-config lines, kept beside config.cpp so that the settings of one
// feature live together.
//
// Start-up code only: everything here may throw ConfigError.
#pragma once

#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "proxy/config.h"

namespace proxy {

// The flags as given (empty: not given), applied after the config file.
struct FillFlags {
    std::string mode, min_percent, max_remaining, max_fills, range_wait_distance, max_range_fetches,
        fill_ahead_window, memory_budget;
};

void add_fill_options(CLI::App& app, FillFlags& flags);
void apply_fill_flags(Config& config, const FillFlags& flags);

// Applies one TOML key when it is a background-fill or range-fetch key; false for any other key.
bool apply_fill_key(Config& config, const std::string& key, const toml::node& node,
                    const std::string& origin_name);

void write_fill_toml(const Config& config, std::ostream& out);

}  // namespace proxy
