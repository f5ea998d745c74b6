#include "policy/byte_size.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "policy/header_list.h"

namespace policy {

std::string_view to_string(SizeErrc e) {
    switch (e) {
        case SizeErrc::Empty:
            return "empty size";
        case SizeErrc::BadNumber:
            return "size is not a number";
        case SizeErrc::BadUnit:
            return "unknown size unit (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";
        case SizeErrc::Overflow:
            return "size too large";
    }
    return "bad size";
}

Result<uint64_t, SizeErrc> parse_byte_size(std::string_view text) {
    text = trim_ows(text);
    if (text.empty()) return fail(SizeErrc::Empty);
    size_t unit_start = 0;
    while (unit_start < text.size() &&
           ((text[unit_start] >= '0' && text[unit_start] <= '9') || text[unit_start] == '.'))
        ++unit_start;
    std::string_view number = text.substr(0, unit_start);
    std::string_view unit = trim_ows(text.substr(unit_start));
    if (number.empty() || number.front() == '.' || number.back() == '.')
        return fail(SizeErrc::BadNumber);
    double value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || ptr != number.data() + number.size()) return fail(SizeErrc::BadNumber);

    struct Unit {
        std::string_view name;
        double factor;
    };
    static constexpr std::array<Unit, 14> kUnits = {{
        {"", 1.0},
        {"b", 1.0},
        {"k", 1024.0},
        {"kib", 1024.0},
        {"kb", 1e3},
        {"m", 1048576.0},
        {"mib", 1048576.0},
        {"mb", 1e6},
        {"g", 1073741824.0},
        {"gib", 1073741824.0},
        {"gb", 1e9},
        {"t", 1099511627776.0},
        {"tib", 1099511627776.0},
        {"tb", 1e12},
    }};
    for (const auto& u : kUnits) {
        if (!iequals(u.name, unit)) continue;
        double bytes = std::floor(value * u.factor);
        if (bytes >= 1.8e19) return fail(SizeErrc::Overflow);
        return static_cast<uint64_t>(bytes);
    }
    return fail(SizeErrc::BadUnit);
}

std::string format_byte_size(uint64_t bytes) {
    static constexpr std::array<std::string_view, 5> kNames = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < kNames.size()) {
        value /= 1024.0;
        ++unit;
    }
    // A figure that rounds to 1024 belongs to the next unit: 1048535 is "1MiB", not "1024KiB"
    // (which would read back as 1048576 and then format differently).
    if (unit > 0 && unit + 1 < kNames.size() && value >= 1023.95) {
        value /= 1024.0;
        ++unit;
    }
    char buf[32];
    if (unit == 0 || std::fmod(value, 1.0) < 0.05 || std::fmod(value, 1.0) > 0.95)
        std::snprintf(buf, sizeof buf, "%.0f%s", value, kNames[unit].data());
    else
        std::snprintf(buf, sizeof buf, "%.1f%s", value, kNames[unit].data());
    return buf;
}

}  // namespace policy
