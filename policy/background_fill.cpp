#include "policy/background_fill.h"

#include <algorithm>

namespace policy {

std::string_view to_string(BackgroundFillMode m) {
    switch (m) {
        case BackgroundFillMode::Always:
            return "always";
        case BackgroundFillMode::Never:
            return "never";
        case BackgroundFillMode::Threshold:
            return "threshold";
    }
    return "always";
}

std::optional<BackgroundFillMode> parse_background_fill_mode(std::string_view text) {
    for (auto m :
         {BackgroundFillMode::Always, BackgroundFillMode::Never, BackgroundFillMode::Threshold})
        if (text == to_string(m)) return m;
    return std::nullopt;
}

std::string_view to_string(BackgroundFillReason r) {
    switch (r) {
        case BackgroundFillReason::ModeAlways:
            return "background fill is always on";
        case BackgroundFillReason::FewBytesRemain:
            return "few bytes remain";
        case BackgroundFillReason::MostlyPresent:
            return "most of the object is present";
        case BackgroundFillReason::ModeNever:
            return "background fill is off";
        case BackgroundFillReason::TooMuchRemains:
            return "too much of the object remains";
        case BackgroundFillReason::TooManyFills:
            return "too many background fills";
        case BackgroundFillReason::OnlyARangeWanted:
            return "only a range was asked for and too much of the object remains";
    }
    return "background fill is off";
}

BackgroundFillDecision decide_background_fill(const BackgroundFillConfig& config,
                                              uint64_t bytes_present, uint64_t complete_length,
                                              uint32_t running, FillOrigin origin) {
    using R = BackgroundFillReason;
    if (config.mode == BackgroundFillMode::Never) return {false, R::ModeNever};
    if (running >= config.max_fills) return {false, R::TooManyFills};
    if (config.mode == BackgroundFillMode::Always && origin == FillOrigin::WholeObject)
        return {true, R::ModeAlways};
    const uint64_t present = std::min(bytes_present, complete_length);
    const uint64_t remaining = complete_length - present;
    if (remaining <= config.max_remaining) return {true, R::FewBytesRemain};
    // present / length >= min_percent / 100, in doubles: exact enough for a percentage, and
    // free of overflow for any 64-bit length.
    if (complete_length > 0 && static_cast<double>(present) * 100.0 >=
                                   config.min_percent * static_cast<double>(complete_length))
        return {true, R::MostlyPresent};
    return {false, origin == FillOrigin::ColdRange && config.mode == BackgroundFillMode::Always
                       ? R::OnlyARangeWanted
                       : R::TooMuchRemains};
}

}  // namespace policy
