#include "policy/eviction.h"

#include <algorithm>

namespace policy {

EvictionPlan plan_eviction(std::span<const EvictionEntry> entries, uint64_t used, uint64_t budget) {
    EvictionPlan plan;
    if (used <= budget) return plan;
    std::vector<size_t> order;
    order.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i)
        if (!entries[i].in_use) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return entries[a].last_access < entries[b].last_access;
    });
    uint64_t remaining = used;
    for (size_t i : order) {
        if (remaining <= budget) break;
        uint64_t bytes = entries[i].bytes;
        plan.victims.push_back(i);
        plan.bytes_freed =
            bytes > UINT64_MAX - plan.bytes_freed ? UINT64_MAX : plan.bytes_freed + bytes;
        // An entry larger than what is counted as used means the counts disagree; never wrap.
        remaining = bytes >= remaining ? 0 : remaining - bytes;
    }
    plan.fits = remaining <= budget;
    return plan;
}

}  // namespace policy
