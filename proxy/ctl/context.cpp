#include "proxy/ctl/context.h"

#include <toml++/toml.h>

#include <chrono>
#include <ctime>
#include <sstream>

#include "policy/byte_size.h"
#include "policy/request_target.h"
#include "proxy/admin/cache_admin.h"

namespace ctl {

namespace {

std::string toml_string(const toml::node& node, const std::string& key) {
    if (auto s = node.value<std::string>()) return *s;
    if (auto i = node.value<int64_t>()) return std::to_string(*i);
    throw CtlError(kUsage, key + ": expected a string");
}

std::string checked_address(const std::string& text, const std::string& what) {
    if (!policy::parse_host_port(text))
        throw CtlError(kUsage, what + ": '" + text + "' is not ADDR:PORT");
    return text;
}

}  // namespace

void Context::load_config() {
    if (config_file.empty()) return;
    toml::table table;
    try {
        table = toml::parse_file(config_file);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << config_file << ":" << e.source().begin.line << ": " << e.description();
        throw CtlError(kUsage, msg.str());
    }
    for (auto&& [k, node] : table) {
        const std::string key(k.str());
        if (key == "cache_dir") {
            cache_dir = toml_string(node, key);
        } else if (key == "ca_dir") {
            ca_dir = toml_string(node, key);
        } else if (key == "cache_size") {
            auto size = policy::parse_byte_size(toml_string(node, key));
            if (!size) throw CtlError(kUsage, config_file + ": cache_size: not a byte size");
            cache_size = *size;
        } else if (key == "listen") {
            listen = checked_address(toml_string(node, key), config_file + ": listen");
        } else if (key == "admin_listen") {
            admin_listen = checked_address(toml_string(node, key), config_file + ": admin_listen");
        } else if (key == "admin_token") {
            admin_token = toml_string(node, key);
        }
    }
}

std::string Context::effective_admin_url() const {
    std::string url = admin_url.empty() ? "http://" + admin_listen : admin_url;
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    return url;
}

std::unique_ptr<cache::Store> Context::open_store(bool read_only) const {
    cache::Options options;
    options.max_bytes = cache_size;
    options.read_only = read_only;
    auto store = cache::Store::open(cache_dir, options);
    if (!store) {
        std::string why = cache::to_string(store.error());
        if (read_only && store.error() == cache::Errc::Missing) why = "no cache there";
        throw CtlError(kUnavailable, "cannot open the cache in '" + cache_dir + "': " + why);
    }
    return std::move(*store);
}

cache::ObjectInfo require_object(const cache::Store& store, std::string_view target) {
    auto found = proxy::find_object(store, target);
    if (!found) {
        throw CtlError(kUnavailable,
                       "cannot read the cache index: " + cache::to_string(found.error()));
    }
    if (!*found) throw CtlError(kProblem, "not cached: " + std::string(target));
    return std::move(**found);
}

std::string human_size(uint64_t bytes) {
    return policy::format_byte_size(bytes);
}

std::string utc_time(int64_t unix_seconds) {
    if (unix_seconds == 0) return "-";
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

double now_monotonic() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string percent_present(const cache::ObjectInfo& object) {
    if (object.complete() || object.complete_length == 0) return object.complete() ? "100%" : "0%";
    uint64_t pct = object.bytes_present * 100 / object.complete_length;
    if (pct >= 100) pct = 99;  // 100% is reserved for complete objects
    return std::to_string(pct) + "%";
}

std::string_view state_name(const cache::ObjectInfo& object) {
    return object.complete() ? "complete" : "partial";
}

}  // namespace ctl
