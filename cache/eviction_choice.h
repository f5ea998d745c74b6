// Which objects to evict to get under a byte budget: least recently used first.
//
// A pure function over values, with no I/O. Its natural home is policy/eviction.h, next to the
// other decisions; it lives in cache/ only until that header exists, and Store::evict_to_budget
// should call the policy version once it lands.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cache/object_id.h"

namespace cache {

struct EvictionCandidate {
    ObjectId id;
    int64_t last_access = 0;  // seconds
    uint64_t bytes = 0;
    // The store-wide creation order (ObjectInfo::generation): last_access has one-second
    // resolution, and within a second the object written last must be the one kept.
    uint64_t generation = 0;
};

// The candidates to remove, in eviction order, so that `total_bytes` minus their bytes is at most
// `budget`: oldest last_access first (ties: older generation first, then id), skipping every
// id in `in_use`. Stops as soon as the budget is met; returns everything evictable when it cannot
// be met. An empty result when total_bytes <= budget.
std::vector<EvictionCandidate> choose_victims(std::vector<EvictionCandidate> candidates,
                                              uint64_t total_bytes, uint64_t budget,
                                              std::span<const ObjectId> in_use);

}  // namespace cache
