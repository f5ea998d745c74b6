#include "cache/eviction_choice.h"

#include <algorithm>

namespace cache {

std::vector<EvictionCandidate> choose_victims(std::vector<EvictionCandidate> candidates,
                                              uint64_t total_bytes, uint64_t budget,
                                              std::span<const ObjectId> in_use) {
    std::vector<EvictionCandidate> victims;
    if (total_bytes <= budget) return victims;
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
        if (a.last_access != b.last_access) return a.last_access < b.last_access;
        if (a.generation != b.generation) return a.generation < b.generation;
        return a.id < b.id;
    });
    for (const EvictionCandidate& c : candidates) {
        if (total_bytes <= budget) break;
        if (std::find(in_use.begin(), in_use.end(), c.id) != in_use.end()) continue;
        victims.push_back(c);
        total_bytes -= std::min(total_bytes, c.bytes);
    }
    return victims;
}

}  // namespace cache
