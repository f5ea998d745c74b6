// The command line, generated from the key table (proxy/config/config_key.h): one flag per key,
// applied over the embedded defaults and the --config file.
#include <CLI/CLI.hpp>
#include <deque>
#include <fstream>
#include <sstream>

#include "proxy/config/config.h"
#include "proxy/config/config_key.h"
#include "proxy/dlproxy_version.h"

namespace proxy {

namespace {

// The default as --help shows it: the key's note, or its rendering without TOML quotes.
std::string default_text(const ConfigKey& key) {
    if (!key.default_note.empty()) return std::string(key.default_note);
    std::string text = key.render ? key.render(Config{}) : "";
    std::erase(text, '"');
    return text.empty() ? "none" : text;
}

// One key's flag as CLI11 fills it in.
struct FlagSlot {
    const ConfigKey* key = nullptr;
    CLI::Option* option = nullptr;
    std::vector<std::string> values;
    std::string value;
    bool on = false;
};

}  // namespace

ParsedArgs parse_args(int argc, char** argv) {
    ParsedArgs result;
    Config& c = result.config;
    CLI::App app{"dlproxy: a forward HTTP proxy that makes large downloads unbreakable", "dlproxy"};
    app.set_version_flag("--version", std::string("dlproxy ") + DLPROXY_VERSION);
    app.get_formatter()->column_width(36);

    std::string config_file;
    bool print_config = false;
    app.add_option("--config", config_file, "TOML config file (flags override it)");
    std::deque<FlagSlot> slots;  // stable addresses: CLI11 keeps pointers into them
    for (const auto& key : config_keys()) {
        FlagSlot& slot = slots.emplace_back();
        slot.key = &key;
        const std::string help = std::string(key.help) + " (default " + default_text(key) + ")";
        switch (key.arity) {
            case ConfigKey::Arity::Switch:
                slot.option = app.add_flag(key.flag(), slot.on, help);
                break;
            case ConfigKey::Arity::One:
                slot.option = app.add_option(key.flag(), slot.value, help)
                                  ->type_name(std::string(key.value_name));
                break;
            case ConfigKey::Arity::Many:
                slot.option = app.add_option(key.flag(), slot.values, help)
                                  ->type_name(std::string(key.value_name));
                break;
        }
    }
    app.add_flag("--print-config", print_config,
                 "print the effective configuration as TOML and exit");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; usage errors exit 2 like other Unix tools.
        result.exit_code = app.exit(e) == 0 ? 0 : 2;
        return result;
    }

    if (!config_file.empty()) {
        std::ifstream in(config_file);
        if (!in) throw ConfigError("cannot read config file '" + config_file + "'");
        std::stringstream text;
        text << in.rdbuf();
        apply_toml(c, text.str(), config_file);
        c.config_file = config_file;
    }
    auto given = [&](std::string_view name) {
        for (const auto& slot : slots)
            if (slot.key->name == name) return slot.option->count() > 0;
        return false;
    };
    if (given("intercept") && given("no_intercept"))
        throw ConfigError("--intercept and --no-intercept contradict each other");
    for (const auto& slot : slots) {
        if (slot.option->count() == 0) continue;
        const auto& values = slot.key->arity == ConfigKey::Arity::One
                                 ? std::vector<std::string>{slot.value}
                                 : slot.values;
        slot.key->from_flag(c, values, slot.key->flag());
    }
    // Limits a default or a file's value must meet once everything is applied; named as flags
    // without dashes, since the value may come from either.
    for (const auto& key : config_keys())
        if (key.check) key.check(c, key.flag().substr(2));

    if (print_config) {
        std::fputs(c.to_toml().c_str(), stdout);
        result.exit_code = 0;
    }
    return result;
}

}  // namespace proxy
