// What a running dlproxy does with its configuration file on SIGHUP (docs/operations.md,
// "Reload").
//
// The file and the command line are read again exactly as at start-up (parse_args). A file
// that does not load keeps the running configuration whole. Otherwise every key is compared,
// by its rendering in --print-config, with the running value:
//   live keys       take effect at once: the allow and intercept lists, the log level, the
//                   limits and timeouts, stall, retry and breaker knobs, the range and pacing
//                   knobs, the fallback sources;
//   restart keys    (listen addresses, the cache, the access log target, the CA and upstream
//                   routing, the admin token, the memory budget, interception switched on when
//                   it was off) keep their running value; the plan says which changed.
// Pure: no I/O; the caller logs the plan and applies `next`.
#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.h"

namespace proxy {

struct ReloadPlan {
    Config next;                            // running + the live keys' new values
    std::vector<std::string> applied;       // "log_level: \"info\" -> \"debug\""
    std::vector<std::string> need_restart;  // "listen: \"a\" -> \"b\""
};

// Whether key `name` can change on a running dlproxy (`running`: what it runs with now).
bool live_key(std::string_view name, const Config& running, const Config& loaded);

// Throws ConfigError only if a rendered live value does not read back (a bug, not a user error).
ReloadPlan plan_reload(const Config& running, const Config& loaded);

}  // namespace proxy
