// ChunkMap: which chunks of one object have records (and so verified-on-read bytes) in the store.
//
// A plain value, copied out of the index by Store::present_chunks(); it goes stale as writers and
// evictions move on, so treat it as a plan, and let read_chunk() have the last word.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace cache {

// Half-open run of chunk indexes [first, last).
struct ChunkRun {
    uint32_t first = 0;
    uint32_t last = 0;

    friend bool operator==(const ChunkRun&, const ChunkRun&) = default;
};

class ChunkMap {
  public:
    ChunkMap() = default;
    explicit ChunkMap(uint32_t chunk_count) : present_(chunk_count, false) {}

    uint32_t size() const { return static_cast<uint32_t>(present_.size()); }
    bool contains(uint32_t index) const { return index < present_.size() && present_[index]; }
    void set(uint32_t index) {
        if (index < present_.size()) present_[index] = true;
    }
    void reset(uint32_t index) {
        if (index < present_.size()) present_[index] = false;
    }

    uint32_t present_count() const;
    bool all_present() const { return present_count() == size(); }

    // The first absent index at or after `from`, or nullopt when none is missing.
    std::optional<uint32_t> first_missing(uint32_t from = 0) const;

    // Maximal runs of present chunks, in index order.
    std::vector<ChunkRun> present_runs() const;

  private:
    std::vector<bool> present_;
};

}  // namespace cache
