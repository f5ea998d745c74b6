#include "proxy/config_fill.h"

#include "proxy/toml_guard.h"

#include <cmath>
#include <cstdlib>

#include "policy/byte_size.h"

namespace proxy {

namespace {

policy::BackgroundFillMode to_mode(const std::string& text, const std::string& what) {
    auto mode = policy::parse_background_fill_mode(text);
    if (!mode) throw ConfigError(what + ": '" + text + "' is not one of always, never, threshold");
    return *mode;
}

double to_percent(double value, const std::string& what) {
    if (!(value >= 0 && value <= 100)) throw ConfigError(what + ": expected a percentage 0..100");
    return value + 0.0;  // -0.0 as 0 (fuzz finding 10)
}

uint64_t to_size(const std::string& text, const std::string& what) {
    auto size = policy::parse_byte_size(text);
    if (!size)
        throw ConfigError(what + ": '" + text +
                          "': " + std::string(policy::to_string(size.error())));
    return *size;
}

// A size key: a string with a unit ("16MiB") or a byte count.
uint64_t size_value(const toml::node& node, const std::string& what, std::string_view example) {
    if (auto s = node.value<std::string>()) return to_size(*s, what);
    if (auto i = integer_value(node); i && *i >= 0) return static_cast<uint64_t>(*i);
    throw ConfigError(what + ": expected a size such as \"" + std::string(example) +
                      "\" or a byte count");
}

// Bytes a fill holds in memory for its clients: bounded, since every running fill may hold it.
uint64_t to_window(uint64_t bytes, const std::string& what) {
    if (bytes > (1ull << 30)) throw ConfigError(what + ": at most 1GiB");
    return bytes;
}

uint32_t to_count(int64_t value, const std::string& what) {
    if (value < 0 || value > 100000) throw ConfigError(what + ": expected 0..100000");
    return static_cast<uint32_t>(value);
}

double parse_number(const std::string& text, const std::string& what) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') throw ConfigError(what + ": '" + text + "' is not a number");
    return v;
}

// A flag's whole number in 0..max, checked before any conversion (a cast of NaN or 1e300 to an
// integer is undefined).
uint32_t whole_number(const std::string& text, const std::string& what, double max) {
    double v = parse_number(text, what);
    if (!(v >= 0 && v <= max) || v != std::trunc(v))
        throw ConfigError(what + ": expected a whole number 0.." +
                          std::to_string(static_cast<uint32_t>(max)));
    return static_cast<uint32_t>(v);
}

}  // namespace

void add_fill_options(CLI::App& app, FillFlags& flags) {
    app.add_option("--background-fill", flags.mode,
                   "a fill whose clients have all gone: always|never|threshold (default always)");
    app.add_option("--background-fill-min-percent", flags.min_percent,
                   "threshold: continue when this % is present (default 50)");
    app.add_option("--background-fill-max-remaining", flags.max_remaining,
                   "threshold: continue when at most this much remains (default 64MiB)");
    app.add_option("--max-background-fills", flags.max_fills,
                   "fills running without clients at once; the newest beyond stops (default 16)");
    app.add_option("--range-wait-distance", flags.range_wait_distance,
                   "a Range this far or less ahead of the fill waits for it; further ahead it "
                   "is fetched separately (default 16MiB)");
    app.add_option("--max-range-fetches", flags.max_range_fetches,
                   "separate upstream range fetches per object at once (default 4; 0: always "
                   "wait for the fill)");
    app.add_option("--fill-ahead-window", flags.fill_ahead_window,
                   "how far a fill may run ahead of its furthest client, in memory (default "
                   "16MiB; 0: the origin's pace)");
    app.add_option("--memory-budget", flags.memory_budget,
                   "body bytes all fills and their clients may hold in memory (default 256MiB; "
                   "0: no budget)");
}

void apply_fill_flags(Config& c, const FillFlags& flags) {
    auto& fill = c.background_fill;
    if (!flags.mode.empty()) fill.mode = to_mode(flags.mode, "--background-fill");
    if (!flags.min_percent.empty())
        fill.min_percent =
            to_percent(parse_number(flags.min_percent, "--background-fill-min-percent"),
                       "--background-fill-min-percent");
    if (!flags.max_remaining.empty())
        fill.max_remaining = to_size(flags.max_remaining, "--background-fill-max-remaining");
    if (!flags.max_fills.empty())
        fill.max_fills = whole_number(flags.max_fills, "--max-background-fills", 100000);
    if (!flags.range_wait_distance.empty())
        c.range_wait_distance = to_size(flags.range_wait_distance, "--range-wait-distance");
    if (!flags.max_range_fetches.empty())
        c.max_range_fetches = whole_number(flags.max_range_fetches, "--max-range-fetches", 64);
    if (!flags.fill_ahead_window.empty())
        c.fill_ahead_window = to_window(to_size(flags.fill_ahead_window, "--fill-ahead-window"),
                                        "--fill-ahead-window");
    if (!flags.memory_budget.empty())
        c.memory_budget = to_size(flags.memory_budget, "--memory-budget");
}

bool apply_fill_key(Config& c, const std::string& key, const toml::node& node,
                    const std::string& origin_name) {
    auto& fill = c.background_fill;
    const std::string what = origin_name + ": " + key;
    if (key == "background_fill") {
        auto s = node.value<std::string>();
        if (!s) throw ConfigError(what + ": expected a string");
        fill.mode = to_mode(*s, what);
    } else if (key == "background_fill_min_percent") {
        auto v = node.value<double>();
        if (!v) throw ConfigError(what + ": expected a number");
        fill.min_percent = to_percent(*v, what);
    } else if (key == "background_fill_max_remaining") {
        fill.max_remaining = size_value(node, what, "64MiB");
    } else if (key == "max_background_fills") {
        auto v = integer_value(node);  // never converts a float (toml++ 3.3.0 UB, fuzz finding 6)
        if (!v) throw ConfigError(what + ": expected a whole number");
        fill.max_fills = to_count(*v, what);
    } else if (key == "range_wait_distance") {
        c.range_wait_distance = size_value(node, what, "16MiB");
    } else if (key == "fill_ahead_window") {
        c.fill_ahead_window = to_window(size_value(node, what, "16MiB"), what);
    } else if (key == "memory_budget") {
        c.memory_budget = size_value(node, what, "256MiB");
    } else if (key == "max_range_fetches") {
        auto v = integer_value(node);
        if (!v || *v < 0 || *v > 64) throw ConfigError(what + ": expected a whole number 0..64");
        c.max_range_fetches = static_cast<uint32_t>(*v);
    } else {
        return false;
    }
    return true;
}

void write_fill_toml(const Config& c, std::ostream& out) {
    const auto& fill = c.background_fill;
    out << "background_fill = \"" << policy::to_string(fill.mode) << "\"\n";
    out << "background_fill_min_percent = " << fill.min_percent << "\n";
    out << "background_fill_max_remaining = \"" << policy::format_byte_size(fill.max_remaining)
        << "\"\n";
    out << "max_background_fills = " << fill.max_fills << "\n";
    out << "range_wait_distance = \"" << policy::format_byte_size(c.range_wait_distance) << "\"\n";
    out << "max_range_fetches = " << c.max_range_fetches << "\n";
    out << "fill_ahead_window = \"" << policy::format_byte_size(c.fill_ahead_window) << "\"\n";
    out << "memory_budget = \"" << policy::format_byte_size(c.memory_budget) << "\"\n";
}

}  // namespace proxy
