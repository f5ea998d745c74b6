// Eviction choice: which stored objects to delete so the cache fits its byte budget.
//
// Least recently used first, never an object in use (a client is reading it or a fetch is
// filling it), and only as many as needed to bring `used` down to `budget`. The choice is pure;
// the cache deletes, and must re-check "in use" under its own lock when it does, since the
// candidates are a snapshot.
//
// The object identifier is the caller's type (cache::ObjectId), hence the templates; the
// decision itself is the non-template plan_eviction().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace policy {

struct EvictionEntry {
    uint64_t bytes = 0;       // bytes the object occupies on disk
    int64_t last_access = 0;  // any monotonic unit (seconds, a counter); smaller is older
    bool in_use = false;
};

struct EvictionPlan {
    std::vector<size_t> victims;  // indices into the entries, oldest first
    uint64_t bytes_freed = 0;     // sum of the victims' bytes (saturating)
    bool fits = true;             // used - bytes_freed <= budget once the victims are gone;
                                  // false when objects in use alone exceed the budget
};

// Picks victims among `entries` until `used` - freed <= `budget`. Ties in last_access go in
// input order. `used` is the cache's own count, which may include bytes no entry describes.
EvictionPlan plan_eviction(std::span<const EvictionEntry> entries, uint64_t used, uint64_t budget);

template <class Id>
struct EvictionCandidate {
    Id id{};
    uint64_t bytes = 0;
    int64_t last_access = 0;
    bool in_use = false;
};

// plan_eviction over candidates carrying their id: the ids to delete, oldest first.
template <class Id>
std::vector<Id> choose_victims(std::span<const EvictionCandidate<Id>> candidates, uint64_t used,
                               uint64_t budget) {
    std::vector<EvictionEntry> entries;
    entries.reserve(candidates.size());
    for (const auto& c : candidates)
        entries.push_back({c.bytes, c.last_access, c.in_use});
    std::vector<Id> out;
    for (size_t i : plan_eviction(entries, used, budget).victims)
        out.push_back(candidates[i].id);
    return out;
}

template <class Id>
std::vector<Id> choose_victims(const std::vector<EvictionCandidate<Id>>& candidates, uint64_t used,
                               uint64_t budget) {
    return choose_victims(std::span<const EvictionCandidate<Id>>(candidates), used, budget);
}

}  // namespace policy
