#include "proxy/config/config_reload.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "proxy/config/config_key.h"

namespace proxy {

namespace {

// Everything read at use time (per request, per connection, per fill): a new value applies to
// what starts after the reload.
constexpr std::array<std::string_view, 33> kLiveKeys = {
    "allow",
    "auth_basic",
    "connect_ports",
    "intercept",
    "log_level",
    "high_water_mark",
    "max_header_size",
    "max_connections",
    "upstream_header_timeout",
    "connect_timeout",
    "client_header_timeout",
    "keepalive_timeout",
    "grace_period",
    "stall_timeout",
    "stall_floor",
    "gap_budget",
    "retry_base_delay",
    "retry_max_delay",
    "retry_max_attempts",
    "retry_deadline",
    "resume_without_validator",
    "breaker_failures",
    "breaker_window",
    "breaker_open",
    "background_fill",
    "content_sha256",
    "background_fill_min_percent",
    "background_fill_max_remaining",
    "max_background_fills",
    "range_wait_distance",
    "max_range_fetches",
    "fill_ahead_window",
    "fallback_source",
};

}  // namespace

bool live_key(std::string_view name, const Config& running, const Config& loaded) {
    if (std::find(kLiveKeys.begin(), kLiveKeys.end(), name) == kLiveKeys.end()) return false;
    // Interception needs the CA and the TLS context, set up at start: switching it on from off
    // needs a restart; changing the list (or emptying it) does not.
    if (name == "intercept" && running.intercept.empty() && !loaded.intercept.empty()) return false;
    return true;
}

ReloadPlan plan_reload(const Config& running, const Config& loaded) {
    ReloadPlan plan;
    plan.next = running;
    std::string live_toml;
    for (const ConfigKey& key : config_keys()) {
        if (!key.render) continue;
        const std::string before = key.render(running);
        const std::string after = key.render(loaded);
        if (before == after) continue;
        const std::string change =
            std::string(key.name) + ": " + (key.secret ? "(changed)" : before + " -> " + after);
        if (live_key(key.name, running, loaded)) {
            live_toml += std::string(key.name) + " = " + after + "\n";
            plan.applied.push_back(change);
        } else {
            plan.need_restart.push_back(change);
        }
    }
    if (!live_toml.empty()) apply_toml(plan.next, live_toml, "reload");
    return plan;
}

}  // namespace proxy
