#include "cache/chunk_map.h"

#include <algorithm>

namespace cache {

uint32_t ChunkMap::present_count() const {
    return static_cast<uint32_t>(std::count(present_.begin(), present_.end(), true));
}

std::optional<uint32_t> ChunkMap::first_missing(uint32_t from) const {
    for (uint32_t i = from; i < size(); ++i) {
        if (!present_[i]) return i;
    }
    return std::nullopt;
}

std::vector<ChunkRun> ChunkMap::present_runs() const {
    std::vector<ChunkRun> runs;
    for (uint32_t i = 0; i < size();) {
        if (!present_[i]) {
            ++i;
            continue;
        }
        uint32_t first = i;
        while (i < size() && present_[i])
            ++i;
        runs.push_back({first, i});
    }
    return runs;
}

}  // namespace cache
