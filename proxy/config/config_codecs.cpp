#include "proxy/config/config_codecs.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "policy/byte_size.h"
#include "policy/cache_key.h"
#include "policy/fallback_source.h"
#include "policy/intercept.h"
#include "proxy/admin/access_log.h"
#include "proxy/config/config_hosts.h"
#include "proxy/config/toml_guard.h"

namespace proxy::codec {

std::string quoted(const std::string& text) {
    return toml_basic_string(text);
}

std::string toml_string(const toml::node& node, const std::string& what) {
    if (auto s = node.value<std::string>()) return *s;
    throw ConfigError(what + ": expected a string");
}

std::vector<std::string> toml_strings(const toml::node& node, const std::string& what,
                                      const char* item) {
    auto arr = node.as_array();
    if (!arr) throw ConfigError(what + ": expected an array of " + item);
    std::vector<std::string> out;
    for (auto& a : *arr) {
        auto s = a.value<std::string>();
        if (!s) throw ConfigError(what + ": expected " + item);
        out.push_back(*s);
    }
    return out;
}

double parse_number(const std::string& text, const std::string& what) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') throw ConfigError(what + ": '" + text + "' is not a number");
    return v;
}

std::string render_number(double value) {
    std::ostringstream out;
    out << value + 0.0;  // fuzz finding 10: -0 would read back as the integer 0
    return out.str();
}

std::string render_strings(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + quoted(items[i]);
    return out + "]";
}

uint64_t size_from_text(const std::string& text, const std::string& what, uint64_t max) {
    auto size = policy::parse_byte_size(text);
    if (!size)
        throw ConfigError(what + ": '" + text +
                          "': " + std::string(policy::to_string(size.error())));
    if (*size > max) throw ConfigError(what + ": at most " + policy::format_byte_size(max));
    return *size;
}

uint64_t size_from_toml(const toml::node& node, const std::string& what, uint64_t max) {
    if (auto s = node.value<std::string>()) return size_from_text(*s, what, max);
    // integer_value never converts an out-of-range float (toml_guard.h finding 6).
    if (auto i = integer_value(node); i && *i >= 0) {
        auto bytes = static_cast<uint64_t>(*i);
        if (bytes > max) throw ConfigError(what + ": at most " + policy::format_byte_size(max));
        return bytes;
    }
    throw ConfigError(what + ": expected a size such as \"16MiB\" or a byte count");
}

std::string render_size(uint64_t bytes) {
    return quoted(policy::format_byte_size(bytes));
}

void check_min_size(uint64_t bytes, const std::string& what, uint64_t min) {
    if (bytes < min)
        throw ConfigError(what + ": must be at least " + policy::format_byte_size(min));
}

uint32_t count_from_text(const std::string& text, const std::string& what, int64_t lo, int64_t hi) {
    double v = parse_number(text, what);
    if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::trunc(v))
        throw ConfigError(what + ": expected a whole number " + std::to_string(lo) + ".." +
                          std::to_string(hi));
    return static_cast<uint32_t>(v);
}

uint32_t count_from_toml(const toml::node& node, const std::string& what, int64_t lo, int64_t hi) {
    auto v = integer_value(node);
    if (!v || *v < lo || *v > hi)
        throw ConfigError(what + ": expected a whole number " + std::to_string(lo) + ".." +
                          std::to_string(hi));
    return static_cast<uint32_t>(*v);
}

policy::HostPort Address::parse(const std::string& text, const std::string& what) {
    auto hp = policy::parse_host_port(text);
    if (!hp)
        throw ConfigError(what + ": '" + text + "': " + std::string(policy::to_string(hp.error())) +
                          " (expected ADDR:PORT)");
    unsigned char buf[16];
    if (inet_pton(hp->ipv6_literal ? AF_INET6 : AF_INET, hp->host.c_str(), buf) != 1)
        throw ConfigError(what + ": '" + text +
                          "': the address must be an IP address (e.g. 127.0.0.1:3128)");
    return *hp;
}

void LogLevel::check(const std::string& level, const std::string& what) {
    for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"})
        if (level == l) return;
    throw ConfigError(what + ": '" + level +
                      "' is not one of trace, debug, info, warn, error, critical, off");
}

void MirrorOrigin::check(const std::string& host, const std::string& what) {
    if (host.empty()) return;
    std::string error = policy::intercept_pattern_error(host);
    if (error.empty() && (host.starts_with("*.") || host.find(':') != std::string::npos))
        error = "a host name is expected (no pattern, no port)";
    if (!error.empty()) throw ConfigError(what + ": '" + host + "': " + error);
}

void AccessLogFormatName::check(const std::string& name, const std::string& what) {
    if (!access_log_format_from_string(name))
        throw ConfigError(what + ": '" + name + "' is not one of native, squid, json");
}

void Seconds::from_toml(double& v, const toml::node& n, const std::string& w) {
    auto d = n.value<double>();
    if (!d) throw ConfigError(w + ": expected a number of seconds");
    v = *d + 0.0;
}

void Seconds::check(const double& v, const std::string& what) {
    if (!(v > 0) || v > 86400 * 7) throw ConfigError(what + ": must be a number of seconds > 0");
}

double Percent::bounded(double v, const std::string& what) {
    if (!(v >= 0 && v <= 100)) throw ConfigError(what + ": expected a percentage 0..100");
    return v + 0.0;
}

void Percent::from_toml(double& v, const toml::node& n, const std::string& w) {
    auto d = n.value<double>();
    if (!d) throw ConfigError(w + ": expected a number");
    v = bounded(*d, w);
}

void Switch::from_toml(bool& v, const toml::node& n, const std::string& w) {
    if (!n.is_boolean()) throw ConfigError(w + ": expected true or false");
    v = n.as_boolean()->get();
}

OfflineAnswers Offline::parse(const std::string& text, const std::string& what) {
    if (text == "off") return OfflineAnswers::Off;
    if (text == "model-hosts") return OfflineAnswers::ModelHosts;
    if (text == "all") return OfflineAnswers::All;
    throw ConfigError(what + ": '" + text + "' is not one of off, model-hosts, all");
}

std::string Offline::render(const OfflineAnswers& v) {
    switch (v) {
        case OfflineAnswers::Off:
            return quoted("off");
        case OfflineAnswers::All:
            return quoted("all");
        case OfflineAnswers::ModelHosts:
            break;
    }
    return quoted("model-hosts");
}

policy::BackgroundFillMode FillMode::parse(const std::string& text, const std::string& what) {
    auto mode = policy::parse_background_fill_mode(text);
    if (!mode) throw ConfigError(what + ": '" + text + "' is not one of always, never, threshold");
    return *mode;
}

std::string FillMode::render(const policy::BackgroundFillMode& v) {
    return quoted(std::string(policy::to_string(v)));
}

std::vector<uint16_t> Ports::parse(const std::string& text, const std::string& what) {
    std::vector<uint16_t> ports;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item.empty()) continue;
        char* end = nullptr;
        long port = std::strtol(item.c_str(), &end, 10);
        if (*end != '\0' || port < 1 || port > 65535)
            throw ConfigError(what + ": '" + item + "' is not a port number");
        ports.push_back(static_cast<uint16_t>(port));
    }
    return ports;
}

void Ports::from_toml(std::vector<uint16_t>& v, const toml::node& n, const std::string& w) {
    if (auto arr = n.as_array()) {
        v.clear();
        for (auto& p : *arr) {
            auto port = integer_value(p);
            if (!port || *port < 1 || *port > 65535)
                throw ConfigError(w + ": expected port numbers");
            v.push_back(static_cast<uint16_t>(*port));
        }
    } else if (auto s = n.value<std::string>()) {
        v = parse(*s, w);
    } else if (auto i = integer_value(n)) {
        v = parse(std::to_string(*i), w);
    } else {
        throw ConfigError(w + ": expected an array of port numbers");
    }
}

std::string Ports::render(const std::vector<uint16_t>& v) {
    std::string out;
    for (auto p : v)
        out += (out.empty() ? "" : ",") + std::to_string(p);
    return "[" + out + "]";
}

std::vector<policy::Cidr> CidrList::parse(const Values& items, const std::string& what) {
    std::vector<policy::Cidr> out;
    for (const auto& text : items) {
        auto block = policy::parse_cidr(text);
        if (!block)
            throw ConfigError(what + ": '" + text +
                              "': " + std::string(policy::to_string(block.error())));
        out.push_back(*block);
    }
    return out;
}

std::string CidrList::render(const std::vector<policy::Cidr>& v) {
    std::vector<std::string> items;
    for (const auto& block : v)
        items.push_back(block.to_string());
    return render_strings(items);
}

void InterceptPattern::check(const std::string& text, const std::string& what) {
    if (auto error = policy::intercept_pattern_error(text); !error.empty())
        throw ConfigError(what + ": '" + text + "': " + error);
}

void ResolveItem::check(const std::string& text, const std::string& what) {
    if (auto entry = parse_resolve_entry(text); !entry)
        throw ConfigError(what + ": '" + text + "': " + entry.error());
}

void ConnectToItem::check(const std::string& text, const std::string& what) {
    if (auto entry = parse_connect_to_entry(text); !entry)
        throw ConfigError(what + ": '" + text + "': " + entry.error());
}

void HostPatternItem::check(const std::string& text, const std::string& what) {
    if (text != "*") InterceptPattern::check(text, what);
}

void KeyRuleItem::check(const std::string& text, const std::string& what) {
    if (auto rule = policy::parse_key_rule(text); !rule)
        throw ConfigError(what + ": '" + text + "': " + rule.error());
}

void FallbackSourceItem::check(const std::string& text, const std::string& what) {
    if (auto source = policy::parse_fallback_source(text); !source)
        throw ConfigError(what + ": '" + text + "': " + source.error());
}

void ProxyUrlItem::check(const std::string& text, const std::string& what) {
    if (auto url = parse_proxy_url(text); !url)
        throw ConfigError(what + ": '" + text + "': " + url.error());
}

void NoProxyItem::check(const std::string& text, const std::string& what) {
    if (auto list = parse_no_proxy(text); !list)
        throw ConfigError(what + ": '" + text + "': " + list.error());
}

void NoIntercept::from_toml(std::vector<std::string>& v, const toml::node& n,
                            const std::string& w) {
    auto b = n.value<bool>();
    if (!b) throw ConfigError(w + ": expected true or false");
    if (*b) v.clear();
}

}  // namespace proxy::codec
