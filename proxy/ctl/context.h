// dlproxyctl's shared state: the global options (after --config and the flags are merged), exit
// codes, the error type commands throw, and helpers every command uses (opening the store,
// finding an object, formatting sizes and times).
//
// dlproxyctl is a short-lived command-line program, not the event loop: commands report a
// failure by throwing CtlError, which main() turns into one line on stderr and the exit code.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cache/store.h"

namespace ctl {

enum Exit : int {
    kOk = 0,
    kProblem = 1,      // the operation found a problem: corruption, not found, refused
    kUsage = 2,        // bad command line
    kUnavailable = 3,  // cannot open the store, or the daemon is unreachable when required
};

struct CtlError : std::runtime_error {
    CtlError(int code, const std::string& message) : std::runtime_error(message), code(code) {}
    int code;
};

struct Context {
    // Global options, defaults as dlproxy's.
    std::string cache_dir = "dlproxy-cache";
    std::string ca_dir;  // "" = <cache_dir>/ca
    uint64_t cache_size = 50ull << 30;
    std::string admin_listen = "127.0.0.1:3129";
    std::string listen = "127.0.0.1:3128";
    std::string admin_url;  // "" → http://<admin_listen>
    std::string admin_token;
    std::string config_file;
    bool no_admin = false;
    bool json = false;
    int verbose = 0;

    // Reads cache_dir, ca_dir, cache_size, listen, admin_listen and admin_token from
    // `config_file`;
    // other keys are dlproxy's business and are ignored. main() applies the flags afterwards, so
    // they win. CtlError(kUsage) for an unreadable file or a bad value.
    void load_config();

    std::string effective_admin_url() const;
    std::string proxy_url() const { return "http://" + listen; }

    // Opens the store; CtlError(kUnavailable) with the reason when it cannot.
    std::unique_ptr<cache::Store> open_store(bool read_only) const;
};

// The object `target` (URL, cache key or id) names; CtlError(kProblem) "not cached" when none.
cache::ObjectInfo require_object(const cache::Store& store, std::string_view target);

// "1.5MiB" (policy::format_byte_size).
std::string human_size(uint64_t bytes);
// "2025-06-01T12:00:05Z"; "-" for 0.
std::string utc_time(int64_t unix_seconds);
double now_monotonic();
// "42%": bytes_present of complete_length, rounded down (100% only when complete).
std::string percent_present(const cache::ObjectInfo& object);
std::string_view state_name(const cache::ObjectInfo& object);

}  // namespace ctl
