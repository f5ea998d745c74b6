// The TOML side of the configuration, generated from the key table (proxy/config/config_key.h).
#include "proxy/config/config.h"

#include <toml++/toml.h>

#include <sstream>

#include "policy/cache_key.h"
#include "proxy/config/config_key.h"
#include "proxy/config/toml_guard.h"

namespace proxy {

std::vector<std::string> default_key_rule_texts() {
    std::vector<std::string> out;
    for (const auto& rule : policy::default_key_rules())
        out.push_back(policy::format_key_rule(rule));
    return out;
}

void apply_toml(Config& c, const std::string& text, const std::string& origin_name) {
    // toml++ 3.3.0 has undefined behaviour on some non-ASCII characters (toml_guard.h).
    if (auto bad = toml_unsupported_character(text)) throw ConfigError(origin_name + ":" + *bad);
    toml::table table;
    try {
        table = toml::parse(text, origin_name);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << origin_name << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
            << e.description();
        throw ConfigError(msg.str());
    }
    const auto keys = config_keys();
    for (auto&& kv : table) {
        const std::string name(kv.first.str());
        const ConfigKey* key = nullptr;
        for (const auto& k : keys)
            if (k.name == name) key = &k;
        if (!key) throw ConfigError(origin_name + ": unknown key '" + name + "'");
        key->from_toml(c, kv.second, origin_name + ": " + name);
    }
}

std::string Config::to_toml() const {
    std::string out = "# effective dlproxy configuration";
    out += config_file.empty() ? " (embedded defaults + flags)" : " (from " + config_file + ")";
    out += "\n";
    for (const auto& key : config_keys()) {
        if (!key.render) continue;
        std::string value = key.render(*this);
        if (key.secret) {
            if (value != "\"\"") out += "# " + std::string(key.name) + " is set (not shown)\n";
            continue;
        }
        out += std::string(key.name) + " = " + value;
        if (!key.empty_note.empty() && (value == "\"\"" || value == "[]"))
            out += "  # " + std::string(key.empty_note);
        out += "\n";
    }
    return out;
}

}  // namespace proxy
