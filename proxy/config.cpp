#include "proxy/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>

#include "policy/byte_size.h"
#include "proxy/config_fill.h"
#include "proxy/toml_guard.h"

namespace proxy {

namespace {

constexpr const char* kVersion = "0.1.0";

// A listening address: an IP literal and a port ("127.0.0.1:3128", "[::1]:0").
policy::HostPort to_host_port(const std::string& text, const char* what) {
    auto hp = policy::parse_host_port(text);
    if (!hp)
        throw ConfigError(std::string(what) + ": '" + text + "': " +
                          std::string(policy::to_string(hp.error())) + " (expected ADDR:PORT)");
    unsigned char buf[16];
    if (inet_pton(hp->ipv6_literal ? AF_INET6 : AF_INET, hp->host.c_str(), buf) != 1)
        throw ConfigError(std::string(what) + ": '" + text +
                          "': the address must be an IP address (e.g. 127.0.0.1:3128)");
    return *hp;
}

bool to_durability(const std::string& text, const std::string& what) {
    if (text == "sync") return true;
    if (text == "nosync") return false;
    throw ConfigError(what + ": '" + text + "' is not one of sync, nosync");
}

uint64_t to_size(const std::string& text, const char* what) {
    auto size = policy::parse_byte_size(text);
    if (!size)
        throw ConfigError(std::string(what) + ": '" + text +
                          "': " + std::string(policy::to_string(size.error())));
    return *size;
}

std::vector<uint16_t> to_ports(const std::string& text) {
    std::vector<uint16_t> ports;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item.empty()) continue;
        char* end = nullptr;
        long port = std::strtol(item.c_str(), &end, 10);
        if (*end != '\0' || port < 1 || port > 65535)
            throw ConfigError("connect-ports: '" + item + "' is not a port number");
        ports.push_back(static_cast<uint16_t>(port));
    }
    return ports;
}

policy::Cidr to_cidr(const std::string& text) {
    auto block = policy::parse_cidr(text);
    if (!block)
        throw ConfigError("allow: '" + text +
                          "': " + std::string(policy::to_string(block.error())));
    return *block;
}

void check_log_level(const std::string& level) {
    static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    for (const char* l : kLevels)
        if (level == l) return;
    throw ConfigError("log-level: '" + level +
                      "' is not one of trace, debug, info, warn, error, critical, off");
}

std::vector<std::string> to_patterns(const std::vector<std::string>& patterns,
                                     const std::string& what) {
    for (const auto& p : patterns)
        if (auto error = policy::intercept_pattern_error(p); !error.empty())
            throw ConfigError(what + ": '" + p + "': " + error);
    return patterns;
}

void check_timeout(double value, const char* what) {
    if (!(value > 0) || value > 86400 * 7)
        throw ConfigError(std::string(what) + ": must be a number of seconds > 0");
}

std::string join_ports(const std::vector<uint16_t>& ports) {
    std::string out;
    for (auto p : ports)
        out += (out.empty() ? "" : ",") + std::to_string(p);
    return out;
}

// A TOML value that may be written as a string ("50GiB") or an integer (bytes / seconds).
std::string scalar_text(const toml::node& node, const std::string& key) {
    if (auto s = node.value<std::string>()) return *s;
    if (node.is_integer()) return std::to_string(*node.value_exact<int64_t>());
    if (auto d = node.value_exact<double>()) return std::to_string(*d);
    throw ConfigError(key + ": expected a string or a number");
}

double seconds(const toml::node& node, const std::string& key) {
    // + 0.0 turns -0.0 into 0: "-0" would render as -0 and read back as the integer 0, so
    // --print-config would not reproduce itself (fuzz finding 10).
    if (auto d = node.value<double>()) return *d + 0.0;
    throw ConfigError(key + ": expected a number of seconds");
}

}  // namespace

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
    for (auto&& kv : table) {
        // Not a structured binding: clang 14 (the fuzzers' compiler) cannot capture one in a
        // lambda.
        const toml::key& k = kv.first;
        toml::node& node = kv.second;
        const std::string key(k.str());
        auto str = [&]() -> std::string {
            if (auto s = node.value<std::string>()) return *s;
            throw ConfigError(origin_name + ": " + key + ": expected a string");
        };
        if (key == "listen")
            c.listen = to_host_port(str(), "listen");
        else if (key == "admin_listen")
            c.admin_listen = to_host_port(str(), "admin_listen");
        else if (key == "cache_dir")
            c.cache_dir = str();
        else if (key == "admin_token")
            c.admin_token = str();
        else if (key == "cache_size")
            c.cache_size = to_size(scalar_text(node, key), "cache_size");
        else if (key == "cache_durability")
            c.cache_sync = to_durability(str(), origin_name + ": cache_durability");
        else if (key == "connect_ports") {
            c.connect_ports.clear();
            if (auto arr = node.as_array()) {
                for (auto& p : *arr) {
                    auto v = integer_value(p);
                    if (!v || *v < 1 || *v > 65535)
                        throw ConfigError(origin_name + ": connect_ports: expected port numbers");
                    c.connect_ports.push_back(static_cast<uint16_t>(*v));
                }
            } else {
                c.connect_ports = to_ports(scalar_text(node, key));
            }
        } else if (key == "allow") {
            auto arr = node.as_array();
            if (!arr) throw ConfigError(origin_name + ": allow: expected an array of CIDR strings");
            c.allow.clear();
            for (auto& a : *arr) {
                auto s = a.value<std::string>();
                if (!s) throw ConfigError(origin_name + ": allow: expected CIDR strings");
                c.allow.push_back(to_cidr(*s));
            }
        } else if (key == "log_level")
            c.log_level = str();
        else if (key == "access_log")
            c.access_log = str();
        else if (key == "high_water_mark")
            c.high_water_mark = to_size(scalar_text(node, key), "high_water_mark");
        else if (key == "max_header_size")
            c.max_header_size = to_size(scalar_text(node, key), "max_header_size");
        else if (key == "max_connections") {
            auto v = integer_value(node);
            if (!v || *v < 1 || *v > 1000000)
                throw ConfigError(origin_name + ": max_connections: expected 1..1000000");
            c.max_connections = static_cast<uint32_t>(*v);
        } else if (key == "upstream_header_timeout")
            c.upstream_header_timeout = seconds(node, key);
        else if (key == "connect_timeout")
            c.connect_timeout = seconds(node, key);
        else if (key == "client_header_timeout")
            c.client_header_timeout = seconds(node, key);
        else if (key == "keepalive_timeout")
            c.keepalive_timeout = seconds(node, key);
        else if (key == "grace_period")
            c.grace_period = seconds(node, key);
        else if (key == "stall_timeout")
            c.stall_timeout = seconds(node, key);
        else if (key == "gap_budget")
            c.gap_budget = seconds(node, key);
        else if (key == "retry_base_delay")
            c.retry_base_delay = seconds(node, key);
        else if (key == "retry_max_delay")
            c.retry_max_delay = seconds(node, key);
        else if (key == "retry_deadline")
            c.retry_deadline = seconds(node, key);
        else if (key == "resume_without_validator") {
            if (!node.is_boolean())
                throw ConfigError(origin_name +
                                  ": resume_without_validator: expected true or false");
            c.resume_without_validator = node.as_boolean()->get();
        } else if (key == "retry_max_attempts") {
            auto v = integer_value(node);
            if (!v || *v < 1 || *v > 1000)
                throw ConfigError(origin_name + ": retry_max_attempts: expected 1..1000");
            c.retry_max_attempts = static_cast<uint32_t>(*v);
        } else if (key == "intercept") {
            auto arr = node.as_array();
            if (!arr)
                throw ConfigError(origin_name + ": intercept: expected an array of host patterns");
            std::vector<std::string> patterns;
            for (auto& a : *arr) {
                auto s = a.value<std::string>();
                if (!s) throw ConfigError(origin_name + ": intercept: expected strings");
                patterns.push_back(*s);
            }
            c.intercept = to_patterns(patterns, origin_name + ": intercept");
        } else if (key == "no_intercept") {
            auto v = node.value<bool>();
            if (!v) throw ConfigError(origin_name + ": no_intercept: expected true or false");
            if (*v) c.intercept.clear();
        } else if (key == "ca_dir")
            c.ca_dir = str();
        else if (key == "upstream_ca_file")
            c.upstream_ca_file = str();
        else if (!apply_fill_key(c, key, node, origin_name))
            throw ConfigError(origin_name + ": unknown key '" + key + "'");
    }
}

std::string Config::to_toml() const {
    std::ostringstream out;
    auto q = [](const std::string& s) { return toml_basic_string(s); };
    // -0.0 (a flag given as -0) would print as -0 and read back as the integer 0.
    auto num = [](double v) { return v + 0.0; };
    out << "# effective dlproxy configuration"
        << (config_file.empty() ? " (embedded defaults + flags)" : " (from " + config_file + ")")
        << "\n";
    out << "listen = " << q(listen.to_string()) << "\n";
    out << "admin_listen = " << q(admin_listen.to_string()) << "\n";
    out << "cache_dir = " << q(cache_dir) << "\n";
    if (!admin_token.empty()) out << "# admin_token is set (not shown)\n";
    out << "cache_size = " << q(policy::format_byte_size(cache_size)) << "\n";
    out << "cache_durability = " << q(cache_sync ? "sync" : "nosync") << "\n";
    out << "connect_ports = [" << join_ports(connect_ports) << "]\n";
    out << "allow = [";
    for (size_t i = 0; i < allow.size(); ++i)
        out << (i ? ", " : "") << q(allow[i].to_string());
    out << "]\n";
    out << "log_level = " << q(log_level) << "\n";
    out << "access_log = " << q(access_log) << "\n";
    out << "high_water_mark = " << q(policy::format_byte_size(high_water_mark)) << "\n";
    out << "max_header_size = " << q(policy::format_byte_size(max_header_size)) << "\n";
    out << "max_connections = " << max_connections << "\n";
    out << "upstream_header_timeout = " << num(upstream_header_timeout) << "\n";
    out << "connect_timeout = " << num(connect_timeout) << "\n";
    out << "client_header_timeout = " << num(client_header_timeout) << "\n";
    out << "keepalive_timeout = " << num(keepalive_timeout) << "\n";
    out << "grace_period = " << num(grace_period) << "\n";
    out << "stall_timeout = " << num(stall_timeout) << "\n";
    out << "gap_budget = " << num(gap_budget) << "\n";
    out << "retry_base_delay = " << num(retry_base_delay) << "\n";
    out << "retry_max_delay = " << num(retry_max_delay) << "\n";
    out << "retry_max_attempts = " << retry_max_attempts << "\n";
    out << "retry_deadline = " << num(retry_deadline) << "\n";
    out << "resume_without_validator = " << (resume_without_validator ? "true" : "false") << "\n";
    out << "intercept = [";
    for (size_t i = 0; i < intercept.size(); ++i)
        out << (i ? ", " : "") << q(intercept[i]);
    out << "]" << (intercept.empty() ? "  # interception off" : "") << "\n";
    out << "ca_dir = " << q(ca_dir) << (ca_dir.empty() ? "  # <cache_dir>/ca" : "") << "\n";
    out << "upstream_ca_file = " << q(upstream_ca_file) << "\n";
    write_fill_toml(*this, out);
    return out.str();
}

ParsedArgs parse_args(int argc, char** argv) {
    ParsedArgs result;
    Config& c = result.config;
    CLI::App app{"dlproxy: a forward HTTP proxy that makes large downloads unbreakable", "dlproxy"};
    app.set_version_flag("--version", std::string("dlproxy ") + kVersion);
    app.get_formatter()->column_width(36);

    std::string config_file, listen, admin_listen, cache_dir, cache_size, cache_durability,
        connect_ports, log_level, access_log, high_water_mark, max_header_size;
    std::vector<std::string> allow, intercept;
    std::string ca_dir, upstream_ca_file;
    bool no_intercept = false;
    std::string admin_token;
    uint32_t max_connections = 0;
    double upstream_header_timeout = 0, connect_timeout = 0, client_header_timeout = 0,
           keepalive_timeout = 0, grace_period = 0, stall_timeout = 0, gap_budget = 0,
           retry_base_delay = 0, retry_max_delay = 0, retry_deadline = 0;
    uint32_t retry_max_attempts = 0;
    bool print_config = false;
    FillFlags fill_flags;

    app.add_option("--config", config_file, "TOML config file (flags override it)");
    app.add_option("--listen", listen,
                   "proxy address ADDR:PORT (default 127.0.0.1:3128; port 0 = any)");
    app.add_option("--admin-listen", admin_listen,
                   "admin address ADDR:PORT (default 127.0.0.1:3129)");
    app.add_option("--cache-dir", cache_dir, "cache directory (default ./dlproxy-cache)");
    app.add_option("--cache-size", cache_size,
                   "byte budget for the cache, e.g. 50GiB (default 50GiB)");
    app.add_option("--cache-durability", cache_durability,
                   "sync: chunks synced before they are recorded (default); nosync: no syncs, "
                   "faster on slow disks, a power loss may cost recent chunks");
    app.add_option("--connect-ports", connect_ports,
                   "ports CONNECT may reach, e.g. 443,8443 (default 443)");
    app.add_option("--allow", allow,
                   "client CIDR allowed to use the proxy; repeatable (default loopback)");
    app.add_option("--log-level", log_level,
                   "trace|debug|info|warn|error|critical|off (default info)");
    app.add_option("--access-log", access_log,
                   "access log file, '-' for stdout, 'off' (default -)");
    app.add_option("--high-water-mark", high_water_mark,
                   "bytes queued per peer before pausing (default 1MiB)");
    app.add_option("--max-header-size", max_header_size, "request header limit (default 64KiB)");
    app.add_option("--max-connections", max_connections, "client connection cap (default 4096)");
    app.add_option("--upstream-header-timeout", upstream_header_timeout,
                   "seconds to wait for origin headers (default 60)");
    app.add_option("--connect-timeout", connect_timeout,
                   "seconds to connect to an origin (default 30)");
    app.add_option("--client-header-timeout", client_header_timeout,
                   "seconds a client has to send headers (default 30)");
    app.add_option("--keepalive-timeout", keepalive_timeout,
                   "idle client keep-alive seconds (default 120)");
    app.add_option("--grace-period", grace_period,
                   "seconds in-flight transfers get on SIGTERM (default 10)");
    app.add_option("--stall-timeout", stall_timeout,
                   "seconds without origin bytes before reconnecting (default 10)");
    app.add_option("--gap-budget", gap_budget,
                   "seconds a client may wait silently during recovery (default 8)");
    app.add_option("--retry-base-delay", retry_base_delay,
                   "first backoff ceiling, seconds (default 0.25)");
    app.add_option("--retry-max-delay", retry_max_delay,
                   "backoff ceiling cap, seconds (default 30)");
    app.add_option("--retry-max-attempts", retry_max_attempts,
                   "upstream attempts per fill (default 20)");
    app.add_option("--retry-deadline", retry_deadline,
                   "give up a fill after this many seconds (default 600)");
    bool resume_without_validator = false;
    app.add_flag("--resume-without-validator", resume_without_validator,
                 "resume responses without ETag/Last-Modified (default off)");
    app.add_option("--admin-token", admin_token,
                   "bearer token the admin API requires (default none)");
    app.add_option("--intercept", intercept,
                   "decrypt CONNECTs to hosts matching PATTERN (host or *.domain); repeatable, "
                   "replaces the default model-host list");
    app.add_flag("--no-intercept", no_intercept, "tunnel every CONNECT untouched");
    app.add_option("--ca-dir", ca_dir, "interception CA directory (default <cache-dir>/ca)");
    app.add_option("--upstream-ca-file", upstream_ca_file,
                   "extra PEM CA file trusted for origins, besides the system store");
    add_fill_options(app, fill_flags);
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
    if (!listen.empty()) c.listen = to_host_port(listen, "--listen");
    if (!admin_listen.empty()) c.admin_listen = to_host_port(admin_listen, "--admin-listen");
    if (!cache_dir.empty()) c.cache_dir = cache_dir;
    if (!admin_token.empty()) c.admin_token = admin_token;
    if (!cache_size.empty()) c.cache_size = to_size(cache_size, "--cache-size");
    if (!cache_durability.empty())
        c.cache_sync = to_durability(cache_durability, "--cache-durability");
    if (!connect_ports.empty()) c.connect_ports = to_ports(connect_ports);
    if (!allow.empty()) {
        c.allow.clear();
        for (const auto& a : allow)
            c.allow.push_back(to_cidr(a));
    }
    if (!intercept.empty() && no_intercept)
        throw ConfigError("--intercept and --no-intercept contradict each other");
    if (!intercept.empty()) c.intercept = to_patterns(intercept, "--intercept");
    if (no_intercept) c.intercept.clear();
    if (!ca_dir.empty()) c.ca_dir = ca_dir;
    if (!upstream_ca_file.empty()) c.upstream_ca_file = upstream_ca_file;
    if (!log_level.empty()) c.log_level = log_level;
    if (!access_log.empty()) c.access_log = access_log;
    if (!high_water_mark.empty()) c.high_water_mark = to_size(high_water_mark, "--high-water-mark");
    if (!max_header_size.empty()) c.max_header_size = to_size(max_header_size, "--max-header-size");
    if (max_connections) c.max_connections = max_connections;
    if (upstream_header_timeout) c.upstream_header_timeout = upstream_header_timeout;
    if (connect_timeout) c.connect_timeout = connect_timeout;
    if (client_header_timeout) c.client_header_timeout = client_header_timeout;
    if (keepalive_timeout) c.keepalive_timeout = keepalive_timeout;
    if (grace_period) c.grace_period = grace_period;
    if (stall_timeout) c.stall_timeout = stall_timeout;
    if (gap_budget) c.gap_budget = gap_budget;
    if (retry_base_delay) c.retry_base_delay = retry_base_delay;
    if (retry_max_delay) c.retry_max_delay = retry_max_delay;
    if (retry_max_attempts) c.retry_max_attempts = retry_max_attempts;
    if (retry_deadline) c.retry_deadline = retry_deadline;
    if (resume_without_validator) c.resume_without_validator = true;
    apply_fill_flags(c, fill_flags);

    check_log_level(c.log_level);
    check_timeout(c.upstream_header_timeout, "upstream-header-timeout");
    check_timeout(c.connect_timeout, "connect-timeout");
    check_timeout(c.client_header_timeout, "client-header-timeout");
    check_timeout(c.keepalive_timeout, "keepalive-timeout");
    check_timeout(c.grace_period, "grace-period");
    check_timeout(c.stall_timeout, "stall-timeout");
    check_timeout(c.gap_budget, "gap-budget");
    check_timeout(c.retry_base_delay, "retry-base-delay");
    check_timeout(c.retry_max_delay, "retry-max-delay");
    check_timeout(c.retry_deadline, "retry-deadline");
    if (c.high_water_mark < 4096) throw ConfigError("high-water-mark: must be at least 4KiB");
    if (c.max_header_size < 1024) throw ConfigError("max-header-size: must be at least 1KiB");

    if (print_config) {
        std::fputs(c.to_toml().c_str(), stdout);
        result.exit_code = 0;
    }
    return result;
}

}  // namespace proxy
