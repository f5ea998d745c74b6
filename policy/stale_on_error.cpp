#include "policy/stale_on_error.h"

#include <algorithm>

#include "policy/cache_control.h"

namespace policy {

std::string_view to_string(StaleOnErrorReason r) {
    switch (r) {
        case StaleOnErrorReason::ResponseDirective:
            return "response stale-if-error";
        case StaleOnErrorReason::RequestDirective:
            return "request stale-if-error";
        case StaleOnErrorReason::HostSetting:
            return "stale_if_error setting";
        case StaleOnErrorReason::Disconnected:
            return "disconnected, stale_if_disconnected setting";
        case StaleOnErrorReason::MustRevalidate:
            return "the response forbids serving it stale";
        case StaleOnErrorReason::NotAllowed:
            return "not allowed";
    }
    return "not allowed";
}

bool serve_while_revalidating(const HeaderList& stored, const FreshnessDecision& freshness) {
    if (freshness.state != Freshness::Stale || freshness.reason != FreshnessReason::Expired)
        return false;
    const auto window = parse_cache_control(stored).stale_while_revalidate;
    return window && freshness.age - freshness.lifetime <= static_cast<int64_t>(*window);
}

StaleOnError stale_on_error(const HeaderList& stored, const HeaderList& request,
                            ResponseTimes times, int64_t now, StaleHostSettings host) {
    FreshnessDecision freshness = evaluate_freshness(stored, request, times, now);
    if (freshness.state == Freshness::StaleMustRevalidate)
        return {false, false, false, StaleOnErrorReason::MustRevalidate};
    // A response revalidated while fresh (the request asked for it) is stale by 0 seconds.
    const int64_t staleness = std::max<int64_t>(0, freshness.age - freshness.lifetime);
    auto covers = [&](const std::optional<uint64_t>& window) {
        return window && staleness <= static_cast<int64_t>(*window);
    };
    if (covers(parse_cache_control(stored).stale_if_error))
        return {true, true, true, StaleOnErrorReason::ResponseDirective};
    if (covers(parse_cache_control(request).stale_if_error))
        return {true, true, true, StaleOnErrorReason::RequestDirective};
    if (host.on_error) return {true, true, false, StaleOnErrorReason::HostSetting};
    if (host.on_no_answer) return {false, true, false, StaleOnErrorReason::Disconnected};
    return {false, false, false, StaleOnErrorReason::NotAllowed};
}

}  // namespace policy
